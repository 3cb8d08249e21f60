"""Ground truth for SOP compliance and the PDCA check: logs with planted deviations and changes.

Independent of leanops (office-hours arithmetic from :mod:`groundtruth`, queues in SimPy):

* :func:`violations_log` plants deviations at exact rates (a skipped required step, an
  order swap, a four-eyes breach, a max-wait breach counted in office hours) and knows the
  true cost of skipping the check, by replaying every case without it (same random draws).
* :func:`capacity_change_log` is a queue whose pool gets one more server from a given
  day, or (``decoy=True``) whose arrivals drop from that day while nothing else changes. It
  also returns the same arrivals and service times run without the change, so the true
  effect on the cases after the change is known.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import simpy

from groundtruth import EPOCH, _add_working, _next_open

HOURS = (8, 17)  # Mon-Fri 08:00-17:00, as the SOP calendar
H = 3600.0


@dataclass
class PlantedViolations:
    log: pd.DataFrame  # case_id, activity, start_time, end_time, resource
    flags: pd.DataFrame  # per case: skip_check, swap, four_eyes, late_approve
    cost_skip_s: float  # true mean extra cycle time of the cases that skip Check
    cost_swap_s: float  # the same for the cases that approve before the review


def _timeline(rng_vals: dict, skip: bool, swap: bool, late: bool, arrival: float) -> list[tuple[str, float, float]]:
    """One case's steps (activity, start, end) from pre-drawn random values."""
    out = []
    t = _next_open(HOURS, arrival)
    e = _add_working(HOURS, t, rng_vals["reg"])
    out.append(("Register", t, e))
    if not skip:
        s = _add_working(HOURS, e, rng_vals["w_check"])
        e = _add_working(HOURS, s, rng_vals["check"])
        out.append(("Check", s, e))
    w_appr = rng_vals["w_late"] if late else rng_vals["w_ok"]
    order = [("Approve", rng_vals["w_rev"], rng_vals["appr"]), ("Review", w_appr, rng_vals["rev"])] if swap else \
        [("Review", rng_vals["w_rev"], rng_vals["rev"]), ("Approve", w_appr, rng_vals["appr"])]
    for act, w, d in order:
        s = _add_working(HOURS, e, w)
        e = _add_working(HOURS, s, d)
        out.append((act, s, e))
    # a skipped check comes back as a day of clarification before closing (calendar time)
    s = _add_working(HOURS, e + (86400.0 if skip else 0.0), rng_vals["w_close"])
    out.append(("Close", s, _add_working(HOURS, s, rng_vals["close"])))
    return out


def violations_log(n_cases: int = 2000, *, seed: int = 0, rates: dict[str, float] | None = None) -> PlantedViolations:
    """A log with deviations planted in exactly ``round(rate * n)`` cases each.

    ``late_approve`` is planted among the cases whose Review precedes Approve (the
    max-wait rule applies to those only): Approve waits 5-8 office hours after Review
    instead of 0.5-3.5, so in calendar time many compliant waits also exceed 4 hours.
    """
    rates = {"skip_check": 0.10, "swap": 0.08, "four_eyes": 0.12, "late_approve": 0.15, **(rates or {})}
    rng = np.random.default_rng(seed)
    n = n_cases
    flags = {}
    for k in ("skip_check", "swap", "four_eyes"):
        f = np.zeros(n, dtype=bool)
        f[rng.permutation(n)[: round(rates[k] * n)]] = True
        flags[k] = f
    late = np.zeros(n, dtype=bool)
    ok = np.flatnonzero(~flags["swap"])
    late[rng.permutation(ok)[: round(rates["late_approve"] * len(ok))]] = True
    flags["late_approve"] = late
    arrivals = np.sort(rng.uniform(0, 20 * 7 * 86400, n))
    rows = []
    extra = []
    extra_swap = []
    for i in range(n):
        vals = {"reg": rng.uniform(10, 30) * 60, "w_check": rng.uniform(0, 2) * H, "check": rng.uniform(20, 60) * 60,
                "w_rev": rng.uniform(0, 2) * H, "rev": rng.uniform(30, 90) * 60, "w_ok": rng.uniform(0.5, 3.5) * H,
                "w_late": rng.uniform(5, 8) * H, "appr": rng.uniform(10, 30) * 60, "w_close": rng.uniform(0, 1) * H,
                "close": 10 * 60.0}
        steps = _timeline(vals, flags["skip_check"][i], flags["swap"][i], late[i], arrivals[i])
        if flags["skip_check"][i]:
            cf = _timeline(vals, False, flags["swap"][i], late[i], arrivals[i])
            extra.append((steps[-1][2] - steps[0][1]) - (cf[-1][2] - cf[0][1]))
        if flags["swap"][i]:
            cf = _timeline(vals, flags["skip_check"][i], False, False, arrivals[i])
            extra_swap.append((steps[-1][2] - steps[0][1]) - (cf[-1][2] - cf[0][1]))
        reviewer = int(rng.integers(0, 5))
        approver = reviewer if flags["four_eyes"][i] else (reviewer + 1 + int(rng.integers(0, 4))) % 5
        for act, s, e in steps:
            res = {"Review": f"rev_{reviewer}", "Approve": f"rev_{approver}"}.get(act, f"clerk_{int(rng.integers(0, 6))}")
            rows.append((f"c{i:05d}", act, s, e, res))
    log = pd.DataFrame(rows, columns=["case_id", "activity", "start_time", "end_time", "resource"])
    for c in ("start_time", "end_time"):
        log[c] = EPOCH + pd.to_timedelta(log[c], unit="s")
    fl = pd.DataFrame({"case_id": [f"c{i:05d}" for i in range(n)], **flags})
    return PlantedViolations(log, fl, float(np.mean(extra)), float(np.mean(extra_swap)))


@dataclass
class CapacityChange:
    log: pd.DataFrame  # with the change
    counterfactual: pd.DataFrame  # same arrivals and service times, without the change
    change_at: pd.Timestamp
    true_relative: float  # mean cycle time after the change, with / without - 1


def _queue(inter: np.ndarray, service: np.ndarray, servers_before: int, servers_after: int, change_s: float) -> pd.DataFrame:
    """One FIFO pool (SimPy); from change_s on it has servers_after servers."""
    env = simpy.Environment()
    cap = max(servers_before, servers_after)
    pool = simpy.PriorityResource(env, capacity=cap)
    rows = []

    def blocker(k: int):
        # hold the extra servers until the change (priority -1: they are taken first)
        reqs = [pool.request(priority=-1) for _ in range(k)]
        for r in reqs:
            yield r
        yield env.timeout(change_s)
        for r in reqs:
            pool.release(r)

    def case(i: int):
        arr = env.now
        with pool.request(priority=0) as req:
            yield req
            s = env.now
            yield env.timeout(service[i])
        # a fixed second step, so that cases have two activities
        rows.append((f"c{i:05d}", "Intake", arr, arr + 60.0, "desk"))
        rows.append((f"c{i:05d}", "Handle", s, env.now, "team"))

    def arrivals():
        for i in range(len(inter)):
            env.process(case(i))
            yield env.timeout(inter[i])

    if servers_after > servers_before:
        env.process(blocker(servers_after - servers_before))
    env.process(arrivals())
    env.run()
    log = pd.DataFrame(rows, columns=["case_id", "activity", "start_time", "end_time", "resource"])
    for c in ("start_time", "end_time"):
        log[c] = EPOCH + pd.to_timedelta(log[c], unit="s")
    return log.sort_values(["case_id", "start_time"], ignore_index=True)


def capacity_change_log(*, days: int = 200, change_day: int = 100, per_day: float = 100.0, servers: int = 3,
                        rho: float = 0.75, decoy: bool = False, drop: float = 0.35, seed: int = 0) -> CapacityChange:
    """A pool of ``servers`` at utilisation ``rho``; from ``change_day`` one more server
    (or, with ``decoy``, ``drop`` fewer arrivals and no change to the process)."""
    rng = np.random.default_rng(seed)
    mean_ia = 86400.0 / per_day
    n = int(days * per_day * 1.2)
    inter = rng.exponential(mean_ia, n)
    t = np.cumsum(inter)
    change_s = change_day * 86400.0
    if decoy:
        after = t > change_s
        inter = np.where(after, inter / (1 - drop), inter)  # the same draws, spaced further apart
        t = np.cumsum(inter)
    keep = t < days * 86400.0
    inter = inter[keep]
    service = rng.gamma(4.0, rho * servers * mean_ia / 4.0, len(inter))  # cv 0.5
    more = 0 if decoy else 1
    log = _queue(inter, service, servers, servers + more, change_s)
    cf = _queue(inter, service, servers, servers, change_s)

    def mean_after(lg: pd.DataFrame) -> float:
        g = lg.groupby("case_id").agg(a=("start_time", "min"), b=("end_time", "max"))
        g = g[g["a"] >= EPOCH + pd.Timedelta(seconds=change_s)]
        return float((g["b"] - g["a"]).dt.total_seconds().mean())

    return CapacityChange(log, cf, EPOCH + pd.Timedelta(seconds=change_s), mean_after(log) / mean_after(cf) - 1)
