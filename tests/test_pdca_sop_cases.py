"""compare(sop=...) finds the violating cases without check()'s costs and bootstrap; the
cases, and so the compliance KPI, are those check() gives."""

from __future__ import annotations

import warnings

import pytest

import leanops
from leanops import compliance
from leanops.compliance import check, violating_cases
from leanops.pdca import compare

from groundtruth_sop import violations_log
from test_sop_compliance import SOP


@pytest.fixture(scope="module")
def planted():
    pv = violations_log(600, seed=5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pv, leanops.from_frame(pv.log)


@pytest.mark.parametrize("sop", [SOP, {"rules": [{"required": ["Check"]}]}, {"rules": [{"case_sla": {"within": "2d"}}]},
                                 {"rules": [{"before": ["Review", "Approve"]}, {"forbidden": ["Check"]}]}])
def test_violating_cases_are_those_of_check(planted, sop):
    _, log = planted
    got = violating_cases(log, sop)
    want = check(log, sop, n_boot=10, seed=0).violating_cases()
    assert got.equals(want) and got.name == "case_id"


def test_planted_skips_are_violations_of_the_required_rule(planted):
    pv, log = planted
    got = set(violating_cases(log, {"rules": [{"required": ["Check"]}]}))
    skipped = set(pv.flags.loc[pv.flags["skip_check"], "case_id"].astype(str))
    assert len(skipped) == round(0.10 * 600) and got == skipped


def test_compare_with_an_sop_is_unchanged_by_the_cheap_path(planted, monkeypatch):
    _, log = planted
    at = log.df["end"].quantile(0.5)
    fast = compare(log, change_at=at, sop=SOP, n_boot=30, seed=2).to_dict()
    # the former path: the full check, costs and bootstrap included, for its violating cases
    monkeypatch.setattr(compliance, "violating_cases",
                        lambda lg, s: check(lg, s, n_boot=10, seed=0).violating_cases())
    slow = compare(log, change_at=at, sop=SOP, n_boot=30, seed=2).to_dict()
    assert "compliance" in fast["kpis"]
    assert fast == slow
