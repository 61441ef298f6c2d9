"""Gorgias: HTTP-integration calls with deskpulse's JSON body template (docs/platforms/gorgias.md).

Gorgias signs nothing: the integration must send the shared secret in ``X-Deskpulse-Secret`` or as the
password of HTTP Basic auth (constant-time compare). One HTTP integration per trigger, each with a fixed
``"event"`` (the trigger name): ``ticket-created`` → ``contact.created`` (+ ``contact.assigned``);
``ticket-message-created`` → ``contact.message`` (``from_agent`` → agent, rule/auto-reply → system, AI agent
→ bot; internal notes are not public); ``ticket-updated`` → ``contact.status_changed`` + ``contact.assigned``
with the ticket's current status and assignee (both idempotent, so updates that change neither are harmless);
``ticket-self-unsnoozed`` → ``open``. Status: ``open`` → open, ``closed`` with a snooze date → **pending**
(snoozed), ``closed`` → **solved** (a customer reply reopens it). ``ticket-message-failed`` is ignored.

Cannot: CSAT and agent availability (no trigger for either), priority changes on their own. Jinja renders
``None``/``True``/``False`` for nulls and booleans and Gorgias datetimes have no offset (UTC): all handled.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from services.ingest.platforms.base import (
    Adapted,
    Delivery,
    Malformed,
    Unauthorized,
    Unmappable,
    any_matches,
    as_dict,
    event,
    json_body,
    optional_id,
    shared_secret,
    stable_id,
    to_rfc3339,
)

NAME = "gorgias"
MEDIA_TYPES = frozenset({"application/json"})
REQUIRES_SECRET = True

TEMPLATE = "deskpulse.gorgias.v1"
_PRIORITY = {
    "low": "low",
    "normal": "normal",
    "medium": "normal",
    "high": "high",
    "critical": "urgent",
    "urgent": "urgent",
}
_CHANNEL = {
    "email": "email",
    "chat": "chat",
    "phone": "voice",
    "sms": "sms",
    "whatsapp": "messaging",
    "facebook": "social",
    "facebook-messenger": "messaging",
    "facebook-mention": "social",
    "facebook-recommendations": "social",
    "instagram-comment": "social",
    "instagram-ad-comment": "social",
    "instagram-mention": "social",
    "instagram-direct-message": "messaging",
    "twitter": "social",
    "twitter-direct-message": "messaging",
    "help-center": "web",
    "contact_form": "web",
    "api": "other",
    "internal-note": "other",
    "aircall": "voice",
}
_NULLS = frozenset({"", "none", "null", "0"})
_NAIVE = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?", re.ASCII)


def verify(delivery: Delivery, secrets: Sequence[str], tolerance_s: float) -> None:
    if not any_matches(secrets, shared_secret(delivery)):
        raise Unauthorized("missing or wrong X-Deskpulse-Secret header or Basic auth password")


def to_events(delivery: Delivery) -> Adapted:
    doc = json_body(delivery)
    if not isinstance(doc, dict):
        raise Malformed("body must be a JSON object")
    if doc.get("template") != TEMPLATE:
        raise Unmappable(f"body is not the {TEMPLATE} template (see docs/platforms/gorgias.md)")
    kind = doc.get("event")
    if kind == "ticket-message-failed":
        return Adapted([])
    ticket = as_dict(doc.get("ticket"))
    message = as_dict(doc.get("message"))
    contact = _text(ticket.get("id"))
    if contact is None:
        raise Unmappable("ticket.id is missing")
    assignee, team = _text(ticket.get("assignee_user_id")), _text(ticket.get("assignee_team_id"))
    common = {
        "platform": NAME,
        "contact_id": contact,
        "account": delivery.account,
        "queue_id": team,
        "channel": _CHANNEL.get(_key(ticket.get("channel"))),
        "priority": _PRIORITY.get(_key(ticket.get("priority"))),
    }
    status = _status(ticket)
    if kind == "ticket-created":
        when = _time(ticket.get("created_datetime"), "ticket.created_datetime")
        eid = f"gorgias:{contact}:created"
        events = [
            event(
                {
                    **common,
                    "event_id": eid,
                    "type": "contact.created",
                    "occurred_at": when,
                    "status": status or "open",
                    "agent_id": assignee,
                }
            )
        ]
        if assignee:
            events.append(
                event(
                    {
                        **common,
                        "event_id": f"{eid}:assigned",
                        "type": "contact.assigned",
                        "occurred_at": when,
                        "agent_id": assignee,
                    }
                )
            )
        return Adapted(events)
    if kind == "ticket-message-created":
        mid = _text(message.get("id"))
        when = _time(message.get("created_datetime") or ticket.get("last_message_datetime"), "message.created_datetime")
        via = _key(message.get("via"))
        if _bool(message.get("from_agent")) is True:
            author = (
                "system" if via in ("rule", "auto-reply", "autoreply") else "bot" if "ai" in via.split("-") else "agent"
            )
        else:
            author = "customer"
        public = _bool(message.get("public"))
        if _key(message.get("channel")) == "internal-note":
            public = False
        eid = f"gorgias:{contact}:message:{mid}" if mid else stable_id(NAME, contact, kind, when, author)
        return Adapted(
            [
                event(
                    {
                        **common,
                        "event_id": eid,
                        "type": "contact.message",
                        "occurred_at": when,
                        "author": author,
                        "public": public,
                        "channel": _CHANNEL.get(_key(message.get("channel"))) or common["channel"],
                        "agent_id": _text(message.get("sender_id")) if author == "agent" else None,
                    }
                )
            ]
        )
    if kind in ("ticket-updated", "ticket-self-unsnoozed"):
        when = _time(ticket.get("updated_datetime"), "ticket.updated_datetime")
        eid = stable_id(NAME, contact, kind, when, ticket.get("status"), assignee, team)
        if kind == "ticket-self-unsnoozed":
            status = "open"
        if status is None:
            raise Unmappable(f"unknown Gorgias ticket status {str(ticket.get('status'))[:40]!r}")
        return Adapted(
            [
                event(
                    {
                        **common,
                        "event_id": f"{eid}:status",
                        "type": "contact.status_changed",
                        "occurred_at": when,
                        "status": status,
                        "attributes": {"raw_status": ticket.get("status"), "trigger": kind},
                    }
                ),
                event(
                    {
                        **common,
                        "event_id": f"{eid}:assigned",
                        "type": "contact.assigned",
                        "occurred_at": when,
                        "agent_id": assignee,
                    }
                ),
            ]
        )
    raise Unmappable(f"unknown template event {str(kind)[:40]!r}")


# -- private helpers -----------------------------------


def _text(value: Any) -> str | None:
    return optional_id(value, _NULLS)


def _key(value: Any) -> str:
    return value.strip().lower() if isinstance(value, str) else ""


def _bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    return {"true": True, "false": False}.get(_key(value))


def _status(ticket: dict) -> str | None:
    raw = _key(ticket.get("status"))
    if raw == "open":
        return "open"
    if raw == "closed":
        return "pending" if _text(ticket.get("snooze_datetime")) else "solved"
    return None


def _time(value: Any, field: str) -> str:
    """Gorgias datetimes are UTC without an offset (``2019-07-05T15:47:29.675466``): read them as UTC."""
    if isinstance(value, str) and _NAIVE.fullmatch(value.strip()):
        value = value.strip() + "Z"
    return to_rfc3339(value, field=field)
