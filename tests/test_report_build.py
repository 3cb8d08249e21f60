"""The report framework: sections on a hand-built log, formatting, writers, config."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest

import leanops
from leanops.errors import InputError
from leanops.report import ReportConfig, build_report, filter_period, safe_name
from leanops.report import format as fmt
from leanops.report.charts import sanitize_svg
from leanops.report.render import md_escape


def tiny_log() -> leanops.EventLog:
    """Three cases; lead times 4 h, 6 h and 2 h; the log spans 50 h."""
    rows = [
        ("c1", "A", "2024-01-01 08:00", "2024-01-01 09:00", "ann"),
        ("c1", "B", "2024-01-01 10:00", "2024-01-01 12:00", "bob"),
        ("c2", "A", "2024-01-02 08:00", "2024-01-02 08:30", "ann"),
        ("c2", "B", "2024-01-02 13:00", "2024-01-02 14:00", None),
        ("c3", "A", "2024-01-03 08:00", "2024-01-03 10:00", "ann"),
    ]
    df = pd.DataFrame(rows, columns=["case", "activity", "start", "end", "resource"])
    return leanops.from_frame(df, case="case", activity="activity", start="start", end="end", resource="resource")


def test_kpis_worked_out_by_hand():
    rep = build_report(tiny_log())
    k = rep.section("kpis").data
    assert k["cases"] == 3 and k["events"] == 5
    assert k["lead_time_mean_s"] == pytest.approx(4 * 3600)
    assert k["lead_time_median_s"] == pytest.approx(4 * 3600)
    # numpy's default (linear) quantile of [2, 4, 6] h at 0.9: 4 + 0.8 * 2 = 5.6 h
    assert k["lead_time_p90_s"] == pytest.approx(5.6 * 3600)
    assert k["span_s"] == pytest.approx(50 * 3600)
    assert k["throughput_per_day"] == pytest.approx(3 / (50 / 24))
    assert k["wip_mean"] == pytest.approx(12 / 50)
    cards = {c.label: c.value for c in rep.section("kpis").cards}
    assert cards["Lead time (mean)"] == "4.0 h"
    assert cards["Lead time (90th percentile)"] == "5.6 h"
    assert cards["Throughput"] == "1.4 cases/day"


def test_quality_section_counts_missing_values():
    sec = build_report(tiny_log()).section("quality")
    assert sec.data["missing"] == {"start": 0, "resource": 1}
    acts = next(t for t in sec.tables if t.key == "activities").frame
    assert list(acts["activity"]) == ["A", "B"]
    assert list(acts["instances"]) == [3, 2]
    assert list(acts["cases"]) == [3, 2]
    assert list(acts["without_resource"]) == [0.0, 0.5]
    assert any("1 activity instances (20.0 %) have no resource" in t for t in sec.summary)


def test_summary_takes_findings_and_sections_are_ordered():
    rep = build_report(tiny_log())
    keys = [s.key for s in rep.sections]
    assert keys[0] == "summary" and keys[-1] == "appendix"
    assert 1 <= len(rep.section("summary").summary) <= 3
    summary = " ".join(rep.section("summary").summary)
    # waits: c1 1 h before B, c2 4.5 h before B; lead times 4 + 6 + 2 = 12 h -> 5.5 / 12 = 45.8 %
    assert "**45.8 % of it is waiting**" in summary and "A case takes **4.0 h**" in summary
    # nobody is busy while B waits: no capacity bottleneck is claimed, the wait is located
    assert "no step constrains the flow" in summary and "before **B** (100.0 % of all waiting, 2.8 h per instance)" in summary
    notes = rep.section("appendix").tables[0].frame
    assert "Lead time" in " ".join(notes["method"])


def test_period_filter_keeps_cases_that_start_in_window_and_says_so():
    log = tiny_log()
    sub, period = filter_period(log, since="2024-01-02", until="2024-01-03")
    assert list(sub.case_ids) == ["c2"]
    assert period["cases_before"] == 3 and period["cases_after"] == 1
    rep = build_report(log, since="2024-01-02")
    assert rep.section("kpis").data["cases"] == 2
    assert any("2 of 3 cases" in t for t in rep.section("quality").summary)
    with pytest.raises(InputError, match="no case starts"):
        filter_period(log, since="2025-01-01")
    with pytest.raises(InputError, match="until"):
        filter_period(log, since="2024-01-03", until="2024-01-02")
    with pytest.raises(InputError, match="ISO date"):
        filter_period(log, since="next tuesday")


def test_config_selects_sections_and_rejects_unknown_names():
    rep = build_report(tiny_log(), config=ReportConfig(sections=("kpis", "quality")))
    assert [s.key for s in rep.sections] == ["kpis", "quality"]
    rep = build_report(tiny_log(), config=ReportConfig(exclude=("appendix",)))
    assert "appendix" not in [s.key for s in rep.sections]
    with pytest.raises(InputError, match="Did you mean 'quality'"):
        build_report(tiny_log(), config=ReportConfig(sections=("qualty",)))
    with pytest.raises(InputError, match="unknown option 'max_row'.*'max_rows'"):
        ReportConfig.from_dict({"max_row": 3})
    assert ReportConfig.from_dict({"sections": "kpis, quality", "max_rows": 4}).sections == ("kpis", "quality")


def test_formatting_has_units():
    assert fmt.duration(42) == "42 s"
    assert fmt.duration(90) == "1.5 min"
    assert fmt.duration(2 * 3600) == "2.0 h"
    assert fmt.duration(3 * 86400) == "3.0 d"
    assert fmt.duration(None) == "–"
    assert fmt.percent(0.253) == "25.3 %"
    assert fmt.count(1234567, "cases") == "1,234,567 cases"
    assert fmt.per_day(2.94) == "2.9 cases/day"


def test_long_tables_are_truncated_with_the_count_left_out():
    rep = build_report(tiny_log(), config=ReportConfig(max_rows=1))
    html = rep.to_html()
    # activities table has 2 rows, one shown
    assert "1 more rows not shown (2 in all" in html
    md = rep.to_markdown()
    assert "1 more rows not shown \\(2 in all" in md or "1 more rows not shown (2 in all" in md
    doc = rep.to_json()
    quality = next(s for s in doc["sections"] if s["key"] == "quality")
    assert len(quality["tables"]["activities"]) == 2  # JSON has every row


def test_json_reuses_the_info_shape_and_is_plain_json():
    doc = build_report(tiny_log()).to_json()
    text = json.dumps(doc, allow_nan=False)
    back = json.loads(text)
    for key in ("cases", "events", "activities", "resources", "start", "end", "has_start_times", "quality"):
        assert key in back["info"]
    assert back["info"]["cases"] == 3
    assert set(back["timings_s"]) == {s["key"] for s in back["sections"]}


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[str] = []
        self.attrs: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs += [k for k, _ in attrs]

    def handle_data(self, data):
        self.text.append(data)


def test_html_is_self_contained():
    html = build_report(leanops.datasets.load("production")).to_html()
    assert "http://" not in html and "https://" not in html
    p = _Tags()
    p.feed(html)
    assert "script" not in p.tags and "link" not in p.tags and "img" not in p.tags
    assert not [a for a in p.attrs if a.startswith("on")]
    assert p.tags.count("svg") >= 2
    assert "src" not in p.attrs


def test_sanitize_svg_strips_active_content():
    evil = (
        '<?xml version="1.0"?><!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd">'
        '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" onload="alert(1)">'
        '<!-- c --><script>alert(2)</script><a xlink:href="javascript:alert(3)"><text>ok</text></a>'
        '<use xlink:href="#n1"/><rect fill="url(http://evil/x)" style="x"/><foreignObject><p>x</p></foreignObject></svg>'
    )
    out = sanitize_svg(evil)
    assert "script" not in out and "alert" not in out and "http" not in out
    assert "foreignObject" not in out and "<!--" not in out and "DOCTYPE" not in out
    assert 'href="#n1"' in out and "<text>ok</text>" in out


def test_markdown_escapes_html_and_markdown():
    assert md_escape("<script>alert(1)</script>") == "&lt;script&gt;alert(1)&lt;/script&gt;"
    assert md_escape("a|b*c_d") == "a\\|b\\*c\\_d"
    assert md_escape("# head") == "\\# head"


def test_safe_name_never_leaves_the_folder():
    assert safe_name("../../x") == "x"
    assert safe_name("/etc/passwd") == "passwd"
    assert safe_name("..") == "log"
    assert safe_name(".hidden.csv") == "hidden"
    assert safe_name('a"><img src=x>.csv.gz') == "a_img_src_x"
    assert re.fullmatch(r"[A-Za-z0-9._-]+", safe_name("Überprüfung 2024/..\\x"))


def test_report_on_a_log_without_start_times():
    df = pd.DataFrame({
        "case": ["1", "1", "2"], "activity": ["A", "B", "A"],
        "time": pd.to_datetime(["2024-01-01 08:00", "2024-01-01 09:30", "2024-01-02 08:00"]),
    })
    log = leanops.from_frame(df, case="case", activity="activity", end="time")
    rep = build_report(log)
    assert rep.section("kpis").data["lead_time_mean_s"] == pytest.approx(np.mean([5400, 0]))
    assert any("completion times only" in t for t in rep.section("quality").summary)
    # waiting causes need real start times: the section says so instead of guessing
    assert {s.key: s.error[:27] for s in rep.sections if s.error} == {"waiting": "waiting_causes needs start "}
    assert not rep.failed


def test_process_map_section_worked_out_by_hand():
    sec = build_report(tiny_log()).section("map")
    assert sec.error is None
    for key in ("nodes", "edges", "start_activities", "end_activities"):
        assert key in sec.data  # the `leanops discover --json` shape
    paths = next(t for t in sec.tables if t.key == "paths").frame
    ab = paths[(paths["source"] == "A") & (paths["target"] == "B")].iloc[0]
    # c1: B starts 10:00 after A ends 09:00 (1 h); c2: 13:00 after 08:30 (4.5 h)
    assert ab["count"] == 2
    assert ab["wait_mean_s"] == pytest.approx(2.75 * 3600)
    svg = sec.figures[0].svg
    assert svg.startswith("<svg") and "http" not in svg and "<script" not in svg


def test_appendix_lists_variants():
    app = build_report(tiny_log()).section("appendix")
    v = next(t for t in app.tables if t.key == "variants").frame
    assert list(v["cases"]) == [2, 1]
    assert v["activities"].iloc[0] == "A → B"


def test_value_added_from_config_changes_pce_and_is_checked():
    # processing: c1 A 1 h + B 2 h, c2 A 0.5 h + B 1 h, c3 A 2 h; lead times 12 h in all
    rep = build_report(tiny_log(), config=ReportConfig(value_added=("B",)))
    assert rep.section("kpis").data["pce"] == pytest.approx(3 / 12)
    rep = build_report(tiny_log())
    assert rep.section("kpis").data["pce"] == pytest.approx(6.5 / 12)
    with pytest.raises(InputError, match="value_added.*'C'"):
        build_report(tiny_log(), config=ReportConfig(value_added=("C",)))


def test_chart_axes_are_round_in_the_unit_shown():
    from leanops.report.charts import _ticks

    assert _ticks(58) == (60.0, 20.0)
    assert _ticks(4.5 * 86400, duration=True) == (6 * 86400, 2 * 86400)  # 0, 2 d, 4 d, 6 d
    assert _ticks(38 * 3600, duration=True) == (40 * 3600, 10 * 3600)  # hours below 48 h, as labelled
    assert _ticks(0) == (1.0, 0.25)
