"""Validation of user-facing options, in one place.

Messages share one shape, after scikit-learn: the parameter's name, what was expected,
and what was got, e.g. ``overlay must be one of 'frequency', 'performance'; got 'perf'.``

The basic checks live in :mod:`leanops._checks` (below the EventLog and Calendar types,
which use them); this module adds the two that know those types: :func:`check_log` and
:func:`check_calendar`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ._checks import (  # noqa: F401  (re-exported: the one import place for checks)
    _fmt_list,
    check_choice,
    check_fraction,
    check_names,
    check_positive,
    check_seed,
    check_tz,
    closest,
)
from .calendar import Calendar
from .errors import InputError
from .log import EventLog

__all__ = ["check_choice", "check_fraction", "check_positive", "check_seed", "check_tz", "closest", "check_names",
           "check_log", "check_calendar"]


def check_log(log: Any, name: str | None = None, *, allow_empty: bool = False) -> EventLog:
    """Check that ``log`` is an EventLog (with instances, unless ``allow_empty``) and return it.

    ``name`` (the calling function) prefixes the message.

    Examples
    --------
    >>> check_log("x.csv", "discover")
    Traceback (most recent call last):
    ...
    leanops.errors.InputError: discover: log must be a leanops.EventLog; got str. Read one with leanops.read(path).
    """
    where = f"{name}: " if name else ""
    if not isinstance(log, EventLog):
        raise InputError(f"{where}log must be a leanops.EventLog; got {type(log).__name__}. Read one with leanops.read(path).")
    if not allow_empty and len(log) == 0:
        raise InputError(f"{where}the log has no activity instances; check the filters applied before.")
    return log


def check_calendar(calendar: Any, name: str = "calendar", *, special: Sequence[str] = (),
                   mapping: bool = False) -> Any:
    """A calendar argument as a :class:`~leanops.Calendar`.

    A Calendar is returned as is, a text like ``'Mon-Fri 08:00-17:00'`` is parsed, None
    stays None (the caller learns one from the log). Words in ``special`` (e.g.
    ``'pool'``) are returned as given; with ``mapping``, a dict of name -> calendar (or
    text) returns a dict of name -> Calendar.

    Examples
    --------
    >>> check_calendar("Mon-Fri 08:00-17:00").weekly_hours
    45.0
    >>> check_calendar(3)
    Traceback (most recent call last):
    ...
    leanops.errors.InputError: calendar must be a leanops.Calendar, a text like 'Mon-Fri 08:00-17:00' or None; got int.
    """
    if calendar is None or isinstance(calendar, Calendar):
        return calendar
    if isinstance(calendar, str):
        return calendar if calendar in special else Calendar.parse(calendar)
    if mapping and isinstance(calendar, Mapping):
        return {k: check_calendar(v, f"{name}[{k!r}]") for k, v in calendar.items()}
    kinds = ["a leanops.Calendar", "a text like 'Mon-Fri 08:00-17:00'"]
    if mapping:
        kinds.append("a dict of name -> calendar")
    kinds += [repr(w) for w in special]
    raise InputError(f"{name} must be {', '.join(kinds)} or None; got {type(calendar).__name__}.")
