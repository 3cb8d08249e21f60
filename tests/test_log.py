"""EventLog and from_frame on hand-built logs: pairing, sorting, types, time zones, quality."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import leanops
from leanops import DataQualityWarning, EventLog, InputError


def ts(s: str) -> pd.Timestamp:
    return pd.Timestamp(s, tz="UTC")


def frame(rows, columns=("case", "activity", "start", "end", "resource")) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=list(columns))


def quiet_from_frame(df, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataQualityWarning)
        return leanops.from_frame(df, **kw)


# ----------------------------------------------------------------- types, sort


def test_sorted_by_case_then_start_and_types():
    df = frame([
        ("2", "B", "2024-01-01 10:00", "2024-01-01 11:00", "r1"),
        ("1", "B", "2024-01-01 09:00", "2024-01-01 09:30", "r2"),
        ("1", "A", "2024-01-01 08:00", "2024-01-01 08:30", "r1"),
        ("2", "A", "2024-01-01 07:00", "2024-01-01 07:10", None),
    ])
    log = leanops.from_frame(df)
    d = log.df
    assert list(d["case_id"]) == ["1", "1", "2", "2"]
    assert list(d["activity"].astype(str)) == ["A", "B", "A", "B"]
    assert str(d["start"].dtype) == "datetime64[ns, UTC]"
    assert str(d["end"].dtype) == "datetime64[ns, UTC]"
    assert isinstance(d["activity"].dtype, pd.CategoricalDtype)
    assert d["resource"].isna().sum() == 1
    assert log.n_cases == 2 and len(log) == 4
    assert list(log.case_starts) == [0, 2]
    # The caller's frame is untouched.
    assert list(df["case"]) == ["2", "1", "1", "2"]


def test_float_resource_and_int_case_ids_become_clean_strings():
    df = pd.DataFrame({
        "case_id": [196611, 196611, 7],
        "activity": ["a", "b", "a"],
        "end_time": ["2024-01-01T10:00", "2024-01-01T11:00", "2024-01-01T12:00"],
        "resource": [10861.0, np.nan, 112.0],
    })
    log = leanops.from_frame(df)
    assert list(log.df["case_id"]) == ["196611", "196611", "7"]
    assert log.df["resource"].iloc[0] == "10861"
    assert pd.isna(log.df["resource"].iloc[1])
    assert log.df["resource"].iloc[2] == "112"


def test_missing_start_falls_back_to_end_for_ordering():
    df = frame([
        ("c", "late", "2024-01-01 12:00", "2024-01-01 13:00", "r"),
        ("c", "early", None, "2024-01-01 09:00", "r"),
    ])
    log = leanops.from_frame(df)
    assert list(log.df["activity"].astype(str)) == ["early", "late"]
    assert pd.isna(log.df["start"].iloc[0])


# -------------------------------------------------------------------- time zones


def test_naive_times_read_in_given_zone():
    df = frame([("c", "a", "2024-01-15 10:00", "2024-01-15 11:00", "r"),
                ("c", "b", "2024-07-15 10:00", "2024-07-15 11:00", "r")])
    log = leanops.from_frame(df, tz="Europe/Amsterdam")
    # CET is UTC+1 in January, CEST UTC+2 in July.
    assert log.df["start"].iloc[0] == ts("2024-01-15 09:00")
    assert log.df["start"].iloc[1] == ts("2024-07-15 08:00")


def test_offsets_are_honoured_and_mixed_precision_parses():
    df = frame([
        ("c", "a", "2011-01-01T07:00:00+02:00", "2011-01-01T07:37:00.5+02:00", "r"),
        ("c", "b", "2011-12-30T12:14:47.813", "2011-12-30T12:16:37.14", "r"),
        ("c", "c", "2011-12-30T13:00:00Z", "2011-12-30T13:00:01.123456Z", "r"),
    ])
    log = leanops.from_frame(df, tz="UTC")
    d = log.df
    assert d["start"].iloc[0] == ts("2011-01-01 05:00")
    assert d["end"].iloc[0] == ts("2011-01-01 05:37:00.5")
    assert d["end"].iloc[1] == ts("2011-12-30 12:16:37.140")
    assert d["end"].iloc[2] == ts("2011-12-30 13:00:01.123456")
    assert log.quality.is_clean


def test_bad_timezone_name_is_an_input_error():
    df = frame([("c", "a", "2024-01-01 10:00", "2024-01-01 11:00", "r")])
    with pytest.raises(InputError, match="tz"):
        leanops.from_frame(df, tz="Mars/Olympus")


# ------------------------------------------------------------------- quality


def test_quality_counts_every_drop_and_repair():
    df = frame([
        ("1", "A", "2024-01-01 08:00", "2024-01-01 09:00", "r"),  # kept
        (None, "A", "2024-01-01 08:00", "2024-01-01 09:00", "r"),  # missing case
        ("1", None, "2024-01-01 08:00", "2024-01-01 09:00", "r"),  # missing activity
        ("1", "B", "2024-01-01 08:00", "not a date", "r"),  # unparsable end
        ("1", "C", "2024-01-01 08:00", None, "r"),  # missing end
        ("2", "A", "2024-01-01 12:00", "2024-01-01 10:00", "r"),  # end < start: swapped
        ("2", "B", "garbage", "2024-01-01 13:00", "r"),  # unparsable start: repaired to NaT
    ])
    with pytest.warns(DataQualityWarning, match="dropped"):
        log = leanops.from_frame(df)
    q = log.quality
    assert q.rows_read == 7
    assert q.dropped == {"missing_case": 1, "missing_activity": 1, "unparsable_end": 1, "missing_end": 1}
    assert q.repaired == {"unparsable_start": 1, "end_before_start_swapped": 1}
    assert q.rows_kept == 3 == len(log)
    swapped = log.df[(log.df["case_id"] == "2") & (log.df["activity"] == "A")].iloc[0]
    assert swapped["start"] == ts("2024-01-01 10:00") and swapped["end"] == ts("2024-01-01 12:00")


def test_negative_durations_can_be_dropped_instead():
    df = frame([("1", "A", "2024-01-01 12:00", "2024-01-01 10:00", "r"),
                ("1", "B", "2024-01-01 12:00", "2024-01-01 13:00", "r")])
    log = quiet_from_frame(df, on_negative="drop")
    assert len(log) == 1
    assert log.quality.dropped == {"end_before_start": 1}
    assert log.quality.rows_kept == 1


def test_duplicates_kept_with_warning_or_dropped_with_dedupe():
    rows = [("1", "A", "2024-01-01 08:00", "2024-01-01 09:00", "r")] * 3 + [
        ("1", "B", "2024-01-01 09:00", "2024-01-01 10:00", "r")]
    with pytest.warns(DataQualityWarning, match="duplicates"):
        kept = leanops.from_frame(frame(rows))
    assert len(kept) == 4
    assert any("2 exact duplicate" in w for w in kept.quality.warnings)
    deduped = quiet_from_frame(frame(rows), dedupe=True)
    assert len(deduped) == 2
    assert deduped.quality.dropped == {"duplicate": 2}
    assert deduped.quality.rows_kept == 2


def test_strict_raises_instead_of_repairing():
    df = frame([("1", "A", "2024-01-01 12:00", "2024-01-01 10:00", "r"),
                (None, "A", "2024-01-01 08:00", "2024-01-01 09:00", "r")])
    with pytest.raises(InputError, match="strict"):
        leanops.from_frame(df, strict=True)
    clean = frame([("1", "A", "2024-01-01 08:00", "2024-01-01 09:00", "r")])
    assert len(leanops.from_frame(clean, strict=True)) == 1


def test_all_garbage_timestamps_is_an_input_error():
    df = frame([("1", "A", None, "yesterday-ish", "r"), ("1", "B", None, "soon", "r")])
    with pytest.raises(InputError, match="could be parsed"):
        leanops.from_frame(df)


# ------------------------------------------------------------ lifecycle pairing


def events(rows):
    return pd.DataFrame(rows, columns=["case:concept:name", "concept:name", "lifecycle:transition", "time:timestamp", "org:resource"])


def test_start_complete_pairing_in_order_per_activity():
    df = events([
        ("c1", "A", "start", "2024-01-01 08:00", "r1"),
        ("c1", "A", "start", "2024-01-01 08:30", "r2"),  # second A overlaps the first
        ("c1", "A", "complete", "2024-01-01 09:00", "r1"),
        ("c1", "B", "start", "2024-01-01 09:10", "r3"),
        ("c1", "A", "complete", "2024-01-01 09:30", "r2"),
        ("c1", "B", "complete", "2024-01-01 10:00", "r3"),
        ("c2", "A", "complete", "2024-01-01 11:00", "r1"),  # complete without start
        ("c2", "B", "start", "2024-01-01 11:30", "r1"),  # start that never completes
        ("c2", "B", "schedule", "2024-01-01 07:00", "r1"),
        ("c2", "B", "suspend", "2024-01-01 11:40", "r1"),
    ])
    log = quiet_from_frame(df)
    d = log.df
    got = [(r.case_id, str(r.activity), r.start, r.end) for r in d.itertuples()]
    assert got == [
        ("c1", "A", ts("2024-01-01 08:00"), ts("2024-01-01 09:00")),
        ("c1", "A", ts("2024-01-01 08:30"), ts("2024-01-01 09:30")),
        ("c1", "B", ts("2024-01-01 09:10"), ts("2024-01-01 10:00")),
        ("c2", "A", pd.NaT, ts("2024-01-01 11:00")),
    ]
    q = log.quality
    assert q.rows_read == 10
    assert q.dropped == {"lifecycle:schedule": 1, "lifecycle:suspend": 1, "unpaired_start": 1}
    assert q.repaired == {"complete_without_start": 1}
    assert q.rows_kept == 7  # 3 pairs + 1 lone complete


def test_completion_only_log_has_no_start_times():
    df = events([("c1", "A", "complete", "2024-01-01 08:00", "r"), ("c1", "B", "COMPLETE", "2024-01-01 09:00", "r")])
    log = leanops.from_frame(df)
    assert not log.has_start_times
    assert log.df["start"].isna().all()
    assert log.quality.is_clean


def test_resource_recorded_only_on_start_event_is_kept():
    df = events([("c1", "A", "start", "2024-01-01 08:00", "r1"), ("c1", "A", "complete", "2024-01-01 09:00", None)])
    log = leanops.from_frame(df)
    assert log.df["resource"].iloc[0] == "r1"


# ------------------------------------------------------------- column mapping


def test_detection_and_explicit_mapping():
    df = pd.DataFrame({"Case ID": ["1"], "Task": ["a"], "When": ["2024-01-01 10:00"], "Other": [1]})
    with pytest.raises(InputError, match="no timestamp"):
        leanops.from_frame(df)
    log = leanops.from_frame(df, end="When")
    assert log.mapping["case_id"] == "Case ID" and log.mapping["activity"] == "Task"
    assert log.attributes == ["Other"]


def test_ambiguous_detection_lists_candidates():
    df = pd.DataFrame({"case_id": ["1"], "Case ID": ["2"], "activity": ["a"], "timestamp": ["2024-01-01"]})
    with pytest.raises(InputError, match=r"candidates \['case_id', 'Case ID'\]"):
        leanops.from_frame(df)
    log = leanops.from_frame(df, case="Case ID")
    assert list(log.df["case_id"]) == ["2"]
    assert log.attributes == ["src:case_id"]


def test_wrong_explicit_column_lists_available_columns():
    df = pd.DataFrame({"case_id": ["1"], "activity": ["a"], "timestamp": ["2024-01-01"]})
    with pytest.raises(InputError, match="'caseid' not found; available columns: 'case_id', 'activity', 'timestamp'"):
        leanops.from_frame(df, case="caseid")


# ------------------------------------------------------------------- interop


def test_pm4py_round_trip_keeps_instances():
    log = leanops.datasets.load("purchasing_example")
    back = EventLog.from_pm4py(log.to_pm4py())
    pd.testing.assert_frame_equal(back.df[["case_id", "start", "end", "resource"]], log.df[["case_id", "start", "end", "resource"]])
    assert list(back.df["activity"].astype(str)) == list(log.df["activity"].astype(str))


def test_select_cases_and_constructor_coercion():
    log = leanops.datasets.load("purchasing_example")
    ids = list(log.case_ids[:5])
    sub = log.select_cases(ids)
    assert sub.n_cases == 5
    assert set(sub.df["case_id"]) == set(ids)
    mask = np.zeros(log.n_cases, dtype=bool)
    mask[[0, 2]] = True
    assert list(log.select_cases(mask).case_ids) == [log.case_ids[0], log.case_ids[2]]
    with pytest.raises(InputError, match="canonical columns"):
        EventLog(pd.DataFrame({"x": [1]}))


def test_select_cases_rejects_unknown_ids_and_counts_what_filters_remove():
    log = leanops.datasets.load("purchasing_example")
    with pytest.raises(InputError, match="unknown case id"):
        log.select_cases([log.case_ids[0], "no-such-case"])
    sub = log.select_cases(list(log.case_ids[:3]))
    removed = len(log) - len(sub)
    assert sub.quality.dropped["filtered_out_after_reading"] == removed > 0
    assert "filtered_out_after_reading" not in log.quality.dropped  # the original is untouched


def test_tz_is_checked_even_when_no_timestamp_is_naive():
    df = frame([("c", "a", "2024-01-15T10:00:00Z", "2024-01-15T11:00:00Z", "r")])
    with pytest.raises(InputError, match="Mars/Phobos"):
        leanops.from_frame(df, tz="Mars/Phobos")
