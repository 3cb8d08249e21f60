"""The busy spells shared by the role detection and the bottleneck grid.

``evidence._label_busy`` merges each resource's exact intervals into spells; the
bottleneck grid counts busy members either from those spells (rounded to bins) or by
merging the instances' bins itself (``_merged_packed``). The two must give the same grid,
and ``bottlenecks`` the same table with or without the shared spells.
"""

from __future__ import annotations

import importlib

import numpy as np
import pandas as pd
import pytest

import leanops
from leanops.evidence import _label_busy, role_resources, roles_and_spells
from leanops.mining.performance import _seconds_since

bn = importlib.import_module("leanops.mining.bottlenecks")  # (the package exports a function of that name)


def _to_bin(t, lo, width, n_bins):
    x = np.subtract(t, lo - 0.5 * width)
    x /= width
    np.clip(x, 0, n_bins, out=x)
    return x.astype(np.int64)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("unit", [1, 10**9])
def test_spells_give_the_grid_of_the_merged_bins(seed, unit):
    # ties, touching and zero-length intervals, in ns or whole seconds
    rng = np.random.default_rng(seed)
    n, labels, n_bins = 600, 9, 257
    c = rng.integers(0, labels, n).astype(np.int64)
    s = rng.integers(0, 5000, n) * unit * 10**6 + 1_700_000_000 * 10**9
    e = s + rng.integers(0, 60, n) * unit * 10**6 * (rng.random(n) > 0.15)
    e[::7] = s[1::7][: len(e[::7])] if len(s[1::7]) >= len(e[::7]) else e[::7]  # some end where another starts
    e = np.maximum(e, s)
    spells: list = []
    _label_busy(c, s, e, labels, spells=spells)
    code, on, off = spells[0]
    assert (off >= on).all()
    origin = int(s.min())
    lo, hi = 0.0, float(_seconds_since(e, origin).max())
    width = (hi - lo) / n_bins
    lut = np.array([i % 4 for i in range(labels)] + [-1], dtype=np.int64)  # four pools
    want = bn._busy_grid(c, lut, _to_bin(_seconds_since(s, origin), lo, width, n_bins),
                         _to_bin(_seconds_since(e, origin), lo, width, n_bins), 4, n_bins)
    got = bn._spell_grid(code, lut, _to_bin(_seconds_since(on, origin), lo, width, n_bins),
                         _to_bin(_seconds_since(off, origin), lo, width, n_bins), 4, n_bins)
    np.testing.assert_array_equal(got, want)
    # and the grid is the members at work: a resource counts once per bin however many
    # of its instances cover it
    assert want.max() <= np.bincount(lut[:-1], minlength=4).max()


@pytest.mark.parametrize("name", ["production"])
def test_bottlenecks_same_with_and_without_shared_spells(name, monkeypatch):
    src = leanops.datasets.load(name)
    log, fresh = (leanops.EventLog(src.df.copy(), source=k) for k in ("a", "b"))
    calls = []
    orig = bn._busy_grid
    monkeypatch.setattr(bn, "_busy_grid", lambda *a, **k: calls.append(1) or orig(*a, **k))
    with_spells = bn.bottlenecks(log)
    assert not calls  # the grid read the role detection's spells
    # without: the role detection ran before (cached), so no spells come with the roles
    role_resources(fresh)
    assert roles_and_spells(fresh)[1] is None
    without = bn.bottlenecks(fresh)
    assert calls  # the grid merged the instances' bins itself
    pd.testing.assert_frame_equal(with_spells.table, without.table)
    pd.testing.assert_frame_equal(with_spells.queue_over_time, without.queue_over_time)


def test_no_spells_when_some_row_has_no_start_or_no_resource():
    # completion-only (starts estimated), and a log with a row without a resource: the
    # spells would not cover every row of the batch
    roles, spells = roles_and_spells(leanops.datasets.load("helpdesk"))
    assert spells is None
    d = leanops.datasets.load("production").df.copy()
    d.loc[3, "resource"] = None
    assert roles_and_spells(leanops.EventLog(d, source="x"))[1] is None
    roles, spells = roles_and_spells(leanops.EventLog(leanops.datasets.load("production").df.copy(), source="y"))
    assert spells is not None and len(spells[0]) > 0
