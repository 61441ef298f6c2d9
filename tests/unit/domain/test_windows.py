"""Buckets, trailing windows and the stream clock (services/domain/windows.py)."""

from services.domain.windows import MINUTE_MS, Retention, StreamClock, bucket_start, sum_buckets, window_start

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
