"""Per-day figures of a scope (workload, quality, complaints); outlier judgements per queue."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path
from fastapi.responses import JSONResponse

from services.api.deps import Figures, get_figures, require_token
from services.api.periods import day_calendar, days_body
from services.api.schemas import Error

router = APIRouter(prefix="/v1", dependencies=[Depends(require_token)], tags=["insights"])

_AUTH = {401: {"model": Error, "description": "bearer token missing or invalid (only when DESKPULSE_API_TOKENS is set)"}}
_DAYS_KINDS = ("all", "platform", "account", "queue", "agent", "category")


@router.get(
    "/days/{scope:path}", summary="A scope's figures per local day (today and the 15 days before)",
    response_model=None,
    description="`scope` is a scope id: `all`, `platform/zendesk`, `queue/zendesk/billing`, `agent/zendesk/42`, "
                "`category/billing`. Days are the queue's local days (`days:` in the SLA config) for queues, "
                "the default days for the rest (docs/kpis.md, Per day and per week). Each day: contacts created "
                "and resolved, complaints and complaint rate, reopen rate, one-touch rate, CSAT, average first "
                "response, and the workload (replies, answered, handled, resolved; per channel for agents).",
    responses={404: {"model": Error, "description": "unknown scope"}, **_AUTH})
async def days(scope: Annotated[str, Path(description="scope id, e.g. `queue/zendesk/billing`")],
               figures: Annotated[Figures, Depends(get_figures)]) -> JSONResponse:
    kind = "all" if scope == "all" else scope.partition("/")[0]
    view = figures.model.view(scope) if kind in _DAYS_KINDS else None
    if view is None:
        raise HTTPException(404, f"unknown scope '{scope}'")
    calendar = day_calendar(figures.sla, kind, view.id if kind == "queue" else None)
    return JSONResponse({"scope": scope, "kind": kind, "platform": view.platform, "id": view.id,
                         **days_body(view.days, calendar, view.stream_ms)})
