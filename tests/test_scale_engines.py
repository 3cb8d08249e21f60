"""Out of core in DuckDB: identical results to the pandas engine, on the bundled logs.

The pandas engine is the reference (an independent implementation: numpy arrays over
the sorted log, against SQL window functions over Parquet). Hand-worked values check the
DuckDB path on its own too.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import leanops
from leanops.errors import InputError

T0 = pd.Timestamp("2024-03-01 08:00", tz="UTC")
RTOL, ATOL = 1e-9, 1e-6  # float rounding: sums in another order, seconds from another origin


def same(a: pd.DataFrame, b: pd.DataFrame, what: str) -> None:
    assert list(a.columns) == list(b.columns), what
    pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True), check_dtype=False,
                                  rtol=RTOL, atol=ATOL, obj=what)


@pytest.fixture(scope="module")
def logs(tmp_path_factory):
    """Each bundled log in memory, plus the same log as one Parquet file and as 3 partitions."""
    root = tmp_path_factory.mktemp("scale")
    cache = {}

    def get(name):
        if name not in cache:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                log = leanops.datasets.load(name)
            one = leanops.convert(log, root / f"{name}.parquet")
            parts = leanops.convert(log, root / name, partitions=3)
            cache[name] = (log, one, parts)
        return cache[name]

    return get


ALL = ["production", "helpdesk", "purchasing_example", "sepsis", "receipt", "loan_application_5_timers",
       pytest.param("bpic2012_w", marks=pytest.mark.slow)]


def check_all(log, path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a, b = leanops.discover(log), leanops.discover(path)
        same(a.nodes, b.nodes, "nodes")
        same(a.edges, b.edges, "edges")
        assert list(a.start_activities.items()) == list(b.start_activities.items())
        assert list(a.end_activities.items()) == list(b.end_activities.items())
        assert (a.n_cases, a.n_events, a.wait_basis) == (b.n_cases, b.n_events, b.wait_basis)
        same(leanops.variants(log), leanops.variants(path), "variants")
        for by in ("activity", "resource", "case"):
            same(leanops.performance(log, by=by), leanops.performance(path, by=by), f"performance by {by}")
        va, vb = leanops.value_stream(log), leanops.value_stream(path)
        same(va.steps, vb.steps, "value stream steps")
        same(va.wip, vb.wip, "wip")
        da, db = va.to_dict(), vb.to_dict()
        for k, v in da.items():
            if k != "steps":
                assert v == db[k] or np.isclose(v, db[k], rtol=RTOL), (k, v, db[k])
        ba, bb = leanops.bottlenecks(log), leanops.bottlenecks(path)
        same(ba.table, bb.table, "bottlenecks")
        # a result object now (issue 12), not DataFrame.attrs: its parts agree too
        pd.testing.assert_frame_equal(ba.queue_over_time, bb.queue_over_time, rtol=RTOL, atol=ATOL, obj="queue")
        assert ba.evidence == bb.evidence and ba.caveats == bb.caveats


@pytest.mark.parametrize("name", ALL)
def test_partitioned_parquet_gives_identical_results(logs, name):
    log, _, parts = logs(name)
    check_all(log, parts)


@pytest.mark.parametrize("name", ["production", "helpdesk"])
def test_single_parquet_file_gives_identical_results(logs, name):
    log, one, _ = logs(name)
    check_all(log, leanops.scan(one))


def test_options_match_pandas(logs):
    log, _, parts = logs("production")
    for kw in ({"activities": 0.6}, {"paths": 0.5}, {"activities": 0.8, "paths": 0.8}):
        a, b = leanops.discover(log, **kw), leanops.discover(parts, **kw)
        same(a.nodes, b.nodes, "nodes")
        same(a.edges, b.edges, "edges")
        assert a.notes == b.notes and a.start_activities == b.start_activities
    acts = log.activities[:3]
    va = leanops.value_stream(log, value_added=acts, calendar="Mon-Fri 07:00-19:00")
    vb = leanops.value_stream(parts, value_added=acts, calendar="Mon-Fri 07:00-19:00")
    assert va.pce == pytest.approx(vb.pce, rel=RTOL) and va.takt_time_s == pytest.approx(vb.takt_time_s, rel=RTOL)
    same(va.steps, vb.steps, "steps")
    for cal in ("Mon-Fri 06:00-22:00", leanops.Calendar.always()):
        same(leanops.bottlenecks(log, calendar=cal).table, leanops.bottlenecks(parts, calendar=cal).table,
             f"bottlenecks {cal}")


def test_hand_worked_waits_overlap_and_missing_start(tmp_path):
    # minutes. Case 1: A 0-10, B 15-20 (waits 5), C 18-30 overlaps B (wait 0).
    # Case 2: A 0-5, B without a start ends at 25 (end to end: 20), C 30-40 (wait 5).
    rows = [("1", "A", 0, 10), ("1", "B", 15, 20), ("1", "C", 18, 30),
            ("2", "A", 0, 5), ("2", "B", None, 25), ("2", "C", 30, 40)]
    df = pd.DataFrame({
        "case_id": [r[0] for r in rows], "activity": [r[1] for r in rows],
        "start": [T0 + pd.Timedelta(minutes=r[2]) if r[2] is not None else pd.NaT for r in rows],
        "end": [T0 + pd.Timedelta(minutes=r[3]) for r in rows],
    })
    path = leanops.convert(leanops.EventLog(df), tmp_path / "hand.parquet")
    g = leanops.discover(path, engine="duckdb")
    e = g.edges.set_index(["source", "target"])
    assert e.loc[("A", "B"), "count"] == 2
    assert e.loc[("A", "B"), "wait_mean_s"] == pytest.approx((5 + 20) / 2 * 60)
    assert e.loc[("A", "B"), "wait_basis"] == "mixed"
    assert e.loc[("B", "C"), "wait_median_s"] == pytest.approx((0 + 5) / 2 * 60)
    n = g.nodes.set_index("activity")
    assert n.loc["B", "service_mean_s"] == pytest.approx(5 * 60)  # only the instance with a start
    assert n.loc["C", "service_p90_s"] == pytest.approx((10 + 0.9 * 2) * 60)  # 10 and 12 min
    assert g.start_activities == {"A": 2} and g.end_activities == {"C": 2}


def test_engine_errors(logs, tmp_path):
    log, one, _ = logs("production")
    with pytest.raises(InputError, match="engine"):
        leanops.discover(one, engine="spark")
    with pytest.raises(InputError, match="Parquet on disk"):
        leanops.bottlenecks(log, engine="duckdb")
    with pytest.raises(InputError, match="working"):
        leanops.performance(one, time="working")
    with pytest.raises(InputError, match="not found"):
        leanops.discover(tmp_path / "nope.parquet")
    # engine="pandas" on a path loads it and gives the same graph
    a = leanops.discover(one, engine="pandas")
    same(a.edges, leanops.discover(log).edges, "pandas engine on a path")


def test_calendar_sample_of_large_logs_is_the_same(logs, monkeypatch):
    # on logs above two million instants the learnt calendar uses a regular sample; shrink
    # the threshold so the bundled log takes that path in both engines
    import leanops.calendar

    monkeypatch.setattr(leanops.calendar, "_MAX_SAMPLE", 700)
    log, _, parts = logs("production")
    log = leanops.EventLog(log.df, tz=log.tz)  # a fresh log: no calendar cached from the other tests; same local zone
    va, vb = leanops.value_stream(log), leanops.value_stream(parts)
    assert str(va.calendar) == str(vb.calendar)
    assert va.takt_time_s == pytest.approx(vb.takt_time_s, rel=RTOL)
    same(leanops.bottlenecks(log).table, leanops.bottlenecks(parts).table, "bottlenecks, sampled calendar")
