"""leanops.rca.features and targets on a hand-built log (expected values worked out by hand)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import leanops
from leanops.errors import InputError
from leanops.rca import feature_category, features, parse_duration, target_values

DAY = "2024-01-01 "  # a Monday


def hand_log() -> leanops.EventLog:
    rows = [
        # case, activity, start, end, resource, channel, amount
        ("c1", "A", "09:00", "09:10", "r1", "web", 100.0),
        ("c1", "B", "09:30", "10:00", "r2", "web", 100.0),
        ("c2", "A", "09:05", "09:20", "r1", "phone", 5000.0),
        ("c2", "B", "09:40", "09:50", "r1", "phone", 5000.0),
        ("c2", "B", "10:00", "10:30", "r2", "phone", 5000.0),
        ("c3", "A", "09:35", "09:40", "r2", "web", 200.0),
    ]
    df = pd.DataFrame(rows, columns=["case_id", "activity", "start_time", "end_time", "resource", "channel", "amount"])
    df["start_time"] = pd.to_datetime(DAY + df["start_time"], utc=True)
    df["end_time"] = pd.to_datetime(DAY + df["end_time"], utc=True)
    return leanops.from_frame(df)


def test_feature_table_by_hand():
    t = features(hand_log())
    assert list(t.index) == ["c1", "c2", "c3"]
    assert list(t["channel"]) == ["web", "phone", "web"]
    assert list(t["amount"]) == [100.0, 5000.0, 200.0]
    assert list(t["resource@A"]) == ["r1", "r1", "r2"]
    assert list(t["resource@B"]) == ["r2", "r1", "(none)"]  # the first B of c2 was r1
    assert list(t["involves:r1"]) == [True, True, False]
    assert "involves:r2" not in t  # every case involves r2: no information
    assert list(t["handoffs"]) == [1.0, 1.0, 0.0]  # r1>r2; r1>r1>r2; single step
    assert list(t["occurs:B"]) == [True, True, False]
    assert "occurs:A" not in t and "count:A" not in t  # A once in every case
    assert list(t["count:B"]) == [1.0, 2.0, 0.0]
    assert list(t["variant"]) == ["A > B", "A > B > B", "A"]
    assert list(t["start_hour"]) == [9.0, 9.0, 9.0]
    assert list(t["start_weekday"]) == ["Mon"] * 3
    assert list(t["start_month"]) == ["Jan"] * 3
    # open cases when each case started: none; c1; c1 and c2
    assert list(t["wip_at_arrival"]) == [0.0, 1.0, 2.0]
    # B instances waiting at 09:35 (c3's arrival): c2's first B (enabled 09:20, started 09:40)
    assert list(t["queue@B"]) == [0.0, 0.0, 1.0]
    cats = t.attrs["categories"]
    assert cats["channel"] == "material" and cats["resource@A"] == "people"
    assert cats["variant"] == "method" and cats["wip_at_arrival"] == "environment"


def test_event_attributes_are_lifted_and_ids_skipped():
    log = hand_log()
    df = log.to_frame()
    df["step_note"] = ["x", "y", "x", "x", "z", "y"]  # varies within cases
    df["ticket"] = ["t1", "t1", "t2", "t2", "t2", "t3"]  # constant per case, an identifier
    big = pd.concat([df.assign(case_id=df["case_id"] + f"_{k}", ticket=df["ticket"] + f"_{k}") for k in range(10)])
    t = features(leanops.EventLog(big))
    assert list(t.loc[["c1_0", "c2_0", "c3_0"], "first:step_note"]) == ["x", "x", "y"]
    assert list(t.loc[["c1_0", "c2_0", "c3_0"], "last:step_note"]) == ["y", "z", "y"]
    assert list(t.loc[["c1_0", "c2_0", "c3_0"], "any:step_note=z"]) == [False, True, False]
    assert "ticket" not in t  # 30 distinct values in 30 cases
    assert feature_category("any:step_note=z") == "material"


def test_features_do_not_mutate_the_log():
    log = hand_log()
    before = log.df.copy()
    features(log)
    pd.testing.assert_frame_equal(log.df, before)


def test_targets_by_hand():
    log = hand_log()
    d = target_values(log, target="case_duration").values
    assert list(d) == [3600.0, 5100.0, 300.0]
    assert list(target_values(log, target="rework").values) == [0.0, 1.0, 0.0]
    assert list(target_values(log, target="sla:1h").values) == [0.0, 1.0, 0.0]  # 60 min is not a breach
    w = target_values(log, target="wait:B").values
    assert w["c1"] == 1200.0  # 09:10 -> 09:30
    assert w["c2"] == 1800.0  # 09:20 -> 09:40 plus 09:50 -> 10:00
    assert np.isnan(w["c3"])  # no B
    s = pd.Series({"c1": 1.0, "c3": 3.0}, name="cost")
    tv = target_values(log, target=s)
    assert tv.name == "cost" and tv.values["c3"] == 3.0 and np.isnan(tv.values["c2"])


def test_target_bad_input():
    log = hand_log()
    with pytest.raises(InputError, match="unknown activity 'Bx'.*'A', 'B'"):
        target_values(log, target="wait:Bx")
    with pytest.raises(InputError, match="target must be"):
        target_values(log, target="duration")
    with pytest.raises(InputError, match="duration like"):
        target_values(log, target="sla:soon")
    with pytest.raises(InputError, match="matches no case id"):
        target_values(log, target=pd.Series({"zz": 1.0}))


@pytest.mark.parametrize("text,seconds", [("3d", 259200.0), ("1d12h", 129600.0), ("90min", 5400.0),
                                          ("2.5h", 9000.0), ("45", 45.0), ("P2D", 172800.0), ("1w", 604800.0)])
def test_parse_duration(text, seconds):
    assert parse_duration(text) == seconds


def test_variants_match_an_independent_join():
    log = leanops.datasets.load("sepsis")
    t = features(log)
    seq = log.df.groupby("case_id", observed=True, sort=False)["activity"].agg(lambda x: " > ".join(map(str, x)))
    seq = seq.reindex(log.case_ids)
    named = t["variant"] != "other"
    assert (t["variant"][named] == seq[named]).all()  # every named variant is the case's sequence
    counts = seq.value_counts()
    assert t["variant"][named].nunique() == 20
    # the 20 named are the most frequent (ties at the cut may go either way)
    cut = counts.iloc[19]
    assert set(counts[counts > cut].index) <= set(t["variant"][named])
    assert counts[t["variant"][named].unique()].min() >= cut


def test_attribute_that_restates_the_variant_is_a_path_feature():
    # 40 cases over two paths; "path_no" is the exported variant number, "channel" is not
    # tied to the path. Only the former is path information (method).
    rows = []
    for i in range(40):
        acts = ["A", "B"] if i % 2 else ["A", "C", "B"]
        for k, a in enumerate(acts):
            t = pd.Timestamp("2024-01-01", tz="UTC") + pd.Timedelta(hours=i * 5 + k)
            rows.append((f"c{i}", a, t, t + pd.Timedelta(minutes=30), "r", 1 + i % 2, "web" if i % 4 < 2 else "phone"))
    df = pd.DataFrame(rows, columns=["case_id", "activity", "start", "end", "resource", "path_no", "channel"])
    cats = features(leanops.from_frame(df)).attrs["categories"]
    assert cats["path_no"] == "method"
    assert cats["channel"] == "material"


def test_event_attribute_with_missing_values_from_a_csv(tmp_path):
    # Arrow-backed text read from a CSV holds pd.NA for blanks; lifting such an event
    # attribute to the case compared NA with a value and raised (worked out by hand below).
    p = tmp_path / "blanks.csv"
    p.write_text(
        "case,activity,start,end,channel\n"
        "1,A,2024-01-01 08:00,2024-01-01 09:00,web\n"
        "1,B,2024-01-01 10:00,2024-01-01 11:00,\n"
        "2,A,2024-01-01 08:30,2024-01-01 09:30,\n"
        "2,B,2024-01-01 12:00,2024-01-01 13:00,phone\n"
        "3,A,2024-01-02 08:00,2024-01-02 09:00,phone\n"
        "3,B,2024-01-02 09:30,2024-01-02 15:00,web\n"
    )
    log = leanops.read(p)
    assert pd.isna(log.df["channel"]).sum() == 2
    f = features(log)
    # first/last non-missing value per case: 1 web/web, 2 phone/phone, 3 phone/web
    assert list(f["first:channel"]) == ["web", "phone", "phone"]
    assert list(f["last:channel"]) == ["web", "phone", "web"]
    assert list(f["any:channel=web"]) == [True, False, True]
    assert list(f["any:channel=phone"]) == [False, True, True]
