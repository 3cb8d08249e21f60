"""Exact quantiles from (value, count) tables (mining/_quantiles.py) against numpy on the
expanded values: the one rule the DuckDB and Dask engines share."""

from __future__ import annotations

import numpy as np
import pandas as pd

from leanops.mining._quantiles import QUANTILES, interpolate, quantiles_from_freq


def test_quantiles_from_freq_match_numpy_on_the_expanded_values():
    rng = np.random.default_rng(7)
    for _ in range(50):
        n = int(rng.integers(1, 40))
        # repeated (key, value) rows, as when several partitions' tables are merged
        f = pd.DataFrame({"k": rng.choice(["a", "b", "c"], n), "v": rng.integers(0, 12, n) * 60.0,
                          "n": rng.integers(1, 4, n)})
        got = quantiles_from_freq(f, ["k"]).set_index("k")["q"]
        for k, g in f.groupby("k"):
            values = np.repeat(g["v"].to_numpy(), g["n"].to_numpy())
            want = tuple(float(np.quantile(values, q)) for q in QUANTILES)
            assert np.allclose(got[k], want), (k, got[k], want)


def test_single_value_and_empty_tables():
    one = quantiles_from_freq(pd.DataFrame({"k": ["x"], "v": [3.0], "n": [1]}), ["k"])
    assert one["q"].tolist() == [(3.0, 3.0)]
    empty = quantiles_from_freq(pd.DataFrame(columns=["k", "v", "n"]), ["k"])
    assert list(empty.columns) == ["k", "q"] and len(empty) == 0


def test_interpolate_between_order_statistics():
    # 11 values: the p90 is at rank 9 exactly; 4 values: the median halfway between ranks 1 and 2
    assert interpolate(np.array([11]), np.array([9.0]), np.array([10.0]), 0.9)[0] == 9.0
    assert interpolate(np.array([4]), np.array([2.0]), np.array([3.0]), 0.5)[0] == 2.5
