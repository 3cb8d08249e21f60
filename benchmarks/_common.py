"""Shared pieces of the benchmarks: the generated large log, peak-memory sampling, and the
hand-written DuckDB directly-follows query used as a reference."""

from __future__ import annotations

import threading

import numpy as np
import pandas as pd

__all__ = ["T0", "generate", "PeakRSS", "mb", "DFG_SQL"]

T0 = pd.Timestamp("2024-01-01", tz="UTC").value


def generate(n_cases: int, n_acts: int = 10, seed: int = 42) -> pd.DataFrame:
    """A Markov-chain process (mean 7.5 instances per case) with exponential service times
    and waits, a few overlapping instances, and resources drawn from a pool per activity."""
    rng = np.random.default_rng(seed)
    trans = rng.dirichlet(np.full(n_acts, 0.3), size=n_acts)
    cum = np.cumsum(trans, axis=1)
    lens = rng.integers(5, 11, n_cases)
    max_len = int(lens.max())
    seq = np.empty((n_cases, max_len), dtype=np.int16)
    seq[:, 0] = rng.integers(0, min(3, n_acts), n_cases)
    for j in range(1, max_len):  # one vectorised step per position, not per row
        u = rng.random(n_cases)
        seq[:, j] = np.minimum((u[:, None] > cum[seq[:, j - 1]]).sum(axis=1), n_acts - 1)
    mask = np.arange(max_len)[None, :] < lens[:, None]
    acts = seq[mask]
    n = int(lens.sum())
    case = np.repeat(np.arange(n_cases), lens)
    svc = (rng.exponential(20 * 60, n) + 60).astype(np.int64)
    gap = rng.exponential(3 * 3600, n).astype(np.int64)
    gap[rng.random(n) < 0.05] = -60
    first = np.r_[True, case[1:] != case[:-1]]
    arrival = rng.integers(0, 365 * 86400, n_cases)
    step = np.r_[0, svc[:-1]] + gap
    step[first] = 0
    csum = np.cumsum(step)
    start = np.repeat(arrival, lens) + csum - np.repeat(csum[first], lens)
    end = start + svc
    pool_size = rng.integers(5, 25, n_acts)
    member = (rng.random(n) * pool_size[acts]).astype(np.int64)
    res_names = [f"team{a:02d}_{m:02d}" for a in range(n_acts) for m in range(int(pool_size.max()))]
    res_codes = acts.astype(np.int64) * int(pool_size.max()) + member
    ids = np.char.add("case-", case.astype(str))
    return pd.DataFrame(
        {
            "case_id": pd.array(ids, dtype="string[pyarrow]"),
            "activity": pd.Categorical.from_codes(acts, [f"Activity {i:02d}" for i in range(n_acts)]),
            "start": pd.to_datetime(T0 + start * 10**9, utc=True),
            "end": pd.to_datetime(T0 + end * 10**9, utc=True),
            "resource": pd.array(np.array(res_names, dtype=object)[res_codes], dtype="string[pyarrow]"),
        }
    )


class PeakRSS:
    """Peak resident memory above the level at entry, sampled every 5 ms."""

    def __init__(self) -> None:
        import psutil

        self._proc = psutil.Process()
        self.peak = 0

    def __enter__(self) -> "PeakRSS":
        self._base = self._proc.memory_info().rss
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._proc.memory_info().rss - self._base)
            self._stop.wait(0.005)

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._t.join()
        self.peak = max(self.peak, self._proc.memory_info().rss - self._base)


def mb(n: int) -> str:
    return f"{n / 2**20:,.0f} MB"


# The reference for discover: directly-follows pairs with count and mean/median/p90 wait
# (start of b minus end of a, clipped at 0), over the canonical table registered as ``t``.
DFG_SQL = """
WITH x AS (
  SELECT activity AS tgt,
         lag(activity) OVER w AS src,
         greatest(epoch_ns(coalesce(start, "end")) - epoch_ns(lag("end") OVER w), 0) AS wait_ns
  FROM t
  WINDOW w AS (PARTITION BY case_id ORDER BY coalesce(start, "end"), "end")
)
SELECT src, tgt, count(*) AS n, avg(wait_ns) AS mean_ns, median(wait_ns) AS median_ns,
       quantile_cont(wait_ns, 0.9) AS p90_ns
FROM x WHERE src IS NOT NULL GROUP BY src, tgt
"""
