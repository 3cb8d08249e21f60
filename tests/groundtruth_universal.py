"""The planted-causes process of ``groundtruth_causes`` with two near-universal attributes.

* ``fast_track`` is ``no`` for about 96 % of cases; the others (``yes`` 2.5 %, ``lane``
  1.5 %, too few to test alone) skip ``Review`` (the constrained step), so they are much
  faster. ``fast_track = no`` does nothing itself: its raw "effect" is only that of the few
  fast-tracked cases, ``fast_track != no``.
* ``consent`` is ``given`` for about 97 % of cases, drawn independently: no effect at all.

The planted causes of ``groundtruth_causes`` stay (priority, amount, channel, the slow expert).
"""

from __future__ import annotations

from dataclasses import replace

from groundtruth import Process, generate
from groundtruth_causes import CONSTRAINED, planted_process

FAST_TRACK = {"yes": 0.025, "lane": 0.015}
CONSENT_SHARE = 0.97


def _fast_track(rng, a):
    u = rng.random()
    return "yes" if u < FAST_TRACK["yes"] else "lane" if u < sum(FAST_TRACK.values()) else "no"


def _consent(rng, a):
    return "given" if rng.random() < CONSENT_SHARE else "withheld"


def universal_process(interarrival: float = 15.0) -> Process:
    base = planted_process(interarrival)
    steps = [replace(s, prob=lambda a: 1.0 if a["fast_track"] == "no" else 0.0) if s.activity == CONSTRAINED else s
             for s in base.steps]
    return replace(base, steps=steps, attributes={**base.attributes, "fast_track": _fast_track, "consent": _consent})


def universal_log(n_cases: int = 1500, seed: int = 1):
    """The generated log as a DataFrame (case_id, activity, start_time, end_time, resource, attributes)."""
    return generate(universal_process(), n_cases=n_cases, seed=seed).log
