"""The one batch of activity instances (leanops.mining._batch): every source gives the same.

Expected values come from a hand-worked log and from the pandas engine's arrays (the
batch of an EventLog), against the DuckDB source streaming Arrow record batches in
chunks small enough that cases are cut across them.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import leanops
from leanops.mining import _batch
from leanops.mining._batch import derive, finish, from_log

T0 = pd.Timestamp("2024-03-01 08:00", tz="UTC")
MIN = 60 * 10**9


def _log(rows):
    return leanops.EventLog(pd.DataFrame({
        "case_id": [r[0] for r in rows], "activity": [r[1] for r in rows],
        "start": [T0 + pd.Timedelta(minutes=r[2]) if r[2] is not None else pd.NaT for r in rows],
        "end": [T0 + pd.Timedelta(minutes=r[3]) for r in rows],
        "resource": [r[4] for r in rows],
    }))


def test_derive_hand_worked():
    # one case: A 0-10, B 15-20, C 18-30 (overlaps B), A 40-45 (a repeat)
    first = np.array([True, False, False, False, True, False])
    act = np.array([0, 1, 2, 0, 1, 1])
    start = np.array([0, 15, 18, 40, 5, 7]) * MIN
    end = np.array([10, 20, 30, 45, 6, 9]) * MIN
    cover, repeat = derive(first, act, start, end, 3)
    # latest earlier end in the case (own start for the first)
    assert (cover // MIN).tolist() == [0, 10, 20, 30, 5, 6]
    assert repeat.tolist() == [False, False, False, True, False, True]


def _duck_batch(path, chunk, monkeypatch):
    """The DuckDB source (per case partition, then put together), with Arrow record
    batches of ``chunk`` rows."""
    from leanops.mining import outofcore
    from leanops.scan import scan

    monkeypatch.setattr(outofcore, "_BATCH", chunk)
    rows, acts, res = _batch.concat(outofcore._parts(scan(path)))
    return finish(rows, acts, res)


def _same(a, b):
    assert a.activities == b.activities and a.resources == b.resources
    assert list(map(str, a.case_ids)) == list(map(str, b.case_ids))
    for col in ("case", "first", "repeat", "estimated", "start", "end", "cover"):
        np.testing.assert_array_equal(getattr(a, col), getattr(b, col), err_msg=col)
    np.testing.assert_array_equal(a.activity, b.activity)
    np.testing.assert_array_equal(a.resource, b.resource)
    for col in ("start_s", "end_s", "wait_s", "service_s", "covered_s"):
        np.testing.assert_allclose(getattr(a, col), getattr(b, col), rtol=0, atol=1e-6, err_msg=col)


@pytest.mark.parametrize("name", ["production", "helpdesk"])
@pytest.mark.parametrize("chunk", [7, 1 << 20])
def test_duckdb_batch_equals_the_logs(tmp_path, monkeypatch, name, chunk):
    # helpdesk is completion-only: every start is estimated on the whole batch
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        log = leanops.datasets.load(name)
    path = leanops.convert(log, tmp_path / "parts", partitions=3)
    _same(from_log(log), _duck_batch(path, chunk, monkeypatch))


def test_missing_start_is_estimated_across_cases(tmp_path, monkeypatch):
    # case 1: A 0-10 by r1, C 12-20 by r2, B without a start ends at 30, by r1.
    # case 2: D 5-25 by r1. B's start is the later of its enablement (20, C's end) and
    # r1's previous end (25, in the other case): 25, so it waited 5 minutes.
    log = _log([("1", "A", 0, 10, "r1"), ("1", "C", 12, 20, "r2"), ("1", "B", None, 30, "r1"), ("2", "D", 5, 25, "r1")])
    path = leanops.convert(log, tmp_path / "one.parquet")
    b = _duck_batch(path, 2, monkeypatch)
    assert [b.activities[a] for a in b.activity] == ["A", "C", "B", "D"]
    assert ((b.start - T0.value) // MIN).tolist() == [0, 12, 25, 5]
    assert b.estimated.tolist() == [False, False, True, False]
    assert ((b.enabled - T0.value) // MIN).tolist() == [0, 10, 20, 5]
    assert (b.wait_s / 60).tolist() == [0.0, 2.0, 5.0, 0.0]
    _same(from_log(log), b)


def test_concat_puts_partitions_in_case_order():
    # two partial batches of whole cases, each with its own dictionaries
    def part(ids, acts, res, act, r):
        first = np.r_[True, np.asarray(ids[1:]) != np.asarray(ids[:-1])]
        start = np.arange(len(ids), dtype=np.int64) * MIN
        cover, repeat = derive(first, np.asarray(act), start, start + MIN, len(acts))
        cols = {"first": first, "activity": np.asarray(act, dtype=np.intp), "resource": np.asarray(r, dtype=np.int64),
                "start": start, "end": start + MIN, "cover": cover, "repeat": repeat,
                "estimated": np.zeros(len(ids), dtype=bool), "case_ids": np.array(sorted(set(ids)), dtype=object)}
        return {"cols": cols, "acts": acts, "resources": res}

    p1 = part(["b", "b", "d"], ["X", "Y"], ["r2"], [0, 1, 0], [0, -1, 0])
    p2 = part(["a", "c", "c"], ["Y"], ["r1", "r2"], [0, 0, 0], [1, 0, 0])
    rows, acts, res = _batch.concat([p1, p2])
    assert (acts, res) == (["X", "Y"], ["r1", "r2"])
    assert rows["case_ids"].tolist() == ["a", "b", "c", "d"]
    assert rows["activity"].tolist() == [1, 0, 1, 1, 1, 0]
    assert rows["resource"].tolist() == [1, 1, -1, 0, 0, 1]
    assert rows["first"].tolist() == [True, True, False, True, False, True]
    assert rows["repeat"].tolist() == [False, False, False, False, True, False]


@pytest.mark.parametrize("name", ["production", "sepsis", "receipt"])
def test_log_level_inputs_from_batch_rows_equal_the_logs(tmp_path, name):
    # the out-of-core engines' pools, calendar, evidence and cut cases (from batch rows)
    # against the in-memory engine's (from the EventLog)
    from leanops.boundaries import boundary_counts
    from leanops.evidence import log_evidence
    from leanops.mining import _batch_inputs as li, outofcore
    from leanops.mining.resources import _pools
    from leanops.scan import scan

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        log = leanops.datasets.load(name)
    path = leanops.convert(log, tmp_path / "parts", partitions=2)
    rows, acts, res = _batch.concat(outofcore._parts(scan(path)))
    assert li.pools(rows, acts, res) == _pools(log)
    assert str(li.log_calendar(rows, scan(path).tz)) == str(leanops.discover_calendar(log))
    level, roles = li.evidence(rows, res)
    e = log_evidence(log)
    assert (level["level"], level["time_granularity"], level["caveats"], roles) == (
        e["level"], e["time_granularity"], e["caveats"], e["role_resources"])
    cut, open_ = li.cut_flags(rows)
    assert {"cut_at_start": int(cut.sum()), "open_at_end": int(open_.sum())} == boundary_counts(log)
    kept = li.keep_cases(rows, ~(cut | open_))
    assert int(kept["first"].sum()) == len(rows["case_ids"]) - int((cut | open_).sum())
