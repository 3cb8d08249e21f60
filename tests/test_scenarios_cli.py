"""leanops simulate --scenario and leanops suggest: the DESIGN.md JSON shape, tables, bad input."""

from __future__ import annotations

import json

import pytest
from conftest import DATASETS, assert_bad_input, run_leanops

LOG = DATASETS / "purchasing_example.csv.gz"


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    path = tmp_path_factory.mktemp("m") / "model.json"
    res = run_leanops("fit", LOG, "-o", path)
    assert res.returncode == 0, res.stderr
    return path


def test_simulate_scenarios_json_follows_design_md(model, tmp_path):
    a = tmp_path / "a.yaml"
    a.write_text("name: more analysts\nchanges:\n  - add_resources: {activity: Analyze Request for Quotation, count: 2}\n")
    b = tmp_path / "b.yaml"
    b.write_text("changes:\n  - arrivals: {factor: 1.5}\n")
    res = run_leanops("simulate", model, "--scenario", a, "--scenario", b, "--cases", "1000", "--replications", "2",
                      "--jobs", "2", "--json")
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    base = doc["baseline"]["kpis"]
    for k in ("cycle_time_mean_s", "cycle_time_p90_s", "throughput_per_day", "wait_mean_s"):
        assert set(base[k]) == {"mean", "ci_low", "ci_high"}
    assert [s["name"] for s in doc["scenarios"]] == ["more analysts", "b"]
    for s in doc["scenarios"]:
        assert set(s["kpis"]) == set(base)
        for k, d in s["delta"].items():
            assert {"mean", "ci_low", "ci_high", "relative", "p_value"} <= set(d), k
    # 50% more demand: throughput up by half (the same arrival draws, scaled), but for the
    # cases still open when arrivals stop (cycle times of weeks, a window of ~2 years)
    thr = doc["scenarios"][1]["delta"]["throughput_per_day"]["relative"]
    assert 0.4 < thr < 0.6
    # the same run serially gives the same document
    again = run_leanops("simulate", model, "--scenario", a, "--scenario", b, "--cases", "1000", "--replications", "2",
                        "--json")
    assert json.loads(again.stdout)["scenarios"] == doc["scenarios"]


def test_simulate_scenario_table(model, tmp_path):
    a = tmp_path / "faster.yaml"
    a.write_text("name: faster analysis\nchanges:\n  - scale_duration: {activity: Analyze Request for Quotation, factor: 0.5}\n")
    res = run_leanops("simulate", model, "--scenario", a, "--cases", "100", "--replications", "2")
    assert res.returncode == 0, res.stderr
    assert "faster analysis" in res.stdout and "cycle_time_mean_s" in res.stdout and "95% CI" in res.stdout


def test_bad_scenarios_exit_2_with_one_line(model, tmp_path):
    a = tmp_path / "typo.yaml"
    a.write_text("changes:\n  - add_resources: {activity: Analyse Request for Quotation}\n")
    assert_bad_input(run_leanops("simulate", model, "--scenario", a, "--cases", "10"),
                     "unknown activity", "Analyze Request for Quotation")
    b = tmp_path / "sum.yaml"
    b.write_text("changes:\n  - set_routing: {from: Pay Invoice, to: {Send Invoice: 0.5}}\n")
    assert_bad_input(run_leanops("simulate", model, "--scenario", b, "--cases", "10"), "sum to 0.5")
    c = tmp_path / "broken.yaml"
    c.write_text("changes: [\n")
    assert_bad_input(run_leanops("simulate", model, "--scenario", c, "--cases", "10"), "not valid YAML")
    assert_bad_input(run_leanops("simulate", model, "--scenario", tmp_path / "none.yaml", "--cases", "10"), "none.yaml")
    assert_bad_input(run_leanops("simulate", model, "--cases", "10", "--scheduler", "tcp://127.0.0.1:9"), "127.0.0.1:9")


def test_suggest_json():
    res = run_leanops("suggest", LOG, "--replications", "2", "--cases", "150", "--cost-per-hour", "30", "--json")
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert set(doc["baseline"]["kpis"]["cycle_time_mean_s"]) == {"mean", "ci_low", "ci_high"}
    sug = doc["suggestions"]
    assert sug and [s["rank"] for s in sug] == list(range(1, len(sug) + 1))
    deltas = [s["delta_s"] for s in sug]
    assert deltas == sorted(deltas)
    cap = [s for s in sug if s["kind"] == "capacity"]
    assert cap and cap[0]["cost_per_week"] > 0
    assert_bad_input(run_leanops("suggest", LOG, "--value-added", "Pay Invoce"), "Did you mean", "Pay Invoice")
