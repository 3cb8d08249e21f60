"""Local time: the offsets a log was written in decide its hour-of-day views; storage stays UTC."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import leanops
from leanops.calendar import discover_calendar


def office_instances(zone: str, *, days: int = 40, seed: int = 3) -> pd.DataFrame:
    """Work done 08:00-17:00 local on weekdays, as (case, activity, start, end) in ``zone``."""
    rng = np.random.default_rng(seed)
    rows = []
    day0 = pd.Timestamp("2024-02-05")  # a Monday; 40 days cross the US DST change of 10 March
    for d in range(days):
        day = day0 + pd.Timedelta(days=d)
        if day.weekday() >= 5:
            continue
        for k in range(12):
            s = day + pd.Timedelta(hours=8) + pd.Timedelta(minutes=int(rng.integers(0, 8 * 60)))
            e = s + pd.Timedelta(minutes=int(rng.integers(5, 59)))
            rows.append((f"c{d}-{k}", "Work", s.tz_localize(zone), e.tz_localize(zone)))
    return pd.DataFrame(rows, columns=["case", "activity", "start", "end"])


def write_xes(inst: pd.DataFrame, path):
    out = ['<?xml version="1.0" encoding="UTF-8"?>', '<log xmlns="http://www.xes-standard.org/">']
    for r in inst.itertuples(index=False):
        out.append(f'<trace><string key="concept:name" value="{r.case}"/>')
        for lc, t in (("start", r.start), ("complete", r.end)):
            out.append(f'<event><string key="concept:name" value="{r.activity}"/>'
                       f'<string key="lifecycle:transition" value="{lc}"/>'
                       f'<date key="time:timestamp" value="{t.isoformat()}"/></event>')
        out.append("</trace>")
    out.append("</log>")
    path.write_text("\n".join(out), encoding="utf-8")
    return path


def write_csv(inst: pd.DataFrame, path):
    out = inst.assign(start=inst["start"].map(lambda t: t.isoformat()), end=inst["end"].map(lambda t: t.isoformat()))
    out.rename(columns={"start": "start_time", "end": "end_time"}).to_csv(path, index=False)
    return path


@pytest.mark.parametrize("fmt", ["xes", "csv"])
def test_minus_five_log_gets_a_local_calendar(tmp_path, fmt):
    inst = office_instances("Etc/GMT+5")  # a fixed -05:00 clock
    p = (write_xes if fmt == "xes" else write_csv)(inst, tmp_path / f"office.{fmt}")
    log = leanops.read(p)
    assert log.tz == "Etc/GMT+5"
    # storage stays UTC: 08:00 at -05:00 is 13:00 UTC
    assert str(log.df["end"].dt.tz) == "UTC"
    assert log.df["start"].min() == inst["start"].min().tz_convert("UTC")
    assert log.local_times("start").dt.hour.between(8, 16).all()
    cal = discover_calendar(log)
    assert str(cal) == "Mon-Fri 08:00-17:00" and cal.tz == "Etc/GMT+5"
    # on the UTC clock the same team works 13:00-22:00
    assert str(discover_calendar(log, tz="UTC")) == "Mon-Fri 13:00-22:00"


def test_daylight_saving_offsets_give_a_zone_with_those_rules(tmp_path):
    inst = office_instances("America/New_York")  # -05:00, then -04:00 from 10 March
    assert {t.utcoffset().total_seconds() // 3600 for t in inst["start"]} == {-5, -4}
    log = leanops.read(write_csv(inst, tmp_path / "ny.csv"))
    # a zone whose rules give every written offset at its instant (several zones qualify)
    local = np.sort(log.df["start"].dt.tz_convert(log.tz).dt.tz_localize(None).to_numpy())
    assert (local == np.sort(inst["start"].dt.tz_localize(None).to_numpy())).all()
    assert any("daylight-saving" in w for w in log.quality.warnings)
    assert str(discover_calendar(log)) == "Mon-Fri 08:00-17:00"


def test_named_zone_wins_and_survives_parquet(tmp_path):
    inst = office_instances("Europe/Paris")
    naive = inst.assign(start=inst["start"].dt.tz_localize(None), end=inst["end"].dt.tz_localize(None))
    log = leanops.from_frame(naive, tz="Europe/Paris")
    assert log.tz == "Europe/Paris" and str(discover_calendar(log)) == "Mon-Fri 08:00-17:00"
    out = leanops.convert(log, tmp_path / "paris.parquet")
    back = leanops.read(out)
    assert back.tz == "Europe/Paris"
    assert leanops.scan(out).tz == "Europe/Paris"
    # A tz-aware column (Parquet, pandas) carries its zone.
    assert leanops.from_frame(inst).tz == "Europe/Paris"


def test_start_hour_feature_is_local(tmp_path):
    from leanops.rca.features import features

    inst = office_instances("Etc/GMT+5", days=10)
    log = leanops.read(write_csv(inst, tmp_path / "o.csv"))
    feats = features(log)
    assert feats["start_hour"].between(8, 16).all()
