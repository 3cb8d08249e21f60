"""The example notebooks run from top to bottom on this checkout, and show results.

Executed with nbclient on a kernel of the running interpreter (a kernel spec in a temporary
folder; nothing is registered globally), in a temporary working directory.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
pytest.importorskip("nbclient")

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"

_spec = importlib.util.spec_from_file_location("build_notebooks", NOTEBOOKS / "build_notebooks.py")
build_notebooks = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(build_notebooks)


def outputs(nb, kind: str) -> list:
    return [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if kind in getattr(o, "data", {})]


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(p.name for p in NOTEBOOKS.glob("*.ipynb")))
def test_notebook_executes_and_shows_results(name, tmp_path):
    saved = nbformat.read(NOTEBOOKS / name, as_version=4)
    # the committed notebook has its outputs (plots included), as a reader sees it
    assert outputs(saved, "image/png") or outputs(saved, "image/svg+xml")
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    for c in nb.cells:
        if c.cell_type == "code":
            c.outputs = []
    build_notebooks.execute(nb, cwd=tmp_path, timeout=600)
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors, errors[0]["evalue"] if errors else ""
    assert outputs(nb, "image/png"), "no matplotlib figure was shown"
    assert outputs(nb, "text/html"), "no rich (_repr_html_) result was shown"
    assert all(c.outputs for c in nb.cells if c.cell_type == "code"), "a code cell shows nothing"


def test_notebooks_are_the_built_ones():
    """Each notebook's code is the code of build_notebooks.py (edit the builder, then rebuild)."""
    for name, cells in build_notebooks.NOTEBOOKS.items():
        nb = nbformat.read(NOTEBOOKS / name, as_version=4)
        assert [c.source for c in nb.cells] == [c.source for c in cells], name
