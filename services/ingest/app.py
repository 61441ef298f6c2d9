"""Ingest service: webhooks in, canonical events durably on Kafka, then 2xx.

Wiring only: the FastAPI app, the producer's lifespan, the routes and the metrics registry. One route family
serves every platform; the request pipeline behind it (read, verify, adapt, publish, answer) is the
``WebhookHandler`` in ``webhooks.py``. See ``docs/api.md`` for the status codes.
"""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from starlette.routing import Route

from services.common.clock import Clock, wall_ms
from services.common.settings import IngestSettings, is_loopback
from services.ingest.dedupe import RecentIds
from services.ingest.publisher import KafkaPublisher, Publisher
from services.ingest.secrets import SecretStore
from services.ingest.webhooks import IngestMetrics, WebhookHandler

log = logging.getLogger(__name__)


class OpenWritePath(RuntimeError):
    """Ingest would take any canonical event from the network; the message says how to close or accept that."""


def check_write_path(settings: IngestSettings, secrets: SecretStore) -> None:
    """Beyond loopback, the canonical webhook (events posted as they are) needs its secret, unless the operator
    opts out (``DESKPULSE_ALLOW_OPEN_WRITES``): without one, anyone who reaches ingest can write any figure."""
    if is_loopback(settings.ingest_host) or secrets.secrets("canonical", None):
        return
    what = (
        f"ingest listens on {settings.ingest_host} and DESKPULSE_WEBHOOK_SECRET_CANONICAL is not set: "
        "anyone who can reach it may post any event to /webhooks/canonical"
    )
    if not settings.allow_open_writes:
        raise OpenWritePath(
            f"{what}. Set DESKPULSE_WEBHOOK_SECRET_CANONICAL (or a 'canonical: {{default: ...}}' entry of "
            "DESKPULSE_WEBHOOK_SECRETS_FILE), or DESKPULSE_ALLOW_OPEN_WRITES=true to accept that (docs/deploy.md)"
        )
    log.warning("OPEN: %s (DESKPULSE_ALLOW_OPEN_WRITES=true)", what)


def create_app(
    settings: IngestSettings,
    publisher: Publisher | None = None,
    secrets: SecretStore | None = None,
    clock: Clock = wall_ms,
) -> FastAPI:
    """The ingest app; ``clock`` gives the receipt time (signed-timestamp windows, events from the future)."""
    publisher = publisher or KafkaPublisher(
        settings.kafka_bootstrap, timeout_s=settings.publish_timeout_s, linger_ms=settings.producer_linger_ms
    )
    secrets = secrets if secrets is not None else SecretStore.load(path=settings.webhook_secrets_file)
    check_write_path(settings, secrets)
    registry = CollectorRegistry()
    handler = WebhookHandler(
        settings, publisher, secrets, IngestMetrics(registry), RecentIds(settings.dedupe_cache_size), clock
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        await publisher.start()
        yield
        await publisher.stop()

    # deskpulse exports Prometheus metrics, not OpenTelemetry: FastAPI's native telemetry would still look up
    # the global OTel providers on every request (~5 % of a webhook's CPU in the profile).
    app = FastAPI(
        title="deskpulse ingest",
        version="0.1.0",
        lifespan=lifespan,
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )

    @app.post("/webhooks/{platform}", summary="Receive a platform webhook (or canonical events)")
    async def webhook(platform: str, request: Request) -> Response:
        return await handler.route(request, platform)

    @app.post("/webhooks/{platform}/{account}", summary="Receive a platform webhook for one account")
    async def webhook_for_account(platform: str, account: str, request: Request) -> Response:
        return await handler.route(request, platform, account)

    # The hot path: the same two routes as plain Starlette routes, matched before the FastAPI ones above (which
    # stay for the OpenAPI description and behave the same). FastAPI's per-request dependency solving and
    # parameter validation cost more CPU than the bare 202 endpoint itself (docs/performance.md, "Profiling").
    async def fast_webhook(request: Request) -> Response:
        params = request.path_params
        return await handler.route(request, params["platform"], params.get("account"))

    app.router.routes[:0] = [
        Route("/webhooks/{platform}", fast_webhook, methods=["POST"]),
        Route("/webhooks/{platform}/{account}", fast_webhook, methods=["POST"]),
    ]

    @app.get("/healthz")
    async def healthz() -> dict:
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz() -> JSONResponse:
        if publisher.connected:
            return JSONResponse({"status": "ready"})
        return JSONResponse({"status": "waiting for Kafka", "detail": "not connected to Kafka"}, status_code=503)

    @app.get("/metrics")
    def prometheus_metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return app
