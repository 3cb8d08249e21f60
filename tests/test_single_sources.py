"""One implementation each (issue 16 leftovers): fit's pools come from the log's resource
model, the process map is merged from parts by one function, one duration parser and one
time parser."""

from __future__ import annotations

import ast
from pathlib import Path

import pandas as pd

import leanops
from leanops import simulate
from leanops._pools import resource_model, resource_pools

PKG = Path(leanops.__file__).parent


def _calls(name: str) -> set[str]:
    """Package files (relative paths) that call ``name`` (as a bare name or an attribute)."""
    found = set()
    for path in PKG.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                f = node.func
                if (isinstance(f, ast.Name) and f.id == name) or (isinstance(f, ast.Attribute) and f.attr == name):
                    found.add(path.relative_to(PKG).as_posix())
    return found


def _shift_log() -> leanops.EventLog:
    """Two clerks on Triage, two experts on Review, a week of office-hours cases."""
    rows = []
    t0 = pd.Timestamp("2024-03-04 09:00", tz="UTC")  # a Monday
    for i in range(60):
        day = t0 + pd.Timedelta(days=(i // 12) % 5 + 7 * (i // 60), minutes=30 * (i % 12))
        rows.append((f"c{i}", "Triage", day, day + pd.Timedelta(minutes=10), f"clerk_{i % 2 + 1}"))
        rows.append((f"c{i}", "Review", day + pd.Timedelta(minutes=20), day + pd.Timedelta(minutes=45),
                     f"expert_{i % 2 + 1}"))
    df = pd.DataFrame(rows, columns=["case_id", "activity", "start_time", "end_time", "resource"])
    return leanops.from_frame(df, case="case_id", activity="activity", start="start_time", end="end_time",
                              resource="resource")


def _members(model: simulate.SimulationModel) -> dict[str, set[str]]:
    return {p.name: set(p.members) for p in model.pools}


def test_fit_takes_its_pools_from_the_resource_model():
    kw = dict(calendars="24/7", delays=False, batches=False, priorities=False, seed=0)
    log = _shift_log()
    model = simulate.fit(log, **kw)
    # results unchanged: the pools an independent recomputation finds on a fresh log
    want: dict[str, set[str]] = {}
    for r, p in resource_pools(_shift_log()).items():
        want.setdefault(p, set()).add(r)
    assert _members(model) == want == {"clerk": {"clerk_1", "clerk_2"}, "expert": {"expert_1", "expert_2"}}
    # and they come from the object cached on the log, not from a second computation
    rm = resource_model(log)
    rm.pools = {r: "everyone" for r in rm.pools}
    assert _members(simulate.fit(log, **kw)) == {"everyone": {"clerk_1", "clerk_2", "expert_1", "expert_2"}}


def test_completion_only_fit_shares_the_resource_model_of_the_log_it_was_given():
    df = _shift_log().df.assign(start=pd.NaT)
    log = leanops.from_frame(df.rename(columns={"end": "end_time"}).drop(columns="start"), case="case_id",
                             activity="activity", end="end_time", resource="resource")
    rm = resource_model(log)
    rm.pools = {r: "everyone" for r in rm.pools}
    model = simulate.fit(log, calendars="24/7", delays=False, batches=False, priorities=False, seed=0)
    assert _members(model) == {"everyone": {"clerk_1", "clerk_2", "expert_1", "expert_2"}}


def test_pools_are_computed_in_one_place():
    # a log's pools come only from _pools.resource_model; the out-of-core engine counts the
    # profile without a log and is the one other caller
    assert _calls("resource_pools") <= {"_pools.py", "mining/outofcore.py"}
    assert _calls("discover_calendar") - {"__init__.py"} <= {
        "mining/resources.py", "mining/performance.py", "rca/waiting.py"}
