"""Honest diagnosis (issue 12): the one waiting decomposition on hand-worked logs, the
capacity bottleneck against a batch-release decoy, and one process exported four ways."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import leanops
from leanops import bottlenecks, value_stream
from leanops.boundaries import case_boundaries
from leanops.evidence import log_evidence, time_granularity
from groundtruth import Step, generate
from groundtruth_diagnosis import (
    diagnosis_process,
    export_completion_only,
    export_day_granularity,
    export_role_label,
    export_window,
)
from test_bottlenecks import STEPS, _process
from test_performance import H, make_log

CAUSES = ("contention", "unavailability", "prioritisation", "batching", "extraneous")
ALWAYS = leanops.Calendar.always()


def _causes(b, activity):
    r = b.to_dict()["bottlenecks"]
    return next(x for x in r if x["activity"] == activity)["wait_causes_s"]


# ------------------------------------------------------ hand-worked decomposition
def test_overnight_wait_is_unavailability_not_capacity():
    # hours from BASE, Monday 2024-01-01 10:00 UTC. Office hours 09-17. Each case: A by ra
    # 15-16 h, then B by rb at 10:00 next day: B waits 18 h, 16 h off shift and 2 h on shift
    # with rb idle.
    rows = []
    for day in range(4):  # Mon-Thu
        d = 24 * day
        rows += [(f"c{day}", "A", d + 5, d + 6, "ra"), (f"c{day}", "B", d + 24, d + 25, "rb")]
    log = make_log(rows)
    b = bottlenecks(log, calendar=leanops.Calendar.parse("Mon-Fri 09:00-17:00"))
    c = _causes(b, "B")
    assert c["unavailability"] == pytest.approx(4 * 16 * H, rel=0.02)
    assert c["extraneous"] == pytest.approx(4 * 2 * H, rel=0.1)
    assert c["contention"] == pytest.approx(0, abs=0.01 * H) and c["batching"] == 0
    assert sum(c.values()) == pytest.approx(4 * 18 * H)
    assert not b.table["capacity_bound"].any()
    assert "off shift" in b.table.set_index("activity").loc["B", "finding"]


def test_batch_wait_is_batching():
    # three cases' B enabled at 1, 2 and 3 h, all released together at 4 h to three idle people
    rows = [("c1", "A", 0, 1, "ra"), ("c2", "A", 1, 2, "ra"), ("c3", "A", 2, 3, "ra"),
            ("c1", "B", 4, 5, "r1"), ("c2", "B", 4, 5, "r2"), ("c3", "B", 4, 5, "r3")]
    b = bottlenecks(make_log(rows), calendar=ALWAYS)
    c = _causes(b, "B")
    assert c["batching"] == pytest.approx((2 + 1 + 0) * H)  # until the last one was enabled
    assert c["extraneous"] == pytest.approx(3 * 1 * H, rel=0.02)  # then 1 h each, nobody busy
    assert c["contention"] + c["prioritisation"] == pytest.approx(0, abs=0.01 * H)
    # the per-resource decomposition of rca uses the same batch rule
    wc = leanops.rca.waiting_causes(make_log(rows), calendar="24/7")
    assert wc.totals["batching"] == pytest.approx(c["batching"])


def test_priority_overtake_is_prioritisation():
    # one reviewer r: c0's B 0.5-2, then c2's B (enabled 1.5) 2-4 before c1's B (enabled 1) 4-5.
    # c1 waits 1-4 with r busy throughout: 1-2 h behind earlier work (contention), 2-4 h
    # while later work is served (prioritisation); c2 waits 1.5-2 h (contention).
    rows = [("c0", "A", 0, 0.5, "ra"), ("c1", "A", 0.5, 1, "ra"), ("c2", "A", 1, 1.5, "ra"),
            ("c0", "B", 0.5, 2, "r"), ("c2", "B", 2, 4, "r"), ("c1", "B", 4, 5, "r")]
    log = make_log(rows)
    c = _causes(bottlenecks(log, calendar=ALWAYS), "B")
    assert c["prioritisation"] == pytest.approx(2 * H, rel=0.02)
    assert c["contention"] == pytest.approx(1.5 * H, rel=0.05)
    assert c["extraneous"] + c["unavailability"] + c["batching"] == pytest.approx(0, abs=0.02 * H)
    # an independent implementation (Kronos-style, per resource, exact intervals) agrees
    wc = leanops.rca.waiting_causes(log, calendar="24/7", contention="resource")
    assert wc.totals["prioritisation"] == pytest.approx(c["prioritisation"], rel=0.02)
    assert wc.totals["contention"] == pytest.approx(c["contention"], rel=0.05)


# ------------------------------------------------- the decoy, 3 positions x 2 calendars
@pytest.mark.parametrize("ship_load", [0.2, 0.5], ids=["idle-shippers", "half-busy-shippers"])
@pytest.mark.parametrize("hours", [None, (8, 17)], ids=["24/7", "office"])
@pytest.mark.parametrize("constrained", STEPS)
def test_batch_release_decoy_never_outranks_the_capacity_bottleneck(constrained, hours, ship_load):
    proc = _process(constrained, hours, batch=10.0)
    f = 1.0 if hours is None else 45 / 168
    # Ship is released once a day at 10:00; its pool is mostly idle (0.2) or half idle (0.5),
    # so each release makes a burst queue: busy waiting, but not a lack of capacity
    proc.steps[-1] = Step("Ship", "shippers", ship_load * 4 * 10 * f, batch_hour=10.0)
    res = generate(proc, n_cases=1500, seed=5)
    assert res.utilization["shippers"] < 0.5
    b = bottlenecks(leanops.from_frame(res.log))
    t = b.table.set_index("activity")
    assert t.loc["Ship", "wait_share"] > t.loc[constrained, "wait_share"]  # the decoy waits longest
    assert b.capacity_bottleneck == constrained
    assert t.loc[constrained, "rank"] == 1 and t.loc[constrained, "score"] == 1.0
    assert t.loc["Ship", "rank"] > t.loc[constrained, "rank"] and not t.loc["Ship", "capacity_bound"]
    assert b.table["score"].is_monotonic_decreasing
    # only the planted step is capacity-bound
    assert list(t.index[t["capacity_bound"]]) == [constrained]
    if ship_load == 0.2:
        # the decoy's wait is the release, not capacity: off-shift or idle time dominates
        ship = _causes(b, "Ship")
        assert ship["contention"] + ship["prioritisation"] < 0.5 * sum(ship.values())


# ------------------------------------------------- one process, exported four ways
@pytest.fixture(scope="module")
def truth():
    return generate(diagnosis_process(), n_cases=1200, seed=11)


def test_export_measured_is_a_capacity_claim(truth):
    b = bottlenecks(leanops.from_frame(truth.log))
    assert b.capacity_bottleneck == "Review" and b.evidence["level"] == "measured"
    assert b.table.set_index("activity").loc["Review", "evidence"] == "measured"


def test_export_completion_only_is_estimated_and_claims_no_capacity(truth):
    log = leanops.from_frame(export_completion_only(truth.log))
    b = bottlenecks(log)
    assert set(b.table["evidence"]) <= {"estimated"}
    assert not b.table["capacity_bound"].any() and b.capacity_bottleneck is None
    assert any("estimated" in c for c in b.caveats)
    d = b.to_dict()
    assert d["caveats"] == b.caveats and all(set(CAUSES) == set(x["wait_causes_s"]) for x in d["bottlenecks"])
    vs = value_stream(log)
    assert vs.pce is not None and any("estimated" in c for c in vs.caveats)


def test_export_role_label_is_a_group_of_unknown_size(truth):
    log = leanops.from_frame(export_role_label(truth.log))
    assert log_evidence(log)["role_resources"] == ["STAFF"]
    b = bottlenecks(log)
    assert set(b.table["evidence"]) == {"unmeasurable"}
    assert b.table["utilization"].isna().all() and not b.table["capacity_bound"].any()
    assert not b.table["finding"].str.contains("1 resource").any()
    assert any("STAFF" in c and "unknown size" in c for c in b.caveats)


def test_export_day_granularity_makes_pce_unmeasurable(truth):
    log = leanops.from_frame(export_day_granularity(truth.log))
    assert time_granularity(log) == "day"
    vs = value_stream(log)
    assert vs.pce is None and any("unmeasurable" in c for c in vs.caveats)
    assert json.loads(vs.to_json())["pce"] is None
    b = bottlenecks(log)
    assert set(b.table["evidence"]) == {"unmeasurable"} and not b.table["capacity_bound"].any()
    assert "dates only" in b.table["finding"].iloc[0]


def test_export_window_finds_the_cut_cases_and_leaves_them_out(truth):
    w = export_window(truth.log, start_frac=0.2, end_frac=0.8)
    log = leanops.from_frame(w.log)
    b = case_boundaries(log)
    real = w.truth.reindex(b.index)
    n_cut, n_open = int(real["cut_at_start"].sum()), int(real["open_at_end"].sum())
    assert n_cut > 0 and n_open > 0
    vs = value_stream(log)
    assert vs.excluded_cases == {"cut_at_start": n_cut, "open_at_end": n_open}
    assert vs.n_cases == int((~(real["cut_at_start"] | real["open_at_end"])).sum())
    # the whole cases' lead time matches the generator's, the cut ones would pull it down
    whole = truth.cases.set_index("case_id").loc[real.index[~(real["cut_at_start"] | real["open_at_end"])]]
    first = truth.log.groupby("case_id")["start_time"].min().loc[whole.index]
    true_lead = (whole["completion"] - (first - pd.Timestamp("2024-01-01", tz="UTC")).dt.total_seconds()).mean()
    assert vs.lead_time_mean_s == pytest.approx(true_lead, rel=1e-6)
    assert value_stream(log, include_cut=True).lead_time_mean_s < vs.lead_time_mean_s
    assert any("left out" in c for c in vs.caveats)


def test_report_summary_carries_the_caveats_and_marks_the_cutoff_band():
    from leanops.report import build_report

    res = generate(diagnosis_process(), n_cases=400, seed=12)
    w = export_window(res.log, start_frac=0.2, end_frac=0.8)
    log = leanops.from_frame(export_day_granularity(w.log))
    rep = build_report(log)
    caveats = rep.section("summary").data["caveats"]
    assert any("dates only" in c for c in caveats)
    assert any("left out" in c for c in caveats)
    assert any(t.key == "caveats" for t in rep.section("summary").tables)
    assert "lack of capacity" not in " ".join(rep.section("summary").summary)
    fig = next(f for f in rep.section("quality").figures if f.title == "Cycle time by start period")
    assert "(cut-off band)" in fig.svg and "cut-off band" in fig.caption
    q = rep.section("quality").data["info"]["quality"]
    assert q["time_granularity"] == "day" and q["cut_at_start"] + q["open_at_end"] > 0


def test_discover_svg_outlines_the_capacity_bottleneck_only(tmp_path):
    from conftest import run_leanops

    res = generate(diagnosis_process(), n_cases=400, seed=3)
    csv = tmp_path / "gt.csv"
    res.log.to_csv(csv, index=False)
    out = run_leanops("discover", csv, "-o", tmp_path / "map.svg", "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["capacity_bottleneck"] == "Review"
    svg = (tmp_path / "map.svg").read_text()
    assert svg.count('stroke="#c8362b"') == 1 and svg.startswith('<svg xmlns="http://www.w3.org/2000/svg"')
    # the same process with a role label instead of people: nothing to outline
    csv2 = tmp_path / "role.csv"
    export_role_label(res.log).to_csv(csv2, index=False)
    out = run_leanops("discover", csv2, "-o", tmp_path / "role.svg")
    assert out.returncode == 0, out.stderr
    assert "no capacity bottleneck" in out.stdout and 'stroke="#c8362b"' not in (tmp_path / "role.svg").read_text()


def test_report_marks_a_capacity_bottleneck_consistently():
    # the positive case of test_report_sections' marking test (production has no capacity
    # bottleneck since issue 12): the planted under-capacity step is named in the summary,
    # highlighted in the value stream (table and red label), first in the ranking and
    # outlined on the map
    from leanops.report import build_report

    log = leanops.from_frame(generate(diagnosis_process(), n_cases=400, seed=12).log)
    assert bottlenecks(log).capacity_bottleneck == "Review"
    rep = build_report(log)
    assert rep.section("summary").summary[0].startswith("The bottleneck is **Review**")
    vs = rep.section("valuestream")
    steps = next(t for t in vs.tables if t.highlight)
    assert [steps.frame["activity"].iloc[i] for i in steps.highlight] == ["Review"]
    assert 'fill="#c8362b" font-weight="bold"' in vs.figures[0].svg
    the_map = rep.section("map").figures[0]
    assert 'stroke="#c8362b" stroke-width="3.5"' in the_map.svg
    assert the_map.caption.endswith("Outlined in red: the capacity bottleneck, Review.")
    ranking = next(t for t in rep.section("bottlenecks").tables if t.title == "Ranking")
    assert ranking.highlight == [0] and ranking.frame["activity"].iloc[0] == "Review"
