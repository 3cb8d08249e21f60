"""leanops.rca.rules and the rca charts."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest

import leanops
from leanops.errors import InputError

sys.path.insert(0, str(Path(__file__).parent))
from groundtruth import generate  # noqa: E402
from groundtruth_causes import planted_process  # noqa: E402


@pytest.fixture(scope="module")
def planted_log():
    return leanops.from_frame(generate(planted_process(15.0), n_cases=1200, seed=7).log)


def test_rules_are_readable_and_cover_every_case(planted_log):
    r = leanops.rca.rules(planted_log, max_depth=2)
    t = r.to_frame()
    assert 1 <= len(t) <= 4  # depth 2: at most 4 leaves
    assert t["n_cases"].sum() == planted_log.n_cases
    assert t["support"].sum() == pytest.approx(1.0)
    assert t["rule"].str.count(" AND ").max() <= 1
    # the leaves are worst first, and the effect is against all cases
    assert list(t["mean"]) == sorted(t["mean"], reverse=True)
    assert (t["effect"] == t["mean"] - r.baseline).all()
    # the first split is the planted amount threshold or the low-priority class
    assert t["rule"].str.contains("amount|priority").all()
    text = str(r)
    assert text.count("\nIF ") == len(t)


def test_rules_on_rework_use_the_channel(planted_log):
    r = leanops.rca.rules(planted_log, target="rework", max_depth=1)
    t = r.to_frame()
    assert len(t) == 2
    assert t["rule"].iloc[0] == "channel = phone"
    assert t["rule"].iloc[1] == "channel != phone"


def test_rules_bad_input(planted_log):
    with pytest.raises(InputError, match="max_depth"):
        leanops.rca.rules(planted_log, max_depth=0)
    one = planted_log.select_cases(planted_log.case_ids[:1])
    assert "nothing to explain" in leanops.rca.rules(one).reason


def test_charts_draw_and_escape(planted_log):
    rc = leanops.root_causes(planted_log, n_boot=30)
    for kind in ("pareto", "effects", "fishbone"):
        ax = rc.plot(kind)
        labels = [t.get_text() for t in ax.figure.findobj(lambda o: hasattr(o, "get_text"))]
        assert any("priority" in s for s in labels), kind
    svg = rc._repr_svg_()
    assert svg.lstrip().startswith("<?xml") and "</svg>" in svg
    html = rc._repr_html_()
    assert "<table>" in html
    wc = leanops.rca.waiting_causes(planted_log, calendar="24/7")
    ax = wc.plot()
    assert [t.get_text() for t in ax.get_legend().get_texts()] == list(leanops.rca.WAITING_CAUSES)
    assert "</svg>" in wc._repr_svg_() and "<table>" in wc._repr_html_()
    with pytest.raises(InputError, match="kind must be one of"):
        rc.plot("pie")


def test_untrusted_names_are_escaped_in_html():
    rows = []
    for i in range(80):
        t0 = pd.Timestamp("2024-01-01 08:00", tz="UTC") + pd.Timedelta(hours=i)
        bad = i % 2 == 0
        rows.append({"case_id": f"c{i}", "activity": "A", "start_time": t0,
                     "end_time": t0 + pd.Timedelta(minutes=90 if bad else 10),
                     "kind": "<script>alert(1)</script>" if bad else "$x$"})
    log = leanops.from_frame(pd.DataFrame(rows))
    rc = leanops.root_causes(log, n_boot=30)
    assert rc.causes and rc.causes[0].value == "<script>alert(1)</script>"
    html = rc._repr_html_()
    assert "<script>" not in html and "&lt;script&gt;" in html
    rc.plot("effects")  # '$' in names must not break mathtext
