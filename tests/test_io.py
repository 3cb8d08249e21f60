"""Reading files: every bundled log, XES details, CSV variants, Parquet round trips."""

from __future__ import annotations

import gzip
import warnings

import numpy as np
import pandas as pd
import pytest

import leanops
from leanops import DataQualityWarning, InputError

from conftest import DATASETS

# Expected counts from the shared datasets README (cases, activity instances, activities).
EXPECTED = {
    "production": (225, 4953, 26, True),
    "bpic2012_w": (8616, 59302, 6, True),
    "purchasing_example": (608, 9119, 21, True),
    "receipt": (1434, 8577, 27, False),
    "sepsis": (1050, 15214, 16, False),
    "helpdesk": (4580, 21348, 14, False),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_bundled_logs_read_with_expected_counts(name):
    cases, instances, activities, has_start = EXPECTED[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataQualityWarning)
        log = leanops.read(DATASETS / leanops.datasets.path(name).name)
    assert log.n_cases == cases
    assert len(log) == instances
    assert log.df["activity"].nunique() == activities
    assert log.has_start_times is has_start
    assert log.df["end"].notna().all()
    assert (log.df["start"].isna() | (log.df["start"] <= log.df["end"])).all()
    # Sorted by case, then by start (end where missing).
    d = log.df
    key = log.sort_time()
    same_case = d["case_id"].to_numpy()[1:] == d["case_id"].to_numpy()[:-1]
    assert (key.to_numpy()[1:][same_case] >= key.to_numpy()[:-1][same_case]).all()


def test_production_pairs_start_complete_like_the_source():
    log = leanops.datasets.load("production")
    assert log.quality.rows_read == 9906
    assert log.quality.rows_kept == 9906
    assert log.df["start"].notna().all()
    assert log.df["resource"].nunique() == 48
    # The XES standard keys were mapped, not Disco's look-alike attributes.
    assert log.mapping["activity"] == "concept:name"
    assert log.mapping["lifecycle"] == "lifecycle:transition"


def test_production_matches_pm4py_reader():
    import pm4py

    ours = leanops.datasets.load("production")
    theirs = pm4py.read_xes(str(DATASETS / "production.xes.gz"))
    assert set(theirs["case:concept:name"].astype(str)) == set(ours.df["case_id"])
    n_complete = int((theirs["lifecycle:transition"].str.lower() == "complete").sum())
    assert n_complete == len(ours)
    # Completion times agree as multisets, per activity.
    t = theirs[theirs["lifecycle:transition"].str.lower() == "complete"]
    a = t.groupby("concept:name")["time:timestamp"].apply(lambda s: sorted(pd.to_datetime(s, utc=True)))
    b = ours.df.groupby("activity", observed=True)["end"].apply(sorted)
    for act in a.index:
        assert a[act] == b[act]


def test_bpic2012_float_resources_and_missing_resources():
    log = leanops.datasets.load("bpic2012_w")
    res = log.df["resource"]
    assert not res.dropna().str.contains(r"\.0$").any()
    assert "10861" in set(res.dropna())
    assert 0.10 < res.isna().mean() < 0.115  # 10.7% in the README
    assert log.tz == "UTC"
    assert log.df["start"].iloc[0].tzinfo is not None


def test_purchasing_out_of_order_rows_and_offsets():
    raw = pd.read_csv(DATASETS / "purchasing_example.csv.gz")
    log = leanops.datasets.load("purchasing_example")
    first = raw[raw["case_id"] == 1].sort_values("start_time").iloc[0]
    got = log.df[log.df["case_id"] == "1"].iloc[0]
    assert str(got["activity"]) == first["activity"] == "Create Purchase Requisition"
    # 2011-01-01T07:00:00+02:00 is 05:00 UTC.
    assert got["start"] == pd.Timestamp("2011-01-01 05:00", tz="UTC")


def test_completion_only_xes_attributes_are_typed():
    log = leanops.datasets.load("sepsis")
    assert not log.has_start_times
    assert pd.api.types.is_numeric_dtype(log.df["Age"])
    assert log.mapping["resource"] == "org:group"
    receipt = leanops.datasets.load("receipt")
    assert "case:channel" in receipt.attributes


XES = """<?xml version="1.0" encoding="UTF-8"?>
<log xes.version="1.0" xmlns="http://www.xes-standard.org/">
  <string key="concept:name" value="tiny"/>
  <trace>
    <string key="concept:name" value="T1"/>
    <float key="amount" value="12.5"/>
    <event>
      <string key="concept:name" value="Receive &amp; log"/>
      <string key="lifecycle:transition" value="start"/>
      <string key="org:resource" value="ann"/>
      <date key="time:timestamp" value="2024-03-01T09:00:00.000+01:00"/>
    </event>
    <event>
      <string key="concept:name" value="Receive &amp; log"/>
      <string key="lifecycle:transition" value="complete"/>
      <date key="time:timestamp" value="2024-03-01T09:30:00.000+01:00"/>
      <int key="items" value="3"/>
      <boolean key="urgent" value="true"/>
    </event>
  </trace>
  <trace>
    <string key="concept:name" value="T2"/>
    <event>
      <string key="concept:name" value="Check"/>
      <date key="time:timestamp" value="2024-03-02T10:00:00Z"/>
      <list key="tags"><string key="t" value="x"/></list>
    </event>
  </trace>
</log>
"""


def test_hand_written_xes(tmp_path):
    p = tmp_path / "tiny.xes"
    p.write_text(XES)
    log = leanops.read(p)
    d = log.df
    assert list(d["case_id"]) == ["T1", "T2"]
    assert list(d["activity"].astype(str)) == ["Receive & log", "Check"]
    assert d["start"].iloc[0] == pd.Timestamp("2024-03-01 08:00", tz="UTC")
    assert d["end"].iloc[0] == pd.Timestamp("2024-03-01 08:30", tz="UTC")
    assert d["resource"].iloc[0] == "ann"  # from the start event
    assert d["case:amount"].iloc[0] == 12.5 and pd.isna(d["case:amount"].iloc[1])
    assert d["items"].iloc[0] == 3
    assert bool(d["urgent"].iloc[0]) is True
    gz = tmp_path / "tiny.xes.gz"
    gz.write_bytes(gzip.compress(XES.encode()))
    pd.testing.assert_frame_equal(leanops.read(gz).df, d)


def test_xes_external_entity_is_refused(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    evil = XES.replace('<?xml version="1.0" encoding="UTF-8"?>',
                       f'<?xml version="1.0"?>\n<!DOCTYPE log [<!ENTITY xxe SYSTEM "file://{secret}">]>').replace(
        'value="tiny"', 'value="&xxe;"')
    p = tmp_path / "evil.xes"
    p.write_text(evil)
    with pytest.raises(InputError, match="DTD or entities"):
        leanops.read(p)


def test_csv_delimiters_and_gzip(tmp_path):
    p = tmp_path / "semi.csv"
    p.write_text("CaseID;Activity;Timestamp;User\n1;a;2024-01-01 10:00;x\n1;b;2024-01-01 11:00;y\n")
    log = leanops.read(p)
    assert len(log) == 2 and log.mapping["resource"] == "User"
    gz = tmp_path / "semi.csv.gz"
    gz.write_bytes(gzip.compress(p.read_bytes()))
    pd.testing.assert_frame_equal(leanops.read(gz).df, log.df)


def test_parquet_and_csv_write_round_trip(tmp_path):
    log = leanops.datasets.load("purchasing_example")
    pq = leanops.write(log, tmp_path / "p.parquet")
    back = leanops.read(pq)
    pd.testing.assert_frame_equal(back.df, log.df, check_categorical=False)
    csv = leanops.write(log, tmp_path / "p.csv")
    back2 = leanops.read(csv)
    pd.testing.assert_frame_equal(back2.df[["case_id", "start", "end", "resource"]], log.df[["case_id", "start", "end", "resource"]])


def test_parquet_directory_of_partitions(tmp_path):
    log = leanops.datasets.load("purchasing_example")
    d = tmp_path / "parts"
    d.mkdir()
    df = log.to_frame()
    codes = pd.util.hash_pandas_object(df["case_id"], index=False).to_numpy() % 3
    for k in range(3):
        df[codes == k].to_parquet(d / f"part-{k}.parquet", index=False)
    back = leanops.read(d)
    assert back.n_cases == log.n_cases and len(back) == len(log)


def test_datasets_catalog_and_unknown_name():
    names = [d["name"] for d in leanops.datasets.list()]
    assert "production" in names
    for d in leanops.datasets.list():
        assert d["source"] and d["licence"]
        assert leanops.datasets.path(d["name"]).exists()
    with pytest.raises(InputError, match="Did you mean 'production'"):
        leanops.datasets.path("prodution")


def test_loan_ground_truth_log_keeps_its_delay_column():
    log = leanops.datasets.load("loan_application_5_timers")
    assert "extraneous_delay" in log.attributes
    assert np.isfinite(log.df["extraneous_delay"]).all()


def test_xes_batches_give_the_same_frame(tmp_path, monkeypatch):
    import leanops.io as lio

    whole = leanops.datasets.load("production")
    monkeypatch.setattr(lio, "_CHUNK", 7)  # many small batches, split inside traces' lifetimes
    batched = leanops.datasets.load("production")
    pd.testing.assert_frame_equal(batched.df, whole.df)
    assert batched.quality.to_dict() == whole.quality.to_dict()


def test_xes_unparsable_timestamps_are_counted_as_such(tmp_path):
    bad = XES.replace('value="2024-03-02T10:00:00Z"', 'value="next tuesday"')
    p = tmp_path / "bad.xes"
    p.write_text(bad)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataQualityWarning)
        log = leanops.read(p)
    assert log.quality.dropped == {"unparsable_end": 1}
    assert list(log.df["case_id"]) == ["T1"]
    allbad = tmp_path / "allbad.xes"
    allbad.write_text(bad.replace("2024-03-01T09:00:00.000+01:00", "x").replace("2024-03-01T09:30:00.000+01:00", "y"))
    with pytest.raises(InputError, match="could be parsed"):
        leanops.read(allbad)


def test_xes_naive_dates_read_in_given_zone(tmp_path):
    p = tmp_path / "naive.xes"
    p.write_text(XES.replace("2024-03-02T10:00:00Z", "2024-03-02T10:00:00"))
    log = leanops.read(p, tz="Europe/Amsterdam")
    assert log.df["end"].iloc[1] == pd.Timestamp("2024-03-02 09:00", tz="UTC")
