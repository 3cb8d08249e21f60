"""Writing one report to a file: HTML, Markdown (charts as SVG files beside it) or JSON.

Files are written to a temporary name and moved into place only when complete, so a
failure leaves no partial file. Below :mod:`.batch` and :mod:`.model` (``Report.save``),
above :mod:`.render`.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from .._json import dumps
from .._validation import check_choice
from ..errors import InputError
from .render import figure_files, to_html, to_markdown

if TYPE_CHECKING:  # annotations only: model imports this module for Report.save
    from .model import Report

__all__ = ["write_report", "Format"]

Format = Literal["html", "md", "json"]


def _atomic_write(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; a report is meant to be shared
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


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
