"""Resource pools from activity-resource profiles (core, so calendars can use them).

A resource's profile is the share of its instances spent on each activity. Two resources
belong to the same pool when their profiles are similar (cosine similarity at least
``threshold``); pools are the connected groups of that relation. Resources that do the
same activities in similar proportions end up together; a resource that only helps out
occasionally elsewhere still joins the pool of its main work.

``leanops.mining.discover_pools`` is the public face of this.

:func:`resource_model` computes the codes, profiles and pools of a log once, as one
object cached on the log; the pools' calendars are learnt into it once, on first use
(by :mod:`leanops.mining.resources`, which sits above :mod:`leanops.calendar`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["resource_pools", "profiles", "resource_codes", "resource_model", "ResourceModel"]

#: Rows per block where a pass runs in blocks: a key as long as the log costs more in
#: fresh pages than the counting.
_BLOCK = 1 << 20


def resource_codes(log: Any) -> tuple[np.ndarray, list[str]]:
    """Per row, an int64 code of its resource (-1 where missing), and the names (sorted);
    cached on the log."""
    cached = log._cache.get("resource_codes")
    if cached is None:
        cached = _encode(log.df["resource"])
        log._cache["resource_codes"] = cached
    return cached


def _encode(col: pd.Series) -> tuple[np.ndarray, list[str]]:
    try:  # Arrow's dictionary encoding is several times faster than factorizing strings
        import pyarrow as pa
        import pyarrow.compute as pc

        arr = pa.array(col.array)
        if isinstance(arr, pa.ChunkedArray):
            arr = arr.combine_chunks()
        enc = pc.dictionary_encode(arr)
        names = [str(x) for x in enc.dictionary.to_pylist()]
        ind = enc.indices if enc.indices.null_count == 0 else pc.fill_null(enc.indices, -1)
        idx = ind.to_numpy(zero_copy_only=False)
    except Exception:
        codes, uniq = pd.factorize(col, sort=True, use_na_sentinel=True)
        return codes.astype(np.int64, copy=False), [str(x) for x in uniq]
    order = sorted(range(len(names)), key=names.__getitem__)
    rank = np.empty(len(names) + 1, dtype=np.int64)
    rank[np.array(order, dtype=np.int64)] = np.arange(len(names))
    rank[-1] = -1  # index -1 (missing) maps to -1
    codes = np.empty(len(idx), dtype=np.int64)
    for i in range(0, len(idx), _BLOCK):  # (in blocks: the int32 indices widen a block at a time)
        np.take(rank, idx[i:i + _BLOCK], out=codes[i:i + _BLOCK])
    return codes, [names[i] for i in order]


def profiles(log: Any) -> pd.DataFrame:
    """Instances per resource (rows) and activity (columns, all categories of the log's
    activity column); missing resources left out. Cached on the log: treat as read-only."""
    cached = log._cache.get("profiles")
    if cached is not None:
        return cached
    d = log.df
    r_codes, r_names = resource_codes(log)
    act = d["activity"].cat.codes.to_numpy()
    acts = [str(a) for a in d["activity"].cat.categories]
    n_r, n_a = len(r_names), len(acts)
    m = np.zeros(n_r * n_a, dtype=np.int64)
    for i in range(0, len(r_codes), _BLOCK):
        rc = r_codes[i:i + _BLOCK]
        key = np.multiply(rc, n_a, dtype=np.int64)
        key += act[i:i + _BLOCK]
        if rc.min() < 0:  # missing resources left out
            key = key[rc >= 0]
        m += np.bincount(key, minlength=n_r * n_a)
    m = m.reshape(n_r, n_a)
    out = pd.DataFrame(m, index=pd.Index([str(r) for r in r_names], name="resource"), columns=acts)
    log._cache["profiles"] = out
    return out


def _components(adj: np.ndarray) -> np.ndarray:
    """Connected-component labels of a symmetric boolean adjacency matrix."""
    labels = np.arange(len(adj))
    while True:  # propagate the smallest label along edges until nothing changes
        masked = np.where(adj, labels[None, :], len(adj))
        new = np.minimum(labels, masked.min(axis=1))
        new = new[new]  # pointer jumping speeds up long chains
        if np.array_equal(new, labels):
            return pd.factorize(labels)[0]
        labels = new


def _prefix(members: list[str]) -> str:
    if len(members) < 2:
        return ""
    p = os.path.commonprefix(members).rstrip("0123456789_-. #")
    return p if len(p) >= 2 else ""


def _pool_name(members: list[str], prof: pd.DataFrame, taken: set[str], prefix: str) -> str:
    if len(members) == 1:
        name = members[0]
    elif prefix:
        name = prefix
    else:
        top = prof.loc[members].sum().sort_values(ascending=False)
        top = top[top > 0]
        name = "+".join(str(a) for a in top.index[:2]) + " team"
    base, k = name, 2
    while name in taken:
        name = f"{base} ({k})"
        k += 1
    taken.add(name)
    return name


def resource_pools(log: Any, *, threshold: float = 0.8, profile: pd.DataFrame | None = None) -> dict[str, str]:
    """Map each resource to a pool name (see the module docstring).

    ``profile`` (as returned by :func:`profiles`) replaces ``log`` when given: the
    out-of-core engines count it without loading the log.
    """
    prof = profiles(log) if profile is None else profile
    n = len(prof)
    if n == 0:
        return {}
    x = prof.to_numpy(dtype=np.float64)
    norm = np.linalg.norm(x, axis=1)
    x = x / np.where(norm > 0, norm, 1.0)[:, None]
    if n <= 4000:
        labels = _components((x @ x.T) >= threshold - 1e-12)
    else:  # too many resources for a full similarity matrix: group by main activity set
        key = [tuple(np.flatnonzero(row >= 0.3)) for row in x]
        labels = pd.factorize(pd.Series(key))[0]
    members: dict[int, list[str]] = {}
    for r, lab in zip(prof.index, labels):
        members.setdefault(int(lab), []).append(str(r))
    taken: set[str] = set()
    out: dict[str, str] = {}
    # a member-name prefix names a pool only when no other pool shares it
    prefixes = {lab: _prefix(m) for lab, m in members.items()}
    shared = pd.Series(list(prefixes.values())).value_counts()
    prefixes = {lab: (p if p and shared[p] == 1 else "") for lab, p in prefixes.items()}
    # name the biggest pools first, so they get the plain names
    for lab in sorted(members, key=lambda k: (-len(members[k]), members[k][0])):
        name = _pool_name(members[lab], prof, taken, prefixes[lab])
        for r in members[lab]:
            out[r] = name
    return out


@dataclass(eq=False)
class ResourceModel:
    """A log's resources, once: per-row codes, names, activity profiles, pools (at one
    ``threshold``) and, once learnt, a calendar per pool. Treat as read-only."""

    codes: np.ndarray
    names: list[str]
    profile: pd.DataFrame
    pools: dict[str, str]
    threshold: float
    #: pool -> Calendar, learnt on first use (see leanops.mining.resources)
    calendars: dict[str, Any] | None = field(default=None, repr=False)


def resource_model(log: Any, *, threshold: float = 0.8) -> ResourceModel:
    """The :class:`ResourceModel` of ``log`` at ``threshold``, computed once and cached."""
    key = ("resource_model", float(threshold))
    rm = log._cache.get(key)
    if rm is None:
        codes, names = resource_codes(log)
        rm = ResourceModel(codes, names, profiles(log), resource_pools(log, threshold=threshold), float(threshold))
        log._cache[key] = rm
    return rm
