"""Working calendars: parsing, working-time arithmetic (against a minute-by-minute count),
and discovery from logs whose working hours were planted by the ground-truth generator."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest

import leanops
from leanops import Calendar, InputError, discover_calendar
from groundtruth import Pool, Process, Step, generate

UTC = "UTC"


def ts(s: str, tz: str = UTC) -> pd.Timestamp:
    return pd.Timestamp(s, tz=tz)


# 2024-01-01 is a Monday.
OFFICE = Calendar.parse("Mon-Fri 08:00-17:00")


def brute_working_seconds(spec_days: dict[int, list[tuple[float, float]]], a: pd.Timestamp, b: pd.Timestamp,
                          holidays=(), tz: str = UTC) -> float:
    """Independent check: count working minutes one by one on the local wall clock."""
    total = 0.0
    t = a
    while t < b:
        loc = t.tz_convert(tz)
        h = loc.hour + loc.minute / 60
        if loc.date() not in holidays and any(s <= h < e for s, e in spec_days.get(loc.weekday(), [])):
            total += 60
        t += pd.Timedelta(minutes=1)
    return total


# ------------------------------------------------------------------ parsing
def test_parse_office_hours_intervals():
    assert OFFICE.intervals[:2] == ((8 * 3600, 17 * 3600), (86400 + 8 * 3600, 86400 + 17 * 3600))
    assert len(OFFICE.intervals) == 5
    assert OFFICE.weekly_hours == 45.0
    assert not OFFICE.is_always


def test_parse_split_shifts_and_saturday():
    cal = Calendar.parse("Mon-Fri 08:00-12:00,13:00-17:00; Sat 09:00-12:00")
    assert cal.weekly_hours == 5 * 8 + 3
    assert (5 * 86400 + 9 * 3600, 5 * 86400 + 12 * 3600) in cal.intervals


def test_parse_lists_full_names_and_spaces():
    a = Calendar.parse("Monday, Wednesday 09:00 - 10:30")
    assert a.intervals == ((9 * 3600, 10 * 3600 + 1800), (2 * 86400 + 9 * 3600, 2 * 86400 + 10 * 3600 + 1800))


def test_night_shift_wraps_to_next_day_and_week():
    cal = Calendar.parse("Sun 22:00-06:00")
    assert cal.intervals == ((0, 6 * 3600), (6 * 86400 + 22 * 3600, 7 * 86400))
    assert cal.weekly_hours == 8
    # Sunday 2024-01-07 23:00 to Monday 05:00 is 6 working hours
    assert cal.working_seconds(ts("2024-01-07 23:00"), ts("2024-01-08 05:00")) == 6 * 3600


def test_always_and_adjacent_intervals_merge():
    assert Calendar.always().is_always
    assert Calendar.parse("24/7").is_always
    assert Calendar.parse("Mon-Sun 00:00-24:00").is_always
    assert str(Calendar.always()) == "24/7"
    assert Calendar.always().weekly_hours == 168


@pytest.mark.parametrize(
    "spec",
    ["Mon-Fri 08:00-17:00", "Mon-Fri 08:00-12:00,13:00-17:00; Sat 09:00-12:00", "24/7", "Sun 22:00-06:00",
     "Mon,Wed,Fri 07:30-15:45:30", "Tue 00:00-24:00; Thu 10:00-11:00"],
)
def test_str_round_trips(spec):
    cal = Calendar.parse(spec)
    assert Calendar.parse(str(cal)) == cal


def test_to_dict_round_trips_through_json():
    cal = Calendar.parse("Mon-Fri 08:00-17:00", tz="Europe/Paris", holidays=["2024-12-25", "2024-01-01"])
    d = json.loads(json.dumps(cal.to_dict()))
    assert d["holidays"] == ["2024-01-01", "2024-12-25"]
    assert Calendar.from_dict(d) == cal


@pytest.mark.parametrize(
    "spec, fragment",
    [("Mon-Fry 08:00-17:00", "Fry"), ("Mon 25:00-26:00", "25:00"), ("Mon 08:00", "08:00"), ("", "calendar"),
     ("Mon-Fri", "Mon-Fri"), ("Mon 08:00-08:00", "empty"), ("Mon 8h-17h", "8h")],
)
def test_bad_specs_name_the_bad_part(spec, fragment):
    with pytest.raises(InputError, match=None) as err:
        Calendar.parse(spec)
    msg = str(err.value)
    assert fragment.lower() in msg.lower() and "\n" not in msg


def test_bad_tz_and_intervals():
    with pytest.raises(InputError, match="Mars/Olympus"):
        Calendar.parse("24/7", tz="Mars/Olympus")
    with pytest.raises(InputError, match="604800"):
        Calendar(((0, 700000),))
    with pytest.raises(InputError, match="holidays"):
        Calendar.parse("24/7", holidays=["not a date"])


# --------------------------------------------------------------- arithmetic
def test_working_seconds_hand_worked():
    # Mon 08:00 .. Tue 10:00 = 9h Monday + 2h Tuesday
    assert OFFICE.working_seconds(ts("2024-01-01 07:00"), ts("2024-01-02 10:00")) == 11 * 3600
    # a whole week
    assert OFFICE.working_seconds(ts("2024-01-01"), ts("2024-01-08")) == 45 * 3600
    # weekend only
    assert OFFICE.working_seconds(ts("2024-01-06 09:00"), ts("2024-01-07 18:00")) == 0
    # reversed interval gives 0
    assert OFFICE.working_seconds(ts("2024-01-02"), ts("2024-01-01")) == 0


def test_add_working_hand_worked():
    fri_4pm = ts("2024-01-05 16:00")
    assert OFFICE.add_working(fri_4pm, 2 * 3600) == ts("2024-01-08 09:00")
    # work that exactly ends a shift ends at the closing time, not the next opening
    assert OFFICE.add_working(ts("2024-01-05 08:00"), 9 * 3600) == ts("2024-01-05 17:00")
    # starting outside hours waits for the opening
    assert OFFICE.add_working(ts("2024-01-06 12:00"), 1800) == ts("2024-01-08 08:30")
    assert OFFICE.add_working(ts("2024-01-06 12:00"), 0) == ts("2024-01-08 08:00")


def test_next_working_and_is_working():
    assert OFFICE.next_working(ts("2024-01-03 10:00")) == ts("2024-01-03 10:00")
    assert OFFICE.next_working(ts("2024-01-03 17:00")) == ts("2024-01-04 08:00")
    assert OFFICE.next_working(ts("2024-01-06 10:00")) == ts("2024-01-08 08:00")
    assert OFFICE.is_working(ts("2024-01-03 08:00")) is True
    assert OFFICE.is_working(ts("2024-01-03 17:00")) is False
    arr = OFFICE.is_working(pd.Series([ts("2024-01-03 08:00"), ts("2024-01-06 10:00")]))
    assert arr.tolist() == [True, False]


def test_holidays_are_skipped():
    cal = Calendar.parse("Mon-Fri 08:00-17:00", holidays=[dt.date(2024, 1, 8)])
    fri_4pm = ts("2024-01-05 16:00")
    assert cal.add_working(fri_4pm, 2 * 3600) == ts("2024-01-09 09:00")
    assert cal.working_seconds(fri_4pm, ts("2024-01-09 09:00")) == 2 * 3600
    assert cal.next_working(ts("2024-01-08 10:00")) == ts("2024-01-09 08:00")
    assert cal.is_working(ts("2024-01-08 10:00")) is False
    assert cal.add_working_s(fri_4pm.value / 1e9, 7200) == ts("2024-01-09 09:00").value / 1e9
    assert cal.next_working_s(ts("2024-01-08 10:00").value / 1e9) == ts("2024-01-09 08:00").value / 1e9


def test_time_zone_local_hours():
    paris = Calendar.parse("Mon-Fri 08:00-17:00", tz="Europe/Paris")
    # 16:00 UTC on a January Friday is 17:00 in Paris: closed
    assert paris.is_working(ts("2024-01-05 16:00")) is False
    assert paris.next_working(ts("2024-01-05 16:00")) == ts("2024-01-08 07:00")
    assert paris.add_working(ts("2024-01-05 15:00"), 7200) == ts("2024-01-08 08:00")
    assert paris.add_working_s(ts("2024-01-05 15:00").value / 1e9, 7200) == ts("2024-01-08 08:00").value / 1e9
    # July (UTC+2)
    assert paris.next_working(ts("2024-07-06 12:00")) == ts("2024-07-08 06:00")


def test_working_seconds_matches_minute_count_randomised():
    rng = np.random.default_rng(7)
    specs = {
        "Mon-Fri 08:00-12:00,13:00-17:00; Sat 09:00-12:00": {
            **{d: [(8, 12), (13, 17)] for d in range(5)}, 5: [(9, 12)]},
        "Sun 22:00-06:00": {6: [(22, 24)], 0: [(0, 6)]},
    }
    hol = (dt.date(2024, 1, 3),)
    base = ts("2024-01-01").value
    for spec, days in specs.items():
        for tz in (UTC, "America/New_York"):
            cal = Calendar.parse(spec, tz=tz, holidays=hol)
            a = base + rng.integers(0, 10 * 86400, 6) // 60 * 60 * 10**9
            b = a + rng.integers(0, 3 * 86400, 6) // 60 * 60 * 10**9
            A = pd.to_datetime(a, utc=True)
            B = pd.to_datetime(b, utc=True)
            got = cal.working_seconds(pd.Series(A), pd.Series(B))
            want = [brute_working_seconds(days, x, y, hol, tz) for x, y in zip(A, B)]
            np.testing.assert_allclose(got, want)
            # add_working inverts working_seconds; the float helper agrees
            for x, w in zip(A, want):
                if w > 0:
                    end = cal.add_working(x, w)
                    assert cal.working_seconds(x, end) == pytest.approx(w)
                    assert cal.add_working_s(x.value / 1e9, w) == pytest.approx(end.value / 1e9)


def test_float_helpers_match_timestamp_api():
    rng = np.random.default_rng(3)
    for cal in (OFFICE, Calendar.parse("Mon,Thu 22:00-06:00", tz="Asia/Kolkata"), Calendar.always()):
        for t in ts("2024-03-01").value / 1e9 + rng.uniform(0, 20 * 86400, 25):
            for w in (0.0, 600.0, 5 * 3600.0, 50 * 3600.0):
                want = cal.add_working(pd.Timestamp(int(t * 1e9), tz="UTC"), w).value / 1e9
                assert cal.add_working_s(t, w) == pytest.approx(want, abs=1e-3)
            want = cal.next_working(pd.Timestamp(int(t * 1e9), tz="UTC")).value / 1e9
            assert cal.next_working_s(t) == pytest.approx(want, abs=1e-3)


def test_empty_calendar_cannot_finish_work():
    cal = Calendar(())
    assert cal.weekly_hours == 0
    with pytest.raises(InputError, match="no working time"):
        cal.add_working(ts("2024-01-01"), 60)


# ---------------------------------------------------------------- discovery
def _office_log(hours=(8, 17)):
    proc = Process(
        # the 24/7 pool comes first, so work reaches it round the clock
        steps=[Step("Intake", "agents", 40), Step("Review", "clerks", 20)],
        pools={"agents": Pool(3), "clerks": Pool(2, hours=hours)},
        interarrival=30,
    )
    return leanops.from_frame(generate(proc, n_cases=800, seed=11).log)


def test_discover_calendar_finds_planted_office_hours():
    log = _office_log()
    per_pool = discover_calendar(log, by="pool")
    assert per_pool["clerks"] == Calendar.parse("Mon-Fri 08:00-17:00")
    assert per_pool["agents"].weekly_hours >= 160  # 24/7 pool (a quiet hour may drop)
    per_res = discover_calendar(log, by="resource")
    assert set(per_res) == {"clerks_0", "clerks_1", "agents_0", "agents_1", "agents_2"}
    assert discover_calendar(log, resource="clerks_1") == Calendar.parse("Mon-Fri 08:00-17:00")


def test_discover_calendar_other_hours_and_errors():
    log = _office_log(hours=(9, 15))
    assert discover_calendar(log, resource="clerks_0") == Calendar.parse("Mon-Fri 09:00-15:00")
    with pytest.raises(InputError, match="clerks_0"):
        discover_calendar(log, resource="clerk_0")
    with pytest.raises(InputError, match="by"):
        discover_calendar(log, by="team")


def test_discover_calendar_on_bundled_log_is_valid():
    log = leanops.datasets.load("production")
    cal = discover_calendar(log)
    assert 0 < cal.weekly_hours <= 168
    assert Calendar.parse(str(cal), tz=cal.tz) == cal  # the log's local zone (issue 17)
