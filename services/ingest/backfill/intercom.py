"""Intercom: conversations through List all conversations, with their statistics and rating.

``GET https://api.intercom.io/conversations?per_page=150`` (then ``&starting_after=<pages.next.starting_after>``)
with ``Intercom-Version: 2.11`` returns ``conversations`` (each with ``state``, ``admin_assignee_id``,
``team_assignee_id``, ``priority``, ``source``, ``tags``, ``topics``, ``statistics`` and ``conversation_rating``) and
``pages.next`` (null on the last page) (developers.intercom.com, API 2.11, listConversations; Pagination). The
searching endpoint is a POST, so this reads the whole list: ``parse`` given ``since_ms`` keeps the conversations
updated since then (the list's order is not documented, so every page is read). Bearer access token; 10,000
requests a minute per app (25,000 per workspace) in 10-second windows, 429 with ``X-RateLimit-Reset`` (a UNIX time,
no ``Retry-After``, so the wait is the back-off's) (Rate Limiting). Regional workspaces set
``DESKPULSE_BACKFILL_INTERCOM_URL`` to ``https://api.eu.intercom.io`` or ``https://api.au.intercom.io``.

Each conversation gives what the webhooks would (queue = team, channel from ``source``, priority, tags and topics
for categories): ``contact.created`` at ``created_at``, status open; ``contact.assigned`` to the current admin at
``statistics.first_assignment_at``; the first admin reply at ``statistics.first_admin_reply_at`` (who replied is not
in the record, so no agent is credited); ``solved`` at ``statistics.last_close_at`` when closed, ``pending`` at
``updated_at`` when snoozed (the record has no snooze time: its last update); the rating (1-5) at its ``created_at``,
credited to the rated teammate (else the assignee) as the ``conversation.rating.added`` webhook does. Left out:
reopens and first closes (only their count and times are in the record, not the states between), later replies,
notes; conversations a teammate, campaign, series or custom bot started (``source.delivered_as`` other than
``customer_initiated``: the webhooks never create them either) give nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from services.common.events import to_epoch_ms
from services.ingest.backfill.source import Connection, Page, Request, required, times_after
from services.ingest.platforms.base import Unmappable, as_dict, dig, labels, to_rfc3339
from services.ingest.platforms.intercom import _STATE, NAME, _channel, _id, _rating

ENV = ("DESKPULSE_BACKFILL_INTERCOM_URL", "DESKPULSE_BACKFILL_INTERCOM_ACCESS_TOKEN")
DEFAULT_URL = "https://api.intercom.io"
PATH = "/conversations"
VERSION = "2.11"
PER_PAGE = 150  # the most Intercom allows
OUTBOUND = frozenset({"admin_initiated", "automated", "campaigns_initiated", "operator_initiated"})


def connect(environ: Mapping[str, str], url: str | None = None) -> Connection:
    (token,) = required(environ, ENV[1:], NAME)
    base = (url or environ.get(ENV[0]) or DEFAULT_URL).rstrip("/")
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json", "Intercom-Version": VERSION}
    # The webhooks' account is the notification's app_id, which the REST records do not carry.
    return Connection(base, headers, None)


def first(connection: Connection, since_ms: int) -> Request:
    return Request(connection.base_url + PATH, {"per_page": PER_PAGE})


def parse(document: Any, connection: Connection, since_ms: int | None = None) -> Page:
    """The page's conversations (with ``since_ms``: those updated since); the next page while ``pages.next`` says."""
    records = [c for c in document.get("conversations") or [] if isinstance(c, dict)]
    if since_ms is not None:
        records = [c for c in records if _updated_ms(c, since_ms) >= since_ms]
    cursor = dig(document, "pages", "next", "starting_after")
    more = isinstance(cursor, str) and cursor
    return Page(
        records, Request(connection.base_url + PATH, {"per_page": PER_PAGE, "starting_after": cursor}) if more else None
    )


def to_events(record: Mapping[str, Any], connection: Connection) -> list[dict[str, Any]]:
    contact = _id(record.get("id"))
    state = _STATE.get(str(record.get("state")))
    if contact is None or state is None or dig(record, "source", "delivered_as") in OUTBOUND:
        return []
    created = to_rfc3339(record.get("created_at"), field="created_at")
    stats = as_dict(record.get("statistics"))
    eid = f"{NAME}:backfill:{contact}"
    common: dict[str, Any] = {
        "schema": "deskpulse.event.v1",
        "platform": NAME,
        "contact_id": contact,
        "account": connection.account,
        "queue_id": _id(record.get("team_assignee_id")),
        "channel": _channel(dict(record)),
        "priority": "high" if record.get("priority") == "priority" else None,
    }
    category = labels(tags=dig(record, "tags", "tags"), topics=dig(record, "topics", "topics"))
    events = [
        {
            **common,
            "event_id": f"{eid}:created",
            "type": "contact.created",
            "occurred_at": created,
            "status": "open",
            "attributes": {**category, "backfilled": True},
        },
    ]

    at = times_after(created)

    assignee = _id(record.get("admin_assignee_id"))
    if assignee:
        events.append(
            {
                **common,
                "event_id": f"{eid}:assigned",
                "type": "contact.assigned",
                "agent_id": assignee,
                "occurred_at": at(stats.get("first_assignment_at"), "statistics.first_assignment_at"),
            }
        )
    if stats.get("first_admin_reply_at"):
        events.append(
            {
                **common,
                "event_id": f"{eid}:first-reply",
                "type": "contact.message",
                "author": "agent",
                "public": True,
                "occurred_at": at(stats["first_admin_reply_at"], "statistics.first_admin_reply_at"),
            }
        )
    if state != "open":
        when = stats.get("last_close_at") if state == "solved" else None
        events.append(
            {
                **common,
                "event_id": f"{eid}:status:{state}",
                "type": "contact.status_changed",
                "status": state,
                "occurred_at": at(when or record.get("updated_at"), "statistics.last_close_at"),
                "attributes": {"raw_state": record.get("state")},
            }
        )
    rating = as_dict(record.get("conversation_rating"))
    score = rating.get("rating")
    if isinstance(score, int) and not isinstance(score, bool) and 1 <= score <= 5:
        when = at(rating.get("created_at") or record.get("updated_at"), "conversation_rating.created_at")
        rated = _rating(
            {**common, "event_id": f"{eid}:rated", "occurred_at": when}, {**rating, "created_at": when}, assignee
        )
        events.append({k: v for k, v in rated.to_json_dict().items() if v is not None or k in common})
    return events


def _updated_ms(conversation: Mapping[str, Any], default: int) -> int:
    """When the conversation was last updated (``default`` if the record cannot say: to_events will judge it)."""
    try:
        return to_epoch_ms(to_rfc3339(conversation.get("updated_at") or conversation.get("created_at")))
    except Unmappable:
        return default
