"""Shared test helpers: running the CLI in a subprocess, and the bundled data."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATASETS = ROOT / "datasets"


def cli_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.pop("LEANOPS_DEBUG", None)
    return env


def run_leanops(*args: str, cwd: str | os.PathLike[str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run ``python -m leanops ARGS`` and capture its output."""
    return subprocess.run(
        [sys.executable, "-m", "leanops", *map(str, args)],
        capture_output=True, text=True, env=cli_env(), cwd=cwd, timeout=timeout,
    )


@pytest.fixture
def leanops_cli():
    return run_leanops


def assert_bad_input(res: subprocess.CompletedProcess[str], *fragments: str) -> None:
    """The DESIGN.md contract: exit 2, one line on stderr naming the problem, no traceback."""
    assert res.returncode == 2, (res.returncode, res.stdout[-500:], res.stderr[-2000:])
    err = res.stderr.strip()
    assert err.count("\n") == 0, err
    assert "Traceback" not in res.stderr
    assert res.stdout == ""
    for frag in fragments:
        assert frag.lower() in err.lower(), (frag, err)
