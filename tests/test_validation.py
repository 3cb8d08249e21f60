"""The option checks behind every public function, and JSON output."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from leanops import InputError
from leanops._json import dumps, jsonable
from leanops._validation import check_choice, check_fraction, check_names, check_positive, check_seed, check_tz


def test_choice_message_names_parameter_expected_and_got():
    with pytest.raises(InputError, match=r"^overlay must be one of 'frequency', 'performance'; got 'perf'\.$"):
        check_choice("overlay", "perf", ("frequency", "performance"))
    assert check_choice("overlay", "frequency", ("frequency", "performance")) == "frequency"


@pytest.mark.parametrize("bad", [0, -1, math.nan, math.inf, "x", None])
def test_positive_rejects_non_finite_and_non_positive(bad):
    with pytest.raises(InputError, match="must be a number > 0"):
        check_positive("factor", bad)


def test_positive_integer_and_fraction():
    assert check_positive("cases", 5, integer=True) == 5
    with pytest.raises(InputError, match="an integer"):
        check_positive("cases", 2.5, integer=True)
    assert check_fraction("activities", 0.8) == 0.8
    for bad in (0, 1.5, "a"):
        with pytest.raises(InputError, match=r"in \(0, 1\]"):
            check_fraction("activities", bad)


def test_names_suggest_the_closest():
    with pytest.raises(InputError, match="Did you mean 'Review'"):
        check_names("scenario", ["Reveiw"], ["Review", "Triage"])


def test_tz_and_seed():
    assert check_tz("Europe/Amsterdam") == "Europe/Amsterdam"
    with pytest.raises(InputError, match="Did you mean 'Europe/Amsterdam'"):
        check_tz("Europe/Amsterdan")
    a = check_seed(7).random(3)
    b = check_seed(7).random(3)
    assert np.array_equal(a, b)
    g = np.random.default_rng(1)
    assert check_seed(g) is g
    with pytest.raises(InputError, match="seed must be"):
        check_seed("seven")


def test_json_values():
    doc = {
        "n": np.int64(3), "x": np.float32(1.5), "nan": float("nan"), "inf": np.inf,
        "t": pd.Timestamp("2024-01-01 10:00", tz="UTC"), "nat": pd.NaT, "d": pd.Timedelta(minutes=2),
        "na": pd.NA, "arr": np.array([1, 2]), "b": np.bool_(True),
    }
    back = json.loads(dumps(doc))
    assert back == {"n": 3, "x": 1.5, "nan": None, "inf": None, "t": "2024-01-01T10:00:00+00:00", "nat": None,
                    "d": 120.0, "na": None, "arr": [1, 2], "b": True}
    assert jsonable(pd.DataFrame({"a": [1, None]})) == [{"a": 1.0}, {"a": None}]
