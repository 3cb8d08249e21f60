"""SOP change scenarios: pure functions ``SimulationModel -> SimulationModel``.

A scenario is a name and a list of changes, written in YAML (read with ``yaml.safe_load``)
or given as the same structure of Python objects (DESIGN.md)::

    name: one more reviewer, automated notification
    changes:
      - add_resources: {activity: Review, count: 1}
      - scale_duration: {activity: Triage, factor: 0.7}
      - automate: {activity: Notify, duration: 30s}
      - remove_activity: {activity: Double check}
      - set_routing: {from: Decision, to: {Rework: 0.05, Notify: 0.95}}
      - arrivals: {factor: 1.2}
      - calendar: {activity: Review, hours: "Mon-Fri 08:00-18:00"}
      - priority: {attribute: priority, order: [high, low]}

The changes apply in order, each to the model the previous one produced, and each is
checked against that model: an unknown activity names the closest ones, routing
probabilities must sum to 1, and no change may leave a case without a way to the end.
Errors are :class:`~leanops.ScenarioError`, one line naming the scenario and the change.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .._durations import parse_duration
from .._files import is_yaml_path, read_yaml
from .._validation import closest
from ..errors import InputError, ModelError, ScenarioError
from ._limits import check_pool_size
from .distributions import Distribution
from .model import END, START, Activity, Queue, Routing, SimulationModel, stuck_steps

__all__ = ["Scenario", "Change", "CHANGES", "load_scenarios", "scenario", "apply_scenario"]

CHANGES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # kind: (required keys, optional keys)
    "add_resources": (("activity",), ("count",)),
    "scale_duration": (("activity", "factor"), ()),
    "automate": (("activity",), ("duration",)),
    "remove_activity": (("activity",), ()),
    "set_routing": (("from", "to"), ()),
    "arrivals": (("factor",), ()),
    "calendar": (("activity", "hours"), ("tz",)),
    "priority": (("attribute", "order"), ()),
}
_END_NAMES = ("__end__", "end", "END", "End")


@dataclass(frozen=True)
class Change:
    """One SOP change: its kind (a key of :data:`CHANGES`) and its arguments."""

    kind: str
    args: tuple[tuple[str, Any], ...]

    def get(self, key: str, default: Any = None) -> Any:
        return dict(self.args).get(key, default)

    def describe(self) -> str:
        """The change as a readable line."""
        inner = ", ".join(f"{k}: {_short(v)}" for k, v in self.args)
        return f"{self.kind} {{{inner}}}"

    def to_dict(self) -> dict[str, Any]:
        """The change in its YAML structure."""
        return {self.kind: {k: _plain(v) for k, v in self.args}}


@dataclass(frozen=True)
class Scenario:
    """A named, ordered list of :class:`Change`; ``scenario.apply(model)`` gives the new model."""

    name: str
    changes: tuple[Change, ...]

    def apply(self, model: SimulationModel) -> SimulationModel:
        """A new model with the scenario's changes applied in order."""
        return apply_scenario(model, self)

    def describe(self) -> str:
        """The scenario's changes as readable lines."""
        return "; ".join(c.describe() for c in self.changes) or "(no change)"

    def to_dict(self) -> dict[str, Any]:
        """The scenario in its YAML structure."""
        return {"name": self.name, "changes": [c.to_dict() for c in self.changes]}


def _short(v: Any) -> str:
    if isinstance(v, tuple) and v and isinstance(v[0], tuple):
        return "{" + ", ".join(f"{a}: {b:g}" if isinstance(b, float) else f"{a}: {b}" for a, b in v) + "}"
    if isinstance(v, tuple):
        return "[" + ", ".join(str(x) for x in v) + "]"
    return str(v)


def _plain(v: Any) -> Any:
    if isinstance(v, tuple) and v and all(isinstance(x, tuple) and len(x) == 2 for x in v):
        return {a: b for a, b in v}
    if isinstance(v, tuple):
        return list(v)
    return v


# -- reading ---------------------------------------------------------------------------------

def scenario(spec: Any, *, name: str | None = None) -> Scenario:
    """Read one scenario from a mapping ``{name, changes: [...]}``, a list of changes, or a
    :class:`Scenario` (returned as is).

    Examples
    --------
    >>> s = scenario({"name": "faster triage", "changes": [{"scale_duration": {"activity": "Triage", "factor": 0.7}}]})
    >>> s.name, s.changes[0].kind
    ('faster triage', 'scale_duration')
    """
    if isinstance(spec, Scenario):
        return spec
    if isinstance(spec, Mapping):
        unknown = [k for k in spec if k not in ("name", "changes", "description")]
        if unknown:
            if len(spec) == 1 and next(iter(spec)) in CHANGES:
                spec = {"changes": [dict(spec)]}  # a single change written on its own
            else:
                hint = closest(str(unknown[0]), ["name", "changes", *CHANGES])
                raise ScenarioError(f"scenario: unknown key {unknown[0]!r}"
                                    f"{'; did you mean ' + repr(hint[0]) if hint else ''}. "
                                    "A scenario is {name: ..., changes: [...]}.")
        nm = spec.get("name", name)
        changes = spec.get("changes")
    elif isinstance(spec, Sequence) and not isinstance(spec, (str, bytes)):
        nm, changes = name, spec
    else:
        raise ScenarioError(f"scenario must be a mapping {{name, changes: [...]}} or a list of changes; got {type(spec).__name__}.")
    nm = str(nm) if nm is not None else "scenario"
    if changes is None:
        changes = []
    if not isinstance(changes, Sequence) or isinstance(changes, (str, bytes)):
        raise ScenarioError(f"scenario {nm!r}: changes must be a list of changes, e.g. "
                            f"[{{add_resources: {{activity: Review, count: 1}}}}]; got {type(changes).__name__}.")
    return Scenario(nm, tuple(_change(c, nm, i) for i, c in enumerate(changes, 1)))


def _change(c: Any, nm: str, i: int) -> Change:
    where = f"scenario {nm!r}, change {i}"
    if isinstance(c, Change):
        return c
    if not isinstance(c, Mapping) or len(c) != 1:
        raise ScenarioError(f"{where}: expected one mapping such as {{scale_duration: {{activity: A, factor: 0.7}}}}; got {c!r}.")
    kind, args = next(iter(c.items()))
    if kind not in CHANGES:
        hint = closest(str(kind), list(CHANGES))
        raise ScenarioError(f"{where}: unknown change {kind!r}"
                            f"{'; did you mean ' + repr(hint[0]) + '?' if hint else '.'} Changes: {', '.join(CHANGES)}.")
    if not isinstance(args, Mapping):
        raise ScenarioError(f"{where} ({kind}): expected a mapping of arguments, e.g. {kind}: {{activity: A}}; got {args!r}.")
    required, optional = CHANGES[kind]
    for k in args:
        if k not in required + optional:
            hint = closest(str(k), list(required + optional))
            raise ScenarioError(f"{where} ({kind}): unknown argument {k!r}"
                                f"{'; did you mean ' + repr(hint[0]) + '?' if hint else '.'} It takes {', '.join(required + optional)}.")
    for k in required:
        if k not in args:
            raise ScenarioError(f"{where} ({kind}): the argument {k!r} is missing; {kind} takes {', '.join(required + optional)}.")
    out = []
    for k, v in args.items():
        if isinstance(v, Mapping):
            v = tuple((str(a), b) for a, b in v.items())
        elif isinstance(v, list):
            v = tuple(v)
        out.append((str(k), v))
    return Change(str(kind), tuple(out))


def load_scenarios(source: Any) -> list[Scenario]:
    """Scenarios from a YAML file path, YAML text, a mapping, or a list of them.

    A YAML document holds one scenario ``{name, changes}`` or a list of them. A file's
    scenarios without a name are named after the file.

    Examples
    --------
    >>> [s.name for s in load_scenarios("name: more staff\\nchanges:\\n  - add_resources: {activity: Review}")]
    ['more staff']
    """
    if isinstance(source, Scenario):
        return [source]
    if is_yaml_path(source) or isinstance(source, str):
        # the one YAML reader (leanops._files.read_yaml): size checked before reading
        doc, _ = read_yaml(source, what="scenario", shape="{name: ..., changes: [...]}", error=ScenarioError)
        default = os.path.splitext(os.path.basename(os.fspath(source)))[0] if is_yaml_path(source) else None
        return _from_doc(doc, default)
    if isinstance(source, Mapping):
        return [scenario(source)]
    if isinstance(source, Sequence) and not isinstance(source, (str, bytes)):
        out: list[Scenario] = []
        for s in source:
            out.extend(load_scenarios(s))
        return out
    raise ScenarioError(f"scenarios must be YAML (a path or text), a mapping or a Scenario; got {type(source).__name__}.")


def _from_doc(doc: Any, default: str | None) -> list[Scenario]:
    if doc is None:
        raise ScenarioError(f"scenario {default or 'text'!r} is empty; write {{name: ..., changes: [...]}}.")
    if isinstance(doc, list) and doc and all(isinstance(d, Mapping) and "changes" in d for d in doc):
        return [scenario(d, name=f"{default or 'scenario'} {i}") for i, d in enumerate(doc, 1)]
    return [scenario(doc, name=default)]


# -- applying --------------------------------------------------------------------------------

def apply_scenario(model: SimulationModel, spec: Any) -> SimulationModel:
    """Apply a scenario's changes in order; the model passed in is left as it was.

    Examples
    --------
    >>> import leanops
    >>> from leanops import simulate
    >>> m = simulate.fit(leanops.datasets.load("purchasing_example"))
    >>> act = m.activities[0].name
    >>> m2 = apply_scenario(m, {"changes": [{"scale_duration": {"activity": act, "factor": 0.5}}]})
    >>> round(m2.activity(act).duration.mean / m.activity(act).duration.mean, 6)
    0.5
    """
    sc = scenario(spec)
    m = model
    for i, ch in enumerate(sc.changes, 1):
        where = f"scenario {sc.name!r}, change {i} ({ch.kind})"
        try:
            m = _APPLY[ch.kind](m, ch, where)
        except ModelError as exc:
            raise ScenarioError(f"{where}: the changed model is inconsistent: {exc}") from None
        _check_ends(m, where)
    return m


def _activity(m: SimulationModel, name: Any, where: str) -> Activity:
    for a in m.activities:
        if a.name == name:
            return a
    names = m.activity_names
    hint = closest(str(name), names)
    tip = f" Did you mean {', '.join(repr(h) for h in hint)}?" if hint else ""
    raise ScenarioError(f"{where}: unknown activity {name!r}.{tip} Activities: {', '.join(repr(n) for n in names[:12])}"
                        f"{' …' if len(names) > 12 else ''}.")


def _number(v: Any, what: str, where: str, *, positive: bool = True, integer: bool = False) -> float:
    ok = isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
    if ok and integer and int(v) != v:
        ok = False
    if ok and positive and v <= 0:
        ok = False
    if not ok:
        kind = "an integer" if integer else "a number"
        raise ScenarioError(f"{where}: {what} must be {kind}{' > 0' if positive else ''}; got {v!r}.")
    return float(v)


def _add_resources(m: SimulationModel, ch: Change, where: str) -> SimulationModel:
    a = _activity(m, ch.get("activity"), where)
    count = int(_number(ch.get("count", 1), "count", where, positive=False, integer=True))
    if a.pool is None:
        raise ScenarioError(f"{where}: activity {a.name!r} needs no resource (automated or unassigned), "
                            "so there is no pool to add to; remove this change.")
    p = m.pool(a.pool)
    if p.size + count < 1:
        raise ScenarioError(f"{where}: the pool doing {a.name!r} has {p.size} members; count {count} would leave none.")
    check_pool_size(p.size + count, where=where)  # a count of 1e9 would build a billion member names
    return m.with_pool(p.name, size=p.size + count)


def _scale_duration(m: SimulationModel, ch: Change, where: str) -> SimulationModel:
    a = _activity(m, ch.get("activity"), where)
    f = _number(ch.get("factor"), "factor", where)
    return m.with_activity(a.name, duration=a.duration.scaled(f),
                           by_resource=tuple((r, d.scaled(f)) for r, d in a.by_resource))


def _automate(m: SimulationModel, ch: Change, where: str) -> SimulationModel:
    a = _activity(m, ch.get("activity"), where)
    d = parse_duration(ch.get("duration", 0), name=f"{where}: duration", error=ScenarioError)
    return m.with_activity(a.name, pool=None, duration=Distribution.fixed(d), by_resource=())


def _substitute(tab: tuple[tuple[str, float], ...], x: str, repl: dict[str, float]) -> tuple[tuple[str, float], ...]:
    """Replace target ``x`` in a probability table by ``x``'s own successors."""
    px = sum(p for t, p in tab if t == x)
    if px == 0:
        return tab
    out: dict[str, float] = {}
    for t, p in tab:
        if t != x:
            out[t] = out.get(t, 0.0) + p
    for t, p in repl.items():
        out[t] = out.get(t, 0.0) + px * p
    s = sum(out.values())
    return tuple((t, p / s) for t, p in out.items() if p > 0)


def _remove_activity(m: SimulationModel, ch: Change, where: str) -> SimulationModel:
    a = _activity(m, ch.get("activity"), where)
    x = a.name
    if len(m.activities) == 1:
        raise ScenarioError(f"{where}: {x!r} is the only activity; removing it leaves no process.")
    own = next((r for r in m.routing if r.source == x), None)
    nxt = dict(own.next) if own is not None else {END: 1.0}
    loop = nxt.pop(x, 0.0)
    if not nxt or sum(nxt.values()) <= 0:
        raise ScenarioError(f"{where}: {x!r} only leads back to itself; removing it removes the only path to the end.")
    s = sum(nxt.values())
    repl = {t: p / s for t, p in nxt.items()}
    del loop
    routing = []
    for r in m.routing:
        if r.source == x:
            continue
        rules = tuple(dataclasses.replace(u, next=_substitute(u.next, x, repl)) for u in r.rules)
        after = tuple((pv, _substitute(t, x, repl)) for pv, t in r.after if pv != x)
        routing.append(Routing(r.source, _substitute(r.next, x, repl), rules, after))
    acts = tuple(dataclasses.replace(b, delay_after=tuple((pv, d) for pv, d in b.delay_after if pv != x))
                 for b in m.activities if b.name != x)
    return dataclasses.replace(m, activities=acts, routing=tuple(routing))


def _target(m: SimulationModel, t: Any, where: str) -> str:
    names = m.activity_names
    if t in names:
        return str(t)
    if t in _END_NAMES:
        return END
    hint = closest(str(t), names + ["end"])
    tip = f" Did you mean {', '.join(repr(h) for h in hint)}?" if hint else ""
    raise ScenarioError(f"{where}: unknown activity {t!r}.{tip} Activities: {', '.join(repr(n) for n in names[:12])}, or 'end'.")


def _set_routing(m: SimulationModel, ch: Change, where: str) -> SimulationModel:
    src = ch.get("from")
    if src in ("__start__", "start") and src not in m.activity_names:
        src = START
    else:
        src = _activity(m, src, where).name
    to = ch.get("to")
    if not isinstance(to, tuple) or not to or not all(isinstance(x, tuple) for x in to):
        raise ScenarioError(f"{where}: to must be a mapping {{activity: probability}}; got {_plain(to)!r}.")
    tab = []
    for t, p in to:
        tt = _target(m, t, where)
        if not isinstance(p, (int, float)) or isinstance(p, bool) or not (0 <= p <= 1):
            raise ScenarioError(f"{where}: the probability of {t!r} must be a number in [0, 1]; got {p!r}.")
        tab.append((tt, float(p)))
    s = sum(p for _, p in tab)
    if not math.isclose(s, 1.0, abs_tol=1e-6):
        raise ScenarioError(f"{where}: the probabilities from {ch.get('from')!r} sum to {s:.6g}, not 1; "
                            "make them add up to 1 (use 'end' for cases that finish).")
    new = Routing(src, tuple(tab))
    routing = tuple(new if r.source == src else r for r in m.routing)
    if all(r.source != src for r in m.routing):
        routing = routing + (new,)
    return dataclasses.replace(m, routing=routing)


def _arrivals(m: SimulationModel, ch: Change, where: str) -> SimulationModel:
    f = _number(ch.get("factor"), "factor", where)
    arr = dataclasses.replace(m.arrivals, interarrival=m.arrivals.interarrival.scaled(1.0 / f))
    return dataclasses.replace(m, arrivals=arr)


def _calendar(m: SimulationModel, ch: Change, where: str) -> SimulationModel:
    from ..calendar import Calendar
    from ._calendar import normalize_intervals

    a = _activity(m, ch.get("activity"), where)
    if a.pool is None:
        raise ScenarioError(f"{where}: activity {a.name!r} needs no resource, so it has no working hours to set.")
    p = m.pool(a.pool)
    tz = ch.get("tz", p.tz)
    try:
        cal = Calendar.parse(ch.get("hours"), tz=str(tz))
    except InputError as exc:
        raise ScenarioError(f"{where}: {exc}") from None
    return m.with_pool(p.name, intervals=normalize_intervals(cal.intervals), tz=cal.tz, member_intervals=())


def _priority(m: SimulationModel, ch: Change, where: str) -> SimulationModel:
    attr = ch.get("attribute")
    names = list(m.attributes.names)
    if attr not in names:
        hint = closest(str(attr), names)
        tip = f" Did you mean {', '.join(repr(h) for h in hint)}?" if hint else ""
        raise ScenarioError(f"{where}: {attr!r} is not a case attribute of the model.{tip} "
                            f"Attributes: {', '.join(repr(n) for n in names) or '(none)'}.")
    order = ch.get("order")
    if not isinstance(order, tuple) or not order:
        raise ScenarioError(f"{where}: order must be a list of values, first served first; got {order!r}.")
    j = names.index(attr)
    seen = {r[j] for r in m.attributes.rows}
    missing = [v for v in order if v not in seen]
    if len(missing) == len(order):
        shown = sorted(map(str, seen))[:8]
        raise ScenarioError(f"{where}: none of {list(order)} is a value of {attr!r}; values: {shown}.")
    return dataclasses.replace(m, queue=Queue("priority", str(attr), tuple(order)))


_APPLY = {
    "add_resources": _add_resources,
    "scale_duration": _scale_duration,
    "automate": _automate,
    "remove_activity": _remove_activity,
    "set_routing": _set_routing,
    "arrivals": _arrivals,
    "calendar": _calendar,
    "priority": _priority,
}


def _check_ends(m: SimulationModel, where: str) -> None:
    """Every activity a case can reach must still have a way to the end."""
    stuck, ends = stuck_steps(m)
    if not ends or stuck:
        what = f"from {stuck[0]!r}" if stuck else "from the start"
        raise ScenarioError(f"{where}: this removes the only path to the end ({what} no case can finish); "
                            "route those cases to an activity that leads to the end, or to 'end'.")
