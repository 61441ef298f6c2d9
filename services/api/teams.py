"""A team side by side: a queue's agents and categories over a period, against the goals and the team. Pure.

The figures come from the day buckets the aggregator keeps per queue, per agent in a queue
(``queue_agent/<platform>/<queue>/<agent>``) and per category in a queue (``queue_category/...``), summed over
the period's local days (``today``, or ``week``: today and the 6 days before, as the outlier judgement reads them).
For each agent: the volume (resolved, first responses given, replies, live contacts answered and handled) beside the quality of the same
contacts (CSAT, first response, one-touch, reopen and complaint rates); each quality figure against the queue's
goal for it (``status``: ``met``, ``near``, ``missed``; ``null`` without data or without a goal) and against the
team's median of the agents who have that figure (volume is never judged alone, docs/kpis.md).
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any

from services.api.judgements import bounds
from services.api.periods import DAYS_KEPT, local_date, quality, starts
from services.common.events import from_epoch_ms
from services.domain.goals import Goal, attainment
from services.domain.windows import DayCalendar, sum_buckets

# The quality figures of a period, each (the goal metric it answers, True when higher is better).
QUALITY: dict[str, tuple[str, bool]] = {
    "csat": ("csat", True),
    "first_response_average_seconds": ("first_response_seconds_avg", False),
    "one_touch_rate": ("one_touch_rate", True),
    "reopen_rate": ("reopen_rate", False),
    "complaint_rate": ("complaint_rate", False),
}
# The volume of a period: contacts resolved, first responses given, replies, live contacts answered and handled.
VOLUME = {
    "resolved": "resolved",
    "first_responses": "fr_count",
    "replies": "replies",
    "answered": "answered",
    "handled": "handled",
}
NEAR = 0.1  # a goal met by less than a tenth of its target is "near" (the wallboard's amber)

Days = Mapping[int, Mapping[str, int]]


def period_bounds(calendar: DayCalendar, now_ms: int, period: str) -> tuple[int, int]:
    """(start, end) in ms of ``period``: its first local day's start, and ``now_ms`` + 1 (today is running)."""
    _, start, now = bounds(calendar, now_ms, period)
    return start, now + 1


def previous_bounds(calendar: DayCalendar, now_ms: int, period: str) -> tuple[int, int]:
    """(start, end) in ms of the whole period before ``period`` (yesterday; the 7 days before the week)."""
    previous, start, _ = bounds(calendar, now_ms, period)
    return previous, start


def status(goal: Goal | None, value: float | None) -> str | None:
    """``met``, ``near`` (met, by less than ``NEAR`` of the target) or ``missed``; None without goal or value."""
    if goal is None or value is None:
        return None
    result = attainment(goal, value)
    if not result.met:
        return "missed"
    margin = abs(goal.target) * NEAR
    return "near" if result.gap is not None and result.gap < margin else "met"


def figures(days: Days, start: int, end: int, goals: Mapping[str, Goal]) -> dict[str, Any]:
    """The volume and quality of the days between ``start`` and ``end``, each quality figure against its goal."""
    return counted_figures(sum_buckets(days, start, end), goals)


def counted_figures(counters: Mapping[str, int], goals: Mapping[str, Goal]) -> dict[str, Any]:
    """``figures`` of counters already summed over a period."""
    q = quality(counters)
    return {
        "volume": {name: counters.get(counter, 0) for name, counter in VOLUME.items()},
        "quality": {name: q[name] for name in QUALITY} | {"rated": q["rated"], "complaints": q["complaints"]},
        "status": {name: status(goals.get(metric), q[name]) for name, (metric, _) in QUALITY.items()},
    }


def medians(rows: list[dict[str, Any]]) -> dict[str, float | None]:
    """Per quality figure, the median over the rows that have it (None when none has)."""
    out: dict[str, float | None] = {}
    for name in QUALITY:
        values = [r["quality"][name] for r in rows if r["quality"][name] is not None]
        out[name] = round(statistics.median(values), 6) if values else None
    return out


def versus(row: Mapping[str, Any], median: Mapping[str, float | None]) -> dict[str, float | None]:
    """Each quality figure minus the team's median, signed so that positive is better."""
    out: dict[str, float | None] = {}
    for name, (_, higher_better) in QUALITY.items():
        value, mid = row["quality"][name], median[name]
        out[name] = None if value is None or mid is None else round((value - mid) * (1 if higher_better else -1), 6)
    return out


def team_body(
    queue_days: Days,
    agents: Mapping[str, Days],
    categories: Mapping[str, Days],
    goals: Mapping[str, Goal],
    calendar: DayCalendar,
    now_ms: int,
    period: str,
) -> dict[str, Any]:
    """The queue, each agent (most resolved first) and each category over ``period``; the agents' medians."""
    start, end = period_bounds(calendar, now_ms, period)
    rows = [{"agent": agent, **figures(days, start, end, goals)} for agent, days in agents.items()]
    rows = [r for r in rows if any(r["volume"].values()) or r["quality"]["rated"]]  # worked in the period
    median = medians(rows)
    for row in rows:
        row["versus_team"] = versus(row, median)
    rows.sort(key=lambda r: (-r["volume"]["resolved"], -r["volume"]["first_responses"], r["agent"]))
    cats = [{"category": name, **figures(days, start, end, goals)} for name, days in categories.items()]
    cats = [c for c in cats if any(c["volume"].values()) or c["quality"]["rated"]]
    cats.sort(key=lambda c: (-c["volume"]["resolved"], c["category"]))
    return {
        **queue_period(queue_days, goals, calendar, now_ms, period),
        "median": median,
        "agents": rows,
        "categories": cats,
    }


def queue_period(
    queue_days: Days, goals: Mapping[str, Goal], calendar: DayCalendar, now_ms: int, period: str
) -> dict[str, Any]:
    """A queue over ``period`` and the period before, against its goals; ``missed`` and ``near``: how many of
    its goals the period misses and meets narrowly."""
    start, end = period_bounds(calendar, now_ms, period)
    current = figures(queue_days, start, end, goals)
    statuses = list(current["status"].values())
    return {
        "period": period,
        "timezone": calendar.timezone,
        "reset": calendar.reset,
        "from": start,
        "to": end - 1,
        "queue": current,
        "previous": figures(queue_days, *previous_bounds(calendar, now_ms, period), goals),
        "goals": {name: str(goals[metric]) for name, (metric, _) in QUALITY.items() if metric in goals},
        "missed": statuses.count("missed"),
        "near": statuses.count("near"),
    }


def worst_first(item: Mapping[str, Any]) -> tuple:
    """Sort key of queues for the director: most goals missed, then narrowly met, then the highest complaint
    rate, then the most resolved."""
    quality_now = item["queue"]["quality"]
    complaint = quality_now["complaint_rate"]
    return (
        -item["missed"],
        -item["near"],
        -(complaint if complaint is not None else -1),
        -item["queue"]["volume"]["resolved"],
    )


# Per goal metric kept per day: (numerator counters, denominator counter, scale): value = numerator / denominator.
_PARTS: dict[str, tuple[tuple[str, ...], str, float]] = {
    "csat": (("csat_good",), "rated_csat", 1.0),
    "complaint_rate": (("complaints",), "resolved", 1.0),
    "reopen_rate": (("reopened",), "resolved", 1.0),
    "one_touch_rate": (("one_touch",), "resolved", 1.0),
    "first_response_seconds_avg": (("fr_ms",), "fr_count", 0.001),
}
_BOUNDED = {"csat", "complaint_rate", "reopen_rate", "one_touch_rate"}  # ratios: every day's figure is in [0, 1]


def _parts(metric: str, c: Mapping[str, int]) -> tuple[float, float]:
    numerators, denominator, scale = _PARTS[metric]
    den = c.get("csat_good", 0) + c.get("csat_bad", 0) if denominator == "rated_csat" else c.get(denominator, 0)
    return sum(c.get(n, 0) for n in numerators) * scale, float(den)


def _meets(goal: Goal, value: float | None) -> bool | None:
    return None if value is None else attainment(goal, value).met


def period_goal(goal: Goal, days: Days, calendar: DayCalendar, now_ms: int) -> dict[str, Any]:
    """A goal over a period (``goal.period``) at ``now_ms``: the figure to date, where it ends if the rest of the
    period goes as its last three days went (``projected``), what the rest must average for the goal to be met
    (``needed``, at the pace of volume so far), and ``status``: ``met``/``missed`` once the period is over,
    ``secured``, ``on_track``, ``at_risk`` or ``out_of_reach`` while it runs, ``not_started``, ``no_data``."""
    assert goal.period is not None
    today_start = calendar.start(now_ms)
    today = date.fromisoformat(local_date(calendar, today_start))
    first, last = goal.period.days(today)
    total = (last - first).days + 1
    body: dict[str, Any] = {
        "metric": goal.metric,
        "goal": str(goal),
        "period": str(goal.period),
        "from": first.isoformat(),
        "to": last.isoformat(),
        "days_total": total,
    }
    if today < first:
        return body | {"days_elapsed": 0, "to_date": None, "projected": None, "needed": None, "status": "not_started"}
    elapsed = min(total, (today - first).days + 1)
    kept = starts(calendar, now_ms, DAYS_KEPT)  # the local days the aggregator keeps, oldest first

    def start_of(day: date) -> int:  # the start of a local day, the oldest kept one for older days
        return kept[max(0, DAYS_KEPT - 1 - (today - day).days)]

    if (today - last).days >= DAYS_KEPT:  # over before the oldest day kept
        return body | {"days_elapsed": elapsed, "to_date": None, "projected": None, "needed": None, "status": "no_data"}
    start = start_of(first)
    end = now_ms + 1 if today <= last else start_of(last + timedelta(days=1))
    num, den = _parts(goal.metric, sum_buckets(days, start, end))
    recent_num, recent_den = _parts(
        goal.metric, sum_buckets(days, start_of(max(first, min(today, last) - timedelta(days=2))), end)
    )
    to_date = num / den if den else None
    remaining = total - elapsed
    body |= {
        "days_elapsed": elapsed,
        "to_date": _round(to_date),
        "covered_from": from_epoch_ms(start),
        "partial": (today - first).days >= DAYS_KEPT,  # began before the oldest day kept
    }
    if to_date is None:
        return body | {"projected": None, "needed": None, "status": "no_data"}
    if remaining == 0:
        return body | {
            "projected": _round(to_date),
            "needed": None,
            "status": "met" if _meets(goal, to_date) else "missed",
        }
    rest = den / elapsed * remaining  # the rest of the period at the volume so far
    rate = recent_num / recent_den if recent_den else to_date
    projected = (num + rate * rest) / (den + rest)
    needed = (goal.target * (den + rest) - num) / rest
    higher = goal.op in (">=", ">")
    bounded = goal.metric in _BOUNDED
    if needed <= 0 if higher else bounded and needed >= 1:
        status = "secured"  # even the worst rest of the period keeps the goal
    elif (bounded and needed > 1) if higher else needed < 0:
        status = "out_of_reach"
    else:
        status = "on_track" if _meets(goal, projected) else "at_risk"
    return body | {"projected": _round(projected), "needed": _round(needed), "status": status}


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 6)
