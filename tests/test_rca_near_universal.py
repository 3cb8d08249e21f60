"""Root causes leave out near-universal text values: a value in 96% of the cases is no
cause of slowness; the few cases without it are tested instead."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import leanops
from leanops.rca._selection import NEAR_UNIVERSAL, _candidates

from groundtruth_universal import universal_log

PLANTED = {"priority", "amount", "channel", "resource@Review"}


def planted(seed: int):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return leanops.from_frame(universal_log(1000, seed))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_near_universal_value_is_no_cause_and_a_planted_cause_ranks_first(seed):
    log = planted(seed)
    share = (log.df.groupby("case_id", observed=True)["fast_track"].first() == "no").mean()
    assert share > NEAR_UNIVERSAL
    rc = leanops.root_causes(log, n_boot=50, seed=seed)
    assert rc.causes and rc.causes[0].feature in PLANTED
    found = {c.feature for c in rc.causes}
    assert found & {"fast_track", "consent"} == set(), [(c.feature, c.value) for c in rc.causes]
    assert found >= {"priority", "amount"}
    note = next(n for n in rc.notes if n.startswith("left out as near-universal"))
    assert "fast_track = no (9" in note
    assert rc.to_dict()["notes"] == rc.notes


@pytest.mark.parametrize("seed", [1, 2])
def test_the_few_cases_without_the_value_are_tested_as_its_complement(seed):
    # the fast-tracked cases (yes and lane: 4%) skip the constrained Review: they are faster
    rc = leanops.root_causes(planted(seed), n_boot=50, seed=seed, direction="decrease")
    c = next(c for c in rc.causes if c.feature == "fast_track")
    assert c.value == "!= no" and c.condition == "fast_track != no"
    assert c.support < 1 - NEAR_UNIVERSAL and c.effect < 0
    assert "consent" not in {c.feature for c in rc.causes}


def test_candidates_of_near_universal_text_values_by_hand():
    # 100 cases: "a" in 95 (near-universal), "b" in 3 and "c" in 2: "!= a" (5 cases) is tested
    # instead of "a"; in "two", "x" (95) has one other value "y" (5), which is tested as itself.
    # The rule is for drivers (case attributes): resources are judged by their own work.
    t = pd.DataFrame({
        "one": ["a"] * 95 + ["b"] * 3 + ["c"] * 2,
        "two": ["x"] * 95 + ["y"] * 5,
        "mid": ["p"] * 60 + ["q"] * 40,
        "resource@Review": ["r1"] * 95 + ["r2"] * 5,  # resources are judged by their own work instead
    })
    y = np.arange(100, dtype=float)
    cands, X, n_tested, universal = _candidates(t, y, 5, 1.0, 0.5)
    got = {(c.feature, c.value): int(X[:, i].sum()) for i, c in enumerate(cands)}
    assert got == {("one", "!= a"): 5, ("two", "y"): 5, ("mid", "p"): 60, ("mid", "q"): 40,
                   ("resource@Review", "r1"): 95, ("resource@Review", "r2"): 5}
    assert X[:, [c.value for c in cands].index("!= a")].toarray().ravel().nonzero()[0].tolist() == [95, 96, 97, 98, 99]
    assert universal == [("one", "a", 0.95), ("two", "x", 0.95)]
    assert n_tested == 6


def test_a_near_universal_side_of_a_yes_no_driver_is_never_reported():
    # "vip" is true in 95 of 100 cases, "rush" in 6: only the few cases on the other side
    # are a condition, and they cannot be flipped into the near-universal side
    t = pd.DataFrame({"vip": [True] * 95 + [False] * 5, "rush": [False] * 94 + [True] * 6,
                      "half": [True] * 50 + [False] * 50})
    y = np.arange(100, dtype=float)
    cands, X, _, universal = _candidates(t, y, 5, 1.0, 0.5)
    got = {(c.feature, c.value, c.value_not): X[:, i].toarray().ravel().nonzero()[0].tolist() for i, c in enumerate(cands)}
    assert got == {("vip", "false", None): list(range(95, 100)), ("rush", "true", None): list(range(94, 100)),
                   ("half", "true", "false"): list(range(50))}
    assert universal == [("vip", "true", 0.95), ("rush", "false", 0.94)]
