"""Exceptions and warnings raised by leanops.

Every error leanops raises on purpose derives from :class:`LeanopsError`. Errors about
what the caller passed in (a file, a column, an option) are :class:`InputError`, which is
also a :class:`ValueError`, so ``except ValueError`` keeps working for callers that do not
know leanops. The message names what is wrong, what is available, and how to fix it, in
one line, because the command line prints it as is.
"""

from __future__ import annotations

__all__ = [
    "LeanopsError",
    "InputError",
    "ModelError",
    "ScenarioError",
    "DataQualityWarning",
]


class LeanopsError(Exception):
    """Base class of every error leanops raises on purpose."""


class InputError(LeanopsError, ValueError):
    """The input (a log, a column, an option value) cannot be used as given."""


class ModelError(LeanopsError, ValueError):
    """A simulation model is malformed, of an unknown version, or inconsistent."""


class ScenarioError(LeanopsError, ValueError):
    """A scenario (SOP change) cannot be applied to the model."""


class DataQualityWarning(UserWarning):
    """Rows were repaired or dropped while reading a log; see ``EventLog.quality``."""
