"""The canonical event log: one table, one row per activity instance.

Every analysis in leanops takes an :class:`EventLog` and nothing else. Columns are mapped
once, when the log is read (:func:`leanops.read` or :func:`leanops.from_frame`), so no
function downstream takes ``activity_key=`` style arguments.
"""

from __future__ import annotations

import contextvars
import html
import inspect
from typing import Any

import numpy as np
import pandas as pd

from ._canonical import CANONICAL_COLUMNS, STRING_DTYPE, QualityReport, sort_canonical, to_string_ids, warn_quality  # noqa: F401 (re-exported)
from ._checks import check_choice
from ._normalize import is_reader_owned, normalize_frame
from .errors import InputError

__all__ = ["EventLog", "QualityReport", "CANONICAL_COLUMNS", "from_frame"]


class EventLog:
    """An event log in canonical form: one row per activity instance.

    Build one with :func:`leanops.read`, :func:`leanops.from_frame` or
    :meth:`EventLog.from_pm4py`. The constructor itself takes a frame that already has
    the canonical columns (``case_id, activity, start, end, resource``) and coerces their
    types; it does no column detection and no start/complete pairing.

    Parameters
    ----------
    df : pandas.DataFrame
        Canonical columns plus any attribute columns. It is not modified.
    source : str, optional
        Where the log came from (a path, or a description).
    mapping : dict, optional
        Canonical column -> source column, as mapped at read time.
    tz : str
        The log's local time zone: the ``tz=`` given when reading (which naive timestamps
        were read in), else the zone of the UTC offsets written in the data (``-05:00``
        gives ``Etc/GMT+5``; offsets that follow daylight saving give a zone with those
        rules), else UTC. Storage is always UTC; hour-of-day and weekday views
        (calendars, circadian profiles, ``start_hour`` features, arrival profiles) use
        this zone, through :meth:`local_times`.
    quality : QualityReport, optional
        The data-quality report of the read.

    Examples
    --------
    >>> import leanops
    >>> log = leanops.datasets.load("production")
    >>> log.n_cases, len(log)
    (225, 4953)
    >>> list(log.df.columns[:5])
    ['case_id', 'activity', 'start', 'end', 'resource']
    """

    __slots__ = ("_df", "source", "mapping", "tz", "quality", "_cache")

    def __init__(
        self,
        df: pd.DataFrame,
        *,
        source: str | None = None,
        mapping: dict[str, str] | None = None,
        tz: str = "UTC",
        quality: QualityReport | None = None,
        sort: bool = True,
    ) -> None:
        if not isinstance(df, pd.DataFrame):
            raise InputError(f"df must be a pandas DataFrame; got {type(df).__name__}.")
        missing = [c for c in ("case_id", "activity", "end") if c not in df.columns]
        if missing:
            raise InputError(
                f"EventLog needs the canonical columns {list(CANONICAL_COLUMNS)}; missing {missing}. "
                "Use leanops.from_frame(df, case=..., activity=..., end=...) to map other column names."
            )
        self._df = _coerce_canonical(df, sort=sort)
        self.source = source
        self.mapping = dict(mapping or {})
        self.tz = tz
        self.quality = quality if quality is not None else QualityReport(len(df), len(df))
        self._cache: dict[str, Any] = {}

    # ------------------------------------------------------------------ access
    @property
    def df(self) -> pd.DataFrame:
        """The canonical table. Treat it as read-only; derive new logs instead."""
        return self._df

    def to_frame(self) -> pd.DataFrame:
        """A copy of the canonical table that the caller may change freely."""
        return self._df.copy()

    def __len__(self) -> int:
        return len(self._df)

    @property
    def n_events(self) -> int:
        """Number of activity instances (rows)."""
        return len(self._df)

    @property
    def n_cases(self) -> int:
        return int(self.case_starts.size)

    @property
    def case_starts(self) -> np.ndarray:
        """Row positions where each case begins (rows are sorted by case)."""
        if "case_starts" not in self._cache:
            cid = self._df["case_id"]
            if len(cid) == 0:
                self._cache["case_starts"] = np.zeros(0, dtype=np.int64)
            else:
                codes = self.case_codes
                self._cache["case_starts"] = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
        return self._cache["case_starts"]

    @property
    def case_codes(self) -> np.ndarray:
        """An int64 code per row identifying its case, increasing with the row order."""
        if "case_codes" not in self._cache:
            # Rows are sorted by case, so a case begins where the id differs from the row
            # before: comparing neighbours in Arrow is far cheaper than factorizing.
            n = len(self._df)
            first = np.ones(n, dtype=bool)
            if n > 1:
                import pyarrow as pa
                import pyarrow.compute as pc

                ids = pa.array(self._df["case_id"].array)
                first[1:] = pc.not_equal(ids[1:], ids[:-1]).to_numpy(zero_copy_only=False)
            self._cache["case_codes"] = np.cumsum(first, dtype=np.int64) - 1
        return self._cache["case_codes"]

    @property
    def case_ids(self) -> pd.Index:
        # take the first row of each case before converting: converting every row's id to
        # a Python string first costs a pass over the whole (Arrow) column
        return pd.Index(self._df["case_id"].iloc[self.case_starts].to_numpy(), name="case_id")

    @property
    def activities(self) -> list[str]:
        """Activity labels, most frequent first."""
        return [str(a) for a in self._df["activity"].value_counts(sort=True).index]

    @property
    def resources(self) -> list[str]:
        """Resource labels, most frequent first (missing resources excluded)."""
        return [str(r) for r in self._df["resource"].dropna().value_counts(sort=True).index]

    @property
    def attributes(self) -> list[str]:
        """Names of the non-canonical columns (case and event attributes)."""
        return [c for c in self._df.columns if c not in CANONICAL_COLUMNS]

    @property
    def has_start_times(self) -> bool:
        """True when at least one instance has a start time."""
        return bool(self._df["start"].notna().any())

    @property
    def start_time(self) -> pd.Timestamp | None:
        """The earliest timestamp in the log (start, or end where start is missing)."""
        if not len(self._df):
            return None
        first_start, first_end = self._df["start"].min(), self._df["end"].min()
        return first_end if pd.isna(first_start) else min(first_start, first_end)

    @property
    def end_time(self) -> pd.Timestamp | None:
        return self._df["end"].max() if len(self._df) else None

    def local_times(self, col: str = "end") -> pd.Series:
        """A time column (``start`` or ``end``) on the log's local clock (``log.tz``).

        Use it for anything that derives an hour of day or a weekday: a team working
        08:00-17:00 at -05:00 shows 08:00-17:00 here, not 13:00-22:00.

        Examples
        --------
        >>> import leanops
        >>> log = leanops.datasets.load("production")
        >>> log.tz, str(log.local_times("end").dt.tz)
        ('Europe/Athens', 'Europe/Athens')
        """
        check_choice("col", col, ("start", "end"))
        return self._df[col].dt.tz_convert(self.tz or "UTC")

    def sort_time(self) -> pd.Series:
        """Per row, the start time, or the end time where the start is missing."""
        return self._df["start"].fillna(self._df["end"])

    # --------------------------------------------------------------- derivation
    def _derive(self, df: pd.DataFrame, *, sort: bool = False, note: str | None = None) -> "EventLog":
        """A new EventLog from a canonical frame derived from this one (same metadata)."""
        q = self.quality.copy()
        removed = len(self._df) - len(df)
        if removed > 0:
            # Not a data-quality drop, but the counts must add up: say what a filter took out.
            q.drop("filtered_out_after_reading", removed)
        if note:
            q.warnings.append(note)
        return EventLog(df, source=self.source, mapping=self.mapping, tz=self.tz, quality=q, sort=sort)

    def select_cases(self, case_ids: Any) -> "EventLog":
        """A new log with only the given cases (an iterable of ids or a boolean per case)."""
        ids = pd.Index(case_ids)
        if ids.dtype == bool:
            if len(ids) != self.n_cases:
                raise InputError(f"case mask must have one value per case ({self.n_cases}); got {len(ids)}.")
            keep = np.asarray(ids)[self._case_index_per_row()]
        else:
            wanted = pd.Index(ids.astype(str))
            unknown = wanted.difference(pd.Index(self.case_ids))
            if len(unknown):
                from ._checks import closest

                hint = closest(str(unknown[0]), self.case_ids[:10000])
                tip = f" Did you mean {hint[0]!r}?" if hint else ""
                raise InputError(
                    f"select_cases: {len(unknown)} unknown case id(s), e.g. {str(unknown[0])!r}.{tip} "
                    f"The log has {self.n_cases:,} cases (log.case_ids)."
                )
            keep = self._df["case_id"].isin(wanted).to_numpy()
        return self._derive(self._df.loc[keep].reset_index(drop=True))

    def _case_index_per_row(self) -> np.ndarray:
        starts = self.case_starts
        idx = np.zeros(len(self._df), dtype=np.int64)
        if len(starts) > 1:
            idx[starts[1:]] = 1
        return np.cumsum(idx)

    # ------------------------------------------------------------------ interop
    def to_pm4py(self) -> pd.DataFrame:
        """A pm4py-style DataFrame (``case:concept:name``, ``concept:name``, ``time:timestamp``, ...).

        ``time:timestamp`` is the completion time and ``start_timestamp`` the start, as
        pm4py's interval-log functions expect.
        """
        d = self._df
        out = pd.DataFrame(
            {
                "case:concept:name": d["case_id"].astype(object).to_numpy(),
                "concept:name": d["activity"].astype(str).astype(object).to_numpy(),
                "time:timestamp": d["end"].array,
                "start_timestamp": d["start"].fillna(d["end"]).array,
                "org:resource": d["resource"].astype(object).where(d["resource"].notna(), None).to_numpy(),
            }
        )
        for c in self.attributes:
            if c not in out.columns:
                out[c] = d[c].array
        return out

    @classmethod
    def from_pm4py(cls, df: pd.DataFrame, **options: Any) -> "EventLog":
        """Read a pm4py-style DataFrame (as from ``pm4py.read_xes`` or :meth:`to_pm4py`)."""
        start = "start_timestamp" if "start_timestamp" in df.columns else None
        return from_frame(
            df,
            case="case:concept:name",
            activity="concept:name",
            end="time:timestamp",
            start=start,
            resource="org:resource" if "org:resource" in df.columns else None,
            source=options.pop("source", "pm4py DataFrame"),
            **options,
        )

    # ----------------------------------------------------------------- summary
    def summary(self) -> dict[str, Any]:
        """The ``leanops info`` document: counts, time span and the quality report."""
        d = self._df
        return {
            "source": self.source,
            "cases": self.n_cases,
            "events": self.n_events,
            "activities": int(d["activity"].nunique()),
            "resources": int(d["resource"].nunique(dropna=True)),
            "start": _iso(self.start_time),
            "end": _iso(self.end_time),
            "has_start_times": self.has_start_times,
            "attributes": self.attributes,
            "mapping": dict(self.mapping),
            "tz": self.tz,
            "quality": self.quality.to_dict(),
        }

    def __repr__(self) -> str:
        span = ""
        if len(self._df):
            span = f", {_iso(self.start_time)[:10]} to {_iso(self.end_time)[:10]}"
        return (
            f"<EventLog: {self.n_cases:,} cases, {self.n_events:,} activity instances, "
            f"{self._df['activity'].nunique()} activities{span}>"
        )

    def _repr_html_(self) -> str:
        s = self.summary()
        rows = "".join(
            f"<tr><th style='text-align:left'>{html.escape(k)}</th><td>{html.escape(str(s[k]))}</td></tr>"
            for k in ("source", "cases", "events", "activities", "resources", "start", "end", "has_start_times")
        )
        head = self._df.head(5).to_html(escape=True, index=False)
        return f"<div><b>EventLog</b><table>{rows}</table>{self.quality._repr_html_()}{head}</div>"


def from_frame(df: pd.DataFrame, **options: Any) -> EventLog:
    """Build an EventLog from any DataFrame, mapping its columns once.

    Parameters
    ----------
    df : pandas.DataFrame
        One row per event (or per activity instance). It is not modified.
    case, activity, start, end, resource, lifecycle : str, optional
        Source column for each role. Unnamed roles are detected from common names
        (``case_id``, ``case:concept:name``, ``concept:name``, ``start_time``,
        ``time:timestamp``, ``org:resource``, ``lifecycle:transition``, ...).
        An explicit name always wins. ``timestamp`` is an alias of ``end``.
    lifecycle : {'pair', 'classifier', 'ignore'}, optional
        How lifecycle transitions are read. ``pair`` (default) pairs start and complete
        events into instances. ``classifier`` takes every event as a completion whose
        activity is the XES ``<classifier>`` declared in the file (the first one that
        includes the activity key), or activity + lifecycle (``"Accepted+In Progress"``)
        when none is declared: for logs whose transitions are statuses. ``ignore`` takes
        every event as a completion of its activity and keeps the transition as an
        attribute. Any other string names the lifecycle column (as in earlier versions).
    lifecycle_column : str, optional
        The lifecycle column (``lifecycle:transition`` and similar names are detected).
    tz : str
        Time zone of naive timestamps. Offsets present in the data are honoured.
    dedupe : bool
        Drop exact duplicate instances (they are kept, with a warning, by default).
    on_negative : {'swap', 'drop'}
        What to do with instances that end before they start.
    strict : bool
        Raise :class:`InputError` instead of dropping or repairing any row.
    source : str, optional
        A description of where the data came from, kept in the log.

    Returns
    -------
    EventLog

    Examples
    --------
    >>> import pandas as pd, leanops
    >>> df = pd.DataFrame({"Case": ["a", "a"], "Task": ["x", "y"],
    ...                    "Done": ["2024-01-01 10:00", "2024-01-01 11:00"]})
    >>> log = leanops.from_frame(df, case="Case", activity="Task", end="Done")
    >>> log.n_cases, log.df["end"].iloc[1].isoformat()
    (1, '2024-01-01T11:00:00+00:00')
    """
    # A reader's own frame: the normalised frame's arrays are new or the reader's, nobody
    # else's, so the EventLog keeps them (memory). A user's frame may share arrays with it.
    fresh = is_reader_owned(df)
    n = normalize_frame(df, **options)
    token = _FRESH.set(fresh)
    try:
        return EventLog(n.frame, source=n.source, mapping=n.mapping, tz=n.tz, quality=n.quality, sort=False)
    finally:
        _FRESH.reset(token)


# the options are normalize_frame's keywords: show them in help() and the docs
from_frame.__signature__ = inspect.signature(normalize_frame).replace(return_annotation=EventLog)  # type: ignore[attr-defined]


def _iso(ts: Any) -> str | None:
    if ts is None or pd.isna(ts):
        return None
    return pd.Timestamp(ts).isoformat()


def _to_utc(s: pd.Series, name: str) -> pd.Series:
    if not isinstance(s.dtype, pd.DatetimeTZDtype):
        if pd.api.types.is_datetime64_dtype(s.dtype):
            s = s.dt.tz_localize("UTC")
        elif s.isna().all():
            s = pd.Series(pd.NaT, index=s.index, dtype="datetime64[ns, UTC]")
        elif s.dtype == object and s.dropna().map(lambda v: isinstance(v, (pd.Timestamp, np.datetime64))).all():
            s = pd.to_datetime(s, utc=True)
        else:
            raise InputError(
                f"column {name!r} must hold datetimes; got dtype {s.dtype}. "
                "Use leanops.from_frame to parse text timestamps."
            )
    elif str(s.dt.tz) != "UTC":
        s = s.dt.tz_convert("UTC")
    if s.dtype != "datetime64[ns, UTC]":
        s = s.astype("datetime64[ns, UTC]")
    return s


# Set while from_frame wraps the frame normalize_frame just built from a reader's own frame:
# the EventLog may keep its arrays instead of copying them (a user's frame is always copied).
_FRESH: contextvars.ContextVar[bool] = contextvars.ContextVar("leanops_fresh_frame", default=False)


def _coerce_canonical(df: pd.DataFrame, *, sort: bool) -> pd.DataFrame:
    d = df.copy(deep=False)
    if "start" not in d.columns:
        d["start"] = pd.Series(pd.NaT, index=d.index, dtype="datetime64[ns, UTC]")
    if "resource" not in d.columns:
        d["resource"] = pd.Series(pd.NA, index=d.index, dtype=STRING_DTYPE)
    if d["case_id"].dtype != STRING_DTYPE:
        d["case_id"] = to_string_ids(d["case_id"])
    if not isinstance(d["activity"].dtype, pd.CategoricalDtype):
        d["activity"] = d["activity"].astype(STRING_DTYPE).astype("category")
    if d["resource"].dtype != STRING_DTYPE:
        d["resource"] = to_string_ids(d["resource"])
    for name in ("start", "end"):
        col = d[name]
        utc = _to_utc(col, name)
        if utc is not col or not _FRESH.get():  # setting a column copies it (memory)
            d[name] = utc
        del col, utc
    if d["end"].isna().any():
        raise InputError("column 'end' has missing values; every activity instance needs an end time.")
    cols = list(CANONICAL_COLUMNS) + [c for c in d.columns if c not in CANONICAL_COLUMNS]
    if list(d.columns) != cols or not _FRESH.get():  # selecting columns copies them all (memory)
        d = d[cols]
    if sort:
        d = sort_canonical(d)
    return d
