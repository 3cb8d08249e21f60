"""leanops.root_causes: planted causes found, decoys not, statistics sound, bad input explicit."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import leanops
from leanops.errors import InputError

sys.path.insert(0, str(Path(__file__).parent))
from groundtruth import generate  # noqa: E402
from groundtruth_causes import AMOUNT_THRESHOLD, CONSTRAINED, planted_process  # noqa: E402

SEEDS = [1, 2, 3]


@pytest.fixture(scope="module", params=SEEDS)
def planted(request):
    res = generate(planted_process(15.0), n_cases=1500, seed=request.param)
    return leanops.from_frame(res.log), res


def _is(c, feature, value=None):
    return c.feature == feature and (value is None or c.value == value)


def test_planted_causes_in_top5_for_case_duration(planted):
    log, _ = planted
    rc = leanops.root_causes(log, target="case_duration", n_boot=100)
    top5 = rc.causes[:5]
    assert any(_is(c, "priority", "low") for c in top5), str(rc)
    amount = [c for c in top5 if c.feature == "amount"]
    assert amount and amount[0].value.startswith(">="), str(rc)
    thr = float(amount[0].value[2:])
    assert 0.8 * AMOUNT_THRESHOLD <= thr <= 1.2 * AMOUNT_THRESHOLD
    assert any(_is(c, "channel", "phone") for c in top5), str(rc)
    assert any(_is(c, "resource@Review", "experts_1") or _is(c, "involves", "experts_1") for c in top5), str(rc)


def test_decoys_are_not_significant(planted):
    log, _ = planted
    rc = leanops.root_causes(log, target="case_duration", n_boot=50, top=50)
    for c in rc.causes:
        assert c.feature not in ("region", "segment"), str(rc)


def test_path_consequence_is_a_mediator(planted):
    log, _ = planted
    rc = leanops.root_causes(log, target="case_duration", n_boot=50, top=50)
    assert not any(_is(c, "occurs", "Audit") for c in rc.causes), str(rc)
    amount = next(c for c in rc.causes if c.feature == "amount")
    assert {"feature": "occurs", "value": "Audit"} in [{k: m[k] for k in ("feature", "value")} for m in amount.mediators]
    assert "Audit occurs" in amount.sentence


def test_low_priority_ranks_first_for_the_constrained_wait(planted):
    log, _ = planted
    rc = leanops.root_causes(log, target=f"wait:{CONSTRAINED}", n_boot=50)
    assert _is(rc.causes[0], "priority", "low"), str(rc)
    assert f"before {CONSTRAINED}" in rc.causes[0].sentence


def _indicator(t, feature, value):
    if value.startswith(">="):
        return (t[feature] >= float(value[2:])).to_numpy()
    if value.startswith("<"):
        return (t[feature] < float(value[1:])).to_numpy()
    return (t[feature].astype(str) == value).to_numpy()


def test_first_effect_is_the_plain_difference_with_a_covering_ci(planted):
    # Issue 13 changed this contract: ``effect`` is adjusted for the system state the cases
    # met (the context), ``raw_effect`` is the plain difference.
    log, res = planted
    rc = leanops.root_causes(log, target="case_duration", n_boot=200, seed=3)
    first = rc.causes[0]
    # independent: the generator's own arrival/completion per case
    cases = res.cases.set_index("case_id")
    dur = log.df.groupby("case_id", observed=True).agg(s=("start", "min"), e=("end", "max"))
    dur = (dur["e"] - dur["s"]).dt.total_seconds().reindex(log.case_ids)
    t = leanops.rca.features(log)
    ind = _indicator(t, first.feature, first.value)
    keep = rc.excluded_cases == {"cut_at_start": 0, "open_at_end": 0}
    assert keep  # the generator's log is whole
    expected = dur[ind].mean() - dur[~ind].mean()
    assert first.raw_effect == pytest.approx(expected, rel=1e-6)
    Z = np.column_stack([np.ones(len(dur))] + [_indicator(t, c.feature, c.value) for c in rc.context if c.kind == "system"]
                        + [ind]).astype(float)
    adjusted = np.linalg.lstsq(Z, dur.to_numpy(), rcond=None)[0][-1]
    assert first.effect == pytest.approx(adjusted, rel=1e-6)
    assert first.ci_low < first.effect < first.ci_high
    assert first.support == pytest.approx(ind.mean())
    assert 0 <= first.p_value < 0.05
    assert len(cases) == log.n_cases


def test_known_effect_on_a_user_series():
    rng = np.random.default_rng(5)
    n = 600
    channel = rng.choice(["phone", "web"], size=n, p=[0.3, 0.7])
    region = rng.choice(["n", "s"], size=n)
    ids = [f"k{i}" for i in range(n)]
    rows = pd.DataFrame({
        "case_id": ids, "activity": "Do", "resource": "r",
        "end_time": pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(rng.integers(0, 86400 * 20, n), unit="s"),
        "channel": channel, "region": region,
    })
    log = leanops.from_frame(rows)
    y = pd.Series(10.0 + 5.0 * (channel == "phone") + rng.normal(0, 2, n), index=ids, name="cost")
    rc = leanops.root_causes(log, target=y, n_boot=300, seed=1)
    first = rc.causes[0]
    assert (first.feature, first.value) == ("channel", "phone")
    assert first.ci_low < 5.0 < first.ci_high
    assert first.effect_unit == "value"
    assert not any(c.feature == "region" for c in rc.causes)
    # same seed, same result
    again = leanops.root_causes(log, target=y, n_boot=300, seed=1)
    assert again.to_dict() == rc.to_dict()


def _shifted_log(n=600, shift=5.0, seed=5):
    rng = np.random.default_rng(seed)
    channel = rng.choice(["phone", "web"], size=n, p=[0.3, 0.7])
    ids = [f"k{i}" for i in range(n)]
    rows = pd.DataFrame({
        "case_id": ids, "activity": "Do", "resource": "r",
        "end_time": pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(rng.integers(0, 86400 * 20, n), unit="s"),
        "channel": channel,
    })
    y = pd.Series(10.0 + shift * (channel == "phone") + rng.exponential(2, n), index=ids, name="cost")
    return leanops.from_frame(rows), y


def test_median_statistic_and_other_directions():
    log, y = _shifted_log()
    rc = leanops.root_causes(log, target=y, statistic="median", n_boot=300, seed=2)
    first = rc.causes[0]
    assert (first.feature, first.value) == ("channel", "phone")
    assert first.ci_low < 5.0 < first.ci_high  # both groups have the same spread: medians differ by 5
    assert first.p_value < 1e-6
    dec = leanops.root_causes(log, target=y, direction="decrease", n_boot=50)
    assert (dec.causes[0].feature, dec.causes[0].value) == ("channel", "web")
    assert dec.causes[0].effect < 0 and "lower" in dec.causes[0].sentence


def test_rank_by_impact_orders_by_effect_times_cases(planted):
    log, _ = planted
    rc = leanops.root_causes(log, n_boot=30, rank_by="impact")
    impact = [abs(c.effect) * c.n_cases for c in rc.causes]
    assert impact == sorted(impact, reverse=True)


def test_json_contract_keys(planted):
    log, _ = planted
    doc = leanops.root_causes(log, target="sla:3h", n_boot=30).to_dict()
    assert {"target", "baseline", "causes"} <= set(doc)
    assert doc["target"] == "sla:3h"
    for c in doc["causes"]:
        assert {"rank", "feature", "value", "effect", "effect_unit", "ci_low", "ci_high",
                "p_value", "support", "category"} <= set(c)
        assert isinstance(c["feature"], str) and isinstance(c["value"], str)
        assert c["effect_unit"] == "share"
        assert c["category"] in leanops.rca.CATEGORIES
    assert [c["rank"] for c in doc["causes"]] == list(range(1, len(doc["causes"]) + 1))


def test_rework_target_finds_the_channel(planted):
    log, _ = planted
    rc = leanops.root_causes(log, target="rework", n_boot=30)
    assert _is(rc.causes[0], "channel", "phone"), str(rc)
    assert not any(c.feature.startswith("count:") for c in rc.causes)  # would restate the target


# ------------------------------------------------------------------ bad input
def _tiny(n_cases: int, *, attrs: bool = True, same_duration: bool = False) -> leanops.EventLog:
    rng = np.random.default_rng(0)
    rows = []
    for i in range(n_cases):
        t0 = pd.Timestamp("2024-01-01 08:00", tz="UTC") + pd.Timedelta(hours=i)
        d = 30 if same_duration else int(rng.integers(10, 90))
        row = {"case_id": f"c{i}", "activity": "A", "start_time": t0, "end_time": t0 + pd.Timedelta(minutes=d)}
        if attrs:
            row["kind"] = "x" if i % 2 else "y"
        rows.append(row)
    return leanops.from_frame(pd.DataFrame(rows))


def test_unknown_target_activity_lists_activities():
    log = _tiny(10)
    with pytest.raises(InputError, match=r"unknown activity 'Review'.*Activities in the log: 'A'"):
        leanops.root_causes(log, target="wait:Review")


def test_constant_target_is_nothing_to_explain():
    rc = leanops.root_causes(_tiny(60, same_duration=True), target="case_duration")
    assert rc.nothing_to_explain and rc.causes == []
    assert "nothing to explain" in rc.reason and "same for every case" in rc.reason
    assert rc.to_dict()["reason"] == rc.reason


def test_no_attributes_is_nothing_to_explain():
    rc = leanops.root_causes(_tiny(60, attrs=False), target="case_duration")
    assert rc.nothing_to_explain
    assert "no attributes" in rc.reason


def test_too_few_cases_warns_and_marks_low_confidence():
    log = _tiny(20)
    with pytest.warns(leanops.rca.LowConfidenceWarning, match="low confidence"):
        rc = leanops.root_causes(log, target="case_duration")
    assert rc.low_confidence
    assert rc.to_dict()["low_confidence"] is True
    assert all(c.confidence == "low" for c in rc.causes)


def test_option_validation():
    log = _tiny(10)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(InputError, match="statistic must be one of"):
            leanops.root_causes(log, statistic="mode")
        with pytest.raises(InputError, match="top must be"):
            leanops.root_causes(log, top=0)
