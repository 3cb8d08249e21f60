"""Prosimos import: the bundled models load, run, and match hand-checked parts of the JSON."""

from __future__ import annotations

import json

import pytest

import leanops
from leanops import simulate
from leanops.errors import ModelError

MODELS = leanops.datasets.path("purchasing_example").parent / "models"


def _paths(name):
    return MODELS / f"{name}.prosimos.bpmn", MODELS / f"{name}.prosimos.json"


def test_purchasing_import_is_exact_where_supported():
    bpmn, js = _paths("purchasing_example")
    m = simulate.from_prosimos(bpmn, js)
    params = json.loads(js.read_text())
    assert len(m.activities) == 21
    assert not any("parallel" in n for n in m.notes)  # exclusive gateways only: routing is exact
    # arrivals: lognormal with the JSON's mean, spread over the arrival calendar's hours
    mean = params["arrival_time_distribution"]["distribution_params"][0]["value"]
    open_h = sum(p > 0 for p in m.arrivals.profile)
    assert 0 < open_h < 168
    # one rate-weighted week holds as many arrivals as the calendar's open hours allow
    assert m.arrivals.interarrival.mean == pytest.approx(mean * sum(x for x in m.arrivals.profile if x > 0) /
                                                         max(m.arrivals.profile) / 168, rel=0.05)
    # a resource keeps its own calendar
    alberto = [p for p in m.pools if "Alberto Duport" in p.members][0]
    assert alberto.hours_of("Alberto Duport")[0] == (2 * 3600, 3 * 3600)  # MONDAY 02:00-03:00
    res = simulate.run(m, cases=200, seed=1, start="2024-01-01")
    assert res.log.n_cases == 200
    # every simulated instance lies within its resource's working hours
    d = res.log.df
    for r in ["Alberto Duport", "Anna Kaufmann"]:
        p = [p for p in m.pools if r in p.members][0]
        iv = p.hours_of(r)
        rows = d[d["resource"] == r]
        secs = ((rows["start"] - pd_monday(rows["start"])).dt.total_seconds()).to_numpy()
        assert all(any(a <= x < b for a, b in iv) for x in secs)


def pd_monday(s):
    import pandas as pd

    return s.dt.normalize() - pd.to_timedelta(s.dt.weekday, unit="D")


def test_parallel_model_imports_with_notes():
    m = simulate.from_prosimos(*_paths("loan_application_5_timers"))
    assert any("parallel" in n for n in m.notes)
    assert any(a.delay is not None for a in m.activities)  # timer events become delays
    assert simulate.run(m, cases=50, seed=2, start="2024-01-01").log.n_cases == 50


def test_bad_prosimos_input(tmp_path):
    bpmn, js = _paths("purchasing_example")
    doc = json.loads(js.read_text())
    doc["task_resource_distribution"][0]["resources"][0]["resource_id"] = "Nobody"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc))
    with pytest.raises(ModelError, match="Nobody"):
        simulate.from_prosimos(bpmn, bad)
    doc = json.loads(js.read_text())
    doc["arrival_time_distribution"]["distribution_name"] = "weird"
    bad.write_text(json.dumps(doc))
    with pytest.raises(ModelError, match="weird"):
        simulate.from_prosimos(bpmn, bad)
