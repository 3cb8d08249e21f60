"""Drawing process maps with Graphviz: dot source, SVG and PNG.

The system ``dot`` is used when it is on PATH; otherwise the ``graphviz-pure`` binary
(a self-contained dot, installed with leanops) next to the Python interpreter or on PATH.
Activity names are untrusted text: they are written into HTML-like dot labels after
escaping (``&``, ``<``, ``>``, quotes; newlines become line breaks; control characters
are dropped), and node identifiers never contain them.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np

from .._format import duration
from .._validation import check_choice
from ..errors import InputError, LeanopsError

if TYPE_CHECKING:  # pragma: no cover
    from .graph import ProcessGraph

#: Label of the artificial start node of a process map.
START = "●"
#: Label of the artificial end node of a process map.
END = "■"

__all__ = ["START", "END", "find_dot", "to_dot", "to_svg", "to_png", "render", "format_duration", "escape_label"]

FORMATS = ("svg", "png", "dot")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_TIMEOUT_S = 300


def find_dot() -> str:
    """Path of the Graphviz binary: ``dot`` on PATH, else ``graphviz-pure``.

    ``LEANOPS_DOT`` overrides both (a path to a dot-compatible binary).
    """
    env = os.environ.get("LEANOPS_DOT")
    if env:
        return env
    found = shutil.which("dot")
    if found:
        return found
    here = Path(sys.executable).parent / "graphviz-pure"
    if here.is_file() and os.access(here, os.X_OK):
        return str(here)
    found = shutil.which("graphviz-pure")
    if found:
        return found
    raise LeanopsError(
        "no Graphviz binary found: neither 'dot' nor 'graphviz-pure' is on PATH; "
        "install one with 'pip install graphviz-pure' (or your system's graphviz package)."
    )


def escape_label(text: object, *, max_len: int = 60) -> str:
    """Escape untrusted text for an HTML-like dot label (also safe in the SVG output)."""
    s = _CONTROL.sub("", str(text))
    lines = s.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    out = []
    for line in lines:
        if len(line) > max_len:
            line = line[: max_len - 1] + "…"
        out.append(
            line.replace("\\", "\\\\")  # dot expands \N, \G, ... even in HTML labels
            .replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;").replace("'", "&#39;")
        )
    return "<br/>".join(out)


def format_duration(seconds: float | None) -> str:
    """A short human duration (:func:`leanops._format.duration`), ``—`` for missing."""
    return duration(seconds, missing="—")


def _count(n: float) -> str:
    return f"{int(n):,}"


def _lerp_hex(c0: tuple[int, int, int], c1: tuple[int, int, int], t: float) -> str:
    t = min(max(t, 0.0), 1.0)
    return "#" + "".join(f"{round(a + (b - a) * t):02x}" for a, b in zip(c0, c1))


_GREY = (120, 130, 140)
_RED = (200, 30, 30)
_BLUE_LIGHT = (235, 242, 250)
_BLUE_DARK = (70, 120, 180)
_RED_LIGHT = (252, 235, 230)
_RED_DARK = (215, 90, 70)


def to_dot(graph: "ProcessGraph", *, overlay: Literal["frequency", "performance"] = "frequency") -> str:
    """Dot source of a process map (draws ``graph`` as is; see ProcessGraph.to_dot)."""
    check_choice("overlay", overlay, ("frequency", "performance"))
    nodes = graph.nodes
    edges = graph.edges
    ids = {a: f"n{i}" for i, a in enumerate(nodes["activity"])}
    lines = [
        "digraph process_map {",
        '  graph [rankdir=TB, nodesep=0.35, ranksep=0.45, fontname="Helvetica", fontsize=11, bgcolor="white"];',
        '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=11, color="#50596a", penwidth=1.2];',
        '  edge [fontname="Helvetica", fontsize=9, arrowsize=0.7];',
        f'  start [label="{START}", shape=circle, style=filled, fillcolor="#2e7d32", fontcolor="white", width=0.35, fixedsize=true, fontsize=10];',
        f'  end [label="{END}", shape=doublecircle, style=filled, fillcolor="#b71c1c", fontcolor="white", width=0.3, fixedsize=true, fontsize=9];',
    ]
    cnt = nodes["count"].to_numpy(dtype=float)
    svc = nodes["service_mean_s"].to_numpy(dtype=float)
    cmax = cnt.max() if len(cnt) else 1.0
    smax = np.nanmax(svc) if np.isfinite(svc).any() else 0.0
    for i, row in enumerate(nodes.itertuples(index=False)):
        name = escape_label(row.activity)
        time_txt = format_duration(row.service_mean_s)
        if overlay == "frequency":
            fill = _lerp_hex(_BLUE_LIGHT, _BLUE_DARK, math.log1p(cnt[i]) / math.log1p(cmax) if cmax > 0 else 0)
            dark = cnt[i] > 0.55 * cmax
            sub = f"{_count(row.count)}" + (f" · {time_txt}" if math.isfinite(row.service_mean_s) else "")
        else:
            t = (svc[i] / smax) if smax > 0 and math.isfinite(svc[i]) else 0.0
            fill = _lerp_hex(_RED_LIGHT, _RED_DARK, t)
            dark = t > 0.6
            sub = f"{time_txt} · {_count(row.count)}" if math.isfinite(row.service_mean_s) else _count(row.count)
        font = "white" if dark else "black"
        label = f'<<font color="{font}"><b>{name}</b><br/><font point-size="9">{escape_label(sub)}</font></font>>'
        lines.append(f'  {ids[row.activity]} [label={label}, fillcolor="{fill}"];')

    all_counts = list(edges["count"]) + list(graph.start_activities.values()) + list(graph.end_activities.values())
    emax = max(all_counts) if all_counts else 1
    waits = edges["wait_mean_s"].to_numpy(dtype=float)
    finite = waits[np.isfinite(waits)]
    # colour spans the 5th..95th percentile of the drawn mean waits, so differences show
    wmin, wmax = (float(np.percentile(finite, 5)), float(np.percentile(finite, 95))) if finite.size else (0.0, 0.0)

    def width(c: float) -> str:
        return f"{1.0 + 6.0 * math.sqrt(c / emax):.2f}" if emax else "1"

    for a, n in graph.start_activities.items():
        if a in ids:
            lab = escape_label(_count(n)) if overlay == "frequency" else ""
            lines.append(f'  start -> {ids[a]} [penwidth={width(n)}, color="#9aa5b1", style=dashed, label=<{lab}>];')
    for a, n in graph.end_activities.items():
        if a in ids:
            lab = escape_label(_count(n)) if overlay == "frequency" else ""
            lines.append(f'  {ids[a]} -> end [penwidth={width(n)}, color="#9aa5b1", style=dashed, label=<{lab}>];')
    for row in edges.itertuples(index=False):
        if row.source not in ids or row.target not in ids:
            continue
        w = row.wait_mean_s
        t = (w - wmin) / (wmax - wmin) if wmax > wmin and math.isfinite(w) else 0.0
        color = _lerp_hex(_GREY, _RED, t)
        if overlay == "frequency":
            lab = _count(row.count)
        else:
            lab = format_duration(w) + (" (end to end)" if row.wait_basis == "end" and graph.wait_basis != "end" else "")
        lines.append(
            f"  {ids[row.source]} -> {ids[row.target]} "
            f'[penwidth={width(row.count)}, color="{color}", fontcolor="{color}", label=<{escape_label(lab)}>];'
        )
    caption = _caption(graph, overlay)
    lines.append(f'  label=<{caption}>; labelloc=b; labeljust=l; fontsize=10;')
    lines.append("}")
    return "\n".join(lines) + "\n"


def _caption(graph: "ProcessGraph", overlay: str) -> str:
    parts = [f"{graph.n_cases:,} cases, {graph.n_events:,} instances; overlay: {overlay}"]
    if graph.wait_basis == "end":
        parts.append("waits are end to end (the log has no start times)")
    elif graph.wait_basis == "mixed":
        parts.append("waits are end to start, or end to end where a start time is missing")
    parts.extend(graph.notes)
    return '<br align="left"/>'.join(escape_label(p, max_len=200) for p in parts) + '<br align="left"/>'


def _run_dot(source: str, fmt: str) -> bytes:
    binary = find_dot()
    try:
        proc = subprocess.run(
            [binary, f"-T{fmt}"],
            input=source.encode("utf-8"),
            capture_output=True,
            timeout=_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise LeanopsError(f"graphviz ({binary}) took more than {_TIMEOUT_S} s; simplify the map with activities= or paths=.") from None
    if proc.returncode != 0 or not proc.stdout:
        err = " ".join(proc.stderr.decode("utf-8", "replace").split())[:300]
        raise LeanopsError(f"graphviz ({binary}) failed with exit code {proc.returncode}: {err}")
    return proc.stdout


def to_svg(graph: "ProcessGraph", *, overlay: Literal["frequency", "performance"] = "frequency") -> str:
    """The map as SVG text."""
    return _run_dot(to_dot(graph, overlay=overlay), "svg").decode("utf-8")


def to_png(graph: "ProcessGraph", *, overlay: Literal["frequency", "performance"] = "frequency") -> bytes:
    """The map as PNG bytes."""
    return _run_dot(to_dot(graph, overlay=overlay), "png")


def render(
    graph: "ProcessGraph",
    path: str | os.PathLike[str],
    *,
    overlay: Literal["frequency", "performance"] = "frequency",
    format: str | None = None,  # noqa: A002
) -> Path:
    """Write the map to ``path``; the format comes from ``format`` or the file suffix."""
    target = Path(path)
    fmt = format if format is not None else target.suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        raise InputError(
            f"format must be one of {', '.join(repr(f) for f in FORMATS)} (from the file suffix or format=); "
            f"got {fmt or target.name!r}. Use a path ending in .svg or .png."
        )
    check_choice("overlay", overlay, ("frequency", "performance"))
    source = to_dot(graph, overlay=overlay)
    data = source.encode("utf-8") if fmt == "dot" else _run_dot(source, fmt)
    if not target.parent.exists():
        raise InputError(f"output folder {str(target.parent)!r} does not exist; create it first.")
    target.write_bytes(data)
    return target
