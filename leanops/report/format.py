"""Numbers with their units, for people: ``3.2 h``, ``25.0 %``, ``1,204 cases``.

Durations are seconds everywhere in leanops; they are shown in the largest unit that
keeps the number readable.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from .._format import duration as _duration

__all__ = ["duration", "percent", "count", "per_day", "number", "value"]


def _missing(x: Any) -> bool:
    if x is None:
        return True
    try:
        return bool(pd.isna(x))
    except (TypeError, ValueError):
        return False


def duration(seconds: Any) -> str:
    """A duration in seconds, e.g. ``42 s``, ``12.5 min``, ``3.2 h``, ``4.1 d``.

    The report's name for :func:`leanops._format.duration` (the one formatter).

    >>> duration(42), duration(750), duration(11_520), duration(354_240)
    ('42 s', '12.5 min', '3.2 h', '4.1 d')
    """
    return _duration(seconds)


def percent(fraction: Any, *, digits: int = 1) -> str:
    """A fraction as a percentage: ``0.253`` -> ``25.3 %``."""
    if _missing(fraction):
        return "–"
    return f"{float(fraction) * 100:.{digits}f} %"


def count(n: Any, unit: str = "") -> str:
    """An integer with thousands separators and an optional unit (``1,204 cases``)."""
    if _missing(n):
        return "–"
    text = f"{int(round(float(n))):,}"
    return f"{text} {unit}".rstrip()


def number(x: Any, *, digits: int = 2) -> str:
    """A plain number, with thousands separators and at most ``digits`` decimals."""
    if _missing(x):
        return "–"
    f = float(x)
    if math.isfinite(f) and f == int(f) and abs(f) < 1e15:
        return f"{int(f):,}"
    return f"{f:,.{digits}f}"


def per_day(x: Any, unit: str = "cases") -> str:
    """A rate: ``2.9 cases/day``."""
    if _missing(x):
        return "–"
    f = float(x)
    return f"{f:,.1f} {unit}/day" if abs(f) >= 1 else f"{f:.2f} {unit}/day"


def value(x: Any, unit: str) -> str:
    """Format ``x`` for a table column of the given :data:`~leanops.report.model.Unit`."""
    if unit == "duration":
        return duration(x)
    if unit == "percent":
        return percent(x)
    if unit in ("count", "cases", "instances"):
        return count(x)  # the column header names what is counted
    if unit == "per_day":
        return per_day(x)
    if unit == "number":
        return number(x)
    if unit == "ratio":
        return "–" if _missing(x) else f"{float(x):.3f}"
    if unit == "pvalue":
        return "–" if _missing(x) else ("< 0.001" if float(x) < 0.001 else f"{float(x):.3f}")
    if unit == "datetime":
        return "–" if _missing(x) else pd.Timestamp(x).strftime("%Y-%m-%d %H:%M")
    if isinstance(x, (bool, np.bool_)):
        return "yes" if x else "no"
    return "–" if _missing(x) else str(x)
