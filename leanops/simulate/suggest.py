"""Improvement suggestions: SOP changes proposed from the analyses, simulated and ranked.

Candidates (each only where the log supports it):

* **capacity**: one more resource in the pool of the top bottleneck (:func:`leanops.bottlenecks`);
* **rework**: half the returns into the costliest loop (:func:`leanops.rework`), the other
  routes taking up the difference;
* **waste**: automate, or remove, the non-value-added step that takes the largest share of
  the lead time (``value_added=`` names the value-adding steps; otherwise steps whose names
  say inspection, checking, approval, notification, transport or filing are taken as
  non-value-adding, after lean's wastes);
* **hours**: shift a pool's working hours (same length) to the hours its work arrives in;
* **priority**: serve first the class (a case attribute with a few values) that waits longest.

Each candidate is a :class:`~leanops.simulate.Scenario`, simulated against the baseline with
:func:`~leanops.simulate.compare` (common random numbers), and ranked by the change in mean
cycle time with its 95% CI.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .._format import duration
from .._validation import check_log
from ..errors import ScenarioError
from ..log import EventLog
from ._calendar import ALWAYS, WEEK, intervals_to_spec, normalize_intervals
from .experiments import Comparison, compare
from .model import SimulationModel
from .scenarios import Scenario, apply_scenario, scenario

__all__ = ["suggest", "Suggestions", "candidates"]

_NVA_WORDS = ("inspect", "check", "verif", "approv", "review again", "double", "control", "notif", "inform",
              "send", "mail", "print", "archiv", "file ", "filing", "copy", "scan", "transfer", "forward",
              "move", "transport", "wait", "record", "register", "enter ", "update", "sign")


@dataclass(frozen=True)
class Candidate:
    scenario: Scenario
    kind: str
    why: str
    cost_per_week: float | None = None


@dataclass
class Suggestions:
    """Candidates ranked by their simulated change in mean cycle time (best first)."""

    ranking: pd.DataFrame
    comparison: Comparison
    candidates: list[Candidate] = field(default_factory=list)

    def to_frame(self) -> pd.DataFrame:
        """``rank, name, kind, changes, why, cycle_time_mean_s, delta_s, ci_low, ci_high,
        relative, p_value, cost_per_week``."""
        return self.ranking.copy()

    def to_dict(self) -> dict[str, Any]:
        """The ranked suggestions as a JSON-ready dict."""
        rows = []
        for r in self.ranking.to_dict("records"):
            sc = next(s for s in self.comparison.scenarios if s["name"] == r["name"])
            rows.append({**r, "changes": sc["changes"], "delta": sc["delta"], "kpis": sc["kpis"]})
        return {"replications": self.comparison.replications, "cases": self.comparison.cases,
                "baseline": {"kpis": self.comparison.baseline}, "suggestions": rows}

    def table(self) -> str:
        """The ranked suggestions as a readable text table."""
        base = self.comparison.baseline.get("cycle_time_mean_s", {}).get("mean")
        lines = [f"baseline mean cycle time: {_dur(base)}  ({self.comparison.replications} replications)"]
        for r in self.ranking.itertuples():
            ci = f"[{_dur(r.ci_low, sign=True)}, {_dur(r.ci_high, sign=True)}]" if r.ci_low == r.ci_low else ""
            rel = f"{r.relative:+.1%}" if r.relative == r.relative else "n/a"
            cost = f", cost {r.cost_per_week:,.0f}/week" if r.cost_per_week == r.cost_per_week and r.cost_per_week is not None else ""
            sig = "" if (r.p_value == r.p_value and r.p_value < 0.05) else " (not significant)"
            lines.append(f"{r.rank}. {r.name}: {rel} cycle time, {_dur(r.delta_s, sign=True)} {ci}{sig}{cost}")
            lines.append(f"   why: {r.why}")
        if len(self.ranking) == 0:
            lines.append("no candidate changes found in this log")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table()

    def __repr__(self) -> str:
        return f"<Suggestions: {len(self.ranking)} candidates>"

    def _repr_html_(self) -> str:
        return "<pre>" + html.escape(self.table()) + "</pre>"


def _dur(s: Any, *, sign: bool = False) -> str:
    return duration(s, sign=sign, missing="n/a")


def _cost(costs: Any, activity: str, pool: str | None, weekly_hours: float) -> float | None:
    if costs is None:
        return None
    if isinstance(costs, (int, float)):
        return float(costs) * weekly_hours
    if isinstance(costs, Mapping):
        for k in (activity, pool):
            if k is not None and k in costs:
                return float(costs[k]) * weekly_hours
    return None


def _weekly_hours(model: SimulationModel, pool: str) -> float:
    p = model.pool(pool)
    return sum(b - a for a, b in p.intervals) / 3600.0


def candidates(log: EventLog, model: SimulationModel, *, value_added: Iterable[str] | None = None,
               costs: float | Mapping[str, float] | None = None) -> list[Candidate]:
    """The candidate SOP changes for ``log`` (see the module docstring), each valid for ``model``."""
    from ..mining.bottlenecks import bottlenecks, rework
    from ..mining.valuestream import value_stream

    out: list[Candidate] = []
    names = set(model.activity_names)

    def add(kind: str, name: str, changes: list[dict], why: str, cost: float | None = None) -> None:
        sc = scenario({"name": name, "changes": changes})
        try:
            apply_scenario(model, sc)
        except ScenarioError:
            return  # e.g. removing a step that is the only way to the end
        if all(c.scenario.name != name for c in out):
            out.append(Candidate(sc, kind, why, cost))

    # 1. capacity at the top bottleneck
    b = bottlenecks(log)
    for r in b.itertuples():
        if r.activity in names and model.activity(r.activity).pool is not None and r.score > 0:
            pool = model.activity(r.activity).pool
            add("capacity", f"one more resource for {r.activity}",
                [{"add_resources": {"activity": r.activity, "count": 1}}],
                f"top bottleneck: {r.finding}", _cost(costs, r.activity, pool, _weekly_hours(model, pool)))
            break

    # 2. less rework at the worst loop
    rw = rework(log)
    for r in rw.itertuples():
        src, dst = r.returns_from, r.activity
        if src is None or src not in names or dst not in names:
            continue
        rt = next((x for x in model.routing if x.source == src), None)
        if rt is None:
            continue
        nxt = dict(rt.next)
        p = nxt.get(dst, 0.0)
        if not (0.0 < p < 1.0):
            continue
        rest = 1.0 - p
        new = {t: (q * (1.0 - p / 2) / rest if t != dst else p / 2) for t, q in nxt.items()}
        add("rework", f"half the rework into {dst}",
            [{"set_routing": {"from": src, "to": {("end" if t == "__end__" else t): v for t, v in new.items()}}}],
            f"costliest loop: {int(r.repeats)} repeats of {dst!r} (mostly after {src!r}), "
            f"{_dur(r.rework_time_s)} of rework time in all")
        break

    # 3. a non-value-added step: automate it, or remove it
    vs = value_stream(log).steps
    vs = vs[vs["activity"].isin(names)]
    if value_added is not None:
        va = {str(v) for v in ([value_added] if isinstance(value_added, str) else value_added)}
        nva = vs[~vs["activity"].isin(va)]
        how = "not among the value-adding steps given"
    else:
        low = vs["activity"].astype(str).str.lower() + " "
        nva = vs[low.map(lambda s: any(w in s for w in _NVA_WORDS))]
        how = "its name says inspection, approval, notification, transport or filing (lean waste)"
    if len(nva):
        r = nva.sort_values("share_of_lead_time", ascending=False).iloc[0]
        a = str(r["activity"])
        why = f"{a!r} is non-value-added ({how}) and takes {r['share_of_lead_time']:.0%} of the lead time"
        if model.activity(a).pool is not None:
            add("waste", f"automate {a}", [{"automate": {"activity": a, "duration": 0}}], why)
        add("waste", f"remove {a}", [{"remove_activity": {"activity": a}}], why)

    # 4. working hours that match when work arrives
    shift = _best_shift(log, model)
    if shift is not None:
        act, hours, gain, h = shift
        add("hours", f"shift {act}'s hours by {h:+d}h", [{"calendar": {"activity": act, "hours": hours}}],
            f"{gain:.0%} more of its work arrives within the shifted hours")

    # 5. priority for the class that waits longest
    pr = _longest_waiting_class(log, model)
    if pr is not None:
        attr, order, ratio = pr
        add("priority", f"serve {attr}={order[0]} first", [{"priority": {"attribute": attr, "order": list(order)}}],
            f"cases with {attr}={order[0]!r} wait {ratio:.1f}x as long as the others on average")
    return out


def _ready_times(log: EventLog) -> tuple[np.ndarray, np.ndarray]:
    """Per instance: when it could start (end of the case's previous instance, or its own start)."""
    d = log.df
    end = d["end"].to_numpy(dtype="datetime64[ns]").view(np.int64) / 1e9
    st = d["start"].to_numpy(dtype="datetime64[ns]").view(np.int64) / 1e9
    st = np.where(d["start"].isna().to_numpy(), end, st)
    first = np.zeros(len(d), dtype=bool)
    first[log.case_starts] = True
    ready = np.where(first, st, np.r_[np.nan, end[:-1]])
    return ready, np.maximum(st - np.where(np.isnan(ready), st, ready), 0.0)


def _best_shift(log: EventLog, model: SimulationModel) -> tuple[str, str, float, int] | None:
    from ._calendar import _MONDAY0, tz_offset

    ready, _ = _ready_times(log)
    act = log.df["activity"].astype(str).to_numpy()
    best = None
    for p in model.pools:
        if p.intervals == ALWAYS:
            continue
        acts = [a.name for a in model.activities if a.pool == p.name]
        m = np.isin(act, acts) & np.isfinite(ready)
        if m.sum() < 50:
            continue
        off = tz_offset(p.tz)
        w = (ready[m] + off - _MONDAY0) % WEEK

        def inside(iv) -> float:
            st = np.array([a for a, _ in iv], dtype=float)
            en = np.array([b for _, b in iv], dtype=float)
            i = np.searchsorted(st, w, side="right") - 1
            return float(np.mean((i >= 0) & (w < en[np.maximum(i, 0)])))

        now = inside(p.intervals)
        for h in (-4, -3, -2, -1, 1, 2, 3, 4):
            iv = [(a + h * 3600, b + h * 3600) for a, b in p.intervals]
            if any(a // 86400 != (b - 1) // 86400 or a < 0 or b > WEEK for a, b in iv):
                continue  # keep every shift within its day (a spec Calendar.parse reads back)
            score = inside(normalize_intervals(iv))
            gain = score - now
            if gain >= 0.05 and (best is None or gain > best[2]):
                best = (acts[0], _spec(normalize_intervals(iv)), gain, h)
    return best


def _spec(iv) -> str:
    return intervals_to_spec(iv)


def _longest_waiting_class(log: EventLog, model: SimulationModel) -> tuple[str, tuple, float] | None:
    if not model.attributes.names:
        return None
    _, wait = _ready_times(log)
    d = log.df
    codes = log.case_codes
    case_wait = np.bincount(codes, weights=wait, minlength=log.n_cases)
    best = None
    for name in model.attributes.names:
        if name not in d.columns:
            continue
        vals = d[name].to_numpy(dtype=object)[log.case_starts]
        s = pd.Series(case_wait).groupby(pd.Series(vals).astype(str)).agg(["mean", "size"])
        if not (2 <= len(s) <= 6) or s["size"].min() < 0.05 * log.n_cases:
            continue
        s = s.sort_values("mean", ascending=False)
        top, rest = s.iloc[0], s.iloc[1:]
        others = float((rest["mean"] * rest["size"]).sum() / rest["size"].sum())
        if others <= 0:
            continue
        ratio = float(top["mean"]) / others
        if ratio < 1.2:
            continue
        j = model.attributes.names.index(name)
        raw = {str(r[j]): r[j] for r in model.attributes.rows}
        order = tuple(raw[v] for v in s.index if v in raw)
        if len(order) < 2 or (model.queue.discipline == "priority" and model.queue.attribute == name
                              and tuple(model.queue.order[:1]) == order[:1]):
            continue
        if best is None or ratio > best[2]:
            best = (name, order, ratio)
    return best


def suggest(
    log: EventLog,
    *,
    model: SimulationModel | None = None,
    value_added: Iterable[str] | None = None,
    costs: float | Mapping[str, float] | None = None,
    replications: int = 5,
    cases: int | None = None,
    seed: int | np.random.Generator | None = 0,
    jobs: int = 1,
    scheduler: Any = None,
    progress: Callable[[int, int], None] | None = None,
) -> Suggestions:
    """Propose SOP changes from the analyses of ``log``, simulate each, rank by cycle time.

    Parameters
    ----------
    log : EventLog
    model : SimulationModel, optional
        The baseline; fitted from ``log`` by default.
    value_added : list of str, optional
        The value-adding activities (the others are candidates for removal or automation).
    costs : float or mapping, optional
        Hourly cost of one resource: one number for all, or by activity or pool name. The
        cost of a capacity candidate is then shown per week (its pool's working hours).
    replications, cases, seed, jobs, scheduler, progress
        As in :func:`~leanops.simulate.compare` (default 1000 cases).

    Returns
    -------
    Suggestions
        ``.to_frame()`` ranked best first (``rank, name, kind, changes, why,
        cycle_time_mean_s, delta_s, ci_low, ci_high, relative, p_value, cost_per_week``),
        ``.comparison`` (the full :class:`~leanops.simulate.Comparison`), ``.table()``.

    Examples
    --------
    >>> import leanops
    >>> from leanops import simulate
    >>> s = simulate.suggest(leanops.datasets.load("production"), replications=2, cases=60, seed=1)
    >>> list(s.to_frame().columns[:3])
    ['rank', 'name', 'kind']
    """
    from .fit import fit

    check_log(log, allow_empty=True)
    if model is None:
        model = fit(log, seed=0)
    cands = candidates(log, model, value_added=value_added, costs=costs)
    cmp = compare(model, [c.scenario for c in cands], replications=replications, cases=cases or 1000, seed=seed,
                  jobs=jobs, scheduler=scheduler, progress=progress)
    rows = []
    for c, s in zip(cands, cmp.scenarios):
        d = s["delta"].get("cycle_time_mean_s", {})
        nan = float("nan")
        rows.append({
            "name": s["name"], "kind": c.kind, "changes": c.scenario.describe(), "why": c.why,
            "cycle_time_mean_s": s["kpis"].get("cycle_time_mean_s", {}).get("mean"),
            "delta_s": d.get("mean") if d.get("mean") is not None else nan,
            "ci_low": d.get("ci_low") if d.get("ci_low") is not None else nan,
            "ci_high": d.get("ci_high") if d.get("ci_high") is not None else nan,
            "relative": d.get("relative") if d.get("relative") is not None else nan,
            "p_value": d.get("p_value") if d.get("p_value") is not None else nan,
            "cost_per_week": c.cost_per_week if c.cost_per_week is not None else nan,
        })
    cols = ["rank", "name", "kind", "changes", "why", "cycle_time_mean_s", "delta_s", "ci_low", "ci_high",
            "relative", "p_value", "cost_per_week"]
    df = pd.DataFrame(rows, columns=cols[1:])
    df = df.sort_values("delta_s", kind="stable", na_position="last").reset_index(drop=True)
    df.insert(0, "rank", np.arange(1, len(df) + 1))
    return Suggestions(df, cmp, cands)
