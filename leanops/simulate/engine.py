"""The SimPy engine: one process per case on a SimPy environment.

Per-event Python work is kept small: arrival times, case attributes, uniform numbers for
routing and durations are drawn from numpy in blocks before or during the run, and the
log is recorded in plain lists that become one DataFrame at the end. A pool is a free
list plus a queue of waiting cases (FIFO, or a heap for priority queues): a case that
finds a free member takes it without any SimPy event, and a finishing case hands its
member straight to the first waiting one by triggering that case's event. This has the
semantics of ``simpy.Resource``/``PriorityResource`` without their per-request objects.

Calendars: a member works only in its hours; work in progress pauses at the end of a
shift and resumes at the next one (``FastCalendar.add_working``).
"""

from __future__ import annotations

import itertools
import math
import zlib
from bisect import bisect_right
from heapq import heappop, heappush
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .._format import duration
from .._validation import check_positive, check_seed
from ..errors import InputError
from ..log import EventLog
from ._calendar import WEEK, FastCalendar, _MONDAY0, tz_offset
from .distributions import Distribution
from .model import END, START, Arrivals, SimulationModel

__all__ = ["run", "replicate", "summarize", "SimulationResult", "Replications", "kpis"]

_BLOCK = 2048


@dataclass
class SimulationResult:
    """The simulated log and its KPIs (see :func:`kpis`)."""

    log: EventLog
    kpis: dict[str, float]
    cases: pd.DataFrame = field(default_factory=pd.DataFrame)  # case_id, arrival, completion
    seed: Any = None
    warmup: int = 0
    stats: dict[str, Any] = field(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        """The KPIs as a table (one row per KPI)."""
        return pd.DataFrame({"kpi": list(self.kpis), "value": list(self.kpis.values())})

    def to_dict(self) -> dict[str, Any]:
        """The KPIs, seed and warm-up as a JSON-ready dict."""
        return {"kpis": dict(self.kpis), "seed": self.seed, "warmup": self.warmup, "cases": len(self.cases)}

    def __str__(self) -> str:
        """One line per KPI; durations (``*_s``) in readable units, shares as percentages."""
        width = max([len(k) for k in self.kpis] + [3])
        lines = [f"simulated {self.log.n_cases:,} cases (seed {self.seed}, warm-up {self.warmup})"]
        for k, v in self.kpis.items():
            shown = duration(v) if k.endswith("_s") else f"{v:.1%}" if k.startswith("utilization") else f"{v:,.4g}"
            lines.append(f"  {k.ljust(width)}  {shown}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        return self.to_frame().to_html(index=False)


def _stream(dist: Distribution, rng: np.random.Generator) -> Iterator[float]:
    if dist.kind == "fixed":
        v = float(max(dist.params[0], dist.low))
        while True:
            yield v
    while True:
        yield from dist.sample(rng, _BLOCK).tolist()


def _uniforms(rng: np.random.Generator) -> Iterator[float]:
    while True:
        yield from rng.random(_BLOCK).tolist()


class _Streams:
    """Independent random streams keyed by what they drive (common random numbers).

    Arrivals, case attributes, and each activity's durations, delays and routing draw
    from their own stream, seeded from the run's seed and the *name* of what they drive
    (a stable CRC, not Python's salted ``hash``). A scenario that changes one activity, or
    removes it, leaves the draws of every other activity as they were, so the baseline
    and a scenario see the same arrivals and the same work where the change allows.
    """

    def __init__(self, base: int) -> None:
        self.base = base

    def get(self, *key: str) -> np.random.Generator:
        words = [self.base & 0xFFFFFFFF, self.base >> 32]
        words += [zlib.crc32(str(k).encode("utf-8")) for k in key]
        words.append(len(key))
        return np.random.default_rng(np.random.SeedSequence(words))


# -- arrivals --------------------------------------------------------------------------------

class _Warp:
    """Maps real time to rate-weighted time through the weekly arrival profile."""

    def __init__(self, arrivals: Arrivals, offset: float) -> None:
        r = np.asarray(arrivals.profile, dtype=float)
        r = r * (168.0 / r.sum())
        self.r = r
        self.c = np.concatenate([[0.0], np.cumsum(r * 3600.0)])  # 169 entries, c[-1] = WEEK
        self.offset = offset
        self.flat = bool(np.allclose(r, 1.0))

    def forward(self, t: float) -> float:
        if self.flat:
            return t
        x = t + self.offset - _MONDAY0
        wk = math.floor(x / WEEK)
        w = x - wk * WEEK
        h = min(int(w // 3600), 167)
        return wk * WEEK + self.c[h] + self.r[h] * (w - h * 3600.0)

    def inverse(self, u: np.ndarray) -> np.ndarray:
        if self.flat:
            return u
        wk = np.floor(u / WEEK)
        v = u - wk * WEEK
        h = np.clip(np.searchsorted(self.c, v, side="right") - 1, 0, 167)
        rate = self.r[h]
        within = np.where(rate > 0, (v - self.c[h]) / np.where(rate > 0, rate, 1.0), 0.0)
        return wk * WEEK + h * 3600.0 + within - self.offset + _MONDAY0


def arrival_times(arrivals: Arrivals, t0: float, rng: np.random.Generator, *, n: int | None = None,
                  until: float | None = None) -> np.ndarray:
    """Arrival instants (epoch seconds): the first at ``t0``, then by the profile."""
    warp = _Warp(arrivals, tz_offset(arrivals.tz, pd.Timestamp(t0, unit="s", tz="UTC")))
    w0 = warp.forward(t0)
    if n is not None:
        gaps = arrivals.interarrival.sample(rng, max(n - 1, 0))
        w = w0 + np.concatenate([[0.0], np.cumsum(gaps)])
        out = warp.inverse(w)
        out[0] = t0
        return out
    assert until is not None
    chunks = [np.array([0.0])]
    total = 0.0
    mean = max(arrivals.interarrival.mean, 1e-9)
    while True:
        k = int(max(64, min(1_000_000, 1.2 * (until - t0) / mean + 64)))
        g = np.cumsum(arrivals.interarrival.sample(rng, k)) + total
        chunks.append(g)
        total = float(g[-1])
        if warp.inverse(np.array([w0 + total]))[0] >= until:
            break
    w = w0 + np.concatenate(chunks)
    out = warp.inverse(w)
    out[0] = t0
    return out[out < until] if len(out) > 1 else out


# -- the run ---------------------------------------------------------------------------------

def _to_epoch(ts: Any, name: str) -> float:
    try:
        t = pd.Timestamp(ts)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a timestamp (ISO 8601); got {ts!r}.") from None
    if t.tzinfo is None:
        t = t.tz_localize("UTC")
    return t.value / 1e9


def run(
    model: SimulationModel,
    *,
    cases: int | None = None,
    until: Any = None,
    seed: int | np.random.Generator | None = None,
    warmup: int = 0,
    start: Any = None,
) -> SimulationResult:
    """Simulate ``model`` and return the simulated EventLog with its KPIs.

    Parameters
    ----------
    model : SimulationModel
    cases : int, optional
        Number of cases to generate. Every case runs to completion (none is lost).
    until : timestamp or duration, optional
        Instead of ``cases``: generate arrivals until this instant (a timestamp, or a
        duration such as ``"30d"`` after ``start``); all of them still complete.
    seed : int, Generator or None
        Same seed, same log.
    warmup : int
        Leading cases left out of the log and the KPIs (the system starts empty).
    start : timestamp, optional
        First arrival; default ``model.start`` (where the fitted log ended).

    Returns
    -------
    SimulationResult
        ``.log`` (columns ``case_id, activity, start, end, resource`` plus the case
        attributes) and ``.kpis`` (see :func:`kpis`).

    Examples
    --------
    >>> import leanops
    >>> from leanops import simulate
    >>> model = simulate.fit(leanops.datasets.load("purchasing_example"), seed=0)
    >>> res = simulate.run(model, cases=50, seed=1)
    >>> res.log.n_cases
    50
    """
    import simpy

    if (cases is None) == (until is None):
        raise InputError("run needs exactly one of cases=N or until=TIME; got "
                         f"cases={cases!r}, until={until!r}.")
    warmup = int(check_positive("warmup", warmup, integer=True, allow_zero=True))
    rng = check_seed(seed)
    streams = _Streams(int(rng.integers(0, 2**63 - 1)))
    r_arr, r_attr = streams.get("arrivals"), streams.get("attributes")

    st = start if start is not None else model.start
    if st is None:
        st = pd.Timestamp("2024-01-01", tz="UTC")
    t0 = _to_epoch(st, "start")
    if cases is not None:
        n = int(check_positive("cases", cases, integer=True))
        arr = arrival_times(model.arrivals, t0, r_arr, n=n)
    else:
        if isinstance(until, (str, pd.Timedelta)) and not _looks_like_time(until):
            t_until = t0 + pd.Timedelta(until).total_seconds()
        else:
            t_until = _to_epoch(until, "until")
        if t_until <= t0:
            raise InputError(f"until must be after the start {pd.Timestamp(t0, unit='s', tz='UTC')}; got {until!r}.")
        arr = arrival_times(model.arrivals, t0, r_arr, until=t_until)
        n = len(arr)

    # whole routes of recent cases (model.traces): one drawn per case, with its attributes
    attrs = model.attributes
    tr = model.traces
    case_route = None
    if tr.variants:
        cw = np.cumsum(np.asarray(tr.weights, dtype=float))
        tpick = np.minimum(np.searchsorted(cw, r_attr.random(n) * cw[-1], side="right"), len(cw) - 1)
        case_route = np.asarray(tr.cases, dtype=np.int64)[tpick].tolist()
    # case attributes: whole rows drawn jointly
    if attrs.names and attrs.rows and case_route is not None and len(attrs.rows) == len(tr.cases):
        pick = tpick
        cols = list(zip(*attrs.rows))
        attr_cols = {name: [cols[j][k] for k in pick.tolist()] for j, name in enumerate(attrs.names)}
    elif attrs.names and attrs.rows:
        pick = r_attr.integers(0, len(attrs.rows), n)
        cols = list(zip(*attrs.rows))
        attr_cols = {name: [cols[j][k] for k in pick.tolist()] for j, name in enumerate(attrs.names)}
    else:
        attr_cols = {}
        pick = None

    # compile activities, pools and routing into plain lists indexed by integers
    acts = model.activities
    a_index = {a.name: i for i, a in enumerate(acts)}
    env = simpy.Environment(initial_time=t0)
    use_prio = model.queue.discipline == "priority"
    pool_objs = []
    pool_idx: dict[str, int] = {}
    res_names: list[str] = []
    for p in model.pools:
        off = tz_offset(p.tz, pd.Timestamp(t0, unit="s", tz="UTC"))
        cal = FastCalendar(p.intervals, off)
        first = len(res_names)
        res_names.extend(p.members)
        # a pool is a free list plus a queue of waiting cases; a finishing case hands its
        # member straight to the first in line (no SimPy Request/Release objects per event)
        waiting: Any = [] if use_prio else deque()
        pool_idx[p.name] = len(pool_objs)
        if p.member_intervals:
            # members with their own hours: hand the case to the free member who works soonest
            mcal = {first + k: FastCalendar(p.hours_of(m), off) for k, m in enumerate(p.members)}
            pool_objs.append((waiting, list(range(first, first + p.size)), mcal))
        else:
            pool_objs.append((waiting, deque(range(first, first + p.size)), None if cal.always else cal))

    compiled = []  # per activity: (kind, resource, free, cal, common_stream, per_member_streams, delay_stream)
    for a in acts:
        common = _stream(a.duration, streams.get("duration", a.name))
        delay = _stream(a.delay, streams.get("delay", a.name)) if a.delay is not None else None
        if a.delay_after:
            by_prev = {a_index[pn]: _stream(dd, streams.get("delay", a.name, pn)) for pn, dd in a.delay_after}
            delay = (delay, by_prev)
        if a.release:
            # a batch: wait for the next daily release (in the arrivals' time zone)
            delay = ("release", [float(x) for x in a.release], delay)
        if a.pool is None:
            compiled.append((0, None, None, None, common, None, delay))
            continue
        waiting, free, cal = pool_objs[pool_idx[a.pool]]
        per = None
        if a.by_resource:
            pmembers = model.pool(a.pool).members
            base = res_names.index(pmembers[0])
            brd = dict(a.by_resource)
            per = {base + k: (_stream(brd[m], streams.get("duration", a.name, m)) if m in brd else common)
                   for k, m in enumerate(pmembers)}
        compiled.append((1, waiting, free, cal, common, per, delay))

    attr_pos = {name: j for j, name in enumerate(attrs.names)}

    def table(tab):
        cum, targets, acc = [], [], 0.0
        for t, p in tab:
            if p <= 0:
                continue
            acc += p
            cum.append(acc)
            targets.append(-1 if t == END else a_index[t])
        cum[-1] = 1.0 + 1e-12
        return cum, targets

    n_act = len(acts)
    routes: list[Any] = [None] * (n_act + 1)  # index n_act is START
    for r in model.routing:
        i = n_act if r.source == START else a_index[r.source]
        rules = tuple((attr_pos.get(u.attribute), u, table(u.next)) for u in r.rules)
        after = {(n_act if pv == START else a_index[pv]): table(t) for pv, t in r.after}
        routes[i] = (table(r.next), rules, after, _uniforms(streams.get("routing", r.source)))
    for i in range(n_act + 1):
        if routes[i] is None:  # an activity nothing follows: the case ends
            routes[i] = (([1.0 + 1e-12], [-1]), (), {}, None)
    # a case follows its route while the routing it passes through is as fitted
    same = [False] * (n_act + 1)
    variants: list[list[int]] = []
    if case_route is not None:
        from .model import routing_digest

        fitted = dict(tr.fitted)
        for r in model.routing:
            if fitted.get(r.source) == routing_digest(r):
                same[n_act if r.source == START else a_index[r.source]] = True
        for i, a in enumerate(acts):
            if a.name not in fitted and all(r.source != a.name for r in model.routing):
                same[i] = True  # nothing followed it then, nothing follows it now
        variants = [[a_index.get(x, -2) for x in v] + [-1] for v in tr.variants]  # -2: removed by a scenario
    # waits kept per case (model.traces.ranks): empirical delays read at the case's rank
    case_rank = None
    dq: list[Any] = []
    if case_route is not None and tr.ranks:
        case_rank = [tr.ranks[k] for k in tpick.tolist()]

        def qtab(dd):
            return list(dd.values) if dd is not None and dd.kind == "empirical" and len(dd.values) >= 2 else None

        dq = [(qtab(a.delay), {a_index[pn]: qtab(dd) for pn, dd in a.delay_after}) for a in acts]

    prio = None
    if use_prio:
        q = model.queue
        order = list(q.order)
        vals = attr_cols.get(q.attribute)
        if vals is None:
            raise InputError(f"queue.attribute {q.attribute!r} is not a case attribute of the model; "
                             f"attributes: {list(attrs.names)}.")
        prio = [order.index(v) if v in order else len(order) for v in vals]

    rc: list[int] = []
    ra: list[int] = []
    rs: list[float] = []
    re_: list[float] = []
    rr: list[int] = []
    done = [0.0] * n
    rc_app, ra_app, rs_app, re_app, rr_app = rc.append, ra.append, rs.append, re_.append, rr.append
    timeout = env.timeout
    rel_off = tz_offset(model.arrivals.tz, pd.Timestamp(t0, unit="s", tz="UTC"))
    event = env.event
    ticket = itertools.count()

    def choose(i: int, ci: int, before: int) -> int:
        (cum, targets), rules, after, unif = routes[i]
        matched = False
        if rules:
            for pos, rule, tab in rules:
                v = attr_cols[rule.attribute][ci] if pos is not None else None
                if rule.matches(v):
                    cum, targets = tab
                    matched = True
                    break
        if after and not matched:
            tab = after.get(before if before >= 0 else n_act)
            if tab is not None:
                cum, targets = tab
        if len(targets) == 1:
            return targets[0]
        return targets[bisect_right(cum, next(unif))]

    def case(ci: int):
        if case_route is not None and same[n_act] and variants[case_route[ci]][0] != -2:
            route = variants[case_route[ci]]
            rank = case_rank[ci] if case_rank is not None else None
            a = route[0]
            pos = 1
        else:
            route = rank = None
            a = choose(n_act, ci, -1)
        prev = -1
        pr = prio[ci] if prio is not None else 0
        while a >= 0:
            kind, waiting, free, cal, common, per, delay = compiled[a]
            if delay is not None:
                if type(delay) is tuple and delay[0] == "release":
                    _, rel, inner = delay
                    if type(inner) is tuple:
                        inner = inner[1].get(prev, inner[0])
                    if inner is not None:
                        yield timeout(next(inner))
                    now = env.now
                    tod = (now + rel_off) % 86400.0
                    k = bisect_right(rel, tod - 1e-9)
                    wait = (rel[k] - tod) if k < len(rel) else (86400.0 - tod + rel[0])
                    if wait > 0:
                        yield timeout(wait)
                elif rank is not None:
                    # the case waits where the recorded case it follows ranked among waits
                    qa, qp = dq[a]
                    if type(delay) is tuple:
                        dl = delay[1].get(prev, delay[0])
                        tab = qp.get(prev, qa) if prev in delay[1] else qa
                    else:
                        dl, tab = delay, qa
                    if tab is not None:
                        x = rank[pos - 1] * (len(tab) - 1)
                        j = min(int(x), len(tab) - 2)
                        yield timeout(tab[j] + (tab[j + 1] - tab[j]) * (x - j))
                    elif dl is not None:
                        yield timeout(next(dl))
                elif type(delay) is tuple:
                    dl = delay[1].get(prev, delay[0])
                    if dl is not None:
                        yield timeout(next(dl))
                else:
                    yield timeout(next(delay))
            before = prev
            prev = a
            if kind == 0:
                begin = env.now
                yield timeout(next(common))
                m = -1
            else:
                if free and not waiting:
                    if type(cal) is dict:
                        now = env.now
                        m, best = free[0], math.inf
                        for x in free:
                            t = cal[x].next_working(now)
                            if t < best:
                                m, best = x, t
                                if t <= now:
                                    break
                        free.remove(m)
                    else:
                        m = free.popleft()
                else:
                    ev = event()
                    if use_prio:
                        heappush(waiting, (pr, next(ticket), ev))
                    else:
                        waiting.append(ev)
                    m = yield ev
                now = env.now
                d = next(per[m]) if per is not None else next(common)
                if cal is None:
                    begin = now
                    yield timeout(d)
                else:
                    mc = cal[m] if type(cal) is dict else cal
                    begin = mc.next_working(now)
                    yield timeout(mc.add_working(begin, d) - now)
                if waiting:
                    (heappop(waiting)[2] if use_prio else waiting.popleft()).succeed(m)
                else:
                    free.append(m)
            rc_app(ci)
            ra_app(a)
            rs_app(begin)
            re_app(env.now)
            rr_app(m)
            if route is not None and same[a] and route[pos] != -2:
                a = route[pos]
                pos += 1
            else:
                route = rank = None
                a = choose(a, ci, before)
        done[ci] = env.now

    arr_list = arr.tolist()

    def source():
        now = t0
        for ci in range(n):
            t = arr_list[ci]
            if t > now:
                yield timeout(t - now)
                now = t
            env.process(case(ci))

    env.process(source())
    env.run()

    # -- the log ---------------------------------------------------------------------------
    rc_a = np.asarray(rc, dtype=np.int64)
    keep = rc_a >= warmup
    width = max(6, len(str(n)))
    case_names = np.array([f"sim_{i:0{width}d}" for i in range(n)], dtype=object)
    act_names = pd.Categorical.from_codes(np.asarray(ra, dtype=np.int64)[keep], categories=[a.name for a in acts])
    rr_a = np.asarray(rr, dtype=np.int64)[keep]
    res_arr = np.array(res_names + [None], dtype=object)
    rr_a = np.where(rr_a < 0, len(res_names), rr_a)
    df = pd.DataFrame({
        "case_id": case_names[rc_a[keep]],
        "activity": act_names,
        "start": pd.to_datetime(np.round(np.asarray(rs)[keep] * 1e6).astype(np.int64), unit="us", utc=True),
        "end": pd.to_datetime(np.round(np.asarray(re_)[keep] * 1e6).astype(np.int64), unit="us", utc=True),
        "resource": res_arr[rr_a],
    })
    for name, vals in attr_cols.items():
        df[name] = np.asarray(vals, dtype=object)[rc_a[keep]]
        try:
            df[name] = pd.to_numeric(df[name]) if all(isinstance(v, (int, float)) for v in vals[:100]) else df[name]
        except (TypeError, ValueError):
            pass
    log = EventLog(df, source="leanops.simulate", sort=True)
    arr_kept = arr[warmup:]
    done_kept = np.asarray(done)[warmup:]
    k = kpis(log, arrivals=arr_kept, completions=done_kept, model=model, offset_t0=t0)
    cases_df = pd.DataFrame({
        "case_id": case_names[warmup:],
        "arrival": pd.to_datetime(np.round(arr_kept * 1e6).astype(np.int64), unit="us", utc=True),
        "completion": pd.to_datetime(np.round(done_kept * 1e6).astype(np.int64), unit="us", utc=True),
    })
    return SimulationResult(log=log, kpis=k, cases=cases_df, seed=seed, warmup=warmup,
                            stats={"cases": n - warmup, "instances": int(keep.sum())})


def _looks_like_time(x: Any) -> bool:
    if isinstance(x, pd.Timedelta):
        return False
    try:
        pd.Timedelta(x)
        return False
    except (TypeError, ValueError):
        return True


def kpis(log: EventLog, *, arrivals: np.ndarray | None = None, completions: np.ndarray | None = None,
         model: SimulationModel | None = None, offset_t0: float | None = None) -> dict[str, float]:
    """KPIs of a (simulated or real) log.

    ``cycle_time_mean_s`` and ``cycle_time_p90_s`` (arrival to last end), ``wait_mean_s``
    (per activity instance: start minus the end of the case's previous instance, or minus
    the arrival for the first), ``throughput_per_day`` (cases completed per day between the
    first and the last arrival) and ``utilization:<pool>`` (busy working time over
    available working time, per pool, when a model is given).
    """
    d = log.df
    if len(d) == 0:
        return {"cycle_time_mean_s": float("nan"), "cycle_time_p90_s": float("nan"),
                "throughput_per_day": 0.0, "wait_mean_s": float("nan")}
    end = d["end"].to_numpy(dtype="datetime64[ns]").view(np.int64) / 1e9
    st = d["start"].to_numpy(dtype="datetime64[ns]").view(np.int64) / 1e9
    st = np.where(d["start"].isna().to_numpy(), end, st)
    codes = log.case_codes
    starts_pos = log.case_starts
    first = np.zeros(len(d), dtype=bool)
    first[starts_pos] = True
    case_first = np.minimum.reduceat(st, starts_pos)
    case_last = np.maximum.reduceat(end, starts_pos)
    if arrivals is not None and completions is not None and len(arrivals) == len(case_first):
        a_c, c_c = np.asarray(arrivals, dtype=float), np.asarray(completions, dtype=float)
    else:
        a_c, c_c = case_first, case_last
    ct = c_c - a_c
    prev_end = np.r_[np.nan, end[:-1]]
    ready = np.where(first, a_c[codes] if len(a_c) == log.n_cases else st, prev_end)
    wait = np.maximum(st - ready, 0.0)
    span = float(a_c.max() - a_c.min())
    if span > 0:
        done_in = ((c_c >= a_c.min()) & (c_c <= a_c.max())).sum()
        thr = done_in / (span / 86400.0)
    else:
        thr = float(len(ct)) / max((c_c.max() - a_c.min()) / 86400.0, 1e-9)
    out = {
        "cycle_time_mean_s": float(ct.mean()),
        "cycle_time_p90_s": float(np.quantile(ct, 0.9)),
        "throughput_per_day": float(thr),
        "wait_mean_s": float(wait.mean()),
    }
    if model is not None:
        t_a, t_b = float(a_c.min()), float(c_c.max())
        res = d["resource"].to_numpy(dtype=object, na_value=None)
        for p in model.pools:
            off = tz_offset(p.tz, pd.Timestamp(t_a, unit="s", tz="UTC"))
            busy = avail = 0.0
            cals = {}
            for mname in p.members:
                iv = p.hours_of(mname)
                if iv not in cals:
                    cals[iv] = FastCalendar(iv, off)
                cal = cals[iv]
                mask = res == mname
                busy += float(cal.working_seconds(st[mask], end[mask]).sum()) if mask.any() else 0.0
                avail += float(cal.working_seconds(np.array([t_a]), np.array([t_b]))[0])
            out[f"utilization:{p.name}"] = busy / avail if avail > 0 else float("nan")
    return out


@dataclass
class Replications:
    """KPIs over independent replications: mean and a 95% t-interval per KPI."""

    kpis: dict[str, dict[str, float | None]]
    runs: list[dict[str, float]]
    first: SimulationResult

    @property
    def log(self) -> EventLog:
        """The log of the first replication."""
        return self.first.log

    def to_frame(self) -> pd.DataFrame:
        """Mean and 95% CI per KPI across replications."""
        return pd.DataFrame([{"kpi": k, **v} for k, v in self.kpis.items()])

    def _repr_html_(self) -> str:
        return self.to_frame().to_html(index=False)


def summarize(runs: list[dict[str, float]]) -> dict[str, dict[str, float | None]]:
    """Mean and 95% t confidence interval of each KPI over replications.

    Bounds are clipped to the KPI's range (non-negative; utilisation at most 1).
    """
    from scipy import stats

    keys = list(dict.fromkeys(k for r in runs for k in r))
    out: dict[str, dict[str, float | None]] = {}
    for k in keys:
        x = np.array([r.get(k, np.nan) for r in runs], dtype=float)
        x = x[np.isfinite(x)]
        if len(x) == 0:
            out[k] = {"mean": None, "ci_low": None, "ci_high": None}
            continue
        m = float(x.mean())
        if len(x) < 2:
            out[k] = {"mean": m, "ci_low": None, "ci_high": None}
            continue
        h = float(stats.t.ppf(0.975, len(x) - 1) * x.std(ddof=1) / np.sqrt(len(x)))
        lo, hi = m - h, m + h
        # The t interval ignores the KPI's range: times, rates and counts are never
        # negative and utilisation never exceeds 1, so the bounds are clipped there.
        if (x >= 0).all():
            lo = max(lo, 0.0)
        if k.startswith("utilization") and (x <= 1).all():
            hi = min(hi, 1.0)
        out[k] = {"mean": m, "ci_low": lo, "ci_high": hi}
    return out


def replicate(
    model: SimulationModel,
    *,
    replications: int = 5,
    cases: int | None = None,
    until: Any = None,
    seed: int | np.random.Generator | None = None,
    warmup: int = 0,
    start: Any = None,
) -> Replications:
    """Run ``replications`` independent runs; KPIs with 95% confidence intervals.

    Examples
    --------
    >>> import leanops
    >>> from leanops import simulate
    >>> model = simulate.fit(leanops.datasets.load("purchasing_example"))
    >>> rep = simulate.replicate(model, replications=3, cases=50, seed=1)
    >>> sorted(rep.kpis["cycle_time_mean_s"])
    ['ci_high', 'ci_low', 'mean']
    """
    r = int(check_positive("replications", replications, integer=True))
    rng = check_seed(seed)
    seeds = rng.integers(0, 2**63 - 1, size=r)
    runs: list[dict[str, float]] = []
    first: SimulationResult | None = None
    for s in seeds:
        res = run(model, cases=cases, until=until, seed=int(s), warmup=warmup, start=start)
        runs.append(res.kpis)
        if first is None:
            first = res
    assert first is not None
    return Replications(summarize(runs), runs, first)
