"""What a resource does, measured on its own work: the evidence :func:`leanops.root_causes`
needs before it names a person.

A case-level association ("cases involving R take longer") says little: long cases involve
more people, and the second member of a pool only gets work when the first is busy, so its
cases met congestion. A resource is blamed only when its *own* work differs, compared with
the others doing the same activity:

* **processing time**: least squares of ``log(1 + processing seconds)`` on an indicator of
  the resource, the load at the start of the instance (instances of that activity enabled
  and not finished) and the case length (events), with HC1 p-values, Benjamini-Hochberg
  over every (activity, resource) pair tested. Blamed when significant and the adjusted
  ratio is at least ``MIN_RATIO``;
* **waits it creates**: the extraneous waiting of the instances it performed (it was free
  and on shift, yet the work waited; from :func:`leanops.rca.waiting_causes`), against the
  others at the same activity (Welch, the same correction). Blamed when significant and at
  least ``MIN_RATIO`` times the others' mean and one minute more.

Processing times need start times: where an activity has few (completion-only exports) or
its durations are zero (day-granularity times), its resources are *unmeasurable* and never
blamed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InputError
from ..log import EventLog
from ..mining._steps import steps
from ._selection import _bh, _robust_p, _welch

MIN_RATIO = 1.25  # a resource must be at least this much slower (or create this much more waiting)
MIN_INSTANCES = 10  # per resource, and for the others, at the activity


@dataclass
class Evidence:
    """The measured work of one resource at one activity."""

    activity: str
    resource: str
    n: int
    ratio: float  # adjusted processing-time ratio against the others (nan: unmeasurable)
    p: float
    load_with: float  # mean load at the start of its instances
    load_without: float  # the others'
    wait_ratio: float = float("nan")
    wait_excess_s: float = float("nan")
    p_wait: float = 1.0
    q: float = 1.0
    q_wait: float = 1.0
    blamed: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"activity": self.activity, "resource": self.resource, "instances": self.n,
                "processing_ratio": self.ratio, "p_value": self.q, "wait_ratio": self.wait_ratio,
                "wait_p_value": self.q_wait, "load_with": self.load_with, "load_without": self.load_without,
                "blamed": self.blamed}


def _load_at_start(st, rows: np.ndarray) -> np.ndarray:
    """Instances of the same activity enabled and not yet finished when each one started."""
    enabled = np.where(st.first[rows], st.t_start[rows], st.enabled[rows])
    ts = st.t_start[rows]
    en, ends = np.sort(enabled), np.sort(st.end[rows])
    return np.maximum(np.searchsorted(en, ts, side="right") - np.searchsorted(ends, ts, side="right") - 1, 0)


def resource_evidence(log: EventLog, *, alpha: float = 0.05,
                      pairs: set[tuple[str, str]] | None = None) -> tuple[dict[tuple[str, str], Evidence], list[str]]:
    """Per (activity, resource): its processing time and the waits it creates, against the others.

    Parameters
    ----------
    log : EventLog
    alpha : float
        Significance level (Benjamini-Hochberg over the pairs tested).
    pairs : set of (activity, resource), optional
        Test only these (the waits are measured only for them); all by default.

    Returns
    -------
    (dict, list of str)
        The evidence per pair, and notes on what could not be measured.
    """
    st = steps(log)
    d = log.df
    res_na = d["resource"].isna().to_numpy()
    res = d["resource"].astype(str).to_numpy()
    ci = log._case_index_per_row()
    case_len = np.diff(np.r_[log.case_starts, len(d)])[ci].astype(float)
    out: dict[tuple[str, str], Evidence] = {}
    unmeasurable: list[str] = []
    for a_i, act in enumerate(st.activities):
        rows = np.flatnonzero((st.activity == a_i) & ~res_na)
        who = res[rows]
        names = [r for r in pd.unique(who) if pairs is None or (act, str(r)) in pairs]
        if len(rows) < 2 * MIN_INSTANCES or not names or len(pd.unique(who)) < 2:
            continue
        dur = (st.end[rows] - st.t_start[rows]) / 1e9
        if st.has_start[rows].mean() < 0.5 or np.median(dur[st.has_start[rows]] if st.has_start[rows].any() else [0]) <= 0:
            unmeasurable.append(act)
            continue
        ok = st.has_start[rows]
        rows, who, dur = rows[ok], who[ok], dur[ok]
        y = np.log1p(np.maximum(dur, 0.0))
        load = _load_at_start(st, rows).astype(float)
        for r in names:
            ind = (who == r).astype(float)
            k = int(ind.sum())
            if k < MIN_INSTANCES or len(ind) - k < MIN_INSTANCES:
                continue
            Z = np.column_stack([np.ones(len(y)), load, case_len[rows], ind])
            b, p = _robust_p(Z, y)
            m = ind > 0
            out[(act, str(r))] = Evidence(act, str(r), k, float(np.exp(b)), p, float(load[m].mean()),
                                          float(load[~m].mean()))
    if out:
        _waits_created(log, out)
        keys = list(out)
        q = _bh(np.array([out[k].p for k in keys]), len(keys))
        qw = _bh(np.array([out[k].p_wait for k in keys]), len(keys))
        for k, qi, qwi in zip(keys, q, qw):
            e = out[k]
            e.q, e.q_wait = float(qi), float(qwi)
            slow = e.q < alpha and e.ratio >= MIN_RATIO
            waits = e.q_wait < alpha and e.wait_ratio >= MIN_RATIO and e.wait_excess_s >= 60
            e.blamed = bool(slow or waits)
    notes = []
    if unmeasurable:
        notes.append("resources were not assessed at " + ", ".join(unmeasurable[:5])
                     + (" and others" if len(unmeasurable) > 5 else "")
                     + ": processing times are unmeasurable there (no start times, or zero durations)")
    return out, notes


def _waits_created(log: EventLog, out: dict[tuple[str, str], Evidence]) -> None:
    """Fill the extraneous-wait comparison of every pair (free and on shift, yet waiting)."""
    from .waiting import waiting_causes

    try:
        inst = waiting_causes(log).instances
    except InputError:  # the decomposition needs start times (its one refusal here); without them, no evidence
        return
    if not len(inst):
        return
    ext = inst["extraneous_s"].to_numpy(dtype=float)
    acts = inst["activity"].astype(str).to_numpy()
    who = inst["resource"].astype(str).to_numpy()
    who[inst["resource"].isna().to_numpy()] = ""  # instances without a resource are nobody's
    for (act, r), e in out.items():
        at = acts == act
        m1, m0 = at & (who == r), at & (who != r) & (who != "")
        if m1.sum() < MIN_INSTANCES or m0.sum() < MIN_INSTANCES:
            continue
        x1, x0 = ext[m1], ext[m0]
        diff, _, p = _welch(np.float64(len(x1)), x1.sum(), (x1 * x1).sum(), np.float64(len(x0)), x0.sum(), (x0 * x0).sum())
        mean0 = x0.mean()
        e.wait_excess_s = float(diff)
        e.wait_ratio = float(x1.mean() / mean0) if mean0 > 0 else (float("inf") if x1.mean() > 0 else 1.0)
        e.p_wait = float(p) if diff > 0 else 1.0
