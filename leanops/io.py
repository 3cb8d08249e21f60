"""Reading event logs from CSV (plain or gzip), Parquet and XES files.

All readers end in :func:`leanops.from_frame`, which maps the columns once and writes the
quality report. XES is parsed with lxml without resolving entities, loading DTDs or touching
the network; a file that declares a DTD or entities is refused.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import gzip
import io
import os
import zlib
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from ._canonical import label_codes, release_memory, system_arrow_pool, warn_quality
from ._normalize import dedupe_instances, lifecycle_mode, reader_owned
from ._validation import check_choice, check_tz
from .errors import InputError
from ._files import atomic_path, neutralise_formulas
from .log import EventLog, QualityReport, from_frame

__all__ = ["read", "read_xes_frame", "write", "convert"]

Format = Literal["csv", "parquet", "xes"]
_GZ_MAGIC = b"\x1f\x8b"
_PARQUET_MAGIC = b"PAR1"


def read(
    path: str | os.PathLike[str],
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
    format: Format | None = None,
    sep: str | None = None,
    encoding: str = "utf-8",
    dedupe: bool = False,
    on_negative: Literal["swap", "drop"] = "swap",
    strict: bool = False,
    max_columns: int | None = None,
    max_attributes: int | None = None,
    max_gzip_ratio: float | None = None,
) -> EventLog:
    """Read an event log file into an :class:`EventLog`.

    Parameters
    ----------
    path : str or path-like
        A ``.csv``, ``.csv.gz``, ``.parquet`` (or a directory of Parquet partitions),
        ``.xes`` or ``.xes.gz`` file. The format is taken from the name, or sniffed from
        the content when the name does not tell.
    case, activity, start, end, resource, lifecycle_column : str, optional
        Source column names. Unnamed ones are detected (``case_id``,
        ``case:concept:name``, ``concept:name``, ``start_time``, ``time:timestamp``,
        ``org:resource``, ``lifecycle:transition``, ...); an explicit name always wins.
        ``timestamp`` is an alias of ``end``.
    lifecycle : {'pair', 'classifier', 'ignore'}, optional
        ``pair`` (default) pairs start and complete events into instances;
        ``classifier`` makes the activity the XES ``<classifier>`` declared in the file
        (or activity + lifecycle) and each event a completion, for logs whose
        transitions are statuses ("In Progress", "Resolved"); ``ignore`` takes each event
        as a completion. See :func:`leanops.from_frame`.
    tz : str
        Time zone of naive timestamps (default UTC). Offsets in the data are honoured.
    format : {'csv', 'parquet', 'xes'}, optional
        Force a format instead of detecting it.
    sep : str, optional
        CSV delimiter (one character); detected from the header line by default.
    encoding : str
        Text encoding of a CSV file (default UTF-8), e.g. ``"latin-1"``.
    dedupe : bool
        Drop exact duplicate rows (kept, with a warning, by default).
    on_negative : {'swap', 'drop'}
        Instances that end before they start are swapped (default) or dropped.
    strict : bool
        Raise :class:`InputError` instead of dropping or repairing anything.
    max_columns : int, optional
        Most columns (CSV, Parquet) or distinct attribute keys (XES) a log may have;
        default 2,000 (environment: ``LEANOPS_MAX_COLUMNS``). Wider files are refused
        before their rows are read.
    max_attributes : int, optional
        Most attributes one XES event may carry; default 1,000
        (``LEANOPS_MAX_ATTRIBUTES``).
    max_gzip_ratio : float, optional
        A gzip file may expand to at most this many times its size (and always to
        64 MB); default 100 (``LEANOPS_MAX_GZIP_RATIO``). Bundled logs expand 19-43
        times; a gzip bomb is refused while it is read, before it fills memory.

    Returns
    -------
    EventLog
        With ``log.quality`` telling what was read, repaired and dropped.

    Raises
    ------
    InputError
        The file is missing, empty, corrupt, of an unknown format, or its columns cannot
        be mapped.

    Notes
    -----
    A Parquet log written by leanops (:func:`write`, :func:`convert`) is read as stored:
    its canonical columns, time zone, mapping and quality report are kept. ``dedupe``
    drops its exact duplicate instances and ``strict`` refuses it when the read that
    wrote it dropped or repaired rows; both count as on the source. A column option may
    only name a column's canonical name or the source column mapped to it, and
    ``lifecycle`` only the mode it was made with (anything else raises
    :class:`InputError`: convert the source again instead). A ``tz`` other than UTC
    becomes its local zone, noted in the quality report.

    Examples
    --------
    >>> import leanops
    >>> log = leanops.read(leanops.datasets.path("purchasing_example"))
    >>> log.n_cases, len(log), log.has_start_times
    (608, 9119, True)
    """
    p = Path(path)
    if format is not None:
        check_choice("format", format, ("csv", "parquet", "xes"))
    if sep is not None and len(sep) != 1:
        raise InputError(f"sep must be one character such as ',' or ';'; got {sep!r}.")
    check_tz(tz)
    _check_encoding(encoding)
    limits = _limits(max_columns=max_columns, max_attributes=max_attributes, max_gzip_ratio=max_gzip_ratio)
    lifecycle_mode(lifecycle, lifecycle_column)  # a bad mode fails before the file is read
    if not p.exists():
        raise InputError(f"file not found: {str(p)!r}. Check the path (leanops datasets lists the bundled logs).")
    if p.is_dir():
        parts = _parquet_files(p)
        if parts and format in (None, "parquet"):
            fmt: str = "parquet"
        else:
            raise InputError(
                f"{str(p)!r} is a directory; give a log file (CSV, Parquet or XES), or a directory of Parquet partitions."
            )
    else:
        fmt = format or _detect_format(p)
    mapping: dict[str, Any] = dict(
        case=case, activity=activity, start=start, end=end, timestamp=timestamp, resource=resource,
        lifecycle=lifecycle, lifecycle_column=lifecycle_column, tz=tz, dedupe=dedupe, on_negative=on_negative, strict=strict, source=str(p),
    )
    token = _LIMITS.set(limits)
    try:
        return _read_as(p, fmt, sep, mapping, encoding)
    except InputError as exc:
        if str(p) in str(exc):
            raise
        raise InputError(f"{str(p)!r}: {exc}") from None
    finally:
        _LIMITS.reset(token)


# ---------------------------------------------------------------------- limits
# Bounds that keep hostile files (a gzip bomb, 50k columns, an event with 100k attributes)
# from hanging a run or filling memory. Each has a read() option and an environment variable.
_LIMIT_DEFAULTS = {"max_columns": 2000, "max_attributes": 1000, "max_gzip_ratio": 100.0}
_LIMIT_ENV = {"max_columns": "LEANOPS_MAX_COLUMNS", "max_attributes": "LEANOPS_MAX_ATTRIBUTES",
              "max_gzip_ratio": "LEANOPS_MAX_GZIP_RATIO"}
_GZIP_FLOOR = 64 * 1024 * 1024  # any gzip may expand this far, whatever its ratio

# the limits of the read in progress, per thread/task
_LIMITS: contextvars.ContextVar[dict[str, float]] = contextvars.ContextVar("leanops_read_limits", default=dict(_LIMIT_DEFAULTS))


def _limits(**given: Any) -> dict[str, float]:
    out: dict[str, float] = {}
    for name, default in _LIMIT_DEFAULTS.items():
        v, where = given.get(name), f"{name}="
        if v is None and os.environ.get(_LIMIT_ENV[name]):
            v, where = os.environ[_LIMIT_ENV[name]], _LIMIT_ENV[name]
        if v is None:
            out[name] = default
            continue
        try:
            num = float(v)
        except (TypeError, ValueError):
            num = float("nan")
        if not num > 0 or isinstance(v, bool):
            raise InputError(f"{where} must be a positive number such as {default:g}; got {v!r}.")
        out[name] = num
    return out


def _limit_hint(name: str) -> str:
    return f"raise the limit with {name}= (Python) or {_LIMIT_ENV[name]} (command line)"


def _check_columns(n: int, p: Path) -> None:
    lim = _LIMITS.get()["max_columns"]
    if n > lim:
        raise InputError(f"{str(p)!r} has {n:,} columns, more than the limit of {int(lim):,}; "
                         f"{_limit_hint('max_columns')}.")


class _Bounded(io.RawIOBase):
    """A decompressing stream that stops with an InputError past ``limit`` bytes."""

    def __init__(self, raw: Any, limit: float, p: Path, packed: int) -> None:
        self._raw, self._limit, self._p, self._packed, self._n = raw, limit, p, packed, 0

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        n = self._raw.readinto(b)
        self._n += n or 0
        if self._n > self._limit:
            ratio = _LIMITS.get()["max_gzip_ratio"]
            raise InputError(
                f"{str(self._p)!r} expands to more than {self._limit / 1e6:,.0f} MB, over {ratio:g} times its "
                f"compressed size of {self._packed / 1e6:,.1f} MB: a gzip bomb, or a log too large to read in memory "
                f"(convert it to Parquet); {_limit_hint('max_gzip_ratio')}."
            )
        return n

    def close(self) -> None:
        self._raw.close()
        super().close()


def _check_encoding(encoding: Any) -> None:
    import codecs

    try:
        codecs.lookup(encoding)
    except (LookupError, TypeError):
        raise InputError(
            f"encoding must be a text codec name such as 'utf-8', 'latin-1' or 'cp1252'; got {encoding!r} "
            "(--encoding, encoding=)."
        ) from None


def _read_as(p: Path, fmt: str, sep: str | None, mapping: dict[str, Any], encoding: str = "utf-8") -> EventLog:
    if fmt == "xes":
        with system_arrow_pool():
            return _read_xes(p, mapping)
    quality = None
    if fmt == "parquet":
        notes = check_partitions(_parquet_files(p), str(p)) if p.is_dir() else []
        canonical = _read_canonical_parquet(p, mapping, notes)
        if canonical is not None:
            return canonical
        frame = _read_parquet(p)
        if notes:
            quality = QualityReport(warnings=notes)
    else:
        frame = _read_csv(p, sep=sep, encoding=encoding, compact=True)
    with reader_owned(frame):  # the frame is ours: normalising may take it apart as it goes
        return from_frame(frame, quality=quality, **mapping)


def _read_xes(p: Path, mapping: dict[str, Any]) -> EventLog:
    frame, quality = _xes_frame(p, tz=mapping["tz"], compact=True)
    release_memory(len(frame))
    # The XES standard keys win over look-alike attributes (Disco writes "Activity" too).
    mode, mapping["lifecycle_column"] = lifecycle_mode(mapping["lifecycle"], mapping["lifecycle_column"])
    mapping["lifecycle"] = mode
    for role, key in _XES_KEYS.items():
        if mapping[role] is None and key in frame.columns and not (role == "end" and mapping["timestamp"]):
            mapping[role] = key
    roles = {v for k, v in mapping.items() if isinstance(v, str) and k not in ("tz", "lifecycle")
             and (k != "lifecycle_column" or mode == "pair")}
    _attributes_as_objects(frame, roles)
    with reader_owned(frame):
        return from_frame(frame, quality=quality, **mapping)


def _attributes_as_objects(frame: pd.DataFrame, roles: set[str]) -> None:
    """XES text attributes (the columns no role takes) as Python strings with None for
    missing values, as the EventLog has always held them; one shared object per distinct
    label. Role columns stay as read (categoricals): normalising converts them anyway."""
    for c in frame.columns:
        if c in roles or not isinstance(frame[c].dtype, (pd.StringDtype, pd.CategoricalDtype)):
            continue
        if isinstance(frame[c].dtype, pd.CategoricalDtype):
            codes, uniques = frame[c].cat.codes.to_numpy(), frame[c].cat.categories
        else:
            codes, uniques = pd.factorize(frame[c])
        labels = np.asarray(uniques, dtype=object)
        frame[c] = np.where(codes >= 0, labels[np.maximum(codes, 0)] if len(labels) else None, None)


def _head(p: Path, n: int = 65536) -> bytes:
    with open(p, "rb") as fh:
        raw = fh.read(n)
    if raw[:2] == _GZ_MAGIC:
        try:
            return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(raw, n)
        except zlib.error:
            raise InputError(f"{str(p)!r} is not a valid gzip file (corrupt header); re-export or re-compress it.") from None
    return raw


def _detect_format(p: Path) -> str:
    name = p.name.lower()
    for suffix, fmt in ((".xes.gz", "xes"), (".xes", "xes"), (".parquet", "parquet"), (".pq", "parquet"),
                        (".csv.gz", "csv"), (".csv", "csv"), (".tsv", "csv"), (".txt", "csv")):
        if name.endswith(suffix):
            if p.stat().st_size == 0:
                raise InputError(f"{str(p)!r} is empty (0 bytes); export the log again.")
            return fmt
    if p.stat().st_size == 0:
        raise InputError(f"{str(p)!r} is empty (0 bytes); export the log again.")
    head = _head(p, 4096)
    if head[:4] == _PARQUET_MAGIC:
        return "parquet"
    if head.lstrip()[:1] == b"<":
        return "xes"
    return "csv"


def _is_gzip(p: Path) -> bool:
    with open(p, "rb") as fh:
        return fh.read(2) == _GZ_MAGIC


def _open_text_bytes(p: Path):
    """The file's bytes, decompressed when it is gzip, within the gzip expansion limit."""
    if not _is_gzip(p):
        return open(p, "rb")
    packed = p.stat().st_size
    limit = max(_GZIP_FLOOR, _LIMITS.get()["max_gzip_ratio"] * packed)
    return io.BufferedReader(_Bounded(gzip.open(p, "rb"), limit, p, packed), 1 << 20)


def _csv_source(p: Path):
    """What pyarrow reads: the path of a plain file (its native reader), or the bounded
    decompressing stream of a gzip file."""
    return _open_text_bytes(p) if _is_gzip(p) else contextlib.nullcontext(str(p))


def _first_line(fh: Any, cap: int = 64 << 20) -> bytes:
    out = bytearray()
    while len(out) < cap:
        chunk = fh.read(1 << 20)
        if not chunk:
            break
        cut = chunk.find(b"\n")
        if cut >= 0:
            out += chunk[:cut]
            break
        out += chunk
    return bytes(out)


def _read_all_bytes(p: Path) -> bytes:
    try:
        with _open_text_bytes(p) as fh:
            return fh.read()
    except InputError:
        raise
    except (EOFError, gzip.BadGzipFile, zlib.error, OSError) as exc:
        raise InputError(f"{str(p)!r} is a truncated or corrupt gzip file ({exc}); re-export or re-download it.") from None


def _check_text(data: bytes, p: Path) -> None:
    if not data.strip():
        raise InputError(f"{str(p)!r} is empty; export the log again.")
    sample = data[:8192]
    if b"\x00" in sample:
        raise InputError(f"{str(p)!r} is a binary file, not a CSV/XES log; give a CSV, Parquet or XES export.")


#: Cells read as missing by both CSV readers (pandas' defaults): "NA", "None", "null", "nan", ...
_NA_VALUES = sorted({"", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
                     "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null"})


def _read_csv(p: Path, *, sep: str | None, encoding: str = "utf-8", compact: bool = False) -> pd.DataFrame:
    """The CSV as a frame: Arrow strings for text, parsed ISO times, and the offset samples
    of time columns that carried offsets (``attrs["leanops_offsets"]``).

    With ``compact`` (what :func:`read` uses), text columns whose first block repeats values
    (labels: cases, activities, resources, statuses, categories) come as categoricals of
    Arrow-string labels instead, named in ``attrs["leanops_labels"]``: normalising keeps
    the role columns as codes to the final rows and builds the other columns' strings from
    the codes, so the log is the same as from the plain frame, in less memory.
    """
    head = _head(p)
    _check_text(head, p)
    first = head.split(b"\n", 1)[0].decode(encoding, errors="replace")
    if len(head) == 65536 and b"\n" not in head:
        # a header line longer than 64 KB: count its delimiters without decoding it whole
        with _open_text_bytes(p) as fh:
            first = _first_line(fh).decode(encoding, errors="replace")
    if sep is None:
        counts = {c: first.count(c) for c in (",", ";", "\t", "|")}
        sep = max(counts, key=lambda c: counts[c])
        if counts[sep] == 0:
            raise InputError(
                f"{str(p)!r} does not look like a CSV log: its first line has no delimiter (',', ';', tab or '|'). "
                "A log needs at least a case, an activity and a timestamp column."
            )
    _check_columns(first.count(sep) + 1, p)  # an upper bound (quoted delimiters count too), before any row is read
    not_text = InputError(
        f"{str(p)!r} is not {encoding} text; re-save it as UTF-8, or name its encoding "
        "(leanops.read(path, encoding='latin-1'), --encoding latin-1)."
    )
    try:
        # pyarrow's reader parses ISO timestamps natively, and its strings become pandas
        # Arrow strings without a copy into Python objects.
        import pyarrow as pa

        table, tails = _arrow_csv(p, sep, encoding, compact=compact)
    except InputError:
        raise
    except Exception:
        table = None  # the pandas reader below gives the precise error, or reads what Arrow would not
    if table is not None:
        if any(pa.types.is_binary(f.type) or pa.types.is_large_binary(f.type) for f in table.schema):
            raise not_text  # Arrow keeps bytes that are not valid text as binary columns
        aware = [f.name for f in table.schema if pa.types.is_timestamp(f.type) and f.type.tz is not None]
        columns, names = table.columns, table.column_names
        del table
        frame = _columns_frame(columns, names)
        _csv_pool().release_unused()  # the blocks parsed and freed: not cached through normalising
        release_memory(len(frame))
        if aware:
            # Arrow turned offsets into UTC: the tails of the text tell the local clock the
            # source wrote (see _normalize.local_zone)
            frame.attrs["leanops_offsets"] = _csv_offsets(p, sep, encoding, aware, frame, tails)
        return frame
    data = _read_all_bytes(p)
    try:
        return pd.read_csv(io.BytesIO(data), sep=sep, encoding=encoding, low_memory=False,
                           keep_default_na=False, na_values=_NA_VALUES)
    except pd.errors.EmptyDataError:
        raise InputError(f"{str(p)!r} has no rows; export the log again.") from None
    except UnicodeDecodeError:
        raise not_text from None
    except LookupError:
        raise InputError(f"encoding must be a codec name such as 'utf-8' or 'latin-1'; got {encoding!r}.") from None
    except pd.errors.ParserError as exc:
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"{str(p)!r} is not a readable CSV file ({msg}); check the delimiter (--sep) and encoding.") from None


def _columns_frame(columns: list[Any], names: list[str]) -> pd.DataFrame:
    """The parsed Arrow columns as a frame, taken from ``columns`` one at a time (the list
    empties, so each Arrow column is freed once converted).

    A dictionary-encoded column (``compact``) becomes a categorical of Arrow-string labels,
    its per-block dictionaries unified once (no Python string per label: see
    :func:`label_codes`), named in ``attrs["leanops_labels"]``; fixed-width columns are
    converted into the C allocator's memory; text is wrapped as it is, then, once every
    other column is converted, combined into one chunk per column (string kernels then
    run once, not per block).

    Why in that order, returning the pool's pages after each large column: the parse
    interleaves every column's blocks in the same pages, and a page goes back only once
    all of them are freed. Measured peaks: 500k rows 2.2x the table (one ``to_pandas`` of
    the table: 2.5x); with 30 more attributes, 10 of them unique text, 1.75x (one
    ``to_pandas``: 1.94x; combining each text column as it came: 2.24x). A table without
    labels (the plain parse, or no text column worth encoding) goes through one
    ``to_pandas``, which peaks lower there (500k rows: 59 MB, 66 MB a column at a time).
    """
    import pyarrow as pa

    pool = _csv_pool()
    strings = (pa.string(), pa.large_string())

    def mapper(t: Any) -> Any:
        return pd.StringDtype("pyarrow") if t in strings else None

    out: dict[int, pd.Series] = {}
    labels: set[str] = set()
    if not any(pa.types.is_dictionary(c.type) for c in columns):
        # no labels: one to_pandas of the table (measured lower there, see above)
        table = pa.Table.from_arrays(columns, names=[str(i) for i in range(len(names))])
        columns.clear()
        whole = table.to_pandas(types_mapper=mapper, split_blocks=True, self_destruct=True, memory_pool=pool)
        del table
        pool.release_unused()
        out = {i: whole.iloc[:, i] for i in range(whole.shape[1])}
        del whole
    else:
        for i, name in enumerate(names):
            col = columns.pop(0)
            big = col.nbytes > _RELEASE_BYTES
            if pa.types.is_dictionary(col.type):
                out[i] = _label_column(col)
                labels.add(name)
            else:
                one = pa.Table.from_arrays([col], names=["c"])
                del col  # self_destruct frees the Arrow buffers once nothing else holds them
                s = one.to_pandas(types_mapper=mapper, split_blocks=True, self_destruct=True,
                                  memory_pool=pa.system_memory_pool())["c"]
                del one
                out[i] = s
                del s
            if big:
                pool.release_unused()
    for i, s in out.items():
        arr = s.array
        if isinstance(arr, pd.arrays.ArrowStringArray) and arr.__arrow_array__().num_chunks > 1:
            out[i] = pd.Series(pd.arrays.ArrowStringArray(pa.chunked_array([arr.__arrow_array__().combine_chunks(pool)])),
                               copy=False)
            del arr, s
            pool.release_unused()
    frame = pd.DataFrame(out, copy=False)
    frame.columns = pd.Index(names, dtype=object)
    if labels:
        frame.attrs["leanops_labels"] = _Names(labels)
    return frame


class _Names(frozenset):
    """Column names kept in ``DataFrame.attrs``, shared rather than copied: pandas deep-copies
    the attrs into every column it hands out (1,500 names cost 2.8 s over a wide read)."""

    def __deepcopy__(self, memo: Any) -> "_Names":
        return self


def _label_column(col: Any) -> pd.Series:
    """A dictionary-encoded Arrow column (one dictionary per block) as a categorical Series.

    Why the C allocator: the parse's pool is mimalloc, which commits a fresh arena for the
    unified dictionary and its indices (measured +22 MB resident on 500k rows, +5 MB here).
    """
    import pyarrow as pa

    with system_arrow_pool():
        col = col.unify_dictionaries(pa.system_memory_pool())
        dictionary = col.chunk(0).dictionary if col.num_chunks else pa.array([], pa.string())
        indices = pa.chunked_array([c.indices for c in col.chunks], pa.int32())
        del col
        if indices.null_count:
            indices = indices.fill_null(-1)
        codes = indices.to_numpy()
        del indices
        return label_codes(codes, dictionary)


#: Arrow columns larger than this hand the pool's freed pages back once converted.
_RELEASE_BYTES = 1 << 20


#: Bytes per block of the streaming CSV read. Small blocks keep few raw and parsed blocks
#: alive (and cached) at once: on the 500k-row log of benchmarks/bench_read.py, parsing
#: peaks at 1.8-1.9x the parsed frame with 64 KB, 2.4x with 256 KB and 2.7-3x with 1 MB.
_CSV_BLOCK = 1 << 16


@functools.cache
def _csv_pool():
    """The Arrow memory pool the CSV read allocates from: mimalloc when Arrow has it.

    Why: every parsed block is freed right after conversion. mimalloc hands freed pages back
    on ``release_unused()``; measured on the same read, jemalloc kept them resident even
    after it (decay 0 too) and malloc's pool peaked 25 MB higher, so with either the
    resident peak grows with the file rather than with the table.
    """
    import pyarrow as pa

    try:
        return pa.mimalloc_memory_pool()
    except (NotImplementedError, pa.ArrowNotImplementedError):
        return pa.default_memory_pool()


def _streamed(stream: Any, convert: Any, compact: bool) -> tuple[Any, dict[str, Any]]:
    """The streamed read of :func:`_arrow_csv`: the table (see :func:`_batches_table`), and
    the offset tails of its time columns that carry UTC offsets."""
    import pyarrow as pa

    with stream(convert) as reader:
        aware = {f.name: f.type for f in reader.schema if pa.types.is_timestamp(f.type) and f.type.tz is not None}
        if not aware:
            return _batches_table(reader, {}, {}, compact), {}
    # Arrow turns offsets into UTC: read those columns as text instead, and keep of each
    # value only its tail (the offset the source wrote) beside the instant it parses to
    convert.column_types = {c: pa.string() for c in aware}
    tails: dict[str, list[Any]] = {c: [] for c in aware}
    with stream(convert) as reader:
        table = _batches_table(reader, aware, tails, compact)
    return table, {c: pa.chunked_array(t, pa.dictionary(pa.int32(), pa.string())) for c, t in tails.items()}


def _arrow_csv(p: Path, sep: str, encoding: str, *, compact: bool = False):
    """The CSV as an Arrow table, streamed block by block so that only a few raw and parsed
    blocks are alive at once (``read_csv`` keeps every parsed block until the end), and the
    offset tails of its time columns that carry UTC offsets (see :func:`_offset_tails`).
    With ``compact``, its label-like text columns are dictionary-encoded block by block
    (see :func:`_batches_table`).

    The column types are inferred from the first block. When a later block does not fit
    them (numbers that turn to text further down), the file is read again with
    ``read_csv``, which infers over the whole file, so the result is what it always was.

    A gzip file is read whole with ``read_csv``, not streamed: its bytes come from a Python
    stream (the expansion limit) that Arrow calls from its I/O thread, and a streaming
    reader stopped by that stream's error could leave the thread calling into Python while
    the interpreter exits (an abort instead of exit 2, seen once under load). ``read_csv``
    returns only when its threads are done.
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv

    pool = _csv_pool()
    parse = pacsv.ParseOptions(delimiter=sep)
    # the same missing-value markers as the pandas fallback, in text columns too
    convert = pacsv.ConvertOptions(null_values=_NA_VALUES, strings_can_be_null=True)

    @contextlib.contextmanager
    def stream(options: Any):
        reader = pacsv.open_csv(str(p), parse_options=parse, convert_options=options, memory_pool=pool,
                                read_options=pacsv.ReadOptions(encoding=encoding, block_size=_CSV_BLOCK))
        try:
            yield reader
        finally:  # stopped here, in this thread, whether it ended or failed
            reader.close()

    if not _is_gzip(p):  # see the docstring
        try:
            return _streamed(stream, convert, compact)
        except pa.ArrowInvalid:
            pass
    with _csv_source(p) as src:
        table = pacsv.read_csv(src, parse_options=parse, convert_options=convert, memory_pool=pool,
                               read_options=pacsv.ReadOptions(encoding=encoding))
    # not encoded here: the whole file's text is held by now (measured on the 500k-row CSV
    # gzipped: encoding after the read peaked higher, 125-133 MB against 114-126 MB)
    return table, None


def _is_label(first: Any) -> bool:
    """Whether a column whose first block is ``first`` is encoded as labels (``compact``)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    return first.type == pa.string() and len(first) > 0 and pc.count_distinct(first).as_py() <= _LABEL_SHARE * len(first)


#: A text column is dictionary-encoded (``compact``) when its first block holds at most
#: this share of distinct values: labels (cases, activities, resources, statuses) repeat,
#: while ids unique per row or free text would only gain a code per row. Generous, since
#: a block is a small window: in an export sorted by time the first block's case ids are
#: mostly distinct although each case has several rows, and leaving a label as text costs
#: far more than a code per row costs a column that turns out unique.
_LABEL_SHARE = 0.9
#: Parsed blocks between returns of the pool's freed pages while streaming: the text of
#: offset columns is freed block by block once cast (500k rows with offsets: 63-67 MB peak
#: with it, 69-70 MB without).
_RELEASE_EVERY = 64


def _batches_table(reader: Any, aware: dict[str, Any], tails: dict[str, list[Any]], compact: bool) -> Any:
    """The streamed batches as one Arrow table; the columns in ``aware`` (read as text) cast to
    their timestamp type with their offset tails kept in ``tails``; with ``compact``, the
    text columns whose first block repeats values dictionary-encoded as they stream
    (each chunk its own dictionary: :func:`_label_column` unifies them once).

    Why as they stream: the parsed text of a label column is several times its codes, and
    held whole it set the peak of normalising (a code per row is what the categorical
    keeps). A label column's text is encoded in runs of blocks, not block by block: a block
    of a wide file holds a few hundred rows, and one call per block and column cost more
    than the hashing. The text pending in all label columns together stays within
    ``_LABEL_RUN_BYTES`` (or 4 KB a column, for thousands of them)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    pool = _csv_pool()
    labels: set[int] | None = None if compact else set()
    fields: list[Any] = []
    chunks: list[list[Any]] = []
    pending: dict[int, list[Any]] = {}
    held: dict[int, int] = {}
    plain: list[int] = []
    run_bytes = _LABEL_RUN_BYTES

    def encode(i: int) -> None:
        run = pending[i]
        if run:
            text = run[0] if len(run) == 1 else pa.concat_arrays(run, memory_pool=pool)
            run.clear()
            held[i] = 0
            chunks[i].append(pc.dictionary_encode(text, memory_pool=pool))

    n_blocks = 0
    for batch in reader:
        cols = batch.columns
        for i, f in enumerate(batch.schema) if aware else ():
            if f.name in aware:
                tails[f.name].append(_offset_tails(cols[i]))
                cols[i] = cols[i].cast(aware[f.name])  # Arrow's own ISO parser, as the CSV reader's
        if labels is None:  # the first block decides which columns are labels
            labels = {i for i, f in enumerate(batch.schema) if f.name not in aware and _is_label(cols[i])}
            pending = {i: [] for i in labels}
            held = dict.fromkeys(labels, 0)  # bytes of text pending per label column
            # all columns' pending text together, but runs of at least 4 KB (calls cost more below)
            run_bytes = max(_LABEL_RUN_BYTES // max(1, len(labels)), 1 << 12)
        if not fields:
            fields = [f.with_type(pa.dictionary(pa.int32(), pa.string()) if i in labels else cols[i].type)
                      for i, f in enumerate(batch.schema)]
            chunks = [[] for _ in fields]
            plain = [i for i in range(len(fields)) if i not in labels]
        for i in plain:
            chunks[i].append(cols[i])
        for i in pending:
            pending[i].append(cols[i])
            held[i] += cols[i].nbytes
            if held[i] >= run_bytes:
                encode(i)
        del cols, batch
        n_blocks += 1
        if n_blocks % _RELEASE_EVERY == 0:
            pool.release_unused()
    for i in pending:
        encode(i)
    if not fields:  # no rows: the header's columns
        fields = [f.with_type(aware.get(f.name, f.type)) for f in reader.schema]
        chunks = [[] for _ in fields]
    schema = pa.schema(fields)
    return pa.Table.from_arrays([pa.chunked_array(c, f.type) for c, f in zip(chunks, fields)], schema=schema)


#: Bytes of text the label columns gather together before they are dictionary-encoded (see
#: :func:`_batches_table`); a file with a few label columns encodes each in runs of 100 KB or more.
_LABEL_RUN_BYTES = 1 << 20


#: What Python's ``str.strip`` removes (every ``chr(c).isspace()``; written out, as
#: scanning all code points costs 55 ms at import): offsets are matched on stripped text.
_WHITESPACE = ("\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005"
               "\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000")


def _offset_tails(text: Any) -> Any:
    """The last six characters of each stripped value: the longest offset (``+05:30``) that
    :func:`leanops._normalize.offset_samples` matches at the end, and only what it reads.
    Dictionary-encoded: a column holds few distinct tails, so a code per row is what it costs."""
    import pyarrow.compute as pc

    return pc.utf8_slice_codeunits(pc.utf8_trim(text, characters=_WHITESPACE), start=-6).dictionary_encode()


def _csv_offsets(p: Path, sep: str, encoding: str, cols: list[str], frame: pd.DataFrame,
                 tails: dict[str, Any] | None) -> dict[str, Any]:
    """Samples of (instant, offset) per column that carried offsets (see
    :func:`leanops._normalize.local_zone`), from the tails kept while streaming; after a
    ``read_csv`` fallback, from the columns read again as text."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    from ._normalize import offset_samples

    if tails is None:
        with _csv_source(p) as src:
            text = pacsv.read_csv(
                src, parse_options=pacsv.ParseOptions(delimiter=sep), read_options=pacsv.ReadOptions(encoding=encoding),
                convert_options=pacsv.ConvertOptions(include_columns=cols, column_types={c: pa.string() for c in cols}),
            )
        tails = {c: _offset_tails(text.column(c)) for c in cols}
        del text
    return {c: offset_samples(tails[c].to_pandas(), frame[c]) for c in cols}


def _read_parquet(p: Path) -> pd.DataFrame:
    try:
        import pyarrow.parquet as pq

        files = _parquet_files(p)
        if files:
            _check_columns(len(pq.read_schema(files[0]).names), p)
        return pd.read_parquet(p)
    except InputError:
        raise
    except Exception as exc:
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"{str(p)!r} is not a readable Parquet file ({msg}).") from None


# ------------------------------------------------------------------------- XES

_XES_KEYS = {
    "case": "case:concept:name", "activity": "concept:name", "end": "time:timestamp",
    "resource": "org:resource", "lifecycle_column": "lifecycle:transition",
}


_CHUNK = 1 << 16  # events per batch of the lxml reader: bounds the memory held as Python strings


def read_xes_frame(path: str | os.PathLike[str], *, tz: str = "UTC") -> tuple[pd.DataFrame, QualityReport]:
    """Parse an XES file into a flat frame, one row per event, with XES key names.

    Trace attributes become ``case:<key>`` columns, as in pm4py. Dates are parsed to
    UTC (naive ones read in ``tz``), ints and floats to numbers, booleans to
    True/False; other values are Arrow-backed strings. Nested attribute values (lists,
    containers) are skipped. Entities and DTDs are never resolved.

    Plain XES (the shape most exporters write) is read by a vectorised byte scanner
    (:mod:`leanops._xes_scan`); anything else by lxml's iterparse. Both give the same frame.
    ``LEANOPS_XES_PARSER=lxml`` forces the lxml reader. A shape the scanner does not read
    goes to lxml silently (that is the design); an unexpected scanner error also goes to
    lxml, and the quality report's warnings say so, naming the error.

    Parameters
    ----------
    path : str or path-like
        An ``.xes`` or ``.xes.gz`` file.
    tz : str
        The zone of timestamps written without an offset.

    Returns
    -------
    (pandas.DataFrame, QualityReport)
        The frame (``attrs`` hold the classifiers, sampled UTC offsets and the rows whose
        dates did not parse) and a report with ``rows_read``.

    Examples
    --------
    >>> from leanops import datasets
    >>> frame, quality = read_xes_frame(datasets.path("production"))
    >>> quality.rows_read, frame["time:timestamp"].dtype
    (9906, datetime64[ns, UTC])
    """
    return _xes_frame(Path(path), tz=tz, compact=False)


def _xes_frame(p: Path, *, tz: str, compact: bool) -> tuple[pd.DataFrame, QualityReport]:
    """:func:`read_xes_frame`; ``compact=True`` keeps text columns as categoricals (what
    ``read`` uses: a million labels are never held as strings)."""
    with system_arrow_pool():
        return _xes_frame_in(p, tz=tz, compact=compact)


def _xes_frame_in(p: Path, *, tz: str, compact: bool) -> tuple[pd.DataFrame, QualityReport]:
    from ._xes_scan import Fallback, XesColumns, scan

    head = _head(p)
    if not head.strip():
        raise InputError(f"{str(p)!r} is empty; export the log again.")
    if b"\x00" in head[:8192]:
        raise InputError(f"{str(p)!r} is a binary file, not XES; give an XES, CSV or Parquet export.")
    upper = head.upper()
    if b"<!DOCTYPE" in upper or b"<!ENTITY" in upper:
        raise InputError(
            f"{str(p)!r} declares a DTD or entities (<!DOCTYPE/<!ENTITY>); leanops does not resolve them, "
            "for safety. Remove the DOCTYPE declaration from the file."
        )
    limits = _LIMITS.get()
    acc = XesColumns(tz)
    classifiers: list[tuple[str, list[str]]] | None = None
    notes: list[str] = []
    if os.environ.get("LEANOPS_XES_PARSER", "").strip().lower() != "lxml":
        try:
            with _open_text_bytes(p) as fh:
                classifiers = scan(fh, acc, max_attrs=limits["max_attributes"], max_cols=limits["max_columns"])
        except Fallback:
            acc, classifiers = XesColumns(tz), None  # lxml reads it all again, and is the judge
        except (InputError, MemoryError):
            raise
        except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
            raise InputError(f"{str(p)!r} is a truncated or corrupt gzip file ({exc}); re-export or re-download it.") from None
        except OSError as exc:
            raise InputError(f"{str(p)!r} cannot be read as XES ({exc}).") from None
        except Exception as exc:  # anything the scanner did not foresee: the reference reader decides
            acc, classifiers = XesColumns(tz), None
            # said, not silent: the result is lxml's (the same), but a scanner bug should be seen
            notes.append(f"XES: the fast scanner stopped on an unexpected error ({type(exc).__name__}: "
                         f"{str(exc)[:120]}); the file was read with the lxml reader instead (same result, slower)")
    if classifiers is None:
        classifiers = _read_xes_lxml(p, acc)
    n = acc.n
    release_memory(n)  # the scan's freed temporaries, before the columns are built
    frame = acc.frame(compact=compact)
    frame.attrs["leanops_classifiers"] = classifiers
    return frame, QualityReport(rows_read=n, warnings=notes)


def _read_xes_lxml(p: Path, acc: Any) -> list[tuple[str, list[str]]]:
    """Read an XES file with lxml's iterparse into ``acc`` (an ``_xes_scan.XesColumns``);
    return the classifiers. Values are gathered as Python lists per batch of events and
    handed over as Arrow arrays."""
    import pyarrow as pa
    from lxml import etree

    from ._xes_scan import classifier_keys

    cur: dict[str, list[Any]] = {}  # event attribute values of events [base, n)
    tcur: dict[str, tuple[list[int], list[Any]]] = {}  # trace attributes: (trace numbers, values)
    sizes: list[int] = []
    n = base = trace_first = 0
    classifiers: list[tuple[str, list[str]]] = []
    max_attrs, max_cols = _LIMITS.get()["max_attributes"], _LIMITS.get()["max_columns"]

    def flush(upto: int) -> None:
        for key, col in cur.items():
            if col:
                col.extend([None] * (upto - base - len(col)))
                acc.add(key, True, base, pa.array(col, pa.large_string()))
                col.clear()
        for key, (idx, vals) in tcur.items():
            if idx:
                acc.add(key, False, np.asarray(idx, dtype=np.int64), pa.array(vals, pa.large_string()))
                idx.clear()
                vals.clear()
        acc.advance(upto)

    try:
        fh = _open_text_bytes(p)
        with fh:
            ctx = etree.iterparse(
                fh, events=("end",), tag=("{*}event", "{*}trace", "event", "trace", "{*}classifier", "classifier"),
                resolve_entities=False, no_network=True, load_dtd=False, huge_tree=True, remove_comments=True,
            )
            for _, elem in ctx:
                tag = elem.tag
                if tag[-5:] == "event":
                    if len(elem) > max_attrs:
                        raise InputError(
                            f"{str(p)!r}: event {n + 1:,} has {len(elem):,} attributes, more than the limit of "
                            f"{int(max_attrs):,}; {_limit_hint('max_attributes')}."
                        )
                    i = n - base
                    for child in elem:
                        key = child.get("key")
                        if key is None:
                            continue
                        col = cur.get(key)
                        if col is None:
                            col = cur[key] = []
                            acc.see(key, etree.QName(child).localname if isinstance(child.tag, str) else "string")
                            if len(acc.kinds) > max_cols:
                                _check_columns(len(acc.kinds), p)
                        if len(col) < i:
                            col.extend([None] * (i - len(col)))
                        if len(col) > i:  # a key twice in one event: the last value wins, as in pm4py
                            col[i] = child.get("value")
                        else:
                            col.append(child.get("value"))
                    n += 1
                elif tag[-5:] == "trace":
                    t = len(sizes)
                    sizes.append(n - trace_first)
                    for child in elem:
                        key = child.get("key")
                        if key is None or not isinstance(child.tag, str) or child.tag[-5:] == "event":
                            continue
                        ckey = "case:" + key
                        got = tcur.get(ckey)
                        if got is None:
                            got = tcur[ckey] = ([], [])
                            acc.see(ckey, etree.QName(child).localname)
                            if len(acc.kinds) > max_cols:
                                _check_columns(len(acc.kinds), p)
                        if got[0] and got[0][-1] == t:  # a key twice in one trace: the last value wins
                            got[1][-1] = child.get("value")
                        else:
                            got[0].append(t)
                            got[1].append(child.get("value"))
                    trace_first = n
                    if n - base >= _CHUNK:
                        flush(n)
                        base = n
                elif tag[-10:] == "classifier":
                    classifiers.append((elem.get("name") or "", classifier_keys(elem.get("keys") or "")))
                else:
                    continue
                parent = elem.getparent()
                if parent is not None:
                    parent.remove(elem)
                else:
                    elem.clear()
    except etree.XMLSyntaxError as exc:
        raise InputError(f"{str(p)!r} is not well-formed XES ({str(exc).splitlines()[0]}).") from None
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise InputError(f"{str(p)!r} is a truncated or corrupt gzip file ({exc}); re-export or re-download it.") from None
    except OSError as exc:
        raise InputError(f"{str(p)!r} cannot be read as XES ({exc}).") from None
    if n == 0:
        raise InputError(f"{str(p)!r} has no <event> elements; is it an XES event log?")
    flush(n)
    acc.sizes.append(np.asarray(sizes, dtype=np.int64))
    acc.n, acc.n_traces = n, len(sizes)
    return classifiers


# ----------------------------------------------------------------------- write

def write(log: EventLog, path: str | os.PathLike[str], *, format: Format | None = None,
          formulas: Literal["neutralise", "keep"] = "neutralise") -> Path:
    """Write a log as CSV (``case_id, activity, start_time, end_time, resource, ...``) or Parquet.

    Parameters
    ----------
    log : EventLog
    path : str or path-like
        ``.csv``, ``.csv.gz`` or ``.parquet``.
    format : {'csv', 'parquet'}, optional
        Overrides the format implied by the name.
    formulas : {'neutralise', 'keep'}, default 'neutralise'
        CSV only: text cells starting with ``= + - @``, a tab or CR (which a spreadsheet
        would run as a formula) get a leading ``'``; ``'keep'`` writes them raw. Numbers,
        and text that reads as a plain number (``-5``), are never changed.

    The file never replaces the log's own source file. It appears only when it is complete: it is written next to ``path`` under a
    temporary name and moved into place.

    Examples
    --------
    >>> import tempfile, pathlib, leanops
    >>> log = leanops.datasets.load("purchasing_example")
    >>> with tempfile.TemporaryDirectory() as d:
    ...     p = leanops.write(log, pathlib.Path(d) / "log.csv")
    ...     leanops.read(p).n_cases
    608
    """
    p = Path(path)
    fmt = format or ("parquet" if p.suffix.lower() in (".parquet", ".pq") else "csv")
    check_choice("format", fmt, ("csv", "parquet"))
    check_choice("formulas", formulas, ("neutralise", "keep"))
    with atomic_path(p, inputs=(log.source,)) as tmp:
        if fmt == "parquet":
            _write_canonical(log.df, tmp, log, partition=None)
        else:
            out = log.df.rename(columns={"start": "start_time", "end": "end_time"})
            if formulas == "neutralise":
                out = neutralise_formulas(out)[0]
            out.to_csv(tmp, index=False, compression="gzip" if p.name.lower().endswith(".gz") else None)
    return p


# ------------------------------------------------------- canonical Parquet (scale)
# A Parquet file written by leanops carries the canonical schema and, under the key
# ``leanops`` of the file metadata, a JSON document: format version, the quality report of
# the read that produced it, the time zone, the source, the number of partitions and
# whether cases are split by partition (each case lies in exactly one file). Reading such
# a file skips column mapping and re-sorting; the engines rely on the case split.

PARQUET_META_KEY = b"leanops"
PARQUET_FORMAT_VERSION = 1


def _parquet_files(p: Path) -> list[Path]:
    """The files of a Parquet dataset: every ``*.parquet`` below the folder, at any depth
    (Hive-style ``key=value`` folders too), in path order. The in-memory reader and the
    engines (:func:`leanops.scan`) use this one list, so they read the same rows."""
    if not p.is_dir():
        return [p]
    return sorted(p.rglob("*.parquet"))


def check_partitions(files: list[Path], where: str) -> list[str]:
    """Check that the files of a partitioned canonical log belong together.

    Raises InputError for a file without leanops metadata among canonical partitions (a
    foreign file) and for a partition number held by two files (a copy); returns notes
    for the quality report when partitions are missing or come from different sources.
    """
    import json

    import pyarrow.parquet as pq

    if len(files) < 2:
        return []
    seen: dict[Any, Path] = {}
    foreign: list[Path] = []
    totals, sources = set(), set()
    for f in files:
        try:
            raw = (pq.read_schema(f).metadata or {}).get(PARQUET_META_KEY)
            meta = json.loads(raw) if raw is not None else None
        except Exception:
            meta = None
        if not isinstance(meta, dict) or not meta.get("canonical"):
            foreign.append(f)
            continue
        k = meta.get("partition")
        if k in seen:
            raise InputError(
                f"{where}: partition {k} is in two files, {str(seen[k])!r} and {str(f)!r} (a copy?); "
                "remove one, or convert the log again with --overwrite."
            )
        seen[k] = f
        totals.add(meta.get("partitions"))
        sources.add(str(meta.get("source")))
    if seen and foreign:
        raise InputError(
            f"{where}: {str(foreign[0])!r} is not a partition of this log (no leanops metadata), beside "
            f"{len(seen)} that are; move it out of the folder."
        )
    notes = []
    if seen and len(totals) == 1 and None not in totals and next(iter(totals)) != len(seen):
        notes.append(f"partitions: {len(seen)} of the {next(iter(totals))} written are present; the rest are missing")
    if len(sources) > 1:
        notes.append(f"partitions: the files come from {len(sources)} different sources")
    return notes


def meta_quality(meta: dict[str, Any], n: int, where: str) -> QualityReport:
    """The QualityReport stored in a canonical file's metadata (``n`` rows when absent)."""
    q = meta.get("quality") or {}
    try:
        return QualityReport(
            rows_read=int(q.get("rows_read", n)), rows_kept=int(q.get("rows_kept", n)),
            dropped={str(k): int(v) for k, v in dict(q.get("dropped", {})).items()},
            repaired={str(k): int(v) for k, v in dict(q.get("repaired", {})).items()},
            warnings=[str(w) for w in list(q.get("warnings", []))],
        )
    except (TypeError, ValueError, AttributeError):
        raise InputError(f"{where}: the leanops metadata of this Parquet file is corrupt (quality report); "
                         "convert the source log again.") from None


def parquet_metadata(path: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The ``leanops`` metadata document of a Parquet file (first partition of a directory)."""
    import json

    import pyarrow.parquet as pq

    files = _parquet_files(Path(path))
    if not files:
        return None
    try:
        meta = pq.read_schema(files[0]).metadata or {}
    except Exception:
        return None
    raw = meta.get(PARQUET_META_KEY)
    if raw is None:
        return None
    try:
        doc = json.loads(raw)
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None


def _canonical_table(df: pd.DataFrame, meta: dict[str, Any]):
    import json

    import pyarrow as pa

    table = pa.Table.from_pandas(df, preserve_index=False)
    md = dict(table.schema.metadata or {})
    md[PARQUET_META_KEY] = json.dumps(meta).encode()
    return table.replace_schema_metadata(md)


def _meta_doc(log: EventLog, *, partitions: int | None, partition: int | None) -> dict[str, Any]:
    return {
        "format": PARQUET_FORMAT_VERSION,
        "canonical": True,
        "partitions": partitions,
        "partition": partition,
        "split_by_case": True,
        "tz": log.tz,
        "source": log.source,
        "mapping": dict(log.mapping),
        "quality": log.quality.to_dict(),
        "n_events": len(log),
        "n_cases": log.n_cases,
    }


def _write_canonical(df: pd.DataFrame, p: Path, log: EventLog, *, partition: int | None,
                     partitions: int | None = None, row_group_size: int = 1_000_000) -> None:
    import pyarrow.parquet as pq

    table = _canonical_table(df, _meta_doc(log, partitions=partitions, partition=partition))
    pq.write_table(table, p, row_group_size=row_group_size, compression="zstd")


def case_partition(case_ids: pd.Series | np.ndarray, partitions: int) -> np.ndarray:
    """The partition of each case id: a stable hash of the id modulo ``partitions``.

    The hash (pandas' SipHash with its fixed key) does not depend on the process, so the
    same id always lands in the same partition.
    """
    h = pd.util.hash_array(np.asarray(pd.Series(case_ids).astype(object).to_numpy()), categorize=True)
    return (h % np.uint64(partitions)).astype(np.int64)


def partition_count(log: EventLog, dest: str | os.PathLike[str], partitions: int | None) -> int:
    """How many Parquet files :func:`convert` writes for ``log`` at ``dest``: ``partitions``,
    else 1 for a ``.parquet`` name and about one per million instances for a directory."""
    if partitions is not None:
        return int(partitions)
    if Path(dest).name.lower().endswith((".parquet", ".pq")):
        return 1
    return max(1, round(len(log) / 1_000_000))


def convert(
    source: EventLog | str | os.PathLike[str],
    dest: str | os.PathLike[str],
    *,
    partitions: int | None = None,
    overwrite: bool = False,
    **mapping: Any,
) -> Path:
    """Write a log as canonical Parquet: one file, or a directory of partitions split by case.

    The columns are the EventLog's (``case_id, activity, start, end, resource``, then the
    attributes) and the file metadata keeps the quality report of the read, so
    :func:`leanops.read` gets it back without mapping columns again, and
    :func:`leanops.scan` can hand the file to DuckDB or Dask.

    Parameters
    ----------
    source : EventLog or path
        A log, or a file to read with :func:`leanops.read` (``mapping`` is passed on).
    dest : path
        ``out.parquet`` for one file, or a directory for partitions
        (``part-00000.parquet``, ...). A ``dest`` that does not end in ``.parquet`` is a
        directory.
    partitions : int, optional
        Number of partitions, each holding the cases whose id hashes to it (so every case
        lies in one file). By default 1 for a ``.parquet`` name, else about one per
        million instances.
    overwrite : bool
        Replace an existing ``dest``.

    Returns
    -------
    pathlib.Path
        ``dest``.

    Examples
    --------
    >>> import leanops, tempfile, os
    >>> d = tempfile.mkdtemp()
    >>> out = leanops.convert(leanops.datasets.path("production"), os.path.join(d, "parts"), partitions=3)
    >>> sorted(p.name for p in out.iterdir())
    ['part-00000.parquet', 'part-00001.parquet', 'part-00002.parquet']
    >>> leanops.read(out).n_cases
    225
    """
    log = source if isinstance(source, EventLog) else read(source, **mapping)
    if isinstance(source, EventLog) and mapping:
        raise InputError(f"convert: column mapping options {sorted(mapping)} apply to a file, not to an EventLog; drop them.")
    out = Path(dest)
    if partitions is not None and (not isinstance(partitions, (int, np.integer)) or isinstance(partitions, bool) or partitions < 1):
        raise InputError(f"convert: partitions must be a positive integer; got {partitions!r}.")
    k = partition_count(log, out, partitions)
    as_dir = k > 1 or not out.name.lower().endswith((".parquet", ".pq"))
    # one writer (leanops._files): never over an input, unique temp names, the old output
    # replaced only once the new one is complete
    with atomic_path(out, directory=as_dir, overwrite=overwrite, inputs=(log.source,)) as tmp:
        if not as_dir:
            _write_canonical(log.df, tmp, log, partition=None, partitions=1)
        else:
            ids = log.df["case_id"]
            starts = log.case_starts
            part_of_case = case_partition(ids.iloc[starts].to_numpy(), k)
            sizes = np.diff(np.r_[starts, len(log)])
            part_of_row = np.repeat(part_of_case, sizes)
            for i in range(k):
                rows = np.flatnonzero(part_of_row == i)
                _write_canonical(log.df.take(rows).reset_index(drop=True), tmp / f"part-{i:05d}.parquet", log,
                                 partition=i, partitions=k)
    return out


def _read_canonical_parquet(p: Path, mapping: dict[str, Any], notes: list[str]) -> EventLog | None:
    """Read a leanops-written Parquet file (or directory) without re-mapping columns.

    Arrow buffers are shared where pandas can use them as they are (``case_id`` and
    ``resource`` stay Arrow strings, ``end`` and complete ``start`` columns are not
    copied); returns None when the file is not canonical or options ask for a re-mapping.
    """
    meta = parquet_metadata(p)
    if not meta or not meta.get("canonical"):
        return None
    import pyarrow as pa
    import pyarrow.parquet as pq

    files = _parquet_files(p)
    try:
        table = pa.concat_tables([pq.read_table(f) for f in files], promote_options="permissive") if len(files) > 1 \
            else pq.read_table(files[0])
    except Exception as exc:
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"{str(p)!r} is not a readable Parquet file ({msg}).") from None
    check_canonical_schema(table.schema, str(p))
    _check_canonical_options(mapping, meta, str(p), table.column_names)

    order = list(table.column_names)
    strings = {}
    for c in ("case_id", "resource"):
        if c in order and not pa.types.is_dictionary(table.schema.field(c).type):
            col = table.column(c)
            if pa.types.is_null(col.type):
                col = col.cast(pa.large_string())
            strings[c] = pd.Series(pd.arrays.ArrowStringArray(col.cast(pa.large_string()) if pa.types.is_string(col.type) else col))
            table = table.drop_columns([c])
    df = table.to_pandas(split_blocks=True, self_destruct=True)
    for c, v in strings.items():
        df[c] = v
    df = df[order]
    act = df["activity"]
    if isinstance(act.dtype, pd.CategoricalDtype):
        # the EventLog's categories are sorted Arrow strings (partitions may differ in order)
        cats = pd.Index(act.cat.categories.astype(str), dtype="string[pyarrow]")
        order = np.argsort(cats.to_numpy(dtype=object), kind="stable")
        if cats.has_duplicates:
            df["activity"] = act.astype("string[pyarrow]").astype("category")
        else:
            remap = np.empty(len(cats), dtype=np.int64)
            remap[order] = np.arange(len(cats))
            codes = act.cat.codes.to_numpy()
            new_codes = np.where(codes >= 0, remap[np.maximum(codes, 0)], -1)
            df["activity"] = pd.Categorical.from_codes(new_codes, categories=cats[order])
    quality = meta_quality(meta, len(df), str(p))
    quality.warnings.extend(notes)
    tz = meta.get("tz") or "UTC"
    check_tz(tz, f"{str(p)!r}: the time zone in its leanops metadata")
    if mapping.get("strict"):
        _check_strict_canonical(df, quality, str(p))
    if mapping.get("dedupe"):
        df = _dedupe_canonical(df, quality, meta, str(p))
    named = mapping.get("tz") or "UTC"
    if named.upper() != "UTC" and named != tz:
        # As in every read, a zone other than UTC named by the user is the log's local
        # clock (times are stored in UTC either way); say that it replaced the stored one.
        quality.warnings.append(f"local time: tz={named!r} replaces the zone stored with the file ({tz})")
        tz = named
    # one file is stored sorted; partitions are each sorted, so their concatenation is re-sorted (stably)
    return EventLog(df, source=str(p), mapping=dict(_meta_dict(meta, "mapping")), tz=tz,
                    quality=quality, sort=len(files) > 1)


# Options of read() naming source columns: (option, its CLI flag, the canonical column it
# maps to, its key in the stored mapping). The lifecycle column has no canonical column (it
# was consumed by pairing) and no flag of its own.
_ROLE_OPTIONS = (("case", "--case", "case_id", "case_id"), ("activity", "--activity", "activity", "activity"),
                 ("start", "--start", "start", "start"), ("end", "--end", "end", "end"),
                 ("timestamp", "--timestamp", "end", "end"), ("resource", "--resource", "resource", "resource"),
                 ("lifecycle_column", None, None, "lifecycle"))


def _stored_lifecycle(meta: dict[str, Any]) -> str | None:
    """How the read that wrote a canonical file treated lifecycle transitions: ``classifier``
    (it says so in a warning), ``pair`` (a lifecycle column was mapped), else None (no
    lifecycle column was used: ``ignore``, or none to pair)."""
    mapping, q = _meta_dict(meta, "mapping"), _meta_dict(meta, "quality")
    warned = q.get("warnings")
    if isinstance(warned, list) and any(isinstance(w, str) and w.startswith("lifecycle='classifier'") for w in warned):
        return "classifier"
    return "pair" if mapping.get("lifecycle") else None


def _meta_dict(meta: dict[str, Any], key: str) -> dict[str, Any]:
    """``meta[key]`` when it is a dict, else empty (a damaged document is not trusted)."""
    v = meta.get(key)
    return v if isinstance(v, dict) else {}


def _check_canonical_options(mapping: dict[str, Any], meta: dict[str, Any], where: str, columns: list[str]) -> None:
    """Raise InputError for a read option that cannot apply to a leanops-written Parquet log.

    Its columns were mapped when it was written, so a column option may only name the
    canonical column of its role or the source column that was mapped to it; anything else
    would ask for a different log, which only a read of the source can give.
    """
    stored = _meta_dict(meta, "mapping")
    mode, lc_column = lifecycle_mode(mapping.get("lifecycle"), mapping.get("lifecycle_column"))
    given = {**mapping, "lifecycle_column": lc_column}
    for opt, flag, canon, key in _ROLE_OPTIONS:
        got = given.get(opt)
        if got is None:
            continue
        allowed = list(dict.fromkeys(c for c in (canon, stored.get(key)) if c))
        if got in allowed:
            continue
        expected = " or ".join(repr(c) for c in allowed) if allowed else "nothing (none was mapped when it was converted)"
        here = "an attribute column of it" if got in columns else "not a column of it"
        drop, again = (f"{flag} ({opt}=)", f"{flag} {got!r}") if flag else (f"{opt}=", f"{opt}={got!r}")
        raise InputError(
            f"{opt} must name {expected} for the leanops-written Parquet {where!r}, whose columns were mapped "
            f"when it was converted; got {got!r} ({here}). Drop {drop}, or convert the source log again with {again}."
        )
    if mode in ("classifier", "ignore"):
        was = _stored_lifecycle(meta)
        if was != mode and not (mode == "ignore" and was is None):
            allowed = " or ".join(repr(m) for m in dict.fromkeys(("pair", was or "ignore")))
            raise InputError(
                f"lifecycle must be {allowed} for the leanops-written Parquet {where!r}, whose "
                f"events were made into instances when it was converted"
                f"{' (with lifecycle=' + repr(was) + ')' if was else ''}; got {mode!r}. Drop --lifecycle, "
                f"or convert the source log again with --lifecycle {mode}."
            )


def _check_strict_canonical(df: pd.DataFrame, quality: QualityReport, where: str) -> None:
    """strict=True on a canonical log: raise when the read that wrote it dropped or repaired
    rows (its quality report says so), or when rows miss a case, activity or end time or
    end before they start (a file written by other means)."""
    problems = [f"{n:,} {r}" for r, n in {**quality.dropped, **quality.repaired}.items()
                if r != "filtered_out_after_reading"]  # a filter is not a repair
    for col in ("case_id", "activity", "end"):
        n = int(df[col].isna().sum())
        if n:
            problems.append(f"{n:,} rows without {col}")
    n_neg = int((df["start"] > df["end"]).sum())
    if n_neg:
        problems.append(f"{n_neg:,} instances ending before they start")
    if problems:
        raise InputError(
            f"strict=True and the leanops-written Parquet {where!r} holds a repaired log: {', '.join(problems)}. "
            "Fix the source and convert it again, or read it with strict=False."
        )


def _dedupe_canonical(df: pd.DataFrame, quality: QualityReport, meta: dict[str, Any], where: str) -> pd.DataFrame:
    """dedupe=True on a canonical log: its exact duplicate instances dropped and counted as a
    read of the source with dedupe=True counts them (``rows_kept`` in source rows)."""
    kept = [w for w in quality.warnings if not w.startswith("duplicates:")]
    quality.warnings[:] = kept
    out, rows = dedupe_instances(df, True, quality, _stored_lifecycle(meta) == "pair")
    if rows:
        quality.rows_kept = max(0, quality.rows_kept - rows)
        warn_quality(quality, where, stacklevel=6)  # at the caller of read()
        out = out.reset_index(drop=True)
    return out


#: Canonical columns and the Arrow types a canonical Parquet log must have.
def check_canonical_schema(schema: Any, where: str) -> None:
    """Raise InputError naming the missing or mistyped canonical columns of ``schema``."""
    import pyarrow as pa

    names = set(schema.names)
    missing = [c for c in ("case_id", "activity", "end") if c not in names]
    bad: list[str] = []

    def base(t):
        return t.value_type if pa.types.is_dictionary(t) else t

    for c, ok in (
        ("case_id", lambda t: pa.types.is_string(t) or pa.types.is_large_string(t)),
        ("activity", lambda t: pa.types.is_string(t) or pa.types.is_large_string(t)),
        ("resource", lambda t: pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_null(t)),
        ("start", lambda t: pa.types.is_timestamp(t) or pa.types.is_null(t)),
        ("end", pa.types.is_timestamp),
    ):
        if c in names and not ok(base(schema.field(c).type)):
            bad.append(f"{c} ({schema.field(c).type})")
    if missing or bad:
        parts = []
        if missing:
            parts.append(f"missing columns {missing}")
        if bad:
            parts.append(f"wrong types: {', '.join(bad)}")
        raise InputError(
            f"{where}: not a canonical leanops Parquet log: {'; '.join(parts)}; it needs case_id (string), "
            f"activity (string), start (timestamp, may be null), end (timestamp), resource (string). "
            f"Convert the log first: leanops convert LOG out.parquet (or leanops.convert)."
        )
