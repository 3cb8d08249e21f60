"""Benchmark: ``leanops.check`` against pm4py's LTL checker and filters on the same 10 rules.

On one generated log (by default 1,000,000 cases, ~7.5M activity instances, see
``_common.generate``), measured in the same run:

* ``leanops.check(log, sop)`` with 10 order and time rules, cold (nothing cached on the
  log): every rule on every case, plus the weekly trend and the adjusted cost of each
  violation with CIs (bootstrap up to 50,000 cases, HC1 above); the per-resource table,
  computed on first access, is timed on its own;
* the reference: for each rule the pm4py function that checks it (``pm4py.algo.filtering.
  pandas.ltl.ltl_checker.eventually_follows`` for ``before`` and, with
  ``TIMESTAMP_DIFF_BOUNDARIES``, ``max_wait``; ``pm4py.filter_event_attribute_values`` for
  ``required``/``forbidden``; ``pm4py.filter_activities_rework`` for ``at_most_once``;
  ``pm4py.filter_start_activities``/``filter_end_activities`` for ``first``/``last``;
  ``pm4py.filter_case_performance`` for ``case_sla``) on the pm4py DataFrame of the same log.
  Converting to that frame is not timed; neither is reading the log for leanops.

The compliance of each rule is printed from both sides: they agree where the semantics
agree (pm4py's ``eventually_follows`` asks for *some* A followed by B; leanops' ``before``
for the first A before the first B, so they can differ on cases with repeats; its time
bound takes the end of A to the start of B from *any* pair, leanops' ``max_wait`` the
first ``after`` and the next ``activity``).

Usage::

    python benchmarks/bench_check.py                 # 1,000,000 cases
    python benchmarks/bench_check.py --cases 100000  # quick run
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
import warnings
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import leanops  # noqa: E402
from _common import PeakRSS, generate, mb  # noqa: E402

A = [f"Activity {i:02d}" for i in range(10)]
SOP = {
    "name": "benchmark SOP",
    "rules": [
        {"required": [A[3]]},
        {"forbidden": [A[9]]},
        {"at_most_once": [A[4]]},
        {"first": A[0]},
        {"last": A[5]},
        {"before": [A[1], A[2]]},
        {"before": [A[3], A[6]]},
        {"max_wait": {"activity": A[2], "after": A[1], "within": "6h"}},
        {"max_wait": {"activity": A[6], "after": A[3], "within": "12h"}},
        {"case_sla": {"within": "2d"}},
    ],
}


def pm4py_rules(df: pd.DataFrame) -> dict[str, float]:
    """Share of cases satisfying each rule, by pm4py's functions (case ids kept per rule)."""
    import pm4py
    from pm4py.algo.filtering.pandas.ltl import ltl_checker as ltl

    n = df["case:concept:name"].nunique()
    share = lambda f: f["case:concept:name"].nunique() / n  # noqa: E731
    out = {}
    out["required"] = share(pm4py.filter_event_attribute_values(df, "concept:name", [A[3]], level="case", retain=True))
    out["forbidden"] = share(pm4py.filter_event_attribute_values(df, "concept:name", [A[9]], level="case", retain=False))
    out["at_most_once"] = 1 - share(pm4py.filter_activities_rework(df, A[4], min_occurrences=2))
    out["first"] = share(pm4py.filter_start_activities(df, [A[0]]))
    out["last"] = share(pm4py.filter_end_activities(df, [A[5]]))
    out["before 1-2"] = share(ltl.eventually_follows(df, [A[1], A[2]]))
    out["before 3-6"] = share(ltl.eventually_follows(df, [A[3], A[6]]))
    p = ltl.Parameters.TIMESTAMP_DIFF_BOUNDARIES
    out["max_wait 1-2"] = share(ltl.eventually_follows(df, [A[1], A[2]], parameters={p: [(0, 6 * 3600)]}))
    out["max_wait 3-6"] = share(ltl.eventually_follows(df, [A[3], A[6]], parameters={p: [(0, 12 * 3600)]}))
    out["case_sla"] = share(pm4py.filter_case_performance(df, 0, 2 * 86400))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cases", type=int, default=1_000_000)
    ap.add_argument("--boot", type=int, default=200, help="bootstrap resamples of the costs in leanops.check")
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    raw = generate(args.cases)
    print(f"log: {args.cases:,} cases, {len(raw):,} activity instances")
    # warm the lazy imports on a small log
    small = leanops.from_frame(generate(2000, seed=1))
    leanops.check(small, SOP, n_boot=5)
    pm4py_rules(small.to_pm4py())

    log = leanops.from_frame(raw)
    pdf = log.to_pm4py()
    pdf["concept:name"] = pdf["concept:name"].astype(str)
    pdf["case:concept:name"] = pdf["case:concept:name"].astype(str)
    gc.collect()
    with PeakRSS() as mem:
        t = time.perf_counter()
        res = leanops.check(log, SOP, n_boot=args.boot, seed=0)
        t_lean = time.perf_counter() - t
        t = time.perf_counter()
        n_res = len(res.by_resource)  # computed on first access
        t_res = time.perf_counter() - t
    gc.collect()
    t = time.perf_counter()
    ref = pm4py_rules(pdf)
    t_pm4py = time.perf_counter() - t
    print(f"leanops.check, 10 rules + weekly trend + adjusted costs with CIs:  {t_lean:8.2f} s "
          f"(peak +{mb(mem.peak)})")
    print(f"  then .by_resource ({n_res:,} rows, computed on first access):     {t_res:8.2f} s")
    print(f"pm4py LTL checker / filters, the same 10 rules:                       {t_pm4py:8.2f} s")
    print(f"ratio pm4py / leanops: {t_pm4py / t_lean:.1f}x (target >= 10x)")
    print("\ncompliance per rule (leanops | pm4py):")
    for r, (k, v) in zip(res.rules, ref.items()):
        print(f"  {r.rule:<55} {r.compliance:7.4f} | {k:<14} {v:7.4f}")


if __name__ == "__main__":
    main()
