"""The PDCA "Check": did the change work? Before/after comparison with CIs and adjustment.

:func:`compare` takes two logs (before, after) or one log and ``change_at``: cases that
start before that instant are *before*, the others *after* (a case keeps the regime it
started under; those still open at the change are counted in ``notes``).

What the numbers rest on:

* **KPIs** (``kpis``): per-case measures compared between the periods, each with the
  difference (after − before), ``relative`` (after ÷ before − 1), a 95 % percentile
  bootstrap CI of the difference and a two-sided bootstrap p-value (twice the share of resamples on the other side of 0).
  The bootstrap resamples whole days of case starts within each period, because cases
  that start on the same day share a queue and are not independent. ``throughput_per_day`` and
  ``arrivals_per_day`` are counts per day of each window with a Poisson CI.
* **Adjustment** (``adjusted: true``): the after cases are reweighted so that their mix of
  *strata* matches the before cases. A stratum is a combination of the case attributes
  (constant per case, at most 12 values each) and the arrival volume around the case (cases
  arriving in the 7 days before and after it started, in 4 bins): so a change that only
  coincided with a quieter month, or with easier cases, is not credited. Strata seen in one
  period only are trimmed (counted in ``excluded_cases``). When fewer than 20 % of the cases
  of either period remain comparable, the adjusted KPIs are not estimated (``None``) and
  ``notes`` says why: the data cannot separate the change from the shift in volume or mix.
  Throughput and arrivals are never adjusted.
* **Waiting by cause** comes from :func:`leanops.rca.waiting_causes`, summed per case.
* **Bottleneck ranks** from :func:`leanops.mining.bottlenecks` in each period, with the
  change in mean waiting per activity (Welch CI and p-value over instances).
* **Variants**: the share of the most frequent variants, compared as proportions.
* **Compliance** (with ``sop=``): the share of cases that follow every rule, per period.
* **Predicted against actual** (``predicted=``): the KPIs of the ``leanops simulate --json``
  document that predicted the change (its first scenario, or the baseline when there is
  none) against the *after* period; ``error`` is actual − predicted.
"""

from __future__ import annotations

import html
import json
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from ._format import duration
from ._normalize import parse_time
from ._validation import check_positive, check_seed
from .boundaries import case_spans
from .errors import InputError
from .log import EventLog
from .mining._steps import steps

__all__ = ["compare", "Comparison"]

MIN_OVERLAP = 0.2  # share of each period's cases that must stay comparable after trimming
LOAD_WINDOW_S = 7 * 86400
LOAD_BINS = 4
MAX_LEVELS = 12


@dataclass
class Comparison:
    """The result of :func:`compare`.

    Attributes
    ----------
    kpis : dict
        ``K -> {before, after, delta, relative, ci_low, ci_high, p_value}``.
    adjusted : bool
        Whether case-level KPIs were reweighted for arrival volume and case mix.
    predicted : dict or None
        ``K -> {predicted, actual, error, relative_error}`` when a simulation was given.
    bottlenecks : DataFrame
        ``activity, rank_before, rank_after, wait_mean_before_s, wait_mean_after_s, delta_s,
        ci_low, ci_high, p_value``.
    variants : DataFrame
        ``variant, share_before, share_after, delta, ci_low, ci_high, p_value``.
    n_before, n_after : int
        Cases per period.
    excluded_cases : dict
        Cases left out of the adjusted comparison (``no_comparable_before``...).
    notes : list of str
    """

    kpis: dict[str, dict[str, float | None]]
    adjusted: bool
    predicted: dict[str, dict[str, float | None]] | None
    bottlenecks: pd.DataFrame
    variants: pd.DataFrame
    n_before: int
    n_after: int
    change_at: pd.Timestamp | None = None
    excluded_cases: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def to_frame(self) -> pd.DataFrame:
        """One row per KPI: ``kpi, before, after, delta, relative, ci_low, ci_high, p_value``."""
        cols = ["before", "after", "delta", "relative", "ci_low", "ci_high", "p_value"]
        rows = [{"kpi": k, **{c: v.get(c) for c in cols}} for k, v in self.kpis.items()]
        return pd.DataFrame(rows, columns=["kpi", *cols])

    def to_dict(self) -> dict[str, Any]:
        """The ``leanops compare --json`` document (DESIGN.md)."""
        d: dict[str, Any] = {
            "kpis": {k: dict(v) for k, v in self.kpis.items()},
            "adjusted": self.adjusted,
            "cases": {"before": self.n_before, "after": self.n_after},
            "change_at": self.change_at,
            "excluded_cases": dict(self.excluded_cases),
            "bottlenecks": self.bottlenecks.to_dict(orient="records"),
            "variants": self.variants.to_dict(orient="records"),
            "notes": list(self.notes),
        }
        if self.predicted is not None:
            d["predicted"] = {k: dict(v) for k, v in self.predicted.items()}
        return d

    def significant(self, kpi: str = "cycle_time_mean_s", alpha: float = 0.05) -> bool:
        """Whether ``kpi`` changed significantly (p < alpha); False when it was not estimated."""
        k = self.kpis.get(kpi) or {}
        return k.get("p_value") is not None and k["p_value"] < alpha

    @staticmethod
    def _fmt(k: str, v: Any) -> str:
        if v is None:
            return "–"
        if k.endswith("_s"):
            return duration(v)
        if "share" in k or k.startswith("compliance"):
            return f"{100 * v:.1f}%"
        return f"{v:.3g}"

    def __str__(self) -> str:
        adj = "adjusted for arrival volume and case mix" if self.adjusted else "not adjusted"
        lines = [f"Before / after: {self.n_before:,} cases before, {self.n_after:,} after ({adj})"]
        for k, v in self.kpis.items():
            rel = "" if v.get("relative") is None else f" ({100 * v['relative']:+.1f}%)"
            ci = ("" if v.get("ci_low") is None else
                  f", 95% CI {self._fmt(k, v['ci_low']) if not k.endswith('_s') else duration(v['ci_low'], sign=True)}"
                  f" to {self._fmt(k, v['ci_high']) if not k.endswith('_s') else duration(v['ci_high'], sign=True)}")
            p = "" if v.get("p_value") is None else f", p = {v['p_value']:.2g}"
            lines.append(f"  {k}: {self._fmt(k, v.get('before'))} -> {self._fmt(k, v.get('after'))}{rel}{ci}{p}")
        if self.predicted:
            lines.append("Predicted against actual:")
            for k, v in self.predicted.items():
                lines.append(f"  {k}: predicted {self._fmt(k, v['predicted'])}, actual {self._fmt(k, v['actual'])}, "
                             f"error {self._fmt(k, v['error'])}")
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)

    def __repr__(self) -> str:
        ct = self.kpis.get("cycle_time_mean_s", {})
        rel = "–" if ct.get("relative") is None else f"{100 * ct['relative']:+.1f}%"
        return f"<Comparison: {self.n_before:,} cases before, {self.n_after:,} after, mean cycle time {rel}>"

    def _repr_html_(self) -> str:
        e = html.escape
        rows = []
        for k, v in self.kpis.items():
            rel = "–" if v.get("relative") is None else f"{100 * v['relative']:+.1f}%"
            p = "–" if v.get("p_value") is None else f"{v['p_value']:.2g}"
            rows.append(f"<tr><td>{e(k)}</td><td>{e(self._fmt(k, v.get('before')))}</td>"
                        f"<td>{e(self._fmt(k, v.get('after')))}</td><td>{rel}</td><td>{p}</td></tr>")
        return (f"<div><b>Before / after</b> ({self.n_before:,} / {self.n_after:,} cases, "
                f"{'adjusted' if self.adjusted else 'not adjusted'})<table><tr><th>KPI</th><th>before</th>"
                f"<th>after</th><th>change</th><th>p</th></tr>{''.join(rows)}</table></div>")

    def plot(self, *, ax=None):
        """The relative change of each KPI with its 95 % CI (percent)."""
        from .rca.charts import _axes, _text

        items = [(k, v) for k, v in self.kpis.items() if v.get("relative") is not None and v.get("before")][::-1]
        ax = _axes(ax, (8, max(2.5, 0.4 * len(items) + 1)))
        for i, (k, v) in enumerate(items):
            b = v["before"]
            if v.get("ci_low") is not None:
                ax.plot([100 * v["ci_low"] / b, 100 * v["ci_high"] / b], [i, i], color="#4C72B0")
            ax.plot([100 * v["relative"]], [i], "o", color="#C44E52" if (v.get("p_value") or 1) < 0.05 else "#4C72B0")
        ax.set_yticks(range(len(items)), [_text(k) for k, _ in items])
        ax.axvline(0, color="grey", lw=0.8)
        ax.set_xlabel("change after vs before (%, 95% CI)")
        ax.set_title("Before / after" + (" (adjusted for volume and case mix)" if self.adjusted else ""))
        return ax

    def _repr_svg_(self) -> str | None:
        from .rca.charts import to_svg

        return to_svg(self.plot())


# ------------------------------------------------------------------------------ per-case table
def _case_table(log: EventLog) -> pd.DataFrame:
    st = steps(log)
    starts = log.case_starts
    t0, t1 = case_spans(log)  # first timestamp (start, else end) and last end per case
    ci = log._case_index_per_row()
    # the wait of each instance as in simulate's KPIs: start minus the previous end in the case
    wait = np.where(st.first, 0, np.maximum(st.t_start - np.where(st.first, st.t_start, st.prev_end), 0)) / 1e9
    n = log.n_cases
    t = pd.DataFrame({
        "case_id": log.case_ids.to_numpy(),
        "t0": t0, "t1": t1,
        "cycle_time_s": (t1 - t0) / 1e9,
        "wait_sum_s": np.bincount(ci, weights=wait, minlength=n),
        "instances": np.bincount(ci, minlength=n).astype(float),
    })
    seq = log.df["activity"].astype(str).to_numpy()
    t["variant"] = pd.Series(np.split(seq, starts[1:]) if n else [], dtype=object).map(" → ".join).to_numpy()
    return t


def _case_attributes(log: EventLog) -> pd.DataFrame:
    """Case-level attributes (constant within every case) with few values, as text."""
    d = log.df
    starts = log.case_starts
    out = {}
    ci = log._case_index_per_row()
    for c in log.attributes:
        s = d[c]
        codes, uniq = pd.factorize(s, sort=True)
        if len(uniq) < 2 or len(uniq) > MAX_LEVELS:
            continue
        first = codes[starts]
        if not np.array_equal(codes, first[ci]):
            continue  # an event attribute, not a case attribute
        out[c] = first
    return pd.DataFrame(out, index=log.case_ids)


def _load(t0_all: np.ndarray, t0: np.ndarray) -> np.ndarray:
    """Cases arriving within LOAD_WINDOW_S before or after each case's start (exogenous volume)."""
    s = np.sort(t0_all)
    w = LOAD_WINDOW_S * 10**9
    return (np.searchsorted(s, t0 + w, side="right") - np.searchsorted(s, t0 - w, side="left")).astype(float)


# ------------------------------------------------------------------------------ statistics
def _wmean(x: np.ndarray, w: np.ndarray) -> float:
    sw = w.sum()
    return float((x * w).sum() / sw) if sw > 0 else float("nan")


def _wquant(xs: np.ndarray, ws: np.ndarray, q: float) -> float:
    """Weighted quantile of values ``xs`` sorted ascending, with weights ``ws`` in that order."""
    if not len(xs) or ws.sum() <= 0:
        return float("nan")
    cw = np.cumsum(ws)
    return float(xs[min(np.searchsorted(cw, q * cw[-1]), len(xs) - 1)])


def _prepare(case: pd.DataFrame, period: np.ndarray, causes: list[str]) -> list[dict[str, np.ndarray]]:
    """Per period, the per-case arrays the KPIs need, cycle times sorted once for the quantiles."""
    out = []
    for p in (0, 1):
        sub = case[period == p]
        order = np.argsort(sub["cycle_time_s"].to_numpy(), kind="stable")
        d = {"order": order, "ct_sorted": sub["cycle_time_s"].to_numpy()[order]}
        for c in ["cycle_time_s", "wait_sum_s", "instances", *[f"{c}_s" for c in causes]]:
            d[c] = sub[c].to_numpy(dtype=float)
        if "compliant" in sub:
            d["compliant"] = sub["compliant"].to_numpy(dtype=float)
        out.append(d)
    return out


def _summary(d: dict[str, np.ndarray], w: np.ndarray, causes: list[str]) -> dict[str, float]:
    ws = w[d["order"]]
    out = {
        "cycle_time_mean_s": _wmean(d["cycle_time_s"], w),
        "cycle_time_median_s": _wquant(d["ct_sorted"], ws, 0.5),
        "cycle_time_p90_s": _wquant(d["ct_sorted"], ws, 0.9),
        "wait_mean_s": float((d["wait_sum_s"] * w).sum() / max((d["instances"] * w).sum(), 1e-12)),
    }
    for c in causes:
        out[f"wait_{c}_s"] = _wmean(d[f"{c}_s"], w)
    if "compliant" in d:
        out["compliance"] = _wmean(d["compliant"], w)
    return out


def _weights(strata: np.ndarray, period: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Weights making the after period's stratum mix match the before period's (0 = trimmed)."""
    k = int(strata.max()) + 1 if len(strata) else 0
    nb = np.bincount(strata, weights=counts * (period == 0), minlength=k)
    na = np.bincount(strata, weights=counts * (period == 1), minlength=k)
    both = (nb > 0) & (na > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(both, (nb / max(nb[both].sum(), 1e-12)) / (na / max(na[both].sum(), 1e-12)), 0.0)
    w = np.where(period == 1, ratio[strata], both[strata].astype(float))
    return w * counts


def _period_stats(prep: list[dict[str, np.ndarray]], period: np.ndarray, strata: np.ndarray | None,
                  causes: list[str], counts: np.ndarray) -> tuple[dict[str, float], dict[str, float]]:
    w = _weights(strata, period, counts) if strata is not None else counts.astype(float)
    return _summary(prep[0], w[period == 0], causes), _summary(prep[1], w[period == 1], causes)


def _kpi(before: float | None, after: float | None, boots: np.ndarray | None) -> dict[str, float | None]:
    ok = before is not None and after is not None and np.isfinite(before) and np.isfinite(after)
    if not ok:
        return {"before": _fin(before), "after": _fin(after), "delta": None, "relative": None,
                "ci_low": None, "ci_high": None, "p_value": None}
    delta = after - before
    lo = hi = p = None
    if boots is not None:
        bb = boots[np.isfinite(boots)]
        if len(bb) >= 10:
            lo, hi = (float(x) for x in np.percentile(bb, [2.5, 97.5]))
            # the p-value of the same bootstrap, so that p < 0.05 exactly when the CI excludes 0;
            # beyond the bootstrap's resolution, the normal approximation of its spread
            p = float(min(1.0, 2 * min((bb <= 0).mean(), (bb >= 0).mean())))
            if p == 0.0:
                se = float(bb.std(ddof=1))
                p = float(2 * stats.norm.sf(abs(delta) / se)) if se > 0 else 0.0
    return {"before": float(before), "after": float(after), "delta": float(delta),
            "relative": float(after / before - 1) if before else None, "ci_low": lo, "ci_high": hi, "p_value": p}


def _fin(x: Any) -> float | None:
    return float(x) if x is not None and np.isfinite(x) else None


def _rate_kpi(n0: int, d0: float, n1: int, d1: float) -> dict[str, float | None]:
    """Counts per day in two windows: Poisson (normal approximation) CI and p-value of the difference."""
    if d0 <= 0 or d1 <= 0:
        return _kpi(None, None, None)
    r0, r1 = n0 / d0, n1 / d1
    se = float(np.sqrt(n0 / d0**2 + n1 / d1**2))
    delta = r1 - r0
    p = float(2 * stats.norm.sf(abs(delta) / se)) if se > 0 else (0.0 if delta else 1.0)
    return {"before": r0, "after": r1, "delta": delta, "relative": r1 / r0 - 1 if r0 else None,
            "ci_low": delta - 1.96 * se, "ci_high": delta + 1.96 * se, "p_value": p}


def _prop_kpi(x0: float, n0: int, x1: float, n1: int) -> dict[str, float | None]:
    if n0 == 0 or n1 == 0:
        return _kpi(None, None, None)
    p0, p1 = x0 / n0, x1 / n1
    se = float(np.sqrt(p0 * (1 - p0) / n0 + p1 * (1 - p1) / n1))
    pp = (x0 + x1) / (n0 + n1)
    se0 = float(np.sqrt(pp * (1 - pp) * (1 / n0 + 1 / n1)))
    d = p1 - p0
    p = float(2 * stats.norm.sf(abs(d) / se0)) if se0 > 0 else (0.0 if d else 1.0)
    return {"before": p0, "after": p1, "delta": d, "relative": p1 / p0 - 1 if p0 else None,
            "ci_low": d - 1.96 * se, "ci_high": d + 1.96 * se, "p_value": p}


# ------------------------------------------------------------------------------ the function
def compare(
    before: EventLog,
    after: EventLog | None = None,
    *,
    change_at: Any = None,
    predicted: Any = None,
    sop: Any = None,
    adjust: bool = True,
    n_boot: int = 200,
    seed: int | np.random.Generator | None = 0,
) -> Comparison:
    """Compare a process before and after a change: did it work?

    Parameters
    ----------
    before : EventLog
        The log before the change, or the whole log with ``change_at``.
    after : EventLog, optional
        The log after the change.
    change_at : str or Timestamp, optional
        With one log: cases starting before this instant are *before*, the rest *after*.
        Naive values are read in the log's time zone.
    predicted : str, os.PathLike or dict, optional
        The ``leanops simulate --json`` document (a path or the parsed mapping) that
        predicted the change: adds ``predicted`` (predicted against actual, with the error).
    sop : SOP or path, optional
        Also compare compliance with this SOP.
    adjust : bool
        Reweight the after cases on case attributes and arrival volume (see the module notes).
    n_boot : int
        Bootstrap resamples for the CIs.
    seed : int, numpy Generator or None
        Same seed, same result.

    Returns
    -------
    Comparison
        ``kpis``, ``adjusted``, ``predicted``, ``bottlenecks``, ``variants``; ``to_dict()``
        is the ``leanops compare --json`` document.

    Examples
    --------
    >>> import leanops
    >>> log = leanops.datasets.load("production")
    >>> res = leanops.compare(log, change_at="2012-02-15", n_boot=20)
    >>> sorted(res.kpis["cycle_time_mean_s"])
    ['after', 'before', 'ci_high', 'ci_low', 'delta', 'p_value', 'relative']
    """
    from .rca.waiting import WAITING_CAUSES, waiting_causes

    if not isinstance(before, EventLog):
        raise InputError(f"before must be a leanops.EventLog; got {type(before).__name__}. Read it with leanops.read(path).")
    if after is not None and not isinstance(after, EventLog):
        raise InputError(f"after must be a leanops.EventLog or None; got {type(after).__name__}.")
    if (after is None) == (change_at is None):
        raise InputError("compare needs either two logs (before, after) or one log with change_at=ISO timestamp; "
                         + ("got neither." if after is None else "got both."))
    check_positive("n_boot", n_boot, integer=True)
    rng = check_seed(seed)
    notes: list[str] = []
    cut = None
    if after is None:
        cut = parse_time(change_at, tz=before.tz, name="change_at")
        log = before
        case = _case_table(log)
        period = (case["t0"].to_numpy() >= cut.value).astype(np.int64)
        open_at = int(((period == 0) & (case["t1"].to_numpy() > cut.value)).sum())
        if open_at:
            notes.append(f"{open_at:,} cases started before the change and ended after it; they count as before")
        windows = ((case["t0"].min(), cut.value), (cut.value, max(case["t1"].max(), cut.value)))
    else:
        log = _concat(before, after)
        case = _case_table(log)
        nb = before.n_cases
        # _concat keeps before's cases first, in order
        period = np.r_[np.zeros(nb, np.int64), np.ones(after.n_cases, np.int64)]
        tb, ta = case[period == 0], case[period == 1]
        windows = ((tb["t0"].min(), tb["t1"].max()), (ta["t0"].min(), ta["t1"].max()))
    nb_, na_ = int((period == 0).sum()), int((period == 1).sum())
    if nb_ < 2 or na_ < 2:
        raise InputError(f"compare needs at least 2 cases on each side of the change; got {nb_} before and {na_} after"
                         + (f" (change_at {cut.isoformat()}; the log spans {log.start_time} to {log.end_time})." if cut is not None else "."))
    # waiting by cause, summed per case
    wc = waiting_causes(log).instances
    causes = list(WAITING_CAUSES)
    if len(wc):
        sums = wc.groupby("case_id", sort=False, observed=True)[[f"{c}_s" for c in causes]].sum()
        sums.index = sums.index.astype(str)
        sums = sums.reindex(case["case_id"].astype(str).to_numpy()).fillna(0.0)
        for c in causes:
            case[f"{c}_s"] = sums[f"{c}_s"].to_numpy()
    else:
        for c in causes:
            case[f"{c}_s"] = 0.0
    if sop is not None:
        from .compliance import violating_cases

        bad = violating_cases(log, sop)  # the cases only: no costs, no bootstrap
        case["compliant"] = ~case["case_id"].astype(str).isin(bad.astype(str)).to_numpy()
    # strata: case attributes x arrival volume
    strata = None
    excluded: dict[str, int] = {}
    adjusted = False
    if adjust:
        t0 = case["t0"].to_numpy()
        load = _load(t0, t0)
        edges = np.unique(np.quantile(load, np.linspace(0, 1, LOAD_BINS + 1)[1:-1]))
        parts = [np.searchsorted(edges, load, side="right")]
        attrs = _case_attributes(log)
        for c in attrs.columns:
            parts.append(attrs[c].to_numpy())
        key = np.zeros(len(case), dtype=np.int64)
        for p_ in parts:
            key = key * (int(p_.max()) + 2) + (p_ + 1)
        strata = pd.factorize(key)[0]
        w = _weights(strata, period, np.ones(len(case)))
        kept_b, kept_a = int(((w > 0) & (period == 0)).sum()), int(((w > 0) & (period == 1)).sum())
        excluded = {"no_comparable_after": nb_ - kept_b, "no_comparable_before": na_ - kept_a}
        if kept_b < MIN_OVERLAP * nb_ or kept_a < MIN_OVERLAP * na_:
            notes.append(
                f"only {kept_b:,} of {nb_:,} cases before and {kept_a:,} of {na_:,} after have comparable arrival volume "
                "and case mix: the change cannot be separated from the shift in volume or mix, so case-level KPIs are "
                "not estimated (compare with adjust=False for the raw difference)")
            adjusted = True
        else:
            adjusted = True
            notes.append(f"after cases reweighted to the before mix of {len(attrs.columns)} case attribute(s) and "
                         f"arrival volume; {sum(excluded.values()):,} cases without a comparable counterpart left out")
    unmeasurable = adjusted and any("cannot be separated" in n for n in notes)
    prep = _prepare(case, period, causes)
    base_b, base_a = _period_stats(prep, period, strata, causes, np.ones(len(case)))
    boots: dict[str, list[float]] = {k: [] for k in base_b}
    if not unmeasurable:
        # Cases that start on the same day share a queue, so whole days are resampled (a block
        # bootstrap): resampling single cases would understate the uncertainty.
        day = (case["t0"].to_numpy() // (86400 * 10**9)) * 2 + period
        dcode, days_u = pd.factorize(day)
        dper = (days_u % 2).astype(np.int64)
        d0, d1 = np.flatnonzero(dper == 0), np.flatnonzero(dper == 1)
        for _ in range(int(n_boot)):  # resamples, not cases: each is a handful of weighted sums
            dw = np.zeros(len(days_u))
            dw[d0] = rng.multinomial(len(d0), np.full(len(d0), 1 / len(d0)))
            dw[d1] = rng.multinomial(len(d1), np.full(len(d1), 1 / len(d1)))
            bb, ba = _period_stats(prep, period, strata, causes, dw[dcode])
            for k in boots:
                boots[k].append(ba[k] - bb[k])
    kpis: dict[str, dict[str, float | None]] = {}
    for k in base_b:
        if unmeasurable:
            kpis[k] = {"before": None, "after": None, "delta": None, "relative": None, "ci_low": None,
                       "ci_high": None, "p_value": None}
        else:
            kpis[k] = _kpi(base_b[k], base_a[k], np.array(boots[k]))
    t1 = case["t1"].to_numpy()
    t0 = case["t0"].to_numpy()
    (b0, b1), (a0, a1) = windows
    days_b, days_a = (b1 - b0) / 86400e9, (a1 - a0) / 86400e9
    kpis["throughput_per_day"] = _rate_kpi(int(((t1 >= b0) & (t1 < b1)).sum()), days_b,
                                           int(((t1 >= a0) & (t1 <= a1)).sum()), days_a)
    kpis["arrivals_per_day"] = _rate_kpi(int(((t0 >= b0) & (t0 < b1)).sum()), days_b,
                                         int(((t0 >= a0) & (t0 <= a1)).sum()), days_a)
    arr = kpis["arrivals_per_day"]
    if arr["p_value"] is not None and arr["p_value"] < 0.05:
        notes.append(f"arrivals changed by {100 * (arr['relative'] or 0):+.0f}% per day: "
                     + ("case-level KPIs are not estimated, see above" if unmeasurable else
                        "case-level KPIs are adjusted for it" if adjusted else
                        "a quieter (busier) period alone shortens (lengthens) waiting"))
    vt = _variants(case, period)
    if len(vt):
        top = vt.iloc[0]
        kpis["top_variant_share"] = {k: top[c] for k, c in (("before", "share_before"), ("after", "share_after"),
                                                            ("delta", "delta"), ("ci_low", "ci_low"), ("ci_high", "ci_high"),
                                                            ("p_value", "p_value"))}
        kpis["top_variant_share"]["relative"] = (top["share_after"] / top["share_before"] - 1) if top["share_before"] else None
    bt = _bottlenecks(log, case, period)
    pred = _predicted(predicted, kpis) if predicted is not None else None
    return Comparison(kpis, adjusted, pred, bt, vt, nb_, na_, cut, excluded, notes)


def _concat(before: EventLog, after: EventLog) -> EventLog:
    """One log of both periods; after's case ids are prefixed where they clash with before's."""
    db, da = before.df, after.df
    clash = pd.Index(after.case_ids).isin(pd.Index(before.case_ids))
    da = da.copy()
    if clash.any():
        da["case_id"] = "after:" + da["case_id"].astype(str)
    cols = [c for c in db.columns if c in da.columns]
    b_ = db[cols].copy()
    b_["case_id"] = "0:" + b_["case_id"].astype(str)
    a_ = da[cols].copy()
    a_["case_id"] = "1:" + a_["case_id"].astype(str)
    for c in ("activity", "resource"):
        b_[c] = b_[c].astype(object)
        a_[c] = a_[c].astype(object)
    both = pd.concat([b_, a_], ignore_index=True)
    return EventLog(both, source=f"{before.source} + {after.source}", tz=before.tz)


def _variants(case: pd.DataFrame, period: np.ndarray, top: int = 5) -> pd.DataFrame:
    v = case["variant"].to_numpy()
    n0, n1 = int((period == 0).sum()), int((period == 1).sum())
    vc = pd.Series(v).value_counts()
    rows = []
    for name in vc.index[:top]:
        x0 = int(((v == name) & (period == 0)).sum())
        x1 = int(((v == name) & (period == 1)).sum())
        k = _prop_kpi(x0, n0, x1, n1)
        rows.append({"variant": name, "share_before": k["before"], "share_after": k["after"], "delta": k["delta"],
                     "ci_low": k["ci_low"], "ci_high": k["ci_high"], "p_value": k["p_value"]})
    return pd.DataFrame(rows, columns=["variant", "share_before", "share_after", "delta", "ci_low", "ci_high", "p_value"])


def _bottlenecks(log: EventLog, case: pd.DataFrame, period: np.ndarray) -> pd.DataFrame:
    from .mining.bottlenecks import bottlenecks

    cols = ["activity", "rank_before", "rank_after", "wait_mean_before_s", "wait_mean_after_s", "delta_s",
            "ci_low", "ci_high", "p_value"]
    ranks = []
    for p in (0, 1):
        sub = log.select_cases(period == p)
        try:
            b = bottlenecks(sub)
            ranks.append(dict(zip(b["activity"].astype(str), b["rank"])))
        except InputError:
            ranks.append({})
    st = steps(log)
    ci = log._case_index_per_row()
    per_row = period[ci]
    wait = st.wait_ns / 1e9
    rows = []
    for a in sorted(set(ranks[0]) | set(ranks[1]), key=lambda a: (ranks[0].get(a, 1e9), ranks[1].get(a, 1e9))):
        code = st.activities.index(a) if a in st.activities else -1
        m = st.activity == code
        w0, w1 = wait[m & (per_row == 0)], wait[m & (per_row == 1)]
        if len(w0) > 1 and len(w1) > 1:
            d = w1.mean() - w0.mean()
            se = np.sqrt(w0.var(ddof=1) / len(w0) + w1.var(ddof=1) / len(w1))
            p = float(stats.ttest_ind(w1, w0, equal_var=False).pvalue) if se > 0 else (0.0 if d else 1.0)
            lo, hi = d - 1.96 * se, d + 1.96 * se
        else:
            d = lo = hi = p = None
        rows.append({"activity": a, "rank_before": ranks[0].get(a), "rank_after": ranks[1].get(a),
                     "wait_mean_before_s": float(w0.mean()) if len(w0) else None,
                     "wait_mean_after_s": float(w1.mean()) if len(w1) else None,
                     "delta_s": d, "ci_low": lo, "ci_high": hi, "p_value": p})
    return pd.DataFrame(rows, columns=cols)


def _predicted(doc: Any, kpis: dict[str, dict[str, float | None]]) -> dict[str, dict[str, float | None]]:
    """Predicted (a ``simulate --json`` document) against the actual after-period KPIs."""
    where = "predicted"
    if isinstance(doc, (str, os.PathLike)):
        path = os.fspath(doc)
        where = f"--predicted {path!r}"
        try:
            with open(path, encoding="utf-8") as f:
                doc = json.load(f)
        except OSError as exc:
            raise InputError(f"{where} cannot be read ({exc.strerror}); check the path.") from None
        except json.JSONDecodeError as exc:
            raise InputError(f"{where} is not JSON (line {exc.lineno}: {exc.msg}); give the output of leanops simulate --json.") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("baseline"), dict) or "kpis" not in doc["baseline"]:
        raise InputError(f"{where} must be a leanops simulate --json document with baseline{{kpis}}; "
                         "run leanops simulate MODEL --scenario S.yaml --json > sim.json.")
    scen = doc.get("scenarios") or []
    src = scen[0] if scen and isinstance(scen[0], dict) and "kpis" in scen[0] else doc["baseline"]
    out: dict[str, dict[str, float | None]] = {}
    for k, v in (src.get("kpis") or {}).items():
        mean = v.get("mean") if isinstance(v, dict) else v
        if k not in kpis or not isinstance(mean, (int, float)):
            continue
        actual = kpis[k].get("after")
        err = None if actual is None else float(actual - mean)
        out[k] = {"predicted": float(mean), "actual": actual, "error": err,
                  "relative_error": (err / mean) if err is not None and mean else None}
        if scen and isinstance(src.get("delta"), dict) and isinstance(src["delta"].get(k), dict):
            out[k]["predicted_relative"] = src["delta"][k].get("relative")
            out[k]["actual_relative"] = kpis[k].get("relative")
    return out
