"""Chatwoot: conversations of one account through the Application API's conversation list, newest activity first.

``GET /api/v1/accounts/<account id>/conversations?status=all&assignee_type=all&sort_by=last_activity_at_desc&page=N``
with the header ``api_access_token: <access token>`` (a user's token, Profile Settings > Access Token) returns
``data.meta`` (``mine_count``, ``assigned_count``, ``unassigned_count``, ``all_count``) and ``data.payload``: 25
conversations a page (``CONVERSATION_RESULTS_PER_PAGE``), each as the conversation partial of the Chatwoot API
(``id`` = display id, ``account_id``, ``inbox_id``, ``status``, ``created_at``, ``first_reply_created_at``,
``last_activity_at`` in epoch seconds, ``meta.assignee``, ``meta.channel``). ``status=all`` needs a Chatwoot that
lists it (the swagger's ``conversationList``); older ones filter on it and answer nothing. Limits are the
instance's Rack::Attack throttles (``RACK_ATTACK_LIMIT``, self-hosted); a 429 waits ``Retry-After`` if sent, else
backs off. Pages are read until a conversation's last activity is before the backfill's start, a page is empty,
or ``all_count`` conversations were read; a conversation that gains activity during the backfill moves to page 1,
which can only make a later page repeat one (same ids), never skip one.

Each conversation gives, with the webhook adapter's contact (display id), queue (inbox), channel and account:
``contact.created`` at ``created_at`` (no status: the record does not say which it started in);
``contact.assigned`` to ``meta.assignee`` at ``created_at`` (who, not when, is in the record); an agent's first
public reply at ``first_reply_created_at`` when set (Chatwoot's first human reply; who sent it is not in the
record, so no agent is credited); its current status (open, pending, snoozed → on_hold, resolved → solved) at
``last_activity_at``, the latest time the record gives. Left out: CSAT (not in the record), reopens, later replies,
private notes, labels and priority (the webhook adapter maps neither, so the backfill does not either).

The list has page numbers and no "changed since" filter: ``parse`` takes the page number from the request it
answers and the start from ``since_ms``, and stops at the first conversation last active before the start. The page
number is in the saved request, so an interrupted backfill resumes at its page.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from services.common.events import to_epoch_ms
from services.ingest.backfill.source import BackfillError, Connection, Page, Request, required, times_after
from services.ingest.platforms.base import Delivery, Unmappable, as_dict
from services.ingest.platforms.chatwoot import NAME, _assignee, _conversation, _status, _time

URL, ACCOUNT_ID, TOKEN = (
    "DESKPULSE_BACKFILL_CHATWOOT_URL",
    "DESKPULSE_BACKFILL_CHATWOOT_ACCOUNT_ID",
    "DESKPULSE_BACKFILL_CHATWOOT_API_TOKEN",
)
ENV = (URL, ACCOUNT_ID, TOKEN)
PATH = "/api/v1/accounts/{account}/conversations"


PER_PAGE = 25  # CONVERSATION_RESULTS_PER_PAGE: Chatwoot's fixed page size


def connect(environ: Mapping[str, str], url: str | None = None) -> Connection:
    names = (ACCOUNT_ID, TOKEN) if url else ENV
    values = required(environ, names, NAME)
    account_id, token = values[-2:]
    if not account_id.strip().isdecimal():
        raise BackfillError(
            f"backfill {NAME}: {ACCOUNT_ID} is the account's number (the /app/accounts/<n>/ in its URLs)"
        )
    base = (url or values[0]).rstrip("/")
    return Connection(base, {"api_access_token": token}, account_id.strip())


def _request(connection: Connection, page: int) -> Request:
    params = {"status": "all", "assignee_type": "all", "sort_by": "last_activity_at_desc", "page": page}
    return Request(connection.base_url + PATH.format(account=connection.account), params)


def first(connection: Connection, since_ms: int) -> Request:
    return _request(connection, 1)


def parse(document: Any, connection: Connection, request: Request, since_ms: int) -> Page:
    """The page's conversations active since the start; the next page until one is older, none or all are read.
    The page number travels in the request (and so in the state file: a resumed backfill goes on from it)."""
    page_number = int(request.params.get("page", 1))
    data = as_dict(as_dict(document).get("data"))
    payload = [c for c in data.get("payload") or [] if isinstance(c, dict)]
    records = [c for c in payload if _active_since(c, since_ms // 1000)]
    read = (page_number - 1) * PER_PAGE + len(payload)
    total = as_dict(data.get("meta")).get("all_count")
    done = (
        not payload
        or len(records) < len(payload)
        or (isinstance(total, int) and not isinstance(total, bool) and read >= total)
    )
    return Page(records, None if done else _request(connection, page_number + 1))


def to_events(record: Mapping[str, Any], connection: Connection) -> list[dict[str, Any]]:
    conversation = dict(record)
    conversation["channel"] = as_dict(record.get("meta")).get("channel")  # the list puts it under meta
    # The webhook adapter's own mapping of contact, queue, channel and account (the connection's account first).
    common = _conversation(Delivery(b"", {}, account=connection.account), conversation, conversation)
    common["schema"] = "deskpulse.event.v1"
    contact = common["contact_id"]
    status = _status(conversation, required=True)
    created = _time(record.get("created_at"), "created_at")
    eid = f"{NAME}:backfill:{contact}"

    at = times_after(created, _time)

    events: list[dict[str, Any]] = [
        {
            **common,
            "event_id": f"{eid}:created",
            "type": "contact.created",
            "occurred_at": created,
            "attributes": {"backfilled": True},
        }
    ]
    assignee = _assignee(conversation)
    if assignee:
        events.append(
            {
                **common,
                "event_id": f"{eid}:assigned",
                "type": "contact.assigned",
                "agent_id": assignee,
                "occurred_at": created,
            }
        )
    replied = record.get("first_reply_created_at")
    if replied:  # 0 (Chatwoot's nil.to_i) until a human agent's first reply
        events.append(
            {
                **common,
                "event_id": f"{eid}:first-reply",
                "type": "contact.message",
                "author": "agent",
                "public": True,
                "occurred_at": at(replied, "first_reply_created_at"),
            }
        )
    events.append(
        {
            **common,
            "event_id": f"{eid}:status:{status}",
            "type": "contact.status_changed",
            "status": status,
            "occurred_at": at(record.get("last_activity_at") or record.get("timestamp"), "last_activity_at"),
            "attributes": {"raw_status": record.get("status")},
        }
    )
    return events


def _active_since(conversation: dict[str, Any], since_s: int) -> bool:
    """Whether its last activity is at or after the start (a conversation without one is kept)."""
    value = conversation.get("last_activity_at") or conversation.get("timestamp")
    try:
        return to_epoch_ms(_time(value, "last_activity_at")) >= since_s * 1000
    except Unmappable:  # missing or unreadable: kept, and to_events says what is wrong with it
        return True
