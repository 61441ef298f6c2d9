"""Business-hour arithmetic with literal instants in explicit time zones (offsets written out in each ISO time)."""

from datetime import date, datetime

import pytest
from hypothesis import given, settings, strategies as st

from services.domain.calendars import (
    Calendar, TimeRange, add_business_ms, business_ms, is_open, local_day_start, next_open_ms, parse_days,
)

H = 3_600_000
M = 60_000


def ms(iso: str) -> int:
    """Epoch ms of an ISO 8601 time that carries its UTC offset."""
    t = datetime.fromisoformat(iso)
    assert t.utcoffset() is not None, iso
    return int(t.timestamp()) * 1000 + t.microsecond // 1000


BRUSSELS_OFFICE = Calendar.weekly(
    "Europe/Brussels", {"mon-fri": ["08:00-12:00", "13:00-18:00"]}, holidays=[date(2026, 12, 25)], name="office"
)
NY_9_TO_5 = Calendar.weekly("America/New_York", {"mon-fri": ["09:00-17:00"]}, name="ny")
NIGHT_UTC = Calendar.weekly("UTC", {"mon-fri": ["22:00-06:00"]}, holidays=[date(2026, 1, 13)], name="night")
BRUSSELS_SUNDAY = Calendar.weekly("Europe/Brussels", {"sun": ["00:00-24:00"]})
BRUSSELS_SAT_NIGHT = Calendar.weekly("Europe/Brussels", {"sat": ["22:00-06:00"]})
NY_EARLY = Calendar.weekly("America/New_York", {"daily": ["00:00-04:00"]})
NY_SUNDAY = Calendar.weekly("America/New_York", {"sun": ["00:00-24:00"]})
ALWAYS_BRUSSELS = Calendar.always("Europe/Brussels")
# Whole days but with a holiday far away: not the 24/7 fast path, so the per-day loop is exercised.
WHOLE_DAYS_SLOW = Calendar.weekly("Europe/Brussels", {"daily": ["00:00-24:00"]}, holidays=[date(2031, 1, 1)])
UTC_9_TO_17 = Calendar.weekly("UTC", {"mon-fri": ["09:00-17:00"]})
OVERLAPPING = Calendar.weekly("UTC", {"mon": ["08:00-12:00", "10:00-14:00"], "sun": ["20:00-10:00"]})


@pytest.mark.parametrize(
    "calendar, start, end, expected_ms",
    [
        # weekend: Fri 17:00-18:00 and Mon 08:00-09:00
        (BRUSSELS_OFFICE, "2026-01-09T17:00:00+01:00", "2026-01-12T09:00:00+01:00", 2 * H),
        # lunch break does not count
        (BRUSSELS_OFFICE, "2026-01-12T11:00:00+01:00", "2026-01-12T14:00:00+01:00", 2 * H),
        # both ends in closed time
        (BRUSSELS_OFFICE, "2026-01-10T10:00:00+01:00", "2026-01-11T10:00:00+01:00", 0),
        (BRUSSELS_OFFICE, "2026-01-12T10:00:00+01:00", "2026-01-12T10:00:00+01:00", 0),
        (BRUSSELS_OFFICE, "2026-01-12T10:00:00+01:00", "2026-01-12T09:00:00+01:00", 0),
        # a full week: 5 x 9 h
        (BRUSSELS_OFFICE, "2026-01-12T00:00:00+01:00", "2026-01-19T00:00:00+01:00", 45 * H),
        # holiday Fri 2026-12-25: Thu 17:00-18:00 and Mon 08:00-10:00
        (BRUSSELS_OFFICE, "2026-12-24T17:00:00+01:00", "2026-12-28T10:00:00+01:00", 3 * H),
        # DST spring forward in Brussels (Sun 2026-03-29): Fri 08:00 CET -> Mon 18:00 CEST = 2 x 9 h
        (BRUSSELS_OFFICE, "2026-03-27T08:00:00+01:00", "2026-03-30T18:00:00+02:00", 18 * H),
        (BRUSSELS_SUNDAY, "2026-03-28T12:00:00+01:00", "2026-03-30T12:00:00+02:00", 23 * H),
        (BRUSSELS_SUNDAY, "2026-10-24T12:00:00+02:00", "2026-10-26T12:00:00+01:00", 25 * H),
        # over-midnight range across the spring-forward night: 22:00 CET -> 06:00 CEST
        (BRUSSELS_SAT_NIGHT, "2026-03-28T00:00:00+01:00", "2026-03-30T00:00:00+02:00", 7 * H),
        (BRUSSELS_SAT_NIGHT, "2026-10-24T00:00:00+02:00", "2026-10-26T00:00:00+01:00", 9 * H),
        # New York: DST starts Sun 2026-03-08, ends Sun 2026-11-01
        (NY_EARLY, "2026-03-08T00:00:00-05:00", "2026-03-08T12:00:00-04:00", 3 * H),
        (NY_EARLY, "2026-11-01T00:00:00-04:00", "2026-11-01T12:00:00-05:00", 5 * H),
        (NY_SUNDAY, "2026-11-01T00:00:00-04:00", "2026-11-02T00:00:00-05:00", 25 * H),
        (NY_9_TO_5, "2026-03-06T16:00:00-05:00", "2026-03-09T10:00:00-04:00", 2 * H),
        # over midnight: Friday's 22:00-06:00 runs into Saturday; no range starts Saturday or Sunday
        (NIGHT_UTC, "2026-01-09T20:00:00+00:00", "2026-01-10T20:00:00+00:00", 8 * H),
        (NIGHT_UTC, "2026-01-10T00:00:00+00:00", "2026-01-12T23:00:00+00:00", 6 * H + 1 * H),
        # holiday Tue 2026-01-13: Monday's range still runs into it; Tuesday's range does not start
        (NIGHT_UTC, "2026-01-12T12:00:00+00:00", "2026-01-14T12:00:00+00:00", 8 * H),
        # overlapping ranges count once: Mon 08:00-14:00, Sun 20:00 -> Mon 10:00 overlaps too
        (OVERLAPPING, "2026-01-11T00:00:00+00:00", "2026-01-13T00:00:00+00:00", 18 * H),
        # 24/7 equals calendar time, across DST and on both code paths
        (ALWAYS_BRUSSELS, "2026-03-28T12:00:00+01:00", "2026-03-30T12:00:00+02:00", 47 * H),
        (WHOLE_DAYS_SLOW, "2026-03-28T12:00:00+01:00", "2026-03-30T12:00:00+02:00", 47 * H),
        (WHOLE_DAYS_SLOW, "2026-10-24T12:00:00+02:00", "2026-10-26T12:00:00+01:00", 49 * H),
        # long span: 13 weeks from a Monday = 65 working days x 8 h
        (UTC_9_TO_17, "2026-01-05T00:00:00+00:00", "2026-04-06T00:00:00+00:00", 65 * 8 * H),
        (WHOLE_DAYS_SLOW, "2026-01-01T00:00:00+01:00", "2026-04-01T00:00:00+02:00", 90 * 24 * H - H),
    ],
)
def test_business_ms(calendar, start, end, expected_ms):
    assert business_ms(calendar, ms(start), ms(end)) == expected_ms


@pytest.mark.parametrize(
    "calendar, start, amount_ms, expected",
    [
        # chatwoot PR 13392: Friday 16:30 + 1 h under Mon-Fri 9-17 is Monday 09:30, not Friday 17:30
        (NY_9_TO_5, "2026-01-09T16:30:00-05:00", 1 * H, "2026-01-12T09:30:00-05:00"),
        # over the lunch break
        (BRUSSELS_OFFICE, "2026-01-12T11:30:00+01:00", 1 * H, "2026-01-12T13:30:00+01:00"),
        # start in closed time
        (BRUSSELS_OFFICE, "2026-01-10T10:00:00+01:00", 30 * M, "2026-01-12T08:30:00+01:00"),
        # lands exactly on closing time: the deadline is the close, not the next opening
        (BRUSSELS_OFFICE, "2026-01-09T17:00:00+01:00", 1 * H, "2026-01-09T18:00:00+01:00"),
        # across the Brussels spring-forward weekend
        (BRUSSELS_OFFICE, "2026-03-27T17:00:00+01:00", 2 * H, "2026-03-30T09:00:00+02:00"),
        # across the holiday
        (BRUSSELS_OFFICE, "2026-12-24T17:30:00+01:00", 1 * H, "2026-12-28T08:30:00+01:00"),
        # New York spring forward
        (NY_9_TO_5, "2026-03-06T16:00:00-05:00", 2 * H, "2026-03-09T10:00:00-04:00"),
        (NY_EARLY, "2026-03-08T00:00:00-05:00", 3 * H + 30 * M, "2026-03-09T00:30:00-04:00"),
        # over midnight: Friday's range gives 7 h to Sat 06:00, then Monday 22:00 + 3 h
        (NIGHT_UTC, "2026-01-09T23:00:00+00:00", 10 * H, "2026-01-13T01:00:00+00:00"),
        # 24/7: plain addition, also across DST
        (ALWAYS_BRUSSELS, "2026-03-28T12:00:00+01:00", 24 * H, "2026-03-29T13:00:00+02:00"),
        (WHOLE_DAYS_SLOW, "2026-03-28T12:00:00+01:00", 24 * H, "2026-03-29T13:00:00+02:00"),
        # zero amount: the start itself, even when closed
        (BRUSSELS_OFFICE, "2026-01-10T10:00:00+01:00", 0, "2026-01-10T10:00:00+01:00"),
        # 30 business days of 8 h = 6 weeks
        (UTC_9_TO_17, "2026-01-05T09:00:00+00:00", 30 * 8 * H, "2026-02-13T17:00:00+00:00"),
    ],
)
def test_add_business_ms(calendar, start, amount_ms, expected):
    deadline = add_business_ms(calendar, ms(start), amount_ms)
    assert deadline == ms(expected)
    assert business_ms(calendar, ms(start), deadline) == amount_ms


@pytest.mark.parametrize(
    "calendar, at, expected",
    [
        (BRUSSELS_OFFICE, "2026-01-12T08:00:00+01:00", True),  # opening instant is open
        (BRUSSELS_OFFICE, "2026-01-12T11:59:59+01:00", True),
        (BRUSSELS_OFFICE, "2026-01-12T12:00:00+01:00", False),  # closing instant is closed
        (BRUSSELS_OFFICE, "2026-01-10T10:00:00+01:00", False),  # Saturday
        (BRUSSELS_OFFICE, "2026-12-25T10:00:00+01:00", False),  # holiday
        (BRUSSELS_OFFICE, "2026-07-06T07:30:00+02:00", False),  # summer: 05:30 UTC, before 08:00 local
        (BRUSSELS_OFFICE, "2026-07-06T08:30:00+02:00", True),
        (NIGHT_UTC, "2026-01-13T05:59:00+00:00", True),  # Monday's night range on the Tuesday holiday
        (NIGHT_UTC, "2026-01-13T22:30:00+00:00", False),  # Tuesday's own range: holiday
        (NIGHT_UTC, "2026-01-10T03:00:00+00:00", True),  # Friday night, Saturday morning
        (NIGHT_UTC, "2026-01-11T03:00:00+00:00", False),  # Saturday night: no range starts Saturday
        (ALWAYS_BRUSSELS, "2026-03-29T02:30:00+01:00", True),
    ],
)
def test_is_open(calendar, at, expected):
    assert is_open(calendar, ms(at)) is expected


@pytest.mark.parametrize(
    "calendar, at, expected",
    [
        (BRUSSELS_OFFICE, "2026-01-12T12:30:00+01:00", "2026-01-12T13:00:00+01:00"),
        (BRUSSELS_OFFICE, "2026-01-09T18:00:00+01:00", "2026-01-12T08:00:00+01:00"),
        (BRUSSELS_OFFICE, "2026-01-12T09:00:00+01:00", "2026-01-12T09:00:00+01:00"),
    ],
)
def test_next_open_ms(calendar, at, expected):
    assert next_open_ms(calendar, ms(at)) == ms(expected)


@pytest.mark.parametrize(
    "tz, at, reset, expected",
    [
        ("Europe/Brussels", "2026-01-12T15:00:00+01:00", "00:00", "2026-01-12T00:00:00+01:00"),
        ("Europe/Brussels", "2026-01-12T00:00:00+01:00", "00:00", "2026-01-12T00:00:00+01:00"),
        ("Europe/Brussels", "2026-01-12T05:00:00+01:00", "06:00", "2026-01-11T06:00:00+01:00"),
        ("Europe/Brussels", "2026-07-12T23:30:00+00:00", "00:00", "2026-07-13T00:00:00+02:00"),
        ("UTC", "2026-07-12T23:30:00+00:00", "00:00", "2026-07-12T00:00:00+00:00"),
        ("America/New_York", "2026-03-08T12:00:00-04:00", "00:00", "2026-03-08T00:00:00-05:00"),
        # reset inside the spring-forward gap happens at the transition (03:00 EDT)
        ("America/New_York", "2026-03-08T12:00:00-04:00", "02:30", "2026-03-08T03:00:00-04:00"),
        # reset inside the fall-back repeat: its first occurrence (EDT), seen from the second pass (EST)
        ("America/New_York", "2026-11-01T01:45:00-05:00", "01:30", "2026-11-01T01:30:00-04:00"),
    ],
)
def test_local_day_start(tz, at, reset, expected):
    assert local_day_start(tz, ms(at), reset) == ms(expected)


@pytest.mark.parametrize(
    "tz, day_start, next_day_start, hours",
    [
        ("Europe/Brussels", "2026-03-29T12:00:00+02:00", "2026-03-30T12:00:00+02:00", 23),
        ("Europe/Brussels", "2026-10-25T12:00:00+01:00", "2026-10-26T12:00:00+01:00", 25),
        ("America/New_York", "2026-11-01T12:00:00-05:00", "2026-11-02T12:00:00-05:00", 25),
    ],
)
def test_today_lasts_23_or_25_hours_on_dst_days(tz, day_start, next_day_start, hours):
    assert local_day_start(tz, ms(next_day_start)) - local_day_start(tz, ms(day_start)) == hours * H


@pytest.mark.parametrize(
    "text, start, end, over_midnight",
    [("08:00-12:00", 480, 720, False), ("22:00-06:00", 1320, 360, True), ("00:00-24:00", 0, 1440, False),
     ("13:30 - 18:15", 810, 1095, False), ("18:00-00:00", 1080, 0, True)],
)
def test_time_range_parse(text, start, end, over_midnight):
    r = TimeRange.parse(text)
    assert (r.start, r.end, r.over_midnight) == (start, end, over_midnight)


@pytest.mark.parametrize("text", ["8-12", "08:00", "25:00-26:00", "08:60-09:00", "08:00-08:00", "24:00-06:00",
                                  "08:00-24:30", "", "08h00-12h00"])
def test_time_range_rejects(text):
    with pytest.raises(ValueError, match="time range|invalid time"):
        TimeRange.parse(text)


@pytest.mark.parametrize("key, days", [("mon", [0]), ("mon-fri", [0, 1, 2, 3, 4]), ("fri-mon", [4, 5, 6, 0]),
                                       ("Sat-Sun", [5, 6]), ("daily", [0, 1, 2, 3, 4, 5, 6])])
def test_parse_days(key, days):
    assert parse_days(key) == days


@pytest.mark.parametrize("key", ["monday", "mon-", "mo-fr", "weekdays"])
def test_parse_days_rejects(key):
    with pytest.raises(ValueError, match="invalid day"):
        parse_days(key)


def test_calendar_rejects_unknown_time_zone_and_empty_week():
    with pytest.raises(ValueError, match="Europe/Brussel"):
        Calendar.weekly("Europe/Brussel", {"mon": ["08:00-12:00"]})
    with pytest.raises(ValueError, match="at least one"):
        Calendar.weekly("UTC", {})


def test_calendar_made_only_of_holidays_does_not_loop_forever():
    every_monday = [date(2026, 1, 5) + (date(2026, 1, 12) - date(2026, 1, 5)) * i for i in range(600)]
    cal = Calendar.weekly("UTC", {"mon": ["09:00-10:00"]}, holidays=every_monday)
    assert business_ms(cal, ms("2026-01-01T00:00:00+00:00"), ms("2036-01-01T00:00:00+00:00")) == 0
    with pytest.raises(ValueError, match="no business hours"):
        add_business_ms(cal, ms("2026-01-01T00:00:00+00:00"), H)


# --- properties ------------------------------------------------------------------------------------------

CALENDARS = [BRUSSELS_OFFICE, NY_9_TO_5, NIGHT_UTC, BRUSSELS_SAT_NIGHT, NY_EARLY, OVERLAPPING, WHOLE_DAYS_SLOW,
             ALWAYS_BRUSSELS, Calendar.weekly("Australia/Lord_Howe", {"sun-mon": ["01:00-03:00", "23:00-02:00"]})]
instants = st.integers(ms("2025-01-01T00:00:00+00:00"), ms("2028-12-31T00:00:00+00:00"))
amounts = st.integers(1, 40 * 24 * H)


@settings(max_examples=200, deadline=None)
@given(calendar=st.sampled_from(CALENDARS), start=instants, amount=amounts)
def test_add_business_ms_inverts_business_ms(calendar, start, amount):
    deadline = add_business_ms(calendar, start, amount)
    assert deadline >= start + 1
    assert business_ms(calendar, start, deadline) == amount
    # the deadline is the first such instant: one millisecond earlier, one millisecond is missing
    assert business_ms(calendar, start, deadline - 1) == amount - 1
    assert is_open(calendar, deadline - 1)


@settings(max_examples=200, deadline=None)
@given(calendar=st.sampled_from(CALENDARS), a=instants, b=instants, c=instants)
def test_business_ms_is_monotonic_additive_and_bounded_by_calendar_time(calendar, a, b, c):
    s, m, e = sorted((a, b, c))
    total = business_ms(calendar, s, e)
    assert 0 <= business_ms(calendar, s, m) <= total <= e - s
    assert business_ms(calendar, s, m) + business_ms(calendar, m, e) == total
    assert business_ms(calendar, m, m + 1) == (1 if is_open(calendar, m) else 0)
