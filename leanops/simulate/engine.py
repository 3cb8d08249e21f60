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
from typing import Any, Literal

import numpy as np
import pandas as pd

from .._durations import _from_text as _duration_text, parse_duration
from .._format import duration
from .._validation import check_positive, check_seed
from ..errors import InputError
from ..log import EventLog
from ._calendar import WEEK, FastCalendar, _MONDAY0, tz_offset
from .distributions import Distribution
from ._limits import check_cases, current as current_limits, step_limit_error
from .model import END, START, Arrivals, SimulationModel
from .state import OpenCase, State, current_state

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


# -- delays ----------------------------------------------------------------------------------

class _Delay:
    """The wait before an activity that no resource explains.

    ``own`` is the activity's delay stream, ``by_prev`` the streams by previous activity
    (``delay_after``); with ``tabs`` (empirical quantile tables) a case that follows a
    recorded route reads its wait at the recorded case's rank instead of drawing it; a
    ``release`` (daily times of day) makes the case wait for the next batch on top.
    """

    __slots__ = ("own", "by_prev", "tabs", "release", "offset")

    def __init__(self, own: Iterator[float] | None, by_prev: dict[int, Iterator[float]],
                 release: list[float] | None, offset: float) -> None:
        self.own, self.by_prev, self.release, self.offset = own, by_prev, release, offset
        self.tabs: tuple[list[float] | None, dict[int, list[float] | None]] | None = None

    @classmethod
    def compile(cls, a: Any, streams: _Streams, a_index: dict[str, int], offset: float) -> "_Delay | None":
        own = _stream(a.delay, streams.get("delay", a.name)) if a.delay is not None else None
        by_prev = {a_index[pn]: _stream(dd, streams.get("delay", a.name, pn)) for pn, dd in a.delay_after}
        release = [float(x) for x in a.release] if a.release else None
        if own is None and not by_prev and release is None:
            return None
        return cls(own, by_prev, release, offset)

    def draw(self, prev: int, rank: Any, pos: int) -> float | None:
        """Seconds to wait after the previous activity ``prev``; None: no wait at all."""
        s = self.by_prev.get(prev, self.own) if self.by_prev else self.own
        if rank is not None and self.release is None and self.tabs is not None:
            qa, qp = self.tabs
            tab = qp.get(prev, qa)
            if tab is not None:
                x = rank[pos - 1] * (len(tab) - 1)
                j = min(int(x), len(tab) - 2)
                return tab[j] + (tab[j + 1] - tab[j]) * (x - j)
        return next(s) if s is not None else None

    def release_wait(self, now: float) -> float:
        """Seconds from ``now`` to the next daily release (in the arrivals' time zone)."""
        rel = self.release
        assert rel is not None
        tod = (now + self.offset) % 86400.0
        k = bisect_right(rel, tod - 1e-9)
        return (rel[k] - tod) if k < len(rel) else (86400.0 - tod + rel[0])


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
    warmup: int | Literal["auto"] = 0,
    start: Any = None,
    from_log: EventLog | State | None = None,
    at: Any = None,
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
    warmup : int or "auto"
        Leading cases left out of the log and the KPIs (the system starts empty).
        ``"auto"`` measures steady state: the warm-up is found by MSER-5 (the truncation
        that minimises the standard error of the remaining cycle times, in batches of 5)
        and deleted, the drain after the last arrival is left out of throughput, WIP and
        utilisation, and ``stats["window"]`` says which window the KPIs cover. A window too
        short for a ±10% mean cycle time, or with no steady state found, is warned about.
    start : timestamp, optional
        First arrival; default ``model.start`` (where the fitted log ended), moved to the
        earliest working time of the pools.
    from_log : EventLog or State, optional
        Start from where this log's process stands at ``at`` instead of empty (see
        :func:`~leanops.simulate.current_state`): its open cases continue from their
        current step with their elapsed time, ids and attributes; an activity in progress
        keeps its resource busy for the rest of a duration drawn beyond the time it has
        already taken; cases between steps wait for the next as they are (a delay they
        have partly waited is shortened by that much). New arrivals follow the model from
        ``at``. ``warmup`` is not applied (a forecast is a transient by design).
    at : timestamp, optional
        With ``from_log``: the instant (default: the log's last timestamp).

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
    auto = warmup == "auto"
    if not auto:
        warmup = int(check_positive("warmup", warmup, integer=True, allow_zero=True))
    rng = check_seed(seed)
    streams = _Streams(int(rng.integers(0, 2**63 - 1)))
    r_arr, r_attr = streams.get("arrivals"), streams.get("attributes")

    state = None
    if from_log is not None:
        state = from_log if isinstance(from_log, State) else current_state(from_log, model=model, at=at)
        if start is not None:
            raise InputError("run takes start= or from_log= (which starts at its `at`), not both.")
        start, warmup, auto = state.at, 0, False
    elif at is not None:
        raise InputError("at= needs from_log=: the log whose state to start from.")
    t0 = _start_epoch(model, start)
    arr, n, t_until = _arrival_plan(model, cases, until, t0, r_arr)
    case_route, tpick, attr_cols = _case_draws(model, n, r_attr)
    opened = state.open if state is not None else ()
    if opened:
        # a case can continue only from an activity the model knows (a scenario may remove one)
        known = {a.name for a in model.activities}
        opened = tuple(oc for oc in opened if oc.current in known or (oc.current is None and oc.last in known))
    if opened and model.attributes.names:
        attr_cols = {nm: list(attr_cols.get(nm, [None] * n)) + [oc.attributes.get(nm) for oc in opened]
                     for nm in model.attributes.names}

    env = simpy.Environment(initial_time=t0)
    use_prio = model.queue.discipline == "priority"
    compiled, res_names, a_index = _compile(model, streams, t0, use_prio)
    routes, same, variants, case_rank = _compile_routes(model, a_index, streams, compiled, case_route, tpick)
    prio = None
    if use_prio:
        q = model.queue
        order = list(q.order)
        vals = attr_cols.get(q.attribute)
        if vals is None:
            raise InputError(f"queue.attribute {q.attribute!r} is not a case attribute of the model; "
                             f"attributes: {list(model.attributes.names)}.")
        prio = [order.index(v) if v in order else len(order) for v in vals]

    records: tuple[list, ...] = ([], [], [], [], [])
    done = [0.0] * (n + len(opened))
    case, resume = _processes(env, compiled, routes, same, variants, case_route, case_rank, attr_cols, prio,
                              use_prio, records, done, [a.name for a in model.activities])
    arr_list = arr.tolist()
    timeout = env.timeout

    def source():
        now = t0
        for ci in range(n):
            t = arr_list[ci]
            if t > now:
                yield timeout(t - now)
                now = t
            env.process(case(ci))

    if opened:
        _open_cases(opened, n, t0, model, model.activities, a_index, compiled, res_names, streams, env, case, resume)
    env.process(source())
    env.run()

    return _result(model, state, opened, arr, n, t0, t_until, cases is not None, auto, warmup, records, done,
                   res_names, attr_cols, seed)


def _arrival_plan(model: SimulationModel, cases: int | None, until: Any, t0: float,
                  rng: np.random.Generator) -> tuple[np.ndarray, int, float]:
    """(arrival instants, their number, the end of arrivals or NaN when sized by cases)."""
    t_until = math.nan
    if cases is not None:
        n = int(check_positive("cases", cases, integer=True))
        check_cases(n)
        arr = arrival_times(model.arrivals, t0, rng, n=n)
    else:
        if isinstance(until, (str, pd.Timedelta)) and not _looks_like_time(until):
            t_until = t0 + parse_duration(until, name="until")
        else:
            t_until = _to_epoch(until, "until")
        if t_until <= t0:
            raise InputError(f"until must be after the start {pd.Timestamp(t0, unit='s', tz='UTC')}; got {until!r}.")
        arr = arrival_times(model.arrivals, t0, rng, until=t_until)
        n = len(arr)
        check_cases(n, what="cases arriving before until")
    return arr, n, t_until


def _case_draws(model: SimulationModel, n: int, rng: np.random.Generator
                ) -> tuple[list[int] | None, np.ndarray | None, dict[str, list[Any]]]:
    """Per new case: the recorded route it follows (model.traces), and its attributes."""
    tpick = None
    # whole routes of recent cases (model.traces): one drawn per case, with its attributes
    attrs, tr = model.attributes, model.traces
    case_route = None
    if tr.variants:
        cw = np.cumsum(np.asarray(tr.weights, dtype=float))
        tpick = np.minimum(np.searchsorted(cw, rng.random(n) * cw[-1], side="right"), len(cw) - 1)
        case_route = np.asarray(tr.cases, dtype=np.int64)[tpick].tolist()
    # case attributes: whole rows drawn jointly
    if attrs.names and attrs.rows and case_route is not None and len(attrs.rows) == len(tr.cases):
        pick = tpick
        cols = list(zip(*attrs.rows))
        attr_cols = {name: [cols[j][k] for k in pick.tolist()] for j, name in enumerate(attrs.names)}
    elif attrs.names and attrs.rows:
        pick = rng.integers(0, len(attrs.rows), n)
        cols = list(zip(*attrs.rows))
        attr_cols = {name: [cols[j][k] for k in pick.tolist()] for j, name in enumerate(attrs.names)}
    else:
        attr_cols = {}
        pick = None
    return case_route, tpick, attr_cols


def _compile(model: SimulationModel, streams: _Streams, t0: float, use_prio: bool
             ) -> tuple[list[tuple], list[str], dict[str, int]]:
    """The activity plans: per activity ``(kind, waiting, free, cal, durations, per-member
    durations, _Delay | None)``, kind 0 needing no resource; with the resource names and
    each activity's index. A pool is a free list plus a queue of waiting cases; a finishing
    case hands its member straight to the first in line (no SimPy Request/Release objects)."""
    acts = model.activities
    a_index = {a.name: i for i, a in enumerate(acts)}
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

    rel_off = tz_offset(model.arrivals.tz, pd.Timestamp(t0, unit="s", tz="UTC"))
    compiled = []  # per activity: (kind, resource, free, cal, common_stream, per_member_streams, _Delay | None)
    for a in acts:
        common = _stream(a.duration, streams.get("duration", a.name))
        delay = _Delay.compile(a, streams, a_index, rel_off)
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
    return compiled, res_names, a_index


def _compile_routes(model: SimulationModel, a_index: dict[str, int], streams: _Streams, compiled: list[tuple],
                    case_route: list[int] | None, tpick: np.ndarray | None) -> tuple[list[Any], list[bool], list[list[int]], Any]:
    """Routing tables as cumulative lists (index len(activities) is START), where recorded
    routes still apply, the routes as indices, and each case's wait ranks."""
    acts, tr = model.activities, model.traces
    attr_pos = {name: j for j, name in enumerate(model.attributes.names)}

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
    if case_route is not None and tr.ranks:
        case_rank = [tr.ranks[k] for k in tpick.tolist()]

        def qtab(dd):
            return list(dd.values) if dd is not None and dd.kind == "empirical" and len(dd.values) >= 2 else None

        for a, c in zip(acts, compiled):
            if c[6] is not None:
                c[6].tabs = (qtab(a.delay), {a_index[pn]: qtab(dd) for pn, dd in a.delay_after})
    return routes, same, variants, case_rank


def _processes(env: Any, compiled: list[tuple], routes: list[Any], same: list[bool], variants: list[list[int]],
               case_route: list[int] | None, case_rank: Any, attr_cols: dict[str, list[Any]], prio: list[int] | None,
               use_prio: bool, records: tuple[list, ...], done: list[float], names: list[str]) -> tuple[Any, Any]:
    """The SimPy processes of a run: ``case(ci, ...)`` and ``resume(ci, ...)``, closures over
    the compiled plans (closure cells are the fastest lookups Python has per event)."""
    n_act = len(compiled)
    rc, ra, rs, re_, rr = records
    rc_app, ra_app, rs_app, re_app, rr_app = rc.append, ra.append, rs.append, re_.append, rr.append
    timeout = env.timeout
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

    max_steps = current_limits().steps_per_case

    def hand_over(waiting: Any, free: Any, m: int) -> None:
        # the member goes straight to the first case in line, or back to the free list
        if waiting:
            (heappop(waiting)[2] if use_prio else waiting.popleft()).succeed(m)
        else:
            free.append(m)

    def case(ci: int, last: int = -1, before_last: int = -1, credit: float = 0.0):
        # last >= 0: an open case (from_log) that continues after its activity `last`
        if last >= 0:
            route = rank = None
            a = choose(last, ci, before_last)
            prev = last
        elif case_route is not None and same[n_act] and variants[case_route[ci]][0] != -2:
            route = variants[case_route[ci]]
            rank = case_rank[ci] if case_rank is not None else None
            a = route[0]
            pos = 1
            prev = -1
        else:
            route = rank = None
            a = choose(n_act, ci, -1)
            prev = -1
        pr = prio[ci] if prio is not None else 0
        steps = 0
        while a >= 0:
            steps += 1
            if steps > max_steps:  # a loop the routing almost never leaves (simulate/_limits.py)
                raise step_limit_error(names[a], names[prev] if prev >= 0 else None, max_steps)
            kind, waiting, free, cal, common, per, delay = compiled[a]
            if delay is not None:
                x = delay.draw(prev, rank, pos if rank is not None else 0)
                if x is not None:
                    if credit:
                        # an open case has waited this long already
                        x, credit = max(x - credit, 0.0), 0.0
                    yield timeout(x)
                if delay.release is not None:
                    x = delay.release_wait(env.now)
                    if x > 0:
                        yield timeout(x)
            credit = 0.0
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
                hand_over(waiting, free, m)
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

    def resume(ci: int, a: int, before: int, m: int, remaining: float, begin: float):
        # an open case's activity in progress at the start: its member stays busy until it ends
        kind, waiting, free, cal, *_ = compiled[a]
        if m < 0 or cal is None:
            yield timeout(remaining)
        else:
            mc = cal[m] if type(cal) is dict else cal
            yield timeout(mc.add_working(mc.next_working(env.now), remaining) - env.now)
        if m >= 0:
            hand_over(waiting, free, m)
        for column, value in zip((rc, ra, rs, re_, rr), (ci, a, begin, env.now, m)):
            column.append(value)
        yield from case(ci, a, before)

    return case, resume


def _result(model: SimulationModel, state: State | None, opened: tuple[OpenCase, ...], arr: np.ndarray, n: int,
            t0: float, t_until: float, sized_by_cases: bool, auto: bool, warmup: int, records: tuple[list, ...],
            done: list[float], res_names: list[str], attr_cols: dict[str, list[Any]], seed: Any) -> SimulationResult:
    """The simulated log, KPIs over the right window, the case table and the run's stats."""
    acts = model.activities
    rc, ra, rs, re_, rr = records
    window = None
    if auto:
        done_a = np.asarray(done)
        warmup, ok = mser5(done_a - arr)
        w_end = float(arr[-1]) if sized_by_cases else t_until
        window = (float(arr[min(warmup, n - 1)]), max(w_end, float(arr[min(warmup, n - 1)])))
        notices = _check_window(done_a[warmup:] - arr[warmup:], ok)
    if opened:
        arr = np.r_[arr, [oc.arrival for oc in opened]]
    width = max(6, len(str(n)))
    case_names = np.array([f"sim_{i:0{width}d}" for i in range(n)] + [oc.case_id for oc in opened], dtype=object)
    log, n_inst = _to_log(rc, ra, rs, re_, rr, warmup, case_names, acts, res_names, attr_cols)
    arr_kept = arr[warmup:]
    done_kept = np.asarray(done)[warmup:]
    if opened:
        # the log sorts cases by id; the open cases' ids do not follow the new ones'
        pos = pd.Index(case_names[warmup:]).get_indexer(log.case_ids)
        aligned = len(pos) == len(arr_kept)
        k = kpis(log, arrivals=arr_kept[pos] if aligned else None, completions=done_kept[pos] if aligned else None,
                 model=model, offset_t0=t0, seen_from=np.where(pos >= n, arr_kept[pos], np.nan) if aligned else None)
    else:
        k = kpis(log, arrivals=arr_kept, completions=done_kept, model=model, offset_t0=t0, window=window)
    stats: dict[str, Any] = {"cases": n + len(opened) - warmup, "instances": n_inst}
    if window is not None:
        stats["window"] = {"start": pd.Timestamp(window[0], unit="s", tz="UTC").isoformat(),
                           "end": pd.Timestamp(window[1], unit="s", tz="UTC").isoformat(),
                           "warmup_s": round(window[0] - t0, 3), "cases_counted": int(n - warmup)}
        if window[1] > window[0]:
            # time-averaged work in process within the window, every case's overlap with it
            ov = np.minimum(np.asarray(done), window[1]) - np.maximum(arr, window[0])
            stats["wip_mean"] = float(np.maximum(ov, 0.0).sum() / (window[1] - window[0]))
        if notices:
            import warnings

            stats["warnings"] = notices
            for msg in notices:
                warnings.warn(msg, UserWarning, stacklevel=2)
    cases_df = pd.DataFrame({
        "case_id": case_names[warmup:],
        "arrival": pd.to_datetime(np.round(arr_kept * 1e6).astype(np.int64), unit="us", utc=True),
        "completion": pd.to_datetime(np.round(done_kept * 1e6).astype(np.int64), unit="us", utc=True),
    })
    if opened:
        cases_df["open"] = np.r_[np.zeros(n, dtype=bool), np.ones(len(opened), dtype=bool)]
        stats["open_cases"] = len(opened)
        stats["open_cases_left_out"] = len(state.open) - len(opened)
    return SimulationResult(log=log, kpis=k, cases=cases_df, seed=seed, warmup=warmup, stats=stats)


def _to_log(rc: list[int], ra: list[int], rs: list[float], re_: list[float], rr: list[int], warmup: int,
            case_names: np.ndarray, acts: Any, res_names: list[str], attr_cols: dict[str, list[Any]]) -> tuple[EventLog, int]:
    """The recorded instances (plain lists) as an EventLog, leaving out the warm-up cases."""
    rc_a = np.asarray(rc, dtype=np.int64)
    keep = rc_a >= warmup
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
    return EventLog(df, source="leanops.simulate", sort=True), int(keep.sum())


def _open_cases(opened: tuple[OpenCase, ...], n: int, t0: float, model: SimulationModel, acts: Any,
                a_index: dict[str, int], compiled: list[Any], res_names: list[str], streams: _Streams,
                env: Any, case: Any, resume: Any) -> None:
    """Start the open cases of a state (case indices from ``n``): those with an activity in
    progress first, holding their member (the one named in the log if it is free, else
    the first free one of the pool), then those waiting for their next step, oldest first."""
    rng = streams.get("state")
    by_name = {r: i for i, r in enumerate(res_names)}
    order = sorted(range(len(opened)), key=lambda j: (opened[j].current is None, opened[j].last_end))
    for j in order:
        oc = opened[j]
        ci = n + j
        before = a_index.get(oc.last, -1) if oc.last is not None else -1
        a = a_index.get(oc.current, -1) if oc.current is not None else -1
        if a >= 0:
            kind, _, free, cal, *_ = compiled[a]
            m = -1
            if kind == 1 and free:
                want = by_name.get(oc.resource, -1) if oc.resource is not None else -1
                m = want if want in free else free[0]
                free.remove(m)
            act = acts[a]
            dist = dict(act.by_resource).get(res_names[m], act.duration) if m >= 0 else act.duration
            mc = (cal[m] if type(cal) is dict else cal) if m >= 0 else None
            elapsed = (float(mc.working_seconds(np.array([oc.current_start]), np.array([t0]))[0])
                       if mc is not None else t0 - oc.current_start)
            # the rest of a duration drawn beyond what the instance has already taken; an
            # instance older than every draw is overdue and ends at once
            draws = dist.sample(rng, 64)
            longer = draws[draws > elapsed]
            remaining = float(longer[0] - elapsed) if len(longer) else 0.0
            env.process(resume(ci, a, before, m, remaining, oc.current_start))
        elif oc.last is not None and oc.last in a_index:
            env.process(case(ci, a_index[oc.last], a_index.get(oc.before_last, -1) if oc.before_last else -1,
                             max(t0 - oc.last_end, 0.0)))


def mser5(y: np.ndarray, *, batch: int = 5) -> tuple[int, bool]:
    """Warm-up length (in observations) by MSER-5, and whether a steady state was found.

    ``y`` in order of arrival is cut into batch means of 5; the truncation ``d`` (in
    batches, at most half of them) minimises ``var(z[d:]) / (k - d)``, the squared
    standard error of the mean that remains (White, 1997). A minimum in the second half
    means the run never settled: ``ok`` is False.

    Examples
    --------
    >>> import numpy as np
    >>> y = np.r_[np.linspace(0, 9, 50), np.full(200, 10.0) + np.tile([-1.0, 1.0], 100)]
    >>> mser5(y)
    (50, True)
    """
    y = np.asarray(y, dtype=float)
    k = len(y) // batch
    if k < 4:
        return 0, False
    z = y[: k * batch].reshape(k, batch).mean(axis=1)
    # suffix sums give every truncation's variance in one pass
    rev = z[::-1]
    cnt = np.arange(1, k + 1, dtype=float)
    s1 = np.cumsum(rev)[::-1]
    s2 = np.cumsum(rev * rev)[::-1]
    m = cnt[::-1]
    var = np.maximum(s2 / m - (s1 / m) ** 2, 0.0)
    crit = var / m
    half = k // 2
    d = int(np.argmin(crit[: half + 1]))
    return d * batch, d < half


#: the relative 95% half-width of the mean cycle time a steady-state window should reach
_PRECISION = 0.10


def _check_window(ct: np.ndarray, settled: bool) -> list[str]:
    """What is wrong with a steady-state window: no steady state, or too short a window for
    the mean cycle time within ±10% (batch means over 10 batches)."""
    from scipy import stats

    if not settled:
        return ["simulation: no steady state found (the cycle times still drift at the end of the run); "
                "KPIs describe a transient. Simulate more cases (--cases) or days (--days)."]
    nb = 10
    if len(ct) < 5 * nb:
        half = math.inf
    else:
        z = ct[: len(ct) // nb * nb].reshape(nb, -1).mean(axis=1)
        mean = float(z.mean())
        half = float(stats.t.ppf(0.975, nb - 1) * z.std(ddof=1) / math.sqrt(nb)) / mean if mean > 0 else 0.0
    if half > _PRECISION:
        return [f"simulation: the steady-state window is too short for a mean cycle time within "
                f"±{_PRECISION:.0%}; simulate more cases (--cases) or days (--days)."]
    return []


def _start_epoch(model: SimulationModel, start: Any) -> float:
    """The first arrival: ``start``, or where the fitted log ended moved to the earliest
    working time of any pool (a log that ends after closing time would otherwise open the
    run with every case waiting for the next shift)."""
    if start is not None:
        return _to_epoch(start, "start")
    if model.start is None:
        return _to_epoch(pd.Timestamp("2024-01-01", tz="UTC"), "start")
    t0 = _to_epoch(model.start, "start")
    at = pd.Timestamp(t0, unit="s", tz="UTC")
    nxt = [FastCalendar(p.intervals, tz_offset(p.tz, at)).next_working(t0) for p in model.pools]
    return min(nxt) if nxt else t0


def _looks_like_time(x: Any) -> bool:
    """Not a duration in any form the one duration parser reads (``'2 weeks'`` too)."""
    if isinstance(x, pd.Timedelta):
        return False
    return math.isnan(_duration_text(x))


def kpis(log: EventLog, *, arrivals: np.ndarray | None = None, completions: np.ndarray | None = None,
         model: SimulationModel | None = None, offset_t0: float | None = None,
         window: tuple[float, float] | None = None, seen_from: np.ndarray | None = None) -> dict[str, float]:
    """KPIs of a (simulated or real) log.

    ``cycle_time_mean_s`` and ``cycle_time_p90_s`` (arrival to last end; for a fitted
    model, whose arrivals are the logged first starts (``model.arrivals.basis ==
    "first_start"``), first start to last end, as the log shows a case: the wait before
    the first activity, which no log shows, is counted in ``wait_mean_s`` but not in cycle
    times; ``seen_from``, where not NaN, overrides the start, e.g. with the real first start
    of a case that was open at a state's instant), ``wait_mean_s``
    (per activity instance: start minus the end of the case's previous instance, or minus
    the arrival for the first), ``throughput_per_day`` (cases completed per day between the
    first and the last arrival) and ``utilization:<pool>`` (busy working time over
    available working time, per pool, when a model is given).

    With ``window=(a, b)`` (epoch seconds, a steady-state window), throughput counts the
    completions in the window over its length and utilisation is measured within it, so
    the drain after the last arrival is left out.
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
    first_seen = case_first if model is not None and model.arrivals.basis == "first_start" else a_c
    if seen_from is not None:
        first_seen = np.where(np.isnan(seen_from), first_seen, seen_from)
    ct = c_c - first_seen
    prev_end = np.r_[np.nan, end[:-1]]
    ready = np.where(first, a_c[codes] if len(a_c) == log.n_cases else st, prev_end)
    wait = np.maximum(st - ready, 0.0)
    span = float(a_c.max() - a_c.min())
    if window is not None and window[1] > window[0]:
        thr = float(((c_c >= window[0]) & (c_c <= window[1])).sum()) / ((window[1] - window[0]) / 86400.0)
    elif span > 0:
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
        t_a, t_b = (float(a_c.min()), float(c_c.max())) if window is None else window
        if window is not None:
            st, end = np.clip(st, t_a, t_b), np.clip(end, t_a, t_b)
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
    warmup: int | Literal["auto"] = "auto",
    start: Any = None,
) -> Replications:
    """Run ``replications`` independent runs; KPIs with 95% confidence intervals.

    By default each run measures steady state (``warmup="auto"``, see :func:`run`).

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
