"""Backtests on the bundled real logs: the 80/20 temporal split, simulated from the state at
the split, against persistence (the last N training cases replayed).

For each log: fit on the first 80% of cases (by first start), simulate the test period
from the process's state at its first arrival (the training cases open then continue and
hold their resources) with as many new cases as the test set, and score both the model and
persistence against the test log through the same cut-off (instances completed by the
test log's end). Lower is better; ratio = model / persistence (< 1: the model wins).
The model started empty (the old protocol) is shown beside it.

    PYTHONPATH=. python benchmarks/bench_backtest.py [--seeds 3]

Result (2 seeds, 2 shared cores; distances: EMDs in hours, 3-gram 0..1):

    log                  measure             state     empty   persist   ratio
    purchasing_example   cycle_time_emd    163.090   163.016   122.287    1.33
    purchasing_example   ngram_3             0.173     0.173     0.166    1.04
    purchasing_example   circadian_emd       0.874     0.853     1.133    0.77
                         (486 train, 122 test cases, 54 open at the split)
    bpic2012_w           cycle_time_emd     29.447    28.856    31.260    0.94
    bpic2012_w           ngram_3             0.096     0.095     0.105    0.91
    bpic2012_w           circadian_emd       5.054     5.046     7.295    0.69
                         (6893 train, 1723 test cases, 570 open at the split)
    production           cycle_time_emd     26.656    15.014    25.390    1.05
    production           ngram_3             0.424     0.407     0.363    1.17
    production           circadian_emd       2.256     2.332     3.673    0.61
                         (180 train, 45 test cases, 56 open at the split)
    model beats persistence on 5 of 9 measures

Short of the target (all 9): on purchasing and production the model's cycle times and
3-grams are further from the test period than replaying recent cases. Starting from the
state barely moves purchasing and bpic2012_w; on production it makes cycle times worse
(the fitted baseline already runs 1.45x long, see fit's trust statement, and 56 open
cases add load to 45 new ones), so the gap is the fitted model, not the start.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np

import leanops
from leanops import simulate

LOGS = ("purchasing_example", "bpic2012_w", "production")
MEASURES = ("cycle_time_emd", "ngram_3", "circadian_emd")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=3, help="simulation seeds averaged per log")
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    print(f"{'log':20s} {'measure':15s} {'state':>9s} {'empty':>9s} {'persist':>9s} {'ratio':>7s}")
    wins = total = 0
    for name in LOGS:
        t = time.perf_counter()
        log = leanops.datasets.load(name)
        s = simulate.split_by_time(log, train=0.8)
        model = simulate.fit(s.train, seed=0)
        st = simulate.current_state(s.train, model=model, at=s.cutoff)
        fr, em = [], []
        base = None
        for k in range(args.seeds):
            v = simulate.validate(model, s.test, train_log=s.train, seed=k, measures=MEASURES)
            fr.append(v.model)
            base = v.baseline
            em.append(simulate.validate(model, s.test, train_log=s.train, seed=k, measures=MEASURES,
                                        from_state=False).model)
        assert base is not None
        for m in MEASURES:
            a = float(np.mean([x[m] for x in fr]))
            e = float(np.mean([x[m] for x in em]))
            r = a / base[m] if base[m] > 0 else float("inf")
            wins += r < 1
            total += 1
            print(f"{name:20s} {m:15s} {a:9.3f} {e:9.3f} {base[m]:9.3f} {r:7.2f}")
        print(f"{'':20s} ({s.train.n_cases} train, {s.test.n_cases} test cases, {len(st.open)} open at the split; "
              f"{time.perf_counter() - t:.0f} s)")
    print(f"model beats persistence on {wins} of {total} measures")


if __name__ == "__main__":
    main()
