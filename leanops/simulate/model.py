"""The simulation model: frozen dataclasses saved as versioned, documented JSON.

JSON layout (``format: "leanops.simulation_model"``, ``version: 2``; version-1 files,
which have no ``traces``, load unchanged)::

    {
      "format": "leanops.simulation_model", "version": 2,
      "start": "2024-03-01T00:00:00+00:00",      # default first arrival of a simulation
      "arrivals": {"interarrival": DIST,          # in rate-weighted seconds (see Arrivals)
                   "profile": [168 floats],       # relative arrival rate per hour of week, mean 1
                   "tz": "UTC",
                   "basis": "first_start"},       # optional: fit's arrivals are the logged first starts
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
      "trust": {"log_cycle_time_mean_s": 2160.0,  # optional (fit): the baseline against the log
                "simulated_cycle_time_mean_s": 2340.0, "ratio": 1.08, "ok": true, "statement": "..."},
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
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from ..errors import InputError, ModelError
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
    #: what an arrival stands for: "arrival" (a case enters, as in a hand-built model) or
    #: "first_start" (``fit``: a log shows a case only from its first start, so the fitted
    #: arrivals are those starts and cycle times count from the first start, as in the log)
    basis: str = "arrival"

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
    #: how far to trust the baseline (set by ``fit``): the log's and the simulated mean
    #: cycle time, their ratio, ``ok`` and a one-line ``statement``
    trust: dict[str, Any] | None = field(default=None, compare=False)

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
        if self.trust:
            lines.append(f"trust: {self.trust.get('statement', '')}")
        return "\n".join(lines)

    def brief(self, *, max_lines: int = 15) -> str:
        """What ``leanops fit`` prints: at most ``max_lines`` lines, numbers rounded.

        The largest pools, the slowest activities, what fit could not learn (calendar
        fallbacks, thin data) and how far to trust the baseline; ``summary()`` and the
        model JSON hold everything.
        """
        from .._format import duration

        flat = max(self.arrivals.profile) - min(self.arrivals.profile) < 1e-9
        lines = [
            f"simulation model: {len(self.activities)} activities, {len(self.pools)} pools, "
            f"{sum(p.size for p in self.pools)} resources"
            + (f", routing by whole routes of {len(self.traces.cases):,} recent cases" if self.traces.variants else ""),
            f"arrivals: one every {duration(self.arrivals.mean_interarrival_s)} on average "
            f"({self.arrivals.interarrival.kind}, {'flat' if flat else 'weekly profile'})",
        ]
        pools = sorted(self.pools, key=lambda p: -p.size)
        shown = ", ".join(f"{p.name} ({p.size}, {_short_hours(p)})" for p in pools[:3])
        lines.append(f"pools: {shown}" + (f" and {len(pools) - 3} more" if len(pools) > 3 else ""))
        slow = sorted(self.activities, key=lambda a: -(a.duration.mean + (a.delay.mean if a.delay else 0.0)))[:3]
        lines.append("slowest steps: " + ", ".join(
            f"{a.name} {duration(a.duration.mean)}" + (f" + {duration(a.delay.mean)} delay" if a.delay else "") for a in slow))
        n_rules = sum(len(r.rules) for r in self.routing)
        if n_rules:
            lines.append(f"routing rules on case attributes: {n_rules}")
        if self.queue.discipline == "priority":
            lines.append(f"queue: priority by {self.queue.attribute} {list(self.queue.order)}")
        keys = ("too little evidence", "too few observations", "restate the path", "delays calibrated", "recency:")
        for n in self.notes:
            if any(k in n for k in keys):
                lines.append(n if len(n) <= 160 else n[:157] + "...")
        if self.trust:
            lines.append(f"trust: {self.trust.get('statement', '')}")
        extra = len(lines) - (max_lines - 1)
        if extra > 0:
            lines = lines[: max_lines - 1]
        lines.append(f"{len(self.notes)} notes in full: leanops fit --json, or model.summary()")
        return "\n".join(lines[:max_lines])

    def to_summary(self) -> dict[str, Any]:
        """A JSON-ready digest (what ``leanops fit --json`` prints)."""
        return {
            "activities": [
                {"activity": a.name, "pool": a.pool, "duration": a.duration.kind, "duration_mean_s": round(a.duration.mean, 1),
                 "per_resource": [r for r, _ in a.by_resource]}
                for a in self.activities
            ],
            "pools": [{"name": p.name, "size": p.size, "members": list(p.members), "hours": p.hours} for p in self.pools],
            "arrivals": {"interarrival": self.arrivals.interarrival.kind,
                         "mean_interarrival_s": round(self.arrivals.mean_interarrival_s, 1),
                         "weekly_profile": max(self.arrivals.profile) - min(self.arrivals.profile) > 1e-9,
                         "tz": self.arrivals.tz},
            "rules": [{"after": r.source, "attribute": u.attribute, "op": u.op, "value": u.value,
                       "next": {k: round(v, 4) for k, v in u.next}}
                      for r in self.routing for u in r.rules],
            "attributes": list(self.attributes.names),
            "queue": self.queue.discipline,
            "start": None if self.start is None else pd.Timestamp(self.start).isoformat(),
            "notes": list(self.notes),
            **({"trust": dict(self.trust)} if self.trust else {}),
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
                **({"basis": self.arrivals.basis} if self.arrivals.basis != "arrival" else {}),
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
            **({"trust": dict(self.trust)} if self.trust else {}),
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
        from .._files import atomic_path  # the one output writer: atomic, never over an input

        text = self.to_json()
        with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as f:
            f.write(text)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> "SimulationModel":
        """Read a model saved by :meth:`save`; a bad file raises ModelError naming the field."""
        from .._yaml import load_json  # depth and size limits: a tampered file fails in one line

        try:
            doc = load_json(Path(path), what="model file")
        except InputError as exc:
            msg = str(exc)
            if "not valid JSON" in msg:
                msg = msg.rstrip(".") + "; save models with SimulationModel.save or 'leanops fit'."
            raise ModelError(msg) from None
        return cls.from_dict(doc)

    @classmethod
    def from_dict(cls, doc: Any) -> "SimulationModel":
        """Check and read the JSON form; ModelError names the first bad field."""
        return _from_dict(doc)


def _short_hours(p: "Pool") -> str:
    """A pool's hours in a few characters: 24/7, 'Mon-Fri 09:00-17:00', or 'N h/week'."""
    if p.intervals == ((0, 604800),):
        return "24/7"
    days = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    spans = {}
    for a, b in p.intervals:
        d = int(a // 86400)
        if int((b - 1) // 86400) != d or d in spans:
            spans = {}
            break
        spans[d] = (a - d * 86400, b - d * 86400)
    if spans and len(set(spans.values())) == 1:
        ds = sorted(spans)
        if ds == list(range(ds[0], ds[-1] + 1)):
            a, b = next(iter(spans.values()))
            rng = days[ds[0]] if len(ds) == 1 else f"{days[ds[0]]}-{days[ds[-1]]}"
            return f"{rng} {a // 3600:02.0f}:{a % 3600 // 60:02.0f}-{b // 3600:02.0f}:{b % 3600 // 60:02.0f}"
    return f"{sum(b - a for a, b in p.intervals) / 3600:.0f} h/week"


def _plain(v: Any) -> Any:
    """A JSON-ready plain value: numpy scalars to Python, timestamps to ISO, NaN to None."""
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
    basis = arr.get("basis", "arrival")
    if basis not in ("arrival", "first_start"):
        raise _err("arrivals.basis", "'arrival' or 'first_start'", basis)
    arrivals = Arrivals(_dist(_get(arr, "interarrival", "arrivals"), "arrivals.interarrival"),
                        tuple(float(x) for x in profile), str(_get(arr, "tz", "arrivals", default="UTC")), basis)
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
    start_ts = None if start is None else check_start(start)
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
    m = SimulationModel(
        activities=tuple(acts), routing=tuple(routing), pools=tuple(pools), arrivals=arrivals,
        attributes=CaseAttributes(names, tuple(tuple(r) for r in rows)), queue=queue, start=start_ts,
        notes=tuple(str(n) for n in doc.get("notes") or ()), traces=traces,
        trust=dict(doc["trust"]) if isinstance(doc.get("trust"), dict) else None,
    )
    stuck, ends = stuck_steps(m)
    if stuck or not ends:
        what = f"from {stuck[0]!r}" if stuck else f"from {START!r}"
        raise ModelError(f"model field routing: no case can reach the end {what} (a self-loop or cycle with "
                         "probability 1); give it a probability > 0 to '__end__' or to a step that leads there.")
    return m


# -- value domains and reachability (the one model validator; scenarios use it too) ---------

#: Durations and inter-arrival means above this many seconds (~317 years) would carry a
#: simulation past the last timestamp pandas can hold (2262).
MAX_SECONDS = 1e10
#: First arrivals must lie in this range: the simulated timeline runs forward from there.
START_RANGE = (pd.Timestamp("1900-01-01", tz="UTC"), pd.Timestamp("2200-01-01", tz="UTC"))

_POSITIVE_SHAPE = {"gamma": "shape", "weibull": "shape"}


def check_distribution(d: Distribution, where: str) -> None:
    """Every parameter of ``d`` in its domain (ModelError naming ``where`` otherwise).

    Scales, standard deviations and values must be >= 0, shapes > 0, uniform bounds
    ordered, ``low <= high``, and the mean at most :data:`MAX_SECONDS`.
    """
    k, p = d.kind, d.params

    def bad(what: str, got: Any) -> ModelError:
        return _err(f"{where}.params" if what != "values" else f"{where}.values", what, got)

    if k in ("fixed", "exponential") and p[0] < 0:
        raise bad(f"a {'value' if k == 'fixed' else 'mean'} >= 0 seconds", list(p))
    if k == "lognormal" and p[1] < 0:
        raise bad("[mu, sigma] with sigma >= 0", list(p))
    if k in ("gamma", "weibull") and (p[0] <= 0 or p[1] < 0):
        raise bad("[shape, scale] with shape > 0 and scale >= 0", list(p))
    if k == "normal" and p[1] < 0:
        raise bad("[mean, std] with std >= 0", list(p))
    if k == "uniform" and not (0 <= p[0] <= p[1]):
        raise bad("[low, high] with 0 <= low <= high", list(p))
    if k == "empirical" and min(d.values) < 0:
        raise bad("values >= 0 seconds", min(d.values))
    if not (0 <= d.low <= d.high) or math.isnan(d.high):
        raise _err(f"{where}.low/high", "0 <= low <= high", [d.low, d.high])
    try:
        mean = d.mean
    except (OverflowError, ValueError):
        mean = math.inf
    if not (mean <= MAX_SECONDS):
        raise _err(where, f"a mean of at most {MAX_SECONDS:.0e} seconds (~317 years)", mean)


def _check_tz_name(tz: str, where: str) -> None:
    # accepted exactly when the engine's conversion accepts it (IANA names, fixed offsets)
    try:
        pd.Timestamp(0, tz="UTC").tz_convert(str(tz))
    except Exception:  # unknown names raise KeyError or ValueError subclasses, by tz library
        raise _err(where, "an IANA time-zone name such as 'UTC' or 'Europe/Amsterdam'", tz) from None


def check_start(ts: Any, where: str = "start") -> pd.Timestamp:
    """A first arrival as a UTC Timestamp within :data:`START_RANGE` (ModelError otherwise)."""
    try:
        t = pd.Timestamp(ts)
    except (TypeError, ValueError, OverflowError):
        raise _err(where, "an ISO 8601 timestamp between 1900 and 2200", ts) from None
    if t is pd.NaT:
        raise _err(where, "an ISO 8601 timestamp between 1900 and 2200", ts)
    t = t.tz_localize("UTC") if t.tzinfo is None else t
    if not START_RANGE[0] <= t < START_RANGE[1]:
        raise _err(where, "an ISO 8601 timestamp between 1900 and 2200", str(ts))
    return t


def _closure(start: str, edges: dict[str, set[str]]) -> set[str]:
    """Every node reachable from ``start`` along ``edges`` (not ``start`` itself unless on a cycle)."""
    seen: set[str] = set()
    stack = [start]
    while stack:
        for t in edges.get(stack.pop(), ()):
            if t not in seen:
                seen.add(t)
                stack.append(t)
    return seen


def stuck_steps(m: "SimulationModel") -> tuple[list[str], bool]:
    """Activities a case can reach but never leave towards the end, and whether the end is
    reachable from the start at all (routing entries with probability > 0)."""
    names = m.activity_names
    succ: dict[str, set[str]] = {n: {END} for n in names}  # an activity without routing ends the case
    for r in m.routing:
        tabs = [r.next] + [u.next for u in r.rules] + [t for _, t in r.after]
        succ[r.source] = {t for tab in tabs for t, p in tab if p > 0}
    pred: dict[str, set[str]] = {}
    for s, ts in succ.items():
        for t in ts:
            pred.setdefault(t, set()).add(s)
    reach, can_end = _closure(START, succ), _closure(END, pred) | {END}
    return sorted(a for a in reach if a != END and a not in can_end), END in reach


def _check_values(m: "SimulationModel") -> None:
    """Domains of every distribution parameter, time-zone name and timestamp."""
    check_distribution(m.arrivals.interarrival, "arrivals.interarrival")
    if m.arrivals.interarrival.mean <= 0:
        raise _err("arrivals.interarrival", "a mean > 0 seconds between arrivals", m.arrivals.interarrival.mean)
    _check_tz_name(m.arrivals.tz, "arrivals.tz")
    for a in m.activities:
        w = f"activities[{a.name!r}]"
        check_distribution(a.duration, f"{w}.duration")
        for r, d in a.by_resource:
            check_distribution(d, f"{w}.by_resource.{r}")
        if a.delay is not None:
            check_distribution(a.delay, f"{w}.delay")
        for pn, d in a.delay_after:
            check_distribution(d, f"{w}.delay_after.{pn}")
    for p in m.pools:
        _check_tz_name(p.tz, f"pools[{p.name!r}].calendar.tz")
    if m.start is not None:
        check_start(m.start)


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
    _check_values(m)
    if m.queue.discipline == "priority" and not m.queue.attribute:
        raise _err("queue.attribute", "an attribute name for priority queues", m.queue.attribute)
