"""Short-term forecasts from the current state: what the next days bring for the open
cases and the new ones, over replications.

Per replication (a run from :func:`~leanops.simulate.current_state`), over the horizon
``(at, at + days]``:

* ``completions``: cases (open or new) that finish within it;
* ``wip``: cases in the system at its end (arrived and not finished);
* ``sla_breaches``: cases whose SLA instant (arrival + ``sla``) falls within it while they
  are still running, i.e. the cases that will miss the SLA during those days.

Across replications each is summarised as ``{mean, low, high}``, ``low``/``high`` being
the 5th and 95th percentiles (a 90% prediction interval: where the count will fall, not
where its mean is). Each open case gets its predicted completion and remaining time.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .state import State

__all__ = ["horizon_counts", "summarize_forecast", "default_sla"]


def horizon_counts(cases: pd.DataFrame, at_s: float, end_s: float, sla_s: float) -> dict[str, Any]:
    """One replication's counts over ``(at_s, end_s]`` from its ``cases`` table."""
    a = cases["arrival"].to_numpy(dtype="datetime64[ns]").view(np.int64) / 1e9
    c = cases["completion"].to_numpy(dtype="datetime64[ns]").view(np.int64) / 1e9
    due = a + sla_s
    out: dict[str, Any] = {
        "completions": int(((c > at_s) & (c <= end_s)).sum()),
        "wip": int(((a <= end_s) & (c > end_s)).sum()),
        "sla_breaches": int(((due > at_s) & (due <= end_s) & (c > due)).sum()),
    }
    if "open" in cases.columns:
        m = cases["open"].to_numpy(dtype=bool)
        out["open"] = dict(zip(cases["case_id"].to_numpy(dtype=object)[m].tolist(), c[m].tolist()))
    return out


def _interval(x: np.ndarray) -> dict[str, float | None]:
    x = np.asarray(x, dtype=float)
    x = x[np.isfinite(x)]
    if not len(x):
        return {"mean": None, "low": None, "high": None}
    return {"mean": float(x.mean()), "low": float(np.quantile(x, 0.05)), "high": float(np.quantile(x, 0.95))}


def summarize_forecast(reps: list[dict[str, Any]], state: State, days: float, sla_s: float) -> dict[str, Any]:
    """The ``forecast{days, completions, wip, sla_breaches, open_cases[…]}`` document."""
    at_s = state.at.value / 1e9
    doc: dict[str, Any] = {
        "at": state.at.isoformat(),
        "days": days,
        "sla_s": sla_s,
        "replications": len(reps),
        "completions": _interval(np.array([r["completions"] for r in reps])),
        "wip": _interval(np.array([r["wip"] for r in reps])),
        "sla_breaches": _interval(np.array([r["sla_breaches"] for r in reps])),
        "open_at_start": len(state.open),
        "open_cases": [],
    }
    end_s = at_s + days * 86400.0
    for oc in state.open:
        comp = np.array([r.get("open", {}).get(oc.case_id, np.nan) for r in reps], dtype=float)
        ok = comp[np.isfinite(comp)]
        doc["open_cases"].append({
            "case_id": oc.case_id,
            "arrival": pd.Timestamp(oc.arrival, unit="s", tz="UTC").isoformat(),
            "elapsed_s": at_s - oc.arrival,
            "current": oc.current,
            "last": oc.last,
            "completion": (pd.Timestamp(float(ok.mean()), unit="s", tz="UTC").isoformat() if len(ok) else None),
            "remaining_s": _interval(comp - at_s),
            "cycle_time_s": _interval(comp - oc.arrival),
            "done_within_days": float((ok <= end_s).mean()) if len(ok) else None,
            "sla_breach_probability": float((ok - oc.arrival > sla_s).mean()) if len(ok) else None,
        })
    return doc


def default_sla(log: Any) -> float:
    """The log's 90th-percentile case cycle time (seconds): the SLA when none is given."""
    d = log.df
    st = d["start"].fillna(d["end"])
    g = pd.DataFrame({"c": d["case_id"], "s": st, "e": d["end"]}).groupby("c", observed=True)
    ct = (g["e"].max() - g["s"].min()).dt.total_seconds().to_numpy()
    return float(np.quantile(ct, 0.9)) if len(ct) else 86400.0
