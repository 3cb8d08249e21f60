"""Engine invariants on hand-built models: no waiting without contention, one resource
never serves two instances at once, arrival rate, determinism, no case lost, calendars."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from leanops.errors import InputError
from leanops.simulate import (
    END, START, Activity, Arrivals, CaseAttributes, Distribution, Pool, Queue, Routing, Rule,
    SimulationModel, run,
)

MON = pd.Timestamp("2024-01-01", tz="UTC")  # a Monday


def tandem(size_a: int = 1, size_b: int = 1, ia: float = 600.0, pool_b: str | None = "b", **pool_kw) -> SimulationModel:
    pools = [Pool("a", tuple(f"a{i}" for i in range(size_a)), **pool_kw)]
    if pool_b:
        pools.append(Pool("b", tuple(f"b{i}" for i in range(size_b))))
    return SimulationModel(
        activities=(
            Activity("A", "a", Distribution.exponential(300.0)),
            Activity("B", pool_b, Distribution("lognormal", (np.log(200.0), 0.5))),
        ),
        routing=(
            Routing(START, (("A", 1.0),)),
            Routing("A", (("B", 0.7), (END, 0.3))),
            Routing("B", ((END, 1.0),)),
        ),
        pools=tuple(pools),
        arrivals=Arrivals(Distribution.exponential(ia)),
        start=MON,
    )


def _secs(s: pd.Series) -> np.ndarray:
    return s.to_numpy(dtype="datetime64[ns]").view(np.int64) / 1e9


def test_unlimited_capacity_means_no_waiting():
    model = tandem(size_a=1000, size_b=1000, ia=60.0)
    res = run(model, cases=3000, seed=1)
    d = res.log.df
    # every instance starts exactly when its predecessor in the case ends (or at arrival)
    prev_end = d.groupby("case_id", observed=True)["end"].shift()
    gap = (d["start"] - prev_end).dt.total_seconds().dropna()
    assert len(gap) > 1500
    assert np.abs(gap.to_numpy()).max() < 1e-3
    assert res.kpis["wait_mean_s"] < 1e-3


def test_one_resource_never_overlaps():
    res = run(tandem(size_a=1, size_b=1, ia=500.0), cases=2000, seed=2)
    d = res.log.df
    for r, g in d.groupby("resource", observed=True):
        g = g.sort_values("start")
        s, e = _secs(g["start"]), _secs(g["end"])
        assert (s[1:] >= e[:-1] - 1e-6).all(), r
    # and with real contention, somebody waited
    assert res.kpis["wait_mean_s"] > 0


def test_arrival_rate_matches_within_sampling_error():
    ia = 240.0
    n = 5000
    res = run(tandem(size_a=1000, size_b=1000, ia=ia), cases=n, seed=3)
    first = res.log.df.groupby("case_id", observed=True)["start"].min().sort_values()
    gaps = np.diff(_secs(first))
    # mean of n-1 exponential gaps: standard error ia / sqrt(n)
    assert abs(gaps.mean() - ia) < 4 * ia / np.sqrt(n - 1)
    assert first.iloc[0] == MON  # the first arrival is the start


def test_same_seed_same_log_and_no_case_lost():
    m = tandem(size_a=2, size_b=1, ia=400.0)
    a = run(m, cases=1500, seed=7)
    b = run(m, cases=1500, seed=7)
    c = run(m, cases=1500, seed=8)
    pd.testing.assert_frame_equal(a.log.df, b.log.df)
    assert not a.log.df.equals(c.log.df)
    assert a.log.n_cases == 1500
    # each case does A exactly once, and B at most once
    counts = a.log.df.groupby(["case_id", "activity"], observed=True).size().unstack(fill_value=0)
    assert (counts["A"] == 1).all() and (counts["B"] <= 1).all()


def test_routing_probability_and_warmup():
    res = run(tandem(size_a=50, size_b=50, ia=100.0), cases=4000, seed=4, warmup=100)
    d = res.log.df
    assert res.log.n_cases == 3900
    share_b = d.loc[d["activity"] == "B", "case_id"].nunique() / res.log.n_cases
    assert abs(share_b - 0.7) < 4 * np.sqrt(0.7 * 0.3 / 3900)


def test_office_hours_pause_and_resume():
    # A works Mon-Fri 08:00-17:00; a 4h fixed job started at 15:00 ends at 10:00 next day
    hours = tuple((d * 86400 + 8 * 3600, d * 86400 + 17 * 3600) for d in range(5))
    m = SimulationModel(
        activities=(Activity("A", "a", Distribution.fixed(4 * 3600.0)),),
        routing=(Routing(START, (("A", 1.0),)), Routing("A", ((END, 1.0),))),
        pools=(Pool("a", ("x",), hours),),
        arrivals=Arrivals(Distribution.fixed(86400.0)),
    )
    res = run(m, cases=3, seed=0, start=MON + pd.Timedelta(hours=15))
    d = res.log.df.sort_values("start")
    assert list(d["start"]) == [MON + pd.Timedelta(hours=15), MON + pd.Timedelta(days=1, hours=15),
                                MON + pd.Timedelta(days=2, hours=15)]
    assert list(d["end"]) == [MON + pd.Timedelta(days=1, hours=10), MON + pd.Timedelta(days=2, hours=10),
                              MON + pd.Timedelta(days=3, hours=10)]
    # Friday 20:00 arrival waits for Monday 08:00
    res = run(m, cases=1, seed=0, start=MON + pd.Timedelta(days=4, hours=20))
    assert res.log.df["start"].iloc[0] == MON + pd.Timedelta(days=7, hours=8)
    assert res.log.df["end"].iloc[0] == MON + pd.Timedelta(days=7, hours=12)


def test_arrival_profile_puts_no_arrivals_in_closed_hours():
    profile = [0.0] * 168
    for d in range(5):
        for h in range(9, 17):
            profile[d * 24 + h] = 1.0
    m = SimulationModel(
        activities=(Activity("A", None, Distribution.fixed(60.0)),),
        routing=(Routing(START, (("A", 1.0),)), Routing("A", ((END, 1.0),))),
        pools=(),
        arrivals=Arrivals(Distribution.exponential(3600.0), tuple(profile)),
    )
    res = run(m, cases=2000, seed=5, start=MON + pd.Timedelta(hours=9))
    st = res.log.df["start"]
    assert (st.dt.weekday < 5).all()
    assert st.dt.hour.between(9, 16).all()
    # the profile shapes the week; the mean gap over a whole week stays 3600 s: 168 a week
    weeks = (st.max() - st.min()).total_seconds() / 604800
    assert abs(2000 / weeks - 168) < 4 * np.sqrt(168 * weeks) / weeks


def test_data_aware_rule_and_priority_queue():
    m = SimulationModel(
        activities=(Activity("Check", "c", Distribution.fixed(100.0)), Activity("Audit", "c", Distribution.fixed(100.0))),
        routing=(
            Routing(START, (("Check", 1.0),)),
            Routing("Check", (("Audit", 0.0), (END, 1.0)), (Rule("amount", ">=", 10000, (("Audit", 1.0),)),)),
            Routing("Audit", ((END, 1.0),)),
        ),
        pools=(Pool("c", ("x",)),),
        arrivals=Arrivals(Distribution.exponential(150.0)),
        attributes=CaseAttributes(("amount", "prio"), ((500.0, "low"), (20000.0, "high"))),
        queue=Queue("priority", "prio", ("high", "low")),
    )
    res = run(m, cases=2000, seed=6)
    d = res.log.df
    audited = set(d.loc[d["activity"] == "Audit", "case_id"])
    big = set(d.loc[d["amount"] >= 10000, "case_id"])
    assert audited == big and 0 < len(big) < 2000
    # high-priority cases are served first: they wait less for Check, from their arrival
    arr = res.cases.set_index("case_id")["arrival"]
    chk = d[d["activity"] == "Check"].set_index("case_id")
    wait = (chk["start"] - arr.reindex(chk.index)).dt.total_seconds()
    is_high = chk["prio"] == "high"
    assert wait.min() >= 0
    assert wait[is_high].mean() < 0.5 * wait[~is_high].mean()


def test_run_bad_arguments():
    m = tandem()
    with pytest.raises(InputError, match="cases"):
        run(m, seed=1)
    with pytest.raises(InputError, match="cases"):
        run(m, cases=0, seed=1)
    with pytest.raises(InputError, match="until"):
        run(m, until="2023-01-01", seed=1, start=MON)


def test_until_generates_arrivals_in_the_window():
    res = run(tandem(size_a=100, size_b=100, ia=600.0), until="7d", seed=9, start=MON)
    first = res.log.df.groupby("case_id", observed=True)["start"].min()
    assert first.max() < MON + pd.Timedelta(days=7)
    assert abs(res.log.n_cases - 1008) < 4 * np.sqrt(1008)


def test_members_with_their_own_hours():
    morning = tuple((d * 86400 + 6 * 3600, d * 86400 + 12 * 3600) for d in range(7))
    evening = tuple((d * 86400 + 14 * 3600, d * 86400 + 20 * 3600) for d in range(7))
    m = SimulationModel(
        activities=(Activity("A", "p", Distribution.exponential(900.0)),),
        routing=(Routing(START, (("A", 1.0),)), Routing("A", ((END, 1.0),))),
        pools=(Pool("p", ("early", "late"), morning + evening, member_intervals=(("early", morning), ("late", evening))),),
        arrivals=Arrivals(Distribution.exponential(3600.0)),
        start=MON,
    )
    d = run(m, cases=500, seed=3).log.df
    h_start = d["start"].dt.hour + d["start"].dt.minute / 60
    early = d["resource"] == "early"
    assert early.any() and (~early).any()
    assert h_start[early].between(6, 12).all() and h_start[~early].between(14, 20).all()
    # work pauses outside the member's hours: an instance never runs over its shift's end into off time
    h_end = d["end"].dt.hour + d["end"].dt.minute / 60 + d["end"].dt.second / 3600
    assert h_end[early].between(6, 12).all() and h_end[~early].between(14, 20).all()


def _traced(weights: tuple[float, float]) -> SimulationModel:
    """Unlimited capacity, every case A then B; B waits by an empirical delay of 0..1000 s.
    The two recorded cases waited at the bottom (rank 0) and the top (rank 1) of that delay."""
    import dataclasses

    from leanops.simulate.model import Traces, routing_digest

    m = tandem(size_a=1000, size_b=1000, ia=60.0)
    routing = (Routing(START, (("A", 1.0),)), Routing("A", (("B", 1.0),)), Routing("B", ((END, 1.0),)))
    acts = (m.activities[0], dataclasses.replace(m.activities[1], delay=Distribution.empirical(np.linspace(0.0, 1000.0, 11))))
    tr = Traces(variants=(("A", "B"),), cases=(0, 0), weights=weights,
                fitted=tuple((r.source, routing_digest(r)) for r in routing), ranks=((0.0, 0.0), (0.0, 1.0)))
    return dataclasses.replace(m, activities=acts, routing=routing, traces=tr)


def test_traced_case_waits_at_its_recorded_rank():
    for weights, expected in (((1.0, 0.0), 0.0), ((0.0, 1.0), 1000.0)):
        d = run(_traced(weights), cases=200, seed=1).log.df
        prev_end = d.groupby("case_id", observed=True)["end"].shift()
        gap = (d["start"] - prev_end).dt.total_seconds().dropna().to_numpy()
        assert len(gap) == 200
        assert np.allclose(gap, expected, atol=1e-3), (weights, gap[:5])
    # both recorded cases equally likely: the simulated waits are the two extremes, about half each
    d = run(_traced((1.0, 1.0)), cases=400, seed=2).log.df
    gap = (d["start"] - d.groupby("case_id", observed=True)["end"].shift()).dt.total_seconds().dropna().to_numpy()
    assert np.all(np.isclose(gap, 0.0, atol=1e-3) | np.isclose(gap, 1000.0, atol=1e-3))
    assert 160 <= np.isclose(gap, 1000.0, atol=1e-3).sum() <= 240  # binomial(400, 1/2) within 4 sd


def test_changed_routing_overrides_the_recorded_routes():
    import dataclasses

    m = _traced((1.0, 1.0))
    assert set(run(m, cases=100, seed=1).log.df["activity"]) == {"A", "B"}
    # a scenario sends every case from A to the end: the recorded routes give way
    changed = dataclasses.replace(m, routing=(m.routing[0], Routing("A", ((END, 1.0),)), m.routing[2]))
    d = run(changed, cases=100, seed=1).log.df
    assert set(d["activity"]) == {"A"} and d["case_id"].nunique() == 100
    # the traces survive a JSON round trip
    assert SimulationModel.from_dict(json.loads(m.to_json())) == m


def test_summary_intervals_stay_within_the_kpi_range():
    from leanops.simulate.engine import summarize

    runs = [{"cycle_time_p90_s": v, "utilization:clerks": u} for v, u in ((10.0, 0.99), (5000.0, 0.2))]
    s = summarize(runs)
    # Two very different replications: the plain t interval would reach below 0 and above 1.
    assert s["cycle_time_p90_s"]["ci_low"] == 0.0
    assert s["cycle_time_p90_s"]["ci_high"] > 5000.0
    assert s["utilization:clerks"]["ci_high"] == 1.0 and s["utilization:clerks"]["ci_low"] == 0.0
