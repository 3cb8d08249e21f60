"""Equal timestamps keep the file order, stably, in every reader and engine."""

from __future__ import annotations

import pandas as pd

import leanops

T = "2024-03-01T10:00:00"


def edges(result) -> dict[tuple[str, str], int]:
    e = result.edges
    return {(str(s), str(t)): int(n) for s, t, n in zip(e["source"], e["target"], e["count"])}


def tied_csv(path):
    # case 1: C, A, B all at 10:00 (file order C, A, B); case 2: B then A at 10:00, then C later
    rows = [("1", "C", T), ("1", "A", T), ("1", "B", T), ("2", "B", T), ("2", "A", T), ("2", "C", "2024-03-01T11:00:00")]
    pd.DataFrame(rows, columns=["case_id", "activity", "time"]).to_csv(path, index=False)
    return path


def test_completion_ties_keep_file_order_in_memory_and_duckdb(tmp_path):
    p = tied_csv(tmp_path / "ties.csv")
    log = leanops.read(p)
    assert log.df["activity"].astype(str).tolist() == ["C", "A", "B", "B", "A", "C"]
    expected = {("C", "A"): 1, ("A", "B"): 1, ("B", "A"): 1, ("A", "C"): 1}
    assert edges(leanops.discover(log)) == expected
    out = leanops.convert(log, tmp_path / "parts", partitions=2)
    assert leanops.read(out).df["activity"].astype(str).tolist() == ["C", "A", "B", "B", "A", "C"]
    assert edges(leanops.discover(leanops.scan(out))) == expected


def test_paired_instances_with_equal_times_keep_file_order(tmp_path):
    # three activities started and completed at the same instants, written X, Z, Y
    # (Y ran once before, so grouping by activity would put its second run first)
    events = [("k", "Y", "start", "2024-03-01T08:00:00"), ("k", "Y", "complete", "2024-03-01T08:10:00")]
    for a in ("X", "Z", "Y"):
        events.append(("k", a, "start", "2024-03-01T09:00:00"))
    for a in ("Y", "X", "Z"):  # completions in another order: the start events decide
        events.append(("k", a, "complete", "2024-03-01T09:30:00"))
    df = pd.DataFrame(events, columns=["case", "activity", "lifecycle", "time"])
    log = leanops.from_frame(df)
    assert len(log) == 4 and log.has_start_times
    assert log.df["activity"].astype(str).tolist() == ["Y", "X", "Z", "Y"]
