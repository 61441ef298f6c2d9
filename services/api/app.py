"""API service: figures from the read model over HTTP and Prometheus. Wiring only."""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from typing import Literal

from fastapi import FastAPI, HTTPException, Query, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST

from services.api import metrics
from services.api.readmodel import ReadModel, SnapshotConsumer
from services.aggregator.calendars import local_day_start
from services.aggregator.sla import SlaConfig, SlaConfigError
from services.api.goals import GOAL_METRICS, goals_body, unknown_metrics
from services.api.views import scope_body
from services.common.settings import Settings

Window = Literal["5m", "15m", "30m", "1h", "24h", "today", "all"]


class ConfigError(RuntimeError):
    """The API cannot start with this configuration; the message says what to fix."""


def load_sla(settings: Settings) -> SlaConfig | None:
    if settings.sla_config is None:
        return None
    try:
        config = SlaConfig.load(settings.sla_config)
    except (SlaConfigError, OSError) as exc:
        raise ConfigError(f"cannot use DESKPULSE_SLA_CONFIG={settings.sla_config}: {exc}") from None
    names = set(config.global_goals) | {n for g in config.queue_goals.values() for n in g}
    unknown = unknown_metrics(dict.fromkeys(names))
    if unknown:
        raise ConfigError(f"unknown goal metric(s) {', '.join(unknown)} in {settings.sla_config}; "
                          f"known: {', '.join(sorted(GOAL_METRICS))}")
    return config


def create_app(settings: Settings, read_model: ReadModel | None = None, consume: bool = True,
               sla: SlaConfig | None = None) -> FastAPI:
    model = read_model or ReadModel()
    sla = sla if sla is not None else load_sla(settings)
    consumer = SnapshotConsumer(settings, model) if consume else None

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if consumer is not None:
            await consumer.start()
        yield
        if consumer is not None:
            await consumer.stop()

    app = FastAPI(title="deskpulse API", version="0.1.0", lifespan=lifespan)
    app.state.read_model = model

    def resolve(kind: str, key: str) -> str:
        """Scope id for ``platform/id``, or for a bare id that exactly one platform uses."""
        scope = f"{kind}/{key}"
        if model.view(scope) is not None:
            return scope
        matches = [s for s in model.scopes(kind) if s.split("/", 2)[2] == key]
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            platforms = ", ".join(s.split("/", 2)[1] for s in matches)
            raise HTTPException(409, f"{kind} '{key}' exists on several platforms ({platforms}); use <platform>/{key}")
        raise HTTPException(404, f"unknown {kind} '{key}'")

    def body(scope: str, kind: str, window: str) -> dict:
        view = model.view(scope)
        queue = view.id if view is not None and kind == "queue" else None
        # Windows run on stream time (event time, advanced by the wall clock while idle), so a replay of
        # history shows its own "last 15 minutes".
        now = view.stream_ms if view else metrics.now_ms()
        day = sla.day_for(queue) if sla is not None else None
        today = local_day_start(day.timezone if day else settings.timezone, now,
                                day.reset if day else settings.day_reset)
        out = scope_body(view, scope, kind, window, now, today)
        if sla is not None:
            out["goals"] = goals_body(sla.goals_for(queue), out)
        return out

    @app.get("/v1/summary", summary="Figures over every platform")
    async def summary(window: Window = Query("all")) -> dict:
        return body("all", "all", window)

    @app.get("/v1/platforms/{platform}", summary="Figures of one platform")
    async def platform(platform: str, window: Window = Query("all")) -> dict:
        scope = f"platform/{platform}"
        if model.view(scope) is None:
            raise HTTPException(404, f"unknown platform '{platform}'")
        return body(scope, "platform", window)

    @app.get("/v1/queues/{queue_key:path}", summary="One queue, as <platform>/<queue_id> or a unique <queue_id>")
    async def queue(queue_key: str, window: Window = Query("all")) -> dict:
        return body(resolve("queue", queue_key), "queue", window)

    @app.get("/v1/agents/{agent_key:path}", summary="One agent, as <platform>/<agent_id> or a unique <agent_id>")
    async def agent(agent_key: str, window: Window = Query("all")) -> dict:
        return body(resolve("agent", agent_key), "agent", window)

    @app.get("/healthz")
    async def healthz() -> dict:
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz() -> JSONResponse:
        if model.caught_up:
            return JSONResponse({"status": "ready"})
        return JSONResponse({"status": "catching up", "detail": "read model is still reading the snapshot topic"},
                            status_code=503)

    @app.get("/metrics")
    async def prometheus_metrics() -> Response:
        views = model.views()  # consistent copy, taken on the loop
        body = await asyncio.to_thread(metrics.render, views, model.caught_up)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    return app
