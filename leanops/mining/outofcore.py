"""Out-of-core mining in DuckDB: the same results as the pandas engine, on Parquet on disk.

Each function here mirrors a public one (``discover``, ``variants``, ``performance``,
``value_stream``, ``bottlenecks``). DuckDB does two kinds of work, and only these:

* it selects and sorts the canonical rows (by case, then the instance order: start,
  falling back to end, then end, then file order) and streams them as Arrow record
  batches into one instance batch (:mod:`leanops.mining._batch`), where the same numpy
  code as the in-memory engine's derives enablement, repeats and estimated starts.
  ``value_stream`` and ``bottlenecks`` then run the in-memory analysis on that batch
  (held in memory, about 100 bytes per instance), and ``performance`` reads it back as
  table ``p`` for its SQL aggregates;
* it aggregates: the process map's totals, variants, the performance groups and
  (value, count) frequency tables for exact quantiles (interpolated like numpy: a GROUP
  BY and a window that DuckDB spills to disk, where an in-memory quantile state might
  not fit), one partition at a time where cases are split by partition.

The public functions dispatch here (see :func:`leanops.mining._engine.dispatch`) when given a Parquet path or a
:class:`~leanops.LogScan`, or ``engine="duckdb"``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any, Literal

import numpy as np
import pandas as pd

from .._validation import check_calendar, check_choice, check_fraction, check_names
from ..errors import InputError
from ..scan import LogScan, close, scan
from ._engine import Engine, dispatch  # noqa: F401  (moved to _engine.py; old import path kept)
from ._map import split_q as _split_q
from ._quantiles import QUANTILES, SQL_ORDER_STATS, interpolate

__all__ = ["run"]
_NS = 1e9
_BATCH = 1 << 21


def run(name: str, s: LogScan, **options: Any) -> Any:
    """Run the public analysis ``name`` on a scan with this engine (see :func:`leanops.mining._engine.dispatch`)."""
    return {"discover": discover, "variants": variants, "performance": performance,
            "value_stream": value_stream, "bottlenecks": bottlenecks}[name](s, **options)


# ------------------------------------------------------------ row tables
def _q(s: Any) -> str:
    return "'" + str(s).replace("'", "''") + "'"


def _base_select(scan_: LogScan, i: int, f: os.PathLike) -> str:
    cols = set(scan_.columns)
    start = 'epoch_ns("start")' if "start" in cols else "NULL::BIGINT"
    res = "resource::VARCHAR" if "resource" in cols else "NULL::VARCHAR"
    return (
        f'SELECT case_id::VARCHAR AS case_id, activity::VARCHAR AS activity, {res} AS resource, '
        f'{start} AS s_ns, epoch_ns("end") AS e_ns, {i} AS f, file_row_number AS r '
        f"FROM read_parquet({_q(f)}, file_row_number=true)"
    )


# The EventLog's order of the instances within a case (as leanops._canonical.sort_canonical)
_ORDER = "coalesce(s_ns, e_ns), e_ns, f, r"

# Per-instance steps, in the EventLog's order within a case: start (end where missing),
# end, then file order; ``pos`` is 1-based. (Enablement and estimated starts come from
# the instance batch: _Session.prepared.)
_STEPS = """
SELECT case_id, activity, resource, s_ns IS NOT NULL AS has_start, {ts} AS ts, e_ns, f, r, {extra}
  row_number() OVER w AS pos,
  count(*) OVER (PARTITION BY case_id) AS clen,
  lag(activity) OVER w AS prev_act,
  lag(e_ns) OVER w AS prev_end
FROM ({src}) b
WINDOW w AS (PARTITION BY case_id ORDER BY {order})
"""


class _Session:
    """A DuckDB connection over a scan, with the row tables built so far."""

    def __init__(self, s: LogScan, keep: list[str] | None = None):
        self.scan = s
        self.con = s.connect()
        self.keep = keep
        self.built: set[str] = set()

    def __enter__(self) -> "_Session":
        return self

    def __exit__(self, *exc: Any) -> None:
        close(self.con)

    def sql(self, q: str, params: Any = None):
        return self.con.execute(q, params) if params is not None else self.con.execute(q)

    def df(self, q: str) -> pd.DataFrame:
        return self.con.execute(q).df()

    def _per_file(self, table: str, template: str, **fmt: Any) -> None:
        """Build ``table`` from ``template`` over each file (or all files at once if cases
        are not split by file)."""
        where = ""
        if self.keep is not None:
            where = " WHERE activity IN (" + ", ".join(_q(a) for a in self.keep) + ")"
        if self.scan.split_by_case:
            for i, f in enumerate(self.scan.files):
                src = f"SELECT * FROM ({_base_select(self.scan, i, f)}){where}"
                body = template.format(src=src, **fmt)
                self.sql(f"CREATE TABLE {table} AS {body}" if i == 0 else f"INSERT INTO {table} {body}")
        else:
            src = _all_rows(self.scan)
            src = f"SELECT * FROM ({src}){where}"
            self.sql(f"CREATE TABLE {table} AS {template.format(src=src, **fmt)}")

    def raw(self) -> str:
        """Table ``t``: steps over the recorded times (starts may be missing)."""
        if "t" not in self.built:
            self._per_file("t", _STEPS, ts="coalesce(s_ns, e_ns)", extra="", order=_ORDER)
            self.built.add("t")
        return "t"

    def any_missing_start(self) -> bool:
        src = _all_rows(self.scan)
        return bool(self.sql(f"SELECT bool_or(s_ns IS NULL) FROM ({src})").fetchall()[0][0])

    def prepared(self) -> str:
        """Table ``p``: the instance batch of the scan (:mod:`leanops.mining._batch`:
        starts estimated where missing, by the rule of :func:`leanops.estimate_start_times`,
        and the enablement rule), as the per-instance columns that the SQL aggregates of
        :func:`performance` read: ``ts`` (start), ``e_ns``, ``pos``, ``cm`` (latest earlier
        end in the case, NULL for the first), ``estimated``; ``ts0``/``f``/``r`` keep the
        batch's row order. The batch is held in memory while the table is built."""
        if "p" not in self.built:
            from ._batch import concat, finish

            self.load_batch(finish(*concat(_parts(self.scan))))
        return "p"

    def load_batch(self, b: Any) -> None:
        """Make table ``p`` (see :meth:`prepared`) from an instance batch."""
        self.con.register("p_rows", _steps_table(b))
        self.sql("CREATE TABLE p AS SELECT * FROM p_rows")
        self.con.unregister("p_rows")
        self.built.add("p")


def _steps_table(b: Any) -> Any:
    """An Arrow table of a batch's rows with the columns of :meth:`_Session.prepared`."""
    import pyarrow as pa
    import pyarrow.compute as pc

    n = len(b)
    k = np.arange(n, dtype=np.int64)
    res = np.where(b.resource >= 0, b.resource, len(b.resources))
    return pa.table({
        "case_id": pc.take(pa.array(list(b.case_ids), type=pa.string()), pa.array(b.case)),
        "activity": pc.take(pa.array(b.activities, type=pa.string()), pa.array(b.activity)),
        "resource": pc.take(pa.array([*b.resources, None], type=pa.string()), pa.array(res)),
        "ts": b.start, "e_ns": b.end, "ts0": k, "f": np.zeros(n, dtype=np.int64), "r": k,
        "pos": k - b.starts[b.case] + 1,
        "cm": pa.array(b.cover, mask=b.first),
        "estimated": b.estimated,
    })


def _check_scan(log: Any, name: str) -> LogScan:
    s = scan(log)
    if s.n_events == 0:
        raise InputError(f"{name}: the log has no activity instances; check the filters applied before.")
    return s


# ------------------------------------------------------------------ discover
def discover(log: Any, *, activities: float | None = None, paths: float | None = None):
    """:func:`leanops.discover` in DuckDB (see there)."""
    from ._map import activities_covering, keep_note
    from .graph import graph_from_totals

    s = _check_scan(log, "discover")
    activities = check_fraction("activities", activities)
    paths = check_fraction("paths", paths)
    notes: list[str] = []
    with _Session(s) as ses:
        keep = None
        if activities is not None and activities < 1.0:
            rows = _all_rows(s)
            counts = ses.df(ACTIVITY_COUNTS_SQL.format(src=rows))
            keep, n_all, share = activities_covering(zip(counts["activity"], counts["n"]), activities)
            ses.keep = keep
            n_cases_all = int(ses.sql(N_CASES_SQL.format(src=rows)).fetchone()[0])
        totals, node_q, edge_q = _discover_parts(ses, s)
    n_cases = int(totals["ends"]["n_first"].sum())
    if keep is not None:
        notes.append(keep_note(len(keep), n_all, share, n_cases_all - n_cases))
    return graph_from_totals(totals, node_q, edge_q, n_cases=n_cases, n_events=int(totals["nodes"]["count"].sum()),
                             notes=notes, activities_share=activities, paths=paths)


def _all_rows(s: LogScan) -> str:
    """SQL: every row of the scan's files (no activity filter)."""
    return " UNION ALL ".join(_base_select(s, i, f) for i, f in enumerate(s.files))


#: SQL: instances per activity in ``src`` (for the activity slider)
ACTIVITY_COUNTS_SQL = "SELECT activity, count(*) AS n FROM ({src}) GROUP BY activity"

#: SQL: the number of distinct cases in ``src`` (a DISTINCT subquery, which spills)
N_CASES_SQL = "SELECT count(*) FROM (SELECT DISTINCT case_id FROM ({src}))"

#: SQL over a steps table ``{t}``: the (value, count) frequency tables of the service times
#: per activity and the waits per path, whose exact quantiles the map reports
MAP_FREQ_SQL = {
    "node_freq": "SELECT activity, e_ns - ts AS v, count(*) AS n FROM {t} WHERE has_start GROUP BY ALL",
    "edge_freq": """SELECT prev_act AS source, activity AS target, greatest(ts - prev_end, 0) AS v, count(*) AS n
                    FROM {t} WHERE pos > 1 GROUP BY ALL""",
}
MAP_FREQ_KEYS = {"node_freq": ["activity"], "edge_freq": ["source", "target"]}


def _step_partitions(ses: _Session, s: LogScan):
    """Yield steps tables: one per case partition, each dropped when the next is built,
    when the files split cases; else the whole log's."""
    if not (s.split_by_case and len(s.files) > 1):
        yield ses.raw()
        return
    where = "" if ses.keep is None else " WHERE activity IN (" + ", ".join(_q(a) for a in ses.keep) + ")"
    for i, f in enumerate(s.files):
        src = f"SELECT * FROM ({_base_select(s, i, f)}){where}"
        ses.sql("CREATE OR REPLACE TABLE tp AS " + _STEPS.format(src=src, ts="coalesce(s_ns, e_ns)", extra="",
                                                                 order="coalesce(s_ns, e_ns), e_ns, f, r"))
        yield "tp"
        ses.sql("DROP TABLE tp")


def _discover_parts(ses: _Session, s: LogScan) -> tuple[dict[str, pd.DataFrame], pd.DataFrame, pd.DataFrame]:
    """The map's merged totals and its quantile tables (:mod:`leanops.mining._map`). Each
    case partition's totals are small and merged by :func:`~leanops.mining._map.merge_parts`;
    its frequency tables of the durations are collected in DuckDB (spilling if need be)
    and the exact quantiles read off them."""
    from ._map import merge_parts, q_table

    parts = []
    freq = {name: name for name in MAP_FREQ_SQL}
    for i, t in enumerate(_step_partitions(ses, s)):
        parts.append(_map_totals(ses, t))
        if t != "tp":  # the whole log at once: its frequency tables need not be kept
            freq = {name: f"({q.format(t=t)})" for name, q in MAP_FREQ_SQL.items()}
            continue
        for name, q in MAP_FREQ_SQL.items():
            body = q.format(t=t)
            ses.sql(f"CREATE TABLE {name} AS {body}" if i == 0 else f"INSERT INTO {name} {body}")
    node_q, edge_q = (q_table(_quantiles(ses, "", keys, "", freq=freq[name]), keys) for name, keys in MAP_FREQ_KEYS.items())
    return merge_parts(parts), node_q, edge_q


def _map_totals(ses: _Session, t: str) -> dict[str, pd.DataFrame]:
    """The process map's part tables (:mod:`leanops.mining._map`) over steps table ``t``:
    per activity (``nodes``), per path (``edges``) and first/last counts (``ends``). The
    DuckDB engine runs this per case partition or on the whole log, the Dask engine on
    each partition (cases never span two, so every count, distinct cases included, adds up)."""
    # distinct cases per group through a DISTINCT subquery: DuckDB spills its hash table,
    # which count(DISTINCT ...) inside a grouped aggregate does not
    nodes = ses.df(f"""
        SELECT * FROM (
          SELECT activity, count(*) AS count,
                 sum((e_ns - ts)::DOUBLE) FILTER (WHERE has_start) AS svc_sum,
                 count(*) FILTER (WHERE has_start) AS svc_n
          FROM {t} GROUP BY activity)
        JOIN ({_distinct_cases(t, "activity", "activity")}) USING (activity)""")
    edges = ses.df(f"""
        SELECT * FROM (
          SELECT prev_act AS source, activity AS target, count(*) AS count,
                 sum(greatest(ts - prev_end, 0)::DOUBLE) AS w_sum,
                 count(*) FILTER (WHERE has_start) AS with_start
          FROM {t} WHERE pos > 1 GROUP BY prev_act, activity)
        JOIN ({_distinct_cases(t, "prev_act AS source, activity AS target", "source, target", where="pos > 1")}) USING (source, target)""")
    ends = ses.df(f"""
        SELECT activity, count(*) FILTER (WHERE pos = 1) AS n_first, count(*) FILTER (WHERE pos = clen) AS n_last
        FROM {t} WHERE pos = 1 OR pos = clen GROUP BY activity""")
    return {"nodes": nodes, "edges": edges, "ends": ends}


def _distinct_cases(t: str, keys: str, cols: str, where: str = "true", name: str = "cases") -> str:
    """SQL: per group (``keys`` select expressions named ``cols``), the number of distinct cases."""
    return (f"SELECT {cols}, count(*) AS {name} FROM (SELECT DISTINCT case_id, {keys} FROM {t} WHERE {where}) "
            f"GROUP BY {cols}")


def _quantiles(ses: "_Session", src: str, keys: list[str], value: str, where: str = "true",
               freq: str | None = None) -> pd.DataFrame:
    """Exact median and p90 of ``value`` per group of ``keys`` over ``src``, as numpy's
    default (linear) quantiles: from the frequency table (value, n) with running counts,
    the order statistics either side of each quantile's position. ``freq`` gives a
    frequency table (``keys, v, n``, possibly with repeated values) instead."""
    k = ", ".join(keys)
    part = f"PARTITION BY {k}" if keys else ""
    fsql = (f"SELECT {k + ',' if keys else ''} v, sum(n) AS n FROM {freq} GROUP BY ALL" if freq is not None else
            f"SELECT {k + ',' if keys else ''} ({value}) AS v, count(*) AS n FROM {src} "
            f"WHERE ({where}) AND ({value}) IS NOT NULL GROUP BY ALL")
    q = f"""
        WITH f AS ({fsql}),
             c AS (SELECT *, sum(n) OVER ({part} ORDER BY v ROWS UNBOUNDED PRECEDING) AS cum,
                          sum(n) OVER ({part}) AS m FROM f)
        SELECT {k + ',' if keys else ''} any_value(m)::BIGINT AS m,
               {SQL_ORDER_STATS}
        FROM c {"GROUP BY " + k if keys else ""}"""
    d = ses.df(q)
    out = d[keys].copy()
    qs = [interpolate(d["m"], d[f"a{int(qq * 100)}"], d[f"b{int(qq * 100)}"], qq) for qq in QUANTILES]
    out["q"] = list(zip(*qs))
    return out


def _with_q(frame: pd.DataFrame, qs: pd.DataFrame, keys: list[str], name: str) -> pd.DataFrame:
    return frame.merge(qs.rename(columns={"q": name}), on=keys, how="left")


# ------------------------------------------------------------------ variants
def variants(log: Any, *, include_cut: bool = False) -> pd.DataFrame:
    """:func:`leanops.variants` in DuckDB (see there)."""
    s = _check_scan(log, "variants")
    with _Session(s) as ses:
        t = ses.raw()
        excluded, cut = _cut_cases(ses, t, include_cut)
        per_variant = _variant_parts(ses, t, cut)
    out = _variants_from_parts(per_variant)
    out.attrs["excluded_cases"] = excluded
    return out


# per case: first and last time, first activity and the activity that finished last
_CASE_ENDS_SQL = """SELECT case_id, min(ts) AS t0, max(e_ns) AS t1, arg_min(activity, pos) AS fa,
                           arg_max(activity, [e_ns, pos]) AS la FROM {t} GROUP BY case_id"""


def _cut_flags(c: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """``(cut_at_start, open_at_end)`` per row of a :data:`_CASE_ENDS_SQL` result."""
    from ..boundaries import boundary_flags

    return boundary_flags(c["t0"].to_numpy(np.int64), c["t1"].to_numpy(np.int64),
                          c["fa"].to_numpy(dtype=object).astype(str), c["la"].to_numpy(dtype=object).astype(str))


def _cut_cases(ses: _Session, t: str, include_cut: bool) -> tuple[dict[str, int], pd.DataFrame | None]:
    """The counts of the cases of steps table ``t`` that the export window cut, and their
    ids (None with ``include_cut``): the rule of :mod:`leanops.boundaries`."""
    if include_cut:
        return {"cut_at_start": 0, "open_at_end": 0}, None
    c = ses.df(_CASE_ENDS_SQL.format(t=t))
    cut, open_ = _cut_flags(c)
    return {"cut_at_start": int(cut.sum()), "open_at_end": int(open_.sum())}, c.loc[cut | open_, ["case_id"]]


def _variant_cases(ses: _Session, t: str, cut: pd.DataFrame | None) -> str:
    """Table ``vc``: per case of ``t``, its sequence, cycle time and whether it is timed
    (not cut by the export window: not in ``cut``). Returns the SQL test for timed cases."""
    ses.sql(f"""
        CREATE TABLE vc AS
        SELECT case_id, list(activity ORDER BY pos) AS seq, ((max(e_ns) - min(ts)) / 1e9)::DOUBLE AS ct
        FROM {t} GROUP BY case_id""")
    if cut is None or not len(cut):
        return "true"
    ses.con.register("cut_cases", cut)
    ses.sql("CREATE TABLE vcut AS SELECT DISTINCT case_id::VARCHAR AS case_id FROM cut_cases")
    ses.con.unregister("cut_cases")
    return "case_id NOT IN (SELECT case_id FROM vcut)"


def _variant_parts(ses: _Session, t: str, cut: pd.DataFrame | None = None) -> pd.DataFrame:
    timed = _variant_cases(ses, t, cut)
    v = ses.df(f"""SELECT seq, count(*) AS cases, avg(ct) FILTER (WHERE {timed}) AS ct_mean, min(case_id) AS example
                   FROM vc GROUP BY seq""")
    qs = _quantiles(ses, f"(SELECT ct, {timed} AS timed, min(case_id) OVER (PARTITION BY seq) AS example FROM vc)",
                    ["example"], "ct", "timed")
    return _with_q(v, qs, ["example"], "ct_q")


def _variants_from_parts(v: pd.DataFrame) -> pd.DataFrame:
    from .variants import VARIANT_COLUMNS

    med, p90 = _split_q(v, "ct_q")
    n_cases = int(v["cases"].sum())
    out = pd.DataFrame(
        {
            "activities": [tuple(str(a) for a in sq) for sq in v["seq"]],
            "cases": v["cases"].astype(np.int64).to_numpy(),
            "cycle_time_mean_s": v["ct_mean"].to_numpy(dtype=float),
            "cycle_time_median_s": med,
            "cycle_time_p90_s": p90,
            "example_case": v["example"].astype(str).to_numpy(dtype=object),
        }
    )
    out["length"] = [len(a) for a in out["activities"]]
    # the pandas engine breaks ties by the first case in case order: the smallest id
    out = out.sort_values("example_case", kind="stable").sort_values("cases", ascending=False, kind="stable")
    out["share"] = out["cases"] / n_cases
    out["cumulative_share"] = out["cases"].cumsum() / n_cases
    out["variant"] = np.arange(1, len(out) + 1)
    return out[VARIANT_COLUMNS].reset_index(drop=True)


# --------------------------------------------------------------- performance
_TIME_MSG = ("{name}: time='working' is only computed by the pandas engine; use engine='pandas' "
             "(leanops.read(path)) or time='calendar'.")


def _check_wall_clock(name: str, time: str) -> None:
    """``time`` checked: the out-of-core engines measure wall-clock time only."""
    check_choice("time", time, ("calendar", "working"))
    if time != "calendar":
        raise InputError(_TIME_MSG.format(name=name))


def performance(log: Any, *, by: Literal["activity", "resource", "case"] = "activity", time: str = "calendar",
                calendar: Any = None, include_cut: bool = False) -> pd.DataFrame:
    """:func:`leanops.performance` in DuckDB (see there); wall-clock time only."""
    s = _check_scan(log, "performance")
    check_choice("by", by, ("activity", "resource", "case"))
    _check_wall_clock("performance", time)
    if by == "case":  # per case, with the export window's rule (on the batch rows)
        return performance_of_parts(s, _parts(s), by=by, include_cut=include_cut)
    with _Session(s) as ses:
        return _performance_of_p(ses, ses.prepared(), by, None)


def _performance_of_p(ses: _Session, p: str, by: str, excluded: dict[str, int] | None) -> pd.DataFrame:
    """The performance table from the instance table ``p`` (SQL aggregates)."""
    if by == "case":
        out = _performance_cases(ses, p)
        out.attrs["excluded_cases"] = excluded
        return out
    key = "activity" if by == "activity" else "coalesce(resource, '(none)')"
    g = ses.df(_perf_group_sql(p, key))
    src = f"(SELECT {key} AS k, * FROM {p})"
    g = _with_q(g, _quantiles(ses, src, ["k"], "greatest(e_ns - ts, 0) / 1e9"), ["k"], "pq")
    g = _with_q(g, _quantiles(ses, src, ["k"], "greatest(ts - cm, 0) / 1e9", "pos > 1"), ["k"], "wq")
    return _performance_from_group(g, by)


def performance_of_parts(s: LogScan, parts: list[dict[str, Any]], *, by: str, include_cut: bool) -> pd.DataFrame:
    """The performance table of batch rows from case partitions (the Dask engine on logs
    with missing starts, whose estimation follows resources across partitions): the
    batch is put together and estimated on the client, then the SQL aggregates above run
    on it in a local DuckDB connection."""
    from . import _batch_inputs as li
    from ._batch import concat, finish

    rows, acts, res = concat(parts)
    excluded = None
    if by == "case":
        rows, excluded = li.drop_cut(rows, include_cut)
    b = finish(rows, acts, res)
    with _Session(s) as ses:
        ses.load_batch(b)
        return _performance_of_p(ses, "p", by, excluded)


def _perf_group_sql(p: str, key: str) -> str:
    return f"""
        SELECT * FROM (SELECT {key} AS k, count(*) AS instances,
               avg(svc) AS processing_mean_s, sum(svc) AS processing_total_s,
               avg(w) AS waiting_mean_s, sum(w) AS waiting_total_s, count(w) AS w_n,
               avg(estimated::INT) AS estimated_share,
               min({{'c': case_id, 's': ts, 'e': e_ns, 't': ts0, 'f': f, 'r': r}}) AS first_row
        FROM (SELECT *, greatest(e_ns - ts, 0) / 1e9 AS svc,
                     CASE WHEN pos = 1 THEN NULL ELSE greatest(ts - cm, 0) / 1e9 END AS w FROM {p})
        GROUP BY k) JOIN ({_distinct_cases(p, f"{key} AS k", "k")}) USING (k)"""


def _performance_from_group(g: pd.DataFrame, by: str) -> pd.DataFrame:
    pmed, p90 = _split_q(g, "pq")
    wmed, w90 = _split_q(g, "wq")
    # groups appear in the pandas engine in the order of their first row
    fr = g["first_row"].to_list()
    order = sorted(range(len(g)), key=lambda i: tuple(fr[i][k] for k in ("c", "s", "e", "t", "f", "r")))
    out = pd.DataFrame(
        {
            by: g["k"].astype(str).to_numpy(dtype=object),
            "instances": g["instances"].astype(np.int64).to_numpy(),
            "cases": g["cases"].astype(np.int64).to_numpy(),
            "processing_mean_s": g["processing_mean_s"].to_numpy(dtype=float),
            "processing_median_s": pmed,
            "processing_p90_s": p90,
            "processing_total_s": g["processing_total_s"].to_numpy(dtype=float),
            "waiting_mean_s": g["waiting_mean_s"].to_numpy(dtype=float),
            "waiting_median_s": wmed,
            "waiting_p90_s": w90,
            "waiting_total_s": g["waiting_total_s"].fillna(0.0).to_numpy(dtype=float),
            "estimated_share": g["estimated_share"].to_numpy(dtype=float),
        }
    ).iloc[order]
    for c in ("waiting_mean_s", "waiting_median_s", "waiting_p90_s"):
        out[c] = out[c].fillna(0.0)
    out = out.sort_values(["waiting_total_s", "instances"], ascending=False, kind="stable")
    return out.reset_index(drop=True)


def _case_sql(p: str) -> str:
    # per case: first start, last end, covered (union) time, counts; ``cover`` is the
    # latest end among earlier instances (the instance's own start for the first one)
    return f"""
        SELECT case_id, count(*) AS instances, min(ts) AS s_ns, max(e_ns) AS e_ns,
               sum(cov) AS covered, avg(estimated::INT) AS estimated_share {{extra}}
        FROM (SELECT *, greatest((e_ns - greatest(ts, coalesce(cm, ts))) / 1e9, 0) AS cov FROM {p})
        GROUP BY case_id"""


def _performance_cases(ses: _Session, p: str) -> pd.DataFrame:
    c = ses.df(_case_sql(p).format(extra="") + " ORDER BY case_id")
    lead = (c["e_ns"].to_numpy(dtype=np.int64) - c["s_ns"].to_numpy(dtype=np.int64)) / _NS
    cov = c["covered"].to_numpy(dtype=float)
    return pd.DataFrame(
        {
            "case_id": pd.array(c["case_id"].astype(str), dtype="string[pyarrow]"),
            "instances": c["instances"].astype(np.int64).to_numpy(),
            "start": pd.to_datetime(c["s_ns"].to_numpy(dtype=np.int64), utc=True),
            "end": pd.to_datetime(c["e_ns"].to_numpy(dtype=np.int64), utc=True),
            "lead_time_s": lead,
            "processing_s": cov,
            "waiting_s": np.maximum(lead - cov, 0.0),
            "estimated_share": c["estimated_share"].to_numpy(dtype=float),
        }
    )


# ------------------------------------------------- value stream, bottlenecks
def _batch_part(s: LogScan) -> dict[str, Any]:
    """The instance-batch rows of a scan (one case partition, or files not split by case),
    with their dictionaries: DuckDB only selects and sorts the canonical rows (by case,
    then the EventLog's instance order) and streams them as Arrow record batches
    (:func:`leanops.mining._batch.from_reader`)."""
    from ._batch import from_reader

    with _Session(s) as ses:
        ses.sql(f"CREATE VIEW rows AS {_all_rows(s)}")
        acts, res = (sorted(str(x) for x in ses.df(f"SELECT DISTINCT {c} AS x FROM rows WHERE {c} IS NOT NULL")["x"])
                     for c in ("activity", "resource"))
        q = f"SELECT case_id, activity, resource, s_ns, e_ns FROM rows ORDER BY case_id, {_ORDER}"
        cols = from_reader(ses.con.sql(q).to_arrow_reader(_BATCH), acts, res)
    return {"cols": cols, "acts": acts, "resources": res}


def batch_part(path: str) -> dict[str, Any]:
    """:func:`_batch_part` of one Parquet file (a case partition; a Dask task)."""
    return _batch_part(scan(path))


def _parts(s: LogScan) -> list[dict[str, Any]]:
    """The batch rows of a scan: one sort per case partition, or one over all files."""
    if s.split_by_case and len(s.files) > 1:
        return [batch_part(str(f)) for f in s.files]
    return [_batch_part(s)]


def value_stream(log: Any, *, value_added: Iterable[str] | None = None, time: str = "calendar", calendar: Any = None,
                 include_cut: bool = False):
    """:func:`leanops.value_stream` in DuckDB (see there); wall-clock time only.

    DuckDB streams the canonical rows as one instance batch (:mod:`leanops.mining._batch`),
    held in memory (about 100 bytes per instance), and the in-memory engine's code
    computes the value stream from it."""
    s = _check_scan(log, "value_stream")
    _check_wall_clock("value_stream", time)
    return value_stream_of_parts(_parts(s), tz=s.tz, value_added=value_added, calendar=calendar,
                                 include_cut=include_cut)


def value_stream_of_parts(parts: list[dict[str, Any]], *, tz: str, value_added: Iterable[str] | None,
                          calendar: Any, include_cut: bool):
    """The value stream of batch rows from case partitions (the DuckDB and Dask engines)."""
    from . import _batch_inputs as li
    from ._batch import concat, finish
    from .valuestream import value_stream_of

    rows, acts, res = concat(parts)
    va = None
    if value_added is not None:
        if isinstance(value_added, str):
            value_added = [value_added]
        va = tuple(check_names("value_added", list(value_added), acts, what="activity"))
    cal = check_calendar(calendar)
    cal = li.log_calendar(rows, tz) if cal is None else cal
    level = li.time_level(rows)
    rows, excluded = li.drop_cut(rows, include_cut)
    return value_stream_of(finish(rows, acts, res), cal=cal, value_added=va, level=level, excluded=excluded)


def bottlenecks(log: Any, *, calendar: Any = None) -> pd.DataFrame:
    """:func:`leanops.bottlenecks` in DuckDB (see there).

    DuckDB streams the canonical rows as one instance batch (:mod:`leanops.mining._batch`),
    held in memory (about 100 bytes per instance); pools, calendar and evidence come from
    its rows (:mod:`leanops.mining._batch_inputs`), and the in-memory engine's time grid
    and decomposition (:func:`leanops.mining.bottlenecks.decompose`) rank the steps.
    """
    s = _check_scan(log, "bottlenecks")
    _check_bottleneck_calendar(calendar)
    return bottlenecks_of_parts(_parts(s), tz=s.tz, calendar=calendar)


def _check_bottleneck_calendar(calendar: Any) -> None:
    if isinstance(calendar, str) and calendar == "pool":
        raise InputError("bottlenecks: calendar='pool' is only computed by the pandas engine; use engine='pandas'.")
    check_calendar(calendar, mapping=True)


def bottlenecks_of_parts(parts: list[dict[str, Any]], *, tz: str, calendar: Any):
    """The bottleneck ranking of batch rows from case partitions (the DuckDB and Dask engines)."""
    from . import _batch_inputs as li
    from ._batch import concat, finish, profile_of
    from .bottlenecks import _rank_table, decompose

    rows, acts, res = concat(parts)
    prof = profile_of(rows["resource"], rows["activity"], len(res), len(acts))
    pools = li.pools(rows, acts, res, profile=prof)
    pool_names = sorted(set(pools.values()))
    log_cal = li.log_calendar(rows, tz) if (calendar is None or isinstance(calendar, dict)) else None
    cals = _calendars(calendar, pool_names, log_cal)
    level, roles = li.evidence(rows, res)
    b = finish(rows, acts, res)
    b.extra["profile"] = prof  # (counted once: finish only reorders rows within their cases)
    del rows  # (the batch keeps what it needs)
    return _rank_table(**decompose(b, pools=pools, cals=cals, roles=roles, log_level=level))


def _calendars(calendar, pool_names, log_cal):
    """A calendar per pool, as ``resources._group_calendars`` (by="pool")."""
    cal = check_calendar(calendar, mapping=True)
    if isinstance(cal, dict):
        return {n: cal.get(n, log_cal) for n in pool_names}
    return {n: log_cal if cal is None else cal for n in pool_names}


