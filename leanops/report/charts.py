"""Small inline SVG charts, written by hand so they are tiny, crisp, print well and need
no font or script: horizontal bars, stacked bars and a histogram.

Every label is escaped here. :func:`sanitize_svg` cleans an SVG made elsewhere (the
process map) before it is inlined: no script, no event handler, no external reference,
no XML prologue.

Colours are the report's palette, used consistently: processing is blue, waiting is
amber, and the bottleneck is red.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Sequence

import numpy as np

__all__ = ["PROCESS", "WAIT", "HOT", "NEUTRAL", "bar_chart", "stacked_bars", "histogram", "interval_chart", "column_chart", "outline_node", "sanitize_svg"]

PROCESS = "#2f6db5"
WAIT = "#e3a33b"
HOT = "#c8362b"
NEUTRAL = "#8796a8"
INK = "#1f2933"
GRID = "#d9dee5"
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif"

WIDTH = 760
LABEL_W = 230
ROW_H = 22


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _short(text: str, n: int = 34) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def _open(height: float, label: str) -> str:
    return (
        f'<svg viewBox="0 0 {WIDTH} {height:.0f}" width="{WIDTH}" height="{height:.0f}" role="img" '
        f'aria-label="{_e(label)}" font-family="{_e(FONT)}" font-size="12" fill="{INK}">'
    )


def _duration_unit(v: float) -> float:
    """The unit (in seconds) in which :func:`leanops.report.format.duration` shows ``v``."""
    a = abs(v)
    return 1.0 if a < 60 else 60.0 if a < 3600 else 3600.0 if a < 48 * 3600 else 86400.0


def _ticks(vmax: float, *, duration: bool = False, n: int = 5) -> tuple[float, float]:
    """A round axis maximum and tick step covering ``vmax`` with about ``n`` ticks; for
    durations the step is round in the unit the labels use (s, min, h or d)."""
    if not np.isfinite(vmax) or vmax <= 0:
        return 1.0, 0.25
    unit = _duration_unit(vmax) if duration else 1.0
    raw = vmax / unit / (n - 1)
    exp = 10 ** np.floor(np.log10(raw))
    step = next(m * exp for m in (1, 2, 2.5, 5, 10) if m * exp >= raw)
    top = np.ceil(vmax / unit / step - 1e-9) * step
    return float(top * unit), float(step * unit)


def _tick_label(fmt: Callable[[float], str], duration: bool, vmax: float) -> Callable[[float], str]:
    """Tick labels in one unit along the axis (``0``, ``1 d``, ``2 d``...) for durations."""
    if not duration:
        return fmt
    unit = _duration_unit(vmax)
    name = {1.0: "s", 60.0: "min", 3600.0: "h", 86400.0: "d"}[unit]
    return lambda v: "0" if v == 0 else f"{v / unit:g} {name}"


def bar_chart(
    labels: Sequence[str],
    values: Sequence[float],
    *,
    fmt: Callable[[float], str],
    highlight: Sequence[int] = (),
    color: str = PROCESS,
    label: str = "bar chart",
    duration: bool = False,
) -> str:
    """Horizontal bars, one per label, value written at the end of each bar."""
    return stacked_bars(labels, [(label, list(values), color)], fmt=fmt, highlight=highlight, label=label, legend=False,
                        duration=duration)


def stacked_bars(
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float], str]],
    *,
    fmt: Callable[[float], str],
    highlight: Sequence[int] = (),
    label: str = "stacked bar chart",
    legend: bool = True,
    duration: bool = False,
) -> str:
    """Horizontal stacked bars: ``series`` is ``[(name, values, colour), ...]``.

    Rows in ``highlight`` get a red label and a red marker, the report's bottleneck mark.
    """
    n = len(labels)
    vals = np.array([[float(v) if v is not None and np.isfinite(float(v)) else 0.0 for v in s[1]] for s in series]).reshape(len(series), n)
    totals = vals.sum(axis=0) if n else np.zeros(0)
    vmax, step = _ticks(float(totals.max()) if n else 0.0, duration=duration)
    tick = _tick_label(fmt, duration, float(totals.max()) if n else 0.0)
    top = 26 if legend else 8
    plot_w = WIDTH - LABEL_W - 90
    height = top + n * ROW_H + 26
    hot = set(highlight)
    out = [_open(height, label)]
    if legend:
        x = LABEL_W
        for name, _, colour in series:
            out.append(f'<rect x="{x}" y="6" width="12" height="12" fill="{colour}"/>')
            out.append(f'<text x="{x + 17}" y="16">{_e(name)}</text>')
            x += 24 + 7 * len(name)
    # grid and axis ticks
    for i in range(int(round(vmax / step)) + 1):
        gx = LABEL_W + plot_w * i * step / vmax
        out.append(f'<line x1="{gx:.1f}" y1="{top - 2}" x2="{gx:.1f}" y2="{top + n * ROW_H}" stroke="{GRID}"/>')
        out.append(
            f'<text x="{gx:.1f}" y="{top + n * ROW_H + 16}" text-anchor="middle" fill="#52606d">{_e(tick(i * step))}</text>'
        )
    for r in range(n):
        y = top + r * ROW_H
        name = str(labels[r])
        is_hot = r in hot
        colour = HOT if is_hot else INK
        weight = ' font-weight="bold"' if is_hot else ""
        out.append(
            f'<text x="{LABEL_W - 8}" y="{y + 15}" text-anchor="end" fill="{colour}"{weight}>'
            f"<title>{_e(name)}</title>{_e(_short(name))}</text>"
        )
        x = float(LABEL_W)
        for k, (sname, _, scol) in enumerate(series):
            w = plot_w * vals[k, r] / vmax
            if w > 0:
                out.append(
                    f'<rect x="{x:.1f}" y="{y + 4}" width="{w:.1f}" height="{ROW_H - 8}" fill="{scol}">'
                    f"<title>{_e(name)}: {_e(sname)} {_e(fmt(vals[k, r]))}</title></rect>"
                )
            x += w
        if is_hot:
            out.append(f'<rect x="{LABEL_W - 4}" y="{y + 3}" width="3" height="{ROW_H - 6}" fill="{HOT}"/>')
        out.append(f'<text x="{x + 5:.1f}" y="{y + 15}" fill="#3e4c59">{_e(fmt(totals[r]))}</text>')
    out.append("</svg>")
    return "".join(out)


def histogram(
    values: Sequence[float] | np.ndarray,
    *,
    fmt: Callable[[float], str],
    bins: int = 30,
    color: str = PROCESS,
    label: str = "histogram",
    marks: Sequence[tuple[str, float]] = (),
    count_unit: str = "cases",
    duration: bool = False,
) -> str:
    """Vertical histogram with x ticks formatted by ``fmt``; ``marks`` are labelled vertical
    lines (e.g. the median and the 90th percentile)."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    height, left, bottom, top = 220, 56, 34, 22
    plot_w, plot_h = WIDTH - left - 40, height - bottom - top
    out = [_open(height, label)]
    if v.size == 0:
        out.append(f'<text x="{WIDTH / 2}" y="{height / 2}" text-anchor="middle">no data</text></svg>')
        return "".join(out)
    q = float(np.quantile(v, 0.99)) if v.size > 20 else float(v.max())
    hi, step = _ticks(q if q > 0 else 1.0, duration=duration)
    tick = _tick_label(fmt, duration, q if q > 0 else 1.0)
    counts, edges = np.histogram(np.clip(v, 0, hi), bins=bins, range=(0, hi))
    cmax, cstep = _ticks(float(counts.max()))
    cstep = max(cstep, 1.0)
    cmax = max(cmax, cstep)
    bw = plot_w / bins
    for i in range(int(round(cmax / cstep)) + 1):
        gy = top + plot_h - plot_h * i * cstep / cmax
        out.append(f'<line x1="{left}" y1="{gy:.1f}" x2="{left + plot_w}" y2="{gy:.1f}" stroke="{GRID}"/>')
        out.append(f'<text x="{left - 6}" y="{gy + 4:.1f}" text-anchor="end" fill="#52606d">{i * cstep:,.0f}</text>')
    out.append(
        f'<text x="12" y="{top + plot_h / 2:.0f}" transform="rotate(-90 12 {top + plot_h / 2:.0f})" '
        f'text-anchor="middle" fill="#52606d">{_e(count_unit)}</text>'
    )
    for i, c in enumerate(counts):
        if c:
            h = plot_h * c / cmax
            out.append(
                f'<rect x="{left + i * bw + 0.5:.1f}" y="{top + plot_h - h:.1f}" width="{max(bw - 1, 0.5):.1f}" '
                f'height="{h:.1f}" fill="{color}"><title>{_e(fmt(edges[i]))} to {_e(fmt(edges[i + 1]))}: '
                f"{c:,} {_e(count_unit)}</title></rect>"
            )
    for i in range(int(round(hi / step)) + 1):
        x = left + plot_w * i * step / hi
        out.append(f'<line x1="{x:.1f}" y1="{top + plot_h}" x2="{x:.1f}" y2="{top + plot_h + 4}" stroke="#52606d"/>')
        out.append(f'<text x="{x:.1f}" y="{height - 14}" text-anchor="middle" fill="#52606d">{_e(tick(i * step))}</text>')
    if v.max() > hi:
        out.append(f'<text x="{left + plot_w}" y="{top - 8}" text-anchor="end" fill="#52606d">the last bar includes the longest {(v > hi).mean():.1%} (up to {_e(fmt(v.max()))})</text>')
    for k, (name, at) in enumerate(marks):
        if at is None or not np.isfinite(at):
            continue
        x = left + plot_w * min(float(at), hi) / hi
        out.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{top + plot_h}" stroke="{INK}" stroke-dasharray="4 3"/>')
        out.append(f'<text x="{x + 4:.1f}" y="{top + 12 + 14 * k}" fill="{INK}">{_e(name)} {_e(fmt(at))}</text>')
    out.append("</svg>")
    return "".join(out)


_ALLOWED_HREF = re.compile(r"^#")


def sanitize_svg(svg: str) -> str:
    """Make an SVG produced elsewhere safe to inline in HTML.

    Drops the XML prologue, doctype and comments, ``script``/``foreignObject``/``style``
    elements, ``on*`` attributes, and any ``href`` that is not a fragment (``#id``), and
    writes it without namespace declarations (the HTML parser puts ``<svg>`` in the SVG
    namespace on its own), so the page references no external URL.
    """
    from lxml import etree

    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, remove_comments=True, remove_pis=True, huge_tree=True)
    root = etree.fromstring(svg.encode("utf-8") if isinstance(svg, str) else svg, parser)
    for el in list(root.iter()):
        if not isinstance(el.tag, str):
            continue
        local = etree.QName(el).localname.lower()
        if local in ("script", "foreignobject", "style", "iframe", "object", "embed", "image"):
            el.getparent().remove(el)
            continue
        for attr in list(el.attrib):
            name = etree.QName(attr).localname.lower()
            val = el.attrib[attr]
            if name.startswith("on") or (name == "href" and not _ALLOWED_HREF.match(val.strip())):
                del el.attrib[attr]
            elif "url(" in val and not re.fullmatch(r"\s*url\(\s*#[^)]*\)\s*", val):
                del el.attrib[attr]
    # No namespaces in the output: lxml writes them back otherwise.
    for el in root.iter():
        if isinstance(el.tag, str):
            el.tag = etree.QName(el).localname
            for attr in list(el.attrib):
                q = etree.QName(attr)
                if q.namespace:
                    val = el.attrib.pop(attr)
                    el.attrib[q.localname] = val
    etree.cleanup_namespaces(root)
    text = etree.tostring(root, encoding="unicode")
    return re.sub(r'\s+xmlns(:\w+)?="[^"]*"', "", text)


def interval_chart(
    labels: Sequence[str],
    effects: Sequence[float],
    lows: Sequence[float],
    highs: Sequence[float],
    *,
    fmt: Callable[[float], str],
    label: str = "effects with confidence intervals",
    color: str = HOT,
    duration: bool = False,
) -> str:
    """One row per label: a dot at the effect and a line across its confidence interval,
    with a zero line (the other cases)."""
    n = len(labels)
    vals = np.array([v for trio in zip(effects, lows, highs) for v in trio if v is not None and np.isfinite(v)] or [0.0])
    lo_v, hi_v = min(0.0, float(vals.min())), max(0.0, float(vals.max()))
    span = hi_v - lo_v or 1.0
    vmax, step = _ticks(span, duration=duration)
    tick = _tick_label(fmt, duration, span)
    lo_axis = -np.ceil(-lo_v / step) * step if lo_v < 0 else 0.0
    hi_axis = lo_axis + max(vmax, np.ceil((hi_v - lo_axis) / step) * step)
    plot_w = WIDTH - LABEL_W - 90
    top = 8
    height = top + n * ROW_H + 26

    def x(v: float) -> float:
        return LABEL_W + plot_w * (v - lo_axis) / (hi_axis - lo_axis)

    out = [_open(height, label)]
    k = 0
    while lo_axis + k * step <= hi_axis + 1e-9:
        v = lo_axis + k * step
        out.append(f'<line x1="{x(v):.1f}" y1="{top - 2}" x2="{x(v):.1f}" y2="{top + n * ROW_H}" stroke="{GRID}"/>')
        out.append(f'<text x="{x(v):.1f}" y="{top + n * ROW_H + 16}" text-anchor="middle" fill="#52606d">{_e(tick(v))}</text>')
        k += 1
    out.append(f'<line x1="{x(0):.1f}" y1="{top - 2}" x2="{x(0):.1f}" y2="{top + n * ROW_H}" stroke="{INK}"/>')
    for r in range(n):
        y = top + r * ROW_H + ROW_H / 2
        name = str(labels[r])
        out.append(f'<text x="{LABEL_W - 8}" y="{y + 4:.1f}" text-anchor="end"><title>{_e(name)}</title>{_e(_short(name))}</text>')
        e, lo, hi = effects[r], lows[r], highs[r]
        if lo is not None and hi is not None and np.isfinite(lo) and np.isfinite(hi):
            out.append(f'<line x1="{x(lo):.1f}" y1="{y:.1f}" x2="{x(hi):.1f}" y2="{y:.1f}" stroke="{color}" stroke-width="2"/>')
        if e is not None and np.isfinite(e):
            out.append(
                f'<circle cx="{x(e):.1f}" cy="{y:.1f}" r="4.5" fill="{color}"><title>{_e(name)}: {_e(fmt(e))} '
                f"(95 % CI {_e(fmt(lo))} to {_e(fmt(hi))})</title></circle>"
            )
            out.append(f'<text x="{max(x(e), x(hi) if hi is not None and np.isfinite(hi) else x(e)) + 6:.1f}" y="{y + 4:.1f}" fill="#3e4c59">{_e(fmt(e))}</text>')
    out.append("</svg>")
    return "".join(out)


def column_chart(
    labels: Sequence[str],
    values: Sequence[float],
    *,
    fmt: Callable[[float], str],
    color: str = NEUTRAL,
    label: str = "column chart",
    unit: str = "",
    max_labels: int = 12,
    band: Sequence[int] = (),
) -> str:
    """Vertical bars over an ordered axis (a time series), with every k-th label shown.

    ``band``: positions of bars to shade behind and draw hatched-pale (e.g. the periods a
    log's export window cuts off)."""
    v = np.array([float(x) if x is not None and np.isfinite(float(x)) else 0.0 for x in values])
    n = len(v)
    height, left, bottom, top = 190, 56, 40, 14
    plot_w, plot_h = WIDTH - left - 16, height - bottom - top
    vmax, step = _ticks(float(v.max()) if n else 0.0)
    step = max(step, 1.0)  # counts
    vmax = max(vmax, step)
    out = [_open(height, label)]
    for i in range(int(round(vmax / step)) + 1):
        gy = top + plot_h - plot_h * i * step / vmax
        out.append(f'<line x1="{left}" y1="{gy:.1f}" x2="{left + plot_w}" y2="{gy:.1f}" stroke="{GRID}"/>')
        out.append(f'<text x="{left - 6}" y="{gy + 4:.1f}" text-anchor="end" fill="#52606d">{_e(fmt(i * step))}</text>')
    if unit:
        out.append(
            f'<text x="12" y="{top + plot_h / 2:.0f}" transform="rotate(-90 12 {top + plot_h / 2:.0f})" '
            f'text-anchor="middle" fill="#52606d">{_e(unit)}</text>'
        )
    bw = plot_w / max(n, 1)
    every = max(1, int(np.ceil(n / max_labels)))
    banded = set(int(i) for i in band)
    for i in sorted(banded):
        if 0 <= i < n:
            out.append(f'<rect x="{left + i * bw:.1f}" y="{top}" width="{bw:.1f}" height="{plot_h}" fill="#f3e1df"/>')
    for i in range(n):
        h = plot_h * v[i] / vmax
        x = left + i * bw
        fill = "#d9a29c" if i in banded else color
        out.append(
            f'<rect x="{x + 1:.1f}" y="{top + plot_h - h:.1f}" width="{max(bw - 2, 0.5):.1f}" height="{h:.1f}" fill="{fill}">'
            f"<title>{_e(labels[i])}: {_e(fmt(v[i]))}{' (cut-off band)' if i in banded else ''}</title></rect>"
        )
        if i % every == 0:
            out.append(f'<text x="{x + bw / 2:.1f}" y="{height - 22}" text-anchor="middle" fill="#52606d">{_e(labels[i])}</text>')
    out.append("</svg>")
    return "".join(out)


def outline_node(svg: str, label: str, *, color: str = HOT) -> tuple[str, bool]:
    """Outline, in ``color``, the node of a (sanitized) Graphviz SVG whose first text line
    is ``label``; returns the SVG and whether a node was found."""
    from lxml import etree

    root = etree.fromstring(svg.encode("utf-8"), etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True))
    found = False
    for g in root.iter("g"):
        if g.get("class") != "node":
            continue
        texts = [t for t in g if t.tag == "text"]
        if not texts or (texts[0].text or "").strip() != label.strip():
            continue
        for shape in g:
            if shape.tag in ("path", "polygon", "ellipse", "rect"):
                shape.set("stroke", color)
                shape.set("stroke-width", "3.5")
        found = True
    return etree.tostring(root, encoding="unicode"), found
