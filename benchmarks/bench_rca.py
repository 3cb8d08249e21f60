"""Root-cause analysis at BPIC-2017 size: leanops.root_causes on a generated 30k-case log.

The log (generated here, with planted causes) has the shape of BPI Challenge 2017: ~30,000
loan applications, ~20 activity instances each, ~150 resources, case attributes (loan
goal, application type, requested amount, credit score). Planted: applications over
20,000 get an extra "W_Assess risk" step; "Home improvement" loans repeat "W_Validate
application" more often; the low-priority class waits longer everywhere. (User_17 is slow
at "W_Call after offers", but each of the 150 users handles under 1 % of the cases, below
the default ``min_support`` of 2 %, so it is not expected among the causes.)

In the same run it times, as references:
* a one-hot scikit-learn decision tree (depth 3) on the same features (the 30 most
  frequent values of each text feature): the approach of pm4py's root-cause tutorials,
  which gives no effect sizes, CIs or p-values;
* a plain "mean duration per attribute value" breakdown (pandas groupby): the dashboard
  view, with no statistics.

It prints times, ratios, the top causes (to check the planted ones are found) and peak
memory (ru_maxrss of this process).

Usage: python benchmarks/bench_rca.py [N_CASES]
"""

from __future__ import annotations

import resource
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import leanops  # noqa: E402
from leanops.rca import features, root_causes  # noqa: E402

GOALS = ["Car", "Home improvement", "Existing loan takeover", "Other, see explanation", "Remaining debt home",
         "Not speficied", "Unknown", "Caravan / Camper", "Tax payments", "Extra spending limit", "Motorcycle",
         "Boat", "Business goal", "Debt restructuring"]
STEPS = [  # activity, mean minutes, probability (None: planted rule)
    ("A_Create Application", 2, 1.0), ("A_Submitted", 1, 0.6), ("W_Handle leads", 20, 0.55),
    ("W_Complete application", 45, 1.0), ("A_Concept", 3, 1.0), ("A_Accepted", 5, 0.9),
    ("O_Create Offer", 10, 0.9), ("O_Sent (mail and online)", 2, 0.9), ("W_Call after offers", 30, 0.85),
    ("W_Assess risk", 90, None), ("A_Complete", 5, 0.8), ("O_Returned", 3, 0.6),
    ("W_Validate application", 40, 0.65), ("A_Validating", 4, 0.65), ("A_Incomplete", 4, 0.3),
    ("W_Handle incomplete files", 35, 0.3), ("O_Accepted", 3, 0.4), ("A_Pending", 2, 0.4),
    ("A_Denied", 2, 0.12), ("O_Cancelled", 2, 0.3), ("A_Cancelled", 2, 0.3),
]


def make_log(n_cases: int, seed: int = 2017) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    goal = rng.choice(GOALS, n_cases, p=np.r_[0.3, 0.2, np.full(12, 0.5 / 12)])
    app_type = rng.choice(["New credit", "Limit raise"], n_cases, p=[0.9, 0.1])
    amount = np.round(rng.lognormal(np.log(12000), 0.7, n_cases), -2)
    score = np.where(rng.random(n_cases) < 0.4, 0, rng.integers(500, 1100, n_cases))
    prio = rng.choice(["high", "normal", "low"], n_cases, p=[0.2, 0.6, 0.2])
    arrival = np.sort(rng.uniform(0, 395 * 86400, n_cases))
    rows_case, rows_act, rows_mean, rows_rep = [], [], [], []
    for k, (act, mean, p) in enumerate(STEPS):
        occurs = (amount >= 20000) if p is None else (rng.random(n_cases) < p)
        reps = np.ones(n_cases, dtype=np.int64)
        if act == "W_Validate application":
            reps += rng.geometric(np.where(goal == "Home improvement", 0.35, 0.8)) - 1
        if act == "W_Complete application":
            reps += rng.geometric(0.7, n_cases) - 1
        idx = np.flatnonzero(occurs)
        rows_case.append(np.repeat(idx, reps[idx]))
        rows_act.append(np.full(reps[idx].sum(), k))
        rows_mean.append(np.full(reps[idx].sum(), mean, dtype=float))
    case = np.concatenate(rows_case)
    act = np.concatenate(rows_act)
    mean = np.concatenate(rows_mean)
    order = np.lexsort((act, case))
    case, act, mean = case[order], act[order], mean[order]
    n = len(case)
    res_id = rng.integers(0, 150, n)
    service = rng.lognormal(np.log(mean * 60), 0.5)
    service = np.where((res_id == 17) & (act == 8), service * 4, service)  # slow user_17 at W_Call after offers
    wait_scale = np.select([prio[case] == "low", prio[case] == "normal"], [4 * 3600, 1800], 900)
    wait = rng.exponential(wait_scale)
    # cumulative times per case
    step_total = wait + service
    csum = np.cumsum(step_total)
    first = np.r_[True, case[1:] != case[:-1]]
    base = np.maximum.accumulate(np.where(first, np.arange(n), 0))
    offset = csum - csum[base] + step_total[base]
    end_s = arrival[case] + offset
    start_s = end_s - service
    t0 = pd.Timestamp("2016-01-01", tz="UTC")
    return pd.DataFrame({
        "case_id": "Application_" + case.astype(str),
        "activity": np.array([s[0] for s in STEPS])[act],
        "start_time": t0 + pd.to_timedelta(start_s, unit="s"),
        "end_time": t0 + pd.to_timedelta(end_s, unit="s"),
        "resource": "User_" + res_id.astype(str),
        "LoanGoal": goal[case], "ApplicationType": app_type[case], "RequestedAmount": amount[case],
        "CreditScore": score[case], "Priority": prio[case],
    })


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    n_cases = int(sys.argv[1]) if len(sys.argv) > 1 else 30000
    t = time.perf_counter()
    df = make_log(n_cases)
    log = leanops.from_frame(df)
    print(f"log: {log.n_cases:,} cases, {len(log):,} activity instances, {len(log.resources)} resources "
          f"(generated and read in {time.perf_counter() - t:.1f} s)")
    mem0 = peak_mb()

    t = time.perf_counter()
    table = features(log)
    t_feat = time.perf_counter() - t
    t = time.perf_counter()
    rc = root_causes(log, target="case_duration", feature_table=table, n_boot=200, seed=0)
    t_rc = time.perf_counter() - t
    t = time.perf_counter()
    rc_full = root_causes(log, target="case_duration", n_boot=200, seed=0)
    t_full = time.perf_counter() - t
    assert [c.to_dict() for c in rc_full.causes] == [c.to_dict() for c in rc.causes]
    mem_rc = peak_mb()

    # reference 1: a one-hot decision tree on the same features (pm4py tutorial style)
    from sklearn.tree import DecisionTreeRegressor

    t = time.perf_counter()
    y = leanops.rca.target_values(log, target="case_duration").values.to_numpy()
    obj = [c for c in table.columns if table[c].dtype == object]
    top = {c: table[c].where(table[c].isin(table[c].value_counts().index[:30]), "other") for c in obj}
    X = pd.get_dummies(table.assign(**top), columns=obj, dtype=np.float32)
    DecisionTreeRegressor(max_depth=3, min_samples_leaf=int(0.02 * len(X))).fit(X.fillna(-1).to_numpy(), y)
    t_tree = time.perf_counter() - t
    # reference 2: mean duration per attribute value (a dashboard breakdown, no statistics)
    t = time.perf_counter()
    dur = pd.Series(y, index=table.index)
    for c in ["LoanGoal", "ApplicationType", "Priority"]:
        dur.groupby(table[c]).agg(["mean", "size"])
    t_group = time.perf_counter() - t

    print(f"leanops.rca.features:            {t_feat:7.2f} s  ({table.shape[1]} feature columns)")
    print(f"leanops.root_causes (table given): {t_rc:5.2f} s  ({rc.n_tested} conditions tested, n_boot=200)")
    print(f"leanops.root_causes (end to end): {t_full:6.2f} s  {'OK' if t_full < 30 else 'OVER'} the 30 s budget")
    print(f"reference sklearn tree (one-hot):  {t_tree:5.2f} s  -> ratio root_causes/tree = {t_full / t_tree:.1f}x")
    print(f"reference groupby breakdown:       {t_group:5.2f} s  -> ratio root_causes/groupby = {t_full / max(t_group, 1e-9):.0f}x")
    t = time.perf_counter()
    wc = leanops.rca.waiting_causes(log, calendar="24/7")
    t_wait = time.perf_counter() - t
    t = time.perf_counter()
    leanops.rca.rules(log, feature_table=table)
    t_rules = time.perf_counter() - t
    print(f"leanops.rca.waiting_causes:      {t_wait:7.2f} s  ({len(wc.instances):,} waiting instances)")
    print(f"leanops.rca.rules (depth 3):     {t_rules:7.2f} s")
    print(f"peak memory: {peak_mb():.0f} MB (after reading the log: {mem0:.0f} MB; after root_causes: {mem_rc:.0f} MB)")
    print("top causes:")
    for c in rc.causes[:8]:
        print(f"  {c.rank}. [{c.category}] {c.sentence}")


if __name__ == "__main__":
    main()
