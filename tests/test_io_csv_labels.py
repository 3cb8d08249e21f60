"""The CSV reader hands text columns whose values repeat (labels) to normalising as
categoricals (codes per run of blocks, dictionaries unified once) to bound memory. The log must be exactly the one the
plain read gives: ``leanops.read`` is held to ``from_frame`` of the unencoded frame of the
same file (the read before this change), dtypes, quality report and local zone included."""

from __future__ import annotations

import gzip
import warnings

import numpy as np
import pandas as pd
import pytest

import leanops
import leanops.io as lio
from leanops.errors import DataQualityWarning, InputError


def _plain(p, **options):
    """The log from the unencoded frame: Arrow strings for every text column."""
    frame = lio._read_csv(p, sep=None)
    assert "leanops_labels" not in frame.attrs
    return leanops.from_frame(frame, source=str(p), **options)


def _assert_same(p, **options):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            want = _plain(p, **options)
        except InputError as exc:
            with pytest.raises(InputError) as got:
                leanops.read(p, **options)
            assert str(got.value) == str(exc)
            return None
        got = leanops.read(p, **options)
    pd.testing.assert_frame_equal(got.df, want.df, check_exact=True)
    for c in got.df.columns:
        assert type(got.df[c].array) is type(want.df[c].array), c
    assert got.df["activity"].cat.categories.dtype == want.df["activity"].cat.categories.dtype
    assert got.quality.to_dict() == want.quality.to_dict()
    assert got.tz == want.tz
    return got


def _labels_csv(path, n=9000, seed=11, sep=","):
    """Several 64 KB blocks; labels first seen in late blocks, blanks, ``NA`` markers, ids
    written as floats, a lifecycle with a status, duplicate rows, day-granularity text
    dates, a low-cardinality text attribute and one unique per row."""
    assert n * 50 > 4 * lio._CSV_BLOCK
    rng = np.random.default_rng(seed)
    case = (np.arange(n) // 6).astype(object)
    case = np.where(case % 5 == 0, np.char.add(case.astype(str), ".0"), case.astype(str)).astype(object)
    case[rng.random(n) < 0.01] = "  "
    act = rng.choice(["Register", "Check, stock", " Ship", "NA", ""], n).astype(object)
    act[n - 500:] = "Late activity"
    lc = np.tile(["start", "complete"], n // 2).astype(object)
    lc[rng.random(n) < 0.01] = "suspend"
    t = pd.Timestamp("2024-01-01") + pd.to_timedelta(np.arange(n) * 7 + rng.integers(0, 3, n), unit="min")
    df = pd.DataFrame({
        "case": case, "activity": act, "lifecycle:transition": lc,
        "time": t.strftime("%Y-%m-%d %H:%M:%S"),
        "due": (t + pd.Timedelta(days=3)).strftime("%d/%m/%Y"),
        "resource": np.where(np.arange(n) > n - 300, "latecomer", rng.choice(["r1", "r2", "10.0", "10", "null"], n)),
        "channel": rng.choice(["web", "phone", "é-mail"], n),
        "ticket": [f"T{i}" for i in range(n)],
    })
    df = pd.concat([df, df.iloc[100:130]], ignore_index=True)  # exact duplicates
    df.to_csv(path, index=False, sep=sep)
    return df


def test_label_columns_come_as_categoricals_with_every_block_label(tmp_path):
    p = tmp_path / "log.csv"
    src = _labels_csv(p)
    frame = lio._read_csv(p, sep=None, compact=True)
    plain = lio._read_csv(p, sep=None)
    assert frame.attrs["leanops_labels"] == {"case", "activity", "lifecycle:transition", "due", "resource", "channel"}
    assert list(frame.columns) == list(src.columns)
    for c in frame.attrs["leanops_labels"]:
        assert isinstance(frame[c].dtype, pd.CategoricalDtype)
        assert frame[c].cat.categories.is_unique
        # the same values and missing values as the plain read, labels of late blocks too
        assert frame[c].astype("string[pyarrow]").equals(plain[c]), c
    assert frame["ticket"].dtype == plain["ticket"].dtype == "string[pyarrow]"  # unique per row: not encoded
    assert "Late activity" in set(frame["activity"].cat.categories)


@pytest.mark.parametrize("run_bytes", [1 << 22, 3000])
def test_labels_encoded_in_many_runs_equal_one_run(tmp_path, monkeypatch, run_bytes):
    # small runs: every label column gets a dictionary per few blocks, unified at the end
    p = tmp_path / "log.csv"
    _labels_csv(p)
    monkeypatch.setattr(lio, "_LABEL_RUN_BYTES", run_bytes)
    table, _ = lio._arrow_csv(p, ",", "utf-8", compact=True)
    runs, blocks = table.column("activity").num_chunks, table.column("ticket").num_chunks  # ticket: text, a chunk per block
    assert blocks > 4
    assert runs == (blocks if run_bytes < 10000 else 1)
    _assert_same(p)
    _assert_same(p, dedupe=True, lifecycle="classifier")


@pytest.mark.parametrize("options", [
    {}, {"dedupe": True}, {"lifecycle": "ignore"}, {"lifecycle": "classifier"}, {"tz": "America/New_York"},
    {"end": "due", "resource": "channel"}, {"case": "channel", "activity": "resource"},
    {"activity": "due", "start": "due"},  # a label column that is also a time column
])
def test_read_equals_the_log_of_the_unencoded_frame(tmp_path, options):
    p = tmp_path / "log.csv"
    _labels_csv(p)
    log = _assert_same(p, **options)
    if options == {}:  # hand-checkable: the attributes are text as before, the status dropped
        assert log.df["channel"].dtype == log.df["ticket"].dtype == "string[pyarrow]"
        assert log.df["due"].dtype == "string[pyarrow]"
        assert "lifecycle:suspend" in log.quality.dropped and "Late activity" in set(log.df["activity"])


def test_gzip_and_semicolon_reads_equal_the_unencoded_log(tmp_path):
    p = tmp_path / "log.csv"
    _labels_csv(p, sep=";")
    gz = tmp_path / "log.csv.gz"
    gz.write_bytes(gzip.compress(p.read_bytes()))
    # a gzip file is read whole, not streamed (nothing encoded): the same log as the plain file's
    assert "leanops_labels" not in lio._read_csv(gz, sep=None, compact=True).attrs
    with pytest.warns(DataQualityWarning):  # the planted blanks and statuses are dropped, both times
        pd.testing.assert_frame_equal(leanops.read(gz).df, leanops.read(p).df)
    _assert_same(gz)
    _assert_same(p)


def test_statuses_refused_alike(tmp_path):
    p = tmp_path / "status.csv"
    df = _labels_csv(p)
    df["lifecycle:transition"] = np.where(np.arange(len(df)) % 2, "In Progress", "Resolved")
    df.to_csv(p, index=False)
    assert _assert_same(p) is None  # every row dropped: the same error, suggesting the modes
    _assert_same(p, lifecycle="classifier")


@pytest.mark.parametrize("name", [d["name"] for d in leanops.datasets.list() if str(leanops.datasets.path(d["name"])).endswith((".csv", ".csv.gz"))])
def test_bundled_csv_reads_equal_the_unencoded_log(name, tmp_path):
    src = leanops.datasets.path(name)
    _assert_same(src)
    if str(src).endswith(".gz"):  # a gzip file is read whole: its plain text takes the streamed, encoded read
        plain = tmp_path / "log.csv"
        plain.write_bytes(gzip.decompress(src.read_bytes()))
        assert lio._read_csv(plain, sep=None, compact=True).attrs["leanops_labels"]
        _assert_same(plain)


@pytest.mark.parametrize("options", [{"end": "when"}, {"activity": "when", "end": "when"}])
def test_an_encoded_end_time_keeps_its_offsets(tmp_path, options):
    # text times Arrow does not parse, few distinct: dictionary-encoded, read as the end
    # time (and the activity); their +01:00 offsets must still give the local zone
    n = 3000
    days = pd.date_range("2024-01-01", periods=20, freq="D").strftime("%d.%m.%Y %H:%M +0100")
    p = tmp_path / "when.csv"
    pd.DataFrame({"case": np.arange(n) // 3, "activity": "A", "when": np.asarray(days)[np.arange(n) % 20]}).to_csv(p, index=False)
    assert lio._read_csv(p, sep=None, compact=True).attrs["leanops_labels"] == {"activity", "when"}
    log = _assert_same(p, **options)
    assert log.tz == "Etc/GMT-1"


def test_case_ids_of_a_time_sorted_export_are_labels(tmp_path):
    # four rows a case, interleaved as a time-sorted export interleaves open cases: the
    # first block's case ids are mostly distinct, and the column is still a label
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    rng = np.random.default_rng(4)
    n = 40000
    case = np.arange(n) // 4
    for lo in range(0, n, 16000):  # each window of 4,000 cases in random order
        rng.shuffle(case[lo:lo + 16000])
    t = pd.Timestamp("2024-01-01") + pd.to_timedelta(np.arange(n), unit="min")
    p = tmp_path / "sorted.csv"
    pd.DataFrame({"case": np.char.add("case-", case.astype(str)), "activity": rng.choice(["a", "b", "c"], n),
                  "time": t.strftime("%Y-%m-%dT%H:%M:%S")}).to_csv(p, index=False)
    first = pacsv.open_csv(p, read_options=pacsv.ReadOptions(block_size=lio._CSV_BLOCK)).read_next_batch()
    share = pc.count_distinct(first.column("case")).as_py() / first.num_rows
    assert 0.5 < share < lio._LABEL_SHARE
    assert "case" in lio._read_csv(p, sep=None, compact=True).attrs["leanops_labels"]
    _assert_same(p)
