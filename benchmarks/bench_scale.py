"""Scale: discover + bottlenecks on generated logs of 1M, 7.5M and 50M events.

Usage::

    python benchmarks/bench_scale.py            # 1 and 7.5 (million events)
    python benchmarks/bench_scale.py 1 7.5 50   # sizes in millions; 50M needs ~3 GB of disk
    python benchmarks/bench_scale.py --no-dask --no-pm4py 50

Each size is generated once as case-partitioned canonical Parquet (about a million
events per partition, every case in one file), then every measurement runs in its own
subprocess so that its peak memory (ru_maxrss) is its own:

* leanops, DuckDB out of core: ``discover(path)`` + ``bottlenecks(path)``;
* leanops, pandas in memory (where it fits: up to 7.5M): ``read`` then the same two calls;
* pm4py (where it fits: up to 7.5M): read the Parquet into pandas, then the frequency and
  performance DFG (``discover_dfg`` + ``discover_performance_dfg``), the nearest pm4py has
  to a process map; it has no bottleneck ranking;
* at 7.5M, Dask: a ``LocalCluster`` of 2 single-threaded workers against local DuckDB for
  ``discover`` (the part the Dask engine runs), printed as is: on two shared cores no
  speed-up is expected.

Per-million-event time shows whether cost grows linearly with the log.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
PER_PART = 1_000_000
ACTS = ["Register", "Check", "Triage", "Assess", "Approve", "Reject", "Rework", "Notify", "Archive", "Close",
        "Escalate", "Review"]


def generate(n_events: int, out: Path, seed: int = 7) -> Path:
    """Case-partitioned canonical Parquet with ~n_events instances (10 per case on average)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if out.exists() and (out / "_done").exists():
        return out
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    n_parts = max(1, round(n_events / PER_PART))
    year = 365 * 86400
    t0 = 1_704_067_200  # 2024-01-01
    res_names = np.array([f"clerk_{i}" for i in range(40)] + [f"expert_{i}" for i in range(12)] + [f"bot_{i}" for i in range(4)])
    for k in range(n_parts):
        m = n_events // n_parts + (1 if k < n_events % n_parts else 0)
        n_cases = max(1, m // 10)
        lens = np.full(n_cases, m // n_cases)
        lens[: m - lens.sum()] += 1
        case = np.repeat(np.arange(n_cases), lens)
        pos = np.arange(m) - np.repeat(np.cumsum(lens) - lens, lens)
        # activity: a main path with random detours (rework, escalation, review)
        base = np.array([0, 1, 2, 3, 4, 7, 8, 9])
        act = base[np.minimum(pos, len(base) - 1)]
        detour = rng.random(m) < 0.25
        act = np.where(detour & (pos > 0), rng.choice([5, 6, 10, 11, 1, 3], size=m), act)
        act = np.where(pos == 0, 0, act)
        arrive = t0 + rng.integers(0, year, n_cases)
        wait = rng.exponential(3600.0, m).astype(np.int64) * (pos > 0)
        svc = rng.exponential(900.0, m).astype(np.int64) + 30
        step = wait + svc
        first = np.cumsum(lens) - lens
        cs = np.cumsum(step)
        end_off = cs - np.repeat(cs[first] - step[first], lens)  # running time within each case
        end = np.repeat(arrive, lens) + end_off
        start = end - svc
        res = np.where(act < 8, rng.integers(0, 40, m), np.where(act < 10, 52 + rng.integers(0, 4, m), 40 + rng.integers(0, 12, m)))
        cid = np.char.add(f"c{k:03d}_", case.astype(str))
        # canonical order within the partition: case id (as text), then start, then end
        order = np.lexsort((end, start, cid))
        table = pa.table({
            "case_id": pa.array(cid[order]),
            "activity": pa.DictionaryArray.from_arrays(pa.array(act[order].astype(np.int32)), pa.array(ACTS)),
            "start": pa.array(start[order] * 1_000_000_000, type=pa.timestamp("ns", tz="UTC")),
            "end": pa.array(end[order] * 1_000_000_000, type=pa.timestamp("ns", tz="UTC")),
            "resource": pa.array(res_names[res[order]]),
        })
        meta = {"format": 1, "canonical": True, "partitions": n_parts, "partition": k, "split_by_case": True,
                "tz": "UTC", "source": "bench_scale", "quality": {"rows_read": m, "rows_kept": m}}
        table = table.replace_schema_metadata({b"leanops": json.dumps(meta).encode()})
        pq.write_table(table, out / f"part-{k:05d}.parquet", row_group_size=PER_PART, compression="zstd")
    (out / "_done").write_text("ok")
    return out


# ----------------------------------------------------------- one measurement
def _child(kind: str, path: str) -> None:
    import resource
    import warnings

    warnings.simplefilter("ignore")
    import leanops  # imports are not timed

    if kind == "pm4py":
        import pm4py  # noqa: F401
    t = time.perf_counter()
    extra: dict = {}
    if kind == "duckdb":
        g = leanops.discover(path)
        t1 = time.perf_counter()
        b = leanops.bottlenecks(path)
        extra = {"discover_s": t1 - t, "bottlenecks_s": time.perf_counter() - t1, "edges": len(g.edges),
                 "cases": g.n_cases, "top": str(b["activity"].iloc[0])}
    elif kind == "pandas":
        log = leanops.read(path)
        t1 = time.perf_counter()
        g = leanops.discover(log)
        b = leanops.bottlenecks(log)
        extra = {"read_s": t1 - t, "edges": len(g.edges), "top": str(b["activity"].iloc[0])}
    elif kind == "duckdb_discover":
        g = leanops.discover(path)
        extra = {"edges": len(g.edges), "wait_sum": float((g.edges["wait_mean_s"] * g.edges["count"]).sum())}
    elif kind == "dask_discover":
        from distributed import Client, LocalCluster

        cl = LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None)
        c = Client(cl)
        t = time.perf_counter()  # cluster start-up is not counted
        g = leanops.discover(path, engine="dask", scheduler=cl.scheduler_address)
        extra = {"edges": len(g.edges), "wait_sum": float((g.edges["wait_mean_s"] * g.edges["count"]).sum())}
        el = time.perf_counter() - t
        c.close()
        cl.close()
        print(json.dumps({"s": el, "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                          "note": "client process only; workers separate", **extra}))
        return
    elif kind == "pm4py":
        import pandas as pd
        import pm4py

        df = pd.read_parquet(path)
        df = df.rename(columns={"case_id": "case:concept:name", "activity": "concept:name", "end": "time:timestamp",
                                "start": "start_timestamp", "resource": "org:resource"})
        df["concept:name"] = df["concept:name"].astype(str)
        t1 = time.perf_counter()
        pm4py.discover_dfg(df)
        pm4py.discover_performance_dfg(df)
        extra = {"read_s": t1 - t, "dfg_s": time.perf_counter() - t1}
    print(json.dumps({"s": time.perf_counter() - t, "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, **extra}))


def measure(kind: str, path: Path, timeout: float = 3600) -> dict:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    r = subprocess.run([sys.executable, __file__, "--child", kind, str(path)], capture_output=True, text=True,
                       env=env, timeout=timeout)
    if r.returncode != 0:
        return {"error": (r.stderr.strip().splitlines() or ["?"])[-1][:200]}
    return json.loads(r.stdout.strip().splitlines()[-1])


def main(argv: list[str]) -> None:
    if argv[:1] == ["--child"]:
        _child(argv[1], argv[2])
        return
    no_dask = "--no-dask" in argv
    no_pm4py = "--no-pm4py" in argv
    sizes = [float(a) for a in argv if not a.startswith("--")] or [1.0, 7.5]
    work = Path(os.environ.get("LEANOPS_BENCH_DIR", tempfile.gettempdir())) / "leanops_bench_scale"
    print(f"bench_scale: sizes {sizes} M events, data in {work}, {os.cpu_count()} cores")
    rows = []
    for m in sizes:
        n = int(m * 1_000_000)
        t = time.perf_counter()
        path = generate(n, work / f"log_{n}")
        print(f"\n== {m:g}M events ({len(list(path.glob('*.parquet')))} partitions; generated in {time.perf_counter() - t:.1f} s)")
        r = measure("duckdb", path)
        if "error" in r:
            print(f"  leanops duckdb: FAILED {r['error']}")
            continue
        per_m = r["s"] / m
        print(f"  leanops (DuckDB, out of core) discover+bottlenecks: {r['s']:.1f} s "
              f"(discover {r['discover_s']:.1f} s, bottlenecks {r['bottlenecks_s']:.1f} s), "
              f"peak {r['rss_mb']:.0f} MB, {per_m:.2f} s per million events")
        rows.append((m, r["s"], per_m, r["rss_mb"]))
        if m <= 7.5:
            q = measure("pandas", path)
            if "error" in q:
                print(f"  leanops pandas: FAILED {q['error']}")
            else:
                print(f"  leanops (pandas, in memory: read {q['read_s']:.1f} s + discover+bottlenecks "
                      f"{q['s'] - q['read_s']:.1f} s): {q['s']:.1f} s, peak {q['rss_mb']:.0f} MB; same top bottleneck: "
                      f"{q['top'] == r['top']}")
        if not no_pm4py and m <= 7.5:
            p = measure("pm4py", path)
            if "error" in p:
                print(f"  pm4py: FAILED {p['error']}")
            else:
                print(f"  pm4py (read {p['read_s']:.1f} s + DFG freq+perf {p['dfg_s']:.1f} s): {p['s']:.1f} s, "
                      f"peak {p['rss_mb']:.0f} MB; leanops/pm4py time {r['s'] / p['s']:.2f}x, "
                      f"memory {r['rss_mb'] / p['rss_mb']:.2f}x")
        if not no_dask and m == 7.5:
            loc = measure("duckdb_discover", path)
            dk = measure("dask_discover", path)
            if "error" in dk or "error" in loc:
                print(f"  dask vs local: FAILED {dk.get('error') or loc.get('error')}")
            else:
                same = loc["edges"] == dk["edges"] and abs(loc["wait_sum"] - dk["wait_sum"]) <= 1e-9 * abs(loc["wait_sum"])
                print(f"  discover, local DuckDB: {loc['s']:.1f} s (peak {loc['rss_mb']:.0f} MB); "
                      f"Dask LocalCluster 2 workers: {dk['s']:.1f} s (client peak {dk['rss_mb']:.0f} MB); "
                      f"dask/local {dk['s'] / loc['s']:.2f}x; same result: {same}")
    if rows:
        print("\nsize_M  time_s  s_per_M  peak_MB")
        for m, s, pm, mb in rows:
            print(f"{m:6g}  {s:6.1f}  {pm:7.2f}  {mb:7.0f}")


if __name__ == "__main__":
    main(sys.argv[1:])
