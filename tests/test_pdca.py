"""leanops.compare, the PDCA Check, on ground truth (tests/groundtruth_sop.py): one more server
from a known day is recovered within 10 points; a drop in arrivals alone is not reported as an
improvement once adjusted; predicted against actual from a simulate --json document."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import leanops
from leanops.cli import main
from leanops.errors import InputError
from leanops.pdca import compare

from groundtruth_sop import capacity_change_log


@pytest.fixture(scope="module")
def change():
    cc = capacity_change_log(seed=11)
    return cc, leanops.from_frame(cc.log)


@pytest.fixture(scope="module")
def decoy():
    cc = capacity_change_log(seed=12, decoy=True)
    return cc, leanops.from_frame(cc.log)


def test_one_more_server_is_recovered_within_10_points(change):
    cc, log = change
    res = compare(log, change_at=cc.change_at, n_boot=100, seed=0)
    ct = res.kpis["cycle_time_mean_s"]
    assert cc.true_relative < -0.2  # the planted change matters
    assert abs(ct["relative"] - cc.true_relative) <= 0.10
    assert ct["p_value"] < 0.01 and ct["ci_high"] < 0
    assert res.adjusted
    # arrivals did not change: no significant shift is reported
    assert res.kpis["arrivals_per_day"]["p_value"] > 0.01
    # waiting fell, and contention is where it fell
    assert res.kpis["wait_contention_s"]["delta"] < 0
    assert set(res.to_frame()["kpi"]) >= {"cycle_time_mean_s", "cycle_time_p90_s", "throughput_per_day", "wait_mean_s"}


def test_two_logs_give_the_same_as_change_at(change):
    cc, log = change
    t0 = log.df.groupby("case_id", observed=True)["start"].min()
    before_ids = t0.index[t0 < cc.change_at]
    b = log.select_cases(before_ids)
    a = log.select_cases(t0.index[t0 >= cc.change_at])
    one = compare(log, change_at=cc.change_at, n_boot=50, seed=1)
    two = compare(b, a, n_boot=50, seed=1)
    for k in ("cycle_time_mean_s", "cycle_time_median_s"):
        assert two.kpis[k]["before"] == pytest.approx(one.kpis[k]["before"])


def test_decoy_quieter_period_is_not_a_win(decoy):
    cc, log = decoy
    assert cc.true_relative == pytest.approx(0.0)  # nothing changed in the process
    raw = compare(log, change_at=cc.change_at, adjust=False, n_boot=100)
    assert raw.significant("cycle_time_mean_s") and raw.kpis["cycle_time_mean_s"]["delta"] < 0  # the naive reading
    adj = compare(log, change_at=cc.change_at, n_boot=100)
    assert adj.adjusted
    assert not (adj.significant("cycle_time_mean_s") and adj.kpis["cycle_time_mean_s"]["delta"] < 0)
    assert adj.kpis["arrivals_per_day"]["relative"] < -0.2
    assert any("arrivals" in n for n in adj.notes)


def test_case_mix_is_reweighted():
    # two case types; the slow type is rare after the "change", the process is unchanged
    rng = np.random.default_rng(0)
    rows = []
    for i in range(800):
        after = i >= 400
        kind = "complex" if rng.random() < (0.2 if after else 0.6) else "simple"
        t = pd.Timestamp("2024-01-01", tz="UTC") + pd.Timedelta(hours=3 * i)
        dur = rng.exponential(20 if kind == "complex" else 2) * 3600
        rows.append((f"c{i}", "A", t, t + pd.Timedelta(minutes=5), "r", kind))
        rows.append((f"c{i}", "B", t + pd.Timedelta(minutes=5), t + pd.Timedelta(seconds=300 + dur), "r", kind))
    df = pd.DataFrame(rows, columns=["case_id", "activity", "start_time", "end_time", "resource", "kind"])
    log = leanops.from_frame(df)
    at = pd.Timestamp("2024-01-01", tz="UTC") + pd.Timedelta(hours=3 * 400)
    raw = compare(log, change_at=at, adjust=False, n_boot=100)
    adj = compare(log, change_at=at, n_boot=100)
    assert raw.significant() and raw.kpis["cycle_time_mean_s"]["relative"] < -0.3
    assert abs(adj.kpis["cycle_time_mean_s"]["relative"]) < abs(raw.kpis["cycle_time_mean_s"]["relative"]) / 2


def test_predicted_against_actual(change, tmp_path):
    cc, log = change
    res0 = compare(log, change_at=cc.change_at, n_boot=10)
    actual = res0.kpis["cycle_time_mean_s"]["after"]
    sim = {"baseline": {"kpis": {"cycle_time_mean_s": {"mean": 2 * actual, "ci_low": 0, "ci_high": 0}}},
           "scenarios": [{"name": "one more", "kpis": {"cycle_time_mean_s": {"mean": 0.8 * actual},
                                                       "throughput_per_day": {"mean": 30.0}},
                          "delta": {"cycle_time_mean_s": {"mean": -1, "relative": -0.6}}}]}
    p = tmp_path / "sim.json"
    p.write_text(json.dumps(sim))
    res = compare(log, change_at=cc.change_at, predicted=p, n_boot=10)
    pr = res.predicted["cycle_time_mean_s"]
    assert pr["predicted"] == pytest.approx(0.8 * actual)
    assert pr["actual"] == pytest.approx(actual)
    assert pr["error"] == pytest.approx(0.2 * actual)
    assert pr["predicted_relative"] == -0.6
    assert "predicted" in res.to_dict() and "predicted" not in res0.to_dict()
    with pytest.raises(InputError, match="simulate --json"):
        compare(log, change_at=cc.change_at, predicted={"kpis": {}})


def test_cli_compare_json(change, tmp_path, capsys):
    cc, _ = change
    logp = tmp_path / "log.csv"
    cc.log.to_csv(logp, index=False)
    main(["compare", str(logp), "--change-at", cc.change_at.isoformat(), "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert set(doc) >= {"kpis", "adjusted"} and "predicted" not in doc
    k = doc["kpis"]["cycle_time_mean_s"]
    assert set(k) == {"before", "after", "delta", "relative", "ci_low", "ci_high", "p_value"}
    assert abs(k["relative"] - cc.true_relative) <= 0.10
    with pytest.raises(SystemExit) as exc:
        main(["compare", str(logp), "--change-at", "not a date"])
    assert exc.value.code == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_bad_arguments():
    log = leanops.datasets.load("production")
    with pytest.raises(InputError, match="either two logs"):
        compare(log)
    with pytest.raises(InputError, match="at least 2 cases"):
        compare(log, change_at="2030-01-01")
