"""A ground-truth process for root-cause analysis, built on ``groundtruth.generate``.

What is planted (case drivers, the truth ``rca`` must find):

* ``channel = phone`` (about 25 %) repeats ``Check`` far more often (60 % against 5 %);
  those loops involve more clerks, none of whom is slow;
* ``docs = incomplete`` (about 15 %) adds a ``Request docs`` step (about 1 h, its own
  pool): the attribute's only effect is that step (its mediator);
* ``experts_1`` is three times slower than ``experts_0`` at ``Review`` (the slow resource).

What must not be blamed:

* ``managers_1``: the second member of a two-member pool at ``Approve``; it only gets work
  when ``managers_0`` is busy (the generator always hands work to the lowest free member),
  so its cases met congestion, but it is no slower;
* the clerks that loops involve; ``region`` (a decoy drawn independently);
* ``case:variant-index`` (the exported variant number, path information), ``ticket``
  (a counter rising with the arrival) and ``activity_instance_id`` (an event counter):
  identifiers;
* the weekly season: arrivals are twice as frequent on Mondays and Tuesdays, so cases
  started then meet longer queues (system state: context, not a cause).

:func:`rca_log` can also cut the log with an export window (events outside it are
dropped), so that cases are cut at both ends.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from groundtruth import EPOCH, Pool, Process, Step, generate

SLOW = ("Review", "experts_1")
EXTRA_STEP = "Request docs"
PLANTED = (("channel", "phone"), ("docs", "incomplete"), ("resource@Review", "experts_1"))


def _channel(rng, a):
    return str(rng.choice(["phone", "web", "branch"], p=[0.25, 0.45, 0.30]))


def _docs(rng, a):
    return "incomplete" if rng.random() < 0.15 else "complete"


def _region(rng, a):
    return str(rng.choice(["north", "south", "east", "west"]))


def _interarrival(t: float) -> float:
    """Minutes between arrivals: a weekly season, busier on Mondays and Tuesdays."""
    weekday = (EPOCH + pd.Timedelta(seconds=t)).weekday()
    return 12.0 if weekday < 2 else 20.0


def rca_process() -> Process:
    return Process(
        steps=[
            Step("Register", "clerks", 8, cv=0.3),
            Step("Check", "clerks", 12, cv=0.4, rework_prob=lambda a: 0.6 if a["channel"] == "phone" else 0.05),
            Step(EXTRA_STEP, "desk", 60, cv=0.3, prob=lambda a: 1.0 if a["docs"] == "incomplete" else 0.0),
            Step("Review", "experts", 14, cv=0.3),
            Step("Approve", "managers", 9, cv=0.3),
            Step("Notify", "clerks", 5, cv=0.3),
        ],
        pools={"clerks": Pool(3), "desk": Pool(3), "experts": Pool(2, slow={1: 3.0}), "managers": Pool(2)},
        interarrival=_interarrival,
        attributes={"channel": _channel, "docs": _docs, "region": _region},
    )


def rca_log(n_cases: int = 1200, seed: int = 1, *, window: bool = False) -> pd.DataFrame:
    """The generated log, with a ``case:variant-index`` and a ``ticket`` counter.

    With ``window=True`` only events inside an export window are kept: it opens two days
    after the first arrival and closes two days before the last event, so cases are cut at
    both ends.
    """
    log = generate(rca_process(), n_cases=n_cases, seed=seed).log
    log = log.sort_values(["start_time", "case_id"], kind="stable").reset_index(drop=True)
    seq = log.groupby("case_id", sort=False)["activity"].agg(" > ".join)
    rank = {v: i for i, v in enumerate(seq.value_counts().index)}
    log["case:variant-index"] = log["case_id"].map(seq.map(rank)).astype(int)
    first = log.groupby("case_id", sort=False)["start_time"].min().sort_values(kind="stable")
    log["ticket"] = log["case_id"].map(pd.Series(np.arange(100_000, 100_000 + len(first)), index=first.index))
    log["activity_instance_id"] = np.arange(len(log)) + 70_000  # an event counter
    if window:
        lo = log["start_time"].min() + pd.Timedelta(days=2)
        hi = log["end_time"].max() - pd.Timedelta(days=2)
        log = log[(log["start_time"] >= lo) & (log["end_time"] <= hi)].reset_index(drop=True)
    return log


def weak_step_process() -> Process:
    """Power: ``docs = incomplete`` (15 %) only adds a 20-minute ``Request docs`` step, while
    a customer reply (8 h on average, as variable as it is long) drowns it in the case
    duration. The driver can only be found through its step."""
    return Process(
        steps=[
            Step("Register", "clerks", 8, cv=0.3),
            Step(EXTRA_STEP, "desk", 20, cv=0.3, prob=lambda a: 1.0 if a["docs"] == "incomplete" else 0.0),
            Step("Callback", "clerks", 5, cv=0.3, prob=0.3),  # more variants than docs values
            Step("Customer reply", "customers", 480, cv=1.0),
            Step("Decide", "clerks", 10, cv=0.3),
        ],
        pools={"clerks": Pool(3), "desk": Pool(3), "customers": Pool(10_000)},
        interarrival=20.0,
        attributes={"docs": _docs, "region": _region},
    )
