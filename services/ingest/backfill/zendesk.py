"""Zendesk: tickets through the cursor-based Incremental Ticket Export, with their metric sets.

``GET /api/v2/incremental/tickets/cursor.json?start_time=<epoch s>&include=metric_sets&exclude_deleted=true``
returns ``tickets``, ``metric_sets`` (one per ticket: ``reply_time_in_minutes``, ``initially_assigned_at``,
``solved_at``, ``status_updated_at``, …), ``after_url`` and ``end_of_stream``; 10 requests a minute, ``Retry-After``
on 429 (developer.zendesk.com, Incremental Exports). Basic authentication ``<email>/token:<API token>``.

Each ticket gives: ``contact.created`` at its creation (queue = group, channel = ``via.channel``, priority, the
tags, type and form for categories, as the webhooks give them); ``contact.assigned`` to the current assignee at
``initially_assigned_at``; an agent's first public reply at ``created_at + reply_time_in_minutes.calendar`` (Zendesk
counts whole minutes; who replied is not in the record, so no agent is credited); its current status at
``status_updated_at`` (``solved_at`` when solved or closed); CSAT ``good``/``bad`` at ``updated_at``. Reopens and
later replies are not in the record and are left out.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from services.common.events import to_epoch_ms
from services.ingest.backfill.source import Connection, Page, Request, required, times_after
from services.ingest.platforms.base import b64, labels, to_rfc3339
from services.ingest.platforms.zendesk import _PRIORITY, NAME, _channel, _enum, _id, _status, ticket_link

ENV = ("DESKPULSE_BACKFILL_ZENDESK_URL", "DESKPULSE_BACKFILL_ZENDESK_EMAIL", "DESKPULSE_BACKFILL_ZENDESK_API_TOKEN")
PATH = "/api/v2/incremental/tickets/cursor.json"


def connect(environ: Mapping[str, str], url: str | None = None) -> Connection:
    names = ENV[1:] if url else ENV
    values = required(environ, names, NAME)
    email, token = values[-2:]
    base = (url or values[0]).rstrip("/")
    host = urlsplit(base).hostname or ""
    account = host.split(".zendesk.com", 1)[0] if host.endswith(".zendesk.com") else None
    return Connection(base, {"Authorization": "Basic " + b64(f"{email}/token:{token}".encode())}, account)


def first(connection: Connection, since_ms: int) -> Request:
    params = {"start_time": since_ms // 1000, "include": "metric_sets", "exclude_deleted": "true"}
    return Request(connection.base_url + PATH, params)


def parse(document: Any, connection: Connection) -> Page:
    """Each ticket with its metric set; the next page until ``end_of_stream``."""
    metrics = {m.get("ticket_id"): m for m in document.get("metric_sets") or [] if isinstance(m, dict)}
    records = [{"ticket": t, "metric_set": metrics.get(t.get("id"))} for t in document.get("tickets") or []]
    after = document.get("after_url")
    more = not document.get("end_of_stream") and isinstance(after, str) and after
    return Page(records, Request(after) if more else None)


def to_events(record: Mapping[str, Any], connection: Connection) -> list[dict[str, Any]]:
    ticket = record["ticket"]
    metrics = record.get("metric_set") or {}
    contact = _id(ticket.get("id"))
    status = _status(ticket.get("status"))
    if contact is None or status is None:  # deleted, archived or scrubbed tickets: nothing to count
        return []
    created = to_rfc3339(ticket.get("created_at"), field="ticket.created_at")
    created_ms = to_epoch_ms(created)
    eid = f"{NAME}:backfill:{contact}"
    common: dict[str, Any] = {
        "schema": "deskpulse.event.v1",
        "platform": NAME,
        "contact_id": contact,
        "account": connection.account,
        "queue_id": _id(ticket.get("group_id")),
        "channel": _channel((ticket.get("via") or {}).get("channel")),
        "priority": _enum(ticket.get("priority"), _PRIORITY),
    }
    category = labels(tags=ticket.get("tags") or [], ticket_type=ticket.get("type"), form=ticket.get("ticket_form_id"))
    events = [
        {
            **common,
            "event_id": f"{eid}:created",
            "type": "contact.created",
            "occurred_at": created,
            "status": "new",
            "attributes": {**category, **ticket_link(connection.account, contact), "backfilled": True},
        },
    ]

    at = times_after(created)

    assignee = _id(ticket.get("assignee_id"))
    if assignee:
        events.append(
            {
                **common,
                "event_id": f"{eid}:assigned",
                "type": "contact.assigned",
                "agent_id": assignee,
                "occurred_at": at(metrics.get("initially_assigned_at"), "initially_assigned_at"),
            }
        )
    reply = (metrics.get("reply_time_in_minutes") or {}).get("calendar")
    if isinstance(reply, int | float) and not isinstance(reply, bool) and reply >= 0:
        replied = to_rfc3339(created_ms + int(reply) * 60_000, field="reply_time_in_minutes")
        events.append(
            {
                **common,
                "event_id": f"{eid}:first-reply",
                "type": "contact.message",
                "author": "agent",
                "public": True,
                "occurred_at": replied,
            }
        )
    if status != "new":
        when = metrics.get("solved_at") if status in ("solved", "closed") else None
        when = when or metrics.get("status_updated_at") or ticket.get("updated_at")
        events.append(
            {
                **common,
                "event_id": f"{eid}:status:{status}",
                "type": "contact.status_changed",
                "status": status,
                "occurred_at": at(when, "status_updated_at"),
            }
        )
    score = str((ticket.get("satisfaction_rating") or {}).get("score") or "").lower()
    if score in ("good", "bad"):
        rating = {"label": score, "score": 1.0 if score == "good" else 0.0, "scale_max": 1.0}
        events.append(
            {
                **common,
                "event_id": f"{eid}:rated",
                "type": "contact.rated",
                "rating": rating,
                "agent_id": assignee,
                "occurred_at": at(ticket.get("updated_at"), "updated_at"),
            }
        )
    return events
