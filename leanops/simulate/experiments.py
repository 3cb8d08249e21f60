"""What-if experiments: the baseline and SOP scenarios, replicated, with confidence intervals.

Every scenario's replication ``k`` runs with the same seed as the baseline's replication
``k``. The engine keeps separate random streams for arrivals, case attributes and each
activity's durations, delays and routing (keyed by name), so the two runs see the same
arrivals and the same work wherever the change allows: common random numbers.

Replications run serially, on local processes (``jobs=``) or on a Dask cluster
(``scheduler=``); each task is seeded by its replication number alone, so the results
are the same whichever way they run.
"""

from __future__ import annotations

import html
import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from .._durations import parse_duration
from .._validation import check_positive, check_seed
from ..errors import InputError
from ..log import EventLog
from .engine import run, summarize
from .forecast import default_sla, horizon_counts, summarize_forecast
from .model import SimulationModel
from .scenarios import Scenario, apply_scenario, load_scenarios
from .state import State, current_state

__all__ = ["compare", "Comparison", "replication_kpis"]

HEADLINE = ("cycle_time_mean_s", "cycle_time_p90_s", "throughput_per_day", "wait_mean_s", "wip_mean")


def replication_kpis(model: SimulationModel, *, cases: int | None, until: Any, seed: int, warmup: int | str,
                     start: Any, state: tuple[State, float, float] | None = None) -> dict[str, Any]:
    """One replication's KPIs: the engine's, plus ``wip_mean`` and ``wait:<activity>``.

    With ``state=(State, sla_s, horizon_end_s)`` the run starts from the state and the
    forecast counts (:func:`~leanops.simulate.forecast.horizon_counts`) come along.
    """
    res = run(model, cases=cases, until=until, seed=seed, warmup=warmup, start=start,
              from_log=state[0] if state is not None else None)
    k_fc = horizon_counts(res.cases, state[0].at.value / 1e9, state[2], state[1]) if state is not None else None
    k = dict(res.kpis)
    c = res.cases
    if len(c):
        a = c["arrival"].to_numpy(dtype="datetime64[ns]").view(np.int64) / 1e9
        b = c["completion"].to_numpy(dtype="datetime64[ns]").view(np.int64) / 1e9
        span = float(b.max() - a.min())
        # time-averaged work in process over the observed window (Little: L = sum of sojourns / T)
        k["wip_mean"] = float((b - a).sum() / span) if span > 0 else float("nan")
    if "wip_mean" in res.stats:
        k["wip_mean"] = res.stats["wip_mean"]  # within the steady-state window
    if k_fc is not None:
        k["_forecast"] = k_fc  # not a KPI: compare() takes it out
    if "window" in res.stats:
        # not KPIs: compare() takes them out
        k["_window"] = {**res.stats["window"], "warnings": res.stats.get("warnings", [])}
    d = res.log.df
    if len(d):
        end = d["end"].to_numpy(dtype="datetime64[ns]").view(np.int64) / 1e9
        st = d["start"].to_numpy(dtype="datetime64[ns]").view(np.int64) / 1e9
        codes = res.log.case_codes
        first = np.zeros(len(d), dtype=bool)
        first[res.log.case_starts] = True
        pos = pd.Index(c["case_id"]).get_indexer(pd.Index(res.log.case_ids))
        case_arr = np.where(pos >= 0, a[np.maximum(pos, 0)], np.nan)
        ready = np.where(first, case_arr[codes], np.r_[np.nan, end[:-1]])
        wait = np.maximum(st - ready, 0.0)
        act = d["activity"].cat.codes.to_numpy()
        cats = list(d["activity"].cat.categories)
        n = np.bincount(act, minlength=len(cats))
        s = np.bincount(act, weights=np.nan_to_num(wait), minlength=len(cats))
        for i, name in enumerate(cats):
            if n[i]:
                k[f"wait:{name}"] = float(s[i] / n[i])
    return k


def _task(args: tuple) -> dict[str, float]:
    model, cases, until, seed, warmup, start, state = args
    return replication_kpis(model, cases=cases, until=until, seed=seed, warmup=warmup, start=start, state=state)


# -- statistics -----------------------------------------------------------------------------

def _delta(x: np.ndarray, y: np.ndarray) -> dict[str, float | None]:
    """Scenario x minus baseline y: mean, Welch 95% CI, relative change and Welch p-value."""
    from scipy import stats

    paired = _paired(x, y) if len(x) == len(y) else {}
    x = x[np.isfinite(x)]
    y = y[np.isfinite(y)]
    out: dict[str, float | None] = {"mean": None, "ci_low": None, "ci_high": None, "relative": None, "p_value": None}
    out.update(paired)
    if len(x) == 0 or len(y) == 0:
        return out
    mx, my = float(x.mean()), float(y.mean())
    d = mx - my
    out["mean"] = d
    out["relative"] = (mx / my - 1.0) if my != 0 else None
    if len(x) < 2 or len(y) < 2:
        return out
    vx, vy = x.var(ddof=1) / len(x), y.var(ddof=1) / len(y)
    se = math.sqrt(vx + vy)
    if se == 0:
        out["ci_low"] = out["ci_high"] = d
        out["p_value"] = 1.0 if d == 0 else 0.0
        return out
    dof = (vx + vy) ** 2 / ((vx**2 / (len(x) - 1) if vx else 0.0) + (vy**2 / (len(y) - 1) if vy else 0.0))
    h = float(stats.t.ppf(0.975, dof) * se)
    out["ci_low"], out["ci_high"] = d - h, d + h
    out["p_value"] = float(2 * stats.t.sf(abs(d) / se, dof))
    return out


def _paired(x: np.ndarray, y: np.ndarray) -> dict[str, float | None]:
    """CI and p-value of the mean of the per-replication differences (replication k of the
    scenario and of the baseline share their random numbers, so this is the sharper test)."""
    from scipy import stats

    d = (x - y)[np.isfinite(x) & np.isfinite(y)]
    out: dict[str, float | None] = {"ci_low_paired": None, "ci_high_paired": None, "p_value_paired": None}
    if len(d) < 2:
        return out
    m, se = float(d.mean()), float(d.std(ddof=1) / math.sqrt(len(d)))
    if se == 0:
        out.update(ci_low_paired=m, ci_high_paired=m, p_value_paired=1.0 if m == 0 else 0.0)
        return out
    h = float(stats.t.ppf(0.975, len(d) - 1) * se)
    out.update(ci_low_paired=m - h, ci_high_paired=m + h, p_value_paired=float(2 * stats.t.sf(abs(m) / se, len(d) - 1)))
    return out


# -- the result -----------------------------------------------------------------------------

@dataclass
class Comparison:
    """KPIs of the baseline and each scenario, with 95% CIs, and each scenario's change.

    ``baseline`` and each ``scenarios[i]["kpis"]`` map a KPI to ``{mean, ci_low, ci_high}``;
    ``scenarios[i]["delta"]`` maps it to ``{mean, ci_low, ci_high, relative, p_value}``
    (scenario minus baseline; relative = scenario / baseline - 1; Welch's t), plus
    ``ci_low_paired, ci_high_paired, p_value_paired`` from the per-replication differences
    (sharper, since replication k of both shares its random numbers).
    """

    baseline: dict[str, dict[str, float | None]]
    scenarios: list[dict[str, Any]]
    runs: pd.DataFrame  # one row per (scenario, replication): every KPI
    replications: int
    cases: int | None
    until: Any
    warmup: int | str
    seed: Any
    models: dict[str, SimulationModel] = field(default_factory=dict, repr=False)
    seeds: list[int] = field(default_factory=list, repr=False)  # replication k's seed, in every scenario
    window: dict[str, Any] | None = None  # {start, end, warmup_s, cases_counted} with warmup="auto"
    warnings: list[str] = field(default_factory=list)  # about the runs' windows, once each
    forecast: dict[str, Any] | None = None  # with from_log: see leanops.simulate.forecast

    def to_dict(self) -> dict[str, Any]:
        """The DESIGN.md shape: ``baseline{kpis}``, ``scenarios[{name, kpis, delta}]``."""
        return {
            "replications": self.replications, "cases": self.cases, "warmup": self.warmup,
            **({"window": self.window} if self.window else {}),
            **({"warnings": list(self.warnings)} if self.warnings else {}),
            **({"forecast": self.forecast} if self.forecast is not None else {}),
            "baseline": {"kpis": self.baseline},
            "scenarios": [{"name": s["name"], "changes": s["changes"], "kpis": s["kpis"], "delta": s["delta"]}
                          for s in self.scenarios],
        }

    def to_frame(self) -> pd.DataFrame:
        """Tidy: one row per (scenario, KPI), the baseline's rows with empty deltas."""
        rows = []
        for k, v in self.baseline.items():
            rows.append({"scenario": "baseline", "kpi": k, **v})
        for s in self.scenarios:
            for k, v in s["kpis"].items():
                d = s["delta"].get(k, {})
                rows.append({"scenario": s["name"], "kpi": k, **v,
                             **{f"delta_{a}" if a in ("mean", "ci_low", "ci_high") else a: b for a, b in d.items()}})
        return pd.DataFrame(rows)

    def table(self, kpis: Sequence[str] | None = None) -> str:
        """A readable text table of the main KPIs with their CIs and changes."""
        keys = list(kpis) if kpis else [k for k in self.baseline if k in HEADLINE or k.startswith("utilization:")]
        head = ["kpi", "baseline"] + [s["name"] for s in self.scenarios]
        rows = [head]
        for k in keys:
            b = self.baseline.get(k, {})
            row = [k, _fmt_ci(b, k)]
            for s in self.scenarios:
                v = s["kpis"].get(k, {})
                d = s["delta"].get(k, {})
                cell = _fmt_ci(v, k)
                if d.get("relative") is not None:
                    sig = "*" if (d.get("p_value") is not None and d["p_value"] < 0.05) else ""
                    cell += f"  {d['relative']:+.1%}{sig}"
                row.append(cell)
            rows.append(row)
        widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
        lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
        lines.insert(1, "  ".join("-" * w for w in widths))
        lines.append("mean [95% CI] over replications; change vs baseline, * p < 0.05 (Welch)")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table()

    def __repr__(self) -> str:
        return (f"<Comparison: baseline + {len(self.scenarios)} scenarios, {self.replications} replications>")

    def _repr_html_(self) -> str:
        return "<pre>" + html.escape(self.table()) + "</pre>"

    def plot(self, kpi: str = "cycle_time_mean_s", *, ax: Any = None) -> Any:
        """Relative change of ``kpi`` per scenario with its 95% CI (bars)."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(6, 0.5 + 0.5 * max(len(self.scenarios), 1)))
        base = self.baseline.get(kpi, {}).get("mean") or float("nan")
        names, rel, lo, hi = [], [], [], []
        for s in self.scenarios:
            d = s["delta"].get(kpi, {})
            names.append(s["name"])
            rel.append(d.get("relative") or 0.0)
            lo.append((d.get("ci_low") or 0.0) / base)
            hi.append((d.get("ci_high") or 0.0) / base)
        y = np.arange(len(names))
        ax.barh(y, rel, xerr=[np.array(rel) - np.array(lo), np.array(hi) - np.array(rel)], color="#4c78a8", capsize=3)
        ax.set_yticks(y, names)
        ax.axvline(0, color="black", lw=0.8)
        ax.set_xlabel(f"{kpi}: change vs baseline (95% CI)")
        return ax


def _num(x: float, seconds: bool) -> str:
    if not seconds:
        return f"{x:,.4g}"
    a = abs(x)
    for unit, n in (("d", 86400.0), ("h", 3600.0), ("min", 60.0)):
        if a >= n:
            return f"{x / n:.3g}{unit}"
    return f"{x:.3g}s"


def _fmt_ci(v: dict[str, Any], key: str = "") -> str:
    if not v or v.get("mean") is None:
        return "-"
    sec = key.endswith("_s") or key.startswith("wait:")
    m = v["mean"]
    if v.get("ci_low") is None:
        return _num(m, sec)
    return f"{_num(m, sec)} [{_num(v['ci_low'], sec)}, {_num(v['ci_high'], sec)}]"


# -- running --------------------------------------------------------------------------------

def compare(
    model: SimulationModel,
    scenarios: Any = (),
    *,
    replications: int = 10,
    cases: int | None = None,
    until: Any = None,
    seed: int | np.random.Generator | None = 0,
    warmup: int | Literal["auto"] | None = "auto",
    start: Any = None,
    jobs: int = 1,
    scheduler: Any = None,
    progress: Callable[[int, int], None] | None = None,
    from_log: EventLog | State | None = None,
    at: Any = None,
    days: float | None = None,
    sla: Any = None,
) -> Comparison:
    """Simulate the baseline and each scenario; KPIs with 95% CIs and changes vs the baseline.

    Parameters
    ----------
    model : SimulationModel
        The baseline (e.g. from :func:`leanops.simulate.fit`).
    scenarios : Scenario, mapping, YAML path or text, or a list of them
        The SOP changes (see :mod:`leanops.simulate.scenarios`), each applied to ``model``.
    replications : int
        Runs per scenario. Replication ``k`` of every scenario uses the same seed as the
        baseline's (common random numbers).
    cases, until
        Exactly one: cases per replication, or arrivals until this time (as in
        :func:`~leanops.simulate.run`). Default ``cases=1000``.
    seed : int, Generator or None
        Same seed, same result (serial, on processes or on Dask).
    warmup : int or "auto", default "auto"
        The simulation starts empty. ``"auto"`` (the default, as ``leanops simulate
        --warmup auto``; None means the same) measures steady state: the warm-up is found
        with MSER-5 and left out, so is the drain after the last arrival (see
        :func:`~leanops.simulate.run`), and ``.window`` says which window the KPIs cover.
        A whole number leaves out that many leading cases instead (0: none).
    jobs : int
        Local processes to run replications on (1: in this process; -1: one per core).
    scheduler : str or dask.distributed.Client, optional
        Run on a Dask cluster instead: a scheduler address (``"tcp://host:8786"``) or a client.
    progress : callable(done, total), optional
        Called as replications finish (the CLI draws a progress bar with it).
    from_log, at : EventLog or State, timestamp, optional
        Start every run from where this log's process stands at ``at`` (default its last
        timestamp; see :func:`~leanops.simulate.run`), the baseline and each scenario from
        the same open cases, and forecast the next ``days`` (``.forecast``, see
        :mod:`leanops.simulate.forecast`).
    days : float, optional
        The forecast horizon (with ``from_log``); new arrivals until its end. Default 7.
    sla : duration, optional
        With ``from_log``: the case SLA for ``sla_breaches`` (e.g. ``"5d"``); default the
        log's 90th-percentile cycle time.

    Returns
    -------
    Comparison
        ``.baseline``, ``.scenarios`` (name, kpis, delta), ``.runs``, ``.to_dict()``
        (the ``leanops simulate --json`` shape), ``.to_frame()``, ``.table()``, ``.plot()``.

    Examples
    --------
    >>> import leanops
    >>> from leanops import simulate
    >>> model = simulate.fit(leanops.datasets.load("purchasing_example"))
    >>> top = model.activities[0].name
    >>> cmp = simulate.compare(model, {"name": "faster", "changes": [{"scale_duration": {"activity": top, "factor": 0.5}}]},
    ...                        replications=3, cases=100, seed=1)
    >>> cmp.scenarios[0]["name"], sorted(cmp.scenarios[0]["delta"]["cycle_time_mean_s"])
    ('faster', ['ci_high', 'ci_high_paired', 'ci_low', 'ci_low_paired', 'mean', 'p_value', 'p_value_paired', 'relative'])
    """
    if not isinstance(model, SimulationModel):
        raise InputError(f"model must be a SimulationModel; got {type(model).__name__}. Fit one with leanops.simulate.fit(log).")
    r = int(check_positive("replications", replications, integer=True))
    state_args = None
    if from_log is not None:
        st = from_log if isinstance(from_log, State) else current_state(from_log, model=model, at=at)
        days = 7.0 if days is None else float(check_positive("days", days))
        sla_s = _sla_seconds(sla, from_log)
        end_s = st.at.value / 1e9 + days * 86400.0
        if cases is None and until is None:
            until = pd.Timestamp(end_s, unit="s", tz="UTC")
        warmup, start = 0, None
        state_args = (st, sla_s, end_s)
    elif at is not None or days is not None or sla is not None:
        raise InputError("at=, days= and sla= need from_log=: the log whose state to start from.")
    if cases is None and until is None:
        cases = 1000
    if cases is not None and until is not None:
        raise InputError(f"compare needs one of cases=N or until=TIME, not both; got cases={cases!r}, until={until!r}.")
    if cases is not None:
        cases = int(check_positive("cases", cases, integer=True))
    if warmup is None:
        warmup = "auto"
    if warmup != "auto":
        warmup = int(check_positive("warmup", warmup, integer=True, allow_zero=True))
    if cases is not None and warmup != "auto" and warmup >= cases:
        raise InputError(f"warmup ({warmup}) must be smaller than cases ({cases}).")
    jobs = int(jobs)
    if jobs == 0 or jobs < -1:
        raise InputError(f"jobs must be >= 1, or -1 for one per core; got {jobs}.")
    scs = load_scenarios(list(scenarios) if isinstance(scenarios, tuple) else scenarios) if scenarios is not None else []
    names = _unique_names(scs)
    models = [model] + [apply_scenario(model, s) for s in scs]
    rng = check_seed(seed)
    seeds = [int(s) for s in rng.integers(0, 2**63 - 1, size=r)]
    tasks = [(m, cases, until, s, warmup, start, state_args) for m in models for s in seeds]
    results = _execute(tasks, jobs=jobs, scheduler=scheduler, progress=progress)
    fcs = [res.pop("_forecast", None) for res in results]

    windows = [res.pop("_window", None) for res in results]
    per = [results[j * r:(j + 1) * r] for j in range(len(models))]
    base_runs = per[0]
    keys = list(dict.fromkeys(k for res in results for k in res))
    baseline = _order(summarize(base_runs), keys)
    out_sc = []
    for j, (s, nm) in enumerate(zip(scs, names), 1):
        kp = _order(summarize(per[j]), keys)
        delta = {}
        for k in keys:
            x = np.array([res.get(k, np.nan) for res in per[j]], dtype=float)
            y = np.array([res.get(k, np.nan) for res in base_runs], dtype=float)
            delta[k] = _delta(x, y)
        out_sc.append({"name": nm, "changes": [c.to_dict() for c in s.changes], "kpis": kp, "delta": delta})
    rows = []
    for j, nm in enumerate(["baseline"] + names):
        for i, res in enumerate(per[j]):
            rows.append({"scenario": nm, "replication": i, **res})
    return Comparison(baseline, out_sc, pd.DataFrame(rows), r, cases, until, warmup, seed,
                      models=dict(zip(["baseline"] + names, models)), seeds=seeds,
                      window=_window(windows[:r]),
                      warnings=list(dict.fromkeys(m for w in windows if w for m in w["warnings"])),
                      forecast=_forecast(fcs, r, names, state_args, days))


def _forecast(fcs: list[Any], r: int, names: list[str], state_args: Any, days: float | None) -> dict[str, Any] | None:
    """The baseline's forecast document, with each scenario's counts beside it."""
    if state_args is None:
        return None
    st, sla_s, _ = state_args
    doc = summarize_forecast(fcs[:r], st, float(days or 0.0), sla_s)
    doc["scenarios"] = []
    for j, nm in enumerate(names, 1):
        sc = summarize_forecast(fcs[j * r:(j + 1) * r], st, float(days or 0.0), sla_s)
        doc["scenarios"].append({"name": nm, **{k: sc[k] for k in ("completions", "wip", "sla_breaches")}})
    return doc


def _sla_seconds(sla: Any, log: Any) -> float:
    if sla is None:
        if not isinstance(log, EventLog):
            raise InputError("sla= is needed when from_log is a State (the default is the log's 90th-percentile cycle time).")
        return default_sla(log)
    return parse_duration(sla, name="sla", positive=True)


def _window(ws: list[Any]) -> dict[str, Any] | None:
    """The baseline's steady-state window: the first replication's, cases counted on average."""
    ws = [w for w in ws if w]
    if not ws:
        return None
    first = {k: v for k, v in ws[0].items() if k != "warnings"}
    return {**first, "cases_counted": int(round(float(np.mean([w["cases_counted"] for w in ws]))))}


def _order(summary: dict[str, Any], keys: list[str]) -> dict[str, Any]:
    return {k: summary.get(k, {"mean": None, "ci_low": None, "ci_high": None}) for k in keys}


def _unique_names(scs: list[Scenario]) -> list[str]:
    out: list[str] = []
    for s in scs:
        nm, k = s.name, 2
        while nm in out or nm == "baseline":
            nm = f"{s.name} ({k})"
            k += 1
        out.append(nm)
    return out


def _execute(tasks: list[tuple], *, jobs: int, scheduler: Any, progress: Callable[[int, int], None] | None) -> list[dict[str, float]]:
    n = len(tasks)
    done = 0

    def tick() -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, n)

    if scheduler is not None:
        client, owned = _client(scheduler)
        try:
            # ship each model once, then the (small) tasks that refer to it
            models = list(dict.fromkeys(id(t[0]) for t in tasks))
            by_id = {id(t[0]): t[0] for t in tasks}
            remote = dict(zip(models, client.scatter([by_id[i] for i in models], broadcast=True)))
            futs = [client.submit(_remote_task, remote[id(t[0])], *t[1:], pure=False) for t in tasks]
            from dask.distributed import as_completed

            with client.as_current():  # the shared connection helper does not set a default client
                for _ in as_completed(futs):
                    tick()
                return client.gather(futs)
        finally:
            if owned:
                client.close()
    if jobs == -1:
        import os

        jobs = os.cpu_count() or 1
    if jobs == 1 or n == 1:
        out = []
        for t in tasks:
            out.append(_task(t))
            tick()
        return out
    import concurrent.futures as cf
    import multiprocessing as mp

    # fork where there is one: workers start at once with everything imported, and scripts
    # without an ``if __name__ == "__main__"`` guard still work; spawn elsewhere
    ctx = mp.get_context("fork" if sys.platform.startswith("linux") else "spawn")
    results: list[Any] = [None] * n
    with cf.ProcessPoolExecutor(max_workers=min(jobs, n), mp_context=ctx) as ex:
        futs = {ex.submit(_task, t): i for i, t in enumerate(tasks)}
        for f in cf.as_completed(futs):
            results[futs[f]] = f.result()
            tick()
    return results


def _client(scheduler: Any) -> tuple[Any, bool]:
    """(a dask.distributed Client, whether we opened it): a Client passed in is used as is."""
    if hasattr(scheduler, "submit") and hasattr(scheduler, "gather"):
        return scheduler, False
    from .._dask import connect  # one timeout, one-line errors naming the address

    return connect(str(scheduler)), True


def _remote_task(model: SimulationModel, cases: Any, until: Any, seed: int, warmup: int, start: Any,
                 state: Any = None) -> dict[str, float]:
    return replication_kpis(model, cases=cases, until=until, seed=seed, warmup=warmup, start=start, state=state)
