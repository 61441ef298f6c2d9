"""The webhook request pipeline: one delivery from the HTTP request to Kafka's acknowledgement and the answer.

Read the body under a size limit, check the media type, verify (pure, per platform), adapt (pure, per platform),
bound the event times, skip an immediate redelivery, publish, answer. Unmappable but authentic deliveries go to
the DLQ topic and get 422. Every failure is a ``WebhookError`` carrying its status and outcome; ``route`` turns it
into the JSON answer ``{"detail": ...}`` and counts it. See ``docs/api.md`` for the status codes.
"""

from __future__ import annotations

import logging
import time

from fastapi import Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CollectorRegistry, Counter, Histogram

from services.common.clock import Clock
from services.common.events import CanonicalEvent
from services.common.settings import IngestSettings
from services.ingest import eventtime, platforms
from services.ingest.dedupe import RecentIds
from services.ingest.dlq import dlq_record
from services.ingest.platforms import canonical
from services.ingest.platforms.base import Adapted, Delivery, Reply, WebhookError
from services.ingest.publisher import Publisher, PublishUnavailable
from services.ingest.secrets import SecretStore

log = logging.getLogger(__name__)

OUTCOMES = (
    "accepted",
    "duplicate",
    "ignored",
    "unauthorized",
    "malformed",
    "unmappable",
    "unavailable",
    "too_large",
    "unsupported_media_type",
    "unknown_platform",
)


class IngestMetrics:
    """The ingest service's metrics, on the registry its ``/metrics`` route exposes."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.received = Counter(
            "deskpulse_webhooks_received_total",
            "Webhook deliveries by platform and outcome (" + ", ".join(OUTCOMES) + ")",
            ["platform", "outcome"],
            registry=registry,
        )
        self.events = Counter(
            "deskpulse_ingest_events_published_total",
            "Canonical events acknowledged by Kafka",
            ["platform"],
            registry=registry,
        )
        self.publish_seconds = Histogram(
            "deskpulse_ingest_publish_seconds",
            "Time from publish to Kafka's acknowledgement of a delivery",
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
        self._received: dict[tuple[str, str], Counter] = {}
        self._events: dict[str, Counter] = {}

    def count(self, platform: str, outcome: str) -> None:
        """``received{platform, outcome}`` += 1, with the labelled child looked up once (labels() costs µs)."""
        child = self._received.get((platform, outcome))
        if child is None:
            child = self._received[(platform, outcome)] = self.received.labels(platform, outcome)
        child.inc()

    def published(self, platform: str, n: int) -> None:
        """``events{platform}`` += ``n``: events Kafka acknowledged."""
        child = self._events.get(platform)
        if child is None:
            child = self._events[platform] = self.events.labels(platform)
        child.inc(n)


def media_type(content_type: str | None) -> str:
    """The media type of a Content-Type header, lower-case, without parameters; ``application/*+json`` is JSON."""
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


def public_url(settings: IngestSettings, request: Request) -> str:
    """The URL as the platform called it: behind a proxy, rebuilt from DESKPULSE_PUBLIC_BASE_URL."""
    if not settings.public_base_url:
        return str(request.url)
    query = f"?{request.url.query}" if request.url.query else ""
    return settings.public_base_url.rstrip("/") + request.url.path + query


def missing_secret(platform: str, account: str | None) -> str:
    """The 401 detail when no secret is configured for a platform (or one of its accounts): what to set."""
    variable = f"DESKPULSE_WEBHOOK_SECRET_{platform.upper()}"
    if account:
        return (
            f"no webhook secret is configured for {platform}/{account}: set {variable} (every account), or "
            f"add '{account}' under '{platform}' in the file DESKPULSE_WEBHOOK_SECRETS_FILE names"
        )
    return (
        f"no webhook secret is configured for {platform}: set {variable}, or add '{platform}: {{default: "
        f"<secret>}}' to the file DESKPULSE_WEBHOOK_SECRETS_FILE names"
    )


class WebhookHandler:
    """What answering a webhook needs: the settings, the publisher, the configured secrets, the metrics, the ids
    acknowledged recently and the clock that gives the receipt time."""

    def __init__(
        self,
        settings: IngestSettings,
        publisher: Publisher,
        secrets: SecretStore,
        metrics: IngestMetrics,
        recent: RecentIds,
        clock: Clock,
    ) -> None:
        self.settings = settings
        self.publisher = publisher
        self.secrets = secrets
        self.metrics = metrics
        self.recent = recent
        self.clock = clock
        self.max_skew_ms = int(settings.max_clock_skew_s * 1000)
        self._signs_url: dict[str, tuple[object, bool]] = {}

    def signs_url(self, platform: str, adapter: object) -> bool:
        """The adapter's ``SIGNS_URL`` (default ``False``), looked up once per adapter: a module attribute that is
        missing costs an ``AttributeError`` (µs) on every lookup."""
        known = self._signs_url.get(platform)
        if known is None or known[0] is not adapter:
            known = self._signs_url[platform] = (adapter, bool(getattr(adapter, "SIGNS_URL", False)))
        return known[1]

    async def route(self, request: Request, platform: str, account: str | None = None) -> Response:
        """The answer to one delivery to ``/webhooks/{platform}[/{account}]``; every delivery is counted once.

        Never raises for anything the request holds: each ``WebhookError`` becomes ``{"detail": ...}`` with its
        status, counted under its outcome (and under the platform ``unknown`` for an unknown platform, so the
        label stays bounded). A 2xx is answered only after Kafka acknowledged every event of the delivery.
        """
        try:
            return await self.handle(platform, account, request)
        except WebhookError as exc:
            label = platform if platform in platforms.PLATFORMS else "unknown"
            self.metrics.count(label, exc.outcome)
            return JSONResponse({"detail": exc.detail}, status_code=exc.status)

    async def handle(self, platform: str, account: str | None, request: Request) -> Response:
        """The success answer to one delivery, counted; raises ``WebhookError`` (uncounted) for anything else."""
        settings, metrics = self.settings, self.metrics
        adapter = platforms.get(platform)
        if adapter is None:
            known = ", ".join(sorted(platforms.PLATFORMS))
            raise _error(404, "unknown_platform", f"unknown platform '{platform[:64]}'; known: {known}")
        body = await read_body(request, settings.max_body_bytes)
        if media_type(request.headers.get("content-type")) not in adapter.MEDIA_TYPES:
            accepted = " or ".join(sorted(adapter.MEDIA_TYPES))
            raise _error(415, "unsupported_media_type", f"{platform} webhooks must be sent as {accepted}")
        received_ms = self.clock()
        delivery = Delivery(
            body=body,
            headers={k.decode("latin-1").lower(): v.decode("latin-1") for k, v in request.scope["headers"]},
            method=request.method,
            # Building the URL and the query dict costs tens of µs: only for platforms that sign or read them.
            url=public_url(settings, request) if self.signs_url(platform, adapter) else "",
            query=dict(request.query_params) if request.scope.get("query_string") else {},
            account=account,
            received_at=received_ms / 1000,
        )
        configured = self.secrets.secrets(platform, account)
        if adapter.REQUIRES_SECRET and not configured:
            raise _error(401, "unauthorized", missing_secret(platform, account))
        adapter.verify(delivery, configured, settings.signature_tolerance_s)
        try:
            adapted: Adapted = adapter.to_events(delivery)
        except WebhookError as exc:
            if exc.outcome == "unmappable":
                await self.to_dlq(platform, delivery, exc.detail)
            raise
        reply = adapted.reply
        events = adapted.events
        if not events:
            metrics.count(platform, "ignored")
            return _reply(reply) if reply else JSONResponse({"accepted": 0, "ignored": True}, status_code=200)
        events = self.bound_event_times(platform, events, received_ms)
        ids = [e.event_id for e in events]
        if self.recent.all_seen(ids):
            metrics.count(platform, "duplicate")
            return _reply(reply) if reply else JSONResponse({"accepted": 0, "duplicate": True}, status_code=200)
        await self.publish(platform, events)
        self.recent.remember(ids)
        metrics.count(platform, "accepted")
        metrics.published(platform, len(events))
        if reply:
            return _reply(reply)
        # The bytes JSONResponse({"accepted": n}) renders, without its generic JSON encoder.
        return Response(b'{"accepted":%d}' % len(events), status_code=202, media_type="application/json")

    async def publish(self, platform: str, events: list[CanonicalEvent]) -> None:
        """Publish ``events`` to the events topic and wait for Kafka's acknowledgement; 503 if it does not come."""
        # pydantic's own JSON encoder: the same document as json.dumps(e.to_json_dict()) (non-ASCII text as UTF-8
        # rather than \u escapes), about 8 times cheaper.
        records = [(e.kafka_key.encode(), e.model_dump_json(by_alias=True).encode()) for e in events]
        started = time.perf_counter()
        try:
            await self.publisher.publish(self.settings.events_topic, records)
        except PublishUnavailable as exc:
            log.warning("answering 503 for %s: %s", platform, exc)
            raise _error(503, "unavailable", f"Kafka is unavailable, retry later ({exc})") from None
        self.metrics.publish_seconds.observe(time.perf_counter() - started)

    def bound_event_times(self, platform: str, events: list[CanonicalEvent], received_ms: int) -> list[CanonicalEvent]:
        """Refuses (canonical) or restamps (platforms) events from further in the future than the skew allows."""
        max_skew_ms = self.max_skew_ms
        ahead = eventtime.beyond_skew(events, received_ms, max_skew_ms)
        if not ahead:
            return events
        if platform == canonical.NAME:
            self.metrics.future.labels(platform, "refused").inc(len(ahead))
            raise _error(400, "malformed", eventtime.refusal(events, ahead[0], received_ms, max_skew_ms))
        self.metrics.future.labels(platform, "restamped").inc(len(ahead))
        log.warning(
            "%s sent %d event(s) dated more than %.0f s ahead of ingest's clock (first: %s at %s); "
            "stamped with the receipt time",
            platform,
            len(ahead),
            max_skew_ms / 1000,
            events[ahead[0]].event_id,
            events[ahead[0]].occurred_at,
        )
        late = set(ahead)
        return [eventtime.restamp(e, received_ms) if i in late else e for i, e in enumerate(events)]

    async def to_dlq(self, platform: str, delivery: Delivery, reason: str) -> None:
        """Write an unmappable delivery to the DLQ topic and wait for the ack; 503 if Kafka does not take it."""
        try:
            await self.publisher.publish(self.settings.dlq_topic, [dlq_record(platform, delivery, reason)])
        except PublishUnavailable as exc:  # the platform retries on 503; nothing is lost
            raise _error(503, "unavailable", f"Kafka is unavailable, retry later ({exc})") from None


def _reply(reply: Reply) -> Response:
    return Response(reply.body, status_code=reply.status, media_type=reply.media_type)
