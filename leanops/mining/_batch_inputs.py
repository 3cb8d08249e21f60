"""The log-level inputs of the analyses, from a batch's rows (the out-of-core engines).

The DuckDB and Dask engines have no EventLog, only the rows of an instance batch
(:func:`leanops.mining._batch.from_reader` / :func:`~leanops.mining._batch.concat`:
canonical rows in the log's order, starts not yet estimated). Each input here feeds those
rows to the one rule the in-memory engine uses on its log:

* boundary-cut cases: :func:`leanops.boundaries.boundary_flags`;
* resource pools: :func:`leanops._pools.resource_pools` on the activity profiles;
* the log's calendar: :func:`leanops.discover_calendar`'s slot counts and rule, on the
  same instants (recorded starts, then ends, in the log's order; the same regular sample
  on very large logs);
* evidence: :func:`leanops.evidence.granularity_of`, the role rule
  :func:`leanops.evidence.roles_from` (through :func:`leanops.evidence._roles_of`, as
  :func:`leanops.evidence.role_resources`) and :func:`leanops.evidence.level_caveats`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

__all__ = ["cut_flags", "keep_cases", "drop_cut", "pools", "log_calendar", "evidence", "time_level"]


def _spans(rows: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row where each case begins, and per case its first timestamp and last end (ns)."""
    starts = np.flatnonzero(rows["first"])
    if not len(starts):
        z = np.zeros(0, dtype=np.int64)
        return z, z, z
    return starts, np.minimum.reduceat(rows["start"], starts), np.maximum.reduceat(rows["end"], starts)


def cut_flags(rows: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """``(cut_at_start, open_at_end)`` per case (:mod:`leanops.boundaries`)."""
    from ..boundaries import boundary_flags

    starts, first, last = _spans(rows)
    if not len(starts):
        return np.zeros(0, dtype=bool), np.zeros(0, dtype=bool)
    case = np.cumsum(rows["first"]) - 1
    act = rows["activity"]
    # the instance that finished last decides how a case ends (its last such row)
    end_row = np.maximum.reduceat(np.where(rows["end"] == last[case], np.arange(len(act)), -1), starts)
    return boundary_flags(first, last, act[starts], act[end_row])


def keep_cases(rows: dict[str, np.ndarray], keep: np.ndarray) -> dict[str, np.ndarray]:
    """The rows of the cases where ``keep`` (one bool per case) is True."""
    if keep.all():
        return rows
    case = np.cumsum(rows["first"]) - 1
    m = keep[case]
    return {k: (v[keep] if k == "case_ids" else v[m]) for k, v in rows.items()}


def drop_cut(rows: dict[str, np.ndarray], include_cut: bool) -> tuple[dict[str, np.ndarray], dict[str, int]]:
    """The rows without the cases the export window cut (all of them with ``include_cut``),
    and the counts of those left out (``excluded_cases``)."""
    if include_cut:
        return rows, {"cut_at_start": 0, "open_at_end": 0}
    cut, open_ = cut_flags(rows)
    return keep_cases(rows, ~(cut | open_)), {"cut_at_start": int(cut.sum()), "open_at_end": int(open_.sum())}


def pools(rows: dict[str, np.ndarray], acts: list[str], resources: list[str], *,
          profile: np.ndarray | None = None) -> dict[str, str]:
    """Resource -> pool, by the rule of :func:`leanops._pools.resource_pools`. ``profile``:
    the rows' :func:`~leanops.mining._batch.profile_of`, when the caller has it."""
    from .._pools import resource_pools
    from ._batch import profile_of

    m = profile_of(rows["resource"], rows["activity"], len(resources), len(acts)) if profile is None else profile
    prof = pd.DataFrame(m, index=pd.Index(list(resources), name="resource"), columns=list(acts))
    return resource_pools(None, profile=prof)


def log_calendar(rows: dict[str, np.ndarray], tz: str):
    """:func:`leanops.discover_calendar` (by log) of the rows."""
    from ..calendar import Calendar, _calendar_from_counts, _instants, _slot_counts

    # the same instants (and sample) as the in-memory engine
    inst = _instants(rows["start"][~rows["estimated"]], rows["end"])
    return _calendar_from_counts(_slot_counts(inst, tz), min_share=0.9, tz=tz) or Calendar.always()


def evidence(rows: dict[str, np.ndarray], resources: list[str]) -> tuple[dict[str, Any], list[str]]:
    """The log's evidence as the bottleneck ranking reads it (``level``, ``caveats``,
    ``time_granularity``, ``role_resources``), and the role labels."""
    from ..evidence import _label_busy, _roles_of, granularity_of, level_caveats

    has = ~rows["estimated"]
    start, end, codes = rows["start"], rows["end"], rows["resource"]
    gran = granularity_of(end, start[has])
    named = codes >= 0
    vc = np.bincount(codes[named], minlength=len(resources))

    def busy() -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        sel = has & named
        if not sel.any():
            return None
        s_ = start[sel]
        return _label_busy(codes[sel], s_, np.maximum(end[sel], s_), len(resources))

    roles = _roles_of(resources, vc, lambda: _spans(rows)[1:], busy)
    n = len(end)
    recorded = float(has.mean()) if n else 0.0
    level, caveats = level_caveats(gran, recorded, roles, bool(n) and not named.any())
    return {"level": level, "caveats": caveats, "time_granularity": gran, "role_resources": roles}, roles


def time_level(rows: dict[str, np.ndarray]) -> dict[str, Any]:
    """What the value stream needs of the log's evidence: its time granularity and the
    caveats about time (as :func:`leanops.mining.valuestream.value_stream`)."""
    from ..evidence import granularity_of, level_caveats

    has = ~rows["estimated"]
    gran = granularity_of(rows["end"], rows["start"][has])
    recorded = float(has.mean()) if len(has) else 0.0
    return {"time_granularity": gran, "caveats": level_caveats(gran, recorded, [], False)[1]}
