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

from collections.abc import Callable, Sequence

import numpy as np

__all__ = ["WAIT_CAUSES", "batch_waits", "batch_waits_at", "overtaken_waits", "overtaken_sums", "packed_triples", "grid_causes", "split_causes", "instance_grid", "split_instances"]

#: The causes, in the order of the contract (``wait_causes_s`` keys).
WAIT_CAUSES = ("contention", "unavailability", "prioritisation", "batching", "extraneous")
#: Rows per block where a pass runs in blocks: on millions of rows, fresh temporaries as
#: long as the log cost more (in page faults) than the work itself; and a block's
#: temporaries (512 KB each) stay in the CPU cache from one operation to the next.
_BLOCK = 1 << 16


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
    out = np.zeros(len(start))
    rows, waits = batch_waits_at(activity, start, enabled, tol)
    out[rows] = waits
    return out


def batch_waits_at(activity: np.ndarray, start: np.ndarray, enabled: np.ndarray, tol: float, *,
                   counts: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """:func:`batch_waits` at the rows where it is above 0 only: ``(rows, waits)``, rows
    ascending (no array as long as the log for the few rows that wait for a batch).
    ``counts``: the rows per activity, when the caller has them.

    Examples
    --------
    >>> import numpy as np
    >>> batch_waits_at(np.array([0, 0, 0]), np.array([8.0, 8, 8]), np.array([1.0, 3, 6]), 0.0)
    (array([0, 1]), array([5., 3.]))
    """
    none = (np.zeros(0, dtype=np.intp), np.zeros(0))
    if not len(start):
        return none
    new, pick = _chains(activity, start, tol, counts)
    # only rows in a batch of two or more get a wait: most rows are alone, so the rest of
    # the work (and the gathers in random order) runs on those rows only
    alone = new[:-1] & new[1:]
    sel = np.flatnonzero(~np.r_[alone, new[-1]])
    del alone
    if not len(sel):
        return none
    new_s = new[sel]  # a batch's rows are contiguous in ``sel`` and it begins at a new row
    heads = np.flatnonzero(new_s)
    gid = np.cumsum(new_s) - 1
    rows, s_sel = pick(sel)
    en = enabled[rows]
    ready = np.maximum.reduceat(en, heads)
    w = np.clip(np.minimum(ready[gid], s_sel) - en, 0, None)
    keep = w > 0
    rows, w = rows[keep], w[keep]
    o = np.argsort(rows)  # (rows are distinct: any sort gives the one order)
    return rows[o].astype(np.intp, copy=False), w[o]


def _chains(group: np.ndarray, value: np.ndarray, tol: float, counts: np.ndarray | None = None,
            ) -> tuple[np.ndarray, Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]]:
    """Rows ordered by group, then value: per position of that order, whether it begins a
    new chain (a new group, or a value more than ``tol`` above the one before), and
    ``pick(positions) -> (rows, values)`` at some positions.

    On packed keys (:func:`_packed`) the order is never unpacked whole: the chains come
    from the differences of the (group, value) part of the keys, and the group changes
    from the group counts."""
    p = _packed(group, value)
    if p is None:
        order, v_o, g_o = _sorted(group, value)
        new = np.r_[True, (g_o[1:] != g_o[:-1]) | (v_o[1:] - v_o[:-1] > tol)]
        return new, lambda at: (order[at], v_o[at])
    key, nb, vb, lo = p
    n = len(key)
    new = np.empty(n, dtype=bool)
    new[0] = True
    for i in range(0, n - 1, _BLOCK):
        j = min(i + _BLOCK, n - 1)
        gv = np.right_shift(key[i:j + 1], nb)  # group << vb | value - lo
        # whole numbers below 2**40: the differences are those of the values, exactly
        np.greater(np.subtract(gv[1:], gv[:-1]), tol, out=new[i + 1:j + 1])
    begins = np.cumsum(np.bincount(np.asarray(group)) if counts is None else counts)
    new[begins[begins < n]] = True  # where each group after the first begins

    def pick(at: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        k = key[at]
        v = ((k >> nb) & ((1 << vb) - 1)).astype(np.float64)
        v += lo
        k &= (1 << nb) - 1
        return k, v

    return new, pick


def _packed(group: np.ndarray, value: np.ndarray) -> tuple[np.ndarray, int, int, float] | None:
    """Rows sorted by group, then value, as one sorted int64 key per row:
    ``group << (vb + nb) | (value - lo) << nb | row``; returns ``(key, nb, vb, lo)``, or
    None unless the values are whole numbers on a short enough range (whole seconds, as
    most logs record) and the groups non-negative integers. One plain sort of values
    (several times cheaper than an argsort) gives the order, the sorted values and groups
    without a gather in random order; equal (group, value) rows stay in row order."""
    n = len(value)
    g = np.asarray(group)
    if not (0 < n < 2**31 and value.dtype.kind == "f" and g.dtype.kind in "iu" and int(g.min()) >= 0):
        return None
    lo, hi = float(value.min()), float(value.max())
    if not (np.isfinite(lo) and np.isfinite(hi) and hi - lo < 2.0**40 and lo == np.floor(lo)):
        return None
    nb = max(n - 1, 1).bit_length()
    vb = max(int(hi - lo).bit_length(), 1)
    if int(g.max()).bit_length() + vb + nb > 62:
        return None
    key = np.empty(n, dtype=np.int64)
    for i in range(0, n, _BLOCK):  # (in blocks: no temporaries as long as the log)
        j = min(i + _BLOCK, n)
        # whole numbers: value - lo is exact (below 2**40) and survives the cast to int64
        rel = np.subtract(value[i:j], lo)
        k = key[i:j]
        np.copyto(k, rel, casting="unsafe")
        if not np.array_equal(k, rel):
            return None
        k <<= nb
        k |= np.arange(i, j, dtype=np.int64)
        k |= np.left_shift(g[i:j], vb + nb, dtype=np.int64)
    key.sort()
    return key, nb, vb, lo


def _sorted(group: np.ndarray, value: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows ordered by group, then value: ``(order, value[order], group[order])``.

    Through one sort of packed keys (:func:`_packed`) when the values are whole numbers on
    a short range; otherwise :func:`_group_order`. The order among equal (group, value)
    rows is arbitrary.
    """
    p = _packed(group, value)
    if p is None:
        order = _group_order(group, value)
        return order, value[order], _sorted_groups(group, value, order)
    key, nb, vb, lo = p
    order = key & ((1 << nb) - 1)
    key >>= nb
    v_o = (key & ((1 << vb) - 1)).astype(np.float64)
    v_o += lo  # whole numbers below 2**53: exactly the values
    key >>= vb
    g_o = key.astype(np.asarray(group).dtype, copy=False)
    return order, v_o, g_o


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
    if not n:
        return np.zeros(0)
    order, bounds, tie = _runs(activity, enabled)
    s_o = start[order]
    # the earliest start among instances enabled strictly later (same activity): per
    # activity, a reversed running minimum read one row further on (exact: no lifting)
    later = np.empty(n)
    for g0, g1 in bounds:
        later[g1 - 1] = np.inf
        if g1 - g0 > 1:
            # (written reversed straight into place: no temporary per activity)
            np.minimum.accumulate(s_o[g1 - 1:g0:-1], out=later[g0:g1 - 1][::-1])
    if len(tie):
        # a run of equal (activity, enablement) reads just past its last row
        brk = np.flatnonzero(np.diff(tie) != 1)
        ends = np.r_[brk, len(tie) - 1]
        later[tie] = np.repeat(later[tie[ends] + 1], np.diff(ends, prepend=-1))
    # start - max(later, floor) = min(start - later, start - floor), the floor on rows in
    # their own order: one scatter, no gather of the floor in random order
    np.subtract(s_o, later, out=later)
    np.maximum(later, 0.0, out=later)
    out = s_o  # (its buffer, no longer needed, takes the result in row order)
    out[order] = later
    del later, order
    for i in range(0, n, _BLOCK):
        o = out[i:i + _BLOCK]
        np.minimum(o, np.subtract(start[i:i + _BLOCK], floor[i:i + _BLOCK]), out=o)
        np.maximum(o, 0.0, out=o)
    return out


def overtaken_sums(activity: np.ndarray, start: np.ndarray, enabled: np.ndarray, n_groups: int, *,
                   floor_at: tuple[np.ndarray, np.ndarray] | None = None,
                   packed: tuple[np.ndarray, int, float] | None = None,
                   counts: np.ndarray | None = None) -> np.ndarray:
    """Per activity (codes ``0 .. n_groups - 1``), the sum of :func:`overtaken_waits`, its
    floor the enablement but at the rows ``floor_at = (rows, floor)`` (waits after a
    batch: :func:`batch_waits_at`). ``packed``: :func:`packed_triples` of the same rows,
    ``counts``: the rows per activity, when the caller has them.

    The same sums, bit for bit. When the times are whole numbers on a short range (whole
    seconds, as most logs record), each instance's (activity, enablement, start) is one
    packed int64 key; one sort of the keys gives all the rule reads, and the waits are
    whole numbers, summed exactly in integers. The sorted keys are then read block by
    block, from the last: no array as long as the log but the keys, and no row order to
    gather the starts through or to scatter the results back by (passes in random order
    over fresh memory: on millions of rows they cost more than the rule itself).
    Otherwise, the sums of :func:`overtaken_waits`.

    Examples
    --------
    >>> import numpy as np
    >>> overtaken_sums(np.array([0, 0, 1]), np.array([4.0, 2, 5]), np.array([0.0, 1, 5]), 2)
    array([2., 0.])
    """
    odd, f_odd = floor_at if floor_at is not None else (np.zeros(0, dtype=np.intp), np.zeros(0))
    p = packed_triples(activity, enabled, start, f_odd) if packed is None else packed
    if p is None:
        floor = enabled.copy()
        floor[odd] = f_odd
        return np.bincount(activity, weights=overtaken_waits(activity, start, enabled, floor), minlength=n_groups)
    key, vb, lo = p
    counts = np.bincount(activity, minlength=n_groups) if counts is None else counts
    ends = np.cumsum(counts)
    mask = (1 << vb) - 1
    tot = np.zeros(len(counts), dtype=np.int64)
    # the rows whose floor lies above their enablement (waits after a batch: few) are
    # first counted with the floor at the enablement, then again with their own floor;
    # found by their keys (in key order: each search begins where the one before ended)
    a_o = activity[odd]
    e_i, s_i, f_i = (np.subtract(x, lo).astype(np.int64) for x in (enabled[odd], start[odd], f_odd))
    q = np.left_shift(a_o, 2 * vb, dtype=np.int64) | (e_i << vb) | s_i
    o = np.argsort(q)  # (rows with equal keys read the same: their order does not matter)
    a_o, e_i, s_i, f_i = a_o[o], e_i[o], s_i[o], f_i[o]
    at = np.searchsorted(key, q[o])
    lat = np.empty(len(at), dtype=np.int64)
    for g in np.flatnonzero(counts).tolist():
        g1 = int(ends[g])
        g0 = g1 - int(counts[g])
        # carried from the block after: the earliest start from there on, the later start
        # its first row reads, and its (activity, enablement)
        min_on, later_on, ge_on = _NONE, _NONE, -1
        for b in range(g1, g0, -_BLOCK):
            a = max(g0, b - _BLOCK)
            m = b - a
            kb = key[a:b]
            s = kb & mask  # start - lo
            ge = kb >> vb  # activity << vb | enablement - lo
            # the earliest start from each row to the end of the activity
            t = np.empty(m + 1, dtype=np.int64)
            np.minimum.accumulate(s[::-1], out=t[m - 1::-1])
            np.minimum(t, min_on, out=t)
            # a row is overtaken by the rows enabled strictly later: it reads the earliest
            # start from the next run of another enablement on; past the block, the
            # carried one (a run that goes on past the block reads what its rest reads)
            t[m] = later_on if ge[-1] == ge_on else min_on
            nxt = np.where(ge[1:] != ge[:-1], np.arange(1, m), m)
            nxt_all = np.empty(m, dtype=np.intp)
            nxt_all[m - 1] = m
            np.minimum.accumulate(nxt[::-1], out=nxt_all[m - 2::-1] if m > 1 else nxt_all[:0])
            later = t[nxt_all]
            min_on, later_on, ge_on = int(t[0]), int(later[0]), int(ge[0])
            i0, i1 = np.searchsorted(at, (a, b))
            lat[i0:i1] = later[at[i0:i1] - a]
            # start - max(later, enablement), at least 0
            ge &= mask
            np.subtract(s, ge, out=ge)  # the wait
            np.subtract(s, later, out=later)
            np.minimum(later, ge, out=later)
            np.maximum(later, 0, out=later)
            tot[g] += int(later.sum())
    if len(odd):
        own = np.maximum(np.minimum(s_i - lat, s_i - e_i), 0)
        new = np.maximum(np.minimum(s_i - lat, s_i - f_i), 0)
        np.add.at(tot, a_o, new - own)
    return tot[:n_groups].astype(np.float64)


_NONE = np.iinfo(np.int64).max // 4  # no later start: above every packed time


def packed_triples(group: np.ndarray, enabled: np.ndarray, start: np.ndarray, floor: np.ndarray,
                   ) -> tuple[np.ndarray, int, float] | None:
    """For :func:`overtaken_sums` (its ``packed``; the bottleneck grid reads them too): the sorted keys ``group << 2 vb | enabled - lo << vb |
    start - lo``, ``vb`` and ``lo``; None unless every time (and the few ``floor``
    values) is a whole number on a range short enough for the keys and the integer
    sums."""
    n = len(start)
    g = np.asarray(group)
    if not (0 < n and start.dtype.kind == enabled.dtype.kind == "f" and floor.dtype.kind in "fiu"
            and g.dtype.kind in "iu" and int(g.min()) >= 0):
        return None
    lo = min(float(enabled.min()), float(start.min()))
    hi = max(float(enabled.max()), float(start.max()))
    if not (np.isfinite(lo) and np.isfinite(hi) and hi - lo < 2.0**40 and lo == np.floor(lo) and abs(lo) < 2.0**52):
        return None
    vb = max(int(hi - lo).bit_length(), 1)
    # keys below 2**62, and sums of n waits each below 2**vb within int64
    if int(g.max()).bit_length() + 2 * vb > 62 or n.bit_length() + vb > 62:
        return None
    f = floor - lo
    if len(f) and not (np.isfinite(f).all() and np.array_equal(f, np.floor(f)) and np.abs(f).max() < 2.0**52):
        return None
    key = np.empty(n, dtype=np.int64)
    buf = np.empty(min(n, _BLOCK), dtype=np.int64)
    for i in range(0, n, _BLOCK):  # (in blocks: no temporaries as long as the log)
        j = min(i + _BLOCK, n)
        k, b = key[i:j], buf[:j - i]
        for x, out in ((enabled, k), (start, b)):
            rel = np.subtract(x[i:j], lo)
            np.copyto(out, rel, casting="unsafe")  # whole numbers below 2**40: exact
            if not np.array_equal(out, rel):
                return None
        k <<= vb
        k |= b
        k |= np.left_shift(g[i:j], 2 * vb, dtype=np.int64)
    key.sort()
    return key, vb, lo


def _runs(group: np.ndarray, value: np.ndarray) -> tuple[np.ndarray, list[tuple[int, int]], np.ndarray]:
    """Rows ordered by group, then value: ``(order, group slices of the order, tie)``,
    ``tie`` the positions ``i`` of the order whose row has the same group and value as
    the row at ``i + 1``."""
    n = len(value)
    p = _packed(group, value)
    if p is not None:
        key, nb, vb, lo = p
        # ties (equal group and value) and group changes, in blocks; then the keys become
        # the order in place (no second array as long as the log)
        tie_parts, cut_parts = [], []
        for i in range(0, n - 1, _BLOCK):
            gv = np.right_shift(key[i:i + _BLOCK + 1], nb)  # group << vb | value - lo
            tie_parts.append(np.flatnonzero(gv[1:] == gv[:-1]) + i)
            gv >>= vb
            cut_parts.append(np.flatnonzero(gv[1:] != gv[:-1]) + (i + 1))
        tie = np.concatenate(tie_parts) if tie_parts else np.zeros(0, dtype=np.int64)
        cut = np.concatenate(cut_parts) if cut_parts else np.zeros(0, dtype=np.int64)
        key &= (1 << nb) - 1
        order = key
    else:
        order = _group_order(group, value)
        v_o = value[order]
        g_o = _sorted_groups(group, value, order)
        tie = np.flatnonzero((g_o[1:] == g_o[:-1]) & (v_o[1:] == v_o[:-1]))
        del v_o
        cut = np.flatnonzero(g_o[1:] != g_o[:-1]) + 1
    edges = [0, *cut.tolist(), n]
    return order, list(zip(edges[:-1], edges[1:])), tie


def grid_causes(queue: np.ndarray, full: np.ndarray, wf_pool: Sequence[np.ndarray], main_pool: np.ndarray,
                width: float, batched: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per activity, the waiting seconds off shift, on shift, and on shift with the pool full.

    ``queue`` (activities x bins): instances waiting per bin; ``full`` (pools x bins): every
    member busy; ``wf_pool`` (per pool, one row of bins: a 2-D array or a list of rows):
    the share of the bin that is working time;
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
    always = {p: bool(wf_pool[p].min() >= 1.0) for p in used}  # always on shift
    # (the working share with the pool full, wf * full, is not kept per pool: as full is 0
    # or 1, queue * wf * full is the same number, made in one reused buffer)
    t = np.empty(n_bins)
    for i in range(n_act):
        mp = main_pool[i]
        total = float(queue[i].sum()) * width
        if mp < 0:
            on[i] = total
            continue
        np.multiply(queue[i], wf_pool[mp], out=t)
        on[i] = total if always[mp] else float(t.sum()) * width
        t *= full[mp]
        cont[i] = float(t.sum()) * width
        off[i] = total - on[i]
    if batched is not None and len(batched[0]):
        a, b0, b1 = batched
        pa = main_pool[a]
        hi = np.maximum(b1, b0)
        all_ = (hi - b0).astype(np.float64)
        on_b = all_.copy()  # no pool: every bin counts as on shift
        full_b = np.zeros(len(a))
        w = np.zeros(n_bins + 1)  # (one buffer for every pool's prefix sums)
        for p in used:  # prefix sums over the bins, only for the pools that batch
            m = pa == p
            if not m.any():
                continue
            if not always[p]:  # (always on shift: every bin counts whole, as on_b already has)
                np.cumsum(wf_pool[p], out=w[1:])
                on_b[m] = w[hi[m]] - w[b0[m]]
            np.multiply(wf_pool[p], full[p], out=t)
            np.cumsum(t, out=w[1:])
            full_b[m] = w[hi[m]] - w[b0[m]]
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
                  full: np.ndarray, wf_pool: Sequence[np.ndarray], width: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
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
