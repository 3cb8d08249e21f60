"""The simulation model: frozen dataclasses saved as versioned, documented JSON.

JSON layout (``format: "leanops.simulation_model"``, ``version: 2``; version-1 files,
which have no ``traces``, load unchanged)::

    {
      "format": "leanops.simulation_model", "version": 2,
      "start": "2024-03-01T00:00:00+00:00",      # default first arrival of a simulation
      "arrivals": {"interarrival": DIST,          # in rate-weighted seconds (see Arrivals)
                   "profile": [168 floats],       # relative arrival rate per hour of week, mean 1
                   "tz": "UTC"},
      "activities": [{"name": "Review", "pool": "experts" | null,   # null: no resource needed
                      "duration": DIST,           # working seconds
                      "by_resource": {"ann": DIST, ...},             # optional
                      "delay": DIST | null,       # optional wait before the activity, not for a resource
                      "delay_after": {"Send": DIST},  # optional: the wait when it follows that activity
                      "release": [54000]}],       # optional: released in a batch daily at 15:00 (seconds, arrivals.tz)
      "routing": [{"source": "__start__" | ACTIVITY,
                   "next": {ACTIVITY | "__end__": probability, ...},
                   "rules": [{"attribute": "amount", "op": ">=", "value": 10000,
                              "next": {...}}]}],  # first matching rule wins; else "next"
      "pools": [{"name": "experts", "members": ["ann", "bob"],
                 "calendar": {"intervals": [[28800, 61200], ...], "tz": "UTC"}}],
      "attributes": {"names": ["amount"], "rows": [[1200.0], ...]},  # sampled jointly, per case
      "queue": {"discipline": "fifo" | "priority", "attribute": null, "order": []},
      "notes": ["what fit discovered or approximated", ...],
      "traces": {"variants": [["Triage", "Review", "Review"], ...],  # optional: whole routes
                 "cases": [0, 2, ...],            # each recorded case's variant (aligned with attributes.rows when as many)
                 "weights": [1.0, 0.93, ...],     # each recorded case's chance of being drawn (recency)
                 "fitted": {"Review": "1a2b3c4d"},  # digest of each source's routing at fit time
                 "ranks": [[0.0, 0.5, 0.97], ...]}   # optional: each step's wait rank among its transition's waits
    }

With ``traces``, each simulated case draws a recorded case (by weight) and follows its
route, with its attribute row; where a scenario changed a source's routing (its digest no
longer matches), the case continues by the routing tables. With ``ranks``, an empirical
``delay``/``delay_after`` is read at the recorded case's rank instead of drawn afresh.

DIST is ``{"kind": ..., "params": [...], "values": [...], "low": 0, "high": ...}``, see
:mod:`leanops.simulate.distributions`. Calendar intervals are seconds since Monday 00:00
local time. Any field can be edited by hand; :meth:`SimulationModel.load` checks it all and
raises :class:`~leanops.ModelError` naming the bad field.
"""

from __future__ import annotations

import dataclasses
import html
import json
import math
import os
from dataclasses import dataclass, field
from typing import Any, Literal

import pandas as pd

from ..errors import ModelError
from ._calendar import ALWAYS, Intervals, intervals_to_spec, normalize_intervals, to_calendar
from .distributions import Distribution

__all__ = [
    "SimulationModel", "Activity", "Pool", "Routing", "Rule", "Arrivals", "CaseAttributes", "Queue", "Traces",
    "START", "END", "FORMAT", "VERSION",
]

FORMAT = "leanops.simulation_model"
VERSION = 2  # 2: optional "traces" (whole routes sampled per case); version-1 files load unchanged
START = "__start__"
END = "__end__"
_OPS = ("<", ">=", "==", "!=")

Probs = tuple[tuple[str, float], ...]


@dataclass(frozen=True)
class Arrivals:
    """Case arrivals: inter-arrival times in *rate-weighted* seconds and a weekly rate profile.

    The profile gives the relative arrival rate for each of the 168 hours of the week
    (Monday 00:00 first, in ``tz``), with mean 1. One rate-weighted second passes in
    ``1 / profile[h]`` real seconds during hour ``h``, so a flat profile means plain
    seconds and a zero hour receives no arrivals.
    """

    interarrival: Distribution
    profile: tuple[float, ...] = (1.0,) * 168
    tz: str = "UTC"

    @property
    def mean_interarrival_s(self) -> float:
        """Mean real seconds between arrivals (over a whole week)."""
        return self.interarrival.mean


@dataclass(frozen=True)
class Rule:
    """Data-aware routing: when ``attribute op value`` holds, use ``next`` instead."""

    attribute: str
    op: Literal["<", ">=", "==", "!="]
    value: Any
    next: Probs

    def matches(self, v: Any) -> bool:
        try:
            if self.op == "<":
                return v is not None and v == v and v < self.value
            if self.op == ">=":
                return v is not None and v == v and v >= self.value
            if self.op == "==":
                return v == self.value
            return v != self.value
        except TypeError:
            return False

    def __str__(self) -> str:
        return f"{self.attribute} {self.op} {self.value!r}"


@dataclass(frozen=True)
class Routing:
    """What follows ``source`` (``START`` for the first activity): probabilities, maybe by rule."""

    source: str
    next: Probs
    rules: tuple[Rule, ...] = ()
    after: tuple[tuple[str, Probs], ...] = ()  # by the activity before source (START for none); rules win


@dataclass(frozen=True)
class Activity:
    name: str
    pool: str | None
    duration: Distribution
    by_resource: tuple[tuple[str, Distribution], ...] = ()
    delay: Distribution | None = None
    delay_after: tuple[tuple[str, Distribution], ...] = ()  # wait by preceding activity (overrides delay)
    release: tuple[int, ...] = ()  # batch: cases wait for these daily release times (seconds after midnight)


@dataclass(frozen=True)
class Pool:
    """Interchangeable resources with a shared working calendar."""

    name: str
    members: tuple[str, ...]
    intervals: Intervals = ALWAYS
    tz: str = "UTC"
    member_intervals: tuple[tuple[str, Intervals], ...] = ()  # members with their own hours

    def hours_of(self, member: str) -> Intervals:
        """The working intervals of one member (its own, or the pool's)."""
        for m, iv in self.member_intervals:
            if m == member:
                return iv
        return self.intervals

    @property
    def size(self) -> int:
        return len(self.members)

    @property
    def calendar(self):
        """The pool's working calendar as a ``leanops.Calendar`` (None if that module is absent)."""
        return to_calendar(self.intervals, self.tz)

    @property
    def hours(self) -> str:
        return intervals_to_spec(self.intervals)

    def resized(self, n: int) -> "Pool":
        """The pool with ``n`` members (new members are named after the pool)."""
        m = list(self.members[:n])
        k = 1
        while len(m) < n:
            name = f"{self.name}_extra_{k}"
            k += 1
            if name not in m:
                m.append(name)
        return dataclasses.replace(self, members=tuple(m))


@dataclass(frozen=True)
class CaseAttributes:
    """Case attribute rows sampled jointly (so correlations between attributes survive)."""

    names: tuple[str, ...] = ()
    rows: tuple[tuple[Any, ...], ...] = ()


@dataclass(frozen=True)
class Traces:
    """Whole routes of recent cases, sampled per case instead of step-by-step routing.

    ``variants`` are the distinct activity sequences; ``cases`` gives each sampled case's
    variant and ``weights`` its (recency) weight. When ``cases`` has as many entries as the
    model's attribute rows, row ``k`` of the attributes belongs to case ``k``, so a case's
    attributes and its route are drawn together (data-aware branching survives).
    ``fitted`` holds a digest of each source's routing at fit time: a case follows its
    route while the routing it passes through is unchanged, and continues by the routing
    tables where a scenario changed them. ``ranks`` (optional, one tuple per entry of
    ``cases``) keeps each recorded case's waits together: an empirical delay is read at the
    rank the case's own wait had among the waits of the same transition, so a case that
    waited long in the log waits long throughout, as it did.
    """

    variants: tuple[tuple[str, ...], ...] = ()
    cases: tuple[int, ...] = ()
    weights: tuple[float, ...] = ()
    fitted: tuple[tuple[str, str], ...] = ()
    ranks: tuple[tuple[float, ...], ...] = ()  # per case: each step's wait rank (0..1) among its transition's waits


def routing_digest(r: "Routing") -> str:
    """A stable digest of one source's routing (to tell whether it was changed)."""
    import zlib

    doc = [r.source, [list(x) for x in r.next],
           [[u.attribute, u.op, repr(u.value), [list(x) for x in u.next]] for u in r.rules],
           [[pv, [list(x) for x in t]] for pv, t in r.after]]
    return format(zlib.crc32(json.dumps(doc, default=repr).encode("utf-8")), "08x")


@dataclass(frozen=True)
class Queue:
    discipline: Literal["fifo", "priority"] = "fifo"
    attribute: str | None = None
    order: tuple[Any, ...] = ()


@dataclass(frozen=True)
class SimulationModel:
    """A simulation model of a process: arrivals, routing, durations, pools and calendars.

    Build one with :func:`leanops.simulate.fit`, run it with :func:`leanops.simulate.run`.
    Override anything with :func:`dataclasses.replace` or the ``with_*`` helpers, or edit
    the saved JSON.
    """

    activities: tuple[Activity, ...]
    routing: tuple[Routing, ...]
    pools: tuple[Pool, ...]
    arrivals: Arrivals
    attributes: CaseAttributes = CaseAttributes()
    queue: Queue = Queue()
    start: pd.Timestamp | None = None
    notes: tuple[str, ...] = field(default=(), compare=False)
    traces: Traces = Traces()

    def __post_init__(self) -> None:
        _check(self)

    # -- lookups ------------------------------------------------------------------------
    @property
    def activity_names(self) -> list[str]:
        """The names of the model's activities."""
        return [a.name for a in self.activities]

    def activity(self, name: str) -> Activity:
        """The activity with this name (ModelError with close names if unknown)."""
        for a in self.activities:
            if a.name == name:
                return a
        from .._validation import check_names

        check_names("activity", [name], self.activity_names)
        raise AssertionError  # pragma: no cover

    def pool(self, name: str) -> Pool:
        """The resource pool with this name."""
        for p in self.pools:
            if p.name == name:
                return p
        raise ModelError(f"pool {name!r} is not in the model; pools: {[p.name for p in self.pools]}.")

    def pool_of(self, activity: str) -> Pool | None:
        """The pool that performs this activity, or None when it needs no resource."""
        a = self.activity(activity)
        return None if a.pool is None else self.pool(a.pool)

    # -- overrides ----------------------------------------------------------------------
    def with_activity(self, name: str, **changes: Any) -> "SimulationModel":
        """A copy with activity ``name`` changed, e.g. ``duration=Distribution.fixed(60)``."""
        self.activity(name)
        acts = tuple(dataclasses.replace(a, **changes) if a.name == name else a for a in self.activities)
        return dataclasses.replace(self, activities=acts)

    def with_pool(self, name: str, *, size: int | None = None, **changes: Any) -> "SimulationModel":
        """A copy with pool ``name`` changed, e.g. ``size=3`` or ``intervals=...``."""
        p = self.pool(name)
        if size is not None:
            p = p.resized(int(size))
        p = dataclasses.replace(p, **changes)
        return dataclasses.replace(self, pools=tuple(p if q.name == name else q for q in self.pools))

    # -- presentation -------------------------------------------------------------------
    def to_frame(self) -> pd.DataFrame:
        """One row per activity: pool, pool size, hours, duration family and mean."""
        pools = {p.name: p for p in self.pools}
        rows = []
        for a in self.activities:
            p = pools.get(a.pool) if a.pool else None
            rows.append({
                "activity": a.name,
                "pool": a.pool,
                "pool_size": p.size if p else None,
                "hours": p.hours if p else "24/7",
                "duration": a.duration.kind,
                "duration_mean_s": a.duration.mean,
                "per_resource": len(a.by_resource),
                "delay_mean_s": a.delay.mean if a.delay else 0.0,
            })
        return pd.DataFrame(rows)

    def summary(self) -> str:
        """A readable report of what the model holds (and what fit discovered)."""
        lines = [
            f"SimulationModel: {len(self.activities)} activities, {len(self.pools)} pools, "
            f"{sum(p.size for p in self.pools)} resources",
            f"arrivals: mean {self.arrivals.mean_interarrival_s:,.0f}s between cases "
            f"({self.arrivals.interarrival.kind}), weekly profile "
            f"{'flat' if max(self.arrivals.profile) - min(self.arrivals.profile) < 1e-9 else 'by hour of week'}",
        ]
        for p in self.pools:
            lines.append(f"pool {p.name}: {p.size} members, hours {p.hours}")
        for a in self.activities:
            extra = f", {len(a.by_resource)} resource-specific" if a.by_resource else ""
            dl = f", delay mean {a.delay.mean:,.0f}s" if a.delay else ""
            if a.release:
                dl += ", released daily at " + ", ".join(f"{r // 3600:02d}:{r % 3600 // 60:02d}" for r in a.release)
            if a.delay_after:
                dl += ", delays after " + ", ".join(f"{p} {d.mean:,.0f}s" for p, d in a.delay_after[:3])
                dl += " …" if len(a.delay_after) > 3 else ""
            lines.append(f"activity {a.name}: pool {a.pool or '-'}, {a.duration.describe()}{extra}{dl}")
        for r in self.routing:
            for rule in r.rules:
                lines.append(f"rule after {r.source}: if {rule} -> {dict(rule.next)}")
        n_after = sum(len(r.after) for r in self.routing)
        if n_after:
            lines.append(f"routing: {n_after} tables depend on the activity before")
        if self.attributes.names:
            lines.append(f"case attributes: {', '.join(self.attributes.names)} ({len(self.attributes.rows)} rows)")
        if self.queue.discipline == "priority":
            lines.append(f"queue: priority by {self.queue.attribute} {list(self.queue.order)}")
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)

    def to_summary(self) -> dict[str, Any]:
        """A JSON-ready digest (what ``leanops fit --json`` prints)."""
        return {
            "activities": [
                {"activity": a.name, "pool": a.pool, "duration": a.duration.kind, "duration_mean_s": a.duration.mean,
                 "per_resource": [r for r, _ in a.by_resource]}
                for a in self.activities
            ],
            "pools": [{"name": p.name, "size": p.size, "members": list(p.members), "hours": p.hours} for p in self.pools],
            "arrivals": {"interarrival": self.arrivals.interarrival.kind,
                         "mean_interarrival_s": self.arrivals.mean_interarrival_s,
                         "weekly_profile": max(self.arrivals.profile) - min(self.arrivals.profile) > 1e-9,
                         "tz": self.arrivals.tz},
            "rules": [{"after": r.source, "attribute": u.attribute, "op": u.op, "value": u.value, "next": dict(u.next)}
                      for r in self.routing for u in r.rules],
            "attributes": list(self.attributes.names),
            "queue": self.queue.discipline,
            "start": None if self.start is None else pd.Timestamp(self.start).isoformat(),
            "notes": list(self.notes),
            **({"traces": {"variants": [list(v) for v in self.traces.variants], "cases": list(self.traces.cases),
                           "weights": list(self.traces.weights), "fitted": dict(self.traces.fitted),
                           **({"ranks": [list(r) for r in self.traces.ranks]} if self.traces.ranks else {})}}
               if self.traces.variants else {}),
        }

    def __str__(self) -> str:
        return self.summary()

    def __repr__(self) -> str:
        return (f"<SimulationModel: {len(self.activities)} activities, {len(self.pools)} pools, "
                f"{sum(p.size for p in self.pools)} resources>")

    def _repr_html_(self) -> str:
        return "<pre>" + html.escape(self.summary()) + "</pre>"

    # -- JSON ---------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The versioned JSON form of the model (see the module docstring)."""
        return {
            "format": FORMAT,
            "version": VERSION,
            "start": None if self.start is None else pd.Timestamp(self.start).isoformat(),
            "arrivals": {
                "interarrival": self.arrivals.interarrival.to_dict(),
                "profile": list(self.arrivals.profile),
                "tz": self.arrivals.tz,
            },
            "activities": [
                {
                    "name": a.name,
                    "pool": a.pool,
                    "duration": a.duration.to_dict(),
                    "by_resource": {r: d.to_dict() for r, d in a.by_resource},
                    "delay": None if a.delay is None else a.delay.to_dict(),
                    **({"delay_after": {p: d.to_dict() for p, d in a.delay_after}} if a.delay_after else {}),
                    **({"release": list(a.release)} if a.release else {}),
                }
                for a in self.activities
            ],
            "routing": [
                {
                    "source": r.source,
                    "next": dict(r.next),
                    "rules": [{"attribute": u.attribute, "op": u.op, "value": u.value, "next": dict(u.next)} for u in r.rules],
                    **({"after": {pv: dict(t) for pv, t in r.after}} if r.after else {}),
                }
                for r in self.routing
            ],
            "pools": [
                {"name": p.name, "members": list(p.members), "calendar": {"intervals": [list(i) for i in p.intervals], "tz": p.tz},
                 **({"member_calendars": {m: [list(i) for i in iv] for m, iv in p.member_intervals}} if p.member_intervals else {})}
                for p in self.pools
            ],
            "attributes": {"names": list(self.attributes.names), "rows": [list(r) for r in self.attributes.rows]},
            "queue": {"discipline": self.queue.discipline, "attribute": self.queue.attribute, "order": list(self.queue.order)},
            "notes": list(self.notes),
            **({"traces": {"variants": [list(v) for v in self.traces.variants], "cases": list(self.traces.cases),
                           "weights": list(self.traces.weights), "fitted": dict(self.traces.fitted),
                           **({"ranks": [list(r) for r in self.traces.ranks]} if self.traces.ranks else {})}}
               if self.traces.variants else {}),
        }

    def to_json(self) -> str:
        """The model as JSON text."""
        from .._json import jsonable

        return json.dumps(jsonable(self.to_dict()), indent=1, ensure_ascii=False, allow_nan=False)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the model as JSON (never pickle)."""
        text = self.to_json()
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> "SimulationModel":
        """Read a model saved by :meth:`save`; a bad file raises ModelError naming the field."""
        try:
            with open(path, encoding="utf-8") as f:
                doc = json.load(f)
        except json.JSONDecodeError as exc:
            raise ModelError(f"model file {str(path)!r} is not valid JSON ({exc.msg} at line {exc.lineno}); "
                             "save models with SimulationModel.save or 'leanops fit'.") from None
        return cls.from_dict(doc)

    @classmethod
    def from_dict(cls, doc: Any) -> "SimulationModel":
        """Check and read the JSON form; ModelError names the first bad field."""
        return _from_dict(doc)


# -- parsing and checking -------------------------------------------------------------------

def _err(fieldname: str, expected: str, got: Any) -> ModelError:
    g = repr(got)
    if len(g) > 80:
        g = g[:77] + "..."
    return ModelError(f"model field {fieldname}: expected {expected}; got {g}. Fix the model JSON or refit it with 'leanops fit'.")


def _get(d: Any, key: str, where: str, *, default: Any = ..., kind: type | tuple[type, ...] | None = None) -> Any:
    if not isinstance(d, dict):
        raise _err(where, "an object", d)
    if key not in d:
        if default is ...:
            raise _err(f"{where}.{key}", "a value (the field is missing)", None)
        return default
    v = d[key]
    if kind is not None and v is not None and not isinstance(v, kind):
        raise _err(f"{where}.{key}", f"{'/'.join(k.__name__ for k in (kind if isinstance(kind, tuple) else (kind,)))}", v)
    return v


def _dist(d: Any, where: str) -> Distribution:
    if not isinstance(d, dict):
        raise _err(where, "a distribution object {kind, params}", d)
    try:
        return Distribution.from_dict(d)
    except KeyError as exc:
        raise _err(f"{where}.{exc.args[0]}", "a value (the field is missing)", None) from None
    except (TypeError, ValueError) as exc:
        raise ModelError(f"model field {where}: {exc}. Fix the model JSON or refit it with 'leanops fit'.") from None


def _probs(d: Any, where: str) -> Probs:
    if not isinstance(d, dict) or not d:
        raise _err(where, "an object {activity: probability}", d)
    out = []
    for k, v in d.items():
        if not isinstance(v, (int, float)) or isinstance(v, bool) or not (0 <= v <= 1) or not math.isfinite(v):
            raise _err(f"{where}.{k}", "a probability in [0, 1]", v)
        out.append((str(k), float(v)))
    return tuple(out)


def _release(v: list, where: str) -> tuple[int, ...]:
    if not all(isinstance(x, (int, float)) and not isinstance(x, bool) and 0 <= x < 86400 for x in v):
        raise _err(where, "seconds after midnight in [0, 86400)", v)
    return tuple(sorted(int(x) for x in v))


def _from_dict(doc: Any) -> SimulationModel:
    if not isinstance(doc, dict):
        raise _err("(top level)", "a JSON object", type(doc).__name__)
    fmt = doc.get("format")
    if fmt != FORMAT:
        raise _err("format", repr(FORMAT), fmt)
    version = doc.get("version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise _err("version", "an integer", version)
    if version > VERSION:
        raise ModelError(f"model field version: {version} is newer than this leanops supports ({VERSION}); "
                         "upgrade leanops or refit the model.")
    if version < 1:
        raise _err("version", f"1..{VERSION}", version)
    arr = _get(doc, "arrivals", "arrivals", kind=dict)
    profile = _get(arr, "profile", "arrivals", default=[1.0] * 168, kind=list)
    if len(profile) != 168 or not all(isinstance(x, (int, float)) and x >= 0 for x in profile) or sum(profile) <= 0:
        raise _err("arrivals.profile", "168 non-negative numbers, not all zero", profile)
    arrivals = Arrivals(_dist(_get(arr, "interarrival", "arrivals"), "arrivals.interarrival"),
                        tuple(float(x) for x in profile), str(_get(arr, "tz", "arrivals", default="UTC")))
    pools = []
    for i, p in enumerate(_get(doc, "pools", "(top level)", kind=list)):
        w = f"pools[{i}]"
        members = _get(p, "members", w, kind=list)
        cal = _get(p, "calendar", w, default={"intervals": [[0, 604800]], "tz": "UTC"}, kind=dict)
        iv = _get(cal, "intervals", f"{w}.calendar", kind=list)
        try:
            ivn = normalize_intervals(iv)
        except (TypeError, ValueError):
            raise _err(f"{w}.calendar.intervals", "a list of [start_s, end_s] pairs within the week", iv) from None
        if not ivn:
            raise _err(f"{w}.calendar.intervals", "at least one working interval", iv)
        mcal = _get(p, "member_calendars", w, default={}, kind=dict) or {}
        miv = []
        for mname, mi in mcal.items():
            try:
                mn = normalize_intervals(mi)
            except (TypeError, ValueError):
                raise _err(f"{w}.member_calendars.{mname}", "a list of [start_s, end_s] pairs within the week", mi) from None
            if not mn:
                raise _err(f"{w}.member_calendars.{mname}", "at least one working interval", mi)
            if str(mname) not in [str(x) for x in members]:
                raise _err(f"{w}.member_calendars.{mname}", f"a member of the pool {members[:8]}", mname)
            miv.append((str(mname), mn))
        pools.append(Pool(str(_get(p, "name", w, kind=str)), tuple(str(m) for m in members), ivn,
                          str(_get(cal, "tz", f"{w}.calendar", default="UTC")), tuple(miv)))
    acts = []
    for i, a in enumerate(_get(doc, "activities", "(top level)", kind=list)):
        w = f"activities[{i}]"
        name = _get(a, "name", w, kind=str)
        w = f"activities[{name!r}]"
        br = _get(a, "by_resource", w, default={}, kind=dict) or {}
        delay = _get(a, "delay", w, default=None)
        da = _get(a, "delay_after", w, default={}, kind=dict) or {}
        acts.append(Activity(
            name=name,
            pool=_get(a, "pool", w, default=None, kind=str),
            duration=_dist(_get(a, "duration", w), f"{w}.duration"),
            by_resource=tuple((str(r), _dist(d, f"{w}.by_resource.{r}")) for r, d in br.items()),
            delay=None if delay is None else _dist(delay, f"{w}.delay"),
            delay_after=tuple((str(pn), _dist(dd, f"{w}.delay_after.{pn}")) for pn, dd in da.items()),
            release=_release(_get(a, "release", w, default=[], kind=list) or [], f"{w}.release"),
        ))
    routing = []
    for i, r in enumerate(_get(doc, "routing", "(top level)", kind=list)):
        w = f"routing[{i}]"
        rules = []
        for j, u in enumerate(_get(r, "rules", w, default=[], kind=list) or []):
            wu = f"{w}.rules[{j}]"
            op = _get(u, "op", wu)
            if op not in _OPS:
                raise _err(f"{wu}.op", f"one of {_OPS}", op)
            rules.append(Rule(str(_get(u, "attribute", wu, kind=str)), op, _get(u, "value", wu), _probs(_get(u, "next", wu), f"{wu}.next")))
        after = _get(r, "after", w, default={}, kind=dict) or {}
        routing.append(Routing(str(_get(r, "source", w, kind=str)), _probs(_get(r, "next", w), f"{w}.next"), tuple(rules),
                               tuple((str(pv), _probs(t, f"{w}.after.{pv}")) for pv, t in after.items())))
    attrs = _get(doc, "attributes", "(top level)", default={"names": [], "rows": []}, kind=dict)
    names = tuple(str(n) for n in _get(attrs, "names", "attributes", default=[], kind=list))
    rows = _get(attrs, "rows", "attributes", default=[], kind=list)
    for j, row in enumerate(rows):
        if not isinstance(row, list) or len(row) != len(names):
            raise _err(f"attributes.rows[{j}]", f"a list of {len(names)} values", row)
    q = _get(doc, "queue", "(top level)", default={}, kind=dict)
    disc = q.get("discipline", "fifo")
    if disc not in ("fifo", "priority"):
        raise _err("queue.discipline", "'fifo' or 'priority'", disc)
    queue = Queue(disc, q.get("attribute"), tuple(q.get("order") or ()))
    start = doc.get("start")
    try:
        start_ts = None if start is None else pd.Timestamp(start)
    except (TypeError, ValueError):
        raise _err("start", "an ISO 8601 timestamp", start) from None
    if start_ts is not None and start_ts.tzinfo is None:
        start_ts = start_ts.tz_localize("UTC")
    tr = _get(doc, "traces", "(top level)", default={}, kind=dict) or {}
    variants = tuple(tuple(str(a) for a in v) for v in _get(tr, "variants", "traces", default=[], kind=list))
    cases = _get(tr, "cases", "traces", default=[], kind=list)
    weights = _get(tr, "weights", "traces", default=[], kind=list)
    if variants:
        if not cases or not all(isinstance(c, int) and 0 <= c < len(variants) for c in cases):
            raise _err("traces.cases", f"variant indices 0..{len(variants) - 1}", cases)
        if len(weights) != len(cases) or not all(isinstance(x, (int, float)) and x >= 0 for x in weights) or sum(weights) <= 0:
            raise _err("traces.weights", f"{len(cases)} non-negative numbers, not all zero", weights)
    known = {a.name for a in acts}
    for j, v in enumerate(variants):
        for a in v:
            if a not in known:
                raise _err(f"traces.variants[{j}]", "names of the model's activities", a)
    ranks = _get(tr, "ranks", "traces", default=[], kind=list) or []
    if ranks:
        ok = len(ranks) == len(cases) and all(
            isinstance(r, list) and len(r) == len(variants[c]) and all(isinstance(x, (int, float)) and 0 <= x <= 1 for x in r)
            for r, c in zip(ranks, cases))
        if not ok:
            raise _err("traces.ranks", "one list per case, a number in [0, 1] per step of its variant", ranks)
    traces = Traces(variants, tuple(cases), tuple(float(x) for x in weights),
                    tuple((str(k), str(v)) for k, v in (_get(tr, "fitted", "traces", default={}, kind=dict) or {}).items()),
                    tuple(tuple(float(x) for x in r) for r in ranks))
    return SimulationModel(
        activities=tuple(acts), routing=tuple(routing), pools=tuple(pools), arrivals=arrivals,
        attributes=CaseAttributes(names, tuple(tuple(r) for r in rows)), queue=queue, start=start_ts,
        notes=tuple(str(n) for n in doc.get("notes") or ()), traces=traces,
    )


def _check(m: SimulationModel) -> None:
    """Cross-field consistency: every name referenced exists, probabilities sum to 1."""
    names = [a.name for a in m.activities]
    if not names:
        raise _err("activities", "at least one activity", [])
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise _err("activities", "unique activity names", dup)
    pool_names = [p.name for p in m.pools]
    if len(set(pool_names)) != len(pool_names):
        raise _err("pools", "unique pool names", pool_names)
    for p in m.pools:
        if p.size < 1:
            raise _err(f"pools[{p.name!r}].members", "at least one member", list(p.members))
    known = set(names)
    for a in m.activities:
        for pn, _ in a.delay_after:
            if pn not in names:
                raise _err(f"activities[{a.name!r}].delay_after", f"names of activities {names[:8]}", pn)
        if a.pool is not None and a.pool not in pool_names:
            raise _err(f"activities[{a.name!r}].pool", f"one of the pools {pool_names} or null", a.pool)
    sources = set()
    for i, r in enumerate(m.routing):
        w = f"routing[{i}]"
        if r.source != START and r.source not in known:
            from .._validation import closest

            hint = closest(r.source, names)
            raise ModelError(f"model field {w}.source: unknown activity {r.source!r}"
                             f"{'; did you mean ' + repr(hint[0]) if hint else ''}. Available: {names[:12]}.")
        if r.source in sources:
            raise _err(f"{w}.source", "one routing entry per source", r.source)
        sources.add(r.source)
        for pv, _ in r.after:
            if pv != START and pv not in known:
                raise _err(f"{w}.after", f"names of activities or {START!r}", pv)
        tabs = [(r.next, f"{w}.next")] + [(u.next, f"{w}.rules[{j}].next") for j, u in enumerate(r.rules)]
        tabs += [(t, f"{w}.after.{pv}") for pv, t in r.after]
        for tab, wt in tabs:
            for t, _ in tab:
                if t != END and t not in known:
                    from .._validation import closest

                    hint = closest(t, names)
                    raise ModelError(f"model field {wt}: unknown activity {t!r}"
                                     f"{'; did you mean ' + repr(hint[0]) if hint else ''}. Available: {names[:12]}.")
            s = sum(p for _, p in tab)
            if not math.isclose(s, 1.0, abs_tol=1e-6):
                raise _err(wt, "probabilities summing to 1", round(s, 6))
    if START not in sources:
        raise _err("routing", f"an entry with source {START!r} (the first activities)", sorted(sources))
    if m.queue.discipline == "priority" and not m.queue.attribute:
        raise _err("queue.attribute", "an attribute name for priority queues", m.queue.attribute)
