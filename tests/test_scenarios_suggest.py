"""suggest(): candidates found from planted behaviour, simulated and ranked."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from groundtruth import Pool, Process, Step, generate

import leanops
from leanops import simulate
from leanops.simulate.suggest import candidates


def _log(df: pd.DataFrame) -> leanops.EventLog:
    return leanops.from_frame(df, case="case_id", activity="activity", start="start_time", end="end_time",
                              resource="resource")


@pytest.fixture(scope="module")
def planted():
    # experts are the under-capacity pool (utilisation ~0.85); Review is redone 25% of the
    # time; "Send notification" is a non-value-added step; rush cases are served last
    proc = Process(
        steps=[Step("Triage", "clerks", 4), Step("Review", "experts", 6, rework_prob=0.25),
               Step("Send notification", "clerks", 3)],
        pools={"clerks": Pool(2), "experts": Pool(1)},
        interarrival=9,
        attributes={"segment": lambda rng, a: "rush" if rng.random() < 0.3 else "normal"},
        priority=("segment", ["normal", "rush"]),
    )
    return _log(generate(proc, 2000, seed=3).log)


def test_suggestions_from_planted_behaviour(planted):
    s = simulate.suggest(planted, replications=3, cases=1500, seed=2, costs={"Review": 50.0})
    f = s.to_frame()
    by_kind = {k: g.iloc[0] for k, g in f.groupby("kind")}
    assert {"capacity", "rework", "waste", "priority"} <= set(by_kind)
    cap = by_kind["capacity"]
    assert cap["name"] == "one more resource for Review"
    assert cap["ci_high"] < 0 and cap["p_value"] < 0.05  # a real improvement
    assert cap["cost_per_week"] == pytest.approx(50.0 * 168)  # a 24/7 pool: 168 h a week
    assert by_kind["rework"]["name"] == "half the rework into Review" and by_kind["rework"]["relative"] < 0
    assert "Send notification" in by_kind["waste"]["name"]
    assert "segment=rush" in by_kind["priority"]["name"]
    # ranked by the change in mean cycle time, best first; capacity at the saturated pool wins
    assert list(f["rank"]) == list(range(1, len(f) + 1))
    assert f["delta_s"].is_monotonic_increasing
    assert f.iloc[0]["kind"] == "capacity"
    assert "why" in f.columns and cap["why"].startswith("top bottleneck")
    assert "one more resource for Review" in s.table()
    doc = s.to_dict()
    assert doc["suggestions"][0]["delta"]["cycle_time_mean_s"]["mean"] == pytest.approx(f.iloc[0]["delta_s"])


def test_value_added_steps_are_never_removed(planted):
    model = simulate.fit(planted, seed=0)
    c = candidates(planted, model,
                                                   value_added=["Triage", "Review", "Send notification"])
    assert all(x.kind != "waste" for x in c)
    c = candidates(planted, model, value_added=["Review", "Send notification"])
    assert {x.scenario.name for x in c if x.kind == "waste"} == {"automate Triage", "remove Triage"}


def test_suggest_rejects_what_is_not_a_log():
    with pytest.raises(leanops.InputError, match="EventLog"):
        simulate.suggest(pd.DataFrame())


def test_hours_shifted_to_when_work_arrives():
    # Prep works 06-14, Review 10-18: Review's work arrives from 06:00, four hours before it opens
    proc = Process(steps=[Step("Prep", "early", 5), Step("Review", "late", 8)],
                   pools={"early": Pool(2, hours=(6, 14)), "late": Pool(2, hours=(10, 18))}, interarrival=20)
    log = _log(generate(proc, 1500, seed=4).log)
    model = simulate.fit(log, seed=0)
    [shift] = [c for c in candidates(log, model) if c.kind == "hours"]
    assert shift.scenario.name == "shift Review's hours by -4h"
    assert shift.scenario.changes[0].get("hours").startswith("Mon 06:00-14:00")
    cmp = simulate.compare(model, shift.scenario, replications=2, cases=800, seed=1)
    assert cmp.scenarios[0]["delta"]["cycle_time_mean_s"]["relative"] < -0.2
