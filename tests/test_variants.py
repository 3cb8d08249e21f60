"""Variants and case filters."""

from __future__ import annotations

import pandas as pd
import pytest

import leanops
from leanops.errors import InputError
from leanops.mining import filter_activity, filter_attribute, filter_time, filter_variants, variants

T0 = pd.Timestamp("2024-03-01 08:00", tz="UTC")


def make_log():
    # variants: ABC x3 (cases 1,2,5), AC x1 (3), ABBC x1 (4), A x1 (6)
    seqs = {"1": "ABC", "2": "ABC", "3": "AC", "4": "ABBC", "5": "ABC", "6": "A"}
    rows = []
    for day, (cid, seq) in enumerate(seqs.items()):
        for i, a in enumerate(seq):
            start = T0 + pd.Timedelta(days=day, hours=i)
            rows.append((cid, a, start, start + pd.Timedelta(minutes=30), "r1" if a == "B" else "r2", "gold" if cid in "12" else "std"))
    df = pd.DataFrame(rows, columns=["case_id", "activity", "start", "end", "resource", "tier"])
    return leanops.EventLog(df)


def test_variants_table_by_hand():
    v = variants(make_log())
    assert list(v["activities"]) == [("A", "B", "C"), ("A", "C"), ("A", "B", "B", "C"), ("A",)]
    assert list(v["cases"]) == [3, 1, 1, 1]
    assert list(v["variant"]) == [1, 2, 3, 4]
    assert list(v["length"]) == [3, 2, 4, 1]
    assert v["share"].iloc[0] == pytest.approx(0.5)
    assert v["cumulative_share"].iloc[-1] == pytest.approx(1.0)
    # ABC: first start at hour 0, last end at hour 2 + 30 min = 2.5 h for all three cases
    assert v["cycle_time_mean_s"].iloc[0] == pytest.approx(2.5 * 3600)
    assert v["cycle_time_p90_s"].iloc[0] == pytest.approx(2.5 * 3600)
    assert v["cycle_time_mean_s"].iloc[3] == pytest.approx(1800)  # single event: its duration
    assert v["example_case"].iloc[0] == "1"


def test_variants_on_bundled_log_cover_all_cases():
    log = leanops.datasets.load("sepsis")
    v = variants(log)
    assert v["cases"].sum() == log.n_cases
    assert v["activities"].map(len).mul(v["cases"]).sum() == len(log)
    assert v["activities"].is_unique


def test_filter_variants_coverage_and_top():
    log = make_log()
    assert filter_variants(log, coverage=0.5).n_cases == 3  # ABC alone covers half
    assert filter_variants(log, coverage=0.6).n_cases == 4  # the next variant is needed
    assert set(filter_variants(log, top=2).case_ids) == {"1", "2", "3", "5"}
    assert filter_variants(log, coverage=1.0).n_cases == 6
    with pytest.raises(InputError, match="filter_variants"):
        filter_variants(log)
    with pytest.raises(InputError, match="coverage"):
        filter_variants(log, coverage=0)


def test_filter_time_modes():
    log = make_log()  # case k (0-based) runs day k 08:00 to 10:30 (case 6: 08:00-08:30)
    assert set(filter_time(log, start="2024-03-02", end="2024-03-04").case_ids) == {"2", "3"}
    assert set(filter_time(log, start="2024-03-02 09:00", end="2024-03-04", mode="intersecting").case_ids) == {"2", "3"}
    assert set(filter_time(log, start="2024-03-02 09:00", end="2024-03-04", mode="contained").case_ids) == {"3"}
    assert set(filter_time(log, end="2024-03-02 09:00", mode="started").case_ids) == {"1", "2"}
    assert set(filter_time(log, start="2024-03-06 08:20", mode="completed").case_ids) == {"6"}
    with pytest.raises(InputError, match="filter_time"):
        filter_time(log, start="2030-01-01")
    with pytest.raises(InputError, match="mode"):
        filter_time(log, start="2024-03-02", mode="overlapping")


def test_filter_attribute_case_and_event_level():
    log = make_log()
    assert set(filter_attribute(log, attribute="tier", values="gold").case_ids) == {"1", "2"}
    assert set(filter_attribute(log, attribute="tier", values=["gold"], exclude=True).case_ids) == {"3", "4", "5", "6"}
    ev = filter_attribute(log, attribute="resource", values="r1", level="event")
    assert set(ev.df["activity"]) == {"B"} and len(ev) == 5
    case_level = filter_attribute(log, attribute="resource", values="r1")
    assert set(case_level.case_ids) == {"1", "2", "4", "5"} and len(case_level) == 13
    with pytest.raises(InputError, match="filter_attribute"):
        filter_attribute(log, attribute="tier", values="platinum")
    with pytest.raises(InputError, match="tier"):
        filter_attribute(log, attribute="tierr", values="gold")


def test_filter_activity_contains_and_skips():
    log = make_log()
    assert set(filter_activity(log, contains="B").case_ids) == {"1", "2", "4", "5"}
    assert set(filter_activity(log, skips="B").case_ids) == {"3", "6"}
    assert set(filter_activity(log, contains=["A", "C"], skips="B").case_ids) == {"3"}
    with pytest.raises(InputError, match="filter_activity"):
        filter_activity(log, contains="A", skips="A")
    with pytest.raises(InputError, match="Did you mean"):
        filter_activity(log, contains="b")


def test_filters_do_not_mutate_and_return_eventlogs():
    log = make_log()
    before = log.df.copy()
    out = filter_activity(filter_variants(log, top=1), contains="C")
    assert isinstance(out, leanops.EventLog)
    pd.testing.assert_frame_equal(log.df, before)
    assert leanops.discover(out).edges["count"].sum() == 6
