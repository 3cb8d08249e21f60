"""Simulation from the current state: open cases continue with their ids, elapsed time and
attributes; busy resources stay busy; queues start as they are; forecasts over a horizon."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from conftest import DATASETS, assert_bad_input, run_leanops

import leanops
from leanops import simulate
from leanops.errors import InputError
from leanops.simulate import END, START, Activity, Arrivals, Distribution, Pool, Routing, SimulationModel
from leanops.simulate.forecast import horizon_counts

T = pd.Timestamp("2024-01-01 10:00", tz="UTC")  # the state's instant (a Monday)


def _log() -> leanops.EventLog:
    h = pd.Timedelta(hours=1)
    m = pd.Timedelta(minutes=1)
    rows = [
        # c1: finished before T
        ("c1", "A", T - 5 * h, T - 5 * h + 10 * m, "a0", "gold"),
        ("c1", "B", T - 4 * h, T - 3 * h, "x", "gold"),
        # c2: B in progress on x since T - 20 min (it will end after T)
        ("c2", "A", T - 2 * h, T - 2 * h + 10 * m, "a0", "silver"),
        ("c2", "B", T - 20 * m, T + 40 * m, "x", "silver"),
        # c3: A done at T - 30 min, waits for B
        ("c3", "A", T - 40 * m, T - 30 * m, "a0", "gold"),
        ("c3", "B", T + 2 * h, T + 3 * h, "x", "gold"),
    ]
    df = pd.DataFrame(rows, columns=["case_id", "activity", "start_time", "end_time", "resource", "tier"])
    return leanops.from_frame(df, case="case_id", activity="activity", start="start_time", end="end_time",
                              resource="resource")


def _model(b_size: int = 1) -> SimulationModel:
    return SimulationModel(
        activities=(Activity("A", "a", Distribution.fixed(600.0)), Activity("B", "b", Distribution.fixed(3600.0))),
        routing=(Routing(START, (("A", 1.0),)), Routing("A", (("B", 1.0),)), Routing("B", ((END, 1.0),))),
        pools=(Pool("a", ("a0",)), Pool("b", ("x",) + tuple(f"x{i}" for i in range(1, b_size)))),
        arrivals=Arrivals(Distribution.fixed(1e9)),  # one new case, at the start
        start=T,
    )


def test_current_state_reads_open_cases_from_the_log():
    st = simulate.current_state(_log(), model=_model(), at=T)
    assert st.closed == 1 and not st.inferred
    by = {c.case_id: c for c in st.open}
    assert set(by) == {"c2", "c3"}
    assert by["c2"].current == "B" and by["c2"].resource == "x" and by["c2"].last == "A"
    assert by["c2"].current_start == (T - pd.Timedelta(minutes=20)).value / 1e9
    assert by["c3"].current is None and by["c3"].last == "A"
    assert by["c3"].last_end == (T - pd.Timedelta(minutes=30)).value / 1e9
    assert by["c3"].attributes == {}  # the model carries no attributes
    with pytest.raises(InputError, match="after the log's first start"):
        simulate.current_state(_log(), model=_model(), at="2023-01-01")


def test_run_from_state_keeps_ids_busy_resources_and_the_queue():
    res = simulate.run(_model(), from_log=_log(), at=T, cases=1, seed=0)
    d = res.log.df.set_index(["case_id", "activity"])
    sec = pd.Timedelta(seconds=1)
    # c2's B took 20 of its 60 minutes already: x stays busy 40 more, from its real start
    assert abs(d.loc[("c2", "B"), "start"] - (T - pd.Timedelta(minutes=20))) < sec
    assert abs(d.loc[("c2", "B"), "end"] - (T + pd.Timedelta(minutes=40))) < sec
    # c3 was first in the queue for x: it starts when x is free, the new case after it
    assert abs(d.loc[("c3", "B"), "start"] - (T + pd.Timedelta(minutes=40))) < sec
    new = [c for c in res.log.case_ids if c not in ("c2", "c3")]
    assert len(new) == 1 and new[0].startswith("sim_")
    assert abs(d.loc[(new[0], "B"), "start"] - (T + pd.Timedelta(minutes=100))) < sec
    assert ("c3", "A") not in d.index  # history is not replayed
    c = res.cases.set_index("case_id")
    assert c.loc["c2", "open"] and not c.loc[new[0], "open"]
    assert c.loc["c3", "arrival"] == T - pd.Timedelta(minutes=40)  # elapsed time kept


def test_a_scenario_from_the_state_clears_the_queue_sooner():
    base = simulate.run(_model(1), from_log=_log(), at=T, cases=1, seed=0).log.df
    more = simulate.run(_model(2), from_log=_log(), at=T, cases=1, seed=0).log.df
    s3 = lambda d: d[(d.case_id == "c3") & (d.activity == "B")]["start"].iloc[0]  # noqa: E731
    assert s3(more) == T and s3(base) > T


def test_at_the_logs_end_open_cases_are_inferred_from_routing():
    log = _log().select_cases(["c1", "c3"])
    d = log.to_frame()
    d = d[~((d.case_id == "c3") & (d.activity == "B"))]
    cut = leanops.EventLog(d)
    st = simulate.current_state(cut, model=_model())
    assert st.inferred and [c.case_id for c in st.open] == ["c3"]  # after A, a case never ends


def test_horizon_counts_by_hand():
    at = 0.0
    cases = pd.DataFrame({
        "case_id": ["o1", "o2", "n1", "n2"],
        "arrival": pd.to_datetime([-5 * 86400, -1 * 86400, 1 * 86400, 6 * 86400], unit="s", utc=True),
        "completion": pd.to_datetime([2 * 86400, 9 * 86400, 3 * 86400, 8 * 86400], unit="s", utc=True),
        "open": [True, True, False, False],
    })
    h = horizon_counts(cases, at, 7 * 86400.0, 3 * 86400.0)
    # done within 7 days: o1, n1; in the system at day 7: o2, n2; SLA (3 d) due within the
    # horizon and missed: o2 (due day 2, done day 9); o1 was due at day -2, before it
    assert (h["completions"], h["wip"], h["sla_breaches"]) == (2, 2, 1)
    assert h["open"] == {"o1": 2 * 86400.0, "o2": 9 * 86400.0}


def test_compare_from_state_forecasts_with_intervals():
    cmp = simulate.compare(_model(), [{"name": "two", "changes": [{"add_resources": {"activity": "B", "count": 1}}]}],
                           replications=3, from_log=_log(), at=T, days=1, sla="2h", seed=0)
    fc = cmp.to_dict()["forecast"]
    assert set(fc) >= {"days", "completions", "wip", "sla_breaches", "open_cases"}
    assert fc["days"] == 1 and fc["open_at_start"] == 2
    # all three (c2, c3, the new one) finish within the day in every run: the model is fixed
    assert fc["completions"] == {"mean": 3.0, "low": 3.0, "high": 3.0}
    # c3 arrived at T - 40 min, due at T + 80 min, done at T + 100 min: a breach; the new
    # case arrived at T, due at T + 120 min, done at T + 160 min: another (c2 was due at T)
    assert fc["sla_breaches"]["mean"] == 2.0
    # a second x takes c3 at once (done T + 60) and the new case at T + 40 (done T + 100)
    assert fc["scenarios"][0]["sla_breaches"]["mean"] == 0.0
    oc = {c["case_id"]: c for c in fc["open_cases"]}
    assert oc["c3"]["remaining_s"]["mean"] == pytest.approx(100 * 60, abs=1)
    assert oc["c3"]["sla_breach_probability"] == 1.0


def test_cli_from_state(tmp_path):
    out = tmp_path / "sim.csv"
    res = run_leanops("simulate", DATASETS / "production.xes.gz", "--from-state", "--days", "5", "--replications", "2",
                      "--sla", "30d", "-o", out, "--json")
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    fc = doc["forecast"]
    assert fc["days"] == 5 and fc["sla_s"] == 30 * 86400
    for k in ("completions", "wip", "sla_breaches"):
        assert fc[k]["low"] <= fc[k]["mean"] <= fc[k]["high"]
    assert fc["open_cases"] and "baseline" in doc and "window" not in doc
    sim = pd.read_csv(out)
    ids = {c["case_id"] for c in fc["open_cases"]}
    assert ids <= set(sim["case_id"])  # open cases keep their ids
    log = leanops.read(DATASETS / "production.xes.gz")
    assert ids <= set(log.case_ids)
    model = tmp_path / "m.json"
    simulate.fit(log).save(model)
    assert_bad_input(run_leanops("simulate", model, "--from-state"), "needs a LOG")
    assert_bad_input(run_leanops("simulate", DATASETS / "production.xes.gz", "--at", "2012-03-01"), "--from-state")
    assert_bad_input(run_leanops("simulate", DATASETS / "production.xes.gz", "--from-state", "--sla", "soon"), "--sla")
