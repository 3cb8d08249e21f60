"""Validation: simulate a held-out period and compare logs with Simod's measures.

The measures come from the ``log-distance-measures`` package (used in Simod's papers):

* ``cycle_time_emd``: EMD between case cycle-time histograms (1-hour bins), in hours.
* ``ngram_3``: distance between the 3-gram frequency distributions of the traces (0 to 1).
* ``circadian_emd``: EMD between the distributions of event times over the hours of each
  weekday (starts and ends), in hours.
* ``arrival_emd``: EMD between case-arrival histograms over absolute time (1-hour bins), in hours.

Lower is better for all.

Unfinished cases. A test log cut from a longer log at some instant shows the cases that
were still running then as cut short: their last instances are missing and their cycle
times are censored. :func:`validate` therefore sees the simulated log *and* the persistence
baseline through the same window: only instances completed by the test log's last
timestamp count (``observe_window=True``, the default). The model starts from the state
at the test's first arrival (the training cases still open then keep running and hold
their resources, ``from_state=True``); the baseline replays recent cases from there.
Neither sees anything after the test ends.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .._validation import check_fraction, check_log, check_positive
from ..errors import InputError
from ..log import EventLog
from .model import SimulationModel

__all__ = ["MEASURES", "Split", "split_by_time", "persistence_baseline", "compare_logs", "validate", "Validation"]

MEASURES: tuple[str, ...] = ("cycle_time_emd", "ngram_3", "circadian_emd", "arrival_emd")


@dataclass(frozen=True)
class Split:
    """A log split by time: ``train`` holds the first cases by start, ``test`` the rest."""

    train: EventLog
    test: EventLog
    cutoff: pd.Timestamp  # the first arrival of the test set


def _case_first_start(log: EventLog) -> pd.Series:
    d = log.df
    t = d["start"].fillna(d["end"])
    return t.groupby(d["case_id"], observed=True, sort=False).min()


def split_by_time(log: EventLog, *, train: float = 0.8) -> Split:
    """Split ``log`` into the first ``train`` share of cases by start, and the rest.

    Examples
    --------
    >>> import leanops
    >>> from leanops import simulate
    >>> s = simulate.split_by_time(leanops.datasets.load("production"), train=0.8)
    >>> s.train.n_cases, s.test.n_cases
    (180, 45)
    """
    check_log(log, allow_empty=True)
    share = check_fraction("train", train, allow_none=False)
    if log.n_cases < 2:
        raise InputError(f"split_by_time needs at least 2 cases; the log has {log.n_cases}.")
    firsts = _case_first_start(log).sort_values(kind="stable")
    k = min(max(int(round(share * len(firsts))), 1), len(firsts) - 1)
    train_ids = firsts.index[:k]
    test_ids = firsts.index[k:]
    return Split(log.select_cases(list(train_ids)), log.select_cases(list(test_ids)), firsts.iloc[k])


def persistence_baseline(train: EventLog, *, cases: int, start: Any) -> EventLog:
    """The naive forecast: the most recent ``cases`` training cases, replayed and shifted
    so that the first of them arrives at ``start``."""
    n = int(check_positive("cases", cases, integer=True))
    firsts = _case_first_start(train).sort_values(kind="stable")
    ids = firsts.index[-n:]
    sub = train.select_cases(list(ids))
    t0 = pd.Timestamp(start)
    if t0.tzinfo is None:
        t0 = t0.tz_localize("UTC")
    shift = t0 - firsts.loc[ids].min()
    d = sub.to_frame()
    d["start"] = d["start"] + shift
    d["end"] = d["end"] + shift
    return EventLog(d, source="persistence baseline")


def _ldm_frame(log: EventLog) -> pd.DataFrame:
    d = log.df
    return pd.DataFrame({
        "case": d["case_id"].astype(str).to_numpy(),
        "activity": d["activity"].astype(str).to_numpy(),
        "start_timestamp": d["start"].fillna(d["end"]).dt.tz_convert("UTC").dt.tz_localize(None).to_numpy(),
        "end_timestamp": d["end"].dt.tz_convert("UTC").dt.tz_localize(None).to_numpy(),
        "resource": d["resource"].astype(object).to_numpy(),
    })


def compare_logs(reference: EventLog, candidate: EventLog, *, measures: tuple[str, ...] = MEASURES) -> dict[str, float]:
    """Distances between two logs with the ``log-distance-measures`` package (lower is closer)."""
    from log_distance_measures.case_arrival_distribution import case_arrival_distribution_distance
    from log_distance_measures.circadian_event_distribution import circadian_event_distribution_distance
    from log_distance_measures.config import AbsoluteTimestampType, EventLogIDs, discretize_to_hour
    from log_distance_measures.cycle_time_distribution import cycle_time_distribution_distance
    from log_distance_measures.n_gram_distribution import n_gram_distribution_distance

    for m in measures:
        if m not in MEASURES:
            raise InputError(f"measures must be among {list(MEASURES)}; got {m!r}.")
    ids = EventLogIDs(case="case", activity="activity", start_time="start_timestamp", end_time="end_timestamp", resource="resource")
    a, b = _ldm_frame(reference), _ldm_frame(candidate)
    out: dict[str, float] = {}
    if "cycle_time_emd" in measures:
        out["cycle_time_emd"] = float(cycle_time_distribution_distance(a, ids, b, ids, bin_size=_dt.timedelta(hours=1)))
    if "ngram_3" in measures:
        out["ngram_3"] = float(n_gram_distribution_distance(a, ids, b, ids, n=3))
    if "circadian_emd" in measures:
        out["circadian_emd"] = float(circadian_event_distribution_distance(a, ids, b, ids, discretize_type=AbsoluteTimestampType.BOTH))
    if "arrival_emd" in measures:
        out["arrival_emd"] = float(case_arrival_distribution_distance(a, ids, b, ids, discretize_event=discretize_to_hour))
    return out


@dataclass
class Validation:
    """Distances of the simulated log (and optionally a baseline) to the test log."""

    model: dict[str, float]
    baseline: dict[str, float] | None
    simulated: EventLog = field(repr=False)

    def to_frame(self) -> pd.DataFrame:
        """One row per measure: the model's distance, the baseline's, and which is closer."""
        rows = []
        for m, v in self.model.items():
            b = self.baseline.get(m) if self.baseline else None
            rows.append({"measure": m, "model": v, "baseline": b,
                         "model_better": None if b is None else bool(v < b)})
        return pd.DataFrame(rows)

    def to_dict(self) -> dict[str, Any]:
        """The distances as a JSON-ready dict: ``model`` and ``baseline`` (measure -> distance)."""
        return {"model": dict(self.model), "baseline": dict(self.baseline) if self.baseline is not None else None}

    def __str__(self) -> str:
        """One line per measure: the model's distance to the test log, the baseline's."""
        lines = ["distance to the test log (lower is closer):"]
        for r in self.to_frame().itertuples(index=False):
            base = "" if r.baseline is None else f"  baseline {r.baseline:.4g}" + ("  (model closer)" if r.model_better else "")
            lines.append(f"  {r.measure}: model {r.model:.4g}{base}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        return self.to_frame().to_html(index=False)


def validate(
    model: SimulationModel,
    test_log: EventLog,
    *,
    train_log: EventLog | None = None,
    seed: int | np.random.Generator | None = 0,
    measures: tuple[str, ...] = MEASURES,
    observe_window: bool = True,
    from_state: bool = True,
) -> Validation:
    """Simulate the test log's period (as many cases, from its first arrival) and compare.

    The test log was extracted at some moment: cases still running then appear cut short.
    With ``observe_window`` (the default), the simulated log (and the baseline) are seen
    through the same window: only instances completed by the test log's last timestamp
    count. Without it, complete simulated cases are compared with censored real ones.

    With ``train_log``, the persistence baseline (the most recent training cases replayed
    from the test start) is scored too: a model worth trusting beats it. With
    ``from_state`` (the default, with ``train_log``), the simulation starts from where the
    process stood at the test's first arrival, the training cases still open then
    continuing and holding their resources (:func:`~leanops.simulate.current_state`); only
    the new cases, as many as the test log's, are compared.

    Examples
    --------
    >>> import leanops
    >>> from leanops import simulate
    >>> s = simulate.split_by_time(leanops.datasets.load("purchasing_example"))
    >>> v = simulate.validate(simulate.fit(s.train), s.test, train_log=s.train, seed=1)
    >>> list(v.to_frame()["measure"])
    ['cycle_time_emd', 'ngram_3', 'circadian_emd', 'arrival_emd']
    """
    from .engine import run

    if not isinstance(test_log, EventLog):
        raise InputError(f"test_log must be a leanops.EventLog; got {type(test_log).__name__}.")
    start = _case_first_start(test_log).min()
    if from_state and train_log is not None:
        res = run(model, cases=test_log.n_cases, seed=seed, from_log=train_log, at=start)
        new = res.cases.loc[~res.cases["open"], "case_id"] if "open" in res.cases else res.cases["case_id"]
        sim = res.log.select_cases(list(new)) if len(new) < res.log.n_cases else res.log
    else:
        sim = run(model, cases=test_log.n_cases, seed=seed, start=start).log
    until = test_log.end_time if observe_window else None
    scores = compare_logs(test_log, _observed(sim, until), measures=measures)
    base = None
    if train_log is not None:
        pb = persistence_baseline(train_log, cases=test_log.n_cases, start=start)
        base = compare_logs(test_log, _observed(pb, until), measures=measures)
    return Validation(scores, base, sim)


def _observed(log: EventLog, until: pd.Timestamp | None) -> EventLog:
    """What a log extracted at ``until`` would show: instances completed by then."""
    if until is None:
        return log
    keep = (log.df["end"] <= until).to_numpy()
    if keep.all() or not keep.any():
        return log
    return log._derive(log.df[keep].reset_index(drop=True))
