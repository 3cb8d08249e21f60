"""The quality report says what each count counts: source rows, or activity instances
(reasons decided after start/complete pairing, where one instance is two source rows)."""

from __future__ import annotations

import json
import warnings

import pandas as pd

import leanops
from leanops.log import QualityReport

from conftest import DATASETS, run_leanops


def test_units_per_reason_on_a_hand_worked_paired_log():
    # case 1: A paired twice alike (a duplicate instance), B an unpaired start, C a completion without a start
    rows = [
        ("1", "A", "start", "2024-01-01 08:00"), ("1", "A", "complete", "2024-01-01 09:00"),
        ("1", "A", "start", "2024-01-01 08:00"), ("1", "A", "complete", "2024-01-01 09:00"),
        ("1", "B", "start", "2024-01-01 10:00"),
        ("1", "C", "complete", "2024-01-01 11:00"),
    ]
    df = pd.DataFrame(rows, columns=["case_id", "activity", "lifecycle:transition", "time:timestamp"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        log = leanops.from_frame(df, dedupe=True)
    q = log.quality.to_dict()
    assert q["dropped"] == {"unpaired_start": 1, "duplicate": 1}
    assert q["units"]["dropped"] == {"unpaired_start": "source rows", "duplicate": "instances"}
    assert q["units"]["repaired"] == {"complete_without_start": "source rows"}
    assert q["units"]["rows_read"] == q["units"]["rows_kept"] == "source rows"
    # 6 source rows: 1 unpaired start and the 2 rows of the duplicate instance are not kept
    assert (q["rows_read"], q["rows_kept"], len(log)) == (6, 3, 2)
    frame = log.quality.to_frame()
    assert list(frame.columns) == ["kind", "reason", "rows", "unit"]
    assert dict(zip(frame["reason"], frame["unit"])) == {
        "unpaired_start": "source rows", "duplicate": "instances", "complete_without_start": "source rows"}
    assert "instances" in log.quality._repr_html_()


def test_filters_count_instances():
    log = leanops.datasets.load("purchasing_example")
    sub = log.select_cases(log.case_ids[:10])
    assert sub.quality.unit("filtered_out_after_reading") == "instances"
    assert sub.quality.to_dict()["units"]["dropped"] == {"filtered_out_after_reading": "instances"}
    assert QualityReport().to_dict()["units"]["dropped"] == {}


def test_info_says_what_it_counts_on_production_with_dedupe():
    src = DATASETS / "production.xes.gz"
    doc = json.loads(run_leanops("info", src, "--dedupe", "--json").stdout)
    q = doc["quality"]
    assert q["dropped"] == {"duplicate": 51} and q["units"]["dropped"] == {"duplicate": "instances"}
    # every production instance is a start/complete pair: 51 instances are 102 source rows
    assert q["rows_read"] - q["rows_kept"] == 2 * 51
    text = run_leanops("info", src, "--dedupe").stdout
    assert "rows read / kept    9,906 / 9,804 source rows" in text
    line = next(ln for ln in text.splitlines() if ln.startswith("dropped: duplicate"))
    assert line.split()[-2:] == ["51", "instances"]
