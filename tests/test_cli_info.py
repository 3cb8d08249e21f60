"""`leanops info` and `leanops datasets`, and the bad-input corpus of the CLI contract."""

from __future__ import annotations

import gzip
import json

import pytest

import leanops

from conftest import DATASETS, assert_bad_input, run_leanops

from test_io import EXPECTED


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_info_json_shape_on_every_bundled_log(name):
    cases, instances, activities, has_start = EXPECTED[name]
    res = run_leanops("info", leanops.datasets.path(name), "--json")
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    for key in ("cases", "events", "activities", "resources", "start", "end", "has_start_times", "quality"):
        assert key in doc
    for key in ("rows_read", "rows_kept", "dropped", "warnings"):
        assert key in doc["quality"]
    assert (doc["cases"], doc["events"], doc["activities"], doc["has_start_times"]) == (cases, instances, activities, has_start)
    assert doc["start"].endswith("+00:00")


def test_info_reports_helpdesk_duplicates_as_a_warning():
    res = run_leanops("info", DATASETS / "helpdesk.xes.gz", "--json")
    doc = json.loads(res.stdout)
    assert any("127 exact duplicate" in w for w in doc["quality"]["warnings"])
    res = run_leanops("info", DATASETS / "helpdesk.xes.gz", "--json", "--dedupe")
    doc = json.loads(res.stdout)
    assert doc["quality"]["dropped"] == {"duplicate": 127}
    assert doc["events"] == 21348 - 127


def test_info_table_and_demo_default():
    res = run_leanops("info")
    assert res.returncode == 0, res.stderr
    assert "activity instances  4,953" in res.stdout
    assert "production.xes.gz" in res.stdout


def test_datasets_command_lists_sources():
    res = run_leanops("datasets", "--json")
    doc = json.loads(res.stdout)
    names = {d["name"] for d in doc["datasets"]}
    assert {"production", "bpic2012_w", "helpdesk"} <= names
    assert all(d["licence"] for d in doc["datasets"])


def test_mapping_options_are_applied(tmp_path):
    p = tmp_path / "odd.csv"
    p.write_text("ticket,what,done,who\nT1,open,2024-01-01 08:00,a\nT1,close,2024-01-01 09:00,b\n")
    res = run_leanops("info", p, "--case", "ticket", "--activity", "what", "--timestamp", "done", "--resource", "who", "--tz", "Europe/Paris", "--json")
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["cases"] == 1 and doc["resources"] == 2
    assert doc["start"] == "2024-01-01T07:00:00+00:00"


# ----------------------------------------------------------- the bad-input corpus


def _xes_ok() -> str:
    return (DATASETS / "production.xes.gz").read_bytes()


BAD = {
    "empty.csv": (b"", "empty"),
    "binary.csv": (bytes(range(256)) * 10, "binary"),
    "notime.csv": (b"case_id,activity,resource\n1,a,x\n1,b,y\n", "no timestamp (end/complete time) column found"),
    "garbage.csv": (b"case_id,activity,timestamp\n1,a,foo\n1,b,bar\n2,a,???\n", "could be parsed"),
    "malformed.xes": (b"<?xml version='1.0'?><log><trace><event><string key='concept:name' value='a'></trace></log>", "not well-formed"),
    "entity.xes": (
        b"<?xml version='1.0'?><!DOCTYPE log [<!ENTITY x SYSTEM 'file:///etc/passwd'>]>"
        b"<log><trace><string key='concept:name' value='&x;'/><event><string key='concept:name' value='a'/>"
        b"<date key='time:timestamp' value='2024-01-01T00:00:00Z'/></event></trace></log>",
        "entities",
    ),
    "noevents.xes": (b"<?xml version='1.0'?><log><trace></trace></log>", "no <event>"),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_input_corpus(tmp_path, name):
    content, fragment = BAD[name]
    p = tmp_path / name
    p.write_bytes(content)
    res = run_leanops("info", p, "--json")
    assert_bad_input(res, fragment, name)
    if name == "entity.xes":
        assert "root:" not in res.stderr and "root:" not in res.stdout


def test_truncated_gzip(tmp_path):
    data = (DATASETS / "production.xes.gz").read_bytes()
    p = tmp_path / "cut.xes.gz"
    p.write_bytes(data[: len(data) // 2])
    assert_bad_input(run_leanops("info", p), "truncated or corrupt gzip")
    c = tmp_path / "cut.csv.gz"
    c.write_bytes(gzip.compress(gzip.decompress((DATASETS / "purchasing_example.csv.gz").read_bytes()))[:-200])
    assert_bad_input(run_leanops("info", c), "truncated or corrupt gzip")


def test_wrong_case_column_lists_available_columns():
    res = run_leanops("info", DATASETS / "purchasing_example.csv.gz", "--case", "nope")
    assert_bad_input(res, "'nope' not found", "available columns", "'case_id'", "'start_time'")


def test_directory_and_missing_file(tmp_path):
    assert_bad_input(run_leanops("info", tmp_path), "is a directory")
    assert_bad_input(run_leanops("info", tmp_path / "missing.csv"), "file not found")


def test_usage_errors_are_one_line():
    res = run_leanops("info", "--no-such-option")
    assert_bad_input(res, "no such option")
    res = run_leanops("nosuchcommand")
    assert_bad_input(res, "no such command")


def test_bad_encoding_separator_and_time_zone(tmp_path):
    p = tmp_path / "latin.csv"
    p.write_bytes("case_id,activity,timestamp\n1,Café,2024-01-01 10:00\n1,b,2024-01-01 11:00\n".encode("latin-1"))
    assert_bad_input(run_leanops("info", p), "is not utf-8 text", "--encoding")
    ok = run_leanops("info", p, "--encoding", "latin-1", "--json")
    assert ok.returncode == 0 and json.loads(ok.stdout)["events"] == 2
    assert_bad_input(run_leanops("info", p, "--sep", "||"), "sep must be one character")
    assert_bad_input(run_leanops("info", DATASETS / "production.xes.gz", "--tz", "Mars/Phobos"), "tz must be a time zone")


def test_output_files_are_complete_and_readable_by_others(tmp_path):
    import os
    import stat

    out = tmp_path / "map.svg"
    res = run_leanops("discover", DATASETS / "purchasing_example.csv.gz", "-o", out)
    assert res.returncode == 0, res.stderr
    assert out.stat().st_mode & stat.S_IROTH
    assert sorted(os.listdir(tmp_path)) == ["map.svg"]  # no temporary file left behind
    assert_bad_input(run_leanops("fit", DATASETS / "purchasing_example.csv.gz", "-o", tmp_path), "is a folder")
