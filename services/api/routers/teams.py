"""A team's agents and categories side by side (``/v1/queues/{queue}/team``), who needs training on what
(``/v1/queues/{queue}/training``), an agent's teams (``/v1/agents/{agent}/teams``) and every team against its
goals (``/v1/teams``): the figures of the team manager's, the agent's and the director's pages
(services/api/pages)."""

from __future__ import annotations

import asyncio
import re
from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse

from services.api import outliers
from services.api.deps import AUTH_ERRORS, AccessDep, Figures, get_figures
from services.api.export import COLUMNS, attainment_rows, csv_text
from services.api.judgements import light_prefix, queue_parts
from services.api.periods import day_calendar
from services.api.reach import rule
from services.api.routers.insights import MinAgents, MinVolume, Period, QueueKey, Threshold
from services.api.schemas import Error
from services.api.scopeview import ScopeView
from services.api.teams import period_goal, queue_period, team_body, worst_first
from services.api.training import training_body
from services.common.events import from_epoch_ms
from services.domain.scopes import light_scope, parse_agent_category_scope, parse_light_scope

router = APIRouter(prefix="/v1", tags=["teams"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    **AUTH_ERRORS,
    409: {"model": Error, "description": "a bare id several platforms use"},
}


def period_goals(figures: Figures, view: ScopeView) -> list[dict[str, Any]]:
    """The queue's goals over a period (``period:`` in the SLA config), to date (teams.period_goal)."""
    if figures.sla is None:
        return []
    calendar = day_calendar(figures.sla, "queue", view.id)
    goals = figures.sla.period_goals_for(view.id).values()
    return [period_goal(goal, view.days, calendar, view.stream_ms) for goal in goals]


def team(figures: Figures, queue_scope: str, period: str) -> dict[str, Any] | None:
    """The team body of a queue scope, each agent with their current state; None for an unknown queue."""
    model = figures.model
    view = model.view(queue_scope)
    if view is None:
        return None
    agents, categories = queue_parts(model, queue_scope)
    goals = figures.sla.goals_for(view.id) if figures.sla is not None else {}
    calendar = day_calendar(figures.sla, "queue", view.id)
    now = view.stream_ms
    body = team_body(
        view.days,
        {a: v.days for a, v in agents.items()},
        {c: v.days for c, v in categories.items()},
        goals,
        calendar,
        now,
        period,
    )
    for row in body["agents"]:
        row["scope"] = scope = f"agent/{view.platform}/{row['agent']}"
        row["name"] = figures.name("agent", view.platform, row["agent"])
        agent = model.view(scope)
        current = agent.agent if agent is not None else None
        row["state"] = current["state"] if current else None
        row["seconds_in_state"] = round(max(0, now - current["since_ms"]) / 1000, 3) if current else None
        row["open"] = agent.live.get("open", 0) if agent is not None else 0
    return {
        "scope": queue_scope,
        "platform": view.platform,
        "id": view.id,
        "name": figures.name("queue", view.platform, view.id),
        "as_of": from_epoch_ms(now),
        **body,
        "period_goals": period_goals(figures, view),
        "from": from_epoch_ms(body["from"]),
        "to": from_epoch_ms(body["to"]),
        "stale_seconds": model.stale_seconds(),
    }


@router.get(
    "/queues/{queue_key:path}/team",
    summary="A team side by side: every agent's volume beside their quality, against the goals and the team",
    response_model=None,
    description="Over the period, from the queue's day buckets: the queue's figures; for every agent who worked "
    "in the queue (most resolved first), the volume (resolved, first responses, replies, answered, handled) and the "
    "quality of the same contacts (CSAT, average first response, one-touch, reopen and complaint rates), each "
    "with `status` against the queue's goal for it (`met`, `near`: met by less than a tenth of the target, "
    "`missed`, `null`: no data or no goal) and `versus_team` (the figure minus the team's median, positive "
    "is better), and the agent's current state and open contacts; the same per issue category; and the "
    "queue's goals over a period (`period_goals`: to date, projected, what the rest needs, status).",
    responses={404: {"model": Error, "description": "unknown queue"}, **_ERRORS},
    openapi_extra=rule("people"),
)
async def queue_team(
    queue_key: QueueKey,
    figures: Annotated[Figures, Depends(get_figures)],
    access: AccessDep,
    period: Period = "week",
) -> JSONResponse:
    body = team(figures, figures.resolve("queue", queue_key, access, people=True), period)
    if body is None:
        raise HTTPException(404, f"unknown queue '{queue_key}'")
    return JSONResponse(body)


@router.get(
    "/queues/{queue_key:path}/training",
    summary="Who needs training on what: every agent's figures per issue category, the far worse ones flagged",
    response_model=None,
    description="For every issue category of the queue over the period (most resolved first): the team's "
    "volume and quality in that category, and each agent's who handled it, with the outlier judgement of "
    "complaint rate, reopen rate and first response over the agents of that category (modified z-score, "
    "the same rule and minimum volumes as `/outliers`: an agent far worse than the others handling the same "
    "kind of contact, with enough contacts to say so); `flagged` lists those cells, the highest score first.",
    responses={404: {"model": Error, "description": "unknown queue"}, **_ERRORS},
    openapi_extra=rule("people"),
)
async def queue_training(
    queue_key: QueueKey,
    figures: Annotated[Figures, Depends(get_figures)],
    access: AccessDep,
    period: Period = "week",
    min_volume: MinVolume = 10,
    threshold: Threshold = 3.5,
    min_agents: MinAgents = 5,
) -> JSONResponse:
    scope = figures.resolve("queue", queue_key, access, people=True)
    model = figures.model
    view = model.view(scope)
    if view is None:
        raise HTTPException(404, f"unknown queue '{queue_key}'")
    _, categories = queue_parts(model, scope)
    cells = {}
    for light in model.under(f"queue_agent_category/{light_prefix(scope)}"):
        cell = model.view(light)
        if cell is not None:
            _, _, agent, category = parse_agent_category_scope(light)
            cells[(agent, category)] = cell.days
    goals = figures.sla.goals_for(view.id) if figures.sla is not None else {}
    rule = outliers.Rule(threshold=threshold, min_volume=min_volume, min_agents=min_agents)
    body = training_body(
        {c: v.days for c, v in categories.items()},
        cells,
        goals,
        day_calendar(figures.sla, "queue", view.id),
        view.stream_ms,
        period,
        rule,
    )
    for category in body["categories"]:
        for row in category["agents"]:
            row["scope"] = f"agent/{view.platform}/{row['agent']}"
            row["name"] = figures.name("agent", view.platform, row["agent"])
    return JSONResponse(
        {
            "scope": scope,
            "platform": view.platform,
            "id": view.id,
            "name": figures.name("queue", view.platform, view.id),
            **body,
            "from": from_epoch_ms(body["from"]),
            "to": from_epoch_ms(body["to"]),
            "rule": {"method": outliers.REFERENCE, **asdict(rule)},
        }
    )


@router.get(
    "/agents/{agent_key:path}/teams",
    summary="An agent in each team they worked in: their figures beside the team's median and goals",
    response_model=None,
    description="For every queue the agent worked in over the period (most resolved first): the agent's row of "
    "`/v1/queues/{queue}/team`, the team's median and the queue's goals.",
    responses={404: {"model": Error, "description": "unknown agent"}, **_ERRORS},
    openapi_extra=rule("scope"),
)
async def agent_teams(
    agent_key: Annotated[str, Path(description="`<platform>/<agent_id>` or a unique id")],
    figures: Annotated[Figures, Depends(get_figures)],
    access: AccessDep,
    period: Period = "week",
) -> JSONResponse:
    scope = figures.resolve("agent", agent_key, access)
    _, platform, agent = scope.split("/", 2)
    items = []
    for light in figures.model.under(f"queue_agent/{platform}/"):
        _, _, queue, who = parse_light_scope(light)
        if who != agent or not access.sees(f"queue/{platform}/{queue}"):
            continue  # the teams the token sees (an agent's own are theirs; a manager's are their teams)
        body = team(figures, f"queue/{platform}/{queue}", period)
        row = next((r for r in body["agents"] if r["agent"] == agent), None) if body else None
        if body is None or row is None:
            continue
        items.append(
            {
                "queue": body["scope"],
                "platform": platform,
                "id": body["id"],
                "name": body["name"],
                "agent": row,
                "median": body["median"],
                "goals": body["goals"],
                "team": body["queue"],
                "agents_in_team": len(body["agents"]),
            }
        )
    items.sort(key=lambda i: (-i["agent"]["volume"]["resolved"], i["queue"]))
    return JSONResponse({"scope": scope, "platform": platform, "id": agent, "period": period, "items": items})


@router.get(
    "/teams",
    summary="Every team against its goals over a period and the period before, worst first",
    response_model=None,
    description="For every queue (filter `platform`): its volume and quality over the period and the whole "
    "period before (yesterday; the 7 days before the week), each quality figure against the queue's goal, and "
    "how many goals it misses (`missed`) or meets by less than a tenth (`near`). Sorted worst first: most "
    "goals missed, then narrowly met, then the highest complaint rate.",
    responses={401: _ERRORS[401], 403: _ERRORS[403]},
    openapi_extra=rule("list"),
)
async def every_team(
    request: Request,
    figures: Annotated[Figures, Depends(get_figures)],
    access: AccessDep,
    period: Period = "week",
    platform: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
) -> JSONResponse:
    model = figures.model
    items = []
    for scope in model.scopes("queue"):
        if platform is not None and not scope.startswith(f"queue/{platform}/"):
            continue
        if not access.sees(scope):
            continue
        view = model.view(scope)
        if view is None:
            continue
        goals = figures.sla.goals_for(view.id) if figures.sla is not None else {}
        body = queue_period(view.days, goals, day_calendar(figures.sla, "queue", view.id), view.stream_ms, period)
        items.append(
            {
                "scope": scope,
                "platform": view.platform,
                "id": view.id,
                "name": figures.name("queue", view.platform, view.id),
                **body,
                "from": from_epoch_ms(body["from"]),
                "to": from_epoch_ms(body["to"]),
                "period_goals": period_goals(figures, view),
            }
        )
    items.sort(key=worst_first)
    loaded = request.app.state.sla_loaded  # when the goals were read (at start)
    return JSONResponse({"period": period, "goals_loaded_at": loaded, "items": items, "total": len(items)})


@router.get(
    "/export/attainment.csv",
    summary="Goal attainment as CSV: every team and every agent in it, each goal over the period",
    response_class=StreamingResponse,
    description="One row per goal of each queue (`level` = `team`) and of each agent who worked in it (`agent`): "
    "the figure over the period, the goal, `status` (`met`, `near`, `missed`, empty without data) and, for agents, "
    "the figure minus the team's median (`versus_team`, positive is better), with the resolved volume beside it. "
    "Columns: " + ", ".join(f"`{c}`" for c in COLUMNS) + ". The same figures as `/v1/queues/{queue}/team`; "
    "goals from the SLA config, so no rows without one. Filter `platform`; only the teams and agents the token "
    "sees (an agent token: their teams' rows and their own).",
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}, **AUTH_ERRORS},
    openapi_extra=rule("list"),
)
async def attainment_csv(
    figures: Annotated[Figures, Depends(get_figures)],
    access: AccessDep,
    period: Period = "week",
    platform: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
) -> StreamingResponse:
    queues = [
        q
        for q in figures.model.scopes("queue")
        if (platform is None or q.startswith(f"queue/{platform}/")) and access.sees(q)
    ]

    async def rows():
        yield csv_text([COLUMNS])
        for queue in queues:
            body = team(figures, queue, period)
            if body is None:
                continue
            # an agent's row where the token sees the agent's cell of the team (a manager: everyone; an agent: theirs)
            agents = [
                r
                for r in body["agents"]
                if access.sees(light_scope("queue_agent", body["platform"], body["id"], r["agent"]))
            ]
            yield csv_text(attainment_rows(body, agents))
            await asyncio.sleep(0)  # one queue at a time: other requests go on between them

    label = re.sub(r"[^a-z0-9_]", "_", platform or "all")  # a header holds Latin-1 only: no user text as is
    filename = f"attainment-{label}-{period}.csv"
    return StreamingResponse(
        rows(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
