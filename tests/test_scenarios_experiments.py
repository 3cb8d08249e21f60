"""compare(): queueing-theory answers, common random numbers, Welch deltas, parallel = serial."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from leanops.errors import InputError, ScenarioError
from leanops.simulate import (
    END, START, Activity, Arrivals, Distribution, Pool, Routing, SimulationModel, apply_scenario, compare, run,
)
from leanops.simulate.experiments import _delta

MON = pd.Timestamp("2024-01-01", tz="UTC")


def mm1(ia: float = 600.0, service: float = 300.0, servers: int = 1) -> SimulationModel:
    return SimulationModel(
        activities=(Activity("Serve", "desk", Distribution.exponential(service)),),
        routing=(Routing(START, (("Serve", 1.0),)), Routing("Serve", ((END, 1.0),))),
        pools=(Pool("desk", tuple(f"d{i}" for i in range(servers))),),
        arrivals=Arrivals(Distribution.exponential(ia)),
        start=MON,
    )


def tandem() -> SimulationModel:
    return SimulationModel(
        activities=(
            Activity("A", "a", Distribution.exponential(300.0)),
            Activity("B", "b", Distribution("lognormal", (np.log(200.0), 0.5))),
            Activity("C", "a", Distribution.exponential(100.0)),
        ),
        routing=(Routing(START, (("A", 1.0),)), Routing("A", (("B", 0.6), ("C", 0.4))), Routing("B", ((END, 1.0),)),
                 Routing("C", ((END, 1.0),))),
        pools=(Pool("a", ("a0",)), Pool("b", ("b0",))),
        arrivals=Arrivals(Distribution.exponential(700.0)),
        start=MON,
    )


MORE = {"name": "one more", "changes": [{"add_resources": {"activity": "Serve", "count": 1}}]}


def test_mm1_to_mm2_matches_queueing_theory():
    # M/M/1, lambda = 1/600, mu = 1/300: W = 1 / (mu - lambda) = 600 s.
    # M/M/2: a = 0.5, rho = 0.25, Erlang C = (a^2/2)/(1-rho) / (1 + a + (a^2/2)/(1-rho)) = 0.1,
    # Wq = 0.1 / (2 mu - lambda) = 20 s, W = 320 s: relative change 320/600 - 1 = -0.4667.
    # a fixed warm-up (10%): the same window in both, so the same arrivals give the same throughput
    cmp = compare(mm1(), MORE, replications=6, cases=4000, seed=3, warmup=400)
    base = cmp.baseline["cycle_time_mean_s"]
    sc = cmp.scenarios[0]
    assert abs(base["mean"] - 600.0) < 0.08 * 600
    assert abs(sc["kpis"]["cycle_time_mean_s"]["mean"] - 320.0) < 0.05 * 320
    d = sc["delta"]["cycle_time_mean_s"]
    assert abs(d["relative"] - (320 / 600 - 1)) < 0.05
    assert d["ci_low"] < d["mean"] < d["ci_high"] < 0 and d["p_value"] < 0.01
    # utilisation halves (rho = 0.5 -> 0.25); throughput is demand, unchanged
    assert abs(base_u := cmp.baseline["utilization:desk"]["mean"] - 0.5) < 0.03, base_u
    assert abs(sc["kpis"]["utilization:desk"]["mean"] - 0.25) < 0.02
    assert abs(sc["delta"]["throughput_per_day"]["relative"]) < 1e-9  # same arrivals (CRN)
    # Little's law: WIP = lambda W
    assert abs(cmp.baseline["wip_mean"]["mean"] - 600 / 600) < 0.1


def test_common_random_numbers_keep_other_activities_draws():
    base = tandem()
    faster = apply_scenario(base, {"changes": [{"scale_duration": {"activity": "B", "factor": 0.5}}]})
    a = run(base, cases=800, seed=9).log.df
    b = run(faster, cases=800, seed=9).log.df
    assert a["case_id"].tolist() == b["case_id"].tolist() and a["activity"].tolist() == b["activity"].tolist()
    dur = lambda d: (d["end"] - d["start"]).dt.total_seconds().to_numpy()  # noqa: E731
    is_b = (a["activity"] == "B").to_numpy()
    # every B is exactly half as long, every A and C exactly as long: the same draws
    np.testing.assert_allclose(dur(b)[is_b], 0.5 * dur(a)[is_b], rtol=1e-6, atol=1e-3)
    np.testing.assert_allclose(dur(b)[~is_b], dur(a)[~is_b], rtol=1e-9, atol=1e-3)


def test_an_empty_scenario_has_exactly_zero_delta():
    cmp = compare(tandem(), {"name": "nothing", "changes": []}, replications=3, cases=300, seed=2)
    for k, d in cmp.scenarios[0]["delta"].items():
        assert d["mean"] == 0.0, k
    assert cmp.warmup == "auto" and cmp.window is not None  # steady state by default, as the CLI
    keys = cmp.baseline
    assert {"cycle_time_mean_s", "cycle_time_p90_s", "throughput_per_day", "wait_mean_s", "wip_mean",
            "utilization:a", "utilization:b", "wait:A", "wait:B", "wait:C"} <= set(keys)


def test_welch_delta_against_scipy():
    x = np.array([10.0, 12.0, 11.5, 9.0, 10.5])
    y = np.array([14.0, 15.5, 13.0, 16.0, 12.5, 15.0])
    d = _delta(x, y)
    t = stats.ttest_ind(x, y, equal_var=False)
    assert d["p_value"] == pytest.approx(t.pvalue, rel=1e-9)
    ci = t.confidence_interval(0.95)
    assert (d["ci_low"], d["ci_high"]) == pytest.approx((ci.low, ci.high), rel=1e-9)
    assert d["mean"] == pytest.approx(x.mean() - y.mean())
    assert d["relative"] == pytest.approx(x.mean() / y.mean() - 1)
    y5 = y[:5]
    d = _delta(x, y5)
    t = stats.ttest_rel(x, y5)
    assert d["p_value_paired"] == pytest.approx(t.pvalue, rel=1e-9)
    ci = t.confidence_interval(0.95)
    assert (d["ci_low_paired"], d["ci_high_paired"]) == pytest.approx((ci.low, ci.high), rel=1e-9)


def test_local_processes_give_the_serial_result():
    sc = [{"name": "fast B", "changes": [{"scale_duration": {"activity": "B", "factor": 0.5}}]},
          {"name": "more a", "changes": [{"add_resources": {"activity": "A", "count": 1}}]}]
    serial = compare(tandem(), sc, replications=3, cases=300, seed=4)
    par = compare(tandem(), sc, replications=3, cases=300, seed=4, jobs=2)
    pd.testing.assert_frame_equal(serial.runs, par.runs)
    assert serial.to_dict() == par.to_dict()


@pytest.mark.slow
def test_dask_local_cluster_gives_the_serial_result():
    distributed = pytest.importorskip("dask.distributed")
    sc = {"name": "more a", "changes": [{"add_resources": {"activity": "A", "count": 1}}]}
    serial = compare(tandem(), sc, replications=3, cases=300, seed=5)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        dk = compare(tandem(), sc, replications=3, cases=300, seed=5, scheduler=cluster.scheduler_address)
    pd.testing.assert_frame_equal(serial.runs, dk.runs)
    assert serial.to_dict() == dk.to_dict()


def test_until_runs_a_time_window_without_warmup():
    cmp = compare(mm1(), MORE, replications=2, until="20d", seed=8, warmup=0)
    assert cmp.warmup == 0 and cmp.cases is None
    # arrivals every 600 s on average: 86400 / 600 = 144 cases a day (a stable queue completes them all)
    assert abs(cmp.baseline["throughput_per_day"]["mean"] - 144.0) < 0.1 * 144
    assert cmp.scenarios[0]["delta"]["cycle_time_mean_s"]["mean"] < 0


def test_bad_arguments():
    with pytest.raises(InputError, match="not both"):
        compare(tandem(), [], cases=10, until="1d")
    with pytest.raises(InputError, match="warmup"):
        compare(tandem(), [], cases=10, warmup=10)
    with pytest.raises(ScenarioError, match="Did you mean 'B'"):
        compare(tandem(), {"changes": [{"automate": {"activity": "b "}}]}, cases=10)
    with pytest.raises(InputError, match="model must be a SimulationModel"):
        compare("model.json", [], cases=10)


def test_table_and_frame():
    cmp = compare(tandem(), {"name": "fast B", "changes": [{"scale_duration": {"activity": "B", "factor": 0.5}}]},
                  replications=3, cases=200, seed=6)
    text = cmp.table()
    assert "fast B" in text and "cycle_time_mean_s" in text and "[" in text
    f = cmp.to_frame()
    row = f[(f["scenario"] == "fast B") & (f["kpi"] == "cycle_time_mean_s")].iloc[0]
    assert row["relative"] < 0 and row["delta_ci_low"] <= row["delta_mean"] <= row["delta_ci_high"]


@pytest.mark.parametrize("words", ["2 weeks", "14 days", "336 hrs"])
def test_until_reads_every_form_of_the_one_duration_parser(words):
    # the horizon is told from an instant by the same parser that reads it ("2 weeks" was
    # taken for a timestamp and refused)
    got, ref = run(mm1(), until=words, seed=4), run(mm1(), until="14d", seed=4)
    assert len(got.log) == len(ref.log) > 0 and got.kpis == ref.kpis
