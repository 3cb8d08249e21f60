"""leanops.rca: why cases are slow, why they wait, why they loop.

* :func:`features` builds the per-case feature table;
* :func:`root_causes` ranks conditions (feature = value, or a numeric feature over a
  threshold) by their effect on a target, with bootstrap CIs and BH-corrected p-values;
* :func:`rules` fits a small readable decision tree;
* :func:`waiting_causes` splits waiting time into contention, unavailability,
  prioritisation, batching and extraneous (Lashkevich et al.).
"""

from __future__ import annotations

from .drivers import Cause, LowConfidenceWarning, RootCauses, root_causes
from .features import CATEGORIES, feature_category, features
from .rules import Rules, rules
from .targets import Target, parse_duration, target_values
from .waiting import WAITING_CAUSES, WaitingCauses, waiting_causes

__all__ = [
    "features",
    "feature_category",
    "CATEGORIES",
    "root_causes",
    "RootCauses",
    "Cause",
    "LowConfidenceWarning",
    "target_values",
    "Target",
    "parse_duration",
    "rules",
    "Rules",
    "waiting_causes",
    "WaitingCauses",
    "WAITING_CAUSES",
]
