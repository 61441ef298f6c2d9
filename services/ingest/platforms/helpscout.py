"""Help Scout Mailbox webhooks (payload version V2).

Maps ``convo.created`` to ``contact.created``; ``convo.customer.reply.created``, ``convo.agent.reply.created`` and
``convo.note.created`` to ``contact.message`` (the newest matching thread of the embedded conversation);
``convo.assigned`` to ``contact.assigned``; ``convo.status`` to ``contact.status_changed``; ``satisfaction.ratings``
to ``contact.rated`` (Great/Okay/Not Good on a 3-point scale, V2 lower-case and legacy capitalised values).

Authentication: ``X-HelpScout-Signature`` = base64(HMAC-SHA1(secret, raw body)); no timestamp is signed, so there
is no replay window. The event name is in ``X-HelpScout-Event``.

Cannot map: agent presence (no webhook), ``convo.deleted`` (id only), tags, custom fields, customers, Beacon chats
(accepted and ignored). Help Scout sends no event id, so ids are the thread or rating id where there is one, else a
hash of the conversation id, event name, new value and the conversation's update time.
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
    b64,
    event,
    hmac_digest,
    json_body,
    obj,
    stable_id,
    text_id,
    to_rfc3339,
)

NAME = "helpscout"
MEDIA_TYPES = frozenset({"application/json"})
REQUIRES_SECRET = True

_STATUS = {"active": "open", "open": "open", "pending": "pending", "closed": "closed", "spam": "closed"}
_NAIVE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?$", re.ASCII)
_CHANNEL = {"email": "email", "chat": "chat", "phone": "voice"}
# V2 Mailbox API values (great / okay / not_good) and the legacy webhook object's (Great / Okay / Bad).
_RATING = {
    "great": ("good", 3),
    "okay": ("neutral", 2),
    "not_good": ("bad", 1),
    "not good": ("bad", 1),
    "bad": ("bad", 1),
}
_REPLY_EVENTS = {
    "convo.customer.reply.created": ({"customer"}, "customer", True),
    "convo.agent.reply.created": ({"reply", "message"}, "agent", True),
    "convo.note.created": ({"note"}, "agent", False),
}


def verify(delivery: Delivery, secrets: Sequence[str], tolerance_s: float) -> None:
    presented = delivery.headers.get("x-helpscout-signature")
    expected = [b64(hmac_digest(secret, delivery.body, "sha1")) for secret in secrets]
    if not any_matches(expected, presented):
        raise Unauthorized("missing or wrong X-HelpScout-Signature")


def to_events(delivery: Delivery) -> Adapted:
    name = delivery.headers.get("x-helpscout-event", "").strip().lower()
    document = obj(json_body(delivery), "body")
    if not name:
        raise Unmappable("X-HelpScout-Event header is missing")
    if name == "satisfaction.ratings":
        return Adapted([_rated(delivery, document)])
    if name not in {"convo.created", "convo.assigned", "convo.status", *_REPLY_EVENTS}:
        return Adapted([])  # helpscout.test, convo.tags, customer.*, beacon.*: nothing for KPIs
    convo_id = text_id(document.get("id"), "id")
    base = _common(delivery, document, convo_id)
    if name == "convo.created":
        at = _time(document.get("createdAt"), field="createdAt")
        return Adapted(
            [
                event(
                    {
                        **base,
                        "event_id": f"helpscout:{convo_id}:created",
                        "type": "contact.created",
                        "occurred_at": at,
                        "status": _status(document),
                        "agent_id": _user_id(document.get("assignee")),
                    }
                )
            ]
        )
    if name == "convo.assigned":
        agent = _user_id(document.get("assignee"))
        at = _updated_at(document)
        return Adapted(
            [
                event(
                    {
                        **base,
                        "event_id": stable_id(NAME, convo_id, name, agent, at),
                        "type": "contact.assigned",
                        "occurred_at": at,
                        "agent_id": agent,
                    }
                )
            ]
        )
    if name == "convo.status":
        status = _status(document)
        if status is None:
            raise Unmappable(f"unknown conversation status {str(document.get('status'))[:40]!r}")
        at = (
            _time(document["closedAt"], field="closedAt")
            if status == "closed" and document.get("closedAt")
            else _updated_at(document)
        )
        return Adapted(
            [
                event(
                    {
                        **base,
                        "event_id": stable_id(NAME, convo_id, name, status, at),
                        "type": "contact.status_changed",
                        "occurred_at": at,
                        "status": status,
                        "attributes": {"raw_status": document.get("status")},
                    }
                )
            ]
        )
    return Adapted([_message(document, base, convo_id, name)])


def _common(delivery: Delivery, document: dict[str, Any], convo_id: str) -> dict[str, Any]:
    mailbox = document.get("mailboxId")
    raw_type = document.get("type")
    return {
        "platform": NAME,
        "account": delivery.account,
        "contact_id": convo_id,
        "queue_id": text_id(mailbox, "mailboxId") if mailbox not in (None, "") else None,
        "channel": _CHANNEL.get(raw_type.lower(), "other") if isinstance(raw_type, str) else None,
    }


def _message(document: dict[str, Any], base: dict[str, Any], convo_id: str, name: str) -> Any:
    thread_types, author, public = _REPLY_EVENTS[name]
    embedded = document.get("_embedded")
    threads = embedded.get("threads") if isinstance(embedded, dict) else None
    candidates = (
        [
            t
            for t in threads
            if isinstance(t, dict) and t.get("id") not in (None, "") and _thread_matches(t, thread_types, author)
        ]
        if isinstance(threads, list)
        else []
    )
    if not candidates:
        at = _updated_at(document)
        event_id, agent = stable_id(NAME, convo_id, name, at), None
    else:
        newest = max(candidates, key=lambda t: (_time(t.get("createdAt"), field="thread.createdAt"), str(t.get("id"))))
        at = _time(newest.get("createdAt"), field="thread.createdAt")
        event_id = f"helpscout:thread:{text_id(newest.get('id'), 'thread.id')}"
        creator = newest.get("createdBy")
        agent = _user_id(creator) if author == "agent" else None
        if isinstance(creator, dict) and str(creator.get("type", "")).lower() == "customer":
            author, agent = "customer", None
    return event(
        {
            **base,
            "event_id": event_id,
            "type": "contact.message",
            "occurred_at": at,
            "author": author,
            "public": public,
            "agent_id": agent,
        }
    )


def _thread_matches(thread: dict[str, Any], thread_types: set[str], author: str) -> bool:
    """Reply/customer/note threads by type; chat and phone threads (either side) by who created them."""
    kind = str(thread.get("type", "")).lower()
    if kind in thread_types:
        return True
    creator = thread.get("createdBy")
    creator_type = str(creator.get("type", "")).lower() if isinstance(creator, dict) else ""
    if "note" in thread_types or kind not in ("chat", "phone"):
        return False
    return creator_type == ("customer" if author == "customer" else "user")


def _rated(delivery: Delivery, document: dict[str, Any]) -> Any:
    rating_id = text_id(document.get("id"), "id")
    convo = document.get("conversationId", document.get("ticketId"))
    raw = document.get("rating")
    mapped = _RATING.get(raw.strip().lower()) if isinstance(raw, str) else None
    if mapped is None:
        raise Unmappable(f"unknown rating {str(raw)[:40]!r}")
    label, score = mapped
    mailbox = document.get("mailboxId")
    if mailbox in (None, "") and isinstance(document.get("mailbox"), dict):
        mailbox = document["mailbox"].get("id")
    return event(
        {
            "event_id": f"helpscout:rating:{rating_id}:{label}",
            "type": "contact.rated",
            "platform": NAME,
            "occurred_at": _time(document.get("modifiedAt") or document.get("createdAt"), field="createdAt"),
            "account": delivery.account,
            "contact_id": text_id(convo, "conversationId"),
            "queue_id": text_id(mailbox, "mailboxId") if mailbox not in (None, "") else None,
            "agent_id": _user_id(document.get("user")),
            "rating": {"label": label, "score": score, "scale_max": 3},
            "attributes": {"raw_rating": raw, "thread_id": document.get("threadId")},
        }
    )


def _status(document: dict[str, Any]) -> str | None:
    raw = document.get("status")
    return _STATUS.get(raw.strip().lower()) if isinstance(raw, str) else None


def _updated_at(document: dict[str, Any]) -> str:
    """The conversation's last change: ``userUpdatedAt``, else ``createdAt`` (the V2 object has no modifiedAt)."""
    value = document.get("userUpdatedAt") or document.get("createdAt")
    return _time(value, field="userUpdatedAt")


def _time(value: Any, *, field: str) -> str:
    """``to_rfc3339``, reading an offset-less ISO time (the V2 rating sample's ``2017-12-12T12:12:13``) as UTC."""
    if isinstance(value, str) and _NAIVE.match(value.strip()):
        value = value.strip() + "Z"
    return to_rfc3339(value, field=field)


def _user_id(value: Any) -> str | None:
    if not isinstance(value, dict) or value.get("id") in (None, "", 0):
        return None
    return text_id(value.get("id"), "user.id")
