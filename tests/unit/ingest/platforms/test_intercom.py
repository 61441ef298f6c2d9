"""Intercom ``X-Hub-Signature`` verification and mapping edge cases.

Intercom publishes no signature test vector; these are computed with the documented scheme
(https://developers.intercom.com/docs/references/1.3/webhooks/webhook-models, "Signed notifications": ``sha1=`` + hex HMAC-SHA1 of the raw body
keyed with the app's client secret).
"""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from services.ingest.platforms import intercom
from services.ingest.platforms.base import Delivery, Unauthorized, Unmappable

SECRET = "d41d8cd9-8f00-b204-e980-0998ecf8427e"
BODY = json.dumps({"type": "notification_event", "topic": "ping", "id": "notif_1", "created_at": 1571080403,
                   "data": {"type": "notification_event_data", "item": {"type": "ping"}}}).encode()


def sign(secret: str, body: bytes) -> str:
    return "sha1=" + hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()


def test_valid_signature():
    intercom.verify(Delivery(body=BODY, headers={"x-hub-signature": sign(SECRET, BODY)}), [SECRET], 300)


def test_known_vector():
    # The widely published HMAC-SHA1 example (key "key", the quick brown fox), as Intercom would format it.
    body = b"The quick brown fox jumps over the lazy dog"
    header = "sha1=de7c9b85b8b78aa6bc8a7a36f70a90701c9db4d9"
    intercom.verify(Delivery(body=body, headers={"x-hub-signature": header}), ["key"], 300)


def test_wrong_secret_rejected():
    with pytest.raises(Unauthorized):
        intercom.verify(Delivery(body=BODY, headers={"x-hub-signature": sign("other", BODY)}), [SECRET], 300)


def test_tampered_body_rejected():
    header = sign(SECRET, BODY)
    with pytest.raises(Unauthorized):
        intercom.verify(Delivery(body=BODY.replace(b"ping", b"pong"), headers={"x-hub-signature": header}),
                        [SECRET], 300)


def test_rotated_second_secret_accepted():
    intercom.verify(Delivery(body=BODY, headers={"x-hub-signature": sign("new", BODY)}), [SECRET, "new"], 300)


@pytest.mark.parametrize("headers", [{}, {"x-hub-signature": ""}, {"x-hub-signature": "sha256=abc"}])
def test_missing_or_foreign_header_rejected(headers):
    with pytest.raises(Unauthorized):
        intercom.verify(Delivery(body=BODY, headers=headers), [SECRET], 300)


def test_hex_without_prefix_rejected():
    bare = sign(SECRET, BODY)[5:]
    with pytest.raises(Unauthorized):
        intercom.verify(Delivery(body=BODY, headers={"x-hub-signature": bare}), [SECRET], 300)


def _conv(topic, **item):
    doc = {"type": "notification_event", "topic": topic, "id": "notif_9", "created_at": 1700000000, "app_id": "app1",
           "data": {"item": {"type": "conversation", "id": 42, **item}}}
    return Delivery(body=json.dumps(doc).encode(), headers={})


def test_integer_ids_and_epoch_seconds_fallback_to_envelope_time():
    [e] = intercom.to_events(_conv("conversation.admin.closed")).events
    assert (e.contact_id, e.occurred_at, e.status) == ("42", "2023-11-14T22:13:20.000Z", "solved")


def test_epoch_milliseconds_are_recognised_too():
    parts = {"conversation_parts": [{"id": "1", "created_at": 1700000000123, "author": {"type": "admin", "id": 7}}]}
    [e] = intercom.to_events(_conv("conversation.admin.replied", conversation_parts=parts)).events
    assert (e.occurred_at, e.agent_id) == ("2023-11-14T22:13:20.123Z", "7")


@pytest.mark.parametrize("score,label", [(1, "bad"), (2, "bad"), (3, "neutral"), (4, "good"), (5, "good")])
def test_rating_labels(score, label):
    [e] = intercom.to_events(_conv("conversation.rating.added", conversation_rating={"rating": score})).events
    assert e.rating.label == label


def test_away_mode_without_boolean_is_unmappable():
    doc = {"topic": "admin.away_mode_updated", "created_at": 1700000000, "data": {"item": {"id": "1"}}}
    with pytest.raises(Unmappable):
        intercom.to_events(Delivery(body=json.dumps(doc).encode(), headers={}))


def test_ticket_topics_are_ignored():
    assert intercom.to_events(_conv("ticket.created")).events == []
