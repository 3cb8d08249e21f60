"""The per-case feature table: one row per case, built from any log without configuration.

Feature names say what they are; the prefix decides the fishbone category:

=========================  ======================================================  ===========
name                       meaning                                                 category
=========================  ======================================================  ===========
``<attribute>``            a case attribute (constant within every case)           material
``first:<a>``, ``last:<a>`` an event attribute lifted to the case                   material
``any:<a>=<v>``            the event attribute ``a`` takes the value ``v`` at      material
                           least once in the case
``resource@<activity>``    who performed the (first) instance of the activity      people
``involves:<resource>``    the resource worked on the case                         people
``handoffs``               changes of resource between consecutive instances       people
``occurs:<activity>``      the activity occurs in the case                         method
``count:<activity>``       how many times it occurs (only where it repeats)        method
``variant``                the activity sequence (the 20 most frequent; others     method
                           are ``other``)
``start_hour``,            when the case started (local hour, weekday, month in    environment
``start_weekday``,         the log's time zone)
``start_month``
``wip_at_arrival``         cases open when the case started                        environment
``queue@<activity>``       instances of the activity waiting (enabled, not         environment
                           started) when the case started
``missing:start``,         the case has instances without a start time / without   measurement
``missing:resource``       a resource
=========================  ======================================================  ===========

Attribute columns that look like identifiers are left out, since a value seen once cannot be
a pattern and a counter only restates when the case started: text with almost one distinct
value per case, whole numbers that never repeat (per case or per event), and numbers that
rise or fall with the case's start time (rank correlation of 0.95 or more). Their names are
listed in ``table.attrs["identifiers"]``.

Every column also has a *kind* (``table.attrs["kinds"]``) that says what it can explain
(see :func:`feature_kind`): ``driver`` (known when the case starts: case attributes, the
first value of an event attribute, data quality), ``resource`` (who did an activity),
``system`` (queues, work in progress, period and calendar effects: the state the case met)
and ``path`` (what happened: steps, repeats, variants, hand-offs, people involved, event
attribute values seen later in the case). Any attribute that restates the variant (an
exported variant number, whatever its prefix, such as ``case:variant-index``) is path.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from ..boundaries import case_spans
from ..log import EventLog
from ..mining._steps import steps

__all__ = ["features", "feature_category", "feature_kind", "CATEGORIES", "KINDS"]

#: Fishbone categories, in the order they are drawn.
CATEGORIES = ("people", "method", "material", "environment", "measurement")

_PREFIX_CATEGORY = (
    ("resource@", "people"),
    ("involves:", "people"),
    ("occurs:", "method"),
    ("count:", "method"),
    ("queue@", "environment"),
    ("missing:", "measurement"),
    ("first:", "material"),
    ("last:", "material"),
    ("any:", "material"),
)
_NAMED_CATEGORY = {
    "handoffs": "people",
    "variant": "method",
    "start_hour": "environment",
    "start_weekday": "environment",
    "start_month": "environment",
    "wip_at_arrival": "environment",
}
_GENERATED = set(_NAMED_CATEGORY)
_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
MAX_VARIANTS = 20
# attributes that describe the data rather than the case (from leanops.estimate_start_times)
_QUALITY_ATTRIBUTES = {"start_estimated"}
MAX_INVOLVED = 60
MAX_ANY_VALUES = 20


def feature_category(name: str, table: pd.DataFrame | None = None) -> str:
    """The fishbone category of a feature column (see the module documentation).

    Examples
    --------
    >>> feature_category("resource@Review"), feature_category("channel")
    ('people', 'material')
    """
    if table is not None and name in table.attrs.get("categories", {}):
        return table.attrs["categories"][name]
    if name in _NAMED_CATEGORY:
        return _NAMED_CATEGORY[name]
    for prefix, cat in _PREFIX_CATEGORY:
        if name.startswith(prefix):
            return cat
    return "material"


#: What a feature can explain, in :func:`leanops.root_causes`.
KINDS = ("driver", "resource", "system", "path")


def feature_kind(name: str, table: pd.DataFrame | None = None) -> str:
    """The kind of a feature column: ``driver``, ``resource``, ``system`` or ``path``.

    Examples
    --------
    >>> feature_kind("channel"), feature_kind("resource@Review"), feature_kind("queue@Review")
    ('driver', 'resource', 'system')
    >>> feature_kind("involves:Pete"), feature_kind("case:variant-index")
    ('path', 'path')
    """
    if table is not None and name in table.attrs.get("kinds", {}):
        return table.attrs["kinds"][name]
    if name.startswith("resource@"):
        return "resource"
    if name.startswith(("involves:", "last:", "any:")) or name == "handoffs" or _names_variant(name):
        return "path"
    cat = feature_category(name, table)
    return {"environment": "system", "method": "path", "people": "path"}.get(cat, "driver")


def _names_variant(name: str) -> bool:
    """An attribute called after the variant (``variant``, ``case:variant-index``, ``VariantID``)."""
    base = name.split("=", 1)[0]
    for p in ("attr:", "first:", "last:", "any:"):
        if base.startswith(p):
            base = base[len(p):]
    base = base.split(":")[-1] if base.lower().startswith("case:") else base
    return "variant" in re.sub(r"[^a-z]", "", base.lower())


def _case_index(log: EventLog) -> np.ndarray:
    return log._case_index_per_row()


def _is_id_like(s: pd.Series, n_cases: int) -> bool:
    if pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s):
        return False
    nun = s.nunique(dropna=True)
    return n_cases >= 20 and nun > 0.5 * n_cases


def _is_counter(s: pd.Series) -> bool:
    """Whole numbers that never repeat (a row or case number, an instance id)."""
    if not pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s):
        return False
    x = s.dropna().to_numpy(dtype=float)
    if len(x) < 20 or not np.all(np.isfinite(x)) or not np.all(x == np.round(x)):
        return False
    return len(np.unique(x)) == len(x)


def _monotone_in_time(x: np.ndarray, t: np.ndarray) -> bool:
    """The values rise or fall with the case start (Spearman |rho| >= 0.95): a counter."""
    ok = np.isfinite(x)
    if ok.sum() < 20 or np.unique(x[ok]).size < 10:
        return False
    rx = pd.Series(x[ok]).rank().to_numpy()
    rt = pd.Series(t[ok]).rank().to_numpy()
    if rx.std() == 0 or rt.std() == 0:
        return False
    return abs(float(np.corrcoef(rx, rt)[0, 1])) >= 0.95


def features(log: EventLog) -> pd.DataFrame:
    """One row per case with attribute, resource, path, time, workload and data-quality features.

    Parameters
    ----------
    log : EventLog

    Returns
    -------
    pandas.DataFrame
        Indexed by ``case_id``; columns named as in the module documentation. Boolean
        columns are ``bool``, numeric ones ``float64``, the rest strings (missing values as
        ``"(missing)"``). ``table.attrs["categories"]`` maps every column to its fishbone
        category.

    Examples
    --------
    >>> import leanops
    >>> t = leanops.rca.features(leanops.datasets.load("production"))
    >>> t.shape[0]
    225
    >>> t.attrs["categories"]["resource@Turning & Milling"]
    'people'
    """
    index = log.case_ids
    if log.n_cases == 0:
        out = pd.DataFrame(index=index)
        out.attrs.update(categories={}, kinds={}, identifiers=[])
        return out
    b = _Builder(log)
    _attribute_columns(b)
    _people_columns(b)
    _path_columns(b)
    _time_and_load_columns(b)
    out = pd.DataFrame({k: (v.to_numpy() if isinstance(v, pd.Series) else v) for k, v in b.cols.items()}, index=index)
    out.attrs["categories"] = b.cats
    out.attrs["kinds"] = {c: feature_kind(c, out) for c in out.columns}
    out.attrs["identifiers"] = sorted(set(b.identifiers))
    return out


class _Builder:
    """The columns being built and what every part of :func:`features` shares."""

    def __init__(self, log: EventLog) -> None:
        self.log, self.d, self.n_cases = log, log.df, log.n_cases
        self.st = steps(log)
        self.ci = _case_index(log)
        self.starts = log.case_starts
        self.cols: dict[str, pd.Series | np.ndarray] = {}
        self.cats: dict[str, str] = {}
        self.identifiers: list[str] = []
        st = self.st
        self.acts = st.activities
        n_act = len(self.acts)
        self.counts = np.zeros((self.n_cases, n_act), dtype=np.int32)
        np.add.at(self.counts, (self.ci, st.activity), 1)
        key = self.ci * max(n_act, 1) + st.activity
        self.first_occ = ~pd.Series(key).duplicated().to_numpy()
        self._by_act = np.argsort(st.activity, kind="stable")  # rows of each activity, in row order
        self._act_bounds = np.searchsorted(st.activity[self._by_act], np.arange(n_act + 1))

    def rows_of(self, a_i: int) -> np.ndarray:
        return self._by_act[self._act_bounds[a_i]:self._act_bounds[a_i + 1]]

    def add(self, name: str, values, category: str) -> None:
        if name in self.cols:
            return
        if name.split(":", 1)[-1].split("=", 1)[0] in _QUALITY_ATTRIBUTES:
            category = "measurement"
        self.cols[name] = values
        self.cats[name] = category


def _attribute_columns(b: _Builder) -> None:
    """Case attributes, and event attributes lifted to the case."""
    d, ci, n_cases, add, identifiers = b.d, b.ci, b.n_cases, b.add, b.identifiers
    attr_names = list(b.log.attributes)
    reserved = set(_GENERATED)
    for a in attr_names:
        s = d[a]
        name = a if a not in reserved and not any(a.startswith(p) for p, _ in _PREFIX_CATEGORY) else f"attr:{a}"
        if pd.api.types.is_datetime64_any_dtype(s):
            continue
        vals = s.to_numpy()
        na = pd.isna(s).to_numpy()
        if vals.dtype == object and na.any():
            # pd.NA (Arrow strings, nullable numbers) compares as NA, not False: use None
            vals = np.where(na, None, vals)
        if _duplicates_canonical(s, d, na):
            continue
        ser = pd.Series(vals, copy=False)
        g = ser.groupby(ci, sort=True)
        first = g.first().reindex(range(n_cases))
        ref = first.to_numpy()[ci]
        constant = bool(np.all(na | (vals == ref)))
        numeric = pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s)
        if numeric and _is_counter(first if constant else ser):
            identifiers.append(a)
            continue
        if constant:
            if numeric:
                add(name, first.to_numpy(dtype=float), "material")
            elif not _is_id_like(first, n_cases):
                add(name, _as_str(first), "material")
            else:
                identifiers.append(a)
            continue
        # An event attribute: lift it to the case.
        last = g.last().reindex(range(n_cases))
        if numeric:
            add(f"first:{a}", first.to_numpy(dtype=float), "material")
            add(f"last:{a}", last.to_numpy(dtype=float), "material")
        else:
            if _is_id_like(ser, n_cases):
                identifiers.append(a)
                continue
            add(f"first:{a}", _as_str(first), "material")
            add(f"last:{a}", _as_str(last), "material")
            top = ser.dropna().astype(str).value_counts().index[:MAX_ANY_VALUES]
            sv = ser.astype(str).to_numpy()
            for v in top:
                hit = np.zeros(n_cases, dtype=bool)
                hit[ci[(sv == v) & ~na]] = True
                add(f"any:{a}={v}", hit, "material")


def _people_columns(b: _Builder) -> None:
    """Who did the work: per activity, the people involved, hand-offs."""
    d, st, ci, n_cases, add, rows_of = b.d, b.st, b.ci, b.n_cases, b.add, b.rows_of
    first_occ = b.first_occ
    res_codes, res_labels = pd.factorize(d["resource"], sort=False)
    if len(res_labels):
        for a_i, a in enumerate(b.acts):
            m = rows_of(a_i)
            m = m[first_occ[m]]
            if not len(m):
                continue
            rc = res_codes[m]
            ok = rc >= 0
            if len(np.unique(rc[ok])) < 2:
                continue
            col = np.full(n_cases, "(none)", dtype=object)
            col[ci[m][ok]] = np.asarray(res_labels, dtype=object)[rc[ok]]
            col[ci[m][~ok]] = "(missing)"
            add(f"resource@{a}", col, "people")
        inv_counts = np.bincount(res_codes[res_codes >= 0], minlength=len(res_labels))
        case_counts = np.zeros(len(res_labels), dtype=np.int64)
        pairs = np.unique(ci[res_codes >= 0] * len(res_labels) + res_codes[res_codes >= 0])
        np.add.at(case_counts, pairs % len(res_labels), 1)
        order = np.argsort(-inv_counts, kind="stable")
        for r in order[:MAX_INVOLVED]:
            if case_counts[r] in (0, n_cases):
                continue
            hit = np.zeros(n_cases, dtype=bool)
            hit[pairs[pairs % len(res_labels) == r] // len(res_labels)] = True
            add(f"involves:{res_labels[r]}", hit, "people")
        prev = st.prev
        has_prev = prev >= 0
        change = np.zeros(len(d), dtype=bool)
        rc_prev = np.where(has_prev, res_codes[np.maximum(prev, 0)], -1)
        change[has_prev] = (res_codes[has_prev] >= 0) & (rc_prev[has_prev] >= 0) & (res_codes[has_prev] != rc_prev[has_prev])
        add("handoffs", np.bincount(ci, weights=change, minlength=n_cases).astype(float), "people")


def _path_columns(b: _Builder) -> None:
    """The path: steps that occur, repeats, the variant."""
    st, starts, n_cases, add, counts, cats, cols = b.st, b.starts, b.n_cases, b.add, b.counts, b.cats, b.cols
    acts = b.acts
    for a_i, a in enumerate(acts):
        c = counts[:, a_i]
        occurs = c > 0
        if occurs.all() and c.max() <= 1:
            continue
        if not occurs.all():
            add(f"occurs:{a}", occurs, "method")
        if c.max() > 1:
            add(f"count:{a}", c.astype(float), "method")
    variant_labels, variant_ids = _variants(st.activity, acts, starts, n_cases)
    add("variant", variant_labels, "method")
    # A case attribute that restates the path (an exported variant number, say) is path
    # information: it is weighed with the path features, after the causes.
    # Whatever its prefix (XES exports write ``case:variant-index``).
    for name in [c for c, cat in cats.items() if cat in ("material", "measurement") and not c.startswith("any:")]:
        if _names_variant(name) or _restates_path(np.asarray(cols[name]), variant_ids):
            cats[name] = "method"


def _time_and_load_columns(b: _Builder) -> None:
    """When the case started (in the log's time zone), the load it met, data quality."""
    d, st, ci, n_cases, add = b.d, b.st, b.ci, b.n_cases, b.add
    case_start_ns, case_end_ns = case_spans(b.log)  # cached on the log (leanops.boundaries)
    # Numbers that follow the start time are counters, not properties of the case.
    for name in [c for c, cat in b.cats.items() if cat == "material" and np.asarray(b.cols[c]).dtype.kind == "f"]:
        if _monotone_in_time(np.asarray(b.cols[name], dtype=float), case_start_ns.astype(float)):
            b.identifiers.append(name)
            del b.cols[name], b.cats[name]
    t0 = pd.to_datetime(case_start_ns, utc=True)
    try:
        t0 = t0.tz_convert(b.log.tz or "UTC")
    except Exception:  # an unknown zone name: stay in UTC
        pass
    add("start_hour", np.asarray(t0.hour, dtype=float), "environment")
    add("start_weekday", np.asarray(_WEEKDAYS, dtype=object)[np.asarray(t0.weekday)], "environment")
    add("start_month", np.asarray(_MONTHS, dtype=object)[np.asarray(t0.month) - 1], "environment")

    # ---- workload at arrival
    s_sorted = np.sort(case_start_ns)
    e_sorted = np.sort(case_end_ns)
    wip = np.searchsorted(s_sorted, case_start_ns, side="left") - np.searchsorted(e_sorted, case_start_ns, side="right")
    add("wip_at_arrival", np.maximum(wip, 0).astype(float), "environment")
    # Queue before each step at the case's arrival: instances of the activity enabled
    # and not yet started at that instant (defined for every case, known upfront).
    enabled = np.where(st.first, st.t_start, st.enabled)
    for a_i, a in enumerate(b.acts):
        m = b.rows_of(a_i)
        if not st.has_start[m].any():
            continue
        es, ss = np.sort(enabled[m]), np.sort(st.t_start[m])
        q = np.searchsorted(es, case_start_ns, side="left") - np.searchsorted(ss, case_start_ns, side="right")
        q = np.maximum(q, 0).astype(float)
        if q.max() > 0:
            add(f"queue@{a}", q, "environment")

    # ---- data quality
    res_na = d["resource"].isna().to_numpy()
    if not st.has_start.all() and st.has_start.any():
        add("missing:start", np.bincount(ci, weights=~st.has_start, minlength=n_cases) > 0, "measurement")
    if res_na.any() and not res_na.all():
        add("missing:resource", np.bincount(ci, weights=res_na, minlength=n_cases) > 0, "measurement")


def _duplicates_canonical(s: pd.Series, d: pd.DataFrame, na: np.ndarray) -> bool:
    """XES files often repeat the activity or resource as an attribute; skip such copies."""
    if pd.api.types.is_numeric_dtype(s) or na.all():
        return False
    head = slice(0, 1000)  # a cheap look first: most attributes differ within the first rows
    for c in ("activity", "resource"):
        if not np.all(na[head] | (s.iloc[head].astype(str).to_numpy() == d[c].iloc[head].astype(str).to_numpy())):
            continue
        if np.all(na | (s.astype(str).to_numpy() == d[c].astype(str).to_numpy())):
            return True
    return False


def _variants(act_codes: np.ndarray, acts: list[str], starts: np.ndarray, n_cases: int) -> tuple[np.ndarray, np.ndarray]:
    """Per case, the variant label ("A > B > C"; the MAX_VARIANTS most frequent, else
    "other") and a variant id that tells every distinct sequence apart.

    Sequences are told apart by two polynomial hashes and their length (vectorised), and
    only one case per distinct sequence is spelt out.
    """
    n = len(act_codes)
    if not n:
        return np.zeros(0, dtype=object), np.zeros(0, dtype=np.int64)
    pos = np.arange(n) - np.repeat(starts, np.diff(np.r_[starts, n]))
    codes = act_codes.astype(np.uint64) + np.uint64(1)
    keys = []
    with np.errstate(over="ignore"):  # the hashes wrap around modulo 2**64 on purpose
        for base in (np.uint64(1_000_003), np.uint64(998_244_353)):
            powers = np.ones(int(pos.max()) + 1, dtype=np.uint64)
            for k in range(1, len(powers)):
                powers[k] = powers[k - 1] * base
            keys.append(np.add.reduceat(codes * powers[pos], starts))
    keys.append(np.diff(np.r_[starts, n]).astype(np.uint64))
    frame = pd.DataFrame({f"k{i}": k for i, k in enumerate(keys)})
    vid, _ = pd.factorize(pd.MultiIndex.from_frame(frame))
    freq = np.bincount(vid)
    top = np.argsort(-freq, kind="stable")[:MAX_VARIANTS]
    first_case = np.full(len(freq), -1)
    first_case[vid[::-1]] = np.arange(n_cases)[::-1]
    labels = np.full(len(freq), "other", dtype=object)
    bounds = np.r_[starts, n]
    for v in top:
        c = first_case[v]
        labels[v] = " > ".join(acts[i] for i in act_codes[bounds[c]:bounds[c + 1]])
    return labels[vid], vid


def _restates_path(values: np.ndarray, variant_ids: np.ndarray) -> bool:
    """True when the attribute and the variant determine each other (an exported variant
    number): each variant seen twice has one value, and each value one variant (90 % of
    its cases). A coarser attribute that decides a step (``docs = incomplete`` adds a
    step, so every variant has one value) is a driver, not a restatement. (With only as
    many variants as values, the two cannot be told apart, and the attribute is path.)"""
    n = len(variant_ids)
    if n < 20 or variant_ids.max(initial=0) + 1 > 0.5 * n:
        return False
    codes = pd.factorize(values, use_na_sentinel=False)[0]
    if codes.max(initial=0) < 1:
        return False
    pairs = pd.DataFrame({"v": variant_ids, "a": codes})
    shared = pairs["v"].duplicated(keep=False).to_numpy()
    if not pairs[shared].drop_duplicates()["v"].is_unique:
        return False
    top = pairs.groupby("a")["v"].agg(lambda v: v.value_counts().iloc[0]).sum()
    return bool(top >= 0.9 * n)


def _as_str(s: pd.Series) -> np.ndarray:
    v = s.astype(object)
    na = pd.isna(v).to_numpy()
    out = v.astype(str).to_numpy(dtype=object)
    out[na] = "(missing)"
    return out
