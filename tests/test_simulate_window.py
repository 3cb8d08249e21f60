"""Run windows: calendars learnt from too little evidence, the default start, fit's trust
statement, steady-state KPIs (MSER-5 warm-up, drain left out) and --days."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import assert_bad_input, run_leanops
from groundtruth_sim import one_day_claims

from leanops import simulate
from leanops.cli import cli
from leanops.simulate import END, START, Activity, Arrivals, Distribution, Pool, Routing, SimulationModel
from leanops.simulate.engine import mser5

MON = pd.Timestamp("2024-01-01", tz="UTC")  # a Monday
OFFICE = tuple((d * 86400 + 8 * 3600, d * 86400 + 17 * 3600) for d in range(5))


def single(ia: float, service: float, *, servers: int = 1, intervals=((0, 604800),), start=MON) -> SimulationModel:
    return SimulationModel(
        activities=(Activity("A", "p", Distribution.exponential(service)),),
        routing=(Routing(START, (("A", 1.0),)), Routing("A", ((END, 1.0),))),
        pools=(Pool("p", tuple(f"r{i}" for i in range(servers)), intervals),),
        arrivals=Arrivals(Distribution.exponential(ia)),
        start=start,
    )


def test_one_day_calendar_falls_back_to_24_7_and_the_baseline_is_sane():
    log = one_day_claims()
    ct_log = float(log.df.groupby("case_id", observed=True)["end"].max().sub(
        log.df.groupby("case_id", observed=True)["start"].min()).dt.total_seconds().mean())
    with pytest.warns(UserWarning, match=r"too little evidence.*pools .* 24/7"):
        model = simulate.fit(log, seed=0)
    assert all(p.hours == "24/7" for p in model.pools)
    assert model.trust["ok"] and 0.5 <= model.trust["ratio"] <= 2.0
    assert model.trust["log_cycle_time_mean_s"] == pytest.approx(ct_log, rel=1e-6)
    # the trap: the log ends on a Monday afternoon; without the fallback every case would
    # wait for next Monday 09:00 (days, not minutes)
    res = simulate.run(model, cases=200, seed=1)
    assert res.kpis["cycle_time_mean_s"] < 3 * ct_log


def test_calendars_24_7_by_request_raises_no_calendar_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        simulate.fit(one_day_claims(), seed=0, calendars="24/7")


def test_a_trapped_model_is_flagged_by_its_trust_statement():
    # a calendar of one Monday forced on the model: the baseline is far from the log's
    log = one_day_claims()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = simulate.fit(log, seed=0)
    mon = ((9 * 3600, 15 * 3600),)
    trapped = model.with_pool(model.pools[0].name, intervals=mon)
    for p in model.pools[1:]:
        trapped = trapped.with_pool(p.name, intervals=mon)
    from leanops.simulate.fit import _trust

    with pytest.warns(UserWarning, match="far from the log"):
        t = _trust(trapped, model.trust["log_cycle_time_mean_s"], log.n_cases, 0)
    assert not t["ok"] and t["ratio"] > 10
    doc = json.loads(trapped.__class__.from_dict({**trapped.to_dict(), "trust": t}).to_json())
    assert doc["trust"]["ok"] is False and "far from" in doc["trust"]["statement"]


def test_a_sparse_pool_takes_the_logs_hours_and_is_named():
    rng = np.random.default_rng(3)
    rows = []
    # two weeks of office work by pool x; pool y works on a single afternoon only
    for day in range(12):
        d0 = pd.Timestamp("2024-01-01", tz="UTC") + pd.Timedelta(days=day)
        if d0.dayofweek >= 5:
            continue
        for k in range(30):
            s = d0 + pd.Timedelta(hours=8) + pd.Timedelta(seconds=float(rng.uniform(0, 8 * 3600)))
            rows.append((f"c{day}_{k}", "A", s, s + pd.Timedelta(minutes=10), "x"))
    for k in range(5):
        s = pd.Timestamp("2024-01-03 14:00", tz="UTC") + pd.Timedelta(minutes=20 * k)
        rows.append((f"c2_{k}", "B", s + pd.Timedelta(hours=1), s + pd.Timedelta(hours=1, minutes=5), "y"))
    import leanops

    df = pd.DataFrame(rows, columns=["case_id", "activity", "start_time", "end_time", "resource"])
    log = leanops.from_frame(df, case="case_id", activity="activity", start="start_time", end="end_time", resource="resource")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = simulate.fit(log, seed=0, delays=False)
    py = model.pool_of("B")
    px = model.pool_of("A")
    # the log's hours: x's weekday office hours plus y's one afternoon hour
    assert py.intervals != ((0, 604800),) and set(px.intervals) - set(py.intervals) <= {(201600, 230400)}
    assert sum(b - a for a, b in py.intervals) >= sum(b - a for a, b in px.intervals)
    assert any("use the log's working hours" in n and py.name in n for n in model.notes)


def test_default_start_lands_on_a_working_time():
    sat = pd.Timestamp("2024-01-06 12:00", tz="UTC")
    res = simulate.run(single(600.0, 60.0, intervals=OFFICE, start=sat), cases=5, seed=0)
    assert res.cases["arrival"].iloc[0] == pd.Timestamp("2024-01-08 08:00", tz="UTC")
    # an explicit start is taken as given
    res = simulate.run(single(600.0, 60.0, intervals=OFFICE, start=sat), cases=5, seed=0, start=sat)
    assert res.cases["arrival"].iloc[0] == sat


def test_mser5_finds_a_planted_ramp_and_flags_a_drift():
    rng = np.random.default_rng(0)
    y = np.r_[np.linspace(0, 50, 100), 50 + rng.normal(0, 5, 900)]
    d, ok = mser5(y)
    assert ok and 80 <= d <= 120
    d, ok = mser5(np.linspace(0, 100, 500))  # never settles
    assert not ok
    assert mser5(np.full(300, 7.0)) == (0, True)


def test_auto_warmup_measures_steady_state_of_an_mm1():
    # M/M/1 at load 0.6: steady-state mean sojourn 1/(mu - lambda) = 150 s, and throughput
    # = the arrival rate (86400/100 a day); an empty start and the drain bias both
    model = single(100.0, 60.0)
    res = simulate.run(model, cases=20000, seed=5, warmup="auto")
    assert "warnings" not in res.stats
    w = res.stats["window"]
    assert set(w) == {"start", "end", "warmup_s", "cases_counted"}
    assert w["cases_counted"] == res.log.n_cases and w["warmup_s"] >= 0
    assert res.kpis["cycle_time_mean_s"] == pytest.approx(150.0, rel=0.1)
    assert res.kpis["throughput_per_day"] == pytest.approx(864.0, rel=0.05)
    assert res.stats["wip_mean"] == pytest.approx(1.5, rel=0.15)  # L = rho / (1 - rho)
    assert res.kpis["utilization:p"] == pytest.approx(0.6, rel=0.05)


def test_a_short_window_is_warned_about():
    with pytest.warns(UserWarning, match="too short|no steady state"):
        simulate.run(single(100.0, 95.0), cases=60, seed=1, warmup="auto")


def test_cli_simulate_days_and_window(tmp_path):
    path = tmp_path / "m.json"
    single(600.0, 300.0).save(path)
    r = CliRunner().invoke(cli, ["simulate", str(path), "--days", "20", "--replications", "2", "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    w = doc["window"]
    assert set(w) >= {"start", "end", "warmup_s", "cases_counted"}
    span_days = (pd.Timestamp(w["end"]) - pd.Timestamp(doc["start"])).total_seconds() / 86400
    assert 19 < span_days <= 20
    assert doc["days"] == 20 and "cycle_time_mean_s" in doc["baseline"]["kpis"]
    # about 144 arrivals a day, minus the warm-up
    assert 0.8 * 144 * 20 < w["cases_counted"] + 1 + w["warmup_s"] / 600 < 1.2 * 144 * 20
    assert_bad_input(run_leanops("simulate", path, "--days", "5", "--cases", "10"), "not both")
    assert_bad_input(run_leanops("simulate", path, "--warmup", "soon"), "--warmup")
