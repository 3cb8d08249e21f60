"""Hostile and extreme input to the readers (issue 18, reader part): one time parser,
consistent missing values, limits on columns, attributes and decompressed size.

Files are generated here; memory is bounded through a subprocess with an address-space
limit, never through timing."""

from __future__ import annotations

import datetime as dt
import warnings

import pandas as pd
import pytest

import leanops
from leanops import DataQualityWarning, InputError

from conftest import assert_bad_input

OUT_OF_RANGE = ["1600-01-01T10:00:00", "2300-01-01T10:00:00", "3000-06-01T00:00:00", "9999-12-31T00:00:00"]


def quiet_read(*args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataQualityWarning)
        return leanops.read(*args, **kw)


def test_out_of_range_years_are_unparsable_in_csv_xes_and_parquet(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    good = "2024-01-02T10:00:00"
    rows = [(f"c{i}", "a", t) for i, t in enumerate(OUT_OF_RANGE)] + [("ok", "a", good)]
    csv = tmp_path / "years.csv"
    pd.DataFrame(rows, columns=["case_id", "activity", "time"]).to_csv(csv, index=False)
    xes = tmp_path / "years.xes"
    xes.write_text('<log>' + "".join(
        f'<trace><string key="concept:name" value="{c}"/><event><string key="concept:name" value="{a}"/>'
        f'<date key="time:timestamp" value="{t}"/></event></trace>' for c, a, t in rows) + '</log>')
    pq_path = tmp_path / "years.parquet"
    stamps = [dt.datetime.fromisoformat(t) for _, _, t in rows]
    pq.write_table(pa.table({"case_id": [r[0] for r in rows], "activity": ["a"] * 5,
                             "time": pa.array(stamps, pa.timestamp("us"))}), pq_path)
    for p in (csv, xes, pq_path):
        log = quiet_read(p)
        assert log.quality.dropped == {"unparsable_end": 4}, p
        assert log.case_ids.tolist() == ["ok"]
        with pytest.raises(InputError, match="4 unparsable_end"):
            leanops.read(p, strict=True)


def test_mixed_naive_and_aware_and_odd_offsets(tmp_path):
    values = ["2024-01-01T10:00:00", "2024-01-01T10:00:00+02:00", "2024-01-01T10:00:00Z",
              "2024-01-01T10:00:00+0530", "2024-01-01T10:00:00+25:00", "2024-01-01T10:00:00-00:00"]
    df = pd.DataFrame({"case_id": [str(i) for i in range(6)], "activity": "a", "time": values})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataQualityWarning)
        log = leanops.from_frame(df, tz="Europe/Paris")
    got = dict(zip(log.df["case_id"], log.df["end"].dt.strftime("%H:%M")))
    # naive in tz, offsets honoured, an impossible offset (+25:00) is unparsable
    assert got == {"0": "09:00", "1": "08:00", "2": "10:00", "3": "04:30", "5": "10:00"}
    assert log.quality.dropped == {"unparsable_end": 1}


def test_unknown_encoding_and_zone_are_one_line(tmp_path, leanops_cli):
    p = tmp_path / "l.csv"
    p.write_text("case_id,activity,time\n1,a,2024-01-01T10:00:00\n")
    assert_bad_input(leanops_cli("info", p, "--encoding", "klingon"), "klingon", "encoding")
    assert_bad_input(leanops_cli("info", p, "--tz", "Mars/Olympus"), "Mars/Olympus")
    with pytest.raises(InputError, match="klingon"):
        leanops.read(p, encoding="klingon")


def test_parquet_with_a_bad_zone_is_refused(tmp_path, leanops_cli):
    import pyarrow as pa
    import pyarrow.parquet as pq

    p = tmp_path / "tz.parquet"
    pq.write_table(pa.table({"case_id": ["1"], "activity": ["a"],
                             "time": pa.array([dt.datetime(2024, 1, 1)], pa.timestamp("us", tz="Mars/Olympus"))}), p)
    with pytest.raises(InputError, match="Parquet"):
        leanops.read(p)
    assert_bad_input(leanops_cli("info", p), "Parquet")


@pytest.mark.parametrize("ragged", [False, True])
def test_missing_value_markers_agree_in_both_csv_readers(tmp_path, ragged):
    # a short row sends the file to the pandas fallback; the markers must mean the same there
    lines = ["case_id,activity,time,note"] + [f"{v},a,2024-01-0{i + 1}T10:00:00,x" for i, v in
                                            enumerate(["NA", "None", "null", "nan", "", "keep"])]
    lines.append("keep,b,2024-01-09T10:00:00" + ("" if ragged else ",x"))
    p = tmp_path / "na.csv"
    p.write_text("\n".join(lines) + "\n")
    log = quiet_read(p)
    assert log.quality.dropped == {"missing_case": 5}
    assert log.case_ids.tolist() == ["keep"] and len(log) == 2
