"""Benchmark of leanops.simulate.compare: serial, 2 local processes, a 2-worker Dask cluster.

2 scenarios x 10 replications x 5,000 cases (plus the baseline's 10 replications, which
every comparison runs: 30 runs of 5,000 cases in all), on the 5-activity model of
bench_simulate.py. Prints the wall time with 1 job and with 2 jobs and the speed-up
(target >= 1.7x on 2 cores), the time on a 2-worker Dask LocalCluster (without and with
starting it), checks that all three give identical results, and prints peak memory.

Run: PYTHONPATH=. python benchmarks/bench_scenarios.py [--quick]
"""

from __future__ import annotations

import os
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_simulate import bench_model  # noqa: E402

from leanops.simulate import compare  # noqa: E402

QUICK = "--quick" in sys.argv
CASES = 1_000 if QUICK else 5_000
REPS = 10
SCENARIOS = [
    {"name": "one more checker", "changes": [{"add_resources": {"activity": "Check", "count": 1}}]},
    {"name": "faster approval, no rework loop",
     "changes": [{"scale_duration": {"activity": "Approve", "factor": 0.7}},
                 {"set_routing": {"from": "Check", "to": {"Approve": 0.9, "Rework": 0.1}}}]},
]


def timed(**kw):
    t = time.perf_counter()
    res = compare(bench_model(), SCENARIOS, replications=REPS, cases=CASES, seed=1, **kw)
    return time.perf_counter() - t, res


def _burn(n: int) -> float:
    x = 0
    for i in range(n):
        x += i
    return float(x)


def machine_speedup() -> float:
    """The 2-process speed-up this (shared) machine gives right now on a pure-Python loop:
    the ceiling for any 2-job run, measured in the same run."""
    import multiprocessing as mp

    n = 6_000_000
    t = time.perf_counter()
    _burn(n), _burn(n)
    t_serial = time.perf_counter() - t
    with mp.get_context("fork").Pool(2) as pool:
        pool.map(_burn, [1000, 1000])
        t = time.perf_counter()
        pool.map(_burn, [n, n])
        t_par = time.perf_counter() - t
    return t_serial / t_par


def main() -> None:
    print(f"compare: baseline + {len(SCENARIOS)} scenarios x {REPS} replications x {CASES:,} cases "
          f"({(1 + len(SCENARIOS)) * REPS} runs), {os.cpu_count()} cores")
    compare(bench_model(), [], replications=1, cases=200, seed=0)  # warm imports
    ceiling = machine_speedup()
    t1, r1 = timed(jobs=1)
    print(f"   1 job   : {t1:7.2f}s")
    t2, r2 = timed(jobs=2)
    print(f"   2 jobs  : {t2:7.2f}s   speed-up {t1 / t2:.2f}x  (target >= 1.7x on 2 cores)")
    print(f"   (the machine's own 2-process speed-up on a CPU loop just before: {ceiling:.2f}x; "
          "other jobs on a shared machine lower it)")
    same = r1.to_dict() == r2.to_dict()
    from dask.distributed import Client, LocalCluster

    t = time.perf_counter()
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        t_start = time.perf_counter() - t
        client.run(lambda: __import__("leanops.simulate.experiments"))
        td, rd = timed(scheduler=client)
    print(f"   Dask 2-worker LocalCluster: {td:7.2f}s   speed-up {t1 / td:.2f}x  "
          f"(+ {t_start:.1f}s to start the cluster)")
    same = same and r1.to_dict() == rd.to_dict()
    print(f"   identical results (serial, 2 jobs, Dask): {same}")
    d = r1.scenarios[0]["delta"]["cycle_time_mean_s"]
    print(f"   e.g. '{r1.scenarios[0]['name']}': mean cycle time {d['relative']:+.1%} "
          f"[{d['ci_low']:,.0f}s, {d['ci_high']:,.0f}s] (Welch), "
          f"paired [{d['ci_low_paired']:,.0f}s, {d['ci_high_paired']:,.0f}s]")
    me = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    ch = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"   peak memory: this process {me:,.0f} MB, largest worker process {ch:,.0f} MB")


if __name__ == "__main__":
    main()
