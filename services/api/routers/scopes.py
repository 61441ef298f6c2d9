"""Figures of one scope, and lists of queues and agents."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.responses import JSONResponse

from services.api import examples
from services.api.deps import AUTH_ERRORS, Access, AccessDep, Figures, get_figures
from services.api.reach import rule
from services.api.schemas import AgentState, Error, Page, ScopeBody, Window

router = APIRouter(prefix="/v1", tags=["figures"])

WindowQuery = Annotated[
    Window,
    Query(
        description="`5m`, `15m`, `30m`, `1h` (one-minute buckets), `24h`, `today` "
        "(quarter-hour buckets; `today` from the local reset time), "
        "`all` (since the state began)"
    ),
]
PlatformFilter = Annotated[str | None, Query(min_length=1, max_length=200, description="only this platform")]
Limit = Annotated[int, Query(ge=1, le=1000, description="page size")]
Offset = Annotated[int, Query(ge=0, le=10_000_000, description="items to skip")]


def _one(kind: str, scope_example: str, *codes: int) -> dict[int | str, dict[str, Any]]:
    out: dict[int | str, dict[str, Any]] = {
        200: {"model": ScopeBody, "content": {"application/json": {"example": examples.body(scope_example)}}},
        **AUTH_ERRORS,
    }
    if 404 in codes:
        out[404] = {
            "model": Error,
            "description": f"unknown {kind}",
            "content": {"application/json": {"example": {"detail": f"unknown {kind} 'nobody'"}}},
        }
    if 409 in codes:
        out[409] = {
            "model": Error,
            "description": "a bare id several platforms use",
            "content": {
                "application/json": {
                    "example": {
                        "detail": f"{kind} 'shared' exists on several platforms (intercom, zendesk); "
                        "use <platform>/shared"
                    }
                }
            },
        }
    return out


def _page(scope_example: str) -> dict[int | str, dict[str, Any]]:
    return {
        200: {
            "model": Page,
            "content": {
                "application/json": {"example": {"items": [examples.body(scope_example)], "total": 1, "next": None}}
            },
        },
        **AUTH_ERRORS,
    }


@router.get(
    "/summary",
    summary="Figures over every platform",
    response_model=None,
    responses=_one("scope", "all"),
    openapi_extra=rule("scope"),
)
async def summary(
    figures: Annotated[Figures, Depends(get_figures)], access: AccessDep, window: WindowQuery = "all"
) -> JSONResponse:
    return JSONResponse(figures.body(access.check("all"), window, "all"))


@router.get(
    "/platforms/{platform}",
    summary="Figures of one platform",
    response_model=None,
    responses=_one("platform", "platform/zendesk", 404),
    openapi_extra=rule("scope"),
)
async def platform(
    platform: Annotated[str, Path(description="platform name, e.g. `zendesk`")],
    figures: Annotated[Figures, Depends(get_figures)],
    access: AccessDep,
    window: WindowQuery = "all",
) -> JSONResponse:
    return _known(figures, access, "platform", platform, window)


@router.get(
    "/accounts/{platform}/{account:path}",
    summary="Figures of one platform account",
    response_model=None,
    responses=_one("account", "account/zendesk/acme", 404),
    openapi_extra=rule("scope"),
)
async def account(
    platform: str,
    account: Annotated[str, Path(description="the account id within the platform")],
    figures: Annotated[Figures, Depends(get_figures)],
    access: AccessDep,
    window: WindowQuery = "all",
) -> JSONResponse:
    return _known(figures, access, "account", f"{platform}/{account}", window)


def _known(figures: Figures, access: Access, kind: str, key: str, window: str) -> JSONResponse:
    """The body of scope ``<kind>/<key>``; 403 outside the token's reach, then 404 naming what is unknown."""
    scope = access.check(f"{kind}/{key}")
    if scope not in figures.model:
        raise HTTPException(404, f"unknown {kind} '{key}'")
    return JSONResponse(figures.body(scope, window, kind))


def _listing(
    request: Request,
    figures: Figures,
    access: Access,
    kind: str,
    window: str,
    limit: int,
    offset: int,
    platform: str | None,
    keep=None,
) -> JSONResponse:
    scopes = figures.model.scopes(kind)
    if not access.reach.everything:
        scopes = [s for s in scopes if access.sees(s)]  # a list holds only what the token may see
    if platform is not None:
        prefix = f"{kind}/{platform}/"
        scopes = [s for s in scopes if s.startswith(prefix)]
    if keep is not None:
        scopes = [s for s in scopes if keep(s)]
    page = scopes[offset : offset + limit]
    nxt = None
    if offset + limit < len(scopes):
        params = {k: v for k, v in request.query_params.items() if k != "offset"}
        params["offset"] = str(offset + limit)
        nxt = f"{request.url.path}?{urlencode(params)}"
    return JSONResponse({"items": [figures.body(s, window, kind) for s in page], "total": len(scopes), "next": nxt})


@router.get(
    "/queues",
    summary="Every queue, paginated",
    response_model=None,
    responses=_page("queue/zendesk/billing"),
    description="Queues sorted by scope id (`queue/<platform>/<queue>`); `next` is the URL of the next "
    "page with the same filters, or null.",
    openapi_extra=rule("list"),
)
async def queues(
    request: Request,
    figures: Annotated[Figures, Depends(get_figures)],
    access: AccessDep,
    window: WindowQuery = "all",
    platform: PlatformFilter = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> JSONResponse:
    return _listing(request, figures, access, "queue", window, limit, offset, platform)


@router.get(
    "/queues/{queue_key:path}",
    summary="One queue, as <platform>/<queue_id> or a unique <queue_id>",
    response_model=None,
    responses=_one("queue", "queue/zendesk/billing", 404, 409),
    openapi_extra=rule("scope"),
)
async def queue(
    queue_key: Annotated[
        str, Path(description="`<platform>/<queue_id>`, or a bare `<queue_id>` that only one platform uses")
    ],
    figures: Annotated[Figures, Depends(get_figures)],
    access: AccessDep,
    window: WindowQuery = "all",
) -> JSONResponse:
    return JSONResponse(figures.body(figures.resolve("queue", queue_key, access), window, "queue"))


@router.get(
    "/categories",
    summary="Every issue category, paginated",
    response_model=None,
    responses=_page("category/billing"),
    description="Categories sorted by name (`category/<name>`): the configured ones that have contacts, "
    "and `other` (contacts no rule maps). Empty when no categories are configured "
    "(docs/kpis.md, Categories).",
    openapi_extra=rule("list"),
)
async def categories(
    request: Request,
    figures: Annotated[Figures, Depends(get_figures)],
    access: AccessDep,
    window: WindowQuery = "all",
    limit: Limit = 100,
    offset: Offset = 0,
) -> JSONResponse:
    return _listing(request, figures, access, "category", window, limit, offset, None)


@router.get(
    "/categories/{name}",
    summary="One issue category: every KPI of its contacts, over every platform",
    response_model=None,
    responses=_one("category", "category/billing", 404),
    openapi_extra=rule("scope"),
)
async def category(
    name: Annotated[str, Path(description="category name, e.g. `billing`, or `other`")],
    figures: Annotated[Figures, Depends(get_figures)],
    access: AccessDep,
    window: WindowQuery = "all",
) -> JSONResponse:
    return _known(figures, access, "category", name, window)


@router.get(
    "/agents",
    summary="Every agent, paginated",
    response_model=None,
    responses=_page("agent/zendesk/42"),
    description="Agents sorted by scope id (`agent/<platform>/<agent>`), optionally only those of a "
    "platform and in a current presence `state`. Agents are not tied to queues by presence "
    "events, so there is no queue filter.",
    openapi_extra=rule("list"),
)
async def agents(
    request: Request,
    figures: Annotated[Figures, Depends(get_figures)],
    access: AccessDep,
    window: WindowQuery = "all",
    platform: PlatformFilter = None,
    state: Annotated[AgentState | None, Query(description="current presence state")] = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> JSONResponse:
    model = figures.model
    return _listing(
        request,
        figures,
        access,
        "agent",
        window,
        limit,
        offset,
        platform,
        (lambda scope: model.agent_state(scope) == state) if state else None,
    )


@router.get(
    "/agents/{agent_key:path}",
    summary="One agent's status and figures",
    description="What integrations call for an agent's current status: `agent.state` and `agent.since`, "
    "`live.open` (open contacts assigned now) and the agent's work figures in the window "
    "(`?window=today` for today's). `<platform>/<agent_id>`, or a bare `<agent_id>` that only "
    "one platform uses.",
    response_model=None,
    responses=_one("agent", "agent/zendesk/42", 404, 409),
    openapi_extra=rule("scope"),
)
async def agent(
    agent_key: Annotated[str, Path(description="`<platform>/<agent_id>` or a unique `<agent_id>`")],
    figures: Annotated[Figures, Depends(get_figures)],
    access: AccessDep,
    window: WindowQuery = "all",
) -> JSONResponse:
    return JSONResponse(figures.body(figures.resolve("agent", agent_key, access), window, "agent"))
