"""Benchmark: process-map discovery (counts + wait mean/median/p90 per edge).

Compares, in the same run and on the same generated log:

* ``leanops.discover(log)`` on an already-built EventLog (cold: nothing cached),
* ``pm4py.discover_performance_dfg`` on its own formatted frame (``log.to_pm4py()``,
  built outside the timer),
* a hand-written DuckDB window + group-by query over the same canonical table,

checks that the three agree, and prints the ratios, the peak memory of each step, and
the time to lay out and render a 100-activity map to SVG.

Usage::

    python benchmarks/bench_discover.py                 # 1,000,000 cases (~7.5M instances)
    python benchmarks/bench_discover.py --cases 100000  # quick run
    LEANOPS_BENCH_CASES=100000 python benchmarks/bench_discover.py
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import tempfile
import time
import tracemalloc
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import leanops  # noqa: E402
from leanops.mining import discover  # noqa: E402
from _common import DFG_SQL, T0, PeakRSS, generate, mb  # noqa: E402



def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cases", type=int, default=int(os.environ.get("LEANOPS_BENCH_CASES", 1_000_000)))
    ap.add_argument("--skip-pm4py", action="store_true", help="Skip the pm4py reference (slow).")
    args = ap.parse_args()

    import duckdb
    import psutil

    print(f"leanops {leanops.__version__}; numpy {np.__version__}; pandas {pd.__version__}; duckdb {duckdb.__version__}")
    print(f"machine: {psutil.cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.0f} GB")
    t = time.perf_counter()
    df = generate(args.cases)
    log = leanops.EventLog(df, source="generated")
    del df
    gc.collect()
    print(f"log: {log.n_cases:,} cases, {len(log):,} instances, 10 activities (generated and built in {time.perf_counter() - t:.1f} s, not timed)")

    # --- leanops (cold: nothing is cached on the log, the per-row arrays are built inside the timer)
    t = time.perf_counter()
    g = discover(log)
    t_lo = time.perf_counter() - t
    t = time.perf_counter()
    discover(log)
    t_lo_warm = time.perf_counter() - t
    log._cache.clear()  # a cold run again, measured by tracemalloc (numpy and pandas report to it)
    tracemalloc.start()
    discover(log)
    peak_lo = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(f"leanops.discover            {t_lo:7.2f} s   peak +{mb(peak_lo)} (tracemalloc)   ({len(g.edges)} edges; re-run on the same log {t_lo_warm:.2f} s)")

    # --- DuckDB over the same canonical table (Arrow-backed)
    canon = log.df[["case_id", "activity", "start", "end"]]
    con = duckdb.connect()
    con.register("t", canon)
    with PeakRSS() as mem_dd:
        t = time.perf_counter()
        ref = con.execute(DFG_SQL).df()
        t_dd = time.perf_counter() - t
    threads = con.execute("select current_setting('threads')").fetchone()[0]
    print(f"DuckDB window + group-by    {t_dd:7.2f} s   peak +{mb(mem_dd.peak)} (RSS)   ({len(ref)} edges, {threads} threads)")
    con.close()

    ours = g.edges.set_index(["source", "target"])
    ref = ref.assign(src=ref["src"].astype(str), tgt=ref["tgt"].astype(str)).set_index(["src", "tgt"])
    ref.index.names = ["source", "target"]
    j = ours.join(ref, how="outer")
    assert j["n"].notna().all() and j["count"].notna().all(), "edge sets differ"
    assert (j["count"] == j["n"]).all(), "edge counts differ from DuckDB"
    assert np.allclose(j["wait_mean_s"], j["mean_ns"] / 1e9, rtol=1e-9, atol=1e-6)
    assert np.allclose(j["wait_median_s"], j["median_ns"] / 1e9, rtol=1e-9, atol=1e-6)
    assert np.allclose(j["wait_p90_s"], j["p90_ns"] / 1e9, rtol=1e-9, atol=1e-6)
    print("agreement with DuckDB: counts, mean, median and p90 identical")
    del ref, j, canon
    gc.collect()

    # --- pm4py
    t_pm = None
    if not args.skip_pm4py:
        sys._pm4py_welcome_shown = True  # the benchmark is __main__: skip pm4py's banner
        import pm4py

        pm_df = log.to_pm4py()[["case:concept:name", "concept:name", "time:timestamp", "start_timestamp"]]
        gc.collect()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with PeakRSS() as mem_pm:
                t = time.perf_counter()
                perf, sa, ea = pm4py.discover_performance_dfg(pm_df)
                t_pm = time.perf_counter() - t
        print(f"pm4py.discover_performance_dfg {t_pm:4.2f} s   peak +{mb(mem_pm.peak)} (RSS)   ({len(perf)} edges)")
        assert set(perf) == set(zip(g.edges["source"], g.edges["target"])), "edge sets differ from pm4py"
        fdfg = pm4py.discover_dfg(pm_df)[0]
        assert all(fdfg[(r.source, r.target)] == r.count for r in g.edges.itertuples(index=False)), "counts differ"
        # pm4py does not clip overlaps (parallel work gives it negative waits); leanops does.
        diff = max(abs(perf[(r.source, r.target)]["mean"] - r.wait_mean_s) for r in g.edges.itertuples(index=False))
        print(f"agreement with pm4py: same edges and counts; mean waits differ by <= {diff:.1f} s because pm4py keeps negative waits of overlapping instances")
        del pm_df, perf
        gc.collect()

    # --- layout: a 100-activity map
    small = leanops.EventLog(generate(20_000, n_acts=100, seed=7))
    g100 = discover(small)
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        g100.render(Path(tmp) / "map100.svg", max_nodes=100)
        t_r100 = time.perf_counter() - t
        t = time.perf_counter()
        g100.render(Path(tmp) / "map100_default.svg")
        t_r100d = time.perf_counter() - t
    from leanops.mining.render import find_dot

    print(
        f"render 100-activity map      {t_r100:7.2f} s   ({len(g100.nodes)} activities, {len(g100.display(max_nodes=100).edges)} paths drawn, "
        f"{Path(find_dot()).name}); default (simplified to 60) {t_r100d:.2f} s"
    )

    print("\nratios (same run):")
    if t_pm is not None:
        print(f"  pm4py / leanops  = {t_pm / t_lo:5.1f}x   (target >= 8x)")
    print(f"  leanops / DuckDB = {t_lo / t_dd:5.2f}x   (target <= 1.5x)")
    import resource

    print(f"process peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10:,.0f} MB")


if __name__ == "__main__":
    main()
