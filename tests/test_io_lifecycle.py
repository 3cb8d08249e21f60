"""Lifecycle modes (pair, classifier, ignore) and the XES <classifier> declaration."""

from __future__ import annotations

import warnings

import pandas as pd
import pytest

import leanops
from leanops import DataQualityWarning, InputError

from conftest import assert_bad_input

# A BPIC-2013-style incident log: lifecycle:transition holds statuses, not start/complete.
STEPS = [("Accepted", "In Progress"), ("Queued", "Awaiting Assignment"), ("Accepted", "In Progress"),
         ("Completed", "Resolved")]


def incident_xes(path, *, classifier: str | None = "concept:name lifecycle:transition", offset: str = "-05:00"):
    out = ['<?xml version="1.0" encoding="UTF-8"?>', '<log xes.version="1.0" xmlns="http://www.xes-standard.org/">']
    if classifier is not None:
        out.append(f'<classifier name="Activity classifier" keys="{classifier}"/>')
    out.append('<classifier name="Resource classifier" keys="org:resource"/>')
    for c in range(3):
        out.append(f'<trace><string key="concept:name" value="1-{c}"/>')
        for i, (a, status) in enumerate(STEPS):
            out.append(
                f'<event><string key="concept:name" value="{a}"/><string key="lifecycle:transition" value="{status}"/>'
                f'<string key="org:resource" value="Siebel"/>'
                f'<date key="time:timestamp" value="2012-05-0{c + 1}T{i + 8:02d}:00:00{offset}"/></event>'
            )
        out.append("</trace>")
    out.append("</log>")
    path.write_text("\n".join(out), encoding="utf-8")
    return path


def test_pairing_statuses_fails_and_names_the_option_that_works(tmp_path, leanops_cli):
    p = incident_xes(tmp_path / "incidents.xes")
    with pytest.raises(InputError, match="--lifecycle classifier"), warnings.catch_warnings():
        warnings.simplefilter("ignore", DataQualityWarning)
        leanops.read(p)
    assert_bad_input(leanops_cli("info", p, "--json"), "lifecycle", "classifier")


def test_classifier_mode_uses_the_declared_classifier(tmp_path, leanops_cli):
    p = incident_xes(tmp_path / "incidents.xes")
    log = leanops.read(p, lifecycle="classifier")
    assert len(log) == 12 and log.n_cases == 3 and not log.has_start_times
    assert log.quality.rows_kept == 12 and log.quality.dropped == {}
    first = log.df[log.df["case_id"] == "1-0"]["activity"].astype(str).tolist()
    assert first == ["Accepted+In Progress", "Queued+Awaiting Assignment", "Accepted+In Progress", "Completed+Resolved"]
    assert any("Activity classifier" in w for w in log.quality.warnings)
    res = leanops_cli("discover", p, "--lifecycle", "classifier", "--json")
    assert res.returncode == 0, res.stderr
    import json

    doc = json.loads(res.stdout)
    edges = {(e["source"], e["target"]): e["count"] for e in doc["edges"]}
    assert edges[("Accepted+In Progress", "Queued+Awaiting Assignment")] == 3
    assert edges[("Queued+Awaiting Assignment", "Accepted+In Progress")] == 3


def test_classifier_with_quoted_keys_and_without_declaration(tmp_path):
    # A classifier naming only concept:name gives the plain activity.
    p = incident_xes(tmp_path / "a.xes", classifier="'concept:name'")
    log = leanops.read(p, lifecycle="classifier")
    assert sorted(log.df["activity"].astype(str).unique()) == ["Accepted", "Completed", "Queued"]
    # No declaration: activity + lifecycle.
    p = incident_xes(tmp_path / "b.xes", classifier=None)
    log = leanops.read(p, lifecycle="classifier")
    assert "Queued+Awaiting Assignment" in set(log.df["activity"].astype(str))


def test_ignore_mode_each_event_is_a_completion_and_keeps_the_status():
    df = pd.DataFrame({
        "case": ["a", "a", "a", "b"],
        "activity": ["x", "x", "y", "x"],
        "lifecycle": ["start", "complete", None, "complete"],
        "time": ["2024-01-01 08:00", "2024-01-01 09:00", "2024-01-01 10:00", "2024-01-02 08:00"],
    })
    paired = leanops.from_frame(df)
    assert len(paired) == 3 and paired.has_start_times
    ignored = leanops.from_frame(df, lifecycle="ignore")
    assert len(ignored) == 4 and not ignored.has_start_times
    assert list(ignored.df["lifecycle"].iloc[:2]) == ["start", "complete"]
    assert "lifecycle" not in ignored.mapping
    # classifier on a frame: activity + lifecycle, a missing transition leaves the activity alone
    cl = leanops.from_frame(df, lifecycle="classifier")
    assert cl.df["activity"].astype(str).tolist() == ["x+start", "x+complete", "y", "x+complete"]


def test_lifecycle_column_name_still_accepted_and_bad_mode_refused(tmp_path, leanops_cli):
    df = pd.DataFrame({"case": ["a", "a"], "activity": ["x", "x"], "kind": ["start", "complete"],
                       "time": ["2024-01-01 08:00", "2024-01-01 09:00"]})
    log = leanops.from_frame(df, lifecycle="kind")
    assert len(log) == 1 and log.has_start_times
    assert len(leanops.from_frame(df, lifecycle_column="kind", lifecycle="ignore")) == 2
    with pytest.raises(InputError, match="lifecycle must be one of"):
        leanops.from_frame(df, lifecycle="kind", lifecycle_column="other")
    p = tmp_path / "l.csv"
    df.to_csv(p, index=False)
    assert_bad_input(leanops_cli("info", p, "--lifecycle", "sometimes"), "lifecycle")
