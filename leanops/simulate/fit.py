"""Discover a :class:`SimulationModel` from an event log."""

from __future__ import annotations

import math
import warnings
from typing import Any, Literal

import numpy as np
import pandas as pd

from .._validation import check_choice, check_positive, check_seed
from ..errors import InputError
from ..log import EventLog
from ._calendar import ALWAYS, WEEK, FastCalendar, _MONDAY0, from_calendar, normalize_intervals, tz_offset
from .distributions import Distribution, fit_distribution
from .model import END, START, Activity, Arrivals, CaseAttributes, Pool, Queue, Routing, Rule, SimulationModel

__all__ = ["fit"]

_CANON = ("case_id", "activity", "start", "end", "resource")
_MAX_ATTR_ROWS = 5000


def fit(
    log: EventLog,
    *,
    calendars: Literal["discover", "24/7"] = "discover",
    data_aware: bool = True,
    per_resource: bool = True,
    recency: float | None = None,
    delays: bool = True,
    min_samples: int = 20,
    queue: Queue | None = None,
    seed: int | np.random.Generator | None = 0,
) -> SimulationModel:
    """Discover a simulation model from ``log``.

    Parameters
    ----------
    log : EventLog
        With start times, or completion only (start times are then estimated).
    calendars : {"discover", "24/7"}
        Learn each pool's weekly working hours, or assume resources always work.
    data_aware : bool
        Let routing depend on case attributes where the data show it (e.g.
        ``amount >= 10000 -> Audit``), chosen by a likelihood-ratio test with a BIC penalty.
    per_resource : bool
        Fit separate durations for resources that are clearly faster or slower.
    recency : float, optional
        Half-life, as a share of the log's time span, for weighting recent cases more in
        the arrival rate and the routing probabilities. None weighs all cases equally.
    delays : bool
        Calibrate waiting that resource contention does not explain (a customer who has
        not replied, a batch, a resource busy elsewhere): the model is simulated over the
        log's period once, and each activity whose observed waits exceed the simulated
        ones gets a delay before it, shaped like its observed waits, making up the rest.
    min_samples : int
        Fewer observations than this give an empirical (or fixed) duration, with a warning.
    queue : Queue, optional
        The queue discipline; FIFO by default.
    seed : int, Generator or None
        For the subsampling in distribution fitting.

    Returns
    -------
    SimulationModel
        ``model.summary()`` reports what was discovered; ``model.notes`` lists the
        approximations.

    Examples
    --------
    >>> import leanops
    >>> from leanops import simulate
    >>> model = simulate.fit(leanops.datasets.load("purchasing_example"))
    >>> len(model.activities), model.arrivals.interarrival.mean > 0
    (21, True)
    """
    if not isinstance(log, EventLog):
        raise InputError(f"log must be a leanops.EventLog; got {type(log).__name__}. Read one with leanops.read(path).")
    check_choice("calendars", calendars, ("discover", "24/7"))
    if recency is not None:
        check_positive("recency", recency)
    if len(log) == 0:
        raise InputError("log has no activity instances; a simulation model needs at least one case.")
    rng = check_seed(seed)
    fit_seed = int(rng.integers(0, 2**31 - 1))
    notes: list[str] = []

    if not log.has_start_times or log.df["start"].isna().any():
        log, how = _with_start_times(log)
        notes.append(f"start times estimated ({how})")
    d = log.df
    tz = log.tz if isinstance(log.tz, str) and log.tz else "UTC"
    n = len(d)
    acts = [str(a) for a in d["activity"].cat.categories]
    act_code = d["activity"].cat.codes.to_numpy().astype(np.int64)
    used = np.bincount(act_code, minlength=len(acts)) > 0
    start = d["start"].to_numpy(dtype="datetime64[ns]").view(np.int64) / 1e9
    end = d["end"].to_numpy(dtype="datetime64[ns]").view(np.int64) / 1e9
    start = np.minimum(start, end)
    case = log.case_codes
    cstarts = log.case_starts
    first = np.zeros(n, dtype=bool)
    first[cstarts] = True
    last = np.zeros(n, dtype=bool)
    last[np.r_[cstarts[1:] - 1, n - 1]] = True
    arrival = np.minimum.reduceat(start, cstarts)
    span = float(max(arrival.max() - arrival.min(), 1.0))
    if recency is not None:
        half = recency * span
        cw = 0.5 ** ((arrival.max() - arrival) / half)
    else:
        cw = np.ones(log.n_cases)

    # -- case attributes ------------------------------------------------------------------
    attr_names, attr_frame = _case_attributes(log)
    if attr_names:
        rows = attr_frame[attr_names]
        if len(rows) > _MAX_ATTR_ROWS:
            # most recent cases first: they describe today's mix best
            rows = rows.iloc[-_MAX_ATTR_ROWS:]
        attr_rows = tuple(tuple(_plain(v) for v in r) for r in rows.itertuples(index=False, name=None))
        attributes = CaseAttributes(tuple(attr_names), attr_rows)
    else:
        attributes = CaseAttributes()

    # -- pools ----------------------------------------------------------------------------
    from .._pools import resource_pools

    res = d["resource"].to_numpy(dtype=object, na_value=None)
    res_pool = resource_pools(log)
    pool_members: dict[str, list[str]] = {}
    for r, p in res_pool.items():
        pool_members.setdefault(p, []).append(r)
    act_pool: dict[str, str | None] = {}
    for i, a in enumerate(acts):
        if not used[i]:
            continue
        rr = res[act_code == i]
        rr = [r for r in rr if r is not None]
        if not rr:
            act_pool[a] = None
            continue
        counts = pd.Series([res_pool[str(r)] for r in rr]).value_counts()
        act_pool[a] = str(counts.index[0])
        share = counts.iloc[0] / counts.sum()
        if share < 0.9:
            notes.append(f"{a}: {share:.0%} of instances by pool {counts.index[0]!r}; the others' share is served by it too")
    used_pools = sorted({p for p in act_pool.values() if p is not None})

    # -- calendars ------------------------------------------------------------------------
    cals: dict[str, tuple[tuple[tuple[int, int], ...], str]] = {}
    if calendars == "discover" and used_pools:
        s_ns = d["start"].to_numpy(dtype="datetime64[ns]").view(np.int64)
        e_ns = d["end"].to_numpy(dtype="datetime64[ns]").view(np.int64) - 1
        inst_pool = np.array([act_pool.get(a) for a in acts], dtype=object)[act_code]
        for p in used_pools:
            m = inst_pool == p
            iv = _discover_intervals(np.concatenate([s_ns[m], e_ns[m]]), tz)
            cals[p] = (iv, tz)
    else:
        cals = {p: (ALWAYS, tz) for p in used_pools}
    t_ref = pd.Timestamp(float(arrival.max()), unit="s", tz="UTC")
    fast = {p: FastCalendar(iv, tz_offset(ctz, t_ref)) for p, (iv, ctz) in cals.items()}

    # -- durations ------------------------------------------------------------------------
    dur = end - start
    for p, cal in fast.items():
        if cal.always:
            continue
        m = np.array([act_pool.get(acts[c]) == p for c in range(len(acts))])[act_code]
        if m.any():
            dur[m] = cal.working_seconds(start[m], end[m])
    dur = np.maximum(dur, 0.0)
    small: list[str] = []
    activities: list[Activity] = []
    for i, a in enumerate(acts):
        if not used[i]:
            continue
        m = act_code == i
        x = dur[m]
        dist = fit_distribution(x, min_samples=min_samples, seed=fit_seed)
        if len(x) < min_samples:
            small.append(f"{a} ({len(x)})")
        by_res: list[tuple[str, Distribution]] = []
        pool = act_pool[a]
        if per_resource and pool is not None and len(x) >= 2 * min_samples:
            by_res = _per_resource(x, res[m], pool_members[pool], dist, min_samples, fit_seed)
            if by_res:
                # the shared distribution describes the other members only
                special = {r for r, _ in by_res}
                others = np.array([r not in special for r in res[m]], dtype=bool)
                if others.sum() >= 1:
                    dist = fit_distribution(x[others], min_samples=min_samples, seed=fit_seed)
        activities.append(Activity(a, pool, dist, tuple(by_res)))
    if small:
        msg = (f"too few observations to fit a distribution for {len(small)} activities "
               f"({', '.join(small[:5])}{' …' if len(small) > 5 else ''}); using empirical or fixed durations")
        warnings.warn(msg, UserWarning, stacklevel=2)
        notes.append(msg)

    # -- routing --------------------------------------------------------------------------
    routing = _routing(acts, act_code, first, last, case, cw, attr_frame if attr_names else None,
                       attr_names if data_aware else [], notes)

    # -- arrivals -------------------------------------------------------------------------
    arrivals = _arrivals(np.sort(arrival), tz, cw[np.argsort(arrival)], recency, notes)

    pools = tuple(
        Pool(p, tuple(sorted(pool_members[p])), cals[p][0], cals[p][1]) for p in used_pools
    )
    for p in pools:
        notes.append(f"pool {p.name}: {p.size} members, hours {p.hours}")
    model = SimulationModel(
        activities=tuple(activities),
        routing=routing,
        pools=pools,
        arrivals=arrivals,
        attributes=attributes,
        queue=queue if queue is not None else Queue(),
        start=log.end_time,
        notes=tuple(notes),
    )
    if delays and log.n_cases >= 2:
        model = _calibrate_delays(model, log, acts, act_code, start, end, first, case, fit_seed, cw[case])
    return model


def _observed_waits(start: np.ndarray, end: np.ndarray, first: np.ndarray, case: np.ndarray) -> np.ndarray:
    """Start minus enablement (latest end of the case's earlier instances); 0 for the first."""
    cm = pd.Series(end).groupby(case, sort=False).cummax().to_numpy()
    enabled = np.r_[np.nan, cm[:-1]]
    w = np.where(first, 0.0, start - enabled)
    return np.maximum(np.nan_to_num(w, nan=0.0), 0.0)


def _sim_waits(model: SimulationModel, log: EventLog, seed: int) -> pd.Series:
    from .engine import run

    res = run(model, cases=log.n_cases, seed=seed, start=log.start_time)
    sd = res.log.df
    s_st = sd["start"].to_numpy(dtype="datetime64[ns]").view(np.int64) / 1e9
    s_en = sd["end"].to_numpy(dtype="datetime64[ns]").view(np.int64) / 1e9
    s_first = np.zeros(len(sd), dtype=bool)
    s_first[res.log.case_starts] = True
    s_w = _observed_waits(s_st, s_en, s_first, res.log.case_codes)
    keep = ~s_first
    return pd.Series(s_w[keep]).groupby(sd["activity"].astype(str).to_numpy()[keep]).mean()


def _weighted_empirical(x: np.ndarray, w: np.ndarray, n: int = 101) -> Distribution:
    if np.allclose(w, w[0]):
        return Distribution.empirical(x)
    o = np.argsort(x)
    x, w = x[o], w[o]
    cw = np.cumsum(w)
    cw = (cw - w / 2) / cw[-1]
    q = np.interp(np.linspace(0, 1, n), cw, x)
    return Distribution("empirical", (), tuple(float(v) for v in q))


def _calibrate_delays(model: SimulationModel, log: EventLog, acts: list[str], act_code: np.ndarray,
                      start: np.ndarray, end: np.ndarray, first: np.ndarray, case: np.ndarray,
                      seed: int, weights: np.ndarray, rounds: int = 3) -> SimulationModel:
    """Add per-activity delays until simulated mean waits match the observed ones.

    Each round simulates the log's period and moves every activity's delay scale by the
    remaining gap; the delay keeps the shape of the activity's observed waits.
    """
    import dataclasses

    obs = _observed_waits(start, end, first, case)
    shapes: dict[str, Distribution] = {}
    w_obs: dict[str, float] = {}
    for a in model.activities:
        m = (act_code == acts.index(a.name)) & ~first
        if m.sum() >= 1 and obs[m].mean() > 0:
            ww = weights[m]
            shapes[a.name] = _weighted_empirical(obs[m], ww)
            w_obs[a.name] = float((obs[m] * ww).sum() / ww.sum())
    if not shapes:
        return model
    scale = {a: 0.0 for a in shapes}
    current = model
    for _ in range(rounds):
        w_sim = _sim_waits(current, log, seed)
        changed = False
        for a, wo in w_obs.items():
            gap = (wo - float(w_sim.get(a, 0.0))) / wo
            if abs(gap) > 0.05 and not (scale[a] == 0.0 and gap < 0.05 + 60.0 / wo):
                scale[a] = max(0.0, scale[a] + gap)
                changed = True
        if not changed:
            break
        current = dataclasses.replace(current, activities=tuple(
            dataclasses.replace(x, delay=shapes[x.name].scaled(scale[x.name]) if scale.get(x.name, 0.0) > 0 else None)
            for x in model.activities
        ))
    added = [f"{a} (+{scale[a] * w_obs[a]:,.0f}s)" for a in shapes if scale[a] > 0]
    if not added:
        return model
    note = (f"delays calibrated for {len(added)} activities whose waits resources do not explain: "
            f"{', '.join(added[:6])}{' …' if len(added) > 6 else ''}")
    return dataclasses.replace(current, notes=model.notes + (note,))


def _discover_intervals(ns: np.ndarray, tz: str) -> tuple[tuple[int, int], ...]:
    """Weekly working hours from instants (start and end - 1ns) in whole-hour slots.

    A slot is working when it holds at least 5% of the count of a busy slot (the 90th
    percentile of non-empty slots) and at least 2 instants; a non-empty hour between two
    working hours of the same day is working too. Close to the whole week means 24/7.
    A low relative threshold keeps the quiet afternoons of a pool that clears its
    morning backlog fast.
    """
    if len(ns) == 0:
        return ALWAYS
    from ..calendar import _slot_counts

    counts = _slot_counts(ns, tz).astype(float)
    flat = counts.ravel()
    nz = flat[flat > 0]
    ref = float(np.quantile(nz, 0.9))
    working = (counts >= max(2.0, 0.05 * ref))
    if len(ns) < 100:
        working = counts > 0
    # an hour that is working on most working days is working on the others too, if used
    days_on = working.any(axis=1)
    if days_on.sum() >= 3:
        common = working[days_on].mean(axis=0) >= 0.6
        working |= common[None, :] & days_on[:, None] & (counts > 0)
    for day in range(7):
        idx = np.flatnonzero(working[day])
        if len(idx) > 1:
            gap = np.zeros(24, dtype=bool)
            gap[idx[0]: idx[-1] + 1] = True
            working[day] |= gap & (counts[day] > 0)
    if working.sum() >= 0.9 * 168:
        return ALWAYS
    iv = [(dd * 86400 + h * 3600, dd * 86400 + (h + 1) * 3600) for dd in range(7) for h in range(24) if working[dd, h]]
    return normalize_intervals(iv) or ALWAYS


def _plain(v: Any) -> Any:
    if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating,)):
        return float(v)
    if isinstance(v, (np.bool_, bool)):
        return bool(v)
    if isinstance(v, (int, float, str)):
        return v
    if isinstance(v, pd.Timestamp):
        return v.isoformat()
    return str(v)


def _case_attributes(log: EventLog) -> tuple[list[str], pd.DataFrame]:
    """Attributes constant within (almost) every case, one row per case in case order."""
    d = log.df
    cols = [c for c in d.columns if c not in _CANON]
    if not cols:
        return [], pd.DataFrame()
    cstarts = log.case_starts
    firsts = d.iloc[cstarts].reset_index(drop=True)
    keep = []
    codes = log.case_codes
    for c in cols:
        s = d[c]
        if pd.api.types.is_datetime64_any_dtype(s):
            continue
        nun = pd.Series(s.to_numpy(dtype=object)).groupby(codes).nunique(dropna=True)
        if (nun <= 1).mean() < 0.95:
            continue  # an event attribute, not a case attribute
        v = firsts[c]
        if v.isna().mean() > 0.5:
            continue
        if not pd.api.types.is_numeric_dtype(v) and v.nunique() > max(50, 0.5 * len(v)):
            continue  # identifiers are no use for routing or RCA
        keep.append(c)
    return keep, firsts[keep]


def _with_start_times(log: EventLog) -> tuple[EventLog, str]:
    """Fill missing start times: leanops.estimate_start_times if present, else a simple rule."""
    try:
        from .. import estimate_start_times  # type: ignore[attr-defined]

        return estimate_start_times(log), "leanops.estimate_start_times"
    except ImportError:
        pass
    d = log.df
    end = d["end"].to_numpy(dtype="datetime64[ns]").view(np.int64)
    start = d["start"].to_numpy(dtype="datetime64[ns]").view(np.int64)
    nat = np.iinfo(np.int64).min
    n = len(d)
    cstarts = log.case_starts
    first = np.zeros(n, dtype=bool)
    first[cstarts] = True
    prev_case_end = np.where(first, nat, np.r_[nat, end[:-1]])
    # previous completion by the same resource
    res = d["resource"].to_numpy(dtype=object, na_value=None)
    order = np.lexsort((end, pd.factorize(res, use_na_sentinel=True)[0]))
    prev_res_end = np.full(n, nat)
    r_sorted = np.asarray(pd.factorize(res)[0])[order]
    e_sorted = end[order]
    same = np.r_[False, (r_sorted[1:] == r_sorted[:-1]) & (r_sorted[1:] >= 0)]
    prev_res_end[order] = np.where(same, np.r_[nat, e_sorted[:-1]], nat)
    est = np.maximum(prev_case_end, prev_res_end)
    est = np.where(est == nat, end, np.minimum(est, end))
    new_start = np.where(start == nat, est, start)
    df = d.copy()
    df["start"] = pd.to_datetime(new_start, utc=True)
    return log._derive(df, sort=True), "start = max(end of the case's previous instance, the resource's previous completion)"


def _per_resource(x: np.ndarray, res: np.ndarray, members: list[str], base: Distribution,
                  min_samples: int, seed: int) -> list[tuple[str, Distribution]]:
    """Resources whose durations differ clearly from the activity's."""
    from scipy import stats

    out = []
    mean = float(np.mean(x))
    if mean <= 0:
        return out
    s = pd.Series(x)
    for r, idx in s.groupby(pd.Series(res, dtype=object)).groups.items():
        if r is None or str(r) not in members:
            continue
        xr = s.loc[idx].to_numpy()
        if len(xr) < min_samples:
            continue
        ratio = float(xr.mean()) / mean
        if 0.8 <= ratio <= 1.25:
            continue
        rest = s.drop(idx).to_numpy()
        if len(rest) < min_samples:
            continue
        p = stats.mannwhitneyu(xr, rest).pvalue
        if p < 0.001:
            out.append((str(r), fit_distribution(xr, min_samples=min_samples, seed=seed)))
    return out


def _probs(counts: np.ndarray, labels: list[str]) -> tuple[tuple[str, float], ...]:
    tot = counts.sum()
    return tuple((labels[j], float(counts[j] / tot)) for j in np.flatnonzero(counts > 0))


def _routing(acts, act_code, first, last, case, cw, attr_frame, attr_names, notes) -> tuple[Routing, ...]:
    k = len(acts)
    labels = acts + [END]
    src = np.where(first, k, np.r_[0, act_code[:-1]])
    dst = act_code
    w = cw[case]
    # transitions: (src -> dst) for every instance, plus (last -> END)
    s_all = np.concatenate([src, act_code[last]])
    d_all = np.concatenate([dst, np.full(int(last.sum()), k)])
    w_all = np.concatenate([w, w[last]])
    c_all = np.concatenate([case, case[last]])
    mat = np.zeros((k + 1, k + 1))
    np.add.at(mat, (s_all, d_all), w_all)
    out = []
    for s in range(k + 1):
        row = mat[s]
        if row.sum() <= 0:
            continue
        source = START if s == k else acts[s]
        rules: list[Rule] = []
        sel = s_all == s
        if attr_names and (row > 0).sum() > 1 and sel.sum() >= 40:
            rules, rest = _rules(d_all[sel], w_all[sel], attr_frame.iloc[c_all[sel]].reset_index(drop=True), attr_names, labels)
            if rules:
                row = np.bincount(d_all[sel][rest], weights=w_all[sel][rest], minlength=k + 1)
            for r in rules:
                notes.append(f"data-aware routing after {source}: if {r} -> {dict((a, round(p, 3)) for a, p in r.next)}")
        out.append(Routing(source, _probs(row, labels), tuple(rules)))
    return tuple(out)


def _loglik(y: np.ndarray, w: np.ndarray, k: int) -> float:
    c = np.bincount(y, weights=w, minlength=k)
    t = c.sum()
    nz = c > 0
    return float((c[nz] * np.log(c[nz] / t)).sum())


def _rules(y: np.ndarray, w: np.ndarray, frame: pd.DataFrame, names: list[str], labels: list[str],
           max_rules: int = 3) -> tuple[list[Rule], np.ndarray]:
    """Greedy decision stumps: each rule splits off the cases it matches from the rest."""
    k = len(labels)
    rules: list[Rule] = []
    rest = np.ones(len(y), dtype=bool)
    for _ in range(max_rules):
        yy, ww = y[rest], w[rest]
        n = len(yy)
        if n < 40 or len(np.unique(yy)) < 2:
            break
        base = _loglik(yy, ww, k)
        n_out = len(np.unique(yy))
        penalty = (n_out - 1) * math.log(n) + 10.0
        best = None
        for name in names:
            col = frame[name][rest]
            for op, val, mask in _candidates(col):
                m = mask
                nm = int(m.sum())
                if nm < 10 or n - nm < 10:
                    continue
                g = 2 * (_loglik(yy[m], ww[m], k) + _loglik(yy[~m], ww[~m], k) - base)
                if g > penalty and (best is None or g > best[0]):
                    best = (g, name, op, val, m)
        if best is None:
            break
        _, name, op, val, m = best
        counts = np.bincount(yy[m], weights=ww[m], minlength=k)
        rules.append(Rule(name, op, val, _probs(counts, labels)))
        idx = np.flatnonzero(rest)
        rest[idx[m]] = False
    return rules, rest


def _candidates(col: pd.Series):
    v = col.to_numpy()
    if pd.api.types.is_bool_dtype(col):
        yield "==", True, v == True  # noqa: E712
        return
    if pd.api.types.is_numeric_dtype(col):
        x = v.astype(float)
        ok = ~np.isnan(x)
        if ok.sum() < 10:
            return
        qs = np.unique(np.quantile(x[ok], np.linspace(0.05, 0.95, 19)))
        for q in qs:
            q = float(q)
            yield ">=", _plain(_round(q)), ok & (x >= _round(q))
        return
    s = col.astype(object)
    top = s.value_counts().index[:10]
    for val in top:
        yield "==", _plain(val), (s == val).to_numpy()


def _round(q: float) -> float:
    if q == 0 or not math.isfinite(q):
        return q
    mag = 10 ** (math.floor(math.log10(abs(q))) - 2)
    r = round(q / mag) * mag
    return float(int(r)) if float(r).is_integer() else float(r)


def _arrivals(arr: np.ndarray, tz: str, w: np.ndarray, recency: float | None, notes: list[str]) -> Arrivals:
    """Weekly rate profile (day x hour, smoothed) and inter-arrivals in rate-weighted time."""
    from .engine import _Warp

    n = len(arr)
    if n < 2:
        notes.append("a single case: arrivals once a day")
        return Arrivals(Distribution.fixed(86400.0), tz=tz)
    off = tz_offset(tz, pd.Timestamp(float(arr[-1]), unit="s", tz="UTC"))
    local = arr + off - _MONDAY0
    slot = ((local % WEEK) // 3600).astype(np.int64)
    counts = np.bincount(slot, minlength=168).astype(float)
    # exposure: how many times each hour of the week occurs in the observed span
    h0, h1 = math.floor(local[0] / 3600), math.floor(local[-1] / 3600)
    hours = np.arange(h0, h1 + 1) % 168
    expo = np.bincount(hours, minlength=168).astype(float)
    expo = np.maximum(expo, 1.0)
    rate = counts / expo
    span_weeks = (arr[-1] - arr[0]) / WEEK
    expected = expo * (counts.sum() / expo.sum())
    chi2 = float(((counts - expected) ** 2 / np.maximum(expected, 1e-9)).sum())
    from scipy import stats

    p_flat = float(stats.chi2.sf(chi2, 167))
    if span_weeks < 1.0 or n < 30:
        profile = np.ones(168)
        notes.append("arrivals: too short a span for a weekly profile; flat")
    elif p_flat > 0.001:
        profile = np.ones(168)
        notes.append(f"arrivals: no weekly pattern (chi-square p = {p_flat:.2g}); flat profile")
    else:
        m = rate.reshape(7, 24)
        day = m.sum(axis=1)
        hour = m.sum(axis=0)
        prod = np.outer(day, hour) / max(m.sum(), 1e-12)
        # shrink the full hour-of-week rates towards the day x hour product when data are few
        k = 168 * 4.0
        full = rate / max(rate.mean(), 1e-12)
        prodn = prod.ravel() / max(prod.mean(), 1e-12)
        profile = (counts.sum() * full + k * prodn) / (counts.sum() + k)
        profile = profile * (168.0 / profile.sum())
    arrivals_flat = Arrivals(Distribution.fixed(1.0), tuple(float(x) for x in profile), tz)
    warp = _Warp(arrivals_flat, off)
    wt = np.array([warp.forward(float(t)) for t in arr])
    gaps = np.diff(wt)
    gaps = np.maximum(gaps, 0.0)
    cv = float(gaps.std() / gaps.mean()) if gaps.mean() > 0 else 0.0
    if 0.6 <= cv <= 1.4 and len(gaps) >= 2:
        # Independent arrivals are Poisson. The log shows first starts, which a queue at the
        # first activity smooths; their gaps look less variable than the real arrivals.
        dist = Distribution.exponential(float(gaps.mean()))
        notes.append(f"arrivals: Poisson in rate-weighted time (gap CV {cv:.2f})")
    else:
        dist = fit_distribution(gaps, candidates=("exponential", "gamma", "lognormal", "weibull"))
    if recency is not None:
        gw = w[1:]
        recent_mean = float((gaps * gw).sum() / gw.sum())
        if dist.mean > 0 and recent_mean > 0:
            dist = dist.scaled(recent_mean / dist.mean)
            notes.append(f"arrivals: recent-weighted mean inter-arrival {recent_mean:,.0f}s")
    return Arrivals(dist, tuple(float(x) for x in profile), tz)
