"""The HTML report in a real browser (Debian's headless chromium): it renders, its
sections and charts are in the DOM, the console stays silent, and hostile names stay text.

Skipped, with the reason, where no Chromium is installed (`.ci/run` installs it).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

import leanops
from leanops.report import build_report, write_report

CHROMIUM = next((p for p in (shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")) if p), None)
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium on this machine (apt-get install chromium)")

SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'


def dump_dom(page: Path, profile: Path) -> tuple[str, list[str]]:
    """The DOM after load, and the console messages chromium logged."""
    res = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={profile}",
         "--enable-logging=stderr", "--v=0", "--dump-dom", page.resolve().as_uri()],
        capture_output=True, text=True, timeout=120,
    )
    assert res.returncode == 0, res.stderr[-2000:]
    return res.stdout, [line for line in res.stderr.splitlines() if ":CONSOLE" in line]


def test_console_capture_works(tmp_path):
    """Control: a page that logs an error is seen, so a silent console means something."""
    page = tmp_path / "control.html"
    page.write_text('<html><body><script>console.error("leanops-control")</script></body></html>')
    _, console = dump_dom(page, tmp_path / "profile")
    assert any("leanops-control" in line for line in console)


def test_report_renders_with_sections_and_charts(tmp_path):
    rep = build_report(leanops.datasets.load("production"))
    page = write_report(rep, tmp_path / "production.html")
    dom, console = dump_dom(page, tmp_path / "profile")
    assert console == []
    assert "<h1>Bottleneck report: production</h1>" in dom
    for sec in rep.sections:
        assert f'id="{sec.key}"' in dom
    n_figures = sum(len(s.figures) for s in rep.sections)
    assert n_figures >= 2
    assert len(re.findall(r"<svg\b", dom)) == n_figures
    assert len(re.findall(r"<figure\b", dom)) == n_figures


def test_hostile_names_stay_text_in_the_browser(tmp_path):
    rows = [(f"c{i}", a, f"2024-01-0{i + 1} {h}:00", f"2024-01-0{i + 1} {h}:30", r)
            for i in range(3) for a, h, r in ((SCRIPT, "08", IMG), ("Check", "10", "r2"))]
    df = pd.DataFrame(rows, columns=["case", "activity", "start", "end", "resource"])
    log = leanops.from_frame(df, case="case", activity="activity", start="start", end="end", resource="resource",
                             source=f"{SCRIPT}.csv")
    page = write_report(build_report(log), tmp_path / "evil.html")
    dom, console = dump_dom(page, tmp_path / "profile")
    assert console == []
    assert "<img" not in dom.lower()
    assert "<script" not in dom.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in dom  # shown as text
