"""One backfill: page through a platform's records, send their canonical events, remember where it got to.

The state file (JSON: the platform, the account, the next page's request and the totals so far) is written after
each page is sent, so an interrupted backfill resumes at the page it stopped on; the events of a page sent twice
have the same ids and count once. It is removed when the backfill finishes.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import os
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx

from services.common.events import EventValidationError, parse_event, to_epoch_ms
from services.ingest.backfill import chatwoot, freshdesk, front, helpscout, intercom, zammad, zendesk
from services.ingest.backfill.fetch import Sleep, get_json
from services.ingest.backfill.source import BackfillError, Connection, Request
from services.ingest.platforms.base import Unmappable

log = logging.getLogger(__name__)

SOURCES: dict[str, ModuleType] = {m.NAME: m for m in (zendesk, freshdesk, intercom, helpscout, front, chatwoot, zammad)}
Send = Callable[[list[dict[str, Any]]], Awaitable[Any]]
BATCH = 500


@dataclass
class Totals:
    pages: int = 0
    records: int = 0
    events: int = 0
    skipped: int = 0  # records no event could be made of (logged with the reason)
    newer: int = 0  # contacts created at or after ``created_before``: the webhooks have them


class StateFile:
    """Where a backfill of one platform account got to."""

    def __init__(self, path: Path, platform: str, account: str | None) -> None:
        self.path, self.platform, self.account = path, platform, account

    def load(self) -> tuple[Request, Totals] | None:
        try:
            data = json.loads(self.path.read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise BackfillError(f"cannot read the backfill state {self.path}: {exc}; remove it to start over") from None
        if data.get("platform") != self.platform or data.get("account") != self.account:
            raise BackfillError(
                f"{self.path} is the state of a backfill of {data.get('platform')}/{data.get('account')}, "
                f"not {self.platform}/{self.account}"
            )
        return Request.from_state(data["next"]), Totals(**data["totals"])

    def save(self, next_request: Request, totals: Totals) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        state = {"platform": self.platform, "account": self.account, "next": next_request.as_state()}
        tmp.write_text(json.dumps({**state, "totals": asdict(totals)}))
        os.replace(tmp, self.path)  # a crash leaves the old state or the new one, never half of one

    def finish(self) -> None:
        self.path.unlink(missing_ok=True)


def events_of(source: ModuleType, record: Any, connection: Connection) -> list[dict[str, Any]]:
    """The record's canonical event documents, each checked against the schema."""
    documents = source.to_events(record, connection)
    for document in documents:
        parse_event(document)
    return documents


async def run(
    source: ModuleType,
    connection: Connection,
    client: httpx.AsyncClient,
    send: Send,
    *,
    since_ms: int,
    state: StateFile | None = None,
    progress: Callable[[Totals], None] = lambda totals: None,
    sleep: Sleep | None = None,
    created_before_ms: int | None = None,
) -> Totals:
    """Backfill every record the platform has changed since ``since_ms`` (or resume from ``state``); with
    ``created_before_ms``, only contacts created before it (those created later came through the webhooks, whose
    own events would otherwise count a reply twice under two ids)."""
    resumed = state.load() if state is not None else None
    request: Request | None
    if resumed is not None:
        request, totals = resumed
        log.info("resuming the %s backfill at page %d (%s)", source.NAME, totals.pages + 1, state and state.path)
    else:
        request, totals = source.first(connection, since_ms), Totals()

    async def fetch(next_request: Request) -> Any:
        return await get_json(client, next_request, connection.headers, source.NAME, sleep=sleep or asyncio.sleep)

    if hasattr(source, "prepare"):
        connection = await source.prepare(connection, fetch)
    wants = inspect.signature(source.parse).parameters
    while request is not None:
        document = await fetch(request)
        extra = {"request": request, "since_ms": since_ms}
        page = source.parse(document, connection, **{k: v for k, v in extra.items() if k in wants})
        events: list[dict[str, Any]] = []
        for record in page.records:
            try:
                documents = events_of(source, record, connection)
            except (EventValidationError, Unmappable, KeyError, TypeError, ValueError) as exc:
                totals.skipped += 1
                log.warning("%s backfill: skipped a record (%s)", source.NAME, str(exc)[:300])
                continue
            if created_before_ms is not None and any(
                d["type"] == "contact.created" and to_epoch_ms(d["occurred_at"]) >= created_before_ms for d in documents
            ):
                totals.newer += 1
                continue
            events.extend(documents)
        for start in range(0, len(events), BATCH):
            await send(events[start : start + BATCH])
        totals.pages += 1
        totals.records += len(page.records)
        totals.events += len(events)
        if state is not None:
            if page.next is not None:
                state.save(page.next, totals)
            else:
                state.finish()
        progress(totals)
        request = page.next
    return totals
