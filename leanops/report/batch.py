"""Reports on many logs: one file each in OUT, an ``index.html``, and every failure named.

Output names come from the log's file name, reduced to letters, digits, ``-``, ``_`` and
``.``, so a log called ``../../x`` is written as ``OUT/x.html`` and nothing is ever
written outside OUT. Files are written to a temporary name and moved into place only when
complete, so a failure leaves no partial file.
"""

from __future__ import annotations

import glob
import os
import re
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._validation import check_choice
from ..datasets import DEMO
from ..errors import InputError, LeanopsError
from .build import build_report
from .config import ReportConfig
from ._write import Format, _atomic_write, _inside, write_report
from .render import index_html

__all__ = ["write_report", "run_batch", "BatchResult", "safe_name", "expand_logs"]

_SUFFIX = {"html": ".html", "md": ".md", "json": ".json"}
_LOG_SUFFIXES = (".gz", ".bz2", ".xz", ".zip", ".csv", ".tsv", ".txt", ".xes", ".parquet", ".pq")


def safe_name(source: str) -> str:
    """A file-name stem for a log path: its base name without log suffixes, with anything
    but letters, digits, ``-``, ``_`` and ``.`` replaced by ``_``, and no leading dot.

    >>> safe_name("../../x"), safe_name("data/Loans 2024.csv.gz"), safe_name("..")
    ('x', 'Loans_2024', 'log')
    """
    base = os.path.basename(str(source).replace("\\", "/").rstrip("/"))
    changed = True
    while changed:
        changed = False
        for suf in _LOG_SUFFIXES:
            if base.lower().endswith(suf) and len(base) > len(suf):
                base, changed = base[: -len(suf)], True
    base = re.sub(r"[^A-Za-z0-9._-]+", "_", base).lstrip(".")
    base = base.strip("_") or "log"
    return base[:100]


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def expand_logs(logs: Sequence[str | None]) -> list[str | None]:
    """Expand quoted glob patterns (``'exports/*.csv'``); other paths are kept as given."""
    out: list[str | None] = []
    for item in logs:
        if item is not None and not os.path.exists(item) and glob.has_magic(item):
            found = sorted(glob.glob(item))
            if not found:
                raise InputError(f"no file matches {item!r}; check the pattern or quote it differently.")
            out.extend(found)
        else:
            out.append(item)
    return out


@dataclass
class BatchResult:
    """What a batch wrote and what failed."""

    outputs: list[Path] = field(default_factory=list)
    index: Path | None = None
    failures: list[tuple[str, str, int]] = field(default_factory=list)  # (log, message, exit code)
    timings: dict[str, dict[str, float]] = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        """0 when every log was reported; 2 for bad input; 1 if any internal error."""
        if not self.failures:
            return 0
        return 1 if any(code == 1 for _, _, code in self.failures) else 2


def run_batch(
    logs: Sequence[str | None],
    out: str | os.PathLike[str],
    *,
    format: Format | None = None,
    since: Any = None,
    until: Any = None,
    config: ReportConfig | None = None,
    simulate: bool = False,
    read: Callable[[str | None], Any],
    verbose: Callable[[str], None] | None = None,
    progress: bool | None = None,
) -> BatchResult:
    """Report on each log; a failing log is recorded by name and the others still run.

    Parameters
    ----------
    logs : list of paths (None for the bundled demo log)
    out : path
        A folder (created if missing), or a file path ending in ``.html``/``.md``/``.json``
        when there is one log.
    format : {'html', 'md', 'json'}, optional
        Default: from the suffix of a file ``out``, else HTML.
    simulate : bool
        Add the simulation section (see :func:`~leanops.report.build_report`).
    read : callable
        ``path -> EventLog`` (the CLI passes its column mapping through this).
    verbose : callable, optional
        Receives one line per section with its time.
    progress : bool or None
        Show tqdm progress bars on stderr (None: only when stderr is a terminal).
    """
    from tqdm.auto import tqdm

    logs = expand_logs(list(logs) or [None])
    out = Path(out)
    single_file = len(logs) == 1 and out.suffix.lower() in (".html", ".htm", ".md", ".json")
    if format is None:
        format = {".md": "md", ".json": "json"}.get(out.suffix.lower(), "html") if single_file else "html"
    check_choice("format", format, ("html", "md", "json"))
    if single_file:
        if not out.parent.exists():
            raise InputError(f"output folder {str(out.parent)!r} does not exist; create it or pass another -o.")
        folder = out.parent
    else:
        if out.exists() and not out.is_dir():
            raise InputError(f"-o {str(out)!r} is a file; with a folder name each log gets its own report.")
        out.mkdir(parents=True, exist_ok=True)
        folder = out
    result = BatchResult()
    used: set[str] = {"index"}
    entries: list[dict[str, Any]] = []
    disable = (not _isatty(sys.stderr)) if progress is None else not progress
    bar = tqdm(total=len(logs), desc="logs", unit="log", file=sys.stderr, disable=disable or len(logs) < 2, leave=False)
    for src in logs:
        label = src if src is not None else "demo log"
        stem = safe_name(src) if src is not None else DEMO
        base, k = stem, 2
        while stem.lower() in used:
            stem, k = f"{base}-{k}", k + 1
        used.add(stem.lower())
        target = out if single_file else _inside(folder / f"{stem}{_SUFFIX[format]}", folder)
        t0 = time.perf_counter()
        try:
            t_read = time.perf_counter()
            log = read(src)
            read_s = time.perf_counter() - t_read
            if verbose:
                verbose(f"{label}: read {read_s:.2f} s ({len(log):,} activity instances)")
            sec_bar = tqdm(total=None, desc=stem, unit="section", file=sys.stderr, disable=disable, leave=False)

            def on_section(sec, _bar=sec_bar, _label=label):
                _bar.update(1)
                if verbose:
                    verbose(f"{_label}: section {sec.key:<12} {sec.elapsed_s:6.2f} s" + (f"  ({sec.error})" if sec.error else ""))

            try:
                report = build_report(log, name=stem if src is not None else None, since=since, until=until,
                                      config=config, simulate=simulate, on_section=on_section)
            finally:
                sec_bar.close()
            write_report(report, target, format=format)
            result.outputs.append(target)
            result.timings[label] = {"read": read_s, **report.timings}
            if verbose:
                verbose(f"{label}: total {time.perf_counter() - t0:.2f} s -> {target}")
            if report.failed:
                result.failures.append((label, "sections failed: " + "; ".join(report.failed), 1))
            summ = report.section("summary")
            entries.append({
                "name": label, "href": target.name, "cases": report.info["cases"], "events": report.info["events"],
                "summary": summ.summary[0] if summ and summ.summary else "",
                "error": "; ".join(report.failed) if report.failed else None,
            })
        except (LeanopsError, OSError, UnicodeDecodeError) as exc:
            result.failures.append((label, " ".join(str(exc).split()), 2))
            entries.append({"name": label, "href": None, "error": " ".join(str(exc).split())})
        except Exception as exc:  # internal error on this log: report it, go on with the others
            msg = f"internal error: {type(exc).__name__}: {' '.join(str(exc).split())[:300]}"
            result.failures.append((label, msg, 1))
            entries.append({"name": label, "href": None, "error": msg})
        bar.update(1)
    bar.close()
    if len(logs) > 1:
        result.index = folder / "index.html"
        _atomic_write(result.index, index_html(entries))
    return result
