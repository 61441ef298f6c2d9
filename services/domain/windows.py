"""Event-time buckets, windows and the stream clock. Pure: every "now" is passed in.

Facts are counted in buckets of two sizes: one minute (kept a little over an hour, for the 5m/15m/30m/1h
windows) and fifteen minutes (kept a little over a day, for 24h and ``today``). Every IANA time zone's offset is
a multiple of 15 minutes, so a day that starts at a configured local reset time always begins on a
15-minute bucket. A trailing window is the sum of the buckets that start inside it, including the current,
partial one: "last 15 minutes" at 10:07:30 covers 09:53:00–10:07:30 (up to one bucket more than its length).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from services.domain.calendars import local_day_start
from services.domain.counters import total

MINUTE_MS = 60_000
QUARTER_MS = 15 * MINUTE_MS
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS

# window name -> (bucket level, length in ms)
TRAILING = {
    "5m": ("m", 5 * MINUTE_MS),
    "15m": ("m", 15 * MINUTE_MS),
    "30m": ("m", 30 * MINUTE_MS),
    "1h": ("m", HOUR_MS),
    "24h": ("q", DAY_MS),
}
WINDOWS = ("5m", "15m", "30m", "1h", "24h", "today", "all")
LEVEL_SIZE = {"m": MINUTE_MS, "q": QUARTER_MS}
# Day buckets ("d"): local days of a scope's time zone (``DayCalendar``), not a fixed grid, for the few counters
# that per-day, per-week and per-month figures need (catalogue.DAY_COUNTERS). Kept for today and the 31 days before,
# so a calendar month (at most 31 days) can be measured to date, and a week compared with the week before it.
DAY_KEEP_MS = 32 * DAY_MS


def bucket_start(t_ms: int, size_ms: int) -> int:
    return t_ms - t_ms % size_ms


@dataclass(frozen=True)
class Retention:
    """How long buckets are kept after stream time passes them, and the grace period for late events."""

    grace_ms: int = 5 * MINUTE_MS

    def cutoff(self, level: str, stream_ms: int) -> int:
        """Buckets of ``level`` starting before this are dropped (and late facts for them are not counted)."""
        if level == "d":
            return bucket_start(stream_ms - DAY_KEEP_MS - self.grace_ms, QUARTER_MS)
        keep = HOUR_MS + MINUTE_MS if level == "m" else DAY_MS + HOUR_MS + QUARTER_MS
        return bucket_start(stream_ms - keep - self.grace_ms, LEVEL_SIZE[level])

    def is_late(self, t_ms: int, stream_ms: int) -> bool:
        """An event is late when its time is older than stream time minus the grace period."""
        return t_ms < stream_ms - self.grace_ms


def window_start(window: str, now_ms: int) -> tuple[str, int]:
    """(bucket level, first bucket start) of a trailing window at ``now_ms``."""
    level, length = TRAILING[window]
    size = LEVEL_SIZE[level]
    return level, bucket_start(now_ms - length + size, size)


def sum_buckets(buckets: Mapping[int, Mapping[str, int]], start_ms: int, end_ms: int | None = None) -> dict[str, int]:
    """Sum of the buckets whose start is in [start_ms, end_ms)."""
    return total(
        figures for start, figures in buckets.items() if start >= start_ms and (end_ms is None or start < end_ms)
    )


class DayCalendar:
    """Local days of one IANA zone with a daily reset time: ``start(t)`` is the start of the day holding ``t``.

    Remembers the last day it computed, so the usual case (facts of the same day) costs two comparisons. Equal
    and hashed by identity (facts hold them): get them from ``days(timezone, reset)``, one per zone and reset.
    """

    __slots__ = ("_span", "reset", "timezone")

    def __init__(self, timezone: str = "UTC", reset: str = "00:00") -> None:
        self.timezone, self.reset = timezone, reset
        self._span = (0, 0)  # one tuple, replaced whole: safe to share between threads

    def start(self, t_ms: int) -> int:
        start, end = self._span
        if start <= t_ms < end:
            return start
        start = local_day_start(self.timezone, t_ms, self.reset)
        end = local_day_start(self.timezone, start + DAY_MS + 2 * HOUR_MS, self.reset)  # 23 h or 25 h on DST days
        self._span = (start, end)
        return start

    def previous(self, day_start_ms: int) -> int:
        """Start of the day before the one starting at ``day_start_ms``."""
        return self.start(day_start_ms - 1)


_DAYS: dict[tuple[str, str], DayCalendar] = {}


def days(timezone: str = "UTC", reset: str = "00:00") -> DayCalendar:
    """The one ``DayCalendar`` of a zone and reset time (facts hold them and they compare by identity)."""
    found = _DAYS.get((timezone, reset))
    if found is None:
        found = _DAYS.setdefault((timezone, reset), DayCalendar(timezone, reset))
    return found


UTC_DAYS = days()


class StreamClock:
    """Stream time of one partition: the newest event time seen, advanced by the wall clock while no newer event
    arrives, and never more than ``max_ahead_ms`` ahead of the wall clock.

    So idle queues still age out of windows, and a replay of old history behaves like live traffic; one event
    with a wrong clock cannot drag time forward: the engine does not apply an event the clock does not
    :meth:`admit`, and :meth:`now` is capped even if the wall clock itself jumps back.
    """

    def __init__(self, max_ahead_ms: int | None = None) -> None:
        self.max_event_ms: int | None = None
        self.max_ahead_ms = max_ahead_ms
        self._seen_at_wall_ms = 0

    def admits(self, event_ms: int, wall_ms: int) -> bool:
        """Whether an event at ``event_ms`` may move this clock: not further ahead of the wall clock than allowed."""
        return self.max_ahead_ms is None or event_ms <= wall_ms + self.max_ahead_ms

    def observe(self, event_ms: int, wall_ms: int) -> None:
        if self.max_event_ms is None or event_ms > self.max_event_ms:
            self.max_event_ms = event_ms
            self._seen_at_wall_ms = wall_ms

    def now(self, wall_ms: int) -> int | None:
        if self.max_event_ms is None:
            return None
        t = self.max_event_ms + max(0, wall_ms - self._seen_at_wall_ms)
        if self.max_ahead_ms is not None and t > wall_ms + self.max_ahead_ms:
            return wall_ms + self.max_ahead_ms
        return t
