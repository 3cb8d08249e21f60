"""XES reading without a Python object per value: a vectorised block scanner, and the
column store both XES readers fill.

The scanner reads the decompressed bytes in blocks of a few MB cut after a ``</trace>``
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

import re
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["Fallback", "XesColumns", "scan", "classifier_keys"]

_BLOCK = 4 << 20  # bytes per scanned block (cut after a </trace>): bounds the scan temporaries
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
_VALUE_EQ = np.frombuffer(b' value="', np.uint8)
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
    """The attribute values of an XES log, column by column, as Arrow string arrays.

    Event attributes are stored with the rows (event numbers) they belong to, trace
    attributes with their trace numbers and broadcast to the trace's events at the end.
    Columns keep the order in which an XML reader meets their first value (an event's
    attributes at the event's end, a trace's at the trace's end), with the kind of that
    first value.
    """

    def __init__(self, tz: str) -> None:
        self.tz = tz
        self.kinds: dict[str, str] = {}
        self.events: dict[str, list[tuple[Any, Any]]] = {}
        self.traces: dict[str, list[tuple[Any, Any]]] = {}
        self.sizes: list[np.ndarray] = []  # events per trace, in chunks
        self.n = 0  # events
        self.n_traces = 0

    def see(self, name: str, kind: str) -> None:
        if name not in self.kinds:
            self.kinds[name] = kind

    def add(self, name: str, on_event: bool, rows: Any, values: Any) -> None:
        """Values of ``name`` at ``rows``: an int (the first of consecutive rows) or an
        array of event (or trace) numbers."""
        (self.events if on_event else self.traces).setdefault(name, []).append((rows, values))

    def frame(self) -> pd.DataFrame:
        """Convert every column: dates to UTC (offsets sampled, unparsable rows kept),
        ints and floats to numbers, booleans to True/False/None, other kinds to Arrow-backed
        strings. Frees the stored arrays as it goes."""
        import pyarrow as pa
        import pyarrow.compute as pc

        n = self.n
        trace_of: Any = None
        out: dict[str, Any] = {}
        offsets: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        unparsable: dict[str, tuple[np.ndarray, str]] = {}
        for name, kind in self.kinds.items():
            arr = _place(self.events.pop(name), n) if name in self.events else None
            if name in self.traces:
                if trace_of is None:
                    sizes = np.concatenate(self.sizes) if self.sizes else np.zeros(0, np.int64)
                    t = np.full(n, -1, np.int64)  # events after the last trace belong to none
                    k = int(sizes.sum())
                    t[:k] = np.repeat(np.arange(len(sizes)), sizes)
                    trace_of = pa.array(t, mask=t < 0)
                    del t
                per_trace = _place(self.traces.pop(name), self.n_traces)
                broadcast = per_trace.take(trace_of)
                arr = broadcast if arr is None else pc.coalesce(arr, broadcast)
            if arr is None:
                arr = pa.nulls(n, pa.large_string())
            out[name] = self._convert(name, kind, arr, offsets, unparsable)
            del arr
        frame = pd.DataFrame(out)
        frame.attrs["leanops_offsets"] = offsets
        if unparsable:
            frame.attrs["leanops_unparsable"] = unparsable
        return frame

    def _convert(self, name: str, kind: str, arr: Any, offsets: dict[str, Any], unparsable: dict[str, Any]) -> Any:
        import pyarrow as pa
        import pyarrow.compute as pc

        if kind == "date":
            from ._normalize import offset_samples, parse_times

            n = len(arr)
            res = np.empty(n, dtype="datetime64[ns]")
            bad = np.zeros(n, dtype=bool)
            ts, os_, example = [], [], None
            for lo in range(0, n, _DATE_ROWS):
                raw = pd.Series(pd.arrays.ArrowStringArray(arr.slice(lo, _DATE_ROWS)))
                parsed, n_bad = parse_times(raw, self.tz, name=name)
                t, o = offset_samples(raw, parsed)
                ts.append(t)
                os_.append(o)
                if n_bad:
                    mask = ((raw.str.strip().fillna("") != "") & parsed.isna()).to_numpy(dtype=bool)
                    bad[lo:lo + len(raw)] = mask
                    if example is None:
                        example = str(raw[mask].iloc[0])[:40]
                res[lo:lo + len(raw)] = parsed.dt.tz_localize(None).to_numpy(dtype="datetime64[ns]")
            offsets[name] = (np.concatenate(ts) if ts else np.zeros(0, np.int64),
                             np.concatenate(os_) if os_ else np.zeros(0, np.int64))
            if bad.any():
                unparsable[name] = (bad, example)
            return pd.Series(res).dt.tz_localize("UTC")
        if kind in ("int", "float"):
            try:  # Arrow's cast is the quick way when every value is a plain number
                values = pc.cast(arr, pa.float64()).to_numpy(zero_copy_only=False)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                values = pd.to_numeric(pd.Series(pd.arrays.ArrowStringArray(arr)), errors="coerce").to_numpy(
                    dtype=float, na_value=np.nan)
            values = np.asarray(values, dtype=float)
            finite = values[~np.isnan(values)]
            integral = kind == "int" and finite.size == values.size and np.all(np.mod(finite, 1) == 0)
            return values.astype(np.int64) if integral else values
        if kind == "boolean":
            truth = pc.equal(pc.utf8_lower(pc.utf8_trim_whitespace(arr)), "true")
            out = np.array(truth.fill_null(False).to_numpy(zero_copy_only=False), dtype=object)
            out[np.asarray(truth.is_null().to_numpy(zero_copy_only=False), dtype=bool)] = None
            return out
        return pd.Series(pd.arrays.ArrowStringArray(arr))


def _place(parts: list[tuple[Any, Any]], length: int) -> Any:
    """One string array of ``length`` rows from (rows, values) parts; null where no part
    gives a value."""
    import pyarrow as pa

    arrays = [v.cast(pa.large_string()) if v.type != pa.large_string() else v for _, v in parts]
    vals = pa.concat_arrays(arrays) if len(arrays) > 1 else arrays[0]
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

    Raises :class:`Fallback` when the file needs the full XML parser (``acc`` is then to
    be discarded).
    """
    rest, classifiers = _header(fh)
    state = _State(acc, max_attrs, max_cols)
    buf, eof = rest, False
    while not eof:
        block = fh.read(_BLOCK)
        eof = not block
        buf += block
        cut = buf.rfind(b"</trace>")
        if cut < 0:
            continue
        body, buf = buf[: cut + 8], buf[cut + 8:]
        _scan_block(body, state)
        del body
    if acc.n == 0 or _TAIL.fullmatch(buf) is None:
        raise Fallback
    return classifiers


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
    def __init__(self, acc: XesColumns, max_attrs: float, max_cols: float) -> None:
        self.acc, self.max_attrs, self.max_cols = acc, max_attrs, max_cols
        self.event_names: set[str] = set()
        self.trace_names: set[str] = set()


def _strings(a: np.ndarray, starts: np.ndarray, stops: np.ndarray) -> tuple[Any, np.ndarray, np.ndarray]:
    """The byte slices [starts, stops) of ``a`` (disjoint, in order) as an Arrow
    large_string array, with its data bytes and offsets; no Python object per slice."""
    import pyarrow as pa

    # a mask of alternating runs (outside, inside, outside, ...): np.repeat, no cumulative sum
    runs = np.empty(2 * len(starts) + 1, dtype=np.int64)
    runs[0:-1:2] = starts - np.r_[0, stops[:-1]]
    runs[1::2] = stops - starts
    runs[-1] = len(a) - (stops[-1] if len(stops) else 0)
    inside = np.repeat(np.tile(np.array([False, True]), len(starts) + 1)[: len(runs)], runs)
    data = a[inside]
    del runs, inside
    offsets = np.zeros(len(starts) + 1, dtype=np.int64)
    np.cumsum(stops - starts, out=offsets[1:])
    arr = pa.Array.from_buffers(pa.large_string(), len(starts), [None, pa.py_buffer(offsets), pa.py_buffer(data)])
    return arr, data, offsets


def _check_text(data: np.ndarray) -> None:
    """Text XML rejects (U+FFFE, U+FFFF) goes to lxml, which says so."""
    if len(data) >= 3:
        hit = (data[:-2] == 0xEF) & (data[1:-1] == 0xBF) & (data[2:] >= 0xBE)
        if hit.any():
            raise Fallback


def _unescape(arr: Any, data: np.ndarray, offsets: np.ndarray) -> Any:
    """Attribute values as an XML parser reports them: literal tab, CR and LF become
    spaces (CR LF one space), the five named entities their characters. Any other
    reference goes to lxml."""
    import pyarrow as pa
    import pyarrow.compute as pc

    special = (data == 38) | (data == 9) | (data == 10) | (data == 13)
    if not special.any():
        return arr
    amp = np.flatnonzero(data == 38)
    if amp.size:
        padded = np.concatenate([data, np.zeros(8, np.uint8)])
        win = padded[amp[:, None] + np.arange(1, 6)]
        size = np.zeros(len(amp), dtype=np.int64)
        for name, _ in _ENTITIES:
            pat = np.frombuffer(name, np.uint8)
            hit = np.all(win[:, : len(pat)] == pat, axis=1) & (size == 0)
            size[hit] = len(pat) + 1
        owner = np.searchsorted(offsets, amp, side="right") - 1
        if np.any(size == 0) or np.any(amp + size > offsets[owner + 1]):
            raise Fallback
    # Fix only the rows that hold a special character, and only for what they hold.
    at = np.flatnonzero(special)
    rows = np.unique(np.searchsorted(offsets, at, side="right") - 1)
    sub = arr.take(pa.array(rows))
    for pat, byte in (("\r\n", 13), ("\r", 13), ("\n", 10), ("\t", 9)):
        if np.any(data[at] == byte):
            sub = pc.replace_substring(sub, pat, " ")
    if amp.size:
        for name, char in _ENTITIES:
            sub = pc.replace_substring(sub, "&" + name.decode(), char)
    mask = np.zeros(len(arr), dtype=bool)
    mask[rows] = True
    return pc.replace_with_mask(arr, pa.array(mask), sub)


def _scan_block(block: bytes, st: _State) -> None:
    """Scan the traces of one block into ``st.acc``."""
    import pyarrow as pa

    acc = st.acc
    size = len(block)
    a = np.frombuffer(block + b"\0" * 16, dtype=np.uint8)  # padding: fixed-offset reads stay in bounds
    body = a[:size]
    if block.translate(None, _NOT_CONTROL):
        raise Fallback  # control characters other than tab, LF, CR: not XML, lxml says so
    lt = np.flatnonzero(body == 60)
    if lt.size == 0:
        raise Fallback
    code = _CLASS[a[lt + 1], a[lt + 2]]
    if np.any(code < 0):
        raise Fallback
    ends = np.empty(len(lt), dtype=np.int64)  # each element's closing ">" (for attributes, first the key's quote)
    for c, pat in _PATTERNS.items():
        sel = np.flatnonzero(code == c)
        if sel.size == 0:
            continue
        pos = lt[sel]
        want = np.frombuffer(pat, np.uint8)
        if not np.array_equal(a[pos[:, None] + np.arange(len(pat))], np.broadcast_to(want, (len(pos), len(pat)))):
            raise Fallback
        ends[sel] = pos + len(pat) - 1

    # Attributes: exactly four quotes, ' value="' between key and value, then '/>' or ' />'.
    q = np.flatnonzero(body == 34)
    qi = np.searchsorted(q, lt)
    qn = np.diff(np.r_[qi, len(q)])
    is_attr = code < _EV
    if np.any(qn[~is_attr] != 0) or np.any(qn[is_attr] != 4):
        raise Fallback
    ai = np.flatnonzero(is_attr)
    qa = qi[ai]
    q0, q1, q2, q3 = q[qa], q[qa + 1], q[qa + 2], q[qa + 3]
    del q, qi, qn
    if np.any(q0 != ends[ai]) or np.any(q2 != q1 + 8):
        raise Fallback
    if not np.array_equal(a[q1[:, None] + np.arange(1, 9)], np.broadcast_to(_VALUE_EQ, (len(q1), 8))):
        raise Fallback
    t1, t2, t3 = a[q3 + 1], a[q3 + 2], a[q3 + 3]
    short = (t1 == 47) & (t2 == 62)
    if not np.all(short | ((t1 == 32) & (t2 == 47) & (t3 == 62))):
        raise Fallback
    ends[ai] = np.where(short, q3 + 2, q3 + 3)
    del t1, t2, t3, short

    # Only XML whitespace between elements: one "any text?" per gap, by reduceat.
    text = np.ones(size + 1, dtype=bool)
    np.greater(body, 32, out=text[:size])  # the only bytes up to 32 left are tab, LF, CR and space
    gap_lo, gap_hi = np.r_[0, ends + 1], np.r_[lt, size]
    bounds = np.empty(2 * len(gap_lo), dtype=np.int64)
    bounds[0::2], bounds[1::2] = gap_lo, gap_hi
    has_text = np.logical_or.reduceat(text, bounds)[0::2]
    if np.any(has_text & (gap_hi > gap_lo)):
        raise Fallback
    del text, bounds, has_text, gap_lo, gap_hi, ends

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
    del lt, code, is_ev, is_evc, is_tr, is_trc, ev_of, tr_of

    keys, kdata, _ = _strings(body, q0 + 1, q1)
    if np.any((kdata == 38) | (kdata == 9) | (kdata == 10) | (kdata == 13)):
        raise Fallback  # keys needing unescaping: rare, lxml reads them
    values, vdata, voffsets = _strings(body, q2 + 1, q3)
    del q0, q1, q2, q3, a, body
    _check_text(kdata)
    _check_text(vdata)
    try:
        keys.validate(full=True)  # UTF-8
        values.validate(full=True)
    except pa.ArrowInvalid:
        raise Fallback from None
    values = _unescape(values, vdata, voffsets)
    del kdata, vdata, voffsets
    if n_ev and np.bincount(owner[on_event], minlength=n_ev).max() > st.max_attrs:
        raise Fallback  # lxml words the limit error
    enc = keys.dictionary_encode()
    key_code = enc.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    key_names = enc.dictionary.to_pylist()
    del keys, enc
    n_keys = len(key_names)
    col = key_code * 2 + ~on_event  # even: event attribute, odd: trace attribute
    pair = np.sort(owner * (2 * n_keys) + col)
    if np.any(pair[1:] == pair[:-1]):
        raise Fallback  # a key twice in one event or trace
    del pair

    # Columns in the order lxml meets them, with the kind of their first value.
    order = np.lexsort((np.arange(len(ai)), seen_at))
    cols, first = np.unique(col[order], return_index=True)
    rank = np.argsort(first, kind="stable")
    by_col = np.argsort(col, kind="stable")  # attributes grouped by column, in document order
    bounds = np.searchsorted(col[by_col], cols)
    stops = np.r_[bounds[1:], len(by_col)]
    base_ev, base_tr = acc.n, acc.n_traces
    for j in rank.tolist():
        c = int(cols[j])
        ev = c % 2 == 0
        name = key_names[c // 2] if ev else "case:" + key_names[c // 2]
        if name in (st.trace_names if ev else st.event_names):
            raise Fallback  # an event key "case:x" beside a trace key "x"
        (st.event_names if ev else st.trace_names).add(name)
        acc.see(name, _KINDS[int(kind[order[first[j]]])])
        if len(acc.kinds) > st.max_cols:
            raise Fallback  # lxml words the limit error
        sel = by_col[bounds[j]:stops[j]]
        rows = owner[sel]
        whole = n_ev if ev else n_tr
        got = values.take(pa.array(sel))
        if len(rows) == whole:  # in every event (trace) of the block: rows base, base+1, ...
            acc.add(name, ev, (base_ev if ev else base_tr), got)
        else:
            acc.add(name, ev, rows + (base_ev if ev else base_tr), got)
    acc.sizes.append(sizes)
    acc.n += n_ev
    acc.n_traces += n_tr
