"""rca.waiting_causes and bottlenecks read one waiting-time decomposition (issue 12): per
activity, the causes that waiting_causes finds per instance sum to the ``wait_<cause>_s``
that bottlenecks reports for the step, on ground-truth processes and on a bundled log."""

from __future__ import annotations

import numpy as np
import pytest

import leanops
from leanops.mining.bottlenecks import wait_decomposition
from leanops.mining.waits import WAIT_CAUSES
from leanops.rca import waiting_causes
from groundtruth import generate
from test_bottlenecks import _process

OFFICE = leanops.Calendar.parse("Mon-Fri 08:00-17:00")
# waiting_causes' calendar argument -> the same calendars for bottlenecks (per pool)
CALENDARS = [("24/7", leanops.Calendar.always()), ("discover", None), (OFFICE, OFFICE)]


def _agree(log, wc_calendar, b_calendar):
    wc = waiting_causes(log, calendar=wc_calendar)
    b = leanops.bottlenecks(log, calendar=b_calendar).table.set_index("activity")
    a = wc.by_activity.set_index("activity")
    waiting = b[b["wait_total_s"] > 0]
    assert set(a.index) == set(waiting.index)
    for act, r in waiting.iterrows():
        assert a.loc[act, "wait_s"] == pytest.approx(r["wait_total_s"], rel=1e-9)
        for c in WAIT_CAUSES:
            # the per-instance split is balanced to the step's totals (iterative fitting: a
            # residue well under a thousandth of the step's wait)
            assert abs(a.loc[act, f"{c}_s"] - r[f"wait_{c}_s"]) <= 2e-3 * r["wait_total_s"], (act, c)
    # every instance's causes add up to its own wait
    i = wc.instances
    assert np.allclose(i[[f"{c}_s" for c in WAIT_CAUSES]].sum(axis=1), i["wait_s"], rtol=1e-9, atol=1e-6)
    assert (i[[f"{c}_s" for c in WAIT_CAUSES]] >= -1e-9).all().all()
    return wc, b


@pytest.mark.parametrize("hours", [None, (8, 17)], ids=["24/7", "office"])
def test_waiting_causes_sum_to_the_bottleneck_split_on_ground_truth(hours):
    # Review is under capacity; Ship waits for a daily 10:00 release (a batch, not capacity)
    log = leanops.from_frame(generate(_process("Review", hours, batch=10.0), n_cases=300, seed=5).log)
    for wc_cal, b_cal in CALENDARS:
        wc, b = _agree(log, wc_cal, b_cal)
    # and both say the same thing about the planted causes (defaults: the calendar learnt from the log)
    wc, b = _agree(log, "discover", None)
    a = wc.by_activity.set_index("activity")
    busy_share = (a["contention_s"] + a["prioritisation_s"]) / a["wait_s"]
    assert busy_share["Review"] > 0.8, busy_share
    assert busy_share["Ship"] < 0.5, busy_share  # the release wait is not capacity
    assert b.index[0] == "Review"


@pytest.mark.parametrize("wc_cal, b_cal", CALENDARS, ids=["24/7", "discover", "office"])
def test_waiting_causes_sum_to_the_bottleneck_split_on_a_bundled_log(wc_cal, b_cal):
    _agree(leanops.datasets.load("production"), wc_cal, b_cal)


def test_wait_decomposition_rows_are_the_waiting_instances():
    log = leanops.datasets.load("production")
    w = wait_decomposition(log)
    assert (w["wait_s"] > 0).all()
    # the waits are performance's: total waiting per activity
    perf = leanops.performance(log, by="activity").set_index("activity")["waiting_total_s"]
    got = w.groupby("activity")["wait_s"].sum()
    assert np.allclose(got, perf.reindex(got.index), rtol=1e-9)
    assert not w["estimated"].any()  # production has real start times


def test_pool_calendars_must_be_one_per_pool():
    log = leanops.from_frame(generate(_process("Review", None), n_cases=60, seed=2).log)
    pools = leanops.discover_pools(log)
    team = pools[pools["pool"] == "check_team"]["resource"].tolist()
    assert len(team) == 3
    other = leanops.Calendar.parse("Mon-Fri 09:00-12:00")
    with pytest.raises(leanops.InputError, match="different calendars"):
        waiting_causes(log, calendar={team[0]: OFFICE, team[1]: other, team[2]: OFFICE})
    with pytest.raises(leanops.InputError, match=r"calendar\[.*must be a leanops.Calendar"):
        waiting_causes(log, calendar={team[0]: object()})
    # keyed by the pool: fine
    wc = waiting_causes(log, calendar={"check_team": OFFICE})
    assert wc.totals["wait"] > 0
