"""The `leanops discover` command: JSON contract, map output, bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import leanops

ROOT = Path(__file__).resolve().parents[1]


def run(*args, cwd=None):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "leanops", *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=300)


def test_discover_json_contract_and_svg(tmp_path):
    out = tmp_path / "map.svg"
    p = run("discover", str(leanops.datasets.path("purchasing_example")), "-o", str(out), "--json")
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    for k in ("nodes", "edges", "start_activities", "end_activities"):
        assert k in doc
    assert {"activity", "count", "cases", "service_mean_s"} <= set(doc["nodes"][0])
    assert {"source", "target", "count", "wait_mean_s", "wait_median_s", "wait_p90_s"} <= set(doc["edges"][0])
    log = leanops.datasets.load("purchasing_example")
    assert sum(n["count"] for n in doc["nodes"]) == len(log)
    assert sum(doc["start_activities"].values()) == log.n_cases == sum(doc["end_activities"].values())
    assert sum(e["count"] for e in doc["edges"]) == len(log) - log.n_cases
    assert out.read_text().lstrip().startswith("<?xml") and "<svg" in out.read_text()


def test_discover_demo_log_text_and_png(tmp_path):
    out = tmp_path / "map.png"
    p = run("discover", "-o", str(out), "--overlay", "performance", "--paths", "0.8")
    assert p.returncode == 0, p.stderr
    assert "225 cases" in p.stdout and "map written" in p.stdout
    assert out.read_bytes()[:4] == b"\x89PNG"


def test_discover_sliders(tmp_path):
    p = run("discover", str(leanops.datasets.path("sepsis")), "--activities", "0.8", "--paths", "0.5", "--json")
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    assert doc["activities_share"] == 0.8 and doc["paths_share"] == 0.5 and doc["notes"]
    assert len(doc["nodes"]) < 16


def test_discover_csv_with_mapping(tmp_path):
    src = tmp_path / "log.csv"
    pd.DataFrame(
        {"Ticket": ["1", "1", "2"], "Step": ["Open", "Close", "Open"], "Done": ["2024-01-01 10:00", "2024-01-01 12:00", "2024-01-02 09:00"]}
    ).to_csv(src, index=False)
    p = run("discover", str(src), "--case", "Ticket", "--activity", "Step", "--end", "Done", "--json")
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    assert doc["edges"] == [
        {"source": "Open", "target": "Close", "count": 1, "cases": 1, "wait_mean_s": 7200.0, "wait_median_s": 7200.0, "wait_p90_s": 7200.0, "wait_basis": "end"}
    ]
    assert doc["end_activities"] == {"Close": 1, "Open": 1}


@pytest.mark.parametrize(
    "args,needle",
    [
        (["--activities", "1.5"], "activities"),
        (["-o", "map.jpg"], "map.jpg"),
        (["-o", "missing/map.svg"], "missing"),
        (["--overlay", "heat"], "overlay"),
        (["no-such-file.csv"], "no-such-file"),
    ],
)
def test_discover_bad_input_exits_2_without_partial_output(tmp_path, args, needle):
    p = run("discover", *args, cwd=tmp_path)
    assert p.returncode == 2
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0] and "Traceback" not in p.stderr
    assert list(tmp_path.iterdir()) == []
