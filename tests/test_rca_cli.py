"""The `leanops rca` command: JSON contract, text output, bad input."""

from __future__ import annotations

import json

import leanops
from conftest import DATASETS, assert_bad_input, run_leanops


def test_rca_json_contract():
    # production has no case driver (issue 13: its month effect is context, not a cause);
    # the receipt log has one (the org group of the first event)
    res = run_leanops("rca", DATASETS / "receipt.xes.gz", "--target", "case_duration", "--top", "3", "--json")
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["target"] == "case_duration"
    # issue 13: cases cut by the export window are left out of the target (same rule as value_stream)
    from leanops.boundaries import boundary_counts, boundary_mask

    log = leanops.read(DATASETS / "receipt.xes.gz")
    assert doc["baseline"]["n_cases"] == int(boundary_mask(log).sum()) < log.n_cases
    assert doc["excluded_cases"] == boundary_counts(log)
    assert 1 <= len(doc["causes"]) <= 3
    for c in doc["causes"]:
        assert {"rank", "feature", "value", "effect", "effect_unit", "ci_low", "ci_high", "p_value",
                "support", "category", "raw_effect", "share", "kind", "mediators"} <= set(c)
        assert c["effect_unit"] == "s" and c["ci_low"] <= c["effect"] <= c["ci_high"]
        assert 0 <= c["p_value"] <= 0.05 and 0 < c["support"] < 1
        assert c["kind"] in ("driver", "resource") and 0 <= c["share"] <= 1
    assert doc["context"] and all(c["kind"] in ("system", "resource_load") for c in doc["context"])
    prod = json.loads(run_leanops("rca", DATASETS / "production.xes.gz", "--include-cut", "--json").stdout)
    assert prod["baseline"]["n_cases"] == 225
    assert prod["excluded_cases"] == {"cut_at_start": 0, "open_at_end": 0}
    assert all(c["kind"] in ("driver", "resource") for c in prod["causes"])
    assert not any(c["feature"].startswith(("start_", "queue@", "wip_", "involves")) for c in prod["causes"])


def test_rca_text_and_sla():
    res = run_leanops("rca", DATASETS / "production.xes.gz", "--target", "sla:10d", "--top", "2")
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("Root causes of sla:10d")
    assert "SLA" in res.stdout and "95% CI" in res.stdout


def test_rca_waiting_json():
    res = run_leanops("rca", DATASETS / "loan_application_5_timers.csv.gz", "--waiting", "--json")
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert set(doc["causes"]) == {"batching_s", "contention_s", "prioritisation_s", "unavailability_s", "extraneous_s"}
    assert doc["total_wait_s"] > 0
    assert abs(sum(doc["causes"].values()) - doc["total_wait_s"]) < 1e-6 * doc["total_wait_s"]
    assert {"activity", "wait_s", "extraneous_s"} <= set(doc["by_activity"][0])


def test_rca_unknown_activity_is_bad_input():
    res = run_leanops("rca", DATASETS / "production.xes.gz", "--target", "wait:Nope")
    assert_bad_input(res, "unknown activity 'Nope'", "Turning")


def test_rca_bad_target_is_bad_input():
    res = run_leanops("rca", DATASETS / "production.xes.gz", "--target", "sla:soonish", "--json")
    assert_bad_input(res, "sla:DURATION")


def test_rca_rules():
    res = run_leanops("rca", DATASETS / "production.xes.gz", "--rules", "--json")
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["target"] == "case_duration" and doc["rules"]
    assert sum(r["n_cases"] for r in doc["rules"]) == 225
    text = run_leanops("rca", DATASETS / "production.xes.gz", "--rules")
    assert text.returncode == 0 and text.stdout.startswith("Rules for case_duration")
    assert_bad_input(run_leanops("rca", DATASETS / "production.xes.gz", "--rules", "--waiting"), "cannot be combined")
