"""Resources: pools, utilisation (hand-built and against the generator's true load),
handoffs and multitasking."""

from __future__ import annotations

import pandas as pd
import pytest

import leanops
from leanops import Calendar, InputError, discover_pools, handoffs, multitasking, utilization
from groundtruth import Pool, Process, Step, generate
from test_performance import SEQ, H, make_log


def test_utilization_hand_worked():
    # r1 works 0-2 h and 1-3 h (overlap counts once: 3 h busy) and 8-10 h; the span is 0-10 h
    rows = [("c1", "A", 0, 2, "r1"), ("c1", "B", 8, 10, "r1"), ("c2", "A", 1, 3, "r1"), ("c2", "B", 4, 5, "r2")]
    u = utilization(make_log(rows), by="resource", calendar=Calendar.always()).set_index("resource")
    assert u.loc["r1", "busy_s"] == 5 * H
    assert u.loc["r1", "available_s"] == 10 * H
    assert u.loc["r1", "utilization"] == pytest.approx(0.5)
    assert u.loc["r2", "utilization"] == pytest.approx(0.1)


def test_utilization_counts_working_time_only():
    # Monday 2024-01-01 10:00 + hours; r works Mon 16:00 -> Tue 10:00 = 2 working hours (09-17)
    rows = [("c", "A", 0, 2, "r"), ("c", "B", 6, 24, "r")]
    u = utilization(make_log(rows), by="resource", calendar="Mon-Fri 09:00-17:00").set_index("resource")
    # span Mon 10:00 - Tue 10:00: 7 + 1 = 8 working hours; busy 2 + 2 = 4
    assert u.loc["r", "busy_s"] == 4 * H
    assert u.loc["r", "available_s"] == 8 * H
    assert u.loc["r", "utilization"] == pytest.approx(0.5)


def test_utilization_per_pool_calendar_dict():
    rows = [("c1", "A", 0, 2, "r1"), ("c2", "A", 1, 3, "r2"), ("c3", "A", 4, 5, "r1")]
    u = utilization(make_log(rows), by="resource", calendar={"r2": "24/7", "r1": Calendar.always()})
    assert set(u["calendar"]) == {"24/7"}
    with pytest.raises(InputError, match="calendar"):
        utilization(make_log(rows), calendar=42)
    with pytest.raises(InputError, match="by must be one of"):
        utilization(make_log(rows), by="team")


def test_handoffs_hand_worked():
    h = handoffs(make_log(SEQ))
    got = {(r.source, r.target): (r.count, r.cases, r.wait_mean_s) for r in h.itertuples()}
    # c1: r1 -(1 h)-> r2 -(1 h)-> r1; c2: r1 -(2 h)-> r2 -(1 h)-> r1
    assert got == {("r1", "r2"): (2, 2, 1.5 * H), ("r2", "r1"): (2, 2, 1 * H)}


def test_multitasking_hand_worked():
    rows = [("c1", "A", 0, 2, "r1"), ("c2", "A", 1, 3, "r1"), ("c3", "A", 1.5, 2.5, "r1"), ("c4", "A", 4, 5, "r1"),
            ("c5", "A", 0, 1, "r2"), ("c6", "A", 1, 2, "r2")]
    m = multitasking(make_log(rows)).set_index("resource")
    assert m.loc["r1", "overlapping"] == 2
    assert m.loc["r1", "max_concurrent"] == 3
    # processing 2 + 2 + 1 + 1 = 6 h; busy at all 0-3 and 4-5 = 4 h
    assert m.loc["r1", "overlap_s"] == 2 * H
    assert m.loc["r2", "overlapping"] == 0  # back to back is not overlap
    assert m.loc["r2", "max_concurrent"] == 1
    assert m.index[0] == "r1"


# ------------------------------------------------------------- ground truth
def _process(hours=None, batch=None):
    f = 1.0 if hours is None else 45 / 168  # share of the week that is working time
    ia = 10.0
    steps = [Step("Register", "desk", 2, cv=0.3), Step("Check", "checkers", 0.55 * 3 * ia * f),
             Step("Review", "reviewers", 0.9 * 2 * ia * f), Step("Approve", "approvers", 0.5 * 2 * ia * f)]
    pools = {"desk": Pool(3, hours), "checkers": Pool(3, hours), "reviewers": Pool(2, hours), "approvers": Pool(2, hours)}
    if batch is not None:
        steps.append(Step("Ship", "shippers", 0.2 * 3 * ia * f, batch_hour=batch))
        pools["shippers"] = Pool(3, hours)
    return Process(steps=steps, pools=pools, interarrival=ia)


@pytest.mark.parametrize("hours, batch", [(None, None), ((8, 17), None), (None, 10.0), ((8, 17), 10.0)])
def test_utilization_matches_generator_truth(hours, batch):
    res = generate(_process(hours, batch), n_cases=1200, seed=4)
    log = leanops.from_frame(res.log)
    pools = discover_pools(log)
    # the planted pools are found, named after their members
    assert dict(zip(pools["resource"], pools["pool"])) == {r: r.rsplit("_", 1)[0] for r in pools["resource"]}
    u = utilization(log).set_index("pool")
    assert set(u.index) == set(res.utilization)
    for pool, truth in res.utilization.items():
        assert u.loc[pool, "utilization"] == pytest.approx(truth, abs=0.05), pool
    if hours is not None:
        assert set(u["calendar"]) == {"Mon-Fri 08:00-17:00"}


def test_utilization_by_resource_sums_to_pool():
    res = generate(_process(), n_cases=500, seed=1)
    log = leanops.from_frame(res.log)
    r = utilization(log, by="resource")
    p = utilization(log).set_index("pool")
    busy = r.groupby("pool")["busy_s"].sum()
    pd.testing.assert_series_equal(busy.sort_index(), p["busy_s"].sort_index(), check_names=False)
    assert (r.groupby("pool").size().sort_index() == p["members"].sort_index()).all()


def test_pool_calendars_option():
    # work reaches the 24/7 intake pool round the clock, so both shifts are observable
    proc = Process(
        steps=[Step("Intake", "agents", 20), Step("Review", "clerks", 10)],
        pools={"agents": Pool(3), "clerks": Pool(3, hours=(9, 15))},
        interarrival=10,
    )
    res = generate(proc, n_cases=1500, seed=2)
    log = leanops.from_frame(res.log)
    u = utilization(log, calendar="pool").set_index("pool")
    assert u.loc["clerks", "calendar"] == "Mon-Fri 09:00-15:00"
    assert Calendar.parse(u.loc["agents", "calendar"]).weekly_hours >= 160
    for pool, truth in res.utilization.items():
        assert u.loc[pool, "utilization"] == pytest.approx(truth, abs=0.05), pool


@pytest.mark.parametrize("calendar", [Calendar.always(), "Mon-Fri 09:00-17:00", None])
def test_utilization_of_a_saturated_multitasking_resource_is_one(calendar):
    # r holds two overlapping instances over the whole span: fully busy, not twice busy
    rows = [("c1", "A", 0, 30, "r"), ("c2", "A", 0, 30, "r"), ("c3", "A", 10, 12, "s")]
    u = utilization(make_log(rows), by="resource", calendar=calendar).set_index("resource")
    assert u.loc["r", "busy_s"] == u.loc["r", "available_s"] > 0
    assert u.loc["r", "utilization"] == 1.0


@pytest.mark.parametrize("name", [d["name"] for d in leanops.datasets.list()])
def test_utilization_within_zero_and_one_on_every_bundled_log(name):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        log = leanops.datasets.load(name)
    for calendar in (None, "pool", "Mon-Fri 09:00-17:00"):
        for by in ("resource", "pool"):
            u = utilization(log, by=by, calendar=calendar)["utilization"].dropna()
            assert ((u >= 0) & (u <= 1)).all(), (calendar, by, u.max())
