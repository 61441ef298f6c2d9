"""What the routers depend on (``Depends``): the read model, the settings, the figures builder, auth."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import cached_property
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from services.api.goals import goals_body
from services.api.periods import day_calendar, trend_body
from services.api.reach import Reach
from services.api.readmodel import ReadModel
from services.api.schemas import Error
from services.api.staffing import StaffingConfig, scope_staffing
from services.api.staffing import empty as empty_staffing
from services.api.tokens import Grant, Tokens
from services.api.views import scope_body
from services.common.settings import Settings
from services.domain.calendars import local_day_start
from services.domain.slaconfig import SlaConfig

log = logging.getLogger("services.api.access")


@dataclass
class Figures:
    """Builds the public body of a scope: ``views.scope_body`` plus goals, staffing and staleness."""

    model: ReadModel
    settings: Settings
    sla: SlaConfig | None

    @cached_property
    def staffing(self) -> StaffingConfig:
        return StaffingConfig.from_settings(self.settings, self.sla)

    def body(self, scope: str, window: str, kind: str | None = None) -> dict:
        model = self.model
        view = model.view(scope)
        kind = kind or (view.kind if view else scope.partition("/")[0])
        queue = view.id if view is not None and kind == "queue" else None
        # Windows run on stream time (event time, advanced by the wall clock while idle), so a replay of
        # history shows its own "last 15 minutes".
        now = view.stream_ms if view else model.clock()
        day = self.sla.day_for(queue) if self.sla is not None else None
        today = local_day_start(
            day.timezone if day else self.settings.timezone, now, day.reset if day else self.settings.day_reset
        )
        out = scope_body(view, scope, kind, window, now, today)
        if kind in ("queue", "agent", "account"):
            out["name"] = self.name(kind, out["platform"], out["id"])
        out["trend"] = trend_body(view.days if view else {}, day_calendar(self.sla, kind, queue), now)
        out["stale_seconds"] = model.stale_seconds()
        if self.sla is not None:
            out["goals"] = goals_body(self.sla.goals_for(queue), out)
        if kind in ("queue", "platform"):
            out["staffing"] = self._staffing(view, scope, kind, now)
        return out

    def name(self, kind: str, platform: str | None, key: str | None) -> str | None:
        """A queue's or an agent's display name: ``names:`` of the SLA config first, else the name the platform's
        events gave (``attributes.queue_name`` / ``agent_name``), else None."""
        configured = self.sla.name_for(kind, platform, key) if self.sla is not None else None
        if configured is not None or platform is None or key is None:
            return configured
        view = self.model.peek(f"{kind}/{platform}/{key}")
        return view.name if view is not None else None

    def _staffing(self, view, scope: str, kind: str, now: int) -> dict:
        """Erlang C on the scope's staffing window; agents from the platform's presence (docs/kpis.md)."""
        if view is None:
            parts = scope.split("/", 2)
            return empty_staffing(
                self.staffing,
                parts[2] if kind == "queue" and len(parts) > 2 else None,
                parts[1] if len(parts) > 1 else None,
            )
        platform = view if kind == "platform" else self.model.view(f"platform/{view.platform}")
        return scope_staffing(view, now, platform.live if platform is not None else None, self.staffing)

    def resolve(self, kind: str, key: str, access: Access, people: bool = False) -> str:
        """Scope id for ``platform/id``, or for a bare id that exactly one platform uses within the token's reach;
        403 outside the reach (before 404: whether a scope exists is not for every token to learn), 404, 409."""
        scope = f"{kind}/{key}"
        if scope in self.model:
            return access.check(scope, people)
        matches = self.model.by_id(kind, key)
        visible = [m for m in matches if access.sees(m, people)]
        if len(visible) == 1:
            return visible[0]
        if len(visible) > 1:
            platforms = ", ".join(s.split("/", 2)[1] for s in visible)
            raise HTTPException(409, f"{kind} '{key}' exists on several platforms ({platforms}); use <platform>/{key}")
        if matches:
            access.check(matches[0], people)
        if "/" in key:
            access.check(scope, people)  # unknown, named outside the reach: 403, as if it were there
        raise HTTPException(404, f"unknown {kind} '{key}'")


# Dependencies are ``async def``: FastAPI runs a plain ``def`` dependency in its thread pool, a thread hop per
# request that queued the agent-status polls behind a herd of stream connections (bench/stream.py).
async def get_model(request: Request) -> ReadModel:
    return request.app.state.read_model


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_figures(request: Request) -> Figures:
    return request.app.state.figures


_bearer = HTTPBearer(auto_error=False, description="Needed only when tokens are configured (docs/api.md, Roles)")
_REFUSED = {
    "missing": "missing bearer token (Authorization: Bearer <token>)",
    "unknown": "invalid bearer token",
    "expired": "this bearer token has expired",
}


def _route(request: Request) -> str:
    route = request.scope.get("route")
    return getattr(route, "path", None) or request.url.path


def deny(request: Request, status: int, reason: str, detail: str, grant: Grant | None = None) -> HTTPException:
    """A 401 or 403, counted in ``deskpulse_api_denied_total{route, reason}`` and logged (never the token)."""
    route = _route(request)
    request.app.state.denials[(route, reason)] += 1
    who = f" (token '{grant.name}')" if grant is not None else ""
    log.warning("denied %s %s: %s%s: %s", request.method, route, reason, who, detail)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return HTTPException(status, detail, headers=headers)


@dataclass
class Access:
    """The reach of the request's token (reach.py), whose refusals are 403s counted and logged."""

    reach: Reach
    request: Request

    def sees(self, scope: str, people: bool = False) -> bool:
        return self.reach.sees(scope, people)

    def check(self, scope: str, people: bool = False) -> str:
        """``scope`` if the token may read it; 403 naming the scope and the token's reach otherwise."""
        if self.reach.sees(scope, people):
            return scope
        grant = self.reach.grant
        assert grant is not None
        if people and grant.role == "agent" and self.reach.sees(scope):
            detail = (
                f"{scope}: an agent token sees its teams' aggregate figures, not other agents' ({grant.describe()})"
            )
        else:
            detail = f"{scope} is outside this token's reach ({grant.describe()})"
        raise deny(self.request, 403, "outside_reach", detail, grant)


def authenticate(request: Request, token: str | None) -> Grant | None:
    """The grant of ``token``; None when the API has no tokens (open); 401 when refused."""
    tokens: Tokens = request.app.state.tokens
    book = tokens.current()
    if not book.enabled:
        return None
    found = book.lookup(token, tokens.clock())
    if isinstance(found, str):
        raise deny(request, 401, found, _REFUSED[found])
    return found


def figures_access(request: Request, token: str | None) -> Access:
    grant = authenticate(request, token)
    if grant is not None and grant.role == "metrics":
        raise deny(request, 403, "role", "a metrics token reads only /metrics", grant)
    return Access(Reach(grant, request.app.state.read_model), request)


def _bearer_token(credentials: HTTPAuthorizationCredentials | None) -> str | None:
    return credentials.credentials if credentials is not None else None


async def get_access(request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)) -> Access:
    """The token's reach for a figures route (401 without a valid token when tokens are on)."""
    return figures_access(request, _bearer_token(credentials))


async def get_stream_access(
    request: Request,
    credentials: HTTPAuthorizationCredentials | None = Depends(_bearer),
    access_token: str | None = Query(
        None,
        description="the bearer token, for clients that cannot set headers "
        "(a browser's EventSource); only when tokens are on",
    ),
) -> Access:
    """As :func:`get_access`, also accepting ``?access_token=`` (browsers' EventSource cannot set headers)."""
    return figures_access(request, access_token if access_token is not None else _bearer_token(credentials))


AccessDep = Annotated[Access, Depends(get_access)]
# The refusals every figures route documents (docs/api.md, Authentication and Roles).
AUTH_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": Error, "description": "bearer token missing, unknown or expired (only when tokens are on)"},
    403: {"model": Error, "description": "a metrics token, or a scope outside the token's reach"},
}


async def require_metrics(
    request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)
) -> None:
    """``/metrics``: open unless a tokens file is in use; then a metrics or director token."""
    if not request.app.state.tokens.current().roles_file:
        return
    grant = authenticate(request, _bearer_token(credentials))
    if grant is not None and grant.role not in ("metrics", "director"):
        raise deny(request, 403, "role", f"/metrics needs a metrics or director token, not {grant.role}", grant)
