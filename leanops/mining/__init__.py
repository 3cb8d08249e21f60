"""leanops.mining: what happened. Process maps, variants, filters, pm4py process models,
performance, value stream, resources and bottlenecks.

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
