"""leanops.simulate: fit a simulation model from a log, run it on SimPy, validate it.

>>> import leanops
>>> from leanops import simulate
>>> model = simulate.fit(leanops.datasets.load("purchasing_example"))
>>> result = simulate.run(model, cases=100, seed=1)
>>> sorted(result.kpis)[:2]
['cycle_time_mean_s', 'cycle_time_p90_s']

SimPy and scipy are imported by the functions that need them, so importing this package
is cheap.
"""

from __future__ import annotations

from .distributions import Distribution, fit_distribution
from .engine import Replications, SimulationResult, kpis, replicate, run, summarize
from .experiments import Comparison, compare
from .fit import fit
from .scenarios import Change, Scenario, apply_scenario, load_scenarios, scenario
from .suggest import Suggestions, suggest
from .prosimos import from_prosimos
from ._limits import using as run_limits
from .state import OpenCase, State, current_state
from .validate import MEASURES, Split, Validation, compare_logs, persistence_baseline, split_by_time, validate
from .model import (
    END,
    START,
    Activity,
    Arrivals,
    CaseAttributes,
    Pool,
    Queue,
    Routing,
    Rule,
    SimulationModel,
)

__all__ = [
    "run_limits",
    "fit",
    "run",
    "compare",
    "Comparison",
    "suggest",
    "Suggestions",
    "Scenario",
    "Change",
    "scenario",
    "load_scenarios",
    "apply_scenario",
    "replicate",
    "summarize",
    "kpis",
    "validate",
    "from_prosimos",
    "current_state",
    "State",
    "OpenCase",
    "split_by_time",
    "persistence_baseline",
    "compare_logs",
    "Validation",
    "Split",
    "MEASURES",
    "SimulationModel",
    "SimulationResult",
    "Replications",
    "Activity",
    "Pool",
    "Routing",
    "Rule",
    "Arrivals",
    "CaseAttributes",
    "Queue",
    "Distribution",
    "fit_distribution",
    "START",
    "END",
]
