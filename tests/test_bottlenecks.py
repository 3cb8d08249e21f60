"""Bottlenecks against ground truth: the under-capacity pool's activity ranks first, over a
merely long step and over a step that waits longer for a daily batch release; rework on
hand-built logs."""

from __future__ import annotations

import pytest

import leanops
from leanops import bottlenecks, rework
from groundtruth import Pool, Process, Step, generate
from test_performance import H, make_log

STEPS = ("Check", "Review", "Approve")


def _process(constrained: str, hours=None, batch: float | None = None) -> Process:
    """Register -> Check -> Review -> Approve -> Inspect (-> Ship).

    ``constrained`` gets a load of 0.95 on its pool, the others 0.55. Inspect is merely
    long: the longest service, but a big pool. Register comes first because the wait
    before a case's first step is not in a log (arrivals are not recorded). With
    ``batch``, Ship is released once a day at that hour, so it waits longer than anything
    else while its pool sits idle most of the day.
    """
    f = 1.0 if hours is None else 45 / 168  # share of the week that is working time
    ia = 10.0
    steps = [Step("Register", "desk", 2, cv=0.3)]
    pools = {"desk": Pool(3, hours)}
    for act, k in (("Check", 3), ("Review", 2), ("Approve", 2)):
        load = 0.95 if act == constrained else 0.55
        steps.append(Step(act, act.lower() + "_team", load * k * ia * f))
        pools[act.lower() + "_team"] = Pool(k, hours)
    steps.append(Step("Inspect", "inspectors", 0.5 * 12 * ia * f, cv=0.3))
    pools["inspectors"] = Pool(12, hours)
    if batch is not None:
        steps.append(Step("Ship", "shippers", 0.2 * 4 * ia * f, batch_hour=batch))
        pools["shippers"] = Pool(4, hours)
    return Process(steps=steps, pools=pools, interarrival=ia)


def _run(constrained, hours=None, batch=None, seed=3):
    res = generate(_process(constrained, hours, batch), n_cases=1500, seed=seed)
    return bottlenecks(leanops.from_frame(res.log)), res


@pytest.mark.parametrize("hours", [None, (8, 17)], ids=["24/7", "office"])
@pytest.mark.parametrize("constrained", STEPS)
def test_under_capacity_pool_ranks_first(constrained, hours):
    b, res = _run(constrained, hours)
    assert b.loc[0, "activity"] == constrained, b[["activity", "score", "wait_share", "contention", "utilization"]]
    top = b.iloc[0]
    assert top["pool"] == constrained.lower() + "_team"
    assert top["utilization"] == pytest.approx(res.utilization[top["pool"]], abs=0.05)
    assert top["contention"] > 0.8
    # the merely long step (longest service of all) does not outrank it
    inspect = b.set_index("activity").loc["Inspect"]
    assert inspect["service_mean_s"] == b["service_mean_s"].max()
    assert inspect["rank"] > 1
    # (issue 12: the sentence moved from ``evidence``, now the evidence level, to ``finding``)
    assert top["evidence"] == "measured" and top["capacity_bound"]
    assert "busy during those waits" in top["finding"] and constrained in top["finding"]


@pytest.mark.parametrize("hours", [None, (8, 17)], ids=["24/7", "office"])
@pytest.mark.parametrize("constrained", ["Check", "Approve"])
def test_batch_release_wait_does_not_outrank_capacity(constrained, hours):
    b, res = _run(constrained, hours, batch=10.0)
    s = b.set_index("activity")
    # the variant is meaningful: Ship waits longer than the constrained step...
    assert s.loc["Ship", "wait_mean_s"] > 2 * s.loc[constrained, "wait_mean_s"]
    assert s.loc["Ship", "wait_share"] > s.loc[constrained, "wait_share"]
    # ...while its pool is mostly idle
    assert res.utilization["shippers"] < 0.3
    assert b.loc[0, "activity"] == constrained, b[["activity", "score", "wait_share", "contention", "utilization"]]
    assert s.loc["Ship", "contention"] < 0.5
    assert "not from capacity" in s.loc["Ship", "finding"] and not s.loc["Ship", "capacity_bound"]


def test_contract_columns_and_ranks():
    b, _ = _run("Review")
    assert list(b.columns[:8]) == ["rank", "activity", "score", "wait_mean_s", "wait_share", "service_mean_s",
                                   "utilization", "evidence"]
    assert list(b["rank"]) == list(range(1, len(b) + 1))
    assert b["score"].is_monotonic_decreasing
    assert b["wait_share"].sum() == pytest.approx(1.0)
    assert ((b["score"] >= 0) & (b["score"] <= 1)).all()


def test_queue_building_before_an_overloaded_step():
    # demand above capacity: the queue before Review grows all along
    proc = Process(
        steps=[Step("Register", "desk", 2), Step("Review", "reviewers", 25)],
        pools={"desk": Pool(2), "reviewers": Pool(2)},
        interarrival=10,
    )
    b = bottlenecks(leanops.from_frame(generate(proc, n_cases=800, seed=1).log)).set_index("activity")
    assert b.loc["Review", "rank"] == 1
    assert b.loc["Review", "queue_growth_per_day"] > 10  # ~ 144 arrivals/day vs ~115 served
    assert b.loc["Review", "queue_max"] > 100
    assert b.loc["Review", "utilization"] > 0.95


def test_log_without_resources():
    rows = [("c1", "A", 0, 1, None), ("c1", "B", 3, 4, None), ("c2", "A", 1, 2, None), ("c2", "B", 5, 6, None)]
    b = bottlenecks(make_log(rows)).set_index("activity")
    assert b.loc["B", "wait_mean_s"] == 2.5 * H
    assert b.loc["B", "score"] == 0
    assert "no resources" in b.loc["B", "finding"] and b.loc["B", "evidence"] == "unmeasurable"


# ------------------------------------------------------------------ rework
def test_rework_hand_worked():
    rows = [
        # c1: A, B, B (self-loop), C, A (loop back from C)
        ("c1", "A", 0, 1, "r"), ("c1", "B", 1, 2, "r"), ("c1", "B", 3, 4, "r"), ("c1", "C", 4, 5, "r"),
        ("c1", "A", 7, 9, "r"),
        # c2: no rework
        ("c2", "A", 0, 1, "s"), ("c2", "B", 2, 3, "s"),
    ]
    rw = rework(make_log(rows)).set_index("activity")
    assert set(rw.index) == {"A", "B"}
    assert rw.loc["B", "repeats"] == 1 and rw.loc["B", "self_loops"] == 1 and rw.loc["B", "loop_backs"] == 0
    assert rw.loc["B", "returns_from"] == "B"
    assert rw.loc["B", "rework_processing_s"] == 1 * H
    assert rw.loc["B", "rework_waiting_s"] == 1 * H
    assert rw.loc["A", "loop_backs"] == 1 and rw.loc["A", "returns_from"] == "C"
    assert rw.loc["A", "rework_time_s"] == (2 + 2) * H
    assert rw.loc["A", "cases"] == 2 and rw.loc["A", "cases_with_rework"] == 1
    assert rw.loc["A", "share_of_processing"] == pytest.approx(2 / 4)
    assert list(rw.index) == ["A", "B"]  # costliest first
    b = bottlenecks(make_log(rows)).set_index("activity")
    assert b.loc["A", "rework_share"] == pytest.approx(1 / 3)


def test_rework_against_generator_probability():
    proc = Process(
        steps=[Step("Register", "desk", 5), Step("Fix", "fixers", 5, rework_prob=0.3)],
        pools={"desk": Pool(3), "fixers": Pool(3)},
        interarrival=10,
    )
    res = generate(proc, n_cases=1500, seed=9)
    rw = rework(leanops.from_frame(res.log)).set_index("activity")
    # geometric repeats: expected 0.3 / 0.7 repeats per case
    assert rw.loc["Fix", "repeats"] / 1500 == pytest.approx(0.3 / 0.7, rel=0.1)
    assert rw.loc["Fix", "self_loops"] == rw.loc["Fix", "repeats"]
    assert "Register" not in rw.index


def test_queue_over_time_matches_wait_total():
    b, _ = _run("Review")
    q = b.queue_over_time
    assert list(q.columns) == list(b["activity"])
    # the time integral of the queue is the total waiting (Little's law per step)
    span = (q.index[-1] - q.index[0]).total_seconds() * len(q) / (len(q) - 1)
    total = q["Review"].mean() * span
    assert total == pytest.approx(b.set_index("activity").loc["Review", "wait_total_s"], rel=0.05)


# ------------------------------------------------- distinct busy resources
# pool B = {r1, r2} over a 10 h span (24/7): r1 holds c1's and c2's B at once over 3-6 h
OVERLAP = [
    ("c1", "A", 0, 1, "ra"), ("c1", "B", 2, 6, "r1"),
    ("c2", "A", 1, 2, "ra"), ("c2", "B", 3, 7, "r1"),
    ("c3", "A", 2, 3, "ra"), ("c3", "B", 4, 8, "r2"),
    ("c4", "A", 3, 4, "ra"), ("c4", "B", 9, 10, "r2"),
]


def _check_overlap_counted_once(b):
    b = b.set_index("activity")
    # busy: r1 over 2-7 h (5 h, not 4 + 4), r2 over 4-8 and 9-10 h (5 h); available 2 x 10 h
    assert b.loc["B", "pool_size"] == 2
    assert b.loc["B", "utilization"] == pytest.approx(10 / 20, abs=0.005)
    # waits before B: 1-2 h (nobody busy), 2-3 h (r1: 1 of 2), 3-4 h (r1 on two instances:
    # still 1 of 2), 4-9 h (2 of 2 for 3 h, 1 of 2 for 1 h, 0 for 1 h). Contention is the
    # share of the waiting during which the WHOLE pool was busy (issue 12: no longer the
    # average busy fraction): 3 h of 8 h
    assert b.loc["B", "contention"] == pytest.approx(3 / 8, abs=0.005)


def test_one_resource_on_two_overlapping_instances_counts_once():
    log = make_log(OVERLAP)
    _check_overlap_counted_once(bottlenecks(log, calendar=leanops.Calendar.always()))
    u = leanops.utilization(log, calendar=leanops.Calendar.always()).set_index("pool")
    b = bottlenecks(log, calendar=leanops.Calendar.always()).set_index("activity")
    assert u.loc[b.loc["B", "pool"], "utilization"] == pytest.approx(0.5)


def test_one_resource_on_two_overlapping_instances_counts_once_out_of_core(tmp_path):
    path = leanops.convert(make_log(OVERLAP), tmp_path / "overlap.parquet")
    _check_overlap_counted_once(bottlenecks(path, calendar=leanops.Calendar.always(), engine="duckdb"))


def test_pool_utilization_agrees_with_utilization_on_production():
    # bottlenecks counts busy members on a time grid, utilization() merges exact intervals:
    # only the grid's rounding of interval ends may separate them
    log = leanops.datasets.load("production")
    # (issue 12: pools holding a role-like label, one working on ~4 instances at once,
    # have no utilisation: their size is unknown)
    b = bottlenecks(log).dropna(subset=["pool", "utilization"]).drop_duplicates("pool").set_index("pool")["utilization"]
    u = leanops.utilization(log).set_index("pool")["utilization"]
    assert len(b) >= 5
    for pool, value in b.items():
        assert value == pytest.approx(u[pool], abs=0.01), pool


@pytest.mark.parametrize("code_scale", [1, 1 << 45])  # packed-key sort, and the lexsort fallback
def test_merged_bins_cover_each_resources_union_once(code_scale):
    import numpy as np

    from leanops.mining.bottlenecks import _merged_bins

    rng = np.random.default_rng(4)
    n, n_bins = 400, 1 << 10
    res = rng.integers(-1, 5, n)  # -1: no resource
    b0 = rng.integers(0, n_bins, n)
    b1 = np.minimum(b0 + rng.integers(0, 60, n), n_bins)
    codes = np.where(res >= 0, res * code_scale, -1)
    c, a, b = _merged_bins(codes, b0, b1, n_bins)
    for r in range(5):
        truth = np.zeros(n_bins, dtype=int)  # brute force: is any instance of r on the bin
        for s, e in zip(b0[res == r], b1[res == r]):
            truth[s:e] = 1
        got = np.zeros(n_bins + 1, dtype=int)
        mine = c == r * code_scale
        np.add.at(got, a[mine], 1)
        np.add.at(got, b[mine], -1)
        assert (np.cumsum(got)[:n_bins] == truth).all()
