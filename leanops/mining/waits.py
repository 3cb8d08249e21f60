"""The one waiting-time decomposition, after Lashkevich et al., "Why am I waiting?" (CAiSE 2023).

Every wait of every activity instance (from its enablement to its start) is split into:

* **batching**: the instance started together with other instances of the same activity
  (starts chained within a tolerance, 1 s by default); the time until the last of them
  was enabled is spent waiting for the batch to fill (:func:`batch_waits`);
* **unavailability**: the step's pool was off shift (outside its working calendar);
* **contention**: the pool was on shift and every member was busy;
* **prioritisation**: the part of that busy time during which instances of the same
  activity enabled *later* were started first (:func:`overtaken_waits`);
* **extraneous**: the rest: a member was free and on shift, yet the work did not start
  (a customer, a timer, a third party, a hand-off).

Unavailability and contention are counted on the time grid of
:mod:`leanops.mining.bottlenecks` (:func:`grid_causes`); the batch and overtake rules are
per instance. Every engine runs this code, on its instance batch (:mod:`leanops.mining._batch`).
:func:`instance_grid` and :func:`split_instances` give the same split per instance
(:func:`leanops.mining.bottlenecks.wait_decomposition`), which
:func:`leanops.rca.waiting_causes` reads.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["WAIT_CAUSES", "batch_waits", "overtaken_waits", "grid_causes", "split_causes", "instance_grid", "split_instances"]

#: The causes, in the order of the contract (``wait_causes_s`` keys).
WAIT_CAUSES = ("contention", "unavailability", "prioritisation", "batching", "extraneous")


def batch_waits(activity: np.ndarray, start: np.ndarray, enabled: np.ndarray, tol: float) -> np.ndarray:
    """Per instance, the wait spent for its batch to fill (same units as the inputs).

    Instances of one activity whose starts are chained within ``tol`` of each other form a
    batch when there are two or more; each waits from its enablement until the last of the
    batch was enabled (at most until its own start).

    Examples
    --------
    >>> import numpy as np
    >>> # three instances of activity 0 enabled at 1, 3 and 6 h, all started at 8 h
    >>> batch_waits(np.array([0, 0, 0]), np.array([8.0, 8, 8]), np.array([1.0, 3, 6]), 0.0)
    array([5., 3., 0.])
    """
    n = len(start)
    out = np.zeros(n)
    if not n:
        return out
    order, s_o, a_o = _sorted(activity, start)
    new = np.r_[True, (a_o[1:] != a_o[:-1]) | (s_o[1:] - s_o[:-1] > tol)]
    # only rows in a batch of two or more get a wait: most rows are alone, so the rest of
    # the work (and the gathers in random order) runs on those rows only
    sel = np.flatnonzero(~(new & np.r_[new[1:], True]))
    if not len(sel):
        return out
    new_s = new[sel]  # a batch's rows are contiguous in ``sel`` and it begins at a new row
    heads = np.flatnonzero(new_s)
    gid = np.cumsum(new_s) - 1
    rows = order[sel]
    en = enabled[rows]
    ready = np.maximum.reduceat(en, heads)
    out[rows] = np.clip(np.minimum(ready[gid], s_o[sel]) - en, 0, None)
    return out


def _sorted(group: np.ndarray, value: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows ordered by group, then value: ``(order, value[order], group[order])``.

    When the values are whole numbers on a short enough range (whole seconds, as most
    logs record), group, value and row pack into one int64 whose plain sort (several times
    cheaper than an argsort) gives all three without a gather in random order. Otherwise
    :func:`_group_order`. The order among equal (group, value) rows is arbitrary.
    """
    n = len(value)
    g = np.asarray(group)
    if n < 2**31 and value.dtype.kind == "f" and g.dtype.kind in "iu" and int(g.min()) >= 0:
        lo, hi = float(value.min()), float(value.max())
        if np.isfinite(lo) and np.isfinite(hi) and hi - lo < 2.0**40:
            rel = np.subtract(value, lo)
            if lo == np.floor(lo) and np.array_equal(rel, np.floor(rel)):
                nb = max(n - 1, 1).bit_length()
                vb = max(int(hi - lo).bit_length(), 1)
                if int(g.max()).bit_length() + vb + nb <= 62:
                    key = np.left_shift(g, vb + nb, dtype=np.int64)
                    key |= rel.astype(np.int64) << nb
                    key |= np.arange(n, dtype=np.int64)
                    del rel
                    key.sort()
                    order = key & ((1 << nb) - 1)
                    v_o = ((key >> nb) & ((1 << vb) - 1)).astype(np.float64)
                    v_o += lo  # whole numbers below 2**53: exactly the values
                    g_o = (key >> (vb + nb)).astype(g.dtype, copy=False)
                    return order, v_o, g_o
    order = _group_order(group, value)
    return order, value[order], _sorted_groups(group, value, order)


def _sorted_groups(group: np.ndarray, value: np.ndarray, order: np.ndarray) -> np.ndarray:
    """``group[order]`` for ``order = _group_order(group, value)``, without the gather in
    random order: the order sorts by group first, so the sorted groups are each group
    repeated its count (NaN values would sort last: then the plain gather)."""
    g = np.asarray(group)
    if value.dtype.kind == "f" and np.isnan(value).any():
        return g[order]
    lo = int(g.min())
    counts = np.bincount(g - lo if lo else g)
    return np.repeat(np.arange(lo, lo + len(counts), dtype=g.dtype), counts)


def _group_order(group: np.ndarray, value: np.ndarray) -> np.ndarray:
    """Row order by group, then value (one sort of a combined key: cheaper than lexsort).
    The order among equal (group, value) rows is arbitrary: callers do not depend on it."""
    v = np.asarray(value, dtype=np.float64)
    lo = float(v.min())
    span = float(v.max()) - lo + 1.0
    if span * (float(group.max()) + 1.0) < 2.0**52:  # exact in float64
        key = np.subtract(v, lo)
        key += np.multiply(group, span)  # (in place: fewer temporaries as long as the log)
        return np.argsort(key)
    return np.lexsort((value, group))


def overtaken_waits(activity: np.ndarray, start: np.ndarray, enabled: np.ndarray, floor: np.ndarray) -> np.ndarray:
    """Per instance, the wait after an instance of the same activity enabled later started.

    That is ``start - max(first such start, floor)`` when some later-enabled instance
    started first (``floor``: where the instance's own wait counts from, e.g. after its
    batch), else 0: the instance sat in the queue while later work was served.

    Examples
    --------
    >>> import numpy as np
    >>> # A enabled at 0 starts at 4; B enabled at 1 starts at 2, overtaking A
    >>> overtaken_waits(np.array([0, 0]), np.array([4.0, 2]), np.array([0.0, 1]), np.array([0.0, 1]))
    array([2., 0.])
    """
    n = len(start)
    out = np.zeros(n)
    if not n:
        return out
    order, e_o, a_o = _sorted(activity, enabled)
    s_o = start[order]
    # the earliest start among instances enabled strictly later (same activity): a
    # reversed running minimum that restarts per activity (each activity lifted above the
    # ones before it, so that the reversed scan meets smaller values at every new group)
    lo = float(s_o.min())
    lift = float(s_o.max()) - lo + 1.0
    a_lift = np.multiply(a_o, lift)
    key = np.subtract(s_o, lo)
    key += a_lift
    rev_min = np.minimum.accumulate(key[::-1])[::-1]
    del key
    rev_min -= a_lift
    rev_min += lo
    del a_lift
    # read it just past the run of equal (activity, enablement): the last row of a run
    # reads the next row (when of the same activity), the others copy their run's last
    same = a_o[1:] == a_o[:-1]
    later = np.full(n, np.inf)
    np.copyto(later[:-1], rev_min[1:], where=same)
    del rev_min
    tie = same & (e_o[1:] == e_o[:-1])
    if tie.any():
        idx = np.arange(n)
        idx[:-1][tie] = n  # not the last of its run
        run_last = np.minimum.accumulate(idx[::-1])[::-1]
        later = later[run_last]
    hit = later < s_o
    n_hit = int(np.count_nonzero(hit))
    if n_hit > n // 4:
        # most rows were overtaken: whole arrays in sorted order beat index lists
        w = floor[order]
        np.maximum(later, w, out=w)
        np.subtract(s_o, w, out=w)
        w[~hit] = 0.0
        np.maximum(w, 0.0, out=w)
        out[order] = w
    elif n_hit:
        idx = np.flatnonzero(hit)
        rows = order[idx]
        out[rows] = np.maximum(s_o[idx] - np.maximum(later[idx], floor[rows]), 0.0)
    return out


def grid_causes(queue: np.ndarray, full: np.ndarray, wf_pool: np.ndarray, main_pool: np.ndarray,
                width: float, batched: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per activity, the waiting seconds off shift, on shift, and on shift with the pool full.

    ``queue`` (activities x bins): instances waiting per bin; ``full`` (pools x bins): every
    member busy; ``wf_pool`` (pools x bins): the share of the bin that is working time;
    ``main_pool``: the pool of each activity (-1: none, then all of its wait is on shift and
    nothing is known about its pool). ``batched``: ``(activity, first bin, end bin)`` of the
    part of each wait spent waiting for its batch, taken out of the queue first (through
    prefix sums over the bins: no second pass over the grid).
    """
    n_act, n_bins = queue.shape
    off = np.zeros(n_act)
    on = np.zeros(n_act)
    cont = np.zeros(n_act)
    used = sorted({int(p) for p in main_pool if p >= 0})
    # per used pool: working share with the pool full, and whether it is always on shift
    wfull = {p: np.multiply(wf_pool[p], full[p]) for p in used}
    always = {p: bool(wf_pool[p].min() >= 1.0) for p in used}
    t = np.empty(n_bins)
    for i in range(n_act):
        mp = main_pool[i]
        total = float(queue[i].sum()) * width
        if mp < 0:
            on[i] = total
            continue
        if always[mp]:
            on[i] = total
        else:
            np.multiply(queue[i], wf_pool[mp], out=t)
            on[i] = float(t.sum()) * width
        np.multiply(queue[i], wfull[mp], out=t)
        cont[i] = float(t.sum()) * width
        off[i] = total - on[i]
    if batched is not None and len(batched[0]):
        a, b0, b1 = batched
        pa = main_pool[a]
        hi = np.maximum(b1, b0)
        all_ = (hi - b0).astype(np.float64)
        on_b = all_.copy()  # no pool: every bin counts as on shift
        full_b = np.zeros(len(a))
        for p in used:  # prefix sums over the bins, only for the pools that batch
            m = pa == p
            if not m.any():
                continue
            if not always[p]:  # (always on shift: every bin counts whole, as on_b already has)
                w_on = np.r_[0.0, np.cumsum(wf_pool[p])]
                on_b[m] = w_on[hi[m]] - w_on[b0[m]]
            w_full = np.r_[0.0, np.cumsum(wfull[p])]
            full_b[m] = w_full[hi[m]] - w_full[b0[m]]
        on -= np.bincount(a, weights=on_b, minlength=n_act) * width
        cont -= np.bincount(a, weights=full_b, minlength=n_act) * width
        off -= np.bincount(a, weights=all_ - on_b, minlength=n_act) * width
    return off, on, cont


def split_causes(*, wait_sum: np.ndarray, batching: np.ndarray, overtaken: np.ndarray, off: np.ndarray,
                 on: np.ndarray, cont: np.ndarray) -> dict[str, np.ndarray]:
    """Per activity, seconds per cause (:data:`WAIT_CAUSES`), summing to ``wait_sum``.

    The grid parts (``off``, ``on``, ``cont``) are rescaled to the exact wait left after
    batching, so the causes add up to the measured wait; prioritisation is the overtaken
    wait, at most the contention.
    """
    rest = np.clip(wait_sum - batching, 0, None)
    grid = off + on
    scale = np.divide(rest, grid, out=np.zeros_like(rest), where=grid > 0)
    unav = off * scale
    busy = cont * scale
    prio = np.minimum(overtaken, busy)
    return {
        "contention": busy - prio,
        "unavailability": unav,
        "prioritisation": prio,
        "batching": np.minimum(batching, wait_sum),
        "extraneous": np.where(grid > 0, (on - cont) * scale, rest),
    }


def instance_grid(activity: np.ndarray, main_pool: np.ndarray, b0: np.ndarray, b1: np.ndarray,
                  full: np.ndarray, wf_pool: np.ndarray, width: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per instance, the grid parts ``(off, on, cont)`` of :func:`grid_causes` for its wait
    after its batch, the bins ``[b0, b1)``; summed per activity they are grid_causes's.

    Examples
    --------
    >>> import numpy as np
    >>> # one pool, bins 0-3: on shift in bins 1-3, full in bin 2; a wait over bins 0-3
    >>> instance_grid(np.array([0]), np.array([0]), np.array([0]), np.array([4]),
    ...               np.array([[False, False, True, False]]), np.array([[0.0, 1, 1, 1]]), 10.0)
    (array([10.]), array([30.]), array([10.]))
    """
    pool = main_pool[activity]
    hi = np.maximum(b1, b0)
    all_ = (hi - b0).astype(np.float64)
    on = all_.copy()  # no pool: every bin counts as on shift, none as full
    cont = np.zeros(len(activity))
    for p in np.unique(pool[pool >= 0]):  # prefix sums over the bins, per pool that waits
        m = pool == p
        w_on = np.r_[0.0, np.cumsum(wf_pool[p])]
        w_full = np.r_[0.0, np.cumsum(wf_pool[p] * full[p])]
        on[m] = w_on[hi[m]] - w_on[b0[m]]
        cont[m] = w_full[hi[m]] - w_full[b0[m]]
    return (all_ - on) * width, on * width, cont * width


def split_instances(*, activity: np.ndarray, wait: np.ndarray, batching: np.ndarray, overtaken: np.ndarray,
                    off: np.ndarray, on: np.ndarray, cont: np.ndarray) -> dict[str, np.ndarray]:
    """Per instance, seconds per cause (:data:`WAIT_CAUSES`), summing to its ``wait``.

    The rule of :func:`split_causes`, per instance: the grid parts (from
    :func:`instance_grid`) rescaled to the instance's exact wait after batching (the grid
    moves each end by at most half a bin; rescaling per instance keeps every wait exact),
    then balanced so that per activity they sum to :func:`split_causes`'s figures. A wait
    too short to cover a bin takes its activity's split.
    Prioritisation is :func:`split_causes`'s per activity, ``min(overtaken, busy)`` summed
    over the activity's instances, so the per-activity sums are the same numbers: each
    instance first takes its own overtaken wait (at most its busy wait), and what the
    activity's total leaves over is shared in proportion to the busy wait left.

    Examples
    --------
    >>> import numpy as np
    >>> # a 100 s wait, 20 s of it batching; on the grid 40 s off shift, 40 s on, 30 s full
    >>> c = split_instances(activity=np.array([0]), wait=np.array([100.0]), batching=np.array([20.0]),
    ...                     overtaken=np.array([10.0]), off=np.array([40.0]), on=np.array([40.0]),
    ...                     cont=np.array([30.0]))
    >>> {k: float(v[0]) for k, v in c.items()}
    {'contention': 20.0, 'unavailability': 40.0, 'prioritisation': 10.0, 'batching': 20.0, 'extraneous': 10.0}
    """
    batching = np.minimum(batching, wait)
    rest = np.clip(wait - batching, 0, None)
    n_act = int(activity.max()) + 1 if len(activity) else 0
    per = lambda x: np.bincount(activity, weights=x, minlength=n_act)  # noqa: E731
    tot = split_causes(wait_sum=per(wait), batching=per(batching), overtaken=per(overtaken),
                       off=per(off), on=per(on), cont=per(cont))
    # a wait too short to cover a grid bin takes its activity's split
    empty = (off + on <= 0) & (rest > 0)
    if empty.any():
        off, on, cont = off.copy(), on.copy(), cont.copy()
        off[empty], on[empty], cont[empty] = (per(x)[activity[empty]] for x in (off, on, cont))
    grid = off + on
    scale = np.divide(rest, grid, out=np.zeros_like(rest), where=grid > 0)
    # (off shift, busy, idle) per instance, rescaled to its exact wait after batching;
    # then balanced (iterative proportional fitting) so that the activity's totals are
    # split_causes's too: rounding a wait's ends to bins weighs short waits unevenly
    x = np.stack([off * scale, cont * scale, np.where(grid > 0, (on - cont) * scale, rest)], axis=1)
    goal = np.stack([tot["unavailability"], tot["contention"] + tot["prioritisation"], tot["extraneous"]], axis=1)
    for _ in range(50):
        have = np.stack([per(x[:, k]) for k in range(3)], axis=1)
        x *= np.divide(goal, have, out=np.ones_like(goal), where=have > 0)[activity]
        row = x.sum(axis=1)
        x *= np.divide(rest, row, out=np.zeros_like(rest), where=row > 0)[:, None]
    busy = x[:, 1]
    own = np.minimum(overtaken, busy)
    room = busy - own
    left = np.clip(tot["prioritisation"] - per(own), 0, None)
    share = np.divide(left, per(room), out=np.zeros(n_act), where=per(room) > 0)
    prio = own + room * np.minimum(share, 1.0)[activity]
    return {
        "contention": busy - prio,
        "unavailability": x[:, 0],
        "prioritisation": prio,
        "batching": batching,
        "extraneous": x[:, 2],
    }
