"""Backfill of Zammad (services/ingest/backfill/zammad.py): ticket search pages shaped as docs.zammad.org documents
them, served by a local HTTP server; the events, the backlog they count, time-keyed paging, a 429, settings."""

import asyncio
import json
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from services.common.events import parse_event
from services.ingest.backfill import zammad
from services.ingest.backfill.run import run
from services.ingest.backfill.source import BackfillError
from tests.support import recompute
from tests.support.serving import served

PAGES = Path(__file__).resolve().parents[3] / "fixtures" / "backfill" / "zammad"
TOKEN = "zm-access-token"
SINCE_MS = 1_793_750_400_000  # 2026-11-04T00:00:00Z
BY_QUERY = {
    "updated_at:[2026-11-04T00:00:00.000Z TO *]": "page1.json",
    "updated_at:[2026-11-18T09:00:00.000Z TO *]": "page2.json",
    "updated_at:[2026-11-19T08:00:00.000Z TO *]": "page3.json",
}


@pytest.fixture(autouse=True)
def small_pages(monkeypatch):
    monkeypatch.setattr(zammad, "PER_PAGE", 3)  # the fixtures' pages hold 3 tickets when full


class FakeZammad:
    """The ticket search of one Zammad: pages chosen by the query's lower bound, optionally a 429 first."""

    def __init__(self, limited: int = 0) -> None:
        self.limited = limited
        self.queries: list[dict] = []

    async def search(self, request: Request) -> JSONResponse:
        self.queries.append(dict(request.query_params))
        if request.headers.get("authorization") != f"Token token={TOKEN}":
            return JSONResponse({"error": "Authentication required"}, status_code=401)
        if self.limited:
            self.limited -= 1
            return JSONResponse({"error": "Too Many Requests"}, status_code=429, headers={"Retry-After": "4"})
        query = request.query_params
        assert (query["sort_by"], query["order_by"], query["expand"], query["per_page"]) == ("updated_at", "asc",
                                                                                              "true", "3")
        return JSONResponse(json.loads((PAGES / BY_QUERY[query["query"]]).read_text()))

    def app(self) -> Starlette:
        return Starlette(routes=[Route(zammad.PATH, self.search)])


async def backfill(base: str, token: str = TOKEN, **kwargs) -> tuple[list[dict], object]:
    sent: list[dict] = []

    async def send(events):
        sent.extend(events)

    connection = zammad.connect({"DESKPULSE_BACKFILL_ZAMMAD_TOKEN": token}, base)
    async with httpx.AsyncClient() as client:
        totals = await run(zammad, connection, client, send, since_ms=SINCE_MS, **kwargs)
    return sent, totals


def test_each_ticket_becomes_the_events_the_webhook_would_have_given_with_stable_ids():
    fake = FakeZammad()
    with served(fake.app()) as url:
        events, totals = asyncio.run(backfill(url))
        again, _ = asyncio.run(backfill(url))
    # three pages, the boundary tickets (103, 105) twice: their events have the same ids and count once
    assert (totals.pages, totals.records, totals.skipped) == (3, 7, 0) and totals.events == len(events)
    assert [q["query"] for q in fake.queries[:3]] == list(BY_QUERY)
    assert [json.dumps(e, sort_keys=True) for e in again] == [json.dumps(e, sort_keys=True) for e in events]
    for document in events:
        parse_event(document)  # every one valid
    by_id = {e["event_id"]: e for e in events}
    assert {e["contact_id"] for e in events} == {"101", "102", "103", "104", "105"}
    assert sorted(by_id) == sorted([
        "zammad:backfill:101:created",
        "zammad:backfill:102:created", "zammad:backfill:102:assigned", "zammad:backfill:102:first-reply",
        "zammad:backfill:102:status:open",
        "zammad:backfill:103:created", "zammad:backfill:103:assigned", "zammad:backfill:103:first-reply",
        "zammad:backfill:103:status:closed",
        "zammad:backfill:104:created", "zammad:backfill:104:assigned", "zammad:backfill:104:first-reply",
        "zammad:backfill:104:status:pending",
        "zammad:backfill:105:created", "zammad:backfill:105:status:closed",
    ])  # 101: owner "-" is nobody, no response, still new; 105: merged (closed, as the webhook maps it)
    created = by_id["zammad:backfill:102:created"]
    assert {k: created[k] for k in ("platform", "account", "queue_id", "channel", "priority", "status",
                                    "occurred_at", "attributes")} == {
        "platform": "zammad", "account": None, "queue_id": "2", "channel": "web", "priority": "high",
        "status": "new", "occurred_at": "2026-11-16T09:00:00.000Z",
        "attributes": {"raw_state": "open", "backfilled": True}}
    assigned = by_id["zammad:backfill:102:assigned"]
    assert (assigned["agent_id"], assigned["occurred_at"]) == ("4", "2026-11-16T09:20:00.000Z")
    reply = by_id["zammad:backfill:102:first-reply"]
    assert (reply["author"], reply["public"], reply["occurred_at"]) == ("agent", True, "2026-11-16T09:40:00.000Z")
    assert "agent_id" not in reply  # who responded first is not in the record: no agent credited
    closed = by_id["zammad:backfill:103:status:closed"]
    assert (closed["occurred_at"], closed["channel"]) == ("2026-11-17T18:00:00.000Z", "voice")  # close_at
    pending = by_id["zammad:backfill:104:status:pending"]
    assert (pending["occurred_at"], pending["channel"], pending["priority"]) == ("2026-11-18T11:00:00.000Z", "chat",
                                                                                   "low")
    assert by_id["zammad:backfill:105:status:closed"]["occurred_at"] == "2026-11-19T08:00:00.000Z"  # no close_at


def test_the_backlog_counts_once_backfilled():
    fake = FakeZammad()
    with served(fake.app()) as url:
        events, _ = asyncio.run(backfill(url))
    live, counted = recompute.live(events), recompute.figures(events)
    billing, shipping = live["queue/zammad/2"], live["queue/zammad/3"]
    assert (billing["open"], billing["waiting"], billing["unassigned"]) == (2, 1, 1)  # 101 new, 102 answered
    assert (shipping["open"], shipping["pending"], shipping["waiting"]) == (1, 1, 0)  # 104; 103 and 105 closed
    assert counted["queue/zammad/3"]["resolved"] == 2
    assert (counted["queue/zammad/2"]["fr_count"], counted["queue/zammad/2"]["fr_ms"]) == (1, 40 * 60_000)
    assert (counted["queue/zammad/3"]["fr_count"], counted["queue/zammad/3"]["fr_ms"]) == (2, 45 * 60_000)
    assert live["agent/zammad/5"]["open"] == 1  # 104


def test_a_rate_limit_waits_what_retry_after_says():
    fake = FakeZammad(limited=1)
    waits: list[float] = []

    async def sleep(seconds):
        waits.append(seconds)

    with served(fake.app()) as url:
        events, totals = asyncio.run(backfill(url, sleep=sleep))
    assert waits == [4.0] and totals.pages == 3 and events


def test_a_full_page_changed_in_one_instant_steps_past_it():
    page = json.loads((PAGES / "page1.json").read_text())
    for ticket in page:
        ticket["updated_at"] = "2026-11-18T09:00:00.000Z"
    connection = zammad.connect({"DESKPULSE_BACKFILL_ZAMMAD_TOKEN": TOKEN}, "https://desk.acme.example/")
    following = zammad.parse(page, connection).next
    assert following is not None and following.params["query"] == "updated_at:[2026-11-18T09:00:00.001Z TO *]"
    assert following.url == "https://desk.acme.example/api/v1/tickets/search"
    assert zammad.parse(page[:2], connection).next is None  # fewer than a page: the end
    with pytest.raises(BackfillError, match="other than a list"):
        zammad.parse({"tickets": [1], "tickets_count": 1, "assets": {}}, connection)  # not expanded


def test_refused_credentials_and_missing_settings_say_what_to_set():
    fake = FakeZammad()
    with served(fake.app()) as url, pytest.raises(BackfillError, match="refused the credentials \\(401"):
        asyncio.run(backfill(url, token="nope"))
    with pytest.raises(BackfillError, match="set DESKPULSE_BACKFILL_ZAMMAD_URL, DESKPULSE_BACKFILL_ZAMMAD_TOKEN"):
        zammad.connect({})
    with pytest.raises(BackfillError, match="set DESKPULSE_BACKFILL_ZAMMAD_TOKEN \\("):
        zammad.connect({"DESKPULSE_BACKFILL_ZAMMAD_URL": "https://desk.acme.example"})
    connection = zammad.connect({"DESKPULSE_BACKFILL_ZAMMAD_URL": "https://desk.acme.example/",
                                 "DESKPULSE_BACKFILL_ZAMMAD_TOKEN": TOKEN})
    assert TOKEN not in repr(connection) and connection.base_url == "https://desk.acme.example"
    assert connection.account is None  # the webhook adapter takes no account from the URL either
