"""The basic option checks, below every other module (they import only :mod:`.errors`).

:mod:`leanops._validation` re-exports them with the checks that know leanops' types
(``check_log``, ``check_calendar``); import from there unless you are :mod:`.log`,
:mod:`.calendar` or :mod:`._normalize`, which sit below those types.

Messages share one shape, after scikit-learn: the parameter's name, what was expected,
and what was got, e.g. ``overlay must be one of 'frequency', 'performance'; got 'perf'.``
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from .errors import InputError

__all__ = ["check_choice", "check_fraction", "check_positive", "check_seed", "check_tz", "closest", "check_names"]


def closest(name: str, candidates: Iterable[str], n: int = 3) -> list[str]:
    """Return up to ``n`` candidates that look like ``name`` (for "did you mean")."""
    cands = [str(c) for c in candidates]
    found = difflib.get_close_matches(str(name), cands, n=n, cutoff=0.5)
    if not found:
        low = str(name).lower()
        found = [c for c in cands if low in c.lower() or c.lower() in low][:n]
    return found


def _fmt_list(values: Sequence[Any], limit: int = 12) -> str:
    shown = ", ".join(repr(v) for v in values[:limit])
    if len(values) > limit:
        shown += f", … ({len(values) - limit} more)"
    return shown


def check_choice(name: str, value: Any, allowed: Sequence[Any]) -> Any:
    """Check that ``value`` is one of ``allowed`` and return it."""
    if value not in allowed:
        raise InputError(f"{name} must be one of {_fmt_list(list(allowed))}; got {value!r}.")
    return value


def check_fraction(name: str, value: Any, *, allow_none: bool = True) -> float | None:
    """Check a share in (0, 1]."""
    if value is None and allow_none:
        return None
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a number in (0, 1]; got {value!r}.") from None
    if not (0.0 < v <= 1.0):
        raise InputError(f"{name} must be a number in (0, 1]; got {value!r}.")
    return v


def check_positive(name: str, value: Any, *, integer: bool = False, allow_zero: bool = False) -> Any:
    """Check a positive number (or non-negative with ``allow_zero``)."""
    kind = "an integer" if integer else "a number"
    bound = ">= 0" if allow_zero else "> 0"
    try:
        v = int(value) if integer else float(value)
        if integer and int(value) != value:
            raise ValueError
    except (TypeError, ValueError):
        raise InputError(f"{name} must be {kind} {bound}; got {value!r}.") from None
    if not math.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
        raise InputError(f"{name} must be {kind} {bound}; got {value!r}.")
    return v


def check_tz(tz: Any, name: str = "tz") -> str:
    """Check a time zone name (``"UTC"``, ``"Europe/Amsterdam"``) and return it."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    if not isinstance(tz, str) or not tz.strip():
        raise InputError(f"{name} must be a time zone name such as 'UTC' or 'Europe/Amsterdam'; got {tz!r}.")
    if tz.upper() == "UTC":
        return tz
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        hint = ""
        try:
            import zoneinfo

            near = closest(tz, sorted(zoneinfo.available_timezones()))
            hint = f" Did you mean {near[0]!r}?" if near else ""
        except Exception:  # the tz database may be unavailable; the message stands without a hint
            pass
        raise InputError(f"{name} must be a time zone name such as 'UTC' or 'Europe/Amsterdam'; got {tz!r}.{hint}") from None
    return tz


def check_seed(seed: int | np.random.Generator | None) -> np.random.Generator:
    """Turn a seed (int, Generator or None) into a Generator."""
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None or isinstance(seed, (int, np.integer)):
        if seed is not None and seed < 0:
            raise InputError(f"seed must be a whole number >= 0; got {seed}.")
        return np.random.default_rng(seed)
    raise InputError(f"seed must be an int, a numpy Generator or None; got {type(seed).__name__}.")


def check_names(name: str, values: Iterable[str], available: Iterable[str], *, what: str = "activity") -> list[str]:
    """Check that every value is among ``available``; suggest the closest names if not."""
    avail = [str(a) for a in available]
    avail_set = set(avail)
    out = []
    for v in values:
        if v not in avail_set:
            hint = closest(v, avail)
            tip = f" Did you mean {_fmt_list(hint)}?" if hint else ""
            raise InputError(
                f"{name}: unknown {what} {v!r}.{tip} Available: {_fmt_list(sorted(avail))}."
            )
        out.append(v)
    return out
