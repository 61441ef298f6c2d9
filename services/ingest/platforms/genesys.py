"""Genesys Cloud: notification topics delivered by the Amazon EventBridge integration, then an API destination.

The EventBridge envelope's ``detail`` is ``{topicName, version, eventBody, metadata}``; ``detail-type`` is the
topic template. Maps
- ``v2.detail.events.conversation.{id}.acd.start`` → ``contact.created`` (one id per conversation) +
  ``contact.queued`` (queue = ``queueId``);
- ``….acd.end``: ``acdOutcome`` ``ANSWERED`` → ``contact.assigned`` + ``contact.connected`` (agent =
  ``answeredUserId``); ``ABANDON`` → ``contact.abandoned``; ``FLOW_OUT``/``UNKNOWN`` → nothing;
- ``….customer.end`` → ``contact.status_changed`` ``closed`` (shape assumed like acd.end: unconfirmed);
- ``v2.users.{id}.presence`` (``presenceDefinition.systemPresence``) and ``v2.users.{id}.routingStatus``
  (``routingStatus.status``) → ``agent.state_changed`` (available/busy/away/offline; raw name in
  ``attributes.raw_state``; routing ``OFF_QUEUE`` is left to the presence topic).
Channel from ``mediaType`` (VOICE/CALLBACK → voice, CHAT → chat, EMAIL → email, MESSAGE → messaging or sms).
Ignored: other topics, ``FLOW_OUT`` ends. Cannot provide: messages, CSAT, priority, wrap-up/ACW durations.
Payload shapes: eventBody fields from Genesys' SDK models (``AcdStartDetailEventTopicAcdStartEvent``,
``AcdEndDetailEventTopicAcdEndEvent``, presence/routing-status topic models); the EventBridge envelope from
third-party captures. Auth: API-destination connection, ``x-api-key`` or Basic (see ``_eventbridge``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from services.common.events import CanonicalEvent
from services.ingest.platforms._eventbridge import ci, envelope_items, is_envelope, verify_shared_secret
from services.ingest.platforms.base import (
    Adapted,
    Delivery,
    Malformed,
    Unmappable,
    event,
    json_body,
    obj,
    text_id,
    to_rfc3339,
)

NAME = "genesys"
MEDIA_TYPES = frozenset({"application/json"})
REQUIRES_SECRET = True

_CHANNELS = {
    "voice": "voice",
    "callback": "voice",
    "chat": "chat",
    "email": "email",
    "message": "messaging",
    "video": "other",
    "cobrowse": "other",
    "screenshare": "other",
}
_PRESENCE = {
    "available": "available",
    "on_queue": "available",
    "idle": "available",
    "busy": "busy",
    "meeting": "busy",
    "away": "away",
    "break": "away",
    "meal": "away",
    "training": "away",
    "offline": "offline",
}
_ROUTING = {"idle": "available", "interacting": "busy", "communicating": "busy", "not_responding": "away"}


def verify(delivery: Delivery, secrets: Sequence[str], tolerance_s: float) -> None:
    verify_shared_secret(delivery, secrets)


def to_events(delivery: Delivery) -> Adapted:
    events: list[CanonicalEvent] = []
    for index, item in enumerate(envelope_items(json_body(delivery))):
        if not is_envelope(item):
            raise Malformed(f"item {index} is not an EventBridge event")
        events += _map(item, delivery.account)
    return Adapted(events)


def _map(envelope: dict[str, Any], account: str | None) -> list[CanonicalEvent]:
    detail = obj(envelope["detail"], "detail")
    topic = detail.get("topicName")
    if not isinstance(topic, str) or not topic:
        raise Unmappable("detail.topicName is missing")
    body = obj(detail.get("eventBody"), "detail.eventBody")
    event_id = text_id(envelope.get("id"), "id")
    parts = topic.split(".")
    if topic.startswith("v2.users.") and len(parts) == 4:
        return _agent(parts[2], parts[3], body, event_id, envelope, account)
    if topic.startswith("v2.detail.events.conversation.") and len(parts) >= 6:
        return _conversation(parts[4], ".".join(parts[5:]), body, event_id, account)
    return []


def _agent(
    user: str, kind: str, body: dict[str, Any], event_id: str, envelope: dict[str, Any], account: str | None
) -> list[CanonicalEvent]:
    if kind == "presence":
        definition = body.get("presenceDefinition")
        raw = ci(definition, "systemPresence")
        when = body.get("modifiedDate")
        table = _PRESENCE
    elif kind == "routingStatus":
        routing = body.get("routingStatus")
        if not isinstance(routing, dict):
            routing = body
        raw, when, table = routing.get("status"), routing.get("startTime"), _ROUTING
    else:
        return []
    if not isinstance(raw, str) or not raw:
        raise Unmappable(f"{kind} event without a status")
    state = table.get(raw.strip().lower().replace(" ", "_"))
    if state is None:
        if kind == "routingStatus":
            return []  # OFF_QUEUE and unknown routing states: presence says what the agent is doing
        state = "away"
    return [
        event(
            {
                "event_id": event_id,
                "type": "agent.state_changed",
                "platform": NAME,
                "account": account,
                "occurred_at": to_rfc3339(when if when else envelope.get("time"), field=f"{kind} time"),
                "agent_id": user,
                "state": state,
                "attributes": {"raw_state": raw, "topic": kind},
            }
        )
    ]


def _conversation(
    conversation: str, kind: str, body: dict[str, Any], event_id: str, account: str | None
) -> list[CanonicalEvent]:
    if kind not in ("acd.start", "acd.end", "customer.end"):
        return []
    contact = text_id(body.get("conversationId") or conversation, "eventBody.conversationId")
    media = str(body.get("mediaType") or "").lower()
    channel = "sms" if media == "message" and str(body.get("messageType")).upper() == "SMS" else _CHANNELS.get(media)
    queue = body.get("queueId") if isinstance(body.get("queueId"), str) and body.get("queueId") else None
    base = {
        "platform": NAME,
        "account": account,
        "contact_id": contact,
        "queue_id": queue,
        "channel": channel,
        "occurred_at": to_rfc3339(body.get("eventTime"), field="eventBody.eventTime"),
        "attributes": {"topic": kind},
    }
    if kind == "acd.start":
        return [
            event({**base, "event_id": f"{NAME}:{contact}:created", "type": "contact.created", "status": "new"}),
            event({**base, "event_id": event_id, "type": "contact.queued"}),
        ]
    if kind == "customer.end":
        return [event({**base, "event_id": event_id, "type": "contact.status_changed", "status": "closed"})]
    outcome = str(body.get("acdOutcome") or "").upper()
    base["attributes"] = {"topic": kind, "acd_outcome": outcome, "disconnect_type": body.get("disconnectType")}
    if outcome == "ANSWERED":
        agent = text_id(body.get("answeredUserId"), "eventBody.answeredUserId")
        return [
            event({**base, "event_id": f"{event_id}:assigned", "type": "contact.assigned", "agent_id": agent}),
            event({**base, "event_id": event_id, "type": "contact.connected", "agent_id": agent}),
        ]
    if outcome == "ABANDON":
        return [event({**base, "event_id": event_id, "type": "contact.abandoned"})]
    return []
