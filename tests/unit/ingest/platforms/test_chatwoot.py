"""Chatwoot: X-Chatwoot-Signature over "<timestamp>.<body>", the unsigned fallback header, mapping edge cases."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from services.ingest.platforms import chatwoot
from services.ingest.platforms.base import Delivery, Unauthorized, Unmappable

NOW = 1_790_000_000.0
BODY = b'{"event":"message_created","id":1}'
# No published vector exists; computed independently with
# `printf '1790000000.{"event":"message_created","id":1}' | openssl dgst -sha256 -hmac cw-secret -hex`.
VECTOR = "sha256=30a93d28e6eafa1970a11f2e6567e906e23640f1d16cb6f5c753004d2c81abcd"


def sign(body: bytes, secret: str, timestamp: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def delivery(body: bytes = BODY, signature: str | None = VECTOR, timestamp: str | None = "1790000000",
             received_at: float = NOW, **headers: str) -> Delivery:
    all_headers = {k.replace("_", "-"): v for k, v in headers.items()}
    if signature is not None:
        all_headers["x-chatwoot-signature"] = signature
    if timestamp is not None:
        all_headers["x-chatwoot-timestamp"] = timestamp
    return Delivery(body=body, headers=all_headers, received_at=received_at)


def test_independent_vector():
    chatwoot.verify(delivery(), ["cw-secret"], 300)


def test_valid():
    chatwoot.verify(delivery(signature=sign(BODY, "s", "1790000100"), timestamp="1790000100"), ["s"], 300)


def test_wrong_secret():
    with pytest.raises(Unauthorized):
        chatwoot.verify(delivery(), ["other"], 300)


def test_tampered_body():
    with pytest.raises(Unauthorized):
        chatwoot.verify(delivery(body=BODY.replace(b"1", b"2")), ["cw-secret"], 300)


def test_timestamp_is_signed():
    with pytest.raises(Unauthorized):
        chatwoot.verify(delivery(timestamp="1790000001", received_at=NOW), ["cw-secret"], 300)


def test_rotated_secret_accepted():
    chatwoot.verify(delivery(), ["new", "cw-secret"], 300)


@pytest.mark.parametrize("received_at", [NOW - 301, NOW + 301])
def test_timestamp_outside_window(received_at):
    with pytest.raises(Unauthorized, match="replay"):
        chatwoot.verify(delivery(received_at=received_at), ["cw-secret"], 300)


@pytest.mark.parametrize("timestamp", [None, "", "17.9e8", "-5", "١٧٩٠٠٠٠٠٠٠"])
def test_missing_or_bad_timestamp(timestamp):
    with pytest.raises(Unauthorized):
        chatwoot.verify(delivery(timestamp=timestamp), ["cw-secret"], 300)


def test_missing_signature_and_no_fallback_header():
    with pytest.raises(Unauthorized):
        chatwoot.verify(delivery(signature=None), ["cw-secret"], 300)


def test_unsigned_fallback_header():
    chatwoot.verify(delivery(signature=None, timestamp=None, x_deskpulse_secret="cw-secret"), ["x", "cw-secret"], 300)
    with pytest.raises(Unauthorized):
        chatwoot.verify(delivery(signature=None, timestamp=None, x_deskpulse_secret="nope"), ["cw-secret"], 300)


def test_fallback_header_does_not_rescue_a_bad_signature():
    with pytest.raises(Unauthorized):
        chatwoot.verify(delivery(signature="sha256=00", x_deskpulse_secret="cw-secret"), ["cw-secret"], 300)


def events(document: dict) -> list:
    return chatwoot.to_events(Delivery(body=json.dumps(document).encode(), headers={})).events


def message(**over) -> dict:
    document = {"event": "message_created", "id": 5, "created_at": 1627063369, "message_type": "outgoing",
                "private": False, "sender": {"id": 2, "type": "user"}, "conversation": {"id": 9, "inbox_id": 4,
                                                                                      "channel": "Channel::Whatsapp"}}
    document.update(over)
    return document


def test_casing_and_channel():
    (msg,) = events(message(event="MESSAGE_CREATED", message_type="Outgoing", sender={"id": 2, "type": "User"}))
    assert (msg.author, msg.agent_id, msg.channel, msg.queue_id) == ("agent", "2", "messaging", "4")


@pytest.mark.parametrize("message_type, sender, author", [
    (0, {"id": 7, "type": "contact"}, "customer"), (1, None, "system"), (3, None, "system"),
    ("outgoing", {"id": 3, "type": "agent_bot"}, "bot")])
def test_authors(message_type, sender, author):
    (msg,) = events(message(message_type=message_type, sender=sender))
    assert msg.author == author and (msg.agent_id is None) == (author != "agent")


def test_activity_messages_are_ignored():
    assert events(message(message_type=2)) == [] and events(message(message_type="activity")) == []


def test_unknown_message_type_is_unmappable():
    with pytest.raises(Unmappable):
        events(message(message_type=9))


def test_unassignment():
    (assigned,) = events({"event": "conversation_updated", "id": 9, "timestamp": 1627063369,
                          "changed_attributes": [{"assignee_id": {"previous_value": 2, "current_value": None}}]})
    assert assigned.type == "contact.assigned" and assigned.agent_id is None


def test_status_ids_differ_per_status_and_time():
    base = {"event": "conversation_status_changed", "id": 9, "timestamp": 1627063369}
    ids = {events({**base, "status": s})[0].event_id for s in ("open", "resolved")}
    ids.add(events({**base, "status": "open", "timestamp": 1627063370})[0].event_id)
    assert len(ids) == 3
