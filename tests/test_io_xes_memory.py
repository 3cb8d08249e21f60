"""Reading XES in bounded memory: labels stay dictionary codes (categoricals) from the scan
to the sorted log, and start/complete pairing goes window by window. Each lean path is held
to a reference: the string path of the same data, or an independent FIFO pairing written
here as a plain loop."""

from __future__ import annotations

import warnings
from collections import defaultdict, deque

import numpy as np
import pandas as pd
import pytest

import leanops
import leanops._normalize as nz
import leanops.io as lio


def _from_frame(df: pd.DataFrame, **kw) -> leanops.EventLog:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return leanops.from_frame(df, **kw)


def _lifecycle_log(n_cases: int, seed: int, *, contiguous: bool = True) -> pd.DataFrame:
    """Start/complete events with ties, statuses to drop, lone completions and unpaired starts."""
    rng = np.random.default_rng(seed)
    rows = []
    for c in range(n_cases):
        t0 = pd.Timestamp("2024-03-01", tz="UTC") + pd.Timedelta(hours=int(rng.integers(0, 500)))
        for k in range(int(rng.integers(1, 7))):
            act = f"A{int(rng.integers(0, 3))}"
            start = t0 + pd.Timedelta(minutes=int(rng.integers(0, 4)) * 15)  # coarse: ties
            end = start + pd.Timedelta(minutes=int(rng.integers(0, 3)) * 15)
            u = rng.random()
            if u > 0.1:  # a start, unless it is a lone completion
                rows.append((f"c{c}", act, start, "start", f"r{int(rng.integers(0, 4))}", int(rng.integers(0, 9))))
            if u < 0.93:  # a complete, unless the start stays unpaired
                rows.append((f"c{c}", act, end, " Complete ", f"r{int(rng.integers(0, 4))}", None))
            if u > 0.97:
                rows.append((f"c{c}", act, end, "suspend", None, None))
    df = pd.DataFrame(rows, columns=["case", "activity", "time", "lifecycle", "resource", "cost"])
    if not contiguous:  # cases interleaved: pairing cannot go window by window
        df = df.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    return df


def _fifo_reference(df: pd.DataFrame) -> tuple[list[tuple], int, int, int]:
    """(instances as (case, activity, start, end), unpaired starts, lone completes, statuses)."""
    groups: dict[tuple, list] = defaultdict(list)
    statuses = 0
    for i, r in enumerate(df.itertuples(index=False)):
        lc = r.lifecycle.strip().lower()
        if lc not in ("start", "complete"):
            statuses += 1
            continue
        groups[(r.case, r.activity)].append((r.time, 0 if lc == "start" else 1, i))
    inst, unpaired, lone = [], 0, 0
    for (case, act), evs in groups.items():
        queue: deque = deque()
        for t, kind, _ in sorted(evs):  # time, starts before completes, then file order
            if kind == 0:
                queue.append(t)
            elif queue:
                inst.append((case, act, queue.popleft(), t))
            else:
                inst.append((case, act, pd.NaT, t))
                lone += 1
        unpaired += len(queue)
    return inst, unpaired, lone, statuses


def _instances(log: leanops.EventLog) -> list[tuple]:
    d = log.df
    return [(c, a, s, e) for c, a, s, e in zip(d["case_id"], d["activity"].astype(str), d["start"], d["end"])]


def _key(t: tuple) -> tuple:
    return (t[0], t[1], pd.Timestamp(0, tz="UTC") if pd.isna(t[2]) else t[2], t[3])


@pytest.mark.parametrize("contiguous", [True, False])
def test_windowed_pairing_matches_a_plain_fifo_loop(contiguous, monkeypatch):
    df = _lifecycle_log(300, seed=3, contiguous=contiguous)
    monkeypatch.setattr(nz, "_PAIR_ROWS", 50)  # many windows, cut at case boundaries
    log = _from_frame(df, case="case", activity="activity", end="time", lifecycle="lifecycle", resource="resource")
    inst, unpaired, lone, statuses = _fifo_reference(df)
    assert sorted(map(_key, _instances(log))) == sorted(map(_key, inst))
    q = log.quality
    assert q.dropped.get("unpaired_start", 0) == unpaired and q.repaired.get("complete_without_start", 0) == lone
    assert q.dropped.get("lifecycle:suspend", 0) == statuses
    assert unpaired and lone and statuses  # the log exercises each case
    monkeypatch.setattr(nz, "_PAIR_ROWS", 1 << 30)  # one window: the very same log
    whole = _from_frame(df, case="case", activity="activity", end="time", lifecycle="lifecycle", resource="resource")
    pd.testing.assert_frame_equal(log.df, whole.df)
    assert log.quality.to_dict() == whole.quality.to_dict()


def test_text_categoricals_give_the_string_path_log():
    df = _lifecycle_log(120, seed=8)
    # labels that to_string_ids merges ("7" and "7.0"), blanks and missing values, unused
    # and unsorted categories: the categorical path must give the string path's log
    df.loc[df.index[:6], "case"] = "7.0"
    df.loc[df.index[6:12], "case"] = "7"
    df.loc[df.index[12], "case"] = "  "
    df.loc[df.index[13], "activity"] = None
    df.loc[df.index[14], "resource"] = None
    cat = df.copy()
    for c in ("case", "activity", "resource", "lifecycle"):
        labels = sorted(set(df[c].dropna()) | {"unused"}, reverse=True)
        cat[c] = pd.Categorical(df[c], categories=pd.Index(labels, dtype="string[pyarrow]"))
    df = df.astype({c: "string[pyarrow]" for c in ("case", "activity", "resource", "lifecycle")})
    kw = dict(case="case", activity="activity", end="time", lifecycle="lifecycle", resource="resource")
    a, b = _from_frame(df, **kw), _from_frame(cat, **kw)
    pd.testing.assert_frame_equal(a.df, b.df)
    assert list(a.df["activity"].cat.categories) == list(b.df["activity"].cat.categories)
    assert a.df["case_id"].dtype == b.df["case_id"].dtype == "string[pyarrow]"
    assert a.quality.to_dict() == b.quality.to_dict()
    assert a.quality.dropped.get("missing_case") == 1 and "7" in set(a.df["case_id"]) and "7.0" not in set(a.df["case_id"])


def test_compact_xes_frame_holds_codes_not_strings(tmp_path):
    from test_io_xes_fast import TRICKY

    p = tmp_path / "t.xes"
    p.write_text(TRICKY, encoding="utf-8")
    compact, q1 = lio._xes_frame(p, tz="UTC", compact=True)
    plain, q2 = lio.read_xes_frame(p)
    assert q1.to_dict() == q2.to_dict()
    for c in ("concept:name", "org:resource", "case:concept:name", "lifecycle:transition"):
        assert isinstance(compact[c].dtype, pd.CategoricalDtype)
        assert plain[c].dtype == "string[pyarrow]"
        assert compact[c].astype("string[pyarrow]").tolist() == plain[c].tolist()
    others = [c for c in plain.columns if not isinstance(compact[c].dtype, pd.CategoricalDtype)]
    pd.testing.assert_frame_equal(compact[others], plain[others])


@pytest.mark.parametrize("first, later", [("string", "int"), ("int", "string"), ("string", "date")])
def test_a_key_whose_kind_changes_between_blocks_matches_lxml(first, later, tmp_path, monkeypatch):
    # the scanner encodes text per block before it knows the column's kind (its first value's):
    # blocks of another kind must still convert as lxml's reader does
    from test_io_xes_fast import HEAD, _both

    value = {"string": "v{i}", "int": "{i}", "date": "2024-05-0{d}T10:00:00Z"}
    lines = [HEAD]
    for i in range(40):
        kind = first if i < 5 else later
        v = value[kind].format(i=i, d=1 + i % 9)
        lines.append(f'<trace><string key="concept:name" value="c{i}"/><event>'
                     f'<string key="concept:name" value="A"/><date key="time:timestamp" value="2024-05-01T0{i % 10}:00:00Z"/>'
                     f'<{kind} key="x" value="{v}"/></event></trace>')
    lines.append("</log>")
    p = tmp_path / "kinds.xes"
    p.write_text("\n".join(lines))
    import leanops._xes_scan as xs

    monkeypatch.setattr(xs, "_BLOCK", 400)  # many blocks: the later kind arrives in blocks of its own
    frame, calls = _both(p, monkeypatch)
    assert calls == ["fast"] and len(frame) == 40
    want = {"string": "string[pyarrow]", "int": "float64"}[first]  # the first kind decides; "v5" is no number
    assert frame["x"].dtype == want and frame["x"].notna().sum() == (40 if first == "string" else 5)


def test_a_users_frame_and_its_event_log_share_no_arrays():
    # from_frame keeps the normalised arrays only for a reader's own frame; a user's frame
    # changed afterwards leaves the log as it was
    df = pd.DataFrame({"case": ["a", "a", "b"], "activity": ["x", "y", "x"], "cost": [1.0, 2.0, 3.0],
                       "end": pd.to_datetime(["2024-01-01 10:00", "2024-01-01 11:00", "2024-01-02 09:00"], utc=True)})
    log = _from_frame(df, case="case", activity="activity", end="end")
    df.loc[0, "cost"] = 99.0
    df.loc[0, "end"] = pd.Timestamp("2030-01-01", tz="UTC")
    assert log.df["cost"].tolist() == [1.0, 2.0, 3.0]
    assert log.df["end"].iloc[0] == pd.Timestamp("2024-01-01 10:00", tz="UTC")


def test_label_codes_public_fallbacks_give_the_same_categorical(monkeypatch):
    # label_codes skips pandas' label check through two private calls; on a pandas without
    # them it takes the public ones, which must build the very same categorical
    import sys

    import pyarrow as pa

    from leanops._canonical import label_codes

    labels = pa.array(["b", "a", "c"])
    codes = np.array([2, 0, -1, 1, 0])
    fast = label_codes(codes, labels)
    monkeypatch.delattr(pd.CategoricalDtype, "_from_fastpath")
    monkeypatch.setitem(sys.modules, "pandas._libs.arrays", None)  # its import fails
    public = label_codes(codes, labels)
    pd.testing.assert_series_equal(fast, public)
    assert public.tolist()[:2] == ["c", "b"] and pd.isna(public.iloc[2])
    assert public.cat.codes.dtype == np.int8
