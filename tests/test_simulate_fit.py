"""fit: round trips against the ground-truth generator, and fitting edge cases."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from groundtruth import Pool, Process, Step, generate
from scipy.stats import wasserstein_distance

import leanops
from leanops import simulate

N = 3000
FIT_KW: dict = {}


def _log(df: pd.DataFrame) -> leanops.EventLog:
    return leanops.from_frame(df, case="case_id", activity="activity", start="start_time", end="end_time",
                              resource="resource")


def _cycle_times(df: pd.DataFrame, start: str, end: str) -> np.ndarray:
    g = df.groupby("case_id", observed=True)
    return (g[end].max() - g[start].min()).dt.total_seconds().to_numpy()


def round_trip(proc: Process, pairs: int = 3) -> tuple[float, float, simulate.SimulationModel]:
    """(EMD simulated vs an independent true sample, EMD between two true samples, a model).

    Both are averaged over ``pairs`` pairs of true samples (a, b): fit on a, simulate, compare
    with b; the noise floor compares a with b. One pair alone is too noisy a yardstick when
    cycle times are bimodal (same day or overnight under office hours).
    """
    emds, floors = [], []
    model = None
    for k in range(pairs):
        a = generate(proc, N, seed=100 + 2 * k)
        b = generate(proc, N, seed=101 + 2 * k)
        la = _log(a.log)
        model = simulate.fit(la, seed=0, **FIT_KW)
        # a long simulation, so that its own sampling noise does not count against the model
        sim = simulate.run(model, cases=3 * N, seed=k, start=la.start_time)
        ct_sim = _cycle_times(sim.log.df, "start", "end")
        ct_a, ct_b = _cycle_times(a.log, "start_time", "end_time"), _cycle_times(b.log, "start_time", "end_time")
        emds.append(wasserstein_distance(ct_sim, ct_b))
        floors.append(wasserstein_distance(ct_a, ct_b))
    return float(np.mean(emds)), float(np.mean(floors)), model


def test_round_trip_24_7():
    proc = Process(
        steps=[Step("Triage", "clerks", 10), Step("Review", "experts", 15), Step("Notify", "clerks", 4, prob=0.5)],
        pools={"clerks": Pool(2), "experts": Pool(2)},
        interarrival=10,
    )
    emd, floor, model = round_trip(proc)
    assert emd <= 1.5 * floor, (emd, floor)
    assert model.pool("experts").size == 2 and model.pool("experts").hours == "24/7"
    review = model.activity("Review")
    assert review.pool == "experts" and abs(review.duration.mean - 900) < 60


def test_round_trip_office_hours():
    proc = Process(
        steps=[Step("Triage", "clerks", 10), Step("Review", "experts", 12)],
        pools={"clerks": Pool(2, hours=(8, 17)), "experts": Pool(2, hours=(8, 17))},
        interarrival=30,
    )
    emd, floor, model = round_trip(proc)
    assert emd <= 1.5 * floor, (emd, floor)
    assert model.pool("experts").hours == "; ".join(f"{d} 08:00-17:00" for d in ["Mon", "Tue", "Wed", "Thu", "Fri"])


def test_round_trip_data_aware_branch():
    proc = Process(
        steps=[
            Step("Check", "clerks", 8),
            Step("Audit", "auditors", 20, prob=lambda a: 0.8 if a["amount"] >= 10000 else 0.1),
            Step("Pay", "clerks", 5),
        ],
        pools={"clerks": Pool(2), "auditors": Pool(1)},
        interarrival=10,
        attributes={"amount": lambda rng, a: float(round(rng.lognormal(8.5, 1.0), 2))},
    )
    emd, floor, model = round_trip(proc)
    assert emd <= 1.5 * floor, (emd, floor)
    rules = [r for r in model.routing if r.source == "Check"][0].rules
    assert len(rules) >= 1 and rules[0].attribute == "amount"
    assert 8000 <= rules[0].value <= 12000
    assert abs(dict(rules[0].next)["Audit"] - 0.8) < 0.06


def test_tiny_log_falls_back_with_a_warning():
    df = pd.DataFrame({
        "case_id": ["1", "1", "2", "2", "3"],
        "activity": ["A", "B", "A", "B", "A"],
        "start_time": pd.to_datetime(["2024-01-01 09:00", "2024-01-01 09:30", "2024-01-02 09:00", "2024-01-02 10:00", "2024-01-03 09:00"]),
        "end_time": pd.to_datetime(["2024-01-01 09:10", "2024-01-01 10:00", "2024-01-02 09:20", "2024-01-02 10:30", "2024-01-03 09:30"]),
        "resource": ["x", "y", "x", "y", "x"],
    })
    with pytest.warns(UserWarning, match="too few observations"):
        model = simulate.fit(_log(df))
    a = model.activity("A").duration
    assert a.kind == "empirical" and sorted(a.values) == [600.0, 1200.0, 1800.0]
    assert model.activity("B").duration.kind == "fixed" and model.activity("B").duration.mean == 1800.0
    # routing: A -> B in 2 of 3 cases
    after_a = dict([r for r in model.routing if r.source == "A"][0].next)
    assert after_a == pytest.approx({"B": 2 / 3, simulate.END: 1 / 3})
    res = simulate.run(model, cases=20, seed=0)
    assert res.log.n_cases == 20


def test_completion_only_log_gets_estimated_starts():
    log = leanops.datasets.load("purchasing_example")
    d = log.to_frame()
    d["start"] = pd.NaT
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = simulate.fit(leanops.EventLog(d))
    assert any("start times estimated" in n for n in model.notes)
    assert all(a.duration.mean >= 0 for a in model.activities)
    res = simulate.run(model, cases=50, seed=1)
    assert res.log.has_start_times and res.log.n_cases == 50


def test_fit_bad_input():
    with pytest.raises(leanops.InputError, match="calendars"):
        simulate.fit(leanops.datasets.load("production"), calendars="sometimes")
    with pytest.raises(leanops.InputError, match="EventLog"):
        simulate.fit(pd.DataFrame())


def test_round_trip_rework_slow_resource_and_mixed_calendars():
    proc = Process(
        steps=[Step("A", "team", 12, cv=1.0), Step("B", "team", 8, rework_prob=0.2), Step("C", "spec", 25, prob=0.15)],
        pools={"team": Pool(3, slow={0: 1.8}), "spec": Pool(2, hours=(8, 17))},
        interarrival=12,
    )
    emd, floor, model = round_trip(proc)
    assert emd <= 1.5 * floor, (emd, floor)
    # the slow member gets its own durations, about 1.8x the others'
    a = model.activity("A")
    slow = dict(a.by_resource)
    assert list(slow) == ["team_0"]
    assert 1.4 < slow["team_0"].mean / a.duration.mean < 2.3
    # rework: B repeats itself with probability about 0.2
    after_b = dict([r for r in model.routing if r.source == "B"][0].next)
    assert abs(after_b["B"] - 0.2) < 0.03


def test_daily_batch_release_is_discovered():
    proc = Process(
        steps=[Step("Triage", "clerks", 10), Step("Ship", "dock", 5, batch_hour=15.0), Step("Invoice", "clerks", 6)],
        pools={"clerks": Pool(2), "dock": Pool(2)},
        interarrival=15,
    )
    a = generate(proc, N, seed=100)
    b = generate(proc, N, seed=101)
    la = _log(a.log)
    model = simulate.fit(la, seed=0)
    assert model.activity("Ship").release == (15 * 3600,)
    assert model.activity("Triage").release == () and model.activity("Invoice").release == ()
    ct_b = _cycle_times(b.log, "start_time", "end_time")
    sim = simulate.run(model, cases=N, seed=1, start=la.start_time)
    no_batch = simulate.run(simulate.fit(la, seed=0, batches=False), cases=N, seed=1, start=la.start_time)
    emd = wasserstein_distance(_cycle_times(sim.log.df, "start", "end"), ct_b)
    emd_without = wasserstein_distance(_cycle_times(no_batch.log.df, "start", "end"), ct_b)
    # the batch explains most of the waiting: far closer than a model without it
    assert emd < 0.3 * emd_without, (emd, emd_without)
    # every simulated Ship starts at or after 15:00 on its day, or later days' release
    ship = sim.log.df[sim.log.df["activity"] == "Ship"]
    assert (ship["start"].dt.hour >= 15).all()


def test_priority_class_is_discovered():
    proc = Process(
        steps=[Step("Triage", "clerks", 10), Step("Review", "experts", 15)],
        pools={"clerks": Pool(2), "experts": Pool(2)},
        interarrival=10,
        attributes={"prio": lambda rng, a: "high" if rng.random() < 0.3 else "low"},
        priority=("prio", ["high", "low"]),
    )
    emd, floor, model = round_trip(proc, pairs=2)
    assert model.queue.discipline == "priority" and model.queue.attribute == "prio"
    assert model.queue.order == ("high", "low")
    assert emd <= 1.5 * floor, (emd, floor)
    # the data-aware round trip has an attribute too, but no priority: it must not find one
    plain = _log(generate(Process(steps=[Step("A", "p", 10)], pools={"p": Pool(1)}, interarrival=14,
                                  attributes={"kind": lambda rng, a: "x" if rng.random() < 0.5 else "y"}), 1500, seed=5).log)
    assert simulate.fit(plain).queue.discipline == "fifo"


def _exactly_one(df: pd.DataFrame, a: str, b: str) -> float:
    has = df.groupby("case_id", observed=True)["activity"].agg(lambda s: (a in set(s)) != (b in set(s)))
    return float(has.mean())


def test_variants_keep_a_hidden_case_type_together():
    # a case type that the log does not record decides two steps far apart: Check and
    # Archive happen together or not at all. Step-by-step routing after Review cannot know
    # whether Check happened; whole recorded routes can.
    proc = Process(
        steps=[
            Step("Intake", "clerks", 5),
            Step("Check", "clerks", 6, prob=lambda a: 1.0 if a["kind"] == "x" else 0.0),
            Step("Review", "experts", 8),
            Step("Archive", "clerks", 4, prob=lambda a: 1.0 if a["kind"] == "x" else 0.0),
        ],
        pools={"clerks": Pool(3), "experts": Pool(1)},
        interarrival=11,
        attributes={"kind": lambda rng, a: "x" if rng.random() < 0.5 else "y"},
    )
    a = generate(proc, N, seed=300)
    b = generate(proc, N, seed=301)
    la = _log(a.log.drop(columns=["kind"]))
    lb = _log(b.log.drop(columns=["kind"]))
    assert _exactly_one(a.log, "Check", "Archive") == 0.0
    floor = simulate.compare_logs(lb, la, measures=("ngram_3",))["ngram_3"]
    out = {}
    for routing in ("variants", "markov"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # the default ("auto") sees that the step after Review depends on the one before it
            model = simulate.fit(la, seed=0) if routing == "variants" else simulate.fit(la, seed=0, routing="markov")
        assert bool(model.traces.variants) == (routing == "variants")
        # as many cases as the true sample: the 3-gram distance compares counts, not shares
        sim = simulate.run(model, cases=N, seed=1, start=la.start_time).log
        out[routing] = (_exactly_one(sim.df, "Check", "Archive"), simulate.compare_logs(lb, sim, measures=("ngram_3",))["ngram_3"])
    # step-by-step routing splits the type about half the time (P(Check) x P(no Archive) x 2)
    assert out["markov"][0] > 0.3, out
    assert out["variants"][0] == 0.0, out
    assert out["variants"][1] <= 1.5 * floor + 0.01, (out, floor)
    assert out["variants"][1] < out["markov"][1], out


def test_wait_ranks_worked_by_hand():
    from leanops.simulate.fit import _wait_ranks

    obs = np.array([30.0, 0.0, 10.0, 10.0, 99.0, 1.0])
    masks = {(0, 1): np.array([True, True, True, True, False, False]),
             (-2, 2): np.array([False, False, False, False, True, True])}
    # first transition: sorted 0, 10, 10, 30 -> mid-ranks 1/8, 3/8, 5/8, 7/8; the tied tens share 1/2
    r = _wait_ranks(obs, masks, np.ones(6))
    assert np.allclose(r, [0.875, 0.125, 0.5, 0.5, 0.75, 0.25])
    # weights count as repeated observations: the 0 counting 3 times is 3 of 6
    r = _wait_ranks(obs, masks, np.array([1.0, 3.0, 1.0, 1.0, 1.0, 1.0]))
    assert np.allclose(r[:4], [11 / 12, 0.25, 2 / 3, 2 / 3])
