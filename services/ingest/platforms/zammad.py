"""Zammad trigger webhooks with the default ``{ticket, article}`` payload (open source, ``TriggerWebhookJob``).

The payload is a snapshot, not an event: it does not say which condition fired the trigger. Each delivery maps to:

- ``contact.created`` when it is the ticket's first article (``article_ids`` holds only the article sent) or the
  ticket has no articles yet and ``created_at == updated_at``;
- ``contact.message`` for the article, if any (``sender`` Customer → customer, Agent → agent with ``agent_id`` =
  ``created_by_id``, System → system; ``internal`` → not public); id ``zammad:article:<id>``, so several triggers
  firing for one article deduplicate;
- otherwise ``contact.status_changed`` with the ticket's current state (new, open, pending reminder / pending close →
  pending, closed / merged / removed → closed) at ``updated_at``. A repeat of the same status is not a transition.

``contact_id`` = ticket id, ``queue_id`` = group id, ``priority`` from ``1 low`` / ``2 normal`` / ``3 high``.
Authentication: ``X-Hub-Signature: sha1=<hex HMAC-SHA1(signature token, raw body)>`` (format read in Zammad's
``lib/user_agent.rb``; the admin docs leave it unstated). ``X-Zammad-Delivery`` goes to ``attributes``.
Cannot map: owner changes after creation (not distinguishable in a snapshot), custom states, CSAT, presence,
customised payloads (no ``ticket`` object: unmappable).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from services.ingest.platforms.base import (
    Adapted,
    Delivery,
    Unauthorized,
    Unmappable,
    any_matches,
    as_dict,
    event,
    hmac_digest,
    json_body,
    obj,
    stable_id,
    text_id,
    to_rfc3339,
)

NAME = "zammad"
MEDIA_TYPES = frozenset({"application/json"})
REQUIRES_SECRET = True

_STATE = {
    "new": "new",
    "open": "open",
    "pending reminder": "pending",
    "pending close": "pending",
    "closed": "closed",
    "merged": "closed",
    "removed": "closed",
}
_PRIORITY = {"1": "low", "2": "normal", "3": "high", "low": "low", "normal": "normal", "high": "high"}
_AUTHOR = {"customer": "customer", "agent": "agent", "system": "system"}
_CHANNEL = {
    "email": "email",
    "phone": "voice",
    "web": "web",
    "chat": "chat",
    "sms": "sms",
    "note": "other",
    "fax": "other",
    "twitter status": "social",
    "twitter direct-message": "social",
    "facebook feed post": "social",
    "facebook feed comment": "social",
    "telegram personal-message": "messaging",
    "whatsapp message": "messaging",
}
_NOBODY = "1"  # Zammad's user 1 ("-") is the owner of unassigned tickets


def verify(delivery: Delivery, secrets: Sequence[str], tolerance_s: float) -> None:
    presented = delivery.headers.get("x-hub-signature", "").strip()
    expected = ["sha1=" + hmac_digest(secret, delivery.body, "sha1").hex() for secret in secrets]
    if not any_matches(expected, presented):
        raise Unauthorized("missing or wrong X-Hub-Signature (set the webhook's HMAC SHA1 signature token)")


def to_events(delivery: Delivery) -> Adapted:
    document = obj(json_body(delivery), "body")
    ticket = document.get("ticket")
    if not isinstance(ticket, dict) or not ticket:
        raise Unmappable("no ticket object: a customised payload? deskpulse reads the default {ticket, article}")
    article = as_dict(document.get("article"))
    ticket_id = text_id(ticket.get("id"), "ticket.id")
    status = _status(ticket)
    base = {
        "platform": NAME,
        "account": delivery.account,
        "contact_id": ticket_id,
        "queue_id": _ref_id(ticket, "group"),
        "priority": _priority(ticket),
        "channel": _channel(ticket.get("create_article_type")),
        "attributes": {
            k: v
            for k, v in (
                ("delivery", delivery.headers.get("x-zammad-delivery")),
                ("trigger", delivery.headers.get("x-zammad-trigger")),
                ("raw_state", _name(ticket.get("state"))),
            )
            if v
        },
    }
    events = []
    article_id = text_id(article.get("id"), "article.id") if article.get("id") not in (None, "") else None
    if _is_creation(ticket, article_id):
        owner = _ref_id(ticket, "owner")
        events.append(
            event(
                {
                    **base,
                    "event_id": f"zammad:ticket:{ticket_id}:created",
                    "type": "contact.created",
                    "occurred_at": to_rfc3339(ticket.get("created_at"), field="ticket.created_at"),
                    "status": status,
                    "agent_id": None if owner == _NOBODY else owner,
                }
            )
        )
    elif status is not None:
        at = to_rfc3339(ticket.get("updated_at"), field="ticket.updated_at")
        events.append(
            event(
                {
                    **base,
                    "event_id": stable_id(NAME, ticket_id, "status", status, at),
                    "type": "contact.status_changed",
                    "occurred_at": at,
                    "status": status,
                }
            )
        )
    if article_id is not None:
        author = _AUTHOR.get(str(_name(article.get("sender")) or "").strip().lower())
        creator = article.get("created_by_id")
        internal = article.get("internal")
        events.append(
            event(
                {
                    **base,
                    "event_id": f"zammad:article:{article_id}",
                    "type": "contact.message",
                    "occurred_at": to_rfc3339(article.get("created_at"), field="article.created_at"),
                    "channel": _channel(article.get("type")) or base["channel"],
                    "author": author,
                    "public": not internal if isinstance(internal, bool) else None,
                    "agent_id": text_id(creator, "article.created_by_id")
                    if author == "agent" and creator not in (None, "")
                    else None,
                }
            )
        )
    return Adapted(events)


def _is_creation(ticket: dict[str, Any], article_id: str | None) -> bool:
    ids = ticket.get("article_ids")
    if isinstance(ids, list) and ids:
        return article_id is not None and [str(i) for i in ids] == [article_id]
    count = ticket.get("article_count")
    if article_id is not None:
        return count == 1
    return (
        count in (None, 0)
        and ticket.get("created_at") is not None
        and (ticket.get("created_at") == ticket.get("updated_at"))
    )


def _status(ticket: dict[str, Any]) -> str | None:
    state = _name(ticket.get("state"))
    return _STATE.get(state.strip().lower()) if isinstance(state, str) else None


def _priority(ticket: dict[str, Any]) -> str | None:
    raw = _name(ticket.get("priority"))
    if isinstance(raw, str) and raw.strip():
        words = raw.strip().lower().split()
        return _PRIORITY.get(words[0]) or _PRIORITY.get(words[-1])
    priority_id = ticket.get("priority_id")
    return _PRIORITY.get(str(priority_id)) if isinstance(priority_id, int) else None


def _channel(value: Any) -> str | None:
    name = _name(value)
    return _CHANNEL.get(name.strip().lower(), "other") if isinstance(name, str) and name.strip() else None


def _name(value: Any) -> Any:
    """Zammad sends references either as a name string or as the referenced object (with ``name``)."""
    return value.get("name") if isinstance(value, dict) else value


def _ref_id(ticket: dict[str, Any], key: str) -> str | None:
    value = ticket.get(f"{key}_id")
    if value in (None, "") and isinstance(ticket.get(key), dict):
        value = ticket[key].get("id")
    return None if value in (None, "") else text_id(value, f"ticket.{key}_id")
