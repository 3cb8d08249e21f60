"""Out-of-core mining in DuckDB: the same results as the pandas engine, on Parquet on disk.

Each function here mirrors a public one (``discover``, ``variants``, ``performance``,
``value_stream``, ``bottlenecks``) and follows its documented definitions exactly: the
order of instances in a case (start, falling back to end, then end, then file order), the
enablement rule (the latest earlier end in the case, capped at the instance's own start),
waits and their basis, start-time estimation for completion-only logs, and exact
quantiles (read off frequency tables of the values, interpolated like numpy: a GROUP BY
and a window that DuckDB spills to disk, where an in-memory quantile state might not fit).
Row-level work runs in
SQL over the Parquet files, one partition at a time where cases are split by partition,
so DuckDB sorts one partition at a time and spills to disk beyond its memory limit. The
steps that need Python (calendars, the bottleneck time grid) stream Arrow batches and
keep only per-activity, per-pool or per-case arrays in memory.

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
from ..log import EventLog
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


# Per-instance steps, in the EventLog's order within a case: start (end where missing),
# end, then file order. ``cm`` is the running maximum of earlier ends (enablement before
# capping), ``pos`` is 1-based.
_STEPS = """
SELECT case_id, activity, resource, s_ns IS NOT NULL AS has_start, {ts} AS ts, e_ns, f, r, {extra}
  row_number() OVER w AS pos,
  count(*) OVER (PARTITION BY case_id) AS clen,
  lag(activity) OVER w AS prev_act,
  lag(e_ns) OVER w AS prev_end,
  max(e_ns) OVER (PARTITION BY case_id ORDER BY {order} ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS cm
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
            src = " UNION ALL ".join(_base_select(self.scan, i, f) for i, f in enumerate(self.scan.files))
            src = f"SELECT * FROM ({src}){where}"
            self.sql(f"CREATE TABLE {table} AS {template.format(src=src, **fmt)}")

    def raw(self) -> str:
        """Table ``t``: steps over the recorded times (starts may be missing)."""
        if "t" not in self.built:
            self._per_file("t", _STEPS, ts="coalesce(s_ns, e_ns)", extra="", order="coalesce(s_ns, e_ns), e_ns, f, r")
            self.built.add("t")
        return "t"

    def any_missing_start(self) -> bool:
        t = self.raw()
        return bool(self.sql(f"SELECT bool_or(NOT has_start) FROM {t}").fetchone()[0])

    def prepared(self) -> str:
        """Table ``p``: steps with every start known, estimated where missing, as
        :func:`leanops.estimate_start_times` does (columns ``estimated``, ``ts`` = start)."""
        if "p" in self.built:
            return "p"
        t = self.raw()
        if not self.any_missing_start():
            self.sql(f"CREATE VIEW p AS SELECT *, false AS estimated, ts AS ts0 FROM {t}")
            self.built.add("p")
            return "p"
        # enablement (capped at the instance's own start), the resource's previous end by
        # end time (ties in row order), then the activity's typical processing time for the
        # first instance of a case; see leanops.mining.performance._estimated_starts.
        self.sql(f"""
            CREATE TABLE est0 AS
            SELECT *, CASE WHEN pos = 1 THEN NULL ELSE least(cm, ts) END AS en,
                   CASE WHEN resource IS NULL THEN NULL ELSE
                        lag(e_ns) OVER (PARTITION BY resource ORDER BY e_ns, case_id, ts, f, r) END AS rp
            FROM {t}""")
        self.sql("""
            CREATE TABLE est1 AS
            SELECT *, CASE WHEN en IS NULL AND rp IS NULL THEN NULL
                           ELSE least(greatest(coalesce(en, rp), coalesce(rp, en)), e_ns) END AS est
            FROM est0""")
        self.sql("""
            CREATE TABLE typical AS
            SELECT activity, trunc(median((e_ns - est)::DOUBLE))::BIGINT AS typ
            FROM est1 WHERE pos > 1 AND est IS NOT NULL GROUP BY activity""")
        self.sql("""
            CREATE TABLE est2 AS
            SELECT e.case_id, e.activity, e.resource, e.e_ns, e.f, e.r, e.ts AS ts0, NOT e.has_start AS estimated,
                   CASE WHEN e.has_start THEN e.ts ELSE (
                     CASE WHEN x IS NULL THEN e.e_ns ELSE least(x, e.e_ns) END) END AS s_ns
            FROM (SELECT *, CASE WHEN pos = 1 THEN greatest(e_ns - coalesce(typ, 0), coalesce(rp, e_ns - coalesce(typ, 0)))
                                 ELSE est END AS x
                  FROM est1 LEFT JOIN typical USING (activity)) e""")
        self.sql(_STEPS.format(src="SELECT * FROM est2", ts="s_ns", extra="estimated, ts0,",
                               order="s_ns, e_ns, ts0, f, r").replace("SELECT case_id", "CREATE TABLE p AS SELECT case_id", 1))
        for tb in ("est0", "est1", "est2"):
            self.sql(f"DROP TABLE {tb}")
        self.built.add("p")
        return "p"


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


def performance(log: Any, *, by: Literal["activity", "resource", "case"] = "activity", time: str = "calendar",
                calendar: Any = None, include_cut: bool = False) -> pd.DataFrame:
    """:func:`leanops.performance` in DuckDB (see there); wall-clock time only."""
    s = _check_scan(log, "performance")
    check_choice("by", by, ("activity", "resource", "case"))
    check_choice("time", time, ("calendar", "working"))
    if time != "calendar":
        raise InputError(_TIME_MSG.format(name="performance"))
    with _Session(s) as ses:
        if by == "case":
            excluded = _drop_cut_cases(ses, ses.raw(), include_cut)
            out = _performance_cases(ses, ses.prepared())
            out.attrs["excluded_cases"] = excluded
            return out
        p = ses.prepared()
        key = "activity" if by == "activity" else "coalesce(resource, '(none)')"
        g = ses.df(_perf_group_sql(p, key))
        src = f"(SELECT {key} AS k, * FROM {p})"
        g = _with_q(g, _quantiles(ses, src, ["k"], "greatest(e_ns - ts, 0) / 1e9"), ["k"], "pq")
        g = _with_q(g, _quantiles(ses, src, ["k"], "greatest(ts - cm, 0) / 1e9", "pos > 1"), ["k"], "wq")
    return _performance_from_group(g, by)


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


# --------------------------------------------------------------- calendars
def _log_calendar(ses: _Session, t: str, tz: str):
    """:func:`leanops.discover_calendar` (by log) from the recorded start and end times,
    on the same regular sample as the pandas engine for very large logs."""
    from ..calendar import _MAX_SAMPLE, Calendar, _calendar_from_counts, _slot_counts

    n, n_start = (int(x) for x in ses.sql(f"SELECT count(*), count(*) FILTER (WHERE has_start) FROM {t}").fetchone())
    total = n + n_start
    k = -(-total // _MAX_SAMPLE) if total > _MAX_SAMPLE else 1
    if k == 1:
        q = f"SELECT ts AS x FROM {t} WHERE has_start UNION ALL SELECT e_ns - 1 AS x FROM {t}"
    else:
        # the instants are the recorded starts, then the ends, each in the log's row order;
        # the sample keeps every k-th of them
        co = _case_offsets(ses, t)
        q = f"""
            SELECT CASE WHEN kind = 0 THEN ts ELSE e_ns - 1 END AS x FROM (
              SELECT ts, e_ns, 0 AS kind, soff + sum(has_start::INT) OVER (PARTITION BY case_id ORDER BY pos
                     ROWS UNBOUNDED PRECEDING) - 1 AS i, has_start FROM {t} JOIN {co} USING (case_id)
              UNION ALL
              SELECT ts, e_ns, 1 AS kind, {n_start} + off + pos - 1 AS i, true AS has_start FROM {t} JOIN {co} USING (case_id))
            WHERE has_start AND i % {k} = 0"""
    counts = np.zeros((7, 24), dtype=np.int64)
    if tz == "UTC":
        # (weekday, hour) slots from Monday 1970-01-05, as calendar._slot_counts
        g = ses.df(f"SELECT ((x // 1000000000 - 345600) % 604800) // 3600 AS slot, count(*) AS n FROM ({q}) GROUP BY slot")
        flat = counts.ravel()
        flat[g["slot"].to_numpy(dtype=np.int64)] += g["n"].to_numpy(dtype=np.int64)
    else:
        # the sample is bounded (every k-th instant), so it is fetched whole: a streaming
        # reader left the connection with an unfinished result for the next query
        counts += _slot_counts(ses.df(q)["x"].to_numpy(dtype=np.int64), tz)
    return _calendar_from_counts(counts, min_share=0.9, tz=tz) or Calendar.always()


def _resolve_cal(ses: _Session, s: LogScan, calendar: Any):
    cal = check_calendar(calendar)
    return _log_calendar(ses, ses.raw(), s.tz) if cal is None else cal


# -------------------------------------------------------------- value stream
def value_stream(log: Any, *, value_added: Iterable[str] | None = None, time: str = "calendar", calendar: Any = None,
                 include_cut: bool = False):
    """:func:`leanops.value_stream` in DuckDB (see there); wall-clock time only."""
    from .valuestream import ValueStream, _littles_law, _wip_sweep

    s = _check_scan(log, "value_stream")
    check_choice("time", time, ("calendar", "working"))
    if time != "calendar":
        raise InputError(_TIME_MSG.format(name="value_stream"))
    with _Session(s) as ses:
        t = ses.raw()
        names = [str(a) for a in ses.df(f"SELECT DISTINCT activity FROM {t}")["activity"]]
        va = None
        if value_added is not None:
            if isinstance(value_added, str):
                value_added = [value_added]
            va = tuple(check_names("value_added", list(value_added), names, what="activity"))
        cal = _resolve_cal(ses, s, calendar)
        level, _ = _sql_log_level(ses, t)
        excluded = _drop_cut_cases(ses, t, include_cut)
        p = ses.prepared()
        va_list = ", ".join(_q(a) for a in (va or ()))
        is_va_sql = "true" if va is None else (f"activity IN ({va_list})" if va else "false")
        cases = ses.df(_case_sql(p).format(extra=f", sum(CASE WHEN {is_va_sql} THEN cov ELSE 0 END) AS va_cov"))
        steps = ses.df(f"""
            SELECT * FROM (SELECT activity, count(*) AS instances,
                   count(*) FILTER (WHERE pos > 1) AS pred_cnt,
                   sum(greatest(e_ns - ts, 0) / 1e9) AS proc_sum,
                   sum(CASE WHEN pos > 1 THEN greatest(ts - cm, 0) / 1e9 ELSE 0 END) AS wait_sum,
                   sum(CASE WHEN pos > 1 THEN greatest((ts - cm) / 1e9, 0) ELSE 0 END) AS gap_sum,
                   sum(greatest((e_ns - greatest(ts, coalesce(cm, ts))) / 1e9, 0)) AS cov_sum,
                   count(DISTINCT resource) AS n_res
            FROM {p} GROUP BY activity) JOIN ({_distinct_cases(p, "activity", "activity")}) USING (activity)""")
        # flow order: mean relative position, on the pandas engine's sample of every k-th case
        k = max(1, len(cases) // 200_000)
        src = p if k == 1 else f"(SELECT x.* FROM {p} x JOIN {_case_offsets(ses, p)} USING (case_id) WHERE crank % {k} = 0)"
        pos = ses.df(f"""SELECT activity, sum(CASE WHEN clen > 1 THEN (pos - 1) / (clen - 1) ELSE 0 END) AS pos_sum,
                                count(*) AS pos_n FROM {src} GROUP BY activity""")
        steps = steps.merge(pos, on="activity", how="left").fillna({"pos_sum": 0.0, "pos_n": 0})
        est_share = float(ses.sql(f"SELECT avg(estimated::INT) FROM {p}").fetchone()[0])
    return _value_stream_from_parts(cases, steps, cal=cal, va=va, time=time, est_share=est_share,
                                    excluded=excluded, log_level=level)


# per case: first and last time, first activity and the activity that finished last
_CASE_ENDS_SQL = """SELECT case_id, min(ts) AS t0, max(e_ns) AS t1, arg_min(activity, pos) AS fa,
                           arg_max(activity, [e_ns, pos]) AS la FROM {t} GROUP BY case_id"""


def _cut_flags(c: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """``(cut_at_start, open_at_end)`` per row of a :data:`_CASE_ENDS_SQL` result."""
    from ..boundaries import boundary_flags

    return boundary_flags(c["t0"].to_numpy(np.int64), c["t1"].to_numpy(np.int64),
                          c["fa"].to_numpy(dtype=object).astype(str), c["la"].to_numpy(dtype=object).astype(str))


def _drop_cut_cases(ses: _Session, t: str, include_cut: bool) -> dict[str, int]:
    """Delete the cases cut by the export window from table ``t`` (the rule of
    :mod:`leanops.boundaries`, on per-case aggregates) and count them."""
    if include_cut:
        return {"cut_at_start": 0, "open_at_end": 0}
    c = ses.df(_CASE_ENDS_SQL.format(t=t))
    cut, open_ = _cut_flags(c)
    drop = c.loc[cut | open_, ["case_id"]]
    if len(drop):
        ses.con.register("cut_cases", drop)
        ses.sql(f"DELETE FROM {t} WHERE case_id IN (SELECT case_id FROM cut_cases)")
        ses.con.unregister("cut_cases")
    return {"cut_at_start": int(cut.sum()), "open_at_end": int(open_.sum())}


def _value_stream_from_parts(cases: pd.DataFrame, st: pd.DataFrame, *, cal, va, time, est_share, excluded, log_level):
    from .valuestream import ValueStream, _honest_pce, _littles_law, _steps_table, _vs_caveats, _wip_sweep

    _DAY = 86400.0
    c0 = cases["s_ns"].to_numpy(dtype=np.int64)
    c1 = cases["e_ns"].to_numpy(dtype=np.int64)
    lead = (c1 - c0) / _NS
    covered = cases["covered"].to_numpy(dtype=float)
    va_cov = cases["va_cov"].to_numpy(dtype=float)
    n_cases = len(cases)
    lead_sum = float(lead.sum())
    pce = float(va_cov.sum() / lead_sum) if lead_sum > 0 else float("nan")
    t0, t1 = int(c0.min()), int(c1.max())
    span_s = (t1 - t0) / 1e9
    throughput = n_cases / (span_s / _DAY) if span_s > 0 else float("nan")
    order = np.argsort(cases["case_id"].to_numpy(dtype=object), kind="stable")
    wip_mean, wip_max, wip = _wip_sweep(c0[order], c1[order])
    little = _littles_law(c0, c1)
    window = pd.DatetimeIndex(np.array([t0, t1]).view("datetime64[ns]")).tz_localize("UTC")
    available = float(cal.working_seconds(window[0], window[1]))
    takt = available / n_cases if n_cases else float("nan")
    st = st.assign(activity=st["activity"].astype(str)).sort_values("activity", kind="stable").reset_index(drop=True)
    cnt = st["instances"].to_numpy(dtype=np.int64)
    proc_sum = st["proc_sum"].to_numpy(dtype=float)
    pred_cnt = st["pred_cnt"].to_numpy(dtype=np.int64)
    wait_sum = st["wait_sum"].to_numpy(dtype=float)
    gap_sum = st["gap_sum"].to_numpy(dtype=float)
    cov_sum = st["cov_sum"].to_numpy(dtype=float)
    n_res = st["n_res"].to_numpy(dtype=np.int64)
    is_va = np.ones(len(st), dtype=bool) if va is None else st["activity"].isin(list(va)).to_numpy()
    steps = _steps_table(
        activities=st["activity"].to_numpy(dtype=object), instances=cnt, cases=st["cases"].to_numpy(dtype=np.int64),
        proc_sum=proc_sum, wait_sum=wait_sum, pred_cnt=pred_cnt, gap_sum=gap_sum, cov_sum=cov_sum, n_res=n_res,
        is_va=is_va, position=st["pos_sum"].to_numpy(dtype=float) / np.maximum(st["pos_n"].to_numpy(dtype=float), 1),
        n_cases=n_cases, lead_sum=lead_sum, takt=takt,
    )
    return ValueStream(
        lead_time_mean_s=float(lead.mean()),
        lead_time_median_s=float(np.median(lead)),
        lead_time_p90_s=float(np.quantile(lead, 0.9)),
        processing_time_mean_s=float(covered.mean()),
        waiting_time_mean_s=float(np.maximum(lead - covered, 0.0).mean()),
        value_added_time_mean_s=float(va_cov.mean()),
        pce=_honest_pce(pce, log_level),
        throughput_per_day=float(throughput),
        takt_time_s=float(takt),
        wip_mean=float(wip_mean),
        wip_max=int(wip_max),
        littles_law_ratio=float(little),
        n_cases=int(n_cases),
        start=window[0],
        end=window[1],
        time=time,
        calendar=cal,
        value_added=va,
        starts_estimated=est_share,
        steps=steps,
        wip=wip,
        excluded_cases=excluded,
        caveats=_vs_caveats(log_level, excluded, est_share),
    )


# --------------------------------------------------------------- bottlenecks
def bottlenecks(log: Any, *, calendar: Any = None) -> pd.DataFrame:
    """:func:`leanops.bottlenecks` in DuckDB (see there).

    Row-level values stream from DuckDB in Arrow batches once: each batch adds its counts
    to the pools' busy coverage and the activities' queue coverage on the time grid (exact
    integer counts per bin, as the pandas engine's) and to the per-activity sums. Memory
    holds the grids, not the rows.
    """
    s = _check_scan(log, "bottlenecks")
    if isinstance(calendar, str) and calendar == "pool":
        raise InputError("bottlenecks: calendar='pool' is only computed by the pandas engine; use engine='pandas'.")
    with _Session(s) as ses:
        t = ses.raw()
        acts = sorted(str(a) for a in ses.df(f"SELECT DISTINCT activity FROM {t}")["activity"])
        pools, names = _pools(ses, t, acts)
        pool_names = sorted(set(pools.values()))
        log_cal = _log_calendar(ses, t, s.tz) if (calendar is None or isinstance(calendar, dict)) else None
        cals = _calendars(calendar, pool_names, log_cal)
        level, roles = _sql_log_level(ses, t)
        p = ses.prepared()
        return _bottleneck_table(ses, p, acts, names, pools, pool_names, cals, level, roles)


def _sql_log_level(ses: _Session, t: str) -> tuple[dict[str, Any], list[str]]:
    """:func:`leanops.evidence.log_evidence` from SQL aggregates (the same rules, shared)."""
    from ..evidence import granularity_from_counts, level_caveats, roles_from

    g = ses.df(f"""
        WITH st AS (SELECT e_ns AS x FROM {t} UNION ALL SELECT ts FROM {t} WHERE has_start)
        SELECT (x // 1000000000) % 86400 AS sod, count(*) AS n,
               count(*) FILTER (WHERE x % 1000000000 = 0) AS ws, count(*) FILTER (WHERE x % 60000000000 = 0) AS wm
        FROM st GROUP BY sod""")
    gran = granularity_from_counts(g["n"].to_numpy(), int(g["n"].sum()), int(g["ws"].sum()), int(g["wm"].sum()))
    lab = ses.df(f"SELECT resource, count(*) AS n FROM {t} WHERE resource IS NOT NULL GROUP BY resource "
                 "ORDER BY n DESC, resource")
    labels = [str(x) for x in lab["resource"]]
    wip_row = ses.sql(f"""SELECT sum(c1 - c0)::DOUBLE, (max(c1) - min(c0))::DOUBLE FROM
                          (SELECT min(ts) AS c0, max(e_ns) AS c1 FROM {t} GROUP BY case_id)""").fetchone()
    wip = float(wip_row[0]) / wip_row[1] if wip_row[1] else 0.0
    ov = ses.df(f"""
        SELECT resource, count(*) AS k, sum(e2 - ts)::DOUBLE AS total, sum(greatest(e2 - a2, 0))::DOUBLE AS merged
        FROM (SELECT resource, ts, e2, CASE WHEN reach IS NULL OR ts > reach THEN ts ELSE reach END AS a2
              FROM (SELECT resource, ts, greatest(e_ns, ts) AS e2,
                           max(greatest(e_ns, ts)) OVER (PARTITION BY resource ORDER BY ts
                                                         ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS reach
                    FROM {t} WHERE has_start AND resource IS NOT NULL))
        GROUP BY resource""")
    overlap = {str(r.resource): (int(r.k), float(r.total), float(r.merged)) for r in ov.itertuples(index=False)}
    roles = roles_from(labels, overlap, wip)
    recorded, n_res, n = ses.sql(f"SELECT avg(has_start::INT), count(resource), count(*) FROM {t}").fetchone()
    level, caveats = level_caveats(gran, float(recorded or 0.0), roles, bool(n) and not n_res)
    return {"level": level, "caveats": caveats, "time_granularity": gran, "role_resources": roles}, roles


def _pools(ses: _Session, t: str, acts: list[str]):
    from .._pools import resource_pools

    g = ses.df(f"SELECT resource, activity, count(*) AS n FROM {t} WHERE resource IS NOT NULL GROUP BY resource, activity")
    names = sorted(set(g["resource"].astype(str)))
    m = np.zeros((len(names), len(acts)), dtype=np.int64)
    if len(g):
        ri = pd.Index(names).get_indexer(g["resource"].astype(str))
        ai = pd.Index(acts).get_indexer(g["activity"].astype(str))
        np.add.at(m, (ri, ai), g["n"].to_numpy(dtype=np.int64))
    prof = pd.DataFrame(m, index=pd.Index(names, name="resource"), columns=acts)
    return resource_pools(None, profile=prof), names


def _calendars(calendar, pool_names, log_cal):
    """A calendar per pool, as ``resources._group_calendars`` (by="pool")."""
    cal = check_calendar(calendar, mapping=True)
    if isinstance(cal, dict):
        return {n: cal.get(n, log_cal) for n in pool_names}
    return {n: log_cal if cal is None else cal for n in pool_names}


def _case_offsets(ses: _Session, t: str) -> str:
    """Table ``co``: per case, its rank in case order, the rows and recorded starts before it."""
    if "co" not in ses.built:
        ses.sql(f"""
            CREATE TABLE co AS
            SELECT case_id, row_number() OVER w - 1 AS crank,
                   coalesce(sum(n) OVER (w ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS off,
                   coalesce(sum(ns) OVER (w ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS soff
            FROM (SELECT case_id, count(*) AS n, count(*) FILTER (WHERE has_start) AS ns FROM {t} GROUP BY case_id)
            WINDOW w AS (ORDER BY case_id)""")
        ses.built.add("co")
    return "co"


def _bottleneck_grid(ses: _Session, p: str, n_act: int, n_pool: int) -> tuple[int, float, float, int, float]:
    """The bottleneck time grid over table ``p``: origin (ns), start and end (s), bin count and width."""
    from .bottlenecks import _MAX_BINS

    n, origin, hi_ns = (int(x) for x in ses.sql(f"SELECT count(*), min(ts), max(e_ns) FROM {p}").fetchone())
    lo, hi = 0.0, (hi_ns - origin) / 1e9
    # a typical service time sizes the bins: the median of the positive ones, on the
    # pandas engine's regular sample of rows (every k-th in the log's order)
    k = max(1, n // 1_000_000)
    src = p if k == 1 else f"(SELECT x.* FROM {p} x JOIN {_case_offsets(ses, p)} USING (case_id) WHERE (off + pos - 1) % {k} = 0)"
    tq = _quantiles(ses, src, [], "greatest(e_ns - ts, 0) / 1e9", "e_ns > ts")
    typical = float(tq["q"].iloc[0][0]) if len(tq) and np.isfinite(tq["q"].iloc[0][0]) else 60.0
    want = (hi - lo) / max(typical / 10.0, 1e-3)
    n_bins = int(max(1024, min(_MAX_BINS, want, n // 2, 20_000_000 // max(n_act, n_pool, 1))))
    width = max((hi - lo) / n_bins, 1e-9)
    return origin, lo, hi, n_bins, width


def _grid_bins(tt: np.ndarray, group: np.ndarray | int, lo: float, width: float, n_bins: int) -> np.ndarray:
    """Flat bin index of times ``tt`` (s) in row ``group`` of a grid with ``n_bins + 1`` columns."""
    x = np.subtract(tt, lo - 0.5 * width)
    x /= width
    np.clip(x, 0, n_bins, out=x)
    kk = x.astype(np.int64)
    kk += group * (n_bins + 1)
    return kk


def _grid_coverage(d: np.ndarray, groups: int, n_bins: int) -> np.ndarray:
    """Running sums of the flat deltas ``d`` per group: the count in each of the ``n_bins`` bins."""
    return np.cumsum(d.reshape(groups, n_bins + 1)[:, :n_bins], axis=1, dtype=np.float64)


def _busy_deltas(ses: _Session, p: str, n_pool: int, origin: int, lo: float, width: float, n_bins: int) -> np.ndarray:
    """Per pool, the grid deltas (+1 at start, -1 at end) of its distinct members at work."""
    size_b = n_pool * (n_bins + 1)
    d_busy = np.zeros(size_b, dtype=np.int64)
    if n_pool:
        # distinct members at work: each resource's instances, in order of start, clipped
        # to begin after the furthest end among its earlier ones (so one resource on two
        # overlapping instances counts once); the pieces of a busy spell abut, so on the
        # grid they add up to the same counts as the pandas engine's merged bin ranges
        qb = f"""
            SELECT po, CASE WHEN reach IS NULL OR ts > reach THEN ts ELSE reach END AS a,
                       CASE WHEN reach IS NULL OR e_ns > reach THEN e_ns ELSE reach END AS b
            FROM (SELECT pcode.po, ts, e_ns,
                         max(e_ns) OVER (PARTITION BY x.resource ORDER BY ts
                                         ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS reach
                  FROM {p} x JOIN pcode USING (resource))
            WHERE (CASE WHEN reach IS NULL OR e_ns > reach THEN e_ns ELSE reach END)
                  > (CASE WHEN reach IS NULL OR ts > reach THEN ts ELSE reach END)"""
        for b in ses.con.sql(qb).to_arrow_reader(_BATCH):
            po = b.column(0).to_numpy().astype(np.int64)
            a_ns, b_ns = (b.column(i).to_numpy() for i in (1, 2))
            d_busy += np.bincount(_grid_bins((a_ns - origin) / 1e9, po, lo, width, n_bins), minlength=size_b)
            d_busy -= np.bincount(_grid_bins((b_ns - origin) / 1e9, po, lo, width, n_bins), minlength=size_b)
    return d_busy


def _queue_over_time(queue: np.ndarray, acts: list[str], origin: int, lo: float, width: float) -> pd.DataFrame:
    """Queue length per activity over time, averaged into at most 200 periods (for charts)."""
    n_act, n_bins = queue.shape
    g = max(1, n_bins // 200)
    n_out = n_bins // g
    q_over = queue[:, : n_out * g].reshape(n_act, n_out, g).mean(axis=2)
    t_mid = origin + np.round((lo + (np.arange(n_out) + 0.5) * g * width) * 1e9).astype(np.int64)
    return pd.DataFrame(q_over.T, index=pd.DatetimeIndex(t_mid.view("datetime64[ns]"), tz="UTC", name="time"),
                        columns=list(acts))


def _bottleneck_table(ses, p, acts, names, pools, pool_names, cals, log_level, roles):
    from .bottlenecks import BATCH_TOLERANCE_S, _group_pools, _pool_grid, _rank_table, _work_fractions
    from .waits import grid_causes

    n_act = len(acts)
    pidx = {q: i for i, q in enumerate(pool_names)}
    n_pool = len(pool_names)
    lut = np.array([pidx[pools[r]] for r in names] + [-1], dtype=np.int64)
    size = np.bincount(lut[:-1], minlength=n_pool).astype(np.float64)  # members seen in the log
    origin, lo, hi, n_bins, width = _bottleneck_grid(ses, p, n_act, n_pool)
    span_days = (hi - lo) / 86400.0

    ses.sql("CREATE TABLE acode (activity VARCHAR, a INTEGER)")
    ses.con.executemany("INSERT INTO acode VALUES (?, ?)", [(x, i) for i, x in enumerate(acts)])
    ses.sql("CREATE TABLE pcode (resource VARCHAR, po INTEGER)")
    if names:
        ses.con.executemany("INSERT INTO pcode VALUES (?, ?)", [(r, int(lut[i])) for i, r in enumerate(names)])
    # per instance also its batch wait and its wait after being overtaken (the rules of
    # leanops.mining.waits.batch_waits / overtaken_waits, as window functions)
    tol_ns = int(round(BATCH_TOLERANCE_S * 1e9))
    q = f"""
        WITH base AS (
            SELECT acode.a, coalesce(pcode.po, -1) AS po, ts, e_ns, case_id, pos,
                   CASE WHEN pos = 1 THEN ts ELSE least(cm, ts) END AS en, pos > 1 AS has_pred,
                   row_number() OVER (PARTITION BY case_id, x.activity ORDER BY pos) > 1 AS rep, estimated
            FROM {p} x JOIN acode USING (activity) LEFT JOIN pcode USING (resource)),
        b1 AS (SELECT *, CASE WHEN ts - lag(ts) OVER bw <= {tol_ns} THEN 0 ELSE 1 END AS new
               FROM base WINDOW bw AS (PARTITION BY a ORDER BY ts, case_id, pos)),
        b2 AS (SELECT *, sum(new) OVER (PARTITION BY a ORDER BY ts, case_id, pos ROWS UNBOUNDED PRECEDING) AS gid
               FROM b1),
        b3 AS (SELECT *, count(*) OVER (PARTITION BY a, gid) AS gsize, max(en) OVER (PARTITION BY a, gid) AS ready,
                      min(ts) OVER (PARTITION BY a ORDER BY en RANGE BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING)
                        AS later FROM b2)
        SELECT a, po, ts, e_ns, en, has_pred, rep, estimated,
               CASE WHEN gsize >= 2 THEN greatest(least(ready, ts) - en, 0) ELSE 0 END AS bt, later
        FROM b3"""

    size_q = n_act * (n_bins + 1)
    d_queue = np.zeros(size_q, dtype=np.int64)
    cnt = np.zeros(n_act, dtype=np.int64)
    firsts = np.zeros(n_act, dtype=np.int64)
    reps = np.zeros(n_act, dtype=np.int64)
    wait_sum = np.zeros(n_act)
    serv_sum = np.zeros(n_act)
    m = np.zeros(n_act * (n_pool + 1), dtype=np.int64)
    bt_sum = np.zeros(n_act)
    ov_sum = np.zeros(n_act)
    est_cnt = np.zeros(n_act)
    batched: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # (activity, bins) of batch waits

    def bins(tt: np.ndarray, group: np.ndarray | int) -> np.ndarray:
        return _grid_bins(tt, group, lo, width, n_bins)

    for b in ses.con.sql(q).to_arrow_reader(_BATCH):
        a = b.column(0).to_numpy().astype(np.int64)
        po = b.column(1).to_numpy().astype(np.int64)
        ts, e, en = (b.column(i).to_numpy() for i in (2, 3, 4))
        hp = b.column(5).to_numpy(zero_copy_only=False)
        rep = b.column(6).to_numpy(zero_copy_only=False)
        est_cnt += np.bincount(a, weights=b.column(7).to_numpy(zero_copy_only=False), minlength=n_act)
        bt = b.column(8).to_numpy().astype(np.float64) / 1e9
        later = b.column(9).to_numpy(zero_copy_only=False)
        start, end, enabled = (ts - origin) / 1e9, (e - origin) / 1e9, (en - origin) / 1e9
        enabled = np.minimum(enabled, start)
        wait = start - enabled
        later = np.where(np.isnan(later.astype(np.float64)), np.inf, (later.astype(np.float64) - origin) / 1e9)
        ov = np.where(later < start, np.clip(start - np.maximum(later, enabled + bt), 0, None), 0.0)
        bt_sum += np.bincount(a, weights=bt, minlength=n_act)
        ov_sum += np.bincount(a, weights=ov, minlength=n_act)
        hb = np.flatnonzero(bt > 0)
        if len(hb):
            batched.append((a[hb], bins(start[hb] - wait[hb], 0), bins(start[hb] - wait[hb] + bt[hb], 0)))
        service = np.maximum(end - start, 0.0)
        cnt += np.bincount(a, minlength=n_act)
        firsts += np.bincount(a[~hp], minlength=n_act)
        reps += np.bincount(a[rep], minlength=n_act)
        wait_sum += np.bincount(a, weights=wait, minlength=n_act)
        serv_sum += np.bincount(a, weights=service, minlength=n_act)
        m += np.bincount(a * (n_pool + 1) + np.where(po >= 0, po, n_pool), minlength=n_act * (n_pool + 1))
        # from the enablement (start - wait, as the pandas engine) to the start; rows
        # without a wait add an empty interval
        d_queue += np.bincount(bins(start - wait, a), minlength=size_q)
        d_queue -= np.bincount(bins(start, a), minlength=size_q)

    edges_ns = origin + np.round((lo + np.arange(n_bins + 1) * width) * 1e9).astype(np.int64)
    work_frac = _work_fractions(cals.values(), edges_ns, width)
    util_pool = np.full(n_pool, np.nan)
    full = np.zeros((n_pool, n_bins), dtype=bool)
    wf_pool = np.ones((n_pool, n_bins))
    if n_pool:
        busy = _grid_coverage(_busy_deltas(ses, p, n_pool, origin, lo, width, n_bins), n_pool, n_bins)
        for i, name in enumerate(pool_names):
            wf_pool[i] = work_frac[cals[name]]
        full, util_pool = _pool_grid(busy, size, wf_pool)
        del busy
    queue = _grid_coverage(d_queue, n_act, n_bins)
    del d_queue
    queue_max = np.round(queue.max(axis=1)).astype(np.int64)
    queue_mean = wait_sum / max(hi - lo, 1e-9)
    tc = (np.arange(n_bins) - (n_bins - 1) / 2.0) * width / 86400.0
    growth = queue @ tc / max(float(tc @ tc), 1e-12) if span_days > 0 else np.zeros(n_act)
    queue_over_time = _queue_over_time(queue, acts, origin, lo, width)
    main_pool = np.full(n_act, -1, dtype=np.int64)
    if n_pool:
        mm = m.reshape(n_act, n_pool + 1)[:, :n_pool]
        main_pool = np.where(mm.sum(axis=1) > 0, mm.argmax(axis=1), -1)
    bparts = [np.concatenate([x[i] for x in batched]) if batched else np.zeros(0, np.int64) for i in range(3)]
    off, on, cont = grid_causes(queue, full, wf_pool, main_pool, width, tuple(bparts))
    del queue
    est = ses.sql(f"SELECT avg(estimated::INT) FROM {p}").fetchone()[0]
    return _rank_table(
        activities=acts, count=cnt, with_pred=cnt - firsts, wait_sum=wait_sum, service_sum=serv_sum,
        repeats=reps, batching=bt_sum, overtaken=ov_sum, off=off, on=on, cont=cont, estimated=est_cnt,
        main_pool=main_pool, util_pool=util_pool, pool_names=pool_names, pool_size=size,
        group_pools=_group_pools(pools, roles), log_level=log_level, queue_mean=queue_mean, queue_max=queue_max,
        growth=growth, queue_over_time=queue_over_time, starts_estimated=float(est),
    )
