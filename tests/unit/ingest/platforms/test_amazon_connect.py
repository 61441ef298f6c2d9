"""Amazon Connect: API-destination credentials, casing variants, batches and abandon detection."""

from __future__ import annotations

import base64
import json

import pytest

from services.ingest.platforms import amazon_connect as adapter
from services.ingest.platforms.base import Delivery, Malformed, Unauthorized, Unmappable

INST = "arn:aws:connect:us-west-2:123456789012:instance/12345678-1234-1234-1234-123456789012"


def delivery(body, **headers) -> Delivery:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return Delivery(body=raw, headers={"content-type": "application/json", **headers})


def contact_event(kind="QUEUED", eid="ev-1", **detail) -> dict:
    return {"version": "0", "id": eid, "detail-type": "Amazon Connect Contact Event", "source": "aws.connect",
            "time": "2026-11-20T09:00:00Z", "detail": {"eventType": kind, "contactId": "c-1", **detail}}


def basic(user_pass: str) -> str:
    return "Basic " + base64.b64encode(user_pass.encode()).decode()


# -- verify -------------------------------------------------------------------------------------------------

def test_api_key_header_accepted():
    adapter.verify(delivery(b"{}", **{"x-api-key": "k-current"}), ["k-current"], 300)


def test_rotated_second_secret_accepted():
    adapter.verify(delivery(b"{}", **{"x-api-key": "k-previous"}), ["k-current", "k-previous"], 300)


def test_basic_auth_accepted():
    adapter.verify(delivery(b"{}", authorization=basic("deskpulse:s3cret")), ["deskpulse:s3cret"], 300)


def test_wrong_api_key_rejected():
    with pytest.raises(Unauthorized):
        adapter.verify(delivery(b"{}", **{"x-api-key": "nope"}), ["k-current"], 300)


def test_wrong_basic_password_rejected():
    with pytest.raises(Unauthorized):
        adapter.verify(delivery(b"{}", authorization=basic("deskpulse:guess")), ["deskpulse:s3cret"], 300)


def test_undecodable_basic_rejected():
    with pytest.raises(Unauthorized):
        adapter.verify(delivery(b"{}", authorization="Basic %%%"), ["deskpulse:s3cret"], 300)


def test_missing_credentials_rejected():
    with pytest.raises(Unauthorized, match="missing"):
        adapter.verify(delivery(b"{}"), ["k-current"], 300)


# -- mapping ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("raw", ["VOICE", "Voice", "voice"])
def test_channel_casing_variants(raw):
    [queued] = adapter.to_events(delivery(contact_event(channel=raw))).events
    assert queued.channel == "voice"


def test_pascal_case_detail_keys():
    body = contact_event()
    body["detail"] = {"EventType": "QUEUED", "ContactId": "c-9", "Channel": "CHAT",
                      "QueueInfo": {"QueueArn": f"{INST}/queue/q-1", "EnqueueTimestamp": "2026-11-20T09:00:02Z"}}
    [queued] = adapter.to_events(delivery(body)).events
    assert (queued.contact_id, queued.queue_id, queued.channel) == ("c-9", "q-1", "chat")
    assert queued.occurred_at == "2026-11-20T09:00:02.000Z"


def test_disconnect_while_queued_is_abandoned():
    body = contact_event("DISCONNECTED", queueInfo={"queueArn": f"{INST}/queue/q-1"},
                         disconnectTimestamp="2026-11-20T09:01:00Z")
    [abandoned] = adapter.to_events(delivery(body)).events
    assert abandoned.type == "contact.abandoned"


def test_disconnect_after_agent_is_not_abandoned():
    body = contact_event("DISCONNECTED", queueInfo={"queueArn": f"{INST}/queue/q-1"},
                         agentInfo={"agentArn": f"{INST}/agent/a-1",
                                    "connectedToAgentTimestamp": "2026-11-20T09:00:30Z"},
                         disconnectTimestamp="2026-11-20T09:05:00Z")
    [closed] = adapter.to_events(delivery(body)).events
    assert (closed.type, closed.status, closed.agent_id) == ("contact.status_changed", "solved", "a-1")


def test_disconnect_never_queued_closes_without_abandon():
    [closed] = adapter.to_events(delivery(contact_event("DISCONNECTED"))).events
    assert (closed.type, closed.status) == ("contact.status_changed", "closed")


def test_created_id_is_per_contact_across_event_types():
    first = adapter.to_events(delivery(contact_event("INITIATED", "e1", initiationTimestamp="2026-11-20T08:59:59Z")))
    later = adapter.to_events(delivery(contact_event("QUEUED", "e2", initiationTimestamp="2026-11-20T08:59:59Z")))
    assert first.events[0].event_id == later.events[0].event_id == "amazon_connect:c-1:created"


def test_array_of_envelopes_and_agent_records():
    agent = {"AgentARN": f"{INST}/agent/a-1", "EventId": "x-1", "EventType": "LOGOUT",
             "EventTimestamp": "2026-11-20T17:00:00.000Z"}
    events = adapter.to_events(delivery([contact_event(), agent])).events
    assert [e.type for e in events] == ["contact.queued", "agent.state_changed"]
    assert events[1].state == "offline"


def test_connected_without_agent_is_unmappable():
    with pytest.raises(Unmappable):
        adapter.to_events(delivery(contact_event("CONNECTED_TO_AGENT")))


def test_bad_timestamp_is_unmappable():
    with pytest.raises(Unmappable):
        adapter.to_events(delivery(contact_event(queueInfo={"enqueueTimestamp": "yesterday"})))


@pytest.mark.parametrize("body", [b"not json", b"[]", b"42"])
def test_unreadable_bodies_are_malformed(body):
    with pytest.raises(Malformed):
        adapter.to_events(delivery(body))
