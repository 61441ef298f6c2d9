"""Freshdesk: tickets through List All Tickets with their stats, paged by ``updated_at``; group and agent names.

``GET /api/v2/tickets?updated_since=<UTC, seconds>&order_by=updated_at&order_type=asc&include=stats&per_page=100``
returns a JSON array of tickets (``id``, ``status`` 2–5 or a custom status number, ``priority`` 1–4, ``source``,
``group_id``, ``responder_id``, ``type``, ``tags``, ``spam``, ``deleted``, ``created_at``, ``updated_at``, …) each with
``stats`` (``first_responded_at``, ``agent_responded_at``, ``requester_responded_at``, ``status_updated_at``,
``pending_since``, ``resolved_at``, ``closed_at``, ``reopened_at``; ``include=stats`` costs 2 more API credits)
(developers.freshdesk.com/api, List All Tickets; Freshworks' Freshdesk SDK docs, GetAllTicketResponse and Stats).
Freshdesk pages with ``page``/``per_page`` (100 at most) and a ``Link`` header, and stops at page 300; ``parse`` sees
the body only, so pages are keyed by time instead: the next page asks again from one second before the page's last
``updated_at`` (second precision; the tickets of that second come again with the same event ids and count once), and
a page of fewer than ``PER_PAGE`` tickets is the last, which also avoids the 300-page limit. Basic authentication
with the API key as user name and ``X`` as password; a per-minute limit by plan (e.g. 200–700 calls a minute), 429
with ``Retry-After`` (fetch.py waits it out).

The webhook adapter keys queues by group **name** and agents by **e-mail** (``{{ticket.group.name}}``,
``{{ticket.agent.email}}``), which a ticket record only holds as ids: the first ``parse`` of a run reads
``GET /api/v2/groups`` and ``GET /api/v2/agents`` (all pages) once and each record carries its group's name and its
agent's e-mail (a group or agent no longer in the account gives no queue or agent). ``account`` is the subdomain of
``<account>.freshdesk.com``, as the adapter takes it from ``{{ticket.url}}``.

Each ticket gives, with the adapter's mappings (status 2–5, priority, source → channel, ``type`` and ``tags`` as
categories): ``contact.created`` at ``created_at`` (status open, as Freshdesk creates tickets); ``contact.assigned``
to the responder at creation (the record keeps no assignment time); an agent's first response at
``stats.first_responded_at`` (who responded is not in the record, so no agent is credited); the current status:
pending at ``pending_since``, solved at ``resolved_at``, closed at ``closed_at`` after solved at ``resolved_at`` when
the record has it (else at ``status_updated_at``). Left out: reopens (``reopened_at`` says when, not when it had been
resolved before), later replies, who responded first, private notes, custom statuses (including "Waiting on
Customer"/"Waiting on Third Party", numbers the adapter maps by name only: no status event), CSAT (satisfaction
ratings are not in the ticket); spam and deleted tickets give nothing (the list leaves them out anyway).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from services.common.events import to_epoch_ms
from services.ingest.backfill.source import BackfillError, Connection, Page, Request, required, times_after
from services.ingest.platforms.base import as_dict, b64, dig, labels, to_rfc3339
from services.ingest.platforms.freshdesk import _PRIORITY, _SOURCE, _STATUS, NAME, _key, _subdomain, _text

log = logging.getLogger(__name__)

ENV = ("DESKPULSE_BACKFILL_FRESHDESK_URL", "DESKPULSE_BACKFILL_FRESHDESK_API_KEY")
PATH = "/api/v2/tickets"
GROUPS, AGENTS = "/api/v2/groups", "/api/v2/agents"
PER_PAGE = 100  # Freshdesk's maximum
_LOOKUP_PER_PAGE = 100


@dataclass(frozen=True, repr=False)  # Connection's repr: no credentials, no names
class FreshdeskConnection(Connection):
    """A Freshdesk connection with the group names and agent e-mails by id, read by ``prepare``."""

    names: dict[str, dict[str, str]] = field(default_factory=dict, compare=False)


def connect(environ: Mapping[str, str], url: str | None = None) -> FreshdeskConnection:
    names = ENV[1:] if url else ENV
    values = required(environ, names, NAME)
    key = values[-1]
    base = (url or values[0]).rstrip("/")
    return FreshdeskConnection(base, {"Authorization": "Basic " + b64(f"{key}:X".encode())}, _subdomain(base))


def _since(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _tickets(connection: Connection, since_s: int) -> Request:
    params = {
        "updated_since": _since(since_s),
        "order_by": "updated_at",
        "order_type": "asc",
        "include": "stats",
        "per_page": PER_PAGE,
    }
    return Request(connection.base_url + PATH, params)


def first(connection: Connection, since_ms: int) -> Request:
    return _tickets(connection, since_ms // 1000)


def parse(document: Any, connection: Connection) -> Page:
    """The page's tickets with their group name and agent e-mail; the next page while pages are full."""
    if not isinstance(document, list):
        raise BackfillError("freshdesk answered the ticket list with something other than a list")
    groups, agents = _names(connection)
    tickets = [t for t in document if isinstance(t, dict)]
    records: list[dict[str, Any]] = [
        {
            "ticket": t,
            "group": groups.get(_text(t.get("group_id")) or ""),
            "agent": agents.get(_text(t.get("responder_id")) or ""),
        }
        for t in tickets
    ]
    if len(document) < PER_PAGE or not records:
        return Page(records, None)
    last = to_epoch_ms(to_rfc3339(tickets[-1].get("updated_at"), field="updated_at")) // 1000
    earliest = to_epoch_ms(to_rfc3339(tickets[0].get("updated_at"), field="updated_at")) // 1000
    if earliest >= last - 1:
        # a whole page changed within a second or two: step past it rather than ask for the same page forever
        log.warning(
            "freshdesk backfill: %d tickets changed at %s; any more in that second are left out",
            len(records),
            _since(last),
        )
        return Page(records, _tickets(connection, last + 1))
    return Page(records, _tickets(connection, last - 1))


async def prepare(connection: Connection, fetch: Callable[[Request], Awaitable[Any]]) -> FreshdeskConnection:
    """The connection with the group names and agent e-mails by id, read once per run (resumed ones too)."""
    names: dict[str, dict[str, str]] = {"groups": {}, "agents": {}}
    for path, into, field_path in ((GROUPS, "groups", ("name",)), (AGENTS, "agents", ("contact", "email"))):
        page = 1
        while True:
            items = await fetch(Request(connection.base_url + path, {"per_page": _LOOKUP_PER_PAGE, "page": page}))
            if not isinstance(items, list):
                raise BackfillError(f"freshdesk answered {path} with something other than a list")
            for item in items:
                ident, text = _text(dig(item, "id")), _text(dig(item, *field_path))
                if ident and text:
                    names[into][ident] = text
            if len(items) < _LOOKUP_PER_PAGE:
                break
            page += 1
    return FreshdeskConnection(connection.base_url, connection.headers, connection.account, names)


def _names(connection: Connection) -> tuple[dict[str, str], dict[str, str]]:
    if not isinstance(connection, FreshdeskConnection) or not connection.names:
        raise BackfillError("freshdesk: the group and agent names were not read (prepare) before the tickets")
    return connection.names["groups"], connection.names["agents"]


def to_events(record: Mapping[str, Any], connection: Connection) -> list[dict[str, Any]]:
    ticket = record["ticket"]
    stats = as_dict(ticket.get("stats"))
    contact = _text(ticket.get("id"))
    if contact is None or ticket.get("spam") is True or ticket.get("deleted") is True:
        return []  # spam and deleted tickets: nothing to count
    created = to_rfc3339(ticket.get("created_at"), field="ticket.created_at")
    eid = f"{NAME}:backfill:{contact}"
    common: dict[str, Any] = {
        "schema": "deskpulse.event.v1",
        "platform": NAME,
        "contact_id": contact,
        "account": connection.account,
        "queue_id": _text(record.get("group")),
        "channel": _SOURCE.get(_key(ticket.get("source"))),
        "priority": _PRIORITY.get(_key(ticket.get("priority"))),
    }
    category = labels(tags=ticket.get("tags"), ticket_type=ticket.get("type"))
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

    after = times_after(created)

    def at(*values: Any) -> str:
        """The first time given, never before the ticket's creation."""
        return after(next((v for v in values if v), None), "stats")

    agent = _text(record.get("agent"))
    if agent:
        events.append(
            {
                **common,
                "event_id": f"{eid}:assigned",
                "type": "contact.assigned",
                "agent_id": agent,
                "occurred_at": created,
            }
        )
    if stats.get("first_responded_at"):
        events.append(
            {
                **common,
                "event_id": f"{eid}:first-reply",
                "type": "contact.message",
                "author": "agent",
                "public": True,
                "occurred_at": at(stats["first_responded_at"]),
            }
        )
    status = _STATUS.get(_key(ticket.get("status")))
    changed = stats.get("status_updated_at") or ticket.get("updated_at")
    steps: list[tuple[str, str]] = []
    if status == "pending":
        steps.append((status, at(stats.get("pending_since"), changed)))
    elif status == "solved":
        steps.append((status, at(stats.get("resolved_at"), changed)))
    elif status == "closed":
        if stats.get("resolved_at"):
            steps.append(("solved", at(stats["resolved_at"])))
        steps.append((status, at(stats.get("closed_at"), changed)))
    for name, when in steps:
        events.append(
            {
                **common,
                "event_id": f"{eid}:status:{name}",
                "type": "contact.status_changed",
                "status": name,
                "occurred_at": when,
                "attributes": {"raw_status": ticket.get("status"), **category},
            }
        )
    return events
