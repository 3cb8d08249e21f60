"""Lazy logs: a canonical Parquet file or directory of partitions, analysed where it lies.

:func:`scan` checks the schema and reads the metadata, but no rows. The mining
functions (``discover``, ``variants``, ``performance``, ``value_stream``,
``bottlenecks``) accept the result (or a Parquet path directly) and compute out of core in
DuckDB, or on a Dask cluster with ``engine="dask"``. Write such Parquet with
:func:`leanops.convert` (``leanops convert LOG out.parquet``).
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import InputError
from .log import EventLog, QualityReport

__all__ = ["scan", "LogScan"]


@dataclass(frozen=True, repr=False)
class LogScan:
    """A canonical Parquet log on disk, not loaded. See :func:`scan`.

    Attributes
    ----------
    path : pathlib.Path
        The file or directory.
    files : tuple of pathlib.Path
        The Parquet files, in the order the engines (and :func:`leanops.read`) use.
    n_events : int
        Activity instances (rows), from the Parquet footers.
    columns : tuple of str
        Column names.
    split_by_case : bool
        Every case lies in one file (written by :func:`leanops.convert`): the Dask engine
        needs this, so that per-case work stays within a partition.
    quality : QualityReport
        The report of the read that produced the file (from its metadata).
    tz : str
        Time zone assumed for naive timestamps when the log was read.
    """

    path: Path
    files: tuple[Path, ...]
    n_events: int
    columns: tuple[str, ...]
    split_by_case: bool
    quality: QualityReport
    tz: str = "UTC"
    meta: dict[str, Any] = field(default_factory=dict)

    def to_log(self) -> EventLog:
        """Load it into memory as an :class:`EventLog` (the pandas engine)."""
        from .io import read

        return read(self.path)

    def connect(self, *, memory_limit: str | None = None, threads: int | None = None):
        """A fresh DuckDB connection with spilling to a temporary directory.

        ``memory_limit`` defaults to ``LEANOPS_DUCKDB_MEMORY`` or ``"2GB"``: DuckDB keeps
        within it and spills sorts and tables to disk beyond it.
        """
        import duckdb

        tmp = tempfile.mkdtemp(prefix="leanops-duckdb-")
        # in memory, spilling to ``tmp`` beyond the limit: an on-disk database would write
        # every intermediate table out even when it fits
        con = duckdb.connect(":memory:")
        con.execute(f"SET memory_limit='{memory_limit or os.environ.get('LEANOPS_DUCKDB_MEMORY', '2GB')}'")
        con.execute(f"SET temp_directory='{_sql_str(os.path.join(tmp, 'spill'))}'")
        con.execute("SET preserve_insertion_order=false")
        if threads:
            con.execute(f"SET threads={int(threads)}")
        _SPILL[id(con)] = tmp  # removed by close()
        return con

    def __repr__(self) -> str:
        parts = f"{len(self.files)} partitions" if len(self.files) > 1 else "1 file"
        return f"<LogScan: {self.n_events:,} activity instances, {parts}, {str(self.path)!r}>"


def close(con: Any) -> None:
    """Close a connection from :meth:`LogScan.connect` and remove its spill files."""
    import shutil

    tmp = _SPILL.pop(id(con), None)
    try:
        con.close()
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


_SPILL: dict[int, str] = {}


def _sql_str(s: str) -> str:
    return str(s).replace("'", "''")


def scan(path: str | os.PathLike[str]) -> LogScan:
    """Open a canonical Parquet log (a file or a directory of partitions) without loading it.

    Parameters
    ----------
    path : str or path-like
        Written by :func:`leanops.convert`, or any Parquet with the canonical columns
        ``case_id`` (string), ``activity`` (string), ``start`` (timestamp, may be null),
        ``end`` (timestamp) and ``resource`` (string).

    Returns
    -------
    LogScan
        Pass it (or the path itself) to ``discover``, ``variants``, ``performance``,
        ``value_stream`` or ``bottlenecks``.

    Raises
    ------
    InputError
        Missing path, no Parquet files, or a schema without the canonical columns (the
        message names them).

    Examples
    --------
    >>> import leanops, tempfile, os
    >>> out = leanops.convert(leanops.datasets.path("production"), os.path.join(tempfile.mkdtemp(), "p.parquet"))
    >>> s = leanops.scan(out)
    >>> s.n_events
    4953
    >>> leanops.discover(s).n_cases
    225
    """
    import pyarrow.parquet as pq

    from ._validation import check_tz
    from .io import _parquet_files, check_canonical_schema, check_partitions, meta_quality, parquet_metadata

    if isinstance(path, LogScan):
        return path
    p = Path(path)
    if not p.exists():
        raise InputError(f"file not found: {str(p)!r}. Give a Parquet file or a directory of Parquet partitions.")
    files = _parquet_files(p)
    if not files:
        raise InputError(f"{str(p)!r} holds no *.parquet files; write them with leanops convert LOG {str(p)!r}.")
    n = 0
    schema = None
    for f in files:
        try:
            md = pq.ParquetFile(f).metadata
        except Exception as exc:
            msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise InputError(f"{str(f)!r} is not a readable Parquet file ({msg}).") from None
        n += md.num_rows
        s = md.schema.to_arrow_schema()
        if schema is None:
            schema = s
            check_canonical_schema(s, str(f))
        elif s.names != schema.names:
            check_canonical_schema(s, str(f))
    meta = parquet_metadata(p) or {}
    quality = meta_quality(meta, n, str(p))
    quality.warnings.extend(check_partitions(files, str(p)))
    tz = meta.get("tz") or "UTC"
    check_tz(tz, f"{str(p)!r}: the time zone in its leanops metadata")
    split = len(files) == 1 or bool(meta.get("split_by_case") and meta.get("partitions") == len(files))
    return LogScan(
        path=p, files=tuple(files), n_events=n, columns=tuple(schema.names) if schema is not None else (),
        split_by_case=split, quality=quality, tz=tz, meta=meta,
    )
