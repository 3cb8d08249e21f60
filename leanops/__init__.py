"""leanops: process mining and lean optimisation on event logs.

Read a log once, then call plain functions on it::

    >>> import leanops
    >>> log = leanops.datasets.load("production")
    >>> log
    <EventLog: 225 cases, 4,953 activity instances, 26 activities, 2012-01-02 to 2012-03-31>

pm4py is imported lazily, only by the functions that need it.
"""

from __future__ import annotations

from . import datasets
from ._normalize import from_frame
from .calendar import Calendar, discover_calendar
from .errors import DataQualityWarning, InputError, LeanopsError, ModelError, ScenarioError
from .io import read, write
from .log import EventLog, QualityReport

__version__ = "0.1.0"

__all__ = [
    "EventLog",
    "QualityReport",
    "read",
    "write",
    "from_frame",
    "Calendar",
    "discover_calendar",
    "datasets",
    "LeanopsError",
    "InputError",
    "ModelError",
    "ScenarioError",
    "DataQualityWarning",
    "__version__",
    "root_causes",
]


# --- root causes (lazy: leanops.rca loads scipy.stats and, for rules, scikit-learn)
def __getattr__(name: str):
    if name in ("rca", "root_causes"):
        import importlib

        rca = importlib.import_module(".rca", __name__)
        return rca if name == "rca" else rca.root_causes
    raise AttributeError(f"module 'leanops' has no attribute {name!r}")
