"""One columnar batch of activity instances: what every per-instance analysis reads.

A :class:`Batch` holds, per activity instance (row), its ``case``, ``activity`` and
``resource`` (int codes into the batch's dictionaries ``activities`` / ``resources``),
``start`` and ``end`` (int64 ns, the start estimated where the source has none),
``cover`` (int64 ns: the latest end among the earlier instances of its case, its own
start for the first; the enablement ``enabled`` is it capped at the start, the rule of
:mod:`leanops.mining._steps`), ``first`` (the first
instance of its case), ``repeat`` (its activity already occurred in the case) and
``estimated``; and the same times as float seconds on one clock (``start_s``, ``end_s``,
``wait_s``, ``service_s``, ``covered_s``), which is what the analyses sum. Rows are
grouped by case, cases in case-id order, instances in the EventLog's order; a pool is a
resource's group (``pools[resources[code]]``), looked up where needed.

It has three sources, and the per-instance columns come from the same numpy code in all:

* :func:`from_log`: an in-memory :class:`~leanops.EventLog` (the pandas engine; the
  arrays of :func:`leanops.mining.performance._instances`);
* :func:`from_reader`: Arrow record batches of canonical rows streamed from DuckDB,
  ordered by case, cut at case boundaries (the remainder of a case is carried to the
  next chunk); each chunk's per-case columns come from :func:`derive`;
* :func:`concat`: the partial batches of several case partitions (built by
  :func:`from_reader`, one DuckDB query per partition, on Dask one task each, gathered
  on the client), recoded to one pair of dictionaries and put in case-id order.

Starts missing in the source are estimated on the whole batch (:func:`finish`, with
:func:`leanops.mining.performance.estimate_starts`, the rule of
:func:`~leanops.estimate_start_times`): the resource's previous end crosses cases and
partitions. The DuckDB and Dask engines hold one batch in memory (about 100 bytes per
instance); the time grid and the per-activity sums are then the in-memory code's.

The float-second columns come from one pair of helpers
(:func:`~leanops.mining.performance._seconds_since` and
:func:`~leanops.mining.performance._timings`): :func:`~leanops.mining.performance._instances`
uses them for an EventLog (which may also measure working time), :func:`_seconds` for
the other sources. The per-activity sums are :func:`activity_sums` for every source,
computed once per batch (an EventLog's batch is cached on it, so value_stream and
bottlenecks share it, and its resource profile is the log's cached one).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from .._pools import profiles, resource_codes
from ._steps import NAT, _same_case_masks, case_cover
from .performance import (_ActivitySums, _instance_repeats, _instances, _repeats, _seconds_since, _timings,
                          estimate_starts)

__all__ = ["Batch", "from_log", "from_reader", "concat", "derive", "finish", "activity_sums"]


@dataclass(frozen=True)
class Batch:
    """Activity instances as columns (see the module docstring)."""

    case: np.ndarray  # int64 case code, 0.. in case-id order
    activity: np.ndarray  # intp code into ``activities``
    resource: np.ndarray  # int64 code into ``resources``, -1 where none
    start: np.ndarray  # int64 ns (estimated where ``estimated``)
    end: np.ndarray  # int64 ns
    cover: np.ndarray  # int64 ns: latest end among the earlier instances of the case (own start for the first)
    first: np.ndarray  # bool
    repeat: np.ndarray  # bool
    estimated: np.ndarray  # bool
    activities: list[str]
    resources: list[str]
    _case_ids: np.ndarray | None = None  # per case, its id (object): see ``case_ids``
    origin_ns: int = 0
    start_s: np.ndarray | None = None  # float s from ``origin_ns`` (or working time of ``calendar``)
    end_s: np.ndarray | None = None
    wait_s: np.ndarray | None = None  # start - enabled, 0 for the first instance of a case
    service_s: np.ndarray | None = None
    covered_s: np.ndarray | None = None  # time the instance adds to the union of its case's instances
    calendar: Any = None  # the clock of the *_s columns (None: the wall clock)
    extra: dict[str, Any] = field(default_factory=dict)  # source-specific: the pandas engine's _Instances

    def __len__(self) -> int:
        return len(self.end)

    @property
    def case_ids(self) -> np.ndarray:
        """Per case, its id (object). An EventLog's batch reads them from its log when
        first asked (the analyses do not: a million ids cost a pass over the Arrow column)."""
        if self._case_ids is not None:
            return self._case_ids
        ids = self.extra.get("case_ids")
        if ids is None:
            inst = self.extra["inst"]  # (the ids of the cases' first rows only)
            ids = self.extra["case_ids"] = inst.log.df["case_id"].iloc[inst.starts].to_numpy()
        return ids

    @property
    def enabled(self) -> np.ndarray:
        """Enablement, int64 ns: ``cover`` capped at the instance's start."""
        return np.minimum(self.cover, self.start)

    @property
    def starts(self) -> np.ndarray:
        """Row where each case begins."""
        return np.flatnonzero(self.first)

    @property
    def estimated_share(self) -> float:
        return float(self.estimated.mean()) if len(self.estimated) else 0.0

    @property
    def sums(self) -> _ActivitySums:
        """Per-activity totals (:func:`activity_sums`; the pandas engine's cached ones)."""
        s = self.extra.get("sums")
        if s is None:
            s = self.extra["sums"] = activity_sums(self)
        return s

    def profile(self) -> np.ndarray:
        """Instances per (resource, activity), rows with no resource left out (computed
        once per batch; an EventLog's batch reads the log's cached profiles)."""
        p = self.extra.get("profile")
        if p is None:
            p = self.extra["profile"] = profile_of(self.resource, self.activity, len(self.resources),
                                                   len(self.activities))
        return p


def profile_of(resource: np.ndarray, activity: np.ndarray, n_r: int, n_a: int) -> np.ndarray:
    """Instances per (resource, activity) of code arrays, rows with no resource (-1) left
    out: an ``n_r x n_a`` count matrix (the same whatever the rows' order)."""
    ok = resource >= 0
    key = resource[ok] * n_a + activity[ok]
    return np.bincount(key, minlength=n_r * n_a).reshape(n_r, n_a)


def from_log(log: Any, *, time: str = "calendar", calendar: Any = None) -> Batch:
    """The batch of an in-memory EventLog (starts estimated where missing; cached on it)."""
    key = ("batch", time, str(calendar) if calendar is not None else None)
    cached = log._cache.get(key)
    if cached is not None:
        return cached
    inst = _instances(log, time=time, calendar=calendar)
    st = inst.st
    codes, names = resource_codes(inst.log)
    out = Batch(
        case=st.case, activity=st.activity, resource=codes, start=st.t_start, end=st.end, cover=inst.cover_ns,
        first=st.first, repeat=_instance_repeats(inst), estimated=inst.estimated, activities=st.activities,
        resources=names, origin_ns=inst.origin_ns,
        start_s=inst.start, end_s=inst.end, wait_s=inst.wait, service_s=inst.service, covered_s=inst.covered,
        calendar=inst.calendar, extra={"inst": inst},
    )
    # the log's cached profiles (role detection reads them too), in the batch's order
    prof = profiles(inst.log)
    if list(prof.columns) == out.activities and list(prof.index) == out.resources:
        out.extra["profile"] = prof.to_numpy()
    log._cache[key] = out
    return out


# ------------------------------------------------------------ per case
def derive(first: np.ndarray, activity: np.ndarray, start: np.ndarray, end: np.ndarray,
           n_act: int) -> tuple[np.ndarray, np.ndarray]:
    """Per row ``(cover, repeat)`` from rows grouped by case in instance order: the
    latest end among the earlier instances of the case (its own start for the first;
    capped at the start it is the enablement, the rule of :mod:`leanops.mining._steps`)
    and whether the activity already occurred in the case. Every batch source uses this
    on its rows."""
    n = len(end)
    if not n:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=bool)
    case = np.cumsum(first, dtype=np.int64) - 1
    starts = np.flatnonzero(first)
    max_len = int(np.diff(np.r_[starts, n]).max())
    masks = _same_case_masks(case, max_len)
    return case_cover(first, start, end, masks), _repeats(case, activity, n_act, masks)


def _seconds(b: Batch) -> Batch:
    """The float-second columns on the wall clock (the formulas of
    :func:`~.performance._instances`)."""
    origin = int(b.start.min()) if len(b) else 0
    start, end = _seconds_since(b.start, origin), _seconds_since(b.end, origin)
    wait, service, covered = _timings(start, end, _seconds_since(b.cover, origin))
    return replace(b, origin_ns=origin, start_s=start, end_s=end, wait_s=wait, service_s=service, covered_s=covered)


def activity_sums(b: Batch) -> _ActivitySums:
    """Per-activity totals over the batch (the fields of the pandas engine's sums)."""
    k = len(b.activities)
    act = b.activity
    cnt = np.bincount(act, minlength=k)
    wait = np.bincount(act, weights=b.wait_s, minlength=k)
    return _ActivitySums(
        count=cnt, with_pred=cnt - np.bincount(act[b.first], minlength=k),
        first_in_case=cnt - np.bincount(act[b.repeat], minlength=k),
        service=np.bincount(act, weights=b.service_s, minlength=k), wait=wait, gap=wait,
        covered=np.bincount(act, weights=b.covered_s, minlength=k),
    )


# ------------------------------------------------------------ from Arrow
def _codes(col: Any, names: list[str]) -> np.ndarray:
    """int64 codes of an Arrow string column in ``names`` (-1 for null)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    idx = pc.index_in(col.cast(pa.string()), value_set=pa.array(names, type=pa.string()))
    return pc.fill_null(idx, -1).to_numpy(zero_copy_only=False).astype(np.int64)


def _chunk(t: Any, acts: list[str], resources: list[str]) -> dict[str, np.ndarray]:
    """The batch columns of an Arrow table of whole cases (``case_id, activity, resource,
    s_ns, e_ns`` in instance order)."""
    import pyarrow.compute as pc

    n = t.num_rows
    ids = t.column("case_id")
    first = np.ones(n, dtype=bool)
    if n > 1:
        first[1:] = pc.not_equal(ids.slice(1), ids.slice(0, n - 1)).to_numpy(zero_copy_only=False)
    activity = _codes(t.column("activity"), acts).astype(np.intp)
    end = t.column("e_ns").to_numpy(zero_copy_only=False).astype(np.int64)
    s = t.column("s_ns")
    has_start = pc.is_valid(s).to_numpy(zero_copy_only=False)
    start = np.where(has_start, pc.fill_null(s, 0).to_numpy(zero_copy_only=False).astype(np.int64), end)
    cover, repeat = derive(first, activity, start, end, len(acts))
    return {"first": first, "activity": activity, "resource": _codes(t.column("resource"), resources),
            "start": start, "end": end, "cover": cover, "repeat": repeat, "estimated": ~has_start,
            "case_ids": ids.filter(first).to_numpy(zero_copy_only=False).astype(object)}


def from_reader(reader: Any, acts: list[str], resources: list[str]) -> dict[str, np.ndarray]:
    """The (unfinished) batch columns of an Arrow record batch reader over canonical rows
    ``case_id, activity, resource, s_ns, e_ns``, ordered by case then instance. Each
    chunk is cut after its last complete case; the rest is carried to the next one."""
    import pyarrow as pa

    parts: list[dict[str, np.ndarray]] = []
    carry = None
    for rb in reader:
        t = pa.Table.from_batches([rb]) if carry is None else pa.concat_tables([carry, pa.Table.from_batches([rb])])
        if not t.num_rows:
            continue
        cut = _last_case_start(t.column("case_id"))  # the last case may go on in the next record batch
        if cut:
            parts.append(_chunk(t.slice(0, cut), acts, resources))
        carry = t.slice(cut)
    if carry is not None and carry.num_rows:
        parts.append(_chunk(carry, acts, resources))
    return _stack(parts)


def _last_case_start(ids: Any) -> int:
    """The row where the last case of a (case-ordered) column of ids begins."""
    import pyarrow.compute as pc

    n = len(ids)
    if n < 2:
        return 0
    change = np.flatnonzero(pc.not_equal(ids.slice(1), ids.slice(0, n - 1)).to_numpy(zero_copy_only=False))
    return int(change[-1]) + 1 if len(change) else 0


def _stack(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    keys = ("first", "activity", "resource", "start", "end", "cover", "repeat", "estimated", "case_ids")
    if not parts:
        z = np.zeros(0, dtype=np.int64)
        return {k: z.astype(bool) if k in ("first", "repeat", "estimated") else z for k in keys}
    return {k: np.concatenate([p[k] for p in parts]) for k in keys}


def concat(parts: list[dict[str, Any]]) -> tuple[dict[str, np.ndarray], list[str], list[str]]:
    """Partial batches (each :func:`from_reader`'s columns ``cols`` with its own ``acts``
    and ``resources``, as one case partition gives them) as one: ``(rows, acts,
    resources)``, recoded to the sorted union of the dictionaries, cases in case-id order.
    The list is emptied once its parts are stacked (their memory goes)."""
    acts = sorted({a for p in parts for a in p["acts"]})
    resources = sorted({r for p in parts for r in p["resources"]})
    cols = []
    for p in parts:
        c = dict(p["cols"])
        if p["acts"] != acts:
            c["activity"] = np.array([acts.index(a) for a in p["acts"]] + [-1], dtype=np.intp)[c["activity"]]
        if p["resources"] != resources:
            c["resource"] = np.array([resources.index(r) for r in p["resources"]] + [-1], dtype=np.int64)[c["resource"]]
        cols.append(c)
    rows = _stack(cols)
    several = len(parts) > 1
    del cols
    parts.clear()
    ids = rows["case_ids"]
    if several and len(ids) > 1:
        order = np.argsort(ids.astype(str), kind="stable")
        if (order[1:] < order[:-1]).any():
            starts = np.flatnonzero(rows["first"])
            lens = np.diff(np.r_[starts, len(rows["first"])])
            # each case's rows, in the new case order
            take = np.repeat(starts[order] - np.cumsum(np.r_[0, lens[order][:-1]]), lens[order]) + np.arange(lens.sum())
            rows = {k: (v[order] if k == "case_ids" else v[take]) for k, v in rows.items()}
    return rows, acts, resources


def finish(rows: dict[str, np.ndarray], acts: list[str], resources: list[str]) -> Batch:
    """The batch from stacked columns: missing starts estimated (then each case's rows
    reordered by the estimated starts, and enablement derived again), seconds added."""
    first = rows["first"]
    b = Batch(case=np.cumsum(first, dtype=np.int64) - 1, activity=rows["activity"], resource=rows["resource"],
              start=rows["start"], end=rows["end"], cover=rows["cover"], first=first, repeat=rows["repeat"],
              estimated=rows["estimated"], activities=list(acts), resources=list(resources),
              _case_ids=rows["case_ids"])
    if b.estimated.any():
        b = _estimated(b)
    return _seconds(b)


def _estimated(b: Batch) -> Batch:
    en = np.where(b.first, NAT, b.enabled)
    est = estimate_starts(b.resource, b.first, en, b.activity, len(b.activities), b.end)
    start = np.where(b.estimated, est, b.start)
    # the EventLog's order after estimation: case, start, end; ties keep the row order
    order = np.lexsort((b.end, start, b.case))
    if (order[1:] < order[:-1]).any():
        b = replace(b, activity=b.activity[order], resource=b.resource[order], end=b.end[order],
                    estimated=b.estimated[order])
        start = start[order]
    cover, repeat = derive(b.first, b.activity, start, b.end, len(b.activities))
    return replace(b, start=start, cover=cover, repeat=repeat)
