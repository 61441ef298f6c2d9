"""API service: figures from the read model over HTTP, server-sent events and Prometheus. Wiring only."""

from __future__ import annotations

import logging
from collections import Counter
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from services.api.consumer import SnapshotConsumer
from services.api.contactstore import ContactStore
from services.api.deps import Figures
from services.api.fanout import SharedEvents
from services.api.goals import GOAL_METRICS, unknown_metrics
from services.api.reach import rule
from services.api.readmodel import ReadModel
from services.api.routers import contacts as contacts_router
from services.api.routers import health, insights, metrics, pages, scopes, stream, teams
from services.api.slices import Foreground
from services.api.stream import ChangeFeed
from services.api.tokens import Tokens, TokensFileError, counted
from services.common.events import from_epoch_ms
from services.common.settings import Settings, is_loopback
from services.domain.slaconfig import SlaConfig, SlaConfigError

WALLBOARD = Path(__file__).resolve().parent / "wallboard"

DESCRIPTION = """Live customer-service KPIs per scope (`all`, platform, account, queue, agent, issue category) and window.

Durations are seconds, timestamps RFC 3339 UTC, ratios 0–1 and `null` when there is no data. Errors are JSON
with a human-readable `detail`: 404 unknown scope, 409 a bare id several platforms use, 422 a bad parameter,
401 a missing, unknown or expired bearer token and 403 a scope outside the token's reach when tokens are on
(each route's `x-deskpulse-access` says who may call it; docs/api.md, Roles). Every body has `stale_seconds`:
seconds since the API last received figures from Kafka.
"""

log = logging.getLogger(__name__)


class ConfigError(RuntimeError):
    """The API cannot start with this configuration; the message says what to fix."""


def exposure(settings: Settings, tokens: Tokens) -> str | None:
    """What to say loudly when the API listens beyond this machine without tokens (at start, on /readyz)."""
    if tokens.book.enabled or is_loopback(settings.api_host):
        return None
    return (
        f"the API listens on {settings.api_host} without tokens: every agent's and team's figures are open to "
        "anyone who can reach it; set DESKPULSE_API_TOKENS_FILE (docs/api.md, Roles)"
    )


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
        raise ConfigError(
            f"unknown goal metric(s) {', '.join(unknown)} in {settings.sla_config}; "
            f"known: {', '.join(sorted(GOAL_METRICS))}"
        )
    return config


def create_app(
    settings: Settings,
    read_model: ReadModel | None = None,
    consume: bool = True,
    sla: SlaConfig | None = None,
    contacts: ContactStore | None = None,
    *,
    stream_interval_s: float = 0.5,
    keepalive_s: float = 15.0,
    replay_buffer: int = 10_000,
) -> FastAPI:
    model = read_model or ReadModel()
    sla = sla if sla is not None else load_sla(settings)
    try:
        tokens = Tokens.from_settings(settings, model.clock)
    except TokensFileError as exc:
        raise ConfigError(str(exc)) from None
    open_to_network = exposure(settings, tokens)
    if open_to_network:
        log.warning("OPEN: %s", open_to_network)
    elif tokens.book.enabled:
        log.info("bearer tokens on: %s", counted(tokens.book.counts()))
    contacts = contacts if contacts is not None else ContactStore()
    consumers = [SnapshotConsumer(settings, model)] if consume else []
    if consume and settings.contact_rows:  # unless DESKPULSE_CONTACT_ROWS=false
        consumers.append(SnapshotConsumer(settings, contacts, settings.contacts_topic))
    feed = ChangeFeed(model, interval_s=stream_interval_s, buffer=replay_buffer)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        for consumer in consumers:
            await consumer.start()
        await feed.start()
        yield
        await feed.stop()
        for consumer in consumers:
            await consumer.stop()

    # /docs from the project's own copy of Swagger UI (the default loads it from a CDN: a blank page offline)
    app = FastAPI(
        title="deskpulse API",
        version="0.2.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.read_model = model
    app.state.figures = Figures(model, settings, sla)
    app.state.tokens = tokens
    # When the goals were read (the SLA config is read once, at start): /readyz and the team routes say it.
    app.state.sla_loaded = from_epoch_ms(model.clock()) if sla is not None else None
    app.state.contacts = contacts
    app.state.denials = Counter()  # (route, reason) -> refused requests (deskpulse_api_denied_total)
    app.state.exposure = open_to_network
    app.state.change_feed = feed
    app.state.foreground = Foreground()  # held by /metrics renders; the live stream's builds step aside
    app.state.shared_events = SharedEvents(
        feed, app.state.figures.body, model.all_scopes, foreground=app.state.foreground
    )
    app.state.keepalive_s = keepalive_s

    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET"],
            allow_headers=["Authorization", "Last-Event-ID"],
            allow_credentials=False,
        )

    # insights, teams and contacts first: /v1/queues/{queue}/outliers, .../team and .../contacts must win over
    # /v1/queues/{queue_key:path}
    for router in (
        insights.router,
        teams.router,
        contacts_router.router,
        scopes.router,
        stream.router,
        health.router,
        metrics.router,
    ):
        app.include_router(router)
    app.router.routes.insert(0, stream.light_route())  # the stream's common case, without FastAPI

    if (WALLBOARD / "index.html").is_file():

        @app.get("/", include_in_schema=False, openapi_extra=rule("open"))
        async def wallboard_page() -> FileResponse:
            return FileResponse(WALLBOARD / "index.html")

        app.mount("/wallboard", StaticFiles(directory=WALLBOARD), name="wallboard")

    app.include_router(pages.router)
    app.include_router(pages.docs_router(app.openapi_url or "/openapi.json", app.title))
    app.mount("/pages", StaticFiles(directory=pages.PAGES), name="pages")

    return app
