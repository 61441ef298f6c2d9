"""Buckets, trailing windows and the stream clock (services/domain/windows.py)."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.domain.windows import (
    DAY_KEEP_MS,
    DAY_MS,
    HOUR_MS,
    LEVEL_SIZE,
    MINUTE_MS,
    QUARTER_MS,
    TRAILING,
    UTC_DAYS,
    DayCalendar,
    Retention,
    StreamClock,
    bucket_start,
    days,
    sum_buckets,
    window_start,
)

T = 1_795_000_020_000  # on a minute boundary
SKEW = 5 * MINUTE_MS


def test_stream_time_is_the_newest_event_advanced_by_wall_time_while_idle():
    clock = StreamClock()
    assert clock.now(T) is None
    clock.observe(T - 60_000, wall_ms=T)
    clock.observe(T - 90_000, wall_ms=T + 1_000)  # older: no change
    assert clock.now(T) == T - 60_000
    assert clock.now(T + 10_000) == T - 50_000


def test_the_bound_admits_events_up_to_the_skew_ahead_of_the_wall_clock():
    clock = StreamClock(SKEW)
    assert clock.admits(T + SKEW, wall_ms=T) and not clock.admits(T + SKEW + 1, wall_ms=T)
    assert clock.admits(T - 86_400_000 * 365, wall_ms=T)  # history is never refused
    assert StreamClock().admits(T + 86_400_000 * 365 * 4, wall_ms=T)  # unbounded without a skew


def test_stream_time_never_runs_ahead_of_the_wall_clock_plus_the_skew_even_when_the_wall_clock_jumps_back():
    clock = StreamClock(SKEW)
    clock.observe(T + SKEW, wall_ms=T)  # the furthest ahead an event may be
    assert clock.now(T) == T + SKEW and clock.now(T + 60_000) == T + SKEW + 60_000
    # the worker's clock is stepped back an hour (NTP): stream time is capped, not carried on from the event
    assert clock.now(T - 3_600_000) == T - 3_600_000 + SKEW
    assert not clock.admits(T + SKEW, wall_ms=T - 3_600_000)
    # and it resumes from the newest event once the wall clock has caught up
    assert clock.now(T + 120_000) == T + SKEW + 120_000


def test_trailing_windows_start_on_bucket_boundaries_and_sum_the_buckets_inside():
    now = T + 7 * MINUTE_MS + 30_000
    assert window_start("5m", now) == ("m", bucket_start(now, MINUTE_MS) - 4 * MINUTE_MS)
    buckets = {T + i * MINUTE_MS: {"created": 1} for i in range(8)}  # up to the current minute
    level, start = window_start("5m", now)
    assert sum_buckets(buckets, start) == {"created": 5}
    assert sum_buckets(buckets, start, start + 2 * MINUTE_MS) == {"created": 2}


def test_lateness_is_relative_to_stream_time_minus_the_grace_period():
    retention = Retention(grace_ms=SKEW)
    assert not retention.is_late(T - SKEW, T) and retention.is_late(T - SKEW - 1, T)


# -- buckets and trailing windows ---------------------------------------------------------------------------------

def utc_ms(*args: int, zone: str = "UTC") -> int:
    """Epoch ms of a local wall time in ``zone`` (computed with zoneinfo, independently of the code under test)."""
    return int(datetime(*args, tzinfo=ZoneInfo(zone)).timestamp() * 1000)


@given(t=st.integers(0, 4_000_000_000_000), size=st.sampled_from([MINUTE_MS, QUARTER_MS]))
def test_a_bucket_is_the_size_aligned_start_at_or_before_the_time(t, size):
    start = bucket_start(t, size)
    assert start % size == 0 and start <= t < start + size
    assert bucket_start(start, size) == start


def test_a_trailing_window_at_10_07_30_covers_the_buckets_from_09_53():
    now = utc_ms(2026, 11, 17, 10, 7, 30)
    assert window_start("15m", now) == ("m", utc_ms(2026, 11, 17, 9, 53))
    assert window_start("1h", now) == ("m", utc_ms(2026, 11, 17, 9, 8))
    assert window_start("24h", now) == ("q", utc_ms(2026, 11, 16, 10, 15))  # 96 quarters, the current one partial


@given(now=st.integers(T - DAY_MS, T + DAY_MS), window=st.sampled_from(sorted(TRAILING)))
def test_a_trailing_window_holds_exactly_its_length_in_buckets_the_current_one_included(now, window):
    level, start = window_start(window, now)
    size = LEVEL_SIZE[level]
    length = TRAILING[window][1]
    assert level == TRAILING[window][0] and start % size == 0
    assert len(range(start, now + 1, size)) == length // size  # bucket starts in [start, now]
    assert length - size <= now - start < length


def test_sum_buckets_takes_the_starts_in_a_half_open_range():
    buckets = {0: {"created": 1}, 60_000: {"created": 2, "resolved": 1}, 120_000: {"created": 4}}
    assert sum_buckets(buckets, 60_000) == {"created": 6, "resolved": 1}
    assert sum_buckets(buckets, 0, 120_000) == {"created": 3, "resolved": 1}  # the bucket at the end is left out
    assert sum_buckets(buckets, 30_000, 60_000) == {}  # no bucket starts in there
    assert sum_buckets(buckets, 180_000) == {} and sum_buckets({}, 0) == {}
    assert buckets[60_000] == {"created": 2, "resolved": 1}  # the inputs are not changed


# -- retention ----------------------------------------------------------------------------------------------------

@given(stream=st.integers(T - 30 * DAY_MS, T + 30 * DAY_MS), grace=st.sampled_from([0, MINUTE_MS, SKEW, HOUR_MS]))
def test_retention_keeps_every_bucket_a_window_or_an_on_time_event_needs(stream, grace):
    retention = Retention(grace_ms=grace)
    for window, (level, _) in TRAILING.items():
        cutoff = retention.cutoff(level, stream)
        assert window_start(window, stream)[1] >= cutoff, window
        # an event just inside the grace period is not late, and its bucket is still there
        oldest_on_time = stream - grace
        assert not retention.is_late(oldest_on_time, stream)
        assert bucket_start(oldest_on_time, LEVEL_SIZE[level]) >= cutoff, window
    # and not much more: a bucket older than an hour (minutes) or a day (quarters) plus slack and grace goes
    assert retention.cutoff("m", stream) > stream - grace - HOUR_MS - 3 * MINUTE_MS
    assert retention.cutoff("q", stream) > stream - grace - DAY_MS - HOUR_MS - 2 * QUARTER_MS


@pytest.mark.parametrize("zone, reset", [("UTC", "00:00"), ("Pacific/Kiritimati", "00:00"),
                                         ("Pacific/Pago_Pago", "06:07"), ("Europe/Brussels", "02:30")])
@pytest.mark.parametrize("stream", [utc_ms(2026, 3, 29, 12), utc_ms(2026, 11, 3, 23, 59), T])
def test_day_buckets_are_kept_for_two_weeks_of_local_days(zone, reset, stream):
    """Today and the 13 days before (a week against the week before) stay, whatever the zone; within 16 days."""
    calendar = days(zone, reset)
    retention = Retention()
    day = calendar.start(stream)
    for _ in range(13):
        day = calendar.previous(day)
    assert day >= retention.cutoff("d", stream)
    assert retention.cutoff("d", stream) >= stream - DAY_KEEP_MS - retention.grace_ms - QUARTER_MS


def test_cutoffs_move_forward_with_stream_time():
    retention = Retention()
    for level in ("m", "q", "d"):
        cutoffs = [retention.cutoff(level, T + i * 7 * MINUTE_MS) for i in range(300)]
        assert cutoffs == sorted(cutoffs), level


# -- local days ---------------------------------------------------------------------------------------------------

def test_a_day_starts_at_the_local_reset_time():
    calendar = DayCalendar("America/New_York", "06:00")
    assert calendar.start(utc_ms(2026, 6, 10, 14, 30, zone="America/New_York")) == utc_ms(
        2026, 6, 10, 6, zone="America/New_York")
    # before the reset, it is still the day before
    assert calendar.start(utc_ms(2026, 6, 10, 5, 59, zone="America/New_York")) == utc_ms(
        2026, 6, 9, 6, zone="America/New_York")
    start = utc_ms(2026, 6, 10, 6, zone="America/New_York")
    assert calendar.start(start) == start and calendar.start(start - 1) == calendar.previous(start)


@pytest.mark.parametrize("day, hours", [((2026, 3, 29), 23), ((2026, 10, 25), 25), ((2026, 6, 1), 24)])
def test_days_are_23_or_25_hours_long_on_dst_days(day, hours):
    """Europe/Brussels moves its clocks on the last Sundays of March (02:00 -> 03:00) and October (03:00 -> 02:00)."""
    calendar = DayCalendar("Europe/Brussels")
    midnight = utc_ms(*day, zone="Europe/Brussels")
    next_midnight = utc_ms(*(datetime(*day) + timedelta(days=1)).timetuple()[:3], zone="Europe/Brussels")
    assert next_midnight - midnight == hours * HOUR_MS
    for t in (midnight, midnight + 2 * HOUR_MS + 30 * MINUTE_MS, midnight + 12 * HOUR_MS, next_midnight - 1):
        assert calendar.start(t) == midnight, t
    assert calendar.start(next_midnight) == next_midnight
    assert calendar.previous(next_midnight) == midnight


@settings(max_examples=60)
@given(times=st.lists(st.integers(utc_ms(2026, 3, 20), utc_ms(2026, 4, 10)), min_size=1, max_size=30),
       zone=st.sampled_from(["UTC", "Europe/Brussels", "America/New_York", "Asia/Kolkata"]),
       reset=st.sampled_from(["00:00", "02:30", "06:07"]))
def test_a_calendar_gives_the_same_day_whatever_order_it_is_asked_in(times, zone, reset):
    """Asked in any order (it remembers the last day), a calendar answers as a fresh one would, and that answer is
    the latest local reset time at or before ``t``."""
    calendar = DayCalendar(zone, reset)
    for t in times:
        start = calendar.start(t)
        assert start == DayCalendar(zone, reset).start(t)
        assert start <= t < DayCalendar(zone, reset).start(start + DAY_MS + 2 * HOUR_MS)
        local = datetime.fromtimestamp(start / 1000, ZoneInfo(zone))
        if (zone, reset, local.date().isoformat()) == ("Europe/Brussels", "02:30", "2026-03-29"):
            assert local.strftime("%H:%M") == "03:00"  # 02:30 does not exist that day: the day starts at 03:00
        else:
            assert local.strftime("%H:%M") == reset, local


def test_days_gives_one_calendar_per_zone_and_reset():
    assert days() is UTC_DAYS and days("UTC", "00:00") is UTC_DAYS
    brussels = days("Europe/Brussels", "06:07")
    assert days("Europe/Brussels", "06:07") is brussels
    assert brussels.timezone == "Europe/Brussels" and brussels.reset == "06:07"
    assert days("Europe/Brussels") is not brussels and days("Europe/Paris", "06:07") is not brussels
    # calendars compare by identity: two built apart are different keys, the shared one is the same key
    assert DayCalendar("Europe/Brussels", "06:07") != brussels
    assert {brussels: 1}[days("Europe/Brussels", "06:07")] == 1
