"""Zammad: tickets changed since a time through the ticket search, expanded, paged by ``updated_at``.

``GET /api/v1/tickets/search?query=updated_at:[<RFC 3339> TO *]&sort_by=updated_at&order_by=asc&expand=true
&per_page=100`` returns a JSON array of tickets with their relations by name as well as by id (``group``,
``state``, ``priority``, ``owner``, ``create_article_type`` next to ``group_id``, ``state_id``, …) and the ticket's
``first_response_at``, ``close_at``, ``last_owner_update_at``, ``created_at``, ``updated_at`` (docs.zammad.org, REST
API: Tickets, Search; Introduction: expand, pagination, sorting). The search runs on Elasticsearch (``query`` is its
query-string syntax; ``per_page`` is at most 200). Zammad gives no total and no next-page link, and ``parse`` sees
only the body, so pages are keyed by time: the next page asks again from the ``updated_at`` of the page's last
ticket (inclusive: the tickets at that instant come again, with the same event ids, and count once). A page of
fewer than ``PER_PAGE`` tickets is the last. Authentication ``Authorization: Token token=<access token>`` (an agent's
token with ``ticket.agent``: it sees the tickets of its groups). No documented rate limit; a 429 from a proxy in
front waits its ``Retry-After`` (fetch.py).

Each ticket gives, with the ids and mappings of the webhook adapter (``contact_id`` = ticket id, ``queue_id`` =
``group_id``, ``agent_id`` = owner id, states, priority, channel of ``create_article_type``; the raw state in
``attributes.raw_state``): ``contact.created`` at ``created_at`` (status ``new``); ``contact.assigned`` to the owner
(unless user 1, "-", nobody) at ``last_owner_update_at``, else at creation; the first agent response at
``first_response_at`` (Zammad's time of the first communication-type agent article; who wrote it is not in the
record, so no agent is credited; Zammad's docs mark it an SLA attribute); the current state, unless new, at
``close_at`` (the first close) when closed or merged, else at ``updated_at``. Left out: reopens, later articles, who
responded first, internal notes, tags (the webhook adapter sets no categories either), custom states (the raw state
is kept, no status event), CSAT (Zammad has none); deleted tickets are not in the search.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from services.common.events import from_epoch_ms, to_epoch_ms
from services.ingest.backfill.source import BackfillError, Connection, Page, Request, required, times_after
from services.ingest.platforms.base import optional_id, to_rfc3339
from services.ingest.platforms.zammad import _NOBODY, NAME, _channel, _name, _priority, _ref_id, _status

log = logging.getLogger(__name__)

ENV = ("DESKPULSE_BACKFILL_ZAMMAD_URL", "DESKPULSE_BACKFILL_ZAMMAD_TOKEN")
PATH = "/api/v1/tickets/search"
PER_PAGE = 100  # Zammad allows up to 200 per search page


def connect(environ: Mapping[str, str], url: str | None = None) -> Connection:
    names = ENV[1:] if url else ENV
    values = required(environ, names, NAME)
    token = values[-1]
    base = (url or values[0]).rstrip("/")
    # the webhook adapter takes the account from /webhooks/zammad/<account> only: none is derived from the URL
    return Connection(base, {"Authorization": f"Token token={token}"}, None)


def _search(connection: Connection, since: str) -> Request:
    params = {
        "query": f"updated_at:[{since} TO *]",
        "sort_by": "updated_at",
        "order_by": "asc",
        "expand": "true",
        "per_page": PER_PAGE,
    }
    return Request(connection.base_url + PATH, params)


def first(connection: Connection, since_ms: int) -> Request:
    return _search(connection, from_epoch_ms(since_ms))


def parse(document: Any, connection: Connection) -> Page:
    """The page's tickets; the next page from the last ticket's ``updated_at`` while pages are full."""
    if not isinstance(document, list):
        raise BackfillError("zammad answered the ticket search with something other than a list (expand=true?)")
    records = [t for t in document if isinstance(t, dict)]
    if len(document) < PER_PAGE or not records:
        return Page(records, None)
    last = to_epoch_ms(to_rfc3339(records[-1].get("updated_at"), field="updated_at"))
    if to_epoch_ms(to_rfc3339(records[0].get("updated_at"), field="updated_at")) == last:
        # a whole page changed in the same millisecond: step past it rather than ask for the same page forever
        log.warning(
            "zammad backfill: %d tickets share updated_at %s; any more at that instant are left out",
            len(records),
            from_epoch_ms(last),
        )
        last += 1
    return Page(records, _search(connection, from_epoch_ms(last)))


def to_events(record: Mapping[str, Any], connection: Connection) -> list[dict[str, Any]]:
    ticket = dict(record)
    contact = optional_id(ticket.get("id"))
    if contact is None:
        return []
    status = _status(ticket)
    raw_state = _name(ticket.get("state"))
    created = to_rfc3339(ticket.get("created_at"), field="ticket.created_at")
    eid = f"{NAME}:backfill:{contact}"
    common: dict[str, Any] = {
        "schema": "deskpulse.event.v1",
        "platform": NAME,
        "contact_id": contact,
        "account": connection.account,
        "queue_id": _ref_id(ticket, "group"),
        "channel": _channel(ticket.get("create_article_type")),
        "priority": _priority(ticket),
    }
    state = {"raw_state": raw_state} if isinstance(raw_state, str) and raw_state else {}
    events = [
        {
            **common,
            "event_id": f"{eid}:created",
            "type": "contact.created",
            "occurred_at": created,
            "status": "new",
            "attributes": {**state, "backfilled": True},
        },
    ]

    at = times_after(created)

    owner = _ref_id(ticket, "owner")
    if owner and owner != _NOBODY:
        events.append(
            {
                **common,
                "event_id": f"{eid}:assigned",
                "type": "contact.assigned",
                "agent_id": owner,
                "occurred_at": at(ticket.get("last_owner_update_at"), "last_owner_update_at"),
            }
        )
    responded = ticket.get("first_response_at")
    if responded:
        events.append(
            {
                **common,
                "event_id": f"{eid}:first-reply",
                "type": "contact.message",
                "author": "agent",
                "public": True,
                "occurred_at": at(responded, "first_response_at"),
            }
        )
    if status is not None and status != "new":
        when = ticket.get("close_at") if status == "closed" else None
        events.append(
            {
                **common,
                "event_id": f"{eid}:status:{status}",
                "type": "contact.status_changed",
                "status": status,
                "occurred_at": at(when or ticket.get("updated_at"), "updated_at"),
                "attributes": state,
            }
        )
    return events
