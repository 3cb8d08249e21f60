"""Why cases wait: each waiting interval split into the causes of Lashkevich et al. (Kronos).

Lashkevich, Milani, Chapela-Campa, Suvorau, Dumas: "Why am I waiting? Data-driven analysis
of waiting times in business processes" (CAiSE 2023). For every activity instance the wait
runs from its enablement (see ``leanops.mining._steps``) to its start.

Two views, chosen with ``contention``:

* ``"pool"`` (default) reads **the** decomposition of :mod:`leanops.mining.waits`, the one
  that :func:`leanops.bottlenecks` (``wait_<cause>_s``), :func:`leanops.value_stream` and
  the report sum per step (:func:`leanops.mining.bottlenecks.wait_decomposition`): per
  activity, the causes found here add up to the figures there. Per the issue-12
  definitions: **batching** (the wait until the last instance of its batch was enabled),
  **unavailability** (the step's pool, the pool doing most of the step, was off shift),
  **contention** (the pool was on shift and every member busy), **prioritisation** (the
  part of that busy wait after an instance of the same activity enabled later was
  started first) and **extraneous** (the rest: a member was free and on shift). Busy and
  on-shift time are counted on bottlenecks' time grid, so each value is exact to about a
  grid bin; each instance's causes add up to its exact wait. Calendars are per pool: a
  pool is off shift only when all of its members are.
* ``"resource"``: Kronos' per-performer view, with exact interval arithmetic. Contention
  is busy time of the resource that performed the instance while every resource able to
  do it (those that perform the activity in the log) was busy, split by whom it was busy
  with: instances enabled no later (**contention**) or later (**prioritisation**); a task
  open across a whole closed period was paused there (unavailability), and work seen off
  shift is overtime and stays busy. Its per-step sums are *not* bottlenecks' figures.

Instances without a resource can only show batching and extraneous waiting. With
``calendar="24/7"`` nothing is off shift, so idle nights count as extraneous.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from .._validation import check_choice
from ..calendar import _MONDAY0_S, DAY_S, WEEK_S, Calendar, discover_calendar
from ..errors import InputError
from ..log import EventLog
from ..mining._steps import steps
from ..mining.bottlenecks import wait_decomposition
from ..mining.resources import _pools
from ..mining.waits import batch_waits
from ._format import fmt_duration
from .._durations import parse_duration

__all__ = ["waiting_causes", "WaitingCauses", "WAITING_CAUSES"]

WAITING_CAUSES = ("batching", "contention", "prioritisation", "unavailability", "extraneous")


@dataclass
class WaitingCauses:
    """The result of :func:`waiting_causes`."""

    instances: pd.DataFrame  # one row per waiting activity instance
    by_activity: pd.DataFrame
    by_resource: pd.DataFrame
    totals: dict[str, float]  # seconds per cause, plus "wait"
    calendar: str  # how working calendars were obtained
    notes: list[str] = field(default_factory=list)

    def __repr__(self) -> str:
        return (f"<WaitingCauses: {len(self.instances):,} waiting instances, "
                f"{fmt_duration(self.totals.get('wait', 0.0))} in total>")

    def to_frame(self) -> pd.DataFrame:
        """Waiting seconds per activity and cause (``by_activity``)."""
        return self.by_activity.copy()

    @property
    def shares(self) -> dict[str, float]:
        """Per activity, the share of its waiting time that each cause explains."""
        tot = self.totals.get("wait", 0.0)
        return {c: (self.totals[c] / tot if tot > 0 else 0.0) for c in WAITING_CAUSES}

    def to_dict(self) -> dict[str, Any]:
        """The ``leanops rca --waiting --json`` document."""
        return {
            "total_wait_s": self.totals.get("wait", 0.0),
            "causes": {f"{c}_s": self.totals[c] for c in WAITING_CAUSES},
            "shares": self.shares,
            "by_activity": self.by_activity.to_dict(orient="records"),
            "by_resource": self.by_resource.to_dict(orient="records"),
            "calendar": self.calendar,
            "notes": list(self.notes),
        }

    def __str__(self) -> str:
        tot = self.totals.get("wait", 0.0)
        lines = [f"Waiting time: {fmt_duration(tot)} in total ({self.calendar})"]
        for c, s in self.shares.items():
            lines.append(f"  {c:<15} {fmt_duration(self.totals[c]):>10}  {100 * s:5.1f}%")
        if len(self.by_activity):
            lines.append("By activity (most waiting first):")
            for r in self.by_activity.head(10).itertuples(index=False):
                main = max(WAITING_CAUSES, key=lambda c: getattr(r, f"{c}_s"))
                lines.append(f"  {r.activity}: {fmt_duration(r.wait_s)}, mostly {main}")
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        e = html.escape
        rows = "".join(
            f"<tr><td>{e(str(r['activity']))}</td><td>{e(fmt_duration(r['wait_s']))}</td>"
            + "".join(f"<td>{100 * r[f'{c}_share']:.0f}%</td>" for c in WAITING_CAUSES)
            + "</tr>"
            for _, r in self.by_activity.head(20).iterrows()
        )
        head = "".join(f"<th>{c}</th>" for c in WAITING_CAUSES)
        return (f"<div><b>Waiting-time causes</b> ({e(self.calendar)})<table><tr><th>activity</th>"
                f"<th>wait</th>{head}</tr>{rows}</table></div>")

    def _repr_svg_(self) -> str | None:
        if not len(self.by_activity):
            return None
        from . import charts

        return charts.to_svg(self.plot())

    def plot(self, *, by: Literal["activity", "resource"] = "activity", top: int = 15, ax=None):
        """Stacked bars of waiting time per activity (or resource), split by cause."""
        from . import charts

        return charts.waiting(self, by=by, top=top, ax=ax)


CalendarSpec = Calendar | dict[str, Calendar] | Literal["discover", "24/7"] | None


def _resolve_calendars(log: EventLog, calendar: CalendarSpec) -> tuple[Any, str, list[str]]:
    """Return (calendar or dict of calendars or None for 24/7, description, notes)."""
    notes: list[str] = []
    if calendar is None or (isinstance(calendar, str) and calendar in ("24/7", "always")):
        return None, "24/7 calendar", notes
    if isinstance(calendar, str) and calendar == "discover":
        try:
            cals = discover_calendar(log, by="resource")
        except Exception as exc:  # discovery can fail on tiny or odd logs: fall back, say so
            notes.append(f"calendar discovery failed ({exc}); assumed 24/7")
            return None, "24/7 calendar (discovery failed)", notes
        # A resource with too few events to learn from gets the log's calendar; when its own
        # work mostly falls outside that calendar, the calendar does not describe it, and
        # charging its off-calendar hours as unavailability would be wrong: take it as 24/7.
        d = log.df
        t_s = d["start"].to_numpy(dtype="datetime64[ns]").view(np.int64)
        t_e = d["end"].to_numpy(dtype="datetime64[ns]").view(np.int64) - 1
        has = t_s != np.iinfo(np.int64).min
        misfit = []
        for r, rows in pd.Series(np.arange(len(d))).groupby(d["resource"].to_numpy(dtype=object, na_value=None), sort=False).indices.items():
            cal = cals.get(r)
            if cal is None or cal.is_always:
                continue
            inst = np.r_[t_s[rows][has[rows]], t_e[rows]]
            if np.mean(cal.is_working(pd.DatetimeIndex(inst.view("datetime64[ns]"), tz="UTC"))) < 0.9:
                cals[r] = Calendar.always()
                misfit.append(str(r))
        if misfit:
            notes.append(f"{len(misfit)} resource(s) work mostly outside any calendar learnt for them (e.g. {misfit[0]}); taken as always available")
        return cals, "working calendars discovered per resource", notes
    if isinstance(calendar, str):
        raise InputError(f"calendar must be a Calendar, a dict of Calendars per resource, 'discover' or '24/7'; got {calendar!r}.")
    if isinstance(calendar, dict):
        return calendar, "working calendars given per resource", notes
    if isinstance(calendar, Calendar) or hasattr(calendar, "working_seconds"):
        return calendar, f"calendar {calendar}", notes
    raise InputError(f"calendar must be a Calendar, a dict of Calendars per resource, 'discover' or '24/7'; got {type(calendar).__name__}.")


class _Dominance:
    """Sums of weights over positions ``[0, p)`` whose key is among the ``c`` smallest.

    A merge-sort tree, vectorised level by level: at level L the positions are cut in
    blocks of 2**L, each sorted by key, with cumulative weights. A prefix ``[0, p)`` is the
    union of one block per set bit of ``p``. This answers "busy time in the window spent on
    instances enabled before this one" for every waiting instance at once, in
    O((segments + windows) log segments) and without materialising (window, segment) pairs.
    """

    def __init__(self, keys: np.ndarray):
        s = len(keys)
        self.size = s
        self.sorted_keys = np.sort(keys, kind="stable")
        rank = np.empty(s, dtype=np.int64)
        rank[np.argsort(keys, kind="stable")] = np.arange(s)
        pos = np.arange(s, dtype=np.int64)
        self.levels: list[tuple[np.ndarray, np.ndarray]] = []
        level = 0
        while (1 << level) <= s:
            comp = (pos >> level) * s + rank
            order = np.argsort(comp, kind="stable")
            self.levels.append((comp[order], order))
            level += 1

    def count_le(self, e: np.ndarray) -> np.ndarray:
        return np.searchsorted(self.sorted_keys, e, side="right")

    def cums(self, weights: np.ndarray) -> list[np.ndarray]:
        return [np.r_[0.0, np.cumsum(weights[order])] for _, order in self.levels]

    def prefix(self, cums: list[np.ndarray], p: np.ndarray, c: np.ndarray) -> np.ndarray:
        out = np.zeros(len(p))
        for level, ((comp, _), cum) in enumerate(zip(self.levels, cums)):
            has = ((p >> level) & 1).astype(bool)
            if not has.any():
                continue
            m = (p[has] >> level) - 1
            start = m << level
            at = np.searchsorted(comp, m * self.size + c[has], side="left")
            out[has] += cum[at] - cum[start]
        return out


class _Windows:
    """The waiting windows of one resource against its busy segments."""

    def __init__(self, w, a, b, e_w, seg_s, seg_e, seg_en):
        self.w, self.a, self.b = w, a, b
        # segments overlapping [a, b): lo..hi-1 (segment starts and ends are both sorted)
        self.lo = np.searchsorted(seg_e, a, side="right")
        self.hi = np.maximum(np.searchsorted(seg_s, b, side="left"), self.lo)
        self.some = self.hi > self.lo
        self.lo_c = np.minimum(self.lo, len(seg_s) - 1)
        self.hi_c = np.maximum(self.hi - 1, 0)
        self.dom = _Dominance(seg_en)
        self.c_w = self.dom.count_le(e_w)  # contention: instances enabled no later
        self.c_all = np.full(len(w), len(seg_en))
        self.lo_ok = self.some & (seg_en[self.lo_c] <= e_w)
        self.hi_ok = self.some & (seg_en[self.hi_c] <= e_w)

    def sums(self, weights, before, after, sel):
        """Weighted busy time inside the selected windows: all of it, and the contention part.
        ``before``/``after``: the weight of the edge segments' parts outside the window."""
        cums = self.dom.cums(weights)
        lo, hi = self.lo[sel], self.hi[sel]
        call, cw = self.c_all[sel], self.c_w[sel]
        total = self.dom.prefix(cums, hi, call) - self.dom.prefix(cums, lo, call)
        cont = self.dom.prefix(cums, hi, cw) - self.dom.prefix(cums, lo, cw)
        total -= np.where(self.some[sel], before + after, 0.0)
        cont -= np.where(self.lo_ok[sel], before, 0.0) + np.where(self.hi_ok[sel], after, 0.0)
        return np.clip(total, 0, None), np.clip(cont, 0, None)


_MAX_PERIODS = 2_000_000  # working periods listed per calendar; beyond that, busy time is not split


def _closed_periods(cal: Any, t0: int, t1: int) -> tuple[np.ndarray, np.ndarray] | None:
    """Off-calendar periods ``[start, end)`` (UTC ns) of a weekly Calendar covering ``[t0, t1]``.

    None when the calendar is always open, has no working time, or is not a leanops
    Calendar (any object with ``working_seconds`` is accepted as a calendar, but only a
    Calendar can list its periods).
    """
    if not isinstance(cal, Calendar) or cal.is_always or not len(cal.intervals):
        return None
    a = np.array([i[0] for i in cal.intervals], dtype=np.float64)
    b = np.array([i[1] for i in cal.intervals], dtype=np.float64)
    lo, hi = cal._local_s(np.array([t0, t1], dtype=np.int64))
    # a week and a day of margin: a working period surely opens before t0 and after t1
    w0 = np.floor((lo - WEEK_S - DAY_S - _MONDAY0_S) / WEEK_S)
    w1 = np.floor((hi + WEEK_S + DAY_S - _MONDAY0_S) / WEEK_S)
    weeks = np.arange(w0, w1 + 1)
    if len(weeks) * len(a) > _MAX_PERIODS:
        return None
    ws = (_MONDAY0_S + weeks[:, None] * WEEK_S + a[None, :]).ravel()
    we = (_MONDAY0_S + weeks[:, None] * WEEK_S + b[None, :]).ravel()
    for h in cal._hol_start:  # whole days off cut the working periods
        he = h + DAY_S
        cut = (ws < he) & (we > h)
        if cut.any():
            ws = np.r_[ws[~cut], ws[cut], np.maximum(ws[cut], he)]
            we = np.r_[we[~cut], np.minimum(we[cut], h), we[cut]]
            keep = we > ws
            ws, we = ws[keep], we[keep]
    o = np.argsort(ws, kind="stable")
    ws, we = cal._utc_ns(ws[o]), cal._utc_ns(we[o])
    if not len(ws):
        return None
    # merge touching periods (Sunday 24:00 = Monday 00:00); the gaps between are closed
    cm = np.maximum.accumulate(we)
    new = np.r_[True, ws[1:] > cm[:-1]]
    ps, pe = ws[new], np.maximum.reduceat(we, np.flatnonzero(new))
    return pe[:-1], ps[1:]


def _pause(seg_s, seg_e, seg_en, closed):
    """Cut out of busy segments the closed periods they span whole.

    A task open across a whole night or weekend was paused there (work calendars stop the
    clock): the resource was off shift, not busy. Off-calendar work that starts or ends
    off shift (overtime) stays busy.
    """
    cs, ce = closed
    lo = np.searchsorted(cs, seg_s, side="left")  # first closed period starting in the segment
    hi = np.searchsorted(ce, seg_e, side="right")  # closed periods ending by the segment's end
    k = np.maximum(hi - lo, 0)
    if not k.any():
        return seg_s, seg_e, seg_en
    m = k + 1  # pieces per segment
    idx = np.repeat(np.arange(len(seg_s)), m)
    j = np.arange(len(idx)) - np.repeat(np.cumsum(m) - m, m)  # piece number inside its segment
    p = lo[idx] + j  # closed period before (j - 1) and after (j) the piece
    ps = np.where(j == 0, seg_s[idx], ce[np.clip(p - 1, 0, len(ce) - 1)])
    pe = np.where(j == k[idx], seg_e[idx], cs[np.clip(p, 0, len(cs) - 1)])
    keep = pe > ps
    return ps[keep], pe[keep], seg_en[idx][keep]


def _working_seconds(cal: Any, a_ns: np.ndarray, b_ns: np.ndarray) -> np.ndarray:
    if cal is None or getattr(cal, "is_always", False) or not len(a_ns):
        return (b_ns - a_ns) / 1e9
    a = pd.Series(pd.to_datetime(a_ns, utc=True))
    b = pd.Series(pd.to_datetime(b_ns, utc=True))
    return np.asarray(cal.working_seconds(a, b), dtype=float)


def _checked_tolerance(log: EventLog, batch_tolerance: str | float, contention: str) -> float:
    """Validate the arguments of :func:`waiting_causes`; return the batch tolerance in seconds."""
    if not isinstance(log, EventLog):
        raise InputError(f"log must be a leanops.EventLog; got {type(log).__name__}.")
    tol_s = batch_tolerance if isinstance(batch_tolerance, (int, float)) else parse_duration(batch_tolerance, name="batch_tolerance")
    if tol_s < 0:
        raise InputError(f"batch_tolerance must be >= 0; got {batch_tolerance!r}.")
    if len(log) and not log.has_start_times:
        raise InputError(
            "waiting_causes needs start times (waiting runs from enablement to start); this log has "
            "completion times only. Map a start column with --start / start=... (leanops.estimate_start_times "
            "can fill them, but estimated starts wait for the resource by construction)."
        )
    check_choice("contention", contention, ("pool", "resource"))
    return tol_s


def _busy_segments(
    st: Any, codes: np.ndarray, labels: pd.Index, cals: Any, enabled: np.ndarray,
) -> tuple[dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]], dict[int, tuple[np.ndarray, np.ndarray]],
           dict[int, np.ndarray]]:
    """Per resource code: busy segments (paused over closed periods), closed periods, rows."""
    start, end = st.t_start, st.end
    n = len(start)
    segs: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}  # busy pieces on shift or overtime
    closed: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # off-calendar periods
    t_lo = int(min(enabled[st.has_start].min(), start[st.has_start].min())) if st.has_start.any() else 0
    t_hi = int(end.max()) if n else 0
    by_res = pd.Series(np.arange(n)).groupby(codes).indices if n else {}
    for rc, rows in by_res.items():
        if rc < 0:
            continue
        rows = np.asarray(rows)
        own = rows[st.has_start[rows]]
        if not len(own):
            continue
        o = own[np.argsort(start[own], kind="stable")]
        s_r, e_r = start[o], end[o]
        cm = np.maximum.accumulate(e_r)
        seg_s = np.maximum(s_r, np.r_[np.iinfo(np.int64).min, cm[:-1]])
        seg_e = np.maximum(e_r, seg_s)
        cal = cals.get(str(labels[rc])) if isinstance(cals, dict) else cals
        cl = _closed_periods(cal, t_lo, t_hi) if cal is not None else None
        if cl is not None:
            closed[rc] = cl
            segs[rc] = _pause(seg_s, seg_e, enabled[o], cl)
        else:
            segs[rc] = (seg_s, seg_e, enabled[o])
    return segs, closed, by_res


def _instance_frame(
    d: pd.DataFrame, waiting: np.ndarray, enabled: np.ndarray, start: np.ndarray, wait: np.ndarray,
    batch: np.ndarray, contention_v: np.ndarray, priority: np.ndarray, unavail: np.ndarray,
) -> pd.DataFrame:
    """One row per waiting instance with its causes in seconds (extraneous = the rest)."""
    wait_f = wait.astype(float)
    batch_f = batch.astype(float)
    busy = contention_v + priority
    over = np.clip(busy + unavail + batch_f - wait_f, 0, None)  # rounding guard
    unavail = np.clip(unavail - over, 0, None)
    extraneous = np.clip(wait_f - batch_f - busy - unavail, 0, None)

    m = waiting
    return pd.DataFrame({
        "case_id": d["case_id"].to_numpy()[m],
        "activity": d["activity"].astype(str).to_numpy()[m],
        "resource": d["resource"].to_numpy()[m],
        "enabled": pd.to_datetime(enabled[m], utc=True),
        "start": pd.to_datetime(start[m], utc=True),
        "wait_s": wait_f[m] / 1e9,
        "batching_s": batch_f[m] / 1e9,
        "contention_s": contention_v[m] / 1e9,
        "prioritisation_s": priority[m] / 1e9,
        "unavailability_s": unavail[m] / 1e9,
        "extraneous_s": extraneous[m] / 1e9,
    })


def waiting_causes(
    log: EventLog,
    *,
    calendar: CalendarSpec = "discover",
    batch_tolerance: str | float = "1s",
    contention: Literal["pool", "resource"] = "pool",
) -> WaitingCauses:
    """Split every waiting interval into batching, contention, prioritisation, unavailability
    and extraneous waiting, and total them per activity and per resource.

    Parameters
    ----------
    log : EventLog
        Needs start times (waiting is measured from enablement to start).
    calendar : Calendar, dict of resource (or pool) -> Calendar, "discover" or "24/7"
        Working calendars. ``"discover"`` (default) learns them with
        :func:`leanops.discover_calendar`: from the whole log, as :func:`leanops.bottlenecks`
        does by default (per resource with ``contention="resource"``); ``"24/7"`` assumes resources are always available
        (off-shift waiting then counts as extraneous). In the pool view the members of a
        pool need one calendar (a member without one keeps the pool on shift).
    batch_tolerance : str or float
        Instances of one activity starting within this time of each other are a batch
        (``"1s"``, ``"5min"``, or seconds).

    contention : {"pool", "resource"}
        ``"pool"`` (default): the shared decomposition that :func:`leanops.bottlenecks`
        sums per step (its pool, calendars per pool; see the module docstring).
        ``"resource"``: Kronos' per-performer view, exact interval arithmetic; any
        object with ``working_seconds`` is accepted as a calendar there.

    Returns
    -------
    WaitingCauses
        ``instances`` (per waiting instance), ``by_activity``, ``by_resource`` (seconds
        and shares per cause), ``totals``.

    Examples
    --------
    >>> import leanops
    >>> wc = leanops.rca.waiting_causes(leanops.datasets.load("production"), calendar="24/7")
    >>> sorted(wc.totals)[:3]
    ['batching', 'contention', 'extraneous']
    >>> abs(sum(wc.totals[c] for c in leanops.rca.WAITING_CAUSES) - wc.totals["wait"]) < 1e-3 * wc.totals["wait"]
    True
    """
    tol_s = _checked_tolerance(log, batch_tolerance, contention)
    if contention == "pool":
        return _shared_causes(log, calendar, tol_s)
    cals, cal_desc, notes = _resolve_calendars(log, calendar)
    st = steps(log)
    d = log.df
    n = len(d)
    tol = int(round(tol_s * 1e9))
    start = st.t_start
    enabled = np.where(st.first, start, st.enabled)
    waiting = st.has_start & ~st.first & (start > enabled)
    wait = np.where(waiting, start - enabled, 0).astype(np.int64)

    # ---- batching: same activity, starts within the tolerance (the one rule of
    # leanops.mining.waits, shared with bottlenecks and value streams)
    batch = np.rint(batch_waits(st.activity, start, enabled, tol)).astype(np.int64)
    batch = np.where(waiting, np.minimum(batch, wait), 0)
    win_a = enabled + batch  # the rest of the wait
    win_b = start

    # ---- per-resource busy segments, made non-overlapping (a resource working on two
    # instances at once is busy once)
    res = d["resource"]
    codes, labels = pd.factorize(res, sort=False)
    segs, closed, by_res = _busy_segments(st, codes, labels, cals, enabled)

    # ---- contention and prioritisation: the performer's busy time inside the window
    # (Kronos' per-performer view; the pool view is _shared_causes)
    contention_t = np.zeros(n, dtype=np.float64)
    priority = np.zeros(n, dtype=np.float64)
    unavail = np.zeros(n, dtype=np.float64)
    for rc, (seg_s, seg_e, seg_en) in segs.items():
        rows = by_res[rc]
        w = rows[waiting[rows] & (win_b[rows] > win_a[rows])]
        if not len(w):
            continue
        wm = _Windows(w, win_a[w], win_b[w], enabled[w], seg_s, seg_e, seg_en)
        lens = (seg_e - seg_s).astype(float)
        before = np.clip(wm.a - seg_s[wm.lo_c], 0, None).astype(float)
        after = np.clip(seg_e[wm.hi_c] - wm.b, 0, None).astype(float)
        own_busy, own_cont = wm.sums(lens, before, after, np.ones(len(w), dtype=bool))
        contention_t[w] = own_cont
        priority[w] = np.clip(own_busy - own_cont, 0, None)
        cal = cals.get(str(labels[rc])) if isinstance(cals, dict) else cals
        if cal is not None:
            # off-calendar time minus the overtime worked in it (busy off shift stays busy)
            span = (wm.b - wm.a).astype(float)
            off = span - _working_seconds(cal, wm.a, wm.b) * 1e9
            if rc in closed:
                wc = lambda x: np.asarray(cal.working_clock(pd.DatetimeIndex(x.view("datetime64[ns]"), tz="UTC")), dtype=float) * 1e9
                ws_, we_ = wc(seg_s), wc(seg_e)
                wa, wb = wc(wm.a), wc(wm.b)
                b_before = np.clip(wa - ws_[wm.lo_c], 0, None)
                b_after = np.clip(we_[wm.hi_c] - wb, 0, None)
                on_shift, _ = wm.sums(we_ - ws_, b_before, b_after, np.ones(len(w), dtype=bool))
                overtime = np.clip(own_busy - on_shift, 0, None)
                unavail[w] = np.clip(np.minimum(off - overtime, span - own_busy), 0, None)
            else:
                unavail[w] = np.clip(np.minimum(off, span - own_busy), 0, None)
    inst = _instance_frame(d, waiting, enabled, start, wait, batch, contention_t, priority, unavail)
    if res.isna().any():
        notes.append("instances without a resource can only show batching and extraneous waiting")
    return _result(inst, cal_desc, notes)


def _result(inst: pd.DataFrame, cal_desc: str, notes: list[str]) -> WaitingCauses:
    """Totals per activity, per resource and overall of the per-instance split."""
    cause_cols = [f"{c}_s" for c in WAITING_CAUSES]

    def total(by: str) -> pd.DataFrame:
        if not len(inst):
            return pd.DataFrame(columns=[by, "instances", "wait_s", *cause_cols, *[f"{c}_share" for c in WAITING_CAUSES]])
        g = inst.assign(**{by: inst[by].fillna("(missing)") if by == "resource" else inst[by]}).groupby(by, sort=False)
        t = g[["wait_s", *cause_cols]].sum()
        t.insert(0, "instances", g.size())
        for c in WAITING_CAUSES:
            t[f"{c}_share"] = np.where(t["wait_s"] > 0, t[f"{c}_s"] / t["wait_s"].where(t["wait_s"] > 0, 1), 0.0)
        return t.sort_values("wait_s", ascending=False).reset_index()

    totals = {"wait": float(inst["wait_s"].sum())}
    totals.update({c: float(inst[f"{c}_s"].sum()) for c in WAITING_CAUSES})
    return WaitingCauses(inst, total("activity"), total("resource"), totals, cal_desc, notes)


def _pool_calendars(log: EventLog, calendar: CalendarSpec) -> tuple[Any, str]:
    """The calendar argument of the shared decomposition (per pool), and its description."""
    if calendar is None or (isinstance(calendar, str) and calendar in ("24/7", "always")):
        return Calendar.always(), "24/7 calendar"
    if isinstance(calendar, str) and calendar == "discover":
        return None, "working calendars discovered from the log (as leanops.bottlenecks)"
    if isinstance(calendar, Calendar):
        return calendar, f"calendar {calendar}"
    if not isinstance(calendar, dict):
        what = repr(calendar) if isinstance(calendar, str) else type(calendar).__name__
        raise InputError(f"calendar must be a Calendar, a dict of Calendars per resource, 'discover' or '24/7'; got {what}.")
    for k, v in calendar.items():
        if not isinstance(v, Calendar):
            raise InputError(
                f"calendar[{k!r}] must be a leanops.Calendar in the default contention='pool' view (it lists the "
                f"pool's working periods); got {type(v).__name__}. Build one with leanops.Calendar.parse('Mon-Fri 09:00-17:00'), "
                "or use contention='resource'.")
    # keys name resources (or pools): a pool is off shift only when all its members are, so
    # it takes its members' calendar when they share one; a member without one is always on
    pools = _pools(log)
    members: dict[str, list[str]] = {}
    for r, p in pools.items():
        members.setdefault(p, []).append(r)
    out: dict[str, Calendar] = {}
    for p, rs in members.items():
        if p in calendar:
            out[p] = calendar[p]
            continue
        if not all(r in calendar for r in rs):  # a member always available keeps the pool on shift
            out[p] = Calendar.always()
            continue
        given = {str(calendar[r]): calendar[r] for r in rs}
        if len(given) > 1:
            raise InputError(
                f"calendar: the members of pool {p!r} ({', '.join(sorted(map(str, rs))[:5])}) have different calendars; "
                "the shared decomposition needs one calendar per pool: give the same calendar to all of them, key it "
                f"by the pool name {p!r}, or use contention='resource'.")
        out[p] = next(iter(given.values()))
    return out, "working calendars given per resource"


def _shared_causes(log: EventLog, calendar: CalendarSpec, tol_s: float) -> WaitingCauses:
    """The default view: :func:`leanops.mining.bottlenecks.wait_decomposition`, the split
    that :func:`leanops.bottlenecks` and :func:`leanops.value_stream` sum per step."""
    spec, cal_desc = _pool_calendars(log, calendar)
    w = wait_decomposition(log, calendar=spec, batch_tolerance=tol_s)
    notes: list[str] = []
    n_est = int(w["estimated"].sum())
    if n_est:
        notes.append(f"{n_est:,} waiting instance(s) have an estimated start: their waits for the resource are "
                     "estimated, not measured")
    if w["pool"].isna().any():
        notes.append("instances without a resource can only show batching and extraneous waiting")
    inst = w[["case_id", "activity", "resource", "enabled", "start", "wait_s", *[f"{c}_s" for c in WAITING_CAUSES]]]
    return _result(inst.reset_index(drop=True), cal_desc, notes)
