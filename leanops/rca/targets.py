"""Targets of root-cause analysis: one number per case that we want to explain.

* ``"case_duration"``: first start (or end) to last end, in seconds;
* ``"sla:DURATION"``: 1 when the case took longer than DURATION (``3d``, ``4h``, ``90min``,
  ``1d12h``, ``P3D``), else 0: the mean is the breach rate;
* ``"wait:ACTIVITY"``: waiting before that activity (enablement to start), summed over its
  instances in the case, in seconds; cases without the activity are left out;
* ``"rework"``: 1 when the case repeats an activity, else 0;
* a ``pandas.Series`` indexed by case id (numbers or booleans): any per-case KPI.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from .._durations import parse_duration
from .._validation import closest
from ..errors import InputError
from ..boundaries import case_spans
from ..log import EventLog
from ..mining._steps import steps

__all__ = ["Target", "target_values", "parse_duration"]

TARGET_HELP = "'case_duration', 'sla:DURATION' (e.g. 'sla:3d'), 'wait:ACTIVITY', 'rework' or a pandas Series indexed by case id"


@dataclass(frozen=True)
class Target:
    """A target resolved on a log."""

    name: str  # e.g. "case_duration", "sla:3d", "wait:Review", "rework", or the Series name
    values: pd.Series  # float per case (index: case_id); NaN where it does not apply
    kind: Literal["duration", "rate", "value"]
    activity: str | None = None  # for wait:ACTIVITY
    sla_s: float | None = None  # for sla:DURATION

    @property
    def unit(self) -> str:
        return {"duration": "s", "rate": "share", "value": "value"}[self.kind]


def _case_duration(log: EventLog) -> np.ndarray:
    a, b = case_spans(log)  # first timestamp (start, else end) and last end, cached on the log (empty for no cases)
    return (b - a) / 1e9


def target_values(log: EventLog, *, target: str | pd.Series) -> Target:
    """Resolve ``target`` (see the module documentation) to one value per case.

    Examples
    --------
    >>> import leanops
    >>> log = leanops.datasets.load("production")
    >>> t = target_values(log, target="sla:10d")
    >>> t.kind, round(float(t.values.mean()), 2) == round(float((t.values > 0).mean()), 2)
    ('rate', True)
    """
    index = log.case_ids
    if isinstance(target, pd.Series):
        s = target
        if s.index.has_duplicates:
            raise InputError("target Series must have one value per case id; its index has duplicates.")
        if pd.api.types.is_bool_dtype(s):
            vals = s.astype(float)
        elif pd.api.types.is_numeric_dtype(s):
            vals = s.astype(float)
        else:
            raise InputError(f"target Series must hold numbers or booleans; got dtype {s.dtype}.")
        vals.index = vals.index.astype(str)
        known = vals.index.isin(index)
        if not known.any():
            raise InputError(
                "target Series index matches no case id of the log; index it by case_id "
                f"(e.g. {list(index[:3])})."
            )
        aligned = vals.reindex(index)
        kind: Literal["duration", "rate", "value"] = "rate" if pd.api.types.is_bool_dtype(s) else "value"
        return Target(str(s.name) if s.name is not None else "target", aligned.rename("target"), kind)
    if not isinstance(target, str):
        raise InputError(f"target must be {TARGET_HELP}; got {type(target).__name__}.")
    t = target.strip()
    if t == "case_duration":
        return Target(t, pd.Series(_case_duration(log), index=index, name=t), "duration")
    if t == "rework":
        st = steps(log)
        ci = log._case_index_per_row()
        key = ci * max(len(st.activities), 1) + st.activity
        dup = pd.Series(key).duplicated().to_numpy()
        v = np.bincount(ci, weights=dup, minlength=log.n_cases) > 0
        return Target(t, pd.Series(v.astype(float), index=index, name=t), "rate")
    if t.startswith("sla:"):
        sla = parse_duration(t[4:], name="target sla:DURATION")
        if sla <= 0:
            raise InputError(f"target sla:DURATION must be positive; got {t[4:]!r}.")
        v = (_case_duration(log) > sla).astype(float)
        return Target(t, pd.Series(v, index=index, name=t), "rate", sla_s=sla)
    if t.startswith("wait:"):
        act = t[5:]
        if act not in set(log.activities):
            hint = closest(act, log.activities)
            tip = f" Did you mean {', '.join(repr(h) for h in hint)}?" if hint else ""
            raise InputError(
                f"target wait:ACTIVITY: unknown activity {act!r}.{tip} "
                f"Activities in the log: {', '.join(repr(a) for a in sorted(log.activities))}."
            )
        st = steps(log)
        code = st.activities.index(act)
        m = st.activity == code
        ci = log._case_index_per_row()
        w = np.bincount(ci[m], weights=st.wait_ns[m] / 1e9, minlength=log.n_cases)
        has = np.bincount(ci[m], minlength=log.n_cases) > 0
        v = np.where(has, w, np.nan)
        return Target(t, pd.Series(v, index=index, name=t), "duration", activity=act)
    raise InputError(f"target must be {TARGET_HELP}; got {target!r}.")
