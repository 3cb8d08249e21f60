"""The canonical table's building blocks, below both :mod:`leanops.log` (the EventLog
type) and :mod:`leanops._normalize` (any table to the canonical one): the string dtype,
the quality report, identifier normalisation, the canonical sort and the quality warning.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import threading
import html
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .errors import DataQualityWarning

__all__ = ["CANONICAL_COLUMNS", "STRING_DTYPE", "QualityReport", "to_string_ids", "sort_canonical", "canonical_order", "warn_quality", "release_memory", "system_arrow_pool", "take_columns", "label_codes", "code_dtype", "string_array", "case_ranks"]

#: The fixed columns of every EventLog, in order. Other columns are attributes.
CANONICAL_COLUMNS: tuple[str, ...] = ("case_id", "activity", "start", "end", "resource")

STRING_DTYPE = "string[pyarrow]"


def label_codes(codes: np.ndarray, labels: Any) -> pd.Series:
    """A categorical Series of text from ``codes`` (-1: missing) into ``labels`` (distinct
    strings: an Arrow or pandas string array), codes in the smallest integer type.

    The labels are distinct by construction, so pandas' uniqueness check is skipped where
    it can be: it builds a hash table holding a Python string per label, which stays
    cached with the categories (memory, for a million case ids).
    """
    cats = pd.Index(string_array(labels), copy=False)
    try:
        dtype = pd.CategoricalDtype._from_fastpath(cats, False)
    except AttributeError:  # a pandas without it: the checked way
        dtype = pd.CategoricalDtype(cats)
    codes = np.asarray(codes).astype(code_dtype(len(cats)), copy=False)
    try:  # from_codes re-checks the labels through that hash table; the codes are valid here
        from pandas._libs.arrays import NDArrayBacked

        cat = NDArrayBacked._simple_new.__func__(pd.Categorical, codes, dtype)
    except (ImportError, AttributeError, TypeError):  # another pandas: the public way
        cat = pd.Categorical.from_codes(codes, dtype=dtype, validate=False)
    return pd.Series(cat, copy=False)


def string_array(labels: Any) -> Any:
    """``labels`` (an Index, a pandas or an Arrow array) as a pandas Arrow-string array,
    without going through a Python string per value when it is one already."""
    if isinstance(labels, pd.Index):
        labels = labels.array
    if isinstance(labels, pd.api.extensions.ExtensionArray) and labels.dtype == STRING_DTYPE:
        return labels
    if not isinstance(labels, (pd.api.extensions.ExtensionArray, np.ndarray, list)):
        return pd.arrays.ArrowStringArray(labels)  # an Arrow array
    return pd.array(labels, dtype=STRING_DTYPE)


def code_dtype(n_labels: int) -> Any:
    """The integer type pandas gives the codes of a categorical with ``n_labels`` labels."""
    for t in (np.int8, np.int16, np.int32):
        if n_labels < np.iinfo(t).max:
            return t
    return np.int64

#: Quality-report reasons that count activity instances rather than source rows: decided
#: after start/complete pairing (duplicates, instances ending before they start) or by a
#: filter applied to the log.
INSTANCE_REASONS = frozenset({"duplicate", "end_before_start", "end_before_start_swapped", "filtered_out_after_reading"})


@dataclass
class QualityReport:
    """What happened to the source rows while the log was read.

    Attributes
    ----------
    rows_read : int
        Rows (or XES events) in the source.
    rows_kept : int
        Source rows that made it into the log. With start/complete pairing two source
        rows make one activity instance, so this can exceed the number of instances.
    dropped : dict
        Rows dropped, by reason (e.g. ``missing_case``, ``unpaired_start``).
    repaired : dict
        Rows kept after a repair, by reason (e.g. ``end_before_start`` when swapped).
    warnings : list of str
        Human-readable notes, one per issue found (duplicates, repairs, drops).

    Notes
    -----
    Most reasons count source rows; those in :data:`INSTANCE_REASONS` (``duplicate``,
    ``end_before_start``, ...) count activity instances, since they are decided after
    start/complete pairing, where one instance stands for two source rows (``rows_kept``
    still counts source rows). :meth:`unit` and the ``units`` entry of :meth:`to_dict` say
    which, per reason.
    """

    rows_read: int = 0
    rows_kept: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    repaired: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def drop(self, reason: str, n: int) -> None:
        """Count ``n`` rows dropped for ``reason`` (zero counts are not recorded)."""
        if n:
            self.dropped[reason] = self.dropped.get(reason, 0) + int(n)

    def repair(self, reason: str, n: int) -> None:
        """Count ``n`` rows repaired for ``reason`` (zero counts are not recorded)."""
        if n:
            self.repaired[reason] = self.repaired.get(reason, 0) + int(n)

    @property
    def n_dropped(self) -> int:
        return sum(self.dropped.values())

    @property
    def is_clean(self) -> bool:
        """True when nothing was dropped or repaired and there is no warning."""
        return not (self.dropped or self.repaired or self.warnings)

    @staticmethod
    def unit(reason: str) -> str:
        """What the count of ``reason`` counts: ``"instances"`` or ``"source rows"``.

        >>> QualityReport.unit("duplicate"), QualityReport.unit("unpaired_start")
        ('instances', 'source rows')
        """
        return "instances" if reason in INSTANCE_REASONS else "source rows"

    def to_dict(self) -> dict[str, Any]:
        """The report as in ``leanops info --json``; ``units`` says what each count counts."""
        return {
            "rows_read": self.rows_read,
            "rows_kept": self.rows_kept,
            "dropped": dict(self.dropped),
            "repaired": dict(self.repaired),
            "warnings": list(self.warnings),
            "units": {
                "rows_read": "source rows", "rows_kept": "source rows",
                "dropped": {r: self.unit(r) for r in self.dropped},
                "repaired": {r: self.unit(r) for r in self.repaired},
            },
        }

    def to_frame(self) -> pd.DataFrame:
        """One row per reason: ``kind`` (dropped/repaired), ``reason``, ``rows`` (the count)
        and ``unit`` (what it counts: ``source rows`` or ``instances``)."""
        rows = [("dropped", r, n, self.unit(r)) for r, n in self.dropped.items()]
        rows += [("repaired", r, n, self.unit(r)) for r, n in self.repaired.items()]
        return pd.DataFrame(rows, columns=["kind", "reason", "rows", "unit"])

    def copy(self) -> "QualityReport":
        return QualityReport(self.rows_read, self.rows_kept, dict(self.dropped), dict(self.repaired), list(self.warnings))

    def _repr_html_(self) -> str:
        items = "".join(
            f"<tr><td>{html.escape(k)}</td><td>{html.escape(r)}</td><td>{n:,} {u}</td></tr>"
            for k, r, n, u in self.to_frame().itertuples(index=False)
        )
        notes = "".join(f"<li>{html.escape(w)}</li>" for w in self.warnings)
        return (
            f"<b>Data quality</b>: {self.rows_read:,} source rows read, {self.rows_kept:,} kept"
            + (f"<table><tr><th>kind</th><th>reason</th><th>count</th></tr>{items}</table>" if items else "")
            + (f"<ul>{notes}</ul>" if notes else "")
        )


def to_string_ids(s: pd.Series) -> pd.Series:
    """Identifiers as strings; integral floats (``10861.0``) lose their ``.0``."""
    if pd.api.types.is_float_dtype(s.dtype):
        v = s.to_numpy(dtype=float, na_value=np.nan)
        finite = v[~np.isnan(v)]
        if finite.size == 0 or np.all(np.mod(finite, 1) == 0):
            return s.astype("Int64").astype(STRING_DTYPE)
        return s.astype(STRING_DTYPE)
    if pd.api.types.is_integer_dtype(s.dtype) or pd.api.types.is_bool_dtype(s.dtype):
        return s.astype(STRING_DTYPE)
    out = s.astype(STRING_DTYPE)
    # Text like "10861.0" comes from spreadsheets that wrote integer ids as floats.
    if out.str.endswith(".0").any():
        out = out.str.replace(r"^(-?\d+)\.0+$", r"\1", regex=True)
    return out


def sort_canonical(d: pd.DataFrame) -> pd.DataFrame:
    """Sort by case, then start (end where start is missing), then end; stable, so rows with
    equal times keep the order they came in (the file order, for logs read from a file)."""
    order = canonical_order(d)
    if order is None:
        return d.reset_index(drop=True)
    return take_columns(d, order)


def case_ranks(case: pd.Series) -> np.ndarray:
    """Codes that order the case ids as ``pd.factorize(case, sort=True)`` does (missing ids first).

    Arrow strings are ranked by Arrow's sort, which orders them as pandas does (by code
    point) without the hash table of every id and sorted copy that factorising builds: on
    a 500k-row CSV that transient was the peak of reading it.
    """
    arr = case.array
    if not isinstance(arr, pd.arrays.ArrowStringArray):
        return pd.factorize(case, sort=True)[0]
    import pyarrow.compute as pc

    chunked = arr.__arrow_array__()
    ranks = pc.rank(chunked, sort_keys="ascending", tiebreaker="dense").to_numpy(zero_copy_only=False)
    if chunked.null_count:
        return np.where(case.isna().to_numpy(), 0, ranks)
    return ranks


def canonical_order(d: pd.DataFrame) -> np.ndarray | None:
    """The row order :func:`sort_canonical` gives; None when ``d`` is in it already."""
    if len(d) == 0:
        return None
    end, start = _ns(d["end"]), _ns(d["start"])
    key = np.where(start == _NAT, end, start)  # start, else end
    case = d["case_id"]
    # a categorical's codes order it as factorize(sort=True) does (by its categories), without a copy
    codes = case.cat.codes.to_numpy() if isinstance(case.dtype, pd.CategoricalDtype) else case_ranks(case)
    order = np.lexsort((end, key, codes))
    del key, end, start, codes
    return None if np.all(order[1:] > order[:-1]) else order


_NAT = np.iinfo(np.int64).min


def _ns(s: pd.Series) -> np.ndarray:
    """A datetime column's nanoseconds (NaT: the smallest int64); a view where it can be."""
    arr = s.array
    if isinstance(arr, pd.arrays.DatetimeArray) and arr.unit == "ns":
        return np.asarray(arr.asi8)
    return s.to_numpy(dtype="datetime64[ns]").view(np.int64)


def take_columns(d: pd.DataFrame, rows: np.ndarray) -> pd.DataFrame:
    """``d.take(rows)`` on a fresh range index, built one column at a time."""
    out: dict[Any, Any] = {c: d[c].array.take(rows) for c in d.columns}
    return pd.DataFrame(out, index=pd.RangeIndex(len(rows)), copy=False)


_LIBC: Any = None
_RELEASE_MIN_ROWS = 200_000  # smaller logs leave too little behind to be worth a trim


_POOL_LOCK = threading.Lock()
_POOL_STATE: list[Any] = [0, None]  # readers inside system_arrow_pool, the pool to restore


@contextlib.contextmanager
def system_arrow_pool() -> Any:
    """Arrow allocations inside go to the C allocator, as numpy's do, for a bulk read.

    Why: mimalloc, Arrow's default pool, commits whole arenas eagerly; after
    :func:`release_memory` a small Arrow array makes tens of MB resident again (measured
    +27 MB for a 100k-label dictionary), while the C allocator's freed memory goes back
    with the trim. The default is restored when the last reader leaves; arrays keep the
    pool they were allocated from, so freeing them later is safe.
    """
    import pyarrow as pa

    with _POOL_LOCK:
        if _POOL_STATE[0] == 0:
            _POOL_STATE[1] = pa.default_memory_pool()
            pa.set_memory_pool(pa.system_memory_pool())
        _POOL_STATE[0] += 1
    try:
        yield
    finally:
        with _POOL_LOCK:
            _POOL_STATE[0] -= 1
            if _POOL_STATE[0] == 0:
                pa.set_memory_pool(_POOL_STATE[1])
                _POOL_STATE[1] = None


def release_memory(n_rows: int | None = None) -> None:
    """Hand memory that freed temporaries left cached back to the OS, between the big steps of reading.

    Why: glibc keeps freed heap chunks, and Arrow's allocator its pages, so the resident
    peak of reading a large log grows with every step's temporaries even after they are
    freed. A no-op for small logs (``n_rows`` given and below 200,000) and off glibc.
    """
    global _LIBC
    if n_rows is not None and n_rows < _RELEASE_MIN_ROWS:
        return
    try:
        import pyarrow as pa

        pa.default_memory_pool().release_unused()
    except Exception:  # pragma: no cover - Arrow is a dependency; a pool without it is fine
        pass
    if _LIBC is None:
        name = ctypes.util.find_library("c")
        try:
            lib = ctypes.CDLL(name) if name else None
            _LIBC = lib if lib is not None and hasattr(lib, "malloc_trim") else False
        except OSError:
            _LIBC = False
    if _LIBC:
        _LIBC.malloc_trim(0)


def warn_quality(quality: QualityReport, source: str | None, *, stacklevel: int = 3) -> None:
    """Emit one DataQualityWarning summarising drops and repairs, if any."""
    parts = [f"{n:,} {r}" for r, n in quality.dropped.items()]
    rep = [f"{n:,} {r}" for r, n in quality.repaired.items()]
    msg = []
    if parts:
        msg.append("dropped " + ", ".join(parts))
    if rep:
        msg.append("repaired " + ", ".join(rep))
    others = [w for w in quality.warnings if w.startswith("duplicates")]
    if msg or others:
        where = f" in {source}" if source else ""
        text = "; ".join(msg + others)
        warnings.warn(f"data quality{where}: {text}. See log.quality.", DataQualityWarning, stacklevel=stacklevel)
