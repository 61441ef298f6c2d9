"""Front: conversations through List conversations, open and archived ones, most recently updated first.

``GET https://api2.frontapp.com/conversations?q[statuses][]=assigned&q[statuses][]=unassigned&q[statuses][]=archived
&limit=100`` returns ``_results`` (conversation objects: ``id``, ``subject``, ``status`` ``assigned``/``unassigned``/
``archived``/``deleted``, ``assignee``, ``created_at``/``updated_at`` in float epoch seconds, ``scheduled_reminders``,
…) and ``_pagination.next``, the next page's full URL (``page_token`` included; null on the last page); the list is
most recently updated first, as the company's bump settings order it (dev.frontapp.com, List conversations;
Pagination). Bearer API token with ``conversations:read``; 50, 100 or 200 requests a minute per company by plan,
then 429 (Rate limits: ``x-ratelimit-reset`` gives the window's end; a ``Retry-After`` is waited as sent). The
endpoint has no time filter: ``parse`` given ``since_ms`` keeps the conversations updated since then and stops at the
first page with none.

Each conversation gives what the ``inbound`` webhook would: ``contact.created`` at ``created_at``, status open, the
``subject`` as attribute; ``contact.assigned`` to the current ``assignee`` at ``created_at`` (the record has no
assignment time); ``pending`` at the first scheduled reminder's ``created_at`` when it is snoozed (a scheduled
reminder), else ``solved`` at ``updated_at`` when archived (the record has no archive time: its last update).
Left out: the first and later replies (the record has no message times or authors: an answered conversation stays
waiting until its next reply), the inbox (``queue_id``) and channel (only on messages, which the record links to
but does not hold), reopens, Front ticketing statuses (``status_category``, which webhooks do not map either), CSAT
and priority (Front has neither); deleted (trashed) conversations give nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from services.common.events import to_epoch_ms
from services.ingest.backfill.source import Connection, Page, Request, required, times_after
from services.ingest.platforms.base import Unmappable, as_dict, dig, optional_id, to_rfc3339
from services.ingest.platforms.front import _STATUS, NAME

ENV = ("DESKPULSE_BACKFILL_FRONT_URL", "DESKPULSE_BACKFILL_FRONT_API_TOKEN")
DEFAULT_URL = "https://api2.frontapp.com"
PATH = "/conversations"
STATUSES = ("assigned", "unassigned", "archived")  # not deleted (trashed)
_OPEN = frozenset({"assigned", "unassigned"})


def connect(environ: Mapping[str, str], url: str | None = None) -> Connection:
    (token,) = required(environ, ENV[1:], NAME)
    base = (url or environ.get(ENV[0]) or DEFAULT_URL).rstrip("/")
    # Front's webhooks name the account by company id (cmp_…) or the URL's /<account>: the token does not say.
    return Connection(base, {"Authorization": f"Bearer {token}", "Accept": "application/json"}, None)


def first(connection: Connection, since_ms: int) -> Request:
    return Request(connection.base_url + PATH, {"q[statuses][]": list(STATUSES), "limit": 100})


def parse(document: Any, connection: Connection, since_ms: int | None = None) -> Page:
    """The page's conversations (with ``since_ms``: those updated since, and no next page once none is)."""
    results = [c for c in document.get("_results") or [] if isinstance(c, dict)]
    records = results if since_ms is None else [c for c in results if _updated_ms(c, since_ms) >= since_ms]
    after = dig(document, "_pagination", "next")
    more = isinstance(after, str) and after and not (results and not records)
    return Page(records, Request(after) if more else None)


def to_events(record: Mapping[str, Any], connection: Connection) -> list[dict[str, Any]]:
    contact = optional_id(record.get("id"))
    status = str(record.get("status"))
    if contact is None or status not in (*_OPEN, "archived"):  # deleted (trashed): nothing to count
        return []
    created = to_rfc3339(record.get("created_at"), field="created_at")
    eid = f"{NAME}:backfill:{contact}"
    common: dict[str, Any] = {
        "schema": "deskpulse.event.v1",
        "platform": NAME,
        "contact_id": contact,
        "account": connection.account,
    }
    events = [
        {
            **common,
            "event_id": f"{eid}:created",
            "type": "contact.created",
            "occurred_at": created,
            "status": "open",
            "attributes": {"subject": record.get("subject"), "backfilled": True},
        },
    ]

    at = times_after(created)

    assignee = optional_id(as_dict(record.get("assignee")).get("id"))
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
    reminders = [as_dict(r) for r in record.get("scheduled_reminders") or []]
    snoozed = sorted(r["created_at"] for r in reminders if isinstance(r.get("created_at"), int | float))
    if reminders:
        state, when = _STATUS["snooze"], at(snoozed[0] if snoozed else record.get("updated_at"), "reminder.created_at")
    elif status == "archived":
        state, when = _STATUS["archive"], at(record.get("updated_at"), "updated_at")
    else:
        return events
    events.append(
        {
            **common,
            "event_id": f"{eid}:status:{state}",
            "type": "contact.status_changed",
            "status": state,
            "occurred_at": when,
            "attributes": {"raw_status": status},
        }
    )
    return events


def _updated_ms(conversation: Mapping[str, Any], default: int) -> int:
    """When the conversation was last updated (``default`` if the record cannot say: to_events will judge it)."""
    try:
        return to_epoch_ms(to_rfc3339(conversation.get("updated_at") or conversation.get("created_at")))
    except Unmappable:
        return default
