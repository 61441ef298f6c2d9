"""Ingest service: webhooks in, canonical events durably on Kafka, then 2xx.

Wiring only. One route family serves every platform: read the body under a size limit, check the media
type, verify (pure, per platform), adapt (pure, per platform), publish, answer. Unmappable but authentic
deliveries go to the DLQ topic and get 422. See ``docs/api.md`` for the status codes.
"""

from __future__ import annotations

import base64
import json
import logging
import time
from collections import OrderedDict
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from starlette.routing import Route

from services.common.clock import Clock, wall_ms
from services.common.events import CanonicalEvent
from services.common.settings import Settings
from services.ingest import eventtime, platforms
from services.ingest.platforms import canonical
from services.ingest.platforms.base import Adapted, Delivery, Reply, WebhookError
from services.ingest.publisher import KafkaPublisher, Publisher, PublishUnavailable
from services.ingest.secrets import SecretStore

log = logging.getLogger(__name__)

OUTCOMES = ("accepted", "duplicate", "ignored", "unauthorized", "malformed", "unmappable", "unavailable",
            "too_large", "unsupported_media_type", "unknown_platform")
# Headers never copied into the DLQ: credentials.
_SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "x-api-key"})


class IngestMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.received = Counter(
            "deskpulse_webhooks_received_total",
            "Webhook deliveries by platform and outcome (" + ", ".join(OUTCOMES) + ")",
            ["platform", "outcome"],
            registry=registry,
        )
        self.events = Counter(
            "deskpulse_ingest_events_published_total", "Canonical events acknowledged by Kafka", ["platform"],
            registry=registry,
        )
        self.publish_seconds = Histogram(
            "deskpulse_ingest_publish_seconds", "Time from publish to Kafka's acknowledgement of a delivery",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            registry=registry,
        )
        self.future = Counter(
            "deskpulse_ingest_future_events_total",
            "Events whose occurred_at was more than DESKPULSE_MAX_CLOCK_SKEW_S ahead of ingest's clock, by platform "
            "and action (refused: a canonical event, answered 400; restamped: a platform's event, accepted at its "
            "receipt time)",
            ["platform", "action"],
            registry=registry,
        )
        self._received: dict[tuple[str, str], object] = {}
        self._events: dict[str, object] = {}

    def count(self, platform: str, outcome: str) -> None:
        """``received{platform, outcome}`` += 1, with the labelled child looked up once (labels() costs µs)."""
        child = self._received.get((platform, outcome))
        if child is None:
            child = self._received[(platform, outcome)] = self.received.labels(platform, outcome)
        child.inc()

    def published(self, platform: str, n: int) -> None:
        child = self._events.get(platform)
        if child is None:
            child = self._events[platform] = self.events.labels(platform)
        child.inc(n)


class RecentIds:
    """Event ids acknowledged recently (bounded LRU), so an immediate redelivery is answered 200 unpublished.

    Only ids Kafka acknowledged are remembered; a delivery that failed is never mistaken for a duplicate.
    """

    def __init__(self, size: int) -> None:
        self._size = size
        self._ids: OrderedDict[str, None] = OrderedDict()

    def all_seen(self, ids: list[str]) -> bool:
        return self._size > 0 and bool(ids) and all(i in self._ids for i in ids)

    def remember(self, ids: list[str]) -> None:
        if self._size == 0:
            return
        for i in ids:
            self._ids[i] = None
            self._ids.move_to_end(i)
        while len(self._ids) > self._size:
            self._ids.popitem(last=False)


def media_type(content_type: str | None) -> str:
    media = (content_type or "").split(";")[0].strip().lower()
    if media.startswith("application/") and media.endswith("+json"):
        return "application/json"
    return media


async def read_body(request: Request, limit: int) -> bytes:
    """The raw body, or ``WebhookError`` 413 as soon as it is known to exceed ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _error(413, "too_large", f"body of {declared} bytes exceeds the limit of {limit} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _error(413, "too_large", f"body exceeds the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _error(status: int, outcome: str, detail: str) -> WebhookError:
    err = WebhookError(detail)
    err.status, err.outcome = status, outcome
    return err


def public_url(settings: Settings, request: Request) -> str:
    """The URL as the platform called it: behind a proxy, rebuilt from DESKPULSE_PUBLIC_BASE_URL."""
    if not settings.public_base_url:
        return str(request.url)
    query = f"?{request.url.query}" if request.url.query else ""
    return settings.public_base_url.rstrip("/") + request.url.path + query


def missing_secret(platform: str, account: str | None) -> str:
    """The 401 detail when no secret is configured for a platform (or one of its accounts): what to set."""
    variable = f"DESKPULSE_WEBHOOK_SECRET_{platform.upper()}"
    if account:
        return (f"no webhook secret is configured for {platform}/{account}: set {variable} (every account), or "
                f"add '{account}' under '{platform}' in the file DESKPULSE_WEBHOOK_SECRETS_FILE names")
    return (f"no webhook secret is configured for {platform}: set {variable}, or add '{platform}: {{default: "
            f"<secret>}}' to the file DESKPULSE_WEBHOOK_SECRETS_FILE names")


def dlq_record(platform: str, delivery: Delivery, reason: str) -> tuple[bytes, bytes]:
    try:
        body: dict = {"text": delivery.body.decode()}
    except UnicodeDecodeError:
        body = {"base64": base64.b64encode(delivery.body).decode()}
    value = {
        "platform": platform,
        "account": delivery.account,
        "reason": reason,
        "received_at": delivery.received_at,
        "headers": {k: v for k, v in delivery.headers.items() if k not in _SECRET_HEADERS and "secret" not in k},
        "body": body,
    }
    return platform.encode(), json.dumps(value).encode()


def create_app(settings: Settings, publisher: Publisher | None = None, secrets: SecretStore | None = None,
               clock: Clock = wall_ms) -> FastAPI:
    """The ingest app; ``clock`` gives the receipt time (signed-timestamp windows, events from the future)."""
    publisher = publisher or KafkaPublisher(
        settings.kafka_bootstrap, timeout_s=settings.publish_timeout_s, linger_ms=settings.producer_linger_ms
    )
    secrets = secrets if secrets is not None else SecretStore.load(path=settings.webhook_secrets_file)
    registry = CollectorRegistry()
    metrics = IngestMetrics(registry)
    recent = RecentIds(settings.dedupe_cache_size)
    max_skew_ms = int(settings.max_clock_skew_s * 1000)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        await publisher.start()
        yield
        await publisher.stop()

    # deskpulse exports Prometheus metrics, not OpenTelemetry: FastAPI's native telemetry would still look up
    # the global OTel providers on every request (~5 % of a webhook's CPU in the profile).
    app = FastAPI(title="deskpulse ingest", version="0.1.0", lifespan=lifespan,
                  telemetry={"tracing": False, "metrics": False, "logs": False})

    async def publish(platform: str, events: list[CanonicalEvent]) -> None:
        # pydantic's own JSON encoder: the same document as json.dumps(e.to_json_dict()) (non-ASCII text as UTF-8
        # rather than \u escapes), about 8 times cheaper.
        records = [(e.kafka_key.encode(), e.model_dump_json(by_alias=True).encode()) for e in events]
        started = time.perf_counter()
        try:
            await publisher.publish(settings.events_topic, records)
        except PublishUnavailable as exc:
            log.warning("answering 503 for %s: %s", platform, exc)
            raise _error(503, "unavailable", f"Kafka is unavailable, retry later ({exc})") from None
        metrics.publish_seconds.observe(time.perf_counter() - started)

    async def handle(platform: str, account: str | None, request: Request) -> Response:
        adapter = platforms.get(platform)
        if adapter is None:
            known = ", ".join(sorted(platforms.PLATFORMS))
            raise _error(404, "unknown_platform", f"unknown platform '{platform[:64]}'; known: {known}")
        body = await read_body(request, settings.max_body_bytes)
        if media_type(request.headers.get("content-type")) not in adapter.MEDIA_TYPES:
            accepted = " or ".join(sorted(adapter.MEDIA_TYPES))
            raise _error(415, "unsupported_media_type", f"{platform} webhooks must be sent as {accepted}")
        received_ms = clock()
        delivery = Delivery(
            body=body,
            headers={k.decode("latin-1").lower(): v.decode("latin-1") for k, v in request.scope["headers"]},
            method=request.method,
            # Building the URL and the query dict costs tens of µs: only for platforms that sign or read them.
            url=public_url(settings, request) if getattr(adapter, "SIGNS_URL", False) else "",
            query=dict(request.query_params) if request.scope.get("query_string") else {},
            account=account,
            received_at=received_ms / 1000,
        )
        configured = secrets.secrets(platform, account)
        if adapter.REQUIRES_SECRET and not configured:
            raise _error(401, "unauthorized", missing_secret(platform, account))
        adapter.verify(delivery, configured, settings.signature_tolerance_s)
        try:
            adapted: Adapted = adapter.to_events(delivery)
        except WebhookError as exc:
            if exc.outcome == "unmappable":
                await publisher_dlq(platform, delivery, exc.detail)
            raise
        reply = adapted.reply
        events = adapted.events
        if not events:
            metrics.count(platform, "ignored")
            return _reply(reply) if reply else JSONResponse({"accepted": 0, "ignored": True}, status_code=200)
        events = bound_event_times(platform, events, received_ms)
        ids = [e.event_id for e in events]
        if recent.all_seen(ids):
            metrics.count(platform, "duplicate")
            return _reply(reply) if reply else JSONResponse({"accepted": 0, "duplicate": True}, status_code=200)
        await publish(platform, events)
        recent.remember(ids)
        metrics.count(platform, "accepted")
        metrics.published(platform, len(events))
        if reply:
            return _reply(reply)
        # The bytes JSONResponse({"accepted": n}) renders, without its generic JSON encoder.
        return Response(b'{"accepted":%d}' % len(events), status_code=202, media_type="application/json")

    def bound_event_times(platform: str, events: list[CanonicalEvent], received_ms: int) -> list[CanonicalEvent]:
        """Refuses (canonical) or restamps (platforms) events from further in the future than the skew allows."""
        ahead = eventtime.beyond_skew(events, received_ms, max_skew_ms)
        if not ahead:
            return events
        if platform == canonical.NAME:
            metrics.future.labels(platform, "refused").inc(len(ahead))
            raise _error(400, "malformed", eventtime.refusal(events, ahead[0], received_ms, max_skew_ms))
        metrics.future.labels(platform, "restamped").inc(len(ahead))
        log.warning("%s sent %d event(s) dated more than %.0f s ahead of ingest's clock (first: %s at %s); "
                    "stamped with the receipt time", platform, len(ahead), max_skew_ms / 1000,
                    events[ahead[0]].event_id, events[ahead[0]].occurred_at)
        late = set(ahead)
        return [eventtime.restamp(e, received_ms) if i in late else e for i, e in enumerate(events)]

    async def publisher_dlq(platform: str, delivery: Delivery, reason: str) -> None:
        try:
            await publisher.publish(settings.dlq_topic, [dlq_record(platform, delivery, reason)])
        except PublishUnavailable as exc:  # the platform retries on 503; nothing is lost
            raise _error(503, "unavailable", f"Kafka is unavailable, retry later ({exc})") from None

    async def route(request: Request, platform: str, account: str | None = None) -> Response:
        try:
            return await handle(platform, account, request)
        except WebhookError as exc:
            label = platform if platform in platforms.PLATFORMS else "unknown"
            metrics.count(label, exc.outcome)
            return JSONResponse({"detail": exc.detail}, status_code=exc.status)

    @app.post("/webhooks/{platform}", summary="Receive a platform webhook (or canonical events)")
    async def webhook(platform: str, request: Request) -> Response:
        return await route(request, platform)

    @app.post("/webhooks/{platform}/{account}", summary="Receive a platform webhook for one account")
    async def webhook_for_account(platform: str, account: str, request: Request) -> Response:
        return await route(request, platform, account)

    # The hot path: the same two routes as plain Starlette routes, matched before the FastAPI ones above (which
    # stay for the OpenAPI description and behave the same). FastAPI's per-request dependency solving and
    # parameter validation cost more CPU than the bare 202 endpoint itself (docs/performance.md, "Profiling").
    async def fast_webhook(request: Request) -> Response:
        params = request.path_params
        return await route(request, params["platform"], params.get("account"))

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


def _reply(reply: Reply) -> Response:
    return Response(reply.body, status_code=reply.status, media_type=reply.media_type)
