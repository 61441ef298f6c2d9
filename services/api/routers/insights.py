"""Per-day figures of a scope (workload, quality, complaints); outlier judgements per queue."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query
from fastapi.responses import JSONResponse

from services.api import outliers
from services.api.deps import AUTH_ERRORS, AccessDep, Figures, get_figures
from services.api.judgements import judge_queue, summary
from services.api.periods import CHART_DAYS, DAYS_KEPT, day_calendar, days_body
from services.api.reach import rule
from services.api.schemas import Error

router = APIRouter(prefix="/v1", tags=["insights"])


_DAYS_KINDS = ("all", "platform", "account", "queue", "agent", "category")


@router.get(
    "/days/{scope:path}",
    summary="A scope's figures per local day (today and the days before it)",
    response_model=None,
    description="`scope` is a scope id: `all`, `platform/zendesk`, `queue/zendesk/billing`, `agent/zendesk/42`, "
    "`category/billing`. Days are the queue's local days (`days:` in the SLA config) for queues, "
    "the default days for the rest (docs/kpis.md, Per day and per week). Each day: contacts created "
    "and resolved, complaints and complaint rate, reopen rate, one-touch rate, CSAT, average first "
    "response, and the workload (replies, answered, handled, resolved; per channel for agents). "
    f"`days`: how many local days, today included ({CHART_DAYS} unless asked; at most the {DAYS_KEPT} kept).",
    responses={404: {"model": Error, "description": "unknown scope"}, **AUTH_ERRORS},
    openapi_extra=rule("scope"),
)
async def days(
    scope: Annotated[str, Path(description="scope id, e.g. `queue/zendesk/billing`")],
    figures: Annotated[Figures, Depends(get_figures)],
    access: AccessDep,
    n: Annotated[int, Query(alias="days", ge=1, le=DAYS_KEPT, description="local days, today included")] = CHART_DAYS,
) -> JSONResponse:
    access.check(scope)
    kind = "all" if scope == "all" else scope.partition("/")[0]
    view = figures.model.view(scope) if kind in _DAYS_KINDS else None
    if view is None:
        raise HTTPException(404, f"unknown scope '{scope}'")
    calendar = day_calendar(figures.sla, kind, view.id if kind == "queue" else None)
    return JSONResponse(
        {
            "scope": scope,
            "kind": kind,
            "platform": view.platform,
            "id": view.id,
            **days_body(view.days, calendar, view.stream_ms, n),
        }
    )


QueueKey = Annotated[str, Path(description="`<platform>/<queue_id>` or a unique id")]
Period = Annotated[
    Literal["today", "week"],
    Query(
        description="`week` (default): the queue's last 7 local days, today included, against the 7 before; "
        "`today`: today so far against yesterday"
    ),
]
MinVolume = Annotated[
    int,
    Query(
        ge=1,
        le=100_000,
        description="resolved contacts (first responses for the response time) an agent needs to be judged",
    ),
]
Threshold = Annotated[float, Query(gt=0, le=100, description="modified z-score above which an agent is an outlier")]
MinAgents = Annotated[int, Query(ge=3, le=1000, description="agents with enough volume for a distribution")]


def _rule(min_volume: int, threshold: float, min_agents: int) -> outliers.Rule:
    return outliers.Rule(threshold=threshold, min_volume=min_volume, min_agents=min_agents)


@router.get(
    "/queues/{queue_key:path}/outliers",
    summary="Is it one agent or the process? A queue's outlier judgement",
    response_model=None,
    description="For complaint rate, reopen rate and first response time over the period: agents far above the "
    "queue's distribution (modified z-score of Iglewicz & Hoaglin over agents with enough volume: "
    "agent-level), and a queue-wide shift that most agents share or a category that worsened "
    "against the previous period (process-level), with the figures behind each judgement. "
    "`verdict` is `process-level`, `agent-level` or `none` (docs/kpis.md, Outliers).",
    responses={
        404: {"model": Error, "description": "unknown queue"},
        409: {"model": Error, "description": "a bare queue id several platforms use"},
        **AUTH_ERRORS,
    },
    openapi_extra=rule("people"),
)
async def queue_outliers(
    queue_key: QueueKey,
    figures: Annotated[Figures, Depends(get_figures)],
    access: AccessDep,
    period: Period = "week",
    min_volume: MinVolume = 10,
    threshold: Threshold = 3.5,
    min_agents: MinAgents = 5,
) -> JSONResponse:
    scope = figures.resolve("queue", queue_key, access, people=True)
    body = judge_queue(figures.model, figures.sla, scope, period, _rule(min_volume, threshold, min_agents))
    if body is None:
        raise HTTPException(404, f"unknown queue '{queue_key}'")
    return JSONResponse(body)


@router.get(
    "/outliers",
    summary="Every queue's verdict: agent-level, process-level or none",
    response_model=None,
    description="One summary per queue (findings without the full distributions), process-level first, then "
    "agent-level; `/v1/queues/{queue}/outliers` has the figures behind each.",
    responses=AUTH_ERRORS,
    openapi_extra=rule("list"),
)
async def every_queue_outliers(
    figures: Annotated[Figures, Depends(get_figures)],
    access: AccessDep,
    period: Period = "week",
    min_volume: MinVolume = 10,
    threshold: Threshold = 3.5,
    min_agents: MinAgents = 5,
    platform: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
) -> JSONResponse:
    rule = _rule(min_volume, threshold, min_agents)
    queues = figures.model.scopes("queue")
    if platform is not None:
        queues = [q for q in queues if q.startswith(f"queue/{platform}/")]
    queues = [q for q in queues if access.sees(q, people=True)]  # judgements name agents
    items = [summary(j) for q in queues if (j := judge_queue(figures.model, figures.sla, q, period, rule))]
    items.sort(key=lambda s: (outliers.SEVERITY.index(s["verdict"]), s["scope"]))
    return JSONResponse({"period": period, "items": items, "total": len(items)})
