"""Cases cut by the export window.

A log is a window onto a running process. Cases that began before its first day have
their first steps missing (``cut_at_start``); cases still open when it was exported have
their last steps missing (``open_at_end``). Both are short, and both make duration
statistics drift with the start date, so duration statistics leave them out by default.

A case is flagged when two things hold together:

- its first (last) timestamp lies within the *reach* of the log's first (last)
  timestamp, where the reach is the longest case duration seen: a case further from the
  edge would have been seen whole;
- its first (last) activity is not a regular start (end) activity, i.e. it begins
  (ends) fewer than 1% of the cases that lie clear of that edge (beyond the reach, or in
  the far half of the log when the reach is longer than that). With fewer than 10 such
  cases nothing is flagged at that edge.

Either test alone would be wrong: many whole cases start near the first day, and rare
first activities also occur in the middle of a log.

Examples
--------
>>> import pandas as pd
>>> from leanops.log import EventLog
>>> t = pd.Timestamp("2024-01-01", tz="UTC")
>>> rows = [("c1", "Pay", 1), ("c1", "Close", 2)]  # begins mid-process on the first day
>>> for i in range(2, 14):
...     rows += [(f"c{i}", "Open", 10 * i), (f"c{i}", "Pay", 10 * i + 1), (f"c{i}", "Close", 10 * i + 2)]
>>> rows += [("c99", "Open", 140), ("c99", "Pay", 141)]  # still open at export
>>> log = EventLog(pd.DataFrame(
...     [(c, a, t + pd.Timedelta(hours=h)) for c, a, h in rows], columns=["case_id", "activity", "end"]))
>>> b = case_boundaries(log)
>>> list(b.index[b["cut_at_start"]]), list(b.index[b["open_at_end"]])
(['c1'], ['c99'])
>>> boundary_counts(log)
{'cut_at_start': 1, 'open_at_end': 1}
>>> int(boundary_mask(log).sum()), int(boundary_mask(log, include_cut=True).sum())
(12, 14)
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .log import EventLog

__all__ = ["case_boundaries", "boundary_mask", "boundary_counts", "complete_cases", "boundary_flags", "MIN_SHARE"]

#: A start (end) activity is regular when it begins (ends) at least this share of the
#: cases that lie clear of the edge.
MIN_SHARE = 0.01

_CACHE_KEY = "boundaries"


#: Fewest cases clear of an edge to learn its regular activities from; with fewer, nothing
#: is flagged at that edge (a tiny log cannot tell an odd case from a cut one).
MIN_REFERENCE = 10


def _regular(labels: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Per case, whether its label is a regular one among the ``reference`` cases."""
    ref = labels[reference]
    if ref.size < MIN_REFERENCE:
        return np.ones(labels.size, dtype=bool)
    if labels.dtype.kind in "iu" and labels.size and labels.min() >= 0:
        # activity codes: counts by bincount and a lookup table (no sort, no isin)
        counts = np.bincount(ref, minlength=int(labels.max()) + 1)
        return (counts >= max(MIN_SHARE * ref.size, 1))[labels]
    values, counts = np.unique(ref, return_counts=True)
    return np.isin(labels, values[counts >= max(MIN_SHARE * ref.size, 1)])


def case_boundaries(log: EventLog) -> pd.DataFrame:
    """Per case, whether the export window cut it at the start or left it open at the end.

    Parameters
    ----------
    log : EventLog
        Any log; tiny logs (fewer than 10 cases clear of an edge) get no flag at that edge.

    Returns
    -------
    pandas.DataFrame
        One row per case (index ``case_id``), boolean columns ``cut_at_start`` and
        ``open_at_end``; a case may be both. Cached on the log: treat it as read-only.

    Examples
    --------
    >>> from leanops import datasets
    >>> b = case_boundaries(datasets.load("production"))
    >>> list(b.columns), len(b)
    (['cut_at_start', 'open_at_end'], 225)
    """
    cached = log._cache.get(_CACHE_KEY)
    if cached is not None:
        return cached
    cut, open_ = _flags(log)
    out = pd.DataFrame({"cut_at_start": cut, "open_at_end": open_}, index=log.case_ids)
    log._cache[_CACHE_KEY] = out
    return out


def _flags(log: EventLog) -> tuple[np.ndarray, np.ndarray]:
    """``(cut_at_start, open_at_end)`` per case, cached on the log (read-only): the
    counts and the mask need no index of case ids."""
    cached = log._cache.get("boundary_flags")
    if cached is not None:
        return cached
    if log.n_cases == 0:
        out = (np.zeros(0, dtype=bool), np.zeros(0, dtype=bool))
        log._cache["boundary_flags"] = out
        return out
    d = log.df
    starts = log.case_starts
    codes = log.case_codes
    t_end = _ns(d["end"])
    first, last = case_spans(log)
    act = d["activity"].cat.codes.to_numpy()
    first_act = act[starts]
    # The instance that finished last decides how a case ends (rows are sorted by start):
    # of the rows that end at their case's last end, the last row of each case
    # (in blocks of rows: no array of the case's last end as long as the log)
    block = 1 << 20
    hit = np.concatenate([np.flatnonzero(t_end[i:i + block] == last[codes[i:i + block]]) + i
                          for i in range(0, len(d), block)])
    hit_case = codes[hit]
    end_row = hit[np.r_[hit_case[1:] != hit_case[:-1], True]]
    last_act = act[end_row]
    out = boundary_flags(first, last, first_act, last_act)
    log._cache["boundary_flags"] = out
    return out


def _ns(col: pd.Series) -> np.ndarray:
    """A datetime column as int64 ns since the epoch (UTC); NaT is the int64 minimum."""
    return col.to_numpy(dtype="datetime64[ns]").view(np.int64)


def case_spans(log: EventLog) -> tuple[np.ndarray, np.ndarray]:
    """Per case (in ``log.case_ids`` order), its first timestamp (a start, or an end where
    the start is missing) and its last end, as int64 ns. Cached on the log (read-only):
    the boundaries and the role detection of :mod:`leanops.evidence` both need them."""
    cached = log._cache.get("case_spans")
    if cached is not None:
        return cached
    d = log.df
    starts = log.case_starts
    e = _ns(d["end"])
    s = _ns(d["start"])
    # log.sort_time() on int64 views: no pandas fillna over the whole column
    missing = s == np.iinfo(np.int64).min
    t = np.where(missing, e, s) if missing.any() else s
    out = (np.minimum.reduceat(t, starts), np.maximum.reduceat(e, starts)) if len(starts) else (
        np.zeros(0, np.int64), np.zeros(0, np.int64))
    log._cache["case_spans"] = out
    return out


def boundary_flags(first: np.ndarray, last: np.ndarray, first_act: np.ndarray,
                   last_act: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The rule of this module on per-case arrays (first and last timestamp as int64 ns,
    first and last activity as codes or labels): ``(cut_at_start, open_at_end)``. Shared
    by the in-memory and out-of-core engines."""
    if not len(first):
        return np.zeros(0, dtype=bool), np.zeros(0, dtype=bool)
    lo, hi = int(first.min()), int(last.max())
    # A case cut at the start shows up no later than its true duration after the first
    # timestamp, so the longest case seen bounds how far the edge reaches.
    reach = int((last - first).max())
    near_start = (first - lo) <= reach
    near_end = (hi - last) <= reach
    # Regular activities are learned from cases clear of the edge (at least the far half of
    # the span), so that cut cases cannot make their odd first activity look regular.
    clear = min(reach, (hi - lo) // 2)
    cut = near_start & ~_regular(first_act, (first - lo) > clear)
    open_ = near_end & ~_regular(last_act, (hi - last) > clear)
    return cut, open_


def boundary_mask(log: EventLog, *, include_cut: bool = False) -> np.ndarray:
    """A boolean per case (in ``log.case_ids`` order): True for the cases to keep.

    Parameters
    ----------
    log : EventLog
    include_cut : bool, default False
        Keep every case (the mask is all True) instead of leaving out the cut ones.
    """
    cut, open_ = _flags(log)
    if include_cut:
        return np.ones(len(cut), dtype=bool)
    return ~(cut | open_)


def boundary_counts(log: EventLog) -> dict[str, int]:
    """``{"cut_at_start": n, "open_at_end": m}``; a case cut at both ends counts in both."""
    cut, open_ = _flags(log)
    return {"cut_at_start": int(cut.sum()), "open_at_end": int(open_.sum())}


def complete_cases(log: EventLog, *, include_cut: bool = False) -> tuple[EventLog, dict[str, Any]]:
    """The log without boundary-cut cases, and what was left out.

    Returns
    -------
    (EventLog, dict)
        The kept log (``log`` itself when nothing is left out) and the counts of the
        cases left out, ``{"cut_at_start": n, "open_at_end": m}`` (zeros with
        ``include_cut=True``).
    """
    if include_cut:
        return log, {"cut_at_start": 0, "open_at_end": 0}
    counts = boundary_counts(log)
    keep = boundary_mask(log)
    if keep.all():
        return log, counts
    return log.select_cases(keep), counts
