"""SOP compliance: is the standard followed, and what does deviating cost?

:func:`check` evaluates every rule of an :class:`~leanops.sop.SOP` on every case at once
(array operations over the log's rows, no Python loop per case) and returns a
:class:`Compliance` result.

What each number rests on:

* **Compliance** of a rule is the share of the cases it applies to (``cases_checked``)
  that satisfy it. ``before: [A, B]`` applies to cases where B occurs; ``four_eyes`` to
  cases where both steps have a known resource; ``max_wait``/``max_duration`` to cases
  where the times can be measured. A rule that cannot be measured on this log (e.g.
  ``max_duration`` on a log without start times) has compliance ``None`` and says why:
  leanops does not guess.
* **Order** is the log's instance order (start, falling back to end), so ties keep the
  order of the source.
* **Time limits** are counted in working time on the SOP's calendar when it has one
  (``time: working``), else in calendar time. A wait is measured from the end of ``after``
  (its first occurrence) to the start of the next ``activity``; without start times it is
  measured to its completion and so includes the activity's own work (stated in ``basis``).
* **Cost** of a rule's violation: the difference in case duration (calendar seconds) between
  violating and other cases, adjusted for the other violations by ordinary least squares
  (violations are case drivers, as in :func:`leanops.rca.root_causes`), with an HC1 p-value
  and a 95 % percentile-bootstrap CI over cases (above 50,000 cases, the HC1 normal interval,
  which the bootstrap then matches). With a ``case_sla`` rule, the same is done
  for the SLA breach rate. The ``case_sla`` rule's own cost is not reported: breaching it
  *is* a long case.
* **Overall compliance** is the share of cases that satisfy every rule that applies to them.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats

from ._format import duration
from ._validation import check_choice, check_log, check_positive, check_seed
from .boundaries import case_spans
from .calendar import WEEK_S
from .errors import InputError
from .log import EventLog
from .mining._steps import steps
from .sop import SOP, Rule, read_sop

__all__ = ["check", "Compliance", "RuleResult"]

_MONDAY0_S = 4 * 86400  # 1970-01-05 is a Monday
MIN_GROUP = 5  # fewer violating (or complying) cases than this: no cost is estimated
BOOT_MAX_CASES = 50_000  # above this, cost CIs use HC1 standard errors instead of the bootstrap


@dataclass
class RuleResult:
    """The outcome of one rule."""

    rule: str
    kind: str
    compliance: float | None
    cases_checked: int
    violations: int
    cost: dict[str, float | None]
    sla_cost: dict[str, float | None] | None = None
    basis: str = ""
    unmeasurable: str | None = None
    deviating_steps: dict[str, int] | None = None
    fitness: float | None = None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "rule": self.rule, "kind": self.kind, "compliance": self.compliance,
            "cases_checked": self.cases_checked, "violations": self.violations, "cost": dict(self.cost),
            "basis": self.basis,
        }
        if self.sla_cost is not None:
            d["sla_cost"] = dict(self.sla_cost)
        if self.unmeasurable:
            d["unmeasurable"] = self.unmeasurable
        if self.deviating_steps is not None:
            d["deviating_steps"] = dict(self.deviating_steps)
            d["fitness"] = self.fitness
        return d


@dataclass
class Compliance:
    """The result of :func:`check`.

    Attributes
    ----------
    sop : SOP
    rules : list of RuleResult
        One per rule, in SOP order.
    overall_compliance : float or None
        Share of cases that satisfy every rule that applies to them.
    n_cases : int
    violations : DataFrame
        One row per violating case and rule: ``case_id, rule, kind``.
    trend : DataFrame
        Per week of case start and rule (and ``rule == "all rules"``): ``week, rule,
        cases_checked, violations, compliance``.
    by_resource : DataFrame
        Per resource (and pool, when the SOP defines pools) and rule: ``resource, pool,
        rule, cases_checked, violations, compliance``. A resource counts for the cases in
        which it performed one of the rule's activities (every step for case-level rules).
        Computed on first access (it sorts every activity instance once).
    notes : list of str
    """

    sop: SOP
    rules: list[RuleResult]
    overall_compliance: float | None
    n_cases: int
    violations: pd.DataFrame
    trend: pd.DataFrame
    notes: list[str] = field(default_factory=list)
    _by_resource: Any = field(default=None, repr=False, compare=False)

    @property
    def by_resource(self) -> pd.DataFrame:
        """Compliance per resource (and pool) and rule; see the class documentation."""
        if callable(self._by_resource):
            self._by_resource = self._by_resource()
        return self._by_resource

    def to_frame(self) -> pd.DataFrame:
        """One row per rule: ``rule, kind, compliance, cases_checked, violations, effect_s,
        ci_low, ci_high, p_value, basis``."""
        rows = []
        for r in self.rules:
            rows.append({"rule": r.rule, "kind": r.kind, "compliance": r.compliance, "cases_checked": r.cases_checked,
                         "violations": r.violations, **{k: r.cost.get(k) for k in ("effect_s", "ci_low", "ci_high", "p_value")},
                         "basis": r.basis})
        return pd.DataFrame(rows, columns=["rule", "kind", "compliance", "cases_checked", "violations", "effect_s",
                                           "ci_low", "ci_high", "p_value", "basis"])

    def to_dict(self) -> dict[str, Any]:
        """The ``leanops check --json`` document (DESIGN.md)."""
        return {
            "sop": self.sop.name,
            "rules": [r.to_dict() for r in self.rules],
            "overall_compliance": self.overall_compliance,
            "cases": self.n_cases,
            "notes": list(self.notes),
        }

    def violating_cases(self, rule: str | None = None) -> pd.Index:
        """Ids of the cases that violate ``rule`` (a rule label), or any rule."""
        v = self.violations
        if rule is not None:
            check_choice("rule", rule, [r.rule for r in self.rules])
            v = v[v["rule"] == rule]
        return pd.Index(v["case_id"].unique(), name="case_id")

    def __str__(self) -> str:
        ov = "–" if self.overall_compliance is None else f"{100 * self.overall_compliance:.1f}%"
        lines = [f"SOP {self.sop.name!r}: {ov} of {self.n_cases:,} cases follow every rule"]
        for r in self.rules:
            if r.compliance is None:
                lines.append(f"  {r.rule}: unmeasurable ({r.unmeasurable})")
                continue
            c = r.cost
            cost = ""
            if c.get("effect_s") is not None:
                cost = (f"; violating cases take {duration(c['effect_s'], sign=True)} (95% CI "
                        f"{duration(c['ci_low'], sign=True)} to {duration(c['ci_high'], sign=True)}, p = {c['p_value']:.2g})")
            lines.append(f"  {r.rule}: {100 * r.compliance:.1f}% of {r.cases_checked:,} cases comply, "
                         f"{r.violations:,} violate{cost}")
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)

    def __repr__(self) -> str:
        ov = "–" if self.overall_compliance is None else f"{100 * self.overall_compliance:.1f}%"
        return f"<Compliance with {self.sop.name!r}: {len(self.rules)} rules, {ov} of {self.n_cases:,} cases comply>"

    def _repr_html_(self) -> str:
        e = html.escape
        rows = "".join(
            f"<tr><td>{e(r.rule)}</td><td>{e(r.kind)}</td>"
            f"<td>{'unmeasurable' if r.compliance is None else f'{100 * r.compliance:.1f}%'}</td>"
            f"<td>{r.cases_checked:,}</td><td>{r.violations:,}</td>"
            f"<td>{e(duration(r.cost.get('effect_s'), sign=True))}</td>"
            f"<td>{e(duration(r.cost.get('ci_low'), sign=True))} to {e(duration(r.cost.get('ci_high'), sign=True))}</td></tr>"
            for r in self.rules
        )
        ov = "–" if self.overall_compliance is None else f"{100 * self.overall_compliance:.1f}%"
        return (f"<div><b>SOP {e(self.sop.name)}</b>: {ov} of {self.n_cases:,} cases follow every rule"
                "<table><tr><th>rule</th><th>kind</th><th>compliance</th><th>cases</th><th>violations</th>"
                f"<th>cost (cycle time)</th><th>95% CI</th></tr>{rows}</table></div>")

    def plot(self, kind: Literal["rules", "trend", "cost"] = "rules", *, ax=None):
        """Compliance per rule (bars), the weekly trend (lines) or the cost of each violation (CIs)."""
        check_choice("kind", kind, ("rules", "trend", "cost"))
        from .rca.charts import _axes, _text

        ax = _axes(ax, (8, max(2.5, 0.4 * len(self.rules) + 1)) if kind != "trend" else (8, 4))
        if kind == "rules":
            rs = [r for r in self.rules if r.compliance is not None][::-1]
            vals = [100 * r.compliance for r in rs]
            ax.barh([_text(r.rule) for r in rs], vals, color=["#55A868" if v >= 95 else "#DD8452" if v >= 80 else "#C44E52" for v in vals])
            ax.set_xlim(0, 100)
            ax.set_xlabel("cases that comply (%)")
            ax.set_title(_text(f"Compliance with {self.sop.name}", 80))
        elif kind == "trend":
            t = self.trend
            for rule, g in t.groupby("rule", sort=False):
                ax.plot(g["week"], 100 * g["compliance"], marker="o", ms=3, label=_text(rule, 40),
                        lw=2.5 if rule == "all rules" else 1)
            ax.set_ylabel("cases that comply (%)")
            ax.set_title("Compliance per week of case start")
            ax.legend(fontsize=7, loc="best")
        else:
            rs = [r for r in self.rules if r.cost.get("effect_s") is not None][::-1]
            h = 3600.0
            for i, r in enumerate(rs):
                ax.plot([r.cost["ci_low"] / h, r.cost["ci_high"] / h], [i, i], color="#4C72B0")
                ax.plot([r.cost["effect_s"] / h], [i], "o", color="#4C72B0")
            ax.set_yticks(range(len(rs)), [_text(r.rule) for r in rs])
            ax.axvline(0, color="grey", lw=0.8)
            ax.set_xlabel("extra case duration of violating cases (hours, adjusted, 95% CI)")
        return ax

    def _repr_svg_(self) -> str | None:
        if not any(r.compliance is not None for r in self.rules):
            return None
        from .rca.charts import to_svg

        return to_svg(self.plot())


# ------------------------------------------------------------------------------ evaluation
class _Arrays:
    """Per-row arrays of the log, computed once for all rules."""

    def __init__(self, log: EventLog) -> None:
        st = steps(log)
        self.st = st
        self.n = log.n_cases
        self.ci = log._case_index_per_row()
        self.act = st.activity
        self.code = {a: i for i, a in enumerate(st.activities)}
        self.rows = np.arange(len(self.ci))
        from ._pools import resource_codes

        self.res, self.res_names = resource_codes(log)  # -1 where missing; cached on the log
        # first timestamp (start, else end) and last end per case: cached on the log
        self.case_t0, self.case_t1 = case_spans(log)
        # only the first row of each case is converted from Arrow, not the whole column
        self.case_ids = log.df["case_id"].iloc[log.case_starts].to_numpy(dtype=object) if self.n else np.zeros(0, object)

    def mask(self, a: str) -> np.ndarray:
        c = self.code.get(a)
        return np.zeros(len(self.act), dtype=bool) if c is None else self.act == c

    def count(self, a: str) -> np.ndarray:
        return np.bincount(self.ci[self.mask(a)], minlength=self.n)

    def first_row(self, a: str, after: np.ndarray | None = None) -> np.ndarray:
        """Per case, the first row of ``a`` (after row ``after[case]`` when given), else -1."""
        m = self.mask(a)
        if after is not None:
            m &= self.rows > after[self.ci]
            m &= after[self.ci] >= 0
        idx = np.flatnonzero(m)
        out = np.full(self.n, -1, dtype=np.int64)
        if len(idx):
            cs = self.ci[idx]
            first = np.r_[True, cs[1:] != cs[:-1]]
            out[cs[first]] = idx[first]
        return out


def _span(cal, rule: Rule, a_ns: np.ndarray, b_ns: np.ndarray) -> np.ndarray:
    """Seconds from a to b, in working time on ``cal`` or calendar time, per the rule."""
    if rule.time == "working" and cal is not None:
        wa = cal.working_clock(a_ns.view("datetime64[ns]"))
        wb = cal.working_clock(b_ns.view("datetime64[ns]"))
        return np.maximum(np.asarray(wb) - np.asarray(wa), 0.0)
    return (b_ns - a_ns) / 1e9


def _evaluate(rule: Rule, A: _Arrays, sop: SOP, log: EventLog) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """(checked, violated) per case, plus extra fields (basis, unmeasurable, deviating steps)."""
    n, st = A.n, A.st
    allc = np.ones(n, dtype=bool)
    k = rule.kind
    unit = "working time on " + str(sop.calendar) if rule.time == "working" and sop.calendar is not None else "calendar time"
    if k == "required":
        return allc, A.count(rule.activities[0]) == 0, {"basis": "occurrence per case"}
    if k == "forbidden":
        return allc, A.count(rule.activities[0]) > 0, {"basis": "occurrence per case"}
    if k == "at_most_once":
        return allc, A.count(rule.activities[0]) > 1, {"basis": "occurrences per case"}
    if k in ("first", "last"):
        c = A.code.get(rule.activities[0], -1)
        pos = log.case_starts if k == "first" else np.r_[log.case_starts[1:] - 1, len(A.act) - 1] if n else log.case_starts
        return allc, A.act[pos] != c, {"basis": "instance order (start, else end)"}
    if k == "before":
        a, b = rule.activities
        fa, fb = A.first_row(a), A.first_row(b)
        checked = fb >= 0
        return checked, checked & ((fa < 0) | (fa > fb)), {"basis": "first occurrences, instance order; cases with " + b}
    if k == "four_eyes":
        a, b = rule.activities
        R = max(len(A.res_names), 1)
        ma, mb = A.mask(a) & (A.res >= 0), A.mask(b) & (A.res >= 0)
        ka = A.ci[ma] * R + A.res[ma]
        kb = A.ci[mb] * R + A.res[mb]
        same = np.isin(kb, ka)
        viol = np.bincount(A.ci[mb][same], minlength=n) > 0
        checked = (np.bincount(A.ci[ma], minlength=n) > 0) & (np.bincount(A.ci[mb], minlength=n) > 0)
        extra = {"basis": "resource column; cases where both steps have a resource"}
        _missing_note(A, (a, b), extra)
        return checked, viol & checked, extra
    if k == "performed_by":
        a = rule.activities[0]
        allowed = [A.res_names.index(r) for r in rule.resources if r in A.res_names]
        m = A.mask(a) & (A.res >= 0)
        bad = m & ~np.isin(A.res, allowed)
        checked = np.bincount(A.ci[m], minlength=n) > 0
        viol = np.bincount(A.ci[bad], minlength=n) > 0
        extra = {"basis": f"resource column; allowed: {', '.join(rule.resources)}"}
        if not allowed:
            extra["basis"] += " (none of them occurs in the log)"
        _missing_note(A, (a,), extra)
        return checked, viol, extra
    if k == "case_sla":
        span = _span(sop.calendar, rule, A.case_t0, A.case_t1)
        return allc, span > rule.within_s, {"basis": f"first start (or end) to last end, {unit}; "
                                                     "cases cut by the export window are judged on what the log shows"}
    if k == "max_duration":
        m = A.mask(rule.activities[0]) & st.has_start
        if not m.any():
            return (np.zeros(n, dtype=bool), np.zeros(n, dtype=bool),
                    {"basis": "processing time", "unmeasurable": f"no instance of {rule.activities[0]!r} has a start time"})
        d = _span(sop.calendar, rule, st.t_start[m], st.end[m])
        checked = np.bincount(A.ci[m], minlength=n) > 0
        viol = np.bincount(A.ci[m][d > rule.within_s], minlength=n) > 0
        return checked, viol, {"basis": f"processing time (start to end), {unit}"}
    if k == "max_wait":
        act = rule.activities[0]
        to_what = "start" if st.has_start[A.mask(act)].all() else "start, or completion where no start time (an upper bound)"
        if len(rule.activities) > 1:
            fb = A.first_row(rule.activities[1])
            fa = A.first_row(act, after=fb)
            checked = fa >= 0
            ra, rb = fa[checked], fb[checked]
            w = _span(sop.calendar, rule, st.end[rb], st.t_start[ra])
            viol = np.zeros(n, dtype=bool)
            viol[np.flatnonzero(checked)] = w > rule.within_s
            return checked, viol, {"basis": f"end of the first {rule.activities[1]} to the {to_what} of the next {act}, {unit}"}
        m = A.mask(act) & ~st.first
        en = st.enabled[m]
        w = _span(sop.calendar, rule, en, st.t_start[m])
        checked = np.bincount(A.ci[m], minlength=n) > 0
        viol = np.bincount(A.ci[m][w > rule.within_s], minlength=n) > 0
        return checked, viol, {"basis": f"enablement (end of the previous step) to the {to_what} of {act}, {unit}"}
    if k == "model":
        return _model_rule(rule, log, A)
    raise InputError(f"unknown rule kind {k!r}")  # read_sop rejects these first


def _missing_note(A: _Arrays, acts: tuple[str, ...], extra: dict[str, Any]) -> None:
    m = np.zeros(len(A.act), dtype=bool)
    for a in acts:
        m |= A.mask(a)
    miss = int((m & (A.res < 0)).sum())
    if miss:
        extra["basis"] += f"; {miss:,} instance(s) without a resource are not judged"


def _model_rule(rule: Rule, log: EventLog, A: _Arrays) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Token replay of each variant on the model; deviating steps named from the replay."""
    from .mining.models import PetriNet, ProcessModel, _quiet

    import pm4py

    with _quiet():
        if rule.model is not None:
            net, im, fm = rule.model.petri_net if isinstance(rule.model, ProcessModel) else PetriNet(*rule.model)
        else:
            try:
                bpmn = pm4py.read_bpmn(rule.path)
                net, im, fm = pm4py.convert_to_petri_net(bpmn)
            except Exception as exc:
                raise InputError(f"{rule.where}: {rule.path!r} is not a BPMN 2.0 model pm4py can read "
                                 f"({type(exc).__name__}: {' '.join(str(exc).split())[:120]}).") from None
    # One trace per variant: replay cost grows with the variants, not the cases.
    n = A.n
    seq = log.df["activity"].astype(str).to_numpy()
    starts = log.case_starts
    keys = pd.Series(np.split(seq, starts[1:]) if n else [], dtype=object).map(tuple)
    vcode, variants = pd.factorize(keys)
    labels = {t.label for t in net.transitions if t.label is not None}
    rows = []
    for i, v in enumerate(variants):
        for j, a in enumerate(v):
            rows.append((f"v{i}", a, j))
    df = pd.DataFrame(rows, columns=["case:concept:name", "concept:name", "pos"])
    df["time:timestamp"] = pd.to_datetime(np.arange(len(df)), unit="s", utc=True)
    with _quiet():
        elog = pm4py.convert_to_event_log(df.drop(columns="pos"))
        diag = pm4py.conformance_diagnostics_token_based_replay(elog, net, im, fm)
    order = {str(t.attributes["concept:name"]): k for k, t in enumerate(elog)}
    fit = np.zeros(len(variants), dtype=bool)
    mis = np.zeros(len(variants)); rem = np.zeros(len(variants)); con = np.zeros(len(variants)); pro = np.zeros(len(variants))
    problems: list[list[str]] = [[] for _ in variants]
    for i, v in enumerate(variants):
        d = diag[order[f"v{i}"]]
        fit[i] = bool(d["trace_is_fit"])
        mis[i], rem[i], con[i], pro[i] = d["missing_tokens"], d["remaining_tokens"], d["consumed_tokens"], d["produced_tokens"]
        problems[i] = [str(t.label) for t in d.get("transitions_with_problems", []) if t.label is not None]
        problems[i] += [a for a in v if a not in labels]
    w = np.bincount(vcode, minlength=len(variants)).astype(float)
    fitness = 0.5 * (1 - (w @ mis) / (w @ con) if w @ con else 1.0) + 0.5 * (1 - (w @ rem) / (w @ pro) if w @ pro else 1.0)
    steps_count: dict[str, int] = {}
    for i in np.flatnonzero(~fit):
        for a in set(problems[i]):
            steps_count[a] = steps_count.get(a, 0) + int(w[i])
    steps_count = dict(sorted(steps_count.items(), key=lambda kv: -kv[1]))
    viol = ~fit[vcode] if n else np.zeros(0, dtype=bool)
    return (np.ones(n, dtype=bool), viol,
            {"basis": "token replay on the model (pm4py), one replay per variant", "deviating_steps": steps_count,
             "fitness": float(fitness)})


# ------------------------------------------------------------------------------ cost
def _ols_effects(Xg: np.ndarray, inv_g: np.ndarray, y: np.ndarray, n_boot: int,
                 rng: np.random.Generator) -> list[dict[str, float | None]]:
    """OLS of ``y`` on 0/1 regressors: coefficients of columns 1.. (column 0 is the intercept),
    HC1 p-values and 95 % CIs.

    The same estimator as the adjusted effects of :func:`leanops.rca.root_causes` (OLS,
    heteroscedasticity-robust HC1 standard errors, percentile bootstrap over cases). The
    regressors are indicators, so cases fall into a few distinct rows ``Xg`` (case i has
    row ``inv_g[i]``), and every sum over cases is a sum over those rows: exact, and
    independent of the number of cases.
    """
    n, k = len(y), Xg.shape[1]
    G = Xg.shape[0]

    def fit(w: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        cnt = np.bincount(inv_g, weights=w, minlength=G)
        sy = np.bincount(inv_g, weights=w * y, minlength=G)
        return cnt, sy, Xg.T @ (Xg * cnt[:, None]), Xg.T @ sy

    cnt, sy, xtx, xty = fit(np.ones(n))
    qy = np.bincount(inv_g, weights=y * y, minlength=G)
    inv = np.linalg.pinv(xtx)
    beta = inv @ xty
    mu = Xg @ beta
    esq = np.maximum(qy - 2 * mu * sy + cnt * mu * mu, 0.0)  # sum of squared residuals per row
    meat = Xg.T @ (Xg * esq[:, None])
    cov = inv @ meat @ inv * n / max(n - k, 1)
    se = np.sqrt(np.maximum(np.diag(cov), 0.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(se > 0, beta / se, np.where(beta != 0, np.inf, 0.0))
    p = 2 * stats.t.sf(np.abs(t), max(n - k, 1))
    if n > BOOT_MAX_CASES:
        # With this many cases the bootstrap and the HC1 normal interval agree; the latter
        # costs one pass instead of n_boot.
        lo, hi = beta - 1.96 * se, beta + 1.96 * se
    else:
        boots = np.full((n_boot, k), np.nan)
        prob = np.full(n, 1.0 / n)
        for b in range(n_boot):  # resamples, not cases: k x k solves on weighted sums
            _, _, bxtx, bxty = fit(rng.multinomial(n, prob).astype(float))
            try:
                boots[b] = np.linalg.solve(bxtx, bxty)
            except np.linalg.LinAlgError:
                continue
        lo, hi = np.nanpercentile(boots, [2.5, 97.5], axis=0)
    return [{"effect": float(beta[j]), "ci_low": float(lo[j]), "ci_high": float(hi[j]), "p_value": float(p[j])}
            for j in range(1, k)]


def _costs(V: np.ndarray, C: np.ndarray, kinds: list[str], y: np.ndarray, n_boot: int, rng) -> dict[int, dict]:
    """Adjusted effect on y of each rule's violation (rule index -> effect dict).

    One regression of y on every estimable violation, plus, for rules that apply to some
    cases only, whether the rule applies: so a violation is compared with the cases that
    complied, not with the cases the rule does not concern.
    """
    ok = np.isfinite(y)
    Vo, Co = V[ok], C[ok]
    nv = Vo.sum(axis=0)
    nc = Co.sum(axis=0)
    cols = [j for j in range(V.shape[1]) if kinds[j] != "case_sla" and nv[j] >= MIN_GROUP and nc[j] - nv[j] >= MIN_GROUP]
    if not cols:
        return {}
    seen: dict[bytes, int] = {}
    uniq: list[int] = []
    for j in cols:  # identical violation columns (one deviation implies another) cannot be told apart
        key = np.packbits(Vo[:, j]).tobytes()
        if key not in seen:
            seen[key] = j
            uniq.append(j)
    cand = [Vo[:, j] for j in uniq]
    ckeys = set(seen)
    for j in cols:
        if not Co[:, j].all():
            key = np.packbits(Co[:, j]).tobytes()
            if key not in ckeys:
                ckeys.add(key)
                cand.append(Co[:, j])
    # cases with the same indicators share a design row: group them once
    if len(cand) <= 62:
        code = np.zeros(int(ok.sum()), dtype=np.int64)
        for i, c in enumerate(cand):
            code |= c.astype(np.int64) << i
        ucode, inv_g = np.unique(code, return_inverse=True)
        rows = np.column_stack([np.ones(len(ucode))] + [((ucode >> i) & 1).astype(float) for i in range(len(cand))])
    else:
        M = np.column_stack(cand)
        rows, inv_g = np.unique(M, axis=0, return_inverse=True)
        rows = np.column_stack([np.ones(len(rows)), rows.astype(float)])
    inv_g = inv_g.ravel()
    cnt = np.bincount(inv_g, minlength=len(rows)).astype(float)
    gram = rows.T @ (rows * cnt[:, None])
    keep_cols: list[int] = []  # only columns that add information (a control can be a violation's complement)
    for i in range(rows.shape[1]):
        idx = keep_cols + [i]
        if np.linalg.matrix_rank(gram[np.ix_(idx, idx)]) == len(idx):
            keep_cols.append(i)
    eff = _ols_effects(rows[:, keep_cols], inv_g, y[ok], n_boot, rng)
    by_col = dict(zip(keep_cols[1:], eff))
    out = {j: by_col[i + 1] for i, j in enumerate(uniq) if i + 1 in by_col}
    cols = [j for j in cols if seen[np.packbits(Vo[:, j]).tobytes()] in out]
    for j in cols:
        if j not in out:
            first = seen[np.packbits(Vo[:, j]).tobytes()]
            out[j] = {**out[first], "same_cases_as_rule": first}
    return out


# ------------------------------------------------------------------------------ the function
def check(
    log: EventLog,
    sop: Any,
    *,
    n_boot: int = 200,
    seed: int | np.random.Generator | None = 0,
) -> Compliance:
    """Check ``log`` against an SOP: compliance per rule, violating cases, trend, cost.

    Parameters
    ----------
    log : EventLog
    sop : SOP, str, os.PathLike or Mapping
        An :class:`~leanops.sop.SOP`, or anything :func:`~leanops.sop.read_sop` reads.
        Its activities must occur in the log.
    n_boot : int
        Bootstrap resamples for the CIs of the costs.
    seed : int, numpy Generator or None
        For the bootstrap; same seed, same result.

    Returns
    -------
    Compliance
        ``.to_frame()`` (per rule), ``.violations``, ``.trend``, ``.by_resource``,
        ``.to_dict()`` (the ``check --json`` document), ``.plot()``.

    Examples
    --------
    >>> import leanops
    >>> log = leanops.datasets.load("production")
    >>> res = leanops.check(log, {"rules": [{"case_sla": {"within": "10d"}}]}, n_boot=20)
    >>> r = res.rules[0]
    >>> r.cases_checked == log.n_cases, 0 <= r.compliance <= 1
    (True, True)
    """
    if not isinstance(log, EventLog):
        raise InputError(f"log must be a leanops.EventLog; got {type(log).__name__}. Read it with leanops.read(path).")
    check_positive("n_boot", n_boot, integer=True)
    rng = check_seed(seed)
    sop, A, C, V, extras = _evaluated(log, sop, "check")
    n = A.n
    kinds = [r.kind for r in sop.rules]
    notes: list[str] = []
    # the rca target "case_duration" (first start, or end, to last end), from the arrays at hand
    y = (A.case_t1 - A.case_t0) / 1e9
    costs = _costs(V, C, kinds, y, int(n_boot), rng)
    sla_rules = [r for r in sop.rules if r.kind == "case_sla"]
    sla_costs: dict[int, dict] = {}
    if sla_rules:
        j_sla = kinds.index("case_sla")
        sla_costs = _costs(V, C, kinds, V[:, j_sla].astype(float), int(n_boot), rng)
    results: list[RuleResult] = []
    for j, rule in enumerate(sop.rules):
        ex = extras[j]
        nc, nv = int(C[:, j].sum()), int(V[:, j].sum())
        un = ex.get("unmeasurable")
        if un is None and nc == 0:
            un = "no case to which the rule applies"
        comp = None if un else 1.0 - nv / nc
        e = costs.get(j)
        cost = ({"effect_s": e["effect"], "ci_low": e["ci_low"], "ci_high": e["ci_high"], "p_value": e["p_value"]}
                if e else {"effect_s": None, "ci_low": None, "ci_high": None, "p_value": None})
        if e and "same_cases_as_rule" in e:
            cost["same_cases_as"] = sop.rules[e["same_cases_as_rule"]].label
        s = sla_costs.get(j)
        sla_cost = ({"effect": s["effect"], "ci_low": s["ci_low"], "ci_high": s["ci_high"], "p_value": s["p_value"]}
                    if s else None)
        results.append(RuleResult(rule.label, rule.kind, comp, nc, nv, cost, sla_cost, ex.get("basis", ""), un,
                                  ex.get("deviating_steps"), ex.get("fitness")))
    if any(r.compliance is not None and r.cost["effect_s"] is None and r.kind != "case_sla" and r.violations
           for r in results):
        notes.append(f"cost is estimated only where at least {MIN_GROUP} cases violate and {MIN_GROUP} comply")
    if not log.has_start_times:
        notes.append("the log has no start times: waits are measured to completions and processing times are unmeasurable")
    measurable = [j for j, r in enumerate(results) if r.compliance is not None]
    overall = float(1.0 - V[:, measurable].any(axis=1).mean()) if measurable and n else None
    vi, vj = np.nonzero(V)
    labels = np.array([r.label for r in sop.rules], dtype=object)
    kinds_arr = np.array(kinds, dtype=object)
    violations = pd.DataFrame({"case_id": A.case_ids[vi], "rule": labels[vj], "kind": kinds_arr[vj]})
    trend = _trend(A, C, V, labels, measurable)
    return Compliance(sop, results, overall, n, violations, trend, notes,
                      lambda: _by_resource(A, C, V, sop, measurable))


def _evaluated(log: EventLog, sop: Any, name: str) -> tuple[SOP, _Arrays, np.ndarray, np.ndarray, list[dict]]:
    """The SOP read against ``log``, the log's arrays, and per case x rule whether the rule
    applies (C) and is violated (V), with each rule's extra findings. ``name`` (the public
    function) prefixes the message for an empty log."""
    sop = read_sop(sop, log=log)
    if len(log) == 0:
        raise InputError(f"{name}: the log has no activity instances.")
    A = _Arrays(log)
    R = len(sop.rules)
    # column-major: every later step reads one rule (a column) at a time
    C = np.zeros((A.n, R), dtype=bool, order="F")
    V = np.zeros((A.n, R), dtype=bool, order="F")
    extras = []
    for j, rule in enumerate(sop.rules):  # one vectorised pass per rule
        c, v, extra = _evaluate(rule, A, sop, log)
        C[:, j], V[:, j] = c, v & c
        extras.append(extra)
    return sop, A, C, V, extras


def violating_cases(log: EventLog, sop: Any) -> pd.Index:
    """Ids of the cases that violate any rule of ``sop``, in case order.

    The same cases as ``check(log, sop).violating_cases()``, without the costs and their
    bootstrap (:func:`leanops.compare` needs only these).

    Examples
    --------
    >>> import leanops
    >>> from leanops.compliance import violating_cases
    >>> log = leanops.datasets.load("production")
    >>> sop = {"rules": [{"case_sla": {"within": "10d"}}]}
    >>> violating_cases(log, sop).equals(leanops.check(log, sop, n_boot=10).violating_cases())
    True
    """
    # allow_empty: an SOP error is reported first, then the empty log, as by check()
    log = check_log(log, "violating_cases", allow_empty=True)
    _, A, _, V, _ = _evaluated(log, sop, "violating_cases")
    return pd.Index(A.case_ids[V.any(axis=1)], name="case_id")


def _trend(A: _Arrays, C: np.ndarray, V: np.ndarray, labels: np.ndarray, measurable: list[int]) -> pd.DataFrame:
    week = (A.case_t0 // 10**9 - _MONDAY0_S) // WEEK_S
    wk, widx = np.unique(week, return_inverse=True)
    nw = len(wk)
    frames = []
    for j in measurable:
        nc = np.bincount(widx, weights=C[:, j], minlength=nw)
        nv = np.bincount(widx, weights=V[:, j], minlength=nw)
        frames.append(pd.DataFrame({"week": wk, "rule": labels[j], "cases_checked": nc.astype(int), "violations": nv.astype(int)}))
    if measurable:
        nv = np.bincount(widx, weights=V[:, measurable].any(axis=1), minlength=nw)
        frames.append(pd.DataFrame({"week": wk, "rule": "all rules", "cases_checked": np.bincount(widx, minlength=nw),
                                    "violations": nv.astype(int)}))
    if not frames:
        return pd.DataFrame(columns=["week", "rule", "cases_checked", "violations", "compliance"])
    out = pd.concat(frames, ignore_index=True)
    out = out[out["cases_checked"] > 0].reset_index(drop=True)
    out["week"] = pd.to_datetime((out["week"].to_numpy() * WEEK_S + _MONDAY0_S) * 10**9, utc=True)
    out["compliance"] = 1.0 - out["violations"] / out["cases_checked"]
    return out


def _by_resource(A: _Arrays, C: np.ndarray, V: np.ndarray, sop: SOP, measurable: list[int]) -> pd.DataFrame:
    cols = ["resource", "pool", "rule", "cases_checked", "violations", "compliance"]
    Rn = max(len(A.res_names), 1)
    K = max(len(A.code), 1)
    member = {r: p for p, ms in sop.pools.items() for r in ms}
    m = A.res >= 0
    # one sort of the (case, resource, activity) triples serves every rule
    # rows are sorted by case, so the keys come in long sorted runs: a stable (run-aware) sort
    trip = np.sort((A.ci[m] * Rn + A.res[m]) * K + A.act[m], kind="stable")
    trip = trip[np.r_[True, trip[1:] != trip[:-1]]] if len(trip) else trip
    t_case = trip // (Rn * K)  # split the keys once; each rule then only masks
    rem = trip - t_case * (Rn * K)
    t_res = rem // K
    t_act = rem - t_res * K
    del trip, rem
    cache: dict[tuple[int, ...], tuple[np.ndarray, np.ndarray]] = {}

    def pairs(codes: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
        """Distinct (case, resource) pairs among the triples of these activities (() = all)."""
        if codes not in cache:
            cs, rs = t_case, t_res
            if codes:
                keep = t_act == codes[0]
                for c in codes[1:]:
                    keep |= t_act == c
                cs, rs = cs[keep], rs[keep]
            if len(cs):  # sorted by case then resource: a repeated pair sits next to its twin
                new = np.r_[True, (cs[1:] != cs[:-1]) | (rs[1:] != rs[:-1])]
                cs, rs = cs[new], rs[new]
            cache[codes] = (cs, rs)
        return cache[codes]

    frames = []
    for j in measurable:
        rule = sop.rules[j]
        codes: tuple[int, ...] = ()
        if rule.kind not in ("required", "forbidden", "case_sla", "model", "first", "last") and rule.activities:
            codes = tuple(A.code[a] for a in rule.activities if a in A.code) or (-1,)
        cs, rs = pairs(codes)
        ok = C[:, j][cs]
        cs, rs = cs[ok], rs[ok]
        nc = np.bincount(rs, minlength=Rn)
        nv = np.bincount(rs, weights=V[:, j][cs], minlength=Rn)
        idx = np.flatnonzero(nc)
        names = [A.res_names[i] for i in idx]
        frames.append(pd.DataFrame({"resource": names, "pool": [member.get(r) for r in names], "rule": rule.label,
                                    "cases_checked": nc[idx], "violations": nv[idx].astype(int)}))
    if not frames:
        return pd.DataFrame(columns=cols)
    out = pd.concat(frames, ignore_index=True)
    out["compliance"] = 1.0 - out["violations"] / out["cases_checked"]
    return out[cols]
