"""The analysis sections of the report: their JSON follows the CLI contract, their numbers
agree with an independent computation, and the bottleneck is marked consistently."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import leanops
from leanops.report import build_report
from leanops.report.sections import case_times

CONTRACT = {
    "discover": ["nodes", "edges", "start_activities", "end_activities"],
    "rca": ["target", "baseline", "causes"],
    "valuestream": ["lead_time_mean_s", "processing_time_mean_s", "waiting_time_mean_s", "pce", "throughput_per_day",
                    "takt_time_s", "wip_mean", "steps"],
}


@pytest.fixture(scope="module")
def production():
    log = leanops.datasets.load("production")
    return log, build_report(log)


def test_json_reuses_the_command_shapes(production):
    _, rep = production
    doc = rep.to_json()
    for command, keys in CONTRACT.items():
        for k in keys:
            assert k in doc[command], (command, k)
    for k in ("activity", "processing_mean_s", "waiting_mean_s", "share_of_lead_time", "value_added"):
        assert k in doc["valuestream"]["steps"][0]
    b = doc["bottlenecks"]["bottlenecks"]
    for k in ("rank", "activity", "score", "wait_mean_s", "wait_share", "service_mean_s", "utilization", "evidence"):
        assert k in b[0]
    assert [r["rank"] for r in b] == list(range(1, len(b) + 1))
    # issue 13: production has no case driver; its month effect is context (same keys)
    found = doc["rca"]["causes"] + doc["rca"]["context"]
    assert found and {"cut_at_start", "open_at_end"} == set(doc["rca"]["excluded_cases"])
    for k in ("rank", "feature", "value", "effect", "effect_unit", "ci_low", "ci_high", "p_value", "support", "category",
              "raw_effect", "kind", "mediators", "share"):
        assert k in found[0]
    assert {"total_wait_s", "causes", "shares", "by_activity"} <= set(doc["waiting_causes"])
    assert {"activity", "count", "cases", "service_mean_s"} <= set(doc["discover"]["nodes"][0])
    assert {"source", "target", "count", "wait_mean_s", "wait_median_s", "wait_p90_s"} <= set(doc["discover"]["edges"][0])


def test_kpis_agree_with_an_independent_pandas_computation(production):
    log, rep = production
    d = log.df
    t0 = d["start"].fillna(d["end"]).groupby(d["case_id"]).min()
    t1 = d["end"].groupby(d["case_id"]).max()
    lead_all = (t1 - t0).dt.total_seconds()
    # issue 12: durations leave out the cases cut by the export window (6 open at the end here)
    from leanops.boundaries import boundary_mask

    keep = pd.Index(log.case_ids)[boundary_mask(log)]
    assert len(keep) == log.n_cases - 6
    t0, t1 = t0.loc[keep], t1.loc[keep]
    lead = (t1 - t0).dt.total_seconds()
    k = rep.section("kpis").data
    assert k["lead_time_mean_s"] == pytest.approx(lead.mean())
    assert k["lead_time_median_s"] == pytest.approx(lead.median())
    assert k["lead_time_p90_s"] == pytest.approx(lead.quantile(0.9))
    span = (t1.max() - t0.min()).total_seconds()
    assert k["throughput_per_day"] == pytest.approx(len(lead) / (span / 86400))
    assert k["wip_mean"] == pytest.approx(lead.sum() / span, rel=1e-6)
    assert case_times(log)["lead_time_s"].sum() == pytest.approx(lead_all.sum())


def test_the_bottleneck_is_named_and_marked_consistently(production):
    # issue 12 changed this contract: only a capacity bottleneck is marked. On production no
    # pool of real resources is fully busy while work waits (Lapping's pool is ~21% utilised),
    # so nothing is marked, and the summary says where the time goes instead.
    log, rep = production
    b = leanops.bottlenecks(log)
    assert b.capacity_bottleneck is None
    most = str(b.table.sort_values("wait_share", ascending=False)["activity"].iloc[0])
    summary = " ".join(rep.section("summary").summary)
    assert f"**{most}**" in summary and "lack of capacity" not in summary
    vs = rep.section("valuestream")
    steps = next(t for t in vs.tables if t.key == "steps")
    assert steps.highlight == []
    assert 'stroke="#c8362b" stroke-width="3.5"' not in rep.section("map").figures[0].svg
    ranking = next(t for t in rep.section("bottlenecks").tables if t.key == "bottlenecks")
    assert ranking.highlight == [] and ranking.frame["activity"].iloc[0] == b.table["activity"].iloc[0]


def test_sections_on_a_completion_only_log_say_why_they_are_missing():
    rows = []
    for c in range(30):
        base = pd.Timestamp("2024-01-01 08:00") + pd.Timedelta(hours=5 * c)
        rows += [(f"c{c}", "Open", base, "ann"), (f"c{c}", "Close", base + pd.Timedelta(hours=2 + c % 3), "bob")]
    log = leanops.from_frame(pd.DataFrame(rows, columns=["case", "act", "time", "res"]),
                             case="case", activity="act", end="time", resource="res")
    rep = build_report(log)
    assert not rep.failed, rep.failed  # nothing crashed
    for sec in rep.sections:
        if sec.error:
            assert not sec.error.startswith("internal error"), sec.error
    assert rep.section("kpis").error is None
    assert rep.section("kpis").data["lead_time_mean_s"] == pytest.approx(np.mean([2, 3, 4] * 10) * 3600)
    # the analyses' warnings reach the reader, in the section they concern
    assert any(t.startswith("Caution:") and "low confidence" in t for t in rep.section("rootcauses").summary)



def test_simulation_section_only_when_asked_and_consistent(production):
    log, rep = production
    assert rep.section("simulation") is None
    sim = build_report(log, simulate=True, config=leanops.report.ReportConfig(sections=("simulation",))).section("simulation")
    assert sim.error is None, sim.error
    val = sim.data["validation"]
    assert list(val["measure"]) == ["cycle_time_emd", "ngram_3", "circadian_emd", "arrival_emd"]
    wins = int(val["model_better"].sum())
    assert any(f"**{wins} of 4**" in t for t in sim.summary)
    ranking = sim.data["suggestions"]
    assert list(ranking["rank"]) == list(range(1, len(ranking) + 1))
    assert list(ranking["delta_s"].dropna()) == sorted(ranking["delta_s"].dropna())
    significant = ranking[(ranking["p_value"] < 0.05) & (ranking["delta_s"] < 0)]
    named = significant.iloc[0]["name"] if len(significant) else ranking.iloc[0]["name"]
    assert f"**{'Recommended SOP change: ' if len(significant) else ''}{named}**" in sim.summary[0]
    assert len(sim.data["scenarios"]) == len(ranking)
    assert sim.data["train_cases"] + sim.data["test_cases"] == log.n_cases
    ct = sim.data["baseline"]["kpis"]["cycle_time_mean_s"]
    assert ct["ci_low"] <= ct["mean"] <= ct["ci_high"]
    doc = leanops.report.render.to_json(leanops.report.Report("t", "t", {}, [sim], "now"))
    assert "kpis" in doc["simulate"]["baseline"]  # the `leanops simulate --json` shape


def test_lead_time_histogram_counts_the_cases_the_kpis_count(production):
    # production: 6 cases still open at the export's end are left out of the KPIs (issue 12);
    # the histogram beside them must count the same 219 cases, not all 225
    log, rep = production
    vs = leanops.value_stream(log)
    kpis = next(s for s in rep.sections if s.key == "kpis")
    fig = next(f for f in kpis.figures if f.title == "Lead time per case")
    n_out = sum(vs.excluded_cases.values())
    assert n_out == 6 and vs.n_cases == 219
    assert fig.caption.startswith(f"{vs.n_cases} cases ({n_out} cut by the export window left out)")
