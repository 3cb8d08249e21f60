"""Performance tables and start-time estimation, on hand-built logs worked out by hand and
on ground-truth logs whose true starts are known."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import leanops
from leanops import InputError, estimate_start_times, performance
from groundtruth import Pool, Process, Step, generate

BASE = pd.Timestamp("2024-01-01 10:00", tz="UTC")  # a Monday
H = 3600.0


def t(hours: float | None):
    return None if hours is None else BASE + pd.Timedelta(hours=hours)


def make_log(rows, **kw) -> leanops.EventLog:
    """rows: (case, activity, start_h or None, end_h, resource)."""
    df = pd.DataFrame(
        [{"case_id": c, "activity": a, "start": t(s), "end": t(e), "resource": r} for c, a, s, e, r in rows]
    )
    df["start"] = pd.to_datetime(df["start"], utc=True)
    return leanops.EventLog(df, **kw)


SEQ = [
    ("c1", "A", 0, 1, "r1"), ("c1", "B", 2, 4, "r2"), ("c1", "C", 5, 5.5, "r1"),
    ("c2", "A", 1, 2, "r1"), ("c2", "B", 4, 5, "r2"), ("c2", "C", 6, 7, "r1"),
]
# B and C run in parallel after A; D waits for both
PAR = [("p", "A", 0, 1, "r1"), ("p", "B", 1, 3, "r2"), ("p", "C", 1.5, 2, "r3"), ("p", "D", 4, 5, "r1")]


def by(frame: pd.DataFrame, key: str) -> pd.DataFrame:
    return frame.set_index(key)


def test_performance_by_activity_hand_worked():
    p = by(performance(make_log(SEQ)), "activity")
    assert p.loc["A", "processing_mean_s"] == 1 * H
    assert p.loc["B", "processing_mean_s"] == 1.5 * H
    assert p.loc["C", "processing_mean_s"] == 0.75 * H
    assert p.loc["A", "waiting_mean_s"] == 0  # first instances have no measurable wait
    assert p.loc["B", "waiting_mean_s"] == 1.5 * H  # 1 h and 2 h
    assert p.loc["C", "waiting_mean_s"] == 1 * H
    assert p.loc["B", "waiting_total_s"] == 3 * H
    assert p.loc["B", "waiting_p90_s"] == pytest.approx(1.9 * H)
    assert (p["instances"] == 2).all() and (p["cases"] == 2).all()
    assert (p["estimated_share"] == 0).all()
    # sorted by total waiting, largest first
    assert list(p.index[:1]) == ["B"]


def test_performance_by_resource_and_case_hand_worked():
    r = by(performance(make_log(SEQ), by="resource"), "resource")
    assert r.loc["r1", "instances"] == 4
    assert r.loc["r1", "processing_total_s"] == (1 + 0.5 + 1 + 1) * H
    c = by(performance(make_log(SEQ), by="case"), "case_id")
    assert c.loc["c1", "lead_time_s"] == 5.5 * H
    assert c.loc["c1", "processing_s"] == 3.5 * H
    assert c.loc["c1", "waiting_s"] == 2 * H
    assert c.loc["c2", "lead_time_s"] == 6 * H
    assert c.loc["c2", "waiting_s"] == 3 * H
    assert c.loc["c2", "start"] == t(1) and c.loc["c2", "end"] == t(7)


def test_parallel_branches_enablement():
    p = by(performance(make_log(PAR)), "activity")
    assert p.loc["B", "waiting_mean_s"] == 0  # enabled by A's end at 1 h
    assert p.loc["C", "waiting_mean_s"] == 0  # started while B ran: enabled at its own start
    assert p.loc["D", "waiting_mean_s"] == 1 * H  # waits for the later of B (3 h) and C (2 h)
    c = by(performance(make_log(PAR), by="case"), "case_id")
    assert c.loc["p", "lead_time_s"] == 5 * H
    assert c.loc["p", "processing_s"] == 4 * H  # C lies inside B: counted once
    assert c.loc["p", "waiting_s"] == 1 * H


def test_working_time_hand_worked():
    # Monday 16:00 -> Tuesday 10:00 is 2 working hours in Mon-Fri 09:00-17:00
    rows = [("c", "A", 6, 24, "r"), ("c", "B", 25, 26, "r")]  # 16:00 Mon - 10:00 Tue, 11:00-12:00 Tue
    cal = "Mon-Fri 09:00-17:00"
    p = by(performance(make_log(rows), time="working", calendar=cal), "activity")
    assert p.loc["A", "processing_mean_s"] == 2 * H
    assert p.loc["B", "waiting_mean_s"] == 1 * H
    p2 = by(performance(make_log(rows)), "activity")
    assert p2.loc["A", "processing_mean_s"] == 18 * H


def test_performance_bad_options():
    log = make_log(SEQ)
    with pytest.raises(InputError, match="by must be one of"):
        performance(log, by="team")
    with pytest.raises(InputError, match="time must be one of"):
        performance(log, time="wall")
    with pytest.raises(InputError, match="EventLog"):
        performance(pd.DataFrame())


def test_performance_does_not_mutate_log():
    log = make_log(SEQ)
    before = log.df.copy()
    performance(log, by="case")
    pd.testing.assert_frame_equal(log.df, before)


# ----------------------------------------------------------- start estimation
COMPLETION_ONLY = [
    ("c1", "A", None, 0, "r1"), ("c1", "B", None, 2, "r2"), ("c1", "C", None, 3, "r1"),
    ("c2", "A", None, 1, "r1"), ("c2", "B", None, 4, "r2"), ("c2", "C", None, 5, "r1"),
    ("c3", "B", None, 6, "r2"), ("c3", "A", None, 8, "r1"),
]


def test_estimate_start_times_hand_worked():
    est = estimate_start_times(make_log(COMPLETION_ONLY))
    d = est.df
    got = {(r.case_id, r.activity): (r.start - BASE) / pd.Timedelta(hours=1) for r in d.itertuples()}
    assert got[("c1", "B")] == 0  # enabled at 0 (A's end); r2 had no earlier work
    assert got[("c2", "B")] == 2  # enabled at 1, but r2 busy until 2
    assert got[("c1", "C")] == 2  # enabled at 2; r1 free since 1
    assert got[("c2", "C")] == 4  # enabled at 4; r1 free since 3
    assert got[("c3", "A")] == 6  # enabled at 6 (B); r1 free since 5
    # first instances: end minus the activity's median estimated duration, not before the
    # resource was free. B's known estimates are 2 h and 2 h; A's is 2 h.
    assert got[("c3", "B")] == 4  # 6 - 2 = 4, r2 free since 4
    assert got[("c1", "A")] == -2  # 0 - 2, r1 never busy before
    assert got[("c2", "A")] == 0  # 1 - 2 = -1, but r1 busy until 0
    assert d["start_estimated"].all()
    assert (d["start"] <= d["end"]).all()


def test_estimate_keeps_known_starts_and_flags_only_missing():
    rows = [("c1", "A", 0, 1, "r1"), ("c1", "B", None, 3, "r1"), ("c2", "A", 0.5, 2, "r2")]
    est = estimate_start_times(make_log(rows)).df.set_index(["case_id", "activity"])
    assert est.loc[("c1", "A"), "start"] == t(0)
    assert est.loc[("c2", "A"), "start"] == t(0.5)
    assert est.loc[("c1", "B"), "start"] == t(1)
    assert est["start_estimated"].tolist().count(True) == 1


def _gt_log(hours=None, n=600, seed=5):
    proc = Process(
        steps=[Step("Register", "desk", 5, cv=0.3), Step("Check", "checkers", 25), Step("Approve", "approvers", 15)],
        pools={"desk": Pool(2, hours), "checkers": Pool(2, hours), "approvers": Pool(2, hours)},
        interarrival=15,
    )
    return generate(proc, n_cases=n, seed=seed).log


def test_estimation_recovers_true_starts_24_7():
    truth = _gt_log()
    dropped = truth.drop(columns=["start_time"])
    est = estimate_start_times(leanops.from_frame(dropped, end="end_time")).df
    merged = est.merge(
        truth.rename(columns={"start_time": "true_start"})[["case_id", "activity", "end_time", "true_start"]],
        left_on=["case_id", "activity", "end"], right_on=["case_id", "activity", "end_time"],
    )
    assert len(merged) == len(truth)
    err = (merged["start"] - merged["true_start"]).abs().dt.total_seconds()
    first = merged["activity"] == "Register"
    # After the first step, a FIFO pool starts work exactly when it is both enabled and
    # free, which is what the estimator assumes.
    assert (err[~first] < 1e-3).mean() > 0.98
    # The first step has no enablement: its estimate is bounded by the resource and the end.
    assert (merged.loc[first, "start"] <= merged.loc[first, "end"]).all()
    assert err[first].median() < 5 * 60


def test_performance_on_completion_only_log_flags_estimates():
    log = make_log(COMPLETION_ONLY)
    p = performance(log)
    assert (p["estimated_share"] == 1).all()
    # same numbers as on the explicitly estimated log
    p2 = performance(estimate_start_times(log).df.pipe(leanops.EventLog))
    np.testing.assert_allclose(p.set_index("activity")["processing_mean_s"].sort_index(),
                               p2.set_index("activity")["processing_mean_s"].sort_index())


# ------------------------------------------------- fast step arrays vs _steps
def _check_same_steps(log):
    from leanops.mining._steps import steps
    from leanops.mining.performance import _fast_steps

    ref = steps(leanops.EventLog(log.df))  # a fresh log: nothing cached
    fast = _fast_steps(leanops.EventLog(log.df))
    for f in ("case", "activity", "first", "has_start", "t_start", "end"):
        np.testing.assert_array_equal(getattr(fast, f), getattr(ref, f), err_msg=f)
    assert fast.activities == ref.activities
    nat = np.iinfo(np.int64).min
    np.testing.assert_array_equal(np.where(fast.first, nat, np.minimum(fast.cover, fast.t_start)), ref.enabled)
    # the unclipped running max of earlier ends, against a plain per-case loop
    end = log.df["end"].to_numpy(dtype="datetime64[ns]").view(np.int64)
    expect = np.empty(len(end), dtype=np.int64)
    for s, e in zip(log.case_starts, np.r_[log.case_starts[1:], len(end)]):
        expect[s] = fast.t_start[s]
        expect[s + 1:e] = np.maximum.accumulate(end[s:e])[:-1]
    np.testing.assert_array_equal(fast.cover, expect)


@pytest.mark.parametrize("name", ["production", "helpdesk", "purchasing_example"])
def test_fast_steps_match_steps_on_bundled_logs(name):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _check_same_steps(leanops.datasets.load(name))


def test_fast_steps_match_steps_on_hand_built_logs():
    _check_same_steps(make_log(SEQ + PAR))
    _check_same_steps(make_log(COMPLETION_ONLY))


def test_repeat_detection_paths_agree_with_a_loop():
    from leanops.mining.performance import _repeats

    rng = np.random.default_rng(0)
    # short cases (shifted comparisons), long ones with few activities (a bit-mask scan)
    # and with many (a sort)
    for max_len, n_act in ((12, 5), (40, 5), (40, 63), (40, 200)):
        lens = rng.integers(1, max_len + 1, 300)
        case = np.repeat(np.arange(len(lens)), lens)
        act = rng.integers(0, n_act, len(case))
        expect = np.zeros(len(case), dtype=bool)
        seen: dict[tuple[int, int], bool] = {}
        for i, (c, a) in enumerate(zip(case, act)):
            expect[i] = (c, a) in seen
            seen[(c, a)] = True
        np.testing.assert_array_equal(_repeats(case, act, n_act), expect)
