"""The bottleneck grid's tables, built in place (no second table as large).

``_grid_coverage`` counts, per group and bin, the ranges covering it, and returns the
counts as one contiguous float table written over its own integer buffer;
``_pool_grid`` overwrites the busy table and reads the pools' working shares as rows
that pools with the same calendar share. Both are checked against plain loops.
"""

from __future__ import annotations

import importlib

import numpy as np
import pytest

bn = importlib.import_module("leanops.mining.bottlenecks")  # (the package exports a function of that name)


def _naive_coverage(group, b0, b1, n_groups, n_bins):
    out = np.zeros((n_groups, n_bins))
    for g, a, b in zip(group, b0, b1):
        out[g, a:b] += 1  # an end at or before the start covers nothing
    return out


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("n_groups,n_bins", [(1, 7), (3, 50), (4, 70_000)])
def test_grid_coverage_counts_the_ranges_over_each_bin(seed, n_groups, n_bins):
    # (70,000 bins: more than one block of the in-place cast per row)
    rng = np.random.default_rng(seed)
    n = 400
    group = rng.integers(0, n_groups, n)
    b0 = rng.integers(0, n_bins + 1, n)
    b1 = np.minimum(b0 + rng.integers(0, max(2, n_bins // 3), n), n_bins)
    b1[::9] = b0[::9]  # empty ranges
    want = _naive_coverage(group, b0, b1, n_groups, n_bins)
    base = group * (n_bins + 1)
    got = bn._grid_coverage(base + b0, base + b1, n_groups, n_bins)
    assert got.dtype == np.float64 and got.shape == (n_groups, n_bins)
    assert got.flags.c_contiguous
    np.testing.assert_array_equal(got, want)


def test_grid_coverage_by_hand():
    # group 0: [1, 3) and [2, 4); group 1: [0, 5) and an empty [2, 2); 5 bins
    got = bn._grid_coverage(np.array([1, 2, 6 + 0, 6 + 2]), np.array([3, 4, 6 + 5, 6 + 2]), 2, 5)
    np.testing.assert_array_equal(got, [[0, 1, 2, 1, 0], [1, 1, 1, 1, 1]])


def test_pool_grid_with_shared_calendar_rows():
    # pools 0 and 2 share one calendar row (the same object), pool 1 has its own
    office = np.array([0.0, 1.0, 1.0, 0.5])
    always = np.ones(4)
    busy = np.array([[0.0, 2, 3, 1], [1, 1, 0, 2], [4, 4, 4, 4]])
    size = np.array([2.0, 2.0, 0.0])
    full, util = bn._pool_grid(busy.copy(), size, [office, always, office])
    np.testing.assert_array_equal(full, busy >= np.maximum(size, 1.0)[:, None])
    # pool 0: busy working time min(busy, 2) * office = 0 + 2 + 2 + 0.5 over 2 * 2.5 available
    assert util[0] == pytest.approx(4.5 / 5.0)
    # pool 1: (1 + 1 + 0 + 2) over 2 * 4
    assert util[1] == pytest.approx(0.5)
    # pool 2: no member known, no working time available: unmeasurable
    assert np.isnan(util[2])
