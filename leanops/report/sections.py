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
        from ..boundaries import case_spans

        first, last = case_spans(log)  # cached on the log: the boundary rule uses them too
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
    vs = _value_stream(ctx)
    ct = case_times(log)
    n_left_out = sum(vs.excluded_cases.values()) if vs.excluded_cases else 0
    lt = ct["lead_time_s"].to_numpy(dtype=float)
    if n_left_out:
        # the histogram shows the cases the KPIs count: not those cut by the export window
        # (ct is in log.case_ids order, as the mask)
        from ..boundaries import boundary_mask

        lt = lt[boundary_mask(log)]
    span_s = (vs.end - vs.start).total_seconds()
    s = Section("kpis", "Key performance indicators")
    s.data = {
        "cases": vs.n_cases,
        "events": len(log),
        "lead_time_mean_s": vs.lead_time_mean_s,
        "lead_time_median_s": vs.lead_time_median_s,
        "lead_time_p90_s": vs.lead_time_p90_s,
        "pce": vs.pce,
        "throughput_per_day": vs.throughput_per_day,
        "wip_mean": vs.wip_mean,
        "wip_max": vs.wip_max,
        "takt_time_s": vs.takt_time_s,
        "span_s": span_s,
        "excluded_cases": dict(vs.excluded_cases),
    }
    s.cards = [
        Card("Lead time (mean)", fmt.duration(vs.lead_time_mean_s)),
        Card("Lead time (90th percentile)", fmt.duration(vs.lead_time_p90_s)),
        Card("PCE (processing ÷ lead time)", fmt.percent(vs.pce)),
        Card("Throughput", fmt.per_day(vs.throughput_per_day)),
        Card("Work in progress (mean)", f"{fmt.number(vs.wip_mean, digits=1)} cases"),
        Card("Takt time (working time per case)", fmt.duration(vs.takt_time_s)),
    ]
    s.summary.append(
        f"{fmt.count(vs.n_cases)} cases over {fmt.duration(span_s)} ({_day(vs.start)} to {_day(vs.end)}): "
        f"{fmt.per_day(vs.throughput_per_day)} on average, with {fmt.number(vs.wip_mean, digits=1)} cases in progress "
        f"at a time (at most {fmt.count(vs.wip_max)})."
    )
    s.summary.append(
        f"A case takes **{fmt.duration(vs.lead_time_mean_s)}** on average from its first to its last activity; half take "
        f"less than {fmt.duration(vs.lead_time_median_s)} and one in ten takes more than {fmt.duration(vs.lead_time_p90_s)}."
    )
    s.findings.append(
        Finding(
            0.5,
            f"Lead time is **{fmt.duration(vs.lead_time_mean_s)}** on average (median {fmt.duration(vs.lead_time_median_s)}), "
            f"and one case in ten takes more than **{fmt.duration(vs.lead_time_p90_s)}**.",
        )
    )
    if lt.size:
        s.figures.append(
            Figure(
                "Lead time per case",
                charts.histogram(
                    lt, fmt=fmt.duration, label="Histogram of lead time per case",
                    marks=[("median", vs.lead_time_median_s), ("p90", vs.lead_time_p90_s)], count_unit="cases",
                    duration=True,
                ),
                f"{fmt.count(lt.size)} cases" + (f" ({fmt.count(n_left_out)} cut by the export window left out)"
                                                 if n_left_out else "")
                + "; dashed lines mark the median and the 90th percentile.",
            )
        )
        weekly = ct.set_index("end")["case_id"].resample("W-MON", label="left", closed="left").count()
        if len(weekly) >= 2:
            s.figures.append(
                Figure(
                    "Cases completed per week",
                    charts.column_chart(
                        [f"{d:%Y-%m-%d}" for d in weekly.index],
                        weekly.to_numpy(dtype=float), fmt=lambda v: f"{v:,.0f}", label="Cases completed per week",
                        unit="cases", max_labels=9,
                    ),
                    f"Completed cases by the week (Monday to Sunday, UTC) of their last activity; {len(weekly)} weeks, "
                    "labelled by their Monday. The first and last weeks may be partial.",
                )
            )
    s.notes += [
        "Lead time: per case, from the start of its first activity (its end where the log has no start) "
        "to the end of its last activity, in calendar time.",
        "Throughput: cases in the log per calendar day between the first start and the last end.",
        "Work in progress: cases open (started, not yet ended) at each instant, averaged over that span; "
        "Little's law ties it to throughput × mean lead time.",
    ]
    return s


def _day(ts: Any) -> str:
    return "–" if ts is None or pd.isna(ts) else pd.Timestamp(ts).strftime("%Y-%m-%d")


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
    # counts of source rows and of instances (decided after pairing) are not summed together
    if n_drop:
        s.summary.append("Dropped: " + "; ".join(f"{fmt.count(v)} {k.replace('_', ' ')} ({q.unit(k)})"
                                                 for k, v in q.dropped.items()) + ".")
    if n_rep:
        s.summary.append("Repaired: " + "; ".join(f"{fmt.count(v)} {k.replace('_', ' ')} ({q.unit(k)})"
                                                  for k, v in q.repaired.items()) + ".")
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
    rows += [("dropped", f"{k} ({q.unit(k)})", v) for k, v in q.dropped.items()]
    rows += [("repaired", f"{k} ({q.unit(k)})", v) for k, v in q.repaired.items()]
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
    lost = max(rows_read - rows_kept, 0)  # source rows, whatever unit each reason counts in
    share_dropped = lost / rows_read if rows_read else 0.0
    if share_dropped >= 0.01:
        s.findings.append(
            Finding(0.95, f"Data quality: {fmt.percent(share_dropped)} of the source rows were dropped "
                          f"({fmt.count(lost)} rows); read the data-quality section before trusting the numbers.")
        )
    info = log.summary()
    from ..boundaries import boundary_counts
    from ..evidence import time_granularity

    bc = boundary_counts(log)
    info["quality"].update(bc)
    info["quality"]["time_granularity"] = time_granularity(log)
    s.summary.append(
        f"Timestamps are recorded to the {info['quality']['time_granularity']}. "
        f"{fmt.count(bc['cut_at_start'])} cases were cut by the start of the export window (their first steps are "
        f"missing) and {fmt.count(bc['open_at_end'])} were still open at its end; durations leave them out."
    )
    fig = _cycle_time_by_start(ctx)
    if fig is not None:
        s.figures.append(fig)
    s.data = {"info": info, "missing": {"start": no_start, "resource": no_res}, "period": dict(per)}
    s.notes.append(
        "Data quality: rows are counted as they are read; nothing is dropped silently. Start/complete "
        "pairs make one activity instance, so kept rows can exceed instances."
    )
    s.notes.append(
        "Cut cases: a case is cut at the start (open at the end) when its first (last) activity is one that "
        "rarely begins (ends) cases clear of that edge and its first (last) timestamp is within the longest "
        "case duration of the log's first (last) timestamp (leanops.boundaries)."
    )
    return s


def _cycle_time_by_start(ctx: Context) -> Figure | None:
    """Mean lead time by the period cases start in, every case included, with the cut-off
    band (periods holding cut cases, and the last stretch where long cases cannot have ended
    yet) shaded: a falling line there is the export window, not the process."""
    from ..boundaries import case_boundaries

    log = ctx.log
    ct = case_times(log)
    if len(ct) < 2:
        return None
    span = (ct["end"].max() - ct["start"].min()).total_seconds() / 86400
    freq, label = ("MS", "%Y-%m") if span > 120 else (("W-MON", "%Y-%m-%d") if span > 21 else ("D", "%m-%d"))
    b = case_boundaries(log).reindex(pd.Index(ct["case_id"]))
    start = pd.DatetimeIndex(ct["start"]).tz_convert("UTC").tz_localize(None)
    per = start.to_period({"MS": "M", "W-MON": "W-SUN", "D": "D"}[freq])
    lt = ct["lead_time_s"].to_numpy(dtype=float)
    g = pd.Series(lt).groupby(per).mean()
    if len(g) < 2:
        return None
    whole = ~(b["cut_at_start"].to_numpy() | b["open_at_end"].to_numpy())
    p90 = float(np.quantile(lt[whole], 0.9)) if whole.any() else float(np.quantile(lt, 0.9))
    cutoff = ct["end"].max().tz_convert("UTC").tz_localize(None) - pd.Timedelta(seconds=p90)
    cut_periods = set(per[b["cut_at_start"].to_numpy()])
    band = [i for i, p in enumerate(g.index) if p in cut_periods or p.end_time >= cutoff]
    return Figure(
        "Cycle time by start period",
        charts.column_chart([p.start_time.strftime(label) for p in g.index], g.to_numpy(), fmt=fmt.duration,
                            label="Mean lead time by start period", max_labels=9, band=band),
        f"Mean lead time of the cases starting in each period (all {fmt.count(len(ct))} cases). Shaded: the "
        "cut-off band, periods holding cases cut by the start of the export window, and the last stretch "
        "(one 90th-percentile lead time before the log's end) where long cases cannot have ended yet: "
        "a drop there comes from the export window, not the process.",
    )


# -------------------------------------------------------------- shared analyses (cached)
def _value_stream(ctx: Context):
    if "vs" not in ctx.cache:
        from ..mining import value_stream

        ctx.cache["vs"] = value_stream(ctx.log, value_added=ctx.config.value_added)
    return ctx.cache["vs"]


def _bottlenecks(ctx: Context) -> Any:
    if "bn" not in ctx.cache:
        from ..mining import bottlenecks

        ctx.cache["bn"] = bottlenecks(ctx.log)
    return ctx.cache["bn"]


def _hot_activity(ctx: Context) -> str | None:
    """The capacity bottleneck (from the bottleneck section, computed first), marked in
    red wherever it appears."""
    sec = ctx.done.get("bottlenecks")
    if sec is None or sec.error:
        return None
    return sec.data.get("top")


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
    hot = _hot_activity(ctx)
    if hot is not None:
        svg, marked = charts.outline_node(svg, hot)
        if marked:
            caption += f" Outlined in red: the capacity bottleneck, {hot}."
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
        where = (f"in the loop of **{top['source']}** back to itself" if top["source"] == top["target"]
                 else f"between **{top['source']}** and **{top['target']}**")
        s.summary.append(
            f"Most waiting happens {where}: "
            f"{fmt.count(top['count'])} times, {fmt.duration(top['wait_mean_s'])} on average "
            f"({fmt.percent(top['wait_total_s'] / total if total else np.nan)} of all waiting between activities)."
        )
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


# ----------------------------------------------------------------------- value stream
def value_stream_section(ctx: Context) -> Section:
    vs = _value_stream(ctx)
    s = Section("valuestream", "Value stream", command="valuestream")
    s.data = vs.to_dict()
    lead, proc, wait = vs.lead_time_mean_s, vs.processing_time_mean_s, vs.waiting_time_mean_s
    s.summary.append(
        f"Of the mean lead time of {fmt.duration(lead)}, {fmt.duration(proc)} ({fmt.percent(proc / lead if lead else np.nan)}) "
        f"is processing and **{fmt.duration(wait)} ({fmt.percent(wait / lead if lead else np.nan)}) is waiting**. "
        f"Process cycle efficiency (PCE) is {fmt.percent(vs.pce)}."
    )
    steps = vs.steps.copy()
    hot = _hot_activity(ctx)
    by_share = steps.sort_values("share_of_lead_time", ascending=False, kind="stable")
    if len(by_share) and by_share["share_of_lead_time"].iloc[0] > 0:
        top = by_share.iloc[0]
        s.summary.append(
            f"The step that takes the largest share of lead time is **{top['activity']}** "
            f"({fmt.percent(top['share_of_lead_time'])}: {fmt.percent(top['waiting_share'])} waiting before it, "
            f"{fmt.percent(top['processing_share'])} processing)."
        )
    slow = steps[~steps["meets_takt"].astype(bool)] if "meets_takt" in steps else steps.iloc[0:0]
    if np.isfinite(vs.takt_time_s):
        if len(slow):
            s.summary.append(
                f"Takt time is {fmt.duration(vs.takt_time_s)} of working time per case; "
                f"{fmt.count(len(slow))} steps cannot keep that pace with their current staff: "
                + ", ".join(f"**{a}**" for a in slow["activity"].head(5)) + "."
            )
        else:
            s.summary.append(
                f"Takt time is {fmt.duration(vs.takt_time_s)} of working time per case; every step keeps that pace "
                "with its current staff, so the waiting is not a lack of capacity on average."
            )
    s.findings.append(Finding(
        0.97,
        f"A case takes **{fmt.duration(lead)}** on average (one in ten more than {fmt.duration(vs.lead_time_p90_s)}), "
        f"and **{fmt.percent(wait / lead if lead else np.nan)} of it is waiting** ({fmt.duration(wait)}); "
        f"PCE is {fmt.percent(vs.pce)}."
        + (f" The largest share goes to **{by_share.iloc[0]['activity']}** ({fmt.percent(by_share.iloc[0]['share_of_lead_time'])} of lead time)."
           if len(by_share) else ""),
    ))
    s.cards = [
        Card("Processing per case (mean)", fmt.duration(proc)),
        Card("Waiting per case (mean)", fmt.duration(wait), hot=True),
    ]
    chart = by_share[by_share["share_of_lead_time"] > 0].head(12)
    if len(chart):
        labels = list(chart["activity"].astype(str))
        s.figures.append(Figure(
            "Where the lead time goes",
            charts.stacked_bars(
                labels,
                [("waiting before the step", list(chart["waiting_share"] * lead), charts.WAIT),
                 ("processing", list(chart["processing_share"] * lead), charts.PROCESS)],
                fmt=fmt.duration, highlight=[i for i, a in enumerate(labels) if a == hot],
                label="Lead time per case by step, waiting and processing", duration=True,
            ),
            f"Mean time per case attributed to each step (the {len(chart)} largest of {len(steps)}); the shares of all "
            "steps add up to the lead time." + (f" Red marks the capacity bottleneck ({hot})." if hot in labels else ""),
        ))
    cols = ["activity", "instances", "processing_mean_s", "waiting_mean_s", "share_of_lead_time",
            "value_added", "resources", "cycle_time_s", "meets_takt"]
    cols = [c for c in cols if c in steps.columns]
    if "value_added" in cols and vs.value_added is None:
        cols.remove("value_added")  # every step counts as value-adding: the column says nothing
    s.tables.append(Table(
        "Steps in flow order", steps[cols], key="steps",
        units={"instances": "count", "cases": "count", "processing_mean_s": "duration", "waiting_mean_s": "duration",
               "share_of_lead_time": "percent", "resources": "count", "cycle_time_s": "duration"},
        labels={"processing_mean_s": "processing mean", "waiting_mean_s": "wait before (mean)",
                "share_of_lead_time": "share of lead time", "value_added": "value added",
                "cycle_time_s": "cycle time", "meets_takt": "meets takt"},
        highlight=[i for i, a in enumerate(steps["activity"].head(200)) if a == hot],
    ))
    s.notes += [
        "Value stream: processing time of a case is the time covered by at least one of its instances (parallel "
        "instances count once); waiting is the rest of its lead time. Every instant of a case is attributed to one "
        "step, so the steps' shares add up to 100 %.",
        "PCE (process cycle efficiency): value-added processing time over lead time, summed over cases; every "
        "activity counts as value-adding unless told otherwise.",
        "Takt time: the working time of the calendar learnt from the log, over the span, divided by the number "
        "of cases. A step's cycle time is its processing per case divided by the resources doing it; above "
        "takt it cannot keep pace.",
    ]
    if vs.starts_estimated > 0:
        s.notes.append(f"{fmt.percent(vs.starts_estimated)} of the start times were estimated (the log lacks them).")
    return s


# ----------------------------------------------------------------------- bottlenecks
def bottlenecks_section(ctx: Context) -> Section:
    res = _bottlenecks(ctx)
    b = res.table
    s = Section("bottlenecks", "Bottlenecks", command="bottlenecks")
    s.data = res.to_dict()
    s.data["top"] = None
    if not len(b):
        s.summary.append("No step waits: there is no bottleneck to rank.")
        return s
    cap = res.capacity_bottleneck
    most = b.sort_values("wait_share", ascending=False, kind="stable").iloc[0]
    if cap is None:
        if not most["wait_share"] > 0:
            s.summary.append("No step waits: there is no bottleneck to rank.")
            return s
        level = res.evidence.get("level")
        why = ("No step waits while its whole pool of resources is busy, so no step constrains the flow."
               if level == "measured" and not res.evidence.get("role_resources")
               else "The data cannot show a capacity bottleneck (see the caveats), so none is claimed.")
        s.summary.append(
            f"{why} Most waiting happens before **{most['activity']}** ({fmt.percent(most['wait_share'])} of all "
            f"waiting, {fmt.duration(most['wait_mean_s'])} per instance): this is where the time goes."
        )
        s.findings.append(Finding(1.0, s.summary[-1], key="bottleneck"))
    else:
        top = b[b["activity"] == cap].iloc[0]
        s.data["top"] = cap
        s.summary.append(str(top["finding"]))
        s.findings.append(Finding(1.0, (
            f"The bottleneck is **{cap}**: {fmt.percent(top['wait_share'])} of all waiting happens before it "
            f"({fmt.duration(top['wait_mean_s'])} per instance), and its whole pool was busy during "
            f"{fmt.percent(top['contention'], digits=0)} of those waits on shift: work queues there for lack of "
            "capacity (measured start times, real resources)."), key="bottleneck"))
    for c in res.caveats:
        s.notes.append(c)
    chart = b.head(12)
    hot = [int(i) for i in np.flatnonzero(chart["activity"].astype(str).to_numpy() == cap)] if cap else []
    s.figures.append(Figure(
        "Share of all waiting, by step (ranked by bottleneck score)",
        charts.bar_chart(list(chart["activity"].astype(str)), list(chart["wait_share"]), fmt=lambda v: fmt.percent(v, digits=0),
                         highlight=hot, color=charts.WAIT, label="Share of all waiting by step"),
        "Bars: each step's waiting time over all waiting time in the log, in the order of the bottleneck score. "
        "Red: the capacity bottleneck, when there is one.",
    ))
    cols = ["rank", "activity", "score", "wait_mean_s", "wait_share", "contention", "utilization", "service_mean_s",
            "queue_mean", "rework_share", "evidence", "capacity_bound"]
    cols = [c for c in cols if c in b.columns]
    s.tables.append(Table(
        "Ranking", b[cols], key="bottlenecks",
        units={"rank": "count", "score": "ratio", "wait_mean_s": "duration", "wait_share": "percent",
               "contention": "percent", "utilization": "percent", "service_mean_s": "duration",
               "pool_size": "count", "queue_mean": "number", "queue_max": "count", "rework_share": "percent"},
        labels={"score": "score (top = 1.00)", "wait_mean_s": "wait mean", "wait_share": "share of all waiting",
                "contention": "whole pool busy while waiting", "service_mean_s": "processing mean",
                "pool_size": "pool size", "queue_mean": "queue (mean, instances)", "queue_max": "queue (max)",
                "rework_share": "rework", "capacity_bound": "capacity-bound"},
        highlight=hot[:1], max_rows=10,
    ))
    s.tables.append(Table("Evidence, top steps", b[["rank", "activity", "evidence", "finding"]].head(5), key="evidence",
                          units={"rank": "count"}))
    s.notes.append(
        "Bottleneck score = wait share × contention × utilisation, shown relative to the top step (1.00). Wait share: "
        "the step's waiting time over all waiting time in the log. Contention: the share of the step's on-shift "
        "waiting (after batching) during which every member of its pool was busy. A step is called a capacity "
        "bottleneck only when that busy waiting drives its wait, its pool is made of real resources busy at least "
        "half of their working time, and its start times are measured; off-shift waiting (unavailability) and "
        "batching are reported by those names."
    )
    return s


# -------------------------------------------------------------------- waiting causes
_WAIT_COLOURS = {
    "unavailability": "#4f8fc0",
    "extraneous": "#9aa5b1",
    "batching": "#7b61b3",
    "contention": "#b5523b",
    "prioritisation": "#e3a33b",
}
_WAIT_MEANING = {
    "unavailability": "the resource was off shift (outside its working hours)",
    "extraneous": "none of the other causes applies (the customer, another department, a timer, a hand-off)",
    "batching": "work waited to be released together with other work",
    "contention": "the resources were busy with other cases",
    "prioritisation": "other cases that arrived later were served first",
}


def waiting_section(ctx: Context) -> Section:
    from ..rca import WAITING_CAUSES, waiting_causes

    wc = waiting_causes(ctx.log)
    s = Section("waiting", "Waiting-time causes", command="waiting_causes")
    s.data = wc.to_dict()
    total = wc.totals.get("wait", 0.0)
    if total <= 0:
        s.summary.append("No activity instance waits: there is nothing to explain.")
        return s
    shares = sorted(wc.shares.items(), key=lambda kv: -kv[1])
    s.summary.append(
        f"Of {fmt.duration(total)} of waiting in total, "
        + ", ".join(f"{fmt.percent(v)} is {k}" for k, v in shares if v > 0.0005)
        + "."
    )
    main, share = shares[0]
    s.summary.append(f"The main cause, **{main}** ({fmt.percent(share)}), means that {_WAIT_MEANING[main]}.")
    hot = _hot_activity(ctx)
    ba = wc.by_activity
    if hot is not None and hot in set(ba["activity"]):
        r = ba[ba["activity"] == hot].iloc[0]
        cause = max(WAITING_CAUSES, key=lambda c: r[f"{c}_s"])
        s.summary.append(
            f"Before the capacity bottleneck, **{hot}**, {fmt.percent(r[f'{cause}_share'])} of the waiting is {cause}."
        )
        s.findings.append(Finding(
            0.0, f"Most of that wait is {cause} ({fmt.percent(r[f'{cause}_share'], digits=0)}): {_WAIT_MEANING[cause]}.",
            key="bottleneck+",
        ))
    s.findings.append(Finding(
        0.8,
        f"**{fmt.percent(share, digits=0)} of all waiting is {main}**: {_WAIT_MEANING[main]}.",
    ))
    chart = ba.head(10)
    if len(chart):
        labels = list(chart["activity"].astype(str))
        s.figures.append(Figure(
            "Waiting before each step, by cause",
            charts.stacked_bars(
                labels, [(c, list(chart[f"{c}_s"]), _WAIT_COLOURS[c]) for c in WAITING_CAUSES],
                fmt=fmt.duration, highlight=[i for i, a in enumerate(labels) if a == hot],
                label="Waiting time by activity and cause", duration=True,
            ),
            f"Waiting summed over all instances, for the {len(chart)} steps with the most waiting."
            + (f" Red marks the capacity bottleneck ({hot})." if hot in labels else ""),
        ))
    cols = ["activity", "instances", "wait_s"] + [f"{c}_share" for c in WAITING_CAUSES]
    s.tables.append(Table(
        "Waiting by step and cause", ba[cols], key="by_activity",
        units={"instances": "count", "wait_s": "duration", **{f"{c}_share": "percent" for c in WAITING_CAUSES}},
        labels={"wait_s": "waiting in total", **{f"{c}_share": c for c in WAITING_CAUSES}},
        highlight=[i for i, a in enumerate(ba["activity"].head(200)) if a == hot], max_rows=10,
    ))
    s.notes.append(
        "Waiting-time causes: every wait (enablement to start) is split into batching (released together with "
        "other work), contention (every resource able to do it busy with earlier cases), prioritisation (busy with "
        "later-arriving cases), "
        "unavailability (off shift, by working calendars learnt per resource) and extraneous (the rest), after "
        f"Lashkevich et al. Calendars: {wc.calendar}."
    )
    s.notes += [str(n) for n in wc.notes]
    return s


# ----------------------------------------------------------------------- root causes
def _effect_fmt(unit: str):
    if unit == "s":
        return fmt.duration, True
    if unit == "share":
        return (lambda v: "–" if v is None or not np.isfinite(v) else f"{v * 100:+.1f} pp"), False
    return (lambda v: fmt.number(v, digits=2) + (f" {unit}" if unit and unit != "value" else "")), False


def root_causes_section(ctx: Context) -> Section:
    from ..rca import root_causes

    rc = root_causes(ctx.log, target="case_duration", seed=0)
    s = Section("rootcauses", "Root causes of long cases", command="rca")
    s.data = rc.to_dict()
    base = rc.baseline
    excluded = sum(rc.excluded_cases.values())
    kept = (f" ({fmt.count(excluded)} case(s) cut by the log's export window left out)" if excluded else "")
    if not rc.causes:
        s.summary.append(f"No case driver explains the lead time of cases{kept}: "
                         f"{rc.reason or 'nothing significant was found'}")
    else:
        s.summary.append(
            f"Cases take {fmt.duration(base.get('mean'))} on average (median {fmt.duration(base.get('median'))}){kept}. "
            f"Of {fmt.count(rc.n_tested)} conditions tested on {fmt.count(rc.n_cases)} cases, {len(rc.causes)} case "
            f"driver(s) make cases significantly longer (Benjamini-Hochberg adjusted p < {rc.alpha:g}), each adjusted "
            "for the load the cases met and for the drivers ranked above it:"
        )
        s.summary += [c.sentence for c in rc.causes[:3]]
        first = rc.causes[0].sentence.split(" (")[0].rstrip(".")
        s.findings.append(Finding(0.88, f"Strongest driver of long cases: {first[:1].lower() + first[1:]}."))
        _causes_figure_and_table(s, rc)
    if rc.context:
        s.summary.append("Context, not causes (the state the cases met: see the bottlenecks): "
                         + " ".join(c.sentence for c in rc.context[:3]))
        frame = pd.DataFrame({
            "condition": [c.condition for c in rc.context], "kind": [c.kind for c in rc.context],
            "effect": [c.effect for c in rc.context], "raw_effect": [c.raw_effect for c in rc.context],
            "support": [c.support for c in rc.context], "reading": [c.sentence for c in rc.context]})
        s.tables.append(Table(
            "Context: system state and congestion (not causes)", frame, key="context",
            units={"effect": "duration", "raw_effect": "duration", "support": "percent"},
            labels={"effect": "effect (adjusted)", "raw_effect": "raw difference", "support": "share of cases"},
        ))
    s.notes.append(
        "Root causes: case drivers (attributes known when a case starts, and resources blamed only for their own "
        "processing time or the waits they create, against the others at the same activity) are ranked by "
        "forward selection with regression adjustment, after the system state (queues, work in progress, period), "
        "which is reported apart as context; path features are mediators; p-values are HC1 with "
        "Benjamini-Hochberg correction; confidence intervals are percentile bootstrap (seed 0)."
    )
    s.notes += [str(n) for n in rc.notes]
    return s


def _causes_figure_and_table(s: Section, rc) -> None:
    frame = rc.to_frame()
    frame.insert(2, "condition", [c.condition for c in rc.causes])
    f, is_dur = _effect_fmt(rc.causes[0].effect_unit)
    chart = rc.causes[:10]
    s.figures.append(Figure(
        "Effect on lead time, with 95 % confidence intervals",
        charts.interval_chart([c.condition for c in chart], [c.effect for c in chart], [c.ci_low for c in chart],
                              [c.ci_high for c in chart], fmt=f, duration=is_dur,
                              label="Effects of the root causes on lead time"),
        "Dots: how much longer cases meeting the condition take than the others, adjusted for the load they met "
        "and the causes ranked above; lines: the 95 % bootstrap confidence interval. Zero is the vertical line.",
    ))
    unit = "duration" if is_dur else "number"
    cols = ["rank", "kind", "category", "condition", "effect", "raw_effect", "ci_low", "ci_high", "p_value",
            "support", "n_cases"]
    s.tables.append(Table(
        "Ranked causes (case drivers)", frame[cols], key="causes",
        units={"rank": "count", "effect": unit, "raw_effect": unit, "ci_low": unit, "ci_high": unit,
               "p_value": "pvalue", "support": "percent", "n_cases": "count"},
        labels={"effect": "effect (adjusted)", "raw_effect": "raw difference", "ci_low": "95 % CI low",
                "ci_high": "95 % CI high", "p_value": "p (adjusted)", "support": "share of cases", "n_cases": "cases"},
        highlight=[0],
    ))


# ----------------------------------------------------------------------------- rework
def rework_section(ctx: Context) -> Section:
    from ..mining import rework

    rw = rework(ctx.log).table
    s = Section("rework", "Rework")
    s.data = {"rework": rw}
    d = ctx.log.df
    dup = d.duplicated(["case_id", "activity"]).to_numpy()
    cases_rw = int(pd.unique(ctx.log.case_codes[dup]).size)
    share = cases_rw / ctx.log.n_cases if ctx.log.n_cases else 0.0
    s.data["cases_with_rework"] = cases_rw
    s.data["cases_with_rework_share"] = share
    if not len(rw):
        s.summary.append("No case repeats an activity: there is no rework.")
        return s
    total = float(rw["rework_time_s"].sum())
    s.summary.append(
        f"{fmt.percent(share)} of cases ({fmt.count(cases_rw)} of {fmt.count(ctx.log.n_cases)}) repeat at least one "
        f"activity; the repeats take {fmt.duration(total)} of processing and waiting in total, "
        f"{fmt.duration(total / cases_rw if cases_rw else np.nan)} per case with rework."
    )
    top = rw.iloc[0]
    s.summary.append(
        f"The costliest is **{top['activity']}**: {fmt.count(top['repeats'])} repeats in {fmt.count(top['cases_with_rework'])} "
        f"cases ({fmt.count(top['self_loops'])} directly after itself, {fmt.count(top['loop_backs'])} returning later"
        + (f", most often from {top['returns_from']}" if top["returns_from"] and top["returns_from"] != top["activity"] else "")
        + ")."
    )
    if share >= 0.05:
        s.findings.append(Finding(
            0.85 if share >= 0.2 else 0.6,
            f"**{fmt.percent(share, digits=0)} of cases repeat work**; repeats of **{top['activity']}** alone cost "
            f"{fmt.duration(top['rework_time_per_case_s'])} per affected case.",
        ))
    chart = rw.head(10)
    s.figures.append(Figure(
        "Time spent on repeats, by activity",
        charts.stacked_bars(
            list(chart["activity"].astype(str)),
            [("waiting before repeats", list(chart["rework_waiting_s"]), charts.WAIT),
             ("processing of repeats", list(chart["rework_processing_s"]), charts.PROCESS)],
            fmt=fmt.duration, label="Rework time by activity", duration=True,
        ),
        "Summed over all cases; an instance is a repeat when its activity already occurred earlier in the case.",
    ))
    cols = ["activity", "cases_with_rework", "repeats", "returns_from", "rework_time_s", "rework_time_per_case_s",
            "share_of_processing"]
    s.tables.append(Table(
        "Repeated activities", rw[cols], key="rework",
        units={"cases": "count", "cases_with_rework": "count", "repeats": "count", "self_loops": "count",
               "loop_backs": "count", "rework_time_s": "duration", "rework_time_per_case_s": "duration",
               "share_of_processing": "percent"},
        labels={"cases_with_rework": "cases with rework", "self_loops": "self-loops", "loop_backs": "loop-backs",
                "returns_from": "mostly after", "rework_time_s": "time in total",
                "rework_time_per_case_s": "time per affected case", "share_of_processing": "share of its processing"},
        max_rows=10,
    ))
    s.notes.append(
        "Rework: an instance is a repeat when its activity already occurred earlier in the same case; a self-loop "
        "when it directly follows itself, a loop-back otherwise. Its time is its processing plus the wait before it."
    )
    return s


# ------------------------------------------------------------------------ simulation
_MEASURE_TEXT = {
    "cycle_time_emd": ("case cycle times", "h", "EMD between the histograms of case cycle time (1-hour bins)"),
    "ngram_3": ("activity sequences", "", "distance between the 3-gram distributions of the traces (0 to 1)"),
    "circadian_emd": ("time of day and week of the work", "h", "EMD between event times over the hours of each weekday"),
    "arrival_emd": ("case arrivals", "h", "EMD between case-arrival histograms (1-hour bins)"),
}


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def simulation_section(ctx: Context) -> Section:
    from .. import simulate

    log = ctx.log
    s = Section("simulation", "Recommended SOP changes (simulated)", command="simulate")
    split = simulate.split_by_time(log, train=0.8)
    model_train = simulate.fit(split.train)
    val = simulate.validate(model_train, split.test, train_log=split.train, seed=0)
    table = val.to_frame()
    wins = int(table["model_better"].fillna(False).sum())
    s.summary.append(
        f"A model fitted on the first 80 % of cases ({fmt.count(split.train.n_cases)}) simulated the last "
        f"{fmt.count(split.test.n_cases)} cases, from {_day(split.cutoff)}. It is closer to what happened than the "
        f"persistence baseline (the most recent cases replayed) on **{wins} of {len(table)}** measures."
    )
    better = [ _MEASURE_TEXT[m][0] for m in table.loc[table["model_better"].fillna(False).astype(bool), "measure"] if m in _MEASURE_TEXT]
    worse = [ _MEASURE_TEXT[m][0] for m in table.loc[~table["model_better"].fillna(False).astype(bool), "measure"] if m in _MEASURE_TEXT]
    if better:
        s.summary.append("It reproduces " + _and(better) + " better than the baseline"
                         + (f"; it does worse on {_and(worse)}." if worse else "."))
    elif worse:
        s.summary.append(f"It does worse than the baseline on {_and(worse)}: treat simulated effects with care.")
    model = simulate.fit(log)
    if model.trust and not model.trust.get("ok"):
        s.summary.append(f"Caution: the simulated {model.trust['statement']}.")
    reps = simulate.replicate(model, replications=5, cases=log.n_cases, seed=0)
    k = reps.kpis
    vs = _value_stream(ctx)
    ct = k.get("cycle_time_mean_s", {})
    if ct:
        inside = ct["ci_low"] <= vs.lead_time_mean_s <= ct["ci_high"]
        s.summary.append(
            f"Fitted on the whole log and run 5 times with as many cases, it gives a mean lead time of "
            f"{fmt.duration(ct['mean'])} (95 % CI {fmt.duration(ct['ci_low'])} to {fmt.duration(ct['ci_high'])}) against "
            f"{fmt.duration(vs.lead_time_mean_s)} observed" + (": the observed value is inside the interval." if inside
                                                             else ": the observed value is outside the interval."))
    rows = []
    for m in table.itertuples(index=False):
        name, unit, _ = _MEASURE_TEXT.get(m.measure, (m.measure, "", ""))
        rows.append({"measure": f"{m.measure} ({name})", "model": m.model, "persistence_baseline": m.baseline,
                     "unit": unit or "–", "model_closer": m.model_better})
    s.tables.append(Table("Validation on the held-back cases (lower is closer)", pd.DataFrame(rows), key="validation",
                          units={"model": "number", "persistence_baseline": "number"},
                          labels={"persistence_baseline": "persistence baseline", "model_closer": "model closer"}))
    names = {"cycle_time_mean_s": "lead time (mean)", "cycle_time_p90_s": "lead time (90th percentile)",
             "wait_mean_s": "waiting per activity (mean)"}
    krow = [{"kpi": names[key], "mean": v["mean"], "ci_low": v["ci_low"], "ci_high": v["ci_high"]}
            for key, v in k.items() if key in names]
    s.tables.append(Table("Simulated KPIs (5 replications, 95 % CI)", pd.DataFrame(krow), key="kpis",
                          units={"mean": "duration", "ci_low": "duration", "ci_high": "duration"},
                          labels={"ci_low": "95 % CI low", "ci_high": "95 % CI high"}))
    sugg = simulate.suggest(log, model=model, value_added=ctx.config.value_added, replications=5, seed=0)
    ranking = sugg.to_frame()
    cmp = sugg.comparison.to_dict()
    s.data = {"validation": table, "baseline": cmp["baseline"], "scenarios": cmp["scenarios"],
              "suggestions": ranking, "replications": cmp["replications"], "cases": cmp["cases"],
              "train_cases": split.train.n_cases, "test_cases": split.test.n_cases, "cutoff": split.cutoff,
              "replicated_kpis": k}
    trust = ("use its predictions with confidence" if wins == len(table) else
             "read its predictions as a direction, not a promise" if wins else "do not rely on its predictions")
    if len(ranking):
        sig = ranking[(ranking["p_value"] < 0.05) & (ranking["delta_s"] < 0)]
        best = sig.iloc[0] if len(sig) else ranking.iloc[0]
        effect = (f"{fmt.percent(best['relative'])} mean lead time ({fmt.duration(best['delta_s'])}, 95 % CI "
                  f"{fmt.duration(best['ci_low'])} to {fmt.duration(best['ci_high'])}, p = {fmt.value(best['p_value'], 'pvalue')})")
        if len(sig):
            text = f"**Recommended SOP change: {best['name']}**, simulated effect {effect}. Why: {best['why']}."
            s.findings.append(Finding(0.93, f"**Recommended: {best['name']}**: {effect} in simulation; the model "
                                            f"beats the persistence baseline on {wins} of {len(table)} measures."))
        else:
            text = (f"None of the {len(ranking)} candidate changes shortens the mean lead time significantly in "
                    f"{cmp['replications']} replications of {fmt.count(cmp['cases'])} cases. The most promising is "
                    f"**{best['name']}**: {effect}. Simulate it with more replications before deciding.")
            s.findings.append(Finding(0.6, f"No simulated SOP change shortens lead time significantly; the most "
                                           f"promising is **{best['name']}** ({fmt.percent(best['relative'])})."))
        s.summary.insert(0, text)
        s.summary.insert(1, f"Beside it, how far to trust the simulation: {trust} (details below).")
        chart = ranking.head(10)
        s.figures.append(Figure(
            "Simulated change in mean lead time per candidate SOP change, with 95 % CIs",
            charts.interval_chart(list(chart["name"].astype(str)), list(chart["delta_s"]), list(chart["ci_low"]),
                                  list(chart["ci_high"]), fmt=fmt.duration, duration=True, color=charts.PROCESS,
                                  label="Simulated effect of each candidate change"),
            "Left of the zero line: shorter lead times. Each candidate was simulated with the same random numbers "
            f"as the baseline ({cmp['replications']} replications of {fmt.count(cmp['cases'])} cases).",
        ))
        s.tables.insert(0, Table(
            "Candidate SOP changes, best first", ranking[["rank", "name", "kind", "relative", "delta_s", "ci_low",
                                                           "ci_high", "p_value", "why"]], key="suggestions",
            units={"rank": "count", "relative": "percent", "delta_s": "duration", "ci_low": "duration",
                   "ci_high": "duration", "p_value": "pvalue"},
            labels={"name": "change", "relative": "lead time change", "delta_s": "change (mean)",
                    "ci_low": "95 % CI low", "ci_high": "95 % CI high", "p_value": "p (Welch)"},
            highlight=[0] if len(sig) else [],
        ))
    else:
        s.summary.insert(0, "The analyses found no candidate SOP change to simulate.")
    s.findings.append(Finding(
        0.7,
        f"The simulation model beats the persistence baseline on {wins} of {len(table)} validation measures: {trust}.",
    ))
    s.notes += [
        "Simulation: leanops.simulate.fit discovers arrivals, routing, durations, resource pools and calendars "
        "from the log. Validation fits on the first 80 % of cases (by start) and simulates the rest from its "
        "first arrival (seed 0); the persistence baseline replays the most recent training cases from the same instant.",
        "SOP changes: leanops.simulate.suggest proposes candidates from the analyses (more capacity at the top "
        "bottleneck, less rework at the worst loop, removing or automating non-value-added steps, shifting hours "
        "to when work arrives, prioritising the class that waits longest), simulates each against the baseline with "
        "common random numbers, and ranks them by the change in mean lead time (Welch CI and p-value).",
        "Validation measures (log-distance-measures, as in Simod): "
        + "; ".join(f"{m}: {t[2]}" for m, t in _MEASURE_TEXT.items()) + ". Lower is closer.",
    ]
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
    for key in SECTIONS:
        sec = ctx.done.get(key)
        for note in sec.notes if sec is not None else ():
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
    caveats = _caveats(ctx)
    s.data = {"findings": [f.text for f in found[:3]], "caveats": caveats}
    if caveats:
        # what the findings above rest on travels with them (an analyst forwards this part)
        s.tables.append(Table("What these findings rest on", pd.DataFrame({"caveat": caveats}), key="caveats",
                              max_rows=0))
    return s


# ------------------------------------------------------------- SOP compliance (--sop)
def sop_section(ctx: Context) -> Section:
    from ..compliance import check

    s = Section("sop", "SOP compliance", command="check")
    res = check(ctx.log, ctx.config.sop, seed=0)
    s.data = res.to_dict()
    frame = res.to_frame()
    ov = res.overall_compliance
    s.summary.append(
        f"{fmt.percent(ov)} of {fmt.count(res.n_cases)} cases follow every rule of **{res.sop.name}** "
        f"({len(res.rules)} rules)." if ov is not None else
        f"No rule of **{res.sop.name}** can be measured on this log.")
    costly = [r for r in res.rules if r.cost.get("effect_s") is not None and r.cost["p_value"] < 0.05 and r.cost["effect_s"] > 0]
    costly.sort(key=lambda r: -r.cost["effect_s"] * r.violations)
    if costly:
        r = costly[0]
        s.summary.append(
            f"The costliest deviation is **{r.rule}** ({fmt.count(r.violations)} cases, {fmt.percent(1 - r.compliance)} "
            f"of those it applies to): those cases take {fmt.duration(r.cost['effect_s'])} longer (95 % CI "
            f"{fmt.duration(r.cost['ci_low'])} to {fmt.duration(r.cost['ci_high'])}), adjusted for the other deviations.")
        s.findings.append(Finding(0.8, f"**SOP: {r.rule}** is broken in {fmt.count(r.violations)} cases, costing "
                                       f"{fmt.duration(r.cost['effect_s'])} of lead time each."))
    for r in res.rules:
        if r.unmeasurable:
            s.summary.append(f"Not measured: {r.rule} ({r.unmeasurable}).")
    meas = frame[frame["compliance"].notna()]
    if len(meas):
        s.figures.append(Figure(
            "Share of cases that comply, per rule",
            charts.bar_chart(list(meas["rule"].astype(str)), list(meas["compliance"]), fmt=fmt.percent,
                             label="Compliance per rule"),
            "Of the cases each rule applies to."))
    est = frame[frame["effect_s"].notna()]
    if len(est):
        s.figures.append(Figure(
            "Extra lead time of the cases that break each rule, with 95 % CIs",
            charts.interval_chart(list(est["rule"].astype(str)), list(est["effect_s"]), list(est["ci_low"]),
                                  list(est["ci_high"]), fmt=fmt.duration, duration=True, label="Cost of each deviation"),
            "Adjusted for the other deviations (regression); right of the zero line: slower."))
    s.tables.append(Table(
        "Compliance per rule", frame, key="rules",
        units={"compliance": "percent", "cases_checked": "count", "violations": "count", "effect_s": "duration",
               "ci_low": "duration", "ci_high": "duration", "p_value": "pvalue"},
        labels={"cases_checked": "cases checked", "effect_s": "cost (lead time)", "ci_low": "95 % CI low",
                "ci_high": "95 % CI high", "p_value": "p", "basis": "measured on"}))
    trend = res.trend[res.trend["rule"] == "all rules"]
    if len(trend) > 1:
        s.tables.append(Table("Compliance per week of case start (all rules)", trend[["week", "cases_checked", "compliance"]],
                              key="trend", units={"week": "datetime", "cases_checked": "count", "compliance": "percent"},
                              max_rows=12))
    s.notes.append(
        "SOP compliance: leanops.check evaluates each rule on every case it applies to (order by instance order; time "
        "limits in working time on the SOP calendar when it has one). The cost of a deviation is the difference in "
        "lead time of the cases that break it, adjusted for the other deviations (OLS, HC1 p-value, bootstrap CI).")
    return s


# ------------------------------------------------------------- before / after (--change-at)
def before_after_section(ctx: Context) -> Section:
    from ..pdca import compare

    s = Section("beforeafter", "Before / after", command="compare")
    res = compare(ctx.log, change_at=ctx.config.change_at, seed=0)
    s.data = res.to_dict()
    frame = res.to_frame()
    ct = res.kpis.get("cycle_time_mean_s", {})
    when = res.change_at.strftime("%Y-%m-%d %H:%M") if res.change_at is not None else "the change"
    if ct.get("relative") is None:
        s.summary.append(f"Change at {when}: {fmt.count(res.n_before)} cases before, {fmt.count(res.n_after)} after. "
                         "The effect on lead time cannot be estimated: " + (res.notes[-1] if res.notes else "see notes") + ".")
    else:
        sig = ct["p_value"] is not None and ct["p_value"] < 0.05
        s.summary.append(
            f"Change at {when}: mean lead time went from {fmt.duration(ct['before'])} to {fmt.duration(ct['after'])} "
            f"(**{fmt.percent(ct['relative'])}**, 95 % CI {fmt.duration(ct['ci_low'])} to {fmt.duration(ct['ci_high'])}, "
            f"p = {fmt.value(ct['p_value'], 'pvalue')})" + (", adjusted for arrival volume and case mix." if res.adjusted else ".")
            + ("" if sig else " The difference is not significant."))
        s.findings.append(Finding(0.75 if sig else 0.4, f"**Before / after {when}**: mean lead time "
                                  f"{fmt.percent(ct['relative'])}" + ("" if sig else " (not significant)") + "."))
    rel = frame[frame["relative"].notna() & frame["ci_low"].notna() & (frame["before"] != 0)]
    if len(rel):
        s.figures.append(Figure(
            "Relative change of each KPI, with 95 % CIs",
            charts.interval_chart(list(rel["kpi"]), list(rel["relative"]), list(rel["ci_low"] / rel["before"]),
                                  list(rel["ci_high"] / rel["before"]), fmt=fmt.percent, label="Change after vs before"),
            "After ÷ before − 1; left of the zero line: lower after the change."))
    labels = {"ci_low": "95 % CI low", "ci_high": "95 % CI high", "p_value": "p", "delta": "change"}
    is_time = frame["kpi"].str.endswith("_s")
    for title, part, unit in (("Times before and after", frame[is_time], "duration"),
                              ("Rates and shares before and after", frame[~is_time], "number")):
        if len(part):
            s.tables.append(Table(title, part.reset_index(drop=True), key="kpis" if unit == "duration" else "rates",
                                  units={"before": unit, "after": unit, "delta": unit, "relative": "percent",
                                         "ci_low": unit, "ci_high": unit, "p_value": "pvalue"}, labels=labels))
    if len(res.bottlenecks):
        s.tables.append(Table("Bottleneck ranks and waiting per activity", res.bottlenecks, key="bottlenecks",
                              units={"rank_before": "count", "rank_after": "count", "wait_mean_before_s": "duration",
                                     "wait_mean_after_s": "duration", "delta_s": "duration", "ci_low": "duration",
                                     "ci_high": "duration", "p_value": "pvalue"}, max_rows=10))
    s.summary += [f"Note: {n}." for n in res.notes]
    s.notes.append(
        "Before / after: leanops.compare splits cases by their start; case-level KPIs are reweighted to the before "
        "mix of case attributes and arrival volume, with a bootstrap over days; throughput and arrivals use Poisson CIs.")
    return s
def _caveats(ctx: Context) -> list[str]:
    """The log's caveats (granularity, estimated starts, role labels, cut cases) and those of
    the value stream and bottleneck analyses that ran, each once."""
    from ..evidence import log_evidence

    out = list(log_evidence(ctx.log)["caveats"])
    for key in ("vs", "bn"):
        res = ctx.cache.get(key)
        out += list(getattr(res, "caveats", []) or [])
    return list(dict.fromkeys(out))


SectionFn = Callable[[Context], Section]

#: Sections in report order: key -> (title, function). The executive summary is computed
#: last (it reads the other sections' findings) and shown first. ``simulation`` runs only
#: when asked (``simulate=True``, ``leanops report --simulate``).
SECTIONS: dict[str, tuple[str, SectionFn]] = {
    "summary": ("Executive summary", summary),
    "kpis": ("Key performance indicators", kpis),
    "quality": ("Data quality", quality),
    "map": ("Process map", process_map),
    "valuestream": ("Value stream", value_stream_section),
    "bottlenecks": ("Bottlenecks", bottlenecks_section),
    "waiting": ("Waiting-time causes", waiting_section),
    "rootcauses": ("Root causes of long cases", root_causes_section),
    "rework": ("Rework", rework_section),
    "simulation": ("Recommended SOP changes (simulated)", simulation_section),
    "sop": ("SOP compliance", sop_section),
    "beforeafter": ("Before / after", before_after_section),
    "appendix": ("Appendix: variants and method notes", appendix),
}

SECTION_TITLES = {k: v[0] for k, v in SECTIONS.items()}
