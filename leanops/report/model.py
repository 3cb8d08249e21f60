"""The report's building blocks: a report is a list of sections, each with sentences,
tables, figures and method notes.

A section function takes the :class:`Context` of one log and returns a :class:`Section`.
Sections hold plain data (text, DataFrames, SVG strings): the writers in
:mod:`leanops.report.render` turn them into HTML, Markdown or JSON, and escape every
string that came from the log there, in one place.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import pandas as pd

__all__ = ["Table", "Figure", "Card", "Finding", "Section", "Report", "Unit"]

#: How a table column is shown. ``duration`` values are seconds; ``percent`` values are
#: fractions (0.25 is shown as 25 %).
Unit = Literal["text", "count", "cases", "instances", "duration", "percent", "per_day", "number", "ratio", "pvalue", "datetime"]


@dataclass
class Table:
    """A table of a section.

    Attributes
    ----------
    title : str
        One line above the table.
    frame : pandas.DataFrame
        The full table (the JSON output holds every row; HTML and Markdown show the first
        ``max_rows`` and say how many were left out).
    units : dict
        Column -> :data:`Unit`. Columns not listed are text.
    labels : dict
        Column -> header shown to the reader (default: the column name, underscores as spaces).
    highlight : list of int
        Row positions to mark in the bottleneck colour.
    key : str
        The table's name in the JSON output.
    max_rows : int or None
        Rows shown in HTML/Markdown; None uses the report's setting.
    """

    title: str
    frame: pd.DataFrame
    units: dict[str, Unit] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    highlight: list[int] = field(default_factory=list)
    key: str = ""
    max_rows: int | None = None

    def label(self, col: str) -> str:
        return self.labels.get(col, str(col).replace("_", " "))


@dataclass
class Figure:
    """An inline chart: an SVG document as a string (already safe, see :mod:`.charts`)."""

    title: str
    svg: str
    caption: str = ""


@dataclass
class Card:
    """A headline number: its label and its formatted value with the unit."""

    label: str
    value: str
    hot: bool = False


@dataclass
class Finding:
    """A sentence for the executive summary; the three with the highest weight are shown.
    A finding whose ``key`` is ``"<other key>+"`` is appended to the finding ``<other key>``."""

    weight: float
    text: str
    key: str = ""


@dataclass
class Section:
    """One section of the report.

    Attributes
    ----------
    key : str
        Short identifier (the HTML anchor and the JSON key).
    title : str
    summary : list of str
        Sentences with numbers and units, shown first. ``**text**`` is shown in bold.
    tables, figures : lists of :class:`Table` and :class:`Figure`
    notes : list of str
        How the numbers were computed (also gathered in the appendix).
    findings : list of :class:`Finding`
        Candidates for the executive summary.
    data : dict
        The section's JSON document, in the shape of the matching CLI command.
    cards : list of :class:`Card`
        Headline numbers shown as large figures (with their units).
    command : str or None
        The CLI command whose JSON shape ``data`` follows (``"bottlenecks"``...); the
        report's JSON document holds it under that key.
    error : str or None
        Set when the section could not be computed; the reason is shown instead.
    elapsed_s : float
        Time spent computing the section, in seconds.
    """

    key: str
    title: str
    summary: list[str] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    cards: list[Card] = field(default_factory=list)
    command: str | None = None
    error: str | None = None
    elapsed_s: float = 0.0


@dataclass
class Report:
    """A bottleneck report on one log. Write it with :meth:`to_html`, :meth:`to_markdown`,
    :meth:`to_json` or :meth:`save`; notebooks show it through ``_repr_html_``."""

    title: str
    name: str
    info: dict[str, Any]
    sections: list[Section]
    generated: str
    period: dict[str, Any] = field(default_factory=dict)
    max_rows: int = 15
    failed: list[str] = field(default_factory=list)

    def section(self, key: str) -> Section | None:
        """The section with the given key."""
        return next((s for s in self.sections if s.key == key), None)

    @property
    def timings(self) -> dict[str, float]:
        """Seconds spent per section."""
        return {s.key: s.elapsed_s for s in self.sections}

    def to_html(self) -> str:
        """The report as one self-contained HTML document."""
        from .render import to_html

        return to_html(self)

    def to_markdown(self) -> str:
        """The report as Markdown (charts referenced as SVG files)."""
        from .render import to_markdown

        return to_markdown(self)

    def to_json(self) -> dict[str, Any]:
        """Every table of the report as a JSON-ready dict, in the commands' shapes."""
        from .render import to_json

        return to_json(self)

    def save(self, path: str, *, format: Literal["html", "md", "json"] | None = None) -> str:
        """Write the report to ``path`` (format from the suffix unless given)."""
        from ._write import write_report

        return str(write_report(self, path, format=format))

    def _repr_html_(self) -> str:
        from .render import to_html

        return to_html(self, fragment=True)

    def __repr__(self) -> str:
        keys = ", ".join(s.key for s in self.sections)
        return f"<Report {self.name!r}: {len(self.sections)} sections ({keys})>"
