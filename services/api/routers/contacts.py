"""The contacts behind the figures: a queue's or an agent's contacts in a state (the drill-down), and every contact
of a scope as CSV (the export). From the contact store (``contactstore.py``), within the token's reach."""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import Iterable, Iterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse

from services.api.contactstore import STATES, ContactStore, agent_of, is_in, queue_of
from services.api.deps import AUTH_ERRORS, Access, AccessDep, Figures, get_figures
from services.api.reach import rule
from services.api.schemas import Error
from services.common.events import from_epoch_ms
from services.domain.contactrow import CSV_FIELDS
from services.domain.windows import DAY_MS

router = APIRouter(prefix="/v1", tags=["contacts"])

State = Annotated[
    Literal[STATES],  # type: ignore[valid-type]
    Query(
        description="`open`, `waiting` (no first response yet), `in_queue`, `unassigned`, `at_risk` and "
        "`breaching` (an SLA clock, on the stream's time), `reopened`, `bad_rating`, `complaint`"
    ),
]
Limit = Annotated[int, Query(ge=1, le=1000, description="most contacts, the oldest first")]
ExportWindow = Annotated[
    Literal["today", "24h", "7d", "all"],
    Query(description="contacts created in the last 24 hours or 7 days, today (UTC), or all the store holds"),
]
_ERRORS: dict[int | str, dict[str, Any]] = {
    **AUTH_ERRORS,
    404: {"model": Error, "description": "unknown queue or agent, or contact rows off (DESKPULSE_CONTACT_ROWS)"},
    409: {"model": Error, "description": "a bare id several platforms use"},
}


ROWS_OFF = (
    "contact rows are off on this deployment (DESKPULSE_CONTACT_ROWS=false): the drill-down lists and the contacts "
    "export need them on, on the aggregator and the API (docs/configuration.md)"
)


def store(request: Request) -> ContactStore:
    """The API's contact rows; 404 saying why when they are off (no list would be an empty one that misleads)."""
    if not request.app.state.settings.contact_rows:
        raise HTTPException(404, ROWS_OFF)
    return request.app.state.contacts


def visible(access: Access, row: dict[str, Any]) -> bool:
    """A contact row names its agent: the token must see its queue with the people in it, or be that agent."""
    if access.reach.everything:
        return True
    queue, agent = queue_of(row), agent_of(row)
    return (queue is not None and access.sees(queue, people=True)) or (
        agent is not None
        and access.sees(agent)
        and access.reach.grant is not None
        and access.reach.grant.agent == (row["platform"], row["agent"])
    )


def _listing(request: Request, figures: Figures, scope: str, state: str, limit: int) -> JSONResponse:
    """The scope's rows in ``state`` at the stream's time (given back as ``as_of`` for ages and deadlines), the
    oldest first."""
    now_ms = figures.model.stream_ms() or 0
    rows = store(request).of(scope)
    chosen = sorted((r for r in rows if is_in(r, state, now_ms)), key=lambda r: (r["created_at"] or "", r["key"]))
    body = {
        "scope": scope,
        "state": state,
        "as_of": from_epoch_ms(now_ms),
        "total": len(chosen),
        "items": chosen[:limit],
    }
    return JSONResponse(body)


@router.get(
    "/queues/{queue_key:path}/contacts",
    summary="The contacts behind a queue's figures, in a state, the oldest first",
    response_model=None,
    description="Each contact's row (`deskpulse.contact.v1`: platform, queue, agent, category, channel, status, "
    "times, first response and resolution seconds, SLA outcomes and the next deadline…), for the drill-down from a "
    "figure. `total` counts them all; `items` the first `limit`. Open contacts, and closed ones until they are "
    "retired (3 days after their last event by default).",
    responses=_ERRORS,
    openapi_extra=rule("people"),
)
async def queue_contacts(
    queue_key: Annotated[str, Path(description="`<platform>/<queue_id>` or a unique id")],
    request: Request,
    figures: Annotated[Figures, Depends(get_figures)],
    access: AccessDep,
    state: State = "open",
    limit: Limit = 100,
) -> JSONResponse:
    scope = figures.resolve("queue", queue_key, access, people=True)
    return _listing(request, figures, scope, state, limit)


@router.get(
    "/agents/{agent_key:path}/contacts",
    summary="An agent's contacts in a state, the oldest first",
    response_model=None,
    description="As `/v1/queues/{queue}/contacts`, for the contacts assigned to the agent now.",
    responses=_ERRORS,
    openapi_extra=rule("scope"),
)
async def agent_contacts(
    agent_key: Annotated[str, Path(description="`<platform>/<agent_id>` or a unique id")],
    request: Request,
    figures: Annotated[Figures, Depends(get_figures)],
    access: AccessDep,
    state: State = "open",
    limit: Limit = 100,
) -> JSONResponse:
    scope = figures.resolve("agent", agent_key, access)
    return _listing(request, figures, scope, state, limit)


def _csv(rows: Iterable[Iterable[Any]]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    return out.getvalue()


def _cells(row: dict[str, Any]) -> Iterator[Any]:
    for name in CSV_FIELDS:
        value = row.get(name)
        yield "" if value is None else str(value).lower() if isinstance(value, bool) else value


@router.get(
    "/export/contacts.csv",
    summary="Every contact of a scope as CSV: one row per contact with its facts and figures",
    response_class=StreamingResponse,
    description="Columns: " + ", ".join(f"`{c}`" for c in CSV_FIELDS) + ". The contacts created in the window, "
    "oldest first, of `scope` (`all`, `platform/<p>`, `account/<p>/<a>`, `queue/<p>/<q>`, `agent/<p>/<a>`, "
    "`category/<c>`), as far back as deskpulse keeps contacts: the open ones, and closed ones until they are "
    "retired (3 days after their last event by default; the figures keep their totals, not the rows: docs/api.md, "
    "Contacts). Only the contacts the token may see.",
    responses={
        200: {"content": {"text/csv": {"schema": {"type": "string"}}}},
        404: {"model": Error, "description": "contact rows off (DESKPULSE_CONTACT_ROWS)"},
        **AUTH_ERRORS,
    },
    openapi_extra=rule("list"),
)
async def contacts_csv(
    request: Request,
    figures: Annotated[Figures, Depends(get_figures)],
    access: AccessDep,
    scope: Annotated[
        str, Query(min_length=1, max_length=600, description="scope id, e.g. `queue/zendesk/billing`")
    ] = "all",
    window: ExportWindow = "7d",
) -> StreamingResponse:
    now = figures.model.stream_ms() or 0
    since = {"24h": now - DAY_MS, "7d": now - 7 * DAY_MS, "today": now - now % DAY_MS, "all": None}[window]
    rows = [
        r
        for r in store(request).of(scope)
        if visible(access, r)
        and (since is None or (r["created_at"] is not None and r["created_at"] >= from_epoch_ms(since)))
    ]
    rows.sort(key=lambda r: (r["created_at"] or "", r["key"]))

    async def body():
        yield _csv([CSV_FIELDS])
        for start in range(0, len(rows), 1000):
            yield _csv(_cells(r) for r in rows[start : start + 1000])
            await asyncio.sleep(0)

    return StreamingResponse(
        body(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="contacts.csv"'},
    )
