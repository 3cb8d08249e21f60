"""Process graphs: the directly-follows graph with frequency and performance.

Rules (also in :func:`discover`'s docstring):

* Instances in a case are ordered by start, falling back to end (the EventLog's order).
  An edge ``a -> b`` counts every pair of consecutive instances of a case.
* The wait on an edge is ``start(b) - end(a)``. Where ``b`` overlaps ``a`` (parallel
  work, so ``b`` starts before ``a`` ends) the wait is 0, never negative. Where ``b`` has
  no start time the wait is measured end to end, ``end(b) - end(a)``, which includes
  ``b``'s own processing; each edge says which basis it used (``wait_basis``).
* Service time of a node is ``end - start`` over the instances that have a start.
* Every case enters through the artificial start node ``●`` and leaves through the
  artificial end node ``■``; :attr:`ProcessGraph.start_activities` and
  :attr:`ProcessGraph.end_activities` count those transitions per activity.
"""

from __future__ import annotations

import os

import heapq
import html
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from .._validation import check_fraction, check_log, check_positive
from ..errors import InputError
from ..log import EventLog
from ._engine import Engine, dispatch as _dispatch
from ._map import EDGE_COLUMNS, activities_covering, keep_note, map_tables
from ._steps import NAT
from .render import END, START

__all__ = ["ProcessGraph", "discover", "START", "END"]


Overlay = Literal["frequency", "performance"]

_NS = 1e9


@dataclass(frozen=True, repr=False, eq=False)
class ProcessGraph:
    """A directly-follows graph with frequency and performance, as returned by :func:`discover`.

    Attributes
    ----------
    nodes : pandas.DataFrame
        One row per activity: ``activity, count, cases, service_mean_s,
        service_median_s, service_p90_s`` (service times NaN where no instance has a
        start time). Most frequent first.
    edges : pandas.DataFrame
        One row per directly-follows relation between activities: ``source, target,
        count, cases, wait_mean_s, wait_median_s, wait_p90_s, wait_basis``. ``wait_basis``
        is ``"start"`` (end of source to start of target), ``"end"`` (end to end, where
        the target has no start time) or ``"mixed"``. Most frequent first. The
        transitions from ``●`` and to ``■`` are in ``start_activities``/``end_activities``.
    start_activities, end_activities : dict
        Activity -> number of cases that start (end) with it.
    n_cases, n_events : int
        Cases and activity instances the graph was built from (after simplification).
    wait_basis : str
        ``"start"``, ``"end"`` or ``"mixed"`` over all edges (``"none"`` without edges).
    notes : tuple of str
        What simplification did, in words.
    """

    nodes: pd.DataFrame
    edges: pd.DataFrame
    start_activities: dict[str, int]
    end_activities: dict[str, int]
    n_cases: int
    n_events: int
    wait_basis: str = "none"
    notes: tuple[str, ...] = ()
    activities_share: float | None = None
    paths_share: float | None = None
    _log: EventLog | None = field(default=None, compare=False)
    _svg: dict = field(default_factory=dict, compare=False)  # notebook reprs render once

    # ------------------------------------------------------------------ views
    def to_frame(self) -> pd.DataFrame:
        """The edges, including the artificial ``●``/``■`` transitions, as one table."""
        extra = [
            {"source": START, "target": a, "count": n, "cases": n} for a, n in self.start_activities.items()
        ] + [{"source": a, "target": END, "count": n, "cases": n} for a, n in self.end_activities.items()]
        return pd.concat([self.edges, pd.DataFrame(extra, columns=EDGE_COLUMNS[:4])], ignore_index=True)

    def to_networkx(self):
        """A ``networkx.DiGraph``: activity nodes and edges with their statistics as attributes.

        The artificial nodes ``●`` and ``■`` are included, with ``artificial=True``.
        """
        import networkx as nx

        g = nx.DiGraph()
        g.add_node(START, artificial=True, count=self.n_cases)
        g.add_node(END, artificial=True, count=self.n_cases)
        for row in self.nodes.to_dict(orient="records"):
            g.add_node(row.pop("activity"), artificial=False, **row)
        for row in self.edges.to_dict(orient="records"):
            g.add_edge(row.pop("source"), row.pop("target"), **row)
        for a, n in self.start_activities.items():
            g.add_edge(START, a, count=n, cases=n)
        for a, n in self.end_activities.items():
            g.add_edge(a, END, count=n, cases=n)
        return g

    def to_json(self) -> dict[str, Any]:
        """The ``leanops discover --json`` document (durations in seconds)."""
        from .._json import jsonable

        return jsonable(
            {
                "cases": self.n_cases,
                "events": self.n_events,
                "nodes": self.nodes,
                "edges": self.edges,
                "start_activities": self.start_activities,
                "end_activities": self.end_activities,
                "start_node": START,
                "end_node": END,
                "wait_basis": self.wait_basis,
                "activities_share": self.activities_share,
                "paths_share": self.paths_share,
                "notes": list(self.notes),
            }
        )

    # --------------------------------------------------------- simplification
    def simplify(self, *, activities: float | None = None, paths: float | None = None) -> "ProcessGraph":
        """The same log's graph with the sliders set to ``activities`` and ``paths``.

        See :func:`discover` for their meaning.
        """
        if self._log is None:
            raise InputError("simplify needs the log the graph was discovered from; call leanops.discover(log, activities=..., paths=...).")
        return discover(self._log, activities=activities, paths=paths)

    def display(self, *, max_nodes: int = 60) -> "ProcessGraph":
        """The graph to draw: itself when it has at most ``max_nodes`` activities, else a
        simplified graph (the ``max_nodes`` most frequent activities, the most frequent
        paths) whose ``notes`` say what was left out."""
        max_nodes = int(check_positive("max_nodes", max_nodes, integer=True))
        n = len(self.nodes)
        if n <= max_nodes and len(self.edges) <= 4 * max(max_nodes, 1):
            return self
        if self._log is None:
            raise InputError(f"the graph has {n} activities, more than max_nodes={max_nodes}; discover it with activities= to simplify it.")
        keep = list(self.nodes["activity"].iloc[: min(n, max_nodes)])
        g = _discover(self._log, keep=keep, paths=self.paths_share, max_edges=3 * len(keep), activities_share=self.activities_share)
        note = (
            f"simplified for display: {len(g.nodes)} of {n} activities ({g.n_events / max(self.n_events, 1):.0%} "
            f"of instances) and {len(g.edges)} of {len(self.edges)} paths shown; "
            f"use max_nodes= or activities=/paths= to change this"
        )
        return replace(g, notes=self.notes + (note,), _svg={})

    # -------------------------------------------------------------- rendering
    def to_dot(self, *, overlay: Overlay = "frequency", max_nodes: int = 60) -> str:
        """Graphviz dot source of the map (labels escaped). See :meth:`render`."""
        from .render import to_dot

        return to_dot(self.display(max_nodes=max_nodes), overlay=overlay)

    def render(
        self,
        path: str | Path,
        *,
        overlay: Overlay = "frequency",
        format: Literal["svg", "png", "dot"] | None = None,  # noqa: A002 - mirrors graphviz
        max_nodes: int = 60,
    ) -> Path:
        """Draw the process map to ``path`` (SVG or PNG, from the suffix or ``format``).

        Edge width follows frequency and edge colour the mean wait; nodes show their
        count and mean service time. ``overlay="performance"`` labels the edges with the
        mean wait instead of the count. Graphs with more than ``max_nodes`` activities are
        simplified first, and the picture says so. Uses the system ``dot`` if present,
        else the ``graphviz-pure`` binary installed with leanops.
        """
        from .render import render

        return render(self.display(max_nodes=max_nodes), path, overlay=overlay, format=format)

    def to_svg(self, *, overlay: Overlay = "frequency", max_nodes: int = 60) -> str:
        """The map as an SVG string."""
        from .render import to_svg

        return to_svg(self.display(max_nodes=max_nodes), overlay=overlay)

    def _repr_svg_(self) -> str | None:
        if "default" not in self._svg:
            try:
                self._svg["default"] = self.to_svg()
            except Exception:  # a notebook falls back to the text repr
                self._svg["default"] = None
        return self._svg["default"]

    def _repr_html_(self) -> str:
        head = html.escape(repr(self))
        svg = self._repr_svg_()
        if svg:
            svg = svg[svg.find("<svg") :]
        return f"<div><div>{head}</div>{svg or ''}</div>"

    def plot(self, *, overlay: Overlay = "frequency", ax=None, max_nodes: int = 60):
        """Show the map in a matplotlib axes (rendered to PNG by graphviz)."""
        import io

        import matplotlib.image as mpimg
        import matplotlib.pyplot as plt

        from .render import to_png

        png = to_png(self.display(max_nodes=max_nodes), overlay=overlay)
        if ax is None:
            _, ax = plt.subplots(figsize=(8, 10))
        ax.imshow(mpimg.imread(io.BytesIO(png), format="png"))
        ax.set_axis_off()
        return ax

    def __str__(self) -> str:
        """The ``leanops discover`` text: counts, notes and the ten busiest paths.

        >>> import leanops
        >>> print(str(leanops.discover(leanops.datasets.load("production"))).splitlines()[0])
        225 cases, 4,953 activity instances, 26 activities, 192 paths
        """
        from .render import format_duration

        def clean(name: str) -> str:  # activity names are untrusted: no control characters on a terminal
            return "".join(ch if ch.isprintable() else " " for ch in name)

        lines = [f"{self.n_cases:,} cases, {self.n_events:,} activity instances, {len(self.nodes)} activities, {len(self.edges)} paths"]
        lines += [f"note: {note}" for note in self.notes]
        basis = {"end": " (end to end: no start times)", "mixed": " (end to end where a start is missing)"}.get(self.wait_basis, "")
        lines.append(f"\nbusiest paths{basis}:")
        for row in self.edges.head(10).itertuples(index=False):
            lines.append(f"  {clean(row.source)} -> {clean(row.target)}: {row.count:,} (mean wait {format_duration(row.wait_mean_s)})")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (
            f"<ProcessGraph: {len(self.nodes)} activities, {len(self.edges)} paths, "
            f"{self.n_cases:,} cases, {self.n_events:,} instances>"
        )


# ---------------------------------------------------------------- discovery
def discover(log: EventLog | str | os.PathLike, *, activities: float | None = None, paths: float | None = None,
             engine: Engine = "auto", scheduler: str | None = None) -> ProcessGraph:
    """Discover the process map: a directly-follows graph with frequency and performance.

    Parameters
    ----------
    log : EventLog
    activities : float in (0, 1], optional
        Keep the most frequent activities that together cover this share of the
        instances (like a map's activity slider). The other activities are abstracted
        away: their instances are removed and their neighbours connected directly, so
        every kept activity stays on a path from ``●`` to ``■`` (the wait on such a
        bridging edge includes the time spent in the activities abstracted away).
    paths : float in (0, 1], optional
        Keep the most frequent paths (including those from ``●`` and to ``■``) that
        together cover this share of the transitions. Paths needed to keep every kept
        activity reachable from ``●`` and able to reach ``■`` are always kept.

    engine : {"auto", "pandas", "duckdb", "dask"}, default "auto"
        ``log`` may also be a canonical Parquet file or directory (:func:`leanops.convert`)
        or a :func:`leanops.scan`; "auto" then computes out of core in DuckDB. "dask" runs
        on the cluster at ``scheduler``. The results are identical to the pandas engine's.
    scheduler : str, optional
        A Dask scheduler address such as ``tcp://host:8786`` (implies ``engine="dask"``).

    Returns
    -------
    ProcessGraph
        ``.nodes`` and ``.edges`` tables, start/end activities, ``.to_json()``,
        ``.render(path)``, ``.to_networkx()``.

    Notes
    -----
    Instances are ordered by start, falling back to end. The wait on an edge ``a -> b``
    is ``start(b) - end(a)``, and 0 where the two overlap (parallel work). Where ``b``
    has no start time it is ``end(b) - end(a)`` and the edge's ``wait_basis`` is
    ``"end"``. Medians and the p90 are exact (linear interpolation, as numpy and
    DuckDB's ``quantile_cont``).

    Examples
    --------
    >>> import leanops
    >>> g = leanops.discover(leanops.datasets.load("production"))
    >>> g.n_cases, int(g.nodes["count"].sum())
    (225, 4953)
    >>> sum(g.start_activities.values())
    225
    """
    if not (isinstance(log, EventLog) and engine in ("auto", "pandas") and scheduler is None):
        return _dispatch("discover", log, engine=engine, scheduler=scheduler, activities=activities, paths=paths)  # Parquet on disk: DuckDB or Dask (leanops.mining.outofcore)
    check_log(log, "discover")
    activities = check_fraction("activities", activities)
    paths = check_fraction("paths", paths)
    keep = None
    if activities is not None and activities < 1.0:
        keep = activities_covering(log.df["activity"].value_counts(sort=False).items(), activities)[0]
    return _discover(log, keep=keep, paths=paths, max_edges=None, activities_share=activities)


def _discover(
    log: EventLog,
    *,
    keep: list[str] | None,
    paths: float | None,
    max_edges: int | None,
    activities_share: float | None,
) -> ProcessGraph:
    case, act, has_start, t_start, end, first, names = _base_arrays(log)
    notes: list[str] = []
    if keep is not None:
        n_all_acts = int(np.count_nonzero(np.bincount(act, minlength=len(names))))
        n_cases_all = int(first.sum())
        keep_codes = np.zeros(len(names), dtype=bool)
        idx = {a: i for i, a in enumerate(names)}
        keep_codes[[idx[a] for a in keep]] = True
        m = keep_codes[act]
        case, act, has_start, t_start, end = case[m], act[m], has_start[m], t_start[m], end[m]
        first = np.ones(len(case), dtype=bool)
        if len(case) > 1:
            first[1:] = case[1:] != case[:-1]
        notes.append(keep_note(len(keep), n_all_acts, float(m.mean()), n_cases_all - int(first.sum())))
    totals, node_q, edge_q = _map_part(case, act, has_start, t_start, end, first, names)
    return graph_from_totals(totals, node_q, edge_q, n_cases=int(first.sum()), n_events=int(len(case)), notes=notes,
                             activities_share=activities_share, paths=paths, max_edges=max_edges, log=log)


def graph_from_totals(totals: dict[str, pd.DataFrame], node_q: pd.DataFrame | None, edge_q: pd.DataFrame | None, *,
                      n_cases: int, n_events: int, notes: list[str], activities_share: float | None,
                      paths: float | None, max_edges: int | None = None, log: EventLog | None = None) -> ProcessGraph:
    """The :class:`ProcessGraph` of merged map totals (:mod:`leanops.mining._map`), with the
    path slider applied: every engine ends here."""
    nodes, edges, start_acts, end_acts = map_tables(totals, node_q, edge_q)
    notes = list(notes)
    if paths is not None or max_edges is not None:
        edges, start_acts, end_acts, note = _select_paths(nodes, edges, start_acts, end_acts, share=paths, max_edges=max_edges)
        notes.append(note)
    return ProcessGraph(
        nodes=nodes,
        edges=edges,
        start_activities=start_acts,
        end_activities=end_acts,
        n_cases=n_cases,
        n_events=n_events,
        wait_basis=_overall_basis(edges),
        notes=tuple(notes),
        activities_share=activities_share,
        paths_share=paths,
        _log=log,
    )


def _overall_basis(edges: pd.DataFrame) -> str:
    kinds = set(edges["wait_basis"])
    if not kinds:
        return "none"
    return kinds.pop() if len(kinds) == 1 else "mixed"


def _base_arrays(log: EventLog):
    """Per-row case code, activity code, has_start, t_start, end and first-of-case flags.

    The log's cached step arrays are used when present; otherwise only what the graph
    needs is computed (case boundaries by comparing neighbouring ids, since rows are
    sorted by case: much cheaper than factorizing the ids or computing enablement).
    """
    cached = log._cache.get("steps")
    if cached is not None:
        return cached.case, cached.activity, cached.has_start, cached.t_start, cached.end, cached.first, cached.activities
    d = log.df
    n = len(d)
    case = log.case_codes
    first = np.ones(n, dtype=bool)
    if n > 1:
        first[1:] = case[1:] != case[:-1]
    act_cat = d["activity"].cat
    act = act_cat.codes.to_numpy()
    if n and act.min() < 0:
        raise InputError(
            f"column 'activity' has {int((act < 0).sum()):,} missing values; build the log with "
            "leanops.from_frame, which drops (and counts) rows without an activity."
        )
    names = [str(c) for c in act_cat.categories]
    start = d["start"].to_numpy(dtype="datetime64[ns]").view(np.int64)
    end = d["end"].to_numpy(dtype="datetime64[ns]").view(np.int64)
    has_start = start != NAT
    t_start = start if has_start.all() else np.where(has_start, start, end)
    return case, act, has_start, t_start, end, first, names


def _group_stats(values: np.ndarray, bounds: np.ndarray):
    """Sum, exact median and p90 of each slice ``values[bounds[i]:bounds[i+1]]``.

    ``values`` must be a private array: each slice is partially sorted in place.
    Quantiles interpolate linearly between order statistics (numpy's default, DuckDB's
    ``quantile_cont``). Empty slices give NaN.
    """
    g = len(bounds) - 1
    total = np.full(g, np.nan)
    med = np.full(g, np.nan)
    p90 = np.full(g, np.nan)
    sizes = np.diff(bounds)
    nonempty = np.flatnonzero(sizes)
    if not len(nonempty):
        return total, med, p90
    total[nonempty] = np.add.reduceat(values, bounds[nonempty], dtype=np.float64)
    if len(nonempty) > 256:
        # many small groups (variants, big maps): one sort, then vectorised order statistics
        gid = np.repeat(np.arange(g), sizes)
        v = values[np.lexsort((values, gid))].astype(np.float64)
        m = sizes[nonempty]
        lo0 = bounds[nonempty]
        for q, out in ((0.5, med), (0.9, p90)):
            pos = q * (m - 1)
            k = np.floor(pos).astype(np.int64)
            frac = pos - k
            a = v[lo0 + k]
            b = v[lo0 + np.minimum(k + 1, m - 1)]
            out[nonempty] = np.where(frac == 0, a, a + (b - a) * frac)
        return total, med, p90
    for i in nonempty:
        lo, hi = bounds[i], bounds[i + 1]
        v = values[lo:hi]
        m = hi - lo
        p50, q90 = 0.5 * (m - 1), 0.9 * (m - 1)
        k50, k90 = int(p50), int(q90)
        kth = sorted({k50, min(k50 + 1, m - 1), k90, min(k90 + 1, m - 1)})
        v.partition(kth)
        med[i] = _lerp(v, k50, p50 - k50, m)
        p90[i] = _lerp(v, k90, q90 - k90, m)
    return total, med, p90


def _lerp(v: np.ndarray, k: int, frac: float, m: int) -> float:
    lo = float(v[k])
    if frac == 0 or k + 1 >= m:
        return lo
    return lo + (float(v[k + 1]) - lo) * frac


def _sort_small(codes: np.ndarray, n_groups: int) -> np.ndarray:
    """Stable argsort of small non-negative integer codes (radix sort where they fit 16 bits)."""
    if n_groups < 2**15:
        return np.argsort(codes.astype(np.int16, copy=False), kind="stable")
    return np.argsort(codes, kind="stable")


def _distinct_cases(sorted_cases: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """Distinct cases per group, given rows stably sorted by group (cases ascend within one)."""
    g = len(bounds) - 1
    out = np.zeros(g, dtype=np.int64)
    if not len(sorted_cases):
        return out
    new = np.empty(len(sorted_cases), dtype=bool)
    new[0] = True
    np.not_equal(sorted_cases[1:], sorted_cases[:-1], out=new[1:])
    nonempty = np.flatnonzero(np.diff(bounds))
    new[bounds[nonempty]] = True
    out[nonempty] = np.add.reduceat(new, bounds[nonempty], dtype=np.int64)
    return out


def _map_part(case, act, has_start, t_start, end, first, names):
    """The in-memory engine's map totals (one part: the whole log) and exact quantiles,
    in the shape of :mod:`leanops.mining._map`."""
    k = len(names)
    n = len(act)
    all_start = bool(has_start.all()) if n else False
    any_start = bool(has_start.any()) if n else False
    # ---- nodes: rows stably sorted by activity, so cases ascend within each activity
    count = np.bincount(act, minlength=k)
    bounds = np.r_[0, np.cumsum(count)]
    order = _sort_small(act, k)
    cases = _distinct_cases(case[order], bounds)
    if all_start:
        svc_s, svc_bounds = (end - t_start)[order], bounds
    elif any_start:
        keep = order[has_start[order]]
        svc_s = end[keep] - t_start[keep]
        svc_bounds = np.r_[0, np.cumsum(np.bincount(act[keep], minlength=k))]
    else:
        svc_s, svc_bounds = np.zeros(0, dtype=np.int64), np.zeros(k + 1, dtype=np.int64)
    del order
    svc_sum, svc_med, svc_p90 = _group_stats(svc_s, svc_bounds)
    present = np.flatnonzero(count)
    present_names = [names[i] for i in present]
    nodes = pd.DataFrame({"activity": present_names, "count": count[present], "cases": cases[present],
                          "svc_sum": svc_sum[present], "svc_n": np.diff(svc_bounds)[present]})
    node_q = pd.DataFrame({"activity": present_names, "median": svc_med[present], "p90": svc_p90[present]})

    # ---- start / end activities
    last = np.ones(n, dtype=bool)
    if n > 1:
        last[:-1] = first[1:]
    sa = np.bincount(act[first], minlength=k)
    ea = np.bincount(act[last], minlength=k)
    at_ends = np.flatnonzero((sa > 0) | (ea > 0))
    ends = pd.DataFrame({"activity": [names[i] for i in at_ends], "n_first": sa[at_ends], "n_last": ea[at_ends]})

    # ---- edges: consecutive instances of a case. Each pair (row i-1, row i) gets a
    # group id; pairs that cross a case boundary get the sentinel id G, which sorts
    # last and is ignored.
    if n > 1 and k * k < 2**15 - 1:  # ids are the codes src*k + tgt; radix sort on int16
        G = k * k
        group_code = np.arange(G)
        pair_ids = act[:-1].astype(np.int16) * np.int16(k) + act[1:].astype(np.int16)
        pair_ids[first[1:]] = G
    elif n > 1:
        same = np.flatnonzero(~first[1:])
        group_code, eid = np.unique(act[same].astype(np.int64) * k + act[same + 1], return_inverse=True)
        G = len(group_code)
        pair_ids = np.full(n - 1, G, dtype=np.int64)
        pair_ids[same] = eid
    else:
        G, group_code, pair_ids = 0, np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    e_count = np.bincount(pair_ids, minlength=G + 1)[:G]
    ebounds = np.r_[0, np.cumsum(e_count)]
    if n > 1:
        order = _sort_small(pair_ids, G + 1)[: ebounds[-1]]
        wait = t_start[1:] - end[:-1]
        np.maximum(wait, 0, out=wait)  # overlap (parallel work) waits 0, never negative
        ws = wait[order]
        del wait
        e_cases = _distinct_cases(case[1:][order], ebounds)
        del order
    else:
        ws, e_cases = np.zeros(0, dtype=np.int64), np.zeros(G, dtype=np.int64)
    w_sum, w_med, w_p90 = _group_stats(ws, ebounds)
    if all_start or not any_start:
        with_start = e_count if all_start else np.zeros(G, dtype=np.int64)
    else:
        with_start = np.bincount(pair_ids[has_start[1:]], minlength=G + 1)[:G]
    sel = np.flatnonzero(e_count)
    codes_used = group_code[sel]
    source = [names[c // k] for c in codes_used]
    target = [names[c % k] for c in codes_used]
    edges = pd.DataFrame({"source": source, "target": target, "count": e_count[sel], "cases": e_cases[sel],
                          "w_sum": w_sum[sel], "with_start": with_start[sel]})
    edge_q = pd.DataFrame({"source": source, "target": target, "median": w_med[sel], "p90": w_p90[sel]})
    return {"nodes": nodes, "edges": edges, "ends": ends}, node_q, edge_q


# ------------------------------------------------------------ path slider
def _select_paths(nodes, edges, start_acts, end_acts, *, share, max_edges):
    """Keep the most frequent transitions (covering ``share`` or at most ``max_edges``),
    then add back the most frequent ones needed so that every node is reachable from
    ``●`` and reaches ``■``."""
    cand = [(START, a, n) for a, n in start_acts.items()]
    cand += list(zip(edges["source"], edges["target"], edges["count"].astype(int)))
    cand += [(a, END, n) for a, n in end_acts.items()]
    cand.sort(key=lambda e: (-e[2], e[0], e[1]))
    total = sum(c for *_, c in cand)
    kept: set[tuple[str, str]] = set()
    acc = 0
    for s_, t_, c in cand:
        if share is not None and acc >= share * total - 1e-9:
            break
        if max_edges is not None and len(kept) >= max_edges:
            break
        kept.add((s_, t_))
        acc += c
    n_direct = len(kept)
    weight = {(s_, t_): c for s_, t_, c in cand}
    succ: dict[str, list[tuple[str, int]]] = {}
    pred: dict[str, list[tuple[str, int]]] = {}
    for s_, t_, c in cand:
        succ.setdefault(s_, []).append((t_, c))
        pred.setdefault(t_, []).append((s_, c))
    all_nodes = set(nodes["activity"]) | {START, END}
    _connect(START, succ, kept, all_nodes, forward=True)
    _connect(END, pred, kept, all_nodes, forward=False)
    added = len(kept) - n_direct
    mask = [(s_, t_) in kept for s_, t_ in zip(edges["source"], edges["target"])]
    new_edges = edges.loc[mask].reset_index(drop=True)
    new_start = {a: n for a, n in start_acts.items() if (START, a) in kept}
    new_end = {a: n for a, n in end_acts.items() if (a, END) in kept}
    kept_total = sum(weight[e] for e in kept)
    what = f"paths: kept {len(kept)} of {len(cand)} transitions ({kept_total / max(total, 1):.1%} of them)"
    if added:
        what += f", {added} of them only to keep every activity connected from start to end"
    return new_edges, new_start, new_end, what


def _connect(root, adj, kept, all_nodes, *, forward: bool) -> None:
    """Grow ``kept`` with the heaviest edges until every node is reached from ``root``
    (following ``adj``; ``forward=False`` walks edges backwards)."""

    def key(u, v):
        return (u, v) if forward else (v, u)

    kept_adj: dict[str, list[str]] = {}
    for s_, t_ in kept:
        u, v = (s_, t_) if forward else (t_, s_)
        kept_adj.setdefault(u, []).append(v)
    reached: set[str] = set()
    heap: list[tuple[int, str, str]] = []

    def visit(start_node: str) -> None:
        stack = [start_node]
        while stack:
            u = stack.pop()
            if u in reached:
                continue
            reached.add(u)
            for v in kept_adj.get(u, ()):
                if v not in reached:
                    stack.append(v)
            for v, c in adj.get(u, ()):
                if v not in reached:
                    heapq.heappush(heap, (-c, u, v))

    visit(root)
    while heap and len(reached) < len(all_nodes):
        _, u, v = heapq.heappop(heap)
        if v in reached:
            continue
        kept.add(key(u, v))
        kept_adj.setdefault(u, []).append(v)
        visit(v)
