"""What the routers depend on (``Depends``): the read model, the settings, the figures builder, auth."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from functools import cached_property

from fastapi import Depends, HTTPException, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from services.api.goals import goals_body
from services.api.periods import day_calendar, trend_body
from services.api.readmodel import ReadModel
from services.api.staffing import StaffingConfig, scope_staffing
from services.api.staffing import empty as empty_staffing
from services.api.views import scope_body
from services.common.settings import Settings
from services.domain.calendars import local_day_start
from services.domain.slaconfig import SlaConfig


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
        if kind in ("queue", "agent"):
            out["name"] = self.name(kind, out["platform"], out["id"])
        out["trend"] = trend_body(view.days if view else {}, day_calendar(self.sla, kind, queue), now)
        out["stale_seconds"] = model.stale_seconds()
        if self.sla is not None:
            out["goals"] = goals_body(self.sla.goals_for(queue), out)
        if kind in ("queue", "platform"):
            out["staffing"] = self._staffing(view, scope, kind, now)
        return out

    def name(self, kind: str, platform: str | None, key: str | None) -> str | None:
        """A queue's or an agent's display name (``names:`` of the SLA config), else None."""
        return self.sla.name_for(kind, platform, key) if self.sla is not None else None

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

    def resolve(self, kind: str, key: str) -> str:
        """Scope id for ``platform/id``, or for a bare id that exactly one platform uses; 404 / 409 otherwise."""
        scope = f"{kind}/{key}"
        if scope in self.model:
            return scope
        matches = self.model.by_id(kind, key)
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            platforms = ", ".join(s.split("/", 2)[1] for s in matches)
            raise HTTPException(409, f"{kind} '{key}' exists on several platforms ({platforms}); use <platform>/{key}")
        raise HTTPException(404, f"unknown {kind} '{key}'")


# Dependencies are ``async def``: FastAPI runs a plain ``def`` dependency in its thread pool, a thread hop per
# request that queued the agent-status polls behind a herd of stream connections (bench/stream.py).
async def get_model(request: Request) -> ReadModel:
    return request.app.state.read_model


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_figures(request: Request) -> Figures:
    return request.app.state.figures


_bearer = HTTPBearer(auto_error=False, description="Needed only when DESKPULSE_API_TOKENS is set")


def valid_token(settings: Settings, token: str | None) -> bool:
    """Whether ``token`` is one of ``DESKPULSE_API_TOKENS`` (compared with each, in constant time)."""
    if token is None:
        return False
    given = token.encode()
    ok = False
    for secret in settings.api_tokens:  # compare with every token, in constant time
        ok |= hmac.compare_digest(given, secret.get_secret_value().encode())
    return ok


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(401, detail, headers={"WWW-Authenticate": "Bearer"})


def _check(settings: Settings, credentials: HTTPAuthorizationCredentials | None) -> None:
    if credentials is None:
        raise _unauthorized("missing bearer token (Authorization: Bearer <token>)")
    if not valid_token(settings, credentials.credentials):
        raise _unauthorized("invalid bearer token")


async def require_token(request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)) -> None:
    """Bearer-token check, on only when ``DESKPULSE_API_TOKENS`` is set."""
    settings: Settings = request.app.state.settings
    if settings.api_tokens:
        _check(settings, credentials)


async def require_token_or_query(
    request: Request,
    credentials: HTTPAuthorizationCredentials | None = Depends(_bearer),
    access_token: str | None = Query(
        None,
        description="the bearer token, for clients that cannot set headers "
        "(a browser's EventSource); only when tokens are on",
    ),
) -> None:
    """As :func:`require_token`, also accepting ``?access_token=`` (browsers' EventSource cannot set headers)."""
    settings: Settings = request.app.state.settings
    if not settings.api_tokens:
        return
    if access_token is not None:
        if not valid_token(settings, access_token):
            raise _unauthorized("invalid bearer token")
        return
    _check(settings, credentials)
