"""The sections of the bottleneck report, one function each: ``Context -> Section``.

A section only shows an analysis that leanops implements; each one states how its
numbers are computed in ``notes`` (gathered in the appendix).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..log import EventLog
from . import charts
from . import format as fmt
from .config import ReportConfig
from .model import Card, Figure, Finding, Section, Table

__all__ = ["Context", "SECTIONS", "SECTION_TITLES", "case_times"]


@dataclass
class Context:
    """What a section function gets: the (period-filtered) log and the report options."""

    log: EventLog
    config: ReportConfig
    name: str
    period: dict[str, Any] = field(default_factory=dict)
    done: dict[str, Section] = field(default_factory=dict)
    cache: dict[str, Any] = field(default_factory=dict)


def case_times(log: EventLog) -> pd.DataFrame:
    """Per case: ``case_id``, ``start`` (first start, or end where unknown), ``end`` (last
    end), ``lead_time_s`` and ``instances``."""
    cached = log._cache.get("report_case_times")
    if cached is not None:
        return cached
    d = log.df
    starts = log.case_starts
    if len(d) == 0:
        out = pd.DataFrame({"case_id": [], "start": [], "end": [], "lead_time_s": [], "instances": []})
    else:
        t0 = log.sort_time().to_numpy(dtype="datetime64[ns]").view(np.int64)
        t1 = d["end"].to_numpy(dtype="datetime64[ns]").view(np.int64)
        first = np.minimum.reduceat(t0, starts)
        last = np.maximum.reduceat(t1, starts)
        out = pd.DataFrame(
            {
                "case_id": d["case_id"].to_numpy()[starts],
                "start": pd.to_datetime(first, utc=True),
                "end": pd.to_datetime(last, utc=True),
                "lead_time_s": (last - first) / 1e9,
                "instances": np.diff(np.r_[starts, len(d)]),
            }
        )
    log._cache["report_case_times"] = out
    return out


# ------------------------------------------------------------------------------ KPIs
def kpis(ctx: Context) -> Section:
    log = ctx.log
    ct = case_times(log)
    lt = ct["lead_time_s"].to_numpy(dtype=float)
    span_s = (log.end_time - log.start_time).total_seconds() if len(log) else 0.0
    days = span_s / 86400
    mean, median, p90 = (float(np.mean(lt)), float(np.median(lt)), float(np.quantile(lt, 0.9))) if lt.size else (np.nan,) * 3
    throughput = ct.shape[0] / days if days > 0 else np.nan
    # Time-average number of open cases over the observed span (Little's law, exact
    # when every case starts and ends inside the span, as in an extract of finished cases).
    wip = float(lt.sum() / span_s) if span_s > 0 else np.nan
    s = Section("kpis", "Key performance indicators")
    cards = [
        {"kpi": "lead_time_mean_s", "label": "Lead time (mean)", "value": mean, "unit": "duration"},
        {"kpi": "lead_time_median_s", "label": "Lead time (median)", "value": median, "unit": "duration"},
        {"kpi": "lead_time_p90_s", "label": "Lead time (90th percentile)", "value": p90, "unit": "duration"},
        {"kpi": "throughput_per_day", "label": "Throughput", "value": throughput, "unit": "per_day"},
        {"kpi": "wip_mean", "label": "Work in progress (mean)", "value": wip, "unit": "wip"},
        {"kpi": "cases", "label": "Cases", "value": ct.shape[0], "unit": "cases"},
    ]
    s.data = {
        "cases": int(ct.shape[0]),
        "events": len(log),
        "lead_time_mean_s": mean,
        "lead_time_median_s": median,
        "lead_time_p90_s": p90,
        "throughput_per_day": throughput,
        "wip_mean": wip,
        "span_s": span_s,
    }
    s.cards = [Card(c["label"], _card_value(c["value"], c["unit"])) for c in cards]
    s.summary.append(
        f"{fmt.count(ct.shape[0])} cases over {fmt.duration(span_s)} ({_day(log.start_time)} to {_day(log.end_time)}): "
        f"{fmt.per_day(throughput)} on average, with {fmt.number(wip, digits=1)} cases in progress at a time."
    )
    s.summary.append(
        f"A case takes **{fmt.duration(mean)}** on average from its first to its last activity; "
        f"half take less than {fmt.duration(median)} and one in ten takes more than {fmt.duration(p90)}."
    )
    s.findings.append(
        Finding(
            0.9,
            f"Lead time is **{fmt.duration(mean)}** on average (median {fmt.duration(median)}), "
            f"and one case in ten takes more than **{fmt.duration(p90)}**.",
        )
    )
    if lt.size:
        s.figures.append(
            _figure(
                "Lead time per case",
                charts.histogram(
                    lt, fmt=fmt.duration, label="Histogram of lead time per case",
                    marks=[("median", median), ("p90", p90)], count_unit="cases", duration=True,
                ),
                f"{fmt.count(lt.size)} cases; dashed lines mark the median and the 90th percentile.",
            )
        )
        weekly = ct.set_index("end")["case_id"].resample("W-MON", label="left", closed="left").count()
        if 2 <= len(weekly) <= 80:
            s.figures.append(
                _figure(
                    "Cases completed per week",
                    charts.bar_chart(
                        [f"week of {d:%Y-%m-%d}" for d in weekly.index], weekly.to_numpy(dtype=float),
                        fmt=lambda v: f"{v:,.0f}", color=charts.NEUTRAL, label="Cases completed per week",
                    ),
                    "Completed cases by the week (Monday to Sunday, UTC) of their last activity.",
                )
            )
    s.notes += [
        "Lead time: per case, from the start of its first activity (its end where the log has no start) "
        "to the end of its last activity, in calendar time.",
        "Throughput: cases in the log divided by the days between the log's first and last timestamp.",
        "Work in progress: the time-average number of open cases over that span (the sum of lead times "
        "divided by the span, Little's law); exact when the extract holds whole cases only.",
    ]
    return s


def _card_value(v: Any, unit: str) -> str:
    if unit == "cases":
        return fmt.count(v, "cases")
    if unit == "wip":
        return f"{fmt.number(v, digits=1)} cases"
    return fmt.value(v, unit)


def _day(ts: Any) -> str:
    return "–" if ts is None or pd.isna(ts) else pd.Timestamp(ts).strftime("%Y-%m-%d")


def _figure(title: str, svg: str, caption: str = "") -> Figure:
    return Figure(title, svg, caption)


# ----------------------------------------------------------------------- data quality
def quality(ctx: Context) -> Section:
    log = ctx.log
    q = log.quality
    s = Section("quality", "Data quality")
    rows_read, rows_kept = q.rows_read, q.rows_kept
    n_drop, n_rep = sum(q.dropped.values()), sum(q.repaired.values())
    d = log.df
    no_start = int(d["start"].isna().sum())
    no_res = int(d["resource"].isna().sum())
    n = len(d)
    s.summary.append(
        f"{fmt.count(rows_read)} source rows read and {fmt.count(rows_kept)} kept "
        f"({fmt.percent(rows_kept / rows_read if rows_read else np.nan)}), giving {fmt.count(n)} activity instances "
        f"in {fmt.count(log.n_cases)} cases."
        + ("" if n_drop or n_rep else " Nothing was dropped or repaired.")
    )
    if n_drop:
        s.summary.append(
            f"{fmt.count(n_drop)} rows were dropped: "
            + "; ".join(f"{fmt.count(v)} {k.replace('_', ' ')}" for k, v in q.dropped.items()) + "."
        )
    if n_rep:
        s.summary.append(
            f"{fmt.count(n_rep)} rows were repaired: "
            + "; ".join(f"{fmt.count(v)} {k.replace('_', ' ')}" for k, v in q.repaired.items()) + "."
        )
    if no_start == n and n:
        s.summary.append(
            "The log has completion times only, so waiting and processing cannot be told apart "
            "within an activity; times between activities are measured end to end."
        )
    elif no_start:
        s.summary.append(f"{fmt.count(no_start)} activity instances ({fmt.percent(no_start / n)}) have no start time.")
    if no_res:
        s.summary.append(f"{fmt.count(no_res)} activity instances ({fmt.percent(no_res / n)}) have no resource.")
    per = ctx.period
    if per.get("cases_before") is not None:
        s.summary.append(
            f"Period filter: {fmt.count(per['cases_after'])} of {fmt.count(per['cases_before'])} cases "
            f"started {per['label']}; the other {fmt.count(per['cases_before'] - per['cases_after'])} are left out."
        )
    rows = [("read", "source rows", rows_read), ("kept", "source rows", rows_kept)]
    rows += [("dropped", k, v) for k, v in q.dropped.items()]
    rows += [("repaired", k, v) for k, v in q.repaired.items()]
    rows += [("missing", "start time", no_start), ("missing", "resource", no_res)]
    s.tables.append(
        Table("Rows read, kept, dropped and repaired", pd.DataFrame(rows, columns=["kind", "reason", "rows"]),
              units={"rows": "count"}, key="rows")
    )
    if q.warnings:
        s.tables.append(Table("Warnings while reading", pd.DataFrame({"warning": list(q.warnings)}), key="warnings"))
    g = pd.DataFrame({
        "activity": d["activity"].astype(str),
        "case": log.case_codes,
        "no_start": d["start"].isna().to_numpy(),
        "no_resource": d["resource"].isna().to_numpy(),
    }).groupby("activity", sort=False, observed=True)
    acts = pd.DataFrame({
        "instances": g.size(),
        "cases": g["case"].nunique(),
        "without_start": g["no_start"].mean(),
        "without_resource": g["no_resource"].mean(),
    }).sort_values(["instances"], ascending=False, kind="stable").reset_index()
    s.tables.append(
        Table("Activities in the log", acts, key="activities",
              units={"instances": "count", "cases": "count", "without_start": "percent", "without_resource": "percent"},
              labels={"without_start": "without start time", "without_resource": "without resource"})
    )
    share_dropped = n_drop / rows_read if rows_read else 0.0
    if share_dropped >= 0.01:
        s.findings.append(
            Finding(0.95, f"Data quality: {fmt.percent(share_dropped)} of the source rows were dropped "
                          f"({fmt.count(n_drop)} rows); read the data-quality section before trusting the numbers.")
        )
    s.data = {"info": log.summary(), "missing": {"start": no_start, "resource": no_res}, "period": dict(per)}
    s.notes.append(
        "Data quality: rows are counted as they are read; nothing is dropped silently. Start/complete "
        "pairs make one activity instance, so kept rows can exceed instances."
    )
    return s


def _hot_activity(ctx: Context) -> str | None:
    """The top-ranked bottleneck (from the bottleneck section, computed first), marked in
    red wherever it appears."""
    sec = ctx.done.get("bottlenecks")
    if sec is None or sec.error or not len(sec.data.get("bottlenecks", ())):
        return None
    return str(sec.data["bottlenecks"]["activity"].iloc[0])


# ----------------------------------------------------------------------- process map
def process_map(ctx: Context) -> Section:
    from ..mining import discover
    from ..mining.graph import END, START

    g = discover(ctx.log)
    s = Section("map", "Process map", command="discover")
    s.data = g.to_json()
    n_act, n_paths = len(g.nodes), len(g.edges)
    max_nodes = 30
    shown = g
    if n_act > 15 or n_paths > 40:  # a readable map: the main activities and paths (the tables keep all)
        shown = discover(ctx.log, activities=0.95, paths=0.7)
    svg = charts.sanitize_svg(shown.to_svg(overlay="performance", max_nodes=max_nodes))
    caption = (
        "Directly-follows map with the performance overlay: edge labels give the mean wait between "
        "two activities, edge width follows how often the path is taken, nodes show count and mean processing time."
    )
    if shown is not g:
        caption += (f" Simplified for reading: {len(shown.nodes)} of {n_act} activities and {len(shown.edges)} of "
                    f"{n_paths} paths are drawn; the table below and the JSON output cover them all.")
    s.figures.append(Figure("Process map", svg, caption))
    s.summary.append(
        f"{fmt.count(ctx.log.n_cases)} cases follow {fmt.count(n_act)} activities along {fmt.count(n_paths)} "
        f"distinct paths (directly-follows relations between activities)."
    )
    e = g.edges.copy()
    e = e[(e["source"] != START) & (e["target"] != END)]
    if len(e):
        e["wait_total_s"] = e["wait_mean_s"].fillna(0) * e["count"]
        e = e.sort_values("wait_total_s", ascending=False, kind="stable").reset_index(drop=True)
        top = e.iloc[0]
        total = e["wait_total_s"].sum()
        s.summary.append(
            f"Most waiting happens between **{top['source']}** and **{top['target']}**: "
            f"{fmt.count(top['count'])} times, {fmt.duration(top['wait_mean_s'])} on average "
            f"({fmt.percent(top['wait_total_s'] / total if total else np.nan)} of all waiting between activities)."
        )
        hot = _hot_activity(ctx)
        cols = ["source", "target", "count", "cases", "wait_mean_s", "wait_median_s", "wait_p90_s", "wait_total_s"]
        s.tables.append(Table(
            "Paths with the most waiting in total", e[cols], key="paths",
            units={"count": "count", "cases": "count", "wait_mean_s": "duration", "wait_median_s": "duration",
                   "wait_p90_s": "duration", "wait_total_s": "duration"},
            labels={"count": "transitions", "wait_mean_s": "wait mean", "wait_median_s": "wait median",
                    "wait_p90_s": "wait p90", "wait_total_s": "wait in total"},
            highlight=[i for i, t in enumerate(e["target"].head(50)) if hot is not None and t == hot],
            max_rows=10,
        ))
    s.notes.append(
        "Process map: instances of a case are ordered by start (end where unknown); an edge a → b counts "
        "consecutive instances. Its wait is start(b) − end(a), 0 when they overlap (parallel work), and end to "
        "end where b has no start time. Maps with more than 15 activities or 40 paths are drawn simplified (the "
        "most frequent activities covering 95 % of instances, the most frequent paths covering 70 % of "
        "transitions, kept connected); the tables and the JSON hold every path."
    )
    return s


# --------------------------------------------------------------------------- variants
def _variants_table(ctx: Context) -> Table | None:
    from ..mining import variants

    v = variants(ctx.log)
    if not len(v):
        return None
    t = v.copy()
    t["activities"] = t["activities"].map(lambda a: " → ".join(map(str, a)))
    cols = ["variant", "cases", "share", "cumulative_share", "length", "cycle_time_mean_s", "cycle_time_p90_s", "activities"]
    return Table(
        f"Variants ({fmt.count(len(v))} distinct activity sequences)", t[cols], key="variants",
        units={"variant": "count", "cases": "count", "share": "percent", "cumulative_share": "percent", "length": "count",
               "cycle_time_mean_s": "duration", "cycle_time_p90_s": "duration"},
        labels={"cumulative_share": "cumulative", "length": "steps", "cycle_time_mean_s": "lead time mean",
                "cycle_time_p90_s": "lead time p90"},
        max_rows=10,
    )


# --------------------------------------------------------------------------- appendix
def appendix(ctx: Context) -> Section:
    s = Section("appendix", "Appendix: variants and method notes")
    rows = []
    for sec in ctx.done.values():
        for note in sec.notes:
            rows.append((sec.title, note))
    s.tables.append(Table("How each number is computed", pd.DataFrame(rows, columns=["section", "method"]), key="method_notes", max_rows=0))
    vt = _variants_table(ctx)
    if vt is not None:
        s.tables.append(vt)
    s.summary.append(
        "Durations are calendar time unless stated otherwise. Percentages are shares of the stated total."
    )
    return s


# ------------------------------------------------------------------ executive summary
def summary(ctx: Context) -> Section:
    s = Section("summary", "Executive summary")
    found = [f for sec in ctx.done.values() for f in sec.findings]
    by_key = {f.key: f for f in found if f.key}
    merged = []
    for f in found:
        if f.key.endswith("+"):
            continue
        extra = by_key.get(f.key + "+") if f.key else None
        merged.append(Finding(f.weight, f.text + (" " + extra.text if extra else ""), f.key))
    found = sorted(merged, key=lambda f: -f.weight)
    s.summary = [f.text for f in found[:3]]
    s.data = {"findings": [f.text for f in found[:3]]}
    return s


SectionFn = Callable[[Context], Section]

#: Sections in report order: key -> (title, function). The executive summary is computed
#: last (it reads the other sections' findings) and shown first.
SECTIONS: dict[str, tuple[str, SectionFn]] = {
    "summary": ("Executive summary", summary),
    "kpis": ("Key performance indicators", kpis),
    "quality": ("Data quality", quality),
    "map": ("Process map", process_map),
    "appendix": ("Appendix: variants and method notes", appendix),
}

SECTION_TITLES = {k: v[0] for k, v in SECTIONS.items()}
