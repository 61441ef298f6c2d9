"""Amazon Connect: EventBridge contact events and agent event stream records, via an API destination.

Maps
- ``Amazon Connect Contact Event`` (``detail.eventType``): ``INITIATED`` → ``contact.created``; ``QUEUED`` →
  ``contact.queued``; ``CONNECTED_TO_AGENT`` → ``contact.assigned`` + ``contact.connected``; ``DISCONNECTED`` →
  ``contact.abandoned`` when the contact was queued and never connected to an agent, else
  ``contact.status_changed`` ``solved`` (handled) / ``closed`` (never queued, e.g. IVR only); ``COMPLETED``
  (after contact work) → ``contact.status_changed`` ``closed``. Every event that carries
  ``initiationTimestamp`` also yields the contact's ``contact.created`` under one id per contact, so a lost or
  late ``INITIATED`` (EventBridge is best effort and unordered) still creates the contact exactly once.
- The same contact events as their bare ``detail`` object (no EventBridge envelope: what a forwarding function
  posts), one or an array: the event id is made of the contact, the event type and the instant it is about.
- Agent event stream records (Kinesis, forwarded as JSON, one record or an array): ``LOGIN``/``STATE_CHANGE``
  → ``agent.state_changed`` when the derived state or status name changed; ``LOGOUT`` → ``offline``.
  Status ``Available`` → available (busy while a contact is connected or on hold), ``Offline`` → offline,
  any other (Break, Lunch, custom) → away; the name goes to ``attributes.raw_state``.

Ignored: ``CONTACT_DATA_UPDATED``, other contact event types, other detail-types, ``HEART_BEAT``.
Cannot provide: messages, ratings (CSAT is not in contact events), priority; callbacks and transfers are not
told apart from abandons beyond the queue/agent timestamps in the event.
Auth: EventBridge API-destination connection, API key header ``x-api-key`` or Basic (see ``_eventbridge``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from services.common.events import CanonicalEvent
from services.ingest.platforms._eventbridge import ci, envelope_items, id_part, is_envelope, verify_shared_secret
from services.ingest.platforms.base import (
    Adapted,
    Delivery,
    Malformed,
    Unmappable,
    as_dict,
    event,
    json_body,
    obj,
    text_id,
    to_rfc3339,
)

NAME = "amazon_connect"
MEDIA_TYPES = frozenset({"application/json"})
REQUIRES_SECRET = True

_CHANNELS = {"voice": "voice", "chat": "chat", "task": "other", "email": "email"}
_LIVE_STATES = {"CONNECTED", "CONNECTED_ONHOLD"}


def verify(delivery: Delivery, secrets: Sequence[str], tolerance_s: float) -> None:
    verify_shared_secret(delivery, secrets)


def to_events(delivery: Delivery) -> Adapted:
    events: list[CanonicalEvent] = []
    for index, item in enumerate(envelope_items(json_body(delivery))):
        if is_envelope(item):
            events += _contact_event(item, delivery.account)
        elif _is_bare_detail(item):
            events += _contact_event(_envelope_of(item), delivery.account)
        elif isinstance(item, dict) and "EventType" in item and "AgentARN" in item:
            events += _agent_event(item, delivery.account)
        else:
            raise Malformed(
                f"item {index} is neither an EventBridge event, a contact event's detail nor an agent event stream record"
            )
    return Adapted(events)


# The instant each contact event type is about, for a bare ``detail`` (no envelope ``id`` and ``time``).
_STAGE_TIMES = {
    "INITIATED": (("initiationTimestamp",),),
    "QUEUED": (("queueInfo", "enqueueTimestamp"),),
    "CONNECTED_TO_AGENT": (("agentInfo", "connectedToAgentTimestamp"),),
    "DISCONNECTED": (("disconnectTimestamp",),),
    "COMPLETED": (("lastUpdateTimestamp",), ("disconnectTimestamp",)),
}


def _is_bare_detail(item: Any) -> bool:
    """A contact event's ``detail`` posted without its EventBridge envelope (a forwarding function's habit)."""
    return (
        isinstance(item, dict)
        and "detail-type" not in item
        and bool(ci(item, "eventType"))
        and bool(ci(item, "contactId"))
    )


def _envelope_of(detail: dict[str, Any]) -> dict[str, Any]:
    """The envelope a bare ``detail`` lost: its id made of the contact, the event type and the instant the type is
    about (the same event posted twice keeps its id), and that instant as the envelope's time."""
    kind = str(ci(detail, "eventType")).upper()
    when = None
    for path in _STAGE_TIMES.get(kind, ()):
        value: Any = detail
        for key in path:
            value = ci(as_dict(value), key)
        if value not in (None, ""):
            when = value
            break
    contact = text_id(ci(detail, "contactId"), "contactId")
    return {
        "detail-type": "Amazon Connect Contact Event",
        "id": f"{NAME}:{contact}:{kind.lower()}:{when or ''}",
        "time": when,
        "detail": detail,
    }


def _contact_event(envelope: dict[str, Any], account: str | None) -> list[CanonicalEvent]:
    if envelope.get("detail-type") != "Amazon Connect Contact Event":
        return []
    detail = obj(envelope.get("detail"), "detail")
    kind = str(ci(detail, "eventType") or "").upper()
    if kind not in ("INITIATED", "QUEUED", "CONNECTED_TO_AGENT", "DISCONNECTED", "COMPLETED"):
        return []
    event_id = text_id(envelope.get("id"), "id")
    contact = text_id(ci(detail, "contactId"), "detail.contactId")
    queue_info = as_dict(ci(detail, "queueInfo"))
    agent_info = as_dict(ci(detail, "agentInfo"))
    queue = id_part(ci(queue_info, "queueArn", "ARN"), "queue")
    agent = id_part(ci(agent_info, "agentArn", "AgentARN"), "agent")
    channel = _CHANNELS.get(str(ci(detail, "channel") or "").lower())
    attributes = {
        "raw_event_type": kind,
        "initiation_method": ci(detail, "initiationMethod"),
        "disconnect_reason": ci(detail, "disconnectReason"),
    }
    base = {
        "platform": NAME,
        "account": account,
        "contact_id": contact,
        "queue_id": queue,
        "channel": channel,
        "attributes": {k: v for k, v in attributes.items() if v is not None},
    }

    def at(*candidates: Any) -> str:
        for value in candidates:
            if value not in (None, ""):
                return to_rfc3339(value, field=f"{kind} timestamp")
        return to_rfc3339(envelope.get("time"), field="time")

    initiated = ci(detail, "initiationTimestamp")
    out = []
    if kind == "INITIATED" or initiated:
        out.append(
            event(
                {
                    **base,
                    "event_id": f"{NAME}:{contact}:created",
                    "type": "contact.created",
                    "occurred_at": at(initiated),
                    "status": "new",
                }
            )
        )
    if kind == "QUEUED":
        out.append(
            event(
                {
                    **base,
                    "event_id": event_id,
                    "type": "contact.queued",
                    "occurred_at": at(ci(queue_info, "enqueueTimestamp")),
                }
            )
        )
    elif kind == "CONNECTED_TO_AGENT":
        if agent is None:
            raise Unmappable("CONNECTED_TO_AGENT without detail.agentInfo.agentArn")
        when = at(ci(agent_info, "connectedToAgentTimestamp"))
        out.append(
            event(
                {
                    **base,
                    "event_id": f"{event_id}:assigned",
                    "type": "contact.assigned",
                    "occurred_at": when,
                    "agent_id": agent,
                }
            )
        )
        out.append(
            event({**base, "event_id": event_id, "type": "contact.connected", "occurred_at": when, "agent_id": agent})
        )
    elif kind == "DISCONNECTED":
        when = at(ci(detail, "disconnectTimestamp"))
        queued = bool(queue_info) and (queue or ci(queue_info, "enqueueTimestamp"))
        connected = agent is not None or ci(agent_info, "connectedToAgentTimestamp")
        if queued and not connected:
            out.append(event({**base, "event_id": event_id, "type": "contact.abandoned", "occurred_at": when}))
        else:
            out.append(
                event(
                    {
                        **base,
                        "event_id": event_id,
                        "type": "contact.status_changed",
                        "occurred_at": when,
                        "agent_id": agent,
                        "status": "solved" if connected else "closed",
                    }
                )
            )
    elif kind == "COMPLETED":
        out.append(
            event(
                {
                    **base,
                    "event_id": event_id,
                    "type": "contact.status_changed",
                    "occurred_at": at(),
                    "agent_id": agent,
                    "status": "closed",
                }
            )
        )
    return out


def _agent_event(record: dict[str, Any], account: str | None) -> list[CanonicalEvent]:
    kind = str(record.get("EventType") or "").upper()
    if kind not in ("LOGIN", "LOGOUT", "STATE_CHANGE"):
        return []
    agent = id_part(record.get("AgentARN"), "agent")
    if agent is None:
        raise Unmappable("AgentARN is not an agent ARN")
    current = as_dict(record.get("CurrentAgentSnapshot"))
    state, raw = ("offline", "Offline") if kind == "LOGOUT" else _agent_state(current)
    if state is None:
        raise Unmappable("CurrentAgentSnapshot.AgentStatus.Name is missing")
    previous = record.get("PreviousAgentSnapshot")
    if kind == "STATE_CHANGE" and isinstance(previous, dict) and _agent_state(previous) == (state, raw):
        return []  # a contact or configuration change that leaves the agent's state as it was
    return [
        event(
            {
                "event_id": text_id(record.get("EventId"), "EventId"),
                "type": "agent.state_changed",
                "occurred_at": to_rfc3339(record.get("EventTimestamp"), field="EventTimestamp"),
                "platform": NAME,
                "account": account,
                "agent_id": agent,
                "state": state,
                "attributes": {"raw_state": raw, "raw_event_type": kind},
            }
        )
    ]


def _agent_state(snapshot: dict[str, Any]) -> tuple[str | None, str | None]:
    status = snapshot.get("AgentStatus")
    name = status.get("Name") if isinstance(status, dict) else None
    if not isinstance(name, str) or not name:
        return None, None
    lowered = name.strip().lower()
    if lowered == "offline":
        return "offline", name
    if lowered != "available":
        return "away", name
    contacts = snapshot.get("Contacts")
    live = isinstance(contacts, list) and any(
        isinstance(c, dict) and str(c.get("State", "")).upper() in _LIVE_STATES for c in contacts
    )
    return ("busy" if live else "available"), name
