"""Issue 12: cases cut by the export window are left out of cycle times by default, in
performance(by="case") (every engine), and counted; include_cut=True keeps them."""

from __future__ import annotations

import numpy as np
import pytest

import leanops
from leanops.boundaries import boundary_counts
from groundtruth import generate
from groundtruth_diagnosis import diagnosis_process, export_window
from test_boundaries import _whole
from test_performance import make_log


def test_hand_worked_cut_cases_leave_the_case_table():
    rows = [("a", "Work", 0, 1, "r"), ("a", "Close", 2, 3, "r")]  # began before the window
    for i in range(10):
        rows += _whole(f"w{i}", 10 + 10 * i)
    rows += [("z", "Open", 112, 113, "r"), ("z", "Work", 113, 114, "r")]  # still open
    log = make_log(rows)
    cases = leanops.performance(log, by="case")
    assert sorted(cases["case_id"]) == sorted(f"w{i}" for i in range(10))
    assert cases.attrs["excluded_cases"] == {"cut_at_start": 1, "open_at_end": 1}
    assert (cases["lead_time_s"] == 5 * 3600).all()  # every whole case: Open at t, Close ends at t + 5 h
    every = leanops.performance(log, by="case", include_cut=True)
    assert len(every) == 12 and every.attrs["excluded_cases"] == {"cut_at_start": 0, "open_at_end": 0}
    assert every.set_index("case_id").loc["a", "lead_time_s"] == 3 * 3600
    # the per-activity tables are not case durations: unchanged
    assert leanops.performance(log)["instances"].sum() == len(log)


def test_generator_window_cycle_times_match_the_whole_cases():
    res = generate(diagnosis_process(), n_cases=600, seed=4)
    w = export_window(res.log, start_frac=0.25, end_frac=0.75)
    log = leanops.from_frame(w.log)
    cases = leanops.performance(log, by="case")
    whole = w.truth.index[~(w.truth["cut_at_start"] | w.truth["open_at_end"])].astype(str)
    # the cases kept are the whole ones (the rule may flag a few whole ones near the edges)
    assert set(cases["case_id"]) <= set(whole)
    assert len(cases) >= 0.95 * len(whole)
    ex = cases.attrs["excluded_cases"]
    assert ex["cut_at_start"] >= w.truth["cut_at_start"].sum() and ex["open_at_end"] >= w.truth["open_at_end"].sum()
    # their lead times are the generator's, not truncated: same mean as in the unwindowed log
    full = leanops.performance(leanops.from_frame(res.log), by="case", include_cut=True).set_index("case_id")
    assert np.allclose(cases.set_index("case_id")["lead_time_s"], full.loc[cases["case_id"], "lead_time_s"])
    # with the cut cases the mean is pulled down (their lead times are truncated)
    every = leanops.performance(log, by="case", include_cut=True)
    assert every["lead_time_s"].mean() < cases["lead_time_s"].mean()


def _same_cases_in_both_engines(log, path, engine):
    """performance(by='case') in memory and on ``engine`` keep and count the same cases, with
    and without the cut ones; returns the in-memory result with the cut cases included."""
    for include_cut in (False, True):
        a = leanops.performance(log, by="case", include_cut=include_cut)
        b = leanops.performance(path, by="case", engine=engine, include_cut=include_cut)
        assert a.attrs["excluded_cases"] == b.attrs["excluded_cases"]
        assert sorted(a["case_id"].astype(str)) == sorted(b["case_id"].astype(str))
        assert a["lead_time_s"].sum() == pytest.approx(b["lead_time_s"].sum())
    return a


def test_out_of_core_engine_leaves_out_the_same_cases(tmp_path):
    log = leanops.datasets.load("sepsis")
    path = tmp_path / "sepsis.parquet"
    leanops.convert(log, path)
    a = _same_cases_in_both_engines(log, path, "duckdb")
    assert sum(a.attrs["excluded_cases"].values()) == 0
    assert sum(leanops.performance(log, by="case").attrs["excluded_cases"].values()) > 0


def test_dask_engine_leaves_out_the_same_cases(tmp_path):
    log = leanops.datasets.load("production")
    path = tmp_path / "prod"
    leanops.convert(log, path, partitions=3)  # cases split by hash: the rule needs the whole log
    _same_cases_in_both_engines(log, path, "dask")
    assert leanops.performance(log, by="case").attrs["excluded_cases"] == boundary_counts(log)
