"""The one duration parser: user text such as ``'3d'``, ``'1d12h'``, ``'90min'`` to seconds.

Every option or file field that takes a duration reads it here (RCA targets ``sla:3d``,
SOP rules, scenario changes, the simulation's SLA and horizon), so they all accept the
same forms and reject bad ones with the same message (the shape of
:func:`leanops._checks.check_choice`: the name, what was expected, what was got).
"""

from __future__ import annotations

import datetime as _dt
import math
import re
from typing import Any

from .errors import InputError

__all__ = ["parse_duration"]

_UNITS = {
    "w": 604800.0, "week": 604800.0, "weeks": 604800.0,
    "d": 86400.0, "day": 86400.0, "days": 86400.0,
    "h": 3600.0, "hr": 3600.0, "hrs": 3600.0, "hour": 3600.0, "hours": 3600.0,
    "m": 60.0, "min": 60.0, "mins": 60.0, "minute": 60.0, "minutes": 60.0,
    "s": 1.0, "sec": 1.0, "secs": 1.0, "second": 1.0, "seconds": 1.0,
}
_PART = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([a-z]+)\s*")


def _from_text(text: str) -> float:
    """Seconds in ``text``, NaN where it is not a duration."""
    t = text.strip().lower()
    if not t:
        return math.nan
    try:
        return float(t)
    except ValueError:
        pass
    pos, total = 0, 0.0
    while pos < len(t):
        m = _PART.match(t, pos)
        if not m or m.group(2) not in _UNITS:
            break
        total += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    if pos == len(t):
        return total
    # ISO 8601 ('P3DT4H'), clock ('01:30:00') and pandas' other forms ('1 days 02:00:00')
    import pandas as pd

    try:
        return float(pd.Timedelta(text.strip().upper() if t.startswith("p") else text.strip()).total_seconds())
    except (TypeError, ValueError, OverflowError):
        return math.nan


def parse_duration(value: Any, *, name: str = "duration", positive: bool = False,
                   error: type[Exception] = InputError) -> float:
    """Seconds in a duration: a number of seconds, a ``timedelta``, or text such as
    ``'30s'``, ``'90min'``, ``'2.5h'``, ``'1d12h'``, ``'2 weeks'``, ``'45'`` (seconds),
    ISO 8601 ``'P3D'`` or a clock ``'01:30:00'``.

    Parameters
    ----------
    value : number, str or timedelta
    name : str
        What the value is, for the message (``'sla'``, ``'rules[2]: within'``).
    positive : bool, default False
        Reject 0 too (negative, NaN and infinite durations are always rejected).
    error : exception class, default InputError
        Raised for a bad value (scenario files raise ``ScenarioError``).

    Examples
    --------
    >>> parse_duration("1d12h"), parse_duration("90min"), parse_duration("45"), parse_duration(30)
    (129600.0, 5400.0, 45.0, 30.0)
    >>> parse_duration("P2D"), parse_duration("01:30:00")
    (172800.0, 5400.0)
    >>> parse_duration("soon", name="sla")
    Traceback (most recent call last):
    ...
    leanops.errors.InputError: sla must be a duration like '30s', '90min', '4h' or '1d12h', or a number of seconds >= 0; got 'soon'.
    """
    if isinstance(value, bool):
        s = math.nan
    elif isinstance(value, _dt.timedelta):  # pandas.Timedelta too
        s = value.total_seconds()
    elif isinstance(value, str):
        s = _from_text(value)
    else:
        try:
            s = float(value)
        except (TypeError, ValueError):
            s = math.nan
    if not (math.isfinite(s) and (s > 0 if positive else s >= 0)):
        raise error(f"{name} must be a duration like '30s', '90min', '4h' or '1d12h', or a number of seconds "
                    f"{'> 0' if positive else '>= 0'}; got {value!r}.")
    return float(s)
