"""Backfill of Freshdesk (services/ingest/backfill/freshdesk.py): ticket, group and agent lists shaped as Freshdesk
documents them, served by a local HTTP server; the events, the backlog they count, time-keyed paging, a 429,
settings."""

import asyncio
import base64
import json
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from services.common.events import parse_event
from services.ingest.backfill import freshdesk
from services.ingest.backfill.run import run
from services.ingest.backfill.source import BackfillError
from tests.support import recompute
from tests.support.serving import served

FILES = Path(__file__).resolve().parents[3] / "fixtures" / "backfill" / "freshdesk"
KEY = "fd-api-key"
SINCE_MS = 1_793_750_400_000  # 2026-11-04T00:00:00Z
BY_SINCE = {
    "2026-11-04T00:00:00Z": "page1.json",
    "2026-11-17T10:29:59Z": "page2.json",
    "2026-11-19T17:59:59Z": "page3.json",
}


@pytest.fixture(autouse=True)
def small_pages(monkeypatch):
    monkeypatch.setattr(freshdesk, "PER_PAGE", 3)  # the fixtures' ticket pages hold 3 tickets when full


class FakeFreshdesk:
    """One Freshdesk account's tickets (pages chosen by ``updated_since``), groups and agents; optionally 429s."""

    def __init__(self, limited: int = 0) -> None:
        self.limited = limited
        self.requests: list[tuple[str, dict]] = []

    def _refused(self, request: Request) -> JSONResponse | None:
        self.requests.append((request.url.path, dict(request.query_params)))
        expected = "Basic " + base64.b64encode(f"{KEY}:X".encode()).decode()
        if request.headers.get("authorization") != expected:
            return JSONResponse({"code": "invalid_credentials", "message": "You have to be logged in to perform this "
                                 "action."}, status_code=401)
        return None

    async def tickets(self, request: Request) -> JSONResponse:
        if (refused := self._refused(request)) is not None:
            return refused
        if self.limited:
            self.limited -= 1
            return JSONResponse({"code": "rate_limit"}, status_code=429, headers={"Retry-After": "9"})
        query = request.query_params
        assert (query["order_by"], query["order_type"], query["include"], query["per_page"]) == ("updated_at", "asc",
                                                                                                 "stats", "3")
        return JSONResponse(json.loads((FILES / BY_SINCE[query["updated_since"]]).read_text()))

    async def groups(self, request: Request) -> JSONResponse:
        return self._refused(request) or JSONResponse(json.loads((FILES / "groups.json").read_text()))

    async def agents(self, request: Request) -> JSONResponse:
        return self._refused(request) or JSONResponse(json.loads((FILES / "agents.json").read_text()))

    def app(self) -> Starlette:
        return Starlette(routes=[Route(freshdesk.PATH, self.tickets), Route(freshdesk.GROUPS, self.groups),
                                 Route(freshdesk.AGENTS, self.agents)])


async def backfill(base: str, key: str = KEY, **kwargs) -> tuple[list[dict], object]:
    sent: list[dict] = []

    async def send(events):
        sent.extend(events)

    connection = freshdesk.connect({"DESKPULSE_BACKFILL_FRESHDESK_API_KEY": key}, base)
    async with httpx.AsyncClient() as client:
        totals = await run(freshdesk, connection, client, send, since_ms=SINCE_MS, **kwargs)
    return sent, totals


def test_each_ticket_becomes_the_events_the_webhook_would_have_given_with_stable_ids():
    fake = FakeFreshdesk()
    with served(fake.app()) as url:
        events, totals = asyncio.run(backfill(url))
        again, _ = asyncio.run(backfill(url))
    # three pages, the boundary tickets (1003, 1004) twice: their events have the same ids and count once
    assert (totals.pages, totals.records, totals.skipped) == (3, 7, 0) and totals.events == len(events)
    tickets = [query["updated_since"] for path, query in fake.requests if path == freshdesk.PATH]
    assert tickets[:3] == list(BY_SINCE)
    first_run = [path for path, _ in fake.requests[:5]]  # the names once per run (prepare), before the first page
    assert first_run == [freshdesk.GROUPS, freshdesk.AGENTS, freshdesk.PATH, freshdesk.PATH, freshdesk.PATH]
    assert sum(path == freshdesk.GROUPS for path, _ in fake.requests) == 2
    assert [json.dumps(e, sort_keys=True) for e in again] == [json.dumps(e, sort_keys=True) for e in events]
    for document in events:
        parse_event(document)  # every one valid
    by_id = {e["event_id"]: e for e in events}
    assert not any(e["contact_id"] == "1002" for e in events)  # spam
    assert sorted(by_id) == sorted([
        "freshdesk:backfill:1001:created",
        "freshdesk:backfill:1003:created", "freshdesk:backfill:1003:assigned", "freshdesk:backfill:1003:first-reply",
        "freshdesk:backfill:1004:created", "freshdesk:backfill:1004:assigned", "freshdesk:backfill:1004:first-reply",
        "freshdesk:backfill:1004:status:solved", "freshdesk:backfill:1004:status:closed",
        "freshdesk:backfill:1005:created", "freshdesk:backfill:1005:assigned", "freshdesk:backfill:1005:first-reply",
        "freshdesk:backfill:1005:status:pending",
    ])
    created = by_id["freshdesk:backfill:1001:created"]
    assert {k: created[k] for k in ("platform", "account", "queue_id", "channel", "priority", "status",
                                    "occurred_at", "attributes")} == {
        "platform": "freshdesk", "account": None, "queue_id": "Billing", "channel": "email", "priority": "high",
        "status": "open", "occurred_at": "2026-11-16T08:12:40.000Z",
        "attributes": {"tags": ["billing", "vat"], "ticket_type": "Question", "backfilled": True}}
    assigned = by_id["freshdesk:backfill:1003:assigned"]  # the agent by e-mail, as the webhook gives it
    assert (assigned["agent_id"], assigned["occurred_at"], assigned["channel"]) == (
        "anna@acme.example", "2026-11-16T09:00:00.000Z", "web")
    reply = by_id["freshdesk:backfill:1003:first-reply"]
    assert (reply["author"], reply["public"], reply["occurred_at"]) == ("agent", True, "2026-11-16T09:40:00.000Z")
    assert "agent_id" not in reply  # who responded first is not in the record: no agent credited
    solved, closed = by_id["freshdesk:backfill:1004:status:solved"], by_id["freshdesk:backfill:1004:status:closed"]
    assert (solved["occurred_at"], closed["occurred_at"]) == ("2026-11-17T18:00:00.000Z", "2026-11-19T18:00:00.000Z")
    assert closed["attributes"] == {"raw_status": 5, "tags": ["damage"], "ticket_type": "Problem"}
    assert (closed["queue_id"], closed["channel"]) == ("Shipping", "voice")
    pending = by_id["freshdesk:backfill:1005:status:pending"]
    assert (pending["occurred_at"], pending["channel"], pending["priority"]) == ("2026-11-18T10:16:00.000Z", "chat",
                                                                                   "low")


def test_the_backlog_counts_once_backfilled():
    fake = FakeFreshdesk()
    with served(fake.app()) as url:
        events, _ = asyncio.run(backfill(url))
    live, counted = recompute.live(events), recompute.figures(events)
    billing, shipping = live["queue/freshdesk/Billing"], live["queue/freshdesk/Shipping"]
    assert (billing["open"], billing["waiting"], billing["unassigned"]) == (2, 1, 1)  # 1001 unanswered; 1003
    assert (shipping["open"], shipping["pending"], shipping["waiting"]) == (1, 1, 0)  # 1005; 1004 closed
    assert counted["queue/freshdesk/Shipping"]["resolved"] == 1
    assert counted["queue/freshdesk/Shipping"]["res_ms"] == 10 * 3_600_000  # resolved_at, not closed_at
    assert (counted["queue/freshdesk/Billing"]["fr_count"], counted["queue/freshdesk/Billing"]["fr_ms"]) == (
        1, 40 * 60_000)
    assert (counted["queue/freshdesk/Shipping"]["fr_count"], counted["queue/freshdesk/Shipping"]["fr_ms"]) == (
        2, 45 * 60_000)
    assert counted["agent/freshdesk/ben@acme.example"]["resolved"] == 1
    assert live["agent/freshdesk/ben@acme.example"]["open"] == 1  # 1005


def test_a_rate_limit_waits_what_retry_after_says():
    fake = FakeFreshdesk(limited=2)
    waits: list[float] = []

    async def sleep(seconds):
        waits.append(seconds)

    with served(fake.app()) as url:
        events, totals = asyncio.run(backfill(url, sleep=sleep))
    assert waits == [9.0, 9.0] and totals.pages == 3 and events


def test_paging_by_time_steps_past_a_page_changed_within_a_second():
    page = json.loads((FILES / "page1.json").read_text())
    for ticket in page:
        ticket["updated_at"] = "2026-11-17T10:30:00Z"
    connection = freshdesk.connect({"DESKPULSE_BACKFILL_FRESHDESK_API_KEY": KEY}, "https://acme.freshdesk.com/")
    connection.names.update(groups={}, agents={})  # nothing to read: no server here
    following = freshdesk.parse(page, connection).next
    assert following is not None and following.params["updated_since"] == "2026-11-17T10:30:01Z"
    assert following.url == "https://acme.freshdesk.com/api/v2/tickets"
    assert freshdesk.parse(page[:2], connection).next is None  # fewer than a page: the end
    with pytest.raises(BackfillError, match="other than a list"):
        freshdesk.parse({"errors": []}, connection)


def test_refused_credentials_and_missing_settings_say_what_to_set():
    fake = FakeFreshdesk()
    with served(fake.app()) as url, pytest.raises(BackfillError, match="refused the credentials \\(401"):
        asyncio.run(backfill(url, key="nope"))
    with pytest.raises(BackfillError, match="set DESKPULSE_BACKFILL_FRESHDESK_URL, DESKPULSE_BACKFILL_FRESHDESK_API"):
        freshdesk.connect({})
    with pytest.raises(BackfillError, match="set DESKPULSE_BACKFILL_FRESHDESK_API_KEY \\("):
        freshdesk.connect({"DESKPULSE_BACKFILL_FRESHDESK_URL": "https://acme.freshdesk.com"})
    connection = freshdesk.connect({"DESKPULSE_BACKFILL_FRESHDESK_URL": "https://acme.freshdesk.com/",
                                    "DESKPULSE_BACKFILL_FRESHDESK_API_KEY": KEY})
    assert KEY not in repr(connection) and base64.b64encode(f"{KEY}:X".encode()).decode() not in repr(connection)
    assert (connection.base_url, connection.account) == ("https://acme.freshdesk.com", "acme")
