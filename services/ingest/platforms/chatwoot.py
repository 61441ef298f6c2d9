"""Chatwoot account or inbox webhooks (open source; payloads of ``app/listeners/webhook_listener.rb``).

Maps ``conversation_created`` → ``contact.created``; ``conversation_status_changed`` (and the deprecated
``conversation_resolved`` / ``conversation_opened``) → ``contact.status_changed`` (open, pending → pending, snoozed →
on_hold, resolved → solved); ``conversation_updated`` whose ``changed_attributes`` hold ``assignee_id`` →
``contact.assigned``; ``message_created`` → ``contact.message`` (incoming → customer; outgoing by a user → agent, by an
agent bot → bot, without sender → system; template → system; activity messages ignored; ``private`` → not public).
``contact_id`` is the conversation's display id (the ``id`` of Chatwoot's conversation payload), ``queue_id`` the inbox.

Authentication: recent versions sign ``X-Chatwoot-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." +
body)>`` with ``X-Chatwoot-Timestamp`` (unix s, replay window checked). Older versions sign nothing: as an explicit
fallback a request without ``X-Chatwoot-Signature`` is accepted only with ``X-Deskpulse-Secret: <secret>``
(docs/platforms/chatwoot.md). Cannot map: CSAT (no webhook event), agent presence (only ``availability_status``
snapshots inside payloads), contact/inbox/typing events (ignored).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from services.ingest.platforms.base import (
    Adapted,
    Delivery,
    Unauthorized,
    Unmappable,
    any_matches,
    as_dict,
    check_timestamp,
    event,
    hmac_digest,
    json_body,
    obj,
    stable_id,
    text_id,
    to_rfc3339,
)

NAME = "chatwoot"
MEDIA_TYPES = frozenset({"application/json"})
REQUIRES_SECRET = True

_STATUS = {"open": "open", "pending": "pending", "snoozed": "on_hold", "resolved": "solved"}
_DEPRECATED_STATUS_EVENTS = {"conversation_resolved", "conversation_opened"}
_MESSAGE_TYPES = {0: "incoming", 1: "outgoing", 2: "activity", 3: "template"}
_CHANNEL = {
    "webwidget": "chat",
    "email": "email",
    "api": "other",
    "facebookpage": "social",
    "twitterprofile": "social",
    "instagram": "social",
    "tiktok": "social",
    "whatsapp": "messaging",
    "telegram": "messaging",
    "line": "messaging",
    "sms": "sms",
    "twiliosms": "sms",
    "voice": "voice",
}
_UTC_SUFFIX = re.compile(r"\s+UTC$")


def verify(delivery: Delivery, secrets: Sequence[str], tolerance_s: float) -> None:
    signature = delivery.headers.get("x-chatwoot-signature")
    if not signature:
        if not any_matches(secrets, delivery.headers.get("x-deskpulse-secret")):
            raise Unauthorized("missing X-Chatwoot-Signature (or, for unsigned older Chatwoot, X-Deskpulse-Secret)")
        return
    timestamp = delivery.headers.get("x-chatwoot-timestamp", "").strip()
    if not timestamp.isdecimal() or not timestamp.isascii():
        raise Unauthorized("X-Chatwoot-Timestamp is missing or not unix seconds")
    check_timestamp(float(timestamp), delivery.received_at, tolerance_s)
    message = timestamp.encode() + b"." + delivery.body
    expected = ["sha256=" + hmac_digest(secret, message).hex() for secret in secrets]
    if not any_matches(expected, signature.strip()):
        raise Unauthorized("wrong X-Chatwoot-Signature")


def to_events(delivery: Delivery) -> Adapted:
    document = obj(json_body(delivery), "body")
    name = document.get("event")
    if not isinstance(name, str) or not name:
        raise Unmappable("event is missing")
    name = name.strip().lower()
    if name == "message_created":
        return Adapted(_message(delivery, document))
    if name not in (
        "conversation_created",
        "conversation_status_changed",
        "conversation_updated",
        *_DEPRECATED_STATUS_EVENTS,
    ):
        return Adapted([])  # message_updated, contact_*, inbox_*, webwidget_triggered, typing: nothing for KPIs
    base = _conversation(delivery, document, document)
    convo_id = base["contact_id"]
    if name == "conversation_created":
        at = _time(document.get("created_at") or document.get("timestamp"), "created_at")
        return Adapted(
            [
                event(
                    {
                        **base,
                        "event_id": f"chatwoot:{convo_id}:created",
                        "type": "contact.created",
                        "occurred_at": at,
                        "status": _status(document, required=False),
                        "agent_id": _assignee(document),
                        "attributes": _assignee_name(document),
                    }
                )
            ]
        )
    at = _time(document.get("updated_at") or document.get("timestamp"), "updated_at")
    if name == "conversation_updated":
        change = _changed(document, "assignee_id")
        if change is None:
            return Adapted([])  # labels, custom attributes, team, priority...: nothing for KPIs
        if isinstance(change, dict) and "current_value" in change:
            current = change["current_value"]
            agent = None if current in (None, "") else text_id(current, "changed_attributes.assignee_id")
        else:
            agent = _assignee(document)
        named = _assignee_name(document) if agent is not None and agent == _assignee(document) else {}
        return Adapted(
            [
                event(
                    {
                        **base,
                        "event_id": stable_id(NAME, convo_id, "assigned", agent, at),
                        "type": "contact.assigned",
                        "occurred_at": at,
                        "agent_id": agent,
                        "attributes": named,
                    }
                )
            ]
        )
    status = _status(document, required=True)
    return Adapted(
        [
            event(
                {
                    **base,
                    "event_id": stable_id(NAME, convo_id, "status", status, at),
                    "type": "contact.status_changed",
                    "occurred_at": at,
                    "status": status,
                    "attributes": {"raw_status": document.get("status")},
                }
            )
        ]
    )


def _message(delivery: Delivery, document: dict[str, Any]) -> list[Any]:
    convo = obj(document.get("conversation"), "conversation")
    base = _conversation(delivery, convo, document)
    raw_type = document.get("message_type")
    kind = (
        _MESSAGE_TYPES.get(raw_type)
        if isinstance(raw_type, int) and not isinstance(raw_type, bool)
        else (raw_type.strip().lower() if isinstance(raw_type, str) else None)
    )
    if kind == "activity":
        return []  # "Conversation was resolved by ...": the status events carry that
    sender = as_dict(document.get("sender"))
    sender_type = str(sender.get("type", "")).strip().lower()
    agent = None
    if kind == "incoming":
        author = "customer"
    elif kind == "outgoing":
        author = {"user": "agent", "agent_bot": "bot", "agentbot": "bot", "captain_assistant": "bot"}.get(
            sender_type, "system" if not sender else "agent"
        )
        if author == "agent" and sender.get("id") not in (None, ""):
            agent = text_id(sender.get("id"), "sender.id")
    elif kind == "template":
        author = "system"
    else:
        raise Unmappable(f"unknown message_type {str(raw_type)[:40]!r}")
    private = document.get("private")
    inbox = document.get("inbox")
    if inbox and base["queue_id"] is None and isinstance(inbox, dict) and inbox.get("id") not in (None, ""):
        base["queue_id"] = text_id(inbox.get("id"), "inbox.id")
    return [
        event(
            {
                **base,
                "event_id": f"chatwoot:message:{text_id(document.get('id'), 'id')}",
                "type": "contact.message",
                "occurred_at": _time(document.get("created_at"), "created_at"),
                "author": author,
                "public": not private if isinstance(private, bool) else True,
                "agent_id": agent,
                "attributes": {
                    "message_type": kind,
                    "sender_type": sender_type or None,
                    **_name("agent_name", sender.get("name") if agent else None),
                    **_name("queue_name", inbox.get("name") if isinstance(inbox, dict) else None),
                },
            }
        )
    ]


def _conversation(delivery: Delivery, convo: dict[str, Any], document: dict[str, Any]) -> dict[str, Any]:
    convo_id = convo.get("id", convo.get("display_id"))
    inbox = convo.get("inbox_id")
    account = document.get("account")
    account_id = account.get("id") if isinstance(account, dict) else convo.get("account_id")
    channel = convo.get("channel")
    key = channel.removeprefix("Channel::").replace("_", "").lower() if isinstance(channel, str) else None
    return {
        "platform": NAME,
        "contact_id": text_id(convo_id, "conversation id"),
        "account": delivery.account or (text_id(account_id, "account.id") if account_id not in (None, "") else None),
        "queue_id": text_id(inbox, "inbox_id") if inbox not in (None, "") else None,
        "channel": _CHANNEL.get(key, "other") if key else None,
    }


def _changed(document: dict[str, Any], attribute: str) -> Any:
    """Chatwoot sends ``changed_attributes`` as a list of one-key objects: ``[{"assignee_id": {...}}]``."""
    changed = document.get("changed_attributes")
    items = changed if isinstance(changed, list) else [changed]
    for item in items:
        if isinstance(item, dict) and attribute in item:
            return item[attribute] if item[attribute] is not None else {}
    return None


def _status(document: dict[str, Any], *, required: bool) -> str | None:
    raw = document.get("status")
    status = _STATUS.get(raw.strip().lower()) if isinstance(raw, str) else None
    if status is None and required:
        raise Unmappable(f"unknown conversation status {str(raw)[:40]!r}")
    return status


def _assignee(document: dict[str, Any]) -> str | None:
    meta = document.get("meta")
    assignee = meta.get("assignee") if isinstance(meta, dict) else None
    if not isinstance(assignee, dict) or assignee.get("id") in (None, ""):
        return None
    return text_id(assignee.get("id"), "meta.assignee.id")


def _name(field: str, value: Any) -> dict[str, str]:
    """``{field: value}`` for a display name (``queue_name``, ``agent_name``) given as non-empty text, else nothing."""
    return {field: value.strip()} if isinstance(value, str) and value.strip() else {}


def _assignee_name(document: dict[str, Any]) -> dict[str, str]:
    meta = document.get("meta")
    assignee = meta.get("assignee") if isinstance(meta, dict) else None
    return _name("agent_name", assignee.get("name")) if isinstance(assignee, dict) else {}


def _time(value: Any, field: str) -> str:
    """Epoch seconds, ISO 8601, or the older docs' ``2020-03-03 13:05:57 UTC``."""
    if isinstance(value, str):
        value = _UTC_SUFFIX.sub("Z", value.strip())
    return to_rfc3339(value, field=field)
