"""Validation helpers: time split, persistence baseline, log distances, validate()."""

from __future__ import annotations

import pandas as pd
import pytest

import leanops
from leanops import simulate


def _log(rows):
    df = pd.DataFrame(rows, columns=["case_id", "activity", "start_time", "end_time"])
    return leanops.from_frame(df, case="case_id", activity="activity", start="start_time", end="end_time")


def test_split_by_time_orders_cases_by_first_start():
    t = pd.Timestamp("2024-01-01")
    rows = []
    # case ids deliberately not in time order
    for k, cid in enumerate(["e", "a", "d", "b", "c"]):
        rows.append((cid, "A", t + pd.Timedelta(hours=k), t + pd.Timedelta(hours=k, minutes=30)))
    s = simulate.split_by_time(_log(rows), train=0.6)
    assert sorted(s.train.case_ids) == ["a", "d", "e"]
    assert sorted(s.test.case_ids) == ["b", "c"]
    assert s.cutoff == pd.Timestamp("2024-01-01 03:00", tz="UTC")
    with pytest.raises(leanops.InputError, match="train"):
        simulate.split_by_time(_log(rows), train=1.5)


def test_persistence_baseline_replays_the_latest_cases_shifted():
    t = pd.Timestamp("2024-01-01")
    rows = [(str(k), "A", t + pd.Timedelta(days=k), t + pd.Timedelta(days=k, hours=k + 1)) for k in range(5)]
    base = simulate.persistence_baseline(_log(rows), cases=2, start="2024-02-01")
    d = base.df.sort_values("start")
    # cases 3 and 4 (durations 4h and 5h), moved so that case 3 starts on Feb 1
    assert list(d["start"]) == [pd.Timestamp("2024-02-01", tz="UTC"), pd.Timestamp("2024-02-02", tz="UTC")]
    assert list((d["end"] - d["start"]).dt.total_seconds()) == [4 * 3600.0, 5 * 3600.0]


def test_compare_logs_zero_for_identical_and_grows_with_shift():
    log = leanops.datasets.load("production")
    same = simulate.compare_logs(log, log)
    assert set(same) == set(simulate.MEASURES)
    assert all(v == pytest.approx(0.0, abs=1e-9) for v in same.values())
    d = log.to_frame()
    d["end"] = d["end"] + pd.Timedelta(hours=5)  # longer cases, later events and arrivals unchanged
    other = simulate.compare_logs(log, leanops.EventLog(d))
    assert other["cycle_time_emd"] == pytest.approx(5.0, abs=0.6)
    assert other["ngram_3"] == pytest.approx(0.0, abs=1e-9)
    assert other["circadian_emd"] > 0


def test_validate_scores_model_and_baseline():
    log = leanops.datasets.load("purchasing_example")
    s = simulate.split_by_time(log)
    model = simulate.fit(s.train)
    v = simulate.validate(model, s.test, train_log=s.train, seed=3)
    f = v.to_frame()
    assert list(f["measure"]) == list(simulate.MEASURES)
    assert f["model"].notna().all() and f["baseline"].notna().all()
    assert v.simulated.n_cases == s.test.n_cases
    first = v.simulated.df["start"].min()
    assert first >= s.cutoff
