"""Value stream: flow, pace and steps on hand-built logs worked out by hand; Little's law
against a brute-force WIP count; the map; every bundled log."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import leanops
from leanops import Calendar, InputError, ValueStream, value_stream
from groundtruth import Pool, Process, Step, generate
from test_performance import PAR, SEQ, H, make_log, t

ALWAYS = Calendar.always()


@pytest.fixture(scope="module")
def seq() -> ValueStream:
    return value_stream(make_log(SEQ), calendar=ALWAYS)


def test_flow_hand_worked(seq):
    # c1: lead 5.5 h, processing 3.5 h; c2: lead 6 h, processing 3 h
    assert seq.n_cases == 2
    assert seq.lead_time_mean_s == 5.75 * H
    assert seq.processing_time_mean_s == 3.25 * H
    assert seq.waiting_time_mean_s == 2.5 * H
    assert seq.pce == pytest.approx(6.5 / 11.5)
    # 2 cases over 7 hours
    assert seq.throughput_per_day == pytest.approx(2 / (7 / 24))
    # WIP: c1 open 0-5.5 h, c2 open 1-7 h
    assert seq.wip_mean == pytest.approx(11.5 / 7)
    assert seq.wip_max == 2
    # Little's law over the middle 80% of the span, [0.7 h, 6.3 h): c1 holds 4.8 h of it and
    # c2 5.3 h; only c1 ends inside it (lead 5.5 h)
    assert seq.littles_law_ratio == pytest.approx((4.8 + 5.3) / 5.5)
    # takt: 7 h of (24/7) working time for 2 cases
    assert seq.takt_time_s == pytest.approx(3.5 * H)


def test_steps_hand_worked(seq):
    s = seq.steps.set_index("activity")
    assert list(seq.steps["activity"]) == ["A", "B", "C"]  # flow order
    assert s.loc["B", "processing_mean_s"] == 1.5 * H
    assert s.loc["B", "waiting_mean_s"] == 1.5 * H
    assert s.loc["C", "waiting_mean_s"] == 1 * H
    assert s.loc["A", "share_of_lead_time"] == pytest.approx(2 / 11.5)
    assert s.loc["B", "share_of_lead_time"] == pytest.approx(6 / 11.5)
    assert s.loc["C", "share_of_lead_time"] == pytest.approx(3.5 / 11.5)
    assert s.loc["B", "waiting_share"] == pytest.approx(3 / 11.5)
    assert s["share_of_lead_time"].sum() == pytest.approx(1.0)
    # cycle time: B needs 3 h of work for 2 cases, one resource (r2): 1.5 h < takt 3.5 h
    assert s.loc["B", "cycle_time_s"] == pytest.approx(1.5 * H)
    assert s.loc["B", "resources"] == 1
    assert bool(s["meets_takt"].all())
    assert s["value_added"].all()


def test_value_added_subset_changes_pce():
    vs = value_stream(make_log(SEQ), value_added=["B"], calendar=ALWAYS)
    assert vs.pce == pytest.approx(3 / 11.5)
    assert vs.value_added_time_mean_s == 1.5 * H
    s = vs.steps.set_index("activity")["value_added"]
    assert s.to_dict() == {"A": False, "B": True, "C": False}


def test_value_added_unknown_name_suggests():
    with pytest.raises(InputError, match="Did you mean 'B'"):
        value_stream(make_log(SEQ), value_added=["b "])


def test_parallel_branches_counted_once():
    vs = value_stream(make_log(PAR), calendar=ALWAYS)
    assert vs.lead_time_mean_s == 5 * H
    assert vs.processing_time_mean_s == 4 * H
    assert vs.steps["share_of_lead_time"].sum() == pytest.approx(1.0)
    assert vs.steps.set_index("activity").loc["C", "share_of_lead_time"] == 0  # inside B


def test_takt_uses_the_calendar():
    # 7 h span Monday 10:00-17:00; office hours 09-17 cover all of it; 9-12 covers 2 h
    vs = value_stream(make_log(SEQ), calendar="Mon-Fri 09:00-12:00")
    assert vs.takt_time_s == pytest.approx(2 * H / 2)
    assert str(vs.calendar) == "Mon-Fri 09:00-12:00"
    s = vs.steps.set_index("activity")
    assert not s.loc["B", "meets_takt"]  # 1.5 h of processing per case, one resource > 1 h takt
    assert s.loc["B", "resources_needed"] == pytest.approx(1.5)
    assert s.loc["A", "meets_takt"]  # 1 h per case


def test_working_time_value_stream():
    rows = [("c", "A", 6, 24, "r"), ("c", "B", 25, 26, "r")]  # Mon 16:00-Tue 10:00, Tue 11-12
    vs = value_stream(make_log(rows), time="working", calendar="Mon-Fri 09:00-17:00")
    assert vs.lead_time_mean_s == 4 * H  # Mon 16-17 + Tue 09-12
    assert vs.processing_time_mean_s == 3 * H
    assert vs.pce == pytest.approx(0.75)
    assert vs.time == "working"


def test_littles_law_against_brute_force_wip():
    proc = Process(
        steps=[Step("A", "a", 10), Step("B", "b", 25), Step("C", "c", 10)],
        pools={"a": Pool(2), "b": Pool(3), "c": Pool(2)},
        interarrival=10,
    )
    log = leanops.from_frame(generate(proc, n_cases=400, seed=2).log)
    vs = value_stream(log)
    cases = leanops.performance(log, by="case")
    grid = pd.date_range(vs.start, vs.end, periods=4001)[:-1]
    s = cases["start"].to_numpy()
    e = cases["end"].to_numpy()
    g = grid.to_numpy()
    counts = ((s[None, :] <= g[:, None]) & (g[:, None] < e[None, :])).sum(axis=1)
    assert vs.wip_mean == pytest.approx(counts.mean(), rel=0.03)
    assert vs.wip_max >= counts.max()
    # Little's law over the middle 80% of the span, by brute force: WIP on a grid inside the
    # window, throughput and mean lead time of the cases completed inside it
    a = vs.start + 0.1 * (vs.end - vs.start)
    b = vs.end - 0.1 * (vs.end - vs.start)
    g = pd.date_range(a, b, periods=4001)[:-1].to_numpy()
    wip = ((s[None, :] <= g[:, None]) & (g[:, None] < e[None, :])).sum(axis=1).mean()
    cs, ce = cases["start"], cases["end"]
    done = (ce >= a) & (ce < b)
    throughput = done.sum() / (b - a).total_seconds()
    lead = (ce - cs)[done].dt.total_seconds().mean()
    assert vs.littles_law_ratio == pytest.approx(wip / (throughput * lead), rel=0.01)
    # a stable flow (the pools keep up with demand) obeys it
    assert vs.littles_law_ratio == pytest.approx(1.0, abs=0.1)


def _cases(spans):
    return make_log([(f"c{i}", "A", s, e, "r") for i, (s, e) in enumerate(spans)])


@pytest.mark.parametrize(
    "spans, expected",
    [
        # all work inside the window [1 h, 9 h) is done inside it: 2 + 3 h held, 2 + 3 h of lead
        ([(0, 0.5), (2, 4), (5, 8), (9.5, 10)], 1.0),
        # a growing backlog: lead times grow, c3 is still open at 9 h. Held: 1 + 4 + 6 + 6 h;
        # completed inside: c0, c1, c2 with leads 2 + 4 + 6 h
        ([(0, 2), (1, 5), (2, 8), (3, 10)], 17 / 12),
        # a backlog worked off: old cases end inside the window. Held: 2 + 4 + 7 h; completed
        # inside: leads 3 + 5 + 8 h
        ([(0, 3), (0, 5), (0, 8), (9.5, 10)], 13 / 16),
    ],
)
def test_littles_law_ratio_hand_worked(spans, expected):
    vs = value_stream(_cases(spans), calendar=ALWAYS)
    assert vs.littles_law_ratio == pytest.approx(expected)
    # over the whole span, WIP = throughput x lead time holds by construction: not a check
    assert vs.wip_mean == pytest.approx(vs.throughput_per_day / 86400 * vs.lead_time_mean_s)


def test_littles_law_ratio_is_nan_without_completions_in_the_window():
    vs = value_stream(_cases([(0, 10), (0.5, 9.5)]), calendar=ALWAYS)
    assert np.isnan(vs.littles_law_ratio)


def test_outputs_and_contract_keys(seq):
    d = json.loads(seq.to_json())
    for k in ("lead_time_mean_s", "processing_time_mean_s", "waiting_time_mean_s", "pce", "throughput_per_day",
              "takt_time_s", "wip_mean", "steps"):
        assert k in d
    assert set(d["steps"][0]) >= {"activity", "processing_mean_s", "waiting_mean_s", "share_of_lead_time", "value_added"}
    frame = seq.to_frame()
    frame.loc[0, "activity"] = "changed"
    assert seq.steps.loc[0, "activity"] == "A"  # to_frame is a copy
    assert "PCE" in seq._repr_html_()
    assert "ValueStream" in repr(seq)


def test_plot_draws_a_map(seq):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ax = seq.plot()
    texts = [x.get_text() for x in ax.texts]
    assert {"A", "B", "C"} <= set(texts)
    assert any("PCE" in x for x in texts)
    assert len(ax.patches) >= 6  # a box and a wait triangle per step
    plt.close(ax.figure)


def test_svg_escapes_untrusted_names():
    rows = [("c", "<script>alert(1)</script> & $x$", 0, 1, "r"), ("c", "B", 2, 3, "r")]
    vs = value_stream(make_log(rows), calendar=ALWAYS)
    svg = vs._repr_svg_()
    assert "<script>" not in svg
    assert "<script>" not in vs._repr_html_()


# ----------------------------------------------------------- bundled logs
COMPLETION_ONLY = {"receipt", "sepsis", "helpdesk"}


@pytest.mark.parametrize("name", [d["name"] for d in leanops.datasets.list()])
def test_every_bundled_log(name):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        log = leanops.datasets.load(name)
    # issue 12: by default the cases cut by the export window are left out, and counted
    from leanops.boundaries import boundary_counts, boundary_mask

    cut = value_stream(log)
    assert cut.n_cases == int(boundary_mask(log).sum())
    assert cut.excluded_cases == boundary_counts(log)
    vs = value_stream(log, include_cut=True)
    assert vs.n_cases == log.n_cases and vs.excluded_cases == {"cut_at_start": 0, "open_at_end": 0}
    assert 0 < vs.pce <= 1
    assert vs.steps["share_of_lead_time"].sum() == pytest.approx(1.0)
    # Little's law in the middle 80% of the span, from the case table (pandas, independently)
    cases = leanops.performance(log, by="case", include_cut=True)  # every case, as vs
    s, e = cases["start"], cases["end"]
    a = s.min() + 0.1 * (e.max() - s.min())
    b = e.max() - 0.1 * (e.max() - s.min())
    held = (e.clip(upper=b) - s.clip(lower=a)).clip(lower=pd.Timedelta(0)).dt.total_seconds().sum()
    done = (e >= a) & (e < b)
    assert vs.littles_law_ratio == pytest.approx(held / (e - s)[done].dt.total_seconds().sum(), rel=1e-6)
    assert vs.lead_time_mean_s == pytest.approx(vs.processing_time_mean_s + vs.waiting_time_mean_s)
    if name in COMPLETION_ONLY:
        assert vs.starts_estimated == 1.0
    else:
        assert vs.starts_estimated == 0.0
    b = leanops.bottlenecks(log)
    assert list(b["rank"]) == list(range(1, len(b) + 1))
    assert b["score"].is_monotonic_decreasing
    assert b["finding"].str.len().min() > 20
    assert set(b["evidence"]) <= {"measured", "estimated", "unmeasurable"}
    assert set(b["activity"]) == set(vs.steps["activity"])
    assert b.evidence["starts_estimated"] == vs.starts_estimated
    if name in COMPLETION_ONLY:  # estimated starts never carry a capacity claim
        assert not b["capacity_bound"].any() and set(b["evidence"]) <= {"estimated", "unmeasurable"}
    rw = leanops.rework(log)
    assert (rw["repeats"] >= rw["cases_with_rework"]).all()
    u = leanops.utilization(log)
    assert (u["utilization"].dropna() >= 0).all()
    assert leanops.performance(log, by="case", include_cut=True)["lead_time_s"].mean() == pytest.approx(vs.lead_time_mean_s)
    # by default both leave the same cut cases out
    complete = leanops.performance(log, by="case")
    assert complete.attrs["excluded_cases"] == cut.excluded_cases and len(complete) == cut.n_cases
    assert complete["lead_time_s"].mean() == pytest.approx(cut.lead_time_mean_s)
