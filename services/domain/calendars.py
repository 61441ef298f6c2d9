"""Business-hour calendars: pure time arithmetic over epoch milliseconds (UTC), no wall clock.

A ``Calendar`` is an IANA time zone, a weekly pattern of opening ranges per weekday (several per day, ranges
over midnight allowed) and holidays. Semantics (also in ``docs/sla.md``):

- A range ``22:00-06:00`` on Monday is open from Monday 22:00 to Tuesday 06:00 local time: it **belongs to the
  day it starts**. A holiday closes the ranges that start on that date, so a Monday-night range still runs into
  a Tuesday holiday.
- Range bounds are local wall-clock times. Each bound is the **first instant at which the local clock shows that
  time or later**: a bound inside a spring-forward gap moves to the transition instant (so a range loses the hour
  that does not exist), a bound inside a fall-back repeat is its first occurrence (so ``00:00-24:00`` on that
  day lasts 25 h).
- Ranges are half-open ``[start, end)``; overlapping or touching ranges (also across days) count once.

Functions iterate per local day and per range, never per minute, so a 90-day span costs about 90 small steps.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAY_MINUTES = 24 * 60
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_EPOCH = datetime(1970, 1, 1)
_MS = timedelta(milliseconds=1)
_ONE_DAY = timedelta(days=1)
_RANGE = re.compile(r"^\s*(\d{2}):(\d{2})\s*-\s*(\d{2}):(\d{2})\s*$", re.ASCII)
_TIME = re.compile(r"^\s*(\d{2}):(\d{2})\s*$", re.ASCII)
# add_business_ms gives up after this many consecutive local days without any business time (a calendar
# whose every future day is a holiday would otherwise loop forever).
_MAX_CLOSED_DAYS = 3660


def zone(name: str | ZoneInfo) -> ZoneInfo:
    """The ``ZoneInfo`` for an IANA name; raises ``ValueError`` naming the zone if it is unknown."""
    if isinstance(name, ZoneInfo):
        return name
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise ValueError(f"unknown IANA time zone {name!r}") from None


def parse_time(text: str, *, allow_24: bool = False) -> int:
    """``"HH:MM"`` as minutes after local midnight; ``"24:00"`` only with ``allow_24``."""
    m = _TIME.match(text) if isinstance(text, str) else None
    if m is None:
        raise ValueError(f"invalid time {text!r} (expected HH:MM, e.g. 08:30)")
    return _minutes(int(m[1]), int(m[2]), text, allow_24)


def _minutes(h: int, mi: int, text: str, allow_24: bool) -> int:
    if mi > 59 or h > 24 or (h == 24 and (mi != 0 or not allow_24)):
        raise ValueError(f"invalid time in {text!r} (hours 00-23, minutes 00-59; 24:00 only as a range end)")
    return h * 60 + mi


@dataclass(frozen=True, order=True)
class TimeRange:
    """Opening range of one weekday in local minutes: ``start`` in 0..1439, ``end`` in 1..1440.

    ``end <= start`` means the range runs over midnight and ends the next day.
    """

    start: int
    end: int

    def __post_init__(self) -> None:
        if not (0 <= self.start < DAY_MINUTES and 0 <= self.end <= DAY_MINUTES) or self.start == self.end:
            raise ValueError(f"invalid time range {self.start}-{self.end} (minutes; start and end must differ)")

    @classmethod
    def parse(cls, text: str) -> TimeRange:
        """``"08:00-12:00"``; ``"22:00-06:00"`` runs over midnight; ``"00:00-24:00"`` is the whole day."""
        m = _RANGE.match(text) if isinstance(text, str) else None
        if m is None:
            raise ValueError(f"invalid time range {text!r} (expected HH:MM-HH:MM, e.g. 08:00-12:00)")
        start = _minutes(int(m[1]), int(m[2]), text, allow_24=False)
        end = _minutes(int(m[3]), int(m[4]), text, allow_24=True)
        if start == end:
            raise ValueError(f"invalid time range {text!r}: start equals end (use 00:00-24:00 for a whole day)")
        return cls(start, end)

    @property
    def over_midnight(self) -> bool:
        return self.end <= self.start

    @property
    def end_offset(self) -> int:
        """End in minutes after the local midnight of the day the range belongs to (up to 2879)."""
        return self.end + DAY_MINUTES if self.over_midnight else self.end

    def __str__(self) -> str:
        return f"{self.start // 60:02d}:{self.start % 60:02d}-{self.end // 60:02d}:{self.end % 60:02d}"


def parse_days(key: str) -> list[int]:
    """Weekday indices (Monday = 0) of a key: ``"mon"``, ``"mon-fri"``, ``"fri-mon"`` (wraps) or ``"daily"``."""
    k = key.strip().lower() if isinstance(key, str) else ""
    if k == "daily":
        return list(range(7))
    first, sep, last = k.partition("-")
    if first in WEEKDAYS and (not sep or last in WEEKDAYS):
        a = WEEKDAYS.index(first)
        b = WEEKDAYS.index(last) if sep else a
        return [(a + i) % 7 for i in range((b - a) % 7 + 1)]
    raise ValueError(f"invalid day {key!r} (expected one of {', '.join(WEEKDAYS)}, a span like mon-fri, or daily)")


_ALL_DAY = (TimeRange(0, DAY_MINUTES),)


@dataclass(frozen=True)
class Calendar:
    """Business hours in one IANA time zone. ``week[0]`` holds Monday's ranges, ``week[6]`` Sunday's."""

    timezone: str
    week: tuple[tuple[TimeRange, ...], ...]
    holidays: frozenset[date] = field(default_factory=frozenset)
    name: str = ""
    # Open intervals per local date, filled lazily (see _day_intervals); not part of equality or hashing.
    _days: dict[date, tuple[tuple[int, int], ...]] = field(
        default_factory=dict, init=False, repr=False, compare=False, hash=False
    )

    def __post_init__(self) -> None:
        zone(self.timezone)
        if len(self.week) != 7:
            raise ValueError("a calendar needs ranges for 7 weekdays (Monday first)")
        object.__setattr__(self, "week", tuple(tuple(sorted(day)) for day in self.week))
        object.__setattr__(self, "holidays", frozenset(self.holidays))
        if not any(self.week):
            raise ValueError("a calendar needs at least one opening range")

    @classmethod
    def weekly(
        cls,
        timezone: str,
        hours: Mapping[str, Iterable[str | TimeRange]],
        holidays: Iterable[date] = (),
        name: str = "",
    ) -> Calendar:
        """Build from ``{"mon-fri": ["08:00-12:00", "13:00-18:00"], "sat": ["09:00-12:00"]}``.

        Days not named are closed; a day named under several keys gets the ranges of all of them.
        """
        week: list[list[TimeRange]] = [[] for _ in range(7)]
        for key, ranges in hours.items():
            days = parse_days(key)
            parsed = [r if isinstance(r, TimeRange) else TimeRange.parse(r) for r in ranges]
            for d in days:
                week[d].extend(parsed)
        return cls(timezone, tuple(tuple(d) for d in week), frozenset(holidays), name)

    @classmethod
    def always(cls, timezone: str = "UTC", holidays: Iterable[date] = (), name: str = "24/7") -> Calendar:
        """Open around the clock (24/7); with holidays, closed on those local dates."""
        return cls(timezone, (_ALL_DAY,) * 7, frozenset(holidays), name)

    @property
    def zone(self) -> ZoneInfo:
        return zone(self.timezone)

    @property
    def is_24_7(self) -> bool:
        """Open at every instant: business time equals calendar time."""
        return not self.holidays and all(day == _ALL_DAY for day in self.week)


# --- wall clock <-> epoch ms ------------------------------------------------------------------------------


def local_date(tz: str | ZoneInfo, at_ms: int) -> date:
    """The local calendar date of an instant."""
    return datetime.fromtimestamp(at_ms // 1000, zone(tz)).date()


@lru_cache(maxsize=1 << 14)
def wall_to_ms(tz: str | ZoneInfo, day: date, minute: int) -> int:
    """First instant at which the local clock shows ``day`` + ``minute`` minutes, or later (minute may exceed 1440).

    Inside a fall-back repeat that is the first occurrence; inside a spring-forward gap it is the transition.
    Remembered: the API asks for the same few local days' bounds for every scope it builds a body of.
    """
    z = zone(tz)
    naive = datetime(day.year, day.month, day.day) + timedelta(minutes=minute)
    before = naive.replace(tzinfo=z, fold=0).utcoffset()
    after = naive.replace(tzinfo=z, fold=1).utcoffset()
    assert before is not None and after is not None  # a ZoneInfo gives every datetime an offset
    if after <= before:  # an ordinary time, or a repeated one (fold=0 is its first occurrence)
        return (naive - before - _EPOCH) // _MS
    # Gap: the wall time does not exist. The transition lies in (naive - after, naive - before]; find the first
    # second whose offset is the new one (offsets change on whole seconds).
    lo = (naive - after - _EPOCH) // timedelta(seconds=1)  # before the transition
    hi = (naive - before - _EPOCH) // timedelta(seconds=1)  # after it
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if datetime.fromtimestamp(mid, z).utcoffset() == after:
            hi = mid
        else:
            lo = mid
    return hi * 1000


def local_day_start(tz: str | ZoneInfo, at_ms: int, reset: str = "00:00") -> int:
    """Start of the "today" window that contains ``at_ms`` for a daily reset at local time ``reset``.

    DST-aware: the window is 23 h or 25 h long on change days. A reset inside a spring-forward gap happens at
    the transition; inside a fall-back repeat, at its first occurrence.
    """
    z = zone(tz)
    minute = parse_time(reset)
    today = local_date(z, at_ms)
    start = wall_to_ms(z, today, minute)
    return start if start <= at_ms else wall_to_ms(z, today - _ONE_DAY, minute)


# --- business time ------------------------------------------------------------------------------------------


_MAX_CACHED_DAYS = 20_000


def _day_intervals(calendar: Calendar, day: date) -> tuple[tuple[int, int], ...]:
    """Open intervals ``[a, b)`` in epoch ms of the ranges that belong to local ``day``, sorted by start."""
    cache = calendar._days
    found = cache.get(day)
    if found is not None:
        return found
    out = []
    if day not in calendar.holidays:
        z = calendar.zone
        for r in calendar.week[day.weekday()]:
            a = wall_to_ms(z, day, r.start)
            b = wall_to_ms(z, day, r.end_offset)
            if b > a:  # a range entirely inside a spring-forward gap is empty
                out.append((a, b))
    if len(cache) >= _MAX_CACHED_DAYS:
        cache.clear()
    found = cache[day] = tuple(out)
    return found


def _intervals_from(calendar: Calendar, at_ms: int) -> Iterator[tuple[int, int]]:
    """Open intervals in start order from the local day before ``at_ms`` onwards (may overlap; endless)."""
    day = local_date(calendar.zone, at_ms) - _ONE_DAY
    closed_days = 0
    while True:
        intervals = _day_intervals(calendar, day)
        if intervals:
            closed_days = 0
            yield from intervals
        else:
            closed_days += 1
            if closed_days > _MAX_CLOSED_DAYS:
                raise ValueError(f"calendar {calendar.name!r} has no business hours for {_MAX_CLOSED_DAYS} days")
        day += _ONE_DAY


def business_ms(calendar: Calendar, start_ms: int, end_ms: int) -> int:
    """Business milliseconds between two instants (0 if ``end_ms <= start_ms``)."""
    if end_ms <= start_ms:
        return 0
    if calendar.is_24_7:
        return end_ms - start_ms
    z = calendar.zone
    day = local_date(z, start_ms) - _ONE_DAY
    last = local_date(z, end_ms)  # ranges of later days start after end_ms
    total = 0
    covered = start_ms  # union of overlapping intervals: count each instant once
    while day <= last:
        for a, b in _day_intervals(calendar, day):
            lo, hi = max(a, covered), min(b, end_ms)
            if hi > lo:
                total += hi - lo
                covered = hi
        day += _ONE_DAY
    return total


def add_business_ms(calendar: Calendar, start_ms: int, amount_ms: int) -> int:
    """The first instant at which ``amount_ms`` of business time has elapsed since ``start_ms``.

    ``amount_ms <= 0`` returns ``start_ms``. For ``amount_ms > 0`` the result is always inside (or at the end of)
    an open range, so ``business_ms(c, s, add_business_ms(c, s, a)) == a`` and any later instant has more
    business time or is in a closed period after the deadline.
    """
    if amount_ms <= 0:
        return start_ms
    if calendar.is_24_7:
        return start_ms + amount_ms
    remaining = amount_ms
    covered = start_ms
    for a, b in _intervals_from(calendar, start_ms):
        lo = max(a, covered)
        if b > lo:
            if remaining <= b - lo:
                return lo + remaining
            remaining -= b - lo
            covered = b
    raise AssertionError("unreachable")  # pragma: no cover


def is_open(calendar: Calendar, at_ms: int) -> bool:
    """Whether business hours are in force at ``at_ms`` (ranges are half-open: open at start, closed at end)."""
    if calendar.is_24_7:
        return True
    day = local_date(calendar.zone, at_ms)
    return any(a <= at_ms < b for d in (day - _ONE_DAY, day) for a, b in _day_intervals(calendar, d))


def next_open_ms(calendar: Calendar, at_ms: int) -> int:
    """``at_ms`` if open, else the instant business hours next begin."""
    if is_open(calendar, at_ms):
        return at_ms
    for a, b in _intervals_from(calendar, at_ms):
        if b > at_ms:
            return max(a, at_ms)
    raise AssertionError("unreachable")  # pragma: no cover
