"""Zendesk: event-subscription webhooks (``zen:event-type:*``) and trigger webhooks using deskpulse's body template.

Maps, from event subscriptions: ``ticket.created`` → ``contact.created`` (+ ``contact.assigned`` when created
assigned); ``ticket.comment_added`` → ``contact.message`` (author from ``comment.author.is_staff``, system user
-1 → ``system``); ``ticket.status_changed`` → ``contact.status_changed``; ``ticket.agent_assignment_changed`` and
``ticket.group_assignment_changed`` → ``contact.assigned`` (current assignee, new group as ``queue_id``);
``ticket.priority_changed`` → ``contact.status_changed`` carrying the unchanged current status and the new priority
(``attributes.changed = "priority"``); ``agent.state_changed`` / ``agent.unified_state_changed`` →
``agent.state_changed``. From the trigger template (docs/platforms/zendesk.md): created, public/private comment,
status, assignee, group and CSAT (``contact.rated``).

Cannot: CSAT from event subscriptions (Zendesk has no such event type; use the trigger template), messaging
(``messaging_ticket.*``) conversations, work-item/capacity events. Webhook enums arrive upper-case (``OPEN``),
the REST API and placeholders lower- or title-case: all are normalised case-insensitively.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from services.common.events import to_epoch_ms
from services.ingest.platforms.base import (
    Adapted,
    Delivery,
    Malformed,
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
    labels,
    optional_id,
    stable_id,
    to_rfc3339,
)

NAME = "zendesk"
MEDIA_TYPES = frozenset({"application/json"})
REQUIRES_SECRET = True

_PREFIX = "zen:event-type:"
TEMPLATE = "deskpulse.zendesk.v1"
_STATUS = {
    "new": "new",
    "open": "open",
    "pending": "pending",
    "hold": "on_hold",
    "on_hold": "on_hold",
    "on-hold": "on_hold",
    "solved": "solved",
    "closed": "closed",
}
_IGNORED_STATUS = {"archived", "deleted", "scrubbed"}
_PRIORITY = {"low": "low", "normal": "normal", "high": "high", "urgent": "urgent"}
_STATE = {
    "online": "available",
    "available": "available",
    "away": "away",
    "offline": "offline",
    "transfers_only": "busy",
    "transfers only": "busy",
    "busy": "busy",
}
_AGENT_ROLES = {"agent", "admin", "administrator", "light agent", "light_agent"}


def verify(delivery: Delivery, secrets: Sequence[str], tolerance_s: float) -> None:
    signature = delivery.headers.get("x-zendesk-webhook-signature")
    timestamp = delivery.headers.get("x-zendesk-webhook-signature-timestamp")
    if not signature or not timestamp:
        raise Unauthorized("missing X-Zendesk-Webhook-Signature or X-Zendesk-Webhook-Signature-Timestamp")
    # The secret is used as its literal string bytes (it looks like base64 but is not decoded).
    expected = [b64(hmac_digest(s, timestamp.encode() + delivery.body)) for s in secrets]
    if not any_matches(expected, signature):
        raise Unauthorized("X-Zendesk-Webhook-Signature does not match")
    try:
        signed_ms = to_epoch_ms(to_rfc3339(timestamp, field="signature timestamp"))
    except Unmappable as exc:
        raise Unauthorized(exc.detail) from None
    check_timestamp(signed_ms / 1000, delivery.received_at, tolerance_s)


def to_events(delivery: Delivery) -> Adapted:
    doc = json_body(delivery)
    if not isinstance(doc, dict):
        raise Malformed("body must be a JSON object")
    kind = doc.get("type")
    if isinstance(kind, str) and kind.startswith(_PREFIX):
        return _subscription(doc, kind[len(_PREFIX) :], delivery)
    if doc.get("template") == TEMPLATE:
        return _trigger(doc, delivery)
    raise Unmappable("neither a zen:event-type event nor the deskpulse.zendesk.v1 trigger template")


# -- event subscriptions -------------------------------------------------------------------------------------


def _subscription(doc: dict, kind: str, delivery: Delivery) -> Adapted:
    if kind.startswith("agent."):
        return _agent(doc, kind, delivery)
    if kind not in (
        "ticket.created",
        "ticket.comment_added",
        "ticket.status_changed",
        "ticket.priority_changed",
        "ticket.agent_assignment_changed",
        "ticket.group_assignment_changed",
    ):
        return Adapted([])
    detail = as_dict(doc.get("detail"))
    change = as_dict(doc.get("event"))
    ticket = _id(detail.get("id")) or _subject_id(doc.get("subject"), "zen:ticket:")
    if ticket is None:
        raise Unmappable("ticket id missing (detail.id / subject)")
    eid = f"zendesk:{_id(doc.get('id')) or stable_id('zendesk', kind, ticket, doc.get('time'))}"
    common = {
        "platform": NAME,
        "contact_id": ticket,
        "account": delivery.account or _id(doc.get("account_id")),
        "queue_id": _id(detail.get("group_id")),
        "channel": _channel(dig(detail, "via", "channel")),
        "priority": _enum(detail.get("priority"), _PRIORITY),
        "occurred_at": to_rfc3339(doc.get("time") or detail.get("updated_at"), field="time"),
    }
    status = _status(detail.get("status"))
    assignee = _id(detail.get("assignee_id"))
    # Category attributes as the ticket is when created and when its status changes (solved: as handled).
    category = labels(tags=detail.get("tags") or [], ticket_type=detail.get("type"), form=detail.get("form_id"))
    if kind == "ticket.created":
        events = [
            event(
                {
                    **common,
                    "event_id": eid,
                    "type": "contact.created",
                    "status": status or "new",
                    "agent_id": assignee,
                    "attributes": category,
                }
            )
        ]
        if assignee:
            events.append(
                event({**common, "event_id": f"{eid}:assigned", "type": "contact.assigned", "agent_id": assignee})
            )
        return Adapted(events)
    if kind == "ticket.comment_added":
        comment = as_dict(change.get("comment"))
        author = as_dict(comment.get("author"))
        author_id = _id(author.get("id"))
        role = "system" if author_id == "-1" else "agent" if author.get("is_staff") is True else "customer"
        public = comment.get("is_public")
        return Adapted(
            [
                event(
                    {
                        **common,
                        "event_id": eid,
                        "type": "contact.message",
                        "author": role,
                        "public": public if isinstance(public, bool) else None,
                        "agent_id": author_id if role == "agent" else None,
                        "attributes": {"comment_id": _id(comment.get("id"))},
                    }
                )
            ]
        )
    if kind == "ticket.status_changed":
        new = _status(change.get("current"))
        if new is None:
            if str(change.get("current")).lower() in _IGNORED_STATUS:
                return Adapted([])
            raise Unmappable(f"unknown ticket status {str(change.get('current'))[:40]!r}")
        return Adapted(
            [
                event(
                    {
                        **common,
                        "event_id": eid,
                        "type": "contact.status_changed",
                        "status": new,
                        "attributes": {"raw_status": change.get("current"), **category},
                    }
                )
            ]
        )
    if kind == "ticket.priority_changed":
        if status is None:
            return Adapted([])  # nothing to carry the priority on (e.g. archived ticket)
        return Adapted(
            [
                event(
                    {
                        **common,
                        "event_id": eid,
                        "type": "contact.status_changed",
                        "status": status,
                        "priority": _enum(change.get("current"), _PRIORITY),
                        "attributes": {"changed": "priority"},
                    }
                )
            ]
        )
    if kind == "ticket.agent_assignment_changed":
        return Adapted(
            [event({**common, "event_id": eid, "type": "contact.assigned", "agent_id": _id(change.get("current"))})]
        )
    return Adapted(
        [
            event(
                {
                    **common,
                    "event_id": eid,
                    "type": "contact.assigned",
                    "agent_id": assignee,
                    "queue_id": _id(change.get("current")),
                    "attributes": {"changed": "group"},
                }
            )
        ]
    )


def _agent(doc: dict, kind: str, delivery: Delivery) -> Adapted:
    if kind not in ("agent.state_changed", "agent.unified_state_changed"):
        return Adapted([])
    detail = as_dict(doc.get("detail"))
    change = as_dict(doc.get("event"))
    agent = _id(detail.get("agent_id")) or _subject_id(doc.get("subject"), "zen:agent:")
    if agent is None:
        raise Unmappable("agent id missing (detail.agent_id)")
    raw = change.get("new_state", change.get("current"))
    if isinstance(raw, dict):  # unified status objects carry a name
        raw = raw.get("name") or raw.get("id")
    state = _STATE.get(str(raw).strip().lower()) if isinstance(raw, (str, int)) else None
    if state is None:
        raise Unmappable(f"unknown agent state {str(raw)[:40]!r}")
    eid = f"zendesk:{_id(doc.get('id')) or stable_id('zendesk', kind, agent, change.get('updated_at'))}"
    return Adapted(
        [
            event(
                {
                    "event_id": eid,
                    "type": "agent.state_changed",
                    "platform": NAME,
                    "agent_id": agent,
                    "state": state,
                    "account": delivery.account or _id(doc.get("account_id")) or _id(detail.get("account_id")),
                    "occurred_at": to_rfc3339(change.get("updated_at") or doc.get("time"), field="event.updated_at"),
                    "attributes": {"raw_state": raw, "channel": change.get("channel"), "kind": kind},
                }
            )
        ]
    )


# -- trigger webhooks with the deskpulse template ------------------------------------------------------------


def _trigger(doc: dict, delivery: Delivery) -> Adapted:
    ticket = as_dict(doc.get("ticket"))
    actor = as_dict(doc.get("actor"))
    contact = _id(ticket.get("id"))
    kind = doc.get("event")
    if contact is None:
        raise Unmappable("ticket.id missing")
    when = to_rfc3339(_minutes(ticket.get("updated_at") or ticket.get("created_at")), field="ticket.updated_at")
    eid = stable_id(NAME, contact, kind, when, actor.get("id"), ticket.get("status"))
    assignee = _id(ticket.get("assignee_id"))
    common = {
        "platform": NAME,
        "contact_id": contact,
        "occurred_at": when,
        "account": delivery.account or _subdomain(ticket.get("url")),
        "queue_id": _id(ticket.get("group_id")),
        "channel": _channel(ticket.get("via")),
        "priority": _enum(ticket.get("priority"), _PRIORITY),
    }
    status = _status(ticket.get("status"))
    category = labels(tags=ticket.get("tags"), ticket_type=ticket.get("type"), form=ticket.get("form"))
    if kind == "ticket.created":
        events = [
            event(
                {
                    **common,
                    "event_id": eid,
                    "type": "contact.created",
                    "status": status or "new",
                    "agent_id": assignee,
                    "attributes": {**category, **_link(ticket.get("url"))},
                    "occurred_at": to_rfc3339(_minutes(ticket.get("created_at")) or when, field="ticket.created_at"),
                }
            )
        ]
        if assignee:
            events.append(
                event({**common, "event_id": f"{eid}:assigned", "type": "contact.assigned", "agent_id": assignee})
            )
        return Adapted(events)
    if kind in ("comment.public", "comment.private"):
        role = str(actor.get("role") or "").strip().lower().replace("-", "_")
        author = "agent" if role in _AGENT_ROLES else "customer" if role in ("end_user", "end user") else "system"
        return Adapted(
            [
                event(
                    {
                        **common,
                        "event_id": eid,
                        "type": "contact.message",
                        "author": author,
                        "public": kind == "comment.public",
                        "agent_id": _id(actor.get("id")) if author == "agent" else None,
                    }
                )
            ]
        )
    if kind == "status.changed":
        if status is None:
            raise Unmappable(f"unknown ticket status {str(ticket.get('status'))[:40]!r}")
        return Adapted(
            [
                event(
                    {
                        **common,
                        "event_id": eid,
                        "type": "contact.status_changed",
                        "status": status,
                        "attributes": category,
                    }
                )
            ]
        )
    if kind in ("assignee.changed", "group.changed"):
        return Adapted([event({**common, "event_id": eid, "type": "contact.assigned", "agent_id": assignee})])
    if kind == "satisfaction.rated":
        text = str(doc.get("satisfaction") or "").strip().lower()
        if text.startswith("good"):
            rating = {"label": "good", "score": 1.0, "scale_max": 1.0}
        elif text.startswith("bad"):
            rating = {"label": "bad", "score": 0.0, "scale_max": 1.0}
        else:
            return Adapted([])  # "offered" / "unoffered": no rating yet
        return Adapted(
            [
                event(
                    {
                        **common,
                        "event_id": eid,
                        "type": "contact.rated",
                        "rating": rating,
                        "agent_id": assignee,
                        "attributes": {"raw_rating": doc.get("satisfaction")},
                    }
                )
            ]
        )
    raise Unmappable(f"unknown template event {str(kind)[:40]!r}")


# -- private helpers -----------------------------------------------------------------------------------------


def _subject_id(subject: Any, prefix: str) -> str | None:
    return _id(subject[len(prefix) :]) if isinstance(subject, str) and subject.startswith(prefix) else None


def _status(value: Any) -> str | None:
    return _STATUS.get(value.strip().lower().replace(" ", "_")) if isinstance(value, str) else None


def _enum(value: Any, table: dict[str, str]) -> str | None:
    if not isinstance(value, str) or value.strip() in ("", "-"):
        return None
    return table.get(value.strip().lower())


def _channel(value: Any) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip().lower()
    for needle, channel in (
        ("web_service", "other"),
        ("api", "other"),
        ("mail", "email"),
        ("web", "web"),
        ("chat", "chat"),
        ("voice", "voice"),
        ("phone", "voice"),
        ("sms", "sms"),
        ("text", "sms"),
        ("messaging", "messaging"),
        ("whatsapp", "messaging"),
        ("line", "messaging"),
        ("wechat", "messaging"),
        ("twitter", "social"),
        ("facebook", "social"),
        ("instagram", "social"),
        ("help_center", "web"),
    ):
        if needle in text:
            return channel
    return "other"


def _minutes(value: Any) -> Any:
    """``2013-12-12T05:35Z`` (what ``*_with_timestamp`` placeholders render: no seconds) → ``...T05:35:00Z``."""
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(Z|[+-]\d{2}:\d{2})", value.strip()):
        text = value.strip()
        return text[:16] + ":00" + text[16:]
    return value


def _link(url: Any) -> dict[str, str]:
    """``{"url": "https://acme.zendesk.com/agent/tickets/1"}`` from what {{ticket.url}} renders, else nothing."""
    if not isinstance(url, str) or ".zendesk.com/" not in url:
        return {}
    text = url.strip()
    return {"url": text if text.startswith("https://") else "https://" + text.split("://", 1)[-1]}


def ticket_link(subdomain: str | None, ticket: str) -> dict[str, str]:
    """The agent's page of a ticket, when the account's subdomain is known (the backfill's records)."""
    return {"url": f"https://{subdomain}.zendesk.com/agent/tickets/{ticket}"} if subdomain else {}


def _subdomain(url: Any) -> str | None:
    """``acme`` from ``acme.zendesk.com/agent/tickets/1`` (what {{ticket.url}} renders)."""
    if not isinstance(url, str) or ".zendesk.com" not in url:
        return None
    host = url.split("://", 1)[-1].split("/", 1)[0]
    return _id(host.split(".zendesk.com", 1)[0])


_ZENDESK_EMPTY = frozenset({"", "0", "-", "null"})  # how Zendesk says "no id"


def _id(value: Any) -> str | None:
    return optional_id(value, _ZENDESK_EMPTY)
