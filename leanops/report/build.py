"""Build a :class:`~leanops.report.model.Report` from one EventLog."""

from __future__ import annotations

import datetime as _dt
import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from .._normalize import parse_time as _parse_time
from .._validation import check_log, closest
from ..errors import InputError
from ..log import EventLog
from .config import ReportConfig
from .model import Report, Section
from .sections import SECTIONS, Context, case_times

__all__ = ["build_report", "filter_period", "parse_time"]


def parse_time(name: str, value: Any, *, tz: str = "UTC") -> pd.Timestamp | None:
    """An instant from an ISO date or timestamp; naive values are read in ``tz``."""
    if value is None or value == "":
        return None
    return _parse_time(value, tz=tz, name=name)


def filter_period(log: EventLog, *, since: Any = None, until: Any = None) -> tuple[EventLog, dict[str, Any]]:
    """Keep the cases whose first activity starts in ``[since, until)``.

    Returns the filtered log and a description of the filter (counts before and after),
    which the data-quality section reports, so no case disappears silently.
    """
    t0 = parse_time("since", since, tz=log.tz)
    t1 = parse_time("until", until, tz=log.tz)
    if t0 is None and t1 is None:
        return log, {}
    if t0 is not None and t1 is not None and t1 <= t0:
        raise InputError(f"until ({t1.isoformat()}) must be later than since ({t0.isoformat()}).")
    ct = case_times(log)
    keep = np.ones(len(ct), dtype=bool)
    if t0 is not None:
        keep &= (ct["start"] >= t0).to_numpy()
    if t1 is not None:
        keep &= (ct["start"] < t1).to_numpy()
    label = " ".join(
        p for p in (f"from {t0.isoformat()}" if t0 is not None else "", f"before {t1.isoformat()}" if t1 is not None else "") if p
    )
    if not keep.any():
        span = f"{_iso(log.start_time)} to {_iso(log.end_time)}"
        raise InputError(f"no case starts {label}; the log spans {span}. Change --since/--until.")
    period = {
        "since": t0.isoformat() if t0 is not None else None,
        "until": t1.isoformat() if t1 is not None else None,
        "label": label,
        "cases_before": int(len(ct)),
        "cases_after": int(keep.sum()),
    }
    return (log if keep.all() else log.select_cases(keep)), period


def _iso(ts: Any) -> str:
    return "–" if ts is None or pd.isna(ts) else pd.Timestamp(ts).isoformat()


OPTIONAL = ("simulation", "sop", "beforeafter")


def _selected(config: ReportConfig, *, simulate: bool = False) -> list[str]:
    keys = list(SECTIONS)
    for what in ("sections", "exclude"):
        for k in getattr(config, what) or ():
            if k not in SECTIONS:
                hint = closest(k, keys)
                tip = f" Did you mean {hint[0]!r}?" if hint else ""
                raise InputError(f"{what}: unknown section {k!r}.{tip} Available sections: {', '.join(keys)}.")
    chosen = [k for k in keys if config.sections is None or k in config.sections]
    wanted = {"simulation": simulate, "sop": config.sop is not None, "beforeafter": config.change_at is not None}
    return [k for k in chosen if k not in config.exclude and (k not in OPTIONAL or wanted[k])]


def build_report(
    log: EventLog,
    *,
    name: str | None = None,
    since: Any = None,
    until: Any = None,
    config: ReportConfig | None = None,
    simulate: bool = False,
    on_section: Callable[[Section], None] | None = None,
) -> Report:
    """The bottleneck report of ``log``: every section whose analysis leanops provides.

    Parameters
    ----------
    log : EventLog
    name : str, optional
        Short name of the log, used in the title (default: from ``log.source``).
    since, until : str or Timestamp, optional
        Keep only the cases whose first activity starts in ``[since, until)``; naive
        values are read in the log's time zone. The data-quality section reports how many
        cases were left out.
    config : ReportConfig, optional
        Title, sections to include or exclude, rows shown per table.
    simulate : bool
        Add the simulation section: a model fitted on the first 80 % of cases is validated
        on the rest against the persistence baseline, and the model fitted on the whole log
        is replicated (this takes seconds to minutes).
    on_section : callable, optional
        Called with each finished section (used for progress bars and timings).

    Returns
    -------
    Report
        With ``.to_html()``, ``.to_markdown()``, ``.to_json()`` and ``.save(path)``.

    Examples
    --------
    >>> import leanops
    >>> rep = leanops.build_report(leanops.datasets.load("production"))
    >>> rep.sections[0].title
    'Executive summary'
    >>> rep.section("kpis").data["cases"]  # 225, less 6 still open at the export
    219
    >>> rep.section("kpis").data["excluded_cases"]
    {'cut_at_start': 0, 'open_at_end': 6}
    """
    check_log(log, allow_empty=True)
    config = config or ReportConfig()
    keys = _selected(config, simulate=simulate)
    if len(log) == 0:
        raise InputError("the log has no activity instances; nothing to report.")
    name = name or _name_of(log)
    if config.value_added is not None:
        from .._validation import check_names

        check_names("value_added", config.value_added, log.activities, what="activity")
    log, period = filter_period(log, since=since, until=until)
    ctx = Context(log=log, config=config, name=name, period=period)
    done: dict[str, Section] = {}
    failed: list[str] = []
    # Computed in dependency order (the bottleneck marks the other sections), shown in report order.
    first = [k for k in ("bottlenecks",) if k in keys]
    order = first + [k for k in keys if k not in ("summary", "appendix", *first)] + [k for k in ("appendix", "summary") if k in keys]
    for key in order:
        title, fn = SECTIONS[key]
        ctx.done = done
        t = time.perf_counter()
        caught: list[warnings.WarningMessage] = []
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                sec = fn(ctx)
        except InputError as exc:  # the analysis does not apply to this log: say why
            sec = Section(key, title, error=str(exc))
        except Exception as exc:  # a bug: keep the rest of the report, flag the failure
            sec = Section(key, title, error=f"internal error: {type(exc).__name__}: {exc}")
            failed.append(f"{key}: {type(exc).__name__}: {exc}")
        sec.elapsed_s = time.perf_counter() - t
        seen = set()
        for w in caught:  # what an analysis warns about belongs next to its numbers
            msg = " ".join(str(w.message).split())
            head = msg.split("(")[0]
            if issubclass(w.category, UserWarning) and head not in seen:
                seen.add(head)
                sec.summary.append(f"Caution: {msg}")
        done[key] = sec
        if on_section is not None:
            on_section(sec)
    sections = [done[k] for k in keys]
    return Report(
        title=config.title or f"Bottleneck report: {name}",
        name=name,
        info=_info(log, full_path=config.full_path),
        sections=sections,
        generated=_dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        period=period,
        max_rows=config.max_rows,
        failed=failed,
    )


def _info(log: EventLog, *, full_path: bool) -> dict:
    """The log summary; its ``source`` reduced to the file name unless the full path is asked
    for (reports get forwarded, and a local path tells about the machine and its user)."""
    import os

    info = log.summary()
    src = info.get("source")
    if src and not full_path:
        info["source"] = os.path.basename(str(src).replace("\\", "/").rstrip("/")) or str(src)
    return info


def _name_of(log: EventLog) -> str:
    import os

    src = str(log.source or "event log")
    base = os.path.basename(src.rstrip("/\\")) or src
    for suf in (".gz", ".bz2", ".zip", ".xz", ".csv", ".xes", ".parquet", ".pq", ".tsv", ".txt"):
        if base.lower().endswith(suf) and len(base) > len(suf):
            base = base[: -len(suf)]
    return base
