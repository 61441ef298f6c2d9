"""The webhook handler, called directly: every error path's status, detail and counter; what reaches Kafka."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from prometheus_client import CollectorRegistry
from starlette.requests import Request

from services.common.clock import FixedClock
from services.common.settings import IngestSettings
from services.ingest import platforms
from services.ingest.dedupe import RecentIds
from services.ingest.platforms.base import Adapted, Reply, Unauthorized, Unmappable
from services.ingest.publisher import InMemoryPublisher
from services.ingest.secrets import SecretStore
from services.ingest.webhooks import IngestMetrics, WebhookHandler, media_type, missing_secret
from tests.support.events import T0, doc

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


def request(body: bytes | list[bytes], content_type: str = "application/json", *, path: str = "/webhooks/x",
            query: bytes = b"", headers: dict[str, str] | None = None, declare_length: bool = True) -> Request:
    """A Starlette request as the ASGI server hands it over; a list body arrives in several chunks."""
    chunks = body if isinstance(body, list) else [body]
    raw = [(b"content-type", content_type.encode())] if content_type else []
    if declare_length:
        raw.append((b"content-length", str(sum(map(len, chunks))).encode()))
    raw += [(k.encode("latin-1"), v.encode("latin-1")) for k, v in (headers or {}).items()]
    scope = {"type": "http", "method": "POST", "scheme": "https", "server": ("hooks.internal", 443), "root_path": "",
             "path": path, "query_string": query, "headers": raw}
    messages = [{"type": "http.request", "body": c, "more_body": i < len(chunks) - 1} for i, c in enumerate(chunks)]

    async def receive():
        return messages.pop(0)

    return Request(scope, receive)


class Handler:
    """A handler over an in-memory publisher, a fresh registry and a fixed clock."""

    def __init__(self, secrets: dict | None = None, dedupe: int = 100, **settings) -> None:
        self.publisher = InMemoryPublisher()
        self.registry = CollectorRegistry()
        self.clock = FixedClock(T0)
        self.handler = WebhookHandler(IngestSettings(**settings), self.publisher, SecretStore(secrets or {}),
                                      IngestMetrics(self.registry), RecentIds(dedupe), self.clock)

    async def post(self, platform: str, req: Request, account: str | None = None):
        response = await self.handler.route(req, platform, account)
        return response.status_code, json.loads(response.body) if response.body else None

    def received(self, platform: str, outcome: str) -> float:
        labels = {"platform": platform, "outcome": outcome}
        return self.registry.get_sample_value("deskpulse_webhooks_received_total", labels) or 0.0

    def topics(self) -> list[str]:
        return [topic for topic, _, _ in self.publisher.records]


def canonical(*docs: dict) -> bytes:
    return json.dumps(list(docs) if len(docs) > 1 else docs[0]).encode()


async def test_accepted_delivery_is_published_answered_202_and_counted():
    h = Handler()
    status, body = await h.post("canonical", request(canonical(doc("contact.created", 0), doc("contact.created", 1))))
    assert (status, body) == (202, {"accepted": 2})
    assert h.topics() == ["deskpulse.events.v1"] * 2
    assert h.received("canonical", "accepted") == 1
    assert h.registry.get_sample_value("deskpulse_ingest_events_published_total", {"platform": "canonical"}) == 2
    assert h.registry.get_sample_value("deskpulse_ingest_publish_seconds_count") == 1


async def test_unknown_platform_is_404_listing_the_known_ones_under_a_bounded_label():
    h = Handler()
    status, body = await h.post("x" * 100, request(b"{}"))
    assert status == 404
    assert body["detail"].startswith(f"unknown platform '{'x' * 64}'; known: ")
    assert "zendesk" in body["detail"]
    assert h.received("unknown", "unknown_platform") == 1


async def test_a_declared_length_over_the_limit_is_413_before_reading():
    h = Handler(max_body_bytes=1024)
    status, body = await h.post("canonical", request(b" " * 1025))
    assert (status, body) == (413, {"detail": "body of 1025 bytes exceeds the limit of 1024 bytes"})
    assert h.received("canonical", "too_large") == 1


async def test_an_undeclared_body_is_413_once_it_exceeds_the_limit():
    h = Handler(max_body_bytes=1024)
    status, body = await h.post("canonical", request([b" " * 600, b" " * 600], declare_length=False))
    assert (status, body) == (413, {"detail": "body exceeds the limit of 1024 bytes"})


async def test_a_media_type_the_platform_does_not_take_is_415():
    h = Handler()
    status, body = await h.post("canonical", request(b"{}", "text/plain"))
    assert (status, body) == (415, {"detail": "canonical webhooks must be sent as application/json"})
    assert h.received("canonical", "unsupported_media_type") == 1


async def test_malformed_canonical_events_are_400_and_nothing_is_published():
    h = Handler()
    status, body = await h.post("canonical", request(b"[]"))
    assert (status, body) == (400, {"detail": "the array holds no events"})
    assert h.publisher.records == [] and h.received("canonical", "malformed") == 1


async def test_no_configured_secret_is_401_naming_the_variable():
    h = Handler()
    status, body = await h.post("gorgias", request(b"{}"), account="acme")
    assert (status, body) == (401, {"detail": missing_secret("gorgias", "acme")})
    assert h.received("gorgias", "unauthorized") == 1


async def test_a_wrong_secret_is_401_from_the_adapter():
    h = Handler(secrets={"gorgias": {"default": ["s3cret"]}})
    status, body = await h.post("gorgias", request(b"{}", headers={"X-Deskpulse-Secret": "wrong"}))
    assert status == 401 and "X-Deskpulse-Secret" in body["detail"]
    assert h.publisher.records == []


def gorgias_fixture(name: str) -> bytes:
    return json.dumps(json.loads((FIXTURES / "gorgias" / f"{name}.json").read_text())["body"]).encode()


async def test_an_authentic_unmappable_delivery_goes_to_the_dlq_and_is_422():
    h = Handler(secrets={"gorgias": {"default": ["s3cret"]}})
    req = request(gorgias_fixture("unmappable_bad_status"), headers={"X-Deskpulse-Secret": "s3cret"})
    status, body = await h.post("gorgias", req, account="acme")
    assert status == 422
    [(topic, key, value)] = h.publisher.records
    assert (topic, key) == ("deskpulse.dlq.v1", b"gorgias")
    record = json.loads(value)
    assert record["reason"] == body["detail"] and record["account"] == "acme"
    assert record["received_at"] == T0 / 1000
    assert "x-deskpulse-secret" not in record["headers"]  # credentials never reach the DLQ
    assert h.received("gorgias", "unmappable") == 1


async def test_an_unmappable_delivery_kafka_cannot_take_is_503_so_the_platform_retries():
    h = Handler(secrets={"gorgias": {"default": ["s3cret"]}})
    h.publisher.available = False
    req = request(gorgias_fixture("unmappable_bad_status"), headers={"X-Deskpulse-Secret": "s3cret"})
    status, body = await h.post("gorgias", req)
    assert status == 503 and body["detail"].startswith("Kafka is unavailable, retry later (")
    assert h.received("gorgias", "unavailable") == 1 and h.received("gorgias", "unmappable") == 0


async def test_a_delivery_with_no_events_is_200_ignored():
    h = Handler(secrets={"gorgias": {"default": ["s3cret"]}})
    req = request(gorgias_fixture("ignored_message_failed"), headers={"X-Deskpulse-Secret": "s3cret"})
    assert await h.post("gorgias", req) == (200, {"accepted": 0, "ignored": True})
    assert h.publisher.records == [] and h.received("gorgias", "ignored") == 1


async def test_kafka_unavailable_is_503_and_the_ids_are_not_remembered():
    h = Handler()
    event = canonical(doc("contact.created", 0, event_id="only-once"))
    h.publisher.available = False
    status, body = await h.post("canonical", request(event))
    assert status == 503 and "retry" in body["detail"]
    assert h.received("canonical", "unavailable") == 1
    h.publisher.available = True
    assert await h.post("canonical", request(event)) == (202, {"accepted": 1})  # a retry, not a duplicate


async def test_an_immediate_redelivery_is_200_duplicate_and_not_published_again():
    h = Handler()
    event = canonical(doc("contact.created", 0, event_id="e-dup"))
    assert (await h.post("canonical", request(event)))[0] == 202
    assert await h.post("canonical", request(event)) == (200, {"accepted": 0, "duplicate": True})
    assert len(h.publisher.records) == 1 and h.received("canonical", "duplicate") == 1


async def test_with_the_cache_off_a_redelivery_is_published_again():
    h = Handler(dedupe=0)
    event = canonical(doc("contact.created", 0, event_id="e-dup"))
    await h.post("canonical", request(event))
    assert (await h.post("canonical", request(event)))[0] == 202
    assert len(h.publisher.records) == 2


async def test_a_canonical_event_beyond_the_skew_is_400_and_counted_as_refused():
    h = Handler(max_clock_skew_s=60)
    status, body = await h.post("canonical", request(canonical(doc("contact.created", 61))))
    assert status == 400 and "DESKPULSE_MAX_CLOCK_SKEW_S" in body["detail"]
    labels = {"platform": "canonical", "action": "refused"}
    assert h.registry.get_sample_value("deskpulse_ingest_future_events_total", labels) == 1
    assert h.publisher.records == []


@pytest.fixture
def fake_platform(monkeypatch):
    """A platform that signs the URL and answers with its own reply; it keeps the delivery it was given."""
    seen = {}

    def verify(delivery, secrets, tolerance_s):
        seen.update(delivery=delivery, secrets=secrets, tolerance_s=tolerance_s)
        if delivery.headers.get("x-sig") == "bad":
            raise Unauthorized("bad signature")

    def to_events(delivery):
        if delivery.body == b"unmappable":
            raise Unmappable("no such thing")
        return Adapted([], reply=Reply(204))

    module = SimpleNamespace(NAME="fake", MEDIA_TYPES=frozenset({"application/x-www-form-urlencoded"}),
                             REQUIRES_SECRET=True, SIGNS_URL=True, verify=verify, to_events=to_events)
    monkeypatch.setitem(platforms.PLATFORMS, "fake", module)
    return seen


async def test_the_delivery_carries_the_public_url_query_headers_account_and_receipt_time(fake_platform):
    h = Handler(secrets={"fake": {"default": ["k"]}}, public_base_url="https://hooks.example.com/",
                signature_tolerance_s=42)
    h.clock.advance(1500)
    req = request(b"a=1", "application/x-www-form-urlencoded", path="/webhooks/fake/acme", query=b"x=1&y=2",
                  headers={"X-Sig": "good"})
    response = await h.handler.route(req, "fake", "acme")
    assert response.status_code == 204 and response.body == b""  # the platform's own reply
    delivery = fake_platform["delivery"]
    assert delivery.url == "https://hooks.example.com/webhooks/fake/acme?x=1&y=2"
    assert delivery.query == {"x": "1", "y": "2"} and delivery.account == "acme"
    assert delivery.headers["x-sig"] == "good" and delivery.body == b"a=1"
    assert delivery.received_at == (T0 + 1500) / 1000
    assert fake_platform["secrets"] == ["k"] and fake_platform["tolerance_s"] == 42
    assert h.received("fake", "ignored") == 1


async def test_without_a_public_base_url_the_delivery_url_is_the_requests(fake_platform):
    h = Handler(secrets={"fake": {"default": ["k"]}})
    await h.handler.route(request(b"a=1", "application/x-www-form-urlencoded", path="/webhooks/fake"), "fake")
    assert fake_platform["delivery"].url == "https://hooks.internal/webhooks/fake"


async def test_adapter_errors_become_their_status_and_outcome(fake_platform):
    h = Handler(secrets={"fake": {"default": ["k"]}})
    form = "application/x-www-form-urlencoded"
    assert await h.post("fake", request(b"a=1", form, headers={"X-Sig": "bad"})) == (401, {"detail": "bad signature"})
    assert await h.post("fake", request(b"unmappable", form)) == (422, {"detail": "no such thing"})
    assert h.received("fake", "unauthorized") == 1 and h.received("fake", "unmappable") == 1


async def test_handle_raises_what_route_answers_and_counts():
    from services.ingest.platforms.base import WebhookError

    h = Handler()
    with pytest.raises(WebhookError) as raised:
        await h.handler.handle("canonical", None, request(b"{}", "text/plain"))
    assert (raised.value.status, raised.value.outcome) == (415, "unsupported_media_type")
    assert h.received("canonical", "unsupported_media_type") == 0


@pytest.mark.parametrize("header, media", [
    ("application/json", "application/json"),
    ("Application/JSON; charset=utf-8", "application/json"),
    ("application/cloudevents+json", "application/json"),
    ("text/xml; charset=utf-8", "text/xml"),
    (None, ""),
])
def test_media_type(header, media):
    assert media_type(header) == media
