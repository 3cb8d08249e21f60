"""The vectorised XES scanner (leanops._xes_scan) gives the lxml reader's frame exactly,
and hands anything it does not read exactly to lxml, which stays the reference."""

from __future__ import annotations

import gzip
import warnings

import numpy as np
import pandas as pd
import pytest

import leanops
import leanops.io as lio
from leanops import InputError, _xes_scan
from conftest import DATASETS


def _same_frame(a: pd.DataFrame, b: pd.DataFrame) -> None:
    assert list(a.columns) == list(b.columns)
    assert list(a.dtypes) == list(b.dtypes)
    pd.testing.assert_frame_equal(a, b)
    assert a.attrs.keys() == b.attrs.keys()
    assert a.attrs["leanops_classifiers"] == b.attrs["leanops_classifiers"]
    oa, ob = a.attrs["leanops_offsets"], b.attrs["leanops_offsets"]
    assert list(oa) == list(ob)
    for k in oa:
        assert all(np.array_equal(x, y) for x, y in zip(oa[k], ob[k]))
    ua, ub = a.attrs.get("leanops_unparsable", {}), b.attrs.get("leanops_unparsable", {})
    assert list(ua) == list(ub)
    for k in ua:
        assert np.array_equal(ua[k][0], ub[k][0]) and ua[k][1] == ub[k][1]


def _read_log(path, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return leanops.read(path, **kw)


def _both(path, monkeypatch, **kw):
    """Read ``path`` with the scanner and with lxml; check the frames and the EventLogs
    are identical; return the scanner's frame and what the scanner did."""
    calls: list[str] = []
    real = _xes_scan.scan

    def spy(*a, **k):
        try:
            out = real(*a, **k)
        except _xes_scan.Fallback:
            calls.append("fallback")
            raise
        calls.append("fast")
        return out

    monkeypatch.setattr(_xes_scan, "scan", spy)
    monkeypatch.delenv("LEANOPS_XES_PARSER", raising=False)
    fkw = {k: v for k, v in kw.items() if k == "tz"}
    fast, qf = lio.read_xes_frame(path, **fkw)
    log_fast = _read_log(path, **kw)
    seen = list(calls)
    monkeypatch.setenv("LEANOPS_XES_PARSER", "lxml")
    slow, qs = lio.read_xes_frame(path, **fkw)
    log_slow = _read_log(path, **kw)
    assert len(calls) == len(seen)  # the switch bypasses the scanner
    monkeypatch.delenv("LEANOPS_XES_PARSER")
    _same_frame(fast, slow)
    assert qf.to_dict() == qs.to_dict()
    pd.testing.assert_frame_equal(log_fast.df, log_slow.df)
    assert log_fast.quality.to_dict() == log_slow.quality.to_dict()
    assert log_fast.tz == log_slow.tz and log_fast.mapping == log_slow.mapping
    return fast, seen[:1]


@pytest.mark.parametrize("name", sorted(p.name for p in DATASETS.glob("*.xes.gz")))
def test_bundled_xes_same_frame_on_both_paths(name, monkeypatch):
    _, calls = _both(DATASETS / name, monkeypatch)
    assert calls == ["fast"]  # the bundled logs are plain XES: the scanner reads them


HEAD = ('<?xml version="1.0" encoding="UTF-8"?>\n<log xes.version="1.0" xmlns="http://www.xes-standard.org/">\n'
        '  <!-- a comment in the header is fine -->\n'
        '  <classifier name="Activity" keys="concept:name lifecycle:transition"/>\n'
        '  <global scope="event"><string key="concept:name" value="x"/></global>\n')

PICK = '<string key="concept:name" value="Pick &amp; pack &lt;b&gt; &quot;x&quot; &apos;y&apos; &amp;lt;"/>'
TRICKY = HEAD + f"""  <trace>
    <event>{PICK}<string key="lifecycle:transition" value="start"/>
      <date key="time:timestamp" value="2024-03-01T09:00:00.000-05:00"/>\t<string key="org:resource" value="Ann\tB\r\nC\rD\nE" />
      <int key="cost" value="3"/>\n                              \t  </event>
    <event>\r\n{PICK}<string key="lifecycle:transition" value="complete"/><date key="time:timestamp" value="2024-03-01T09:30:00.000-05:00"/>
      <float key="weight" value="1.5"/> <id key="uid" value="7f"/><string key="who" value="Müller ✓ a > b"/>
    </event>
    <event>
      <string key="concept:name" value="Ship"/>
      <date key="time:timestamp" value="2024-03-01T10:00:00.000-05:00"/>
      <float key="weight" value="not a number"/>
    </event>
    <string key="concept:name" value="T1"/>
    <date key="deadline" value="2024-04-01T00:00:00+01:00"/>
    <int key="priority" value="2"/>
  </trace>
  <trace><string key="concept:name" value="T-empty"/><boolean key="vip" value="false"/></trace>
  <trace></trace>
  <trace>
    <string key="concept:name" value="T2"/>
    <event><string key="concept:name" value="Ship"/><boolean key="urgent" value=" TRUE "/>
      <date key="time:timestamp" value="not a date"/></event>
    <event><string key="concept:name" value="Ship"/><date key="time:timestamp" value="2024-03-02T10:00:00"/><string key="empty" value=""/></event>
    <event><date key="time:timestamp" value="2024-03-02T11:00:00Z"/><string key="concept:name" value="Close"/><boolean key="urgent" value="false"/></event>
  </trace>
</log>
"""


def test_tricky_but_plain_xes_is_read_by_the_scanner(tmp_path, monkeypatch):
    p = tmp_path / "t.xes"
    p.write_bytes(TRICKY.encode("utf-8"))
    frame, calls = _both(p, monkeypatch)
    assert calls == ["fast"]
    assert frame["concept:name"].iloc[0] == "Pick & pack <b> \"x\" 'y' &lt;"
    assert frame["org:resource"].iloc[0] == "Ann B C D E"  # literal tab, CR LF, CR, LF: one space each
    assert list(frame["case:concept:name"]) == ["T1"] * 3 + ["T2"] * 3
    assert frame["case:vip"].isna().all()  # the empty trace's attribute still makes its column
    assert frame["cost"].isna().sum() == 5 and frame["weight"].isna().sum() == 5
    assert frame["urgent"].tolist() == [None, None, None, True, None, False]
    assert frame["case:priority"].tolist()[:3] == [2, 2, 2]
    assert frame["empty"].iloc[4] == "" and frame["who"].iloc[1] == "Müller ✓ a > b"
    bad, example = frame.attrs["leanops_unparsable"]["time:timestamp"]
    assert bad.tolist() == [False, False, False, True, False, False] and example == "not a date"
    assert frame.attrs["leanops_classifiers"] == [("Activity", ["concept:name", "lifecycle:transition"])]
    gz = tmp_path / "t.xes.gz"
    gz.write_bytes(gzip.compress(TRICKY.encode()))
    _, calls = _both(gz, monkeypatch, tz="America/New_York")
    assert calls == ["fast"]
    _, calls = _both(p, monkeypatch, lifecycle="classifier")
    assert calls == ["fast"]


def test_tricky_log_pairs_and_counts_as_before(tmp_path):
    p = tmp_path / "t.xes"
    p.write_text(TRICKY, encoding="utf-8")
    log = _read_log(p)
    # the start/complete pair is one instance; the unparsable end is dropped and counted
    assert log.quality.rows_read == 6 and log.quality.dropped == {"unparsable_end": 1}
    assert len(log.df) == 4
    assert log.df["start"].notna().sum() == 1


@pytest.mark.parametrize("change", [
    ('<int key="cost" value="3"/>', '<list key="tags"><values><string key="a" value="b"/></values></list>'),
    ('<int key="cost" value="3"/>', "<int key='cost' value='3'/>"),
    ('<int key="cost" value="3"/>', '<int value="3" key="cost"/>'),
    ('<int key="cost" value="3"/>', '<!-- a comment --><int key="cost" value="3"/>'),
    ('<float key="weight" value="1.5"/>', '<string key="note"><![CDATA[x]]></string>'),
    ('<float key="weight" value="1.5"/>', '<string key="note" value="&#233;&#x41;"/>'),
    ('<float key="weight" value="1.5"/>', '<string key="a&amp;b" value="1"/>'),
    ('<float key="weight" value="1.5"/>', '<float  key="weight" value="1.5"/>'),
    ('<float key="weight" value="1.5"/>', '<float key = "weight" value="1.5"/>'),
    ('<float key="weight" value="1.5"/>', '<float key="weight" value="1.5"\t/>'),
    ('<float key="weight" value="1.5"/>', '<float key="weight" value="1.5"/>text'),
    ('<float key="weight" value="1.5"/>', '<float key="weight" value="1.5"/>' + " " * 9 + "x"),
    ('<float key="weight" value="1.5"/>', '<float key="weight" value="1.5"/>' + "\n" * 30 + "x\n"),
    ('<event>\n      <string key="concept:name" value="Ship"/>', '<event >\n      <string key="concept:name" value="Ship"/>'),
    ('encoding="UTF-8"', 'encoding="ISO-8859-1"'),
    ('<string key="concept:name" value="Ship"/>\n      <date',
     '<string key="concept:name" value="Ship"/><string key="concept:name" value="Ship2"/>\n      <date'),
    ('<int key="priority" value="2"/>', '<int key="priority" value="2"/><int key="priority" value="3"/>'),
    ('<int key="cost" value="3"/>', '<int key="cost" value="3" extra="1"/>'),
    ('<int key="cost" value="3"/>', '<string key="case:concept:name" value="E"/>'),
    ('<trace></trace>', '<trace/>'),
    ('</trace>\n</log>', '</trace>\n<string key="late" value="1"/>\n</log>'),
    ('</trace>\n</log>', '</trace>\n<event><string key="concept:name" value="loose"/>'
     '<date key="time:timestamp" value="2024-03-03T10:00:00Z"/></event>\n</log>'),
])
def test_what_the_scanner_does_not_handle_goes_to_lxml(tmp_path, monkeypatch, change):
    assert change[0] in TRICKY
    p = tmp_path / "f.xes"
    p.write_bytes(TRICKY.replace(*change).encode("latin-1" if "8859" in change[1] else "utf-8", "xmlcharrefreplace"))
    _, calls = _both(p, monkeypatch)
    assert calls == ["fallback"]


def test_byte_order_mark_and_plain_root(tmp_path, monkeypatch):
    p = tmp_path / "bom.xes"
    p.write_bytes(b"\xef\xbb\xbf" + TRICKY.replace(' xmlns="http://www.xes-standard.org/"', "").encode())
    frame, calls = _both(p, monkeypatch)
    assert calls == ["fast"] and len(frame) == 6


def test_an_unforeseen_scanner_error_goes_to_lxml(tmp_path, monkeypatch):
    def broken(*a, **k):
        raise IndexError("a scanner bug")

    p = tmp_path / "t.xes"
    p.write_text(TRICKY, encoding="utf-8")
    monkeypatch.setattr(_xes_scan, "_scan_block", broken)
    frame, _ = lio.read_xes_frame(p)
    monkeypatch.undo()
    monkeypatch.setenv("LEANOPS_XES_PARSER", "lxml")
    _same_frame(frame, lio.read_xes_frame(p)[0])


def test_fallback_result_is_right(tmp_path, monkeypatch):
    # a character reference sends the file to lxml, which decodes it
    p = tmp_path / "ref.xes"
    p.write_text(TRICKY.replace('value="Ship"/>\n      <date', 'value="Sh&#105;p &#x41;"/>\n      <date', 1))
    frame, calls = _both(p, monkeypatch)
    assert calls == ["fallback"] and frame["concept:name"].iloc[2] == "Ship A"
    # an event before the first trace: lxml reads it too
    loose = tmp_path / "loose.xes"
    loose.write_text(TRICKY.replace("  <trace>", '  <event><string key="concept:name" value="loose"/></event>\n  <trace>', 1))
    frame, calls = _both(loose, monkeypatch)
    assert calls == ["fallback"] and len(frame) == 7 and frame["concept:name"].iloc[0] == "loose"


def test_not_xml_is_judged_by_lxml(tmp_path):
    for bad in ("&nbsp;", "&#0;", "&amp", "\x01", "<"):
        p = tmp_path / "bad.xes"
        p.write_text(TRICKY.replace("Pick &amp; pack", "Pick " + bad + " pack"))
        with pytest.raises(InputError, match="not well-formed"):
            lio.read_xes_frame(p)


def test_doctype_still_refused(tmp_path):
    p = tmp_path / "dtd.xes"
    p.write_text(TRICKY.replace("<log ", '<!DOCTYPE log [<!ENTITY x "y">]>\n<log ', 1))
    with pytest.raises(InputError, match="DOCTYPE"):
        lio.read_xes_frame(p)


def test_many_blocks_and_batches_match_lxml(tmp_path, monkeypatch):
    # Small blocks, reader batches and date batches: cuts fall at many trace ends and inside traces.
    monkeypatch.setattr(_xes_scan, "_BLOCK", 700)
    monkeypatch.setattr(_xes_scan, "_DATE_ROWS", 5)
    monkeypatch.setattr(lio, "_CHUNK", 3)
    body = TRICKY.split("  <trace>", 1)[1].rsplit("</log>", 1)[0]
    p = tmp_path / "many.xes"
    p.write_text(HEAD + "".join(("  <trace>" + body).replace("T1", f"T1-{i}").replace("T2", f"T2-{i}")
                                for i in range(25)) + "</log>\n")
    frame, calls = _both(p, monkeypatch)
    assert calls == ["fast"] and len(frame) == 150
    assert frame["case:concept:name"].nunique() == 50


def test_limits_give_the_lxml_errors(tmp_path):
    p = tmp_path / "t.xes"
    p.write_text(TRICKY)
    for name, match in (("max_attributes", "attributes, more than the limit"), ("max_columns", "columns, more than the limit")):
        token = lio._LIMITS.set({**lio._LIMITS.get(), name: 3})
        try:
            with pytest.raises(InputError, match=match):
                lio.read_xes_frame(p)
        finally:
            lio._LIMITS.reset(token)


def test_generated_log_columns_are_arrow_strings_and_numbers(tmp_path, monkeypatch):
    rng = np.random.default_rng(5)
    lines = [HEAD]
    for c in range(40):
        lines.append(f'<trace><string key="concept:name" value="c{c}"/>')
        for k in range(int(rng.integers(0, 6))):
            t = pd.Timestamp("2024-05-01T08:00:00+02:00") + pd.Timedelta(minutes=int(rng.integers(0, 10_000)))
            extra = f'<int key="n" value="{int(rng.integers(-5, 5))}"/>' if rng.random() < 0.5 else ""
            lines.append(f'<event><string key="concept:name" value="A{k % 3}"/>'
                         f'<date key="time:timestamp" value="{t.isoformat()}"/>{extra}</event>')
        lines.append("</trace>")
    lines.append("</log>")
    p = tmp_path / "gen.xes"
    p.write_text("\n".join(lines))
    frame, calls = _both(p, monkeypatch)
    assert calls == ["fast"]
    assert frame["concept:name"].dtype == "string[pyarrow]"
    assert frame["n"].dtype == float  # missing values: floats
    assert _read_log(p).tz == "Etc/GMT-2"


def test_one_thread_and_many_threads_give_the_same_frame(tmp_path, monkeypatch):
    monkeypatch.setattr(_xes_scan, "_BLOCK", 300)
    body = TRICKY.split("  <trace>", 1)[1].rsplit("</log>", 1)[0]
    p = tmp_path / "many.xes"
    p.write_text(HEAD + "".join(("  <trace>" + body).replace("T1", f"T1-{i}") for i in range(12)) + "</log>\n")
    monkeypatch.setattr(_xes_scan.os, "sched_getaffinity", lambda pid: {0, 1, 2, 3}, raising=False)
    many, _ = lio.read_xes_frame(p)
    monkeypatch.setattr(_xes_scan.os, "sched_getaffinity", lambda pid: {0}, raising=False)
    one, _ = lio.read_xes_frame(p)
    _same_frame(many, one)
    assert len(one) == 72


def test_an_unforeseen_scanner_error_is_noted_in_the_quality_report(tmp_path, monkeypatch):
    def broken(*a, **k):
        raise IndexError("a scanner bug")

    p = tmp_path / "t.xes"
    p.write_text(TRICKY, encoding="utf-8")
    clean = _read_log(p)
    monkeypatch.setattr(_xes_scan, "_scan_block", broken)
    frame, quality = lio.read_xes_frame(p)
    notes = [w for w in quality.warnings if "fast scanner" in w]
    assert len(notes) == 1 and "IndexError: a scanner bug" in notes[0] and "lxml" in notes[0]
    log = _read_log(p)  # the note reaches the EventLog's report; the log itself is lxml's, unchanged
    assert any("IndexError: a scanner bug" in w for w in log.quality.warnings)
    pd.testing.assert_frame_equal(log.df, clean.df)
    assert {k: v for k, v in log.quality.to_dict().items() if k != "warnings"} == \
        {k: v for k, v in clean.quality.to_dict().items() if k != "warnings"}


def test_an_expected_fallback_leaves_no_note(tmp_path, monkeypatch):
    # a shape the scanner does not read (single quotes) goes to lxml silently, by design
    p = tmp_path / "q.xes"
    p.write_text(TRICKY.replace('<int key="cost" value="3"/>', "<int key='cost' value='3'/>"))
    _, quality = lio.read_xes_frame(p)
    assert not any("fast scanner" in w for w in quality.warnings)
    assert not any("fast scanner" in w for w in _read_log(p).quality.warnings)
