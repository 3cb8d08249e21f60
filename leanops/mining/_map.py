"""The process map from totals: one implementation behind every engine.

Each engine reduces its activity instances to *parts*: per activity, per path (a
directly-follows pair) and per first/last activity, counts and sums that add up over
parts holding disjoint sets of cases. The pandas engine has one part (the whole log);
DuckDB one per case partition (or the whole log); Dask one per partition, on its worker.
:func:`merge_parts` adds parts up and :func:`map_tables` turns the totals, with the
exact median and p90 of each group (:mod:`leanops.mining._quantiles`), into the map's
tables: the means, the wait basis, the order and the start/end activities are computed
here only, so the engines cannot drift apart.

Part tables (durations in nanoseconds):

* ``nodes``: ``activity, count, cases, svc_sum, svc_n`` (``svc_*`` over instances with
  a start time; ``svc_sum`` NaN where there are none)
* ``edges``: ``source, target, count, cases, w_sum, with_start``
* ``ends``: ``activity, n_first, n_last``

``cases`` counts distinct cases; it adds up because a case lies in one part. Quantile
tables: ``activity, median, p90`` for nodes and ``source, target, median, p90`` for edges.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["PART_KEYS", "merge_parts", "map_tables", "q_table", "split_q", "activities_covering", "keep_note", "NODE_COLUMNS",
           "EDGE_COLUMNS"]

NODE_COLUMNS = ["activity", "count", "cases", "service_mean_s", "service_median_s", "service_p90_s"]
EDGE_COLUMNS = ["source", "target", "count", "cases", "wait_mean_s", "wait_median_s", "wait_p90_s", "wait_basis"]

#: The group keys of each part table.
PART_KEYS = {"nodes": ["activity"], "edges": ["source", "target"], "ends": ["activity"]}

_NS = 1e9


def merge_parts(parts: list[dict[str, pd.DataFrame]]) -> dict[str, pd.DataFrame]:
    """Add up the part tables of parts with disjoint cases (key order: first seen).

    >>> a = {"nodes": pd.DataFrame({"activity": ["x"], "count": [2], "cases": [1], "svc_sum": [np.nan], "svc_n": [0]}),
    ...      "edges": pd.DataFrame({"source": ["x"], "target": ["x"], "count": [1], "cases": [1], "w_sum": [5.0],
    ...                             "with_start": [0]}),
    ...      "ends": pd.DataFrame({"activity": ["x"], "n_first": [1], "n_last": [1]})}
    >>> merge_parts([a, a])["nodes"].to_dict("records")
    [{'activity': 'x', 'count': 4, 'cases': 2, 'svc_sum': nan, 'svc_n': 0}]
    """
    if len(parts) == 1:
        return {name: parts[0][name] for name in PART_KEYS}
    out = {}
    for name, keys in PART_KEYS.items():
        cat = pd.concat([p[name] for p in parts], ignore_index=True)
        # min_count: a sum over no instance with a start stays NaN, as in each part
        out[name] = cat.groupby(keys, sort=False).sum(min_count=1).reset_index()
    return out


def split_q(frame: pd.DataFrame, col: str) -> tuple[np.ndarray, np.ndarray]:
    """(median, p90) arrays from a column of (median, p90) pairs (NaN where missing), as
    the out-of-core engines find them."""
    q = [v if isinstance(v, (list, tuple, np.ndarray)) and len(v) == 2 else None for v in frame[col].to_list()]
    med = np.array([np.nan if v is None or v[0] is None else v[0] for v in q], dtype=float)
    p90 = np.array([np.nan if v is None or v[1] is None else v[1] for v in q], dtype=float)
    return med, p90


def q_table(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """A quantile table (``keys, median, p90``) from ``keys + ["q"]`` rows.

    >>> q_table(pd.DataFrame({"k": ["a", "b"], "q": [(1.0, 2.0), None]}), ["k"]).to_dict("records")
    [{'k': 'a', 'median': 1.0, 'p90': 2.0}, {'k': 'b', 'median': nan, 'p90': nan}]
    """
    out = frame[keys].reset_index(drop=True)
    out["median"], out["p90"] = split_q(frame, "q")
    return out


def _quantile_columns(frame: pd.DataFrame, q: pd.DataFrame | None, keys: list[str]) -> tuple[np.ndarray, np.ndarray]:
    if q is None or not len(q):
        return np.full(len(frame), np.nan), np.full(len(frame), np.nan)
    if len(q) == len(frame) and all(np.array_equal(frame[k].to_numpy(dtype=object), q[k].to_numpy(dtype=object))
                                    for k in keys):  # already aligned (the in-memory engine): no join
        return q["median"].to_numpy(dtype=float), q["p90"].to_numpy(dtype=float)
    m = frame[keys].merge(q, on=keys, how="left")
    return m["median"].to_numpy(dtype=float), m["p90"].to_numpy(dtype=float)


def _name_rank(names: np.ndarray) -> np.ndarray:
    """Each name's dense rank in name order (Python string order, as pandas sorts)."""
    if not len(names):
        return np.zeros(0, dtype=np.int64)
    return np.unique(names, return_inverse=True)[1].astype(np.int64).ravel()


def map_tables(totals: dict[str, pd.DataFrame], node_q: pd.DataFrame | None, edge_q: pd.DataFrame | None
               ) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, int], dict[str, int]]:
    """``(nodes, edges, start_activities, end_activities)`` of the map from merged totals
    and quantile tables, most frequent first (ties by name)."""
    nd, ed, en = totals["nodes"], totals["edges"], totals["ends"]
    med, p90 = _quantile_columns(nd, node_q, ["activity"])
    act = np.array([str(a) for a in nd["activity"]], dtype=object)
    count = nd["count"].to_numpy(dtype=np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        svc_mean = nd["svc_sum"].to_numpy(dtype=float) / nd["svc_n"].to_numpy(dtype=float)
    o = np.lexsort((_name_rank(act), -count))
    nodes = pd.DataFrame(
        {"activity": act[o], "count": count[o], "cases": nd["cases"].to_numpy(dtype=np.int64)[o],
         "service_mean_s": svc_mean[o] / _NS, "service_median_s": med[o] / _NS, "service_p90_s": p90[o] / _NS},
    )  # (in NODE_COLUMNS order: naming columns= makes pandas rebuild the frame)
    wmed, wp90 = _quantile_columns(ed, edge_q, ["source", "target"])
    src = np.array([str(a) for a in ed["source"]], dtype=object)
    tgt = np.array([str(a) for a in ed["target"]], dtype=object)
    cnt = ed["count"].to_numpy(dtype=np.int64)
    ws = ed["with_start"].to_numpy(dtype=np.int64)
    basis = np.where(ws == cnt, "start", np.where(ws == 0, "end", "mixed")).astype(object)
    with np.errstate(invalid="ignore", divide="ignore"):
        w_mean = ed["w_sum"].to_numpy(dtype=float) / cnt
    o = np.lexsort((_name_rank(tgt), _name_rank(src), -cnt))
    edges = pd.DataFrame(
        {"source": src[o], "target": tgt[o], "count": cnt[o], "cases": ed["cases"].to_numpy(dtype=np.int64)[o],
         "wait_mean_s": w_mean[o] / _NS, "wait_median_s": wmed[o] / _NS, "wait_p90_s": wp90[o] / _NS,
         "wait_basis": basis[o]},
    )
    names = [str(a) for a in en["activity"]]

    def ranked(col: str) -> dict[str, int]:
        pairs = [(a, int(n)) for a, n in zip(names, en[col].tolist()) if n > 0]
        return dict(sorted(pairs, key=lambda kv: (-kv[1], kv[0])))

    return nodes, edges, ranked("n_first"), ranked("n_last")


def activities_covering(counts: Iterable[tuple[Any, Any]], share: float) -> tuple[list[str], int, float]:
    """The activity slider: the most frequent activities (ties by name) that together
    cover ``share`` of the instances (always at least one), from (activity, count) pairs
    (repeated activities add up); with the number of activities and the kept share.

    >>> activities_covering([("a", 6), ("b", 3), ("c", 1), ("a", 2)], 0.8)
    (['a', 'b'], 3, 0.9166666666666666)
    """
    tot: dict[str, int] = {}
    for a, n in counts:
        if int(n) > 0:
            tot[str(a)] = tot.get(str(a), 0) + int(n)
    order = sorted(tot.items(), key=lambda kv: (-kv[1], kv[0]))
    total = sum(n for _, n in order)
    keep, acc = [], 0
    for a, n in order:
        if acc >= share * total - 1e-9 and keep:
            break
        keep.append(a)
        acc += n
    return keep, len(order), acc / total if total else 0.0


def keep_note(n_keep: int, n_all: int, share: float, dropped_cases: int) -> str:
    """What the activity slider did, in words."""
    return (f"activities: kept the {n_keep} most frequent of {n_all} activities "
            f"({share:.1%} of instances); the others are abstracted away"
            + (f"; {dropped_cases:,} cases with none of them are not shown" if dropped_cases else ""))
