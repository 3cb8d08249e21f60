"""Weekly working calendars for the engine: fast float arithmetic behind a small adapter.

The model stores a calendar as weekly intervals (seconds since Monday 00:00 local time)
plus a time zone, the shape of :class:`leanops.Calendar`. When ``leanops.calendar`` is
available, :func:`to_calendar` returns a real ``leanops.Calendar``; the engine always uses
:class:`FastCalendar`, which works on float seconds since the Unix epoch and is cheap to
call once per activity instance.

The time zone is applied as a fixed UTC offset taken at the simulation start (daylight
saving shifts are ignored); holidays are not simulated.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Sequence

import numpy as np
import pandas as pd

WEEK = 604800.0
_MONDAY0 = 345600.0  # 1970-01-05 00:00 UTC, the first Monday after the epoch

Intervals = tuple[tuple[int, int], ...]
ALWAYS: Intervals = ((0, 604800),)


def normalize_intervals(intervals: Sequence[Sequence[float]]) -> Intervals:
    """Sort, clip to the week and merge touching intervals (seconds rounded to whole)."""
    from ..calendar import _merge

    return _merge((round(a), round(b)) for a, b in intervals)


def tz_offset(tz: str, at: pd.Timestamp | None = None) -> float:
    """UTC offset of ``tz`` in seconds at instant ``at`` (default: now)."""
    if tz in ("UTC", "utc", "Z"):
        return 0.0
    t = pd.Timestamp.now(tz="UTC") if at is None else pd.Timestamp(at)
    if t.tzinfo is None:
        t = t.tz_localize("UTC")
    off = t.tz_convert(tz).utcoffset()
    return off.total_seconds() if off is not None else 0.0


def to_calendar(intervals: Intervals, tz: str = "UTC"):
    """A ``leanops.Calendar`` when the core module exists, else None."""
    try:
        from ..calendar import Calendar  # type: ignore[attr-defined]
    except ImportError:  # pragma: no cover - until leanops.calendar lands
        return None
    return Calendar(intervals=tuple(intervals), tz=tz)


def intervals_to_spec(intervals: Intervals) -> str:
    """A readable form, e.g. 'Mon 08:00-17:00; Tue 08:00-17:00'."""
    if intervals == ALWAYS:
        return "24/7"
    days = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    parts = []
    for a, b in intervals:
        d0, d1 = int(a // 86400), int((b - 1) // 86400)
        fa = f"{days[d0]} {int(a % 86400 // 3600):02d}:{int(a % 3600 // 60):02d}"
        eb = b - d1 * 86400
        fb = f"{int(eb // 3600):02d}:{int(eb % 3600 // 60):02d}"
        parts.append(f"{fa}-{fb}" if d0 == d1 else f"{fa}-{days[d1]} {fb}")
    return "; ".join(parts)


class FastCalendar:
    """Calendar arithmetic on float seconds since the epoch (UTC)."""

    __slots__ = ("always", "starts", "ends", "n", "offset", "weekly", "_a", "_b", "_c", "_d")

    def __init__(self, intervals: Intervals, offset: float = 0.0) -> None:
        iv = normalize_intervals(intervals)
        if not iv:
            raise ValueError("a calendar needs at least one working interval")
        # an interval ending at the week's end continues into one starting at Monday 00:00
        self.always = iv == ALWAYS
        self.starts = [float(a) for a, _ in iv]
        self.ends = [float(b) for _, b in iv]
        self.n = len(iv)
        self.offset = float(offset)
        self.weekly = float(sum(b - a for a, b in iv))
        # caches (absolute seconds): the last working interval found [_a, _b), and the last
        # off-shift stretch [_c, _d) seen, _d being the next opening
        self._a = self._b = self._c = self._d = 0.0


    def next_working(self, t: float) -> float:
        if self._a <= t < self._b or self.always:
            return t
        if self._c <= t < self._d:
            return self._d
        w = (t + self.offset - _MONDAY0) % WEEK
        i = bisect_right(self.ends, w)
        if i == self.n:
            nxt = t - w + WEEK + self.starts[0]
            self._c, self._d = t - w + (self.ends[-1] if self.n else 0.0), nxt
            return nxt
        s = self.starts[i]
        if w >= s:
            self._a, self._b = t - w + s, t - w + self.ends[i]
            return t
        self._c, self._d = t - w + (self.ends[i - 1] if i > 0 else 0.0), t - w + s
        return t - w + s

    def add_working(self, t: float, work: float) -> float:
        if self.always:
            return t + work
        if work <= 0:
            return self.next_working(t)
        if work > self.weekly:
            weeks = math.floor(work / self.weekly)
            if weeks * self.weekly == work:
                weeks -= 1
            t += weeks * WEEK
            work -= weeks * self.weekly
        starts, ends, n = self.starts, self.ends, self.n
        while True:
            w = (t + self.offset - _MONDAY0) % WEEK
            base = t - w
            i = bisect_right(ends, w)
            if i == n:
                base += WEEK
                i = 0
                w = starts[0]
            elif w < starts[i]:
                w = starts[i]
            avail = ends[i] - w
            if work <= avail:
                return base + w + work
            work -= avail
            t = base + ends[i]
            if i + 1 < n and starts[i + 1] == ends[i]:
                continue

    def working_seconds(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Working time in [a, b) for arrays of float epoch seconds."""
        a = np.asarray(a, dtype=float)
        b = np.asarray(b, dtype=float)
        if self.always:
            return np.maximum(b - a, 0.0)
        return np.maximum(self._cum(b) - self._cum(a), 0.0)

    def _cum(self, t: np.ndarray) -> np.ndarray:
        """Working seconds since the epoch's first Monday (monotone in t)."""
        x = t + self.offset - _MONDAY0
        weeks = np.floor(x / WEEK)
        w = x - weeks * WEEK
        st = np.asarray(self.starts)
        en = np.asarray(self.ends)
        cum_before = np.concatenate([[0.0], np.cumsum(en - st)])
        i = np.searchsorted(en, w, side="right")  # intervals fully before w: i
        inside = np.zeros_like(w)
        ok = i < self.n
        ii = np.minimum(i, self.n - 1)
        inside[ok] = np.clip(w[ok] - st[ii[ok]], 0.0, None)
        return weeks * self.weekly + cum_before[i] + inside
