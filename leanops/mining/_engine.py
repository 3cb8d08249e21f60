"""Engine choice: which implementation runs an analysis on a given log.

This module imports no analysis and no engine, so that every analysis module can call
:func:`dispatch` without an import cycle. The engines register themselves in
``leanops/mining/__init__.py``: ``pandas`` (the analysis modules' own in-memory code),
``duckdb`` (:mod:`leanops.mining.outofcore`) and ``dask``
(:mod:`leanops.mining.distributed`).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, Literal

from .._validation import check_choice
from ..errors import InputError
from ..log import EventLog
from ..scan import LogScan, scan

__all__ = ["Engine", "ENGINES", "dispatch", "is_lazy", "register"]

Engine = Literal["auto", "pandas", "duckdb", "dask"]
ENGINES = ("auto", "pandas", "duckdb", "dask")

# engine name -> run(name, log, **options); filled in by leanops/mining/__init__.py
_RUNNERS: dict[str, Callable[..., Any]] = {}


def register(engine: str, runner: Callable[..., Any]) -> None:
    """Make ``runner(name, log, **options)`` the implementation of ``engine``."""
    _RUNNERS[engine] = runner


def is_lazy(log: Any) -> bool:
    """True for a log that stays on disk: a Parquet path or a :class:`~leanops.LogScan`."""
    return isinstance(log, (LogScan, str, os.PathLike))


def dispatch(name: str, log: Any, *, engine: str, scheduler: str | None, **options: Any) -> Any:
    """Run ``name`` on ``log`` with the chosen engine (called by the public functions).

    ``engine="auto"`` uses pandas for an EventLog and DuckDB for a path or LogScan; a
    ``scheduler`` address implies Dask.
    """
    check_choice("engine", engine, ENGINES)
    if scheduler is not None and engine == "auto":
        engine = "dask"
    if scheduler is not None and engine != "dask":
        raise InputError(f"{name}: scheduler= is for engine='dask'; got engine={engine!r}. Drop scheduler= or use engine='dask'.")
    if engine == "pandas" or (engine == "auto" and isinstance(log, EventLog)):
        ev = log if isinstance(log, EventLog) else scan(log).to_log()
        return _RUNNERS["pandas"](name, ev, **options)
    if isinstance(log, EventLog):
        raise InputError(
            f"{name}: engine={engine!r} works on Parquet on disk; got an EventLog in memory. "
            "Write it with leanops.convert(log, 'out.parquet') and pass the path, or use engine='pandas'."
        )
    if not is_lazy(log):
        raise InputError(f"{name}: log must be a leanops.EventLog, a Parquet path or a leanops.scan(); got {type(log).__name__}.")
    s = scan(log)
    if engine == "dask":
        return _RUNNERS["dask"](name, s, scheduler=scheduler, **options)
    return _RUNNERS["duckdb"](name, s, **options)
