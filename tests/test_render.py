"""Rendering process maps: escaping, the graphviz-pure fallback, every bundled log, big logs."""

from __future__ import annotations

import stat
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from lxml import etree

import leanops
from leanops.errors import InputError
from leanops.mining import discover
from leanops.mining.render import escape_label, find_dot, format_duration

T0 = pd.Timestamp("2024-03-01 08:00", tz="UTC")
SVG_NS = {"s": "http://www.w3.org/2000/svg"}


def svg_nodes(path_or_text) -> list:
    text = Path(path_or_text).read_bytes() if isinstance(path_or_text, Path) else path_or_text.encode()
    root = etree.fromstring(text)  # also proves the SVG is well-formed XML
    return root.xpath("//s:g[@class='node']", namespaces=SVG_NS)


def svg_text(path: Path) -> str:
    root = etree.fromstring(path.read_bytes())
    return " ".join(t for t in root.xpath("//s:text/text()", namespaces=SVG_NS))


NASTY = ['Say "hi" <b>bold</b> & co', "two\nlines", "back\\slash \\N \\G", "</text><script>alert(1)</script>", "ok"]


def nasty_log():
    rows = []
    for c in range(3):
        for i, a in enumerate(NASTY):
            rows.append((f"c{c}", a, T0 + pd.Timedelta(minutes=10 * i), T0 + pd.Timedelta(minutes=10 * i + 5)))
    df = pd.DataFrame(rows, columns=["case_id", "activity", "start", "end"])
    return leanops.EventLog(df)


def test_labels_are_escaped_in_dot_and_svg(tmp_path):
    g = discover(nasty_log())
    dot = g.to_dot()
    assert "<script>" not in dot and "<b>bold" not in dot
    assert "&lt;script&gt;" in dot and "&quot;hi&quot;" in dot
    out = g.render(tmp_path / "m.svg")
    raw = out.read_text()
    assert "<script" not in raw  # no markup injected into the SVG
    assert len(svg_nodes(out)) == len(NASTY) + 2
    text = svg_text(out)
    assert 'Say "hi" <b>bold</b> & co' in text  # shown literally
    assert "two" in text and "lines" in text
    assert "back\\slash \\N \\G" in text  # backslash escapes are not interpreted by dot


def test_escape_label_unit():
    assert escape_label('a<b>&"c"\n\x07d') == "a&lt;b&gt;&amp;&quot;c&quot;<br/>d"
    assert escape_label("x" * 100, max_len=10).endswith("…")


def test_format_duration():
    assert format_duration(30) == "30 s"
    assert format_duration(90) == "1.5 min"
    assert format_duration(7200) == "2.0 h"
    assert format_duration(3 * 86400) == "3.0 d"
    assert format_duration(float("nan")) == "—"


@pytest.mark.parametrize("name", [d["name"] for d in leanops.datasets.list()])
def test_render_every_bundled_log(name, tmp_path):
    g = discover(leanops.datasets.load(name))
    out = g.render(tmp_path / f"{name}.svg", overlay="performance" if name == "production" else "frequency")
    assert out.exists()
    drawn = g.display()
    assert len(svg_nodes(out)) == len(drawn.nodes) + 2  # activities plus ● and ■
    assert len(drawn.nodes) == len(g.nodes)  # all bundled logs are small enough to draw whole


def test_png_output(tmp_path):
    g = discover(leanops.datasets.load("purchasing_example"))
    out = g.render(tmp_path / "m.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_performance_overlay_labels_waits():
    g = discover(leanops.datasets.load("purchasing_example"))
    dot = g.to_dot(overlay="performance")
    top = g.edges.iloc[0]
    assert format_duration(top["wait_mean_s"]) in dot
    freq = g.to_dot(overlay="frequency")
    assert f"{int(top['count']):,}" in freq


def test_bad_format_and_overlay(tmp_path):
    g = discover(leanops.datasets.load("purchasing_example"))
    with pytest.raises(InputError, match="format"):
        g.render(tmp_path / "m.jpg")
    with pytest.raises(InputError, match="overlay"):
        g.render(tmp_path / "m.svg", overlay="heat")
    with pytest.raises(InputError, match="does not exist"):
        g.render(tmp_path / "nope" / "m.svg")
    assert not list(tmp_path.iterdir())


def test_find_dot_prefers_system_dot(tmp_path, monkeypatch):
    fake = tmp_path / "dot"
    fake.write_text("#!/bin/sh\nexit 0\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.delenv("LEANOPS_DOT", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert find_dot() == str(fake)


def test_find_dot_falls_back_to_graphviz_pure(tmp_path, monkeypatch):
    beside = Path(sys.executable).parent / "graphviz-pure"
    if not beside.exists():
        pytest.skip("graphviz-pure is not installed next to this interpreter")
    monkeypatch.delenv("LEANOPS_DOT", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))  # no dot anywhere
    assert find_dot() == str(beside)
    g = discover(leanops.datasets.load("helpdesk"))
    assert "<svg" in g.to_svg()


def big_log(n_acts=400, n_cases=1500, seed=7):
    rng = np.random.default_rng(seed)
    weights = 1.0 / np.arange(1, n_acts + 1)
    weights /= weights.sum()
    rows = []
    for c in range(n_cases):
        k = rng.integers(3, 9)
        acts = rng.choice(n_acts, size=k, p=weights)
        acts[rng.integers(0, k)] = c % n_acts  # every activity occurs
        t = 0
        for a in acts:
            rows.append((f"c{c}", f"Activity {a:03d}", T0 + pd.Timedelta(minutes=t), T0 + pd.Timedelta(minutes=t + 5)))
            t += 5 + int(rng.integers(0, 60))
    return leanops.EventLog(pd.DataFrame(rows, columns=["case_id", "activity", "start", "end"]))


def test_400_activities_render_is_simplified_with_a_note(tmp_path):
    log = big_log()
    g = discover(log)
    assert len(g.nodes) == 400
    out = g.render(tmp_path / "big.svg")
    n_drawn = len(svg_nodes(out)) - 2
    assert 0 < n_drawn <= 60
    text = svg_text(out)
    assert "simplified for display" in text and "of 400 activities" in text
    drawn = g.display()
    assert any("simplified" in n for n in drawn.notes)
    assert len(drawn.edges) <= 3 * 60
    import networkx as nx

    G = drawn.to_networkx()
    assert all(nx.has_path(G, "●", a) and nx.has_path(G, a, "■") for a in drawn.nodes["activity"])


def test_repr_svg_for_notebooks():
    g = discover(leanops.datasets.load("purchasing_example"))
    svg = g._repr_svg_()
    assert svg is not None and len(svg_nodes(svg)) == len(g.nodes) + 2
    assert "<svg" in g._repr_html_()


@pytest.mark.parametrize(
    "rows,n_nodes",
    [
        ([("1", "A"), ("1", "A"), ("2", "A")], 1),  # one activity
        ([("1", "A"), ("1", "B"), ("1", "C")], 3),  # one case
        ([("1", "A"), ("2", "B"), ("3", "A")], 2),  # a single event per case
    ],
)
def test_degenerate_logs_render(rows, n_nodes, tmp_path):
    df = pd.DataFrame(
        {
            "case_id": [r[0] for r in rows],
            "activity": [r[1] for r in rows],
            "end": [T0 + pd.Timedelta(minutes=i) for i in range(len(rows))],
        }
    )
    out = discover(leanops.EventLog(df)).render(tmp_path / "m.svg", overlay="performance")
    assert len(svg_nodes(out)) == n_nodes + 2


def test_plot_draws_into_matplotlib_axes():
    import matplotlib

    matplotlib.use("Agg")
    ax = discover(leanops.datasets.load("helpdesk")).plot()
    assert ax.get_images() and ax.get_images()[0].get_array().shape[0] > 100
