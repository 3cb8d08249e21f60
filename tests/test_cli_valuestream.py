"""`leanops valuestream` and `leanops bottlenecks`: the DESIGN.md JSON contract, values on a
hand-built CSV, the map file, and the bad-input contract."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from conftest import DATASETS, assert_bad_input, run_leanops

ROWS = [  # case, activity, start (h after Monday 2024-01-01 10:00), end, resource
    ("c1", "A", 0, 1, "r1"), ("c1", "B", 2, 4, "r2"), ("c1", "C", 5, 5.5, "r1"),
    ("c2", "A", 1, 2, "r1"), ("c2", "B", 4, 5, "r2"), ("c2", "C", 6, 7, "r1"),
]
H = 3600.0


@pytest.fixture(scope="module")
def small_csv(tmp_path_factory):
    base = pd.Timestamp("2024-01-01 10:00", tz="UTC")
    df = pd.DataFrame(
        [{"case_id": c, "activity": a, "start_time": (base + pd.Timedelta(hours=s)).isoformat(),
          "end_time": (base + pd.Timedelta(hours=e)).isoformat(), "resource": r} for c, a, s, e, r in ROWS]
    )
    p = tmp_path_factory.mktemp("vs") / "small.csv"
    df.to_csv(p, index=False)
    return p


def test_valuestream_json_contract_and_values(small_csv):
    res = run_leanops("valuestream", small_csv, "--calendar", "24/7", "--json")
    assert res.returncode == 0, res.stderr
    d = json.loads(res.stdout)
    for k in ("lead_time_mean_s", "processing_time_mean_s", "waiting_time_mean_s", "pce", "throughput_per_day",
              "takt_time_s", "wip_mean", "steps"):
        assert k in d, k
    assert d["lead_time_mean_s"] == 5.75 * H
    assert d["processing_time_mean_s"] == 3.25 * H
    assert d["waiting_time_mean_s"] == 2.5 * H
    assert d["pce"] == pytest.approx(6.5 / 11.5)
    assert d["takt_time_s"] == pytest.approx(3.5 * H)
    assert d["wip_mean"] == pytest.approx(11.5 / 7)
    steps = {s["activity"]: s for s in d["steps"]}
    assert set(steps) == {"A", "B", "C"}
    for s in d["steps"]:
        assert {"activity", "processing_mean_s", "waiting_mean_s", "share_of_lead_time", "value_added"} <= set(s)
    assert steps["B"]["share_of_lead_time"] == pytest.approx(6 / 11.5)


def test_valuestream_value_added_option(small_csv):
    res = run_leanops("valuestream", small_csv, "--value-added", "B", "--calendar", "24/7", "--json")
    assert res.returncode == 0, res.stderr
    d = json.loads(res.stdout)
    assert d["pce"] == pytest.approx(3 / 11.5)
    assert {s["activity"]: s["value_added"] for s in d["steps"]} == {"A": False, "B": True, "C": False}


def test_valuestream_text_and_plot(small_csv, tmp_path):
    out = tmp_path / "map.svg"
    res = run_leanops("valuestream", small_csv, "--plot", out)
    assert res.returncode == 0, res.stderr
    assert "PCE" in res.stdout and "lead time" in res.stdout
    assert out.read_text().lstrip().startswith("<?xml")


def test_bottlenecks_json_contract(small_csv):
    res = run_leanops("bottlenecks", small_csv, "--json")
    assert res.returncode == 0, res.stderr
    d = json.loads(res.stdout)
    rows = d["bottlenecks"]
    assert [r["rank"] for r in rows] == [1, 2, 3]
    for r in rows:
        assert {"rank", "activity", "score", "wait_mean_s", "wait_share", "service_mean_s", "utilization", "evidence"} <= set(r)
    scores = [r["score"] for r in rows]
    assert scores == sorted(scores, reverse=True)
    b = {r["activity"]: r for r in rows}
    assert b["B"]["wait_mean_s"] == 1.5 * H


def test_bottlenecks_on_completion_only_log_flags_estimates():
    res = run_leanops("bottlenecks", DATASETS / "helpdesk.xes.gz", "--json", "--top", "3")
    assert res.returncode == 0, res.stderr
    d = json.loads(res.stdout)
    assert d["starts_estimated"] == 1.0
    assert len(d["bottlenecks"]) == 3


def test_bottlenecks_text_on_demo_log():
    res = run_leanops("bottlenecks", "--top", "2")
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith(" 1. ")


@pytest.mark.parametrize(
    "args, fragment",
    [
        (("valuestream", "{csv}", "--value-added", "Bee"), "Bee"),
        (("valuestream", "{csv}", "--calendar", "Mon-Fry 08:00-17:00"), "Fry"),
        (("valuestream", "{csv}", "--time", "wall"), "wall"),
        (("valuestream", "{csv}", "--value-added", ","), "value-added"),
        (("valuestream", "{csv}", "--plot", "map.gif"), "map.gif"),
        (("bottlenecks", "{csv}", "--calendar", "Mon 25:00-26:00"), "25:00"),
        (("bottlenecks", "missing.csv"), "missing.csv"),
        (("bottlenecks", "{csv}", "--top", "0"), "top"),
    ],
)
def test_bad_input(small_csv, tmp_path, args, fragment):
    res = run_leanops(*[a.format(csv=small_csv) for a in args], cwd=tmp_path)
    assert_bad_input(res, fragment)
    assert not list(tmp_path.iterdir())  # no partial output left behind
