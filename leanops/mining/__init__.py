"""leanops.mining: what happened. Process maps, variants, filters and pm4py process models.

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
]
