"""`leanops report`: outputs, formats, batches with failures, exit codes, hostile input."""

from __future__ import annotations

import html
import json
import os
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd

from conftest import DATASETS, assert_bad_input, run_leanops

SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'


def write_csv(path: Path, *, activity: str = "A", resource: str = "r1", cases: int = 3) -> Path:
    rows = []
    for c in range(cases):
        day = f"2024-01-0{c + 1}"
        rows += [
            (f"c{c}", activity, f"{day} 08:00", f"{day} 09:00", resource),
            (f"c{c}", "Check", f"{day} 10:00", f"{day} 11:00", "r2"),
        ]
    pd.DataFrame(rows, columns=["case_id", "activity", "start_time", "end_time", "resource"]).to_csv(path, index=False)
    return path


class Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.attrs, self.text = [], [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs += attrs

    def handle_data(self, data):
        self.text.append(data)


def parse(text: str) -> Tags:
    p = Tags()
    p.feed(text)
    return p


def test_demo_report_default(tmp_path):
    res = run_leanops("report", "-o", tmp_path / "out", "--verbose")
    assert res.returncode == 0, res.stderr
    out = tmp_path / "out" / "production.html"
    assert out.exists() and res.stdout.strip() == str(out)
    assert "section kpis" in res.stderr and "total" in res.stderr  # --verbose prints section times
    page = out.read_text()
    assert page.startswith("<!DOCTYPE html>") and 'id="kpis"' in page and 'id="quality"' in page
    assert not [p for p in tmp_path.iterdir() if p.name != "out"]


def test_formats_md_and_json(tmp_path):
    res = run_leanops("report", DATASETS / "production.xes.gz", "-o", tmp_path, "--format", "json")
    assert res.returncode == 0, res.stderr
    doc = json.loads((tmp_path / "production.json").read_text())
    assert doc["info"]["cases"] == 225 and doc["info"]["events"] == 4953
    assert {s["key"] for s in doc["sections"]} >= {"summary", "kpis", "quality", "appendix"}
    res = run_leanops("report", DATASETS / "production.xes.gz", "-o", tmp_path / "one.md")
    assert res.returncode == 0, res.stderr
    md = (tmp_path / "one.md").read_text()
    assert md.startswith("# Bottleneck report: production")
    figs = sorted((tmp_path / "one_files").iterdir())
    assert figs and all(f.suffix == ".svg" for f in figs)
    assert f"(one_files/{figs[0].name})" in md


def test_batch_reports_every_failure_by_name_and_finishes_the_others(tmp_path):
    good = write_csv(tmp_path / "good.csv")
    bad = tmp_path / "bad.csv"
    bad.write_text("nothing,useful\n1,2\n")
    missing = tmp_path / "missing.csv"
    out = tmp_path / "out"
    res = run_leanops("report", good, bad, missing, "-o", out)
    assert res.returncode == 2, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 2 and "Traceback" not in res.stderr
    assert str(bad) in lines[0] and str(missing) in lines[1]
    assert (out / "good.html").exists()
    assert not (out / "bad.html").exists() and not (out / "missing.html").exists()
    index = (out / "index.html").read_text()
    assert 'href="good.html"' in index and "failed" in index and html.escape(str(bad)) in index
    assert not [p.name for p in out.iterdir() if p.name.startswith(".")]  # no temp file left


def test_single_bad_log_follows_the_contract(tmp_path):
    res = run_leanops("report", tmp_path / "nope.csv", "-o", tmp_path / "out")
    assert_bad_input(res, "nope.csv")
    assert not list((tmp_path / "out").iterdir())
    res = run_leanops("report", "-o", tmp_path / "o2", "--since", "not a date")
    assert_bad_input(res, "since")
    res = run_leanops("report", "-o", tmp_path / "o3", "--format", "pdf")
    assert_bad_input(res, "format")
    cfg = tmp_path / "report.yaml"
    cfg.write_text("sectons: [kpis]\n")
    res = run_leanops("report", "-o", tmp_path / "o4", "--config", cfg)
    assert_bad_input(res, "sectons", "sections")


def test_glob_and_duplicate_names(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    write_csv(tmp_path / "a" / "log.csv")
    write_csv(tmp_path / "b" / "log.csv")
    res = run_leanops("report", str(tmp_path / "*" / "log.csv"), "-o", tmp_path / "out")
    assert res.returncode == 0, res.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["index.html", "log-2.html", "log.html"]


def test_since_until_and_config(tmp_path):
    log = write_csv(tmp_path / "l.csv", cases=3)
    cfg = tmp_path / "report.yaml"
    cfg.write_text("title: Weekly <b>report</b>\nsections: [kpis, quality]\n")
    res = run_leanops("report", log, "-o", tmp_path / "r.json", "--since", "2024-01-02", "--config", cfg)
    assert res.returncode == 0, res.stderr
    doc = json.loads((tmp_path / "r.json").read_text())
    assert [s["key"] for s in doc["sections"]] == ["kpis", "quality"]
    assert doc["title"] == "Weekly <b>report</b>"
    kpis = doc["sections"][0]["data"]
    assert kpis["cases"] == 2 and doc["period"]["cases_before"] == 3
    res = run_leanops("report", log, "-o", tmp_path / "r.html", "--config", cfg)
    page = (tmp_path / "r.html").read_text()
    assert "<b>report</b>" not in page and "Weekly &lt;b&gt;report&lt;/b&gt;" in page


def test_hostile_names_render_as_text(tmp_path):
    log = write_csv(tmp_path / "evil.csv", activity=SCRIPT, resource=IMG)
    for fmt in ("html", "md"):
        res = run_leanops("report", log, "-o", tmp_path / f"evil.{fmt}")
        assert res.returncode == 0, res.stderr
        text = (tmp_path / f"evil.{fmt}").read_text()
        assert "<script" not in text.lower() and "<img" not in text.lower()
        assert html.escape(SCRIPT, quote=False) in text
    p = parse((tmp_path / "evil.html").read_text())
    assert "script" not in p.tags and "img" not in p.tags
    assert not [k for k, _ in p.attrs if k.startswith("on")]
    assert SCRIPT in "".join(p.text)  # shown to the reader as text


def test_log_named_dotdot_never_writes_outside_out(tmp_path):
    work = tmp_path / "a" / "b"
    work.mkdir(parents=True)
    write_csv(tmp_path / "x")
    before = sorted(str(p) for p in tmp_path.rglob("*"))
    res = run_leanops("report", "../../x", "-o", "out", cwd=work)
    assert res.returncode == 0, res.stderr
    after = sorted(str(p) for p in tmp_path.rglob("*"))
    new = sorted(set(after) - set(before))
    assert new == [str(work / "out"), str(work / "out" / "x.html")]
    assert os.stat(work / "out" / "x.html").st_mode & 0o044  # readable by others, as a shared report


def test_progress_bars_go_to_stderr_when_asked(tmp_path, capsys):
    import leanops
    from leanops.report import run_batch

    a, b = write_csv(tmp_path / "a.csv"), write_csv(tmp_path / "b.csv")
    lines = []
    res = run_batch([str(a), str(b)], tmp_path / "out", read=leanops.read, progress=True, verbose=lines.append)
    assert res.exit_code == 0 and len(res.outputs) == 2
    err = capsys.readouterr().err
    assert "logs:" in err and "/2 " in err and "section" in err  # the tqdm bars: over logs, over sections
    assert any(line.endswith(" s") and "section kpis" in line for line in lines)
    run_batch([str(a)], tmp_path / "out2", read=leanops.read, progress=False)
    assert capsys.readouterr().err == ""


def test_json_to_stdout_for_pipelines(tmp_path):
    log = write_csv(tmp_path / "l.csv")
    res = run_leanops("report", log, "--format", "json", "-o", "-", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["info"]["cases"] == 3 and doc["valuestream"]["lead_time_mean_s"] == 3 * 3600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["l.csv"]
    res = run_leanops("report", log, log, "-o", "-", cwd=tmp_path)
    assert_bad_input(res, "standard output")
