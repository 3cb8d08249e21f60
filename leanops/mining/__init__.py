"""leanops.mining: what happened (process graph, performance, value stream, bottlenecks)."""

from .bottlenecks import bottlenecks, rework
from .performance import estimate_start_times, performance
from .resources import discover_pools, handoffs, multitasking, utilization
from .valuestream import ValueStream, value_stream

__all__ = [
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
