"""leanops.report: the batch bottleneck report, as HTML, Markdown or JSON.

Build a report on one log and write it::

    >>> import leanops
    >>> rep = leanops.build_report(leanops.datasets.load("production"))
    >>> [s.key for s in rep.sections][:3]
    ['summary', 'kpis', 'quality']

``rep.to_html()`` is one self-contained page (inline CSS and SVG, no script, no external
URL); ``rep.to_markdown()`` the same content for wikis; ``rep.to_json()`` every table, with
each analysis in the shape of its CLI command. ``leanops report`` runs :func:`run_batch`.
"""

from __future__ import annotations

from .batch import BatchResult, run_batch, safe_name, write_report
from .build import build_report, filter_period
from .config import ReportConfig, load_config
from .model import Card, Figure, Finding, Report, Section, Table
from .sections import SECTIONS, Context

__all__ = [
    "build_report",
    "run_batch",
    "write_report",
    "filter_period",
    "safe_name",
    "load_config",
    "ReportConfig",
    "Report",
    "Section",
    "Table",
    "Figure",
    "Card",
    "Finding",
    "Context",
    "SECTIONS",
    "BatchResult",
]
