"""Canonical Parquet: convert (one file or case partitions), metadata, read back, schema errors."""

from __future__ import annotations

import json
import warnings

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import leanops
from leanops.errors import InputError

T0 = pd.Timestamp("2024-03-01 08:00", tz="UTC")


def messy_frame() -> pd.DataFrame:
    # one row without a case id (dropped) and one that ends before it starts (swapped)
    return pd.DataFrame({
        "Case": ["a", "a", None, "b", "b", "c"],
        "Task": ["X", "Y", "X", "X", "Y", "X"],
        "Begin": [T0, T0 + pd.Timedelta("1h"), T0, T0, T0 + pd.Timedelta("3h"), T0],
        "Done": [T0 + pd.Timedelta("30min"), T0 + pd.Timedelta("2h"), T0 + pd.Timedelta("1h"),
                 T0 + pd.Timedelta("1h"), T0 + pd.Timedelta("2h"), T0 + pd.Timedelta("5min")],
        "amount": [1.5, 1.5, 2.0, 7.0, 7.0, 3.0],
    })


@pytest.fixture
def messy_log():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return leanops.from_frame(messy_frame(), case="Case", activity="Task", start="Begin", end="Done")


def test_single_file_round_trip_keeps_table_and_quality(messy_log, tmp_path):
    assert messy_log.quality.dropped and messy_log.quality.repaired  # the fixture is messy
    out = leanops.convert(messy_log, tmp_path / "m.parquet")
    back = leanops.read(out)
    pd.testing.assert_frame_equal(back.df, messy_log.df)
    assert back.quality.to_dict() == messy_log.quality.to_dict()
    meta = json.loads(pq.read_schema(out).metadata[b"leanops"])
    assert meta["quality"]["dropped"] == messy_log.quality.dropped
    assert meta["n_events"] == len(messy_log) and meta["canonical"] is True


def test_partitions_split_cases_by_hash(tmp_path):
    log = leanops.datasets.load("purchasing_example")
    out = leanops.convert(log, tmp_path / "parts", partitions=4)
    files = sorted(out.glob("*.parquet"))
    assert len(files) == 4
    seen: dict[str, int] = {}
    for i, f in enumerate(files):
        ids = set(pq.read_table(f, columns=["case_id"]).column(0).to_pylist())
        for c in ids:
            assert c not in seen, f"case {c} in partitions {seen[c]} and {i}"
            seen[c] = i
    assert len(seen) == log.n_cases
    # the partition of a case is its hash modulo 4, the same in any process
    from leanops.io import case_partition

    some = sorted(seen)[:20]
    assert list(case_partition(pd.Series(some), 4)) == [seen[c] for c in some]
    pd.testing.assert_frame_equal(leanops.read(out).df, log.df)
    s = leanops.scan(out)
    assert s.split_by_case and s.n_events == len(log) and len(s.files) == 4


def test_convert_from_a_file_with_mapping(tmp_path):
    src = tmp_path / "m.csv"
    messy_frame().to_csv(src, index=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = leanops.convert(src, tmp_path / "m.parquet", case="Case", activity="Task", start="Begin", end="Done")
        direct = leanops.read(src, case="Case", activity="Task", start="Begin", end="Done")
    assert leanops.read(out).n_cases == direct.n_cases == 3
    with pytest.raises(InputError, match="exists"):
        leanops.convert(direct, out)
    leanops.convert(direct, out, overwrite=True)


def test_read_shares_arrow_string_buffers(tmp_path):
    log = leanops.datasets.load("production")
    out = leanops.convert(log, tmp_path / "p.parquet")
    back = leanops.read(out)
    assert str(back.df["case_id"].dtype) == "string" and back.df["case_id"].array._pa_array is not None
    assert list(back.df["activity"].cat.categories) == sorted(back.df["activity"].cat.categories)


@pytest.mark.parametrize("bad, named", [
    (pd.DataFrame({"case": ["1"], "activity": ["A"], "end": [T0]}), "case_id"),
    (pd.DataFrame({"case_id": ["1"], "activity": ["A"], "end": ["2024-01-01"]}), "end"),
    (pd.DataFrame({"case_id": ["1"], "activity": [3], "end": [T0]}), "activity"),
])
def test_wrong_schema_names_the_columns(tmp_path, bad, named):
    p = tmp_path / "bad.parquet"
    bad.to_parquet(p)
    with pytest.raises(InputError, match=named) as exc:
        leanops.scan(p)
    assert "\n" not in str(exc.value)
    with pytest.raises(InputError, match=named):
        leanops.discover(p)
    with pytest.raises(InputError, match=named):
        leanops.bottlenecks(str(p))


def test_scan_errors(tmp_path):
    with pytest.raises(InputError, match="not found"):
        leanops.scan(tmp_path / "missing.parquet")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no \\*.parquet"):
        leanops.scan(tmp_path / "empty")
    junk = tmp_path / "junk.parquet"
    junk.write_bytes(b"not parquet at all")
    with pytest.raises(InputError, match="not a readable Parquet"):
        leanops.scan(junk)
