"""Ranking the drivers of a per-case target: which conditions make cases slow, late or loop.

How it works (the choices, so that results can be read with confidence):

1. **Conditions.** Every feature of :func:`leanops.rca.features` gives candidate
   conditions: ``feature = value`` for text features (values seen in at least
   ``min_support`` of the cases), ``feature >= t`` / ``feature < t`` for numeric ones, with
   the threshold ``t`` chosen among the 5 %, 10 %, ..., 95 % quantiles as the one whose split
   differs most (largest Welch t). Every threshold tried counts as a test.
2. **Effect.** The difference in mean target between the cases meeting the condition and
   the others (for ``sla:`` and ``rework`` targets, the difference in rate).
3. **Adjusting for stronger drivers (regression adjustment, forward selection).**
   Conditions are selected one at a time: the next one is the condition with the largest
   t statistic *after adjusting for the drivers already selected* (ordinary least squares
   of the target on indicators of the selected conditions plus the candidate; the
   candidate's coefficient is its adjusted effect). A condition that merely travels with a
   stronger one loses its effect once that one is in the model and is never selected.
   We chose regression over stratification because it stays stable with many strata and
   is fast (sufficient statistics on a sparse indicator matrix).
4. **Causes before consequences.** Path features (an activity occurs, repeats, the
   variant), and the people and handoffs that come with a longer path (``involves:``,
   ``handoffs``, who did an activity that not every case goes through), are
   consequences of what the case is. They are considered only after the
   upstream features (attributes, resources, time, workload, data quality). A path
   condition whose effect is largely carried by an upstream cause (adding it to the model
   removes at least 20 % of that cause's effect, or it is determined by it) is reported
   as a **mediator** of that cause, not as a cause of its own.
5. **Uncertainty.** The p-value of the adjusted effect uses heteroscedasticity-robust
   (HC1) standard errors, corrected for the number of conditions tested with
   Benjamini-Hochberg. The 95 % CI is a percentile bootstrap over cases (``n_boot``
   resamples) of the same adjusted effect. Support is the share of cases meeting the
   condition.
6. **Ranking.** By default causes keep their order of selection: rank 1 is the strongest
   driver, rank 2 the strongest once rank 1 is accounted for, and so on (upstream causes
   before path consequences). ``rank_by="impact"`` orders them by effect x cases, the
   total excess they account for (the Pareto chart always uses that order).
"""

from __future__ import annotations

import html
import math
import warnings
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import sparse, stats

from .._validation import check_choice, check_fraction, check_positive, check_seed
from ..errors import InputError
from ..log import EventLog
from ._format import condition_text, fmt_duration, fmt_effect
from .features import features as build_features
from .targets import Target, target_values

__all__ = ["root_causes", "RootCauses", "Cause", "LowConfidenceWarning"]


class LowConfidenceWarning(UserWarning):
    """Too few cases for the statistics to be trusted; results are marked low confidence."""

MIN_CASES = 50  # fewer cases than this: results are marked low confidence
MAX_VALUES = 30  # per text feature
QUANTILES = np.arange(0.05, 0.951, 0.05)
_FAMILIES = ("involves:", "occurs:", "any:")
# Features that are partly consequences of a long case (more steps, more people) are
# considered with the path features, after the upstream ones.
_DOWNSTREAM = ("handoffs",)


@dataclass
class Cause:
    """One condition and its effect on the target."""

    rank: int
    feature: str
    value: str
    effect: float
    effect_unit: str
    ci_low: float
    ci_high: float
    p_value: float  # Benjamini-Hochberg adjusted
    support: float  # share of the analysed cases meeting the condition
    category: str
    n_cases: int
    raw_effect: float  # plain difference against the other cases, before adjustment
    p_raw: float
    mean_with: float
    mean_without: float
    adjusted_for: list[str] = field(default_factory=list)
    mediators: list[dict[str, Any]] = field(default_factory=list)
    sentence: str = ""
    confidence: Literal["normal", "low"] = "normal"

    @property
    def condition(self) -> str:
        """The condition as text, e.g. ``channel = phone``."""
        return f"{self.feature} {self.value}" if self.value[:1] in "<>" else f"{self.feature} = {self.value}"

    def to_dict(self) -> dict[str, Any]:
        """The cause as in ``leanops rca --json`` (feature, value, effect, CI, p-value, ...)."""
        return {
            "rank": self.rank, "feature": self.feature, "value": self.value, "effect": self.effect,
            "effect_unit": self.effect_unit, "ci_low": self.ci_low, "ci_high": self.ci_high,
            "p_value": self.p_value, "support": self.support, "category": self.category,
            "n_cases": self.n_cases, "raw_effect": self.raw_effect, "p_raw": self.p_raw,
            "mean_with": self.mean_with, "mean_without": self.mean_without,
            "adjusted_for": list(self.adjusted_for), "mediators": [dict(m) for m in self.mediators],
            "sentence": self.sentence, "confidence": self.confidence,
        }


@dataclass
class RootCauses:
    """The result of :func:`root_causes`. ``causes`` is empty when there is nothing to explain
    or nothing significant; ``reason`` then says why."""

    target: str
    target_kind: str
    baseline: dict[str, Any]
    causes: list[Cause]
    n_cases: int
    n_tested: int
    alpha: float
    statistic: str
    low_confidence: bool = False
    nothing_to_explain: bool = False
    reason: str | None = None
    notes: list[str] = field(default_factory=list)

    # ----------------------------------------------------------------- views
    def to_frame(self) -> pd.DataFrame:
        """One row per cause (the JSON keys as columns), rank first."""
        cols = ["rank", "feature", "value", "effect", "effect_unit", "ci_low", "ci_high", "p_value", "support",
                "category", "n_cases", "raw_effect", "p_raw", "mean_with", "mean_without", "sentence", "confidence"]
        rows = [{k: v for k, v in c.to_dict().items() if k in cols} for c in self.causes]
        return pd.DataFrame(rows, columns=cols)

    def to_dict(self) -> dict[str, Any]:
        """The ``leanops rca --json`` document."""
        return {
            "target": self.target,
            "target_kind": self.target_kind,
            "baseline": dict(self.baseline),
            "causes": [c.to_dict() for c in self.causes],
            "n_cases": self.n_cases,
            "n_tested": self.n_tested,
            "alpha": self.alpha,
            "statistic": self.statistic,
            "low_confidence": self.low_confidence,
            "nothing_to_explain": self.nothing_to_explain,
            "reason": self.reason,
            "notes": list(self.notes),
        }

    def __repr__(self) -> str:
        what = f"{len(self.causes)} causes" if self.causes else "nothing to explain"
        return f"<RootCauses of {self.target}: {what}, {self.n_cases:,} cases, {self.n_tested} conditions tested>"

    def sentences(self) -> list[str]:
        """One plain sentence per cause, ready for a report."""
        return [c.sentence for c in self.causes]

    def __str__(self) -> str:
        head = f"Root causes of {self.target} ({self.n_cases:,} cases; baseline {self._fmt(self.baseline['mean'])})"
        if not self.causes:
            return f"{head}\n{self.reason or 'no causes found'}"
        lines = [head]
        lines += [f"{c.rank:>2}. [{c.category}] {c.sentence}" for c in self.causes]
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)

    def _fmt(self, x: float) -> str:
        unit = self.baseline.get("unit", "value")
        if unit == "s":
            return fmt_duration(x)
        if unit == "share":
            return f"{100 * x:.1f}%"
        return fmt_effect(x, unit)

    def _repr_html_(self) -> str:
        e = html.escape
        head = f"<b>Root causes of {e(self.target)}</b> ({self.n_cases:,} cases, baseline {e(self._fmt(self.baseline['mean']))})"
        if not self.causes:
            return f"<div>{head}<p>{e(self.reason or 'no causes found')}</p></div>"
        rows = "".join(
            f"<tr><td>{c.rank}</td><td>{e(c.category)}</td><td>{e(c.feature)}</td><td>{e(c.value)}</td>"
            f"<td>{e(c.sentence)}</td><td>{c.p_value:.2g}</td></tr>"
            for c in self.causes
        )
        notes = "".join(f"<p><i>{e(n)}</i></p>" for n in self.notes)
        return (f"<div>{head}<table><tr><th>#</th><th>category</th><th>feature</th><th>value</th>"
                f"<th>reading</th><th>p</th></tr>{rows}</table>{notes}</div>")

    def plot(self, kind: Literal["pareto", "effects", "fishbone"] = "pareto", *, ax=None):
        """A Pareto of causes by impact, the effects with their CIs, or a fishbone summary."""
        from . import charts

        check_choice("kind", kind, ("pareto", "effects", "fishbone"))
        return {"pareto": charts.pareto, "effects": charts.effects, "fishbone": charts.fishbone}[kind](self, ax=ax)

    def _repr_svg_(self) -> str | None:
        if not self.causes:
            return None
        from . import charts

        return charts.to_svg(charts.effects(self))


def _nothing(target: Target, baseline: dict, n: int, reason: str, statistic: str, alpha: float, low: bool,
             notes=None, excluded=None) -> RootCauses:
    return RootCauses(target.name, target.kind, baseline, [], n, 0, alpha, statistic, low_confidence=low,
                      nothing_to_explain=True, reason=reason, notes=list(notes or []),
                      excluded_cases=dict(excluded or {}))


# --------------------------------------------------------------------------- the function
def root_causes(
    log: EventLog,
    *,
    target: str | pd.Series = "case_duration",
    top: int = 10,
    alpha: float = 0.05,
    min_support: float = 0.02,
    max_support: float = 0.5,
    rank_by: Literal["strength", "impact", "effect"] = "strength",
    statistic: Literal["mean", "median"] = "mean",
    direction: Literal["increase", "decrease", "both"] = "increase",
    n_boot: int = 200,
    seed: int | np.random.Generator | None = 0,
    feature_table: pd.DataFrame | None = None,
) -> RootCauses:
    """Rank the conditions that drive ``target``, with effect sizes, CIs and p-values.

    Parameters
    ----------
    log : EventLog
    target : str or pandas.Series
        ``"case_duration"``, ``"sla:DURATION"`` (e.g. ``"sla:3d"``; the breach rate),
        ``"wait:ACTIVITY"`` (waiting before that step), ``"rework"`` (an activity repeats),
        or a Series of numbers/booleans indexed by case id.
    top : int
        Report at most this many causes.
    alpha : float
        Significance level for the Benjamini-Hochberg adjusted p-values.
    min_support : float
        Smallest share of cases a condition must cover (and leave out); at least 5 cases.
    max_support : float
        Largest share of cases a threshold (or yes/no) condition may cover on its harmful
        side: "cases with >= 2 open cases (97 %)" is not a useful cause, its complement is.
    rank_by : {"strength", "impact", "effect"}
        ``"strength"`` (default): the order of selection, strongest adjusted evidence
        first, so that each cause is adjusted for those ranked above it (causes before
        path consequences). ``"impact"``: effect x cases, the Pareto order.
        ``"effect"``: the adjusted effect.
    statistic : {"mean", "median"}
        ``"mean"``: the adjusted difference in mean (or rate). ``"median"``: the plain
        difference in median against the other cases, with a Mann-Whitney p-value (the
        selection still adjusts for stronger drivers).
    direction : {"increase", "decrease", "both"}
        Report conditions that raise the target (slower, more breaches), lower it, or both.
    n_boot : int
        Bootstrap resamples for the confidence intervals.
    seed : int, numpy Generator or None
        For the bootstrap; same seed, same result.
    feature_table : DataFrame, optional
        A table from :func:`leanops.rca.features` (possibly with added columns) to reuse.

    Returns
    -------
    RootCauses
        ``causes`` ranked by impact (effect x cases), each with a plain sentence;
        ``nothing_to_explain`` and ``reason`` when the target does not vary or no feature does.

    Notes
    -----
    See the module documentation of ``leanops.rca.drivers`` for the method: forward
    selection with regression adjustment, path features as mediators, HC1 p-values with
    Benjamini-Hochberg, percentile bootstrap CIs.

    Examples
    --------
    >>> import leanops
    >>> rc = leanops.root_causes(leanops.datasets.load("production"), target="case_duration", n_boot=50)
    >>> rc.causes[0].category in ("people", "method", "material", "environment", "measurement")
    True
    >>> sorted(rc.to_dict())[:3]
    ['alpha', 'baseline', 'causes']
    """
    if not isinstance(log, EventLog):
        raise InputError(f"log must be a leanops.EventLog; got {type(log).__name__}. Read it with leanops.read(path).")
    check_positive("top", top, integer=True)
    alpha = check_fraction("alpha", alpha, allow_none=False)
    min_support = check_fraction("min_support", min_support, allow_none=False)
    max_support = check_fraction("max_support", max_support, allow_none=False)
    check_choice("rank_by", rank_by, ("strength", "impact", "effect"))
    check_choice("statistic", statistic, ("mean", "median"))
    check_choice("direction", direction, ("increase", "decrease", "both"))
    check_positive("n_boot", n_boot, integer=True)
    rng = check_seed(seed)

    tgt = target_values(log, target=target)
    yall = tgt.values.to_numpy(dtype=float)
    mask = np.isfinite(yall)
    y = yall[mask]
    n = int(mask.sum())
    unit = tgt.unit
    baseline = {
        "mean": float(y.mean()) if n else None,
        "median": float(np.median(y)) if n else None,
        "n_cases": n,
        "unit": unit,
    }
    if tgt.sla_s is not None:
        baseline["sla_s"] = tgt.sla_s
    low = n < MIN_CASES
    if low:
        warnings.warn(
            f"root_causes: only {n} cases with a value for target {tgt.name!r} (fewer than {MIN_CASES}); "
            "results are marked low confidence.",
            LowConfidenceWarning,
            stacklevel=2,
        )
    if n < 4 or float(np.nanstd(y)) == 0.0:
        if n == 0:
            what = "no case has a value"
        elif n < 4:
            what = f"only {n} cases have a value"
        else:
            v = float(y[0])
            shown = fmt_duration(v) if unit == "s" else (f"{100 * v:.0f}%" if unit == "share" else fmt_effect(v, unit))
            what = f"the target is the same for every case ({shown})"
        return _nothing(tgt, baseline, n, f"nothing to explain: {what} for target {tgt.name!r}.", statistic, alpha, low)

    table = build_features(log) if feature_table is None else feature_table
    if feature_table is not None:
        missing = log.case_ids.difference(table.index)
        if len(missing):
            raise InputError(f"feature_table has no row for {len(missing)} case(s), e.g. {list(missing[:3])}; build it with leanops.rca.features(log).")
        table = table.reindex(log.case_ids)
        table.attrs = dict(feature_table.attrs)
    # Features that restate the target would explain it trivially.
    drop = [c for c in table.columns if tgt.name == "rework" and (c.startswith("count:") or c == "variant")]
    if drop:
        attrs = dict(table.attrs)
        table = table.drop(columns=drop)
        table.attrs = attrs
    sub = table.iloc[np.flatnonzero(mask)]
    sub.attrs = dict(table.attrs)
    notes: list[str] = []
    if not log.attributes:
        notes.append("the log has no case or event attributes; only resources, path, time and workload were examined")

    min_count = max(5, int(math.ceil(min_support * n)))
    want = {"increase": 1.0, "decrease": -1.0, "both": 0.0}[direction]
    cands, X, n_tested = _candidates(sub, y, min_count, want, max_support)
    if not cands:
        reason = (
            "nothing to explain: no feature varies across enough cases "
            f"(each condition needs at least {min_count} cases)"
            + ("; the log has no attributes" if not log.attributes else "")
            + "."
        )
        return _nothing(tgt, baseline, n, reason, statistic, alpha, low, notes)
    m = len(cands)
    m_tests = max(n_tested, m)

    # ---- marginal statistics (Welch) for every candidate
    Xt = X.T.tocsr()
    xx = np.asarray(X.sum(axis=0)).ravel()
    xy = Xt @ y
    xyy = Xt @ (y * y)
    sy, qy = y.sum(), (y * y).sum()
    raw_eff, raw_t, raw_p = _welch(xx, xy, xyy, n - xx, sy - xy, qy - xyy)
    raw_q = _bh(raw_p, m_tests)
    flippable = np.array([c.value_not is not None for c in cands])
    path = np.array([c.path for c in cands])

    def sign_ok(b: np.ndarray) -> np.ndarray:
        if want == 0:
            return np.ones(len(b), dtype=bool)
        return (np.sign(b) == want) | flippable

    # ---- forward selection with regression adjustment
    yy = float(y @ y)
    Zcols: list[np.ndarray] = [np.ones(n)]
    XZ = xx[:, None].astype(float)  # X^T 1
    Zy = np.array([sy])
    selected: list[int] = []
    sides: list[float] = []  # +1 indicator, -1 complement
    sel_p: list[float] = []
    sel_q: list[float] = []
    mediators: dict[int, list[dict[str, Any]]] = {}
    mediator_set: set[int] = set()
    rejected: set[int] = set()
    max_sel = max(int(top), 10)

    def add_column(j: int, side: float) -> None:
        nonlocal XZ, Zy
        col = X[:, j].toarray().ravel()
        if side < 0:
            col = 1.0 - col
        Zcols.append(col)
        XZ = np.column_stack([XZ, Xt @ col])
        Zy = np.r_[Zy, col @ y]

    def a_inv() -> np.ndarray:
        Z = np.column_stack(Zcols)
        A = Z.T @ Z
        try:
            return np.linalg.inv(A)
        except np.linalg.LinAlgError:
            return np.linalg.pinv(A)

    def select(stage_path: bool) -> None:
        while len(selected) < max_sel:
            Ainv = a_inv()
            b, t, free, _ = _adjusted(Ainv, Zy, yy, XZ, xx, xy, n)
            side = np.where(flippable & (np.sign(b) != want) & (want != 0), -1.0, 1.0)
            eligible = (path == stage_path) & sign_ok(b) & (raw_q < alpha) & (t != 0)
            if want != 0:
                eligible &= (np.sign(b * side) == want)
            for j in selected:
                eligible[j] = False
            for j in mediator_set | rejected:
                eligible[j] = False
            if not eligible.any():
                return
            p_all = 2 * stats.t.sf(np.abs(t), max(n - len(Zcols) - 1, 1))
            order = np.flatnonzero(eligible)[np.argsort(-np.abs(t[eligible]), kind="stable")]
            j = int(order[0])
            col = X[:, j].toarray().ravel()
            if side[j] < 0:
                col = 1.0 - col
            _, p_rob = _robust_p(np.column_stack([*Zcols, col]), y)
            p_vec = p_all.copy()
            p_vec[j] = p_rob
            rem = np.ones(m, dtype=bool)
            rem[selected] = False
            q = _bh(p_vec[rem], max(m_tests - len(selected), 1))
            qj = float(q[np.flatnonzero(rem).tolist().index(j)])
            if qj >= alpha:
                rejected.add(j)
                continue
            selected.append(j)
            sides.append(float(side[j]))
            sel_p.append(p_rob)
            sel_q.append(qj)
            add_column(j, float(side[j]))

    select(stage_path=False)
    n_upstream = len(selected)
    # ---- path conditions that carry an upstream cause's effect are its mediators
    if n_upstream:
        Ainv = a_inv()
        beta = Ainv @ Zy
        b, t, free, G = _adjusted(Ainv, Zy, yy, XZ, xx, xy, n)
        dir_ok = (raw_eff * want > 0) if want != 0 else np.ones(m, dtype=bool)
        for j in np.flatnonzero(path & (raw_q < alpha) & dir_ok):
            gam = G[j, 1:]  # association of the path condition with each cause (adjusted)
            best, best_share = None, 0.0
            for i in range(n_upstream):
                bc = beta[i + 1]
                if bc == 0:
                    continue
                if free[j] <= 0.02:  # determined by the selected causes
                    share = 1.0 if gam[i] * bc > 0 and abs(gam[i]) > 0.2 else 0.0
                else:
                    share = gam[i] * b[j] / bc
                if share > best_share:
                    best, best_share = i, share
            if best is not None and best_share >= 0.2:
                mediator_set.add(j)
                mediators.setdefault(best, []).append(
                    {"feature": cands[j].feature, "value": cands[j].value, "share": float(min(best_share, 1.0))})
        for lst in mediators.values():
            lst.sort(key=lambda md: -md["share"])
    select(stage_path=True)

    if not selected:
        reason = (f"nothing to explain: no condition has a significant effect on {tgt.name!r} at alpha={alpha:g} "
                  f"(Benjamini-Hochberg over {m_tests} conditions tested)")
        if not log.attributes:
            reason += "; the log has no attributes, so only resources, path, time and workload were examined"
        return RootCauses(tgt.name, tgt.kind, baseline, [], n, m_tests, alpha, statistic, low_confidence=low,
                          nothing_to_explain=True, reason=reason + ".", notes=notes)

    # ---- effects and bootstrap CIs (nested: cause j adjusted for causes 1..j-1)
    Xsel = np.column_stack(Zcols)
    coefs = []
    for j in range(1, Xsel.shape[1]):
        sub_ = Xsel[:, : j + 1]
        coefs.append(float(np.linalg.lstsq(sub_, y, rcond=None)[0][-1]))
    boots = _bootstrap(Xsel, y, int(n_boot), rng)
    causes: list[Cause] = []
    labels = []
    for i, j in enumerate(selected):
        c = cands[j]
        ind = Xsel[:, i + 1] > 0.5
        value = c.value if sides[i] > 0 else c.value_not
        mw, mo = float(y[ind].mean()), float(y[~ind].mean())
        lo, hi = np.nanpercentile(boots[:, i], [2.5, 97.5]) if np.isfinite(boots[:, i]).any() else (np.nan, np.nan)
        eff, p_val, p_raw = coefs[i], sel_q[i], sel_p[i]
        if statistic == "median":
            eff = float(np.median(y[ind]) - np.median(y[~ind]))
            bm = []
            idx1, idx0 = np.flatnonzero(ind), np.flatnonzero(~ind)
            for _ in range(int(n_boot)):
                bm.append(np.median(y[rng.choice(idx1, len(idx1))]) - np.median(y[rng.choice(idx0, len(idx0))]))
            lo, hi = np.percentile(bm, [2.5, 97.5])
            p_raw = float(stats.mannwhitneyu(y[ind], y[~ind], alternative="two-sided").pvalue)
            p_val = p_raw  # corrected below, over all conditions tested
        causes.append(Cause(
            rank=0, feature=c.feature, value=str(value), effect=float(eff), effect_unit=unit,
            ci_low=float(lo), ci_high=float(hi), p_value=float(p_val), support=float(ind.mean()),
            category=c.category, n_cases=int(ind.sum()), raw_effect=mw - mo, p_raw=float(p_raw),
            mean_with=mw, mean_without=mo, adjusted_for=list(labels), mediators=mediators.get(i, []),
            confidence="low" if low else "normal",
        ))
        labels.append(f"{c.feature} = {value}" if not str(value).startswith(("<", ">")) else f"{c.feature} {value}")
    if statistic == "median" and causes:
        for c, q in zip(causes, _bh(np.array([c.p_raw for c in causes]), m_tests)):
            c.p_value = float(q)
    if rank_by == "impact":
        causes.sort(key=lambda c: -abs(c.effect) * c.n_cases)
    elif rank_by == "effect":
        causes.sort(key=lambda c: -abs(c.effect))
    causes = causes[: int(top)]
    for r, c in enumerate(causes, 1):
        c.rank = r
        c.sentence = _sentence(c, tgt)
    if low:
        notes.append(f"low confidence: only {n} cases")
    return RootCauses(tgt.name, tgt.kind, baseline, causes, n, m_tests, alpha, statistic, low_confidence=low, notes=notes)


def _sentence(c: Cause, tgt: Target) -> str:
    subj = condition_text(c.feature, c.value)
    subj = subj[0].upper() + subj[1:]
    more = c.effect >= 0
    ci = f"95% CI {fmt_effect(c.ci_low, c.effect_unit)} to {fmt_effect(c.ci_high, c.effect_unit)}"
    share = f"{100 * c.support:.0f}% of cases"
    if tgt.kind == "duration":
        size = fmt_duration(abs(c.effect))
        ci = f"95% CI {fmt_duration(c.ci_low)} to {fmt_duration(c.ci_high)}"
        if tgt.activity is not None:
            verb = f"wait {size} {'longer' if more else 'less'} before {tgt.activity}"
        else:
            verb = f"take {size} {'longer' if more else 'less'}"
    elif tgt.kind == "rate":
        pts = f"{100 * abs(c.effect):.1f} percentage points {'more' if more else 'less'} often"
        ci = f"95% CI {100 * c.ci_low:.1f} to {100 * c.ci_high:.1f} points"
        if tgt.sla_s is not None:
            verb = f"breach the {fmt_duration(tgt.sla_s)} SLA {pts}"
        elif tgt.name == "rework":
            verb = f"repeat an activity {pts}"
        else:
            verb = f"have {tgt.name} {pts}"
    else:
        verb = f"have {tgt.name} {fmt_effect(abs(c.effect), c.effect_unit)} {'higher' if more else 'lower'}"
    text = f"{subj} {verb} ({ci}, {share})."
    if c.mediators:
        via = "; ".join(f"{condition_text(md['feature'], md['value'])} ({100 * md['share']:.0f}% of the effect)"
                        for md in c.mediators[:3])
        word = "Mostly" if c.mediators[0]["share"] >= 0.5 else "Partly"
        text += f" {word} through: {via}."
    return text
