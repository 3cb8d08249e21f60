"""leanops fit / leanops simulate: the DESIGN.md JSON contract and bad input."""

from __future__ import annotations

import json

import pandas as pd
from conftest import DATASETS, assert_bad_input, run_leanops


def test_fit_then_simulate(tmp_path):
    model = tmp_path / "model.json"
    res = run_leanops("fit", DATASETS / "purchasing_example.csv.gz", "-o", model, "--json")
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert len(doc["activities"]) == 21 and doc["pools"] and doc["output"] == str(model)
    saved = json.loads(model.read_text())
    assert saved["format"] == "leanops.simulation_model" and saved["version"] == 2

    out = tmp_path / "sim.csv"
    res = run_leanops("simulate", model, "--cases", "60", "--replications", "3", "--seed", "4",
                      "--start", "2024-03-04T09:00:00Z", "-o", out, "--json")
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    kpis = doc["baseline"]["kpis"]
    for k in ("cycle_time_mean_s", "cycle_time_p90_s", "throughput_per_day", "wait_mean_s"):
        assert set(kpis[k]) == {"mean", "ci_low", "ci_high"}
        assert kpis[k]["ci_low"] <= kpis[k]["mean"] <= kpis[k]["ci_high"]
    assert any(k.startswith("utilization:") for k in kpis)
    assert doc["scenarios"] == []
    assert doc["start"].startswith("2024-03-04T09:00:00")
    sim = pd.read_csv(out)
    assert list(sim.columns[:5]) == ["case_id", "activity", "start_time", "end_time", "resource"]
    assert sim["case_id"].nunique() == 60
    # same seed, same numbers
    again = json.loads(run_leanops("simulate", model, "--cases", "60", "--replications", "3", "--seed", "4",
                                   "--start", "2024-03-04T09:00:00Z", "--json").stdout)
    assert again["baseline"] == doc["baseline"]


def test_simulate_a_log_directly():
    res = run_leanops("simulate", DATASETS / "production.xes.gz", "--cases", "30", "--replications", "2", "--json")
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["source"] == "log" and doc["cases"] == 30


def test_bad_model_file(tmp_path):
    bad = tmp_path / "m.json"
    bad.write_text(json.dumps({"format": "leanops.simulation_model", "version": 7}))
    assert_bad_input(run_leanops("simulate", bad, "--cases", "5"), "version")
    bad.write_text("{oops")
    assert_bad_input(run_leanops("simulate", bad, "--cases", "5"), "not valid JSON")


def test_bad_options(tmp_path):
    model = tmp_path / "model.json"
    assert run_leanops("fit", DATASETS / "purchasing_example.csv.gz", "-o", model).returncode == 0
    assert_bad_input(run_leanops("simulate", model, "--cases", "5", "--start", "yesterday-ish"), "--start")
    assert_bad_input(run_leanops("simulate", model, "--cases", "0"), "--cases")
    out = tmp_path / "missing" / "sim.csv"
    assert_bad_input(run_leanops("simulate", model, "--cases", "5", "-o", out), "does not exist")
    assert not out.exists()


def test_fit_recency_option(tmp_path):
    res = run_leanops("fit", DATASETS / "production.xes.gz", "--recency", "0.3", "--json")
    assert res.returncode == 0, res.stderr
    assert any("recent-weighted" in n or "recency" in n for n in json.loads(res.stdout)["notes"])
    assert_bad_input(run_leanops("fit", DATASETS / "production.xes.gz", "--recency", "lots"), "--recency")
