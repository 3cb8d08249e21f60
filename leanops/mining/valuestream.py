"""Value stream: where the lead time goes, how much of it is work, and the pace of the flow.

Definitions (durations in seconds; see :mod:`leanops.mining.performance` for enablement
and estimated starts):

* **Lead time** of a case: from the start of its first instance to the end of its last.
* **Processing time** of a case: the time covered by at least one of its instances
  (parallel instances count once). **Waiting time** is the rest of the lead time.
* **PCE** (process cycle efficiency): value-added processing time over lead time, summed
  over all cases. Without ``value_added`` every activity counts as value-adding.
* **Throughput**: cases per calendar day over the log's span (first start to last end).
* **WIP**: cases open (started, not yet ended) at each instant; ``wip_mean`` is its time
  average over the span.
* **Little's law** says that in a stable flow, WIP = throughput × mean lead time.
  Measured over the whole span that holds by construction (both sides are the summed
  lead time over the span), so ``littles_law_ratio`` measures the three on their own
  inside a window that leaves out the log's edges, the middle 80% of the span
  ``[a, b)``: WIP is the time-average of open cases inside it (each case counts the part
  of its lead time inside the window), throughput the cases completed inside it per unit
  of time, and lead time the mean (whole) lead time of those cases. The ratio
  ``WIP / (throughput × lead time)`` reduces to::

      sum over cases of |[start, end) ∩ [a, b)|  /  sum of (end - start) over cases with a <= end < b

  It is near 1 for a flow that is stable over the window. Above 1, work accumulates in
  the window (cases that stay open past its end: a growing backlog, a ramp-up, or a log
  cut before its cases finish); below 1, the window completes more old work than it
  holds (a backlog being worked off). It is NaN when no case ends inside the window.
* **Takt time**: available working time of the calendar over the span, over the number
  of cases (the pace demand asks for). A step's **cycle time** is its processing time per
  case (per instance × instances per case) divided by the resources doing it: how often
  it can turn out a case with its current staff. Above takt, it cannot keep pace;
  ``resources_needed`` is processing per case over takt.
* **Steps**: per activity, the mean processing time per instance, the mean wait before it
  (start minus enablement, over instances that have a predecessor), and its share of lead
  time. Shares partition each case's lead time: every instant is attributed either to the
  instance that covers it first (processing) or, when nothing runs, to the instance that
  ends the idle gap (waiting), so the shares add up to 1.
"""

from __future__ import annotations

import os
import sys

import html
import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .._format import duration
from .._json import dumps, jsonable
from .._validation import check_log, check_names
from ..calendar import Calendar
from ..log import EventLog
from ._engine import Engine, dispatch as _dispatch
from ._batch import Batch, from_log
from .performance import Time, _resolve_calendar
from ..boundaries import complete_cases
from ..evidence import level_caveats, time_granularity

__all__ = ["value_stream", "ValueStream"]

_DAY = 86400.0


@dataclass(frozen=True)
class ValueStream:
    """The value stream of a log. Durations in seconds; see the module docstring.

    ``steps`` has one row per activity in flow order: ``activity, instances, cases,
    processing_mean_s, waiting_mean_s, share_of_lead_time, processing_share,
    waiting_share, value_added, resources, cycle_time_s, meets_takt, resources_needed``. ``wip`` samples
    work in progress over time (``time, wip``).

    Shares, in words: ``share_of_lead_time``, ``processing_share`` and ``waiting_share`` are
    the step's time (all of it, processing, waiting) over the summed lead time of all cases;
    the bottleneck ranking's ``wait_share`` is the step's waiting over all waiting.

    ``pce`` is None when it cannot be measured (dates only); ``caveats`` says why, and
    ``excluded_cases`` counts the cases cut by the export window that were left out
    (:mod:`leanops.boundaries`).
    """

    lead_time_mean_s: float
    lead_time_median_s: float
    lead_time_p90_s: float
    processing_time_mean_s: float
    waiting_time_mean_s: float
    value_added_time_mean_s: float
    pce: float | None
    throughput_per_day: float
    takt_time_s: float
    wip_mean: float
    wip_max: int
    littles_law_ratio: float
    n_cases: int
    start: pd.Timestamp
    end: pd.Timestamp
    time: str
    calendar: Calendar
    value_added: tuple[str, ...] | None
    starts_estimated: float
    steps: pd.DataFrame = field(repr=False)
    wip: pd.DataFrame = field(repr=False)
    excluded_cases: dict[str, int] = field(default_factory=lambda: {"cut_at_start": 0, "open_at_end": 0})
    caveats: list[str] = field(default_factory=list)

    # ------------------------------------------------------------- output
    def to_frame(self) -> pd.DataFrame:
        """The per-step table (a copy)."""
        return self.steps.copy()

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict with the ``leanops valuestream --json`` keys."""
        steps = self.steps[
            ["activity", "processing_mean_s", "waiting_mean_s", "share_of_lead_time", "value_added",
             "instances", "cases", "processing_share", "waiting_share", "resources", "cycle_time_s", "meets_takt",
             "resources_needed"]
        ]
        return jsonable(
            {
                "lead_time_mean_s": self.lead_time_mean_s,
                "processing_time_mean_s": self.processing_time_mean_s,
                "waiting_time_mean_s": self.waiting_time_mean_s,
                "pce": self.pce,
                "throughput_per_day": self.throughput_per_day,
                "takt_time_s": self.takt_time_s,
                "wip_mean": self.wip_mean,
                "wip_max": self.wip_max,
                "littles_law_ratio": self.littles_law_ratio,
                "lead_time_median_s": self.lead_time_median_s,
                "lead_time_p90_s": self.lead_time_p90_s,
                "value_added_time_mean_s": self.value_added_time_mean_s,
                "cases": self.n_cases,
                "start": self.start,
                "end": self.end,
                "time": self.time,
                "calendar": str(self.calendar),
                "value_added": list(self.value_added) if self.value_added is not None else None,
                "starts_estimated": self.starts_estimated,
                "excluded_cases": dict(self.excluded_cases),
                "caveats": list(self.caveats),
                "steps": steps,
            }
        )

    def to_json(self, *, indent: int | None = 2) -> str:
        """:meth:`to_dict` as a JSON text."""
        return dumps(self.to_dict(), indent=indent)

    def __repr__(self) -> str:
        return (
            f"<ValueStream: {self.n_cases:,} cases, lead time {_fmt_dur(self.lead_time_mean_s)}, "
            f"processing {_fmt_dur(self.processing_time_mean_s)}, PCE {_pce_text(self.pce)}, "
            f"{len(self.steps)} steps>"
        )

    def _summary_rows(self) -> list[tuple[str, str]]:
        rows = [
            ("cases", f"{self.n_cases:,}"),
            ("lead time (mean)", _fmt_dur(self.lead_time_mean_s)),
            ("processing (mean)", _fmt_dur(self.processing_time_mean_s)),
            ("waiting (mean)", _fmt_dur(self.waiting_time_mean_s)),
            ("PCE", _pce_text(self.pce)),
            ("throughput", f"{self.throughput_per_day:.2f} cases/day"),
            ("takt time", _fmt_dur(self.takt_time_s)),
            ("WIP mean / max", f"{self.wip_mean:.1f} / {self.wip_max:,}"),
            ("calendar", str(self.calendar)),
        ]
        if self.starts_estimated:
            rows.append(("estimated starts", f"{self.starts_estimated:.0%} of instances"))
        ex = self.excluded_cases or {}
        if ex.get("cut_at_start") or ex.get("open_at_end"):
            rows.append(("left out", f"{ex.get('cut_at_start', 0):,} cut at start, {ex.get('open_at_end', 0):,} open at end"))
        return rows

    def __str__(self) -> str:
        """The ``leanops valuestream`` text: the summary, then one line per step.

        >>> import leanops
        >>> print(str(leanops.value_stream(leanops.datasets.load("production"))).splitlines()[0])
        cases              219
        """
        rows = self._summary_rows()
        key_width = max(len(k) for k, _ in rows)
        lines = [f"{k.ljust(key_width)}  {v}" for k, v in rows]
        lines += [f"caveat: {c}" for c in self.caveats] + [""]
        width = max([len(str(a)) for a in self.steps["activity"]] + [8])
        lines.append(f"{'step'.ljust(width)}  {'processing':>10}  {'waiting':>10}  {'share':>6}  VA")
        for r in self.steps.itertuples(index=False):
            lines.append(f"{str(r.activity).ljust(width)}  {_fmt_dur(r.processing_mean_s, '-'):>10}  "
                         f"{_fmt_dur(r.waiting_mean_s, '-'):>10}  {r.share_of_lead_time:>6.1%}  {'yes' if r.value_added else 'no'}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        rows = self._summary_rows()
        head = "".join(f"<tr><th style='text-align:left'>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in rows)
        return f"<div><b>Value stream</b><table>{head}</table>{self.steps.to_html(escape=True, index=False)}</div>"

    def _repr_svg_(self) -> str:
        import matplotlib.pyplot as plt

        fig = self.plot().figure
        buf = io.StringIO()
        fig.savefig(buf, format="svg", bbox_inches="tight")
        plt.close(fig)
        return buf.getvalue()

    def plot(self, *, ax: Any = None, max_steps: int = 12) -> Any:
        """Draw a value-stream map: step boxes with processing times, wait triangles between
        them, and the timeline ladder of waiting (up) and processing (down) below.

        Parameters
        ----------
        ax : matplotlib Axes, optional
        max_steps : int, default 12
            Show the steps with the largest share of lead time, in flow order.

        Returns
        -------
        matplotlib.axes.Axes
        """
        import matplotlib.pyplot as plt
        from matplotlib.patches import FancyBboxPatch, Polygon

        steps = self.steps
        if len(steps) > max_steps:
            keep = steps["share_of_lead_time"].nlargest(max_steps).index
            steps = steps.loc[sorted(keep)]
        n = len(steps)
        if ax is None:
            _, ax = plt.subplots(figsize=(max(8.0, 2.6 * n + 3.0), 4.8))
        ax.set_xlim(-0.1, n * 2.4 + 2.9)
        ax.set_ylim(-0.6, 4.4)
        ax.axis("off")
        for k, row in enumerate(steps.itertuples(index=False)):
            x = k * 2.4 + 0.9  # a box 1.5 wide, then a 0.9 gap holding the wait triangle
            color = "#cfe8cf" if row.value_added else "#f3d9c6"
            ax.add_patch(FancyBboxPatch((x, 2.4), 1.5, 1.3, boxstyle="round,pad=0.03", fc=color, ec="#333333"))
            ax.text(x + 0.75, 3.45, _label(row.activity), ha="center", va="center", fontsize=8.5, weight="bold", wrap=True)
            ax.text(x + 0.75, 2.95, f"PT {_fmt_dur(row.processing_mean_s)}", ha="center", va="center", fontsize=8)
            ax.text(x + 0.75, 2.62, f"{row.instances:,} inst · {row.resources} res", ha="center", va="center", fontsize=7)
            # wait before the step: an inventory triangle
            tx = x - 0.45
            ax.add_patch(Polygon([[tx - 0.22, 2.45], [tx + 0.22, 2.45], [tx, 2.85]], closed=True, fc="#ffe680", ec="#8a6d00"))
            ax.text(tx, 2.25, _fmt_dur(row.waiting_mean_s), ha="center", va="top", fontsize=7)
            # the ladder: waiting on the upper rung, processing on the lower one
            ax.plot([x - 0.9, x], [1.4, 1.4], color="#b35900", lw=2)
            ax.plot([x, x], [1.4, 0.8], color="#555555", lw=1)
            ax.plot([x, x + 1.5], [0.8, 0.8], color="#2e7d32", lw=2)
            ax.plot([x + 1.5, x + 1.5], [0.8, 1.4], color="#555555", lw=1)
            ax.text(x - 0.45, 1.5, _fmt_dur(row.waiting_mean_s), ha="center", va="bottom", fontsize=7, color="#b35900")
            ax.text(x + 0.75, 0.7, _fmt_dur(row.processing_mean_s), ha="center", va="top", fontsize=7, color="#2e7d32")
            if row.meets_takt is False:
                ax.text(x + 0.75, 3.85, "above takt", ha="center", va="bottom", fontsize=7, color="#b00020")
        sx = n * 2.4 + 0.6
        summary = (
            f"Lead time {_fmt_dur(self.lead_time_mean_s)}\n"
            f"Processing {_fmt_dur(self.processing_time_mean_s)}\n"
            f"Waiting {_fmt_dur(self.waiting_time_mean_s)}\n"
            f"PCE {_pce_text(self.pce)}\n"
            f"Takt {_fmt_dur(self.takt_time_s)}\n"
            f"WIP {self.wip_mean:.1f} (max {self.wip_max:,})\n"
            f"{self.throughput_per_day:.1f} cases/day"
        )
        ax.text(sx, 3.7, summary, ha="left", va="top", fontsize=8,
                bbox={"boxstyle": "round", "fc": "#eef3fb", "ec": "#4a6fa5"})
        title = "Value stream map" + (" (starts estimated)" if self.starts_estimated else "")
        if self.time == "working":
            title += " — working time"
        ax.set_title(title, fontsize=11, loc="left")
        return ax


def _label(s: str, width: int = 18) -> str:
    s = str(s).replace("$", r"\$")  # matplotlib reads $...$ as mathtext
    if len(s) <= width:
        return s
    cut = s.rfind(" ", 0, width)
    cut = cut if cut > 4 else width
    rest = s[cut:].strip()
    return s[:cut] + "\n" + (rest if len(rest) <= width else rest[: width - 1] + "…")


def _pce_text(pce: float | None) -> str:
    return "unmeasurable" if pce is None else f"{pce:.1%}"


def _honest_pce(pce: float, log_level: dict[str, Any]) -> float | None:
    """PCE, or None when the timestamps cannot resolve processing time (dates only)."""
    if log_level.get("time_granularity") == "day" or not np.isfinite(pce):
        return None
    return pce


def _vs_caveats(log_level: dict[str, Any], excluded: dict[str, int], est_share: float) -> list[str]:
    """The value stream's caveats: the log's (granularity, estimated starts, role labels)
    and the cases the boundary rule left out."""
    out = [c for c in log_level.get("caveats", []) if "Resource label" not in c and "No resources" not in c]  # not about time
    if log_level.get("time_granularity") == "day":
        out.append("PCE is unmeasurable (null): with dates only, processing within a day reads as zero or a whole day.")
    n_cut, n_open = excluded.get("cut_at_start", 0), excluded.get("open_at_end", 0)
    if n_cut or n_open:
        out.append(f"{n_cut:,} case(s) cut at the start of the export window and {n_open:,} still open at its end "
                   "are left out of these durations (include_cut=True / --include-cut keeps them).")
    return out


def _fmt_dur(s: float, missing: str = "–") -> str:
    return duration(s, missing=missing)


_LITTLE_EDGE = 0.1  # Little's law is checked over the span without its first and last 10%


def _littles_law(case_start_ns: np.ndarray, case_end_ns: np.ndarray) -> float:
    """WIP over throughput × lead time, each measured inside the middle of the span (see
    the module docstring)."""
    t0, t1 = int(case_start_ns.min()), int(case_end_ns.max())
    if t1 <= t0:
        return float("nan")
    a = t0 + int(round((t1 - t0) * _LITTLE_EDGE))
    b = t1 - int(round((t1 - t0) * _LITTLE_EDGE))
    inside = np.minimum(case_end_ns, b) - np.maximum(case_start_ns, a)  # int64 ns, exact per case
    held = float(np.clip(inside, 0, None).sum(dtype=np.float64))  # (the sums would overflow int64)
    done = (case_end_ns >= a) & (case_end_ns < b)
    lead = float((case_end_ns[done] - case_start_ns[done]).sum(dtype=np.float64))
    return held / lead if lead > 0 else float("nan")


def _wip_sweep(case_start_ns: np.ndarray, case_end_ns: np.ndarray) -> tuple[float, int, pd.DataFrame]:
    """Time-average and maximum of the number of open cases, and a sample for plotting."""
    t0 = int(case_start_ns.min())
    m = len(case_start_ns)
    # one sort of packed keys: time, then ends (even) before starts (odd) at the same
    # instant (built in place: these arrays are as long as the number of cases)
    key = np.empty(2 * m, dtype=np.int64)
    for half, t_ns, bit in ((key[:m], case_start_ns, 1), (key[m:], case_end_ns, 0)):
        np.subtract(t_ns, t0, out=half)
        half <<= 1
        half |= bit
    key.sort()
    low = key.view(np.uint8)[::8] if sys.byteorder == "little" else key
    d = (low & 1).astype(np.int8)
    d *= 2
    d -= 1
    level = np.cumsum(d, dtype=np.int64)
    del d, low
    key >>= 1  # the instants, relative to t0
    span = float(key[-1] - key[0])
    if span <= 0:
        return 0.0, int(level.max(initial=0)), pd.DataFrame({"time": pd.to_datetime(key[:1] + t0, utc=True),
                                                               "wip": level[:1]})
    area = float(np.sum(level[:-1] * np.diff(key).astype(np.float64)))
    grid = np.linspace(key[0] + t0, key[-1] + t0, 400).astype(np.int64)
    idx = np.searchsorted(key, grid - t0, side="right") - 1
    sample = pd.DataFrame({"time": pd.to_datetime(grid, utc=True), "wip": level[np.clip(idx, 0, None)]})
    return area / span, int(level.max()), sample


def value_stream(
    log: EventLog | str | os.PathLike,
    *,
    engine: Engine = "auto",
    scheduler: str | None = None,
    value_added: Iterable[str] | None = None,
    time: Time = "calendar",
    calendar: Calendar | str | None = None,
    include_cut: bool = False,
) -> ValueStream:
    """Build the value stream of a log: flow, pace and steps.

    Parameters
    ----------
    log : EventLog
    value_added : list of str, optional
        The activities that add value for the customer. By default all of them do, and PCE
        is processing over lead time.
    time : {"calendar", "working"}, default "calendar"
        Measure durations on the wall clock or in working time of ``calendar``.
    calendar : Calendar or str, optional
        Working hours, for takt time (and for ``time="working"``). By default learnt from
        the log (:func:`~leanops.discover_calendar`).

    engine : {"auto", "pandas", "duckdb", "dask"}, default "auto"
        ``log`` may also be a canonical Parquet file or directory (:func:`leanops.convert`)
        or a :func:`leanops.scan`; "auto" then computes out of core in DuckDB. "dask" runs
        on the cluster at ``scheduler`` (partitions build the instance batch; the client holds it). The results are identical to the pandas engine's.
    scheduler : str, optional
        A Dask scheduler address such as ``tcp://host:8786`` (implies ``engine="dask"``).
    include_cut : bool, default False
        Keep the cases cut by the export window (:mod:`leanops.boundaries`). By default
        they are left out of every duration, and ``excluded_cases`` counts them.

    Returns
    -------
    ValueStream
        With ``.to_frame()`` (steps), ``.to_dict()`` / ``.to_json()`` and ``.plot()``.

    Examples
    --------
    >>> import leanops
    >>> vs = leanops.value_stream(leanops.datasets.load("production"))
    >>> 0 < vs.pce <= 1
    True
    >>> round(float(vs.steps["share_of_lead_time"].sum()), 6)
    1.0
    >>> vs.littles_law_ratio > 0  # WIP / (throughput × lead time) in the middle of the span
    True
    """
    if not (isinstance(log, EventLog) and engine in ("auto", "pandas") and scheduler is None):
        return _dispatch("value_stream", log, engine=engine, scheduler=scheduler, value_added=value_added, time=time,
                         calendar=calendar, include_cut=include_cut)  # Parquet on disk: DuckDB or Dask (leanops.mining.outofcore)
    check_log(log)
    va = None
    if value_added is not None:
        if isinstance(value_added, str):
            value_added = [value_added]
        va = tuple(check_names("value_added", list(value_added), log.activities, what="activity"))
    cal = _resolve_calendar(log, calendar)
    # granularity and recorded starts are all PCE needs (role labels do not touch it)
    recorded = float(log.df["start"].notna().mean()) if len(log) else 0.0
    gran = time_granularity(log)
    level = {"time_granularity": gran, "caveats": level_caveats(gran, recorded, [], False)[1]}
    log, excluded = complete_cases(log, include_cut=include_cut)
    b = from_log(log, time=time, calendar=cal if time == "working" else None)
    return value_stream_of(b, cal=cal, value_added=va, level=level, excluded=excluded, time=time)


def value_stream_of(b: Batch, *, cal: Calendar, value_added: tuple[str, ...] | None, level: dict[str, Any],
                    excluded: dict[str, int], time: str = "calendar") -> ValueStream:
    """The value stream of a batch of instances, for every engine: ``cal`` is the
    calendar for takt time, ``level`` the log's time granularity and caveats, ``excluded``
    the cut cases already left out of ``b``."""
    va = value_added
    n_rows = len(b)
    starts = b.starts
    seg = b.case
    n_cases = len(starts)
    act = b.activity
    n_act = len(b.activities)

    # ---- flow (per case)
    case_start_ns = b.start[starts]
    case_end_ns = np.maximum.reduceat(b.end, starts)
    if b.calendar is None:
        lead = (case_end_ns - case_start_ns) / 1e9
    else:
        lead = np.maximum.reduceat(b.end_s, starts) - b.start_s[starts]
    covered = np.add.reduceat(b.covered_s, starts)
    is_va = np.ones(n_act, dtype=bool) if va is None else np.isin(np.array(b.activities, dtype=object), list(va))
    va_cov = covered if va is None else np.bincount(seg, weights=np.where(is_va[act], b.covered_s, 0.0), minlength=n_cases)
    lead_sum = float(lead.sum())
    pce = float(va_cov.sum() / lead_sum) if lead_sum > 0 else float("nan")

    # ---- throughput, WIP and Little's law: always on the wall clock
    t0, t1 = int(case_start_ns.min()), int(case_end_ns.max())
    span_s = (t1 - t0) / 1e9
    throughput_per_day = n_cases / (span_s / _DAY) if span_s > 0 else float("nan")
    wip_mean, wip_max, wip = _wip_sweep(case_start_ns, case_end_ns)
    little = _littles_law(case_start_ns, case_end_ns)

    # ---- pace
    window = pd.DatetimeIndex(np.array([t0, t1]).view("datetime64[ns]")).tz_localize("UTC")
    available = float(cal.working_seconds(window[0], window[1]))
    takt = available / n_cases if n_cases else float("nan")

    # ---- steps
    # flow order: the mean relative position of each activity in its cases (on a regular
    # sample of at most ~200,000 cases: the order is all that is needed)
    step_ = max(1, n_cases // 200_000)
    lens_all = np.diff(np.r_[starts, n_rows])
    picked = np.arange(0, n_cases, step_)
    lens = lens_all[picked]
    offsets = np.cumsum(lens) - lens  # where each picked case begins in the sample
    pos_in_case = np.arange(int(lens.sum())) - np.repeat(offsets, lens)
    # the sampled rows' activities, gathered once (every row when every case is picked)
    act_s = act if step_ == 1 else act[np.repeat(starts[picked], lens) + pos_in_case]
    case_len = np.repeat(lens, lens)
    rel_pos = np.where(case_len > 1, pos_in_case / np.maximum(case_len - 1, 1), 0.0)
    pos_mean = np.bincount(act_s, weights=rel_pos, minlength=n_act) / np.maximum(
        np.bincount(act_s, minlength=n_act), 1)
    sums = b.sums
    # resources per activity, from the activity profiles of the resources
    n_res = (b.profile() > 0).sum(axis=0)
    steps = _steps_table(
        activities=np.array(b.activities, dtype=object), instances=sums.count, cases=sums.first_in_case,
        proc_sum=sums.service, wait_sum=sums.wait, pred_cnt=sums.with_pred, gap_sum=sums.gap, cov_sum=sums.covered,
        n_res=n_res, is_va=is_va, position=pos_mean, n_cases=n_cases, lead_sum=lead_sum, takt=takt,
    )

    return ValueStream(
        lead_time_mean_s=float(lead.mean()),
        lead_time_median_s=float(np.median(lead)),
        lead_time_p90_s=float(np.quantile(lead, 0.9)),
        processing_time_mean_s=float(covered.mean()),
        waiting_time_mean_s=float(np.maximum(lead - covered, 0.0).mean()),
        value_added_time_mean_s=float(va_cov.mean()),
        pce=_honest_pce(pce, level),
        throughput_per_day=float(throughput_per_day),
        takt_time_s=float(takt),
        wip_mean=float(wip_mean),
        wip_max=int(wip_max),
        littles_law_ratio=float(little),
        n_cases=int(n_cases),
        start=window[0],
        end=window[1],
        time=time,
        calendar=cal,
        value_added=va,
        starts_estimated=b.estimated_share,
        steps=steps,
        wip=wip,
        excluded_cases=excluded,
        caveats=_vs_caveats(level, excluded, b.estimated_share),
    )


def _steps_table(
    *, activities: np.ndarray, instances: np.ndarray, cases: np.ndarray, proc_sum: np.ndarray,
    wait_sum: np.ndarray, pred_cnt: np.ndarray, gap_sum: np.ndarray, cov_sum: np.ndarray, n_res: np.ndarray,
    is_va: np.ndarray, position: np.ndarray, n_cases: int, lead_sum: float, takt: float,
) -> pd.DataFrame:
    """The value stream's step table from per-activity sums, in flow order (shared by the
    in-memory and out-of-core engines). Activities with no instance are left out."""
    work_per_case = proc_sum / max(n_cases, 1)
    cycle = work_per_case / np.maximum(n_res, 1)
    steps = pd.DataFrame(
        {
            "activity": activities,
            "instances": instances,
            "cases": cases,
            "processing_mean_s": proc_sum / np.maximum(instances, 1),
            "waiting_mean_s": np.where(pred_cnt > 0, wait_sum / np.maximum(pred_cnt, 1), 0.0),
            "share_of_lead_time": (gap_sum + cov_sum) / lead_sum if lead_sum > 0 else np.nan,
            "processing_share": cov_sum / lead_sum if lead_sum > 0 else np.nan,
            "waiting_share": gap_sum / lead_sum if lead_sum > 0 else np.nan,
            "value_added": is_va,
            "resources": n_res,
            "cycle_time_s": cycle,
            "meets_takt": cycle <= takt,
            "resources_needed": work_per_case / takt if takt > 0 else np.nan,
            "_pos": position,
        }
    )[instances > 0]
    steps = steps.sort_values(["_pos", "instances"], ascending=[True, False], kind="stable").drop(columns="_pos")
    return steps.reset_index(drop=True)
