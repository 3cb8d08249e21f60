"""Writers: a :class:`~leanops.report.model.Report` as HTML, Markdown or a JSON document.

Every string that comes from the log (activity names, resources, attribute values, file
names) is escaped here: ``html.escape`` for HTML, and HTML escaping plus Markdown
escaping for Markdown (wikis render inline HTML). The HTML page is self-contained: inline
CSS and inline SVG, no script, and no reference to any external URL.
"""

from __future__ import annotations

import html
import re
from typing import TYPE_CHECKING, Any

from .._json import jsonable
from . import charts
from . import format as fmt

if TYPE_CHECKING:  # annotations only: model imports this module for Report.to_html
    from .model import Report, Section, Table

__all__ = ["to_html", "to_markdown", "to_json", "index_html", "md_escape", "figure_files", "CSS"]

_NUMERIC_UNITS = {"count", "cases", "instances", "duration", "percent", "per_day", "number", "ratio", "pvalue"}

CSS = f"""
.lo {{ --ink:#1f2933; --muted:#52606d; --line:#d9dee5; --hot:{charts.HOT}; --proc:{charts.PROCESS}; --wait:{charts.WAIT};
  color:var(--ink); font:15px/1.5 system-ui,-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;
  max-width:1000px; margin:0 auto; padding:24px 28px 48px; background:#fff; }}
.lo h1 {{ font-size:26px; margin:0 0 4px; line-height:1.25; }}
.lo h2 {{ font-size:20px; margin:0 0 10px; padding-bottom:4px; border-bottom:2px solid var(--ink); }}
.lo h3 {{ font-size:15px; margin:18px 0 6px; }}
.lo .meta {{ color:var(--muted); margin:0 0 14px; font-size:13px; }}
.lo nav.toc {{ display:flex; flex-wrap:wrap; gap:4px 14px; font-size:13px; padding:8px 0 10px;
  border-top:1px solid var(--line); border-bottom:1px solid var(--line); margin-bottom:22px; }}
.lo nav.toc a {{ color:var(--proc); text-decoration:none; }}
.lo section.sec {{ margin:0 0 34px; }}
.lo section.summary {{ background:#f4f6f9; border-left:5px solid var(--hot); padding:14px 18px 8px; }}
.lo section.summary h2 {{ border:0; }}
.lo section.summary li {{ margin:0 0 8px; font-size:16px; }}
.lo p {{ margin:0 0 8px; }}
.lo strong {{ font-weight:650; }}
.lo .cards {{ display:grid; grid-template-columns:repeat(auto-fill,minmax(170px,1fr)); gap:10px; margin:10px 0 16px; }}
.lo .card {{ border:1px solid var(--line); border-radius:6px; padding:10px 12px; }}
.lo .card .v {{ font-size:20px; font-weight:650; line-height:1.2; white-space:nowrap; }}
.lo .card .k {{ font-size:12px; color:var(--muted); }}
.lo .card.hot {{ border-color:var(--hot); }} .lo .card.hot .v {{ color:var(--hot); }}
.lo .tw {{ overflow-x:auto; margin:4px 0 6px; }}
.lo table.t {{ border-collapse:collapse; font-size:13px; width:100%; }}
.lo table.t th {{ text-align:left; font-weight:600; border-bottom:2px solid var(--ink); padding:4px 8px; white-space:nowrap; }}
.lo table.t td {{ border-bottom:1px solid var(--line); padding:3px 8px; vertical-align:top; overflow-wrap:break-word; }}
.lo table.t td.w {{ min-width:9em; }}
.lo table.t th {{ white-space:normal; }}
.lo table.t .n {{ text-align:right; white-space:nowrap; font-variant-numeric:tabular-nums; }}
.lo table.t tr.hot td {{ color:var(--hot); font-weight:600; }}
.lo table.t tr.hot td:first-child {{ box-shadow:inset 4px 0 0 var(--hot); }}
.lo .more {{ font-size:12px; color:var(--muted); }}
.lo figure {{ margin:12px 0 16px; page-break-inside:avoid; break-inside:avoid; }}
.lo figure svg {{ max-width:100%; height:auto; display:block; }}
.lo figure.map {{ border:1px solid var(--line); padding:6px; }}
.lo figure.map svg {{ margin:0 auto; }}
.lo figcaption {{ font-size:12px; color:var(--muted); margin-top:2px; }}
.lo .fig-title {{ font-weight:600; font-size:14px; margin:0 0 4px; }}
.lo .err {{ border-left:4px solid var(--hot); background:#fdf1f0; padding:6px 10px; }}
.lo .how {{ font-size:12px; }} .lo .how a {{ color:var(--muted); }}
.lo footer {{ color:var(--muted); font-size:12px; border-top:1px solid var(--line); padding-top:8px; }}
.lo .legend span {{ display:inline-block; width:11px; height:11px; margin:0 4px 0 10px; vertical-align:-1px; }}
@media (max-width:640px) {{ .lo {{ padding:14px; }} .lo h1 {{ font-size:21px; }} }}
@media print {{
  .lo {{ max-width:none; padding:0; font-size:11pt; }} .lo nav.toc {{ display:none; }}
  .lo section.sec {{ page-break-inside:auto; }} .lo h2 {{ page-break-after:avoid; break-after:avoid; }}
  .lo table.t tr {{ page-break-inside:avoid; break-inside:avoid; }}
  .lo figure.map {{ border:0; }} .lo figure.map svg {{ max-height:24cm; width:auto; }}
  .lo section.summary {{ -webkit-print-color-adjust:exact; print-color-adjust:exact; }}
  .lo a {{ color:inherit; text-decoration:none; }} .lo .how {{ display:none; }}
}}
"""


def _version() -> str:
    from .._version import __version__

    return __version__


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _rich(text: str) -> str:
    """Escape, then turn ``**x**`` into bold."""
    return re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", _e(text))


def _rows_shown(table: Table, default: int) -> int:
    limit = default if table.max_rows is None else table.max_rows
    return len(table.frame) if limit == 0 else limit


def _cells(table: Table, n: int) -> list[list[str]]:
    frame = table.frame.head(n)
    cols = list(frame.columns)
    return [[fmt.value(v, table.units.get(c, "text")) for c, v in zip(cols, row)] for row in frame.itertuples(index=False)]


def _more(table: Table, shown: int) -> str | None:
    total = len(table.frame)
    if total > shown:
        return f"{total - shown:,} more rows not shown ({total:,} in all; the JSON output has every row)."
    return None


# ------------------------------------------------------------------------------ HTML
def _table_html(table: Table, max_rows: int) -> str:
    n = _rows_shown(table, max_rows)
    cols = list(table.frame.columns)
    num = [table.units.get(c, "text") in _NUMERIC_UNITS for c in cols]
    head = "".join(f'<th class="n">{_e(table.label(c))}</th>' if k else f"<th>{_e(table.label(c))}</th>" for c, k in zip(cols, num))
    wide = [c in ("activity", "source", "target", "pool", "evidence", "activities", "reason", "feature", "value", "name", "why",
                  "condition", "measure") for c in cols]
    hot = set(table.highlight)
    body = []
    for i, row in enumerate(_cells(table, n)):
        tds = "".join(f'<td class="n">{_e(v)}</td>' if k else f'<td class="w">{_e(v)}</td>' if w else f"<td>{_e(v)}</td>"
                      for v, k, w in zip(row, num, wide))
        body.append(f'<tr class="hot">{tds}</tr>' if i in hot else f"<tr>{tds}</tr>")
    more = _more(table, n)
    title = f'<h3>{_e(table.title)}</h3>' if table.title else ""
    return (
        f'{title}<div class="tw"><table class="t"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table></div>'
        + (f'<p class="more">{_e(more)}</p>' if more else "")
    )


def _section_html(sec: Section, max_rows: int, has_appendix: bool) -> str:
    cls = "sec summary" if sec.key == "summary" else "sec"
    out = [f'<section id="{_e(sec.key)}" class="{cls}"><h2>{_e(sec.title)}</h2>']
    if sec.error:
        out.append(f'<p class="err">This section could not be computed: {_e(sec.error)}</p>')
    if sec.key == "summary":
        out.append("<ol>" + "".join(f"<li>{_rich(t)}</li>" for t in sec.summary) + "</ol>")
    else:
        out += [f"<p>{_rich(t)}</p>" for t in sec.summary]
    if sec.cards:
        out.append(
            '<div class="cards">'
            + "".join(
                f'<div class="card{" hot" if c.hot else ""}"><div class="v">{_e(c.value)}</div>'
                f'<div class="k">{_e(c.label)}</div></div>'
                for c in sec.cards
            )
            + "</div>"
        )
    for fig in sec.figures:
        kind = ' class="map"' if "map" in fig.title.lower() else ""
        out.append(
            f'<figure{kind}><div class="fig-title">{_e(fig.title)}</div>{fig.svg}'
            + (f"<figcaption>{_e(fig.caption)}</figcaption>" if fig.caption else "")
            + "</figure>"
        )
    for t in sec.tables:
        out.append(_table_html(t, max_rows))
    if sec.notes and has_appendix and sec.key != "appendix":
        out.append('<p class="how"><a href="#appendix">How these numbers are computed</a></p>')
    out.append("</section>")
    return "".join(out)


def _meta(report: Report) -> str:
    i = report.info
    parts = [
        f"{i.get('cases', 0):,} cases",
        f"{i.get('events', 0):,} activity instances",
        f"{i.get('activities', 0):,} activities",
        f"{(i.get('start') or '')[:10]} to {(i.get('end') or '')[:10]}",
    ]
    if report.period.get("label"):
        parts.append(f"cases started {report.period['label']}")
    parts.append(f"generated {report.generated}")
    return " · ".join(parts)


def to_html(report: Report, *, fragment: bool = False) -> str:
    """The report as one self-contained HTML page (or a ``<div>`` for notebooks)."""
    has_app = report.section("appendix") is not None
    toc = "".join(f'<a href="#{_e(s.key)}">{_e(s.title)}</a>' for s in report.sections)
    body = "".join(_section_html(s, report.max_rows, has_app) for s in report.sections)
    src = report.info.get("source") or report.name
    inner = (
        f'<div class="lo"><header><h1>{_e(report.title)}</h1>'
        f'<p class="meta">{_e(_meta(report))}<br>source: {_e(src)}</p></header>'
        f'<nav class="toc">{toc}</nav>{body}'
        f"<footer>Made with leanops {_e(_version())}. Durations are calendar time unless stated; "
        f"every table in full is in the JSON output (<code>--format json</code>).</footer></div>"
    )
    if fragment:
        return f"<div><style>{CSS}</style>{inner}</div>"
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(report.title)}</title><style>{CSS}</style></head>"
        f"<body style=\"margin:0;background:#fff\">{inner}</body></html>\n"
    )


def index_html(entries: list[dict[str, Any]], *, title: str = "leanops reports") -> str:
    """A page linking the reports of a batch: ``entries`` have ``name``, ``href`` (or
    None when the log failed), ``cases``, ``events``, ``summary`` and ``error``."""
    rows = []
    for e in entries:
        link = f'<a href="{_e(e["href"])}">{_e(e["name"])}</a>' if e.get("href") else _e(e["name"])
        if e.get("error"):
            rows.append(f'<tr class="hot"><td>{link}</td><td class="n">–</td><td class="n">–</td><td>failed: {_e(e["error"])}</td></tr>')
        else:
            finding = _rich(e.get("summary") or "")
            rows.append(
                f'<tr><td>{link}</td><td class="n">{e.get("cases", 0):,}</td><td class="n">{e.get("events", 0):,}</td><td>{finding}</td></tr>'
            )
    n_fail = sum(1 for e in entries if e.get("error"))
    meta = f"{len(entries)} logs" + (f", {n_fail} failed" if n_fail else "")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{CSS}</style></head><body style=\"margin:0\"><div class=\"lo\">"
        f'<h1>{_e(title)}</h1><p class="meta">{_e(meta)}</p>'
        '<div class="tw"><table class="t"><thead><tr><th>log</th><th class="n">cases</th><th class="n">activity instances</th>'
        f'<th>top finding</th></tr></thead><tbody>{"".join(rows)}</tbody></table></div></div></body></html>\n'
    )


# -------------------------------------------------------------------------- Markdown
_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~])")


def md_escape(text: Any) -> str:
    """Escape for Markdown: HTML first (wikis render inline HTML), then Markdown syntax."""
    t = _MD_SPECIAL.sub(r"\\\1", html.escape(str(text), quote=False)).replace("\n", " ")
    return "\\" + t if t[:1] in ("#", "+", "-", "=") else t


def _md_rich(text: str) -> str:
    parts = re.split(r"\*\*(.+?)\*\*", text)
    return "".join(f"**{md_escape(p)}**" if i % 2 else md_escape(p) for i, p in enumerate(parts))


def _table_md(table: Table, max_rows: int) -> list[str]:
    n = _rows_shown(table, max_rows)
    cols = list(table.frame.columns)
    num = [table.units.get(c, "text") in _NUMERIC_UNITS for c in cols]
    out = [f"**{md_escape(table.title)}**", ""] if table.title else []
    out.append("| " + " | ".join(md_escape(table.label(c)) for c in cols) + " |")
    out.append("|" + "|".join("---:" if k else "---" for k in num) + "|")
    hot = set(table.highlight)
    for i, row in enumerate(_cells(table, n)):
        cells = [md_escape(v) for v in row]
        if i in hot and cells:
            cells[0] = f"**{cells[0]}** ⚑"
        out.append("| " + " | ".join(cells) + " |")
    more = _more(table, n)
    if more:
        out += ["", f"_{md_escape(more)}_"]
    return out + [""]


def to_markdown(report: Report, *, assets: str | None = None) -> str:
    """The report as Markdown. Charts are referenced as ``{assets}/{section}-{i}.svg``
    when ``assets`` is given (the writer saves them there), else named only."""
    lines = [f"# {md_escape(report.title)}", "", md_escape(_meta(report)), ""]
    for sec in report.sections:
        lines += [f"## {md_escape(sec.title)}", ""]
        if sec.error:
            lines += [f"> This section could not be computed: {md_escape(sec.error)}", ""]
        if sec.key == "summary":
            lines += [f"{i}. {_md_rich(t)}" for i, t in enumerate(sec.summary, 1)] + [""]
        else:
            for t in sec.summary:
                lines += [_md_rich(t), ""]
        if sec.cards:
            lines += ["| indicator | value |", "|---|---:|"]
            lines += [f"| {md_escape(c.label)} | {md_escape(c.value)} |" for c in sec.cards]
            lines.append("")
        for i, fig in enumerate(sec.figures, 1):
            if assets:
                lines += [f"![{md_escape(fig.title)}]({assets}/{sec.key}-{i}.svg)", ""]
            else:
                lines += [f"_Chart: {md_escape(fig.title)} (in the HTML report)._", ""]
            if fig.caption:
                lines += [f"_{md_escape(fig.caption)}_", ""]
        for t in sec.tables:
            lines += _table_md(t, report.max_rows)
    lines.append(f"_Made with leanops {_version()}; generated {md_escape(report.generated)}._")
    return "\n".join(lines) + "\n"


def figure_files(report: Report) -> dict[str, str]:
    """``{"section-i.svg": standalone SVG}`` for the Markdown output's charts."""
    out = {}
    for sec in report.sections:
        for i, fig in enumerate(sec.figures, 1):
            svg = fig.svg
            if "xmlns=" not in svg[:200]:
                svg = svg.replace("<svg", '<svg xmlns="http://www.w3.org/2000/svg"', 1)
            out[f"{sec.key}-{i}.svg"] = svg
    return out


# ------------------------------------------------------------------------------ JSON
def _table_json(t: Table) -> list[dict[str, Any]]:
    return jsonable(t.frame.reset_index(drop=True))


def to_json(report: Report) -> dict[str, Any]:
    """Every table in full, plus each analysis in the shape of its CLI command's JSON
    (``info``, and ``discover``, ``valuestream``, ``bottlenecks``, ``rca``... where the
    report has that section)."""
    doc: dict[str, Any] = {
        "title": report.title,
        "name": report.name,
        "generated": report.generated,
        "period": report.period,
        "info": report.info,
    }
    sections = []
    for sec in report.sections:
        entry = {
            "key": sec.key,
            "title": sec.title,
            "summary": [t.replace("**", "") for t in sec.summary],
            "cards": {c.label: c.value for c in sec.cards},
            "tables": {(t.key or f"table_{i}"): _table_json(t) for i, t in enumerate(sec.tables, 1)},
            "notes": sec.notes,
            "error": sec.error,
            "elapsed_s": round(sec.elapsed_s, 4),
            "data": sec.data,
        }
        sections.append(entry)
        if sec.command and not sec.error:
            doc[sec.command] = sec.data
    doc["sections"] = sections
    doc["timings_s"] = {k: round(v, 4) for k, v in report.timings.items()}
    doc["failed"] = report.failed
    return jsonable(doc)

