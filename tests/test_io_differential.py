"""Regressions found by the differential fuzz of the reading rewrite (random CSV/XES logs read
by the session-start checkout and by this one, frames and quality reports compared): the
reader before the rewrite failed with an internal error on these shapes."""

from __future__ import annotations

import gzip

import pytest

import leanops
from leanops.errors import InputError

from conftest import assert_bad_input, run_leanops


def _dup_empty_csv(n: int = 2, late: int | None = None) -> str:
    """A log whose second ``activity`` column is empty (Arrow types an all-empty column as
    null, not text: the old read crashed building Arrow strings from it); with ``late``, it
    holds text from row ``late`` on, past the first parsed block."""
    rows = ["case,activity,time,activity"]
    for i in range(n):
        extra = "x" if late is not None and i >= late else ""
        rows.append(f"c{i // 3},a{i % 3},2024-01-01T{10 + i % 10:02d}:{i % 60:02d}:00,{extra}")
    return "\n".join(rows) + "\n"


@pytest.mark.parametrize("shape", ["plain", "gzip", "late"])
def test_a_column_named_twice_and_empty_is_a_clear_error(tmp_path, shape):
    text = _dup_empty_csv(3000, late=2500) if shape == "late" else _dup_empty_csv()
    p = tmp_path / ("dup.csv.gz" if shape == "gzip" else "dup.csv")
    p.write_bytes(gzip.compress(text.encode()) if shape == "gzip" else text.encode())
    with pytest.raises(InputError, match=r"has columns named more than once: 'activity'; rename them"):
        leanops.read(p)


def test_a_column_named_twice_and_empty_exits_2_from_the_cli(tmp_path):
    p = tmp_path / "dup.csv"
    p.write_text(_dup_empty_csv())
    assert_bad_input(run_leanops("info", p, "--json"), "named more than once: 'activity'")
