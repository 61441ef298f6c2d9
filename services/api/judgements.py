"""Outlier judgements of queues from the read model: the inputs ``outliers.judge`` needs, and the bodies.

A queue's agents are its ``queue_agent/<platform>/<queue>/<agent>`` scopes and its categories its
``queue_category/<platform>/<queue>/<category>`` scopes (day buckets only, docs/kpis.md "Outliers"); periods
are the queue's local days: ``today`` against yesterday, ``week`` (today and the 6 days before) against the 7
days before.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal
from urllib.parse import quote

from services.api import outliers
from services.api.periods import day_calendar, starts
from services.api.readmodel import ReadModel
from services.api.scopeview import ScopeView
from services.common.events import from_epoch_ms
from services.domain.scopes import parse_light_scope
from services.domain.slaconfig import SlaConfig
from services.domain.windows import DayCalendar, sum_buckets

Period = Literal["today", "week"]
PERIODS: dict[str, int] = {"today": 1, "week": 7}  # local days in the period
Days = Mapping[int, Mapping[str, int]]


def bounds(calendar: DayCalendar, now_ms: int, period: str) -> tuple[int, int, int]:
    """(previous period's start, this period's start, now) in ms."""
    length = PERIODS[period]
    day_starts = starts(calendar, now_ms, 2 * length)
    return day_starts[0], day_starts[length], now_ms


def _pair(days: Days, previous: int, start: int, now: int) -> tuple[dict[str, int], dict[str, int]]:
    return sum_buckets(days, start, now + 1), sum_buckets(days, previous, start)


def light_prefix(queue_scope: str) -> str:
    """``<platform>/<quoted queue>/``: what follows the kind in the queue's light scopes (scopes.light_scope)."""
    _, platform, queue = queue_scope.split("/", 2)
    return f"{platform}/{quote(queue, safe='')}/"


def queue_parts(model: ReadModel, queue_scope: str) -> tuple[dict[str, ScopeView], dict[str, ScopeView]]:
    """The queue's agents and categories (their light scopes' views), by agent id and category name."""
    prefix = light_prefix(queue_scope)
    agents = {parse_light_scope(s)[3]: v for s in model.under(f"queue_agent/{prefix}") if (v := model.view(s))}
    categories = {parse_light_scope(s)[3]: v for s in model.under(f"queue_category/{prefix}") if (v := model.view(s))}
    return agents, categories


def judge_views(
    queue: ScopeView,
    agents: Mapping[str, ScopeView],
    categories: Mapping[str, ScopeView],
    calendar: DayCalendar,
    now_ms: int,
    period: str,
    rule: outliers.Rule,
) -> dict[str, Any]:
    """The judgement of one queue over ``period`` at ``now_ms``, with the periods' bounds."""
    previous, start, now = bounds(calendar, now_ms, period)
    verdict = outliers.judge(
        _pair(queue.days, previous, start, now),
        {a: _pair(v.days, previous, start, now) for a, v in agents.items()},
        {c: _pair(v.days, previous, start, now) for c, v in categories.items()},
        rule,
    )
    for metric in verdict["metrics"].values():
        for judged in metric["agents"]:
            judged["scope"] = f"agent/{queue.platform}/{judged['agent']}"
    return {
        "scope": queue.scope,
        "platform": queue.platform,
        "id": queue.id,
        "period": period,
        "timezone": calendar.timezone,
        "reset": calendar.reset,
        "from": from_epoch_ms(start),
        "to": from_epoch_ms(now),
        "previous": {"from": from_epoch_ms(previous), "to": from_epoch_ms(start)},
        **verdict,
    }


def judge_queue(
    model: ReadModel, sla: SlaConfig | None, queue_scope: str, period: str, rule: outliers.Rule = outliers.Rule()
) -> dict[str, Any] | None:
    view = model.view(queue_scope)
    if view is None:
        return None
    agents, categories = queue_parts(model, queue_scope)
    return judge_views(view, agents, categories, day_calendar(sla, "queue", view.id), view.stream_ms, period, rule)


def summary(judgement: Mapping[str, Any]) -> dict[str, Any]:
    """The verdict of a queue and the findings behind it, without the full distributions."""
    metrics = {}
    for name, m in judgement["metrics"].items():
        metrics[name] = {
            "verdict": m["verdict"],
            "queue": m["queue"],
            "outliers": [
                {k: j[k] for k in ("agent", "scope", "value", "volume", "score")} for j in m["agents"] if j["outlier"]
            ],
            "queue_shift": m["queue_shift"]["shifted"],
            "categories_worse": [c["category"] for c in m["categories_worse"]],
        }
    return {k: judgement[k] for k in ("scope", "platform", "id", "period", "verdict", "from", "to")} | {
        "metrics": metrics
    }
