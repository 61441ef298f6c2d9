"""Ingest service: webhooks in, canonical events durably on Kafka, then 2xx.

Wiring only: the request body is read under a size limit, decoded, validated (pure), published, and
answered. Platform adapters (``platforms/``) plug into ``/webhooks/{platform}``.
"""

from __future__ import annotations

import json
import logging
import time
from contextlib import asynccontextmanager

from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest

from services.common.events import CanonicalEvent, EventValidationError, parse_event
from services.common.settings import Settings
from services.ingest.publisher import KafkaPublisher, Publisher, PublishUnavailable

log = logging.getLogger(__name__)

# Platforms served by this ingest; any other path segment is counted as "unknown" so that metric labels stay
# bounded whatever clients send.
KNOWN_PLATFORMS = frozenset({"canonical"})


class IngestMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.received = Counter(
            "deskpulse_webhooks_received_total",
            "Webhook deliveries by platform and outcome "
            "(accepted, malformed, too_large, unsupported_media_type, unknown_platform, unavailable)",
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


class Rejected(HTTPException):
    """An HTTP error that is also counted under ``outcome``."""

    def __init__(self, status: int, outcome: str, detail: str) -> None:
        super().__init__(status, detail)
        self.outcome = outcome


def _is_json(content_type: str | None) -> bool:
    media = (content_type or "").split(";")[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


async def read_body(request: Request, limit: int) -> bytes:
    """The raw body, or 413 as soon as it is known to exceed ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise Rejected(413, "too_large", f"body of {declared} bytes exceeds the limit of {limit} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise Rejected(413, "too_large", f"body exceeds the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def parse_canonical_body(body: bytes) -> list[CanonicalEvent]:
    """Decode one canonical event or a non-empty array of them; all or nothing.

    Raises ``Rejected`` (400) naming the offending element and field.
    """
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise Rejected(400, "malformed", f"malformed JSON: {exc}") from None
    if isinstance(document, list):
        if not document:
            raise Rejected(400, "malformed", "the array holds no events")
        events = []
        for index, item in enumerate(document):
            try:
                events.append(parse_event(item))
            except EventValidationError as exc:
                raise Rejected(400, "malformed", f"event[{index}]: {exc}") from None
        return events
    try:
        return [parse_event(document)]
    except EventValidationError as exc:
        raise Rejected(400, "malformed", str(exc)) from None


def create_app(settings: Settings, publisher: Publisher | None = None) -> FastAPI:
    publisher = publisher or KafkaPublisher(
        settings.kafka_bootstrap, timeout_s=settings.publish_timeout_s, linger_ms=settings.producer_linger_ms
    )
    registry = CollectorRegistry()
    metrics = IngestMetrics(registry)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        await publisher.start()
        yield
        await publisher.stop()

    app = FastAPI(title="deskpulse ingest", version="0.1.0", lifespan=lifespan)

    @app.exception_handler(Rejected)
    async def _rejected(request: Request, exc: Rejected) -> JSONResponse:
        platform = request.path_params.get("platform")
        platform = platform if platform in KNOWN_PLATFORMS else "unknown"
        metrics.received.labels(platform, exc.outcome).inc()
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)

    async def accept(platform: str, events: list[CanonicalEvent]) -> JSONResponse:
        records = [
            (e.kafka_key.encode(), json.dumps(e.to_json_dict(), separators=(",", ":")).encode()) for e in events
        ]
        started = time.perf_counter()
        try:
            await publisher.publish(settings.events_topic, records)
        except PublishUnavailable as exc:
            log.warning("answering 503 for %s: %s", platform, exc)
            raise Rejected(503, "unavailable", f"Kafka is unavailable, retry later ({exc})") from None
        metrics.publish_seconds.observe(time.perf_counter() - started)
        metrics.received.labels(platform, "accepted").inc()
        metrics.events.labels(platform).inc(len(events))
        return JSONResponse({"accepted": len(events)}, status_code=202)

    @app.post("/webhooks/canonical", status_code=202, summary="Post one canonical event or an array of them")
    async def canonical(request: Request) -> JSONResponse:
        request.path_params["platform"] = "canonical"
        if not _is_json(request.headers.get("content-type")):
            raise Rejected(415, "unsupported_media_type", "content type must be application/json")
        body = await read_body(request, settings.max_body_bytes)
        return await accept("canonical", parse_canonical_body(body))

    @app.post("/webhooks/{platform}")
    @app.post("/webhooks/{platform}/{account}")
    async def platform_webhook(platform: str, request: Request, account: str | None = None) -> JSONResponse:
        known = ", ".join(sorted(KNOWN_PLATFORMS))
        raise Rejected(404, "unknown_platform", f"unknown platform '{platform[:64]}'; known: {known}")

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
