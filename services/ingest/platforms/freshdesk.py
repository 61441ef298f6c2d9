"""Freshdesk: automation-rule "Trigger webhook" calls with deskpulse's JSON body template (docs/platforms/freshdesk.md).

Freshdesk signs nothing: the rule must send the shared secret in ``X-Deskpulse-Secret`` or as the password of
HTTP Basic auth (compared in constant time). One rule per event, each with a fixed ``"event"`` in the body:
``ticket.created`` → ``contact.created`` (+ ``contact.assigned``); ``reply.agent`` → public agent
``contact.message``; ``reply.customer`` → customer ``contact.message``; ``note.private`` → internal note;
``status.changed`` → ``contact.status_changed``; ``agent.changed`` / ``group.changed`` → ``contact.assigned``.
Placeholders render display names ("Open", "Waiting on Customer", "Medium", "Email"); numeric codes (status
2–5, priority 1–4, source 1–10) are accepted too.

Cannot: CSAT and agent availability (no rule trigger for either), an event id or event time (Freshdesk sends
neither: the time is the template's optional ``occurred_at`` or the arrival time, and the id hashes the body
with that time), numeric agent/group ids (agent e-mail and group name are used).
"""

from __future__ import annotations

import hashlib
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
    labels,
    optional_id,
    shared_secret,
    stable_id,
    to_rfc3339,
)

NAME = "freshdesk"
MEDIA_TYPES = frozenset({"application/json"})
REQUIRES_SECRET = True

TEMPLATE = "deskpulse.freshdesk.v1"
_STATUS = {
    "open": "open",
    "2": "open",
    "pending": "pending",
    "3": "pending",
    "resolved": "solved",
    "4": "solved",
    "closed": "closed",
    "5": "closed",
    "waiting on customer": "pending",
    "waiting on third party": "on_hold",
}
_PRIORITY = {
    "low": "low",
    "1": "low",
    "medium": "normal",
    "2": "normal",
    "high": "high",
    "3": "high",
    "urgent": "urgent",
    "4": "urgent",
}
_SOURCE = {
    "email": "email",
    "1": "email",
    "portal": "web",
    "2": "web",
    "phone": "voice",
    "3": "voice",
    "forum": "web",
    "4": "web",
    "twitter": "social",
    "5": "social",
    "facebook": "social",
    "6": "social",
    "chat": "chat",
    "7": "chat",
    "mobihelp": "other",
    "8": "other",
    "feedback widget": "web",
    "9": "web",
    "outbound email": "email",
    "10": "email",
    "whatsapp": "messaging",
    "ecommerce": "other",
}
_MESSAGES = {"reply.agent": ("agent", True), "reply.customer": ("customer", True), "note.private": ("agent", False)}


def verify(delivery: Delivery, secrets: Sequence[str], tolerance_s: float) -> None:
    if not any_matches(secrets, shared_secret(delivery)):
        raise Unauthorized("missing or wrong X-Deskpulse-Secret header or Basic auth password")


def to_events(delivery: Delivery) -> Adapted:
    doc = json_body(delivery)
    if not isinstance(doc, dict):
        raise Malformed("body must be a JSON object")
    if doc.get("template") != TEMPLATE:
        raise Unmappable(f"body is not the {TEMPLATE} template (see docs/platforms/freshdesk.md)")
    if doc.get("event") == "test":
        return Adapted([])  # the body the docs suggest for checking a rule's URL and secret
    ticket = as_dict(doc.get("ticket"))
    contact = _text(ticket.get("id"))
    if contact is None:
        raise Unmappable("ticket.id is missing")
    kind = doc.get("event")
    occurred = doc.get("occurred_at") or delivery.received_at
    when = to_rfc3339(occurred, field="occurred_at")
    fingerprint = hashlib.sha256(delivery.body).hexdigest()[:16]
    eid = stable_id(NAME, contact, kind, when, fingerprint)
    agent = _text(ticket.get("agent_email"))
    common = {
        "platform": NAME,
        "contact_id": contact,
        "event_id": eid,
        "occurred_at": when,
        "account": delivery.account or _subdomain(ticket.get("url")),
        "queue_id": _text(ticket.get("group")),
        "priority": _PRIORITY.get(_key(ticket.get("priority"))),
        "channel": _SOURCE.get(_key(ticket.get("source"))),
    }
    status = _STATUS.get(_key(ticket.get("status")))
    category = labels(tags=ticket.get("tags"), ticket_type=ticket.get("type"))  # optional template fields
    if kind == "ticket.created":
        events = [
            event(
                {
                    **common,
                    "type": "contact.created",
                    "status": status or "open",
                    "agent_id": agent,
                    "attributes": category,
                }
            )
        ]
        if agent:
            events.append(
                event({**common, "event_id": f"{eid}:assigned", "type": "contact.assigned", "agent_id": agent})
            )
        return Adapted(events)
    if kind in _MESSAGES:
        author, public = _MESSAGES[kind]
        return Adapted(
            [
                event(
                    {
                        **common,
                        "type": "contact.message",
                        "author": author,
                        "public": public,
                        "agent_id": agent if author == "agent" else None,
                    }
                )
            ]
        )
    if kind == "status.changed":
        if status is None:
            raise Unmappable(
                f"unknown Freshdesk status {str(ticket.get('status'))[:40]!r} (custom statuses are not mapped)"
            )
        return Adapted(
            [
                event(
                    {
                        **common,
                        "type": "contact.status_changed",
                        "status": status,
                        "attributes": {"raw_status": ticket.get("status"), **category},
                    }
                )
            ]
        )
    if kind in ("agent.changed", "group.changed"):
        return Adapted([event({**common, "type": "contact.assigned", "agent_id": agent})])
    raise Unmappable(f"unknown template event {str(kind)[:40]!r}")


# -- private helpers -------------------------------------


def _text(value: Any) -> str | None:
    return optional_id(value)


def _key(value: Any) -> str:
    text = _text(value)
    return text.lower() if text else ""


def _subdomain(url: Any) -> str | None:
    """``acme`` from ``https://acme.freshdesk.com/helpdesk/tickets/1`` (what {{ticket.url}} renders)."""
    if not isinstance(url, str) or ".freshdesk.com" not in url:
        return None
    return _text(url.split("://", 1)[-1].split(".freshdesk.com", 1)[0])
