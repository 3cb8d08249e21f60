"""Standard operating procedures (SOPs) as data: read, validate and draft them.

An SOP is a YAML file (read with ``yaml.safe_load``: no tags, no Python objects) with a
name, an optional working calendar and a list of rules (DESIGN.md, "SOP files")::

    name: claims SOP v3
    calendar: "Mon-Fri 08:00-17:00"     # time limits count working time only
    pools: {managers: [Ann, Bob]}        # optional: named groups of resources
    rules:
      - required: [Triage]
      - before: [Review, Decision]       # the first Review precedes the first Decision
      - forbidden: [Manual override]
      - at_most_once: [Approve]
      - first: Register
      - last: Close
      - max_wait: {activity: Decision, after: Review, within: 4h}
      - max_duration: {activity: Review, within: 2h}
      - case_sla: {within: 5d}
      - performed_by: {activity: Approve, pool: managers}
      - four_eyes: [Review, Approve]
      - model: reference.bpmn

Every error names the rule (its position and kind), what is wrong and the fix, in one
line; unknown activities suggest the closest names in the log. A rule that lists several
activities (``required: [A, B]``) becomes one rule per activity, so that compliance is
reported per activity. Durations use :func:`leanops._durations.parse_duration`.

This module sits at the rca level: it imports from mining and rca, never the reverse.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._validation import _fmt_list, closest
from .calendar import Calendar
from .errors import InputError
from .log import EventLog
from ._durations import parse_duration

__all__ = ["SOP", "Rule", "RULE_KINDS", "read_sop", "draft_sop"]

#: Rule kinds and, for the mapping kinds, their (required, optional) arguments.
RULE_KINDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "required": ((), ()),
    "before": ((), ()),
    "forbidden": ((), ()),
    "at_most_once": ((), ()),
    "first": ((), ()),
    "last": ((), ()),
    "max_wait": (("activity", "within"), ("after", "time")),
    "max_duration": (("activity", "within"), ("time",)),
    "case_sla": (("within",), ("time",)),
    "performed_by": (("activity",), ("resources", "pool")),
    "four_eyes": ((), ()),
    "model": ((), ()),
}
ORDER_KINDS = ("required", "before", "forbidden", "at_most_once", "first", "last")
TIME_KINDS = ("max_wait", "max_duration", "case_sla")
_TOP_KEYS = ("name", "calendar", "tz", "pools", "rules", "description", "version")


@dataclass(frozen=True)
class Rule:
    """One rule of an SOP.

    Attributes
    ----------
    kind : str
        One of :data:`RULE_KINDS`.
    label : str
        How the rule is shown, e.g. ``"Review before Decision"``.
    activities : tuple of str
        The activities the rule names (in rule order: ``before`` is ``(A, B)``).
    within_s : float or None
        The time limit of a time rule, in seconds.
    time : str
        ``"working"`` (counted on the SOP's calendar) or ``"calendar"``.
    resources : tuple of str
        For ``performed_by``: the allowed resources (a pool resolved to its members).
    pool : str or None
        For ``performed_by`` with a pool.
    path : str or None
        For ``model``: the BPMN file.
    model : object
        For ``model``: a :class:`leanops.mining.models.ProcessModel` or Petri net given in Python.
    where : str
        The rule's position, for messages (``"rule 3 (before)"``).
    """

    kind: str
    label: str
    activities: tuple[str, ...] = ()
    within_s: float | None = None
    time: str = "calendar"
    resources: tuple[str, ...] = ()
    pool: str | None = None
    path: str | None = None
    model: Any = None
    where: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The rule as a JSON-ready mapping (its YAML form, normalised)."""
        k = self.kind
        if k in ("required", "forbidden", "at_most_once"):
            spec: Any = [self.activities[0]]
        elif k in ("before", "four_eyes"):
            spec = list(self.activities)
        elif k in ("first", "last"):
            spec = self.activities[0]
        elif k == "model":
            spec = self.path or "(in memory)"
        else:
            spec = {}
            if self.activities:
                spec["activity"] = self.activities[0]
            if k == "max_wait" and len(self.activities) > 1:
                spec["after"] = self.activities[1]
            if self.within_s is not None:
                spec["within"] = _dur_text(self.within_s)
            if k in TIME_KINDS:
                spec["time"] = self.time
            if self.pool:
                spec["pool"] = self.pool
            elif k == "performed_by":
                spec["resources"] = list(self.resources)
        return {k: spec}


@dataclass(frozen=True)
class SOP:
    """A standard operating procedure: a name, a calendar and rules.

    Read one with :func:`read_sop`, or propose one from a log with :func:`draft_sop`.
    """

    name: str
    rules: tuple[Rule, ...]
    calendar: Calendar | None = None
    pools: dict[str, tuple[str, ...]] = field(default_factory=dict)
    source: str | None = None

    @property
    def activities(self) -> list[str]:
        """Every activity the rules name."""
        return sorted({a for r in self.rules for a in r.activities})

    def to_dict(self) -> dict[str, Any]:
        """The SOP as a mapping that :func:`read_sop` reads back."""
        d: dict[str, Any] = {"name": self.name}
        if self.calendar is not None:
            d["calendar"] = str(self.calendar)
            if self.calendar.tz != "UTC":
                d["tz"] = self.calendar.tz
        if self.pools:
            d["pools"] = {k: list(v) for k, v in self.pools.items()}
        d["rules"] = [r.to_dict() for r in self.rules]
        return d

    def to_yaml(self) -> str:
        """The SOP as YAML text (one rule per line), ready to edit."""
        import yaml

        d = self.to_dict()
        head = yaml.safe_dump({k: v for k, v in d.items() if k != "rules"}, sort_keys=False, allow_unicode=True)
        lines = [yaml.safe_dump([r], default_flow_style=None, sort_keys=False, allow_unicode=True, width=1000).rstrip()
                 for r in d["rules"]]
        return head + "rules:\n" + "\n".join("  " + ln for ln in lines) + "\n"

    def check_activities(self, log: EventLog) -> None:
        """Raise :class:`InputError` if a rule names an activity that the log lacks.

        ``forbidden`` rules may name activities absent from the log (never seen is compliant),
        but a close spelling of a log activity is still flagged as a likely typo.
        """
        known = set(log.activities)
        for r in self.rules:
            for a in r.activities:
                if a in known:
                    continue
                hint = closest(a, log.activities)
                if r.kind == "forbidden" and not hint:
                    continue
                tip = f" Did you mean {_fmt_list(hint)}?" if hint else ""
                raise InputError(f"{self.source or 'SOP ' + repr(self.name)}, {r.where}: unknown activity {a!r}.{tip} "
                                 f"Activities in the log: {_fmt_list(sorted(known))}.")

    def __str__(self) -> str:
        cal = f", working time {self.calendar}" if self.calendar is not None else ""
        return f"SOP {self.name!r}: {len(self.rules)} rules{cal}\n" + "\n".join(f"  - {r.label}" for r in self.rules)

    def __repr__(self) -> str:
        return f"<SOP {self.name!r}: {len(self.rules)} rules>"


# ------------------------------------------------------------------------------ reading
def read_sop(source: Any, *, log: EventLog | None = None) -> SOP:
    """Read an SOP from a YAML file, YAML text or a mapping, and validate it.

    Parameters
    ----------
    source : str, os.PathLike, Mapping or SOP
        A path ending in ``.yaml``/``.yml``, YAML text, or the parsed mapping.
    log : EventLog, optional
        When given, every activity the rules name must occur in it (closest names are
        suggested otherwise).

    Returns
    -------
    SOP

    Raises
    ------
    InputError
        One line naming the rule, what is wrong and how to fix it: an unknown rule kind,
        a bad duration, an unknown activity or pool, YAML tags or invalid YAML.

    Examples
    --------
    >>> sop = read_sop("name: demo\\nrules:\\n  - before: [Review, Decision]\\n  - case_sla: {within: 5d}")
    >>> [r.label for r in sop.rules]
    ['Review before Decision', 'case SLA 5.0 d']
    """
    from ._files import is_yaml_path, read_yaml

    if isinstance(source, SOP):
        sop = source
    else:
        base = None
        if is_yaml_path(source) or isinstance(source, str):
            doc, where = read_yaml(source, what="SOP", shape="{name: ..., rules: [...]} (YAML tags such as !!python are not allowed)")
            if is_yaml_path(source):
                path = os.fspath(source)
                base, default = os.path.dirname(path), os.path.splitext(os.path.basename(path))[0]
            else:
                default = "SOP"
        elif isinstance(source, Mapping):
            doc, where, default = source, "SOP", "SOP"
        else:
            raise InputError(f"sop must be a YAML path, YAML text, a mapping or an SOP; got {type(source).__name__}.")
        sop = _from_doc(doc, default=default, where=where, base=base)
    if log is not None:
        sop.check_activities(log)
    return sop


def _from_doc(doc: Any, *, default: str, where: str, base: str | None) -> SOP:
    if doc is None:
        raise InputError(f"{where} is empty; write {{name: ..., rules: [...]}}.")
    if isinstance(doc, list):
        doc = {"rules": doc}
    if not isinstance(doc, Mapping):
        raise InputError(f"{where} must be a mapping {{name, rules: [...]}}; got {type(doc).__name__}.")
    for k in doc:
        if k not in _TOP_KEYS:
            hint = closest(str(k), _TOP_KEYS)
            tip = f" Did you mean {hint[0]!r}?" if hint else ""
            raise InputError(f"{where}: unknown key {k!r}.{tip} Known keys: {', '.join(_TOP_KEYS)}.")
    name = str(doc.get("name") or default)
    cal = None
    if doc.get("calendar") is not None:
        tz = str(doc.get("tz") or "UTC")
        try:
            cal = Calendar.parse(str(doc["calendar"]), tz=tz)
        except InputError as exc:
            raise InputError(f"{where}: calendar: {exc}") from None
    pools: dict[str, tuple[str, ...]] = {}
    raw_pools = doc.get("pools") or {}
    if not isinstance(raw_pools, Mapping):
        raise InputError(f"{where}: pools must be a mapping {{pool: [resource, ...]}}; got {raw_pools!r}.")
    for p, members in raw_pools.items():
        if isinstance(members, str):
            members = [members]
        if not isinstance(members, Sequence) or not members:
            raise InputError(f"{where}: pool {p!r} must list its resources, e.g. {{{p}: [Ann, Bob]}}; got {members!r}.")
        pools[str(p)] = tuple(str(m) for m in members)
    rules_raw = doc.get("rules")
    if not isinstance(rules_raw, list) or not rules_raw:
        raise InputError(f"{where}: rules must be a non-empty list, e.g. rules: [{{required: [Triage]}}]; got {rules_raw!r}.")
    rules: list[Rule] = []
    for i, spec in enumerate(rules_raw, 1):
        rules.extend(_rule(spec, i, where, cal, pools, base))
    return SOP(name, tuple(rules), cal, pools, where)


def _names(v: Any, at: str, *, n: int | None = None, example: str = "[A]") -> tuple[str, ...]:
    if isinstance(v, str):
        v = [v]
    if not isinstance(v, (list, tuple)) or not v or not all(isinstance(x, (str, int, float)) for x in v):
        raise InputError(f"{at}: expected a list of activity names such as {example}; got {v!r}.")
    out = tuple(str(x) for x in v)
    if n is not None and len(out) != n:
        raise InputError(f"{at}: expected exactly {n} activity names such as {example}; got {len(out)}.")
    return out


def _dur_text(s: float) -> str:
    """Seconds as SOP text that :func:`parse_duration` reads back: ``91d``, ``4h``, ``90min``."""
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if s >= size and float(s) % size == 0:
            return f"{int(s // size)}{unit}"
    return f"{int(s)}s" if float(s).is_integer() else f"{s}s"


def _within(v: Any, at: str) -> float:
    return parse_duration(v, name=f"{at}: within", positive=True)


def _rule(spec: Any, i: int, where: str, cal: Calendar | None, pools: dict, base: str | None) -> list[Rule]:
    from ._format import duration

    at0 = f"{where}, rule {i}"
    if not isinstance(spec, Mapping) or len(spec) != 1:
        raise InputError(f"{at0}: expected one mapping such as {{required: [Triage]}}; got {spec!r}.")
    kind, args = next(iter(spec.items()))
    kind = str(kind)
    if kind not in RULE_KINDS:
        hint = closest(kind, RULE_KINDS)
        tip = f" Did you mean {hint[0]!r}?" if hint else ""
        raise InputError(f"{at0}: unknown rule kind {kind!r}.{tip} Known kinds: {', '.join(RULE_KINDS)}.")
    at = f"rule {i} ({kind})"
    full = f"{where}, {at}"
    if kind in ("required", "forbidden", "at_most_once"):
        word = {"required": "required", "forbidden": "forbidden", "at_most_once": "at most once"}[kind]
        return [Rule(kind, f"{a} {word}", (a,), where=at) for a in _names(args, full)]
    if kind in ("first", "last"):
        a = _names(args, full, n=1, example="Register")[0]
        return [Rule(kind, f"{a} {kind}", (a,), where=at)]
    if kind == "before":
        acts = _names(args, full, example="[Review, Decision]")
        if len(acts) < 2:
            raise InputError(f"{full}: expected at least two activities such as [Review, Decision]; got {list(acts)!r}.")
        return [Rule(kind, f"{a} before {b}", (a, b), where=at) for a, b in zip(acts[:-1], acts[1:])]
    if kind == "four_eyes":
        a, b = _names(args, full, n=2, example="[Review, Approve]")
        return [Rule(kind, f"four eyes on {a} and {b}", (a, b), where=at)]
    if kind == "model":
        if hasattr(args, "petri_net") or (isinstance(args, tuple) and len(args) == 3):
            return [Rule(kind, f"fits the {getattr(args, 'method', 'given')} model", (), model=args, where=at)]
        if not isinstance(args, str) or not args.strip():
            raise InputError(f"{full}: expected the path of a BPMN file such as reference.bpmn; got {args!r}.")
        path = args if base is None or os.path.isabs(args) else os.path.join(base, args)
        if not os.path.isfile(path):
            raise InputError(f"{full}: model file {path!r} does not exist; give a BPMN 2.0 file (relative to the SOP file).")
        return [Rule(kind, f"fits model {os.path.basename(path)}", (), path=path, where=at)]
    required, optional = RULE_KINDS[kind]
    if not isinstance(args, Mapping):
        raise InputError(f"{full}: expected a mapping of arguments such as {{{', '.join(f'{k}: ...' for k in required)}}}; got {args!r}.")
    for k in args:
        if k not in required + optional:
            hint = closest(str(k), required + optional)
            tip = f" Did you mean {hint[0]!r}?" if hint else ""
            raise InputError(f"{full}: unknown argument {k!r}.{tip} {kind} takes {', '.join(required + optional)}.")
    for k in required:
        if k not in args:
            raise InputError(f"{full}: the argument {k!r} is missing; {kind} takes {', '.join(required + optional)}.")
    if kind in TIME_KINDS:
        within = _within(args["within"], full)
        time = str(args.get("time", "working" if cal is not None else "calendar"))
        if time not in ("working", "calendar"):
            raise InputError(f"{full}: time must be one of 'working', 'calendar'; got {time!r}.")
        if time == "working" and cal is None:
            raise InputError(f"{full}: time 'working' needs a calendar; add calendar: \"Mon-Fri 08:00-17:00\" to the SOP.")
        unit = " working time" if time == "working" else ""
        if kind == "case_sla":
            return [Rule(kind, f"case SLA {duration(within)}{unit}", (), within, time, where=at)]
        act = _names(args["activity"], full, n=1, example="Review")[0]
        if kind == "max_duration":
            return [Rule(kind, f"{act} within {duration(within)}{unit}", (act,), within, time, where=at)]
        if args.get("after") is None:
            return [Rule(kind, f"wait before {act} at most {duration(within)}{unit}", (act,), within, time, where=at)]
        after = _names(args["after"], full, n=1, example="Review")[0]
        return [Rule(kind, f"{act} within {duration(within)}{unit} after {after}", (act, after), within, time, where=at)]
    # performed_by
    act = _names(args["activity"], full, n=1, example="Approve")[0]
    if ("resources" in args) == ("pool" in args):
        raise InputError(f"{full}: give either resources: [..] or pool: NAME (one of them).")
    if "pool" in args:
        pool = str(args["pool"])
        # A pool not defined under pools: is read as a role label in the resource column.
        members = pools.get(pool, (pool,))
        return [Rule(kind, f"{act} by pool {pool}", (act,), resources=members, pool=pool, where=at)]
    res = _names(args["resources"], full, example="[Ann, Bob]")
    return [Rule(kind, f"{act} by {', '.join(res)}", (act,), resources=res, where=at)]


# ------------------------------------------------------------------------------ drafting
def draft_sop(log: EventLog, *, coverage: float = 0.95, name: str | None = None) -> SOP:
    """Propose an SOP from the log's dominant behaviour, as a starting point to edit.

    Every proposed rule holds for at least ``coverage`` of the cases: activities present in
    that share of cases become ``required``, the dominant first and last activities
    ``first``/``last``, consecutive required activities whose first occurrences keep their
    order ``before``, required activities that rarely repeat ``at_most_once``, and the 90th
    percentile of the case duration a ``case_sla`` (rounded up to whole hours or days).

    Examples
    --------
    >>> import leanops
    >>> sop = draft_sop(leanops.datasets.load("production"))
    >>> all(r.kind in ("required", "before", "at_most_once", "first", "last", "case_sla") for r in sop.rules)
    True
    """
    from ._validation import check_fraction
    from .mining._steps import steps

    if not isinstance(log, EventLog):
        raise InputError(f"log must be a leanops.EventLog; got {type(log).__name__}.")
    if len(log) == 0:
        raise InputError("draft_sop: the log has no activity instances.")
    coverage = float(check_fraction("coverage", coverage, allow_none=False))
    st = steps(log)
    n = log.n_cases
    ci = log._case_index_per_row()
    acts = st.activities
    k = len(acts)
    key = ci * k + st.activity
    counts = np.bincount(key, minlength=n * k).reshape(n, k)
    present = (counts > 0).mean(axis=0)
    once = ((counts <= 1) | (counts == 0)).mean(axis=0)
    uk, first_row = np.unique(key, return_index=True)  # the first row of each (case, activity)
    first_pos = np.full(n * k, np.iinfo(np.int64).max)
    first_pos[uk] = first_row
    first_pos = first_pos.reshape(n, k)
    rules: list[Rule] = []
    first_code = np.bincount(st.activity[st.first], minlength=k)
    last_code = np.bincount(st.activity[st.last], minlength=k)
    if first_code.max() >= coverage * n:
        a = acts[int(first_code.argmax())]
        rules.append(Rule("first", f"{a} first", (a,), where="draft"))
    req = [j for j in np.argsort(np.median(np.where(counts > 0, first_pos - log.case_starts[:, None], np.nan), axis=0))
           if present[j] >= coverage]
    for j in req:
        rules.append(Rule("required", f"{acts[j]} required", (acts[j],), where="draft"))
    for a_, b_ in zip(req[:-1], req[1:]):
        both = (counts[:, a_] > 0) & (counts[:, b_] > 0)
        if both.any() and (first_pos[both, a_] < first_pos[both, b_]).mean() >= coverage:
            rules.append(Rule("before", f"{acts[a_]} before {acts[b_]}", (acts[a_], acts[b_]), where="draft"))
    for j in req:
        if once[j] >= coverage:
            rules.append(Rule("at_most_once", f"{acts[j]} at most once", (acts[j],), where="draft"))
    if last_code.max() >= coverage * n:
        a = acts[int(last_code.argmax())]
        rules.append(Rule("last", f"{a} last", (a,), where="draft"))
    from .rca.targets import _case_duration
    from ._format import duration

    cd = _case_duration(log)
    if len(cd) and np.isfinite(cd).any():
        p = float(np.nanquantile(cd, coverage))
        unit = 86400.0 if p >= 2 * 86400 else 3600.0
        sla = max(unit, float(np.ceil(p / unit) * unit))
        rules.append(Rule("case_sla", f"case SLA {duration(sla)}", (), sla, "calendar", where="draft"))
    nm = name or f"draft SOP for {os.path.basename(str(log.source or 'the log'))}"
    return SOP(nm, tuple(rules), None, {}, "draft")


