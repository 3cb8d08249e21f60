"""resource_evidence leaves the wait comparison out only when the waiting decomposition
refuses the log (InputError); any other error is a bug and is not swallowed."""

from __future__ import annotations

import math
import warnings

import pytest

import leanops
from leanops.errors import InputError
from leanops.rca import _resources, waiting


@pytest.fixture(scope="module")
def log():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return leanops.datasets.load("purchasing_example")


def test_measured_waits_fill_the_wait_comparison(log):
    ev, _ = _resources.resource_evidence(log)
    assert ev and any(e.p_wait < 1.0 for e in ev.values())


def test_a_refused_decomposition_leaves_the_waits_unmeasured(log, monkeypatch):
    def refuse(*a, **k):
        raise InputError("waiting_causes needs start times")

    monkeypatch.setattr(waiting, "waiting_causes", refuse)
    ev, _ = _resources.resource_evidence(log)
    assert ev and all(e.p_wait == 1.0 and math.isnan(e.wait_excess_s) for e in ev.values())


def test_a_bug_in_the_decomposition_is_not_swallowed(log, monkeypatch):
    def broken(*a, **k):
        raise KeyError("extraneous_s")

    monkeypatch.setattr(waiting, "waiting_causes", broken)
    with pytest.raises(KeyError):
        _resources.resource_evidence(log)
