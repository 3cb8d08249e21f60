"""Exact quantiles from (value, count) tables: one rule for every engine.

numpy's default (linear) quantile of ``m`` sorted values at ``q`` lies between the order
statistics at ranks ``floor(q (m - 1))`` and one above (capped at ``m - 1``), at the
fraction ``q (m - 1) - floor(q (m - 1))`` of the way. The out-of-core engines never hold
the values, only frequency tables (value, n): DuckDB finds the two order statistics with
running counts in SQL (:data:`SQL_ORDER_STATS`), Dask merges the partitions' tables and
finds them here (:func:`quantiles_from_freq`); both interpolate with :func:`interpolate`.
The pandas engine calls numpy on the values themselves, which this reproduces.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["QUANTILES", "SQL_ORDER_STATS", "interpolate", "quantiles_from_freq"]

#: The quantiles every engine reports (median and p90).
QUANTILES = (0.5, 0.9)

# DuckDB: over rows (v, cum = running count in v order, m = group size), the two order
# statistics either side of each quantile, as columns a50, b50, a90, b90
SQL_ORDER_STATS = ",\n".join(
    f"min(v) FILTER (WHERE cum > floor({q} * (m - 1))) AS a{int(q * 100)},\n"
    f"min(v) FILTER (WHERE cum > least(floor({q} * (m - 1)) + 1, m - 1)) AS b{int(q * 100)}"
    for q in QUANTILES
)


def interpolate(m: np.ndarray, lo: np.ndarray, hi: np.ndarray, q: float) -> np.ndarray:
    """The ``q`` quantile of groups of ``m`` values whose order statistics at ranks
    ``floor(q (m - 1))`` and one above are ``lo`` and ``hi``.

    >>> interpolate(np.array([4.0]), np.array([20.0]), np.array([30.0]), 0.5)
    array([25.])
    """
    pos = q * (np.asarray(m, dtype=np.float64) - 1)
    frac = pos - np.floor(pos)
    lo = np.asarray(lo, dtype=np.float64)
    hi = np.asarray(hi, dtype=np.float64)
    return np.where(frac == 0, lo, lo + (hi - lo) * frac)


def quantiles_from_freq(freq: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Exact median and p90 per group of ``keys`` from (value ``v``, count ``n``) rows,
    values possibly repeated (as from several partitions): ``keys + ["q"]``, ``q`` holding
    ``(median, p90)``, groups in key order.

    >>> f = pd.DataFrame({"k": ["a", "a", "a", "b"], "v": [10.0, 30.0, 10.0, 5.0], "n": [1, 2, 1, 3]})
    >>> quantiles_from_freq(f, ["k"]).to_dict("records")
    [{'k': 'a', 'q': (20.0, 30.0)}, {'k': 'b', 'q': (5.0, 5.0)}]
    """
    if not len(freq):
        return pd.DataFrame(columns=keys + ["q"])
    f = freq.groupby(keys + ["v"], sort=False, dropna=False)["n"].sum().reset_index()
    f = f.sort_values(keys + ["v"], kind="stable").reset_index(drop=True)
    gid = f.groupby(keys, sort=False, dropna=False).ngroup().to_numpy()
    starts = np.flatnonzero(np.r_[True, gid[1:] != gid[:-1]])
    v = f["v"].to_numpy(dtype=np.float64)
    cum = np.cumsum(f["n"].to_numpy(dtype=np.int64))
    base = np.r_[0, cum[starts[1:] - 1]]  # running count before each group
    m = np.r_[cum[starts[1:] - 1], cum[-1]] - base
    qs = []
    for q in QUANTILES:
        lo = np.floor(q * (m - 1)).astype(np.int64)
        hi = np.minimum(lo + 1, m - 1)
        # the first row whose running count passes the rank: the order statistic
        a = v[np.searchsorted(cum, base + lo, side="right")]
        b = v[np.searchsorted(cum, base + hi, side="right")]
        qs.append(interpolate(m, a, b, q))
    out = pd.DataFrame({k: f[k].to_numpy()[starts].tolist() for k in keys})
    out["q"] = [(float(x), float(y)) for x, y in zip(*qs)]
    return out
