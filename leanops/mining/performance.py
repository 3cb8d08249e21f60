"""Performance tables: processing and waiting time per activity, resource or case.

Definitions (shared by the value stream and the bottleneck analysis):

* **Processing time** of an instance: ``end - start``.
* **Enablement** of an instance: the latest end among the earlier instances of its case
  (see ``leanops.mining._steps``). In a sequence that is the end of the previous instance.
  With parallel branches, an instance that starts while an earlier one is still running
  overlaps it and is taken as enabled at its own start, so waits are never negative.
* **Waiting time** of an instance: ``start - enablement``; 0 for the first instance of a
  case (the time before a case's first activity is not in the log).
* **Missing starts** (completion-only logs) are estimated first with
  :func:`estimate_start_times`; results say which starts were estimated.
* ``time="working"`` measures every duration in working time of a :class:`~leanops.Calendar`
  (by default the one learnt from the log with :func:`~leanops.discover_calendar`).
"""

from __future__ import annotations

import os

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from .._validation import check_calendar, check_choice, check_log
from ..boundaries import complete_cases
from ..calendar import Calendar, discover_calendar
from ..log import EventLog
from ._engine import Engine, dispatch as _dispatch
from ._steps import NAT, Steps, _same_case_masks, _segment_prefix_max, case_cover, steps  # noqa: F401 (re-exported)

__all__ = ["performance", "estimate_start_times"]

Time = Literal["calendar", "working"]


def estimate_start_times(log: EventLog) -> EventLog:
    """Fill missing start times: the later of enablement and the resource's availability.

    After Chapela-Campa and Dumas (2022), an instance without a start time is taken to
    start when both (a) it was enabled, i.e. the latest earlier instance of its case had
    ended, and (b) its resource was free, i.e. the resource's previous instance (by end
    time) had ended. The first instance of a case has no enablement, and an idle
    resource's previous end may lie days back, so there the start is the end minus the
    activity's median estimated processing time (over instances that had an
    enablement), but never before the resource was free; with neither known, the start
    is the end (zero processing time). Known start times are kept.

    Parameters
    ----------
    log : EventLog

    Returns
    -------
    EventLog
        A new log with ``start`` filled and a boolean column ``start_estimated``.

    Examples
    --------
    >>> import leanops
    >>> log = leanops.datasets.load("helpdesk")
    >>> est = leanops.estimate_start_times(log)
    >>> bool(est.df["start"].notna().all()), bool(est.df["start_estimated"].all())
    (True, True)
    """
    check_log(log)
    d = log.df
    st = steps(log)
    missing = ~st.has_start
    est = _estimated_starts(log, st)
    start = np.where(missing, est, d["start"].to_numpy(dtype="datetime64[ns]").view(np.int64))
    out = d.copy()
    out["start"] = pd.to_datetime(start, utc=True)
    out["start_estimated"] = missing
    return log._derive(out, sort=True)


def _estimated_starts(log: EventLog, st: Steps) -> np.ndarray:
    """Estimated start (int64 ns) for every row (meaningful where the start is missing)."""
    r_codes = log.df["resource"].cat.codes.to_numpy() if isinstance(log.df["resource"].dtype, pd.CategoricalDtype) \
        else pd.factorize(log.df["resource"], use_na_sentinel=True)[0]
    en = np.where(st.first, NAT, st.enabled)
    return estimate_starts(r_codes, st.first, en, st.activity, len(st.activities), st.end)


def estimate_starts(r_codes: np.ndarray, first: np.ndarray, enabled: np.ndarray, activity: np.ndarray, n_act: int,
                    end: np.ndarray) -> np.ndarray:
    """The rule of :func:`estimate_start_times` on arrays (every engine's batch uses it):
    per row (grouped by case, in instance order), its resource code (-1: none), whether
    it is the first of its case, its enablement (int64 ns, NAT for the first), its
    activity code and end (int64 ns). Returns the estimated start (int64 ns) of every row."""
    n = len(end)
    res_prev = np.full(n, NAT, dtype=np.int64)
    has_r = r_codes >= 0
    if has_r.any():
        rows = np.flatnonzero(has_r)
        order = rows[np.lexsort((end[rows], r_codes[rows]))]
        same = np.r_[False, r_codes[order][1:] == r_codes[order][:-1]]
        prev_end = np.r_[NAT, end[order][:-1]]
        res_prev[order] = np.where(same, prev_end, NAT)
    est = np.minimum(np.maximum(enabled, res_prev), end)
    # The first instance of a case has no enablement, and its resource's previous end may
    # lie days back (an idle resource): take the activity's typical estimated processing
    # time instead, but never before the resource was free.
    known = ~first & (est != NAT)
    dur = pd.Series(np.where(known, end - est, np.nan)).groupby(activity).median()
    typical = dur.reindex(range(n_act)).fillna(0).to_numpy()[activity].astype(np.int64)
    first_est = np.maximum(end - typical, res_prev)
    est = np.where(first, first_est, est)
    return np.where(est == NAT, end, np.minimum(est, end))


# --------------------------------------------------------------------------
@dataclass(frozen=True)
class _Instances:
    """Per-instance timing on one clock (float seconds), aligned with ``log.df`` rows."""

    log: EventLog  # the log measured (with estimated starts where the source had none)
    st: _Rows
    estimated: np.ndarray  # bool: start estimated
    start: np.ndarray  # float s
    end: np.ndarray  # float s
    wait: np.ndarray  # float s, >= 0: start - enablement (0 for the first instance of a case)
    service: np.ndarray  # float s, >= 0
    covered: np.ndarray  # float s: time it adds to the union of its case's instances
    origin_ns: int
    time: str
    calendar: Calendar | None
    starts: np.ndarray  # row where each case begins
    seg: np.ndarray  # case index (0..n_cases-1) per row
    cover_ns: np.ndarray  # int64 ns: ``st.cover``, kept for the batch (computed once)

    @property
    def estimated_share(self) -> float:
        return float(self.estimated.mean()) if len(self.estimated) else 0.0

    @property
    def gap(self) -> np.ndarray:
        """Time before the instance in its case covered by no instance (the union
        partition of the lead time). It equals the wait: enablement is the latest earlier
        end, clipped to the own start, so ``start - enablement = max(start - cover, 0)``."""
        return self.wait

    @property
    def enabled(self) -> np.ndarray:
        """Enablement, float s (= start for the first instance of a case)."""
        return self.start - self.wait


def _prepared_log(log: EventLog) -> tuple[EventLog, np.ndarray]:
    """The log with every start known (estimated where missing), and the estimated mask."""
    if not log.df["start"].isna().any():
        return log, np.zeros(len(log), dtype=bool)
    cached = log._cache.get("estimated_log")
    if cached is None:
        cached = estimate_start_times(log)
        log._cache["estimated_log"] = cached
    return cached, cached.df["start_estimated"].to_numpy(dtype=bool)


def _segment_cummax(values: np.ndarray, first: np.ndarray, starts: np.ndarray | None = None,
                    seg: np.ndarray | None = None) -> np.ndarray:
    """Running maximum restarting at each ``first`` row (cases are contiguous)."""
    if not len(values):
        return values.copy()
    starts = np.flatnonzero(first) if starts is None else starts
    seg = np.cumsum(first) - 1 if seg is None else seg
    lo = np.minimum.reduceat(values, starts)
    span = np.maximum.reduceat(values, starts) - lo + 1.0
    offset = np.r_[0.0, np.cumsum(span)[:-1]]
    # Lifting each case above the previous one turns the segmented running max into one
    # global running max; exact to ~1 ms while the stacked spans stay below 2**52 ms.
    if offset[-1] + span[-1] < 2.0**52 / 1e3:
        shift = (offset - lo)[seg]
        out = values + shift
        np.maximum.accumulate(out, out=out)
        out -= shift
        return out
    return pd.Series(values).groupby(seg, sort=False).cummax().to_numpy()


def _repeats(case: np.ndarray, act: np.ndarray, n_act: int, masks: list[np.ndarray] | None = None) -> np.ndarray:
    """True for every instance whose activity already occurred earlier in its case."""
    n = len(case)
    if n == 0:
        return np.zeros(0, dtype=bool)
    bounds = np.flatnonzero(np.r_[True, case[1:] != case[:-1], True])
    max_len = int(np.diff(bounds).max())
    if max_len <= 16:
        # short cases: compare each row with the rows 1..max_len-1 before it, in its case;
        # on one-byte arrays (the position in the case, and the activity when it fits):
        # each pass then reads an eighth of the bytes of the int64 codes
        lens = np.diff(bounds)
        step = np.ones(n, dtype=np.int8)
        step[bounds[1:-1]] = 1 - lens[:-1]  # back to 0 where a case begins
        step[0] = 0
        pos = np.cumsum(step, dtype=np.int8)  # 0.. within the case (never above 15)
        del step
        a = act.astype(np.int8) if n_act <= 127 else act
        out = np.zeros(n, dtype=bool)
        for k in range(1, max_len):
            hit = a[k:] == a[:-k]
            hit &= pos[k:] >= k
            out[k:] |= hit
        return out
    if masks is None:
        masks = _same_case_masks(case, max_len)
    if n_act <= 63:
        # the set of activities seen so far in the case, as a bit mask: a segmented
        # OR-scan (log2 of the longest case passes), then each row checks its own bit
        bits = np.left_shift(np.int64(1), act.astype(np.int64))
        seen = bits.copy()
        for j, same in enumerate(masks):
            k = 1 << j
            np.bitwise_or(seen[k:], seen[:-k], out=seen[k:], where=same)
        out = np.zeros(n, dtype=bool)
        if n > 1:
            np.bitwise_and(seen[:-1], bits[1:], out=seen[:-1])
            out[1:] = seen[:-1] != 0
            out[1:] &= case[1:] == case[:-1]
        return out
    key = (case - case.min()).astype(np.int64) * n_act + act
    # rows are grouped by case, so the key is nearly sorted and a stable sort is quick;
    # equal keys keep their row order, so the first of each run is the first occurrence
    order = np.argsort(key, kind="stable")
    ks = key[order]
    out = np.empty(n, dtype=bool)
    out[order] = np.r_[False, ks[1:] == ks[:-1]]
    return out


def _instance_repeats(inst: "_Instances") -> np.ndarray:
    """:func:`_repeats` for the rows of ``inst.log`` (cached on it)."""
    cache = inst.log._cache
    if "repeats" not in cache:
        cache["repeats"] = _repeats(inst.st.case, inst.st.activity, len(inst.st.activities), inst.st.masks)
    return cache["repeats"]


@dataclass(frozen=True)
class _Rows:
    """What the timing code needs per row (a light form of ``_steps.Steps``)."""

    case: np.ndarray  # int64 case index, 0.. in row order
    activity: np.ndarray  # activity code
    activities: list[str]
    first: np.ndarray  # bool: first instance of its case
    has_start: np.ndarray  # bool
    t_start: np.ndarray  # int64 ns: start, or end where the start is missing
    end: np.ndarray  # int64 ns
    masks: list  # _same_case_masks(case, longest case)

    @property
    def cover(self) -> np.ndarray:
        """int64 ns: the latest end among the earlier instances of the case (the own start
        for the first). Computed on access, not kept: it is as long as the log, and the
        instance timings read it once."""
        return case_cover(self.first, self.t_start, self.end, self.masks)


def _fast_steps(log: EventLog) -> _Rows:
    """Per-row arrays by the rule of ``leanops.mining._steps`` (checked against it by the
    tests), computed without factorizing the case ids. The enablement of a row is
    ``min(cover, t_start)`` (``t_start`` itself for the first instance of a case)."""
    cached = log._cache.get("rows")
    if cached is not None:
        return cached
    d = log.df
    n = len(d)
    st = log._cache.get("steps")
    if st is None:
        # the log's case codes (cached on it, and shared with the boundary rule and the
        # role detection): a case begins where the id differs from the row before
        case = log.case_codes
        first = np.zeros(n, dtype=bool)
        first[log.case_starts] = True
        act_cat = d["activity"].cat
        activity = act_cat.codes.to_numpy().astype(np.intp)
        activities = [str(c) for c in act_cat.categories]
        start = d["start"].to_numpy(dtype="datetime64[ns]").view(np.int64)
        end = d["end"].to_numpy(dtype="datetime64[ns]").view(np.int64)
        has_start = start != NAT
        t_start = start if has_start.all() else np.where(has_start, start, end)
    else:
        first, case, activity, activities = st.first, st.case, st.activity.astype(np.intp), st.activities
        has_start, t_start, end = st.has_start, st.t_start, st.end
    starts = np.flatnonzero(first)
    max_len = int(np.diff(np.r_[starts, n]).max()) if n else 0
    masks = _same_case_masks(case, max_len, first)
    rows = _Rows(case, activity, activities, first, has_start, t_start, end, masks)
    log._cache["rows"] = rows
    return rows


@dataclass(frozen=True)
class _ActivitySums:
    """Per-activity totals over the instances (index = activity code)."""

    count: np.ndarray  # instances
    with_pred: np.ndarray  # instances that have a predecessor in their case
    first_in_case: np.ndarray  # instances that are the first of their activity in their case (= cases)
    service: np.ndarray
    wait: np.ndarray
    gap: np.ndarray
    covered: np.ndarray


def _seconds_since(ns: np.ndarray, origin: int) -> np.ndarray:
    """Float seconds from ``origin`` (int64 ns) of int64 ns instants: the wall clock of
    every batch."""
    out = np.empty(len(ns))
    np.subtract(ns, origin, out=out)  # int64 arithmetic, cast into the float buffer
    out /= 1e9
    return out


def _timings(start: np.ndarray, end: np.ndarray, cover: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per instance ``(wait, service, covered)`` in seconds from its start, end and cover
    (the latest end among the earlier instances of its case) on one clock; ``cover``
    becomes ``covered`` in place. Every batch source's timings."""
    # Enablement is min(cover, start), so the wait is max(start - cover, 0): the same as
    # the time before the instance that no instance of its case covers.
    # (in-place arithmetic: on millions of rows, fresh temporaries cost more than the maths)
    wait = np.subtract(start, cover)
    np.maximum(wait, 0.0, out=wait)
    covered = np.maximum(start, cover, out=cover)
    np.subtract(end, covered, out=covered)
    np.maximum(covered, 0.0, out=covered)
    service = np.subtract(end, start)
    np.maximum(service, 0.0, out=service)
    return wait, service, covered


def _instances(log: EventLog, *, time: Time = "calendar", calendar: Calendar | str | None = None) -> _Instances:
    check_choice("time", time, ("calendar", "working"))
    key = ("instances", time, str(calendar) if calendar is not None else None)
    cached = log._cache.get(key)
    if cached is not None:
        return cached
    work, estimated = _prepared_log(log)
    st = _fast_steps(work)
    origin = int(st.t_start.min())
    cal: Calendar | None = None
    if time == "working":
        cal = _resolve_calendar(log, calendar)
    first = st.first
    starts = np.flatnonzero(first)
    seg = st.case

    def clock(ns: np.ndarray) -> np.ndarray:
        if cal is None or cal.is_always:
            return _seconds_since(ns, origin)
        return cal.working_clock(ns.view("datetime64[ns]"))

    cover_ns = st.cover  # latest end among earlier instances of the case
    start, end = clock(st.t_start), clock(st.end)
    wait, service, covered = _timings(start, end, clock(cover_ns))
    out = _Instances(work, st, estimated, start, end, wait, service, covered, origin, time, cal, starts, seg, cover_ns)
    log._cache[key] = out
    return out


def _log_calendar(log: EventLog) -> Calendar:
    """The calendar learnt from the whole log (cached on it)."""
    if "log_calendar" not in log._cache:
        log._cache["log_calendar"] = discover_calendar(log)
    return log._cache["log_calendar"]


def _resolve_calendar(log: EventLog, calendar: Calendar | str | None) -> Calendar:
    cal = check_calendar(calendar)
    return _log_calendar(log) if cal is None else cal


def _q(x: pd.core.groupby.SeriesGroupBy, q: float) -> pd.Series:
    return x.quantile(q)


def _stats(frame: pd.DataFrame, key: str) -> pd.DataFrame:
    g = frame.groupby(key, sort=False, observed=True)
    out = pd.DataFrame(
        {
            "instances": g.size(),
            "cases": g["case"].nunique(),
            "processing_mean_s": g["service"].mean(),
            "processing_median_s": g["service"].median(),
            "processing_p90_s": _q(g["service"], 0.9),
            "processing_total_s": g["service"].sum(),
            "waiting_mean_s": g["wait"].mean(),
            "waiting_median_s": g["wait"].median(),
            "waiting_p90_s": _q(g["wait"], 0.9),
            "waiting_total_s": g["wait"].sum(),
            "estimated_share": g["estimated"].mean(),
        }
    )
    return out


def performance(
    log: EventLog | str | os.PathLike,
    *,
    engine: Engine = "auto",
    scheduler: str | None = None,
    by: Literal["activity", "resource", "case"] = "activity",
    time: Time = "calendar",
    calendar: Calendar | str | None = None,
    include_cut: bool = False,
) -> pd.DataFrame:
    """Processing time, waiting time and counts per activity, resource or case.

    See the module docstring for how enablement, waiting and missing starts are handled.

    Parameters
    ----------
    log : EventLog
    by : {"activity", "resource", "case"}, default "activity"
    time : {"calendar", "working"}, default "calendar"
        Measure durations on the wall clock, or in working time of ``calendar``.
    calendar : Calendar or str, optional
        For ``time="working"``; by default learnt from the log.
    include_cut : bool, default False
        For ``by="case"``: cases cut by the export window (begun before the log's first
        day, or still open at its end; :mod:`leanops.boundaries`) have wrong lead times,
        so they are left out unless this is True. ``result.attrs["excluded_cases"]``
        counts them, ``{"cut_at_start": n, "open_at_end": m}``.

    engine : {"auto", "pandas", "duckdb", "dask"}, default "auto"
        ``log`` may also be a canonical Parquet file or directory (:func:`leanops.convert`)
        or a :func:`leanops.scan`; "auto" then computes out of core in DuckDB. "dask" runs
        on the cluster at ``scheduler`` (logs with recorded start times). The results are identical to the pandas engine's.
    scheduler : str, optional
        A Dask scheduler address such as ``tcp://host:8786`` (implies ``engine="dask"``).

    Returns
    -------
    pandas.DataFrame
        For ``by="activity"`` or ``"resource"``: one row per activity (resource) with
        ``instances, cases, processing_{mean,median,p90,total}_s,
        waiting_{mean,median,p90,total}_s, estimated_share`` (share of instances whose
        start was estimated), sorted by total waiting, largest first. For ``by="case"``:
        ``case_id, instances, start, end, lead_time_s, processing_s, waiting_s,
        estimated_share``, where processing is the time covered by at least one instance
        (overlapping instances count once) and waiting is the rest of the lead time.

    Examples
    --------
    >>> import leanops
    >>> log = leanops.datasets.load("production")
    >>> perf = leanops.performance(log)
    >>> list(perf.columns[:4])
    ['activity', 'instances', 'cases', 'processing_mean_s']
    >>> int(perf["instances"].sum()) == len(log)
    True
    """
    if not (isinstance(log, EventLog) and engine in ("auto", "pandas") and scheduler is None):
        return _dispatch("performance", log, engine=engine, scheduler=scheduler, by=by, time=time, calendar=calendar,
                         include_cut=include_cut)  # Parquet on disk: DuckDB or Dask (leanops.mining.outofcore)
    check_log(log)
    check_choice("by", by, ("activity", "resource", "case"))
    excluded = None
    if by == "case":
        log, excluded = complete_cases(log, include_cut=include_cut)
    inst = _instances(log, time=time, calendar=calendar)
    st = inst.st
    if by == "case":
        seg = np.cumsum(st.first) - 1
        starts = np.flatnonzero(st.first)
        lead_end = np.maximum.reduceat(inst.end, starts)
        first_start = inst.start[starts]
        covered = np.add.reduceat(inst.covered, starts)
        d = inst.log.df
        s_ns = pd.Series(st.t_start.view("datetime64[ns]")).dt.tz_localize("UTC")
        e_ns = pd.Series(st.end.view("datetime64[ns]")).dt.tz_localize("UTC")
        lead = lead_end - first_start
        out = pd.DataFrame(
            {
                "case_id": d["case_id"].to_numpy()[starts],
                "instances": np.diff(np.r_[starts, len(seg)]),
                "start": s_ns.groupby(seg).min().to_numpy(),
                "end": e_ns.groupby(seg).max().to_numpy(),
                "lead_time_s": lead,
                "processing_s": covered,
                "waiting_s": np.maximum(lead - covered, 0.0),
                "estimated_share": np.add.reduceat(inst.estimated.astype(float), starts) / np.diff(np.r_[starts, len(seg)]),
            }
        )
        out.attrs["excluded_cases"] = excluded
        return out
    d = inst.log.df
    col = d[by] if by == "activity" else d["resource"].fillna("(none)")
    frame = pd.DataFrame(
        {by: col.to_numpy(), "case": st.case, "service": inst.service, "wait": np.where(st.first, np.nan, inst.wait),
         "estimated": inst.estimated}
    )
    out = _stats(frame, by)
    # the first instance of a case has no wait; report it as 0 where an activity only ever starts cases
    for c in ("waiting_mean_s", "waiting_median_s", "waiting_p90_s"):
        out[c] = out[c].fillna(0.0)
    out = out.sort_values(["waiting_total_s", "instances"], ascending=False, kind="stable")
    return out.rename_axis(by).reset_index()
