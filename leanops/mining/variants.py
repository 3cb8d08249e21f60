"""Variants (distinct activity sequences) and case filters that return an EventLog.

Every filter returns a new :class:`~leanops.EventLog` (the input is not changed) and raises
:class:`~leanops.InputError` naming the filter when it would leave no case.
"""

from __future__ import annotations

import os

from collections.abc import Iterable
from typing import Any, Literal

import numpy as np
import pandas as pd

from .._normalize import parse_time
from .._validation import check_choice, check_fraction, check_log, check_names, check_positive
from ..errors import InputError
from ..log import EventLog
from ._engine import Engine, dispatch as _dispatch

__all__ = ["variants", "filter_variants", "filter_time", "filter_attribute", "filter_activity"]

VARIANT_COLUMNS = [
    "variant",
    "activities",
    "length",
    "cases",
    "share",
    "cumulative_share",
    "cycle_time_mean_s",
    "cycle_time_median_s",
    "cycle_time_p90_s",
    "example_case",
]


def _case_arrays(log: EventLog):
    """Row positions where cases start, activity codes and names, first start and last end per case."""
    from .graph import _base_arrays

    _, act, _, t_start, end, first, names = _base_arrays(log)
    starts = np.flatnonzero(first)
    return starts, act, names, np.minimum.reduceat(t_start, starts), np.maximum.reduceat(end, starts)


def _case_variant_codes(log: EventLog) -> tuple[np.ndarray, list[tuple[str, ...]]]:
    """Per case, a variant code; and the activity sequence of each code."""
    cached = log._cache.get("variant_codes")
    if cached is not None:
        return cached
    starts, act, names, _, _ = _case_arrays(log)
    ends = np.r_[starts[1:], len(act)]
    dt = "<u2" if len(names) < 2**16 else "<u4"
    width = np.dtype(dt).itemsize
    buf = act.astype(dt).tobytes()
    keys = [buf[a * width : b * width] for a, b in zip(starts.tolist(), ends.tolist())]
    codes, uniq = pd.factorize(pd.Series(keys, dtype=object), sort=False)
    name_arr = np.array(names, dtype=object)
    seqs = [tuple(name_arr[np.frombuffer(k, dtype=dt)]) for k in uniq]
    out = (codes.astype(np.int64), seqs)
    log._cache["variant_codes"] = out
    return out


def variants(log: EventLog | str | os.PathLike, *, include_cut: bool = False, engine: Engine = "auto",
             scheduler: str | None = None) -> pd.DataFrame:
    """The variants of a log: distinct activity sequences, most frequent first.

    Parameters
    ----------
    log : EventLog
    include_cut : bool, default False
        Cases cut by the export window (begun before the log's first day, or still open at
        its end; :mod:`leanops.boundaries`) have wrong cycle times, so the cycle-time
        columns leave them out unless this is True; they still count in ``cases`` and the
        shares (their sequence is what the log shows). ``result.attrs["excluded_cases"]``
        counts them, ``{"cut_at_start": n, "open_at_end": m}``, as in
        :func:`leanops.performance` (``by="case"``) and :func:`leanops.value_stream`.
    engine : {"auto", "pandas", "duckdb", "dask"}, default "auto"
        ``log`` may also be a canonical Parquet file or directory (:func:`leanops.convert`)
        or a :func:`leanops.scan`; "auto" then computes out of core in DuckDB. "dask" runs
        on the cluster at ``scheduler``. The results are identical to the pandas engine's.
    scheduler : str, optional
        A Dask scheduler address such as ``tcp://host:8786`` (implies ``engine="dask"``).

    Returns
    -------
    pandas.DataFrame
        One row per variant: ``variant`` (rank, 1 = most frequent), ``activities`` (the
        sequence, a tuple), ``length``, ``cases``, ``share`` of cases,
        ``cumulative_share``, cycle time ``cycle_time_mean_s``/``_median_s``/``_p90_s``
        (first start, or end where missing, to last end, over the variant's cases that
        the export window did not cut; NaN when it cut them all) and an ``example_case``
        id (the variant's first case in the log's order).

    Examples
    --------
    >>> import leanops
    >>> v = leanops.variants(leanops.datasets.load("purchasing_example"))
    >>> int(v["cases"].sum()), bool(v["share"].is_monotonic_decreasing)
    (608, True)
    """
    if not (isinstance(log, EventLog) and engine in ("auto", "pandas") and scheduler is None):
        return _dispatch("variants", log, engine=engine, scheduler=scheduler,  # Parquet on disk: DuckDB or Dask
                         include_cut=include_cut)
    from ..boundaries import boundary_counts, boundary_mask
    from .graph import _group_stats

    check_log(log, "variants")
    codes, seqs = _case_variant_codes(log)
    starts, _, _, c0, c1 = _case_arrays(log)
    ct = c1 - c0
    n_cases = len(codes)
    n_var = len(seqs)
    counts = np.bincount(codes, minlength=n_var)
    order = np.argsort(codes, kind="stable")  # cases keep the log's order within a variant
    bounds = np.r_[0, np.cumsum(counts)]
    first_case = order[bounds[:-1]]
    # cycle times over the cases the export window did not cut (per case, in case order)
    excluded = {"cut_at_start": 0, "open_at_end": 0} if include_cut else boundary_counts(log)
    timed = order if include_cut else order[boundary_mask(log)[order]]
    n_timed = np.bincount(codes[timed], minlength=n_var)
    total, med, p90 = _group_stats(ct[timed], np.r_[0, np.cumsum(n_timed)])
    with np.errstate(invalid="ignore", divide="ignore"):  # NaN where every case was cut
        ct_mean = total / n_timed / 1e9
    rank = np.lexsort((first_case, -counts))
    example_rows = starts[first_case[rank]]
    out = pd.DataFrame(
        {
            "variant": np.arange(1, n_var + 1),
            "activities": [seqs[i] for i in rank],
            "length": [len(seqs[i]) for i in rank],
            "cases": counts[rank].astype(np.int64),
            "share": counts[rank] / n_cases,
            "cumulative_share": np.cumsum(counts[rank]) / n_cases,
            "cycle_time_mean_s": ct_mean[rank],
            "cycle_time_median_s": med[rank] / 1e9,
            "cycle_time_p90_s": p90[rank] / 1e9,
            "example_case": log.df["case_id"].take(example_rows).astype(str).to_numpy(dtype=object),
        },
        columns=VARIANT_COLUMNS,
    )
    out.attrs["excluded_cases"] = excluded
    return out


def _select(log: EventLog, case_mask: np.ndarray, name: str, what: str) -> EventLog:
    kept = int(case_mask.sum())
    if kept == 0:
        raise InputError(f"{name}: {what} leaves no case (of {len(case_mask):,}); widen the filter.")
    if kept == len(case_mask):
        return log._derive(log.df)
    starts = _case_arrays(log)[0]
    rows = np.repeat(case_mask, np.diff(np.r_[starts, len(log)]))
    return log._derive(log.df.loc[rows].reset_index(drop=True))


def filter_variants(log: EventLog, *, coverage: float | None = None, top: int | None = None) -> EventLog:
    """Keep the cases of the most frequent variants.

    Parameters
    ----------
    coverage : float in (0, 1], optional
        Keep the most frequent variants that together cover at least this share of cases.
    top : int, optional
        Keep the ``top`` most frequent variants. Give ``coverage`` or ``top``.

    Examples
    --------
    >>> import leanops
    >>> log = leanops.datasets.load("purchasing_example")
    >>> leanops.filter_variants(log, top=1).n_cases == int(leanops.variants(log)["cases"].iloc[0])
    True
    """
    check_log(log, "filter_variants")
    if (coverage is None) == (top is None):
        raise InputError("filter_variants: give exactly one of coverage= (a share of cases) or top= (a number of variants).")
    v = variants(log, include_cut=True)  # (its counts only)
    if coverage is not None:
        coverage = check_fraction("filter_variants: coverage", coverage, allow_none=False)
        n_keep = int(np.searchsorted(v["cumulative_share"].to_numpy(), coverage - 1e-12, side="left") + 1)
    else:
        n_keep = int(check_positive("filter_variants: top", top, integer=True))
    keep_seqs = set(v["activities"].iloc[:n_keep])
    codes, seqs = _case_variant_codes(log)
    keep_code = np.array([sq in keep_seqs for sq in seqs], dtype=bool)
    return _select(log, keep_code[codes], "filter_variants", f"coverage={coverage}" if coverage is not None else f"top={top}")


def filter_time(
    log: EventLog,
    *,
    start: Any = None,
    end: Any = None,
    mode: Literal["contained", "intersecting", "started", "completed"] = "contained",
) -> EventLog:
    """Keep the cases in a time window ``[start, end)``.

    Parameters
    ----------
    start, end : timestamp-like, optional
        Window bounds (naive times are taken in the log's time zone). Either may be open.
    mode : {'contained', 'intersecting', 'started', 'completed'}
        ``contained``: the whole case lies in the window; ``intersecting``: the case
        overlaps it; ``started``/``completed``: the case starts/ends in it.

    Examples
    --------
    >>> import leanops
    >>> log = leanops.datasets.load("production")
    >>> leanops.filter_time(log, end="2012-02-01", mode="started").n_cases < log.n_cases
    True
    """
    check_log(log, "filter_time")
    check_choice("filter_time: mode", mode, ("contained", "intersecting", "started", "completed"))
    if start is None and end is None:
        raise InputError("filter_time: give start= and/or end= (timestamps such as '2024-01-31').")
    lo = _ts(start, log, "start")
    hi = _ts(end, log, "end")
    if lo is not None and hi is not None and hi <= lo:
        raise InputError(f"filter_time: end ({end!r}) must be after start ({start!r}).")
    _, _, _, c0, c1 = _case_arrays(log)
    lo_v = np.iinfo(np.int64).min if lo is None else lo
    hi_v = np.iinfo(np.int64).max if hi is None else hi
    if mode == "contained":
        m = (c0 >= lo_v) & (c1 < hi_v)
    elif mode == "intersecting":
        m = (c1 >= lo_v) & (c0 < hi_v)
    elif mode == "started":
        m = (c0 >= lo_v) & (c0 < hi_v)
    else:
        m = (c1 >= lo_v) & (c1 < hi_v)
    return _select(log, m, "filter_time", f"the window [{start}, {end}) with mode={mode!r}")


def _ts(value: Any, log: EventLog, name: str) -> int | None:
    if value is None:
        return None
    return int(parse_time(value, tz=log.tz, name=f"filter_time: {name}").value)


def filter_attribute(
    log: EventLog,
    *,
    attribute: str,
    values: Any,
    level: Literal["case", "event"] = "case",
    exclude: bool = False,
) -> EventLog:
    """Keep cases (or events) by the value of an attribute.

    Parameters
    ----------
    attribute : str
        A column of the log: an attribute, or ``resource``/``activity``.
    values : value or list of values
        The values to match.
    level : {'case', 'event'}
        ``case`` keeps whole cases with at least one matching event; ``event`` keeps only
        the matching events.
    exclude : bool
        Invert the match: drop the matching cases (events) instead.

    Examples
    --------
    >>> import leanops
    >>> log = leanops.datasets.load("production")
    >>> r = log.resources[0]
    >>> sub = leanops.filter_attribute(log, attribute="resource", values=r, level="event")
    >>> set(sub.df["resource"]) == {r}
    True
    """
    check_log(log, "filter_attribute")
    check_choice("filter_attribute: level", level, ("case", "event"))
    cols = [c for c in log.df.columns if c not in ("case_id", "start", "end")]
    check_names("filter_attribute: attribute", [attribute], cols, what="column")
    vals = list(values) if isinstance(values, (list, tuple, set, frozenset, np.ndarray, pd.Index, pd.Series)) else [values]
    if not vals:
        raise InputError("filter_attribute: values is empty; give at least one value.")
    col = log.df[attribute]
    match = col.isin(vals).to_numpy(dtype=bool, na_value=False)
    if not match.any() and not exclude:
        sample = [str(x) for x in col.dropna().unique()[:8]]
        raise InputError(
            f"filter_attribute: no event has {attribute} in {vals!r}; leaves nothing. Values look like {sample}."
        )
    what = f"{attribute} {'not ' if exclude else ''}in {vals!r}"
    if level == "event":
        keep = ~match if exclude else match
        if not keep.any():
            raise InputError(f"filter_attribute: {what} (level='event') leaves no event.")
        return log._derive(log.df.loc[keep].reset_index(drop=True))
    per_case = np.logical_or.reduceat(match, _case_arrays(log)[0])
    return _select(log, ~per_case if exclude else per_case, "filter_attribute", what)


def filter_activity(
    log: EventLog,
    *,
    contains: str | Iterable[str] | None = None,
    skips: str | Iterable[str] | None = None,
) -> EventLog:
    """Keep the cases that contain all of ``contains`` and none of ``skips``.

    Examples
    --------
    >>> import leanops
    >>> log = leanops.datasets.load("production")
    >>> a = log.activities[-1]
    >>> with_a = leanops.filter_activity(log, contains=a)
    >>> without_a = leanops.filter_activity(log, skips=a)
    >>> with_a.n_cases + without_a.n_cases == log.n_cases
    True
    """
    check_log(log, "filter_activity")
    inc = [contains] if isinstance(contains, str) else list(contains or [])
    exc = [skips] if isinstance(skips, str) else list(skips or [])
    if not inc and not exc:
        raise InputError("filter_activity: give contains= and/or skips= (activity names).")
    starts, act, names, _, _ = _case_arrays(log)
    check_names("filter_activity: contains", inc, names)
    check_names("filter_activity: skips", exc, names)
    idx = {a: i for i, a in enumerate(names)}
    keep = np.ones(len(starts), dtype=bool)
    for a in inc:
        keep &= np.logical_or.reduceat(act == idx[a], starts)
    for a in exc:
        keep &= ~np.logical_or.reduceat(act == idx[a], starts)
    desc = " and ".join(([f"contains={inc!r}"] if inc else []) + ([f"skips={exc!r}"] if exc else []))
    return _select(log, keep, "filter_activity", desc)
