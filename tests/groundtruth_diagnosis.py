"""Ground truth for honest diagnosis: one process, exported the ways real systems export it.

Real exports lose information the generator knows: start times (completion-only), the
person (a role label instead), the clock (dates only), and whole case beginnings and ends
(an export window). Each ``export_*`` function takes the generator's log and returns the
degraded log plus, where it matters, the truth about what was lost.

Example
-------
>>> from groundtruth_diagnosis import diagnosis_process, export_window
>>> from groundtruth import generate
>>> res = generate(diagnosis_process(), n_cases=300, seed=1)
>>> cut = export_window(res.log, start_frac=0.2, end_frac=0.8)
>>> sorted(cut.truth.columns)
['cut_at_start', 'open_at_end']
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from groundtruth import Pool, Process, Step


def diagnosis_process(hours=None) -> Process:
    """Register -> Check -> Review (under capacity, load 0.95) -> Approve; every step happens once."""
    f = 1.0 if hours is None else 45 / 168
    ia = 10.0
    return Process(
        steps=[
            Step("Register", "desk", 2, cv=0.3),
            Step("Check", "checkers", 0.55 * 3 * ia * f),
            Step("Review", "reviewers", 0.95 * 2 * ia * f),
            Step("Approve", "approvers", 0.5 * 2 * ia * f),
        ],
        pools={"desk": Pool(3, hours), "checkers": Pool(3, hours), "reviewers": Pool(2, hours),
               "approvers": Pool(2, hours)},
        interarrival=ia,
    )


@dataclass
class Window:
    log: pd.DataFrame  # the events inside the window
    truth: pd.DataFrame  # per kept case: cut_at_start, open_at_end (events lost on that side)


def export_window(log: pd.DataFrame, *, start_frac: float, end_frac: float) -> Window:
    """Keep the instances that lie wholly inside a window cut out of the log's span."""
    t0, t1 = log["start_time"].min(), log["end_time"].max()
    lo, hi = t0 + (t1 - t0) * start_frac, t0 + (t1 - t0) * end_frac
    inside = (log["start_time"] >= lo) & (log["end_time"] <= hi)
    before = log["start_time"] < lo
    after = log["end_time"] > hi
    kept = log.loc[inside]
    ids = kept["case_id"].unique()
    truth = pd.DataFrame({
        "cut_at_start": pd.Series(before.groupby(log["case_id"]).any()).reindex(ids).to_numpy(),
        "open_at_end": pd.Series(after.groupby(log["case_id"]).any()).reindex(ids).to_numpy(),
    }, index=pd.Index(ids, name="case_id"))
    return Window(kept.reset_index(drop=True), truth)


def export_completion_only(log: pd.DataFrame) -> pd.DataFrame:
    """Drop the start times, as most ERP and ticketing exports do."""
    return log.drop(columns=["start_time"])


def export_role_label(log: pd.DataFrame, role: str = "STAFF") -> pd.DataFrame:
    """Replace every person by one role label."""
    return log.assign(resource=role)


def export_day_granularity(log: pd.DataFrame) -> pd.DataFrame:
    """Keep only the dates of the timestamps."""
    return log.assign(start_time=log["start_time"].dt.floor("D"), end_time=log["end_time"].dt.floor("D"))
