"""Reading in bounded memory: the lean normalisation steps give pandas' own answers.

Normalising folds duplicates into row hashes, pairs lifecycles on codes and takes the
reader's own frame apart column by column. These tests hold each step to an independent
reference (pandas' ``DataFrame.duplicated`` and ``take``) and check that a user's frame is
never changed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

import leanops
from leanops._canonical import take_columns
from leanops import _normalize
from leanops._normalize import _duplicated_rows


def _messy_frame(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    t = pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(rng.integers(0, 4, n), unit="h")
    t = pd.Series(t).where(rng.random(n) > 0.1)  # some NaT
    f = pd.Series(rng.integers(0, 3, n).astype(float)).where(rng.random(n) > 0.2)
    obj = pd.Series(rng.choice(np.array(["x", "y", None, 1], dtype=object), n), dtype=object)
    return pd.DataFrame({
        "case_id": pd.array(rng.choice(["a", "b", None], n), dtype="string[pyarrow]"),
        "activity": pd.Categorical(rng.choice(["P", "Q"], n)),
        "end": t,
        "cost": rng.integers(0, 2, n),
        "f": f,
        "o": obj,
        "n": pd.array(rng.integers(0, 2, n), dtype="Int64"),
        "b": rng.random(n) > 0.5,
    })


def test_duplicates_by_row_hash_match_pandas_duplicated():
    for seed in range(5):
        df = _messy_frame(400, seed)
        got = _duplicated_rows(df)
        want = df.duplicated(keep="first").to_numpy()
        assert want.any() and not want.all()
        np.testing.assert_array_equal(got, want)


def test_duplicates_with_a_forced_hash_collision_stay_exact(monkeypatch):
    # rows that only collide in the hash are told apart by pandas
    df = pd.DataFrame({"case_id": ["a", "a", "b", "a"], "x": [1, 1, 1, 2], "t": pd.to_datetime([0, 0, 0, 0], utc=True)})
    np.testing.assert_array_equal(_duplicated_rows(df), [False, True, False, False])
    # every row hashes alike: all are candidates, and the answer is still pandas' own
    monkeypatch.setattr(_normalize, "_row_hash", lambda w: np.zeros(len(w), dtype=np.uint64))
    np.testing.assert_array_equal(_duplicated_rows(df), [False, True, False, False])
    df = _messy_frame(200, 3)
    np.testing.assert_array_equal(_duplicated_rows(df), df.duplicated(keep="first").to_numpy())


def test_take_columns_equals_take():
    df = _messy_frame(200, 9)
    rows = np.random.default_rng(1).permutation(200)
    pd.testing.assert_frame_equal(take_columns(df, rows), df.take(rows).reset_index(drop=True))


def _lifecycle_frame() -> pd.DataFrame:
    # a start/complete log with an attribute set only on the start event, a lone
    # completion, an unpaired start, a status to drop, and an exact duplicate instance
    rows = [
        ("c1", "A", "start", "2024-01-01T08:00:00", "r1", "x"),
        ("c1", "A", "complete", "2024-01-01T09:00:00", "r1", None),
        ("c1", "B", "complete", "2024-01-01T10:00:00", "r2", "y"),
        ("c2", "A", "start", "2024-01-01T08:00:00", "r1", None),
        ("c2", "A", "suspend", "2024-01-01T08:30:00", "r1", None),
        ("c2", "A", "complete", "2024-01-01T09:00:00", "r1", None),
        ("c2", "C", "start", "2024-01-01T11:00:00", "r3", None),
        ("c3", "B", "complete", "2024-01-01T10:00:00", "r2", "z"),
        ("c3", "B", "complete", "2024-01-01T10:00:00", "r2", "z"),
    ]
    return pd.DataFrame(rows, columns=["case", "activity", "lifecycle:transition", "time", "resource", "note"])


def test_from_frame_leaves_the_users_frame_unchanged():
    df = _lifecycle_frame()
    before = df.copy()
    log = leanops.from_frame(df, case="case", end="time")
    pd.testing.assert_frame_equal(df, before)
    # hand-worked: c1 A paired (note from its start), c1 B lone, c2 A paired, c3 B twice
    assert log.df["activity"].astype(str).tolist() == ["A", "B", "A", "B", "B"]
    assert log.df["note"].tolist()[:2] == ["x", "y"]
    assert log.quality.dropped == {"lifecycle:suspend": 1, "unpaired_start": 1}
    assert log.quality.repaired == {"complete_without_start": 3}
    assert log.quality.rows_kept == 7


def test_read_csv_gives_what_from_frame_gives(tmp_path):
    df = _lifecycle_frame()
    p = tmp_path / "lc.csv"
    df.to_csv(p, index=False)
    read = leanops.read(p, case="case", end="time", dedupe=True)
    direct = leanops.from_frame(pd.read_csv(p), case="case", end="time", dedupe=True)
    canon = ["case_id", "activity", "start", "end", "resource"]
    pd.testing.assert_frame_equal(read.df[canon], direct.df[canon])
    assert read.df["note"].tolist()[:2] == direct.df["note"].tolist()[:2] == ["x", "y"]
    assert read.quality.dropped == direct.quality.dropped == {"lifecycle:suspend": 1, "unpaired_start": 1, "duplicate": 1}
    assert read.quality.repaired == direct.quality.repaired == {"complete_without_start": 3}
    assert read.quality.rows_kept == direct.quality.rows_kept


def test_columns_named_twice_are_a_clear_error(tmp_path):
    import pytest

    from leanops.errors import InputError

    p = tmp_path / "dup.csv"
    p.write_text("case,activity,time,x,x\n1,a,2024-01-01T10:00:00,1,2\n")
    with pytest.raises(InputError, match="named more than once: 'x'"):
        leanops.read(p)
    df = pd.DataFrame([[1, "a", "2024-01-01T10:00:00", 1, 2]], columns=["case", "activity", "time", "x", "x"])
    with pytest.raises(InputError, match="rename them"):
        leanops.from_frame(df)
