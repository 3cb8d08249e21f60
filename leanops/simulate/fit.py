"""Discover a :class:`SimulationModel` from an event log."""

from __future__ import annotations

import dataclasses
import math
import re
import warnings
from collections.abc import Callable
from typing import Any, Literal

import numpy as np
import pandas as pd

from .._pools import resource_model
from .._validation import check_choice, check_positive, check_seed
from ..errors import InputError
from ..log import EventLog
from ._calendar import ALWAYS, WEEK, FastCalendar, _MONDAY0, normalize_intervals, tz_offset
from .distributions import Distribution, fit_distribution, mean_preserving
from .model import (END, START, Activity, Arrivals, CaseAttributes, Pool, Queue, Routing, Rule, SimulationModel, Traces,
                    _plain, routing_digest)

__all__ = ["fit"]

_CANON = ("case_id", "activity", "start", "end", "resource")
_MAX_ATTR_ROWS = 5000


def fit(
    log: EventLog,
    *,
    calendars: Literal["discover", "24/7"] = "discover",
    data_aware: bool = True,
    per_resource: bool = True,
    recency: float | Literal["auto"] | None = "auto",
    order: Literal[1, 2] = 1,
    routing: Literal["auto", "markov", "variants"] = "auto",
    case_waits: bool = True,
    delays: bool = True,
    batches: bool = True,
    priorities: bool = True,
    min_samples: int = 20,
    min_member_events: int = 400,
    queue: Queue | None = None,
    seed: int | np.random.Generator | None = 0,
    progress: Callable[[int, int], None] | None = None,
) -> SimulationModel:
    """Discover a simulation model from ``log``.

    Parameters
    ----------
    log : EventLog
        With start times, or completion only (start times are then estimated).
    calendars : {"discover", "24/7"}
        Learn each pool's weekly working hours, or assume resources always work.
    data_aware : bool
        Let routing depend on case attributes where the data show it (e.g.
        ``amount >= 10000 -> Audit``), chosen by a likelihood-ratio test with a BIC penalty.
    per_resource : bool
        Fit separate durations for resources that are clearly faster or slower.
    recency : float, "auto" or None
        Half-life, as a share of the log's time span, for weighting recent cases more in
        the arrival rate, the routing probabilities and the calibrated delays. None weighs
        all cases equally; "auto" uses 0.1 when the log drifts (the arrival rate in the first
        and second half of the span differs beyond sampling error) and None otherwise.
    order : {1, 2}
        Routing memory: 1 chooses the next activity from the current one; 2 also from
        the one before it, where the data show a clear difference.
    routing : {"auto", "variants", "markov"}
        "variants" draws each simulated case's whole route (with its attributes) from the
        most recent cases, weighted by recency, so loops, rework counts and longer-range
        dependencies between steps are reproduced; the routing tables are still fitted
        and take over where a scenario changes the routing. "markov" routes step by step
        from the tables only. "auto" takes whole routes when the data show that the next
        step depends on more than the current one (as in ``order=2``), else "markov".
    case_waits : bool
        With ``routing="variants"`` and calibrated delays: a simulated case waits where
        the recorded case whose route it follows ranked among the waits of the same
        transition, so waits stay correlated within a case as in the log, instead of
        being drawn independently at each step.
    delays : bool
        Calibrate waiting that resource contention does not explain (a customer who has
        not replied, a batch, a resource busy elsewhere): the model is simulated over the
        log's period once, and each activity whose observed waits exceed the simulated
        ones gets a delay before it, shaped like its observed waits, making up the rest.
    batches : bool
        Detect activities released in a daily batch: their instances all waited across
        the same time of day (the busiest start minute), so cases wait for that release.
    priorities : bool
        Detect a priority queue: a case attribute with a few values whose classes wait
        consistently differently (at least 2x, in every activity with enough data) is
        taken as the queue priority, shortest-waiting class first.
    min_samples : int
        Fewer observations than this give an empirical (or fixed) duration, with a warning.
    min_member_events : int
        A pool member with at least this many instance starts and ends, whose working
        hours are clearly shorter than the pool's, gets a calendar of its own.
    queue : Queue, optional
        The queue discipline; FIFO by default.
    seed : int, Generator or None
        For the subsampling in distribution fitting.
    progress : callable(done, total), optional
        Called as the fit's stages finish (the CLI draws a progress bar with it).

    Returns
    -------
    SimulationModel
        ``model.summary()`` reports what was discovered; ``model.notes`` lists the
        approximations.

    Examples
    --------
    >>> import leanops
    >>> from leanops import simulate
    >>> model = simulate.fit(leanops.datasets.load("purchasing_example"))
    >>> len(model.activities), model.arrivals.interarrival.mean > 0
    (21, True)
    """
    if not isinstance(log, EventLog):
        raise InputError(f"log must be a leanops.EventLog; got {type(log).__name__}. Read one with leanops.read(path).")
    check_choice("calendars", calendars, ("discover", "24/7"))
    if recency is not None and recency != "auto":
        check_positive("recency", recency)
    check_choice("order", order, (1, 2))
    check_choice("routing", routing, ("auto", "markov", "variants"))
    routing_mode = routing
    if len(log) == 0:
        raise InputError("log has no activity instances; a simulation model needs at least one case.")
    rng = check_seed(seed)
    fit_seed = int(rng.integers(0, 2**31 - 1))
    notes: list[str] = []
    tick = _ticker(progress, 8)
    # the log's one resource model (pools from activity profiles, cached on the log, shared
    # with every analysis); taken before start estimation, which keeps the rows and so the pools
    res_pool = resource_model(log).pools

    if not log.has_start_times or log.df["start"].isna().any():
        log, how = _with_start_times(log)
        notes.append(f"start times estimated ({how})")
    d = log.df
    tz = log.tz if isinstance(log.tz, str) and log.tz else "UTC"
    n = len(d)
    acts = [str(a) for a in d["activity"].cat.categories]
    act_code = d["activity"].cat.codes.to_numpy().astype(np.int64)
    used = np.bincount(act_code, minlength=len(acts)) > 0
    start = d["start"].to_numpy(dtype="datetime64[ns]").view(np.int64) / 1e9
    end = d["end"].to_numpy(dtype="datetime64[ns]").view(np.int64) / 1e9
    start = np.minimum(start, end)
    case = log.case_codes
    cstarts = log.case_starts
    first = np.zeros(n, dtype=bool)
    first[cstarts] = True
    last = np.zeros(n, dtype=bool)
    last[np.r_[cstarts[1:] - 1, n - 1]] = True
    arrival = np.minimum.reduceat(start, cstarts)
    span = float(max(arrival.max() - arrival.min(), 1.0))
    if recency == "auto":
        recency, why = _drift(arrival, np.maximum.reduceat(end, cstarts) - arrival)
        notes.append(f"recency: {'half-life ' + str(recency) + ' of the span' if recency else 'none'} ({why})")
    if recency is not None:
        half = recency * span
        cw = 0.5 ** ((arrival.max() - arrival) / half)
    else:
        cw = np.ones(log.n_cases)

    tick()
    # -- case attributes ------------------------------------------------------------------
    # the most recent cases (by arrival) describe today's mix best; their attribute rows
    # and their routes (when routing="variants") are drawn together
    recent = np.sort(np.argsort(arrival, kind="stable")[-_MAX_ATTR_ROWS:])
    attr_names, attr_frame = _case_attributes(log)
    if attr_names:
        rows = attr_frame[attr_names].iloc[recent]
        attr_rows = tuple(tuple(_plain(v) for v in r) for r in rows.itertuples(index=False, name=None))
        attributes = CaseAttributes(tuple(attr_names), attr_rows)
    else:
        attributes = CaseAttributes()

    tick()
    # -- pools ----------------------------------------------------------------------------
    res = d["resource"].to_numpy(dtype=object, na_value=None)
    pool_members, act_pool, used_pools = _pools(res_pool, res, acts, act_code, used, notes)

    tick()
    # -- calendars ------------------------------------------------------------------------
    if calendars == "discover" and used_pools:
        cals, member_cals = _calendars(d, acts, act_code, act_pool, used_pools, pool_members, res, tz,
                                       min_member_events, notes)
    else:
        cals, member_cals = {p: (ALWAYS, tz) for p in used_pools}, {}
    t_ref = pd.Timestamp(float(arrival.max()), unit="s", tz="UTC")
    fast = {p: FastCalendar(iv, tz_offset(ctz, t_ref)) for p, (iv, ctz) in cals.items()}

    tick()
    # -- durations ------------------------------------------------------------------------
    dur = _working_durations(start, end, res, acts, act_code, act_pool, fast, member_cals, tz, t_ref)
    cm_end = pd.Series(end).groupby(case, sort=False).cummax().to_numpy()
    enabled_at = np.where(first, np.nan, np.r_[np.nan, cm_end[:-1]])
    activities = _activities(acts, used, act_code, dur, res, act_pool, pool_members, start, enabled_at,
                             tz_offset(tz, t_ref), min_samples=min_samples, per_resource=per_resource,
                             batches=batches, seed=fit_seed, notes=notes)

    tick()
    # -- routing --------------------------------------------------------------------------
    drivers = _routing_attributes(attr_names, attr_frame, act_code, cstarts, notes) if attr_names else []
    routing = _routing(acts, act_code, first, last, case, cw, attr_frame if attr_names else None,
                       drivers if data_aware else [], notes, order)

    if routing_mode == "auto":
        # whole routes where step-by-step routing misses what the data show: the next step
        # depends on the one before the current (a second-order G-test with a BIC penalty)
        probe = _routing(acts, act_code, first, last, case, cw, None, [], [], 2)
        n_dep = sum(len(r.after) for r in probe)
        routing_mode = "variants" if n_dep else "markov"
        notes.append(f"routing: {'whole routes' if n_dep else 'step by step'} "
                     f"({n_dep} (previous, current) pairs where the next step depends on the previous)")
    traces = _traces(acts, act_code, cstarts, recent, cw, routing, notes) if routing_mode == "variants" else Traces()

    tick()
    # -- arrivals -------------------------------------------------------------------------
    arrivals = dataclasses.replace(_arrivals(np.sort(arrival), tz, cw[np.argsort(arrival)], recency, notes),
                                   basis="first_start")

    pools = _final_pools(used_pools, pool_members, cals, member_cals, activities, notes)
    if queue is None and drivers and priorities:
        queue = _discover_priority(attr_frame, drivers, act_code, first, case, start, enabled_at,
                                   [acts.index(a.name) for a in activities if a.pool is not None], notes)
    model = SimulationModel(
        activities=tuple(activities),
        routing=routing,
        pools=pools,
        arrivals=arrivals,
        attributes=attributes,
        queue=queue if queue is not None else Queue(),
        start=log.end_time,
        notes=tuple(notes),
        traces=traces,
    )
    if delays and log.n_cases >= 2:
        model = _calibrate_delays(model, log, acts, act_code, start, end, first, case, fit_seed, cw[case],
                                  recent=recent if case_waits else None)
    tick()
    ct_log = float((np.maximum.reduceat(end, cstarts) - arrival).mean())
    model = dataclasses.replace(model, trust=_trust(model, ct_log, log.n_cases, fit_seed))
    tick()
    return model


def _ticker(progress: Callable[[int, int], None] | None, total: int) -> Callable[[], None]:
    """A callable that reports one more finished stage of ``total`` to ``progress``."""
    done = [0]

    def tick() -> None:
        done[0] += 1
        if progress is not None:
            progress(min(done[0], total), total)

    return tick


#: a baseline whose mean cycle time is off the log's by more than this factor is flagged
_TRUST_FACTOR = 2.0


def _trust(model: SimulationModel, ct_log: float, n_cases: int, seed: int) -> dict[str, Any]:
    """Simulate the baseline as a user would (default start) and set it against the log.

    A baseline whose mean cycle time is off by more than :data:`_TRUST_FACTOR` is flagged,
    with a warning: the usual cause is a calendar or a start time that the log does not
    support, and every scenario delta inherits the error.
    """
    from .._format import duration
    from .engine import run

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the window's precision is not the point here
        res = run(model, cases=int(min(max(n_cases, 100), 500)), seed=seed, warmup="auto")
    ct_sim = float(res.kpis["cycle_time_mean_s"])
    ratio = ct_sim / ct_log if ct_log > 0 else float("nan")
    ok = bool(ct_log > 0 and 1 / _TRUST_FACTOR <= ratio <= _TRUST_FACTOR)
    if ct_log <= 0:
        statement = "unmeasurable: the log's cases take no time"
    elif ok:
        statement = (f"baseline mean cycle time {duration(ct_sim)} against {duration(ct_log)} in the log "
                     f"({ratio:.2f}x): consistent")
    else:
        statement = (f"baseline mean cycle time {duration(ct_sim)} is far from the log's {duration(ct_log)} "
                     f"({ratio:.2f}x): check the pools' working hours and the start time before trusting "
                     "scenario effects")
        warnings.warn(f"simulation model: {statement}", UserWarning, stacklevel=3)
    return {"log_cycle_time_mean_s": round(ct_log, 1), "simulated_cycle_time_mean_s": round(ct_sim, 1),
            "ratio": round(ratio, 3) if ratio == ratio else None, "ok": ok, "statement": statement}


# a weekly calendar needs most of a week seen (5 days' span) and three active days; from
# less, hours learnt from one Monday would close the process for the rest of the week
_MIN_SPAN_DAYS = 5.0
_MIN_ACTIVE_DAYS = 3


def _evidence(ns: np.ndarray, tz: str) -> tuple[float, int]:
    """(span in days, distinct local days with activity) of UTC ns instants."""
    if len(ns) == 0:
        return 0.0, 0
    span = float(ns.max() - ns.min()) / 86400e9
    off = tz_offset(tz, pd.Timestamp(int(ns.max()), unit="ns", tz="UTC")) * 1e9
    days = np.unique(((ns + off) // (86400 * 10**9)).astype(np.int64))
    return span, int(len(days))


def _enough(ns: np.ndarray, tz: str) -> bool:
    span, days = _evidence(ns, tz)
    return span >= _MIN_SPAN_DAYS and days >= _MIN_ACTIVE_DAYS


def _calendars(d: pd.DataFrame, acts: list[str], act_code: np.ndarray, act_pool: dict[str, str | None],
               used_pools: list[str], pool_members: dict[str, list[str]], res: np.ndarray, tz: str,
               min_member_events: int, notes: list[str]):
    """Weekly hours per pool (and per member with clearly shorter hours).

    A pool's own hours need enough evidence: at least ``min_member_events // 4`` instances
    over most of a week (:data:`_MIN_SPAN_DAYS` span, :data:`_MIN_ACTIVE_DAYS` active days).
    With less, the pool falls back to the whole log's hours, and when the log itself is
    too short for that, to 24/7; each fallback is warned about, naming the pool.

    These are not the resource model's pool calendars (``discover_calendar(by="pool")``):
    the simulation needs the shifts of the pool *serving each activity*, learnt from all
    the instances it serves, with a low threshold that keeps a pool's quiet afternoons.
    """
    cals: dict[str, tuple[tuple[tuple[int, int], ...], str]] = {}
    member_cals: dict[str, dict[str, tuple[tuple[int, int], ...]]] = {}
    s_ns = d["start"].to_numpy(dtype="datetime64[ns]").view(np.int64)
    e_ns = d["end"].to_numpy(dtype="datetime64[ns]").view(np.int64) - 1
    inst_pool = np.array([act_pool.get(a) for a in acts], dtype=object)[act_code]
    all_ns = np.concatenate([s_ns, e_ns])
    log_ok = _enough(all_ns, tz)
    log_iv = _discover_intervals(all_ns, tz) if log_ok else ALWAYS
    to_log, to_always = [], []
    for p in used_pools:
        m = inst_pool == p
        p_ns = np.concatenate([s_ns[m], e_ns[m]])
        if 2 * m.sum() < min_member_events / 2 or not _enough(p_ns, tz):
            # too little evidence for this pool's own week: the log's, or 24/7
            cals[p] = (log_iv, tz)
            (to_log if log_ok else to_always).append(p)
            continue
        iv = _discover_intervals(p_ns, tz)
        cals[p] = (iv, tz)
        if len(pool_members[p]) < 2:
            continue
        # members with plenty of data and clearly shorter hours keep their own calendar
        pool_h = sum(b - a for a, b in iv)
        for r in pool_members[p]:
            mr = m & (res == r)
            if 2 * mr.sum() < min_member_events or not _enough(np.concatenate([s_ns[mr], e_ns[mr]]), tz):
                continue
            ivr = _discover_intervals(np.concatenate([s_ns[mr], e_ns[mr]]), tz)
            if ivr != iv and sum(b - a for a, b in ivr) < 0.8 * pool_h:
                member_cals.setdefault(p, {})[r] = ivr
    need = (f"under {min_member_events // 4} instances, or under {_MIN_SPAN_DAYS:g} days' span "
            f"or {_MIN_ACTIVE_DAYS} active days")
    if to_log:
        notes.append(f"{len(to_log)} pools with too little evidence for their own hours ({need}) use the log's "
                     f"working hours: {', '.join(to_log[:6])}{' …' if len(to_log) > 6 else ''}")
    if to_always:
        span, days = _evidence(all_ns, tz)
        msg = (f"calendar: too little evidence to learn working hours ({need}; the log spans {span:.1f} days "
               f"over {days} active days); pools {', '.join(to_always[:6])}{' …' if len(to_always) > 6 else ''} "
               "are taken as working 24/7. Fit a longer log, or pass calendars='24/7' to silence this")
        warnings.warn(msg, UserWarning, stacklevel=3)
        notes.append(msg)
    return cals, member_cals



def _pools(res_pool: dict[str, str], res: np.ndarray, acts: list[str], act_code: np.ndarray, used: np.ndarray,
           notes: list[str]) -> tuple[dict[str, list[str]], dict[str, str | None], list[str]]:
    """(members per pool, each activity's pool, the pools used), from the log's resource
    model: the pool serving most of an activity's instances serves all of them."""
    pool_members: dict[str, list[str]] = {}
    for r, p in res_pool.items():
        pool_members.setdefault(p, []).append(r)
    act_pool: dict[str, str | None] = {}
    for i, a in enumerate(acts):
        if not used[i]:
            continue
        rr = res[act_code == i]
        rr = [r for r in rr if r is not None]
        if not rr:
            act_pool[a] = None
            continue
        counts = pd.Series([res_pool[str(r)] for r in rr]).value_counts()
        act_pool[a] = str(counts.index[0])
        share = counts.iloc[0] / counts.sum()
        if share < 0.9:
            notes.append(f"{a}: {share:.0%} of instances by pool {counts.index[0]!r}; the others' share is served by it too")
    used_pools = sorted({p for p in act_pool.values() if p is not None})
    return pool_members, act_pool, used_pools


def _working_durations(start: np.ndarray, end: np.ndarray, res: np.ndarray, acts: list[str], act_code: np.ndarray,
                       act_pool: dict[str, str | None], fast: dict[str, FastCalendar],
                       member_cals: dict[str, dict[str, Any]], tz: str, t_ref: pd.Timestamp) -> np.ndarray:
    """Each instance's duration in working time of its pool's (or member's) calendar."""
    dur = end - start
    for p, cal in fast.items():
        if cal.always:
            continue
        m = np.array([act_pool.get(acts[c]) == p for c in range(len(acts))])[act_code]
        if m.any():
            dur[m] = cal.working_seconds(start[m], end[m])
        for r, ivr in member_cals.get(p, {}).items():
            mr = m & (res == r)
            if mr.any():
                dur[mr] = FastCalendar(ivr, tz_offset(tz, t_ref)).working_seconds(start[mr], end[mr])
    return np.maximum(dur, 0.0)


def _activities(acts: list[str], used: np.ndarray, act_code: np.ndarray, dur: np.ndarray, res: np.ndarray,
                act_pool: dict[str, str | None], pool_members: dict[str, list[str]], start: np.ndarray,
                enabled_at: np.ndarray, offset: float, *, min_samples: int, per_resource: bool, batches: bool,
                seed: int, notes: list[str]) -> list[Activity]:
    """Durations (shared, and per resource where clearly different) and daily batch releases."""
    small: list[str] = []
    activities: list[Activity] = []
    for i, a in enumerate(acts):
        if not used[i]:
            continue
        m = act_code == i
        x = dur[m]
        dist = fit_distribution(x, min_samples=min_samples, seed=seed)
        if len(x) < min_samples:
            small.append(f"{a} ({len(x)})")
        by_res: list[tuple[str, Distribution]] = []
        pool = act_pool[a]
        if per_resource and pool is not None and len(x) >= 2 * min_samples:
            by_res = _per_resource(x, res[m], pool_members[pool], dist, min_samples, seed)
            if by_res:
                # the shared distribution describes the other members only
                special = {r for r, _ in by_res}
                others = np.array([r not in special for r in res[m]], dtype=bool)
                if others.sum() >= 1:
                    dist = fit_distribution(x[others], min_samples=min_samples, seed=seed)
        release = _batch_release(start[m], enabled_at[m], offset) if batches else ()
        if release:
            notes.append(f"{a}: released in a daily batch at {release[0] // 3600:02d}:{release[0] % 3600 // 60:02d}")
        activities.append(Activity(a, pool, dist, tuple(by_res), release=release))
    if small:
        msg = (f"too few observations to fit a distribution for {len(small)} activities "
               f"({', '.join(small[:5])}{' …' if len(small) > 5 else ''}); using empirical or fixed durations")
        warnings.warn(msg, UserWarning, stacklevel=3)
        notes.append(msg)
    return activities


def _traces(acts: list[str], act_code: np.ndarray, cstarts: np.ndarray, recent: np.ndarray, cw: np.ndarray,
            routing: tuple[Routing, ...], notes: list[str]) -> Traces:
    """Whole routes of the most recent cases, with their recency weights."""
    seqs = np.split(act_code, cstarts[1:])
    keys: dict[tuple[int, ...], int] = {}
    case_var = [keys.setdefault(tuple(seqs[c].tolist()), len(keys)) for c in recent]
    variants = tuple(tuple(acts[x] for x in v) for v in keys)
    traces = Traces(variants, tuple(case_var), tuple(float(x) for x in cw[recent] / cw[recent].max()),
                    tuple((r.source, routing_digest(r)) for r in routing))
    notes.append(f"routing: whole routes of the {len(recent)} most recent cases ({len(variants)} variants), "
                 "drawn with their attributes; the routing tables serve scenarios that change routing")
    return traces


def _final_pools(used_pools: list[str], pool_members: dict[str, list[str]], cals: dict[str, Any],
                 member_cals: dict[str, Any], activities: list[Activity], notes: list[str]) -> tuple[Pool, ...]:
    """The model's pools with their hours (24/7 for a pool that only works on batches)."""
    # a pool that only works on batches: the release times explain when it works, and
    # hours learned from that work would wrongly stop a long batch at a made-up closing time
    for p in used_pools:
        mine = [x for x in activities if x.pool == p]
        if mine and all(x.release for x in mine) and cals[p][0] != ALWAYS:
            cals[p] = (ALWAYS, cals[p][1])
            member_cals.pop(p, None)
            notes.append(f"pool {p}: works only on batches; its hours are taken as 24/7")
    pools = tuple(
        Pool(p, tuple(sorted(pool_members[p])), cals[p][0], cals[p][1], tuple(sorted(member_cals.get(p, {}).items())))
        for p in used_pools
    )
    for p in pools:
        own = f" ({len(p.member_intervals)} members with their own hours)" if p.member_intervals else ""
        notes.append(f"pool {p.name}: {p.size} members, hours {p.hours}{own}")
    return pools


def _observed_waits(start: np.ndarray, end: np.ndarray, first: np.ndarray, case: np.ndarray) -> np.ndarray:
    """Start minus enablement (latest end of the case's earlier instances); 0 for the first."""
    cm = pd.Series(end).groupby(case, sort=False).cummax().to_numpy()
    enabled = np.r_[np.nan, cm[:-1]]
    w = np.where(first, 0.0, start - enabled)
    return np.maximum(np.nan_to_num(w, nan=0.0), 0.0)


def _weighted_empirical(x: np.ndarray, w: np.ndarray, n: int = 101) -> Distribution:
    if np.allclose(w, w[0]):
        return Distribution.empirical(x)
    o = np.argsort(x)
    x, w = x[o], w[o]
    cw = np.cumsum(w)
    cw = (cw - w / 2) / cw[-1]
    q = mean_preserving(np.interp(np.linspace(0, 1, n), cw, x), float((x * w).sum() / w.sum()))
    return Distribution("empirical", (), tuple(float(v) for v in q))


def _prev_codes(act_code: np.ndarray, first: np.ndarray) -> np.ndarray:
    return np.where(first, -1, np.r_[-1, act_code[:-1]])


#: cases simulated per delay-calibration round (at most)
_CALIBRATION_CASES = 3000


def _sim_waits(model: SimulationModel, log: EventLog, seed: int, acts: list[str]) -> pd.Series:
    """Mean simulated wait per (previous activity code, activity code), over the log's period."""
    from .engine import run

    # a long log's period is represented by its first cases: the waits each transition sees
    # settle within a few thousand, and each calibration round is a full simulation
    res = run(model, cases=min(log.n_cases, _CALIBRATION_CASES), seed=seed, start=log.start_time)
    sd = res.log.df
    s_st = sd["start"].to_numpy(dtype="datetime64[ns]").view(np.int64) / 1e9
    s_en = sd["end"].to_numpy(dtype="datetime64[ns]").view(np.int64) / 1e9
    s_first = np.zeros(len(sd), dtype=bool)
    s_first[res.log.case_starts] = True
    s_w = _observed_waits(s_st, s_en, s_first, res.log.case_codes)
    index = {a: i for i, a in enumerate(acts)}
    code = np.array([index[str(a)] for a in sd["activity"].cat.categories], dtype=np.int64)[sd["activity"].cat.codes.to_numpy()]
    prev = _prev_codes(code, s_first)
    keep = ~s_first
    return pd.Series(s_w[keep]).groupby([prev[keep], code[keep]]).mean()


def _calibrate_delays(model: SimulationModel, log: EventLog, acts: list[str], act_code: np.ndarray,
                      start: np.ndarray, end: np.ndarray, first: np.ndarray, case: np.ndarray,
                      seed: int, weights: np.ndarray, rounds: int = 3, min_pair: int = 20,
                      recent: np.ndarray | None = None) -> SimulationModel:
    """Add delays until simulated mean waits match the observed ones, per transition.

    The wait before an activity often depends on what came before it (waiting for a
    supplier after 'Send request' is not waiting after 'Rework'), so delays are fitted per
    (preceding activity, activity) pair with at least ``min_pair`` observations, and per
    activity for the rest. Only waits that resources leave largely unexplained (observed
    more than twice the simulated ones) get a delay. Each round simulates the log's period
    and moves every delay's scale by the remaining gap; a delay keeps the shape of the
    observed waits.
    """
    import dataclasses

    obs = _observed_waits(start, end, first, case)
    prev = _prev_codes(act_code, first)
    keep = ~first
    pair_n = pd.Series(1, index=pd.MultiIndex.from_arrays([prev[keep], act_code[keep]])).groupby(level=[0, 1]).sum()
    # keys: (prev code or -2 for "any other", activity code)
    shapes: dict[tuple[int, int], Distribution] = {}
    w_obs: dict[tuple[int, int], float] = {}
    masks: dict[tuple[int, int], np.ndarray] = {}
    for a in model.activities:
        ai = acts.index(a.name)
        m_act = (act_code == ai) & keep
        if not m_act.any():
            continue
        rest = m_act.copy()
        for (pv, ac), cnt in pair_n.items():
            if ac == ai and cnt >= min_pair:
                mm = m_act & (prev == pv)
                masks[(int(pv), ai)] = mm
                rest &= ~mm
        if rest.any():
            masks[(-2, ai)] = rest
    for key, mm in masks.items():
        ww = weights[mm]
        wo = float((obs[mm] * ww).sum() / ww.sum())
        if wo > 0:
            shapes[key] = _weighted_empirical(obs[mm], ww)
            w_obs[key] = wo
    if not shapes:
        return model

    def sim_mean(ws: pd.Series, key: tuple[int, int]) -> float:
        pv, ai = key
        if pv >= 0:
            return float(ws.get((pv, ai), 0.0))
        others = [(p, a) for (p, a) in ws.index if a == ai and (p, ai) not in masks]
        vals = [float(ws[k]) for k in others]
        return float(np.mean(vals)) if vals else 0.0

    w0 = _sim_waits(model, log, seed, acts)
    for key in list(shapes):
        if w_obs[key] <= 2.0 * sim_mean(w0, key) + 60.0:
            del shapes[key], w_obs[key]
    if not shapes:
        return model
    scale = {k: 0.0 for k in shapes}

    def build() -> SimulationModel:
        new = []
        for x in model.activities:
            ai = acts.index(x.name)
            d_any = shapes.get((-2, ai))
            s_any = scale.get((-2, ai), 0.0)
            after = tuple((acts[pv], shapes[(pv, a2)].scaled(scale[(pv, a2)]))
                          for (pv, a2) in shapes if a2 == ai and pv >= 0 and scale[(pv, a2)] > 0)
            new.append(dataclasses.replace(x, delay=d_any.scaled(s_any) if d_any is not None and s_any > 0 else None,
                                           delay_after=after))
        return dataclasses.replace(model, activities=tuple(new))

    current = model
    for r in range(rounds):
        ws = w0 if r == 0 else _sim_waits(current, log, seed, acts)
        changed = False
        for k, wo in w_obs.items():
            gap = (wo - sim_mean(ws, k)) / wo
            if abs(gap) > 0.05:
                scale[k] = max(0.0, scale[k] + gap)
                changed = True
        if not changed:
            break
        current = build()
    added = sorted({acts[k[1]] for k in shapes if scale[k] > 0})
    if not added:
        return model
    if current.traces.variants and recent is not None:
        # each recorded case's rank among the waits of its transitions, so that a case
        # drawn from the log keeps its waits together (long waiters wait long throughout)
        ranks = _wait_ranks(obs, masks, weights)
        per_case = np.split(ranks, np.flatnonzero(np.diff(case)) + 1)
        current = dataclasses.replace(current, traces=dataclasses.replace(
            current.traces, ranks=tuple(tuple(round(float(x), 4) for x in per_case[c]) for c in recent)))
    n_pairs = sum(1 for k in shapes if k[0] >= 0 and scale[k] > 0)
    note = (f"delays calibrated for {len(added)} activities whose waits resources do not explain "
            f"({n_pairs} by preceding activity): {', '.join(added[:6])}{' …' if len(added) > 6 else ''}")
    return dataclasses.replace(current, notes=model.notes + (note,))


def _wait_ranks(obs: np.ndarray, masks: dict[tuple[int, int], np.ndarray], weights: np.ndarray) -> np.ndarray:
    """Weighted mid-rank (0..1) of each wait among the waits of its transition; ties share one."""
    out = np.zeros(len(obs))
    for mm in masks.values():
        idx = np.flatnonzero(mm)
        x, w = obs[idx], weights[idx]
        o = np.argsort(x, kind="stable")
        xs, ws = x[o], w[o]
        cw = np.cumsum(ws)
        mid = (cw - ws / 2) / cw[-1]
        # ties: the mean position of their block
        _, inv = np.unique(xs, return_inverse=True)
        mid = (np.bincount(inv, weights=mid * ws) / np.bincount(inv, weights=ws))[inv]
        r = np.empty(len(idx))
        r[o] = mid
        out[idx] = np.clip(r, 0.0, 1.0)
    return out


def _discover_intervals(ns: np.ndarray, tz: str) -> tuple[tuple[int, int], ...]:
    """Weekly working hours from instants (start and end - 1ns) in whole-hour slots.

    A slot is working when it holds at least 5% of the count of a busy slot (the 90th
    percentile of non-empty slots) and at least 2 instants; a non-empty hour between two
    working hours of the same day is working too. Close to the whole week means 24/7.
    A low relative threshold keeps the quiet afternoons of a pool that clears its
    morning backlog fast.
    """
    if len(ns) == 0:
        return ALWAYS
    from ..calendar import _slot_counts

    counts = _slot_counts(ns, tz).astype(float)
    flat = counts.ravel()
    nz = flat[flat > 0]
    ref = float(np.quantile(nz, 0.9))
    working = (counts >= max(2.0, 0.05 * ref))
    if len(ns) < 100:
        working = counts > 0
    # an hour that is working on most working days is working on the others too, if used
    days_on = working.any(axis=1)
    if days_on.sum() >= 3:
        common = working[days_on].mean(axis=0) >= 0.6
        working |= common[None, :] & days_on[:, None] & (counts > 0)
    for day in range(7):
        idx = np.flatnonzero(working[day])
        if len(idx) > 1:
            gap = np.zeros(24, dtype=bool)
            gap[idx[0]: idx[-1] + 1] = True
            working[day] |= gap & (counts[day] > 0)
    if working.sum() >= 0.9 * 168:
        return ALWAYS
    iv = [(dd * 86400 + h * 3600, dd * 86400 + (h + 1) * 3600) for dd in range(7) for h in range(24) if working[dd, h]]
    return normalize_intervals(iv) or ALWAYS


def _discover_priority(frame: pd.DataFrame, names: list[str], act_code: np.ndarray, first: np.ndarray,
                       case: np.ndarray, start: np.ndarray, enabled: np.ndarray, pooled: list[int],
                       notes: list[str], min_group: int = 30) -> Queue | None:
    from scipy import stats

    wait = np.where(first, np.nan, start - enabled)
    ok = np.isfinite(wait) & np.isin(act_code, pooled)
    best: tuple[float, str, list] | None = None
    for name in names:
        col = frame[name]
        if pd.api.types.is_numeric_dtype(col) and col.nunique() > 5:
            continue
        vals = col.to_numpy(dtype=object)[case]
        levels = [v for v in pd.unique(col.dropna()) if v is not None]
        if not 2 <= len(levels) <= 5:
            continue
        ratios, orders = [], []
        for ai in np.unique(act_code[ok]):
            m = ok & (act_code == ai)
            groups = {v: wait[m & (vals == v)] for v in levels}
            if any(len(g) < min_group for g in groups.values()):
                continue
            means = {v: float(g.mean()) for v, g in groups.items()}
            if min(means.values()) <= 0 or stats.kruskal(*groups.values()).pvalue > 1e-6:
                ratios.append(1.0)
                orders.append(None)
                continue
            ratios.append(max(means.values()) / min(means.values()))
            orders.append(tuple(sorted(levels, key=lambda v: means[v])))
        if not ratios or any(o is None for o in orders) or len(set(orders)) != 1:
            continue
        r = float(np.median(ratios))
        if r >= 2.0 and (best is None or r > best[0]):
            best = (r, name, list(orders[0]))
    if best is None:
        return None
    notes.append(f"queue: priority by {best[1]} {best[2]} (waits differ {best[0]:.1f}x, first served first)")
    return Queue("priority", best[1], tuple(best[2]))


def _batch_release(start: np.ndarray, enabled: np.ndarray, offset: float, min_n: int = 30,
                   share: float = 0.95) -> tuple[int, ...]:
    """(T,) when at least ``share`` of the instances waited across the daily time T, the
    minute of day at which most of them start; () otherwise."""
    ok = np.isfinite(enabled)
    if ok.sum() < min_n:
        return ()
    s, e = start[ok], enabled[ok]
    tod = np.floor(((s + offset) % 86400.0) / 60.0).astype(np.int64)
    counts = np.bincount(tod, minlength=1440)
    t_min = int(np.argmax(counts))
    if counts[t_min] < 5:
        return ()
    t_sec = t_min * 60
    until = (t_sec - (e + offset) % 86400.0) % 86400.0  # from enablement to the next T
    crossed = s >= e + until - 1.0
    if crossed.mean() >= share:
        return (t_sec,)
    return ()


def _drift(arrival: np.ndarray, cycle: np.ndarray) -> tuple[float | None, str]:
    """0.1 if the first and second half of the cases differ clearly, else None."""
    from scipy import stats

    n = len(arrival)
    if n < 40:
        return None, "too few cases to tell drift"
    order_ = np.argsort(arrival)
    a, c = arrival[order_], cycle[order_]
    h = n // 2
    # arrival rate: counts in the two halves of the time span against a binomial(n, 1/2)
    mid = (a[0] + a[-1]) / 2
    k = int((a < mid).sum())
    p_rate = float(stats.binomtest(k, n, 0.5).pvalue)
    p_ct = float(stats.mannwhitneyu(c[:h], c[h:]).pvalue)
    # cycle times of a stationary queue are autocorrelated (a busy spell slows many cases
    # in a row), so their test overstates drift: it only informs, the arrival rate decides
    if p_rate < 0.001:
        return 0.1, f"drift: arrival-rate p = {p_rate:.2g}, cycle-time p = {p_ct:.2g}"
    return None, f"no drift: arrival-rate p = {p_rate:.2g}, cycle-time p = {p_ct:.2g}"


def _case_attributes(log: EventLog) -> tuple[list[str], pd.DataFrame]:
    """Attributes constant within (almost) every case, one row per case in case order."""
    d = log.df
    cols = [c for c in d.columns if c not in _CANON]
    if not cols:
        return [], pd.DataFrame()
    cstarts = log.case_starts
    firsts = d.iloc[cstarts].reset_index(drop=True)
    keep = []
    codes = log.case_codes
    for c in cols:
        s = d[c]
        if pd.api.types.is_datetime64_any_dtype(s):
            continue
        nun = pd.Series(s.to_numpy(dtype=object)).groupby(codes).nunique(dropna=True)
        if (nun <= 1).mean() < 0.95:
            continue  # an event attribute, not a case attribute
        v = firsts[c]
        if v.isna().mean() > 0.5:
            continue
        if not pd.api.types.is_numeric_dtype(v) and v.nunique() > max(50, 0.5 * len(v)):
            continue  # identifiers are no use for routing or RCA
        keep.append(c)
    return keep, firsts[keep]


_PATH_NAME = re.compile(r"variant|trace[ _:-]?(id|index|key)|(^|[^a-z])path($|[^a-z])")


def _routing_attributes(names: list[str], frame: pd.DataFrame, act_code: np.ndarray, cstarts: np.ndarray,
                        notes: list[str]) -> list[str]:
    """The case attributes that may drive routing: not those that restate the path.

    A column named like a variant (``variant``, ``variant_index``, ``case:variant-index``,
    ``trace_id``, ``path``), or whose every value belongs to a single variant while it
    has values for at least half of the variants (at least 3), is the route itself written
    as data: a routing rule keyed on it would only replay the log.
    """
    seqs = np.split(act_code, cstarts[1:])
    variant = pd.Series(pd.factorize(pd.Series([s.tobytes() for s in seqs]))[0])
    n_var = int(variant.nunique())
    out, dropped = [], []
    for nm in names:
        col = frame[nm].reset_index(drop=True)
        if _PATH_NAME.search(str(nm).lower()):
            dropped.append(nm)
            continue
        k = int(col.nunique(dropna=True))
        if n_var >= 3 and k >= max(3, n_var // 2):
            per = variant.groupby(col.astype(object).to_numpy()).nunique()
            if len(per) and int(per.max()) == 1:
                dropped.append(nm)
                continue
        out.append(nm)
    if dropped:
        notes.append(f"not used for routing, as they restate the path: {', '.join(map(str, dropped))}")
    return out


def _with_start_times(log: EventLog) -> tuple[EventLog, str]:
    """Fill missing start times with :func:`leanops.mining.performance.estimate_start_times`."""
    from ..mining.performance import estimate_start_times

    return estimate_start_times(log), "leanops.estimate_start_times"


def _per_resource(x: np.ndarray, res: np.ndarray, members: list[str], base: Distribution,
                  min_samples: int, seed: int) -> list[tuple[str, Distribution]]:
    """Resources whose durations differ clearly from the activity's."""
    from scipy import stats

    out = []
    mean = float(np.mean(x))
    if mean <= 0:
        return out
    s = pd.Series(x)
    for r, idx in s.groupby(pd.Series(res, dtype=object)).groups.items():
        if r is None or str(r) not in members:
            continue
        xr = s.loc[idx].to_numpy()
        if len(xr) < min_samples:
            continue
        ratio = float(xr.mean()) / mean
        if 0.8 <= ratio <= 1.25:
            continue
        rest = s.drop(idx).to_numpy()
        if len(rest) < min_samples:
            continue
        p = stats.mannwhitneyu(xr, rest).pvalue
        if p < 0.001:
            out.append((str(r), fit_distribution(xr, min_samples=min_samples, seed=seed)))
    return out


def _probs(counts: np.ndarray, labels: list[str]) -> tuple[tuple[str, float], ...]:
    tot = counts.sum()
    return tuple((labels[j], float(counts[j] / tot)) for j in np.flatnonzero(counts > 0))


def _routing(acts, act_code, first, last, case, cw, attr_frame, attr_names, notes, order=1) -> tuple[Routing, ...]:
    k = len(acts)
    labels = acts + [END]
    src = np.where(first, k, np.r_[0, act_code[:-1]])
    dst = act_code
    w = cw[case]
    # transitions: (src -> dst) for every instance, plus (last -> END)
    s_all = np.concatenate([src, act_code[last]])
    d_all = np.concatenate([dst, np.full(int(last.sum()), k)])
    w_all = np.concatenate([w, w[last]])
    c_all = np.concatenate([case, case[last]])
    # the activity before the source: START (k) when the source is the case's first, -1 for START itself
    before_src = np.where(first, -1, np.r_[k, src[:-1]])
    before_src = np.where(~first & np.r_[False, first[:-1]], k, before_src)
    pp_last = np.where(first[last], k, src[last])
    b_all = np.concatenate([before_src, pp_last])
    mat = np.zeros((k + 1, k + 1))
    np.add.at(mat, (s_all, d_all), w_all)
    out = []
    for s in range(k + 1):
        row = mat[s]
        if row.sum() <= 0:
            continue
        source = START if s == k else acts[s]
        rules: list[Rule] = []
        sel = s_all == s
        if attr_names and (row > 0).sum() > 1 and sel.sum() >= 40:
            rules, rest = _rules(d_all[sel], w_all[sel], attr_frame.iloc[c_all[sel]].reset_index(drop=True), attr_names, labels)
            if rules:
                row = np.bincount(d_all[sel][rest], weights=w_all[sel][rest], minlength=k + 1)
            for r in rules:
                notes.append(f"data-aware routing after {source}: if {r} -> {dict((a, round(p, 3)) for a, p in r.next)}")
        after = _second_order(s_all[sel], d_all[sel], b_all[sel], w_all[sel], k, labels, acts) if s < k and order == 2 else ()
        out.append(Routing(source, _probs(row, labels), tuple(rules), after))
    n_after = sum(len(r.after) for r in out)
    if n_after:
        notes.append(f"routing depends on the activity before for {n_after} (previous, current) pairs")
    return tuple(out)


def _second_order(s, d, b, w, k, labels, acts, min_support: int = 20):
    """Tables of what follows the source given the activity before it, where the data
    show a clear difference from the first-order table (G-test with a BIC penalty)."""
    w = w * (len(w) / w.sum())  # weights as effective counts, for the test
    total = np.bincount(d, weights=w, minlength=k + 1)
    if (total > 0).sum() < 2:
        return ()
    p_all = total / total.sum()
    out = []
    for pv in np.unique(b):
        m = b == pv
        if m.sum() < min_support or pv < 0:
            continue
        c = np.bincount(d[m], weights=w[m], minlength=k + 1)
        nz = c > 0
        g = 2.0 * float((c[nz] * np.log((c[nz] / c.sum()) / p_all[nz])).sum())
        df = max(int((total > 0).sum()) - 1, 1)
        if g > df * math.log(int(m.sum())) + 5.0:
            out.append((START if pv == k else acts[pv], _probs(c, labels)))
    return tuple(out)


def _loglik(y: np.ndarray, w: np.ndarray, k: int) -> float:
    c = np.bincount(y, weights=w, minlength=k)
    t = c.sum()
    nz = c > 0
    return float((c[nz] * np.log(c[nz] / t)).sum())


def _rules(y: np.ndarray, w: np.ndarray, frame: pd.DataFrame, names: list[str], labels: list[str],
           max_rules: int = 3) -> tuple[list[Rule], np.ndarray]:
    """Greedy decision stumps: each rule splits off the cases it matches from the rest."""
    k = len(labels)
    rules: list[Rule] = []
    rest = np.ones(len(y), dtype=bool)
    for _ in range(max_rules):
        yy, ww = y[rest], w[rest]
        n = len(yy)
        if n < 40 or len(np.unique(yy)) < 2:
            break
        base = _loglik(yy, ww, k)
        n_out = len(np.unique(yy))
        penalty = (n_out - 1) * math.log(n) + 10.0
        best = None
        for name in names:
            col = frame[name][rest]
            for op, val, mask in _candidates(col):
                m = mask
                nm = int(m.sum())
                if nm < 10 or n - nm < 10:
                    continue
                g = 2 * (_loglik(yy[m], ww[m], k) + _loglik(yy[~m], ww[~m], k) - base)
                if g > penalty and (best is None or g > best[0]):
                    best = (g, name, op, val, m)
        if best is None:
            break
        _, name, op, val, m = best
        counts = np.bincount(yy[m], weights=ww[m], minlength=k)
        rules.append(Rule(name, op, val, _probs(counts, labels)))
        idx = np.flatnonzero(rest)
        rest[idx[m]] = False
    return rules, rest


def _candidates(col: pd.Series):
    v = col.to_numpy()
    if pd.api.types.is_bool_dtype(col):
        yield "==", True, v == True  # noqa: E712
        return
    if pd.api.types.is_numeric_dtype(col):
        x = v.astype(float)
        ok = ~np.isnan(x)
        if ok.sum() < 10:
            return
        qs = np.unique(np.quantile(x[ok], np.linspace(0.05, 0.95, 19)))
        for q in qs:
            q = float(q)
            yield ">=", _plain(_round(q)), ok & (x >= _round(q))
        return
    s = col.astype(object)
    top = s.value_counts().index[:10]
    for val in top:
        yield "==", _plain(val), (s == val).to_numpy()


def _round(q: float) -> float:
    if q == 0 or not math.isfinite(q):
        return q
    mag = 10 ** (math.floor(math.log10(abs(q))) - 2)
    r = round(q / mag) * mag
    return float(int(r)) if float(r).is_integer() else float(r)


def _arrivals(arr: np.ndarray, tz: str, w: np.ndarray, recency: float | None, notes: list[str]) -> Arrivals:
    """Weekly rate profile (day x hour, smoothed) and inter-arrivals in rate-weighted time."""
    from .engine import _Warp

    n = len(arr)
    if n < 2:
        notes.append("a single case: arrivals once a day")
        return Arrivals(Distribution.fixed(86400.0), tz=tz)
    off = tz_offset(tz, pd.Timestamp(float(arr[-1]), unit="s", tz="UTC"))
    local = arr + off - _MONDAY0
    slot = ((local % WEEK) // 3600).astype(np.int64)
    counts = np.bincount(slot, minlength=168).astype(float)
    # exposure: how many times each hour of the week occurs in the observed span
    h0, h1 = math.floor(local[0] / 3600), math.floor(local[-1] / 3600)
    hours = np.arange(h0, h1 + 1) % 168
    expo = np.bincount(hours, minlength=168).astype(float)
    expo = np.maximum(expo, 1.0)
    rate = counts / expo
    span_weeks = (arr[-1] - arr[0]) / WEEK
    expected = expo * (counts.sum() / expo.sum())
    chi2 = float(((counts - expected) ** 2 / np.maximum(expected, 1e-9)).sum())
    from scipy import stats

    p_flat = float(stats.chi2.sf(chi2, 167))
    if span_weeks < 1.0 or n < 30:
        profile = np.ones(168)
        notes.append("arrivals: too short a span for a weekly profile; flat")
    elif p_flat > 0.001:
        profile = np.ones(168)
        notes.append(f"arrivals: no weekly pattern (chi-square p = {p_flat:.2g}); flat profile")
    else:
        m = rate.reshape(7, 24)
        day = m.sum(axis=1)
        hour = m.sum(axis=0)
        prod = np.outer(day, hour) / max(m.sum(), 1e-12)
        # shrink the full hour-of-week rates towards the day x hour product when data are few
        k = 168 * 4.0
        full = rate / max(rate.mean(), 1e-12)
        prodn = prod.ravel() / max(prod.mean(), 1e-12)
        profile = (counts.sum() * full + k * prodn) / (counts.sum() + k)
        profile = profile * (168.0 / profile.sum())
    arrivals_flat = Arrivals(Distribution.fixed(1.0), tuple(float(x) for x in profile), tz)
    warp = _Warp(arrivals_flat, off)
    wt = np.array([warp.forward(float(t)) for t in arr])
    gaps = np.diff(wt)
    gaps = np.maximum(gaps, 0.0)
    cv = float(gaps.std() / gaps.mean()) if gaps.mean() > 0 else 0.0
    if 0.6 <= cv <= 1.4 and len(gaps) >= 2:
        # Independent arrivals are Poisson. The log shows first starts, which a queue at the
        # first activity smooths; their gaps look less variable than the real arrivals.
        dist = Distribution.exponential(float(gaps.mean()))
        notes.append(f"arrivals: Poisson in rate-weighted time (gap CV {cv:.2f})")
    else:
        dist = fit_distribution(gaps, candidates=("exponential", "gamma", "lognormal", "weibull"))
    if recency is not None:
        gw = w[1:]
        recent_mean = float((gaps * gw).sum() / gw.sum())
        if dist.mean > 0 and recent_mean > 0:
            dist = dist.scaled(recent_mean / dist.mean)
            notes.append(f"arrivals: recent-weighted mean inter-arrival {recent_mean:,.0f}s")
    return Arrivals(dist, tuple(float(x) for x in profile), tz)
