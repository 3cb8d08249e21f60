"""Process graph discovery: hand-computed DFGs, pm4py agreement, sliders, edge cases."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest

import leanops
from leanops.errors import InputError
from leanops.mining import END, START, discover

T0 = pd.Timestamp("2024-03-01 08:00", tz="UTC")


def make_log(rows):
    """rows: (case, activity, start_minute or None, end_minute)."""
    df = pd.DataFrame(
        {
            "case_id": [r[0] for r in rows],
            "activity": [r[1] for r in rows],
            "start": [T0 + pd.Timedelta(minutes=r[2]) if r[2] is not None else pd.NaT for r in rows],
            "end": [T0 + pd.Timedelta(minutes=r[3]) for r in rows],
        }
    )
    return leanops.EventLog(df)


# Worked by hand (minutes). Case 2 has a self-loop, case 3 overlaps (parallel), case 4 has
# one event, case 5 loops A -> B -> A -> B.
ROWS = [
    ("1", "A", 0, 10), ("1", "B", 15, 20), ("1", "C", 20, 30),
    ("2", "A", 0, 5), ("2", "B", 20, 30), ("2", "B", 40, 45), ("2", "C", 45, 50),
    ("3", "A", 0, 10), ("3", "C", 5, 20),
    ("4", "A", 0, 3),
    ("5", "A", 0, 1), ("5", "B", 2, 3), ("5", "A", 4, 5), ("5", "B", 6, 8), ("5", "C", 10, 12),
]


def edge(g, s, t):
    e = g.edges[(g.edges["source"] == s) & (g.edges["target"] == t)]
    assert len(e) == 1, f"edge {s}->{t} missing"
    return e.iloc[0]


def node(g, a):
    n = g.nodes[g.nodes["activity"] == a]
    assert len(n) == 1
    return n.iloc[0]


def test_hand_computed_nodes():
    g = discover(make_log(ROWS))
    assert (g.n_cases, g.n_events) == (5, 15)
    a, b, c = node(g, "A"), node(g, "B"), node(g, "C")
    assert (a["count"], a["cases"], b["count"], b["cases"], c["count"], c["cases"]) == (6, 5, 5, 3, 4, 4)
    # A durations 10,5,10,3,1,1 min; B 5,10,5,1,2; C 10,5,15,2
    assert a["service_mean_s"] == pytest.approx(5 * 60)
    assert a["service_median_s"] == pytest.approx(4 * 60)
    assert a["service_p90_s"] == pytest.approx(10 * 60)
    assert b["service_mean_s"] == pytest.approx(4.6 * 60)
    assert b["service_median_s"] == pytest.approx(5 * 60)
    assert b["service_p90_s"] == pytest.approx(8 * 60)
    assert c["service_mean_s"] == pytest.approx(8 * 60)
    assert c["service_median_s"] == pytest.approx(7.5 * 60)
    assert c["service_p90_s"] == pytest.approx(13.5 * 60)
    assert list(g.nodes["activity"]) == ["A", "B", "C"]  # most frequent first


def test_hand_computed_edges_loops_selfloops_overlap():
    g = discover(make_log(ROWS))
    assert len(g.edges) == 5
    ab = edge(g, "A", "B")  # waits 5, 15, 1, 1
    assert (ab["count"], ab["cases"]) == (4, 3)
    assert ab["wait_mean_s"] == pytest.approx(5.5 * 60)
    assert ab["wait_median_s"] == pytest.approx(3 * 60)
    assert ab["wait_p90_s"] == pytest.approx(12 * 60)
    bc = edge(g, "B", "C")  # waits 0, 0, 2
    assert (bc["count"], bc["cases"]) == (3, 3)
    assert bc["wait_mean_s"] == pytest.approx(40)
    assert bc["wait_median_s"] == 0
    assert bc["wait_p90_s"] == pytest.approx(1.6 * 60)
    bb = edge(g, "B", "B")  # self-loop, wait 10
    assert (bb["count"], bb["wait_mean_s"]) == (1, 600)
    ac = edge(g, "A", "C")  # C starts 5 min before A ends: parallel, wait 0 not -5
    assert (ac["count"], ac["wait_mean_s"], ac["wait_p90_s"]) == (1, 0, 0)
    ba = edge(g, "B", "A")  # loop back, wait 1
    assert (ba["count"], ba["wait_mean_s"]) == (1, 60)
    assert (g.edges["wait_mean_s"] >= 0).all()
    assert set(g.edges["wait_basis"]) == {"start"} and g.wait_basis == "start"
    assert g.start_activities == {"A": 5}
    assert g.end_activities == {"C": 4, "A": 1}
    # flow: every instance but the first of its case is entered by exactly one edge
    assert g.edges["count"].sum() == g.n_events - g.n_cases


def test_completion_only_waits_are_end_to_end():
    log = make_log([("x", "A", None, 0), ("x", "B", None, 10), ("x", "C", None, 25), ("y", "A", None, 0), ("y", "C", None, 7)])
    g = discover(log)
    assert edge(g, "A", "B")["wait_mean_s"] == 600
    assert edge(g, "B", "C")["wait_mean_s"] == 900
    assert edge(g, "A", "C")["wait_mean_s"] == 420
    assert g.wait_basis == "end" and set(g.edges["wait_basis"]) == {"end"}
    assert g.nodes["service_mean_s"].isna().all()
    assert g.to_json()["wait_basis"] == "end"


def test_mixed_basis_is_reported():
    # B has a start in case x only: x's A->B is end(A)->start(B) = 5; y's is end to end = 12
    log = make_log([("x", "A", 0, 10), ("x", "B", 15, 20), ("y", "A", 0, 10), ("y", "B", None, 22)])
    g = discover(log)
    ab = edge(g, "A", "B")
    assert ab["wait_basis"] == "mixed" and g.wait_basis == "mixed"
    assert ab["wait_mean_s"] == pytest.approx((5 + 12) / 2 * 60)
    assert node(g, "B")["service_mean_s"] == 300  # only the instance with a start


def test_json_contract_keys():
    doc = discover(make_log(ROWS)).to_json()
    for k in ("nodes", "edges", "start_activities", "end_activities"):
        assert k in doc
    assert set(doc["nodes"][0]) >= {"activity", "count", "cases", "service_mean_s"}
    assert set(doc["edges"][0]) >= {"source", "target", "count", "wait_mean_s", "wait_median_s", "wait_p90_s"}
    assert doc["start_activities"] == {"A": 5}
    import json

    json.dumps(doc, allow_nan=False)


def test_networkx_view_has_artificial_start_and_end():
    nx = pytest.importorskip("networkx")
    g = discover(make_log(ROWS)).to_networkx()
    assert g.nodes[START]["artificial"] and g.nodes[END]["artificial"]
    assert g.edges[START, "A"]["count"] == 5
    assert g.edges["C", END]["count"] == 4
    assert g.edges["B", "B"]["count"] == 1
    assert nx.has_path(g, START, END)
    f = discover(make_log(ROWS)).to_frame()
    assert f["count"].sum() == 10 + 5 + 5


def test_activities_slider_abstracts_removed_activities():
    # A 6, B 5, C 4 of 15: 0.6 keeps A and B (A alone covers 0.4)
    g = discover(make_log(ROWS), activities=0.6)
    assert set(g.nodes["activity"]) == {"A", "B"}
    assert (edge(g, "A", "B")["count"], edge(g, "B", "B")["count"], edge(g, "B", "A")["count"]) == (4, 1, 1)
    assert len(g.edges) == 3
    assert g.end_activities == {"B": 3, "A": 2}
    assert g.notes and "2 most frequent of 3" in g.notes[0]


def test_paths_slider_keeps_connectivity_by_hand():
    # transitions (20): ●A 5, AB 4, C■ 4, BC 3, then 1s. 0.5 keeps ●A, AB, C■ (13 >= 10);
    # C is then unreachable from ●, so the heaviest edge into it (B->C, 3) is added back.
    g = discover(make_log(ROWS), paths=0.5)
    assert sorted(zip(g.edges["source"], g.edges["target"])) == [("A", "B"), ("B", "C")]
    assert g.start_activities == {"A": 5} and g.end_activities == {"C": 4}
    assert "1 of them only to keep" in g.notes[-1]


def _assert_connected(g):
    import networkx as nx

    G = g.to_networkx()
    reach = nx.descendants(G, START)
    back = nx.ancestors(G, END)
    for a in g.nodes["activity"]:
        assert a in reach, f"{a} not reachable from start"
        assert a in back, f"{a} cannot reach end"


@pytest.mark.parametrize("name", ["sepsis", "production"])
@pytest.mark.parametrize("acts,paths", [(None, 0.2), (0.5, 0.3), (0.8, None), (0.9, 0.05)])
def test_coverage_filters_keep_connectivity(name, acts, paths):
    log = leanops.datasets.load(name)
    full = discover(log)
    g = discover(log, activities=acts, paths=paths)
    _assert_connected(g)
    if paths is not None:
        assert len(g.edges) < len(full.edges)
    if acts is not None:
        kept = g.nodes["count"].sum() / full.nodes["count"].sum()
        assert kept >= acts
        assert len(g.nodes) < len(full.nodes)


@pytest.mark.parametrize("name", ["receipt", "sepsis", "helpdesk"])
def test_edge_counts_match_pm4py(name):
    pm4py = pytest.importorskip("pm4py")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        raw = pm4py.read_xes(str(leanops.datasets.path(name)))
        dfg, sa, ea = pm4py.discover_dfg(raw)
    g = discover(leanops.datasets.load(name))
    ours = {(s, t): int(c) for s, t, c in zip(g.edges["source"], g.edges["target"], g.edges["count"])}
    assert ours == {k: int(v) for k, v in dfg.items()}
    assert g.start_activities == {k: int(v) for k, v in sa.items()}
    assert g.end_activities == {k: int(v) for k, v in ea.items()}


def test_waits_match_pm4py_performance_dfg():
    pm4py = pytest.importorskip("pm4py")
    log = leanops.datasets.load("purchasing_example")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        perf, _, _ = pm4py.discover_performance_dfg(log.to_pm4py())
    g = discover(log)
    assert len(perf) == len(g.edges)
    for r in g.edges.itertuples(index=False):
        p = perf[(r.source, r.target)]
        assert r.wait_mean_s == pytest.approx(p["mean"], abs=1e-6)
        assert r.wait_median_s == pytest.approx(p["median"], abs=1e-6)


def test_one_activity_log():
    g = discover(make_log([("1", "A", 0, 1), ("1", "A", 2, 3), ("2", "A", 0, 5)]))
    assert list(g.nodes["activity"]) == ["A"]
    assert edge(g, "A", "A")["count"] == 1
    assert g.start_activities == {"A": 2} == g.end_activities


def test_one_case_log():
    g = discover(make_log([("1", "A", 0, 1), ("1", "B", 2, 3), ("1", "C", 3, 4)]))
    assert g.n_cases == 1 and len(g.edges) == 2
    assert edge(g, "A", "B")["wait_median_s"] == 60


def test_single_event_cases_give_a_graph_without_edges():
    g = discover(make_log([("1", "A", 0, 1), ("2", "B", 0, 2), ("3", "A", 0, 3)]))
    assert len(g.edges) == 0 and g.wait_basis == "none"
    assert g.start_activities == {"A": 2, "B": 1} == g.end_activities
    doc = g.to_json()
    assert doc["edges"] == []
    g2 = discover(make_log([("1", "A", 0, 1), ("2", "B", 0, 2)]), paths=0.5)
    _assert_connected(g2)


def test_slider_options_are_validated():
    log = make_log(ROWS)
    with pytest.raises(InputError, match="activities"):
        discover(log, activities=1.5)
    with pytest.raises(InputError, match="paths"):
        discover(log, paths=0)
    with pytest.raises(InputError, match="EventLog"):
        discover(log.df)


def test_empty_log_is_an_input_error():
    log = make_log(ROWS)
    with pytest.raises(InputError, match="no activity instances"):
        discover(leanops.EventLog(log.df.iloc[:0]))


def test_missing_activity_is_an_input_error():
    df = make_log(ROWS).to_frame()
    df["activity"] = df["activity"].astype(object)
    df.loc[2, "activity"] = None
    with pytest.raises(InputError, match="missing"):
        discover(leanops.EventLog(df))


def test_discover_does_not_mutate_the_log():
    log = make_log(ROWS)
    before = log.df.copy()
    discover(log, activities=0.6, paths=0.5)
    pd.testing.assert_frame_equal(log.df, before)


def test_simplify_equals_discover_with_sliders():
    log = leanops.datasets.load("sepsis")
    a = discover(log).simplify(activities=0.7, paths=0.6)
    b = discover(log, activities=0.7, paths=0.6)
    pd.testing.assert_frame_equal(a.edges, b.edges)
    assert math.isclose(a.nodes["count"].sum(), b.nodes["count"].sum())
    assert np.all(b.nodes["count"].to_numpy()[:-1] >= b.nodes["count"].to_numpy()[1:])


def test_waits_match_an_independent_duckdb_query():
    duckdb = pytest.importorskip("duckdb")
    log = leanops.datasets.load("production")  # start and end times, with overlaps
    t = log.df[["case_id", "activity", "start", "end"]]
    ref = duckdb.query_df(
        t,
        "t",
        """
        WITH x AS (
          SELECT activity::VARCHAR AS tgt, lag(activity::VARCHAR) OVER w AS src,
                 greatest(epoch_ns(coalesce(start, "end")) - epoch_ns(lag("end") OVER w), 0) / 1e9 AS wait
          FROM t WINDOW w AS (PARTITION BY case_id ORDER BY coalesce(start, "end"), "end"))
        SELECT src, tgt, count(*) AS n, count(DISTINCT 1) AS one, avg(wait) AS mean,
               median(wait) AS med, quantile_cont(wait, 0.9) AS p90
        FROM x WHERE src IS NOT NULL GROUP BY src, tgt
        """,
    ).df()
    g = discover(log)
    m = g.edges.merge(ref, left_on=["source", "target"], right_on=["src", "tgt"], how="outer", indicator=True)
    assert (m["_merge"] == "both").all()
    assert (m["count"] == m["n"]).all()
    np.testing.assert_allclose(m["wait_mean_s"], m["mean"], rtol=1e-9)
    np.testing.assert_allclose(m["wait_median_s"], m["med"], rtol=1e-9)
    np.testing.assert_allclose(m["wait_p90_s"], m["p90"], rtol=1e-9)


def test_same_graph_with_or_without_cached_step_arrays():
    from leanops.mining._steps import steps

    log = leanops.datasets.load("production")
    a = discover(log)
    steps(log)  # now discover reads the cached arrays
    b = discover(log)
    pd.testing.assert_frame_equal(a.nodes, b.nodes)
    pd.testing.assert_frame_equal(a.edges, b.edges)
