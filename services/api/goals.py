"""Team goals (``goals:`` in the SLA config) measured against a scope's figures in a window.

Each goal names a KPI below; ``attainment`` says whether the window meets it and by how much, or ``null``
when the window has no data (KPIS.md §8: no data is not a miss).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from services.domain.goals import Goal, attainment

Body = Mapping[str, Any]

GOAL_METRICS: dict[str, Callable[[Body], float | None]] = {
    "csat": lambda b: b["csat"]["score"],
    "nps": lambda b: b["nps"]["score"],
    "first_response_seconds_avg": lambda b: b["first_response"]["average_seconds"],
    "first_response_seconds_p90": lambda b: b["first_response"]["p90_seconds"],
    "next_reply_seconds_avg": lambda b: b["next_reply"]["average_seconds"],
    "resolution_seconds_avg": lambda b: b["resolution"]["average_seconds"],
    "service_level": lambda b: b["service_level"]["rate"],
    "abandonment_rate": lambda b: b["abandonment"]["rate"],
    "resolution_rate": lambda b: b["resolution_rate"],
    "reopen_rate": lambda b: b["reopen_rate"],
    "one_touch_rate": lambda b: b["one_touch"]["rate"],
    "complaint_rate": lambda b: b["complaints"]["rate"],
    "asa_seconds": lambda b: b["speed_of_answer"]["average_seconds"],
    "aht_seconds": lambda b: b["handle_time"]["average_seconds"],
    "sla_first_response_compliance": lambda b: b["sla"]["first_response"]["compliance"],
    "sla_next_reply_compliance": lambda b: b["sla"]["next_reply"]["compliance"],
    "sla_resolution_compliance": lambda b: b["sla"]["resolution"]["compliance"],
}


def unknown_metrics(goals: Iterable[str]) -> list[str]:
    """The goal names (or a mapping keyed by them) that are not a known goal metric, sorted."""
    return sorted(name for name in goals if name not in GOAL_METRICS)


def goals_body(goals: Mapping[str, Goal], body: Body) -> dict[str, Any]:
    out = {}
    for name, goal in goals.items():
        result = attainment(goal, GOAL_METRICS[name](body))
        out[name] = {
            "goal": str(goal),
            "op": goal.op,
            "target": goal.target,
            "value": result.value,
            "met": result.met,
            "gap": result.gap,
        }
    return out
