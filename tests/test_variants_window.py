"""variants(): cases cut by the export window count in the variants but not in their cycle
times (as performance(by="case") and value_stream), in every engine."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import leanops

T = pd.Timestamp("2024-01-01", tz="UTC")


def _window_log() -> leanops.EventLog:
    """Completion times in hours. 120 whole cases Open-Pay-Close (2 h each, one every 3 h);
    c000 begins with Pay on the first hour (cut at the start, 1 h); m, mid-log, also runs
    Pay-Close (3 h, whole: far from both edges); z is still open at the export (Open-Pay, 1 h)."""
    rows = [("c000", "Pay", 0.5), ("c000", "Close", 1.5)]
    for i in range(1, 121):
        rows += [(f"c{i:03d}", "Open", 3 * i), (f"c{i:03d}", "Pay", 3 * i + 1), (f"c{i:03d}", "Close", 3 * i + 2)]
    rows += [("m", "Pay", 180.5), ("m", "Close", 183.5), ("z", "Open", 363), ("z", "Pay", 364)]
    df = pd.DataFrame([(c, a, T + pd.Timedelta(hours=h)) for c, a, h in rows], columns=["case_id", "activity", "end"])
    return leanops.from_frame(df, case="case_id", activity="activity", end="end")


def _by_seq(v: pd.DataFrame) -> pd.DataFrame:
    return v.set_index(v["activities"].map("-".join))


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    log = _window_log()
    root = tmp_path_factory.mktemp("vw")
    return {"pandas": log, "duckdb": leanops.convert(log, root / "one.parquet"),
            "duckdb, 3 partitions": leanops.convert(log, root / "parts", partitions=3)}


@pytest.mark.parametrize("engine", ["pandas", "duckdb", "duckdb, 3 partitions"])
def test_cut_cases_count_but_are_not_timed(sources, engine):
    src = sources[engine]
    v = leanops.variants(src)
    inc = leanops.variants(src, include_cut=True)
    assert v.attrs["excluded_cases"] == {"cut_at_start": 1, "open_at_end": 1}
    assert inc.attrs["excluded_cases"] == {"cut_at_start": 0, "open_at_end": 0}
    # counts, shares and order are the same either way
    cols = ["variant", "activities", "length", "cases", "share", "cumulative_share", "example_case"]
    pd.testing.assert_frame_equal(v[cols], inc[cols])
    a, b = _by_seq(v), _by_seq(inc)
    assert a["cases"].to_dict() == {"Open-Pay-Close": 120, "Pay-Close": 2, "Open-Pay": 1}
    assert a.loc["Open-Pay-Close", "cycle_time_mean_s"] == b.loc["Open-Pay-Close", "cycle_time_mean_s"] == 7200
    # Pay-Close: only m (3 h) by default; with the cut c000 (1 h) too
    assert a.loc["Pay-Close", ["cycle_time_mean_s", "cycle_time_median_s", "cycle_time_p90_s"]].tolist() == [10800] * 3
    assert b.loc["Pay-Close", ["cycle_time_mean_s", "cycle_time_median_s", "cycle_time_p90_s"]].tolist() == pytest.approx(
        [7200, 7200, 3600 + 0.9 * 7200])
    # the open case is the variant's only one: no cycle time to give, rather than a wrong one
    assert np.isnan(a.loc["Open-Pay", ["cycle_time_mean_s", "cycle_time_median_s", "cycle_time_p90_s"]].astype(float)).all()
    assert b.loc["Open-Pay", "cycle_time_mean_s"] == 3600


def test_the_same_cases_are_left_out_as_in_performance_by_case():
    from leanops.boundaries import boundary_mask
    from leanops.mining.variants import _case_variant_codes

    log = leanops.datasets.load("production")  # the export window cuts 6 of its 225 cases
    v = leanops.variants(log)
    per_case = leanops.performance(log, by="case")
    assert v.attrs["excluded_cases"] == per_case.attrs["excluded_cases"]
    assert sum(v.attrs["excluded_cases"].values()) > 0 and int(v["cases"].sum()) == log.n_cases
    # the timed cases are performance's cases: the variants' cycle times add up to its lead times
    codes, seqs = _case_variant_codes(log)
    timed = np.bincount(codes[boundary_mask(log)], minlength=len(seqs))
    n_timed = np.array([timed[seqs.index(a)] for a in v["activities"]])
    assert n_timed.sum() == len(per_case)
    assert np.nansum(v["cycle_time_mean_s"] * n_timed) == pytest.approx(per_case["lead_time_s"].sum(), rel=1e-12)


def test_dask_leaves_out_the_same_cut_cases(sources):
    distributed = pytest.importorskip("distributed")
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cl = distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None)
    try:
        for include_cut in (False, True):
            a = leanops.variants(sources["pandas"], include_cut=include_cut)
            b = leanops.variants(sources["duckdb, 3 partitions"], scheduler=cl.scheduler_address, include_cut=include_cut)
            pd.testing.assert_frame_equal(a, b, check_dtype=False, rtol=1e-9)
            assert a.attrs["excluded_cases"] == b.attrs["excluded_cases"]
    finally:
        cl.close()
