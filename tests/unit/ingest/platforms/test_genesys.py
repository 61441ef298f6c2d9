"""Genesys Cloud via EventBridge: API-destination credentials and mapping edge cases."""

from __future__ import annotations

import base64
import json

import pytest

from services.ingest.platforms import genesys as adapter
from services.ingest.platforms.base import Delivery, Malformed, Unauthorized, Unmappable

CONV, USER = "conv-1", "user-1"


def delivery(body, **headers) -> Delivery:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return Delivery(body=raw, headers={"content-type": "application/json", **headers})


def envelope(topic: str, body: dict, eid: str = "ev-1") -> dict:
    template = topic.replace(CONV, "{id}").replace(USER, "{id}")
    return {"version": "0", "id": eid, "detail-type": template, "source": "aws.partner/genesys.com/cloud/o/s",
            "time": "2026-11-20T10:00:00Z", "detail": {"topicName": topic, "version": "2", "eventBody": body}}


def acd_end(outcome: str, eid: str = "ev-1", **extra) -> dict:
    return envelope(f"v2.detail.events.conversation.{CONV}.acd.end",
                    {"eventTime": 1795683600123, "conversationId": CONV, "mediaType": "CHAT", "queueId": "q-1",
                     "acdOutcome": outcome, **extra}, eid)


def test_api_key_and_rotation():
    adapter.verify(delivery(b"{}", **{"x-api-key": "old"}), ["new", "old"], 300)


def test_basic_auth():
    auth = "Basic " + base64.b64encode(b"genesys:pw").decode()
    adapter.verify(delivery(b"{}", authorization=auth), ["genesys:pw"], 300)


@pytest.mark.parametrize("headers", [{}, {"x-api-key": "wrong"}, {"authorization": "Bearer wrong"}])
def test_rejected(headers):
    with pytest.raises(Unauthorized):
        adapter.verify(delivery(b"{}", **headers), ["secret"], 300)


def test_answered_needs_the_answering_user():
    with pytest.raises(Unmappable):
        adapter.to_events(delivery(acd_end("ANSWERED")))


def test_answered_maps_connected_with_agent():
    events = adapter.to_events(delivery(acd_end("ANSWERED", answeredUserId=USER))).events
    assert [(e.type, e.agent_id, e.channel) for e in events] == [
        ("contact.assigned", USER, "chat"), ("contact.connected", USER, "chat")]


@pytest.mark.parametrize("outcome", ["abandon", "ABANDON"])
def test_abandon_any_casing(outcome):
    [abandoned] = adapter.to_events(delivery(acd_end(outcome))).events
    assert abandoned.type == "contact.abandoned"


def test_conversation_id_from_topic_when_body_lacks_it():
    body = envelope(f"v2.detail.events.conversation.{CONV}.acd.start", {"eventTime": 1795683600123})
    created, queued = adapter.to_events(delivery(body)).events
    assert created.contact_id == queued.contact_id == CONV


@pytest.mark.parametrize("raw,state", [("Available", "available"), ("AWAY", "away"), ("Meal", "away"),
                                       ("Busy", "busy"), ("Offline", "offline"), ("Custom", "away")])
def test_presence_states(raw, state):
    body = envelope(f"v2.users.{USER}.presence",
                    {"presenceDefinition": {"systemPresence": raw}, "modifiedDate": "2026-11-20T10:00:00Z"})
    [changed] = adapter.to_events(delivery(body)).events
    assert (changed.agent_id, changed.state, changed.attributes["raw_state"]) == (USER, state, raw)


def test_presence_without_modified_date_uses_envelope_time():
    body = envelope(f"v2.users.{USER}.presence", {"presenceDefinition": {"systemPresence": "AVAILABLE"}})
    [changed] = adapter.to_events(delivery(body)).events
    assert changed.occurred_at == "2026-11-20T10:00:00.000Z"


def test_batch_of_envelopes():
    events = adapter.to_events(delivery([acd_end("ABANDON"), acd_end("FLOW_OUT", eid="x")])).events
    assert [e.type for e in events] == ["contact.abandoned"]


@pytest.mark.parametrize("body", [b"nope", b"[]", b'{"a": 1}', b"[1]"])
def test_malformed(body):
    with pytest.raises(Malformed):
        adapter.to_events(delivery(body))
