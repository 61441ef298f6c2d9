"""Per-day and per-week figures from a scope's day buckets, and the trend against the previous period. Pure.

The aggregator keeps the counters of ``catalogue.DAY_COUNTERS`` in buckets of local days (today and the 15 days
before): the queue's days (``days:`` of the SLA config) for queue scopes, the default days for the others, UTC
midnight without a config (docs/kpis.md, "Per day and per week"). Here:

- ``day_calendar``: the same days, as the aggregator chose them;
- ``days_body``: one entry per local day, oldest first, with workload, quality and complaints;
- ``trend_body``: ``day`` (today so far against yesterday) and ``week`` (today and the 6 days before, against
  the 7 days before those), each with its complaint rate and the change in it.

Rates compare like with like whatever the length of the period (today is still running): complaint rate =
complaints / resolved, reopen rate = reopened / resolved, CSAT = good / (good + bad); ``null`` without a
denominator.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from services.common.events import from_epoch_ms
from services.domain.counters import rate
from services.domain.goals import MAX_PERIOD_DAYS
from services.domain.slaconfig import SlaConfig
from services.domain.windows import UTC_DAYS, DayCalendar, sum_buckets

DAYS_KEPT = MAX_PERIOD_DAYS  # today and the 31 days before (windows.DAY_KEEP_MS)
CHART_DAYS = 16  # what /v1/days lists unless asked for more: the pages' charts (today and the 15 days before)
WEEK = 7
_QUEUE_BOUND = ("queue", "queue_agent", "queue_category", "queue_agent_category")


def day_calendar(sla: SlaConfig | None, kind: str, queue: str | None) -> DayCalendar:
    """The local days of a scope's day buckets: as ``kpis.SlaKpiConfig.day`` chose them in the aggregator."""
    if sla is None:
        return UTC_DAYS
    return sla.days_for(queue if kind in _QUEUE_BOUND else None)


def _sum(days: Mapping[int, Mapping[str, int]], start: int, end: int) -> dict[str, int]:
    return sum_buckets(days, start, end)


_starts: dict[tuple[str, str, int, int], list[int]] = {}


def starts(calendar: DayCalendar, now_ms: int, n: int) -> list[int]:
    """Starts of the last ``n`` local days, oldest first, the last one holding ``now_ms`` (remembered per day:
    every body asks for them)."""
    today = calendar.start(now_ms)
    key = (calendar.timezone, calendar.reset, today, n)
    found = _starts.get(key)
    if found is None:
        out = [today]
        while len(out) < n:
            out.append(calendar.previous(out[-1]))
        if len(_starts) > 1024:
            _starts.clear()
        found = _starts[key] = out[::-1]
    return found


def quality(c: Mapping[str, int]) -> dict[str, Any]:
    """Complaints and the quality figures a volume is read beside."""
    resolved, complaints = c.get("resolved", 0), c.get("complaints", 0)
    good, bad = c.get("csat_good", 0), c.get("csat_bad", 0)
    fr_count = c.get("fr_count", 0)
    return {
        "created": c.get("created", 0),
        "resolved": resolved,
        "complaints": complaints,
        "complaint_rate": rate(complaints, resolved),
        "reopened": c.get("reopened", 0),
        "reopen_rate": rate(c.get("reopened", 0), resolved),
        "one_touch_rate": rate(c.get("one_touch", 0), resolved),
        "csat": rate(good, good + bad),
        "rated": c.get("rated", 0),
        "first_response_average_seconds": round(c["fr_ms"] / fr_count / 1000, 3) if fr_count else None,
    }


def workload(c: Mapping[str, int]) -> dict[str, Any]:
    """Replies, answered (live, connected), handled and resolved contacts, in total and per channel (agent
    scopes count per channel as ``<name>@<channel>``)."""
    by_channel: dict[str, dict[str, int]] = {}
    for name, value in c.items():
        base, at, channel = name.partition("@")
        if at and value:
            by_channel.setdefault(channel, {"replies": 0, "answered": 0, "handled": 0, "resolved": 0})[base] = value
    return {
        "replies": c.get("replies", 0),
        "answered": c.get("answered", 0),
        "handled": c.get("handled", 0),
        "resolved": c.get("resolved", 0),
        "by_channel": dict(sorted(by_channel.items())),
    }


def local_date(calendar: DayCalendar, start_ms: int) -> str:
    # the local date of the day's start (plus 1 h, so a reset at 00:00 never reads as the day before)
    moment = datetime.fromtimestamp((start_ms + 3_600_000) / 1000, tz=UTC)
    return moment.astimezone(ZoneInfo(calendar.timezone)).date().isoformat()


def days_body(
    days: Mapping[int, Mapping[str, int]], calendar: DayCalendar, now_ms: int, n: int = CHART_DAYS
) -> dict[str, Any]:
    """Per local day, oldest first: workload and quality figures."""
    out = []
    day_starts = starts(calendar, now_ms, n)
    for start, end in zip(day_starts, day_starts[1:] + [now_ms]):
        counters = days.get(start, {})
        out.append(
            {
                "date": local_date(calendar, start),
                "from": from_epoch_ms(start),
                "to": from_epoch_ms(end),
                **quality(counters),
                "workload": workload(counters),
            }
        )
    return {"timezone": calendar.timezone, "reset": calendar.reset, "days": out}


def _period(days: Mapping[int, Mapping[str, int]], start: int, end: int, now_ms: int) -> dict[str, Any]:
    return {"from": from_epoch_ms(start), "to": from_epoch_ms(min(end, now_ms)), **quality(_sum(days, start, end))}


def _delta(current: float | None, previous: float | None) -> float | None:
    return None if current is None or previous is None else round(current - previous, 6)


def trend(days: Mapping[int, Mapping[str, int]], calendar: DayCalendar, now_ms: int, length: int) -> dict[str, Any]:
    """This period (the last ``length`` local days, today included) against the ``length`` days before it."""
    day_starts = starts(calendar, now_ms, 2 * length)
    start, previous_start = day_starts[length], day_starts[0]
    current = _period(days, start, now_ms + 1, now_ms)
    previous = _period(days, previous_start, start, now_ms)
    return {
        **current,
        "previous": previous,
        "complaint_rate_change": _delta(current["complaint_rate"], previous["complaint_rate"]),
        "reopen_rate_change": _delta(current["reopen_rate"], previous["reopen_rate"]),
        "csat_change": _delta(current["csat"], previous["csat"]),
    }


def trend_body(days: Mapping[int, Mapping[str, int]], calendar: DayCalendar, now_ms: int) -> dict[str, Any]:
    return {
        "timezone": calendar.timezone,
        "reset": calendar.reset,
        "day": trend(days, calendar, now_ms, 1),
        "week": trend(days, calendar, now_ms, WEEK),
    }
