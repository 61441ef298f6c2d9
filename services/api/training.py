"""Who needs training on what: each agent's figures per issue category of a queue, against the team's. Pure.

Inputs are day buckets the aggregator keeps per queue and category (``queue_category``) and per agent, queue and
category (``queue_agent_category``), summed over the period's local days (``teams.period_bounds``) and the
period before. For each category, each agent who handled it gets the volume and quality of ``teams.figures``;
each outlier metric (complaint rate, reopen rate, first response) is judged over the agents of that category
with the rule of the outlier judgement (``outliers.judge_metric``: modified z-score, the same minimum volumes and
minimum number of agents), so a cell is flagged only when the agent is far worse than the others who handle the
same kind of contact, with enough contacts to say so (docs/kpis.md, "Outliers").
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from services.api import outliers
from services.api.teams import counted_figures, period_bounds, previous_bounds
from services.domain.goals import Goal
from services.domain.windows import DayCalendar, sum_buckets

Days = Mapping[int, Mapping[str, int]]


def team_resolved(category: Mapping[str, Any]) -> int:
    return category["team"]["volume"]["resolved"]


def training_body(
    categories: Mapping[str, Days],
    cells: Mapping[tuple[str, str], Days],
    goals: Mapping[str, Goal],
    calendar: DayCalendar,
    now_ms: int,
    period: str,
    rule: outliers.Rule,
) -> dict[str, Any]:
    """Per category (most resolved first): the team's figures, each agent's (``cells`` by (agent, category)) with
    the judgement of each outlier metric, and every flagged (agent, category, metric), the highest score first."""
    start, end = period_bounds(calendar, now_ms, period)
    before = previous_bounds(calendar, now_ms, period)
    by_category: dict[str, dict[str, Days]] = {}
    for (agent, category), days in cells.items():
        by_category.setdefault(category, {})[agent] = days
    out: list[dict[str, Any]] = []
    flagged: list[dict[str, Any]] = []
    for category in sorted(set(categories) | set(by_category)):
        team_days = categories.get(category, {})
        agents = by_category.get(category, {})
        pairs = {a: (sum_buckets(d, start, end), sum_buckets(d, *before)) for a, d in agents.items()}
        team_pair = (sum_buckets(team_days, start, end), sum_buckets(team_days, *before))
        team = counted_figures(team_pair[0], goals)
        rows = {a: {"agent": a, **counted_figures(pairs[a][0], goals), "judged": {}} for a in agents}
        distributions = {}
        for metric in outliers.METRICS:
            judged = outliers.judge_metric(metric, team_pair, pairs, {}, rule)
            distributions[metric.name] = judged["distribution"]
            for j in judged["agents"]:
                rows[j["agent"]]["judged"][metric.name] = {"score": j["score"], "outlier": j["outlier"]}
                if j["outlier"]:
                    flagged.append(
                        {
                            "agent": j["agent"],
                            "category": category,
                            "metric": metric.name,
                            "value": j["value"],
                            "team": judged["queue"]["value"],
                            "median": judged["distribution"]["median"],
                            "volume": j["volume"],
                            "score": j["score"],
                        }
                    )
        listed = [r for r in rows.values() if any(r["volume"].values()) or r["quality"]["rated"]]
        if not listed and not any(team["volume"].values()):
            continue
        listed.sort(key=lambda r: (-r["volume"]["resolved"], r["agent"]))
        out.append({"category": category, "team": team, "distribution": distributions, "agents": listed})
    out.sort(key=lambda c: (-team_resolved(c), c["category"]))
    flagged.sort(key=lambda f: (-f["score"], f["agent"], f["category"]))
    return {"period": period, "from": start, "to": end - 1, "categories": out, "flagged": flagged}
