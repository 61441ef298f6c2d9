"""LiveChat (Text platform) webhooks, API v3.3+ (``organization_id``) and older (``license_id``).

Maps ``incoming_chat`` → ``contact.created`` (+ ``contact.queued`` when the thread is queued, + ``contact.message``
for initial message events); ``incoming_event`` (message, file, rich_message) → ``contact.message``;
``chat_deactivated`` → ``contact.status_changed`` closed; ``chat_transferred`` → ``contact.assigned`` (to agents) or
``contact.queued`` (to a group); ``user_added_to_chat`` (agents) → ``contact.assigned``; ``routing_status_set`` →
``agent.state_changed`` (accepting_chats → available, not_accepting_chats → away, offline → offline).
``contact_id`` = thread id (one chat session), ``queue_id`` = first group id, channel chat.

Authentication: no HMAC; the body's ``secret_key`` must equal a configured secret (constant-time compare).
Author of an event: the chat's ``users`` list when present, else by id shape (an e-mail is an agent, 32 hex digits a
bot, anything else the customer): an assumption. ``chat_deactivated``, ``user_added_to_chat`` and
``routing_status_set`` carry no time, so they use the receipt time. No CSAT (rating is a chat property, unmapped).
"""

from __future__ import annotations

import json
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
    event,
    json_body,
    obj,
    stable_id,
    text_id,
    to_rfc3339,
)

NAME = "livechat"
MEDIA_TYPES = frozenset({"application/json"})
REQUIRES_SECRET = True

_STATE = {"accepting_chats": "available", "not_accepting_chats": "away", "offline": "offline"}
_MESSAGE_EVENTS = {"message", "file", "rich_message"}
_BOT_ID = re.compile(r"^[0-9a-f]{32}$")


def verify(delivery: Delivery, secrets: Sequence[str], tolerance_s: float) -> None:
    try:
        document = json.loads(delivery.body)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise Unauthorized("body is not JSON, so it carries no secret_key") from None
    presented = document.get("secret_key") if isinstance(document, dict) else None
    if not isinstance(presented, str) or not any_matches(secrets, presented):
        raise Unauthorized("missing or wrong secret_key in the body")


def to_events(delivery: Delivery) -> Adapted:
    document = obj(json_body(delivery), "body")
    action = document.get("action")
    if not isinstance(action, str) or not action.strip():
        raise Unmappable("action is missing")
    action = action.strip().lower()
    if action not in (
        "incoming_chat",
        "incoming_event",
        "chat_deactivated",
        "chat_transferred",
        "user_added_to_chat",
        "routing_status_set",
    ):
        return Adapted([])  # properties, tags, access, customers, configuration: nothing for KPIs
    payload = obj(document.get("payload"), "payload")
    org = document.get("organization_id", document.get("license_id"))
    account = delivery.account or (text_id(org, "organization_id") if org not in (None, "") else None)
    if action == "routing_status_set":
        return Adapted([_routing(delivery, payload, account)])
    if action == "incoming_chat":
        return Adapted(_incoming_chat(payload, account))
    thread_id = text_id(payload.get("thread_id"), "payload.thread_id")
    base: dict[str, Any] = {
        "platform": NAME,
        "account": account,
        "contact_id": thread_id,
        "channel": "chat",
        "attributes": {"chat_id": payload.get("chat_id")},
    }
    if action == "incoming_event":
        item = obj(payload.get("event"), "payload.event")
        return Adapted(_messages(base, [item], {}))
    at = _received(delivery)
    if action == "chat_deactivated":
        closer = payload.get("user_id")
        return Adapted(
            [
                event(
                    {
                        **base,
                        "event_id": f"livechat:{thread_id}:deactivated",
                        "type": "contact.status_changed",
                        "occurred_at": at,
                        "status": "closed",
                        "agent_id": text_id(closer, "user_id") if _author(closer, {}) == "agent" else None,
                        "attributes": {**base["attributes"], "closed_by": closer or "router"},
                    }
                )
            ]
        )
    if action == "user_added_to_chat":
        user = obj(payload.get("user"), "payload.user")
        user_id = text_id(user.get("id"), "payload.user.id")
        if str(user.get("type", payload.get("user_type", ""))).lower() != "agent":
            return Adapted([])  # a customer joining is not an assignment
        return Adapted(
            [
                event(
                    {
                        **base,
                        "event_id": f"livechat:{thread_id}:added:{user_id}",
                        "type": "contact.assigned",
                        "occurred_at": at,
                        "agent_id": user_id,
                        "attributes": {**base["attributes"], "reason": payload.get("reason")},
                    }
                )
            ]
        )
    target = as_dict(payload.get("transferred_to"))
    queue = as_dict(payload.get("queue"))
    agents, groups = _ids(target.get("agent_ids")), _ids(target.get("group_ids"))
    when = to_rfc3339(queue["queued_at"], field="queue.queued_at") if queue.get("queued_at") else at
    digest = stable_id(NAME, thread_id, "transferred", json.dumps(payload, sort_keys=True, default=str))
    common = {
        **base,
        "event_id": digest,
        "occurred_at": when,
        "queue_id": groups[0] if groups else None,
        "attributes": {
            **base["attributes"],
            "reason": payload.get("reason"),
            "requester_id": payload.get("requester_id"),
        },
    }
    if agents:
        return Adapted([event({**common, "type": "contact.assigned", "agent_id": agents[0]})])
    if groups or queue:
        return Adapted([event({**common, "type": "contact.queued"})])
    raise Unmappable("chat_transferred names neither agents, groups nor a queue")


def _incoming_chat(payload: dict[str, Any], account: str | None) -> list[Any]:
    chat = obj(payload.get("chat"), "payload.chat")
    thread = obj(chat.get("thread"), "payload.chat.thread")
    thread_id = text_id(thread.get("id"), "chat.thread.id")
    access = thread.get("access") or chat.get("access")
    groups = _ids(access.get("group_ids") if isinstance(access, dict) else None)
    base: dict[str, Any] = {
        "platform": NAME,
        "account": account,
        "contact_id": thread_id,
        "channel": "chat",
        "queue_id": groups[0] if groups else None,
        "attributes": {"chat_id": chat.get("id")},
    }
    users = (
        {str(u.get("id")): str(u.get("type", "")).lower() for u in chat.get("users") or [] if isinstance(u, dict)}
        if isinstance(chat.get("users"), list)
        else {}
    )
    created_at = to_rfc3339(thread.get("created_at"), field="chat.thread.created_at")
    events = [
        event(
            {
                **base,
                "event_id": f"livechat:{thread_id}:created",
                "type": "contact.created",
                "occurred_at": created_at,
                "status": "new",
            }
        )
    ]
    queue = thread.get("queue")
    if isinstance(queue, dict):
        events.append(
            event(
                {
                    **base,
                    "event_id": f"livechat:{thread_id}:queued",
                    "type": "contact.queued",
                    "occurred_at": to_rfc3339(
                        queue.get("queued_at") or thread.get("created_at"), field="thread.queue.queued_at"
                    ),
                }
            )
        )
    items = thread.get("events")
    if not isinstance(items, list):
        items = []
    return events + _messages(base, [i for i in items if isinstance(i, dict)], users)


def _messages(base: dict[str, Any], items: list[dict[str, Any]], users: dict[str, str]) -> list[Any]:
    out = []
    for item in items:
        if str(item.get("type", "")).lower() not in _MESSAGE_EVENTS:
            continue  # system_message, filled_form, custom: nothing for KPIs
        author_id = item.get("author_id")
        author = _author(author_id, users)
        visibility = item.get("visibility")
        out.append(
            event(
                {
                    **base,
                    "event_id": f"livechat:{base['contact_id']}:event:{text_id(item.get('id'), 'event.id')}",
                    "type": "contact.message",
                    "occurred_at": to_rfc3339(item.get("created_at"), field="event.created_at"),
                    "author": author,
                    "public": visibility != "agents" if isinstance(visibility, str) else True,
                    "agent_id": text_id(author_id, "event.author_id") if author == "agent" else None,
                }
            )
        )
    return out


def _routing(delivery: Delivery, payload: dict[str, Any], account: str | None) -> Any:
    agent = text_id(payload.get("agent_id"), "payload.agent_id")
    raw = payload.get("status")
    state = _STATE.get(raw.strip().lower()) if isinstance(raw, str) else None
    if state is None:
        raise Unmappable(f"unknown routing status {str(raw)[:40]!r}")
    at = _received(delivery)
    return event(
        {
            "event_id": stable_id(NAME, agent, raw, int(delivery.received_at)),
            "type": "agent.state_changed",
            "platform": NAME,
            "occurred_at": at,
            "account": account,
            "agent_id": agent,
            "state": state,
            "attributes": {"raw_state": raw},
        }
    )


def _author(author_id: Any, users: dict[str, str]) -> str | None:
    if not isinstance(author_id, str) or not author_id:
        return None
    kind = users.get(author_id)
    if kind in ("customer", "agent"):
        return "bot" if kind == "agent" and _BOT_ID.match(author_id) else kind
    if "@" in author_id:
        return "agent"
    return "bot" if _BOT_ID.match(author_id) else "customer"


def _ids(value: Any) -> list[str]:
    if not isinstance(value, list):
        return []
    return [text_id(v, "id") for v in value if isinstance(v, (str, int)) and not isinstance(v, bool) and v != ""]


def _received(delivery: Delivery) -> str:
    """LiveChat sends no time with this webhook: the receipt time stands in."""
    return to_rfc3339(delivery.received_at, field="received_at")
