"""Scenario predictions against the ground-truth generator changed the same way.

The true effect of a change is measured by simulating the true process (tests/groundtruth.py,
independent of leanops) with and without the change over several seeds. leanops is fitted
on one baseline log of the true process only, the same change is applied as a scenario,
and the predicted relative change in mean cycle time must be within 10 percentage points
of the true one.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from groundtruth import Pool, Process, Step, generate

import leanops
from leanops import simulate

N = 2500
TRUTH_SEEDS = (11, 12, 13, 14)


def _log(df: pd.DataFrame) -> leanops.EventLog:
    return leanops.from_frame(df, case="case_id", activity="activity", start="start_time", end="end_time",
                              resource="resource")


def _mean_ct(res, warmup: int) -> float:
    """Mean cycle time as the log shows it (first start to last end: arrivals themselves are
    not in a log, so a fitted model's cases arrive when their first activity could start)."""
    g = res.log.groupby("case_id")
    ct = (g["end_time"].max() - g["start_time"].min()).dt.total_seconds()
    keep = res.cases.sort_values("arrival")["case_id"].iloc[warmup:]
    return float(ct.loc[keep].mean())


def true_relative_change(base: Process, changed: Process) -> float:
    """Mean over seeds of the true cycle time, changed over baseline, minus 1 (same seeds)."""
    warm = N // 10
    b = np.mean([_mean_ct(generate(base, N, seed=s), warm) for s in TRUTH_SEEDS])
    c = np.mean([_mean_ct(generate(changed, N, seed=s), warm) for s in TRUTH_SEEDS])
    return float(c / b - 1.0)


def predicted_relative_change(base: Process, change: dict, *, seed: int = 5) -> tuple[float, dict]:
    log = _log(generate(base, N, seed=seed).log)
    model = simulate.fit(log, seed=0)
    cmp = simulate.compare(model, {"name": "change", "changes": [change]}, replications=4, cases=N, seed=1,
                           start=log.start_time)
    d = cmp.scenarios[0]["delta"]["cycle_time_mean_s"]
    return d["relative"], d


def _proc(hours=None, ia=10.0, review=8.0, experts=1):
    return Process(
        steps=[Step("Triage", "clerks", 4), Step("Review", "experts", review), Step("Notify", "clerks", 2, prob=0.6)],
        pools={"clerks": Pool(2, hours=hours), "experts": Pool(experts, hours=hours)},
        interarrival=ia,
    )


def test_add_resources_24_7():
    base = _proc()
    truth = true_relative_change(base, _proc(experts=2))
    pred, d = predicted_relative_change(base, {"add_resources": {"activity": "Review", "count": 1}})
    assert truth < -0.3  # the planted under-capacity pool really constrains the flow
    assert abs(pred - truth) <= 0.10, (pred, truth)
    assert d["ci_high"] < 0 and d["p_value"] < 0.05


@pytest.mark.slow
def test_add_resources_office_hours():
    hours = (8, 17)
    base = _proc(hours=hours, ia=30.0, review=12.0, experts=2)
    truth = true_relative_change(base, _proc(hours=hours, ia=30.0, review=12.0, experts=3))
    pred, d = predicted_relative_change(base, {"add_resources": {"activity": "Review", "count": 1}})
    assert truth < -0.3
    assert abs(pred - truth) <= 0.10, (pred, truth)


def test_scale_duration():
    base = _proc()
    truth = true_relative_change(base, _proc(review=8.0 * 0.7))
    pred, _ = predicted_relative_change(base, {"scale_duration": {"activity": "Review", "factor": 0.7}})
    assert truth < -0.2
    assert abs(pred - truth) <= 0.10, (pred, truth)


def test_remove_activity():
    # a check in the middle of the process, on its own under-capacity pool (the first
    # activity is not removed: a log cannot show how long cases waited before it)
    base = Process(
        steps=[Step("Triage", "clerks", 4), Step("Check", "checkers", 7), Step("Review", "experts", 5),
               Step("Notify", "clerks", 2, prob=0.6)],
        pools={"clerks": Pool(2), "checkers": Pool(1), "experts": Pool(1)},
        interarrival=10,
    )
    no_check = dataclasses.replace(base, steps=[s for s in base.steps if s.activity != "Check"])
    truth = true_relative_change(base, no_check)
    pred, _ = predicted_relative_change(base, {"remove_activity": {"activity": "Check"}})
    assert truth < -0.2
    assert abs(pred - truth) <= 0.10, (pred, truth)
