"""Cases cut by the export window: hand-worked logs and a generator export window."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import leanops
from leanops.boundaries import boundary_counts, boundary_mask, case_boundaries, complete_cases
from groundtruth import generate
from groundtruth_diagnosis import diagnosis_process, export_window
from test_performance import make_log


def _whole(cid, t):
    return [(cid, "Open", t, t + 1, "r"), (cid, "Work", t + 2, t + 3, "r"), (cid, "Close", t + 4, t + 5, "r")]


def test_hand_worked_cut_at_both_ends():
    rows = [("a", "Work", 0, 1, "r"), ("a", "Close", 2, 3, "r")]  # began before the window
    for i in range(10):
        rows += _whole(f"w{i}", 10 + 10 * i)
    rows += [("z", "Open", 112, 113, "r"), ("z", "Work", 113, 114, "r")]  # still open
    rows += _whole("late", 109)  # whole, although it ends on the last hour
    log = make_log(rows)
    b = case_boundaries(log)
    assert list(b.index[b["cut_at_start"]]) == ["a"]
    assert list(b.index[b["open_at_end"]]) == ["z"]
    assert boundary_counts(log) == {"cut_at_start": 1, "open_at_end": 1}
    keep = boundary_mask(log)
    assert keep.sum() == 11 and not keep[list(log.case_ids).index("a")]
    assert boundary_mask(log, include_cut=True).all()
    kept, counts = complete_cases(log)
    assert kept.n_cases == 11 and counts == {"cut_at_start": 1, "open_at_end": 1}
    assert complete_cases(log, include_cut=True)[0] is log
    assert case_boundaries(log) is b  # cached on the log


def test_odd_first_activity_far_from_the_edge_is_not_cut():
    rows = []
    for i in range(10):
        rows += _whole(f"w{i}", 10 * i)
    rows += [("mid", "Work", 52, 53, "r"), ("mid", "Close", 54, 55, "r")]  # mid-log: not the window
    b = case_boundaries(make_log(rows))
    assert not b["cut_at_start"].any() and not b["open_at_end"].any()


def test_empty_and_tiny_logs():
    assert boundary_counts(make_log(_whole("only", 0))) == {"cut_at_start": 0, "open_at_end": 0}


# office hours: the window must open during a working day, when cases are in progress
@pytest.mark.parametrize("seed,hours,frac", [(1, None, (0.25, 0.75)), (2, None, (0.25, 0.75)),
                                             (3, (8, 17), (0.3, 0.7))])
def test_generator_export_window_finds_the_cut_cases(seed, hours, frac):
    res = generate(diagnosis_process(hours), n_cases=1500, seed=seed)
    w = export_window(res.log, start_frac=frac[0], end_frac=frac[1])
    log = leanops.from_frame(w.log)
    b = case_boundaries(log)
    truth = w.truth.reindex(b.index.astype(str))
    for col in ("cut_at_start", "open_at_end"):
        found, real = b[col].to_numpy(), truth[col].to_numpy()
        assert real.sum() >= 5  # the window does cut cases
        # every case whose first (last) steps were lost is found, and nothing else
        assert (found & real).sum() == real.sum(), col
        assert (found & ~real).sum() <= 0.02 * len(b), col
    keep = boundary_mask(log)
    assert keep.sum() == (~(truth["cut_at_start"] | truth["open_at_end"])).sum()
