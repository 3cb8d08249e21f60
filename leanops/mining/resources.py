"""Resources: pools, utilisation, handoffs and multitasking.

* **Pools** group resources that do the same work: a resource's profile is the share of
  its instances spent on each activity, and resources with similar profiles (cosine
  similarity >= ``threshold``) share a pool.
* **Utilisation** is busy time over available time. Busy time is the time a resource
  spends on at least one instance (overlapping instances count once), measured in working
  time of its calendar; available time is the working time of that calendar over the
  log's time span (first start to last end), times the number of members for a pool.
  By default one calendar is learnt from the whole log (:func:`~leanops.discover_calendar`):
  the hours the organisation works. ``calendar="pool"`` learns one per pool instead, which
  suits teams on different shifts, but beware: from a log alone, a team that only works
  when a daily batch arrives looks exactly like a team with a two-hour shift, and would
  come out fully utilised.
* **Handoffs**: work passing from one resource (or pool) to another between consecutive
  instances of a case.
* **Multitasking**: one resource holding overlapping instances.

Starts missing in the source are estimated first (:func:`~leanops.estimate_start_times`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import numpy as np
import pandas as pd

from .._pools import profiles, resource_codes, resource_model
from .._validation import check_calendar, check_choice, check_log
from ..calendar import Calendar, discover_calendar
from ..errors import InputError
from ..log import EventLog
from .performance import _instances, _log_calendar, _segment_cummax

__all__ = ["discover_pools", "utilization", "handoffs", "multitasking"]

CalendarSpec = Calendar | str | Mapping[str, Calendar | str] | None  # or "pool"


def _pools(log: EventLog, threshold: float = 0.8) -> dict[str, str]:
    return resource_model(log, threshold=threshold).pools


def discover_pools(log: EventLog, *, threshold: float = 0.8) -> pd.DataFrame:
    """Group resources into pools by the activities they perform.

    Parameters
    ----------
    log : EventLog
    threshold : float, default 0.8
        Cosine similarity of activity profiles from which two resources share a pool.

    Returns
    -------
    pandas.DataFrame
        ``resource, pool, instances, activities`` (the resource's activities, most
        frequent first), sorted by pool then resource. A pool is named after its members'
        common prefix when they share one (``clerk_1, clerk_2`` -> ``clerk``), otherwise
        after its two main activities.

    Examples
    --------
    >>> import leanops
    >>> pools = leanops.discover_pools(leanops.datasets.load("production"))
    >>> list(pools.columns)
    ['resource', 'pool', 'instances', 'activities']
    """
    check_log(log)
    if not (0.0 < float(threshold) <= 1.0):
        raise InputError(f"threshold must be a number in (0, 1]; got {threshold!r}.")
    pools = _pools(log, float(threshold))
    prof = profiles(log)
    acts = [", ".join(str(a) for a, n in row.sort_values(ascending=False).items() if n > 0) for _, row in prof.iterrows()]
    out = pd.DataFrame(
        {"resource": prof.index.astype(str), "pool": [pools[r] for r in prof.index],
         "instances": prof.sum(axis=1).to_numpy(), "activities": acts}
    )
    return out.sort_values(["pool", "resource"], kind="stable").reset_index(drop=True)


def _group_calendars(log: EventLog, names: list[str], by: str, calendar: CalendarSpec,
                     pools: Mapping[str, str]) -> dict[str, Calendar]:
    """A calendar per group name (resource or pool)."""
    calendar = check_calendar(calendar, special=("pool",), mapping=True)
    if isinstance(calendar, Calendar):
        return {n: calendar for n in names}
    if calendar == "pool":
        # learnt per pool: a single resource rarely has enough data on its own; once per
        # log, into its resource model, when these are the model's pools
        rm = resource_model(log)
        if pools is rm.pools:
            if rm.calendars is None:
                rm.calendars = discover_calendar(log, by="pool", pools=pools)
            learnt = rm.calendars
        else:
            learnt = discover_calendar(log, by="pool", pools=pools)
        return {n: learnt.get(n if by == "pool" else pools.get(n, n)) or Calendar.always() for n in names}
    log_cal = _log_calendar(log)
    if calendar is None:
        return {n: log_cal for n in names}
    return {n: calendar.get(n, log_cal) for n in names}


def _clock(cal: Calendar, ns: np.ndarray, origin: int) -> np.ndarray:
    if cal.is_always:
        return (ns - origin) / 1e9
    return cal.working_clock(ns.view("datetime64[ns]"))


def _resource_codes(log: EventLog) -> tuple[np.ndarray, list[str]]:
    return resource_codes(log)


def _order_by_code_then_time(codes: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Argsort by (code, t): one int64 sort on a packed key (t to the millisecond) where it
    fits, else a lexsort."""
    if not len(t):
        return np.zeros(0, dtype=np.int64)
    ms = np.round((t - t.min()) * 1e3).astype(np.int64)
    tbits = int(ms.max()).bit_length()
    cbits = int(codes.max()).bit_length()
    if tbits + cbits <= 62:
        return np.argsort((codes.astype(np.int64) << tbits) | ms)
    return np.lexsort((t, codes))


def _busy(codes: np.ndarray, start: np.ndarray, end: np.ndarray, n_groups: int) -> np.ndarray:
    """Per code, the length of the union of its [start, end) intervals (float clock)."""
    ok = codes >= 0
    rows = np.flatnonzero(ok)
    if not len(rows):
        return np.zeros(n_groups)
    order = rows[_order_by_code_then_time(codes[rows], start[rows])]
    c, s, e = codes[order], start[order], end[order]
    first = np.r_[True, c[1:] != c[:-1]]
    cm = _segment_cummax(e, first)
    cover = np.where(first, s, np.r_[0.0, cm[:-1]])
    covered = np.maximum(e - np.maximum(s, cover), 0.0)
    return np.bincount(c, weights=covered, minlength=n_groups)


def _utilization_table(log: EventLog, *, calendar: CalendarSpec = None) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Calendar]]:
    """Per-resource and per-pool utilisation, plus the pool calendars used."""
    inst = _instances(log)
    work = inst.log
    pools = _pools(log)
    codes, names = _resource_codes(work)
    pool_names = sorted(set(pools.values()))
    cals = _group_calendars(log, pool_names, "pool", calendar, pools)
    if isinstance(calendar, Mapping):  # names may be resources: their own calendar wins
        res_cals = {r: check_calendar(calendar[r], f"calendar[{r!r}]") if r in calendar
                    else cals[pools.get(r, r)] for r in names}
    else:
        res_cals = {r: cals[pools[r]] for r in names}
    st = inst.st
    t0, t1 = int(st.t_start.min()), int(st.end.max())
    busy = np.zeros(len(names))
    by_cal: dict[Calendar, list[int]] = {}
    for i, r in enumerate(names):
        by_cal.setdefault(res_cals[r], []).append(i)
    for cal, members in by_cal.items():
        sel = np.isin(codes, members)
        s = _clock(cal, st.t_start[sel], t0)
        e = _clock(cal, st.end[sel], t0)
        busy += _busy(codes[sel], s, e, len(names))
    window = np.array([t0, t1]).view("datetime64[ns]")
    avail_of = {cal: float(cal.working_seconds(pd.Timestamp(window[0], tz="UTC"), pd.Timestamp(window[1], tz="UTC")))
                for cal in by_cal}
    inst_count = np.bincount(codes[codes >= 0], minlength=len(names))
    res = pd.DataFrame(
        {
            "resource": names,
            "pool": [pools.get(r, r) for r in names],
            "instances": inst_count,
            "busy_s": busy,
            "available_s": [avail_of[res_cals[r]] for r in names],
            "calendar": [str(res_cals[r]) for r in names],
        }
    )
    res["utilization"] = np.where(res["available_s"] > 0, res["busy_s"] / res["available_s"].where(res["available_s"] > 0, 1), np.nan)
    g = res.groupby("pool", sort=True)
    pool = pd.DataFrame(
        {
            "members": g.size(),
            "instances": g["instances"].sum(),
            "busy_s": g["busy_s"].sum(),
            "available_s": g["available_s"].sum(),
            "calendar": g["calendar"].first(),
        }
    )
    pool["utilization"] = np.where(pool["available_s"] > 0, pool["busy_s"] / pool["available_s"].where(pool["available_s"] > 0, 1), np.nan)
    pool = pool.rename_axis("pool").reset_index()
    return res, pool, cals


def utilization(
    log: EventLog,
    *,
    by: Literal["resource", "pool"] = "pool",
    calendar: CalendarSpec = None,
) -> pd.DataFrame:
    """Busy time over available working time, per resource or per pool.

    Parameters
    ----------
    log : EventLog
    by : {"pool", "resource"}, default "pool"
    calendar : Calendar, str or dict, optional
        The working hours: None (default) learns one calendar from the whole log;
        ``"pool"`` learns one per pool; a Calendar or a text like
        ``"Mon-Fri 08:00-17:00"`` applies to everyone; a dict maps pool (or resource)
        names to calendars (others get the learnt log calendar). See the module docstring.

    Returns
    -------
    pandas.DataFrame
        ``pool, members, instances, busy_s, available_s, calendar, utilization`` (or
        ``resource, pool, ...`` per resource), busiest first. Busy time counts overlapping
        instances once and only working time; see the module docstring. ``utilization``
        lies in [0, 1]: a resource's busy time is a union of intervals inside the log's
        span, measured on the same calendar as its available time over that span (a pool
        sums both over its members).

    Examples
    --------
    >>> import leanops
    >>> u = leanops.utilization(leanops.datasets.load("production"))
    >>> bool(((u["utilization"] >= 0) & (u["utilization"] <= 1)).all())
    True
    """
    check_log(log)
    check_choice("by", by, ("resource", "pool"))
    res, pool, _ = _utilization_table(log, calendar=calendar)
    out = res if by == "resource" else pool
    if by == "resource":
        out = out[["resource", "pool", "instances", "busy_s", "available_s", "calendar", "utilization"]]
    else:
        out = out[["pool", "members", "instances", "busy_s", "available_s", "calendar", "utilization"]]
    return out.sort_values("utilization", ascending=False, kind="stable", na_position="last").reset_index(drop=True)


def handoffs(log: EventLog, *, by: Literal["resource", "pool"] = "resource") -> pd.DataFrame:
    """Work passing between resources (or pools) from one instance of a case to the next.

    Returns
    -------
    pandas.DataFrame
        ``source, target, count, cases, wait_mean_s, wait_median_s``: one row per ordered
        pair of different resources (pools) on consecutive instances of a case (by start),
        most frequent first. The wait is from the end of the source's instance to the start
        of the target's (0 where they overlap).

    Examples
    --------
    >>> import leanops
    >>> h = leanops.handoffs(leanops.datasets.load("production"))
    >>> bool((h["source"] != h["target"]).all())
    True
    """
    check_log(log)
    check_choice("by", by, ("resource", "pool"))
    inst = _instances(log)
    st = inst.st
    codes, names = _resource_codes(inst.log)
    if by == "pool":
        pools = _pools(log)
        pnames = sorted(set(pools.values()))
        pidx = {p: i for i, p in enumerate(pnames)}
        lut = np.array([pidx[pools[r]] for r in names] + [-1], dtype=np.int64)
        codes = lut[codes]  # -1 indexes the trailing -1
        names = pnames
    rows = np.flatnonzero(~st.first)
    src, dst = codes[rows - 1], codes[rows]
    keep = (src >= 0) & (dst >= 0) & (src != dst)
    rows, src, dst = rows[keep], src[keep], dst[keep]
    gap = np.maximum(inst.start[rows] - inst.end[rows - 1], 0.0)
    frame = pd.DataFrame({"s": src, "t": dst, "case": st.case[rows], "gap": gap})
    g = frame.groupby(["s", "t"], sort=False)
    out = pd.DataFrame(
        {"count": g.size(), "cases": g["case"].nunique(), "wait_mean_s": g["gap"].mean(), "wait_median_s": g["gap"].median()}
    ).reset_index()
    nm = np.array(names, dtype=object)
    out.insert(0, "source", nm[out.pop("s").to_numpy()] if len(out) else [])
    out.insert(1, "target", nm[out.pop("t").to_numpy()] if len(out) else [])
    return out.sort_values(["count", "source", "target"], ascending=[False, True, True], kind="stable").reset_index(drop=True)


def multitasking(log: EventLog) -> pd.DataFrame:
    """Resources holding overlapping instances (working on two things at once).

    Returns
    -------
    pandas.DataFrame
        ``resource, instances, overlapping, overlap_share, overlap_s, max_concurrent``:
        ``overlapping`` counts instances started before the same resource's earlier work
        had ended; ``overlap_s`` is the summed processing time minus the time the resource
        was busy at all; ``max_concurrent`` is the most instances held at once. Sorted by
        ``overlapping``, most first. Only instances with recorded starts are considered
        (estimated starts never overlap by construction).

    Examples
    --------
    >>> import leanops
    >>> m = leanops.multitasking(leanops.datasets.load("production"))
    >>> bool((m["max_concurrent"] >= 1).all())
    True
    """
    check_log(log)
    d = log.df
    start = d["start"].to_numpy(dtype="datetime64[ns]").view(np.int64)
    end = d["end"].to_numpy(dtype="datetime64[ns]").view(np.int64)
    codes, names = _resource_codes(log)
    rows = np.flatnonzero((codes >= 0) & (d["start"].notna().to_numpy()))
    n = len(names)
    if not len(rows):
        return pd.DataFrame({"resource": names, "instances": 0, "overlapping": 0, "overlap_share": 0.0,
                             "overlap_s": 0.0, "max_concurrent": 0})
    t0 = int(start[rows].min())
    s, e, c = (start[rows] - t0) / 1e9, (end[rows] - t0) / 1e9, codes[rows]
    order = np.lexsort((s, c))
    s, e, c = s[order], e[order], c[order]
    first = np.r_[True, c[1:] != c[:-1]]
    cm = _segment_cummax(e, first)
    prev_cover = np.where(first, -np.inf, np.r_[0.0, cm[:-1]])
    overl = ~first & (s < prev_cover)
    covered = np.maximum(e - np.maximum(s, np.where(first, s, prev_cover)), 0.0)
    dur = np.maximum(e - s, 0.0)
    # max concurrency: sweep +1 at starts, -1 at ends (ends first at equal times), per resource
    ev_c = np.r_[c, c]
    ev_t = np.r_[s, e]
    ev_d = np.r_[np.ones(len(s), dtype=np.int64), -np.ones(len(e), dtype=np.int64)]
    o = np.lexsort((ev_d, ev_t, ev_c))
    level = np.cumsum(ev_d[o])  # each resource's events net to zero, so levels do not leak
    max_conc = np.zeros(n, dtype=np.int64)
    np.maximum.at(max_conc, ev_c[o], level)
    inst = np.bincount(c, minlength=n)
    max_conc = np.where(inst > 0, np.maximum(max_conc, 1), 0)  # a zero-length instance still counts
    out = pd.DataFrame(
        {
            "resource": names,
            "instances": inst,
            "overlapping": np.bincount(c, weights=overl, minlength=n).astype(np.int64),
            "overlap_s": np.bincount(c, weights=dur, minlength=n) - np.bincount(c, weights=covered, minlength=n),
            "max_concurrent": max_conc,
        }
    )
    out.insert(3, "overlap_share", np.where(inst > 0, out["overlapping"] / np.maximum(inst, 1), 0.0))
    out["overlap_s"] = out["overlap_s"].clip(lower=0.0)
    return out.sort_values(["overlapping", "resource"], ascending=[False, True], kind="stable").reset_index(drop=True)
