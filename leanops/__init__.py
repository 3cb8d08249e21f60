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
from .calendar import Calendar, discover_calendar
from .errors import DataQualityWarning, InputError, LeanopsError, ModelError, ScenarioError
from .io import convert, read, write
from .log import EventLog, QualityReport, from_frame
from .scan import LogScan, scan
from .mining import (
    ProcessGraph,
    discover,
    filter_activity,
    filter_attribute,
    filter_time,
    filter_variants,
    variants,
    ValueStream,
    bottlenecks,
    discover_pools,
    estimate_start_times,
    handoffs,
    multitasking,
    performance,
    rework,
    utilization,
    value_stream,
)
from .report import build_report

from ._version import __version__

__all__ = [
    "EventLog",
    "QualityReport",
    "read",
    "write",
    "convert",
    "scan",
    "LogScan",
    "from_frame",
    "Calendar",
    "discover_calendar",
    "datasets",
    "LeanopsError",
    "InputError",
    "ModelError",
    "ScenarioError",
    "DataQualityWarning",
    # mining: process graphs and variants
    "discover",
    "ProcessGraph",
    "variants",
    "filter_variants",
    "filter_time",
    "filter_attribute",
    "filter_activity",
    # mining: performance, value stream, resources, bottlenecks
    "performance",
    "estimate_start_times",
    "value_stream",
    "ValueStream",
    "utilization",
    "discover_pools",
    "handoffs",
    "multitasking",
    "bottlenecks",
    "rework",
    "build_report",
    "__version__",
    "root_causes",
    # SOP compliance and the PDCA check (rca level; loaded on first use)
    "check",
    "compare",
    "read_sop",
    "draft_sop",
    "SOP",
    "Compliance",
    "Comparison",
]


def __getattr__(name: str):
    # leanops.simulate and leanops.rca load on first use: they pull in SimPy, scipy.stats
    # and scikit-learn, which `import leanops` must not pay for.
    import importlib

    if name == "simulate":
        return importlib.import_module(".simulate", __name__)
    if name in ("check", "Compliance"):
        return getattr(importlib.import_module(".compliance", __name__), name)
    if name in ("read_sop", "draft_sop", "SOP"):
        return getattr(importlib.import_module(".sop", __name__), name)
    if name in ("compare", "Comparison"):
        return getattr(importlib.import_module(".pdca", __name__), name)
    if name in ("rca", "root_causes"):
        rca = importlib.import_module(".rca", __name__)
        return rca if name == "rca" else rca.root_causes
    raise AttributeError(f"module 'leanops' has no attribute {name!r}")
