"""The one duration formatter: seconds shown in the largest unit that keeps them readable.

Every human-readable duration in leanops (CLI tables, sentences, maps, reports) goes
through :func:`duration`, so 100,000 s reads ``1.2 d`` everywhere.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["duration"]


def duration(seconds: Any, *, sign: bool = False, missing: str = "–") -> str:
    """A duration in seconds, e.g. ``42 s``, ``12.5 min``, ``3.2 h``, ``4.1 d``.

    Parameters
    ----------
    seconds : float or None
        The duration. ``None``, NaN and infinities print as ``missing``.
    sign : bool, default False
        Prefix positive values with ``+`` (for effects and deltas).
    missing : str, default "–"
        What to print when there is no value.

    Examples
    --------
    >>> duration(42), duration(750), duration(11_520), duration(100_000)
    ('42 s', '12.5 min', '3.2 h', '1.2 d')
    >>> duration(-5400, sign=True), duration(5400, sign=True), duration(None)
    ('-1.5 h', '+1.5 h', '–')
    """
    try:
        s = float(seconds)
    except (TypeError, ValueError):
        return missing
    if not math.isfinite(s):
        return missing
    a = abs(s)
    prefix = "-" if s < 0 else ("+" if sign and s > 0 else "")
    if a < 60:
        body = f"{a:.0f} s" if a >= 10 or a == 0 else f"{a:.1f} s"
    elif a < 3600:
        body = f"{a / 60:.1f} min"
    elif a < 24 * 3600:
        body = f"{a / 3600:.1f} h"
    else:
        body = f"{a / 86400:,.1f} d"
    return prefix + body
