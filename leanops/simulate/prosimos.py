"""Import a Prosimos simulation model (BPMN + JSON, as Simod writes them).

Supported: tasks, exclusive gateways with branching probabilities, parallel and
inclusive gateways (approximated), start/end events, intermediate events with a duration
(their duration becomes a delay before the next task), the arrival distribution and
arrival calendar, resource profiles with amounts and per-resource calendars, and
per-task, per-resource duration distributions.

Approximations (each is listed in ``model.notes``):

* leanops routes a case from activity to activity (first order). Where the BPMN has only
  exclusive gateways this is exact. With parallel or inclusive gateways, the routing is
  estimated from traces played out on the BPMN, and parallel branches run one after
  another in a random interleaving.
* A task is served by one pool: tasks whose resource sets overlap share a pool made of
  all their resources (each resource keeps its own calendar and durations).
* Out-of-range samples are clipped to [min, max] (Prosimos replaces them by the mean).
* Batching, prioritisation, case attributes and branch conditions are not imported.
"""

from __future__ import annotations

import json
import math
import os
from collections import Counter, defaultdict
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ModelError
from ._calendar import ALWAYS, normalize_intervals
from .distributions import Distribution
from .model import END, START, Activity, Arrivals, Pool, Routing, SimulationModel

__all__ = ["from_prosimos"]

_DAYS = {d: i for i, d in enumerate(["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY"])}


def _dist(d: dict[str, Any], where: str) -> Distribution:
    try:
        name = d["distribution_name"]
        p = [float(x["value"]) if isinstance(x, dict) else float(x) for x in d["distribution_params"]]
    except (KeyError, TypeError, ValueError):
        raise ModelError(f"prosimos field {where}: expected {{distribution_name, distribution_params}}; got {str(d)[:80]!r}.") from None
    try:
        if name in ("fix", "fixed"):
            return Distribution.fixed(max(p[0], 0.0))
        if name in ("expon", "exponential"):
            mean, lo, hi = p[0], p[1], p[2]
            # Prosimos shifts by min: min + Exp(mean - min)
            scale = mean - lo if mean > lo else mean
            return Distribution("exponential", (scale,), low=0.0, high=max(hi - lo, 0.0) if hi > lo else math.inf).__class__(
                "exponential", (scale,), low=0.0, high=math.inf) if lo == 0 else _shifted_exp(lo, scale, hi)
        if name in ("norm", "normal"):
            return Distribution("normal", (p[0], p[1]), low=max(p[2], 0.0), high=p[3] if p[3] > 0 else math.inf)
        if name in ("lognorm", "lognormal"):
            mean, var = p[0], p[1]
            if mean <= 0:
                return Distribution.fixed(0.0)
            sigma2 = math.log(1 + var / mean**2)
            return Distribution("lognormal", (math.log(mean) - sigma2 / 2, math.sqrt(sigma2)), low=max(p[2], 0.0),
                                high=p[3] if p[3] > 0 else math.inf)
        if name == "gamma":
            mean, var = p[0], p[1]
            if mean <= 0 or var <= 0:
                return Distribution.fixed(max(mean, 0.0))
            return Distribution("gamma", (mean**2 / var, var / mean), low=max(p[2], 0.0), high=p[3] if p[3] > 0 else math.inf)
        if name == "uniform":
            return Distribution("uniform", (p[0], p[1]))
    except (IndexError, ValueError) as exc:
        raise ModelError(f"prosimos field {where}: bad parameters for {name!r} ({exc}).") from None
    raise ModelError(f"prosimos field {where}: distribution {name!r} is not supported "
                     "(fix, expon, norm, lognorm, gamma, uniform).")


def _shifted_exp(lo: float, scale: float, hi: float) -> Distribution:
    # leanops has no shifted exponential: use its quantiles (exact up to interpolation)
    q = np.linspace(0, 1, 201)[:-1]
    vals = lo - scale * np.log1p(-q)
    vals = np.r_[vals, lo + scale * 8]
    if hi > lo:
        vals = np.minimum(vals, hi)
    return Distribution("empirical", (), tuple(float(v) for v in vals))


def _calendar(periods: list[dict[str, Any]], where: str) -> tuple[tuple[int, int], ...]:
    out = []
    for j, tp in enumerate(periods):
        try:
            d0, d1 = _DAYS[tp["from"].upper()], _DAYS[tp["to"].upper()]
            b = pd.Timedelta(tp["beginTime"]).total_seconds()
            e = pd.Timedelta(tp["endTime"]).total_seconds()
        except (KeyError, ValueError, AttributeError):
            raise ModelError(f"prosimos field {where}[{j}]: expected {{from, to, beginTime, endTime}}; got {str(tp)[:80]!r}.") from None
        if e >= 86399.0:
            e = 86400.0  # '23:59:59.999' means the end of the day
        days = range(d0, d1 + 1) if d1 >= d0 else list(range(d0, 7)) + list(range(0, d1 + 1))
        for d in days:
            out.append((d * 86400 + b, d * 86400 + e))
    iv = normalize_intervals(out)
    return iv or ALWAYS


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _play_out(nodes: dict[str, tuple[str, str]], flows: dict[str, tuple[str, str]], out_f: dict[str, list[str]],
              in_f: dict[str, list[str]], branch: dict[str, dict[str, float]], event_delay: dict[str, Distribution],
              task_name: dict[str, str], traces: int, seed: int, notes: list[str]
              ) -> tuple[Counter[tuple[str, str]], dict[str, list[float]]]:
    """Play out ``traces`` traces of the BPMN (a token game) and count first-order
    transitions between tasks, and which catching events precede each task."""
    has_parallel = any(k in ("and", "or") for k, _ in nodes.values())
    rng = np.random.default_rng(seed)

    def pick(g: str) -> list[str]:
        outs = out_f[g]
        kind = nodes[g][0]
        if len(outs) <= 1:
            return outs
        if kind == "and":
            return list(outs)
        probs = np.array([branch.get(g, {}).get(f, np.nan) for f in outs], dtype=float)
        if np.isnan(probs).any():
            probs = np.where(np.isnan(probs), 1.0 / len(outs), probs)
        if kind == "or":
            chosen = [f for f, p in zip(outs, probs) if rng.random() < p]
            return chosen or [outs[int(np.argmax(probs))]]
        probs = probs / probs.sum()
        return [outs[int(rng.choice(len(outs), p=probs))]]

    # play out traces (token game) and count first-order transitions between tasks
    trans: Counter[tuple[str, str]] = Counter()
    delays: dict[str, list[float]] = defaultdict(list)
    start_ids = [i for i, (k, _) in nodes.items() if k == "start"]
    n_traces = traces
    stuck = 0
    capped = 0
    played = 0
    for k_trace in range(n_traces):
        if k_trace == 50 and capped >= 25:
            notes.append("played-out traces do not terminate (half of the first 50 reached 200 tasks); "
                         "routing estimated from those 50 capped traces")
            break
        played += 1
        tokens: Counter[str] = Counter()
        for s in start_ids[:1]:
            for f in out_f[s]:
                tokens[f] += 1
        prev = START
        trans_len: Counter[str] = Counter()
        pending_event: list[str] = []
        steps = 0
        while tokens and steps < 3000 and sum(trans_len.values()) < 200:
            steps += 1
            enabled = []
            for fid in list(tokens):
                node = flows[fid][1]
                kind = nodes[node][0]
                if kind == "and" and len(in_f[node]) > 1:
                    if all(tokens[f] > 0 for f in in_f[node]):
                        enabled.append(node)
                elif kind == "or" and len(in_f[node]) > 1:
                    others = sum(tokens.values()) - sum(tokens[f] for f in in_f[node])
                    if others == 0 or all(tokens[f] > 0 for f in in_f[node]):
                        enabled.append(node)
                else:
                    enabled.append(node)
            if not enabled:
                # a join that waits for a branch which went elsewhere (unsound model):
                # fire the join with the most tokens on its inputs
                stuck += 1
                waiting = Counter(flows[f][1] for f in tokens for _ in range(tokens[f]))
                enabled = [waiting.most_common(1)[0][0]]
            enabled = list(dict.fromkeys(enabled))
            node = enabled[int(rng.integers(len(enabled)))] if len(enabled) > 1 else enabled[0]
            kind = nodes[node][0]
            if kind in ("and", "or") and len(in_f[node]) > 1:
                for f in in_f[node]:
                    if tokens[f] > 0:
                        tokens[f] -= 1
                        if tokens[f] == 0:
                            del tokens[f]
            else:
                f = next(f for f in in_f[node] if tokens[f] > 0)
                tokens[f] -= 1
                if tokens[f] == 0:
                    del tokens[f]
            if kind == "task":
                name = task_name[node]
                trans[(prev, name)] += 1
                trans_len[name] += 1
                for e in pending_event:
                    delays[name].append(e)  # type: ignore[arg-type]
                pending_event = []
                prev = name
                outs = out_f[node]
            elif kind == "event":
                if node in event_delay:
                    pending_event.append(node)
                outs = out_f[node]
            elif kind == "end":
                outs = []
            else:
                outs = pick(node)
            for f in outs:
                tokens[f] = 1  # safe-net semantics: at most one token per flow (bounds unsound models)
        trans[(prev, END)] += 1
        if sum(trans_len.values()) >= 200:
            capped += 1
    n_traces = played
    if stuck:
        notes.append(f"{stuck} joins fired without all their branches in {n_traces} played-out traces (unsound BPMN)")
    if has_parallel:
        notes.append(f"parallel/inclusive gateways: routing estimated from {n_traces} played-out traces; "
                     "parallel branches run one after another")
    return trans, delays


def _resources(params: dict[str, Any], task_name: dict[str, str], notes: list[str]
               ) -> tuple[dict[str, tuple[tuple[int, int], ...]], dict[str, dict[str, Distribution]]]:
    """(each resource member's calendar, each task's duration per member)."""
    cal_by_id = {c["id"]: _calendar(c.get("time_periods", []), f"resource_calendars[{c['id']}]")
                 for c in params.get("resource_calendars", [])}
    members_of: dict[str, list[str]] = {}
    res_cal: dict[str, tuple[tuple[int, int], ...]] = {}
    for prof in params.get("resource_profiles", []):
        for r in prof.get("resource_list", []):
            rid = r["id"]
            amount = int(float(r.get("amount", 1) or 1))
            names = [r.get("name") or rid] if amount == 1 else [f"{r.get('name') or rid}_{k + 1}" for k in range(amount)]
            if rid in members_of:
                continue
            members_of[rid] = names
            cal = cal_by_id.get(r.get("calendar"))
            if cal is None:
                notes.append(f"resource {rid!r}: calendar {r.get('calendar')!r} not found; 24/7")
                cal = ALWAYS
            for nm in names:
                res_cal[nm] = cal
    task_res: dict[str, dict[str, Distribution]] = {}
    for t in params.get("task_resource_distribution", []):
        tid = t["task_id"]
        if tid not in task_name:
            raise ModelError(f"prosimos field task_resource_distribution: task_id {tid!r} is not a task of the BPMN.")
        dd = {}
        for r in t["resources"]:
            rid = r["resource_id"]
            if rid not in members_of:
                raise ModelError(f"prosimos field task_resource_distribution[{task_name[tid]!r}]: unknown resource {rid!r}.")
            dist = _dist(r, f"task_resource_distribution[{task_name[tid]!r}][{rid}]")
            for nm in members_of[rid]:
                dd[nm] = dist
        task_res.setdefault(task_name[tid], {}).update(dd)
    return res_cal, task_res


def _pools_and_activities(task_res: dict[str, dict[str, Distribution]], res_cal: dict[str, Any], used: list[str],
                          delays: dict[str, list[float]], event_delay: dict[str, Distribution], notes: list[str]
                          ) -> tuple[list[Pool], list[Activity]]:
    """Pools (tasks whose resource sets overlap share one) and the activities they serve."""
    # pools: tasks whose resource sets overlap share one pool
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for tname, dd in task_res.items():
        rs = list(dd)
        for r in rs[1:]:
            parent[find(r)] = find(rs[0])
        find(rs[0])
    comp: dict[str, list[str]] = defaultdict(list)
    for r in parent:
        comp[find(r)].append(r)
    pool_of_res = {}
    pools = []
    overlap = 0
    for k, (root, rs) in enumerate(sorted(comp.items(), key=lambda kv: sorted(kv[1])[0])):
        rs = sorted(rs)
        name = rs[0] if len(rs) == 1 else f"pool_{k + 1}"
        base = res_cal[rs[0]]
        union = normalize_intervals([iv for r in rs for iv in res_cal[r]]) or ALWAYS
        member_iv = tuple((r, res_cal[r]) for r in rs if res_cal[r] != union) if len(rs) > 1 or base != union else ()
        pools.append(Pool(name, tuple(rs), union, "UTC", member_iv))
        for r in rs:
            pool_of_res[r] = name
    activities = []
    for tname in used:
        dd = task_res.get(tname)
        if not dd:
            activities.append(Activity(tname, None, Distribution.fixed(0.0)))
            notes.append(f"task {tname!r} has no resources: no capacity limit, zero duration")
            continue
        pname = pool_of_res[next(iter(dd))]
        pool = next(p for p in pools if p.name == pname)
        if set(dd) != set(pool.members):
            overlap += 1
        dists = list(dd.values())
        base = max(dict.fromkeys(dists), key=dists.count)  # ties: the first listed (not set order, which varies by process)
        by_res = tuple((r, d) for r, d in dd.items() if d != base)
        dl = delays.get(tname)
        delay = None
        if dl:
            ev = Counter(dl).most_common(1)[0][0]
            delay = event_delay[ev]
        activities.append(Activity(tname, pname, base, by_res, delay))
    if overlap:
        notes.append(f"{overlap} tasks share a pool with resources that Prosimos would not assign to them")
    return pools, activities


def _arrivals(params: dict[str, Any]) -> Arrivals:
    """Arrivals: the inter-arrival distribution counts only the arrival calendar's hours."""
    arr = _dist(params.get("arrival_time_distribution", {}), "arrival_time_distribution")
    acal = _calendar(params.get("arrival_time_calendar", []), "arrival_time_calendar") if params.get("arrival_time_calendar") else ALWAYS
    profile = np.zeros(168)
    for a, b in acal:
        for h in range(int(a // 3600), int(math.ceil(b / 3600))):
            lo, hi = max(a, h * 3600), min(b, (h + 1) * 3600)
            if hi > lo and h < 168:
                profile[h] += (hi - lo) / 3600
    open_hours = profile.sum()
    # rate-weighted seconds: one arrival-calendar second counts 168/open_hours plain ones
    arrivals = Arrivals(arr.scaled(open_hours / 168.0), tuple(float(x) for x in profile * (168.0 / open_hours)), "UTC")
    return arrivals


def from_prosimos(bpmn: str | os.PathLike[str], json_path: str | os.PathLike[str], *, traces: int = 1000,
                  seed: int = 0) -> SimulationModel:
    """Build a :class:`SimulationModel` from a Prosimos BPMN model and its JSON parameters.

    Examples
    --------
    >>> import leanops
    >>> from leanops import simulate
    >>> root = leanops.datasets.path("purchasing_example").parent / "models"
    >>> m = simulate.from_prosimos(root / "purchasing_example.prosimos.bpmn", root / "purchasing_example.prosimos.json")
    >>> len(m.activities), len(m.pools) > 0
    (21, True)
    """
    from lxml import etree

    try:
        with open(json_path, encoding="utf-8") as f:
            params = json.load(f)
    except json.JSONDecodeError as exc:
        raise ModelError(f"prosimos JSON {str(json_path)!r} is not valid JSON ({exc.msg}, line {exc.lineno}).") from None
    try:
        tree = etree.parse(str(bpmn), etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False))
    except etree.XMLSyntaxError as exc:
        raise ModelError(f"prosimos BPMN {str(bpmn)!r} is not valid XML ({exc}).") from None
    notes: list[str] = []
    nodes: dict[str, tuple[str, str]] = {}  # id -> (kind, name)
    flows: dict[str, tuple[str, str]] = {}
    for el in tree.iter():
        if not isinstance(el.tag, str):
            continue
        tag = _local(el.tag)
        i = el.get("id")
        if tag in ("task", "userTask", "serviceTask", "manualTask", "scriptTask", "businessRuleTask", "sendTask", "receiveTask"):
            nodes[i] = ("task", el.get("name") or i)
        elif tag in ("exclusiveGateway", "parallelGateway", "inclusiveGateway", "eventBasedGateway"):
            nodes[i] = ({"exclusiveGateway": "xor", "eventBasedGateway": "xor", "parallelGateway": "and", "inclusiveGateway": "or"}[tag], i)
        elif tag == "startEvent":
            nodes[i] = ("start", i)
        elif tag == "endEvent":
            nodes[i] = ("end", i)
        elif tag in ("intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent"):
            nodes[i] = ("event", i)
        elif tag == "sequenceFlow":
            flows[i] = (el.get("sourceRef"), el.get("targetRef"))
    if not any(k == "start" for k, _ in nodes.values()):
        raise ModelError("prosimos BPMN: no startEvent found.")
    out_f: dict[str, list[str]] = defaultdict(list)
    in_f: dict[str, list[str]] = defaultdict(list)
    for fid, (s, t) in flows.items():
        if s not in nodes or t not in nodes:
            raise ModelError(f"prosimos BPMN: sequenceFlow {fid!r} references an unknown node {s if s not in nodes else t!r}.")
        out_f[s].append(fid)
        in_f[t].append(fid)
    branch: dict[str, dict[str, float]] = {}
    for g in params.get("gateway_branching_probabilities", []):
        branch[g["gateway_id"]] = {p["path_id"]: float(p["value"]) for p in g["probabilities"]}
    event_delay = {e["event_id"]: _dist(e, f"event_distribution[{e['event_id']}]") for e in params.get("event_distribution", [])}
    task_name = {i: n for i, (k, n) in nodes.items() if k == "task"}
    if len(set(task_name.values())) != len(task_name):
        dup = [n for n, c in Counter(task_name.values()).items() if c > 1]
        notes.append(f"tasks sharing a name are merged: {dup[:5]}")

    trans, delays = _play_out(nodes, flows, out_f, in_f, branch, event_delay, task_name, traces, seed, notes)
    by_src: dict[str, dict[str, float]] = defaultdict(dict)
    for (s, t), c in trans.items():
        by_src[s][t] = by_src[s].get(t, 0) + c
    routing = []
    for s, tab in by_src.items():
        tot = sum(tab.values())
        routing.append(Routing(s, tuple((t, c / tot) for t, c in tab.items())))
    used = sorted({t for tab in by_src.values() for t in tab if t != END} | {s for s in by_src if s != START})

    res_cal, task_res = _resources(params, task_name, notes)
    pools, activities = _pools_and_activities(task_res, res_cal, used, delays, event_delay, notes)
    arrivals = _arrivals(params)
    for k in ("batch_processing", "prioritisation_rules", "case_attributes", "branch_rules"):
        if params.get(k):
            notes.append(f"{k} is not imported")
    notes.append("imported from Prosimos: " + os.path.basename(str(bpmn)))
    return SimulationModel(tuple(activities), tuple(routing), tuple(pools), arrivals, notes=tuple(notes))
