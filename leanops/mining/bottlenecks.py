"""Bottlenecks (which step constrains the flow) and rework.

The bottleneck score
--------------------
For each activity::

    score = wait_share × contention × utilization²     (shown relative to the top step = 1.00)

* ``wait_share``: the step's waiting time over all waiting time in the log (summed over
  instances): the one definition of "share of waiting" used everywhere.
* ``contention`` (0 to 1): the share of the step's on-shift waiting (after batching)
  during which *every* member of its pool (the pool doing most of its instances) was
  busy. Off-shift time is unavailability and counts neither way, so overnight waits do
  not dilute an office-hours pool's contention; a pool half idle while work waits shows
  low contention, not its average busy fraction.
* ``utilization`` (0 to 1): busy time over available time of that pool over the whole
  log. Squared, because a half-idle pool queues in bursts (after a release), not for lack
  of capacity.

Each wait is split by :mod:`leanops.mining.waits` into contention, unavailability,
prioritisation, batching and extraneous waiting (``wait_<cause>_s``). A step is
**capacity-bound** only when that busy waiting drives its wait (see :func:`bottlenecks`),
its pool is made of real resources (not a role label or a system,
:func:`leanops.evidence.role_resources`) and its starts are measured. Capacity-bound steps
rank first; the others follow by score. Every step carries its ``evidence`` level
(measured, estimated, unmeasurable) and a ``finding`` sentence; the result's ``caveats``
say what the data cannot show.

Busy members, queues and working time are counted on a time grid over the log's span
(bins of about a tenth of a typical service time; at most 2**20 of them, and at most one
per two instances): each wait covers the bins from its rounded start to its rounded end.
A member counts as busy in a bin when at least one of its instances covers it: each
resource's instances are merged into busy spells first (overlapping work of one
resource counts once, as in :func:`~leanops.utilization`), and each spell covers the
bins from its rounded start to its rounded end.

What the grid approximates: every interval end moves to the nearest grid line, by at
most half a bin. These errors have no sign on average, so busy time, queue area and
working time stay unbiased over many intervals; but two spells of a resource less than
a bin apart may touch, a wait shorter than a bin may cover no bin at all, and working
time is weighted per bin (the share of the bin inside working hours) rather than clock
to clock. So ``utilization`` here can differ from :func:`~leanops.utilization` by about
(number of spells × bin width) / available time at worst; on the bundled logs the two
agree within 0.4 points (production: 0.1 points).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .._format import duration
from .._validation import check_log
from ..calendar import Calendar
from ..log import EventLog
from ._engine import Engine, dispatch as _dispatch
from ._batch import Batch, from_log
from .performance import _instance_repeats, _instances, _repeats, _seconds_since
from .resources import CalendarSpec, _group_calendars, _pools
from .waits import (_BLOCK as _KEY_BLOCK, WAIT_CAUSES, batch_waits_at, grid_causes, instance_grid, overtaken_sums,
                    overtaken_waits, packed_triples, split_causes, split_instances)
from ..evidence import log_evidence, roles_and_spells

__all__ = ["bottlenecks", "rework", "wait_decomposition", "Bottlenecks", "Rework"]

BATCH_TOLERANCE_S = 1.0  # instances of one activity starting within 1 s of each other form a batch

_MAX_BINS = 1 << 20
_COLUMNS = [
    "rank", "activity", "score", "wait_mean_s", "wait_share", "service_mean_s", "utilization", "evidence",
    "contention", "pool", "pool_size", "instances", "wait_total_s", "queue_mean", "queue_max",
    "queue_growth_per_day", "rework_share",
]


def bottlenecks(log: EventLog | str | os.PathLike, *, calendar: CalendarSpec = None, engine: Engine = "auto",
                scheduler: str | None = None) -> pd.DataFrame:
    """Rank the steps that constrain the flow, worst first, with the evidence.

    ``score = wait_share × contention × utilization``, documented in the module docstring
    (:mod:`leanops.mining.bottlenecks`): the share of all waiting spent queueing for busy
    resources of the step, weighted by how saturated they are overall.

    Parameters
    ----------
    log : EventLog
    calendar : Calendar, str or dict, optional
        Working hours of the pools (as in :func:`~leanops.utilization`); learnt from the
        log by default.

    engine : {"auto", "pandas", "duckdb", "dask"}, default "auto"
        ``log`` may also be a canonical Parquet file or directory (:func:`leanops.convert`)
        or a :func:`leanops.scan`; "auto" then computes out of core in DuckDB. "dask" runs
        on the cluster at ``scheduler`` (partitions build the instance batch; the client holds it). The results are identical to the pandas engine's.
    scheduler : str, optional
        A Dask scheduler address such as ``tcp://host:8786`` (implies ``engine="dask"``).

    Returns
    -------
    Bottlenecks
        Reads like its ``table`` (``b["score"]``, ``b.loc``...). One row per activity,
        best-ranked first: ``rank, activity, score`` (relative to the top step = 1.00;
        ``score_raw`` is the absolute product), ``wait_mean_s`` (mean wait before it,
        over instances with a predecessor), ``wait_share`` (its waiting time over all
        waiting time in the log), ``service_mean_s``, ``utilization`` (of its pool over
        the log's span; NaN when the pool's size is unknown), ``evidence``
        (``"measured"``, ``"estimated"`` or ``"unmeasurable"``), ``contention`` (share
        of its on-shift waiting, after batching, during which its whole pool was busy),
        ``pool``, ``pool_size``, ``instances``, ``wait_total_s``, ``queue_mean`` and
        ``queue_max``, ``queue_growth_per_day``, ``rework_share``, ``starts_estimated``
        (instances with an estimated start), ``capacity_bound``, ``finding`` (a
        sentence) and ``wait_<cause>_s`` per cause of :mod:`leanops.mining.waits`.
        ``b.queue_over_time``, ``b.evidence`` and ``b.caveats`` say the rest.

        A step is **capacity-bound** only when its starts are measured, its pool is made
        of real resources, its pool was fully busy during at least half of its on-shift
        waiting, the pool is busy at least half of its working time, and that busy
        waiting is at least a quarter of the step's whole wait and at least 2% of all
        waiting in the log (a material share, not a rounding error).

    Examples
    --------
    >>> import leanops
    >>> b = leanops.bottlenecks(leanops.datasets.load("production"))
    >>> list(b.columns[:8])
    ['rank', 'activity', 'score', 'wait_mean_s', 'wait_share', 'service_mean_s', 'utilization', 'evidence']
    >>> b["score"].is_monotonic_decreasing
    True
    """
    if not (isinstance(log, EventLog) and engine in ("auto", "pandas") and scheduler is None):
        return _dispatch("bottlenecks", log, engine=engine, scheduler=scheduler, calendar=calendar)  # Parquet on disk: DuckDB or Dask (leanops.mining.outofcore)
    check_log(log)
    return _rank_table(**_decompose(log, calendar))


def _decompose(log: EventLog, calendar: CalendarSpec, *, batch_tolerance: float = BATCH_TOLERANCE_S,
               per_instance: bool = False) -> dict[str, Any]:
    """The in-memory engine: the log's batch and log-level inputs, into :func:`decompose`."""
    pools = _pools(log)
    cals = _group_calendars(log, sorted(set(pools.values())), "pool", calendar, pools)
    b = from_log(log)
    # the busy spells the role detection merged (exact times), when it measured this very
    # batch: every row with a start and a resource, no start estimated (same rows, codes)
    roles, spells = roles_and_spells(log)
    if b.extra["inst"].log is not log:
        spells = None
    return decompose(b, pools=pools, cals=cals, roles=roles, log_level=_log_level(log),
                     batch_tolerance=batch_tolerance, per_instance=per_instance, spells=spells)


def decompose(b: Batch, *, pools: dict[str, str], cals: dict[str, Calendar], roles: list[str],
              log_level: dict[str, Any], batch_tolerance: float = BATCH_TOLERANCE_S,
              per_instance: bool = False, spells: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
              ) -> dict[str, Any]:
    """Per-activity sums for :func:`_rank_table` from a batch of instances, for every
    engine (and, with ``per_instance``, the grid parts of every instance's wait under
    ``"instances"``). ``pools`` maps resource names to pools, ``cals`` pools to calendars,
    ``roles`` names the role labels (:func:`leanops.evidence.role_resources`) and
    ``log_level`` is the log's evidence. ``spells``: each resource's instances already
    merged into busy spells ``(resource code, start ns, end ns)``, in the batch's codes
    (:func:`leanops.evidence.roles_and_spells`); the busy members then come from them, the
    same counts as merging the instances' bins."""
    n = len(b)
    n_act = len(b.activities)
    act = b.activity
    codes, names = b.resource, b.resources
    pool_names = sorted(set(pools.values()))
    pidx = {p: i for i, p in enumerate(pool_names)}
    n_pool = len(pool_names)
    lut = np.array([pidx[pools[r]] for r in names] + [-1], dtype=np.int64)
    size = np.bincount(lut[:-1], minlength=n_pool).astype(np.float64)  # members seen in the log

    wait = b.wait_s  # 0 for the first instance of a case
    sums = b.sums
    start, end = b.start_s, b.end_s
    enabled = start - wait
    # the rows that wait for their batch (few), and where their wait counts from after it
    hb, bt_hb = batch_waits_at(act, start, enabled, batch_tolerance, counts=sums.count)
    floor_hb = enabled[hb] + bt_hb
    packed = None
    if per_instance:
        bt = np.zeros(n)
        bt[hb] = bt_hb
        floor = enabled.copy()
        floor[hb] = floor_hb
        ov = overtaken_waits(act, start, enabled, floor)
        ov_sum = np.bincount(act, weights=ov, minlength=n_act)
        del floor
    else:  # (the per-activity sums need no row order)
        packed = packed_triples(act, enabled, start, floor_hb)
        ov_sum = overtaken_sums(act, start, enabled, n_act, floor_at=(hb, floor_hb), packed=packed,
                                counts=sums.count)
    # the queue from the sorted keys when there are some (then no bins in row order are
    # needed: the busy members come from the spells)
    by_keys = not per_instance and packed is not None and (spells is not None or not n_pool)

    # ---- the time grid
    lo, hi, n_bins, width = _grid_lines(b, n_tables=max(n_act, n_pool, 1))

    def to_bin(t: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """The grid line nearest to each instant (0..n_bins), in ``out``'s buffer if given
        (a float array of ``t``'s length no longer needed, or ``t`` itself)."""
        x = np.subtract(t, lo - 0.5 * width, out=out)
        x /= width
        np.clip(x, 0, n_bins, out=x)
        # truncated into the same buffer (same item size, element by element in order)
        out = x.view(np.int64)
        np.copyto(out, x, casting="unsafe")
        return out

    def coverage(group: np.ndarray, n_groups: int, b0: np.ndarray, b1: np.ndarray, *,
                 consume: bool = False) -> np.ndarray:
        """Per group and bin, how many of the intervals [b0, b1) cover it (``consume``:
        the bins are not needed after, and their buffers take the keys)."""
        # Each interval covers the bins from its rounded start to its rounded end: an
        # unbiased count (off by at most half a bin at either end).
        base = np.multiply(group, n_bins + 1, dtype=np.int64)
        k = np.add(base, b0, out=b0 if consume else None)
        np.add(base, b1, out=b1 if consume else base)
        return _grid_coverage(k, b1 if consume else base, n_groups, n_bins)

    batch_end = to_bin(floor_hb)
    b_start = None if by_keys else to_bin(start, out=np.empty(n))

    # share of each bin that is working time, per distinct calendar
    edges_ns = b.origin_ns + np.round((lo + np.arange(n_bins + 1) * width) * 1e9).astype(np.int64)
    work_frac = _work_fractions(cals.values(), edges_ns, width)

    # ---- pools: members at work per bin, utilisation
    util_pool = np.full(n_pool, np.nan)
    full = np.zeros((n_pool, n_bins), dtype=bool)
    # per pool, its calendar's working share per bin: rows shared, not copied into a
    # pools x bins table (pools mostly share a calendar)
    wf_pool = [work_frac[cals[name]] for name in pool_names]
    if n_pool:
        # distinct members at work: each resource's instances merged first, so that one
        # resource on two overlapping instances counts once
        if spells is not None:
            s0, s1 = (_seconds_since(x, b.origin_ns) for x in spells[1:])
            busy = _spell_grid(spells[0], lut, to_bin(s0, out=s0), to_bin(s1, out=s1), n_pool, n_bins)
            del s0, s1
        else:
            busy = _busy_grid(codes, lut, b_start, to_bin(end), n_pool, n_bins)
        full, util_pool = _pool_grid(busy, size, wf_pool)
        del busy

    # ---- queue before each activity (instances enabled, not started)
    # (rows without a wait add an empty interval, which cancels out: no need to select)
    if by_keys:
        batched = (act[hb], to_bin(enabled[hb]), batch_end)
        # (each key holds its row's activity, enablement and start: the same bins, and
        # sorted, so the counts are written in order rather than all over the table)
        queue = _queue_from_keys(packed, n_act, n_bins, to_bin)
        del enabled, packed
    else:
        b_en = to_bin(enabled, out=enabled)  # (the enablements are not needed after this)
        del enabled
        batched = (act[hb], b_en[hb], batch_end)
        if per_instance:
            b_rest = b_en.copy()
            b_rest[hb] = batch_end
        queue = coverage(act, n_act, b_en, b_start, consume=not per_instance)
    queue_mean = sums.wait / max(hi - lo, 1e-9)  # (sums.wait: the per-activity bincount of the waits)
    queue_max, growth, queue_over_time = _queue_shape(queue, b, lo, hi, width)

    # ---- the pool doing most of each activity, and its contention during the waits
    main_pool = np.full(n_act, -1, dtype=np.int64)
    if n_pool:
        # instances per (activity, pool), from the activity profiles of the resources
        m = np.zeros((n_act, n_pool), dtype=np.int64)
        np.add.at(m.T, lut[:-1], b.profile())
        main_pool = np.where(m.sum(axis=1) > 0, m.argmax(axis=1), -1)
    # the wait after each instance's batch, split on the grid (the one decomposition)
    off, on, cont = grid_causes(queue, full, wf_pool, main_pool, width, batched)
    del queue
    extra: dict[str, Any] = {}
    if per_instance:
        i_off, i_on, i_cont = instance_grid(act, main_pool, b_rest, b_start, full, wf_pool, width)
        extra["instances"] = dict(inst=b, batching=bt, overtaken=ov, off=i_off, on=i_on, cont=i_cont,
                                  pool=np.array([*pool_names, None], dtype=object)[main_pool[act]])

    # ---- per activity (the batching waits summed over the batched rows only: the same
    # sums, as adding a zero changes none)
    return dict(
        activities=b.activities, count=sums.count, with_pred=sums.with_pred, wait_sum=sums.wait,
        service_sum=sums.service, repeats=sums.count - sums.first_in_case,
        batching=np.bincount(batched[0], weights=bt_hb, minlength=n_act), overtaken=ov_sum,
        off=off, on=on, cont=cont, estimated=_per_activity_count(act, b.estimated, n_act),
        main_pool=main_pool, util_pool=util_pool, pool_names=pool_names, pool_size=size,
        group_pools=_group_pools(pools, roles), log_level=log_level,
        queue_mean=queue_mean, queue_max=queue_max, growth=growth, queue_over_time=queue_over_time,
        starts_estimated=b.estimated_share, **extra,
    )


def _grid_lines(b: Batch, *, n_tables: int) -> tuple[float, float, int, float]:
    """The time grid of :func:`decompose`: first start and last end (s), the number of bins
    and their width (s). Bins of about a tenth of a typical service time resolve who was
    busy when; bounded so the grid stays small (at most ~2e7 cells per table, ``n_tables``
    rows) on long logs with many pools."""
    n = len(b)
    lo, hi = float(b.start_s.min()), float(b.end_s.max())
    svc = b.service_s[:: max(1, n // 1_000_000)]
    svc = svc[svc > 0]
    typical = float(np.median(svc)) if len(svc) else 60.0
    want = (hi - lo) / max(typical / 10.0, 1e-3)
    n_bins = int(max(1024, min(_MAX_BINS, want, n // 2, 20_000_000 // n_tables)))
    return lo, hi, n_bins, max((hi - lo) / n_bins, 1e-9)


def _queue_shape(queue: np.ndarray, b: Batch, lo: float, hi: float, width: float) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    """From the activities x bins ``queue`` (bin 0 at ``lo`` s, ``width`` s wide, the log up to ``hi`` s): each
    activity's longest queue, its trend (least-squares slope, instances per day) and the
    queue over time averaged into at most 200 periods (for charts)."""
    n_act, n_bins = queue.shape
    queue_max = np.round(queue.max(axis=1)).astype(np.int64)
    tc = (np.arange(n_bins) - (n_bins - 1) / 2.0) * width / 86400.0
    growth = queue @ tc / max(float(tc @ tc), 1e-12) if hi > lo else np.zeros(n_act)
    g = max(1, n_bins // 200)
    n_out = n_bins // g
    q_over = queue[:, : n_out * g].reshape(n_act, n_out, g).mean(axis=2)
    t_mid = b.origin_ns + np.round((lo + (np.arange(n_out) + 0.5) * g * width) * 1e9).astype(np.int64)
    over_time = pd.DataFrame(q_over.T, index=pd.DatetimeIndex(t_mid.view("datetime64[ns]"), tz="UTC", name="time"),
                             columns=list(b.activities))
    return queue_max, growth, over_time


def wait_decomposition(log: EventLog, *, calendar: CalendarSpec = None,
                       batch_tolerance: float = BATCH_TOLERANCE_S) -> pd.DataFrame:
    """Every waiting instance's wait split by cause: the decomposition :func:`bottlenecks`
    sums per step, per instance (:func:`leanops.mining.waits.split_instances`).

    Per activity the causes sum to ``bottlenecks(log, calendar=calendar)``'s
    ``wait_<cause>_s`` within the grid's rounding (about a bin per instance).

    Returns
    -------
    pandas.DataFrame
        One row per instance with a wait: ``case_id, activity, resource, pool, enabled,
        start, estimated, wait_s`` and ``<cause>_s`` per cause of :data:`WAIT_CAUSES`.

    Examples
    --------
    >>> import leanops
    >>> from leanops.mining.bottlenecks import wait_decomposition
    >>> w = wait_decomposition(leanops.datasets.load("production"))
    >>> bool(abs(w[[f"{c}_s" for c in WAIT_CAUSES]].sum(axis=1) - w["wait_s"]).max() < 1e-6)
    True
    """
    check_log(log)
    parts = _decompose(log, calendar, batch_tolerance=float(batch_tolerance), per_instance=True)["instances"]
    b = parts.pop("inst")
    pool = parts.pop("pool")
    causes = split_instances(activity=b.activity, wait=b.wait_s, **parts)
    m = b.wait_s > 0
    d = b.extra["inst"].log.df
    to_ts = lambda x: pd.to_datetime(b.origin_ns + np.round(x[m] * 1e9).astype(np.int64), utc=True)  # noqa: E731
    out = pd.DataFrame({
        "case_id": d["case_id"].to_numpy()[m],
        "activity": np.asarray(b.activities, dtype=object)[b.activity[m]],
        "resource": d["resource"].to_numpy()[m],
        "pool": pool[m],
        "enabled": to_ts(b.start_s - b.wait_s),
        "start": to_ts(b.start_s),
        "estimated": b.estimated[m],
        "wait_s": b.wait_s[m],
    })
    for c in WAIT_CAUSES:
        out[f"{c}_s"] = causes[c][m]
    return out


def _per_activity_count(act: np.ndarray, flag: np.ndarray, n_act: int) -> np.ndarray:
    """Per activity, the rows with ``flag`` set (float); no pass over the rows when none is
    (a log with every start recorded)."""
    if not flag.any():
        return np.zeros(n_act)
    return np.bincount(act[flag], minlength=n_act).astype(np.float64)


def _busy_grid(codes: np.ndarray, lut: np.ndarray, b0: np.ndarray, b1: np.ndarray, n_pool: int,
               n_bins: int) -> np.ndarray:
    """Per pool and bin, its distinct members at work: each resource's bin ranges
    ``[b0, b1)`` merged first (:func:`_merged_packed`), then counted per pool (``lut``
    maps resource codes to pools)."""
    packed = _merged_packed(codes, b0, b1, n_bins)
    if packed is None:
        return np.zeros((n_pool, n_bins))
    a, b, bits = packed
    # coverage(lut[code], n_pool, first bin, end bin) without unpacking to new arrays
    mask = (1 << bits) - 1
    base = np.right_shift(a, bits)
    np.take(lut * (n_bins + 1), base, out=base)
    a &= mask
    a += base
    b &= mask
    b += base
    del base
    return _grid_coverage(a, b, n_pool, n_bins)


def _spell_grid(codes: np.ndarray, lut: np.ndarray, b0: np.ndarray, b1: np.ndarray, n_pool: int,
                n_bins: int) -> np.ndarray:
    """:func:`_busy_grid` from busy spells already disjoint per resource (``b0``, ``b1``:
    their bins, in place). As the bin of an instant is monotone in it, the rounded spells
    cover the same bins as the merged rounded instances (touching spells stay apart and
    cover each bin once)."""
    if not len(codes):
        return np.zeros((n_pool, n_bins))
    base = np.take(lut * (n_bins + 1), codes)
    b0 += base
    b1 += base
    del base
    return _grid_coverage(b0, b1, n_pool, n_bins)


def _queue_from_keys(packed: tuple[np.ndarray, int, float], n_groups: int, n_bins: int,
                     to_bin: Any) -> np.ndarray:
    """:func:`_grid_coverage` of each row's ``[bin of its enablement, bin of its start)``
    in its activity's row, from the sorted keys of :func:`~leanops.mining.waits.packed_triples`
    (activity, enablement, start; whole numbers from ``lo``, so the times and their bins
    are exactly the rows' own). The keys are in order of activity and enablement: the
    +1 at each enablement's bin is written in order, and the -1 at each start's nearly so."""
    key, vb, lo = packed
    mask = (1 << vb) - 1
    d = np.zeros(n_groups * (n_bins + 1), dtype=np.int64)
    for i in range(0, len(key), _KEY_BLOCK):
        kb = key[i:i + _KEY_BLOCK]
        base = np.right_shift(kb, 2 * vb)
        base *= n_bins + 1
        for part, sign in ((np.right_shift(kb, vb), 1), (kb.copy(), -1)):
            part &= mask
            t = part.astype(np.float64)
            t += lo  # exact: whole numbers below 2**53
            at = to_bin(t, out=t)
            at += base
            (np.add if sign > 0 else np.subtract).at(d, at, 1)
    np.cumsum(d, out=d)  # every row sums to zero: one running sum restarts at every row
    return _rows_as_float(d, n_groups, n_bins)


def _grid_coverage(a: np.ndarray, b: np.ndarray, n_groups: int, n_bins: int) -> np.ndarray:
    """Per group and bin, how many of the ranges ``[a, b)`` cover it; ``a`` and ``b`` are
    bins offset by ``group * (n_bins + 1)`` (both ends of a range in its group's row), in
    one bincount, one scattered subtraction and one running sum."""
    size_ = n_groups * (n_bins + 1)
    d = np.bincount(a, minlength=size_)
    del a
    # the ends subtracted in place: a second bincount would fill a second table as
    # large (page faults cost more than the scattered writes)
    np.subtract.at(d, b, 1)
    del b
    # every range adds +1 and -1 in its own row, so each row sums to zero and one running
    # sum over the whole table restarts at every row: integer counts (exact), several
    # times cheaper than a float running sum along the rows
    np.cumsum(d, out=d)
    return _rows_as_float(d, n_groups, n_bins)


def _rows_as_float(d: np.ndarray, n_groups: int, n_bins: int) -> np.ndarray:
    """The first ``n_bins`` of each row of ``d`` (int64, rows of ``n_bins + 1``) as one
    contiguous float64 table, written over ``d`` itself: no second table as large (fresh
    memory costs page faults, more than the casting). Row ``r`` moves ``r`` places to the
    left, so every block is read before anything is written over it."""
    out = d.view(np.float64)
    buf = np.empty(min(n_bins, 1 << 16))
    for r in range(n_groups):
        src, dst = r * (n_bins + 1), r * n_bins
        for i in range(0, n_bins, len(buf)):
            m = min(len(buf), n_bins - i)
            np.copyto(buf[:m], d[src + i:src + i + m], casting="unsafe")  # exact: counts < 2**53
            out[dst + i:dst + i + m] = buf[:m]
    return out[: n_groups * n_bins].reshape(n_groups, n_bins)


def _merged_bins(codes: np.ndarray, b0: np.ndarray, b1: np.ndarray, n_bins: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per resource, the union of the bin ranges ``[b0, b1)`` of its instances, as disjoint
    pieces ``(resource code, first bin, end bin)`` (some empty); rows with code -1 are
    left out.

    Each resource's ranges are taken in order of their first bin, and each is clipped to
    begin after the furthest end among the resource's earlier ones (a running maximum),
    so that the pieces cover each bin at most once per resource. As the bin of an
    instant is monotone in it, this union of rounded intervals equals the rounded union
    of the exact intervals.
    """
    packed = _merged_packed(codes, b0, b1, n_bins)
    if packed is None:
        z = np.zeros(0, dtype=np.int64)
        return z, z, z
    a, b, bits = packed
    mask = (1 << bits) - 1
    return a >> bits, a & mask, b & mask


def _merged_packed(codes: np.ndarray, b0: np.ndarray, b1: np.ndarray, n_bins: int) -> tuple[np.ndarray, np.ndarray, int] | None:
    """:func:`_merged_bins` with the pieces packed as ``(code << bits | first bin, code << bits
    | end bin)``, and ``bits``; None when no row has a resource. Works in place on few
    buffers (the arrays are as long as the log)."""
    ok = codes >= 0
    if not ok.all():
        codes, b0, b1 = codes[ok], b0[ok], b1[ok]
    if not len(codes):
        return None
    bits = int(n_bins).bit_length()
    mask = (1 << bits) - 1
    # each resource on its own stretch of the integer line (code << bits | bin), so that
    # one global sort and one global running maximum act per resource
    if int(codes.max()).bit_length() + 2 * bits <= 62:  # one in-place sort of packed keys
        key = np.left_shift(codes, 2 * bits, dtype=np.int64)
        buf = np.left_shift(b0, bits, dtype=np.int64)
        key |= buf
        np.maximum(b1, b0, out=buf)  # (an end before the start covers nothing)
        key |= buf
        key.sort()
        l0 = np.right_shift(key, bits, out=buf)  # code << bits | first bin
        # code << bits | end bin, in blocks (a temporary as long as the log costs more
        # than the few extra calls)
        block = 1 << 20
        for i in range(0, len(key), block):
            k = key[i:i + block]
            k &= mask
            k |= l0[i:i + block] & ~mask
        l1 = key
    else:
        lift = np.left_shift(codes, bits, dtype=np.int64)
        l0, l1 = lift | b0, lift | np.maximum(b1, b0)
        del lift
        o = np.lexsort((l1, l0))
        l0, l1 = l0[o], l1[o]
    # the furthest end so far (earlier resources lie below); clipping each range to
    # begin after the furthest end among the earlier ones leaves each end at exactly
    # that running maximum, so it is computed in place
    reach = np.maximum.accumulate(l1, out=l1)
    np.maximum(l0[1:], reach[:-1], out=l0[1:])  # (element i reads reach[i - 1] only)
    return l0, reach, bits


def _work_fractions(cals: Any, edges_ns: np.ndarray, width: float) -> dict[Calendar, np.ndarray]:
    """Per distinct calendar, the share of each grid bin (edges in ns) that is working time."""
    out: dict[Calendar, np.ndarray] = {}
    for cal in set(cals):
        if cal.is_always:
            out[cal] = np.ones(len(edges_ns) - 1)
        else:
            w = cal.working_clock(edges_ns.view("datetime64[ns]"))
            out[cal] = np.clip(np.diff(w) / width, 0.0, 1.0)
    return out


def _pool_grid(busy: np.ndarray, size: np.ndarray, wf_pool: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """From members at work per pool and bin: the bins where every member is busy, and each
    pool's utilisation (busy working time over available working time). ``wf_pool``: per
    pool, the working share of each bin. ``busy`` is overwritten (no second table as
    large)."""
    full = busy >= np.maximum(size, 1.0)[:, None]
    t = np.minimum(busy, size[:, None], out=busy)
    for row, wf in zip(t, wf_pool):
        row *= wf
    busy_work = t.sum(axis=1)
    del t
    avail = size * np.array([wf.sum() for wf in wf_pool])
    util = np.where(avail > 0, busy_work / np.where(avail > 0, avail, 1.0), np.nan)
    return full, util


def _group_pools(pools: dict[str, str], roles: list[str]) -> set[str]:
    """Pools holding a resource label that stands for a group of unknown size."""
    return {pools[r] for r in roles if r in pools}


def _log_level(log: EventLog) -> dict[str, Any]:
    e = log_evidence(log)
    return {"level": e["level"], "caveats": e["caveats"], "time_granularity": e["time_granularity"],
            "role_resources": e["role_resources"]}


#: What makes a step a capacity bottleneck (see :func:`bottlenecks`).
CAPACITY_CONTENTION = 0.5
CAPACITY_UTILIZATION = 0.5
CAPACITY_SHARE_OF_WAIT = 0.25
CAPACITY_SHARE_OF_ALL = 0.02
_CAUSE_WORDS = {
    "contention": "the whole pool was busy",
    "unavailability": "the pool was off shift",
    "prioritisation": "later work was served first",
    "batching": "instances waited for a batch to fill",
    "extraneous": "a member was free and on shift, yet the work did not start (hand-offs, customers, timers)",
}


def _finding(r: dict[str, Any]) -> str:
    act, pool = r["activity"], r["pool"]
    total = r["wait_total_s"]
    head = (f"{act}: {r['wait_share']:.1%} of all waiting ({duration(total)} in all, "
            f"{duration(r['wait_mean_s'])} per instance on average)")
    causes = r["wait_causes_s"]
    split = ""
    if total > 0:
        main = max(causes, key=lambda c: causes[c])
        split = f"; {causes[main] / total:.0%} of it because {_CAUSE_WORDS[main]}"
    if r["_why"] == "day":
        return head + "; timestamps are dates only, so busy time and waits under a day cannot be measured."
    if pool is None:
        return head + split + "; no resources are recorded for it, so its capacity cannot be judged."
    if r["_why"] == "group":
        return (head + split + f"; its resource label '{pool}' stands for a group of unknown size, "
                "so its capacity cannot be judged.")
    util = f"{r['utilization']:.0%}" if np.isfinite(r["utilization"]) else "unknown"
    team = f"pool '{pool}' ({r['pool_size']} resource{'s' if r['pool_size'] != 1 else ''}, {util} utilised)"
    c = r["contention"]
    if r["capacity_bound"]:
        body = (f"; its {team} was fully busy during {c:.0%} of the on-shift waits (busy during those waits), "
                f"so work queues for lack of capacity (queue of {r['queue_mean']:.1f} on average, "
                f"{r['queue_max']:,} at most")
        body += f", growing {r['queue_growth_per_day']:.1f}/day)" if r["queue_growth_per_day"] > 0.5 else ")"
    elif r["evidence"] == "estimated" and c >= CAPACITY_CONTENTION:
        body = (split + f"; with estimated starts this shows where the time goes, not a lack of capacity "
                f"(estimated starts wait for the resource by construction); {team}")
    else:
        body = split + f"; {team}: the wait is not from capacity" if total > 0 else f"; {team}"
    if r["rework_share"] >= 0.05:
        body += f"; {r['rework_share']:.0%} of its instances are rework"
    return head + body + "."


def _rank_table(
    *, activities: list[str], count: np.ndarray, with_pred: np.ndarray, wait_sum: np.ndarray,
    service_sum: np.ndarray, repeats: np.ndarray, batching: np.ndarray, overtaken: np.ndarray,
    off: np.ndarray, on: np.ndarray, cont: np.ndarray, estimated: np.ndarray,
    main_pool: np.ndarray, util_pool: np.ndarray, pool_names: list[str], pool_size: np.ndarray,
    group_pools: set[str], log_level: dict[str, Any],
    queue_mean: np.ndarray, queue_max: np.ndarray, growth: np.ndarray, queue_over_time: pd.DataFrame,
    starts_estimated: float,
) -> "Bottlenecks":
    """The ranked bottleneck result from per-activity sums (shared by the in-memory and
    out-of-core engines, so both score and word it the same way)."""
    wait_total_all = float(wait_sum.sum())
    causes = split_causes(wait_sum=wait_sum, batching=batching, overtaken=overtaken, off=off, on=on, cont=cont)
    contention = np.where(on > 0, np.minimum(cont / np.where(on > 0, on, 1.0), 1.0), 0.0)
    wait_share = wait_sum / wait_total_all if wait_total_all > 0 else np.zeros(len(activities))
    rework_share = repeats / np.maximum(count, 1)
    day = log_level["level"] == "unmeasurable"
    rows = []
    for a in np.flatnonzero(count > 0):  # one iteration per activity, not per row
        mp = int(main_pool[a])
        pool = pool_names[mp] if mp >= 0 else None
        group = pool in group_pools
        u = float(util_pool[mp]) if mp >= 0 and not group and not day else float("nan")
        raw = float(wait_share[a] * contention[a] * min(max(u, 0.0), 1.0) ** 2) if np.isfinite(u) else 0.0
        level = ("unmeasurable" if day or pool is None or group
                 else "estimated" if estimated[a] > 0 or log_level["level"] == "estimated" else "measured")
        wc = {c: float(causes[c][a]) for c in WAIT_CAUSES}
        busy_share = (wc["contention"] + wc["prioritisation"]) / wait_sum[a] if wait_sum[a] > 0 else 0.0
        r = {
            "activity": activities[a],
            "wait_mean_s": float(wait_sum[a] / with_pred[a]) if with_pred[a] else 0.0,
            "wait_share": float(wait_share[a]),
            "service_mean_s": float(service_sum[a] / count[a]),
            "utilization": u,
            "score_raw": raw,
            "contention": float(contention[a]),
            "pool": pool,
            "pool_size": int(pool_size[mp]) if mp >= 0 else 0,
            "instances": int(count[a]),
            "wait_total_s": float(wait_sum[a]),
            "queue_mean": float(queue_mean[a]),
            "queue_max": int(queue_max[a]),
            "queue_growth_per_day": float(growth[a]),
            "rework_share": float(rework_share[a]),
            "evidence": level,
            "starts_estimated": int(estimated[a]),
            "wait_causes_s": wc,
            "_why": "day" if day else "group" if group else "",
        }
        busy_all = busy_share * wait_sum[a] / wait_total_all if wait_total_all > 0 else 0.0
        r["capacity_bound"] = bool(level == "measured" and contention[a] >= CAPACITY_CONTENTION
                                   and u >= CAPACITY_UTILIZATION and busy_share >= CAPACITY_SHARE_OF_WAIT
                                   and busy_all >= CAPACITY_SHARE_OF_ALL)
        r["finding"] = _finding(r)
        rows.append(r)
    out = pd.DataFrame(rows, columns=[*_COLUMNS, "score_raw", "evidence", "starts_estimated", "wait_causes_s",
                                      "_why", "capacity_bound", "finding"]).loc[:, lambda f: ~f.columns.duplicated()]
    out["_u"] = out["utilization"].fillna(-1.0)
    # capacity-bound steps rank first: a burst queue after a release may hold more busy
    # waiting than the real constraint, but it does not make the step one
    out = out.sort_values(["capacity_bound", "score_raw", "_u", "wait_share", "activity"],
                          ascending=[False, False, False, False, True], kind="stable")
    top = float(out["score_raw"].iloc[0]) if len(out) else 0.0
    if top <= 0 and len(out):
        top = float(out["score_raw"].max())
    # relative to the top-ranked step; a step ranked below it never shows more than 1.00
    out["score"] = np.minimum(out["score_raw"] / top, 1.0) if top > 0 else 0.0
    for c in WAIT_CAUSES:
        out[f"wait_{c}_s"] = [w[c] for w in out["wait_causes_s"]]
    out = out.drop(columns=["_u", "_why", "wait_causes_s"]).reset_index(drop=True)
    out["rank"] = np.arange(1, len(out) + 1)
    out = out[[*_COLUMNS, *[c for c in out.columns if c not in _COLUMNS]]]
    caveats = list(log_level["caveats"])
    if len(out) and not out["capacity_bound"].any():
        caveats.append("No step qualifies as a capacity bottleneck: no waiting is driven by a whole pool of "
                       "real resources being busy, on measured start times.")
    return Bottlenecks(
        table=out, queue_over_time=queue_over_time[[a for a in out["activity"]]],
        evidence={"level": log_level["level"], "time_granularity": log_level["time_granularity"],
                  "starts_estimated": float(starts_estimated), "role_resources": list(log_level["role_resources"])},
        caveats=caveats,
    )


SCORE_DEFINITION = ("wait_share × contention × utilization², relative to the top step (1.00), capacity-bound steps "
                    "ranked first; wait_share is the step's waiting time over all waiting time in the log "
                    "(see leanops.mining.bottlenecks)")


class _FrameLike:
    """Reads like its ``table`` (a DataFrame): ``obj["col"]``, ``obj.loc``, ``len(obj)``..."""

    table: pd.DataFrame

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name == "table":
            raise AttributeError(name)
        return getattr(self.table, name)

    def __getitem__(self, key: Any) -> Any:
        return self.table[key]

    def __len__(self) -> int:
        return len(self.table)

    def __iter__(self):
        return iter(self.table)

    def to_frame(self) -> pd.DataFrame:
        """A copy of the table."""
        return self.table.copy()

    def _repr_html_(self) -> str:
        return self.table._repr_html_()


@dataclass
class Bottlenecks(_FrameLike):
    """The result of :func:`bottlenecks`: the ranked table and what it rests on.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per activity, worst first (columns in :func:`bottlenecks`).
    queue_over_time : pandas.DataFrame
        Instances waiting before each activity over time (time x activity, worst first).
    evidence : dict
        ``level`` (the log's best: measured, estimated, unmeasurable), ``time_granularity``,
        ``starts_estimated`` (share of instances), ``role_resources``.
    caveats : list of str
        What the ranking cannot claim, in words.
    """

    table: pd.DataFrame
    queue_over_time: pd.DataFrame
    evidence: dict[str, Any] = field(default_factory=dict)
    caveats: list[str] = field(default_factory=list)
    score: str = SCORE_DEFINITION

    @property
    def capacity_bottleneck(self) -> str | None:
        """The top-ranked capacity-bound activity, or None when no step is one."""
        cb = self.table[self.table["capacity_bound"]]
        return str(cb["activity"].iloc[0]) if len(cb) else None

    def to_dict(self) -> dict[str, Any]:
        """The ``leanops bottlenecks --json`` document."""
        items = []
        for r in self.table.to_dict(orient="records"):
            r["wait_causes_s"] = {c: r.pop(f"wait_{c}_s") for c in WAIT_CAUSES}
            items.append(r)
        return {"bottlenecks": items, "score": self.score, "caveats": list(self.caveats),
                "starts_estimated": self.evidence.get("starts_estimated", 0.0), "evidence": dict(self.evidence)}

    def __str__(self) -> str:
        lines = ["Bottlenecks (score relative to the top step = 1.00; share = the step's waiting over all waiting)"]
        for r in self.table.head(10).itertuples(index=False):
            tag = " capacity" if r.capacity_bound else ""
            lines.append(f"{r.rank:>3}. {r.activity:<30.30} score {r.score:4.2f}  share {r.wait_share:6.1%}  "
                         f"wait {duration(r.wait_mean_s):>9}  [{r.evidence}{tag}]")
        lines += [f"caveat: {c}" for c in self.caveats]
        return "\n".join(lines)

    def __repr__(self) -> str:
        top = self.capacity_bottleneck
        return f"<Bottlenecks: {len(self.table)} steps, capacity bottleneck: {top or 'none'}>"

    def plot(self, *, top: int = 12, ax: Any = None) -> Any:
        """Horizontal stacked bars of each step's waiting time, split by cause."""
        import matplotlib.pyplot as plt

        t = self.table.head(top).iloc[::-1]
        if ax is None:
            _, ax = plt.subplots(figsize=(8, 0.4 * len(t) + 1.2))
        left = np.zeros(len(t))
        for c in WAIT_CAUSES:
            v = t[f"wait_{c}_s"].to_numpy() / 3600.0
            ax.barh(t["activity"].astype(str), v, left=left, label=c)
            left += v
        ax.set_xlabel("waiting time (hours, summed over instances)")
        ax.legend(fontsize=8, loc="lower right")
        ax.set_title("Where the waiting comes from")
        return ax


def rework(log: EventLog) -> pd.DataFrame:
    """Repeated activities and loops, with their time cost.

    An instance is *rework* when its activity already occurred earlier in the same case.
    It is a *self-loop* when it directly follows an instance of the same activity, a
    *loop back* otherwise (the case returned to it after other work).

    Returns
    -------
    pandas.DataFrame
        One row per activity that is ever repeated, costliest first: ``activity, cases``
        (cases where it occurs), ``cases_with_rework, repeats, self_loops, loop_backs,
        returns_from`` (the activity most often directly before a repeat),
        ``rework_processing_s, rework_waiting_s, rework_time_s`` (processing plus waiting
        of the repeats, summed), ``rework_time_per_case_s`` (over the cases with rework)
        and ``share_of_processing`` (repeats' processing over the activity's).

    Examples
    --------
    >>> import leanops
    >>> rw = leanops.rework(leanops.datasets.load("production"))
    >>> bool((rw["repeats"] >= rw["cases_with_rework"]).all())
    True
    """
    check_log(log)
    inst = _instances(log)
    st = inst.st
    n_act = len(st.activities)
    act = st.activity
    rep = _instance_repeats(inst)
    has_pred = ~st.first
    prev_act = np.where(has_pred, act[np.maximum(np.arange(len(act)) - 1, 0)], -1)
    self_loop = rep & (prev_act == act)
    wait = np.where(has_pred, inst.wait, 0.0)
    cnt_cases = np.bincount(act, weights=~rep, minlength=n_act).astype(np.int64)
    rw_rows = np.flatnonzero(rep)
    # cases with rework: the first repeat of each (case, activity)
    first_repeat = ~_repeats(st.case[rw_rows], act[rw_rows], n_act)
    cases_rw = np.bincount(act[rw_rows], weights=first_repeat, minlength=n_act).astype(np.int64)
    repeats = np.bincount(act, weights=rep, minlength=n_act)
    proc = np.bincount(act, weights=np.where(rep, inst.service, 0.0), minlength=n_act)
    waitc = np.bincount(act, weights=np.where(rep, wait, 0.0), minlength=n_act)
    proc_all = np.bincount(act, weights=inst.service, minlength=n_act)
    # most common predecessor of a repeat, per activity
    returns = [None] * n_act
    if len(rw_rows):
        pa = prev_act[rw_rows]
        okp = pa >= 0
        m = np.bincount(act[rw_rows][okp] * n_act + pa[okp], minlength=n_act * n_act).reshape(n_act, n_act)
        for a in np.flatnonzero(m.sum(axis=1) > 0):
            returns[a] = st.activities[int(m[a].argmax())]
    out = pd.DataFrame(
        {
            "activity": st.activities,
            "cases": cnt_cases,
            "cases_with_rework": cases_rw,
            "repeats": repeats.astype(np.int64),
            "self_loops": np.bincount(act, weights=self_loop, minlength=n_act).astype(np.int64),
            "returns_from": returns,
            "rework_processing_s": proc,
            "rework_waiting_s": waitc,
            "rework_time_s": proc + waitc,
        }
    )
    out.insert(5, "loop_backs", out["repeats"] - out["self_loops"])
    out["rework_time_per_case_s"] = out["rework_time_s"] / out["cases_with_rework"].where(out["cases_with_rework"] > 0, 1)
    out["share_of_processing"] = np.where(proc_all > 0, proc / np.where(proc_all > 0, proc_all, 1.0), 0.0)
    out = out[out["repeats"] > 0]
    table = out.sort_values(["rework_time_s", "repeats"], ascending=False, kind="stable").reset_index(drop=True)
    return Rework(table=table, starts_estimated=inst.estimated_share)


@dataclass
class Rework(_FrameLike):
    """The result of :func:`rework`: the table (read it like a DataFrame) and the share of
    instances whose start was estimated (their processing and waiting are estimates)."""

    table: pd.DataFrame
    starts_estimated: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"rework": self.table.to_dict(orient="records"), "starts_estimated": self.starts_estimated}

    def __str__(self) -> str:
        if not len(self.table):
            return "Rework: no case repeats an activity."
        lines = ["Rework (repeated activities, costliest first)"]
        for r in self.table.head(10).itertuples(index=False):
            lines.append(f"  {r.activity:<30.30} {r.repeats:>7,} repeats in {r.cases_with_rework:,} cases, "
                         f"{duration(r.rework_time_s)} in all")
        if self.starts_estimated > 0:
            lines.append(f"caveat: {self.starts_estimated:.0%} of the starts are estimated.")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"<Rework: {len(self.table)} repeated activities>"

    def plot(self, *, top: int = 12, ax: Any = None) -> Any:
        """Horizontal bars of the time spent on repeats (processing and waiting)."""
        import matplotlib.pyplot as plt

        t = self.table.head(top).iloc[::-1]
        if ax is None:
            _, ax = plt.subplots(figsize=(8, 0.4 * len(t) + 1.2))
        ax.barh(t["activity"].astype(str), t["rework_processing_s"] / 3600.0, label="processing")
        ax.barh(t["activity"].astype(str), t["rework_waiting_s"] / 3600.0, left=t["rework_processing_s"] / 3600.0,
                label="waiting")
        ax.set_xlabel("hours spent on repeats")
        ax.legend(fontsize=8)
        return ax
