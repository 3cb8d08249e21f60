"""Ground truth for simulation runs: small logs with a known answer for the run-window and
from-state features (calendars learnt from too little evidence, open cases at a cut)."""

from __future__ import annotations

import numpy as np
import pandas as pd

import leanops


def one_day_claims(n: int = 60, seed: int = 0, day: str = "2023-01-02") -> leanops.EventLog:
    """The insurance-style trap: every claim of one Monday 09:00-15:00, three steps by two
    clerks, ~36 min from arrival to decision. A calendar learnt from it knows one day."""
    rng = np.random.default_rng(seed)
    t0 = pd.Timestamp(f"{day} 09:00", tz="UTC")
    arrivals = np.sort(rng.uniform(0, 5.2 * 3600, n))
    rows = []
    free = {"ann": 0.0, "bob": 0.0}
    for i, a in enumerate(arrivals):
        t = a
        for act, mean in (("Register", 300.0), ("Assess", 1200.0), ("Decide", 600.0)):
            who = min(free, key=free.get)
            s = max(t, free[who])
            e = s + rng.exponential(mean) * 0.5 + mean * 0.5
            free[who] = e
            rows.append((f"c{i:03d}", act, t0 + pd.Timedelta(seconds=s), t0 + pd.Timedelta(seconds=e), who))
            t = e
    df = pd.DataFrame(rows, columns=["case_id", "activity", "start_time", "end_time", "resource"])
    return leanops.from_frame(df, case="case_id", activity="activity", start="start_time", end="end_time",
                              resource="resource")


def three_step(position: int, *, experts: int = 2, factor: float = 1.0, hours: tuple[int, int] | None = (8, 17),
               interarrival: float = 30.0):
    """Three steps A, B, C; the one at ``position`` is the bottleneck (``experts`` people,
    12 min x ``factor``), the others have two clerks each (4 min). Office hours by default,
    arrivals around the clock: cases that arrive at night queue for the morning."""
    from groundtruth import Pool, Process, Step

    steps, pools = [], {}
    for i, name in enumerate("ABC"):
        if i == position:
            steps.append(Step(name, "experts", 12.0 * factor))
        else:
            steps.append(Step(name, f"clerks{i}", 4.0))
            pools[f"clerks{i}"] = Pool(2, hours=hours)
    pools["experts"] = Pool(experts, hours=hours)
    return Process(steps=steps, pools=pools, interarrival=interarrival)
