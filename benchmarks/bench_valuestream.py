"""Benchmark: value stream + bottlenecks against process-map discovery on the same log.

On one generated log (by default 1,000,000 cases, ~7.5M activity instances, 10
activities, a pool of resources per activity), measured in the same run:

* ``leanops.value_stream(log)`` then ``leanops.bottlenecks(log)`` on the same EventLog,
  starting cold (nothing cached on the log), as an analyst would call them;
* each of them alone, cold;
* the reference: ``leanops.discover(log)`` (cold) when this checkout has it; otherwise a
  DuckDB directly-follows query (count and mean/median/p90 wait per pair of activities,
  over the same canonical table) stands in for it, and the script says so.

Lazy imports are warmed up on a small log first; then three interleaved rounds of the
reference and leanops (the machine is shared, so its load drifts). Prints every time,
the ratios (min over min, and per round) against the target of < 3x, and peak memory.

Usage::

    python benchmarks/bench_valuestream.py                 # 1,000,000 cases
    python benchmarks/bench_valuestream.py --cases 100000  # quick run
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import time
import tracemalloc
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import leanops  # noqa: E402
from _common import DFG_SQL, PeakRSS, generate, mb  # noqa: E402



def timed(fn, log):
    log._cache.clear()
    gc.collect()
    t = time.perf_counter()
    out = fn(log)
    return out, time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cases", type=int, default=int(os.environ.get("LEANOPS_BENCH_CASES", 1_000_000)))
    args = ap.parse_args()

    import duckdb
    import psutil

    warnings.simplefilter("ignore")
    print(f"leanops {leanops.__version__}; numpy {np.__version__}; pandas {pd.__version__}; duckdb {duckdb.__version__}")
    print(f"machine: {psutil.cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.0f} GB")
    t = time.perf_counter()
    log = leanops.EventLog(generate(args.cases), source="generated")
    gc.collect()
    print(f"log: {log.n_cases:,} cases, {len(log):,} instances, {len(log.activities)} activities, "
          f"{len(log.resources)} resources (generated and built in {time.perf_counter() - t:.1f} s, not timed)")

    # warm-up on a small log, so that lazy imports are not charged to whichever runs first
    small = leanops.EventLog(generate(2000, seed=1), source="small")
    for fn in (getattr(leanops, "discover", None), leanops.value_stream, leanops.bottlenecks):
        if fn is not None:
            fn(small)

    # --- the reference
    discover = getattr(leanops, "discover", None)
    if discover is not None:
        ref_name = "leanops.discover (reference)"

        def reference(lg):
            return discover(lg)
    else:
        ref_name = "DuckDB DF count+wait query"
        print("NOTE: leanops.discover is not in this checkout (it is written on another branch); a DuckDB "
              "directly-follows count + wait group-by query over the same table stands in for it.")
        con = duckdb.connect()
        con.register("t", log.df[["case_id", "activity", "start", "end"]])

        def reference(lg):
            return con.execute(DFG_SQL).df()

    def both(lg):
        return leanops.value_stream(lg), leanops.bottlenecks(lg)

    # Interleaved rounds, each cold (nothing cached on the log): on a shared machine the
    # load drifts, and interleaving exposes the reference and leanops to the same drift.
    rounds = 3
    t_ref, t_both = [], []
    for _ in range(rounds):
        t_ref.append(timed(reference, log)[1])
        t_both.append(timed(both, log)[1])
    ratios = [b / r for b, r in zip(t_both, t_ref)]
    print(f"{ref_name:<34} " + "  ".join(f"{t:6.2f}" for t in t_ref) + f"   s (min {min(t_ref):.2f})")
    print(f"{'value_stream + bottlenecks':<34} " + "  ".join(f"{t:6.2f}" for t in t_both) + f"   s (min {min(t_both):.2f})")

    vs, t_vs = timed(leanops.value_stream, log)
    b, t_b = timed(leanops.bottlenecks, log)
    print(f"{'leanops.value_stream alone':<34} {t_vs:6.2f} s")
    print(f"{'leanops.bottlenecks alone':<34} {t_b:6.2f} s")
    log._cache.clear()
    gc.collect()
    tracemalloc.start()
    both(log)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(f"peak memory of value_stream + bottlenecks: +{mb(peak)} (tracemalloc)")
    print(f"ratio (value_stream + bottlenecks) / reference: min/min {min(t_both) / min(t_ref):.2f}x, "
          f"per round {', '.join(f'{r:.2f}x' for r in ratios)} (median {sorted(ratios)[rounds // 2]:.2f}x)   (target < 3x)")
    print(f"sanity: {vs!r}; top bottleneck {b.loc[0, 'activity']!r} (score {b.loc[0, 'score']:.3f}); "
          f"Little's law ratio {vs.littles_law_ratio:.4f}")


if __name__ == "__main__":
    main()
