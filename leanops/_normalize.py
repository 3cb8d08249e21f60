"""From any table to the canonical frame of an EventLog: column mapping, time parsing, pairing, quality.

This is the one place where source column names are known. Everything downstream sees
``case_id, activity, start, end, resource``.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as _dt
import re
from collections import Counter, deque
from typing import Any, Iterator, Literal, NamedTuple

import numpy as np
import pandas as pd

from ._checks import check_choice, check_tz
from .errors import InputError
from ._canonical import CANONICAL_COLUMNS as _CANONICAL, STRING_DTYPE, QualityReport, canonical_order, label_codes, release_memory, string_array, to_string_ids, warn_quality

__all__ = ["normalize_frame", "Normalized", "resolve_columns", "LIFECYCLE_MODES", "parse_times", "parse_time"]

#: How lifecycle transitions are read: ``pair`` start with complete events (default),
#: ``classifier`` makes each event a completion whose activity is the XES classifier
#: (or activity + lifecycle), ``ignore`` makes each event a completion of its activity.
LIFECYCLE_MODES = ("pair", "classifier", "ignore")

# Detected names per role, best first, compared after lower-casing and removing every
# character that is not a letter or digit ("Case ID" == "case_id" == "caseid").
CANDIDATES: dict[str, tuple[str, ...]] = {
    "case": ("caseid", "caseconceptname", "case", "casename", "traceid", "caseidentifier", "ticketid"),
    "activity": ("activity", "conceptname", "activityname", "task", "eventname", "action", "event", "step"),
    "start": ("starttime", "starttimestamp", "start", "startdate", "startedat"),
    "end": (
        "endtime", "endtimestamp", "timetimestamp", "completetime", "completetimestamp", "end",
        "timestamp", "enddate", "completedat", "datetime", "time", "date",
    ),
    "resource": ("resource", "orgresource", "user", "agent", "performer", "employee", "worker", "orggroup"),
    "lifecycle": ("lifecycletransition", "lifecycle", "transition", "eventtype"),
}
ROLE_OPTION = {"case": "case", "activity": "activity", "start": "start", "end": "end", "resource": "resource", "lifecycle": "lifecycle"}
_OFFSET = re.compile(r"(?:[Zz]|[+-]\d{2}(?::?\d{2})?)$")


def _norm(name: Any) -> str:
    return re.sub(r"[^a-z0-9]", "", str(name).lower())


def resolve_columns(columns: list[str], explicit: dict[str, str | None]) -> dict[str, str | None]:
    """Map each role to a source column: explicit names win, then detection.

    Raises
    ------
    InputError
        An explicit column is missing, a required role (case, activity, end) cannot be
        found, or detection finds several equally good columns for a role.
    """
    cols = [str(c) for c in columns]
    out: dict[str, str | None] = {}
    for role, name in explicit.items():
        if name is not None and name not in cols:
            raise InputError(
                f"--{ROLE_OPTION[role]} column {name!r} not found; available columns: {', '.join(map(repr, cols))}."
            )
        if name is not None:
            out[role] = name
    taken = set(out.values())
    normed = {c: _norm(c) for c in cols}
    for role, names in CANDIDATES.items():
        if role in out:
            continue
        found: str | None = None
        for cand in names:
            hits = [c for c in cols if normed[c] == cand and c not in taken]
            if len(hits) > 1:
                raise InputError(
                    f"cannot tell which column is the {role}: candidates {hits}. "
                    f"Name it with --{ROLE_OPTION[role]} (or {ROLE_OPTION[role]}= in Python)."
                )
            if hits:
                found = hits[0]
                break
        out[role] = found
        if found:
            taken.add(found)
    for role in ("case", "activity", "end"):
        if out.get(role) is None:
            if role == "end" and out.get("start"):
                # A log with a single time column named "start" still has one time per row.
                out["end"], out["start"] = out["start"], None
                continue
            what = {"case": "case id", "activity": "activity", "end": "timestamp (end/complete time)"}[role]
            opt = "--end/--timestamp" if role == "end" else f"--{role}"
            raise InputError(
                f"no {what} column found; available columns: {', '.join(map(repr, cols))}. "
                f"Name it with {opt}."
            )
    return out


def parse_times(s: pd.Series, tz: str, *, name: str) -> tuple[pd.Series, int]:
    """Parse a column of timestamps to UTC; return it and the count of unparsable values.

    Naive values are read in ``tz``; values with an offset keep it. Mixed ISO precision
    (``12:14:47.813`` beside ``12:16:37.14``) parses.
    """
    if isinstance(s.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(s.dtype):
        # Parquet and Arrow hold years pandas' nanoseconds cannot (1600, 3000, 9999):
        # those are unparsable, like text that does not parse.
        s, n_out = _in_ns_range(s)
        if isinstance(s.dtype, pd.DatetimeTZDtype):
            return s.dt.tz_convert("UTC").astype("datetime64[ns, UTC]"), n_out
        return _localize(s, tz), n_out
    if pd.api.types.is_numeric_dtype(s.dtype) and not s.isna().all():
        raise InputError(
            f"column {name!r} holds numbers, not timestamps. Map a column of dates with "
            f"--end/--start, or convert epoch numbers first."
        )
    txt = s.astype(STRING_DTYPE).str.strip()
    present = txt.notna() & (txt != "")
    n_present = int(present.sum())
    if n_present == 0:
        return pd.Series(pd.NaT, index=s.index, dtype="datetime64[ns, UTC]"), 0
    has_off = txt.str.contains(_OFFSET, na=False)
    out = pd.Series(pd.NaT, index=s.index, dtype="datetime64[ns, UTC]")
    off_mask = (present & has_off).to_numpy()
    naive_mask = (present & ~has_off).to_numpy()
    if off_mask.any():
        out[off_mask] = _to_datetime(txt[off_mask], utc=True)
    if naive_mask.any():
        out[naive_mask] = _localize(_to_datetime(txt[naive_mask], utc=False), tz)
    bad = int(n_present - out.notna().sum())
    return out, bad


def parse_time(value: Any, *, tz: str | None, name: str) -> pd.Timestamp:
    """One instant given by the user (``--at``, ``change_at``, ``since``), in UTC.

    It is read as a timestamp column is (:func:`parse_times`): a value without an offset
    is local time in ``tz`` (the log's time zone; UTC if None), one with an offset keeps it.

    Examples
    --------
    >>> parse_time("2024-03-04 09:00", tz="Europe/Amsterdam", name="at")
    Timestamp('2024-03-04 08:00:00+0000', tz='UTC')
    >>> parse_time("2024-03-04T09:00+00:00", tz="Europe/Amsterdam", name="at")
    Timestamp('2024-03-04 09:00:00+0000', tz='UTC')
    """
    tz = tz or "UTC"
    out = None
    if isinstance(value, str):
        out, _ = parse_times(pd.Series([value], dtype=object), tz, name=name)
    elif isinstance(value, (_dt.date, np.datetime64)):  # datetime and pandas.Timestamp too
        t = pd.Timestamp(value)
        if t is not pd.NaT:
            out, _ = parse_times(pd.Series([t]), tz, name=name)
    if out is None or pd.isna(out.iloc[0]):
        raise InputError(f"{name} must be an ISO date or timestamp such as 2024-03-04 or 2024-03-04T09:00 "
                         f"(local time in {tz} unless it has an offset); got {value!r}.")
    return out.iloc[0]


_OFFSET_PARTS = re.compile(r"(?:([Zz])|([+-])(\d{2}):?(\d{2})?)$")
_SAMPLE = 512  # (instant, offset) pairs kept per parsed batch: enough to tell a zone's rules


def offset_samples(txt: pd.Series | list[Any], utc: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """A regular sample of (UTC instant in ns, UTC offset in minutes) from timestamp text.

    Only values that carry an offset (``Z``, ``+02:00``, ``-0500``) are sampled: they say
    which local clock the source system wrote. Naive values say nothing.
    """
    n = len(utc)
    if n == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    idx = np.unique(np.linspace(0, n - 1, min(n, _SAMPLE)).astype(np.int64))
    values = txt.iloc[idx].tolist() if isinstance(txt, pd.Series) else [txt[i] for i in idx]
    ns = utc.iloc[idx].to_numpy(dtype="datetime64[ns]").view(np.int64)
    keep_t: list[int] = []
    keep_o: list[int] = []
    present = 0
    for v, t in zip(values, ns.tolist()):
        if not isinstance(v, str) or t == np.iinfo(np.int64).min:
            continue
        present += 1
        hit = _OFFSET_PARTS.search(v.strip())
        if hit is None:
            continue
        z, sign, hh, mm = hit.groups()
        minutes = 0 if z else (int(hh) * 60 + int(mm or 0)) * (-1 if sign == "-" else 1)
        keep_t.append(t)
        keep_o.append(minutes)
    if 2 * len(keep_t) < present:
        # mostly naive times (read in tz=): a few offsets do not make the log's clock
        keep_t, keep_o = [], []
    return np.asarray(keep_t, dtype=np.int64), np.asarray(keep_o, dtype=np.int64)


# Fixed offsets that are not whole hours, and a zone that has kept each one without DST.
_FIXED_ZONES = {330: "Asia/Kolkata", 345: "Asia/Kathmandu", 390: "Asia/Yangon", 270: "Asia/Kabul",
                570: "Australia/Darwin", -570: "Pacific/Marquesas"}


def local_zone(t_ns: np.ndarray, off_min: np.ndarray, tz: str, q: QualityReport | None = None) -> str:
    """The log's local time zone, for hour-of-day and weekday views (storage stays UTC).

    ``tz`` wins when it is not UTC (the user named the zone). Otherwise the offsets written
    in the data decide: one offset gives that fixed zone (``-05:00`` is ``Etc/GMT+5``);
    offsets that change with daylight saving give a zone whose rules reproduce every
    sampled offset at its instant (named in a quality warning, since several zones share
    rules); offsets no zone reproduces leave the log in UTC.
    """
    if tz.upper() != "UTC" or len(off_min) == 0:
        return tz
    distinct = np.unique(off_min)
    if distinct.size == 1:
        o = int(distinct[0])
        if o == 0:
            return "UTC"
        if o % 60 == 0 and abs(o) <= 14 * 60:
            return f"Etc/GMT{'-' if o > 0 else '+'}{abs(o) // 60}"  # POSIX names flip the sign
        if o in _FIXED_ZONES:
            return _FIXED_ZONES[o]
    else:
        found = _zone_with_rules(t_ns, off_min)
        if found:
            if q is not None:
                shown = ", ".join(_fmt_offset(int(o)) for o in distinct)
                q.warnings.append(
                    f"local time: the offsets in the data ({shown}) follow the daylight-saving rules of {found}; "
                    f"hours of day and calendars use that zone (name another with tz=, --tz)"
                )
            return found
    # Offsets no single zone explains (UTC "Z" beside "+02:00", say) do not tell one local
    # clock: views stay in UTC, the storage zone, rather than guess one.
    return "UTC"


def _end_offsets(df: pd.DataFrame, raw: pd.Series, utc: pd.Series, key: str) -> tuple[np.ndarray, np.ndarray]:
    """Sampled (instant, offset) pairs of the end column, from whichever form it came in."""
    pre = df.attrs.get("leanops_offsets", {})
    if key in pre:  # the XES reader sampled the text before parsing it
        return pre[key]
    if isinstance(raw.dtype, pd.DatetimeTZDtype):
        if str(raw.dt.tz) == "UTC":
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        sample = raw.dropna().iloc[:: max(1, len(raw) // _SAMPLE)]
        off = (sample.dt.tz_localize(None) - sample.dt.tz_convert("UTC").dt.tz_localize(None)).dt.total_seconds()
        return sample.dt.tz_convert("UTC").to_numpy(dtype="datetime64[ns]").view(np.int64), (off // 60).to_numpy(np.int64)
    if raw.dtype == object or pd.api.types.is_string_dtype(raw.dtype):
        return offset_samples(raw, utc)
    return np.zeros(0, np.int64), np.zeros(0, np.int64)


def _fmt_offset(minutes: int) -> str:
    return f"{'+' if minutes >= 0 else '-'}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def _zone_with_rules(t_ns: np.ndarray, off_min: np.ndarray) -> str | None:
    import zoneinfo

    utc = pd.DatetimeIndex(t_ns.view("datetime64[ns]")).tz_localize("UTC")
    want = off_min * 60_000_000_000
    naive = utc.tz_localize(None).asi8
    # Several zones share rules; regions come in a fixed order, so the choice is stable.
    regions = ("Europe/", "America/", "Asia/", "Australia/", "Africa/", "Pacific/", "Atlantic/", "Indian/")
    zones = sorted(zoneinfo.available_timezones())  # walks the tz database on disk: once, not per region
    names = [z for r in regions for z in zones if z.startswith(r)]
    for name in names:
        try:
            got = utc.tz_convert(name).tz_localize(None).asi8 - naive
        except Exception:  # a zone this tzdata cannot load
            continue
        if np.array_equal(got, want):
            return name
    return None


def _in_ns_range(s: pd.Series) -> tuple[pd.Series, int]:
    """``s`` with values outside pandas' nanosecond range (1677-2262) set to NaT, and their count."""
    unit = s.dtype.unit if isinstance(s.dtype, pd.DatetimeTZDtype) else np.datetime_data(s.dtype)[0]
    if unit == "ns":
        return s, 0
    zone = s.dt.tz if isinstance(s.dtype, pd.DatetimeTZDtype) else None
    v = (s.dt.tz_convert("UTC").dt.tz_localize(None) if zone is not None else s).to_numpy()
    lo, hi = np.datetime64(pd.Timestamp.min.ceil("us")), np.datetime64(pd.Timestamp.max.floor("us"))
    out = ~np.isnat(v) & ((v < lo) | (v > hi))
    v = np.where(out, np.datetime64("NaT"), v).astype("datetime64[ns]")
    res = pd.Series(v, index=s.index)
    if zone is not None:
        res = res.dt.tz_localize("UTC").dt.tz_convert(zone)
    return res, int(out.sum())


def _to_datetime(txt: pd.Series, *, utc: bool) -> pd.Series:
    res = pd.to_datetime(txt, format="ISO8601", errors="coerce", utc=utc)
    if res.isna().mean() > 0.5:
        # Not ISO 8601 (e.g. "30/12/2011 12:14"): let dateutil try each value.
        alt = pd.to_datetime(txt, format="mixed", errors="coerce", utc=utc, dayfirst=False)
        if alt.notna().sum() > res.notna().sum():
            res = alt
    if utc:
        return res.astype("datetime64[ns, UTC]")
    if isinstance(res.dtype, pd.DatetimeTZDtype):
        return res.dt.tz_convert("UTC").dt.tz_localize(None)
    return res.astype("datetime64[ns]")


def _localize(s: pd.Series, tz: str) -> pd.Series:
    s = s.astype("datetime64[ns]")
    try:
        loc = s.dt.tz_localize(tz, ambiguous=np.zeros(len(s), dtype=bool), nonexistent="shift_forward")
    except Exception as exc:  # unknown zone names come from the user
        raise InputError(f"tz must be a time zone name such as 'UTC' or 'Europe/Amsterdam'; got {tz!r} ({exc}).") from None
    return loc.dt.tz_convert("UTC").astype("datetime64[ns, UTC]")


class Normalized(NamedTuple):
    """A canonical, sorted frame and what it came from (see :func:`normalize_frame`)."""

    frame: pd.DataFrame
    source: str | None
    mapping: dict[str, str]
    tz: str
    quality: QualityReport


def _checked_end(df: Any, on_negative: str, tz: str, end: str | None, timestamp: str | None) -> str | None:
    """Validate the options that need no column; return the end column (``end`` or its alias ``timestamp``)."""
    if not isinstance(df, pd.DataFrame):
        raise InputError(f"df must be a pandas DataFrame; got {type(df).__name__}.")
    check_choice("on_negative", on_negative, ("swap", "drop"))
    check_tz(tz)
    if timestamp is not None and end is not None and timestamp != end:
        raise InputError(f"end and timestamp are aliases; got two columns {end!r} and {timestamp!r}.")
    return end if end is not None else timestamp


def _id_columns(df: pd.DataFrame, m: dict[str, str | None], mode: str, q: QualityReport) -> pd.DataFrame:
    """The working frame's ``case_id``, ``activity`` and ``resource`` columns, on a fresh range index.

    Text categoricals (the XES reader's, Arrow dictionaries) stay categoricals until the
    log is reduced and sorted (:func:`_text_as_strings`): their labels are converted once
    per distinct value, and no column of a string per row is built here (memory)."""
    w = pd.DataFrame(index=pd.RangeIndex(len(df)))
    w["case_id"] = _per_label(df[m["case"]].reset_index(drop=True), to_string_ids)
    if mode == "classifier":
        w["activity"] = _classified(df, m, q)
    else:
        w["activity"] = _per_label(df[m["activity"]].reset_index(drop=True), lambda s: s.astype(STRING_DTYPE))
    w["resource"] = (
        _per_label(df[m["resource"]].reset_index(drop=True), to_string_ids) if m["resource"]
        else pd.Series(pd.NA, index=w.index, dtype=STRING_DTYPE)
    )
    return w


def _text_categorical(s: pd.Series) -> bool:
    return isinstance(s.dtype, pd.CategoricalDtype) and (
        s.cat.categories.dtype == object or isinstance(s.cat.categories.dtype, pd.StringDtype))


def _per_label(s: pd.Series, convert: Any) -> pd.Series:
    """``convert(s)`` (a Series of strings) for any column; for a text categorical, a
    categorical whose labels are converted (labels that become equal merge)."""
    if not _text_categorical(s):
        return convert(s)
    import pyarrow as pa
    import pyarrow.compute as pc

    before = pd.Series(s.cat.categories).astype(STRING_DTYPE)
    labels = convert(before)
    if s.cat.categories.dtype == STRING_DTYPE and labels.equals(before):
        return s  # the labels are already what convert makes: the same codes serve
    del before
    enc = pc.dictionary_encode(pa.array(labels.array))  # Arrow's hash: no Python string per label
    if isinstance(enc, pa.ChunkedArray):
        enc = enc.combine_chunks()
    new, uniques = enc.indices.fill_null(-1).to_numpy(zero_copy_only=False), enc.dictionary
    del enc, labels
    codes = s.cat.codes.to_numpy()
    out = label_codes(np.append(new, -1).astype(codes.dtype)[codes], uniques)  # code -1 (missing) takes the last
    out.index = s.index
    return out


def _blank(s: pd.Series) -> np.ndarray:
    """Missing or whitespace-only values; for a categorical, judged once per label."""
    if _text_categorical(s):
        codes = s.cat.codes.to_numpy()
        blank = np.append((s.cat.categories.str.strip() == "").to_numpy(dtype=bool), True)  # code -1 last
        return blank[codes]
    return (s.isna() | (s.str.strip() == "")).to_numpy(dtype=bool)


def _sorted_consumed(w: pd.DataFrame) -> pd.DataFrame:
    """``sort_canonical(w)``, taking ``w`` apart as each sorted column is built (memory: the
    frame is held about once, not unsorted and sorted side by side). ``w`` is normalising's own."""
    order = canonical_order(w)
    if order is None:
        return w if _is_positional(w.index) else w.reset_index(drop=True)
    index = pd.RangeIndex(len(order))
    out: dict[Any, Any] = {}
    for col in list(w.columns):
        out[col] = pd.Series(w[col].array.take(order), index=index, copy=False)
        del w[col]
    return pd.DataFrame(out, index=index, copy=False)


def _text_as_strings(w: pd.DataFrame) -> pd.DataFrame:
    """``case_id`` and ``resource`` in their canonical dtype, Arrow strings, built from the
    categoricals' codes on the final rows only (``activity`` stays the categorical
    :func:`_sorted_labels` made)."""
    for col in ("case_id", "resource"):
        if isinstance(w[col].dtype, pd.CategoricalDtype):
            w[col] = _as_strings(w[col])
    return w


def _as_strings(s: pd.Series) -> pd.Series:
    """A text categorical as an Arrow-string Series (missing stays missing), from its codes."""
    codes = s.cat.codes.to_numpy()  # Arrow takes int8-32 indices: no int64 copy
    return pd.Series(string_array(s.cat.categories).take(codes, allow_fill=True), index=s.index, copy=False)


def _source_column(df: pd.DataFrame, col: Any) -> pd.Series:
    """``df[col]`` on a 0..n-1 index, as the source held it: a column the CSV reader
    dictionary-encoded (``attrs["leanops_labels"]``) comes back as Arrow strings, as an
    unencoded read gives it, for an attribute or a time (time parsing and the offset
    sample read text). Only the label roles (case, activity, resource, paired lifecycle)
    read the codes directly."""
    s = _positional(df[col])
    if col in df.attrs.get("leanops_labels", ()) and _text_categorical(s):
        return _as_strings(s)
    return s


def _sorted_labels(s: pd.Series) -> pd.Series:
    """A text categorical with only its used labels, in sorted order (what ``astype("category")``
    gives from strings), so sorting by it sorts by the labels."""
    codes = s.cat.codes.to_numpy()
    used = np.flatnonzero(np.bincount(codes[codes >= 0], minlength=len(s.cat.categories)))
    labels = s.cat.categories.take(used)
    order = used[np.asarray(labels.argsort())] if len(used) else used  # Arrow's sort: no Python strings
    rank = np.full(len(s.cat.categories) + 1, -1, np.int64)  # code -1 (missing) last
    rank[order] = np.arange(len(order))
    out = label_codes(rank[codes], s.cat.categories.take(order))
    out.index = s.index
    return out


_OWNED: contextvars.ContextVar[int | None] = contextvars.ContextVar("leanops_owned_frame", default=None)


@contextlib.contextmanager
def reader_owned(df: pd.DataFrame) -> Iterator[None]:
    """Within this block :func:`normalize_frame` may take ``df``'s columns apart as it converts
    them: for a reader's own freshly parsed frame, never a user's (the peak then holds
    each column about once, not the source frame beside the canonical one)."""
    token = _OWNED.set(id(df))
    try:
        yield
    finally:
        _OWNED.reset(token)


def is_reader_owned(df: pd.DataFrame) -> bool:
    """Whether ``df`` is a reader's own frame (inside :func:`reader_owned`): nobody else holds it."""
    return _OWNED.get() == id(df)


def _is_positional(idx: pd.Index) -> bool:
    """Whether ``idx`` is the 0..n-1 range index."""
    return isinstance(idx, pd.RangeIndex) and idx.start == 0 and idx.step == 1


def _positional(s: pd.Series) -> pd.Series:
    """``s`` on a 0..n-1 index; the same object when it already has one (no copy)."""
    return s if _is_positional(s.index) else s.reset_index(drop=True)


def _local_clock(df: pd.DataFrame, end_raw: pd.Series, end_utc: pd.Series, key: str, tz: str, q: QualityReport) -> str:
    """The zone of the log's local clock: the one a tz-aware end column names, else the one its offsets show."""
    named = str(end_raw.dt.tz) if isinstance(end_raw.dtype, pd.DatetimeTZDtype) else "UTC"
    if tz.upper() == "UTC" and named.upper() != "UTC" and "/" in named:
        return named  # a tz-aware column (Parquet, pandas) names its zone
    return local_zone(*_end_offsets(df, end_raw, end_utc, key), tz, q)


def _start_times(
    df: pd.DataFrame, key: str | None, tz: str, pre_bad: dict[str, tuple[np.ndarray, str]], index: pd.Index
) -> tuple[pd.Series, int]:
    """The parsed start column (all missing when there is none) and its count of unparsable values."""
    if not key:
        return pd.Series(pd.NaT, index=index, dtype="datetime64[ns, UTC]"), 0
    parsed, bad = parse_times(_source_column(df, key), tz, name=key)
    if key in pre_bad:
        bad = int(pre_bad[key][0].sum())
    return parsed, bad


def _attribute_columns(df: pd.DataFrame, attrs: list[Any], q: QualityReport) -> dict[str, pd.Series]:
    """The unmapped columns, kept as attributes; one carrying a canonical name is renamed ``src:<name>``."""
    extra: dict[str, pd.Series] = {}
    for a in attrs:
        name = a
        if a in _CANONICAL:
            # An unmapped column that carries a canonical name is kept under another name.
            name = f"src:{a}"
            q.warnings.append(f"column {a!r} was not mapped to its role and is kept as attribute {name!r}")
        extra[name] = _source_column(df, a)
    return extra


def _drop_rows(
    w: pd.DataFrame, mask: np.ndarray | pd.Series, reason: str, q: QualityReport, strict_problems: list[str] | None
) -> pd.DataFrame:
    """``w`` without the rows of ``mask``, counted in ``q`` (and in ``strict_problems`` when strict)."""
    mask = np.asarray(mask, dtype=bool)
    n = int(mask.sum())
    if n:
        if strict_problems is not None:
            strict_problems.append(f"{n} {reason}")
        q.drop(reason, n)
        w = w.loc[~mask]
    return w


def _drop_unusable(
    w: pd.DataFrame,
    bad_end: int,
    end_bad_mask: np.ndarray | None,
    q: QualityReport,
    strict_problems: list[str] | None,
) -> pd.DataFrame:
    """``w`` without the rows that miss a case, an activity or a parsable end time.

    ``end_bad_mask`` marks, by source row, the end times present but unparsable.
    """
    w = _drop_rows(w, _blank(w["case_id"]), "missing_case", q, strict_problems)
    w = _drop_rows(w, _blank(w["activity"]), "missing_activity", q, strict_problems)
    if bad_end and end_bad_mask is not None:
        w = _drop_rows(w, end_bad_mask[w.index.to_numpy()], "unparsable_end", q, strict_problems)
    return _drop_rows(w, w["end"].isna(), "missing_end", q, strict_problems)


def _fix_negative(
    w: pd.DataFrame, on_negative: str, q: QualityReport, strict_problems: list[str] | None
) -> tuple[pd.DataFrame, int]:
    """``w`` with instances that end before they start swapped or dropped, and how many were dropped."""
    neg = (w["start"] > w["end"]).to_numpy()
    n_neg = int(neg.sum())
    if not n_neg:
        return w, 0
    if strict_problems is not None:
        strict_problems.append(f"{n_neg} instances ending before they start")
    elif on_negative == "swap":
        s0 = w["start"].copy()
        w.loc[neg, "start"] = w.loc[neg, "end"]
        w.loc[neg, "end"] = s0[neg]
        q.repair("end_before_start_swapped", n_neg)
    else:
        q.drop("end_before_start", n_neg)
        return w.loc[~neg], n_neg
    return w, 0


def _check_usable(
    w: pd.DataFrame, strict_problems: list[str] | None, paired: bool, q: QualityReport, source: str | None
) -> None:
    """Raise when strict reading found repairs to make, or when no row is left."""
    if strict_problems:
        raise InputError(
            f"strict=True and the log{' ' + source if source else ''} needs repairs: {', '.join(strict_problems)}. "
            "Fix the source, or read it with strict=False to repair and count them."
        )
    if len(w) == 0:
        hint = ""
        if paired and any(r.startswith("lifecycle:") for r in q.dropped):
            # Transitions that are statuses ("In Progress", "Resolved") cannot be paired.
            hint = (" The lifecycle column holds statuses, not start/complete: read it with --lifecycle classifier "
                    "(lifecycle='classifier': activity + status) or --lifecycle ignore (each event a completion).")
        raise InputError(
            f"no usable rows in the log{' ' + source if source else ''}: every row was dropped "
            f"({', '.join(f'{n} {r}' for r, n in q.dropped.items())}).{hint}"
        )


def _ordered_deduped(w: pd.DataFrame, dedupe: bool, q: QualityReport, paired: bool) -> tuple[pd.DataFrame, int]:
    """``w`` with canonical columns first on a fresh index, exact duplicates dropped or flagged, and how
    many source rows the dropped ones stood for (see :func:`dedupe_instances`)."""
    cols = [*_CANONICAL, *[c for c in w.columns if c not in _CANONICAL]]
    if list(w.columns) != cols or not _is_positional(w.index):
        # the same arrays in the new order: no copy of the frame (memory; reset_index copies)
        index = pd.RangeIndex(len(w))
        w = pd.DataFrame({c: pd.Series(w[c].array, index=index, copy=False) for c in cols}, copy=False)
    release_memory(len(w))
    return dedupe_instances(w, dedupe, q, paired)


def dedupe_instances(w: pd.DataFrame, dedupe: bool, q: QualityReport, paired: bool) -> tuple[pd.DataFrame, int]:
    """``w`` with its exact duplicate instances dropped (``dedupe``) or flagged in a warning.

    ``q.dropped["duplicate"]`` counts instances; the second value returned is the number
    of source rows they stood for, for ``rows_kept``: with start/complete pairing
    (``paired``) an instance with a start time was two events, a lone completion one.
    The canonical Parquet reader uses this too, so a re-read counts as the first read did.
    """
    dup = _duplicated_rows(w)
    n_dup = int(dup.sum())
    if not n_dup:
        return w, 0
    if dedupe:
        q.drop("duplicate", n_dup)
        rows = n_dup + (int(w["start"].loc[dup].notna().sum()) if paired else 0)
        return w.loc[~dup], rows
    q.warnings.append(f"duplicates: {n_dup:,} exact duplicate rows kept (read with dedupe=True to drop them)")
    return w, 0


def _duplicated_rows(w: pd.DataFrame) -> np.ndarray:
    """``w.duplicated(keep="first")``, in a few int64 arrays instead of one code array per column.

    Each row gets a 64-bit hash folded column by column (int64 and datetime columns by
    value, every other column by its factorised codes, missing values equal, as pandas).
    Equal rows have equal hashes, so only rows whose hash repeats can be duplicates;
    pandas itself decides among those, and a collision costs time, never a wrong answer.
    """
    n = len(w)
    key = _row_hash(w)
    order = np.argsort(key, kind="stable")
    key = key[order]
    same = key[1:] == key[:-1]
    del key
    cand = np.zeros(n, dtype=bool)
    cand[order[1:][same]] = True
    cand[order[:-1][same]] = True
    del order, same
    dup = np.zeros(n, dtype=bool)
    idx = np.flatnonzero(cand)
    if idx.size:
        dup[idx] = w.iloc[idx].duplicated(keep="first").to_numpy()
    return dup


def _row_hash(w: pd.DataFrame) -> np.ndarray:
    """A 64-bit hash per row of ``w``, folded column by column (see :func:`_duplicated_rows`)."""
    key = np.zeros(len(w), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for col in w.columns:
            v = w[col].values
            if isinstance(v, pd.Categorical):
                h = v.codes.astype(np.uint64)  # the codes are what factorize would give (memory)
            elif isinstance(v, np.ndarray) and v.dtype.kind in "iu":
                h = v.astype(np.uint64, copy=True)
            elif isinstance(v, pd.arrays.DatetimeArray) or (isinstance(v, np.ndarray) and v.dtype.kind == "M"):
                h = np.asarray(v.asi8 if hasattr(v, "asi8") else v.view(np.int64)).astype(np.uint64, copy=True)
            else:
                h = pd.factorize(v, use_na_sentinel=True)[0].astype(np.uint64, copy=False)  # what DataFrame.duplicated factorizes
            # splitmix64 finaliser, so structured values (consecutive codes, times) spread
            h ^= h >> np.uint64(30)
            h *= np.uint64(0xBF58476D1CE4E5B9)
            h ^= h >> np.uint64(27)
            key *= np.uint64(0x9E3779B97F4A7C15)
            key ^= h
            del h
    return key


def _source_mapping(m: dict[str, str | None], mode: str) -> dict[str, str]:
    """Canonical column -> source column, for the roles that were mapped (lifecycle unless ignored)."""
    return {k2: v for k2, v in zip(("case_id", "activity", "start", "end", "resource", "lifecycle"),
                                   (m["case"], m["activity"], m["start"], m["end"], m["resource"],
                                    m["lifecycle"] if mode != "ignore" else None)) if v}


def normalize_frame(
    df: pd.DataFrame,
    *,
    case: str | None = None,
    activity: str | None = None,
    start: str | None = None,
    end: str | None = None,
    timestamp: str | None = None,
    resource: str | None = None,
    lifecycle: str | None = None,
    lifecycle_column: str | None = None,
    tz: str = "UTC",
    dedupe: bool = False,
    on_negative: Literal["swap", "drop"] = "swap",
    strict: bool = False,
    source: str | None = None,
    quality: QualityReport | None = None,
) -> Normalized:
    """The canonical frame, mapping and quality report of any DataFrame (the work of
    :func:`leanops.from_frame`, which documents the parameters and wraps the result in an
    EventLog; this module stays below :mod:`leanops.log`).

    ``df`` is never changed, except inside :func:`reader_owned` (a reader's own parsed
    frame), where each source column is dropped once converted so the peak holds it about
    once."""
    end = _checked_end(df, on_negative, tz, end, timestamp)
    mode, lifecycle = lifecycle_mode(lifecycle, lifecycle_column)
    q = quality if quality is not None else QualityReport()
    q.rows_read = q.rows_read or len(df)
    if len(df) == 0:
        raise InputError(f"the log{' ' + source if source else ''} has no rows.")
    twice = list(dict.fromkeys(map(str, df.columns[df.columns.duplicated()])))
    if twice:
        raise InputError(f"the log{' ' + source if source else ''} has columns named more than once: "
                         f"{', '.join(map(repr, twice))}; rename them so that each name is unique.")
    m = resolve_columns(
        list(df.columns),
        {"case": case, "activity": activity, "start": start, "end": end, "resource": resource, "lifecycle": lifecycle},
    )
    role_cols = [v for k, v in m.items() if v and (k != "lifecycle" or mode == "pair")]
    used = set(role_cols)
    attrs = [c for c in df.columns if c not in used]
    # The reader's own frame gives up each source column once converted (memory); a
    # user's frame is never changed.
    pending = Counter(role_cols + attrs)

    def consume(*cols: str | None) -> None:
        """Drop the source columns just converted, once no later role reads them."""
        if not is_reader_owned(df):
            return
        done = []
        for c in cols:
            if c is None:
                continue
            pending[c] -= 1
            if pending[c] <= 0 and c in df.columns:
                done.append(c)
        if len(done) > 32:  # one drop: deleting thousands of columns one by one is quadratic
            df.drop(columns=done, inplace=True)
        else:  # del copies no other column (drop rebuilds the remaining blocks: memory)
            for c in done:
                del df[c]
        if done:
            release_memory(len(df))  # what the converted columns held
    w = _id_columns(df, m, mode, q)
    consume(m["case"], m["activity"], m["resource"])
    # Readers that parse dates themselves (XES) say which rows did not parse.
    pre_bad: dict[str, tuple[np.ndarray, str]] = df.attrs.get("leanops_unparsable", {})
    end_raw = _source_column(df, m["end"])
    if is_reader_owned(df) and end_raw.dtype == "datetime64[ns, UTC]":
        end_utc, bad_end = end_raw, 0  # a reader's own parsed column: no copy (memory)
    else:
        end_utc, bad_end = parse_times(end_raw, tz, name=m["end"])
    end_bad_mask, bad_example = None, None
    if m["end"] in pre_bad:
        end_bad_mask, bad_example = pre_bad[m["end"]]
        bad_end = int(end_bad_mask.sum())
    elif bad_end:
        end_bad_mask = (end_raw.notna() & end_utc.isna()).to_numpy()
    local = _local_clock(df, end_raw, end_utc, m["end"], tz, q)
    end_error = None
    if end_utc.notna().sum() == 0 and (bad_end or end_raw.notna().any()):
        example = bad_example if bad_example is not None else str(end_raw.dropna().iloc[0])[:40]
        end_error = f"no timestamp in column {m['end']!r} could be parsed (e.g. {example!r}); check the column or its format."
    del end_raw
    consume(m["end"])
    cols: dict[Any, pd.Series] = {c: w[c] for c in w.columns}
    del w
    cols["end"] = end_utc
    del end_utc
    paired = bool(m["lifecycle"]) and mode == "pair"
    bad_start = 0
    if m["start"] or not paired:  # pairing makes the start column (memory: no column of NaT per event)
        cols["start"], bad_start = _start_times(df, m["start"], tz, pre_bad, pd.RangeIndex(len(df)))
    consume(m["start"])
    cols.update(_attribute_columns(df, attrs, q))
    consume(*attrs)
    # all at once: inserting thousands of columns one by one is quadratic
    w = pd.DataFrame(cols, copy=False)
    del cols
    if end_error is not None:
        raise InputError(end_error)

    strict_problems: list[str] | None = [] if strict else None
    w = _drop_unusable(w, bad_end, end_bad_mask, q, strict_problems)
    if bad_start:
        q.repair("unparsable_start", bad_start)
        if strict_problems is not None:
            strict_problems.append(f"{bad_start} unparsable start times")

    rows_used = len(w)
    if paired:
        lc_raw = _positional(df[m["lifecycle"]])
        consume(m["lifecycle"])
        w, rows_used = _pair_lifecycle(w, lc_raw, q, strict_problems)
        del lc_raw
        if "start" not in w.columns:  # nothing was paired
            w["start"] = pd.Series(pd.NaT, index=w.index, dtype="datetime64[ns, UTC]")
    per_row = 2 if paired else 1  # a paired instance used two source rows
    w, n_neg = _fix_negative(w, on_negative, q, strict_problems)
    rows_used -= n_neg * per_row
    _check_usable(w, strict_problems, paired, q, source)

    w, dup_rows = _ordered_deduped(w, dedupe, q, paired)
    release_memory(len(w))
    rows_used -= dup_rows
    q.rows_kept = max(0, rows_used)
    if bad_start:
        q.warnings.append(f"{bad_start:,} unparsable start times were set to missing")
    for col in ("case_id", "activity"):
        if isinstance(w[col].dtype, pd.CategoricalDtype):
            w[col] = _sorted_labels(w[col])  # sort_canonical orders cases by the labels
    w["activity"] = w["activity"].astype("category")
    w = _sorted_consumed(w)
    release_memory(len(w))
    w = _text_as_strings(w)
    mapping = _source_mapping(m, mode)
    warn_quality(q, source, stacklevel=4)  # point at the caller of leanops.from_frame
    return Normalized(w, source, mapping, local, q)


def lifecycle_mode(lifecycle: str | None, column: str | None) -> tuple[str, str | None]:
    """Split the ``lifecycle`` option into (mode, lifecycle column).

    A mode name (``pair``, ``classifier``, ``ignore``) is the mode; any other string is the
    lifecycle column, read with ``pair`` as before the modes existed.
    """
    if lifecycle is None or lifecycle in LIFECYCLE_MODES:
        return lifecycle or "pair", column
    if not isinstance(lifecycle, str):
        check_choice("lifecycle", lifecycle, LIFECYCLE_MODES)
    if column is not None and column != lifecycle:
        check_choice("lifecycle", lifecycle, LIFECYCLE_MODES)
    return "pair", lifecycle


def pick_classifier(classifiers: list[tuple[str, list[str]]], activity_key: str) -> tuple[str, list[str]] | None:
    """The XES classifier that defines activities: the first declared one holding ``activity_key``."""
    for name, keys in classifiers:
        if activity_key in keys:
            return name, keys
    return None


def _classified(df: pd.DataFrame, m: dict[str, str | None], q: QualityReport) -> pd.Series:
    """Activity labels under ``lifecycle='classifier'``: the parts joined with ``+`` as pm4py
    does; missing parts are left out ("A" rather than "A+")."""
    declared = pick_classifier(df.attrs.get("leanops_classifiers", []), "concept:name")
    alias = {"concept:name": m["activity"], "lifecycle:transition": m["lifecycle"]}
    if declared is not None:
        keys = [alias.get(k) or k for k in declared[1]]
        missing = [k for k in keys if k not in df.columns]
        if missing:
            raise InputError(
                f"the XES classifier {declared[0]!r} names attributes {missing} that no event has; "
                "read with lifecycle='ignore' (--lifecycle ignore) instead."
            )
        how = f"the XES classifier {declared[0]!r} ({' + '.join(declared[1])})"
    else:
        keys = [k for k in (m["activity"], m["lifecycle"]) if k]
        how = " + ".join(keys)
    out: pd.Series | None = None
    for k in keys:
        part = df[k].reset_index(drop=True).astype(STRING_DTYPE).str.strip()
        part = part.where(part != "")
        out = part if out is None else (out + "+" + part).fillna(out).fillna(part)
    q.warnings.append(f"lifecycle='classifier': each event is a completion; activities are {how}")
    return out.astype(STRING_DTYPE)


def _pair_lifecycle(
    w: pd.DataFrame, lc_raw: pd.Series, q: QualityReport, strict_problems: list[str] | None
) -> tuple[pd.DataFrame, int]:
    """Pair start and complete events into instances, per case and activity, in order.

    The k-th start of an activity in a case pairs with the first later complete (FIFO).
    Other transitions (schedule, suspend, ...) are counted and dropped.
    """
    # The few distinct transitions are normalised, not each of the events (memory).
    if _text_categorical(lc_raw):
        codes, uniques = lc_raw.cat.codes.to_numpy(), lc_raw.cat.categories
    else:
        codes, uniques = pd.factorize(lc_raw, use_na_sentinel=True)
    if not (_is_positional(w.index) and len(w) == len(codes)):
        codes = codes[w.index.to_numpy()]
    names = pd.Series(uniques, dtype=object).astype(STRING_DTYPE).str.strip().str.lower().fillna("complete")
    names = np.append(names.to_numpy(dtype=object, na_value="complete"), "complete")  # code -1 (missing) last
    # a lookup per code (-1, missing, reads the last entry): no full-length temporaries
    is_start = (names == "start")[codes]
    is_complete = ((names == "complete") | (names == "completed"))[codes]
    other = ~(is_start | is_complete)
    if other.any():
        lc_other = pd.Series(names[codes[other]], dtype=STRING_DTYPE)
        for val, n in lc_other.value_counts().items():
            q.drop(f"lifecycle:{val}", int(n))
            if strict_problems is not None:
                strict_problems.append(f"{n} lifecycle:{val} events")
        w = w.loc[~other]
        is_start = is_start[~other]
    del codes, is_complete, other
    if not is_start.any():
        return w, len(w)

    # Cases in first-appearance order. When each case's rows are contiguous (XES traces,
    # most exports), cases never straddle a window of about _PAIR_ROWS rows cut at a case
    # boundary, so pairing goes window by window and its temporaries stay small (memory);
    # otherwise it is one window.
    case = w["case_id"]
    c = case.cat.codes.to_numpy() if _text_categorical(case) else pd.factorize(case)[0]
    if not np.all(c[1:] >= c[:-1]):
        c = pd.factorize(case)[0]  # codes in first-appearance order, for the check below
    a = w["activity"].cat.codes.to_numpy() if _text_categorical(w["activity"]) else pd.factorize(w["activity"])[0]
    n_act = int(a.max()) + 1 if len(a) else 1
    t = np.asarray(w["end"].array.asi8)  # a view, no copy (no end is missing here)
    n = len(c)
    cuts = [0, n]
    if n > _PAIR_ROWS and np.all(c[1:] >= c[:-1]):
        at = np.arange(_PAIR_ROWS, n, _PAIR_ROWS)
        cuts = [0, *np.unique(np.searchsorted(c, c[at], side="left")).tolist(), n]
    parts: list[tuple[np.ndarray, ...]] = []
    unpaired_start = 0
    # row positions in the smallest type that holds them (memory: three arrays per instance)
    pos_type = np.int32 if n < np.iinfo(np.int32).max else np.int64
    for lo, hi in zip(cuts[:-1], cuts[1:]):
        if hi > lo:
            *got, n_unpaired = _pair_window(c[lo:hi], a[lo:hi], t[lo:hi], is_start[lo:hi], n_act)
            parts.append(tuple((x + lo).astype(pos_type) for x in got))
            unpaired_start += n_unpaired
    del c, a, t, is_start
    sp, cp, lone_pos = (np.concatenate([p[i] for p in parts]) if parts else np.zeros(0, pos_type) for i in range(3))
    del parts
    release_memory(n)
    n_inst, n_lone = len(cp), len(lone_pos)
    q.drop("unpaired_start", unpaired_start)
    q.repair("complete_without_start", n_lone)
    if strict_problems is not None:
        if unpaired_start:
            strict_problems.append(f"{unpaired_start} start events without a complete")
        if n_lone:
            strict_problems.append(f"{n_lone} complete events without a start")
    # One row per instance (its complete event) and per lone completion, in file order, so
    # that instances with equal times keep it through the stable sort by time: a paired
    # instance sits where its start event was, a lone completion where it was.
    rows = np.r_[cp, lone_pos]
    src_start = np.r_[sp, np.full(n_lone, -1, dtype=sp.dtype)]  # the start event's row; -1: none
    pos = np.r_[sp, lone_pos]
    del cp, sp, lone_pos
    if len(pos) > 1 and not np.all(pos[1:] > pos[:-1]):
        perm = np.argsort(pos, kind="stable")
        rows, src_start = rows[perm], src_start[perm]
        del perm
    del pos
    has_start = src_start >= 0
    # Attributes recorded only on the start event are kept; for the rest the complete's own row.
    fill_from = np.where(has_start, src_start, rows)
    out: dict[Any, Any] = {}
    for col in list(w.columns) + ([] if "start" in w.columns else ["start"]):
        if col == "start":
            # the start event's own timestamp; missing for a lone completion
            vals = pd.Series(w["end"].array.take(src_start, allow_fill=True))
            vals = vals.astype("datetime64[ns, UTC]")
        else:
            src = w[col]
            vals = pd.Series(src.array.take(rows))
            if col not in ("case_id", "activity", "end") and vals.isna().any():
                vals = vals.where(vals.notna() | ~has_start, pd.Series(src.array.take(fill_from)))
            del src
        out[col] = vals
        if col != "end" and col in w.columns:
            del w[col]  # memory: the event column goes once its instance column is built
    out_frame = pd.DataFrame(out, copy=False)
    release_memory(len(out_frame))
    rows_used = 2 * n_inst + n_lone
    return out_frame, rows_used


_PAIR_ROWS = 1 << 16  # rows per pairing window (cut at a case boundary)


def _pair_window(
    c: np.ndarray, a: np.ndarray, t: np.ndarray, is_start: np.ndarray, n_act: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Pair the start and complete events of whole cases: (start rows, their complete rows,
    lone complete rows, unpaired starts), rows local to the window.

    One group key per (case, activity), then the event's own time, starts before
    completes; lexsort is stable, so file order breaks ties."""
    ca = c.astype(np.int64) * max(1, n_act) + a
    k = np.where(is_start, 0, 1).astype(np.int8)
    order = np.lexsort((k, t, ca))
    ca = ca[order]
    k = k[order]
    new_grp = np.r_[True, ca[1:] != ca[:-1]]
    del ca
    grp = np.cumsum(new_grp) - 1
    grp_start = np.flatnonzero(new_grp)
    del new_grp
    pos_in_grp = np.arange(len(order)) - grp_start[grp]
    sizes = np.diff(np.r_[grp_start, len(order)])
    row_ok = k == (pos_in_grp % 2)
    del pos_in_grp
    grp_ok = np.bincount(grp, weights=~row_ok, minlength=len(grp_start)) == 0
    grp_ok &= sizes % 2 == 0
    ok_row = grp_ok[grp]
    del row_ok, grp_ok, sizes, grp_start
    # Fast path: groups that alternate start, complete, start, complete ...
    ok_idx = order[ok_row]
    # the fast path's positions stay arrays (a list would hold one Python int per event)
    starts_pos: list[int] = []
    comps_pos: list[int] = []
    lone_complete: list[int] = []
    unpaired_start = 0
    bad_rows = order[~ok_row]
    if bad_rows.size:
        bgrp = grp[~ok_row]
        bk = k[~ok_row]
        cur = -1
        queue: deque[int] = deque()
        for g, kind, pos in zip(bgrp.tolist(), bk.tolist(), bad_rows.tolist()):
            if g != cur:
                unpaired_start += len(queue)
                queue.clear()
                cur = g
            if kind == 0:
                queue.append(pos)
            elif queue:
                starts_pos.append(queue.popleft())
                comps_pos.append(pos)
            else:
                lone_complete.append(pos)
        unpaired_start += len(queue)
    sp = np.r_[ok_idx[0::2], np.asarray(starts_pos, dtype=np.int64)]
    cp = np.r_[ok_idx[1::2], np.asarray(comps_pos, dtype=np.int64)]
    return sp, cp, np.asarray(lone_complete, dtype=np.int64), unpaired_start
