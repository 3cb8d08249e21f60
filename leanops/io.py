"""Reading event logs from CSV (plain or gzip), Parquet and XES files.

All readers end in :func:`leanops.from_frame`, which maps the columns once and writes the
quality report. XES is parsed with lxml without resolving entities, loading DTDs or touching
the network; a file that declares a DTD or entities is refused.
"""

from __future__ import annotations

import gzip
import io
from sys import intern
import os
import zlib
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from ._validation import check_choice, check_tz
from .errors import InputError
from ._files import atomic_path
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
    tz: str = "UTC",
    format: Format | None = None,
    sep: str | None = None,
    encoding: str = "utf-8",
    dedupe: bool = False,
    on_negative: Literal["swap", "drop"] = "swap",
    strict: bool = False,
) -> EventLog:
    """Read an event log file into an :class:`EventLog`.

    Parameters
    ----------
    path : str or path-like
        A ``.csv``, ``.csv.gz``, ``.parquet`` (or a directory of Parquet partitions),
        ``.xes`` or ``.xes.gz`` file. The format is taken from the name, or sniffed from
        the content when the name does not tell.
    case, activity, start, end, resource, lifecycle : str, optional
        Source column names. Unnamed ones are detected (``case_id``,
        ``case:concept:name``, ``concept:name``, ``start_time``, ``time:timestamp``,
        ``org:resource``, ...); an explicit name always wins. ``timestamp`` is an alias
        of ``end``.
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

    Returns
    -------
    EventLog
        With ``log.quality`` telling what was read, repaired and dropped.

    Raises
    ------
    InputError
        The file is missing, empty, corrupt, of an unknown format, or its columns cannot
        be mapped.

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
        lifecycle=lifecycle, tz=tz, dedupe=dedupe, on_negative=on_negative, strict=strict, source=str(p),
    )
    try:
        return _read_as(p, fmt, sep, mapping, encoding)
    except InputError as exc:
        if str(p) in str(exc):
            raise
        raise InputError(f"{str(p)!r}: {exc}") from None


def _read_as(p: Path, fmt: str, sep: str | None, mapping: dict[str, Any], encoding: str = "utf-8") -> EventLog:
    if fmt == "xes":
        frame, quality = read_xes_frame(p, tz=mapping["tz"])
        # The XES standard keys win over look-alike attributes (Disco writes "Activity" too).
        for role, key in _XES_KEYS.items():
            if mapping[role] is None and key in frame.columns and not (role == "end" and mapping["timestamp"]):
                mapping[role] = key
        return from_frame(frame, quality=quality, **mapping)
    if fmt == "parquet":
        canonical = _read_canonical_parquet(p, mapping)
        if canonical is not None:
            return canonical
        frame = _read_parquet(p)
    else:
        frame = _read_csv(p, sep=sep, encoding=encoding)
    return from_frame(frame, **mapping)


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


def _open_text_bytes(p: Path):
    with open(p, "rb") as fh:
        magic = fh.read(2)
    return gzip.open(p, "rb") if magic == _GZ_MAGIC else open(p, "rb")


def _read_all_bytes(p: Path) -> bytes:
    try:
        with _open_text_bytes(p) as fh:
            return fh.read()
    except (EOFError, gzip.BadGzipFile, zlib.error, OSError) as exc:
        raise InputError(f"{str(p)!r} is a truncated or corrupt gzip file ({exc}); re-export or re-download it.") from None


def _check_text(data: bytes, p: Path) -> None:
    if not data.strip():
        raise InputError(f"{str(p)!r} is empty; export the log again.")
    sample = data[:8192]
    if b"\x00" in sample:
        raise InputError(f"{str(p)!r} is a binary file, not a CSV/XES log; give a CSV, Parquet or XES export.")


def _read_csv(p: Path, *, sep: str | None, encoding: str = "utf-8") -> pd.DataFrame:
    head = _head(p)
    _check_text(head, p)
    first = head.split(b"\n", 1)[0].decode(encoding, errors="replace")
    if sep is None:
        counts = {c: first.count(c) for c in (",", ";", "\t", "|")}
        sep = max(counts, key=lambda c: counts[c])
        if counts[sep] == 0:
            raise InputError(
                f"{str(p)!r} does not look like a CSV log: its first line has no delimiter (',', ';', tab or '|'). "
                "A log needs at least a case, an activity and a timestamp column."
            )
    not_text = InputError(
        f"{str(p)!r} is not {encoding} text; re-save it as UTF-8, or name its encoding "
        "(leanops.read(path, encoding='latin-1'), --encoding latin-1)."
    )
    try:
        # pyarrow's reader is multi-threaded, parses ISO timestamps natively, and its
        # strings become pandas Arrow strings without a copy into Python objects.
        import pyarrow as pa
        import pyarrow.csv as pacsv

        table = pacsv.read_csv(
            str(p), parse_options=pacsv.ParseOptions(delimiter=sep), read_options=pacsv.ReadOptions(encoding=encoding)
        )
    except Exception:
        table = None  # the pandas reader below gives the precise error, or reads what Arrow would not
    if table is not None:
        if any(pa.types.is_binary(f.type) or pa.types.is_large_binary(f.type) for f in table.schema):
            raise not_text  # Arrow keeps bytes that are not valid text as binary columns
        strings = (pa.string(), pa.large_string())
        return table.to_pandas(types_mapper=lambda t: pd.StringDtype("pyarrow") if t in strings else None)
    data = _read_all_bytes(p)
    try:
        return pd.read_csv(io.BytesIO(data), sep=sep, encoding=encoding, low_memory=False)
    except pd.errors.EmptyDataError:
        raise InputError(f"{str(p)!r} has no rows; export the log again.") from None
    except UnicodeDecodeError:
        raise not_text from None
    except LookupError:
        raise InputError(f"encoding must be a codec name such as 'utf-8' or 'latin-1'; got {encoding!r}.") from None
    except pd.errors.ParserError as exc:
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"{str(p)!r} is not a readable CSV file ({msg}); check the delimiter (--sep) and encoding.") from None


def _read_parquet(p: Path) -> pd.DataFrame:
    try:
        return pd.read_parquet(p)
    except Exception as exc:
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"{str(p)!r} is not a readable Parquet file ({msg}).") from None


# ------------------------------------------------------------------------- XES

_NUMERIC = {"int": "int", "float": "float"}
_XES_KEYS = {
    "case": "case:concept:name", "activity": "concept:name", "end": "time:timestamp",
    "resource": "org:resource", "lifecycle": "lifecycle:transition",
}


_CHUNK = 1 << 16  # events per conversion batch: bounds the memory held as Python strings


class _XesColumns:
    """Attribute values gathered column by column and converted to arrays in batches.

    Dates are parsed batch by batch, so the unique timestamp strings of a large log never
    all live at once; repeated labels are interned, so a label column costs one pointer
    per event. Values that do not parse are remembered per row, so that ``from_frame``
    can count them as unparsable rather than missing.
    """

    def __init__(self, tz: str) -> None:
        self.tz = tz
        self.current: dict[str, list[Any]] = {}  # values of events [base, n)
        self.kinds: dict[str, str] = {}
        self.done: dict[str, list[Any]] = {}
        self.filled: dict[str, int] = {}  # events already converted, per column
        self.bad: dict[str, list[np.ndarray]] = {}
        self.bad_example: dict[str, str] = {}
        self.base = 0

    def flush(self, upto: int) -> None:
        size = upto - self.base
        for key, col in self.current.items():
            if len(col) < size:
                col.extend([None] * (size - len(col)))
            kind = self.kinds[key]
            done = self.done.setdefault(key, [])
            gap = self.base - self.filled.get(key, 0)
            if gap:
                done.append(self._missing(key, kind, gap))
            done.append(self._convert(key, kind, col))
            self.filled[key] = upto
            col.clear()
        self.base = upto

    def _missing(self, key: str, kind: str, k: int) -> Any:
        if kind == "date":
            self.bad.setdefault(key, []).append(np.zeros(k, dtype=bool))
            return np.full(k, np.datetime64("NaT"), dtype="datetime64[ns]")
        if kind in _NUMERIC:
            return np.full(k, np.nan)
        return [None] * k

    def _convert(self, key: str, kind: str, col: list[Any]) -> Any:
        if kind == "date":
            from ._normalize import parse_times

            raw = pd.Series(col, dtype=object)
            parsed, n_bad = parse_times(raw, self.tz, name=key)
            mask = np.zeros(len(col), dtype=bool)
            if n_bad:
                mask = (raw.notna() & (raw.astype(str).str.strip() != "") & parsed.isna()).to_numpy()
                self.bad_example.setdefault(key, str(raw[mask].iloc[0])[:40])
            self.bad.setdefault(key, []).append(mask)
            return parsed.dt.tz_localize(None).to_numpy(dtype="datetime64[ns]")
        if kind in _NUMERIC:
            return pd.to_numeric(pd.Series(col, dtype=object), errors="coerce").to_numpy(dtype=float)
        if kind == "boolean":
            return [None if v is None else v.strip().lower() == "true" for v in col]
        return list(col)

    def frame(self, n: int) -> pd.DataFrame:
        self.flush(n)
        out: dict[str, Any] = {}
        unparsable: dict[str, tuple[np.ndarray, str]] = {}
        for key, chunks in self.done.items():
            kind = self.kinds[key]
            if kind == "date":
                out[key] = pd.Series(np.concatenate(chunks)).dt.tz_localize("UTC")
                mask = np.concatenate(self.bad[key])
                if mask.any():
                    unparsable[key] = (mask, self.bad_example[key])
            elif kind in _NUMERIC:
                values = np.concatenate(chunks)
                finite = values[~np.isnan(values)]
                integral = kind == "int" and finite.size == values.size and np.all(np.mod(finite, 1) == 0)
                out[key] = values.astype(np.int64) if integral else values
            else:
                out[key] = pd.Series([v for c in chunks for v in c], dtype=object)
        frame = pd.DataFrame(out)
        if unparsable:
            frame.attrs["leanops_unparsable"] = unparsable
        return frame


def read_xes_frame(path: str | os.PathLike[str], *, tz: str = "UTC") -> tuple[pd.DataFrame, QualityReport]:
    """Parse an XES file into a flat frame, one row per event, with XES key names.

    Trace attributes become ``case:<key>`` columns, as in pm4py. Dates are parsed to
    UTC (naive ones read in ``tz``), ints and floats to numbers. Nested attribute values
    (lists, containers) are skipped. Entities and DTDs are never resolved.
    """
    from lxml import etree

    p = Path(path)
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
    acc = _XesColumns(tz)
    cols, kinds = acc.current, acc.kinds
    n = 0
    trace_first = 0
    try:
        fh = _open_text_bytes(p)
        with fh:
            ctx = etree.iterparse(
                fh, events=("end",), tag=("{*}event", "{*}trace", "event", "trace"),
                resolve_entities=False, no_network=True, load_dtd=False, huge_tree=True, remove_comments=True,
            )
            for _, elem in ctx:
                tag = elem.tag
                if tag[-5:] == "event":
                    i = n - acc.base
                    for child in elem:
                        key = child.get("key")
                        if key is None:
                            continue
                        col = cols.get(key)
                        if col is None:
                            col = cols[key] = []
                            kinds[key] = etree.QName(child).localname if isinstance(child.tag, str) else "string"
                        if len(col) < i:
                            col.extend([None] * (i - len(col)))
                        v = child.get("value")
                        # Labels repeat across events: share one string object (memory).
                        col.append(v if v is None or kinds[key] == "date" else intern(v))
                    n += 1
                elif tag[-5:] == "trace":
                    first_i, i = trace_first - acc.base, n - acc.base
                    for child in elem:
                        key = child.get("key")
                        if key is None or not isinstance(child.tag, str) or child.tag[-5:] == "event":
                            continue
                        ckey = "case:" + key
                        col = cols.get(ckey)
                        if col is None:
                            col = cols[ckey] = []
                            kinds[ckey] = etree.QName(child).localname
                        if len(col) < first_i:
                            col.extend([None] * (first_i - len(col)))
                        v = child.get("value")
                        col.extend([v if v is None or kinds[ckey] == "date" else intern(v)] * (i - first_i))
                    trace_first = n
                    if n - acc.base >= _CHUNK:
                        acc.flush(n)
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
    return acc.frame(n), QualityReport(rows_read=n)


# ----------------------------------------------------------------------- write

def write(log: EventLog, path: str | os.PathLike[str], *, format: Format | None = None) -> Path:
    """Write a log as CSV (``case_id, activity, start_time, end_time, resource, ...``) or Parquet.

    Parameters
    ----------
    log : EventLog
    path : str or path-like
        ``.csv``, ``.csv.gz`` or ``.parquet``.
    format : {'csv', 'parquet'}, optional
        Overrides the format implied by the name.

    The file appears only when it is complete: it is written next to ``path`` under a
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
    with atomic_path(p) as tmp:
        if fmt == "parquet":
            _write_canonical(log.df, tmp, log, partition=None)
        else:
            out = log.df.rename(columns={"start": "start_time", "end": "end_time"})
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
    """The files of a Parquet dataset: its own ``*.parquet`` files and those one level down
    (Hive-style ``key=value`` folders); deeper trees are not scanned."""
    if not p.is_dir():
        return [p]
    return sorted(p.glob("*.parquet")) + sorted(p.glob("*/*.parquet"))


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
        return json.loads(raw)
    except ValueError:
        return None


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
    import shutil

    log = source if isinstance(source, EventLog) else read(source, **mapping)
    if isinstance(source, EventLog) and mapping:
        raise InputError(f"convert: column mapping options {sorted(mapping)} apply to a file, not to an EventLog; drop them.")
    out = Path(dest)
    as_dir = partitions is not None and partitions > 1 or not out.name.lower().endswith((".parquet", ".pq"))
    if partitions is not None and (not isinstance(partitions, (int, np.integer)) or isinstance(partitions, bool) or partitions < 1):
        raise InputError(f"convert: partitions must be a positive integer; got {partitions!r}.")
    if out.exists():
        if not overwrite:
            raise InputError(f"convert: {str(out)!r} exists; remove it or pass overwrite=True (CLI: --overwrite).")
        shutil.rmtree(out) if out.is_dir() else out.unlink()
    tmp = out.with_name(out.name + ".tmp-leanops")
    if tmp.exists():
        shutil.rmtree(tmp) if tmp.is_dir() else tmp.unlink()
    try:
        if not as_dir:
            _write_canonical(log.df, tmp, log, partition=None, partitions=1)
        else:
            k = int(partitions or max(1, round(len(log) / 1_000_000)))
            tmp.mkdir(parents=True)
            ids = log.df["case_id"]
            starts = log.case_starts
            part_of_case = case_partition(ids.iloc[starts].to_numpy(), k)
            sizes = np.diff(np.r_[starts, len(log)])
            part_of_row = np.repeat(part_of_case, sizes)
            for i in range(k):
                rows = np.flatnonzero(part_of_row == i)
                _write_canonical(log.df.take(rows).reset_index(drop=True), tmp / f"part-{i:05d}.parquet", log,
                                 partition=i, partitions=k)
        tmp.rename(out)
    except BaseException:
        if tmp.exists():
            shutil.rmtree(tmp) if tmp.is_dir() else tmp.unlink()
        raise
    return out


def _read_canonical_parquet(p: Path, mapping: dict[str, Any]) -> EventLog | None:
    """Read a leanops-written Parquet file (or directory) without re-mapping columns.

    Arrow buffers are shared where pandas can use them as they are (``case_id`` and
    ``resource`` stay Arrow strings, ``end`` and complete ``start`` columns are not
    copied); returns None when the file is not canonical or options ask for a re-mapping.
    """
    meta = parquet_metadata(p)
    if not meta or not meta.get("canonical"):
        return None
    if any(mapping.get(k) is not None for k in ("case", "activity", "start", "end", "timestamp", "resource", "lifecycle")):
        return None
    if mapping.get("dedupe") or mapping.get("strict"):
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
    q = meta.get("quality") or {}
    quality = QualityReport(
        rows_read=int(q.get("rows_read", len(df))), rows_kept=int(q.get("rows_kept", len(df))),
        dropped=dict(q.get("dropped", {})), repaired=dict(q.get("repaired", {})), warnings=list(q.get("warnings", [])),
    )
    # one file is stored sorted; partitions are each sorted, so their concatenation is re-sorted (stably)
    return EventLog(df, source=str(p), mapping=dict(meta.get("mapping") or {}), tz=meta.get("tz") or "UTC",
                    quality=quality, sort=len(files) > 1)


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
