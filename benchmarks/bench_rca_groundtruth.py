"""Root causes on the planted process of tests/groundtruth_rca.py, over many seeds.

Per seed (and per seed with an export window cutting cases at both ends) it prints the rank
of every planted driver among the causes, the resources blamed (only the slow one may be),
whether a decoy, the variant index or the counter appears anywhere, and the context found.
Then, for the weak-step process (an attribute whose only effect is a 20-minute step, drowned
in an 8-hour customer reply), whether that driver is found through its step.

Usage: python benchmarks/bench_rca_groundtruth.py [N_SEEDS] [N_CASES]
"""

from __future__ import annotations

import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import leanops  # noqa: E402
from groundtruth import generate  # noqa: E402
from leanops._format import duration  # noqa: E402
from groundtruth_rca import PLANTED, SLOW, rca_log, weak_step_process  # noqa: E402

NEVER = ("region", "case:variant-index", "ticket")


def run(seed: int, n_cases: int, window: bool) -> bool:
    log = leanops.from_frame(rca_log(n_cases, seed, window=window))
    t = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rc = leanops.root_causes(log, n_boot=50, seed=0)
    dt = time.perf_counter() - t
    pairs = [(c.feature, c.value) for c in rc.causes]
    ranks = [pairs.index(p) + 1 if p in pairs else None for p in PLANTED]
    blamed = sorted({c.value for c in rc.causes if c.kind == "resource"})
    shown = [c.feature for c in rc.causes + rc.context] + [m["feature"] for c in rc.causes for m in c.mediators]
    leaks = sorted(set(shown) & set(NEVER))
    ok = all(r is not None and r <= 5 for r in ranks) and blamed == [SLOW[1]] and not leaks
    ok &= ranks[2] is not None and ranks[2] <= 3
    ctx = ", ".join(c.condition for c in rc.context)
    print(f"seed {seed:>3}{' window' if window else '       '}  ranks {ranks}  blamed {blamed}  leaks {leaks or '-'}  "
          f"excluded {rc.excluded_cases}  {dt:.1f} s  {'OK' if ok else 'FAIL'}\n      context: {ctx}")
    return ok


def main() -> None:
    n_seeds = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    n_cases = int(sys.argv[2]) if len(sys.argv) > 2 else 1200
    print("planted:", ", ".join(f"{f} = {v}" for f, v in PLANTED), "(ranks in that order)")
    results = [run(seed, n_cases, window) for window in (False, True) for seed in range(101, 101 + n_seeds)]
    print(f"planted drivers in the top 5, only {SLOW[1]} blamed, no leak: {sum(results)}/{len(results)} runs")
    weak = 0
    for seed in range(201, 201 + n_seeds):
        log = leanops.from_frame(generate(weak_step_process(), n_cases=400, seed=seed).log)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            rc = leanops.root_causes(log, n_boot=30)
        hit = [c for c in rc.causes if (c.feature, c.value) == ("docs", "incomplete")]
        others = [c.condition for c in rc.causes if (c.feature, c.value) != ("docs", "incomplete")]
        weak += bool(hit) and not others
        eff = duration(hit[0].effect) if hit else "-"
        print(f"weak step seed {seed}: found {bool(hit)} (effect {eff}, through "
              f"{hit[0].mediators[0]['value'] if hit and hit[0].mediators else '-'}), others {others or '-'}")
    print(f"weak-step driver found (and nothing else): {weak}/{n_seeds} seeds")


if __name__ == "__main__":
    main()
