"""Ranking the drivers of a per-case target: which conditions make cases slow, late or loop.

Three kinds of explanation are answered separately (see
:func:`leanops.rca.features.feature_kind`):

* **causes**, ranked: *case drivers*, what is known about a case when it starts (its
  attributes, the first value of an event attribute, data quality), and *resources*, who
  worked on it, blamed only for what they do (below);
* **context**: the *system state* the case met (queues, work in progress, the hour,
  weekday or month it started): a matter of load or period, a pointer to
  ``leanops bottlenecks``, never ranked among the causes;
* **mediators**: *path* features (a step occurs, repeats, the variant, event values seen
  later) say how a driver acts ("amount >= 10k -> adds Audit (96 % of the effect)").

How it works (the choices, so that results can be read with confidence):

1. **Target.** Cases cut by the log's export window are left out by default (the rule and
   counts of :mod:`leanops.boundaries`, as in ``value_stream``).
2. **Conditions.** Every feature gives candidate conditions: ``feature = value`` for text
   features (values seen in at least ``min_support`` of the cases), ``feature >= t`` /
   ``feature < t`` for numeric ones, with the threshold ``t`` chosen among the 5 %, 10 %,
   ..., 95 % quantiles as the one whose split differs most (largest Welch t). Every
   threshold tried counts as a test. Queues and work in progress only count as
   ``>= t``: "found fewer waiting, so slower" is an artefact (a log's first days), not a
   finding. Identifiers never give conditions (see :func:`leanops.rca.features`).
   A driver's value held by more than 90 % of the cases (``NEAR_UNIVERSAL``; a text value
   or one side of a yes/no) is no condition: it cannot tell slow cases from fast ones, and
   its raw "effect" is that of the few cases without it. Those few are tested instead, as
   ``feature != value``, the other side of the yes/no, or the one other value of the
   feature, and ``notes`` names the values left out.
3. **Adjustment (regression, forward selection).** The system state goes first: the
   strongest system conditions enter the model (they are the context). Then drivers are
   selected one at a time: the next one has the largest t statistic *given the system
   state and the drivers already selected* (least squares on indicators; its coefficient
   is its adjusted effect). A driver's effect is thus net of the congestion it met, and a
   condition that merely travels with a stronger one is never selected.
4. **Resources** are blamed only for their own work (:mod:`leanops.rca._resources`):
   their processing time at an activity, or the waits they create, against the others at
   that activity, adjusted for load and case length. A resource whose cases take longer
   only because it works when queues are long is reported in the context, not blamed.
   Where processing times are unmeasurable (no start times), resources are not assessed.
5. **Mediators.** A path condition whose effect is largely carried by a driver (adding it
   removes at least 20 % of the driver's effect, or it is determined by it) is listed as
   that driver's mediator. A driver whose only effect is to add a step is found *through*
   that step (see ``_mediated_drivers``): its effect is then the path-specific one, the
   time its cases spend in the step more than the others.
6. **Uncertainty.** The p-value of the adjusted effect uses heteroscedasticity-robust
   (HC1) standard errors, corrected for the number of conditions tested with
   Benjamini-Hochberg. The 95 % CI is a percentile bootstrap over cases (``n_boot``
   resamples) of the same adjusted effect. Support is the share of cases meeting the
   condition; ``share`` the part of the target's excess over its median the cause accounts
   for (effect x cases).
7. **Reading.** Every sentence gives the adjusted effect and the raw difference, each
   labelled; where their signs differ it says why. Durations use the one formatter.
8. **Ranking.** By default causes keep their order of selection (``rank_by="strength"``);
   ``rank_by="impact"`` orders them by effect x cases (the Pareto chart always does).
"""

from __future__ import annotations

import html
import math
import warnings
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats

from .._validation import check_choice, check_fraction, check_positive, check_seed
from ..boundaries import boundary_counts, boundary_mask
from ..errors import InputError
from ..evidence import role_resources
from ..log import EventLog
from ._format import condition, condition_text, fmt_duration, fmt_effect
from ._resources import resource_evidence
from ..mining._steps import steps
from ._selection import NEAR_UNIVERSAL, _bh, _bootstrap, _candidates, _Forward, _welch
from .features import features as build_features
from .targets import Target, target_values

__all__ = ["root_causes", "RootCauses", "Cause", "LowConfidenceWarning"]


class LowConfidenceWarning(UserWarning):
    """Too few cases for the statistics to be trusted; results are marked low confidence."""

MIN_CASES = 50  # fewer cases than this: results are marked low confidence
MAX_CONTEXT = 5  # system-state conditions taken into the adjustment set (and reported as context)
MAX_MEDIATED = 3  # drivers found only through a step


@dataclass
class Cause:
    """One condition and its effect on the target.

    ``effect`` is adjusted (for the system state the case met and the causes ranked above);
    ``raw_effect`` is the plain difference against the other cases. ``kind`` is ``driver``
    (known when the case starts), ``resource`` (who did an activity, blamed on its own
    work: see ``evidence``) or, for :attr:`RootCauses.context`, ``system``.
    """

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
    kind: str = "driver"
    share: float = 0.0  # share of the target's excess over its median that the condition accounts for
    evidence: dict[str, Any] | None = None  # a resource's own work, or how a mediated driver was found

    @property
    def condition(self) -> str:
        """The condition as text, e.g. ``channel = phone``."""
        return condition(self.feature, self.value)

    def to_dict(self) -> dict[str, Any]:
        """The cause as in ``leanops rca --json`` (feature, value, effect, CI, p-value, ...)."""
        return {
            "rank": self.rank, "feature": self.feature, "value": self.value, "effect": self.effect,
            "effect_unit": self.effect_unit, "ci_low": self.ci_low, "ci_high": self.ci_high,
            "p_value": self.p_value, "support": self.support, "share": self.share, "kind": self.kind,
            "category": self.category, "n_cases": self.n_cases, "raw_effect": self.raw_effect,
            "p_raw": self.p_raw, "mean_with": self.mean_with, "mean_without": self.mean_without,
            "adjusted_for": list(self.adjusted_for), "mediators": [dict(m) for m in self.mediators],
            "evidence": dict(self.evidence) if self.evidence else None,
            "sentence": self.sentence, "confidence": self.confidence,
        }


@dataclass
class RootCauses:
    """The result of :func:`root_causes`. ``causes`` (case drivers and resources, ranked) is
    empty when there is nothing to explain or nothing significant; ``reason`` then says why.
    ``context`` holds the system state (queues, work in progress, periods) and resources
    whose cases met congestion: a pointer to ``leanops bottlenecks``, never a cause."""

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
    context: list[Cause] = field(default_factory=list)
    excluded_cases: dict[str, int] = field(default_factory=dict)

    # ----------------------------------------------------------------- views
    def to_frame(self) -> pd.DataFrame:
        """One row per cause (the JSON keys as columns), rank first."""
        cols = ["rank", "feature", "value", "effect", "effect_unit", "ci_low", "ci_high", "p_value", "support",
                "category", "n_cases", "raw_effect", "p_raw", "mean_with", "mean_without", "sentence", "confidence",
                "kind", "share"]
        rows = [{k: v for k, v in c.to_dict().items() if k in cols} for c in self.causes]
        return pd.DataFrame(rows, columns=cols)

    def to_dict(self) -> dict[str, Any]:
        """The ``leanops rca --json`` document."""
        return {
            "target": self.target,
            "target_kind": self.target_kind,
            "baseline": dict(self.baseline),
            "causes": [c.to_dict() for c in self.causes],
            "context": [c.to_dict() for c in self.context],
            "excluded_cases": dict(self.excluded_cases),
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
        lines = [head]
        if not self.causes:
            lines.append(self.reason or "no causes found")
        lines += [f"{c.rank:>2}. [{c.category}] {c.sentence}" for c in self.causes]
        if self.context:
            lines.append("Context (the state the cases met; see `leanops bottlenecks`, not causes):")
            lines += [f"  - {c.sentence}" for c in self.context]
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
        ctx = "".join(f"<li>{e(c.sentence)}</li>" for c in self.context)
        ctx = f"<p>Context (not causes):</p><ul>{ctx}</ul>" if ctx else ""
        if not self.causes:
            return f"<div>{head}<p>{e(self.reason or 'no causes found')}</p>{ctx}</div>"
        rows = "".join(
            f"<tr><td>{c.rank}</td><td>{e(c.category)}</td><td>{e(c.feature)}</td><td>{e(c.value)}</td>"
            f"<td>{e(c.sentence)}</td><td>{c.p_value:.2g}</td></tr>"
            for c in self.causes
        )
        notes = "".join(f"<p><i>{e(n)}</i></p>" for n in self.notes)
        return (f"<div>{head}<table><tr><th>#</th><th>category</th><th>feature</th><th>value</th>"
                f"<th>reading</th><th>p</th></tr>{rows}</table>{ctx}{notes}</div>")

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
    include_cut: bool = False,
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
    include_cut : bool
        Keep the cases cut by the log's export window in the target. By default they are
        left out (the rule and counts of :func:`leanops.boundaries.case_boundaries`, as in
        ``value_stream``), and ``excluded_cases`` counts them.

    Returns
    -------
    RootCauses
        ``causes``: case drivers and resources, each with a plain sentence (adjusted and
        raw effect, labelled); ``context``: the system state; ``nothing_to_explain`` and
        ``reason`` when the target does not vary or no driver is significant.

    Notes
    -----
    See the module documentation of ``leanops.rca.drivers`` for the method.

    Examples
    --------
    >>> import leanops
    >>> rc = leanops.root_causes(leanops.datasets.load("production"), n_boot=50)
    >>> rc.causes, [(c.feature, c.value, c.kind) for c in rc.context]
    ([], [('start_month', 'Jan', 'system')])
    >>> rc.excluded_cases
    {'cut_at_start': 0, 'open_at_end': 6}
    """
    if not isinstance(log, EventLog):
        raise InputError(f"log must be a leanops.EventLog; got {type(log).__name__}. Read it with leanops.read(path).")
    alpha, min_support, max_support = _check_options(top, alpha, min_support, max_support, rank_by, statistic,
                                                     direction, n_boot, include_cut)
    rng = check_seed(seed)
    tgt = target_values(log, target=target)
    keep = boundary_mask(log, include_cut=include_cut)
    excluded = {"cut_at_start": 0, "open_at_end": 0} if include_cut else boundary_counts(log)
    mask = np.isfinite(tgt.values.to_numpy(dtype=float)) & keep
    y = tgt.values.to_numpy(dtype=float)[mask]
    n = int(mask.sum())
    baseline = _baseline(y, tgt)
    notes: list[str] = []
    if not include_cut and sum(excluded.values()):
        notes.append(f"{excluded['cut_at_start']} case(s) cut at the start of the log and {excluded['open_at_end']} "
                     "still open at its end were left out of the target (include_cut=True keeps them)")
    low = n < MIN_CASES
    if low:
        warnings.warn(
            f"root_causes: only {n} cases with a value for target {tgt.name!r} (fewer than {MIN_CASES}); "
            "results are marked low confidence.",
            LowConfidenceWarning,
            stacklevel=2,
        )
    if n < 4 or float(np.nanstd(y)) == 0.0:
        return _nothing(tgt, baseline, n, _no_variation(y, n, tgt), statistic, alpha, low, notes, excluded)

    table = _feature_table(log, feature_table, tgt)
    sub = table.iloc[np.flatnonzero(mask)]
    sub.attrs = dict(table.attrs)
    if not log.attributes:
        notes.append("the log has no case or event attributes; only resources, path, time and workload were examined")
    if table.attrs.get("identifiers"):
        notes.append("left out as identifiers (unique per case or event, or rising with time): "
                     + ", ".join(table.attrs["identifiers"][:5]))

    min_count = max(5, int(math.ceil(min_support * n)))
    want = {"increase": 1.0, "decrease": -1.0, "both": 0.0}[direction]
    cands, X, n_tested, universal = _candidates(sub, y, min_count, want, max_support)
    if universal:
        notes.append(
            f"left out as near-universal (a value in more than {NEAR_UNIVERSAL:.0%} of the cases cannot tell slow "
            "from fast ones; the cases without it are tested instead): "
            + ", ".join(f"{f} = {v} ({share:.0%})" for f, v, share in universal[:5])
            + (f" and {len(universal) - 5} more" if len(universal) > 5 else "")
        )
    if not cands:
        reason = (
            "nothing to explain: no feature varies across enough cases "
            f"(each condition needs at least {min_count} cases)"
            + ("; the log has no attributes" if not log.attributes else "")
            + "."
        )
        return _nothing(tgt, baseline, n, reason, statistic, alpha, low, notes, excluded)
    fw = _Forward(X, y, cands, want=want, alpha=alpha, m_tests=max(n_tested, len(cands)))
    evidence = _gate_resources(log, fw, alpha, notes)
    fw.select({"system"}, MAX_CONTEXT)
    n_ctx = len(fw.selected)
    fw.select({"driver", "resource"}, max(int(top), 10))
    mediators = _mediators(fw, n_ctx)
    _mediated_drivers(fw, mediators, _step_time(log, mask) if tgt.name == "case_duration" else None)
    if len(fw.selected) == n_ctx:
        reason = (f"nothing to explain: no case driver has a significant effect on {tgt.name!r} at alpha={alpha:g} "
                  f"(Benjamini-Hochberg over {fw.m_tests} conditions tested)")
        if not log.attributes:
            reason += "; the log has no attributes, so only resources, path, time and workload were examined"
        rc = RootCauses(tgt.name, tgt.kind, baseline, [], n, fw.m_tests, alpha, statistic, low_confidence=low,
                        nothing_to_explain=True, reason=reason + ".", notes=notes, excluded_cases=excluded)
    else:
        rc = RootCauses(tgt.name, tgt.kind, baseline, [], n, fw.m_tests, alpha, statistic, low_confidence=low,
                        notes=notes, excluded_cases=excluded)
    causes, context = _effects(fw, n_ctx, mediators, evidence, tgt, statistic, int(n_boot), rng, low)
    _finish(rc, causes, context + _congested_resources(fw, evidence, tgt), tgt, rank_by, int(top))
    if low:
        notes.append(f"low confidence: only {n} cases")
    return rc


def _finish(rc: RootCauses, causes: list[Cause], context: list[Cause], tgt: Target, rank_by: str, top: int) -> None:
    """Order, rank and word the causes and the context."""
    if rank_by == "impact":
        causes.sort(key=lambda c: -abs(c.effect) * c.n_cases)
    elif rank_by == "effect":
        causes.sort(key=lambda c: -abs(c.effect))
    rc.causes = causes[:top]
    rc.context = context
    for r, c in enumerate(rc.causes, 1):
        c.rank = r
        c.sentence = _sentence(c, tgt)
    for r, c in enumerate(rc.context, 1):
        c.rank = r
        c.sentence = c.sentence or _context_sentence(c, tgt)


def _check_options(top, alpha, min_support, max_support, rank_by, statistic, direction, n_boot, include_cut):
    check_positive("top", top, integer=True)
    alpha = check_fraction("alpha", alpha, allow_none=False)
    min_support = check_fraction("min_support", min_support, allow_none=False)
    max_support = check_fraction("max_support", max_support, allow_none=False)
    check_choice("rank_by", rank_by, ("strength", "impact", "effect"))
    check_choice("statistic", statistic, ("mean", "median"))
    check_choice("direction", direction, ("increase", "decrease", "both"))
    check_positive("n_boot", n_boot, integer=True)
    if not isinstance(include_cut, bool):
        raise InputError(f"include_cut must be True or False; got {include_cut!r}.")
    return alpha, min_support, max_support


def _baseline(y: np.ndarray, tgt: Target) -> dict[str, Any]:
    n = len(y)
    out = {"mean": float(y.mean()) if n else None, "median": float(np.median(y)) if n else None,
           "n_cases": n, "unit": tgt.unit}
    if tgt.sla_s is not None:
        out["sla_s"] = tgt.sla_s
    return out


def _no_variation(y: np.ndarray, n: int, tgt: Target) -> str:
    if n == 0:
        what = "no case has a value"
    elif n < 4:
        what = f"only {n} cases have a value"
    else:
        v = float(y[0])
        unit = tgt.unit
        shown = fmt_duration(v) if unit == "s" else (f"{100 * v:.0f}%" if unit == "share" else fmt_effect(v, unit))
        what = f"the target is the same for every case ({shown})"
    return f"nothing to explain: {what} for target {tgt.name!r}."


def _feature_table(log: EventLog, feature_table: pd.DataFrame | None, tgt: Target) -> pd.DataFrame:
    table = build_features(log) if feature_table is None else feature_table
    if feature_table is not None:
        missing = log.case_ids.difference(table.index)
        if len(missing):
            raise InputError(f"feature_table has no row for {len(missing)} case(s), e.g. {list(missing[:3])}; "
                             "build it with leanops.rca.features(log).")
        table = table.reindex(log.case_ids)
        table.attrs = dict(feature_table.attrs)
    # Features that restate the target would explain it trivially.
    drop = [c for c in table.columns if tgt.name == "rework" and (c.startswith("count:") or c == "variant")]
    if drop:
        attrs = dict(table.attrs)
        table = table.drop(columns=drop)
        table.attrs = attrs
    return table


def _gate_resources(log: EventLog, fw: _Forward, alpha: float, notes: list[str]) -> dict:
    """Block every resource condition whose resource's own work is not measurably different."""
    res = [j for j, c in enumerate(fw.cands) if c.kind == "resource"]
    if not res:
        return {}
    wanted = {(fw.cands[j].feature[len("resource@"):], fw.cands[j].value) for j in res
              if fw.raw_q[j] < alpha and fw.cands[j].value not in ("(missing)", "(none)")}
    roles = set(role_resources(log))
    evidence, more = resource_evidence(log, alpha=alpha, pairs={p for p in wanted if p[1] not in roles}) if wanted else ({}, [])
    notes += more
    if roles & {p[1] for p in wanted}:
        notes.append("not assessed as people (role or system labels that work on many cases at once): "
                     + ", ".join(sorted(roles & {p[1] for p in wanted})[:5]))
    for j in res:
        e = evidence.get((fw.cands[j].feature[len("resource@"):], fw.cands[j].value))
        if e is None or not e.blamed:
            fw.blocked.add(j)
    return evidence


def _mediators(fw: _Forward, n_ctx: int) -> dict[int, list[dict[str, Any]]]:
    """Path conditions that carry a selected driver's effect: its mediators (by position in ``selected``)."""
    out: dict[int, list[dict[str, Any]]] = {}
    if len(fw.selected) == n_ctx:
        return out
    beta = fw.a_inv() @ fw.Zy
    b, _, free, G = fw.adjusted()
    want = fw.want
    dir_ok = (fw.raw_eff * want > 0) if want != 0 else np.ones(len(fw.cands), dtype=bool)
    # How a driver acts: steps, repeats, the variant, event values seen later. Not the people
    # or hand-offs a longer path brings, nor an attribute that restates the variant.
    how = np.array([c.feature in ("occurs", "variant") or c.feature.startswith(("count:", "any:", "last:"))
                    for c in fw.cands])
    for j in np.flatnonzero((fw.kinds == "path") & how & (fw.raw_q < fw.alpha) & dir_ok):
        best, best_share = None, 0.0
        for i in range(n_ctx, len(fw.selected)):
            bc, gam = beta[i + 1], G[j, i + 1]  # the driver's coefficient; the path's association with it
            if bc == 0:
                continue
            if free[j] <= 0.02:  # determined by the selected conditions
                share = 1.0 if gam * bc > 0 and abs(gam) > 0.2 else 0.0
            else:
                share = gam * b[j] / bc
            if share > best_share:
                best, best_share = i, share
        if best is not None and best_share >= 0.2:
            c = fw.cands[j]
            out.setdefault(best, []).append({"feature": c.feature, "value": c.value, "share": float(min(best_share, 1.0))})
    for lst in out.values():
        lst.sort(key=lambda md: -md["share"])
    return out


def _step_time(log: EventLog, mask: np.ndarray) -> dict[str, np.ndarray]:
    """Per activity, the time each analysed case spends in it (enablement to end, summed)."""
    st = steps(log)
    ci = log._case_index_per_row()
    keep = mask[ci]
    span = (st.end - np.where(st.first, st.t_start, st.enabled)) / 1e9
    out = {}
    pos = np.cumsum(mask) - 1  # case index -> row of the analysed cases
    for a_i, act in enumerate(st.activities):
        m = (st.activity == a_i) & keep
        out[act] = np.bincount(pos[ci[m]], weights=np.maximum(span[m], 0.0), minlength=int(mask.sum()))
    return out


def _mediated_drivers(fw: _Forward, mediators: dict, step_time: dict[str, np.ndarray] | None) -> None:
    """Power: a driver whose only effect is to add a step is found through that step.

    A test of mediation in two parts, both of which must hold (Benjamini-Hochberg over every
    (driver, step) pair tried and every condition tested before; the path-specific effect
    must also reach 1 % of the mean target): the driver changes how often the step happens
    (two-proportion test), and the driver's cases spend more time in that step (Welch on
    the per-case time in it, enablement to end: the path-specific effect, free of the noise
    of the rest of the case). For targets other than the case duration, the second part is
    the step's adjusted coefficient on the target. The driver then joins the causes, with
    the step as its mediator, when its total adjusted effect goes the same way.
    """
    steps_ = [j for j in np.flatnonzero(fw.kinds == "path")
              if fw.cands[j].feature == "occurs" or fw.cands[j].feature.startswith("count:")]
    drivers = [j for j in np.flatnonzero(fw.kinds == "driver") if j not in fw.selected and j not in fw.blocked]
    if not steps_ or not drivers or fw.want == 0:
        return
    b, t, free, _ = fw.adjusted()
    n = fw.n
    p_b = 2 * stats.t.sf(np.abs(t), max(n - len(fw.Zcols) - 1, 1))
    drivers = np.array([d for d in drivers if fw.xx[d] <= 0.5 * n])  # like a step added to some cases: a minority
    if not len(drivers):
        return
    D = fw.Xt[drivers]  # drivers x cases (sparse)
    n1 = fw.xx[drivers]
    n0 = n - n1
    trials = []
    for s_j in steps_:
        c = fw.cands[s_j]
        comp = step_time.get(c.value if c.feature == "occurs" else c.feature[6:]) if step_time else None
        if comp is None and (free[s_j] <= 0.02 or b[s_j] * fw.want <= 0):
            continue
        xs = fw.column(s_j)
        k1 = D @ xs
        r1, r0 = k1 / n1, (xs.sum() - k1) / n0
        pooled = xs.mean()
        se = np.sqrt(np.maximum(pooled * (1 - pooled) * (1 / n1 + 1 / n0), 1e-300))
        p_a = 2 * stats.norm.sf(np.abs(r1 - r0) / se)
        if comp is not None:
            s1, q1 = D @ comp, D @ (comp * comp)
            s0, q0 = comp.sum() - s1, (comp * comp).sum() - q1
            indirect, _, p_c = _welch(n1, s1, q1, n0, s0, q0)
            v1 = np.maximum(q1 - s1**2 / n1, 0) / np.maximum(n1 - 1, 1)
            v0 = np.maximum(q0 - s0**2 / n0, 0) / np.maximum(n0 - 1, 1)
            se_c = np.sqrt(v1 / n1 + v0 / n0)
        else:
            indirect = (r1 - r0) * float(b[s_j])
            p_c, se_c = np.full(len(drivers), float(p_b[s_j])), np.full(len(drivers), np.nan)
        for k in np.flatnonzero((np.abs(r1 - r0) >= 0.1) & (indirect * fw.want > 0)):
            trials.append((max(float(p_a[k]), float(p_c[k])), int(drivers[k]), s_j, float(indirect[k]), float(se_c[k])))
    if not trials:
        return
    # one family with every condition tested; and an effect of under 1 % of the mean
    # target is not worth a cause, however certain
    q = _bh(np.array([tr[0] for tr in trials]), fw.m_tests + len(trials))
    floor = 0.01 * abs(float(fw.y.mean()))
    for (p, d_j, s_j, indirect, se_c), qi in sorted(zip(trials, q), key=lambda z: z[0][0]):
        if qi >= fw.alpha or d_j in fw.selected or len(fw.mediated) >= MAX_MEDIATED or abs(indirect) < floor:
            continue
        col = fw.column(d_j)
        total = float(np.linalg.lstsq(np.column_stack([*fw.Zcols, col]), fw.y, rcond=None)[0][-1])
        if np.isnan(se_c) and total * fw.want <= 0:  # the step is not how this driver acts on the whole
            continue
        fw.add(d_j, 1.0, p, float(qi))
        c = fw.cands[s_j]
        # With the time in the step measured, the effect reported is that path-specific
        # effect: the total one is drowned in the noise of the rest of the case.
        fw.mediated[d_j] = (indirect, se_c, f"{c.feature}:{c.value}")
        share = 1.0 if not np.isnan(se_c) or total == 0 else min(indirect / total, 1.0)
        mediators[len(fw.selected) - 1] = [{"feature": c.feature, "value": c.value, "share": float(share)}]


def _effects(fw: _Forward, n_ctx: int, mediators: dict, evidence: dict, tgt: Target, statistic: str,
             n_boot: int, rng: np.random.Generator, low: bool) -> tuple[list[Cause], list[Cause]]:
    """Nested adjusted effects, bootstrap CIs and the result objects (context first, then causes)."""
    y = fw.y
    Xsel = np.column_stack(fw.Zcols)
    coefs = fw.nested()
    boots = _bootstrap(Xsel, y, n_boot, rng) if len(fw.selected) else np.zeros((0, 0))
    pos = y - np.median(y)
    excess = float(np.clip(pos, 0, None).sum())
    causes: list[Cause] = []
    context: list[Cause] = []
    labels: list[str] = []
    for i, j in enumerate(fw.selected):
        c = fw.cands[j]
        ind = Xsel[:, i + 1] > 0.5
        value = c.value if fw.sides[i] > 0 else c.value_not
        mw, mo = float(y[ind].mean()), float(y[~ind].mean())
        col = boots[:, i]
        lo, hi = np.nanpercentile(col, [2.5, 97.5]) if np.isfinite(col).any() else (np.nan, np.nan)
        eff, p_val, p_raw = float(coefs[i]), fw.q[i], fw.p[i]
        if statistic == "median":
            eff, lo, hi, p_raw = _median_effect(y, ind, n_boot, rng)
            p_val = p_raw  # corrected below, over all conditions tested
        kind = "system" if i < n_ctx else c.kind
        ev = None
        if c.kind == "resource":
            e = evidence.get((c.feature[len("resource@"):], str(value)))
            ev = e.to_dict() if e is not None else None
        elif kind == "driver" and j in fw.mediated:
            indirect, se_c, via = fw.mediated[j]
            ev = {"found_through": via, "total_effect": eff}
            if np.isfinite(se_c):  # the path-specific effect (see _mediated_drivers)
                eff, lo, hi = indirect, indirect - 1.96 * se_c, indirect + 1.96 * se_c
                ev["effect"] = "path-specific: the time the cases spend in the step more than the others"
        cause = Cause(
            rank=0, feature=c.feature, value=str(value), effect=eff, effect_unit=tgt.unit,
            ci_low=float(lo), ci_high=float(hi), p_value=float(p_val), support=float(ind.mean()),
            category=c.category, n_cases=int(ind.sum()), raw_effect=mw - mo, p_raw=float(p_raw),
            mean_with=mw, mean_without=mo, adjusted_for=list(labels), mediators=mediators.get(i, []),
            confidence="low" if low else "normal", kind=kind, evidence=ev,
            share=float(min(max(eff, 0.0) * ind.sum() / excess, 1.0)) if excess > 0 else 0.0,
        )
        (context if i < n_ctx else causes).append(cause)
        labels.append(cause.condition)
    if statistic == "median":
        for c, q in zip(context + causes, _bh(np.array([c.p_raw for c in context + causes]), fw.m_tests)):
            c.p_value = float(q)
    return causes, context


def _median_effect(y: np.ndarray, ind: np.ndarray, n_boot: int, rng: np.random.Generator):
    eff = float(np.median(y[ind]) - np.median(y[~ind]))
    idx1, idx0 = np.flatnonzero(ind), np.flatnonzero(~ind)
    bm = [np.median(y[rng.choice(idx1, len(idx1))]) - np.median(y[rng.choice(idx0, len(idx0))]) for _ in range(n_boot)]
    lo, hi = np.percentile(bm, [2.5, 97.5])
    p_raw = float(stats.mannwhitneyu(y[ind], y[~ind], alternative="two-sided").pvalue)
    return eff, float(lo), float(hi), p_raw


def _congested_resources(fw: _Forward, evidence: dict, tgt: Target) -> list[Cause]:
    """Resources whose cases take longer only because they work when queues are long: context."""
    out = []
    for j, c in enumerate(fw.cands):
        e = evidence.get((c.feature[len("resource@"):], c.value)) if c.kind == "resource" else None
        if e is None or e.blamed or fw.raw_q[j] >= fw.alpha or fw.raw_eff[j] * (fw.want or 1) <= 0:
            continue
        if not e.load_with > 1.2 * e.load_without:
            continue
        ind = fw.column(j) > 0.5
        mw, mo = float(fw.y[ind].mean()), float(fw.y[~ind].mean())
        act = c.feature[len("resource@"):]
        text = (f"{c.value} works at {act} mostly when queues are long ({e.load_with:.1f} instances open on "
                f"average, against {e.load_without:.1f} for the others); its cases differ by "
                f"{_fmt_signed(mw - mo, tgt)} (raw), but its own processing time is {e.ratio:.2f}x the others' "
                "(adjusted for load and case length), so the difference comes from congestion, not from its work.")
        out.append(Cause(0, c.feature, c.value, float("nan"), tgt.unit, float("nan"), float("nan"), float(fw.raw_q[j]),
                         float(ind.mean()), c.category, int(ind.sum()), mw - mo, float(fw.raw_q[j]), mw, mo,
                         sentence=text, kind="resource_load", evidence=e.to_dict()))
    return out


def _fmt_signed(x: float, tgt: Target) -> str:
    if tgt.kind == "duration":
        return fmt_duration(abs(x)) + (" longer" if x >= 0 else " shorter")
    if tgt.kind == "rate":
        return f"{100 * abs(x):.1f} percentage points " + ("more" if x >= 0 else "less")
    return f"{fmt_effect(abs(x), tgt.unit)} " + ("higher" if x >= 0 else "lower")


def _verb(c: Cause, tgt: Target) -> tuple[str, str]:
    """What the condition does (``take 1.2 h longer``) and its 95 % CI, in the target's words."""
    more = c.effect >= 0
    if tgt.kind == "duration":
        size = fmt_duration(abs(c.effect))
        ci = f"95% CI {fmt_duration(c.ci_low)} to {fmt_duration(c.ci_high)}"
        if tgt.activity is not None:
            return f"wait {size} {'longer' if more else 'less'} before {tgt.activity}", ci
        return f"take {size} {'longer' if more else 'less'}", ci
    if tgt.kind == "rate":
        pts = f"{100 * abs(c.effect):.1f} percentage points {'more' if more else 'less'} often"
        ci = f"95% CI {100 * c.ci_low:.1f} to {100 * c.ci_high:.1f} points"
        if tgt.sla_s is not None:
            return f"breach the {fmt_duration(tgt.sla_s)} SLA {pts}", ci
        if tgt.name == "rework":
            return f"repeat an activity {pts}", ci
        return f"have {tgt.name} {pts}", ci
    ci = f"95% CI {fmt_effect(c.ci_low, c.effect_unit)} to {fmt_effect(c.ci_high, c.effect_unit)}"
    return f"have {tgt.name} {fmt_effect(abs(c.effect), c.effect_unit)} {'higher' if more else 'lower'}", ci


def _sentence(c: Cause, tgt: Target) -> str:
    """Adjusted effect and raw difference, each labelled; a flipped sign is explained."""
    subj = condition_text(c.feature, c.value)
    subj = subj[0].upper() + subj[1:]
    verb, ci = _verb(c, tgt)
    adj = "adjusted for " + (", ".join(c.adjusted_for[:3]) + (" and more" if len(c.adjusted_for) > 3 else "")
                             if c.adjusted_for else "nothing")
    raw = f"raw difference: {_fmt_signed(c.raw_effect, tgt)}"
    text = f"{subj} {verb} ({adj}; {raw}; {ci}; {100 * c.support:.0f}% of cases)."
    if c.raw_effect * c.effect < 0 and c.adjusted_for:
        text += (f" The raw difference points the other way because these cases differ in "
                 f"{', '.join(c.adjusted_for[:3])}; after accounting for that, the effect is as stated.")
    if c.kind == "resource" and c.evidence:
        e = c.evidence
        act = c.feature[len("resource@"):]
        if np.isfinite(e.get("processing_ratio", np.nan)) and e["processing_ratio"] >= 1:
            text += (f" Its own processing time at {act} is {e['processing_ratio']:.1f}x the others' "
                     "(adjusted for load and case length).")
        if np.isfinite(e.get("wait_ratio", np.nan)) and e["wait_ratio"] > 1 and e.get("wait_p_value", 1) < 0.05:
            text += f" Work waits for it while it is free {e['wait_ratio']:.1f}x as long as for the others."
    if c.evidence and "found_through" in c.evidence and "effect" in c.evidence:
        text += (f" Found through its step: the effect is the time its cases spend in "
                 f"{c.mediators[0]['value'] if c.mediators else 'that step'} more than the others "
                 f"(the adjusted total, {_fmt_signed(c.evidence['total_effect'], tgt)}, is lost in the "
                 "variation of the rest of the case).")
    if c.mediators:
        via = "; ".join(f"{condition_text(md['feature'], md['value'])} ({100 * md['share']:.0f}% of the effect)"
                        for md in c.mediators[:3])
        word = "Mostly" if c.mediators[0]["share"] >= 0.5 else "Partly"
        text += f" {word} through: {via}."
    return text


def _context_sentence(c: Cause, tgt: Target) -> str:
    subj = condition_text(c.feature, c.value)
    subj = subj[0].upper() + subj[1:]
    verb, ci = _verb(c, tgt)
    return (f"{subj} {verb} (system state, adjusted for the context above; raw difference: "
            f"{_fmt_signed(c.raw_effect, tgt)}; {ci}; {100 * c.support:.0f}% of cases). "
            "A matter of load or period, not of the cases: see `leanops bottlenecks`.")
