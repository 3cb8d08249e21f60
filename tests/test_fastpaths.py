"""The vectorised per-log pieces behind value_stream and bottlenecks, against plain
Python implementations of their definitions on small random inputs (with ties,
zero-length intervals and spans too long to pack at nanosecond resolution)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from leanops.boundaries import case_spans
from leanops.evidence import _label_busy
from leanops.log import EventLog
from leanops.mining import waits
from leanops.mining.waits import batch_waits, overtaken_sums, overtaken_waits


def _naive_batch(a, s, e, tol):
    out = np.zeros(len(s))
    for g in np.unique(a):
        rows = sorted(np.flatnonzero(a == g), key=lambda i: s[i])
        groups, cur = [], [rows[0]]
        for i in rows[1:]:
            if s[i] - s[cur[-1]] > tol:
                groups.append(cur)
                cur = []
            cur.append(i)
        groups.append(cur)
        for grp in groups:
            if len(grp) >= 2:
                ready = max(e[i] for i in grp)
                for i in grp:
                    out[i] = max(min(ready, s[i]) - e[i], 0.0)
    return out


def _naive_overtaken(a, s, e, floor):
    out = np.zeros(len(s))
    for i in range(len(s)):
        later = [s[j] for j in range(len(s)) if a[j] == a[i] and e[j] > e[i]]
        if later and min(later) < s[i]:
            out[i] = max(s[i] - max(min(later), floor[i]), 0.0)
    return out


@pytest.mark.parametrize("seed", range(6))
def test_wait_rules_match_their_definitions(seed):
    rng = np.random.default_rng(seed)
    n = 150
    a = rng.integers(0, 3, n)
    # coarse values: many ties in starts and in enablements
    s = np.round(rng.random(n) * [20, 200, 2000][seed % 3], seed % 2)
    e = s - np.round(rng.random(n) * 30, 0)
    tol = [0.0, 1.0, 3.0][seed % 3]
    bt = batch_waits(a, s, e, tol)
    np.testing.assert_array_equal(bt, _naive_batch(a, s, e, tol))
    floor = e + bt
    # (the running minimum runs per activity on the values themselves: exactly equal)
    np.testing.assert_array_equal(overtaken_waits(a, s, e, floor), _naive_overtaken(a, s, e, floor))


def test_overtaken_waits_when_few_rows_are_overtaken():
    # nearly first-in first-out: the few overtaken rows take the index-list path
    rng = np.random.default_rng(11)
    n = 300
    a = rng.integers(0, 2, n)
    e = np.round(rng.random(n) * 1000, 1)
    s = e + 5 + (rng.random(n) < 0.05) * np.round(rng.random(n) * 100)
    floor = e + np.round(rng.random(n) * 2)
    got = overtaken_waits(a, s, e, floor)
    assert 0 < (got > 0).sum() < n // 4
    np.testing.assert_allclose(got, _naive_overtaken(a, s, e, floor), rtol=0, atol=1e-9)



@pytest.mark.parametrize("block", [1, 3, 16, 1 << 20])
@pytest.mark.parametrize("seed", range(8))
def test_overtaken_sums_are_the_sums_of_the_per_instance_rule(seed, block, monkeypatch):
    # whole numbers take the packed-key path (read in blocks of ``block`` rows: runs of
    # equal enablement cut by a block edge); fractions fall back to overtaken_waits
    monkeypatch.setattr(waits, "_BLOCK", block)
    rng = np.random.default_rng(100 + seed)
    n = int(rng.integers(1, 160))
    a = rng.integers(0, 3, n) + (seed % 4 == 0)  # (some with activity 0 never occurring)
    s = np.round(rng.random(n) * [20, 200, 2000][seed % 3], 0 if seed < 6 else 1)
    e = s - np.round(rng.random(n) * 30, 0)
    tol = [0.0, 1.0, 3.0][seed % 3]
    bt = batch_waits(a, s, e, tol)
    floor = e + bt
    # the same waits, at the rows that have one (the counts with an empty last activity)
    rows, w = waits.batch_waits_at(a, s, e, tol, counts=np.bincount(a, minlength=int(a.max()) + 2))
    np.testing.assert_array_equal(rows, np.flatnonzero(bt > 0))
    np.testing.assert_array_equal(w, bt[rows])
    n_groups = int(a.max()) + 2
    want = np.array([_naive_overtaken(a, s, e, floor)[a == g].sum() for g in range(n_groups)])
    got = overtaken_sums(a, s, e, n_groups, floor_at=(rows, e[rows] + w))
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-9)
    # bit for bit the sums the bottleneck ranking made before (a bincount of the waits)
    np.testing.assert_array_equal(got, np.bincount(a, weights=overtaken_waits(a, s, e, floor), minlength=n_groups))
    assert (waits.packed_triples(a, e, s, floor[rows]) is None) == (seed >= 6 and not np.array_equal(s, np.round(s)))

def _naive_union(s, e):
    total, cur_s, cur_e = 0, None, None
    for lo, hi in sorted(zip(s.tolist(), e.tolist())):
        if cur_e is None or lo > cur_e:
            if cur_e is not None:
                total += cur_e - cur_s
            cur_s, cur_e = lo, hi
        else:
            cur_e = max(cur_e, hi)
    return total + (cur_e - cur_s if cur_e is not None else 0)


@pytest.mark.parametrize("unit, span", [(1, 10**12), (10**9, 3 * 10**17), (10**6, 3 * 10**17), (1, 3 * 10**17),
                                        (1, 10**9), (10**6, 10**14)])
def test_label_busy_is_the_union_of_each_labels_intervals(unit, span):
    # a span of ten years in ns does not pack with the label: whole seconds (ms) are packed
    # in coarser units, anything else falls back to sorting rows
    rng = np.random.default_rng(unit % 97 + span % 89)
    n, labels = 400, 7
    c = rng.integers(0, labels, n).astype(np.int64)
    s = rng.integers(0, span // unit, n) * unit + 1_600_000_000 * 10**9
    e = s + rng.integers(0, span // unit // 200, n) * unit * (rng.random(n) > 0.2)  # some of zero length
    k, total, merged = _label_busy(c, s, e, labels + 1)
    for lab in range(labels + 1):
        m = c == lab
        assert k[lab] == m.sum()
        assert total[lab] == pytest.approx(float((e[m] - s[m]).sum()), rel=1e-12)
        assert merged[lab] == pytest.approx(float(_naive_union(s[m], e[m])), rel=1e-12, abs=0)


def test_case_spans_and_ids_match_pandas():
    t = pd.Timestamp("2024-03-01", tz="UTC")
    rows = [("b", "x", 5, 7), ("b", "y", None, 9), ("a", "x", 1, 3), ("a", "y", 2, 8), ("c", "x", None, 4)]
    df = pd.DataFrame([(c, act, None if s is None else t + pd.Timedelta(hours=s), t + pd.Timedelta(hours=h))
                       for c, act, s, h in rows], columns=["case_id", "activity", "start", "end"])
    log = EventLog(df)
    d = log.df
    first = d["start"].fillna(d["end"]).groupby(d["case_id"], sort=False).min()
    last = d["end"].groupby(d["case_id"], sort=False).max()
    assert list(log.case_ids) == list(first.index)
    lo, hi = case_spans(log)
    np.testing.assert_array_equal(lo, first.to_numpy(dtype="datetime64[ns]").view(np.int64))
    np.testing.assert_array_equal(hi, last.to_numpy(dtype="datetime64[ns]").view(np.int64))


@pytest.mark.parametrize("step", [1.0, 0.5])
def test_group_sort_packs_whole_numbers_and_falls_back_otherwise(step):
    from leanops.mining.waits import _sorted

    rng = np.random.default_rng(3)
    g = rng.integers(0, 5, 1000)
    v = rng.integers(-50, 50, 1000) * step  # whole seconds pack; halves take the argsort
    order, v_o, g_o = _sorted(g, v)
    np.testing.assert_array_equal(np.sort(order), np.arange(1000))  # a permutation
    np.testing.assert_array_equal(v[order], v_o)
    np.testing.assert_array_equal(g[order], g_o)
    assert (np.diff(g_o) >= 0).all() and (np.diff(v_o)[np.diff(g_o) == 0] >= 0).all()


@pytest.mark.parametrize("seed", range(4))
def test_blocked_passes_match_the_definitions_across_block_edges(monkeypatch, seed):
    # the passes that run in blocks of 1M rows on large logs, with blocks of a few rows,
    # against the plain definitions (and against themselves in one block)
    import leanops._pools as pools
    import leanops.evidence as evidence
    import leanops.mining.waits as waits

    rng = np.random.default_rng(100 + seed)
    n = 240
    a = rng.integers(0, 4, n)
    s = np.round(rng.random(n) * [50, 500, 5000, 50][seed], 0)
    e = s - np.round(rng.random(n) * 40, 0) * (rng.random(n) < 0.8)
    tol = [0.0, 1.0, 2.0, 5.0][seed]
    whole = (batch_waits(a, s, e, tol), overtaken_waits(a, s, e, e + batch_waits(a, s, e, tol)))
    for block in (1, 7, 64):
        monkeypatch.setattr(waits, "_BLOCK", block)
        bt = batch_waits(a, s, e, tol)
        np.testing.assert_array_equal(bt, _naive_batch(a, s, e, tol))
        np.testing.assert_array_equal(bt, whole[0])
        ov = overtaken_waits(a, s, e, e + bt)
        np.testing.assert_array_equal(ov, _naive_overtaken(a, s, e, e + bt))
        np.testing.assert_array_equal(ov, whole[1])

    # label busy time and the timestamp counts of the granularity rule
    c = rng.integers(0, 5, n).astype(np.int64)
    t0 = 1_600_000_000 * 10**9
    st = t0 + rng.integers(0, 10**6, n) * 10**9 * [1, 1, 60, 86400][seed]
    en = st + rng.integers(0, 5000, n) * 10**9 * (rng.random(n) > 0.2)
    if seed == 0:
        en[::17] += 123  # a few stamps off whole seconds
    monkeypatch.setattr(evidence, "_BLOCK", 5)
    k, total, merged = evidence._label_busy(c, st, en, 6)
    for lab in range(6):
        m = c == lab
        assert k[lab] == m.sum()
        assert merged[lab] == pytest.approx(float(_naive_union(st[m], en[m])), rel=1e-12, abs=0)
    for t in (st, en):
        sod, n_whole, n_min = evidence._stamp_counts(t)
        np.testing.assert_array_equal(sod, np.bincount((t // 10**9) % 86400, minlength=86400))
        assert n_whole == int((t % 10**9 == 0).sum())
        assert n_min == int(((t % 10**9 == 0) & ((t // 10**9) % 60 == 0)).sum())

    # (resource, activity) counts, some resources missing
    df = pd.DataFrame({"case_id": np.repeat([f"c{i}" for i in range(n // 4)], 4),
                       "activity": rng.choice(["a", "b", "c"], n),
                       "end": pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(np.arange(n), unit="min"),
                       "resource": rng.choice(["r1", "r2", None], n)})
    log = EventLog(df)
    monkeypatch.setattr(pools, "_BLOCK", 9)
    prof = pools.profiles(log)
    d = log.df.dropna(subset=["resource"])
    expect = pd.crosstab(d["resource"].astype(str), d["activity"]).reindex(index=prof.index, columns=prof.columns,
                                                                          fill_value=0)
    np.testing.assert_array_equal(prof.to_numpy(), expect.to_numpy())


@pytest.mark.parametrize("seed", range(9))
def test_segment_prefix_max_is_the_running_maximum_per_case(seed):
    # raising rows chain by chain, with chains longer than its rounds (the scan then
    # finishes the rest): the same as pandas' cumulative maximum per case
    from leanops.mining._steps import _same_case_masks, _segment_prefix_max

    rng = np.random.default_rng(200 + seed)
    n = int(rng.integers(1, 400))
    case = np.sort(rng.integers(0, max(1, n // int(rng.integers(1, 80))), n))
    v = [rng.integers(0, 20, n), np.cumsum(rng.integers(-3, 10, n)), -np.arange(n)][seed % 3].astype(np.int64)
    longest = int(np.bincount(case).max())
    got = _segment_prefix_max(v, _same_case_masks(case, longest))
    np.testing.assert_array_equal(got, pd.Series(v).groupby(case).cummax().to_numpy())


@pytest.mark.parametrize("block", [1, 3, 1 << 16])
def test_label_busy_spells_across_blocks(block, monkeypatch):
    # the packed (label, start, length) keys are read in blocks, the furthest end carried
    # across block edges: the same unions, and spells that cover exactly the union
    import leanops.evidence as ev

    monkeypatch.setattr(ev, "_KEY_BLOCK", block)
    rng = np.random.default_rng(block)
    n, labels = 300, 5
    c = rng.integers(0, labels, n).astype(np.int64)
    s = rng.integers(0, 10**5, n) * 10**9 + 1_600_000_000 * 10**9
    e = s + rng.integers(0, 3000, n) * 10**9 * (rng.random(n) > 0.2)
    spells = []
    _, _, merged = _label_busy(c, s, e, labels, spells=spells)
    lab, on, off = spells[0]
    for g in range(labels):
        m = c == g
        assert merged[g] == _naive_union(s[m], e[m])
        assert (off[lab == g] - on[lab == g]).sum() == merged[g]
        assert (on[lab == g][1:] >= off[lab == g][:-1]).all()  # disjoint, in time order
