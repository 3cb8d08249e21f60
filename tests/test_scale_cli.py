"""CLI: leanops convert, and the mining commands on Parquet (DuckDB) and with --scheduler."""

from __future__ import annotations

import json
import time

import pytest

from conftest import DATASETS, assert_bad_input, run_leanops


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "prod"
    res = run_leanops("convert", DATASETS / "production.xes.gz", out, "--partitions", "2", "--json")
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["files"] == 2 and doc["events"] == 4953 and doc["cases"] == 225
    assert set(doc["quality"]) >= {"rows_read", "rows_kept", "dropped"}
    return out


def test_discover_and_bottlenecks_on_parquet_match_the_source(converted):
    for cmd in (["discover"], ["bottlenecks"], ["valuestream"]):
        a = run_leanops(*cmd, DATASETS / "production.xes.gz", "--json")
        b = run_leanops(*cmd, converted, "--json")
        c = run_leanops(*cmd, converted, "--json", "--engine", "pandas")
        assert a.returncode == b.returncode == c.returncode == 0, (b.stderr, c.stderr)
        ja, jb, jc = (json.loads(x.stdout) for x in (a, b, c))
        assert ja.keys() == jb.keys()
        assert ja == jc
        key = {"discover": "edges", "bottlenecks": "bottlenecks", "valuestream": "steps"}[cmd[0]]
        assert [r.get("activity", (r.get("source"), r.get("target"))) for r in ja[key]] == \
               [r.get("activity", (r.get("source"), r.get("target"))) for r in jb[key]]
        for ra, rb in zip(ja[key], jb[key]):
            for k, v in ra.items():
                if isinstance(v, float):
                    assert v == pytest.approx(rb[k], rel=1e-9, abs=1e-6), (cmd, k)
                elif isinstance(v, dict) and any(isinstance(x, float) for x in v.values()):
                    # e.g. wait_causes_s: seconds summed in another order by the DuckDB engine
                    assert v.keys() == rb[k].keys(), (cmd, k)
                    for kk, x in v.items():
                        assert x == pytest.approx(rb[k][kk], rel=1e-9, abs=1e-6), (cmd, k, kk)
                else:
                    assert v == rb[k], (cmd, k)


def test_unreachable_scheduler_exit_2_one_line(converted):
    t = time.monotonic()
    res = run_leanops("discover", converted, "--scheduler", "tcp://127.0.0.1:1")
    assert time.monotonic() - t < 20  # includes interpreter start-up
    assert_bad_input(res, "tcp://127.0.0.1:1")


def test_engine_on_a_csv_asks_for_conversion(tmp_path):
    res = run_leanops("bottlenecks", DATASETS / "purchasing_example.csv.gz", "--engine", "duckdb")
    assert_bad_input(res, "leanops convert")


def test_convert_refuses_to_overwrite(converted):
    res = run_leanops("convert", DATASETS / "production.xes.gz", converted)
    assert_bad_input(res, "exists")
