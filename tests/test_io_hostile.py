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


# ----------------------------------------------------------------- limits, in bounded subprocesses
BOUNDED = r"""
import resource, runpy, sys
limit = int(sys.argv[1])
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
sys.argv = ["leanops", *sys.argv[2:]]
runpy.run_module("leanops", run_name="__main__", alter_sys=True)
"""


def run_bounded(*args, mem_mb: int = 1500):
    """The CLI in a subprocess whose address space is capped: a blow-up fails, not swaps."""
    import subprocess
    import sys

    from conftest import cli_env

    return subprocess.run([sys.executable, "-c", BOUNDED, str(mem_mb << 20), *map(str, args)],
                          capture_output=True, text=True, env=cli_env(), timeout=120)


def test_csv_gzip_bomb_is_refused_within_memory(tmp_path):
    import gzip

    p = tmp_path / "bomb.csv.gz"
    row = b"1,a,2024-01-01T10:00:00\n" * 50_000
    with gzip.open(p, "wb", compresslevel=9) as fh:
        fh.write(b"case_id,activity,time\n")
        for _ in range(70):  # 84 MB of text in well under 1 MB
            fh.write(row)
    res = run_bounded("info", p)
    assert_bad_input(res, "gzip bomb", "max_gzip_ratio")


def test_xes_gzip_bomb_is_refused(tmp_path, monkeypatch):
    import gzip

    import leanops.io

    monkeypatch.setattr(leanops.io, "_GZIP_FLOOR", 1 << 20)  # a small bomb for a quick test
    p = tmp_path / "bomb.xes.gz"
    ev = b'<event><string key="concept:name" value="a"/><date key="time:timestamp" value="2024-01-01T10:00:00"/></event>'
    with gzip.open(p, "wb", compresslevel=9) as fh:
        fh.write(b'<log><trace><string key="concept:name" value="1"/>' + ev * 40_000 + b"</trace></log>")
    assert p.stat().st_size * 100 < 4_000_000
    with pytest.raises(InputError, match="gzip bomb.*max_gzip_ratio"):
        leanops.read(p)
    assert len(quiet_read(p, max_gzip_ratio=10_000)) == 40_000  # raising the limit reads it


def test_wide_csv_and_many_xes_attributes_are_refused_within_memory(tmp_path):
    wide = tmp_path / "wide.csv"
    names = ["case_id", "activity", "time"] + [f"c{i}" for i in range(50_000)]
    wide.write_text(",".join(names) + "\n" + ",".join(["1", "a", "2024-01-01"] + ["x"] * 50_000) + "\n")
    assert_bad_input(run_bounded("info", wide), "50,003 columns", "max_columns", "LEANOPS_MAX_COLUMNS")
    xes = tmp_path / "attrs.xes"
    xes.write_text('<log><trace><string key="concept:name" value="1"/><event><string key="concept:name" value="a"/>'
                   '<date key="time:timestamp" value="2024-01-01T10:00:00"/>'
                   + "".join(f'<string key="k{i}" value="v"/>' for i in range(100_000)) + "</event></trace></log>")
    assert_bad_input(run_bounded("info", xes), "100,002 attributes", "max_attributes")


def test_raised_column_limit_reads_a_wide_log(tmp_path, monkeypatch):
    n = 3000
    p = tmp_path / "wide.csv"
    rows = [",".join(["case_id", "activity", "time"] + [f"a{i}" for i in range(n)])]
    rows += [",".join([str(c), "x", f"2024-01-0{c + 1}T10:00:00"] + [str(c)] * n) for c in range(3)]
    p.write_text("\n".join(rows) + "\n")
    with pytest.raises(InputError, match="3,003 columns.*max_columns"):
        leanops.read(p)
    monkeypatch.setenv("LEANOPS_MAX_COLUMNS", "5000")
    log = leanops.read(p)
    assert len(log.attributes) == n and log.df["a2999"].tolist() == [0, 1, 2]
    with pytest.raises(InputError, match="max_columns= must be a positive number"):
        leanops.read(p, max_columns=-1)


# ------------------------------------------------------------------- partitioned Parquet folders
def test_partition_folders_read_the_same_rows_in_memory_and_in_duckdb(tmp_path, leanops_cli):
    import shutil

    src = leanops.datasets.load("production")
    out = leanops.convert(src, tmp_path / "parts", partitions=4)
    deep = out / "year=2024" / "month=01"
    deep.mkdir(parents=True)
    shutil.move(out / "part-00003.parquet", deep / "part-00003.parquet")  # two levels down
    assert leanops.read(out).n_cases == src.n_cases == 225
    assert leanops.discover(leanops.scan(out)).n_cases == 225
    # a copy of a partition would count its cases twice: refused, in both readers
    shutil.copy(out / "part-00001.parquet", deep / "part-00001.parquet")
    for reader in (leanops.read, leanops.scan):
        with pytest.raises(InputError, match="partition 1 is in two files"):
            reader(out)
    (deep / "part-00001.parquet").unlink()
    # a missing partition is said in the quality report, with the counts that remain
    removed = out / "part-00000.parquet"
    removed.unlink()
    log = leanops.read(out)
    assert any("3 of the 4" in w for w in log.quality.warnings)
    assert any("3 of the 4" in w for w in leanops.scan(out).quality.warnings)
    # a foreign Parquet file among the partitions
    src.df.head(3).to_parquet(out / "other.parquet")
    assert_bad_input(leanops_cli("info", out), "not a partition of this log")


def test_parquet_metadata_that_lies_is_one_line_in_memory_and_lazily(tmp_path, leanops_cli):
    import json

    import pyarrow.parquet as pq

    out = leanops.convert(leanops.datasets.path("production"), tmp_path / "c.parquet")
    t = pq.read_table(out)
    meta = json.loads(t.schema.metadata[b"leanops"])
    for name, change, words in (("quality", {"quality": {"dropped": [1, 2]}}, "corrupt"),
                                ("zone", {"tz": "Mars/Olympus"}, "Mars/Olympus")):
        p = tmp_path / f"{name}.parquet"
        pq.write_table(t.replace_schema_metadata({b"leanops": json.dumps({**meta, **change}).encode()}), p)
        with pytest.raises(InputError, match=words):
            leanops.read(p)
        assert_bad_input(leanops_cli("discover", p, "--json"), words)  # the DuckDB path
