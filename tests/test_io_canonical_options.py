"""Re-reading a leanops-written Parquet with read options: the canonical columns and the
stored metadata stay; dedupe and strict apply and are counted; column options that cannot
apply fail in one clear line."""

from __future__ import annotations

import json
import warnings

import pandas as pd
import pytest

import leanops
from leanops.boundaries import boundary_counts
from leanops.errors import InputError
from leanops.evidence import time_granularity

from conftest import DATASETS, assert_bad_input, run_leanops

CANONICAL = ["case_id", "activity", "start", "end", "resource"]


def quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


@pytest.fixture(scope="module")
def production(tmp_path_factory):
    """The bundled production log read directly, as one Parquet file and as 3 partitions."""
    d = tmp_path_factory.mktemp("canon")
    src = DATASETS / "production.xes.gz"
    log = quiet(leanops.read, src)
    one = leanops.write(log, d / "p.parquet")
    parts = leanops.convert(log, d / "parts", partitions=3)
    return src, log, {"file": one, "partitions": parts}


def same_instances(a, b) -> None:
    cols = ["case_id", "activity", "start", "end", "resource"]
    fa = a.df[cols].astype({"activity": str}).sort_values(cols, kind="stable").reset_index(drop=True)
    fb = b.df[cols].astype({"activity": str}).sort_values(cols, kind="stable").reset_index(drop=True)
    pd.testing.assert_frame_equal(fa, fb, check_dtype=False)


@pytest.mark.parametrize("kind", ["file", "partitions"])
@pytest.mark.parametrize("options", [
    {}, {"strict": True}, {"case": "case_id"}, {"case": "case:concept:name"}, {"activity": "activity"},
    {"timestamp": "time:timestamp"}, {"resource": "org:resource"}, {"lifecycle": "pair"},
    {"lifecycle_column": "lifecycle:transition"},
])
def test_options_that_name_the_stored_mapping_keep_the_canonical_log(production, kind, options):
    _, direct, paths = production
    back = quiet(leanops.read, paths[kind], **options)
    assert list(back.df.columns) == list(direct.df.columns)
    assert back.tz == direct.tz == "Europe/Athens"
    assert back.mapping == direct.mapping
    assert back.quality.to_dict() == {**direct.quality.to_dict(),
                                      "warnings": back.quality.warnings}
    assert back.quality.warnings[:len(direct.quality.warnings)] == direct.quality.warnings
    assert len(back) == len(direct) == 4953


@pytest.mark.parametrize("kind", ["file", "partitions"])
def test_dedupe_on_a_canonical_log_counts_as_on_the_source(production, kind):
    src, direct, paths = production
    want = quiet(leanops.read, src, dedupe=True)
    back = quiet(leanops.read, paths[kind], dedupe=True)
    # the source has 51 exact duplicate instances (the kept log warns of them)
    assert any("51 exact duplicate" in w for w in direct.quality.warnings)
    assert len(back) == len(want) == 4953 - 51
    assert back.quality.dropped == want.quality.dropped == {"duplicate": 51}
    assert back.quality.rows_kept == want.quality.rows_kept == 9906 - 2 * 51
    assert back.quality.warnings == want.quality.warnings  # the "51 kept" warning is gone
    assert back.tz == "Europe/Athens"
    same_instances(back, want)
    # what the log's findings rest on is the same as for the source read
    assert time_granularity(back) == time_granularity(want) == "minute"
    assert boundary_counts(back) == boundary_counts(want)


def test_dedupe_warns_of_what_it_dropped(production):
    with pytest.warns(leanops.DataQualityWarning, match="51 duplicate"):
        leanops.read(production[2]["file"], dedupe=True)


@pytest.mark.parametrize("kind", ["file", "partitions"])
@pytest.mark.parametrize("option, value, fragments", [
    ("case", "nope", ["case must name", "'case_id'", "'nope'", "not a column"]),
    ("activity", "Activity", ["activity must name", "'activity'", "'Activity'", "attribute column"]),
    ("resource", "Resource", ["resource must name", "'org:resource'", "'Resource'"]),
    ("start", "end", ["start must name", "'end'"]),
    ("lifecycle_column", "case:variant", ["lifecycle_column must name", "'lifecycle:transition'"]),
])
def test_column_options_that_cannot_apply_name_the_option(production, kind, option, value, fragments):
    with pytest.raises(InputError) as err:
        leanops.read(production[2][kind], **{option: value})
    msg = str(err.value)
    for f in fragments:
        assert f in msg, (f, msg)
    assert str(production[2][kind]) in msg


def test_a_lifecycle_mode_the_file_was_not_made_with_is_refused(production):
    with pytest.raises(InputError, match="lifecycle must be 'pair'.*got 'classifier'"):
        leanops.read(production[2]["file"], lifecycle="classifier")


def test_a_named_local_zone_replaces_the_stored_one_and_says_so(production):
    back = quiet(leanops.read, production[2]["file"], tz="Europe/Istanbul")
    assert back.tz == "Europe/Istanbul"
    assert any("replaces the zone stored" in w and "Europe/Athens" in w for w in back.quality.warnings)
    assert quiet(leanops.read, production[2]["file"], tz="UTC").tz == "Europe/Athens"


def test_cli_info_on_canonical_parquet_with_options(production):
    parts = production[2]["partitions"]
    res = run_leanops("info", parts, "--dedupe", "--strict", "--json")
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["events"] == 4953 - 51
    assert doc["quality"]["dropped"] == {"duplicate": 51}
    assert doc["quality"]["rows_kept"] == 9906 - 102
    res = run_leanops("info", production[2]["file"], "--activity", "Activity")
    assert_bad_input(res, "activity must name", "'Activity'")


def test_strict_refuses_a_canonical_log_that_was_repaired(tmp_path):
    # B ends before it starts: a non-strict read swaps it and counts the repair
    df = pd.DataFrame({
        "case_id": ["1", "1", "2"], "activity": ["A", "B", "A"],
        "start_time": ["2024-01-01 08:00", "2024-01-01 12:00", "2024-01-01 08:00"],
        "end_time": ["2024-01-01 09:00", "2024-01-01 10:00", "2024-01-01 09:30"],
    })
    log = quiet(leanops.from_frame, df)
    assert log.quality.repaired == {"end_before_start_swapped": 1}
    p = leanops.write(log, tmp_path / "r.parquet")
    with pytest.raises(InputError, match="strict=True.*1 end_before_start_swapped"):
        leanops.read(p, strict=True)
    with pytest.raises(InputError, match="strict"):
        leanops.from_frame(df, strict=True)
    back = leanops.read(p)  # without strict the repaired log reads as stored
    assert back.quality.repaired == {"end_before_start_swapped": 1} and len(back) == 3


def test_dedupe_rows_kept_counts_the_source_rows_of_paired_and_lone_instances(tmp_path):
    # Worked by hand: A is paired twice with the same times (2 instances of 2 rows each),
    # B is completed twice without a start (2 instances of 1 row each), C once.
    rows = [
        ("1", "A", "start", "2024-01-01 08:00"), ("1", "A", "complete", "2024-01-01 09:00"),
        ("1", "A", "start", "2024-01-01 08:00"), ("1", "A", "complete", "2024-01-01 09:00"),
        ("1", "B", "complete", "2024-01-01 10:00"), ("1", "B", "complete", "2024-01-01 10:00"),
        ("1", "C", "complete", "2024-01-01 11:00"),
    ]
    df = pd.DataFrame(rows, columns=["case_id", "activity", "lifecycle:transition", "time:timestamp"])
    log = quiet(leanops.from_frame, df, dedupe=True)
    assert len(log) == 3
    assert log.quality.dropped == {"duplicate": 2}  # instances
    # one A instance (2 rows) and one B completion (1 row) dropped: 7 - 3 source rows kept
    assert log.quality.rows_read == 7 and log.quality.rows_kept == 4
    kept = quiet(leanops.from_frame, df)
    back = quiet(leanops.read, leanops.write(kept, tmp_path / "k.parquet"), dedupe=True)
    assert back.quality.dropped == {"duplicate": 2} and back.quality.rows_kept == 4 and len(back) == 3


def test_the_lifecycle_mode_a_file_was_made_with_is_accepted(tmp_path):
    df = pd.DataFrame({
        "case_id": ["1", "1", "2"], "activity": ["A", "A", "A"],
        "lifecycle:transition": ["In Progress", "Resolved", "Resolved"],
        "time:timestamp": ["2024-01-01 08:00", "2024-01-01 09:00", "2024-01-01 10:00"],
    })
    log = quiet(leanops.from_frame, df, lifecycle="classifier")
    p = leanops.write(log, tmp_path / "c.parquet")
    back = quiet(leanops.read, p, lifecycle="classifier")
    assert sorted(back.df["activity"].astype(str)) == ["A+In Progress", "A+Resolved", "A+Resolved"]
    assert len(quiet(leanops.read, p, lifecycle="pair")) == 3  # the default never fails
    with pytest.raises(InputError, match="lifecycle must be 'pair' or 'classifier'.*got 'ignore'"):
        leanops.read(p, lifecycle="ignore")
    ignored = leanops.write(quiet(leanops.from_frame, df, lifecycle="ignore"), tmp_path / "i.parquet")
    assert len(quiet(leanops.read, ignored, lifecycle="ignore")) == 3


def test_a_damaged_mapping_in_the_metadata_is_not_trusted(production, tmp_path):
    import pyarrow.parquet as pq

    table = pq.read_table(production[2]["file"])
    meta = json.loads(table.schema.metadata[b"leanops"])
    meta["mapping"] = ["case_id", "activity"]  # not a dict
    md = {**table.schema.metadata, b"leanops": json.dumps(meta).encode()}
    p = tmp_path / "damaged.parquet"
    pq.write_table(table.replace_schema_metadata(md), p)
    back = quiet(leanops.read, p)
    assert back.mapping == {} and len(back) == 4953
    with pytest.raises(InputError, match="case must name 'case_id' for .*got 'case:concept:name'"):
        leanops.read(p, case="case:concept:name")
    with pytest.raises(InputError, match="lifecycle must be 'pair' or 'ignore'"):
        leanops.read(p, lifecycle="classifier")
