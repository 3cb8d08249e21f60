"""The report's "SOP compliance" (--sop) and "Before / after" (--change-at) sections."""

from __future__ import annotations

from pathlib import Path

import pytest

import leanops
from leanops.cli import main
from leanops.report import ReportConfig

ROOT = Path(__file__).resolve().parents[1]
SOP = ROOT / "examples" / "sop_purchasing.yaml"


@pytest.fixture(scope="module")
def log():
    return leanops.datasets.load("purchasing_example")


def test_sections_only_when_asked(log):
    rep = leanops.build_report(log, config=ReportConfig(sections=("kpis", "sop", "beforeafter")))
    assert [s.key for s in rep.sections] == ["kpis"]


def test_sop_and_before_after_sections(log):
    cfg = ReportConfig(sections=("sop", "beforeafter"), sop=str(SOP), change_at="2011-06-01")
    rep = leanops.build_report(log, config=cfg)
    sop, ba = rep.section("sop"), rep.section("beforeafter")
    assert sop.error is None and ba.error is None
    direct = leanops.check(log, SOP, seed=0)
    assert sop.data["overall_compliance"] == direct.overall_compliance
    assert [r["rule"] for r in sop.data["rules"]] == [r.rule for r in direct.rules]
    assert ba.data["kpis"]["cycle_time_mean_s"]["before"] == pytest.approx(
        leanops.compare(log, change_at="2011-06-01", n_boot=10).kpis["cycle_time_mean_s"]["before"])
    html = rep.to_html()
    assert "SOP compliance" in html and "Before / after" in html
    md = rep.to_markdown()
    assert "Compliance per rule" in md


def test_report_cli_bad_sop_exits_2(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules:\n  - sometimes: [A]\n")
    with pytest.raises(SystemExit) as exc:
        main(["report", "--sop", str(bad), "-o", str(tmp_path / "r.html")])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown rule kind 'sometimes'" in err
    assert not (tmp_path / "r.html").exists()
