"""Intercom: webhook notifications (``notification_event``) for conversations, ratings and admin away mode.

Maps ``conversation.user.created`` → ``contact.created`` (+ ``contact.assigned`` if created assigned);
``conversation.user.replied`` → customer ``contact.message``; ``conversation.admin.replied`` → public agent
``contact.message`` (a bot author gives ``bot``); ``conversation.admin.noted`` → internal note;
``conversation.operator.replied`` → ``bot`` message; ``conversation.admin.assigned`` /
``conversation.admin.open.assigned`` → ``contact.assigned`` (admin 0/null = unassigned, team as ``queue_id``);
``conversation.admin.closed`` → ``solved`` (a customer reply reopens an Intercom conversation);
``conversation.admin.opened`` / ``unsnoozed`` → ``open``; ``conversation.admin.snoozed`` → ``pending``;
``conversation.rating.added`` → ``contact.rated`` (1–5 scale: 4–5 good, 3 neutral, 1–2 bad);
``admin.away_mode_updated`` → ``agent.state_changed`` (away / available). ``ping`` and other topics are ignored.

Cannot: Intercom *tickets* (``ticket.*`` topics are ignored), logged-in/out presence beyond away mode, busy
states, abandonment. Timestamps are epoch seconds; ids arrive as strings or integers.
"""

from __future__ import annotations

import hashlib
import hmac
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
    dig,
    event,
    json_body,
    labels,
    optional_id,
    stable_id,
    to_rfc3339,
)

NAME = "intercom"
MEDIA_TYPES = frozenset({"application/json"})
REQUIRES_SECRET = True

_STATUS_TOPICS = {
    "conversation.admin.closed": "solved",
    "conversation.admin.opened": "open",
    "conversation.admin.unsnoozed": "open",
    "conversation.admin.snoozed": "pending",
}
_MESSAGE_TOPICS = {
    "conversation.user.replied": ("customer", True),
    "conversation.admin.replied": ("agent", True),
    "conversation.admin.noted": ("agent", False),
    "conversation.operator.replied": ("bot", True),
}
_AUTHOR = {
    "user": "customer",
    "lead": "customer",
    "contact": "customer",
    "admin": "agent",
    "team": "agent",
    "bot": "bot",
    "operator": "bot",
}
_STATE = {"open": "open", "closed": "solved", "snoozed": "pending"}


def verify(delivery: Delivery, secrets: Sequence[str], tolerance_s: float) -> None:
    """``X-Hub-Signature: sha1=<hex HMAC-SHA1(client_secret, raw body)>``; Intercom signs no timestamp."""
    presented = delivery.headers.get("x-hub-signature", "").strip()
    expected = ["sha1=" + hmac.new(s.encode(), delivery.body, hashlib.sha1).hexdigest() for s in secrets]
    if not any_matches(expected, presented.lower()):
        raise Unauthorized("missing or wrong X-Hub-Signature")


def to_events(delivery: Delivery) -> Adapted:
    doc = json_body(delivery)
    if not isinstance(doc, dict):
        raise Malformed("body must be a JSON object")
    topic = doc.get("topic")
    if not isinstance(topic, str) or not topic:
        raise Unmappable("notification has no topic")
    item = dig(doc, "data", "item")
    if topic == "admin.away_mode_updated":
        return _away(doc, as_dict(item), delivery)
    if not topic.startswith("conversation.") or not (
        topic in _STATUS_TOPICS
        or topic in _MESSAGE_TOPICS
        or topic
        in (
            "conversation.user.created",
            "conversation.admin.assigned",
            "conversation.admin.open.assigned",
            "conversation.rating.added",
        )
    ):
        return Adapted([])
    if not isinstance(item, dict):
        raise Unmappable("data.item must be a conversation object")
    contact = _id(item.get("id"))
    if contact is None:
        raise Unmappable("data.item.id (conversation id) is missing")
    part = _last_part(item)
    eid = (
        f"intercom:{_id(doc.get('id')) or stable_id(NAME, topic, contact, _id(part.get('id')), doc.get('created_at'))}"
    )
    when = part.get("created_at") or doc.get("created_at") or item.get("updated_at")
    common = {
        "platform": NAME,
        "contact_id": contact,
        "event_id": eid,
        "account": delivery.account or _id(doc.get("app_id")),
        "queue_id": _id(item.get("team_assignee_id")),
        "channel": _channel(item),
        "priority": "high" if item.get("priority") == "priority" else None,
        "occurred_at": to_rfc3339(when, field="created_at"),
    }
    assignee = _id(item.get("admin_assignee_id"))
    # Category attributes as the conversation is when created and when its state changes (closed: as handled).
    category = labels(tags=dig(item, "tags", "tags"), topics=dig(item, "topics", "topics"))
    if topic == "conversation.user.created":
        created = {
            **common,
            "type": "contact.created",
            "status": _STATE.get(str(item.get("state")), "open"),
            "attributes": category,
            "occurred_at": to_rfc3339(item.get("created_at") or when, field="data.item.created_at"),
        }
        events = [event(created)]
        if assignee:
            events.append(
                event({**common, "event_id": f"{eid}:assigned", "type": "contact.assigned", "agent_id": assignee})
            )
        return Adapted(events)
    if topic in _MESSAGE_TOPICS:
        default, public = _MESSAGE_TOPICS[topic]
        author_obj = as_dict(part.get("author"))
        author = _AUTHOR.get(str(author_obj.get("type")), default)
        if topic == "conversation.operator.replied":
            author = "bot"
        return Adapted(
            [
                event(
                    {
                        **common,
                        "type": "contact.message",
                        "author": author,
                        "public": public,
                        "agent_id": _id(author_obj.get("id")) if author == "agent" else None,
                        "attributes": {"part_id": _id(part.get("id")), "part_type": part.get("part_type")},
                    }
                )
            ]
        )
    if topic in _STATUS_TOPICS:
        return Adapted(
            [
                event(
                    {
                        **common,
                        "type": "contact.status_changed",
                        "status": _STATUS_TOPICS[topic],
                        "attributes": {"raw_state": item.get("state"), "topic": topic, **category},
                    }
                )
            ]
        )
    if topic == "conversation.rating.added":
        return Adapted([_rating(common, as_dict(item.get("conversation_rating")), assignee)])
    to = part.get("assigned_to")
    agent = assignee
    if isinstance(to, dict) and to.get("type") in ("admin", "nobody_admin"):
        agent = None if to.get("type") == "nobody_admin" else _id(to.get("id"))
    return Adapted([event({**common, "type": "contact.assigned", "agent_id": agent})])


def _rating(common: dict, rating: dict, assignee: str | None) -> Any:
    score = rating.get("rating")
    if isinstance(score, bool) or not isinstance(score, (int, float)) or not 1 <= score <= 5:
        raise Unmappable(f"conversation_rating.rating must be 1-5, got {str(score)[:20]!r}")
    label = "good" if score >= 4 else "neutral" if score >= 3 else "bad"
    teammate = _id(as_dict(rating.get("teammate")).get("id")) or assignee
    when = rating.get("created_at")
    return event(
        {
            **common,
            "type": "contact.rated",
            "agent_id": teammate,
            "rating": {"label": label, "score": float(score), "scale_max": 5.0},
            **({"occurred_at": to_rfc3339(when, field="conversation_rating.created_at")} if when else {}),
            "attributes": {"remark": rating.get("remark")},
        }
    )


def _away(doc: dict, admin: dict, delivery: Delivery) -> Adapted:
    agent = _id(admin.get("id"))
    away = admin.get("away_mode_enabled")
    if agent is None or not isinstance(away, bool):
        raise Unmappable("admin.away_mode_updated needs data.item.id and a boolean away_mode_enabled")
    eid = f"intercom:{_id(doc.get('id')) or stable_id(NAME, 'away', agent, away, doc.get('created_at'))}"
    return Adapted(
        [
            event(
                {
                    "event_id": eid,
                    "type": "agent.state_changed",
                    "platform": NAME,
                    "agent_id": agent,
                    "state": "away" if away else "available",
                    "account": delivery.account or _id(doc.get("app_id")),
                    "occurred_at": to_rfc3339(doc.get("created_at"), field="created_at"),
                    "attributes": {
                        "raw_state": "away" if away else "active",
                        "away_status_reason": admin.get("away_status_reason"),
                        "away_mode_reassign": admin.get("away_mode_reassign"),
                    },
                }
            )
        ]
    )


# -- private helpers -----------------------------------------------------------------------------------------


def _last_part(item: dict) -> dict:
    """The conversation part that triggered the notification (webhooks carry only that one)."""
    parts = dig(item, "conversation_parts", "conversation_parts")
    if isinstance(parts, list) and parts and isinstance(parts[-1], dict):
        return parts[-1]
    return {}


def _channel(item: dict) -> str | None:
    source = as_dict(item.get("source"))
    kind = str(source.get("delivered_as") or "") + " " + str(source.get("type") or "")
    for needle, channel in (
        ("email", "email"),
        ("phone", "voice"),
        ("call", "voice"),
        ("sms", "sms"),
        ("whatsapp", "messaging"),
        ("facebook", "social"),
        ("twitter", "social"),
        ("instagram", "social"),
        ("conversation", "chat"),
        ("chat", "chat"),
        ("push", "chat"),
    ):
        if needle in kind:
            return channel
    return None


_ZERO = frozenset({"", "0"})  # how Intercom says "no id"


def _id(value: Any) -> str | None:
    return optional_id(value, _ZERO)
