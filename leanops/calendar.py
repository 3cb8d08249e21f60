"""Working calendars: weekly working hours plus holidays, and working-time arithmetic.

A :class:`Calendar` is a set of weekly working intervals in a local time zone, with whole
days off (holidays). It answers "is this instant working time?", "how much working time
lies between two instants?" and "when does a given amount of work, started now, end?".
Mining uses it for utilisation (busy time over available time), rca for unavailability
and the simulator for resource shifts, so it lives in the core next to the EventLog.

Arithmetic is done on the local wall clock: an instant in UTC is first converted to the
calendar's time zone. On the night a clock moves (daylight saving time) one working hour
is counted on the wall clock, so a shift that spans the change is off by that hour;
shifts rarely do.

Examples
--------
>>> import pandas as pd
>>> from leanops import Calendar
>>> cal = Calendar.parse("Mon-Fri 08:00-17:00")
>>> cal.weekly_hours
45.0
>>> str(cal)
'Mon-Fri 08:00-17:00'
>>> fri_4pm = pd.Timestamp("2024-01-05 16:00", tz="UTC")
>>> cal.add_working(fri_4pm, 2 * 3600)  # one hour on Friday, one on Monday
Timestamp('2024-01-08 09:00:00+0000', tz='UTC')
>>> cal.working_seconds(fri_4pm, pd.Timestamp("2024-01-08 09:00", tz="UTC"))
7200.0
"""

from __future__ import annotations

import bisect
import datetime as _dt
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd

from ._checks import check_choice, check_fraction, check_names
from .errors import InputError

__all__ = ["Calendar", "discover_calendar", "WEEK_S", "DAY_S"]

DAY_S = 86_400
WEEK_S = 7 * DAY_S
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_DAY_ALIASES = {
    **{d.lower(): i for i, d in enumerate(_DAYS)},
    **{d.lower(): i for i, d in enumerate(("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"))},
    "tues": 1, "wednes": 2, "thur": 3, "thurs": 3,
}
# Unix time 0 is a Thursday: 1970-01-05 00:00 is the first Monday.
_MONDAY0_S = 4 * DAY_S
_MAX_SAMPLE = 2_000_000
_TIME_RE = re.compile(r"^(\d{1,2})(?::(\d{2}))?(?::(\d{2}))?$")


def _merge(intervals: Iterable[tuple[float, float]]) -> tuple[tuple[int, int], ...]:
    """Sort, clip to the week and merge overlapping or touching intervals."""
    out: list[list[int]] = []
    for a, b in sorted((int(a), int(b)) for a, b in intervals):
        a, b = max(a, 0), min(b, WEEK_S)
        if b <= a:
            continue
        if out and a <= out[-1][1]:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return tuple((a, b) for a, b in out)


def _fmt_time(s: int) -> str:
    h, rem = divmod(int(s), 3600)
    m, sec = divmod(rem, 60)
    return f"{h:02d}:{m:02d}" + (f":{sec:02d}" if sec else "")


def _parse_time(text: str, part: str) -> int:
    m = _TIME_RE.match(text.strip())
    if not m:
        raise InputError(f"calendar: cannot read the time {text!r} in {part!r}; write times as HH:MM, e.g. 'Mon-Fri 08:00-17:00'.")
    h, mi, s = int(m.group(1)), int(m.group(2) or 0), int(m.group(3) or 0)
    if mi > 59 or s > 59 or h > 24 or (h == 24 and (mi or s)):
        raise InputError(f"calendar: {text!r} in {part!r} is not a time of day (00:00 to 24:00).")
    return h * 3600 + mi * 60 + s


def _parse_day(text: str, part: str) -> int:
    key = text.strip().lower()
    if key not in _DAY_ALIASES:
        raise InputError(
            f"calendar: unknown day {text.strip()!r} in {part!r}; use Mon, Tue, Wed, Thu, Fri, Sat, Sun "
            "(ranges like Mon-Fri, lists like Mon,Wed)."
        )
    return _DAY_ALIASES[key]


def _parse_days(text: str, part: str) -> list[int]:
    text = text.strip().rstrip(":").strip()
    if text.lower() in ("daily", "every day", "mon-sun", "all"):
        return list(range(7))
    if not text:
        raise InputError(f"calendar: {part!r} names no days; start each part with days, e.g. 'Mon-Fri 08:00-17:00'.")
    days: list[int] = []
    for item in text.replace(" ", "").split(","):
        if "-" in item:
            a, _, b = item.partition("-")
            i, j = _parse_day(a, part), _parse_day(b, part)
            days += [(i + k) % 7 for k in range((j - i) % 7 + 1)]
        else:
            days.append(_parse_day(item, part))
    return days


def _check_tz(tz: str) -> str:
    if not isinstance(tz, str) or not tz:
        raise InputError(f"calendar tz must be an IANA time zone name such as 'Europe/Paris'; got {tz!r}.")
    if tz.upper() == "UTC":
        return "UTC"
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise InputError(f"calendar tz {tz!r} is not a known time zone; use an IANA name such as 'Europe/Paris' or 'UTC'.") from None
    return tz


def _check_holidays(holidays: Iterable[Any]) -> tuple[_dt.date, ...]:
    out = set()
    for h in holidays or ():
        try:
            d = pd.Timestamp(h)
        except (TypeError, ValueError):
            raise InputError(f"calendar holidays must be dates (e.g. '2024-12-25'); got {h!r}.") from None
        if pd.isna(d):
            raise InputError(f"calendar holidays must be dates (e.g. '2024-12-25'); got {h!r}.")
        out.add(d.date())
    return tuple(sorted(out))


def _to_utc_ns(t: Any) -> tuple[np.ndarray, bool]:
    """UTC nanoseconds (int64 array) from a Timestamp, datetime, string or array-like."""
    scalar = isinstance(t, (pd.Timestamp, _dt.datetime, _dt.date, str, np.datetime64))
    if scalar:
        ts = pd.Timestamp(t)
        if ts.tzinfo is None:
            ts = ts.tz_localize("UTC")
        if pd.isna(ts):
            return np.array([np.iinfo(np.int64).min]), True
        return np.array([ts.tz_convert("UTC").value], dtype=np.int64), True
    idx = pd.DatetimeIndex(t.to_numpy() if isinstance(t, pd.Series) else t)
    if idx.tz is None:
        idx = idx.tz_localize("UTC")
    return idx.tz_convert("UTC").asi8.astype(np.int64, copy=False), False


@dataclass(frozen=True)
class Calendar:
    """Weekly working hours in a local time zone, with whole days off.

    Parameters
    ----------
    intervals : tuple of (int, int)
        Working intervals in seconds since Monday 00:00 local time, within ``[0, 604800]``.
        They are sorted and merged where they overlap or touch.
    tz : str, default "UTC"
        The calendar's time zone (an IANA name).
    holidays : tuple of datetime.date
        Whole days off, as local dates.

    Notes
    -----
    Working-time functions take tz-aware instants (naive ones are read as UTC) and return
    tz-aware UTC Timestamps. The float helpers :meth:`next_working_s` and
    :meth:`add_working_s` work in seconds since the Unix epoch and honour holidays too.

    Examples
    --------
    >>> from leanops import Calendar
    >>> cal = Calendar.parse("Mon-Fri 08:00-12:00,13:00-17:00; Sat 09:00-12:00")
    >>> cal.weekly_hours
    43.0
    >>> Calendar.parse(str(cal)) == cal
    True
    >>> Calendar.always().is_always
    True
    """

    intervals: tuple[tuple[int, int], ...]
    tz: str = "UTC"
    holidays: tuple[_dt.date, ...] = ()

    def __post_init__(self) -> None:
        try:
            raw = [(float(a), float(b)) for a, b in self.intervals]
        except (TypeError, ValueError):
            raise InputError(
                f"calendar intervals must be (start, end) pairs of seconds since Monday 00:00; got {self.intervals!r}."
            ) from None
        for a, b in raw:
            if not (0 <= a < b <= WEEK_S):
                raise InputError(
                    f"calendar interval ({a:g}, {b:g}) must satisfy 0 <= start < end <= {WEEK_S} (seconds since Monday 00:00)."
                )
        object.__setattr__(self, "intervals", _merge(raw))
        object.__setattr__(self, "tz", _check_tz(self.tz))
        object.__setattr__(self, "holidays", _check_holidays(self.holidays))
        a = np.array([i[0] for i in self.intervals], dtype=np.float64)
        b = np.array([i[1] for i in self.intervals], dtype=np.float64)
        lengths = b - a
        cum_end = np.cumsum(lengths)
        # Private precomputed arrays (not part of equality: they derive from the fields).
        object.__setattr__(self, "_a", a)
        object.__setattr__(self, "_b", b)
        object.__setattr__(self, "_cum_before", cum_end - lengths)
        object.__setattr__(self, "_cum_end", cum_end)
        object.__setattr__(self, "_total", float(cum_end[-1]) if len(cum_end) else 0.0)
        object.__setattr__(self, "_a_list", a.tolist())
        object.__setattr__(self, "_b_list", b.tolist())
        object.__setattr__(self, "_cb_list", (cum_end - lengths).tolist())
        object.__setattr__(self, "_ce_list", cum_end.tolist())
        object.__setattr__(self, "_zone", None if self.tz == "UTC" else ZoneInfo(self.tz))
        # Holidays as local day starts (seconds since epoch on the local wall clock) and
        # the weekly-pattern working time each one removes.
        hs = np.array(
            [(pd.Timestamp(d).value // 10**9) for d in self.holidays], dtype=np.float64
        )
        hw = self._w_plain(hs + DAY_S) - self._w_plain(hs) if len(hs) else np.zeros(0)
        object.__setattr__(self, "_hol_start", hs)
        object.__setattr__(self, "_hol_cum", np.r_[0.0, np.cumsum(hw)])
        object.__setattr__(self, "_hol_list", hs.tolist())

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Calendar):
            return NotImplemented
        return (self.intervals, self.tz, self.holidays) == (other.intervals, other.tz, other.holidays)

    def __hash__(self) -> int:
        return hash((self.intervals, self.tz, self.holidays))

    # ---------------------------------------------------------------- building
    @classmethod
    def parse(cls, spec: str, *, tz: str = "UTC", holidays: Iterable[Any] = ()) -> "Calendar":
        """Read a calendar from text.

        Parts are separated by ``;``; each names days then time ranges:
        ``"Mon-Fri 08:00-17:00"``, ``"Mon-Fri 08:00-12:00,13:00-17:00; Sat 09:00-12:00"``,
        ``"Mon,Wed 22:00-06:00"`` (a night shift, ending the next morning), or ``"24/7"``.

        Raises
        ------
        InputError
            Naming the part that cannot be read.

        Examples
        --------
        >>> Calendar.parse("Mon-Fri 08:00-17:00").intervals[:2]
        ((28800, 61200), (115200, 147600))
        """
        if isinstance(spec, Calendar):
            return spec
        if not isinstance(spec, str) or not spec.strip():
            raise InputError(f"calendar must be a text such as 'Mon-Fri 08:00-17:00' or '24/7'; got {spec!r}.")
        text = spec.strip()
        if text.lower() in ("24/7", "always", "24x7"):
            return cls(((0, WEEK_S),), tz=tz, holidays=tuple(holidays))
        intervals: list[tuple[int, int]] = []
        for part in (p.strip() for p in text.split(";")):
            if not part:
                continue
            m = re.search(r"\d", part)
            if m is None:
                raise InputError(f"calendar: {part!r} has no hours; write e.g. 'Mon-Fri 08:00-17:00'.")
            days = _parse_days(part[: m.start()], part)
            for rng in part[m.start():].replace(" ", "").split(","):
                a, sep, b = rng.partition("-")
                if not sep:
                    raise InputError(f"calendar: the range {rng!r} in {part!r} needs a start and an end, e.g. 08:00-17:00.")
                s, e = _parse_time(a, part), _parse_time(b, part)
                if s == e:
                    raise InputError(f"calendar: the range {rng!r} in {part!r} is empty.")
                for d in days:
                    base = d * DAY_S
                    if e > s:
                        intervals.append((base + s, base + e))
                    else:  # past midnight: into the next day (Sunday night wraps to Monday)
                        intervals.append((base + s, base + DAY_S))
                        nxt = ((d + 1) % 7) * DAY_S
                        intervals.append((nxt, nxt + e))
        if not intervals:
            raise InputError(f"calendar {spec!r} has no working time; write e.g. 'Mon-Fri 08:00-17:00' or '24/7'.")
        return cls(tuple(intervals), tz=tz, holidays=tuple(holidays))

    @classmethod
    def always(cls) -> "Calendar":
        """The 24/7 calendar (every instant is working time)."""
        return cls(((0, WEEK_S),))

    @property
    def is_always(self) -> bool:
        """True for the 24/7 calendar without holidays."""
        return self.intervals == ((0, WEEK_S),) and not self.holidays

    @property
    def weekly_hours(self) -> float:
        """Working hours per week (holidays aside)."""
        return self._total / 3600.0

    def __str__(self) -> str:
        if self.intervals == ((0, WEEK_S),):
            return "24/7"
        per_day: list[list[tuple[int, int]]] = [[] for _ in range(7)]
        for a, b in self.intervals:
            d = a // DAY_S
            while a < b:
                end = min(b, (d + 1) * DAY_S)
                per_day[d].append((a - d * DAY_S, end - d * DAY_S))
                a, d = end, d + 1
        parts: list[str] = []
        d = 0
        while d < 7:
            if not per_day[d]:
                d += 1
                continue
            e = d
            while e + 1 < 7 and per_day[e + 1] == per_day[d]:
                e += 1
            days = _DAYS[d] if e == d else f"{_DAYS[d]}-{_DAYS[e]}"
            parts.append(days + " " + ",".join(f"{_fmt_time(a)}-{_fmt_time(b)}" for a, b in per_day[d]))
            d = e + 1
        return "; ".join(parts)

    def __repr__(self) -> str:
        extra = f", tz={self.tz!r}" if self.tz != "UTC" else ""
        if self.holidays:
            extra += f", holidays={len(self.holidays)}"
        return f"<Calendar {str(self)!r}{extra}>"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly dict (``hours`` text, ``tz``, ``holidays`` as ISO dates)."""
        return {"hours": str(self), "tz": self.tz, "holidays": [d.isoformat() for d in self.holidays]}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Calendar":
        """The inverse of :meth:`to_dict`."""
        if not isinstance(d, Mapping) or "hours" not in d:
            raise InputError(f"calendar dict must have an 'hours' key (as written by Calendar.to_dict()); got {d!r}.")
        return cls.parse(d["hours"], tz=d.get("tz", "UTC"), holidays=d.get("holidays", ()))

    # ------------------------------------------------------ local clock helpers
    def _local_s(self, ns: np.ndarray) -> np.ndarray:
        """Seconds since the epoch on the local wall clock (float), from UTC ns."""
        if self._zone is None:
            return ns / 1e9
        idx = pd.DatetimeIndex(ns.view("datetime64[ns]")).tz_localize("UTC").tz_convert(self.tz).tz_localize(None)
        return idx.asi8 / 1e9

    def _utc_ns(self, local_s: np.ndarray) -> np.ndarray:
        """UTC ns from local wall-clock seconds (a gap in DST moves forward)."""
        ns = np.round(np.asarray(local_s, dtype=np.float64) * 1e9).astype(np.int64)
        if self._zone is None:
            return ns
        idx = pd.DatetimeIndex(ns.view("datetime64[ns]")).tz_localize(self.tz, ambiguous="NaT", nonexistent="shift_forward")
        out = idx.tz_convert("UTC").asi8.copy()
        bad = idx.isna()
        if bad.any():  # the repeated hour when clocks go back: take the first occurrence
            idx2 = pd.DatetimeIndex(ns[bad].view("datetime64[ns]")).tz_localize(self.tz, ambiguous=np.ones(int(bad.sum()), bool))
            out[bad] = idx2.tz_convert("UTC").asi8
        return out

    # ------------------------------------------- cumulative working time W(t)
    def _w_plain(self, x: np.ndarray) -> np.ndarray:
        """Working seconds from the Monday before 1970-01-05 to local time x (no holidays)."""
        u = np.asarray(x, dtype=np.float64) - _MONDAY0_S
        week = np.floor(u / WEEK_S)
        r = u - week * WEEK_S
        if not len(self._a):
            return np.zeros_like(u)
        i = np.searchsorted(self._a, r, side="right") - 1
        ic = np.clip(i, 0, None)
        within = np.where(i >= 0, self._cum_before[ic] + np.clip(r - self._a[ic], 0, self._b[ic] - self._a[ic]), 0.0)
        return week * self._total + within

    def _hol_before(self, x: np.ndarray) -> np.ndarray:
        """Working time removed by holidays before local time x."""
        if not len(self._hol_start):
            return np.zeros_like(np.asarray(x, dtype=np.float64))
        k = np.searchsorted(self._hol_start, x, side="right")  # holidays starting at or before x
        full = self._hol_cum[np.clip(k - 1, 0, None)]  # those wholly before the one holding x
        km = np.clip(k - 1, 0, None)
        inside = (k > 0) & (x < self._hol_start[km] + DAY_S)
        partial = np.where(inside, self._w_plain(x) - self._w_plain(self._hol_start[km]), 0.0)
        whole = np.where(k > 0, np.where(inside, full, self._hol_cum[np.clip(k, 0, None)]), 0.0)
        return whole + partial

    def _w(self, x: np.ndarray) -> np.ndarray:
        return self._w_plain(x) - self._hol_before(x)

    def _in_holiday(self, x: np.ndarray) -> np.ndarray:
        if not len(self._hol_start):
            return np.zeros(np.shape(x), dtype=bool)
        k = np.searchsorted(self._hol_start, x, side="right") - 1
        return (k >= 0) & (x < self._hol_start[np.clip(k, 0, None)] + DAY_S)

    def _inv_plain(self, target: np.ndarray, *, left: bool) -> np.ndarray:
        """Local time where W_plain reaches target: the earliest (left) or latest (right) one."""
        t = np.asarray(target, dtype=np.float64)
        if left:  # earliest x with W(x) >= t: lands on a closing time, not the next opening
            week = np.ceil(t / self._total) - 1
            rem = t - week * self._total
            i = np.searchsorted(self._cum_end, rem, side="left")
        else:  # latest x with W(x) <= t: the next opening when t sits on a closing time
            week = np.floor(t / self._total)
            rem = t - week * self._total
            i = np.searchsorted(self._cum_end, rem, side="right")
        i = np.clip(i, 0, len(self._a) - 1)
        return _MONDAY0_S + week * WEEK_S + self._a[i] + (rem - self._cum_before[i])

    def _next_open_local(self, x: np.ndarray) -> np.ndarray:
        """The first local instant >= x that is working time (holidays skipped)."""
        x = np.asarray(x, dtype=np.float64).copy()
        for _ in range(len(self._hol_start) + 2):
            y = np.where(self._working_local(x, holidays=False), x, self._inv_plain(self._w_plain(x), left=False))
            hol = self._in_holiday(y)
            if not hol.any():
                return y
            k = np.searchsorted(self._hol_start, y, side="right") - 1
            x = np.where(hol, self._hol_start[np.clip(k, 0, None)] + DAY_S, y)
        return x

    def _working_local(self, x: np.ndarray, *, holidays: bool = True) -> np.ndarray:
        u = np.asarray(x, dtype=np.float64) - _MONDAY0_S
        r = u - np.floor(u / WEEK_S) * WEEK_S
        if not len(self._a):
            return np.zeros(np.shape(u), dtype=bool)
        i = np.searchsorted(self._a, r, side="right") - 1
        ok = (i >= 0) & (r < self._b[np.clip(i, 0, None)])
        return ok & ~self._in_holiday(x) if holidays else ok

    def _add_local(self, x: np.ndarray, seconds: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        s = np.asarray(seconds, dtype=np.float64)
        if self._total <= 0:
            raise InputError("calendar has no working time, so work can never finish; give it working hours.")
        out = np.where(s > 0, x, self._next_open_local(x))
        if not (s > 0).any():
            return out
        target = self._w(x) + s
        if not len(self._hol_start):
            return np.where(s > 0, self._inv_plain(target, left=True), out)
        # Fixed point: W_plain(y) = target + the working time of every holiday that begins
        # before y. Each round can only add holidays, so it ends within len(holidays) rounds.
        y = self._inv_plain(target, left=True)
        for _ in range(len(self._hol_start) + 1):
            k = np.searchsorted(self._hol_start, y, side="left")
            y2 = self._inv_plain(target + self._hol_cum[k], left=True)
            if np.array_equal(y2, y):
                break
            y = y2
        return np.where(s > 0, y, out)

    # ---------------------------------------------------------------- public
    def is_working(self, t: Any) -> bool | np.ndarray:
        """Whether instant(s) ``t`` fall in working time (a bool, or a bool array)."""
        ns, scalar = _to_utc_ns(t)
        out = self._working_local(self._local_s(ns))
        return bool(out[0]) if scalar else out

    def working_seconds(self, a: Any, b: Any) -> float | np.ndarray:
        """Working seconds in ``[a, b)`` (0 where ``b <= a``); vectorised over arrays/Series.

        Examples
        --------
        >>> import pandas as pd
        >>> cal = Calendar.parse("Mon-Fri 09:00-17:00")
        >>> cal.working_seconds(pd.Timestamp("2024-01-01 08:00", tz="UTC"), pd.Timestamp("2024-01-02 10:00", tz="UTC"))
        32400.0
        """
        na, sa = _to_utc_ns(a)
        nb, sb = _to_utc_ns(b)
        if self.is_always:
            out = np.maximum(nb - na, 0) / 1e9
        else:
            out = np.maximum(self._w(self._local_s(nb)) - self._w(self._local_s(na)), 0.0)
        return float(out[0]) if (sa and sb) else out

    def working_clock(self, t: Any) -> float | np.ndarray:
        """Working seconds from a fixed origin (Monday 1970-01-05, local) to ``t``.

        A monotone clock that only runs in working time: the difference of two readings is
        :meth:`working_seconds`. Vectorised; handy to turn many durations into working time
        at once.
        """
        ns, scalar = _to_utc_ns(t)
        out = ns / 1e9 - _MONDAY0_S if self.is_always else self._w(self._local_s(ns))
        return float(out[0]) if scalar else out

    def add_working(self, t: Any, seconds: float) -> pd.Timestamp:
        """The instant after ``seconds`` of working time from ``t`` (a closing time, when it ends one).

        Zero seconds give :meth:`next_working`.
        """
        ns, _ = _to_utc_ns(t)
        s = float(seconds)
        if not math.isfinite(s) or s < 0:
            raise InputError(f"seconds must be a finite number >= 0; got {seconds!r}.")
        out = self._utc_ns(self._add_local(self._local_s(ns), np.array([s])))
        return pd.Timestamp(int(out[0]), tz="UTC")

    def next_working(self, t: Any) -> pd.Timestamp:
        """``t`` itself if it is working time, else the next opening."""
        ns, _ = _to_utc_ns(t)
        if self.is_always:
            return pd.Timestamp(int(ns[0]), tz="UTC")
        if self._total <= 0:
            raise InputError("calendar has no working time, so there is no next working instant.")
        x = self._local_s(ns)
        y = self._next_open_local(x)
        out = ns if y[0] == x[0] else self._utc_ns(y)
        return pd.Timestamp(int(out[0]), tz="UTC")

    # --------------------------------------- fast float helpers (simulation)
    def _offset_s(self, t_s: float) -> float:
        """UTC offset (seconds) of the calendar's zone at UTC instant t_s."""
        return _dt.datetime.fromtimestamp(t_s, self._zone).utcoffset().total_seconds()

    def _to_local_s(self, t_s: float) -> float:
        return t_s if self._zone is None else t_s + self._offset_s(t_s)

    def _from_local_s(self, x: float) -> float:
        if self._zone is None:
            return x
        guess = x - self._offset_s(x)
        return x - self._offset_s(guess)

    def _scalar_working_local(self, x: float) -> bool:
        r = (x - _MONDAY0_S) % WEEK_S
        i = bisect.bisect_right(self._a_list, r) - 1
        if i < 0 or r >= self._b_list[i]:
            return False
        if self._hol_list:
            k = bisect.bisect_right(self._hol_list, x) - 1
            if k >= 0 and x < self._hol_list[k] + DAY_S:
                return False
        return True

    def next_working_s(self, t_s: float) -> float:
        """:meth:`next_working` on float seconds since the Unix epoch (UTC); holidays honoured."""
        if self._total >= WEEK_S and not self._hol_list:
            return t_s
        x = self._to_local_s(t_s)
        if self._scalar_working_local(x):
            return t_s
        return float(self._from_local_s(float(self._next_open_local(np.array([x]))[0])))

    def add_working_s(self, t_s: float, seconds: float) -> float:
        """:meth:`add_working` on float seconds since the Unix epoch (UTC); holidays honoured."""
        if self._total >= WEEK_S and not self._hol_list:
            return t_s + seconds
        if seconds <= 0:
            return self.next_working_s(t_s)
        x = self._to_local_s(t_s)
        if not self._hol_list:
            # pure-Python fast path: W(x) + seconds, inverted on the weekly pattern
            u = x - _MONDAY0_S
            week = math.floor(u / WEEK_S)
            r = u - week * WEEK_S
            i = bisect.bisect_right(self._a_list, r) - 1
            w = week * self._total + (
                self._cb_list[i] + min(max(r - self._a_list[i], 0.0), self._b_list[i] - self._a_list[i]) if i >= 0 else 0.0
            )
            target = w + seconds
            wk = math.ceil(target / self._total) - 1
            rem = target - wk * self._total
            j = min(bisect.bisect_left(self._ce_list, rem), len(self._a_list) - 1)
            y = _MONDAY0_S + wk * WEEK_S + self._a_list[j] + (rem - self._cb_list[j])
            return self._from_local_s(y)
        return float(self._from_local_s(float(self._add_local(np.array([x]), np.array([seconds]))[0])))


# --------------------------------------------------------------- discovery
def _instants(starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """The instants a calendar is learnt from (int64 ns): the recorded starts followed by
    the ends, each end less 1 ns (an end on the hour belongs to the hour before). Above
    ``_MAX_SAMPLE`` of them, a regular sample (every k-th; plenty to place hours in a
    week), taken from each part (no copy of the whole log first). Every engine's."""
    total = len(starts) + len(ends)
    k = -(-total // _MAX_SAMPLE) if total > _MAX_SAMPLE else 1
    return np.concatenate([starts[::k], ends[(-len(starts)) % k::k] - 1])


def _slot_counts(ns: np.ndarray, tz: str) -> np.ndarray:
    """Counts per (weekday, hour) slot, shape (7, 24), of UTC ns instants seen in ``tz``."""
    if not len(ns):
        return np.zeros((7, 24), dtype=np.int64)
    if tz != "UTC":
        ns = pd.DatetimeIndex(ns.view("datetime64[ns]")).tz_localize("UTC").tz_convert(tz).tz_localize(None).asi8
    s = ns // 10**9 - _MONDAY0_S
    slot = (s % WEEK_S) // 3600
    return np.bincount(slot.astype(np.int64), minlength=168).reshape(7, 24)


def _calendar_from_counts(counts: np.ndarray, *, min_share: float, tz: str) -> Calendar | None:
    """Working hours from slot counts, or None if there is nothing to learn from."""
    flat = counts.ravel().astype(np.float64)
    total = flat.sum()
    if total <= 0:
        return None
    order = np.argsort(-flat, kind="stable")
    cum = np.cumsum(flat[order])
    n_core = int(np.searchsorted(cum, min_share * total, side="left")) + 1
    core = flat[order[:n_core]]
    ref = float(np.median(core))
    working = (flat >= max(1.0, 0.05 * ref)).reshape(7, 24)
    working.ravel()[order[:n_core]] = True
    # A quiet hour between two working hours of the same day (a lunch lull) is kept working
    # as long as something happened in it; an hour with nothing at all is a real break.
    for d in range(7):
        idx = np.flatnonzero(working[d])
        if len(idx) > 1:
            gap = np.zeros(24, dtype=bool)
            gap[idx[0]: idx[-1] + 1] = True
            working[d] |= gap & (counts[d] > 0)
    intervals = [(d * DAY_S + h * 3600, d * DAY_S + (h + 1) * 3600) for d in range(7) for h in range(24) if working[d, h]]
    return Calendar(tuple(intervals), tz=tz)


def discover_calendar(
    log: Any,
    *,
    resource: str | None = None,
    by: Literal["log", "resource", "pool"] = "log",
    min_share: float = 0.9,
    tz: str | None = None,
    pools: Mapping[str, str] | None = None,
    min_events: int = 50,
) -> Calendar | dict[str, Calendar]:
    """Learn weekly working hours from when activity instances start and end.

    Every start and end time is placed in its (weekday, hour) slot of the week, in the
    local time zone. The busiest slots that together hold ``min_share`` of all those
    instants form the core; any slot with at least 5% of the core's median count is
    working time too, and so is a quiet (but not empty) hour between two working hours
    of the same day. Working hours come out in whole hours. An end time exactly on the
    hour counts for the hour before it (work ending at 17:00 was done before 17:00). On
    very large logs a regular sample of two million instants is used.

    Parameters
    ----------
    log : EventLog
    resource : str, optional
        Learn the calendar of this one resource.
    by : {"log", "resource", "pool"}, default "log"
        One calendar for the whole log, or a dict of calendars per resource or per pool.
        A resource or pool with fewer than ``min_events`` instants gets the log's calendar.
    min_share : float, default 0.9
        Share of instants the core working slots must hold.
    tz : str, optional
        Time zone of the calendar; by default the log's (``log.tz``).
    pools : mapping resource -> pool, optional
        For ``by="pool"``; by default resources are grouped by the activities they perform
        (see ``leanops.mining.discover_pools``).
    min_events : int, default 50
        Fewest instants to learn a calendar from.

    Returns
    -------
    Calendar, or dict of name -> Calendar (for ``by="resource"`` or ``"pool"``)

    Examples
    --------
    >>> import leanops
    >>> log = leanops.datasets.load("production")
    >>> cal = leanops.discover_calendar(log)
    >>> 0 < cal.weekly_hours <= 168
    True
    """
    from .log import EventLog

    if not isinstance(log, EventLog):
        raise InputError(f"log must be a leanops.EventLog; got {type(log).__name__}. Read one with leanops.read(path).")
    check_choice("by", by, ("log", "resource", "pool"))
    min_share = check_fraction("min_share", min_share, allow_none=False)
    tz = _check_tz(tz if tz is not None else (log.tz if isinstance(log.tz, str) and log.tz else "UTC"))
    d = log.df
    start = d["start"].to_numpy(dtype="datetime64[ns]").view(np.int64)
    end = d["end"].to_numpy(dtype="datetime64[ns]").view(np.int64)
    nat = np.iinfo(np.int64).min
    has = start != nat
    every = bool(has.all())
    res = d["resource"]

    def learn(mask: np.ndarray | None) -> Calendar | None:
        s = (start if every else start[has]) if mask is None else start[has & mask]
        e = end if mask is None else end[mask]
        if len(s) + len(e) < (min_events if mask is not None else 1):
            return None
        return _calendar_from_counts(_slot_counts(_instants(s, e), tz), min_share=min_share, tz=tz)

    if resource is not None:
        check_names("resource", [resource], log.resources, what="resource")
        cal = learn((res == resource).fillna(False).to_numpy(dtype=bool))
        return cal if cal is not None else (learn(None) or Calendar.always())
    base = learn(None) or Calendar.always()
    if by == "log":
        return base
    rv = res.to_numpy(dtype=object, na_value=None)
    if by == "resource":
        groups = {r: r for r in log.resources}
    else:
        if pools is None:
            from ._pools import resource_model

            pools = resource_model(log).pools
        groups = {str(r): str(p) for r, p in pools.items()}
    names = sorted(set(groups.values()))
    keys = pd.Series(rv).map(groups).to_numpy(dtype=object)
    out: dict[str, Calendar] = {}
    for name in names:
        cal = learn(keys == name)
        out[name] = cal if cal is not None else base
    return out
