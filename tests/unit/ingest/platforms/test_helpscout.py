"""Help Scout: X-HelpScout-Signature (base64 HMAC-SHA1 of the raw body) and mapping edge cases."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest

from services.ingest.platforms import helpscout
from services.ingest.platforms.base import Delivery, Unauthorized, Unmappable

# Scheme and inputs of the official SDK's test (helpscout/helpscout-api-php tests/Webhooks/IncomingWebhookTest.php:
# body json_encode(['id' => 123]), secret 'asdffdsa'); the expected value was computed independently with
# `printf '{"id":123}' | openssl dgst -sha1 -hmac asdffdsa -binary | base64`.
SDK_BODY = b'{"id":123}'
SDK_SECRET = "asdffdsa"
SDK_SIGNATURE = "YhXKie6t+YQPJLRzdKWwTPsJN2w="


def sign(body: bytes, secret: str) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha1).digest()).decode()


def delivery(body: bytes, signature: str | None, event: str = "convo.created") -> Delivery:
    headers = {"x-helpscout-event": event}
    if signature is not None:
        headers["x-helpscout-signature"] = signature
    return Delivery(body=body, headers=headers)


def test_sdk_vector_verifies():
    helpscout.verify(delivery(SDK_BODY, SDK_SIGNATURE, "helpscout.test"), [SDK_SECRET], 300)
    assert helpscout.to_events(delivery(SDK_BODY, SDK_SIGNATURE, "helpscout.test")).events == []


def test_valid_signature():
    body = b'{"id": 10}'
    helpscout.verify(delivery(body, sign(body, "s3cret")), ["s3cret"], 300)


def test_wrong_secret_rejected():
    with pytest.raises(Unauthorized):
        helpscout.verify(delivery(SDK_BODY, sign(SDK_BODY, "other")), [SDK_SECRET], 300)


def test_tampered_body_rejected():
    with pytest.raises(Unauthorized):
        helpscout.verify(delivery(b'{"id":124}', SDK_SIGNATURE), [SDK_SECRET], 300)


def test_rotated_secret_accepted():
    helpscout.verify(delivery(SDK_BODY, SDK_SIGNATURE), ["new-secret", SDK_SECRET], 300)


def test_missing_header_rejected():
    with pytest.raises(Unauthorized):
        helpscout.verify(delivery(SDK_BODY, None), [SDK_SECRET], 300)


def test_hex_encoding_rejected():
    hex_signature = hmac.new(SDK_SECRET.encode(), SDK_BODY, hashlib.sha1).hexdigest()
    with pytest.raises(Unauthorized):
        helpscout.verify(delivery(SDK_BODY, hex_signature), [SDK_SECRET], 300)


def convo(**over) -> bytes:
    document = {"id": 7, "mailboxId": 3, "type": "Chat", "status": "Active", "createdAt": "2024-01-02T03:04:05Z",
                "userUpdatedAt": "2024-01-02T03:10:00.123456Z"}
    document.update(over)
    return json.dumps(document).encode()


def test_event_header_casing_and_enum_casing():
    events = helpscout.to_events(delivery(convo(), "x", "CONVO.CREATED")).events
    assert [(e.type, e.status, e.channel) for e in events] == [("contact.created", "open", "chat")]


def test_agent_reply_picks_newest_reply_thread_and_ignores_customer_threads():
    threads = [{"id": 1, "type": "reply", "createdAt": "2024-01-02T03:05:00Z", "createdBy": {"id": 9, "type": "user"}},
               {"id": 3, "type": "customer", "createdAt": "2024-01-02T03:20:00Z", "createdBy": {"id": 5}},
               {"id": 2, "type": "reply", "createdAt": "2024-01-02T03:06:00Z", "createdBy": {"id": 8, "type": "user"}}]
    (message,) = helpscout.to_events(delivery(convo(_embedded={"threads": threads}), "x",
                                              "convo.agent.reply.created")).events
    assert (message.event_id, message.agent_id, message.author, message.public) == (
        "helpscout:thread:2", "8", "agent", True)
    assert message.occurred_at == "2024-01-02T03:06:00.000Z"


def test_reply_without_embedded_threads_uses_a_stable_hash():
    first = helpscout.to_events(delivery(convo(), "x", "convo.agent.reply.created")).events[0]
    again = helpscout.to_events(delivery(convo(), "x", "convo.agent.reply.created")).events[0]
    assert first.event_id == again.event_id and first.event_id.startswith("helpscout:h:")
    assert first.occurred_at == "2024-01-02T03:10:00.123Z"


def test_status_spam_maps_to_closed_and_unknown_is_unmappable():
    (changed,) = helpscout.to_events(delivery(convo(status="spam"), "x", "convo.status")).events
    assert changed.status == "closed" and changed.attributes["raw_status"] == "spam"
    with pytest.raises(Unmappable):
        helpscout.to_events(delivery(convo(status="weird"), "x", "convo.status"))


@pytest.mark.parametrize("raw, label", [("great", "good"), ("Okay", "neutral"), ("not_good", "bad"),
                                        ("Not Good", "bad"), ("BAD", "bad")])
def test_rating_values(raw, label):
    body = json.dumps({"id": 4, "conversationId": 7, "rating": raw, "createdAt": "2024-01-02T03:04:05Z"}).encode()
    (rated,) = helpscout.to_events(delivery(body, "x", "satisfaction.ratings")).events
    assert rated.rating is not None and rated.rating.label == label and rated.rating.scale_max == 3


def test_assigned_without_ids_is_unmappable():
    with pytest.raises(Unmappable):
        helpscout.to_events(delivery(b'{"status": "active"}', "x", "convo.assigned"))


def test_chat_threads_are_told_apart_by_creator():
    threads = [
        {"id": 11, "type": "chat", "createdAt": "2024-01-02T03:05:00Z", "createdBy": {"id": 5, "type": "customer"}},
        {"id": 12, "type": "chat", "createdAt": "2024-01-02T03:06:00Z", "createdBy": {"id": 8, "type": "user"}}]
    body = convo(_embedded={"threads": threads})
    (agent,) = helpscout.to_events(delivery(body, "x", "convo.agent.reply.created")).events
    (customer,) = helpscout.to_events(delivery(body, "x", "convo.customer.reply.created")).events
    assert (agent.event_id, agent.agent_id) == ("helpscout:thread:12", "8")
    assert (customer.event_id, customer.author) == ("helpscout:thread:11", "customer")
    (note,) = helpscout.to_events(delivery(body, "x", "convo.note.created")).events
    assert note.event_id.startswith("helpscout:h:")  # a chat line is never taken for a note
