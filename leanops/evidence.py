"""What a log can support: timestamp granularity, start times, and whether resources are people.

Every diagnosis in leanops says what it rests on, with one of three levels:

- ``"measured"``: recorded start times and resources that are people;
- ``"estimated"``: some start times were estimated (the finding says how many);
- ``"unmeasurable"``: the data cannot show it (the finding says why).

This module holds the detections that decide the level, computed once per log (cached on
it), so that every command words them the same way.

Examples
--------
>>> from leanops import datasets
>>> log = datasets.load("production")
>>> time_granularity(log)
'minute'
>>> role_resources(log)  # works on about 4 instances at once
['ID4820', 'ID4491']
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from ._pools import profiles, resource_codes
from .boundaries import case_spans
from .log import EventLog

__all__ = ["time_granularity", "GRANULARITY_S", "role_resources", "log_evidence", "EVIDENCE_LEVELS",
           "granularity_from_counts", "roles_from", "level_caveats"]

EVIDENCE_LEVELS = ("measured", "estimated", "unmeasurable")
#: Seconds in one unit of each detectable granularity.
GRANULARITY_S = {"day": 86400.0, "minute": 60.0, "second": 1.0}
#: Share of timestamps that must fit a granularity for the log to be said to have it.
_FIT = 0.98
# Labels that name a system or a job rather than a person.
_SYSTEM = re.compile(r"^(system|sys|batch|auto(mat(ic|ed))?|bot|robot|rpa|job|scheduler|server|daemon|cron)\b",
                     re.IGNORECASE)
#: Rows per block where a pass runs in blocks: on millions of rows, fresh temporaries as
#: long as the log cost more (in page faults) than the arithmetic.
_BLOCK = 1 << 20
#: Rows per block of the per-interval keys: small enough that a block's temporaries stay
#: in the CPU cache from one operation to the next.
_KEY_BLOCK = 1 << 16


def _stamps(log: EventLog) -> list[np.ndarray]:
    """The log's timestamps as int64 ns: its ends, and its recorded starts (two arrays,
    not concatenated: a copy as long as the log saved)."""
    d = log.df
    e = d["end"].to_numpy(dtype="datetime64[ns]").view(np.int64)
    s = d["start"].to_numpy(dtype="datetime64[ns]").view(np.int64)
    has = s != np.iinfo(np.int64).min  # (NaT) on int64 views: no pandas dropna copy
    return [e, s if has.all() else s[has]]


def _stamp_counts(t: np.ndarray) -> tuple[np.ndarray, int, int]:
    """For int64 ns stamps: counts per second of the day (UTC), stamps on whole seconds,
    and stamps on whole minutes. Division by a constant and a multiply-compare, not two
    remainders per stamp, in blocks (no temporaries as long as the log)."""
    sod = np.zeros(86400, dtype=np.int64)
    n_frac = 0
    frac_sod = []
    for i in range(0, len(t), _BLOCK):
        x = t[i:i + _BLOCK]
        sec = np.floor_divide(x, 1_000_000_000)
        frac = np.not_equal(np.multiply(sec, 1_000_000_000), x)
        day = np.floor_divide(sec, 86400)
        day *= 86400
        np.subtract(sec, day, out=sec)  # the second of the day, 0..86399
        sod += np.bincount(sec, minlength=86400)
        k = int(np.count_nonzero(frac))
        if k:
            n_frac += k
            frac_sod.append(sec[frac])
    on_min = sod[::60]
    if n_frac:  # the minute count is of whole-second stamps only
        on_min = on_min - np.bincount(np.concatenate(frac_sod), minlength=86400)[::60]
    return sod, len(t) - n_frac, int(on_min.sum())


def granularity_from_counts(sod_counts: np.ndarray, n: int, n_whole_s: int, n_whole_min: int) -> str:
    """The granularity from counts of timestamps: per second of the day (UTC), and how many
    fall on whole seconds and on whole minutes (shared by both engines)."""
    if n == 0:
        return "second"
    top2 = np.sort(np.asarray(sod_counts))[-2:].sum()
    if n >= 3 and top2 >= _FIT * n and n_whole_s >= _FIT * n:
        return "day"
    if n_whole_min >= _FIT * n:
        return "minute"
    return "second"


def roles_from(labels: list[str], overlap: dict[str, tuple[int, float, float]], wip: float) -> list[str]:
    """Group labels from the labels (most frequent first), per label ``(instances with a
    start, summed durations, merged busy time)``, and the mean number of open cases (shared
    by both engines)."""
    flagged = {r for r in labels if _SYSTEM.match(r.strip())}
    if labels and len(labels) <= 3 and wip >= 10 * len(labels):
        flagged.update(labels)
    for r, (k, total, merged) in overlap.items():
        if k >= 20 and merged > 0 and total / merged > 2.0:
            flagged.add(str(r))
    return [r for r in labels if r in flagged]


def time_granularity(log: EventLog) -> str:
    """The coarsest unit all timestamps are recorded in: ``"day"``, ``"minute"`` or ``"second"``.

    A log is at day granularity when nearly all (98%) of its timestamps fall on one or two
    times of day (two: a daylight-saving shift of dates stored in local time); at minute
    granularity when they fall on whole minutes; otherwise ``"second"`` (which includes
    finer stamps). Cached on the log.

    Examples
    --------
    >>> import pandas as pd
    >>> from leanops.log import EventLog
    >>> days = pd.to_datetime(["2024-01-01", "2024-01-03", "2024-01-08"]).tz_localize("Europe/Amsterdam")
    >>> time_granularity(EventLog(pd.DataFrame({"case_id": ["a", "a", "b"], "activity": ["x", "y", "x"],
    ...                                         "end": days})))
    'day'
    """
    cached = log._cache.get("time_granularity")
    if cached is not None:
        return cached
    out = granularity_of(*_stamps(log))
    log._cache["time_granularity"] = out
    return out


def granularity_of(*stamps: np.ndarray) -> str:
    """:func:`time_granularity` of timestamps given as int64 ns arrays (UTC): every engine's.

    Counted block by block; it answers ``"second"`` as soon as the stamps counted so far
    rule out both day and minute whatever the rest may be (on most logs after the first
    block: the same answer as counting every stamp, without the pass over the rest)."""
    n = sum(len(t) for t in stamps)
    sod = np.zeros(86400, dtype=np.int64)
    n_whole = n_min = seen = 0
    for t in stamps:
        for i in range(0, len(t), _BLOCK):
            c, w, m = _stamp_counts(t[i:i + _BLOCK])
            sod += c
            n_whole += w
            n_min += m
            seen += min(_BLOCK, len(t) - i)
            rest = n - seen  # stamps not counted yet: at best all on whole minutes, on the top times
            if n_min + rest < _FIT * n and (n_whole + rest < _FIT * n or
                                            int(np.partition(sod, -2)[-2:].sum()) + rest < _FIT * n):
                return "second"
    if n_whole < _FIT * n:  # finer than seconds: neither day nor minute can fit
        return "second"
    return granularity_from_counts(sod, n, n_whole, n_min)


def _roles_of(names: list[str], vc: np.ndarray, spans: Callable[[], tuple[np.ndarray, np.ndarray]],
             busy: Callable[[], tuple[np.ndarray, np.ndarray, np.ndarray] | None]) -> list[str]:
    """:func:`roles_from` on per-code counts (every engine's): ``names`` the labels by code,
    ``vc`` the instances per code, ``spans()`` each case's first timestamp and last end (ns),
    ``busy()`` per code the instances with a start, summed durations and merged busy time
    (:func:`_label_busy`; None when no row has both a start and a label). ``spans`` and
    ``busy`` are only called when some label has instances."""
    # most frequent first, ties by label (as the SQL engine orders them)
    labels = [names[i] for i in sorted(np.flatnonzero(vc).tolist(), key=lambda i: (-int(vc[i]), names[i]))]
    if not labels:
        return []
    c0, c1 = spans()
    span = float(c1.max() - c0.min())
    wip = float((c1 - c0).sum()) / span if span > 0 else 0.0
    overlap: dict[str, tuple[int, float, float]] = {}
    b = busy()
    if b is not None:
        k, total, merged = b
        overlap = {names[i]: (int(k[i]), float(total[i]), float(merged[i])) for i in np.flatnonzero(k).tolist()}
    return roles_from(labels, overlap, wip)


def role_resources(log: EventLog) -> list[str]:
    """Resource labels that stand for a group of unknown size (a role, a team or a system).

    A label is taken for a group when it names a system (``SYSTEM``, ``batch``, ``bot``...);
    when, with recorded start times and at least 20 instances, it works on more than two
    instances at once on average (a person does one thing at a time); or when the whole log has so few labels for its
    parallel cases (at most 3 labels while, on average, 10 or more cases per label are
    open at once) that each must stand for many people. Cached on the log.

    Returns
    -------
    list of str
        The labels, most frequent first (empty when every resource looks like a person).
    """
    return _role_resources(log, None)


def roles_and_spells(log: EventLog) -> tuple[list[str], tuple[np.ndarray, np.ndarray, np.ndarray] | None]:
    """:func:`role_resources`, and the busy spells it merged on the way: each resource's
    instances as disjoint ``[start, end)`` spells, ``(code, start, end)`` int64 arrays (ns,
    codes of :func:`leanops._pools.resource_codes`, ordered by code then time; touching
    spells may stay apart). The spells are None when the roles were already cached, or
    when some row has no start or no resource (then they would not cover every row). Not
    kept on the log: they are as long as the log at worst."""
    spells: list = []
    roles = _role_resources(log, spells)
    return roles, (spells[0] if spells else None)


def _role_resources(log: EventLog, spells: list | None) -> list[str]:
    cached = log._cache.get("role_resources")
    if cached is not None:
        return list(cached)
    d = log.df
    # the log's cached resource codes (names sorted): counting codes replaces a
    # value_counts and a factorize of the string column
    all_codes, names = resource_codes(log)
    named = all_codes >= 0
    # instances per label: the row sums of the log's cached activity profiles (no pass
    # over the rows, and no copy of the codes through the mask)
    vc = profiles(log).to_numpy().sum(axis=1)

    def busy() -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        s_all = d["start"].to_numpy(dtype="datetime64[ns]").view(np.int64)
        has = (s_all != np.iinfo(np.int64).min) & named
        if not has.any():
            return None
        every = bool(has.all())  # (then no copies through the mask)
        codes = all_codes if every else all_codes[has]
        s_ = s_all if every else s_all[has]
        e_all = d["end"].to_numpy(dtype="datetime64[ns]").view(np.int64)
        e_ = e_all if every else e_all[has]
        if not (e_ >= s_).all():  # (a copy only when some end precedes its start)
            e_ = np.maximum(e_, s_)
        # (the spells only when every row is counted: see roles_and_spells)
        return _label_busy(codes, s_, e_, len(names), counts=vc if every else None,
                           spells=spells if every else None)

    out = _roles_of(names, vc, lambda: case_spans(log), busy)
    log._cache["role_resources"] = tuple(out)
    return out


def _label_busy(codes: np.ndarray, s: np.ndarray, e: np.ndarray, n: int, *,
                counts: np.ndarray | None = None,
                spells: list | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per label code: instances, summed durations, and the length of the union of its
    ``[s, e)`` intervals (int64 ns, ``e >= s``). ``counts``: the instances per code,
    when the caller has them. ``spells``: a list to which the union is appended as
    ``(code, start, end)`` arrays (see :func:`roles_and_spells`; not on the row-sorting
    path for spans too long to pack).

    The union comes from one sort of the interval ends as packed integers (label, time,
    end before start) and a running count of open intervals per label: sorting values is
    several times cheaper than sorting rows (an argsort and gathers in random order).
    Everything but the keys is computed in blocks: on a log of millions of rows, fresh
    temporaries as long as the log cost more than the work.
    """
    m = len(codes)
    k = np.bincount(codes, minlength=n) if counts is None else counts
    # (the int64 difference, cast into a float buffer: exact as the difference's cast)
    buf = np.empty(m)  # (then the keys' buffer)
    total = np.bincount(codes, weights=np.subtract(e, s, out=buf), minlength=n)
    lo = int(s.min())
    unit = 1
    cb = int(codes.max()).bit_length()
    top = int(e.max()) - lo
    tb = max(top.bit_length(), 1)

    # one key per interval when (label, start, length) packs, in the finest unit the
    # times are whole numbers of (the longest interval in blocks: no temporary as long
    # as the log)
    dmax = max(int((e[i:i + _KEY_BLOCK] - s[i:i + _KEY_BLOCK]).max()) for i in range(0, m, _KEY_BLOCK))
    for u in (1, 10**3, 10**6, 10**9):
        tb_u, db_u = max((top // u).bit_length(), 1), max((dmax // u).bit_length(), 1)
        if cb + tb_u + db_u <= 62:
            merged = _union_by_reach(codes, s, e, n, lo=lo, unit=u, tb=tb_u, db=db_u, spells=spells, buf=buf)
            if merged is not None:
                return k, total, merged
    if cb + tb + 1 > 63:  # (a span of years in ns) whole seconds (ms, us) pack fewer bits
        for u in (10**9, 10**6, 10**3):
            if not any(((x[i:i + _BLOCK] - lo) % u).any() for x in (s, e) for i in range(0, m, _BLOCK)):
                unit = u
                tb = max((top // u).bit_length(), 1)
                break
    if cb + tb + 1 > 63:
        return k, total, _label_busy_rows(codes, s, e, n)
    key = np.empty(2 * m, dtype=np.int64)
    for i in range(0, m, _BLOCK):
        j = min(i + _BLOCK, m)
        lab = np.left_shift(codes[i:j], tb + 1, dtype=np.int64)
        for x, half, is_start in ((s, key[i:j], 1), (e, key[m + i:m + j], 0)):
            np.subtract(x[i:j], lo, out=half)
            if unit > 1:
                half //= unit
            half <<= 1
            half |= is_start  # an end sorts before a start at the same instant
            half |= lab
    key.sort()
    # +1 at a start, -1 at an end (the low bit of each key: on a little-endian machine its
    # first byte, read in place); a running count of the label's open intervals, carried
    # from block to block (none spans two labels: every label closes all of its intervals)
    low = key.view(np.uint8)[::8] if sys.byteorder == "little" else key
    edge = np.empty(2 * m, dtype=bool)
    carry = 0
    for i in range(0, 2 * m, _BLOCK):
        step = (low[i:i + _BLOCK] & 1).astype(np.int8)
        step *= 2
        step -= 1
        count = np.cumsum(step, dtype=np.int64)
        count += carry
        carry = int(count[-1])
        # busy spells begin where a start lifts the count to 1 and end where an end drops
        # it to 0; they alternate, the first one beginning
        on = edge[i:i + _BLOCK]
        np.equal(count, 1, out=on)
        on &= step == 1
        on |= (count == 0) & (step == -1)
    del low
    edge = np.flatnonzero(edge)
    on, off = key[edge[0::2]], key[edge[1::2]]
    del key, edge
    mask = (1 << tb) - 1
    lab = on >> (tb + 1)
    on >>= 1
    on &= mask
    off >>= 1
    off &= mask
    spell = off - on
    merged = np.bincount(lab, weights=spell.astype(np.float64), minlength=n) * unit
    if spells is not None:
        del spell
        _append_spells(spells, lab, on, off, unit=unit, lo=lo)
    return k, total, merged


def _union_by_reach(codes: np.ndarray, s: np.ndarray, e: np.ndarray, n: int, *, lo: int, unit: int, tb: int,
                    db: int, spells: list | None, buf: np.ndarray | None = None) -> np.ndarray | None:
    """The union lengths (and spells) of :func:`_label_busy` from one sort of one packed key
    per interval, ``label << (tb + db) | start << db | length`` (times in ``unit`` from
    ``lo``), half the keys of sorting both ends: each label's intervals in order of their
    start, a spell begins where an interval starts at or after the furthest end so far
    (a running maximum: the labels lie on their own stretches of the integer line, so
    one pass serves them all). Touching intervals stay apart, as in the sweep over the
    ends; zero-length ones may add empty spells. The union is the same. None when some
    time is not a whole number of units from ``lo``. ``buf``: a free 8-byte buffer of
    ``m`` items for the keys."""
    m = len(codes)
    key = np.empty(m, dtype=np.int64) if buf is None else buf.view(np.int64)
    for i in range(0, m, _KEY_BLOCK):
        j = min(i + _KEY_BLOCK, m)
        k = key[i:j]
        np.subtract(s[i:j], lo, out=k)
        d = np.subtract(e[i:j], s[i:j])
        if unit > 1:
            for x in (k, d):  # whole units (checked while dividing: no pass of its own)
                q = x // unit
                if not np.array_equal(q * unit, x):
                    return None
                x[:] = q
        k <<= db
        k |= d
        k |= np.left_shift(codes[i:j], tb + db, dtype=np.int64)
    key.sort()
    # in blocks, carrying the furthest end so far (label << tb | end) from block to block:
    # a spell begins at a row that starts at or after it, and ends at the furthest end
    # reached before the next spell begins
    dmask = (1 << db) - 1
    ons, befores = [], []
    reach = -1
    for i in range(0, m, _KEY_BLOCK):
        kb = key[i:i + _KEY_BLOCK]
        l0 = kb >> db  # label << tb | start
        l1 = kb & dmask
        l1 += l0  # label << tb | end
        np.maximum.accumulate(l1, out=l1)
        np.maximum(l1, reach, out=l1)
        before = np.empty(len(l1), dtype=np.int64)
        before[0] = reach
        before[1:] = l1[:-1]
        h = np.flatnonzero(l0 >= before)
        ons.append(l0[h])
        befores.append(before[h])
        reach = int(l1[-1])
    on = np.concatenate(ons)
    off = np.empty_like(on)
    off[:-1] = np.concatenate(befores)[1:]
    off[-1] = reach
    del key, ons, befores
    lab = on >> tb
    mask = (1 << tb) - 1
    on &= mask
    off &= mask
    merged = np.bincount(lab, weights=(off - on).astype(np.float64), minlength=n) * unit
    if spells is not None:
        _append_spells(spells, lab, on, off, unit=unit, lo=lo)
    return merged


def _append_spells(spells: list, lab: np.ndarray, on: np.ndarray, off: np.ndarray, *, unit: int, lo: int) -> None:
    """Append the spells ``(lab, on, off)``, their times turned back to int64 ns (in place)."""
    for x in (on, off):
        if unit > 1:
            x *= unit
        x += lo
    spells.append((lab, on, off))


def _label_busy_rows(codes: np.ndarray, s_: np.ndarray, e_: np.ndarray, n: int) -> np.ndarray:
    """The union lengths of :func:`_label_busy` by sorting rows (for spans too long to pack)."""
    o = np.lexsort((s_, codes))
    c, gs, ge = codes[o], s_[o], e_[o]
    cm = pd.Series(ge).groupby(c).cummax().to_numpy()
    first = np.r_[True, c[1:] != c[:-1]]
    prev = np.where(first, np.iinfo(np.int64).min, np.r_[np.iinfo(np.int64).min, cm[:-1]])
    ms = np.maximum(gs, prev)
    return np.bincount(c, weights=np.clip(ge - ms, 0, None).astype(np.float64), minlength=n)


def log_evidence(log: EventLog) -> dict[str, Any]:
    """What the log's timing and resources support, with the caveats in words.

    Returns
    -------
    dict
        ``time_granularity``, ``starts_recorded_share`` (instances with a recorded start),
        ``role_resources`` (labels standing for groups), ``level`` (the best level a
        timing finding can have: ``"measured"``, ``"estimated"`` or ``"unmeasurable"``)
        and ``caveats`` (sentences).

    Examples
    --------
    >>> from leanops import datasets
    >>> e = log_evidence(datasets.load("sepsis"))
    >>> e["level"], e["starts_recorded_share"]
    ('estimated', 0.0)
    """
    cached = log._cache.get("log_evidence")
    if cached is not None:
        return dict(cached, caveats=list(cached["caveats"]))
    d = log.df
    n = len(d)
    recorded = float(d["start"].notna().mean()) if n else 0.0
    gran = time_granularity(log)
    roles = role_resources(log)
    level, caveats = level_caveats(gran, recorded, roles, bool(n) and bool(d["resource"].isna().all()))
    out = {"time_granularity": gran, "starts_recorded_share": recorded, "role_resources": roles,
           "level": level, "caveats": caveats}
    log._cache["log_evidence"] = out
    return dict(out, caveats=list(caveats))


def level_caveats(gran: str, recorded: float, roles: list[str], no_resources: bool) -> tuple[str, list[str]]:
    """The best evidence level a timing finding can have, and the caveats in words."""
    caveats: list[str] = []
    if gran == "day":
        level = "unmeasurable"
        caveats.append(
            "Timestamps are dates only (day granularity): durations under a day cannot be measured, so "
            "processing time and process cycle efficiency are unmeasurable.")
    elif recorded < 1.0:
        level = "estimated"
        caveats.append(
            f"{1 - recorded:.0%} of the activity instances have no recorded start time; their starts are "
            "estimated, so the split between waiting and processing, and any claim about capacity, rests "
            "on estimates.")
    else:
        level = "measured"
    if roles:
        shown = ", ".join(repr(r) for r in roles[:3]) + (f" and {len(roles) - 3} more" if len(roles) > 3 else "")
        caveats.append(
            f"Resource label(s) {shown} stand for a group of unknown size (a role, a team or a system), "
            "not a person: no resource count or utilisation is claimed for them.")
    if no_resources:
        caveats.append("No resources are recorded: capacity cannot be judged.")
    return level, caveats
