"""pm4py process models and conformance (small logs only)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from lxml import etree

import leanops
from leanops.errors import InputError, ModelError
from leanops.mining import ConformanceResult, PetriNet, ProcessModel, conformance, discover_model

pm4py = pytest.importorskip("pm4py")

T0 = pd.Timestamp("2024-03-01 08:00", tz="UTC")
KNOWN = "-> ( 'A', X ( 'B', 'C' ), + ( 'D', 'E' ), * ( 'F', tau ), 'G' )"


def generate(n_cases=60, seed=3):
    """Cases played out by hand from KNOWN: A, B or C, D and E in either order, F one or
    more times, G."""
    rng = np.random.default_rng(seed)
    rows = []
    for c in range(n_cases):
        seq = ["A", "B" if rng.random() < 0.6 else "C"]
        seq += ["D", "E"] if rng.random() < 0.5 else ["E", "D"]
        seq += ["F"] * int(rng.integers(1, 4))
        seq += ["G"]
        for i, a in enumerate(seq):
            rows.append((f"case{c}", a, T0 + pd.Timedelta(hours=c, minutes=5 * i), T0 + pd.Timedelta(hours=c, minutes=5 * i + 3)))
    return leanops.EventLog(pd.DataFrame(rows, columns=["case_id", "activity", "start", "end"]))


def known_net():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return PetriNet(*pm4py.convert_to_petri_net(pm4py.parse_process_tree(KNOWN)))


def test_fitness_is_one_on_a_log_generated_from_a_known_model():
    log = generate()
    r = conformance(log, known_net())
    assert isinstance(r, ConformanceResult)
    assert r.fitness == 1.0 and r.fit_cases_share == 1.0
    assert len(r.cases) == log.n_cases and r.cases["is_fit"].all()
    assert list(r.cases["case_id"]) == list(log.case_ids)
    m = discover_model(log)  # the inductive miner guarantees perfect fitness
    assert conformance(log, m).fitness == 1.0
    assert 0.0 < r.precision <= 1.0


def test_deviating_case_lowers_fitness():
    log = generate(20)
    bad = log.to_frame()
    bad = bad[~((bad["case_id"] == "case3") & (bad["activity"] == "A"))]  # case3 skips A
    r = conformance(leanops.EventLog(bad), known_net())
    assert r.fitness < 1.0
    row = r.cases.set_index("case_id").loc["case3"]
    assert not row["is_fit"] and row["missing"] > 0
    assert r.cases.set_index("case_id").drop("case3")["is_fit"].all()


def test_fitness_matches_pm4py_on_a_heuristics_model():
    log = leanops.datasets.load("purchasing_example")
    m = discover_model(log, method="heuristics")
    assert m.method == "heuristics" and set(m.activities) == set(log.activities)
    ours = conformance(log, m)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = pm4py.fitness_token_based_replay(log.to_pm4py(), *m.petri_net)
    assert ours.fitness == pytest.approx(ref["log_fitness"])
    assert ours.fit_cases_share * 100 == pytest.approx(ref["perc_fit_traces"])


def test_bpmn_export(tmp_path):
    m = discover_model(generate(20), method="inductive", noise=0.2)
    assert isinstance(m, ProcessModel)
    net, im, fm = m.petri_net
    assert len(im) == 1 and len(fm) == 1
    out = m.to_bpmn(tmp_path / "model.bpmn")
    root = etree.parse(str(out)).getroot()
    ns = {"b": "http://www.omg.org/spec/BPMN/20100524/MODEL"}
    names = {t.get("name") for t in root.iterfind(".//b:task", ns)}
    assert names == set("ABCDEFG")
    with pytest.raises(InputError, match="bpmn"):
        m.to_bpmn(tmp_path / "model.xml")


def test_bad_input():
    log = generate(5)
    with pytest.raises(InputError, match="method"):
        discover_model(log, method="alpha")
    with pytest.raises(InputError, match="noise"):
        discover_model(log, noise=1.5)
    with pytest.raises(InputError, match="model"):
        conformance(log, "not a model")


def test_to_bpmn_without_bpmn_raises_model_error(tmp_path):
    m = discover_model(generate(5))
    broken = ProcessModel(m.petri_net, None, "heuristics")
    with pytest.raises(ModelError):
        broken.to_bpmn(tmp_path / "x.bpmn")


@pytest.mark.parametrize("view,suffix", [("petri_net", "svg"), ("bpmn", "png")])
def test_model_render_without_system_graphviz(view, suffix, tmp_path):
    m = discover_model(generate(10))
    out = m.render(tmp_path / f"model.{suffix}", view=view)
    data = out.read_bytes()
    if suffix == "svg":
        root = etree.fromstring(data)
        labels = set(root.xpath("//s:text/text()", namespaces={"s": "http://www.w3.org/2000/svg"}))
        assert set("ABCDEFG") <= labels
    else:
        assert data[:4] == b"\x89PNG"
    with pytest.raises(InputError, match="svg"):
        m.render(tmp_path / "model.pdf")
