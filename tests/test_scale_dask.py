"""The Dask engine on a 2-worker LocalCluster equals the local engines; connection errors."""

from __future__ import annotations

import time
import warnings

import pandas as pd
import pytest

import leanops
from leanops.errors import InputError

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def cluster():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cl = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    try:
        yield cl.scheduler_address
    finally:
        cl.close()


@pytest.fixture(scope="module")
def parts(tmp_path_factory):
    root = tmp_path_factory.mktemp("dask")
    out = {}
    for name in ("production", "helpdesk"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            log = leanops.datasets.load(name)
        out[name] = (log, leanops.convert(log, root / name, partitions=3))
    return out


@pytest.mark.slow
@pytest.mark.parametrize("name", ["production", "helpdesk"])
def test_dask_equals_local(cluster, parts, name):
    log, path = parts[name]
    for kw in ({}, {"activities": 0.7, "paths": 0.9}):
        a = leanops.discover(log, **kw)
        b = leanops.discover(path, engine="dask", scheduler=cluster, **kw)
        pd.testing.assert_frame_equal(a.nodes, b.nodes, check_dtype=False, rtol=1e-9, atol=1e-6)
        pd.testing.assert_frame_equal(a.edges, b.edges, check_dtype=False, rtol=1e-9, atol=1e-6)
        assert list(a.start_activities.items()) == list(b.start_activities.items())
        assert (a.n_cases, a.n_events, a.notes) == (b.n_cases, b.n_events, b.notes)
    pd.testing.assert_frame_equal(leanops.variants(log), leanops.variants(path, scheduler=cluster),
                                  check_dtype=False, rtol=1e-9, atol=1e-6)


@pytest.mark.slow
def test_dask_performance_equals_local(cluster, parts):
    log, path = parts["production"]
    for by in ("activity", "resource", "case"):
        pd.testing.assert_frame_equal(leanops.performance(log, by=by), leanops.performance(path, by=by, scheduler=cluster),
                                      check_dtype=False, rtol=1e-9, atol=1e-6)
    # completion-only: estimating starts follows resources across partitions, so the
    # partitions' batches are estimated together on the client
    log, path = parts["helpdesk"]
    for by in ("activity", "resource", "case"):
        a, b = leanops.performance(log, by=by), leanops.performance(path, by=by, scheduler=cluster)
        pd.testing.assert_frame_equal(a, b, check_dtype=False, rtol=1e-9, atol=1e-6)
        assert a.attrs.get("excluded_cases") == b.attrs.get("excluded_cases")


@pytest.mark.parametrize("name", ["production", "helpdesk"])
def test_dask_value_stream_and_bottlenecks_equal_local(cluster, parts, name):
    # helpdesk is completion-only: the starts are estimated on the gathered batch, since a
    # resource's previous end lies in another partition
    log, path = parts[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        va, vb = leanops.value_stream(log), leanops.value_stream(path, scheduler=cluster)
        ba, bb = leanops.bottlenecks(log), leanops.bottlenecks(path, engine="dask", scheduler=cluster)
    pd.testing.assert_frame_equal(va.steps, vb.steps, check_dtype=False, rtol=1e-9, atol=1e-6)
    pd.testing.assert_frame_equal(va.wip, vb.wip, check_dtype=False, rtol=1e-9, atol=1e-6)
    da, db = va.to_dict(), vb.to_dict()
    for k, v in da.items():
        if k != "steps":
            assert v == db[k] or v == pytest.approx(db[k], rel=1e-9), k
    pd.testing.assert_frame_equal(ba.table, bb.table, check_dtype=False, rtol=1e-9, atol=1e-6)
    pd.testing.assert_frame_equal(ba.queue_over_time, bb.queue_over_time, rtol=1e-9, atol=1e-6)
    assert ba.evidence == bb.evidence and ba.caveats == bb.caveats
    # options reach the cluster too
    acts = log.activities[:2]
    kw = {"value_added": acts, "calendar": "Mon-Fri 07:00-19:00", "include_cut": True}
    va, vb = leanops.value_stream(log, **kw), leanops.value_stream(path, scheduler=cluster, **kw)
    assert vb.pce == pytest.approx(va.pce, rel=1e-9) and vb.excluded_cases == va.excluded_cases
    with pytest.raises(InputError, match="pool"):
        leanops.bottlenecks(path, scheduler=cluster, calendar="pool")


def test_dask_needs_case_partitions(cluster, parts, tmp_path):
    log, path = parts["production"]
    # two files written by hand: nothing says a case lies in one of them
    df = log.df
    half = len(df) // 2
    (tmp_path / "d").mkdir()
    df.iloc[:half].to_parquet(tmp_path / "d" / "a.parquet")
    df.iloc[half:].to_parquet(tmp_path / "d" / "b.parquet")
    with pytest.raises(InputError, match="split by case"):
        leanops.discover(tmp_path / "d", scheduler=cluster)
    # DuckDB does not need the split: its windows run over all files at once
    a, b = leanops.discover(log), leanops.discover(tmp_path / "d")
    pd.testing.assert_frame_equal(a.edges, b.edges, check_dtype=False, rtol=1e-9, atol=1e-6)


def test_unreachable_scheduler_fails_fast_with_one_line(parts):
    _, path = parts["production"]
    addr = "tcp://127.0.0.1:1"  # nothing listens on port 1
    t = time.monotonic()
    with pytest.raises(InputError) as exc:
        leanops.discover(path, engine="dask", scheduler=addr)
    assert time.monotonic() - t < 10
    msg = str(exc.value)
    assert addr in msg and "\n" not in msg


def test_connect_helper_rejects_bad_addresses():
    from leanops._dask import connect

    with pytest.raises(InputError, match="host and a port"):
        connect("tcp://127.0.0.1")
    with pytest.raises(InputError, match="address"):
        connect("")
