"""The CSV reader streams the file in small blocks (bounded memory) and must give exactly
what one whole-file ``pyarrow.csv.read_csv`` gives: the same columns, types, missing values,
UTC instants and local-clock offset samples. Expected values come from that independent
read, from pandas, or from small hand-written files."""

from __future__ import annotations

import gzip

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

import leanops
import leanops.io as lio
from leanops._canonical import case_ranks
from leanops._normalize import offset_samples


def _multi_block_csv(path, n=6000, seed=3):
    """A CSV several times the 64 KB block: offsets that change with DST, missing markers,
    a naive time column and text, numbers and floats."""
    assert n * 60 > 4 * lio._CSV_BLOCK
    rng = np.random.default_rng(seed)
    t = pd.Timestamp("2024-03-01", tz="UTC") + pd.to_timedelta(np.sort(rng.integers(0, 60 * 86400, n)), unit="s")
    local = t.tz_convert("America/New_York")
    df = pd.DataFrame({
        "case_id": "C" + (np.arange(n) // 4).astype(str),
        "activity": rng.choice(["Register", "Check, stock", "Ship"], n),
        "time": local.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "noted": (t - pd.Timedelta(hours=1)).strftime("%Y-%m-%d %H:%M:%S"),
        "resource": rng.choice(["r1", "NA", "", "r2"], n),
        "cost": rng.integers(0, 500, n),
        "rate": rng.random(n).round(3),
    })
    df.to_csv(path, index=False)
    return df


def _whole_file(path):
    opts = pacsv.ConvertOptions(null_values=lio._NA_VALUES, strings_can_be_null=True)
    table = pacsv.read_csv(path, convert_options=opts)
    return table.to_pandas(types_mapper=lambda t: pd.StringDtype("pyarrow") if t == pa.string() else None)


def test_streamed_read_equals_one_whole_file_read(tmp_path):
    p = tmp_path / "log.csv"
    _multi_block_csv(p)
    got = lio._read_csv(p, sep=None)
    want = _whole_file(p)
    pd.testing.assert_frame_equal(got, want)
    assert isinstance(got["time"].dtype, pd.DatetimeTZDtype)
    assert got["resource"].isna().sum() == (want["resource"].isna()).sum() > 0


def test_offset_sample_taken_in_the_one_pass_equals_the_full_text(tmp_path, monkeypatch):
    p = tmp_path / "log.csv"
    src = _multi_block_csv(p)
    # no second pass: the offsets come from the streamed read itself
    monkeypatch.setattr(pacsv, "read_csv", lambda *a, **k: pytest.fail("the CSV was read a second time"))
    frame = lio._read_csv(p, sep=None)
    t_ns, off = frame.attrs["leanops_offsets"]["time"]
    want_t, want_off = offset_samples(src["time"], frame["time"])
    np.testing.assert_array_equal(t_ns, want_t)
    np.testing.assert_array_equal(off, want_off)
    assert set(off.tolist()) == {-300, -240}  # New York before and after 10 March
    # the same local zone as pandas' reader of the same text, through from_frame
    assert leanops.read(p, end="time").tz == leanops.from_frame(pd.read_csv(p), end="time").tz != "UTC"


def test_gzip_source_reads_like_the_streamed_plain_file(tmp_path):
    p = tmp_path / "log.csv"
    _multi_block_csv(p)
    gz = tmp_path / "log.csv.gz"
    gz.write_bytes(gzip.compress(p.read_bytes()))
    plain, packed = lio._read_csv(p, sep=None), lio._read_csv(gz, sep=None)
    pd.testing.assert_frame_equal(plain, packed)
    assert plain.attrs["leanops_offsets"].keys() == packed.attrs["leanops_offsets"].keys() == {"time"}


def test_a_type_that_changes_after_the_first_block_reads_as_pandas_does(tmp_path):
    # codes are numbers for the first blocks, then text: Arrow cannot keep the first
    # block's type, and the whole-file read takes over
    n = 20000
    codes = [str(i) for i in range(n - 3)] + ["A-1", "B-2", "C-3"]
    df = pd.DataFrame({"case": np.arange(n) // 5, "activity": "Work", "time": "2024-01-02T10:00:00", "code": codes})
    p = tmp_path / "late.csv"
    df.to_csv(p, index=False)
    got = lio._read_csv(p, sep=None)
    assert got["code"].tolist() == pd.read_csv(p, dtype={"code": str})["code"].tolist()
    log, ref = leanops.read(p), leanops.from_frame(pd.read_csv(p, dtype={"code": str}))
    assert log.df["code"].astype(str).tolist() == ref.df["code"].astype(str).tolist()
    assert len(log) == n


def test_an_unparsable_time_after_the_first_block_is_counted(tmp_path):
    n = 8000
    t = pd.date_range("2024-01-01", periods=n, freq="h", tz="Europe/Paris").strftime("%Y-%m-%dT%H:%M:%S%z").tolist()
    t[n - 2] = "not a time"
    p = tmp_path / "bad.csv"
    pd.DataFrame({"case": np.arange(n) // 4, "activity": "A", "time": t}).to_csv(p, index=False)
    log = leanops.read(p)
    assert log.quality.dropped == {"unparsable_end": 1}
    assert log.quality.rows_kept == n - 1
    assert log.tz == leanops.from_frame(pd.read_csv(p)).tz != "UTC"  # a year of Paris offsets, DST included


@pytest.mark.parametrize("seed", range(5))
def test_case_ranks_order_as_sorted_factorize(seed):
    rng = np.random.default_rng(seed)
    pool = np.array(["b", "a", "c", "é", "B", "a b", "10", "9", "", " ", "ß", "z\u0301"], dtype=object)
    v = pool[rng.integers(0, len(pool), 400)]
    v[rng.random(400) < 0.1] = None
    s = pd.Series(v, dtype="string[pyarrow]")
    got, want = case_ranks(s), pd.factorize(s, sort=True)[0]
    np.testing.assert_array_equal(np.argsort(got, kind="stable"), np.argsort(want, kind="stable"))
    np.testing.assert_array_equal(got[:, None] == got[None, :], want[:, None] == want[None, :])


def test_a_sorted_users_frame_is_not_shared_with_the_log():
    # already in canonical order, so the sort does not copy: the log must still hold its own arrays
    df = pd.DataFrame({"case": ["a", "a", "b"], "activity": ["x", "y", "x"],
                       "time": ["2024-01-01 10:00", "2024-01-01 11:00", "2024-01-01 12:00"], "cost": [1, 2, 3]})
    log = leanops.from_frame(df, case="case", end="time")
    df.loc[0, "cost"] = 99
    assert log.df["cost"].tolist() == [1, 2, 3]


def test_the_whitespace_trimmed_before_offsets_is_what_str_strip_removes():
    assert set(lio._WHITESPACE) == {chr(c) for c in range(0x110000) if chr(c).isspace()}
