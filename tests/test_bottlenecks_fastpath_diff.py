"""The packed-key fast path of bottlenecks (whole-second logs: one sorted key per instance
for the overtaken waits and the queue grid) gives the very results of the row path it
replaced, whatever the block size its passes run in. Found by a differential fuzz of the
session's fast paths against the code before them; this pins the end-to-end equality
(the block edges of ``_queue_from_keys`` were not covered by a unit test)."""

from __future__ import annotations

import importlib
import warnings

import numpy as np
import pandas as pd
import pytest

import leanops.evidence as evidence
import leanops.mining.waits as waits
from leanops.log import from_frame
from leanops.mining.bottlenecks import bottlenecks

from groundtruth import Pool, Process, Step, generate

# (the module: ``leanops.mining.bottlenecks`` as an attribute is the function it exports)
bmod = importlib.import_module("leanops.mining.bottlenecks")


def _log(seed):
    proc = Process(steps=[Step("Triage", "clerks", 10), Step("Review", "experts", 50), Step("Close", "clerks", 5)],
                   pools={"clerks": Pool(2), "experts": Pool(1)}, interarrival=45)
    df = generate(proc, n_cases=120, seed=seed).log.copy()
    for c in ("start_time", "end_time"):  # whole seconds, as most exports: the packed path
        df[c] = df[c].dt.round("s")
    if seed % 2:  # batch releases: many starts at one instant
        df.loc[df["activity"] == "Close", "start_time"] = df["start_time"].dt.ceil("h")
        df["end_time"] = df[["start_time", "end_time"]].max(axis=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return from_frame(df)


def _result(log):
    b = bottlenecks(log)
    return b.to_dict(), b.to_frame(), b.queue_over_time


@pytest.mark.parametrize("seed", [0, 1])
def test_packed_path_equals_the_row_path_across_block_edges(seed, monkeypatch):
    log = _log(seed)
    used = []
    real = bmod._queue_from_keys
    monkeypatch.setattr(bmod, "_queue_from_keys", lambda *a, **k: used.append(1) or real(*a, **k))
    fast = _result(log)
    assert used, "the whole-second log should take the packed-key path"

    for name, mod in (("_BLOCK", waits), ("_KEY_BLOCK", bmod), ("_KEY_BLOCK", evidence)):
        monkeypatch.setattr(mod, name, 3)  # many block edges on a small log
    small = _result(log)
    monkeypatch.setattr(bmod, "packed_triples", lambda *a, **k: None)  # the row path
    rows = _result(log)

    for other in (small, rows):
        assert other[0] == fast[0]
        pd.testing.assert_frame_equal(other[1], fast[1], check_exact=True)
        pd.testing.assert_frame_equal(other[2], fast[2], check_exact=True)
    # the queue grid is not empty: the comparison has something to compare
    assert np.asarray(fast[2]).sum() > 0
