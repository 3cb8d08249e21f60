"""The Dask engine: one task per case partition, only aggregates come back.

Each task runs the DuckDB engine's per-instance SQL (:mod:`leanops.mining.outofcore`) on
one Parquet partition on a worker. As every case lies in one partition (see
:func:`leanops.convert`), per-case work (ordering, directly-follows pairs, waits, variant
sequences) stays local, and partitions return per-group counts, distinct-case counts and
sums, which add up, plus *frequency tables* (value, count) of the durations whose median
and p90 are asked for. Exact quantiles are read off the merged tables, so the results are
identical to the local engines'; the tables are as large as the number of distinct
durations per group, which timestamps at second resolution keep far below the events.

``discover``, ``variants`` and ``performance`` by activity or resource (on logs with
recorded start times) run on Dask as above. ``value_stream``, ``bottlenecks``,
``performance`` by case (the export window's rule) and ``performance`` on logs with
missing starts (whose estimation follows resources across cases and partitions) need
the whole log's instances in one place: each partition's task streams its
canonical rows from DuckDB into a partial instance batch
(:func:`leanops.mining.outofcore.batch_part`, per-case columns included), the client
gathers them into one batch in case-id order (:func:`leanops.mining._batch.concat`) and
runs the same code as the DuckDB engine on it
(:func:`~leanops.mining.outofcore.value_stream_of_parts`,
:func:`~leanops.mining.outofcore.bottlenecks_of_parts`,
:func:`~leanops.mining.outofcore.performance_of_parts`). The client holds that batch
(about 100 bytes per instance).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .._validation import check_fraction
from ..errors import InputError
from ..scan import LogScan
from ._quantiles import quantiles_from_freq

__all__ = ["run"]

SUPPORTED = ("discover", "variants", "performance", "value_stream", "bottlenecks")


def run(name: str, s: LogScan, *, scheduler: str | None, **options: Any) -> Any:
    if name not in SUPPORTED:
        raise InputError(
            f"{name}: engine='dask' covers {', '.join(SUPPORTED)}; use engine='duckdb' (out of core on one machine) for {name}."
        )
    if not s.split_by_case:
        raise InputError(
            f"{name}: engine='dask' needs Parquet partitions split by case; write them with "
            f"leanops convert LOG DIR --partitions N (got {len(s.files)} files without that guarantee)."
        )
    from .._dask import client

    with client(scheduler) as c:
        if name == "discover":
            return _discover(c, s, **options)
        if name == "performance":
            return _performance(c, s, **options)
        if name == "value_stream":
            return _value_stream(c, s, **options)
        if name == "bottlenecks":
            return _bottlenecks(c, s, **options)
        return _variants(c, s, **options)


# ------------------------------------------------------------------ discover
def _activity_counts(path: str) -> pd.DataFrame:
    from ..scan import scan
    from .outofcore import ACTIVITY_COUNTS_SQL, _all_rows, _Session

    with _Session(scan(path)) as ses:
        return ses.df(ACTIVITY_COUNTS_SQL.format(src=_all_rows(ses.scan)))


def _discover_partition(path: str, keep: list[str] | None) -> dict[str, Any]:
    """One partition's map part tables (the DuckDB engine's, :mod:`leanops.mining._map`),
    its duration frequency tables and, under the activity slider, its number of cases."""
    from ..scan import scan
    from .outofcore import MAP_FREQ_SQL, N_CASES_SQL, _all_rows, _map_totals, _Session

    with _Session(scan(path), keep=keep) as ses:
        t = ses.raw()
        part: dict[str, Any] = _map_totals(ses, t)
        part.update({name: ses.df(q.format(t=t)) for name, q in MAP_FREQ_SQL.items()})
        if keep is not None:  # cases before the slider dropped those with none of the kept activities
            part["n_cases_all"] = int(ses.sql(N_CASES_SQL.format(src=_all_rows(ses.scan))).fetchone()[0])
        return part


def _discover(c, s: LogScan, *, activities: float | None = None, paths: float | None = None):
    from ._map import activities_covering, keep_note
    from .graph import graph_from_totals

    activities = check_fraction("activities", activities)
    paths = check_fraction("paths", paths)
    files = [str(f) for f in s.files]
    keep = None
    if activities is not None and activities < 1.0:
        counts = pd.concat(c.gather(c.map(_activity_counts, files, pure=False)), ignore_index=True)
        keep, n_all, share = activities_covering(zip(counts["activity"], counts["n"]), activities)
    parts = c.gather(c.map(_discover_partition, files, keep=keep, pure=False))
    totals, node_q, edge_q = merge_discover(parts)
    n_cases = int(totals["ends"]["n_first"].sum())
    notes = []
    if keep is not None:  # cases are local to partitions, so their counts add up
        notes.append(keep_note(len(keep), n_all, share, sum(p["n_cases_all"] for p in parts) - n_cases))
    return graph_from_totals(totals, node_q, edge_q, n_cases=n_cases, n_events=int(totals["nodes"]["count"].sum()),
                             notes=notes, activities_share=activities, paths=paths)


def merge_discover(parts: list[dict[str, Any]]) -> tuple[dict[str, pd.DataFrame], pd.DataFrame, pd.DataFrame]:
    """The partitions' map totals added up (:func:`leanops.mining._map.merge_parts`), and
    the quantile tables read off the merged frequency tables."""
    from ._map import merge_parts, q_table
    from .outofcore import MAP_FREQ_KEYS

    qs = [q_table(quantiles_from_freq(pd.concat([p[name] for p in parts], ignore_index=True), keys), keys)
          for name, keys in MAP_FREQ_KEYS.items()]
    return merge_parts(parts), qs[0], qs[1]


# ------------------------------------------------------------------ variants
def _case_ends(path: str) -> pd.DataFrame:
    """Per case of one partition, its first and last time and activity (:data:`_CASE_ENDS_SQL`)."""
    from ..scan import scan
    from .outofcore import _CASE_ENDS_SQL, _Session

    with _Session(scan(path)) as ses:
        return ses.df(_CASE_ENDS_SQL.format(t=ses.raw()))


def _variants_partition(path: str, cut: pd.DataFrame | None) -> dict[str, pd.DataFrame]:
    from ..scan import scan
    from .outofcore import _Session, _variant_cases

    with _Session(scan(path)) as ses:
        timed = _variant_cases(ses, ses.raw(), cut)
        return {
            "v": ses.df(f"""SELECT seq, count(*) AS cases, sum(ct) FILTER (WHERE {timed}) AS ct_sum,
                                   count(*) FILTER (WHERE {timed}) AS ct_n, min(case_id) AS example FROM vc GROUP BY seq"""),
            "freq": ses.df(f"SELECT seq, ct AS v, count(*) AS n FROM vc WHERE {timed} GROUP BY ALL"),
        }


def _variants(c, s: LogScan, *, include_cut: bool = False) -> pd.DataFrame:
    from .outofcore import _cut_flags, _variants_from_parts

    files = [str(f) for f in s.files]
    excluded = {"cut_at_start": 0, "open_at_end": 0}
    cuts: list[pd.DataFrame | None] = [None] * len(files)
    if not include_cut:  # the export window's rule needs the whole log's first and last times
        ends = c.gather(c.map(_case_ends, files, pure=False))
        allends = pd.concat(ends, ignore_index=True)
        cut, open_ = _cut_flags(allends)
        excluded = {"cut_at_start": int(cut.sum()), "open_at_end": int(open_.sum())}
        drop = (cut | open_)
        bounds = np.cumsum([0] + [len(e) for e in ends])
        cuts = [allends.loc[np.flatnonzero(drop[a:b]) + a, ["case_id"]] for a, b in zip(bounds[:-1], bounds[1:])]
    parts = c.gather(c.map(_variants_partition, files, cuts, pure=False))
    v = pd.concat([p["v"] for p in parts], ignore_index=True)
    v["key"] = [tuple(x) for x in v["seq"]]
    g = v.groupby("key", sort=False).agg(cases=("cases", "sum"), ct_sum=("ct_sum", "sum"), ct_n=("ct_n", "sum"),
                                         example=("example", "min"))
    f = pd.concat([p["freq"] for p in parts], ignore_index=True)
    f["key"] = [tuple(x) for x in f["seq"]]
    q = quantiles_from_freq(f[["key", "v", "n"]], ["key"]).set_index("key")["q"]
    with np.errstate(invalid="ignore", divide="ignore"):  # NaN where every case was cut
        ct_mean = g["ct_sum"].to_numpy(dtype=float) / g["ct_n"].to_numpy(dtype=float)
    out = pd.DataFrame({"seq": list(g.index), "cases": g["cases"].to_numpy(), "ct_mean": ct_mean,
                        "ct_q": [q.get(k) for k in g.index], "example": g["example"].to_numpy()})
    out = _variants_from_parts(out)
    out.attrs["excluded_cases"] = excluded
    return out


# --------------------------------------------------------------- performance
def _performance_partition(path: str, by: str) -> dict[str, Any]:
    from ..scan import scan
    from .outofcore import _perf_group_sql, _Session

    with _Session(scan(path)) as ses:
        if ses.any_missing_start():
            return {"missing": True}
        p = ses.prepared()
        key = "activity" if by == "activity" else "coalesce(resource, '(none)')"
        src = f"(SELECT {key} AS k, *, greatest(e_ns - ts, 0) / 1e9 AS svc, greatest(ts - cm, 0) / 1e9 AS w FROM {p})"
        return {
            "g": ses.df(_perf_group_sql(p, key)),
            "pf": ses.df(f"SELECT k, svc AS v, count(*) AS n FROM {src} GROUP BY ALL"),
            "wf": ses.df(f"SELECT k, w AS v, count(*) AS n FROM {src} WHERE pos > 1 GROUP BY ALL"),
        }


def _performance(c, s: LogScan, *, by: str = "activity", time: str = "calendar", calendar: Any = None,
                 include_cut: bool = False) -> pd.DataFrame:
    from .._validation import check_choice
    from .outofcore import _check_wall_clock, _performance_from_group, performance_of_parts

    check_choice("by", by, ("activity", "resource", "case"))
    _check_wall_clock("performance", time)
    if by == "case":  # per case, with the export window's rule over the whole log
        return performance_of_parts(s, _batch_parts(c, s), by=by, include_cut=include_cut)
    parts = c.gather(c.map(_performance_partition, [str(f) for f in s.files], by=by, pure=False))
    if any(p.get("missing") for p in parts):
        # estimating missing starts follows each resource across cases (and partitions):
        # on the whole instance batch, gathered on the client
        return performance_of_parts(s, _batch_parts(c, s), by=by, include_cut=include_cut)
    g = pd.concat([p["g"] for p in parts], ignore_index=True)
    fr = g.groupby("k", sort=False)["first_row"].agg(
        lambda col: min(col, key=lambda d: tuple(d[x] for x in ("c", "s", "e", "t", "f", "r"))))
    sums = g.groupby("k", sort=False)[["instances", "cases", "processing_total_s", "waiting_total_s", "w_n"]].sum(min_count=1)
    sums["w_n"] = sums["w_n"].fillna(0)
    est = g.assign(e=g["estimated_share"] * g["instances"]).groupby("k", sort=False)["e"].sum()
    agg = sums.assign(first_row=fr, estimated_share=est / sums["instances"]).reset_index()
    agg["processing_mean_s"] = agg["processing_total_s"] / agg["instances"]
    agg["waiting_mean_s"] = agg["waiting_total_s"] / agg["w_n"].where(agg["w_n"] > 0)
    pq_ = quantiles_from_freq(pd.concat([p["pf"] for p in parts], ignore_index=True), ["k"]).rename(columns={"q": "pq"})
    wq_ = quantiles_from_freq(pd.concat([p["wf"] for p in parts], ignore_index=True), ["k"]).rename(columns={"q": "wq"})
    agg = agg.merge(pq_, on="k", how="left").merge(wq_, on="k", how="left")
    return _performance_from_group(agg, by)


# ---------------------------------------------------- value stream, bottlenecks
def _batch_parts(c, s: LogScan) -> list[dict[str, Any]]:
    """Each partition's batch rows, built on the workers and gathered in partition order."""
    from .outofcore import batch_part

    return c.gather(c.map(batch_part, [str(f) for f in s.files], pure=False))


def _value_stream(c, s: LogScan, *, value_added: Any = None, time: str = "calendar", calendar: Any = None,
                  include_cut: bool = False):
    from .outofcore import _check_scan, _check_wall_clock, value_stream_of_parts

    _check_scan(s, "value_stream")
    _check_wall_clock("value_stream", time)
    return value_stream_of_parts(_batch_parts(c, s), tz=s.tz, value_added=value_added, calendar=calendar,
                                 include_cut=include_cut)


def _bottlenecks(c, s: LogScan, *, calendar: Any = None):
    from .outofcore import _check_bottleneck_calendar, _check_scan, bottlenecks_of_parts

    _check_scan(s, "bottlenecks")
    _check_bottleneck_calendar(calendar)
    return bottlenecks_of_parts(_batch_parts(c, s), tz=s.tz, calendar=calendar)
