"""Report options, from keyword arguments or a ``report.yaml`` file.

Example ``report.yaml``::

    title: Loan applications, weekly bottleneck report
    sections: [summary, kpis, quality, appendix]   # default: every section available
    exclude: [appendix]
    max_rows: 20                                   # rows shown per table in HTML/Markdown
    value_added: [Review, Approve]                 # activities that add value (for PCE)
"""

from __future__ import annotations

import os
from pathlib import Path
from dataclasses import dataclass, field, fields
from typing import Any

from .._validation import check_positive, closest
from ..errors import InputError

__all__ = ["ReportConfig", "load_config"]


@dataclass(frozen=True)
class ReportConfig:
    """Options of a report.

    Attributes
    ----------
    title : str or None
        Title shown on top (default: ``Bottleneck report: <log name>``).
    sections : tuple of str or None
        Section keys to include, in the report's fixed order (default: all available).
    exclude : tuple of str
        Section keys to leave out.
    max_rows : int
        Rows shown per table in HTML and Markdown; the rest are counted, and the JSON
        output holds them all.
    value_added : tuple of str or None
        The activities that add value for the customer, for PCE (default: all of them).
    full_path : bool
        Show the source log's full local path in the report; by default only its file
        name, since reports get forwarded (CLI: ``--full-path``).
    sop : str, SOP or None
        An SOP (a YAML path or :class:`leanops.sop.SOP`): adds the "SOP compliance" section.
    change_at : str or None
        The instant of a change (ISO 8601): adds the "Before / after" section.
    """

    title: str | None = None
    sections: tuple[str, ...] | None = None
    exclude: tuple[str, ...] = field(default_factory=tuple)
    max_rows: int = 15
    value_added: tuple[str, ...] | None = None
    full_path: bool = False
    sop: Any = None
    change_at: str | None = None

    @classmethod
    def from_dict(cls, d: dict[str, Any], *, where: str = "report config") -> "ReportConfig":
        if not isinstance(d, dict):
            raise InputError(f"{where} must be a mapping of options; got {type(d).__name__}.")
        known = [f.name for f in fields(cls)]
        for k in d:
            if k not in known:
                hint = closest(str(k), known)
                tip = f" Did you mean {hint[0]!r}?" if hint else ""
                raise InputError(f"{where}: unknown option {k!r}.{tip} Known options: {', '.join(known)}.")
        kw: dict[str, Any] = {}
        if d.get("title") is not None:
            kw["title"] = str(d["title"])
        for key in ("sections", "exclude", "value_added"):
            if d.get(key) is not None:
                v = d[key]
                if isinstance(v, str):
                    v = [s.strip() for s in v.split(",") if s.strip()]
                if not isinstance(v, (list, tuple)):
                    raise InputError(f"{where}: {key} must be a list of names; got {v!r}.")
                kw[key] = tuple(str(s) for s in v)
        for key in ("sop", "change_at"):
            if d.get(key) is not None:
                kw[key] = str(d[key])
        if d.get("max_rows") is not None:
            kw["max_rows"] = int(check_positive(f"{where}: max_rows", d["max_rows"], integer=True))
        if d.get("full_path") is not None:
            if not isinstance(d["full_path"], bool):
                raise InputError(f"{where}: full_path must be true or false; got {d['full_path']!r}.")
            kw["full_path"] = d["full_path"]
        return cls(**kw)


def load_config(path: str | os.PathLike[str] | None) -> ReportConfig:
    """Read a ``report.yaml`` (safely); None gives the defaults."""
    if path is None:
        return ReportConfig()
    from .._yaml import load_yaml

    if not os.path.exists(path):
        raise InputError(f"config file {str(path)!r} does not exist; pass --config path/to/report.yaml.")
    doc = load_yaml(Path(path), what="config file")
    return ReportConfig.from_dict(doc or {}, where=f"config {os.path.basename(str(path))!r}")
