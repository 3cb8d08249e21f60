"""``evidence.granularity_of`` answers "second" early, once the blocks counted so far rule
out day and minute; it must give the answer of counting every stamp."""

from __future__ import annotations

import numpy as np
import pytest

from leanops import evidence

_MIDNIGHT = 1_699_920_000 * 10**9  # a UTC midnight, in ns
_S = 10**9


def _every_stamp(*stamps):
    """The rule on the counts of every stamp (no early answer)."""
    counts = [evidence._stamp_counts(t) for t in stamps]
    n = sum(len(t) for t in stamps)
    n_whole = sum(c[1] for c in counts)
    if n_whole < evidence._FIT * n:
        return "second"
    return evidence.granularity_from_counts(sum(c[0] for c in counts), n, n_whole, sum(c[2] for c in counts))


def _kinds(rng, n):
    return {
        "day": _MIDNIGHT + 9 * 3600 * _S + rng.integers(0, 400, n) * 86400 * _S,
        "minute": _MIDNIGHT + rng.integers(0, 10**6, n) * 60 * _S,
        "second": _MIDNIGHT + rng.integers(0, 10**8, n) * _S,
        "ns": _MIDNIGHT + rng.integers(0, 10**17, n),
    }


@pytest.mark.parametrize("main", ["day", "minute", "second", "ns"])
@pytest.mark.parametrize("odd", ["day", "minute", "second", "ns"])
def test_early_answer_is_the_answer_of_every_stamp(monkeypatch, main, odd):
    monkeypatch.setattr(evidence, "_BLOCK", 100)  # many blocks on a small log
    rng = np.random.default_rng(0)
    n = 3000
    a, b = _kinds(rng, n)[main], _kinds(rng, n)[odd]
    for k in (0, n // 100, n // 60, n // 40, n // 10):
        # the odd stamps first (a first block that looks finer than the whole), or last
        mix = a.copy()
        mix[:k] = b[:k]
        for stamps in ((mix,), (mix[::-1].copy(),), (b[:k], a), (a, mix)):
            assert evidence.granularity_of(*stamps) == _every_stamp(*stamps)


def test_a_finer_first_block_does_not_decide(monkeypatch):
    # 1% of the stamps on odd seconds, all in the first block: still minute granularity
    monkeypatch.setattr(evidence, "_BLOCK", 100)
    t = _MIDNIGHT + np.arange(10_000) * 60 * _S
    t[:100] += 7 * _S
    assert evidence.granularity_of(t) == "minute"
    t[:300] += 7 * _S  # 3%: finer than minutes
    assert evidence.granularity_of(t) == "second"
