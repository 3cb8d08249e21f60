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
    # a log's pools come only from _pools.resource_model; the out-of-core engines count the
    # profile from their instance batch without a log (mining/_batch_inputs.py), the one other caller
    assert _calls("resource_pools") <= {"_pools.py", "mining/_batch_inputs.py"}
    assert _calls("discover_calendar") - {"__init__.py"} <= {
        "mining/resources.py", "mining/performance.py", "rca/waiting.py"}


# ------------------------------------------------------------------ process-map totals
def _map_log() -> leanops.EventLog:
    """Hand-worked: c1 A(0-10) B(15-20) C(20-30); c2 A(0-5) C(3-8, overlaps A) ;
    c3 A(0-20) B(end 30, no start) B(40-50). Minutes after T0."""
    t0 = pd.Timestamp("2024-03-04 09:00", tz="UTC")
    m = lambda x: None if x is None else t0 + pd.Timedelta(minutes=x)  # noqa: E731
    rows = [("c1", "A", 0, 10), ("c1", "B", 15, 20), ("c1", "C", 20, 30),
            ("c2", "A", 0, 5), ("c2", "C", 3, 8),
            ("c3", "A", 0, 20), ("c3", "B", None, 30), ("c3", "B", 40, 50)]
    df = pd.DataFrame([(c, a, m(s), m(e)) for c, a, s, e in rows], columns=["case_id", "activity", "start", "end"])
    return leanops.from_frame(df, case="case_id", activity="activity", start="start", end="end")


def _check_hand_worked_map(g) -> None:
    nodes = g.nodes.set_index("activity")
    assert nodes["count"].to_dict() == {"A": 3, "B": 3, "C": 2}
    assert nodes["cases"].to_dict() == {"A": 3, "B": 2, "C": 2}
    # service over instances with a start: A 10, 5, 20 min; B 5, 10 (one without a start); C 10, 5
    assert nodes["service_mean_s"].to_dict() == {"A": 700.0, "B": 450.0, "C": 450.0}
    assert nodes["service_median_s"].to_dict() == {"A": 600.0, "B": 450.0, "C": 450.0}
    edges = g.edges.set_index(["source", "target"])
    assert edges["count"].to_dict() == {("A", "B"): 2, ("A", "C"): 1, ("B", "C"): 1, ("B", "B"): 1}
    # waits: A->B 5 min (c1) and 10 min end to end (c3, B has no start); A->C 0 (overlap);
    # B->C 0; B->B 10 min
    assert edges["wait_mean_s"].to_dict() == {("A", "B"): 450.0, ("A", "C"): 0.0, ("B", "C"): 0.0, ("B", "B"): 600.0}
    assert edges["wait_basis"].to_dict() == {("A", "B"): "mixed", ("A", "C"): "start", ("B", "C"): "start",
                                             ("B", "B"): "start"}
    assert list(g.start_activities.items()) == [("A", 3)]
    assert list(g.end_activities.items()) == [("C", 2), ("B", 1)]
    assert (g.n_cases, g.n_events, g.wait_basis) == (3, 8, "mixed")


def test_every_engine_builds_the_map_with_the_one_function(tmp_path, monkeypatch):
    from leanops.mining import graph

    log = _map_log()
    one = leanops.convert(log, tmp_path / "one.parquet")
    parts = leanops.convert(log, tmp_path / "parts", partitions=2)
    calls = []
    real = graph.map_tables

    def spy(*a, **k):
        calls.append(1)
        return real(*a, **k)

    monkeypatch.setattr(graph, "map_tables", spy)
    for src in (log, one, parts):
        n = len(calls)
        _check_hand_worked_map(leanops.discover(src))
        assert len(calls) == n + 1, src
    # the activity slider's note is worded and counted the same way by each engine
    notes = {leanops.discover(src, activities=0.7).notes for src in (log, one, parts)}
    assert notes == {("activities: kept the 2 most frequent of 3 activities (75.0% of instances); "
                      "the others are abstracted away",)}


def test_map_totals_add_up_over_case_partitions():
    from leanops.mining._map import map_tables, merge_parts
    from leanops.mining.graph import _base_arrays, _map_part

    log = leanops.datasets.load("production")
    cases = log.df["case_id"].unique()
    halves = [log.select_cases(cases[: len(cases) // 3]), log.select_cases(cases[len(cases) // 3:])]
    whole, _, _ = _map_part(*_base_arrays(log))
    merged = merge_parts([_map_part(*_base_arrays(h))[0] for h in halves])
    for name, keys in (("nodes", ["activity"]), ("edges", ["source", "target"]), ("ends", ["activity"])):
        a = whole[name].set_index(keys).sort_index()
        b = merged[name].set_index(keys).sort_index()
        pd.testing.assert_frame_equal(a, b, check_dtype=False, rtol=1e-12)
    nodes, edges, sa, ea = map_tables(merged, None, None)
    g = leanops.discover(log)
    pd.testing.assert_frame_equal(nodes[["activity", "count", "cases", "service_mean_s"]],
                                  g.nodes[["activity", "count", "cases", "service_mean_s"]], rtol=1e-12)
    assert (sa, ea) == (g.start_activities, g.end_activities)


def test_dask_engine_counts_no_distinct_in_a_grouped_aggregate():
    # count(DISTINCT ...) does not spill in DuckDB: distinct cases go through DISTINCT subqueries
    src = (PKG / "mining" / "distributed.py").read_text(encoding="utf-8").lower()
    assert "count(distinct" not in src


# ------------------------------------------------------------------ one duration parser, one time parser
def test_one_duration_parser_behind_every_option():
    import pytest

    from leanops import rca
    from leanops._durations import parse_duration
    from leanops.errors import InputError, ScenarioError
    from leanops.simulate import scenarios
    from leanops.simulate.experiments import _sla_seconds
    from leanops.sop import _within

    assert rca.parse_duration is parse_duration
    assert scenarios.parse_duration is parse_duration  # its own pandas-based copy is gone
    for text, s in (("1d12h", 129600.0), ("90min", 5400.0), ("2.5h", 9000.0), ("P2D", 172800.0),
                    ("01:30:00", 5400.0), ("2 weeks", 1209600.0), ("45", 45.0)):
        assert parse_duration(text) == s
        assert _sla_seconds(text, None) == s  # simulate(from_log=..., sla=...) and --sla
        assert _within(text, "rules[0]") == s  # SOP rules
    # a scenario change reads the same forms, and says where a bad one is
    from leanops.simulate import Activity, Arrivals, Distribution, Pool, Routing, SimulationModel
    from leanops.simulate.model import END, START

    m = SimulationModel(activities=(Activity("A", "p", Distribution.fixed(60.0)),),
                        routing=(Routing(START, (("A", 1.0),)), Routing("A", ((END, 1.0),))),
                        pools=(Pool("p", ("r",)),), arrivals=Arrivals(Distribution.fixed(600.0)))
    auto = scenarios.apply_scenario(m, {"name": "x", "changes": [{"automate": {"activity": "A", "duration": "1d12h"}}]})
    assert auto.activity("A").duration.mean == 129600.0
    with pytest.raises(ScenarioError, match=r"duration must be a duration like '30s', .*got 'soon'"):
        scenarios.apply_scenario(m, {"name": "x", "changes": [{"automate": {"activity": "A", "duration": "soon"}}]})
    # one message shape; negative, NaN and (where positive) zero durations are refused
    for bad, kw in (("-3d", {}), ("nan", {}), (float("inf"), {}), (True, {}), ("0", {"positive": True}), ("", {})):
        with pytest.raises(InputError, match=r"^sla must be a duration like '30s', '90min', '4h' or '1d12h', or a "
                                             r"number of seconds [>=]+ 0; got "):
            parse_duration(bad, name="sla", **kw)
    # no other module turns user text into a duration with pandas (prosimos reads its own format)
    users = _timedelta_text_calls()
    assert users <= {"_durations.py", "simulate/prosimos.py", "simulate/engine.py"}, users


def _timedelta_text_calls() -> set[str]:
    """Files calling ``pd.Timedelta(x)`` with one positional argument and no unit (parsing)."""
    found = set()
    for path in PKG.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "Timedelta"
                    and len(node.args) == 1 and not node.keywords):
                found.add(path.relative_to(PKG).as_posix())
    return found


def _local_log() -> leanops.EventLog:
    """Naive times in Amsterdam (UTC+1 in January): c1 done by 10:00 local, c2 open until 12:00."""
    rows = [("c1", "A", "2024-01-01 08:00", "2024-01-01 09:00"), ("c1", "B", "2024-01-01 09:00", "2024-01-01 09:30"),
            ("c2", "A", "2024-01-01 09:30", "2024-01-01 10:30"), ("c2", "B", "2024-01-01 11:00", "2024-01-01 12:00")]
    df = pd.DataFrame(rows, columns=["case_id", "activity", "start_time", "end_time"])
    return leanops.from_frame(df, case="case_id", activity="activity", start="start_time", end="end_time",
                              tz="Europe/Amsterdam")


def test_a_naive_at_is_local_time_of_the_log():
    from leanops.simulate import Activity, Arrivals, Distribution, Routing, SimulationModel
    from leanops.simulate.model import END, START

    log = _local_log()
    model = SimulationModel(activities=(Activity("A", None, Distribution.fixed(3600.0)),
                                        Activity("B", None, Distribution.fixed(1800.0))),
                            routing=(Routing(START, (("A", 1.0),)), Routing("A", (("B", 1.0),)), Routing("B", ((END, 1.0),))),
                            pools=(), arrivals=Arrivals(Distribution.fixed(1e9)))
    utc = pd.Timestamp("2024-01-01 09:15", tz="UTC")  # 10:15 in Amsterdam: c2 is in A
    for at in ("2024-01-01 10:15", "2024-01-01T09:15Z", "2024-01-01T10:15+01:00", utc, pd.Timestamp("2024-01-01 10:15")):
        st = simulate.current_state(log, model=model, at=at)
        assert st.at == utc, at
        assert [c.case_id for c in st.open] == ["c2"] and st.closed == 1
    # the same parser behind filter_time: 09:15 in Amsterdam is after c1 started, before c2 did
    for at in ("2024-01-01 09:15", pd.Timestamp("2024-01-01 08:15", tz="UTC")):
        assert list(leanops.filter_time(log, start=at, mode="started").case_ids) == ["c2"]


def test_bad_at_exits_2_naming_it():
    from conftest import DATASETS, assert_bad_input, run_leanops

    assert_bad_input(run_leanops("simulate", DATASETS / "production.xes.gz", "--from-state", "--at", "after lunch"),
                     "--at must be an ISO date or timestamp", "after lunch")


# ------------------------------------------------------------------ one warm-up default
def test_compare_defaults_to_the_cli_warmup(tmp_path):
    import json

    from conftest import run_leanops

    from leanops.simulate import END, START, Activity, Arrivals, Distribution, Pool, Routing, SimulationModel, compare

    model = SimulationModel(
        activities=(Activity("Serve", "desk", Distribution.exponential(300.0)),),
        routing=(Routing(START, (("Serve", 1.0),)), Routing("Serve", ((END, 1.0),))),
        pools=(Pool("desk", ("d0",)),), arrivals=Arrivals(Distribution.exponential(400.0)),
        start=pd.Timestamp("2024-01-01", tz="UTC"))
    path = tmp_path / "m.json"
    model.save(path)
    res = run_leanops("simulate", path, "--cases", "400", "--replications", "2", "--seed", "3", "--json")
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    cmp = compare(model, cases=400, replications=2, seed=3)
    assert doc["warmup"] == cmp.warmup == "auto"
    py = json.loads(json.dumps(cmp.to_dict(), default=str))
    assert py["baseline"] == doc["baseline"] and py["window"] == doc["window"]
    # and "auto" is not the old 10%: an M/M/1 at 75% load starts empty, well below steady state
    ten = compare(model, cases=400, replications=2, seed=3, warmup=40).to_dict()
    assert ten["baseline"] != py["baseline"]
