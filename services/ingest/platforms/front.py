"""Front: application webhooks (``{type, authorization, payload}``) and rule webhooks (the event itself).

Maps Front event types (``payload.type``, or the application event name when that is missing):
``inbound`` → ``contact.created`` (once per conversation: id ``front:<cnv>:created``, time = conversation
``created_at``, so repeats dedupe) + customer ``contact.message``; ``outbound`` / ``out_reply`` → public agent
``contact.message`` (no teammate author → ``system``); ``comment`` → internal agent message; ``assign`` /
``unassign`` → ``contact.assigned``; ``move`` → ``contact.assigned`` with the new inbox as ``queue_id``;
``archive`` → ``solved`` (Front reopens archived conversations on a reply); ``reopen`` / ``reminder`` /
``restore`` → ``open``; ``trash`` → ``closed``; snooze (application event ``conversation_snoozed``) →
``pending``. The ``sync`` handshake with ``x-front-challenge`` is answered ``{"challenge": <value>}``.

Cannot: CSAT and teammate presence (Front sends neither), live ``contact.connected``/abandonment, priority.
Event previews (rule webhooks) carry ids only; fields they lack stay null.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from services.ingest.platforms.base import (
    Adapted,
    Delivery,
    Malformed,
    Reply,
    Unauthorized,
    Unmappable,
    any_matches,
    as_dict,
    b64,
    check_timestamp,
    dig,
    event,
    hmac_digest,
    json_body,
    optional_id,
    stable_id,
    to_rfc3339,
)

NAME = "front"
MEDIA_TYPES = frozenset({"application/json"})
REQUIRES_SECRET = True

APP_WINDOW_S = 300.0  # Front recommends rejecting application webhooks older than 5 minutes
_APP_NAMES = {
    "inbound_received": "inbound",
    "outbound_sent": "outbound",
    "new_comment_added": "comment",
    "assignee_changed": "assign",
    "conversation_moved": "move",
    "conversation_archived": "archive",
    "conversation_reopened": "reopen",
    "conversation_snoozed": "snooze",
    "conversation_snooze_expired": "reminder",
    "conversation_deleted": "trash",
    "conversation_restored": "restore",
}
_STATUS = {
    "archive": "solved",
    "reopen": "open",
    "reminder": "open",
    "restore": "open",
    "trash": "closed",
    "snooze": "pending",
    "conversation_snoozed": "pending",
}
_CHANNEL = {
    "email": "email",
    "custom": "other",
    "intercom": "chat",
    "front_chat": "chat",
    "smooch": "messaging",
    "whatsapp": "messaging",
    "sms": "sms",
    "call": "voice",
    "tweet": "social",
    "tweet_dm": "social",
    "facebook": "social",
    "instagram": "social",
    "googleplay": "other",
}
_MAPPED = {"inbound", "outbound", "out_reply", "comment", "assign", "unassign", "move", *_STATUS}


def verify(delivery: Delivery, secrets: Sequence[str], tolerance_s: float) -> None:
    """Application webhooks: base64 HMAC-SHA256 of ``<X-Front-Request-Timestamp>:<raw body>`` (ms timestamp,
    5-minute window); rule webhooks (no timestamp header): base64 HMAC-SHA1 of the raw body with the API secret."""
    signature = delivery.headers.get("x-front-signature")
    if not signature:
        raise Unauthorized("missing X-Front-Signature")
    timestamp = delivery.headers.get("x-front-request-timestamp")
    if timestamp is None:
        expected = [b64(hmac_digest(s, delivery.body, "sha1")) for s in secrets]
    else:
        expected = [b64(hmac_digest(s, timestamp.encode() + b":" + delivery.body)) for s in secrets]
    if not any_matches(expected, signature):
        raise Unauthorized("X-Front-Signature does not match")
    if timestamp is not None:
        ms = timestamp.strip()
        if not (ms.isascii() and ms.isdigit()) or len(ms) > 16:
            raise Unauthorized("X-Front-Request-Timestamp must be epoch milliseconds")
        check_timestamp(int(ms) / 1000, delivery.received_at, min(tolerance_s, APP_WINDOW_S))


def to_events(delivery: Delivery) -> Adapted:
    doc = json_body(delivery)
    if not isinstance(doc, dict):
        raise Malformed("body must be a JSON object")
    challenge = delivery.headers.get("x-front-challenge")
    if challenge is not None:
        return Adapted([], reply=Reply(200, json.dumps({"challenge": challenge}).encode()))
    if doc.get("type") == "sync":
        return Adapted([])
    payload = doc.get("payload")
    evt = payload if isinstance(payload, dict) else doc
    app_name = doc.get("type") if evt is payload else None
    kind = evt.get("type") if isinstance(evt.get("type"), str) else None
    if kind is None and isinstance(app_name, str):
        kind = _APP_NAMES.get(app_name)
    if kind == "assign" and dig(evt, "target", "data") is None:
        kind = "unassign"
    if kind not in _MAPPED:
        return Adapted([])
    conversation = as_dict(evt.get("conversation"))
    contact = optional_id(conversation.get("id"))
    if contact is None:
        raise Unmappable("conversation.id is missing")
    account = delivery.account or optional_id(dig(doc, "authorization", "id"))
    eid = f"front:{optional_id(evt.get('id')) or stable_id(NAME, kind, contact, evt.get('emitted_at'))}"
    target = as_dict(dig(evt, "target", "data"))
    inbox = _first_inbox(evt)
    common = {
        "platform": NAME,
        "contact_id": contact,
        "account": account,
        "event_id": eid,
        "queue_id": inbox,
        "occurred_at": to_rfc3339(evt.get("emitted_at"), field="emitted_at"),
    }
    assignee = optional_id(as_dict(conversation.get("assignee")).get("id"))
    if kind in ("inbound", "outbound", "out_reply", "comment"):
        channel = _CHANNEL.get(str(target.get("type"))) if kind != "comment" else None
        common["channel"] = channel
        if kind == "comment":
            author = as_dict(target.get("author"))
            return Adapted(
                [
                    event(
                        {
                            **common,
                            "type": "contact.message",
                            "author": "agent",
                            "public": False,
                            "agent_id": optional_id(author.get("id")) or optional_id(dig(evt, "source", "data", "id")),
                        }
                    )
                ]
            )
        if kind == "inbound":
            created = {
                **common,
                "event_id": f"front:{contact}:created",
                "type": "contact.created",
                "status": "open",
                "attributes": {"subject": conversation.get("subject")},
                "occurred_at": to_rfc3339(
                    conversation.get("created_at") or evt.get("emitted_at"), field="conversation.created_at"
                ),
            }
            return Adapted(
                [
                    event(created),
                    event(
                        {
                            **common,
                            "type": "contact.message",
                            "author": "customer",
                            "public": True,
                            "attributes": {"message_id": optional_id(target.get("id"))},
                        }
                    ),
                ]
            )
        teammate = optional_id(as_dict(target.get("author")).get("id"))
        return Adapted(
            [
                event(
                    {
                        **common,
                        "type": "contact.message",
                        "author": "agent" if teammate else "system",
                        "public": True,
                        "agent_id": teammate,
                        "attributes": {"message_id": optional_id(target.get("id"))},
                    }
                )
            ]
        )
    if kind in ("assign", "unassign"):
        agent = optional_id(target.get("id")) if kind == "assign" else None
        return Adapted([event({**common, "type": "contact.assigned", "agent_id": agent})])
    if kind == "move":
        return Adapted(
            [
                event(
                    {
                        **common,
                        "type": "contact.assigned",
                        "agent_id": assignee,
                        "queue_id": _first_inbox(evt, "target") or inbox,
                        "attributes": {"changed": "inbox"},
                    }
                )
            ]
        )
    return Adapted(
        [
            event(
                {
                    **common,
                    "type": "contact.status_changed",
                    "status": _STATUS[kind],
                    "attributes": {"raw_type": kind, "raw_status": conversation.get("status")},
                }
            )
        ]
    )


# -- private helpers -----------------------------------------------------------------------------------------


def _first_inbox(evt: dict, side: str = "source") -> str | None:
    """The inbox of a message event (``source`` is ``inboxes`` for inbound/outbound; ``target`` for move)."""
    part = as_dict(evt.get(side))
    if dig(part, "_meta", "type") != "inboxes":
        return None
    data = part.get("data")
    first = data[0] if isinstance(data, list) and data else data
    return optional_id(as_dict(first).get("id"))
