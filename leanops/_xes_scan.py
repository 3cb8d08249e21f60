"""XES reading without a Python object per value: a vectorised block scanner, and the
column store both XES readers fill.

The scanner reads the decompressed bytes in blocks of about 1 MB cut after a ``</trace>``
and works on each block as a numpy byte array: the positions of ``<`` and ``"`` locate
every element, a lookup on the two bytes after ``<`` classifies it, and the fixed text of
the one supported shape is checked with vectorised comparisons::

    <trace>, </trace>, <event>, </event>
    <string|date|int|float|boolean|id key="K" value="V"/>   (or ``value="V" />``)

with XML whitespace only between elements, UTF-8 text and the five named entities in
values. Keys and values become Arrow string arrays straight from the byte offsets. Anything
else (single quotes, nested lists, comments, CDATA, prefixes, character references,
another encoding, a key twice in one event, events outside traces, a limit reached, ...)
raises :class:`Fallback`, and the caller reads the whole file with lxml, which stays the
reference.

Both readers hand their values to :class:`XesColumns` as Arrow arrays, so dates, offsets,
numbers, booleans and unparsable counts go through one conversion, in fixed row batches.
"""

from __future__ import annotations

import os
import re
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["Fallback", "XesColumns", "scan", "classifier_keys"]

_BLOCK = 1 << 20  # bytes per scanned block (cut after a </trace>): its temporaries stay in the CPU cache (a quarter less CPU than 4 MB)
_DATE_ROWS = 1 << 16  # rows per date-parsing batch, the same for both readers

_KINDS = ("string", "date", "int", "float", "boolean", "id")
_EV, _EVC, _TR, _TRC = 6, 7, 8, 9
_PATTERNS = {0: b'<string key="', 1: b'<date key="', 2: b'<int key="', 3: b'<float key="',
             4: b'<boolean key="', 5: b'<id key="', _EV: b"<event>", _EVC: b"</event>",
             _TR: b"<trace>", _TRC: b"</trace>"}
# element code by the two bytes after "<"; -1 is anything the scanner does not read
_CLASS = np.full((256, 256), -1, dtype=np.int8)
for _code, _pat in _PATTERNS.items():
    _CLASS[_pat[1], _pat[2]] = _code
_ENTITIES = ((b"lt;", "<"), (b"gt;", ">"), (b"quot;", '"'), (b"apos;", "'"), (b"amp;", "&"))  # &amp; last
_DECL_ENCODING = re.compile(rb"""^\s*<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")
_OK_ENCODINGS = {"utf-8", "utf8", "us-ascii", "ascii"}
_NOT_CONTROL = b"\t\n\r" + bytes(range(32, 256))  # deleting these leaves the control characters
_TAIL = re.compile(rb"[ \t\r\n]*</log[ \t\r\n]*>[ \t\r\n]*")


class Fallback(Exception):
    """The file holds something the scanner does not read exactly; read it with lxml."""


def classifier_keys(text: str) -> list[str]:
    """The keys of an XES ``<classifier keys="...">``: whitespace-separated, and keys
    holding spaces in single quotes (XES 2.0)."""
    return [a or b for a, b in re.findall(r"'([^']*)'|(\S+)", text)]


# --------------------------------------------------------------------- columns

class XesColumns:
    """The attribute values of an XES log, column by column, kept compact as they arrive.

    Event attributes are stored with the rows (event numbers) they belong to, trace
    attributes with their trace numbers and broadcast to the trace's events at the end.
    Columns keep the order in which an XML reader meets their first value (an event's
    attributes at the event's end, a trace's at the trace's end), with the kind of that
    first value.

    Both readers hand over Arrow string arrays; event values are converted on arrival, so
    no column of a million strings is ever held (memory): text becomes dictionary codes,
    numbers float64, booleans int8, and dates are parsed in fixed batches of
    ``_DATE_ROWS`` rows as soon as a batch is complete (the same batches for both readers,
    whatever their block sizes). Trace attributes stay text until :meth:`frame`.
    """

    def __init__(self, tz: str) -> None:
        self.tz = tz
        self.kinds: dict[str, str] = {}
        self.events: dict[str, list[tuple[Any, Any]]] = {}
        self.dates: dict[str, _Dates] = {}
        self.traces: dict[str, list[tuple[Any, Any]]] = {}
        self.sizes: list[np.ndarray] = []  # events per trace, in chunks
        self.n = 0  # events
        self.n_traces = 0

    def see(self, name: str, kind: str) -> None:
        if name not in self.kinds:
            self.kinds[name] = kind

    def add(self, name: str, on_event: bool, rows: Any, values: Any) -> None:
        """Values of ``name`` at ``rows``: an int (the first of consecutive rows) or an
        increasing array of event (or trace) numbers, after those already added."""
        if not on_event:
            self.traces.setdefault(name, []).append((rows, values))
            return
        kind = self.kinds.get(name, "string")
        if _is_dictionary(values):  # text the scanner encoded already
            if kind not in ("date", "int", "float", "boolean"):
                self.events.setdefault(name, []).append((rows, values))
                return
            values = values.dictionary.take(values.indices)  # the column's first value had another kind
        if kind == "date":
            if name not in self.dates:
                self.dates[name] = _Dates(name, self.tz)
            self.dates[name].add(rows, values)
        else:
            self.events.setdefault(name, []).append((rows, _compact(kind, values)))

    def advance(self, n: int) -> None:
        """Every event before ``n`` has all its values: parse the date batches now complete."""
        for d in self.dates.values():
            d.parse(n, final=False)

    def frame(self, *, compact: bool = True) -> pd.DataFrame:
        """Convert every column: dates to UTC (offsets sampled, unparsable rows kept),
        ints and floats to numbers, booleans to True/False/None, other kinds to
        categoricals of Arrow strings (``compact=False``: Arrow-backed strings). Frees the
        stored arrays as it goes."""
        from ._canonical import label_codes, release_memory

        n = self.n
        trace_of: Any = None
        out: dict[str, Any] = {}
        offsets: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        unparsable: dict[str, tuple[np.ndarray, str]] = {}
        for name, kind in self.kinds.items():
            col = None
            if name in self.dates:
                col = self.dates.pop(name).result(n, offsets, unparsable)
            elif name in self.events:
                col = _column(kind, self.events.pop(name), n)
            if name in self.traces:
                if trace_of is None:
                    sizes = np.concatenate(self.sizes) if self.sizes else np.zeros(0, np.int64)
                    trace_of = (sizes, int(sizes.sum()))
                per_trace = _place(self.traces.pop(name), self.n_traces)
                if kind == "date":  # rare: parsed as an event column, after broadcasting the text
                    dates = _Dates(name, self.tz)
                    dates.add(0, per_trace.take(_trace_numbers(*trace_of, n)))
                    tcol = dates.result(n, offsets if col is None else {}, unparsable if col is None else {})
                elif kind in ("int", "float", "boolean"):
                    tcol = _column(kind, [(0, _compact(kind, per_trace.take(_trace_numbers(*trace_of, n))))], n)
                else:  # codes are broadcast, not strings
                    tcol = _column(kind, [(0, _compact(kind, per_trace))], self.n_traces)
                    codes = np.full(n, -1, tcol.cat.codes.dtype)  # events after the last trace belong to none
                    codes[:trace_of[1]] = np.repeat(tcol.cat.codes.to_numpy(), trace_of[0])
                    tcol = label_codes(codes, tcol.cat.categories)
                    del codes
                if col is None:
                    col = tcol
                else:  # an event key "case:x" beside a trace key "x" (lxml only): the event's value wins
                    if isinstance(col.dtype, pd.CategoricalDtype) or isinstance(tcol.dtype, pd.CategoricalDtype):
                        col, tcol = _strings(col), _strings(tcol)
                    col = col.where(col.notna(), tcol)
            if col is None:
                col = _Dates(name, self.tz).result(n, offsets, unparsable) if kind == "date" else _column(kind, [], n)
            if not compact and isinstance(col.dtype, pd.CategoricalDtype):
                col = _strings(col)
            out[name] = col
            del col
            release_memory(n)  # what converting this column freed
        frame = pd.DataFrame(out, copy=False)
        frame.attrs["leanops_offsets"] = offsets
        if unparsable:
            frame.attrs["leanops_unparsable"] = unparsable
        return frame


def _is_dictionary(values: Any) -> bool:
    import pyarrow as pa

    return isinstance(values, pa.DictionaryArray)


def _trace_numbers(sizes: np.ndarray, k: int, n: int) -> Any:
    """Each event's trace number as an Arrow array, null for events after the last trace."""
    import pyarrow as pa

    t = np.full(n, -1, np.int64)
    t[:k] = np.repeat(np.arange(len(sizes)), sizes)
    return pa.array(t, mask=t < 0)


def _strings(col: pd.Series) -> pd.Series:
    """A categorical of strings as Arrow-backed strings: one take of the categories."""
    if not isinstance(col.dtype, pd.CategoricalDtype):
        return col.astype("string[pyarrow]")
    from ._canonical import string_array

    codes = col.cat.codes.to_numpy().astype(np.int64)
    return pd.Series(string_array(col.cat.categories).take(codes, allow_fill=True))


def _compact(kind: str, values: Any) -> Any:
    """One part of an event column in its compact form: float64 numbers, int8 booleans
    (1, 0, -1 for missing), or dictionary codes for text."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if kind in ("int", "float"):
        try:  # Arrow's cast is the quick way when every value is a plain number
            return np.asarray(pc.cast(values, pa.float64()).to_numpy(zero_copy_only=False), dtype=float)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return pd.to_numeric(pd.Series(pd.arrays.ArrowStringArray(values)), errors="coerce").to_numpy(
                dtype=float, na_value=np.nan)
    if kind == "boolean":
        truth = pc.equal(pc.utf8_lower(pc.utf8_trim_whitespace(values)), "true")
        return np.asarray(truth.cast(pa.int8()).fill_null(-1).to_numpy(zero_copy_only=False), dtype=np.int8)
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if values.type != pa.large_string():
        values = values.cast(pa.large_string())
    return pc.dictionary_encode(values)


def _at(rows: Any, k: int) -> Any:
    """The index of a part's ``k`` rows: a slice from an int, else the row numbers."""
    return slice(rows, rows + k) if isinstance(rows, int) else rows


def _column(kind: str, parts: list[tuple[Any, Any]], length: int) -> pd.Series:
    """The whole event column of ``length`` rows from its compact parts; missing where no
    part gives a value."""
    import pyarrow as pa

    if kind == "boolean":
        codes = np.full(length, -1, np.int8)
        for rows, v in parts:
            codes[_at(rows, len(v))] = v
        return pd.Series(np.array([None, False, True], dtype=object)[codes.astype(np.int64) + 1])
    if kind in ("int", "float"):
        # ints when every row has an integral value; checked part by part (memory)
        integral = (kind == "int" and sum(len(v) for _, v in parts) == length
                    and all(not np.isnan(v).any() and np.all(np.mod(v, 1) == 0) for _, v in parts))
        values = np.empty(length, np.int64) if integral else np.full(length, np.nan)
        while parts:
            rows, v = parts.pop(0)
            values[_at(rows, len(v))] = v
            del v
        return pd.Series(values, copy=False)
    if parts:
        chunks = pa.chunked_array([v for _, v in parts]).unify_dictionaries()
        dictionary = chunks.chunk(0).dictionary
    else:
        chunks, dictionary = None, pa.array([], pa.large_string())
    from ._canonical import code_dtype, label_codes

    codes = np.full(length, -1, code_dtype(len(dictionary)))
    for (rows, _), chunk in zip(parts, chunks.chunks if chunks is not None else ()):
        codes[_at(rows, len(chunk))] = chunk.indices.fill_null(-1).to_numpy()
    del chunks
    return label_codes(codes, dictionary)


class _Dates:
    """A date column parsed in batches of ``_DATE_ROWS`` rows as its values arrive: only
    the text of the batch being filled is held. Every batch goes through one conversion
    (Arrow's parser for plain ISO 8601 with offsets, else ``_normalize.parse_times``), so
    the result does not depend on how the reader handed the values over."""

    def __init__(self, name: str, tz: str) -> None:
        self.name, self.tz = name, tz
        self.parts: list[tuple[Any, Any]] = []
        self.lo = 0  # rows before this are parsed
        self.res: list[np.ndarray] = []
        self.bad: list[np.ndarray] = []
        self.ts: list[np.ndarray] = []
        self.os: list[np.ndarray] = []
        self.example: str | None = None

    def add(self, rows: Any, values: Any) -> None:
        import pyarrow as pa

        if isinstance(values, pa.ChunkedArray):
            values = values.combine_chunks()
        self.parts.append((rows, values))

    def parse(self, n: int, *, final: bool) -> None:
        """Parse the complete batches below row ``n`` (and the last, partial one when ``final``)."""
        while n - self.lo >= _DATE_ROWS or (final and n > self.lo):
            self._batch(min(n, self.lo + _DATE_ROWS))

    def _batch(self, hi: int) -> None:
        from ._normalize import offset_samples, parse_times

        lo, window, rest = self.lo, [], []
        for rows, v in self.parts:  # parts come in row order, none before lo
            if isinstance(rows, int):
                cut = min(len(v), max(0, hi - rows))
                if cut:
                    window.append((rows - lo, v.slice(0, cut)))
                if cut < len(v):
                    rest.append((rows + cut, v.slice(cut)))
            else:
                cut = int(np.searchsorted(rows, hi))
                if cut:
                    window.append((rows[:cut] - lo, v.slice(0, cut)))
                if cut < len(rows):
                    rest.append((rows[cut:], v.slice(cut)))
        self.parts = rest
        part = _place(window, hi - lo)
        del window
        raw = pd.Series(pd.arrays.ArrowStringArray(part))
        parsed, n_bad = _iso_utc(part), 0
        if parsed is None:
            parsed, n_bad = parse_times(raw, self.tz, name=self.name)
        t, o = offset_samples(raw, parsed)
        self.ts.append(t)
        self.os.append(o)
        mask = np.zeros(len(raw), dtype=bool)
        if n_bad:
            mask = ((raw.str.strip().fillna("") != "") & parsed.isna()).to_numpy(dtype=bool)
            if self.example is None:
                self.example = str(raw[mask].iloc[0])[:40]
        self.bad.append(mask)
        self.res.append(parsed.dt.tz_localize(None).to_numpy(dtype="datetime64[ns]"))
        self.lo = hi

    def result(self, n: int, offsets: dict[str, Any], unparsable: dict[str, Any]) -> pd.Series:
        """The parsed column of ``n`` rows (UTC); its offset samples and unparsable rows go
        to ``offsets`` and ``unparsable``."""
        self.parse(n, final=True)
        res = np.empty(n, "datetime64[ns]")
        at = 0
        while self.res:  # one batch at a time: the batches and the whole are not held twice
            b = self.res.pop(0)
            res[at:at + len(b)] = b
            at += len(b)
        offsets[self.name] = (np.concatenate(self.ts) if self.ts else np.zeros(0, np.int64),
                              np.concatenate(self.os) if self.os else np.zeros(0, np.int64))
        bad = np.concatenate(self.bad) if self.bad else np.zeros(0, bool)
        if bad.any():
            unparsable[self.name] = (bad, self.example)
        return _utc(res)


def _utc(res: np.ndarray) -> pd.Series:
    """Naive UTC nanoseconds as a tz-aware Series, without a copy where pandas allows it."""
    dtype = pd.DatetimeTZDtype("ns", "UTC")
    try:
        return pd.Series(pd.arrays.DatetimeArray._simple_new(res, dtype=dtype), copy=False)
    except (AttributeError, TypeError):  # another pandas: the public way, one copy
        return pd.Series(res).dt.tz_localize("UTC")


# ISO 8601 with an offset, years 1700-2199 (inside pandas' nanoseconds): Arrow's parser
# gives the same instants as pandas' ISO8601 format, 40 times faster.
_ISO_OFFSET = r"^(1[7-9]|2[01])\d\d-\d\d-\d\d[T ]\d\d:\d\d:\d\d(\.\d{1,9})?(Z|[+-]\d\d:\d\d)$"


def _iso_utc(part: Any) -> pd.Series | None:
    """The UTC instants of a batch of date strings when every present one is plain ISO 8601
    with an offset; None (parse with ``_normalize.parse_times``) otherwise."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if part.null_count == len(part):
        return None
    if not pc.all(pc.match_substring_regex(part, _ISO_OFFSET)).as_py():
        return None
    try:
        utc = pc.cast(part, pa.timestamp("ns", tz="UTC"))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None  # e.g. 30 February: pandas says unparsable
    return pd.Series(utc.to_numpy(zero_copy_only=False).astype("datetime64[ns]")).dt.tz_localize("UTC")


def _place(parts: list[tuple[Any, Any]], length: int) -> Any:
    """One string array of ``length`` rows from (rows, values) parts; null where no part
    gives a value."""
    import pyarrow as pa

    arrays = [v.cast(pa.large_string()) if v.type != pa.large_string() else v for _, v in parts]
    vals = pa.chunked_array(arrays, pa.large_string())  # no copy
    expect = 0
    for rows, v in parts:
        if not isinstance(rows, int) or rows != expect:
            break
        expect += len(v)
    else:
        if expect == length:
            return vals  # dense: every row has its value, in order
    idx = np.full(length, -1, dtype=np.int64)
    off = 0
    for rows, v in parts:
        k = len(v)
        idx[np.arange(rows, rows + k) if isinstance(rows, int) else rows] = np.arange(off, off + k)
        off += k
    return vals.take(pa.array(idx, mask=idx < 0))


# ----------------------------------------------------------------------- scanner

def scan(fh: Any, acc: XesColumns, *, max_attrs: float, max_cols: float) -> list[tuple[str, list[str]]]:
    """Scan an open XES byte stream into ``acc``; return the declared classifiers.

    Blocks are scanned on a few threads (numpy and Arrow release the GIL) and merged in
    file order, so the result does not depend on the threads. Raises :class:`Fallback`
    when the file needs the full XML parser (``acc`` is then to be discarded).
    """
    from collections import deque
    from concurrent.futures import ThreadPoolExecutor

    rest, classifiers = _header(fh)
    state = _State(acc, max_cols)
    blocks = _blocks(fh, rest, state)
    workers = min(4, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))
    if workers < 2:
        for body in blocks:
            _merge(_scan_block(body, max_attrs), state)
    else:
        with ThreadPoolExecutor(workers, thread_name_prefix="leanops-xes") as pool:
            pending: deque[Any] = deque()
            for body in blocks:
                pending.append(pool.submit(_scan_block, body, max_attrs))
                del body
                while len(pending) > workers:  # bounds the blocks alive at once
                    _merge(pending.popleft().result(), state)
            while pending:
                _merge(pending.popleft().result(), state)
    if acc.n == 0 or _TAIL.fullmatch(state.tail) is None:  # (no control character can pass this)
        raise Fallback
    return classifiers


def _blocks(fh: Any, buf: bytes, state: _State) -> Any:
    """The stream in blocks of about ``_BLOCK`` bytes, each cut after a ``</trace>``; what
    follows the last one is left in ``state.tail``."""
    eof = False
    while not eof:
        chunk = fh.read(_BLOCK)
        eof = not chunk
        buf += chunk
        del chunk
        cut = buf.rfind(b"</trace>") + 8
        if cut < 8:
            continue
        rest = buf[cut:]
        if len(rest) < 24:  # word reads past the block stay in the buffer
            buf += b"\0" * 24
        yield buf, cut  # the block is buf[:cut]; no copy
        buf = rest
    state.tail = buf


def _header(fh: Any) -> tuple[bytes, list[tuple[str, list[str]]]]:
    """Read up to the first ``<trace``; return (the bytes from there, classifiers).

    The header (extensions, globals, classifiers, log attributes) is parsed by lxml with
    the same safe settings as the full reader."""
    from lxml import etree

    buf = b""
    while True:
        block = fh.read(1 << 20)
        buf += block
        if buf[:2] in (b"\xff\xfe", b"\xfe\xff"):
            raise Fallback  # UTF-16
        at = re.search(rb"<trace[ \t\r\n>]", buf)
        if at is not None:
            break
        if not block or len(buf) > (64 << 20):
            raise Fallback
    head, rest = buf[: at.start()], buf[at.start():]
    enc = _DECL_ENCODING.match(head)
    if enc is not None and enc.group(1).decode("ascii").lower() not in _OK_ENCODINGS:
        raise Fallback
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=True,
                             remove_comments=True)
    try:
        root = etree.fromstring(head + b"</log>", parser)
    except etree.XMLSyntaxError:
        raise Fallback from None
    if not isinstance(root.tag, str) or root.tag.split("}")[-1] != "log" or root.prefix is not None:
        raise Fallback
    if next(root.iter("{*}event", "event", "{*}trace", "trace"), None) is not None:
        raise Fallback  # events outside any trace: lxml reads them
    classifiers = [(el.get("name") or "", classifier_keys(el.get("keys") or ""))
                   for el in root.iter("{*}classifier", "classifier")]
    return rest, classifiers


class _State:
    def __init__(self, acc: XesColumns, max_cols: float) -> None:
        self.acc, self.max_cols = acc, max_cols
        self.tail = b""
        self.event_names: set[str] = set()
        self.trace_names: set[str] = set()


def _word(b: bytes) -> int:
    return int.from_bytes(b.ljust(8, b"\0")[:8], "little")


def _mask(n: int) -> int:
    return (1 << (8 * min(n, 8))) - 1


# Per element code: the first 16 bytes of its fixed text, as two little-endian words and masks.
_E0 = np.array([_word(_PATTERNS[c][:8]) for c in range(10)], dtype=np.uint64)
_M0 = np.array([_mask(len(_PATTERNS[c])) for c in range(10)], dtype=np.uint64)
_E1 = np.array([_word(_PATTERNS[c][8:16]) for c in range(10)], dtype=np.uint64)
_M1 = np.array([_mask(max(0, len(_PATTERNS[c]) - 8)) for c in range(10)], dtype=np.uint64)
_PLEN = np.array([len(_PATTERNS[c]) for c in range(10)], dtype=np.int64)
_CLASS16 = _CLASS.T.reshape(-1).copy()  # indexed by byte1 | byte2 << 8
_KEY_TO_VALUE = np.uint64(_word(b'" value='))
_TAIL3, _TAIL4 = np.uint64(_word(b'"/>')), np.uint64(_word(b'" />'))


_MASKS = np.array([_mask(r) for r in range(9)], dtype=np.uint64)  # the low r bytes of a word
_OVER_32, _HIGH_BITS = np.uint64(0x5F5F5F5F5F5F5F5F), np.uint64(0x8080808080808080)


def _gather(body: np.ndarray, w: np.ndarray, starts: np.ndarray, stops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The byte slices [starts, stops) of ``body`` as one contiguous buffer and its offsets,
    no Python object per slice: the words of each slice in a grid, then one boolean
    compaction (``w``: the words at every byte position of ``body``)."""
    lens = stops - starts
    offsets = np.zeros(len(starts) + 1, dtype=np.int64)
    np.cumsum(lens, out=offsets[1:])
    total = int(offsets[-1])
    if total == 0:
        return np.zeros(0, np.uint8), offsets
    n_words = (int(lens.max()) + 7) // 8
    if n_words > 8:  # long values: an index of every byte
        idx = np.repeat(starts - offsets[:-1], lens)
        idx += np.arange(total, dtype=np.int64)
        return body[idx], offsets
    grid = np.empty((len(starts), n_words), dtype="<u8")
    last = len(w) - 1
    for k in range(n_words):  # reads past a slice's end are masked out below
        grid[:, k] = w[np.minimum(starts + 8 * k, last)]
    keep = np.arange(8 * n_words) < lens[:, None]
    return grid.view(np.uint8).reshape(len(starts), 8 * n_words)[keep], offsets


def _key_codes(body: np.ndarray, w: np.ndarray, starts: np.ndarray, stops: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Each key's code and the distinct keys, without building a string per key: the
    words of each key are hashed, factorised, and then compared exactly with the first
    key of their code."""
    lens = stops - starts
    n_words = (int(lens.max()) + 7) // 8 if len(lens) else 0
    if n_words > 8:
        raise Fallback  # keys over 64 bytes: rare, lxml reads them
    words = []
    h = lens.astype(np.uint64)
    last = len(w) - 1
    for k in range(n_words):
        wk = w[np.minimum(starts + 8 * k, last)] & _MASKS[np.clip(lens - 8 * k, 0, 8)]
        words.append(wk)
        h = (h * np.uint64(0x100000001B3)) ^ wk  # wraps: a hash, checked exactly below
    codes, _ = pd.factorize(h)
    codes = codes.astype(np.int64)
    first = np.flatnonzero(np.r_[True, np.diff(np.maximum.accumulate(codes)) > 0])  # codes come in first-seen order
    if np.any(lens[first][codes] != lens) or any(np.any(wk[first][codes] != wk) for wk in words):
        raise Fallback  # a hash collision: astronomically rare, and never guessed
    names = []
    for at in first.tolist():
        raw = body[starts[at]:stops[at]].tobytes()
        if b"&" in raw or any(c < 32 for c in raw) or b"\xef\xbf\xbe" in raw or b"\xef\xbf\xbf" in raw:
            raise Fallback  # keys needing unescaping, or not XML text: lxml reads them
        try:
            names.append(raw.decode("utf-8"))
        except UnicodeDecodeError:
            raise Fallback from None
    return codes, names


def _arrow(data: np.ndarray, offsets: np.ndarray) -> Any:
    """A large_string array over the buffers; text XML rejects (bad UTF-8, U+FFFE, U+FFFF)
    goes to lxml, which says so."""
    import pyarrow as pa

    lead = np.flatnonzero(data[:-2] == 0xEF) if len(data) >= 3 else ()
    if len(lead) and np.any((data[lead + 1] == 0xBF) & (data[lead + 2] >= 0xBE)):
        raise Fallback
    arr = pa.Array.from_buffers(pa.large_string(), len(offsets) - 1,
                                [None, pa.py_buffer(offsets), pa.py_buffer(data)])
    try:
        arr.validate(full=True)
    except pa.ArrowInvalid:
        raise Fallback from None
    return arr


def _unescape(data: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Attribute values as an XML parser reports them, on the bytes: literal tab, CR and
    LF become spaces (CR LF one space), the five named entities their characters. Any
    other reference goes to lxml."""
    special = np.flatnonzero((data == 38) | (data < 32))  # below 32 only tab, LF, CR are left
    if special.size == 0:
        return data, offsets
    data = data.copy()
    row_end = offsets[np.searchsorted(offsets, special, side="right")]  # end of each one's value
    drop = [np.zeros(0, np.int64)]
    is_amp = data[special] == 38
    ws, ws_end = special[~is_amp], row_end[~is_amp]
    if ws.size:
        nxt = np.minimum(ws + 1, len(data) - 1)
        drop.append(ws[(data[ws] == 13) & (ws + 1 < ws_end) & (data[nxt] == 10)])  # the CR of CR LF
        data[ws] = 32
    amp, amp_end = special[is_amp], row_end[is_amp]
    if amp.size:
        win = np.concatenate([data, np.zeros(8, np.uint8)])[amp[:, None] + np.arange(1, 6)]
        size = np.zeros(len(amp), dtype=np.int64)
        char = np.zeros(len(amp), dtype=np.uint8)
        for name, c in _ENTITIES:
            pat = np.frombuffer(name, np.uint8)
            hit = np.all(win[:, : len(pat)] == pat, axis=1) & (size == 0)
            size[hit], char[hit] = len(pat), ord(c)
        if np.any(size == 0) or np.any(amp + size + 1 > amp_end):
            raise Fallback
        data[amp] = char
        first = np.zeros(len(amp) + 1, dtype=np.int64)
        np.cumsum(size, out=first[1:])
        drop.append(np.repeat(amp + 1 - first[:-1], size) + np.arange(first[-1]))
    gone = np.sort(np.concatenate(drop))
    keep = np.ones(len(data), dtype=bool)
    keep[gone] = False
    per_row = np.bincount(np.searchsorted(offsets, gone, side="right") - 1, minlength=len(offsets) - 1)
    new = offsets.copy()
    np.cumsum(per_row, out=per_row)
    new[1:] -= per_row
    return data[keep], new


def _scan_block(block: tuple[bytes, int], max_attrs: float) -> tuple[int, int, np.ndarray, list[tuple[Any, ...]]]:
    """Scan the traces of one block, ``block[0][:block[1]]`` (at least 24 bytes follow it):
    (events, traces, events per trace, columns), each column as (name, on_event, kind,
    rows or None when every event/trace has it, values), rows and names local to the block."""
    data, size = block
    if data[:size].translate(None, _NOT_CONTROL):
        raise Fallback  # control characters other than tab, LF, CR: not XML, lxml says so
    a = np.frombuffer(data, dtype=np.uint8)
    body = a[:size]
    # every byte position's next 8 bytes as one little-endian word: an unaligned view, no copy
    w = np.ndarray((size + 16,), dtype="<u8", buffer=data, strides=(1,))
    # the positions of "<" and of '"' in one pass
    marks = np.flatnonzero((body == 60) | (body == 34))
    is_lt = a[marks] == 60
    lt, q = marks[is_lt], marks[~is_lt]
    qi = np.flatnonzero(is_lt) - np.arange(len(lt))  # quotes before each "<"
    del marks, is_lt
    if lt.size == 0:
        raise Fallback
    w0 = w[lt]
    code = _CLASS16[((w0 >> np.uint64(8)) & np.uint64(0xFFFF)).astype(np.int64)]
    if np.any(code < 0):
        raise Fallback
    if not (np.all((w0 & _M0[code]) == _E0[code]) and np.all((w[lt + 8] & _M1[code]) == _E1[code])):
        raise Fallback
    del w0
    ends = lt + _PLEN[code] - 1  # each element's closing ">" (for attributes, first the key's quote)

    # Attributes: exactly four quotes, '" value="' between key and value, then '"/>' or '" />'.
    qn = np.diff(np.r_[qi, len(q)])
    is_attr = code < _EV
    if np.any(qn != np.where(is_attr, 4, 0)):
        raise Fallback
    ai = np.flatnonzero(is_attr)
    qa = qi[ai]
    q0, q1, q2, q3 = q[qa], q[qa + 1], q[qa + 2], q[qa + 3]
    del q, qi, qn, qa
    if np.any(q0 != ends[ai]) or np.any(q2 != q1 + 8) or np.any(w[q1] != _KEY_TO_VALUE):
        raise Fallback
    tail = w[q3]
    short = (tail & np.uint64(0xFFFFFF)) == _TAIL3
    if not np.all(short | ((tail & np.uint64(0xFFFFFFFF)) == _TAIL4)):
        raise Fallback
    ends[ai] = np.where(short, q3 + 2, q3 + 3)
    del tail, short

    # Only XML whitespace between elements. After the control check, that is: no byte over
    # 32 in any gap. The first 16 bytes of each gap are tested a word at a time (a byte x
    # has its high bit set in (x + 0x5F) | x exactly when x > 32); longer gaps byte by byte.
    gap_lo, gap_hi = np.r_[0, ends + 1], np.r_[lt, size]
    glen = gap_hi - gap_lo
    last = len(w) - 1
    for k in (0, 1):
        wk = w[np.minimum(gap_lo + 8 * k, last)] & _MASKS[np.clip(glen - 8 * k, 0, 8)]
        if np.any(((wk + _OVER_32) | wk) & _HIGH_BITS):
            raise Fallback
    long = glen > 16
    if long.any() and np.any(_gather(body, w, gap_lo[long], gap_hi[long])[0] > 32):
        raise Fallback
    del gap_lo, gap_hi, glen, ends

    # Nesting: traces at depth 0, events in traces, attributes in events or traces.
    is_ev, is_evc, is_tr, is_trc = code == _EV, code == _EVC, code == _TR, code == _TRC
    delta = is_ev.astype(np.int64) + is_tr - is_evc - is_trc
    after = np.cumsum(delta)
    before = after - delta
    if (after[-1] != 0 or np.any(before[is_tr] != 0) or np.any(before[is_ev] != 1) or np.any(before[is_evc] != 2)
            or np.any(before[is_trc] != 1) or np.any(before[ai] == 0)):
        raise Fallback
    on_event = before[ai] == 2
    del delta, after, before
    ev_of = np.cumsum(is_ev) - 1
    tr_of = np.cumsum(is_tr) - 1
    n_ev, n_tr = int(is_ev.sum()), int(is_tr.sum())
    sizes = np.bincount(tr_of[is_ev], minlength=n_tr)
    owner = np.where(on_event, ev_of[ai], tr_of[ai])
    # lxml meets an event's attributes at the event's end, a trace's at the trace's end
    evc_at, trc_at = np.r_[np.flatnonzero(is_evc), 0], np.r_[np.flatnonzero(is_trc), 0]
    seen_at = np.where(on_event, evc_at[np.maximum(ev_of[ai], 0)], trc_at[np.maximum(tr_of[ai], 0)])
    kind = code[ai]
    del lt, code, is_ev, is_evc, is_tr, is_trc, ev_of, tr_of, evc_at, trc_at
    if n_ev and np.bincount(owner[on_event], minlength=n_ev).max() > max_attrs:
        raise Fallback  # lxml words the limit error

    key_code, key_names = _key_codes(body, w, q0 + 1, q1)
    del q0, q1
    n_keys = len(key_names)
    col = key_code * 2 + ~on_event  # even: event attribute, odd: trace attribute
    pair = np.sort(owner * (2 * n_keys) + col)
    if np.any(pair[1:] == pair[:-1]):
        raise Fallback  # a key twice in one event or trace
    del pair, key_code

    # Columns in the order lxml meets them, with the kind of their first value.
    by_col = np.argsort(col.astype(np.int16) if n_keys < 1 << 14 else col, kind="stable")  # radix sort; document order kept
    sorted_col = col[by_col]
    lo = np.flatnonzero(np.r_[True, sorted_col[1:] != sorted_col[:-1]])
    hi = np.r_[lo[1:], len(by_col)]
    cols = sorted_col[lo]
    m = len(ai) + 1
    first = np.minimum.reduceat(seen_at[by_col] * m + by_col, lo)  # the first met, by (seen_at, position)
    rank = np.argsort(first)
    first %= m
    del sorted_col, seen_at
    vstart, vstop = q2 + 1, q3
    out = []
    for j in rank.tolist():
        c = int(cols[j])
        ev = c % 2 == 0
        name = key_names[c // 2] if ev else "case:" + key_names[c // 2]
        sel = by_col[lo[j]:hi[j]]
        values = _arrow(*_unescape(*_gather(body, w, vstart[sel], vstop[sel])))
        col_kind = _KINDS[int(kind[first[j]])]
        if ev and col_kind in ("string", "id"):
            values = _compact(col_kind, values)  # on this thread (Arrow releases the GIL); lossless
        rows = owner[sel]
        whole = len(rows) == (n_ev if ev else n_tr)  # in every event (trace) of the block: rows 0, 1, ...
        out.append((name, ev, col_kind, None if whole else rows, values))
    return n_ev, n_tr, sizes, out


def _merge(scanned: tuple[int, int, np.ndarray, list[tuple[Any, ...]]], st: _State) -> None:
    """Add one scanned block to ``st.acc``, after the blocks before it."""
    n_ev, n_tr, sizes, cols = scanned
    acc = st.acc
    for name, ev, kind, rows, values in cols:
        if name in (st.trace_names if ev else st.event_names):
            raise Fallback  # an event key "case:x" beside a trace key "x"
        (st.event_names if ev else st.trace_names).add(name)
        acc.see(name, kind)
        if len(acc.kinds) > st.max_cols:
            raise Fallback  # lxml words the limit error
        base = acc.n if ev else acc.n_traces
        acc.add(name, ev, base if rows is None else rows + base, values)
    acc.sizes.append(sizes)
    acc.n += n_ev
    acc.n_traces += n_tr
    acc.advance(acc.n)
