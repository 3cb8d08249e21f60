"""SOP files and leanops.check: planted deviations (tests/groundtruth_sop.py) are measured at
their planted rates, the planted cost of a skipped step falls inside its CI, and bad SOP files
fail with one line."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

import leanops
from leanops.cli import main
from leanops.compliance import check
from leanops.errors import InputError
from leanops.sop import draft_sop, read_sop

from groundtruth_sop import violations_log

SOP = """name: claims SOP
calendar: "Mon-Fri 08:00-17:00"
rules:
  - required: [Check]
  - before: [Review, Approve]
  - four_eyes: [Review, Approve]
  - max_wait: {activity: Approve, after: Review, within: 4h}
"""


@pytest.fixture(scope="module")
def planted():
    pv = violations_log(2000, seed=3)
    log = leanops.from_frame(pv.log)
    return pv, log, check(log, SOP, n_boot=200, seed=0)


def test_planted_rates_are_measured_within_one_point(planted):
    pv, log, res = planted
    f = pv.flags
    truth = {
        "Check required": 1 - f["skip_check"].mean(),
        "Review before Approve": 1 - f["swap"].mean(),
        "four eyes on Review and Approve": 1 - f["four_eyes"].mean(),
    }
    got = {r.rule: r for r in res.rules}
    for rule, want in truth.items():
        assert abs(got[rule].compliance - want) <= 0.01, rule
    wait = next(r for r in res.rules if r.kind == "max_wait")
    assert wait.cases_checked == int((~f["swap"]).sum())  # the rule applies where Approve follows Review
    assert abs(wait.compliance - (1 - f["late_approve"].sum() / (~f["swap"]).sum())) <= 0.01
    # the violating cases are exactly the planted ones
    skipped = set(f.loc[f["skip_check"], "case_id"])
    assert set(res.violating_cases("Check required")) == skipped


def test_office_hours_matter_for_max_wait(planted):
    pv, log, _ = planted
    cal_time = check(log, SOP.replace("within: 4h}", "within: 4h, time: calendar}"), n_boot=10)
    wait = next(r for r in cal_time.rules if r.kind == "max_wait")
    truth = 1 - pv.flags["late_approve"].sum() / (~pv.flags["swap"]).sum()
    # counted on the wall clock, nights and weekends turn compliant waits into breaches
    assert wait.compliance < truth - 0.03
    assert "calendar time" in wait.basis


def test_planted_cost_inside_ci(planted):
    pv, _, res = planted
    skip = next(r for r in res.rules if r.rule == "Check required")
    assert skip.cost["ci_low"] <= pv.cost_skip_s <= skip.cost["ci_high"]
    assert skip.cost["p_value"] < 0.001
    # the max-wait breach costs at least its extra office hours (5-8 h instead of 0.5-3.5 h)
    late = next(r for r in res.rules if r.kind == "max_wait")
    assert late.cost["ci_low"] > 1.5 * 3600


def test_result_views(planted):
    pv, log, res = planted
    d = res.to_dict()
    assert set(d) >= {"rules", "overall_compliance"}
    for r in d["rules"]:
        assert set(r) >= {"rule", "kind", "compliance", "cases_checked", "violations", "cost"}
        assert set(r["cost"]) == {"effect_s", "ci_low", "ci_high", "p_value"}
    any_violation = pv.flags[["skip_check", "swap", "four_eyes", "late_approve"]].any(axis=1).mean()
    assert d["overall_compliance"] == pytest.approx(1 - any_violation)
    frame = res.to_frame()
    assert list(frame["rule"]) == [r.rule for r in res.rules]
    assert len(res.violations) == sum(r.violations for r in res.rules)
    # weekly trend: the cases checked per week add up to the rule's total
    t = res.trend
    assert t.loc[t["rule"] == "Check required", "cases_checked"].sum() == log.n_cases
    # per resource: four-eyes breaches are attributed to reviewers only
    br = res.by_resource
    fe = br[br["rule"] == "four eyes on Review and Approve"]
    assert set(fe["resource"]).issubset({f"rev_{i}" for i in range(5)})
    assert "Check required" in str(res)
    assert res.plot().figure is not None and res.plot("trend") is not None and res.plot("cost") is not None
    assert "<table>" in res._repr_html_()


def test_same_seed_same_result(planted):
    _, log, res = planted
    again = check(log, SOP, n_boot=200, seed=0)
    assert again.to_dict() == res.to_dict()


def test_rules_on_a_hand_worked_log():
    rows = [  # case, activity, start, end, resource
        ("a", "Register", "2024-01-01 09:00", "2024-01-01 09:10", "x"),
        ("a", "Approve", "2024-01-01 10:00", "2024-01-01 10:30", "y"),
        ("a", "Approve", "2024-01-01 11:00", "2024-01-01 11:30", "y"),
        ("b", "Register", "2024-01-01 09:00", "2024-01-01 09:10", "x"),
        ("b", "Override", "2024-01-01 09:20", "2024-01-01 09:30", "z"),
        ("b", "Close", "2024-01-01 09:40", "2024-01-01 09:50", "x"),
        ("c", "Close", "2024-01-01 09:00", "2024-01-01 12:00", "x"),
    ]
    df = pd.DataFrame(rows, columns=["case_id", "activity", "start_time", "end_time", "resource"])
    log = leanops.from_frame(df)
    sop = {"rules": [{"forbidden": ["Override"]}, {"at_most_once": ["Approve"]}, {"first": "Register"},
                     {"last": "Close"}, {"max_duration": {"activity": "Close", "within": "1h"}},
                     {"performed_by": {"activity": "Approve", "pool": "managers"}}],
           "pools": {"managers": ["m1", "m2"]}}
    res = check(log, sop, n_boot=10)
    got = {r.rule: (r.cases_checked, r.violations) for r in res.rules}
    assert got == {
        "Override forbidden": (3, 1),         # b
        "Approve at most once": (3, 1),       # a
        "Register first": (3, 1),             # c
        "Close last": (3, 1),                 # a
        "Close within 1.0 h": (2, 1),         # c took 3 h
        "Approve by pool managers": (1, 1),   # a: y is no manager
    }
    assert res.overall_compliance == 0.0


def test_max_duration_without_start_times_is_unmeasurable():
    df = pd.DataFrame({"case_id": ["a", "a"], "activity": ["A", "B"],
                       "time": pd.to_datetime(["2024-01-01 09:00", "2024-01-01 10:00"], utc=True)})
    log = leanops.from_frame(df, end="time")
    res = check(log, {"rules": [{"max_duration": {"activity": "B", "within": "1h"}}]}, n_boot=10)
    r = res.rules[0]
    assert r.compliance is None and "start time" in r.unmeasurable
    assert res.overall_compliance is None


def test_draft_sop_holds_on_its_log_and_reads_back(planted):
    _, log, _ = planted
    sop = draft_sop(log)
    kinds = {r.kind for r in sop.rules}
    assert {"first", "last", "required"} <= kinds
    again = read_sop(sop.to_yaml(), log=log)
    assert [r.label for r in again.rules] == [r.label for r in sop.rules]
    res = check(log, again, n_boot=10)
    assert all(r.compliance >= 0.95 for r in res.rules)


def test_model_rule_fitness_one_on_its_own_log(tmp_path, planted):
    pv, log, _ = planted
    clean = log.select_cases(pv.flags.loc[~pv.flags["skip_check"] & ~pv.flags["swap"], "case_id"])
    model = leanops.mining.discover_model(clean)
    # a discovered model, in Python
    res = check(clean, {"rules": [{"model": model}]}, n_boot=10)
    assert res.rules[0].compliance == 1.0 and res.rules[0].fitness == 1.0
    # the same model imported from BPMN 2.0
    path = model.to_bpmn(tmp_path / "reference.bpmn")
    (tmp_path / "sop.yaml").write_text("rules:\n  - model: reference.bpmn\n")
    res = check(clean, tmp_path / "sop.yaml", n_boot=10)
    assert path.exists() and res.rules[0].fitness == pytest.approx(1.0)
    assert res.rules[0].compliance == 1.0
    # on the whole log, the skipped and swapped steps are the deviations, and they are named
    full = check(log, tmp_path / "sop.yaml", n_boot=10).rules[0]
    bad = pv.flags["skip_check"] | pv.flags["swap"]
    assert full.violations == int(bad.sum())
    assert set(full.deviating_steps) & {"Check", "Review", "Approve"}


BAD = {
    "unknown activity": "rules:\n  - required: [Chek]\n",
    "bad duration": "rules:\n  - case_sla: {within: three days}\n",
    "unknown kind": "rules:\n  - must_have: [Check]\n",
    "yaml tag": "name: !!python/object/apply:os.system [echo hi]\nrules:\n  - required: [Check]\n",
    "bad yaml": "rules: [required: [Check\n",
}


@pytest.mark.parametrize("what", sorted(BAD))
def test_bad_sop_files_exit_2_with_one_line(what, tmp_path, capsys, planted):
    pv, _, _ = planted
    logp = tmp_path / "log.csv"
    pv.log.head(50).to_csv(logp, index=False)
    sopp = tmp_path / "sop.yaml"
    sopp.write_text(BAD[what])
    with pytest.raises(SystemExit) as exc:
        main(["check", str(logp), "--sop", str(sopp)])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("leanops: error:") and "Traceback" not in err
    if what == "unknown activity":
        assert "'Check'" in err  # the closest name is suggested


def test_cli_check_json_and_draft(tmp_path, capsys, planted):
    pv, _, _ = planted
    logp = tmp_path / "log.csv"
    pv.log.to_csv(logp, index=False)
    sopp = tmp_path / "sop.yaml"
    sopp.write_text(SOP)
    main(["check", str(logp), "--sop", str(sopp), "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert doc["rules"][0]["compliance"] == pytest.approx(1 - pv.flags["skip_check"].mean())
    main(["sop", "draft", str(logp), "-o", str(tmp_path / "draft.yaml")])
    assert read_sop(tmp_path / "draft.yaml").rules


def test_read_sop_errors_name_the_rule():
    with pytest.raises(InputError, match=r"rule 2 \(max_wait\): the argument 'within' is missing"):
        read_sop("rules:\n  - required: [A]\n  - max_wait: {activity: A}\n")
    with pytest.raises(InputError, match="needs a calendar"):
        read_sop("rules:\n  - case_sla: {within: 1d, time: working}\n")
    with pytest.raises(InputError, match="Did you mean 'after'"):
        read_sop("rules:\n  - max_wait: {activity: A, afer: B, within: 1h}\n")


def test_imported_bpmn_fits_a_log_simulated_from_it():
    """A bundled BPMN (exclusive gateways only, so the simulator follows it exactly): a log
    generated from it replays with fitness 1.0 on the same BPMN."""
    from leanops import simulate

    root = Path(__file__).resolve().parents[1] / "datasets" / "models"
    bpmn = root / "purchasing_example.prosimos.bpmn"
    model = simulate.from_prosimos(bpmn, root / "purchasing_example.prosimos.json")
    sim = simulate.run(model, cases=60, seed=0)
    log = sim if isinstance(sim, leanops.EventLog) else sim.log
    res = check(log, {"rules": [{"model": str(bpmn)}]}, n_boot=5).rules[0]
    assert res.fitness == 1.0 and res.compliance == 1.0 and res.deviating_steps == {}
    # drop one step from some cases: they no longer fit, and the step around the gap is named
    d = log.to_frame()
    victims = d["case_id"].drop_duplicates().iloc[:10]
    gone = d["case_id"].isin(victims) & (d["activity"] == "Create Purchase Order")
    broken = leanops.from_frame(d.loc[~gone].rename(columns={"start": "start_time", "end": "end_time"}))
    res = check(broken, {"rules": [{"model": str(bpmn)}]}, n_boot=5).rules[0]
    assert res.violations == int(d.loc[gone, "case_id"].nunique())
    assert res.fitness < 1.0 and res.deviating_steps
