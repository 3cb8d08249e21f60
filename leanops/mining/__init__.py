"""leanops.mining: what happened. Process maps, variants, filters, pm4py process models,
performance, value stream, resources and bottlenecks.

Layout
------
* Analyses (public functions and their result types, each with its in-memory pandas
  code): ``graph.py`` (discover), ``variants.py``, ``models.py``, ``performance.py``,
  ``valuestream.py``, ``resources.py``, ``bottlenecks.py``; ``render.py`` draws maps.
* Engines (run the same analyses on Parquet on disk): ``outofcore.py`` (DuckDB) and
  ``distributed.py`` (Dask, one partition per task, on top of the DuckDB SQL). For
  ``value_stream``, ``bottlenecks`` and ``performance`` they only build the instance
  batch; the analyses' own code runs on it.
* Engine choice: ``_engine.py`` (:func:`~leanops.mining._engine.dispatch`) imports no
  analysis and no engine; the engines are registered below, so the import graph has no
  cycle (``tests/test_imports.py``).
* Shared private helpers (leading underscore, below the analyses and the engines):
  ``_batch.py`` (one columnar batch of activity instances, from an EventLog, from
  DuckDB's Arrow stream or from Dask partitions), ``_batch_inputs.py`` (pools, calendar,
  evidence and cut cases from a batch's rows), ``_steps.py`` (the per-case instance order
  and enablement), ``_map.py`` (the process map from per-case part tables, which every
  engine produces and one function merges), ``_quantiles.py`` (exact quantiles from
  (value, count) tables, for DuckDB and Dask alike), ``waits.py`` (the one waiting
  decomposition), ``_engine.py``.

Examples
--------
>>> import leanops
>>> g = leanops.mining.discover(leanops.datasets.load("production"))
>>> len(g.nodes)
26
"""

from .graph import END, START, ProcessGraph, discover
from .models import ConformanceResult, PetriNet, ProcessModel, conformance, discover_model
from .variants import filter_activity, filter_attribute, filter_time, filter_variants, variants
from .bottlenecks import bottlenecks, rework
from .performance import estimate_start_times, performance
from .resources import discover_pools, handoffs, multitasking, utilization
from .valuestream import ValueStream, value_stream
from . import _engine, distributed, outofcore

# the public functions are the pandas engine (they run in memory when given an EventLog)
_PANDAS = {"discover": discover, "variants": variants, "performance": performance,
           "value_stream": value_stream, "bottlenecks": bottlenecks}
_engine.register("pandas", lambda name, log, **options: _PANDAS[name](log, **options))
_engine.register("duckdb", outofcore.run)
_engine.register("dask", distributed.run)

__all__ = [
    # --- process graphs, variants, models (issue 3)
    "discover",
    "ProcessGraph",
    "START",
    "END",
    "variants",
    "filter_variants",
    "filter_time",
    "filter_attribute",
    "filter_activity",
    "discover_model",
    "ProcessModel",
    "PetriNet",
    "conformance",
    "ConformanceResult",
    # --- performance, value stream, resources, bottlenecks (issue 4)
    "performance",
    "estimate_start_times",
    "value_stream",
    "ValueStream",
    "utilization",
    "discover_pools",
    "handoffs",
    "multitasking",
    "bottlenecks",
    "rework",
]
