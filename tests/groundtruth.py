"""A ground-truth process generator for tests: a SimPy model whose behaviour we plant.

It is deliberately independent of leanops (its own calendar arithmetic, its own queues),
so that what leanops finds in its logs can be checked against what was put there:
which pool is under capacity, its true utilisation, a step that waits for a daily batch
release while its resources sit idle, a data-aware branch, rework loops, a priority class
served last, one slow resource.

Example
-------
>>> from groundtruth import Process, Step, Pool, generate
>>> proc = Process(
...     steps=[Step("Triage", "clerks", 10), Step("Review", "experts", 50)],
...     pools={"clerks": Pool(2), "experts": Pool(1)},
...     interarrival=60,
... )
>>> res = generate(proc, n_cases=200, seed=1)
>>> sorted(res.log["activity"].unique())
['Review', 'Triage']
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import simpy

MIN = 60.0  # the generator works in seconds; parameters are given in minutes
EPOCH = pd.Timestamp("2024-01-01 00:00", tz="UTC")  # a Monday

Attrs = dict[str, Any]


@dataclass
class Pool:
    """``size`` interchangeable resources; ``hours=(8, 17)`` means Mon-Fri 08:00-17:00."""

    size: int
    hours: tuple[int, int] | None = None
    slow: dict[int, float] = field(default_factory=dict)  # member index -> duration factor


@dataclass
class Step:
    """One activity. ``mean`` (minutes) may depend on the case attributes."""

    activity: str
    pool: str
    mean: float | Callable[[Attrs], float]
    cv: float = 0.5  # lognormal coefficient of variation; 0 = fixed
    prob: float | Callable[[Attrs], float] = 1.0  # probability the step happens at all
    rework_prob: float | Callable[[Attrs], float] = 0.0  # probability of repeating it
    batch_hour: float | None = None  # released together daily at this hour (UTC)


@dataclass
class Process:
    steps: list[Step]
    pools: dict[str, Pool]
    interarrival: float | Callable[[float], float]  # mean minutes between arrivals (Poisson); may depend on the time (s)
    attributes: dict[str, Callable[[np.random.Generator, Attrs], Any]] = field(default_factory=dict)
    priority: tuple[str, list[Any]] | None = None  # (attribute, order from first-served to last)


@dataclass
class Result:
    log: pd.DataFrame  # case_id, activity, start_time, end_time, resource, attributes
    utilization: dict[str, float]  # busy working time / available working time, per pool
    cases: pd.DataFrame  # one row per case: attributes, arrival, completion


def _working(hours: tuple[int, int] | None, t: float) -> bool:
    if hours is None:
        return True
    ts = EPOCH + pd.Timedelta(seconds=t)
    return ts.weekday() < 5 and hours[0] <= ts.hour + ts.minute / 60 < hours[1]


def _next_open(hours: tuple[int, int] | None, t: float) -> float:
    """The first instant >= t inside working hours."""
    if hours is None or _working(hours, t):
        return t
    day = math.floor(t / 86400)
    for k in range(0, 8):
        d = day + k
        if (EPOCH + pd.Timedelta(days=d)).weekday() >= 5:
            continue
        open_t = d * 86400 + hours[0] * 3600
        if open_t >= t:
            return open_t
    raise AssertionError("unreachable")


def _add_working(hours: tuple[int, int] | None, t: float, work: float) -> float:
    """The instant after ``work`` seconds of working time from ``t`` (pausing at shift end)."""
    if hours is None:
        return t + work
    t = _next_open(hours, t)
    while True:
        close = math.floor(t / 86400) * 86400 + hours[1] * 3600
        if t + work <= close:
            return t + work
        work -= close - t
        t = _next_open(hours, close)


def _available(hours: tuple[int, int] | None, t0: float, t1: float) -> float:
    if hours is None:
        return t1 - t0
    total, day = 0.0, math.floor(t0 / 86400)
    while day * 86400 < t1:
        if (EPOCH + pd.Timedelta(days=day)).weekday() < 5:
            a, b = day * 86400 + hours[0] * 3600, day * 86400 + hours[1] * 3600
            total += max(0.0, min(b, t1) - max(a, t0))
        day += 1
    return total


def _val(x: float | Callable[[Attrs], float], attrs: Attrs) -> float:
    return float(x(attrs)) if callable(x) else float(x)


def generate(proc: Process, n_cases: int, seed: int) -> Result:
    """Simulate ``n_cases`` arrivals and return the event log and the true utilisation."""
    rng = np.random.default_rng(seed)
    env = simpy.Environment()
    pools = {name: simpy.PriorityResource(env, capacity=p.size) for name, p in proc.pools.items()}
    free = {name: list(range(p.size)) for name, p in proc.pools.items()}
    busy = {name: 0.0 for name in proc.pools}
    rows: list[tuple] = []
    case_rows: list[dict] = []

    def prio(attrs: Attrs) -> int:
        if proc.priority is None:
            return 0
        attr, order = proc.priority
        return order.index(attrs[attr]) if attrs.get(attr) in order else len(order)

    def sample(step: Step, attrs: Attrs) -> float:
        mean = _val(step.mean, attrs) * MIN
        if step.cv <= 0:
            return mean
        s2 = math.log(1 + step.cv**2)
        return float(rng.lognormal(math.log(mean) - s2 / 2, math.sqrt(s2)))

    def case(cid: int, attrs: Attrs):
        arrival = env.now
        for step in proc.steps:
            if rng.random() >= _val(step.prob, attrs):
                continue
            while True:
                if step.batch_hour is not None:
                    day = math.floor(env.now / 86400)
                    rel = day * 86400 + step.batch_hour * 3600
                    if rel < env.now:
                        rel += 86400
                    yield env.timeout(rel - env.now)
                pool = proc.pools[step.pool]
                with pools[step.pool].request(priority=prio(attrs)) as req:
                    yield req
                    member = free[step.pool].pop(0)
                    begin = _next_open(pool.hours, env.now)
                    work = sample(step, attrs) * pool.slow.get(member, 1.0)
                    finish = _add_working(pool.hours, begin, work)
                    yield env.timeout(finish - env.now)
                    busy[step.pool] += work
                    free[step.pool].append(member)
                    free[step.pool].sort()
                rows.append((f"c{cid}", step.activity, begin, finish, f"{step.pool}_{member}", *attrs.values()))
                if rng.random() >= _val(step.rework_prob, attrs):
                    break
        case_rows.append({"case_id": f"c{cid}", **attrs, "arrival": arrival, "completion": env.now})

    def arrivals():
        for cid in range(n_cases):
            attrs: Attrs = {}
            for name, sampler in proc.attributes.items():
                attrs[name] = sampler(rng, attrs)
            env.process(case(cid, attrs))
            ia = proc.interarrival(env.now) if callable(proc.interarrival) else proc.interarrival
            yield env.timeout(rng.exponential(ia * MIN))

    env.process(arrivals())
    env.run()
    horizon = env.now
    attr_names = list(proc.attributes)
    log = pd.DataFrame(rows, columns=["case_id", "activity", "start_time", "end_time", "resource", *attr_names])
    for c in ("start_time", "end_time"):
        log[c] = EPOCH + pd.to_timedelta(log[c], unit="s")
    util = {
        name: busy[name] / (p.size * _available(p.hours, 0.0, horizon)) for name, p in proc.pools.items()
    }
    cases = pd.DataFrame(case_rows)
    return Result(log=log, utilization=util, cases=cases)
