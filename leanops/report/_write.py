"""Writing one report to a file: HTML, Markdown (charts as SVG files beside it) or JSON.

Files go through the one output writer (:func:`leanops._files.atomic_path`): written
to a temporary name and moved into place only when complete, never over an input. Below :mod:`.batch` and :mod:`.model` (``Report.save``),
above :mod:`.render`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from .._files import atomic_path
from .._json import dumps
from .._validation import check_choice
from ..errors import InputError
from .render import figure_files, to_html, to_markdown

if TYPE_CHECKING:  # annotations only: model imports this module for Report.save
    from .model import Report

__all__ = ["write_report", "Format"]

Format = Literal["html", "md", "json"]


def _atomic_write(path: Path, text: str) -> None:
    # the one output writer: atomic, never over an input, one-line errors on a full disk
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def _inside(path: Path, root: Path) -> Path:
    p, r = path.resolve(), root.resolve()
    if p != r and r not in p.parents:
        raise InputError(f"refusing to write {str(path)!r} outside the output folder {str(root)!r}.")
    return path


def write_report(report: Report, path: str | os.PathLike[str], *, format: Format | None = None) -> Path:
    """Write ``report`` to ``path`` (format from its suffix unless given). Markdown charts
    go to a ``<stem>_files/`` folder beside it."""
    path = Path(path)
    if format is None:
        ext = path.suffix.lower().lstrip(".")
        format = {"htm": "html", "markdown": "md"}.get(ext, ext)  # type: ignore[assignment]
    check_choice("format", format, ("html", "md", "json"))
    if not path.parent.exists():
        raise InputError(f"output folder {str(path.parent)!r} does not exist; create it or pass another -o.")
    if format == "html":
        _atomic_write(path, to_html(report))
    elif format == "json":
        _atomic_write(path, dumps(report.to_json()) + "\n")
    else:
        files = figure_files(report)
        assets = f"{path.stem}_files"
        if files:
            folder = _inside(path.parent / assets, path.parent)
            folder.mkdir(exist_ok=True)
            for fname, svg in files.items():
                _atomic_write(_inside(folder / fname, folder), svg)
        _atomic_write(path, to_markdown(report, assets=assets if files else None))
    return path
