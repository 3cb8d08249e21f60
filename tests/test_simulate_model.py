"""SimulationModel JSON: round trip, and bad files give a ModelError naming the field."""

from __future__ import annotations

import json

import numpy as np
import pytest

from leanops.errors import ModelError
from leanops.simulate import (
    END, START, Activity, Arrivals, CaseAttributes, Distribution, Pool, Queue, Routing, Rule,
    SimulationModel, fit_distribution,
)


def model() -> SimulationModel:
    return SimulationModel(
        activities=(
            Activity("Check", "clerks", Distribution("gamma", (2.0, 150.0)),
                     by_resource=(("ann", Distribution.fixed(100.0)),)),
            Activity("Audit", None, Distribution.empirical([10, 20, 30, 40]), delay=Distribution.exponential(60.0),
                     delay_after=(("Check", Distribution.fixed(30.0)),), release=(54000,)),
        ),
        routing=(
            Routing(START, (("Check", 1.0),)),
            Routing("Check", (("Audit", 0.2), (END, 0.8)), (Rule("amount", ">=", 10000, (("Audit", 0.9), (END, 0.1))),)),
            Routing("Audit", ((END, 1.0),)),
        ),
        pools=(Pool("clerks", ("ann", "bob"), ((28800, 61200),), "Europe/Amsterdam"),),
        arrivals=Arrivals(Distribution.exponential(600.0), tuple([1.0] * 84 + [0.5] * 42 + [1.5] * 42)),
        attributes=CaseAttributes(("amount", "channel"), ((500.0, "web"), (20000.0, "phone"))),
        queue=Queue("priority", "channel", ("phone", "web")),
        notes=("hand-built",),
    )


def test_save_load_round_trip(tmp_path):
    m = model()
    p = tmp_path / "m.json"
    m.save(p)
    doc = json.loads(p.read_text())
    assert doc["format"] == "leanops.simulation_model" and doc["version"] == 2
    back = SimulationModel.load(p)
    assert back == m
    # a version-1 file (before traces) loads with the defaults
    doc["version"] = 1
    doc.pop("traces", None)
    assert SimulationModel.from_dict(doc) == m
    assert back.pool("clerks").hours == "Mon 08:00-17:00"
    assert "Check" in m.summary() and "amount >= 10000" in m.summary()
    assert list(m.to_frame()["activity"]) == ["Check", "Audit"]


def _broken(tmp_path, change) -> str:
    doc = model().to_dict()
    change(doc)
    p = tmp_path / "bad.json"
    p.write_text(json.dumps(doc))
    return str(p)


@pytest.mark.parametrize(
    "change, field",
    [
        (lambda d: d.update(version=99), "version"),
        (lambda d: d.update(format="other"), "format"),
        (lambda d: d["activities"][0].pop("duration"), "duration"),
        (lambda d: d["activities"][0]["duration"].update(kind="banana"), "duration"),
        (lambda d: d["routing"][1]["next"].update({"Audti": 0.2}) or d["routing"][1]["next"].pop("Audit"), "Audti"),
        (lambda d: d["routing"][1].update(source="Chekc"), "routing[1].source"),
        (lambda d: d["routing"][2]["next"].update({END: 0.5}), "routing[2].next"),
        (lambda d: d["activities"][0].update(pool="nobody"), "pool"),
        (lambda d: d["arrivals"].update(profile=[1.0] * 3), "arrivals.profile"),
        (lambda d: d["pools"][0]["calendar"].update(intervals=[]), "intervals"),
        (lambda d: d["routing"][1]["rules"][0].update(op="~"), "op"),
        (lambda d: d.pop("routing"), "routing"),
        (lambda d: d["activities"][1].update(release=[90000]), "release"),
        (lambda d: d["activities"][1].update(delay_after={"Nope": {"kind": "fixed", "params": [1]}}), "delay_after"),
    ],
)
def test_bad_model_names_the_field(tmp_path, change, field):
    path = _broken(tmp_path, change)
    with pytest.raises(ModelError) as exc:
        SimulationModel.load(path)
    msg = str(exc.value)
    assert field in msg and "\n" not in msg


def test_unknown_activity_suggests_closest(tmp_path):
    path = _broken(tmp_path, lambda d: d["routing"][0].update(next={"Chek": 1.0}))
    with pytest.raises(ModelError, match="did you mean 'Check'"):
        SimulationModel.load(path)


def test_not_json(tmp_path):
    p = tmp_path / "x.json"
    p.write_text("{not json")
    with pytest.raises(ModelError, match="not valid JSON"):
        SimulationModel.load(p)


def test_overrides():
    m = model().with_pool("clerks", size=4).with_activity("Audit", duration=Distribution.fixed(5.0))
    assert m.pool("clerks").size == 4 and m.activity("Audit").duration.mean == 5.0
    with pytest.raises(ValueError, match="Did you mean 'Audit'"):
        m.activity("Audti")


def test_fit_distribution_picks_the_family_and_falls_back():
    rng = np.random.default_rng(0)
    d = fit_distribution(rng.lognormal(5, 0.8, 3000))
    assert d.kind == "lognormal" and abs(d.params[0] - 5) < 0.1 and abs(d.params[1] - 0.8) < 0.05
    assert fit_distribution([30.0] * 50).kind == "fixed"
    small = fit_distribution([10.0, 20.0, 35.0])
    assert small.kind == "empirical" and small.values == (10.0, 20.0, 35.0)
    assert fit_distribution(np.r_[np.zeros(100), rng.exponential(50, 400)]).kind == "empirical"
    # sampling reproduces the mean
    g = Distribution("gamma", (2.0, 150.0))
    assert abs(g.sample(rng, 100_000).mean() - 300) < 3


def test_empirical_quantiles_keep_the_mean_of_a_heavy_tail():
    from leanops.simulate.distributions import mean_preserving

    rng = np.random.default_rng(5)
    x = rng.lognormal(5.0, 2.5, 20_000)  # the top 1% holds much of the mean
    raw = np.quantile(x, np.linspace(0, 1, 101))
    w = np.r_[0.5, np.ones(99), 0.5]
    assert (raw * w).sum() / 100 > 1.2 * x.mean()  # plain quantile interpolation overstates it
    d = Distribution.empirical(x)
    assert d.mean == pytest.approx(x.mean(), rel=1e-9)
    assert np.all(np.diff(d.values) >= 0) and d.values[:90] == tuple(raw[:90])  # only the top moves
    assert d.sample(rng, 400_000).mean() == pytest.approx(x.mean(), rel=0.05)
    # worked by hand: (0, 1, 2) interpolated has mean (0+1)/4 + (1+2)/4 = 1; to reach 1.5
    # the maximum rises to 4 ((0+1)/4 + (1+4)/4 = 1.5)
    assert list(mean_preserving([0.0, 1.0, 2.0], 1.5)) == [0.0, 1.0, 4.0]
    # to reach 0.5 the top comes down: first the maximum to 1 (mean 0.75), then both
    # together to 2/3 ((0+2/3)/4 + (2/3+2/3)/4 = 0.5)
    assert np.allclose(mean_preserving([0.0, 1.0, 2.0], 0.5), [0.0, 2 / 3, 2 / 3])
