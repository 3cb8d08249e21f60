"""Per-instance step arrays shared by the graph, performance and bottleneck code.

One pass over the sorted log gives, for every activity instance (row), its case, its
directly preceding instance in the case and its enablement time. All times are int64
nanoseconds since the epoch (UTC); ``NAT`` marks a missing value.

Rules (documented in the user docs):

* Instances in a case are ordered by start, falling back to end (the EventLog's order).
* The *directly-follows* predecessor of an instance is the row before it in its case.
* The *enablement* of an instance is the latest end among all earlier instances of its
  case (a running maximum). When that lies after the instance's own start, the two
  overlap (parallel work) and the instance is taken as enabled at its start: waits are
  never negative.
* Where an instance has no start time, its waiting is measured end to end
  (``has_start`` is False and ``t_start`` falls back to ``end``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..log import EventLog

__all__ = ["Steps", "steps", "NAT", "case_cover"]

NAT = np.iinfo(np.int64).min


@dataclass(frozen=True)
class Steps:
    """Arrays aligned with ``log.df`` rows."""

    case: np.ndarray  # int64 case code
    activity: np.ndarray  # int32 activity code into ``activities`` (-1 never occurs)
    activities: list[str]
    first: np.ndarray  # bool: first instance of its case
    last: np.ndarray  # bool: last instance of its case
    prev: np.ndarray  # int64 row of the directly preceding instance, -1 for the first
    has_start: np.ndarray  # bool
    t_start: np.ndarray  # int64 ns: start, or end where the start is missing
    end: np.ndarray  # int64 ns
    prev_end: np.ndarray  # int64 ns: end of the directly preceding instance, NAT for the first
    enabled: np.ndarray  # int64 ns: enablement (see module doc), NAT for the first

    @property
    def service_ns(self) -> np.ndarray:
        """Processing time in ns; NAT-free only where ``has_start``."""
        return np.where(self.has_start, self.end - self.t_start, 0)

    @property
    def wait_ns(self) -> np.ndarray:
        """Waiting from enablement to start (end to end where the start is missing); 0 for first."""
        ref = np.where(self.has_start, self.t_start, self.end)
        w = np.where(self.first, 0, ref - np.where(self.first, ref, self.enabled))
        return np.maximum(w, 0)


def steps(log: EventLog) -> Steps:
    """Compute (and cache on the log) the per-instance step arrays."""
    cached = log._cache.get("steps")
    if cached is not None:
        return cached
    d = log.df
    n = len(d)
    case = log.case_codes
    act_cat = d["activity"].cat
    activity = act_cat.codes.to_numpy().astype(np.int32, copy=False)
    activities = [str(c) for c in act_cat.categories]
    start = d["start"].to_numpy(dtype="datetime64[ns]").view(np.int64)
    end = d["end"].to_numpy(dtype="datetime64[ns]").view(np.int64)
    has_start = start != NAT
    t_start = np.where(has_start, start, end)
    first = np.ones(n, dtype=bool)
    last = np.ones(n, dtype=bool)
    if n > 1:
        same = case[1:] == case[:-1]
        first[1:] = ~same
        last[:-1] = ~same
    prev = np.where(first, -1, np.arange(n) - 1)
    prev_end = np.where(first, NAT, np.r_[NAT, end[:-1]] if n else end)
    if n:
        starts = np.flatnonzero(first)
        cover = case_cover(first, t_start, end, _same_case_masks(case, int(np.diff(np.r_[starts, n]).max())))
        enabled = np.where(first, NAT, np.minimum(cover, t_start))
    else:
        enabled = np.zeros(0, dtype=np.int64)
    out = Steps(case, activity, activities, first, last, prev, has_start, t_start, end, prev_end, enabled)
    log._cache["steps"] = out
    return out


def case_cover(first: np.ndarray, t_start: np.ndarray, end: np.ndarray, masks: list[np.ndarray]) -> np.ndarray:
    """Per row (rows grouped by case, in instance order), the latest end among the earlier
    instances of its case; its own start for the first. Capped at the instance's start,
    this is its enablement (the rule above). The one implementation of the rule: the
    step table, the in-memory timing arrays and every engine's instance batch use it.
    ``masks`` is :func:`_same_case_masks` of the rows' cases."""
    cover = _segment_prefix_max(end, masks)
    cover[1:] = cover[:-1]  # (numpy moves an overlapping copy safely, without a temporary)
    cover[first] = t_start[first]
    return cover


def _same_case_masks(case: np.ndarray, max_len: int, first: np.ndarray | None = None) -> list[np.ndarray]:
    """For strides k = 1, 2, 4, ... below ``max_len``: whether row i and row i - k share a case.

    With ``first`` (the rows that begin a case), from booleans only: rows i and i - 2k
    share a case when i, i - k and i - k, i - 2k do (no pass over the int64 case codes).
    """
    masks = []
    if first is not None:
        if max_len > 1:
            m = ~first[1:]
            masks.append(m)
            k = 2
            while k < max_len:
                h = k // 2
                m = m[h:] & m[:-h]
                masks.append(m)
                k *= 2
        return masks
    k = 1
    while k < max_len:
        masks.append(case[k:] == case[:-k])
        k *= 2
    return masks


def _segment_prefix_max(values: np.ndarray, masks: list[np.ndarray]) -> np.ndarray:
    """Running maximum within each case (rows grouped by case), exact for int64.

    The running maximum differs from a row's own value only from a row below the one
    before it (same case) on: those rows are raised from their predecessor, then the
    rows after the raised ones, as long as some row is raised (most logs: a few short
    chains, no pass over the whole log). Long chains left after a few rounds go to
    :func:`_hillis_steele` (a partly raised column has the same running maximum).
    """
    out = values.copy()
    if not masks:
        return out
    same = masks[0]  # row i + 1 is in the case of row i
    cand = np.flatnonzero(same & (values[1:] < values[:-1])) + 1
    n = len(out)
    for _ in range(32):
        if not len(cand):
            return out
        up = np.maximum(out[cand], out[cand - 1])
        out[cand] = up
        nxt = cand + 1
        ok = nxt < n
        nxt, up = nxt[ok], up[ok]
        cand = nxt[same[nxt - 1] & (out[nxt] < up)]
    return _hillis_steele(out, masks) if len(cand) else out


def _hillis_steele(values: np.ndarray, masks: list[np.ndarray]) -> np.ndarray:
    """:func:`_segment_prefix_max` by a Hillis-Steele scan: after the pass with stride k
    every row holds the maximum of the 2k rows ending at it (within its case), so
    ceil(log2(longest case)) passes suffice."""
    out = values.copy()
    buf = np.empty_like(out)  # (one buffer for every pass: numpy would allocate one per pass for the overlap)
    for j, same in enumerate(masks):
        k = 1 << j
        np.maximum(out[k:], out[:-k], out=buf[k:])
        np.copyto(out[k:], buf[k:], where=same)
    return out
