"""Scenario changes on hand-built models: each change's effect worked out by hand, validation."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from leanops.errors import ScenarioError
from leanops.simulate import (
    END, START, Activity, Arrivals, CaseAttributes, Distribution, Pool, Routing, SimulationModel,
    apply_scenario, load_scenarios, run,
)

MON = pd.Timestamp("2024-01-01", tz="UTC")


def model() -> SimulationModel:
    return SimulationModel(
        activities=(
            Activity("Triage", "clerks", Distribution.exponential(300.0)),
            Activity("Review", "experts", Distribution("lognormal", (math.log(600.0), 0.5)),
                     by_resource=(("e1", Distribution.exponential(900.0)),)),
            Activity("Double check", "experts", Distribution.exponential(120.0)),
            Activity("Decision", "clerks", Distribution.fixed(60.0)),
            Activity("Rework", "clerks", Distribution.exponential(200.0)),
            Activity("Notify", "clerks", Distribution.fixed(30.0)),
        ),
        routing=(
            Routing(START, (("Triage", 1.0),)),
            Routing("Triage", (("Review", 1.0),)),
            Routing("Review", (("Double check", 0.5), ("Decision", 0.5))),
            Routing("Double check", (("Decision", 0.8), ("Double check", 0.2))),
            Routing("Decision", (("Rework", 0.25), ("Notify", 0.75))),
            Routing("Rework", (("Review", 1.0),)),
            Routing("Notify", ((END, 1.0),)),
        ),
        pools=(Pool("clerks", ("c1", "c2")), Pool("experts", ("e1",))),
        arrivals=Arrivals(Distribution.exponential(900.0)),
        attributes=CaseAttributes(("priority",), (("high",), ("low",), ("low",))),
        start=MON,
    )


def apply(*changes):
    return apply_scenario(model(), {"name": "t", "changes": list(changes)})


def nxt(m, src):
    return dict(next(r for r in m.routing if r.source == src).next)


def test_the_design_md_example_loads_with_safe_load_and_applies_in_order():
    text = """
name: one more reviewer, automated notification
changes:
  - add_resources: {activity: Review, count: 1}
  - scale_duration: {activity: Triage, factor: 0.7}
  - automate: {activity: Notify, duration: 30s}
  - remove_activity: {activity: Double check}
  - set_routing: {from: Decision, to: {Rework: 0.05, Notify: 0.95}}
  - arrivals: {factor: 1.2}
  - calendar: {activity: Review, hours: "Mon-Fri 08:00-18:00"}
  - priority: {attribute: priority, order: [high, low]}
"""
    [sc] = load_scenarios(text)
    assert sc.name == "one more reviewer, automated notification" and len(sc.changes) == 8
    base = model()
    m = sc.apply(base)
    assert m.pool("experts").size == 2 and base.pool("experts").size == 1  # the input is untouched
    assert m.activity("Triage").duration.mean == pytest.approx(210.0)
    n = m.activity("Notify")
    assert n.pool is None and n.duration.kind == "fixed" and n.duration.mean == 30.0
    assert "Double check" not in m.activity_names
    assert nxt(m, "Decision") == {"Rework": 0.05, "Notify": 0.95}
    assert m.arrivals.interarrival.mean == pytest.approx(750.0)
    assert m.pool("experts").hours.startswith("Mon 08:00-18:00") and m.pool("clerks").hours == "24/7"
    assert m.queue.discipline == "priority" and m.queue.attribute == "priority" and m.queue.order == ("high", "low")
    assert run(m, cases=200, seed=1).log.n_cases == 200


def test_scale_duration_scales_every_family_and_per_resource_durations():
    m = apply({"scale_duration": {"activity": "Review", "factor": 0.5}})
    assert m.activity("Review").duration.mean == pytest.approx(0.5 * 600.0 * math.exp(0.5**2 / 2))  # lognormal mean
    assert dict(m.activity("Review").by_resource)["e1"].mean == pytest.approx(450.0)


def test_remove_activity_sends_predecessors_to_its_successors():
    m = apply({"remove_activity": {"activity": "Double check"}})
    # Review -> Double check (0.5) -> Decision (its self-loop dropped): Review -> Decision 1.0
    assert nxt(m, "Review") == pytest.approx({"Decision": 1.0})
    m = apply({"remove_activity": {"activity": "Decision"}})
    # Review: Double check 0.5; Decision 0.5 -> Rework 0.125, Notify 0.375
    assert nxt(m, "Review") == pytest.approx({"Double check": 0.5, "Rework": 0.125, "Notify": 0.375})
    assert nxt(m, "Double check") == pytest.approx({"Double check": 0.2, "Rework": 0.2, "Notify": 0.6})


def test_remove_and_routing_errors():
    with pytest.raises(ScenarioError, match=r"Did you mean 'Review'"):
        apply({"remove_activity": {"activity": "Reveiw"}})
    with pytest.raises(ScenarioError, match="sum to 0.9"):
        apply({"set_routing": {"from": "Decision", "to": {"Rework": 0.2, "Notify": 0.7}}})
    # Rework -> Review -> Decision -> Rework only: no case can finish
    with pytest.raises(ScenarioError, match="only path to the end"):
        apply({"set_routing": {"from": "Decision", "to": {"Rework": 1.0}}})
    with pytest.raises(ScenarioError, match="only path to the end"):
        apply({"set_routing": {"from": "Notify", "to": {"Triage": 1.0}}})
    # removing Notify keeps the end reachable (Decision -> Rework / end)
    m = apply({"remove_activity": {"activity": "Notify"}})
    assert nxt(m, "Decision") == pytest.approx({"Rework": 0.25, END: 0.75})


def test_changes_compose_in_order_and_are_checked_against_the_changed_model():
    with pytest.raises(ScenarioError, match="change 2 .*unknown activity 'Notify'"):
        apply({"remove_activity": {"activity": "Notify"}}, {"scale_duration": {"activity": "Notify", "factor": 2}})
    m = apply({"add_resources": {"activity": "Review", "count": 2}}, {"add_resources": {"activity": "Double check", "count": -1}})
    assert m.pool("experts").size == 2


@pytest.mark.parametrize("change, fragment", [
    ({"add_resource": {"activity": "Review"}}, "did you mean 'add_resources'"),
    ({"add_resources": {"activty": "Review"}}, "did you mean 'activity'"),
    ({"scale_duration": {"activity": "Review"}}, "'factor' is missing"),
    ({"scale_duration": {"activity": "Review", "factor": -1}}, "factor must be a number > 0"),
    ({"add_resources": {"activity": "Review", "count": -1}}, "would leave none"),
    ({"automate": {"activity": "Review", "duration": "soon"}}, "duration"),
    ({"calendar": {"activity": "Review", "hours": "whenever"}}, "calendar"),
    ({"priority": {"attribute": "prio", "order": ["high"]}}, "Did you mean 'priority'"),
    ({"priority": {"attribute": "priority", "order": ["urgent"]}}, "none of"),
    ({"set_routing": {"from": "Decision", "to": {"Notfy": 1.0}}}, "Did you mean 'Notify'"),
])
def test_bad_changes_name_the_problem(change, fragment):
    with pytest.raises(ScenarioError, match="(?i)" + fragment.replace("(", r"\(").replace(")", r"\)")) as exc:
        apply(change)
    assert "\n" not in str(exc.value)
    assert "change 1" in str(exc.value)


def test_yaml_is_loaded_safely_and_files_name_their_scenarios(tmp_path):
    with pytest.raises(ScenarioError, match="not valid YAML"):
        load_scenarios("name: x\nchanges: [\n")
    with pytest.raises(ScenarioError):  # python-specific tags are not constructed
        load_scenarios("!!python/object/apply:os.system ['echo hi']")
    p = tmp_path / "more_staff.yaml"
    p.write_text("changes:\n  - add_resources: {activity: Review}\n")
    [sc] = load_scenarios(p)
    assert sc.name == "more_staff" and sc.changes[0].get("activity") == "Review"
    two = load_scenarios("- name: a\n  changes: []\n- name: b\n  changes: [{arrivals: {factor: 2}}]\n")
    assert [s.name for s in two] == ["a", "b"]


def test_the_example_scenario_file_applies_to_its_log():
    import warnings
    from pathlib import Path

    import leanops
    from leanops import simulate

    path = Path(__file__).resolve().parents[1] / "examples" / "scenario_purchasing.yaml"
    [sc] = load_scenarios(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        base = simulate.fit(leanops.datasets.load("purchasing_example"))
    m = sc.apply(base)
    assert m.activity("Send Request for Quotation to Supplier").pool is None
    assert m.pool_of("Create Quotation comparison Map").size == base.pool_of("Create Quotation comparison Map").size + 1
