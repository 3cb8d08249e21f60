"""The state of a process at an instant: which cases are open, where each one stands.

:func:`current_state` reads it from a log, and :func:`leanops.simulate.run` continues it
(``from_log=``): an open case resumes from its current step with its elapsed time and its
attributes, an activity in progress keeps its resource busy until it ends, and cases that
wait for their next step queue as they are.

Which cases are open. Before the log's last timestamp the log itself tells: a case that
started before ``at`` and has an instance ending after it is open. At (or after) the log's
end nothing ends later, so a case is taken as open when the model's routing says that
its last activity is rarely the last one (the chance of ending after it is under 1/2);
cases cut by the export window look exactly like that.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .._normalize import parse_time
from ..errors import InputError
from ..log import EventLog
from .model import END, SimulationModel, _plain

__all__ = ["OpenCase", "State", "current_state"]


@dataclass(frozen=True)
class OpenCase:
    """One case open at the state's instant (times are epoch seconds, UTC)."""

    case_id: str
    arrival: float
    last: str | None  # the last activity completed by then (None: none yet)
    before_last: str | None  # the one completed before it
    last_end: float  # when the last one ended (the arrival when none)
    current: str | None = None  # the activity in progress, if any
    current_start: float = float("nan")
    resource: str | None = None  # who works on it
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class State:
    """The open cases of a log at ``at``; ``closed`` counts the cases finished by then."""

    at: pd.Timestamp
    open: tuple[OpenCase, ...]
    closed: int
    inferred: bool  # True when openness was inferred from the routing (at the log's end)

    def to_frame(self) -> pd.DataFrame:
        """One row per open case: id, arrival, elapsed seconds, last and current activity."""
        t = self.at.value / 1e9
        return pd.DataFrame({
            "case_id": [c.case_id for c in self.open],
            "arrival": pd.to_datetime([c.arrival for c in self.open], unit="s", utc=True),
            "elapsed_s": [t - c.arrival for c in self.open],
            "last": [c.last for c in self.open],
            "current": [c.current for c in self.open],
            "resource": [c.resource for c in self.open],
        })


def current_state(log: EventLog, *, model: SimulationModel, at: Any = None) -> State:
    """The open cases of ``log`` at ``at`` (default: the log's last timestamp).

    Parameters
    ----------
    log : EventLog
    model : SimulationModel
        Its routing tells which cases are still open at the log's end, and its case
        attributes which columns to carry.
    at : timestamp, optional
        The instant; it must fall within the log (after its first start). A timestamp
        without an offset is local time in the log's time zone (``log.tz``), as the log's
        own naive timestamps were read.

    Examples
    --------
    >>> import leanops
    >>> from leanops import simulate
    >>> log = leanops.datasets.load("production")
    >>> model = simulate.fit(log)
    >>> st = simulate.current_state(log, model=model, at="2012-02-01")
    >>> len(st.open) > 0, st.inferred
    (True, False)
    """
    if not isinstance(log, EventLog):
        raise InputError(f"from_log must be a leanops.EventLog; got {type(log).__name__}. Read one with leanops.read(path).")
    if len(log) == 0:
        raise InputError("from_log has no activity instances; a current state needs at least one case.")
    d = log.df
    end = d["end"].to_numpy(dtype="datetime64[ns]").view(np.int64) / 1e9
    start = d["start"].fillna(d["end"]).to_numpy(dtype="datetime64[ns]").view(np.int64) / 1e9
    start = np.minimum(start, end)
    t_end = float(end.max())
    t = t_end if at is None else parse_time(at, tz=log.tz, name="at").value / 1e9
    if t <= float(start.min()):
        raise InputError(f"at ({pd.Timestamp(t, unit='s', tz='UTC')}) must be after the log's first start "
                         f"({pd.Timestamp(float(start.min()), unit='s', tz='UTC')}); pick an instant within the log.")
    inferred = t >= t_end
    cs = log.case_starts
    arrival = np.minimum.reduceat(start, cs)
    case_end = np.maximum.reduceat(end, cs)
    acts = d["activity"].astype(str).to_numpy(dtype=object)
    res = d["resource"].to_numpy(dtype=object, na_value=None)
    p_end = {r.source: dict(r.next).get(END, 0.0) for r in model.routing}
    names = [nm for nm in model.attributes.names if nm in d.columns]
    ids = log.case_ids
    out = []
    n_closed = 0
    bounds = np.r_[cs, len(d)]
    for c in np.flatnonzero(arrival < t):
        lo, hi = bounds[c], bounds[c + 1]
        st_c, en_c = start[lo:hi], end[lo:hi]
        done_m = en_c <= t
        run_m = (st_c < t) & ~done_m
        last = before = None
        last_end = float(arrival[c])
        if done_m.any():
            k = np.flatnonzero(done_m)
            k = k[np.argsort(en_c[k], kind="stable")]
            last, last_end = acts[lo + k[-1]], float(en_c[k[-1]])
            before = acts[lo + k[-2]] if len(k) > 1 else None
        if inferred:
            is_open = last is not None and p_end.get(last, 1.0) < 0.5
        else:
            is_open = case_end[c] > t
        if not is_open:
            n_closed += 1
            continue
        cur = cur_start = rsc = None
        if run_m.any():
            j = np.flatnonzero(run_m)
            j = j[np.argmax(st_c[j])]
            cur, cur_start, rsc = acts[lo + j], float(st_c[j]), res[lo + j]
        attrs = {nm: _plain(d[nm].iat[lo]) for nm in names}
        out.append(OpenCase(str(ids[c]), float(arrival[c]), last, before, last_end, cur,
                            float("nan") if cur_start is None else cur_start,
                            None if rsc is None else str(rsc), attrs))
    return State(pd.Timestamp(t, unit="s", tz="UTC"), tuple(out), n_closed, inferred)
