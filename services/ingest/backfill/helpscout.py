"""Help Scout: conversations through the Mailbox API 2.0's List Conversations, with their threads embedded.

``GET https://api.helpscout.net/v2/conversations?status=all&modifiedSince=<ISO 8601>&embed=threads&sortField=createdAt
&sortOrder=desc`` returns HAL JSON: ``_embedded.conversations`` (25 a page, each with ``_embedded.threads``),
``page`` (``size``, ``totalElements``, ``totalPages``, ``number``) and ``_links`` (``next`` until the last page,
its ``href`` carrying the query). Newest first, so a conversation created during the backfill can only make a
later page repeat one (same ids), never skip one. ``Authorization: Bearer <access token>``: Help Scout's OAuth2
client-credentials flow (``POST https://api.helpscout.net/v2/oauth2/token`` with ``grant_type=client_credentials``,
``client_id``, ``client_secret`` of an app made under Your Profile > My Apps) gives an ``access_token`` valid two
days; ``connect`` cannot make that request (it is synchronous and does no I/O), so the token is read ready-made
from ``DESKPULSE_BACKFILL_HELPSCOUT_ACCESS_TOKEN``: ``curl -X POST https://api.helpscout.net/v2/oauth2/token -d
grant_type=client_credentials -d client_id=<App ID> -d client_secret=<App Secret>`` answers ``{"token_type":
"bearer", "access_token": "…", "expires_in": 172800}``. The rate limit is per account
and plan (requests a minute); a 429 carries ``X-RateLimit-Retry-After``, which fetch.py does not read (it reads
``Retry-After``), so unless a ``Retry-After`` is sent too it backs off exponentially.

Each conversation gives, with the webhook adapter's contact (conversation id), queue (mailbox), channel (``type``):
``contact.created`` at ``createdAt`` (no status: the record does not say which it started in);
``contact.assigned`` to ``assignee`` at the first thread that shows them as ``assignedTo`` (else ``createdAt``);
the first published public agent reply (a ``reply``/``message`` thread, or a ``chat``/``phone`` thread created by a
user) at its ``createdAt``, credited to its ``createdBy`` user; its current status (active → open, pending,
closed) at ``closedAt`` when closed, else ``userUpdatedAt``; a rating (``great``/``okay``/``not_good`` on the rated
reply thread) at that thread's time (the record has no rating time), credited to the thread's author. Spam,
deleted and draft conversations are skipped. Left out: reopens, customer replies, later replies, notes, tags and
custom fields (the webhook adapter maps neither), snoozes (Help Scout keeps the status; so does deskpulse).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from services.common.events import from_epoch_ms
from services.ingest.backfill.source import Connection, Page, Request, required, times_after
from services.ingest.platforms.base import Delivery, as_dict, dig, text_id
from services.ingest.platforms.helpscout import (
    _RATING,
    NAME,
    _common,
    _status,
    _thread_matches,
    _time,
    _updated_at,
    _user_id,
)

TOKEN, URL, ACCOUNT = (
    "DESKPULSE_BACKFILL_HELPSCOUT_ACCESS_TOKEN",
    "DESKPULSE_BACKFILL_HELPSCOUT_URL",  # optional: tests point it at a local server
    "DESKPULSE_BACKFILL_HELPSCOUT_ACCOUNT",  # optional: the <account> of /webhooks/helpscout/<account>, if used
)
ENV = (TOKEN, URL, ACCOUNT)
API = "https://api.helpscout.net"
PATH = "/v2/conversations"
_SKIPPED_STATES = {"deleted", "draft"}


def connect(environ: Mapping[str, str], url: str | None = None) -> Connection:
    (token,) = required(environ, (TOKEN,), NAME)
    base = (url or environ.get(URL) or API).rstrip("/")
    return Connection(base, {"Authorization": f"Bearer {token}"}, environ.get(ACCOUNT) or None)


def first(connection: Connection, since_ms: int) -> Request:
    since = from_epoch_ms(since_ms - since_ms % 1000).replace(".000Z", "Z")
    params = {
        "status": "all",
        "modifiedSince": since,
        "embed": "threads",
        "sortField": "createdAt",
        "sortOrder": "desc",
    }
    return Request(connection.base_url + PATH, params)


def parse(document: Any, connection: Connection) -> Page:
    """The page's conversations; the next page while ``_links.next`` is there."""
    records = [c for c in dig(document, "_embedded", "conversations") or [] if isinstance(c, dict)]
    after = dig(document, "_links", "next", "href")
    return Page(records, Request(after) if isinstance(after, str) and after else None)


def to_events(record: Mapping[str, Any], connection: Connection) -> list[dict[str, Any]]:
    conversation = dict(record)
    contact = text_id(conversation.get("id"), "id")
    raw_status = str(conversation.get("status") or "").strip().lower()
    if raw_status == "spam" or str(conversation.get("state") or "").lower() in _SKIPPED_STATES:
        return []  # not a contact anyone answers: nothing to count
    status = _status(conversation)
    if status is None:
        raise ValueError(f"unknown conversation status {raw_status[:40]!r}")
    common = _common(Delivery(b"", {}, account=connection.account), conversation, contact)
    common["schema"] = "deskpulse.event.v1"
    created = _time(conversation.get("createdAt"), field="createdAt")
    eid = f"{NAME}:backfill:{contact}"
    threads = sorted(
        (t for t in as_dict(conversation.get("_embedded")).get("threads") or [] if _published(t)),
        key=lambda t: (_time(t.get("createdAt"), field="thread.createdAt"), str(t.get("id"))),
    )

    at = times_after(created)

    events: list[dict[str, Any]] = [
        {
            **common,
            "event_id": f"{eid}:created",
            "type": "contact.created",
            "occurred_at": created,
            "attributes": {"backfilled": True},
        }
    ]
    assignee = _user_id(conversation.get("assignee"))
    if assignee:
        shown = next((t for t in threads if _user_id(t.get("assignedTo")) == assignee), None)
        events.append(
            {
                **common,
                "event_id": f"{eid}:assigned",
                "type": "contact.assigned",
                "agent_id": assignee,
                "occurred_at": at(_time(shown["createdAt"], field="thread.createdAt")) if shown else created,
            }
        )
    replies = [t for t in threads if _thread_matches(t, {"reply", "message"}, "agent") and _by_user(t)]
    if replies:
        events.append(
            {
                **common,
                "event_id": f"{eid}:first-reply",
                "type": "contact.message",
                "author": "agent",
                "public": True,
                "agent_id": _user_id(replies[0].get("createdBy")),
                "occurred_at": at(_time(replies[0].get("createdAt"), field="thread.createdAt")),
            }
        )
    closed_at = conversation.get("closedAt") if status == "closed" else None
    events.append(
        {
            **common,
            "event_id": f"{eid}:status:{status}",
            "type": "contact.status_changed",
            "status": status,
            "occurred_at": at(_time(closed_at, field="closedAt") if closed_at else _updated_at(conversation)),
            "attributes": {"raw_status": conversation.get("status")},
        }
    )
    rated = [t for t in replies if isinstance(t.get("rating"), dict)]
    raw = rated[-1]["rating"].get("rating") if rated else None
    mapped = _RATING.get(raw.strip().lower()) if isinstance(raw, str) else None
    if mapped is not None:
        label, score = mapped
        events.append(
            {
                **common,
                "event_id": f"{eid}:rated",
                "type": "contact.rated",
                "rating": {"label": label, "score": score, "scale_max": 3},
                "agent_id": _user_id(rated[-1].get("createdBy")),
                "occurred_at": at(_time(rated[-1].get("createdAt"), field="thread.createdAt")),
                "attributes": {"raw_rating": raw, "thread_id": rated[-1].get("id")},
            }
        )
    return events


def _published(thread: Any) -> bool:
    """A thread that happened: not a draft, nor held for review, nor hidden; with a time."""
    return (
        isinstance(thread, dict)
        and bool(thread.get("createdAt"))
        and str(thread.get("state") or "published").lower() == "published"
    )


def _by_user(thread: dict[str, Any]) -> bool:
    """Written by a Help Scout user (an agent), which is who a reply credits."""
    return str(as_dict(thread.get("createdBy")).get("type", "")).lower() == "user"
