"""Backfill of Chatwoot (services/ingest/backfill/chatwoot.py): the conversation list's pages served by a local
HTTP server, shaped as Chatwoot's API gives them; the events each conversation gives, the backlog they count,
where paging stops, a rate limit, and the settings."""

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
from services.ingest.backfill import chatwoot
from services.ingest.backfill.run import StateFile, Totals, run
from services.ingest.backfill.source import BackfillError
from tests.support import recompute
from tests.support.serving import served

PAGES = Path(__file__).resolve().parents[3] / "fixtures" / "backfill" / "chatwoot"
ACCOUNT, TOKEN = "3", "cw-access-token"
SINCE_MS = 1_793_750_400_000  # 2026-11-04T00:00:00Z: conversation 106's last activity (2026-10-20) is older
ENV = {"DESKPULSE_BACKFILL_CHATWOOT_ACCOUNT_ID": ACCOUNT, "DESKPULSE_BACKFILL_CHATWOOT_API_TOKEN": TOKEN}


class FakeChatwoot:
    """The conversation list of account 3: pages 1 and 2 of the fixtures, then empty; optionally 429s first."""

    def __init__(self, limited: int = 0) -> None:
        self.limited = limited
        self.requests: list[dict[str, str]] = []

    async def conversations(self, request: Request) -> JSONResponse:
        if request.headers.get("api_access_token") != TOKEN:
            return JSONResponse({"errors": ["Invalid Access Token"]}, status_code=401)
        self.requests.append(dict(request.query_params))
        if self.limited:
            self.limited -= 1
            return JSONResponse({"error": "Retry later"}, status_code=429, headers={"Retry-After": "7"})
        page = request.query_params.get("page", "1")
        if page in ("1", "2"):
            return JSONResponse(json.loads((PAGES / f"page{page}.json").read_text()))
        return JSONResponse({"data": {"meta": {"all_count": 6}, "payload": []}})

    def app(self) -> Starlette:
        return Starlette(routes=[Route(chatwoot.PATH.format(account=ACCOUNT), self.conversations)])


async def backfill(url: str, **kwargs) -> tuple[list[dict], object]:
    sent: list[dict] = []

    async def send(events):
        sent.extend(events)

    async with httpx.AsyncClient() as client:
        totals = await run(chatwoot, chatwoot.connect(ENV, url), client, send, since_ms=SINCE_MS, **kwargs)
    return sent, totals


def test_each_conversation_gives_the_events_the_webhooks_would_have_with_stable_ids():
    fake = FakeChatwoot()
    with served(fake.app()) as url:
        events, totals = asyncio.run(backfill(url))
        again, _ = asyncio.run(backfill(url))
    assert (totals.pages, totals.records, totals.skipped) == (2, 5, 0) and totals.events == len(events)
    assert [json.dumps(e, sort_keys=True) for e in again] == [json.dumps(e, sort_keys=True) for e in events]
    assert fake.requests[0] == {"status": "all", "assignee_type": "all", "sort_by": "last_activity_at_desc",
                                "page": "1"}
    assert [r["page"] for r in fake.requests] == ["1", "2"] * 2  # no page 3: 106 is older than the start
    for document in events:
        parse_event(document)
    by_id = {e["event_id"]: e for e in events}
    assert len(by_id) == len(events)
    assert {e["contact_id"] for e in events} == {"101", "102", "103", "104", "105"}  # not 106
    assert all(e["platform"] == "chatwoot" and e["account"] == "3" for e in events)
    created = by_id["chatwoot:backfill:101:created"]
    assert (created["queue_id"], created["channel"], created["occurred_at"]) == (
        "7", "chat", "2026-11-18T09:30:00.000Z")
    assert created["attributes"] == {"backfilled": True} and "status" not in created
    assert not any(e["contact_id"] == "101" and e["type"] in ("contact.message", "contact.assigned") for e in events)
    reply = by_id["chatwoot:backfill:102:first-reply"]
    assert (reply["author"], reply["public"], reply["occurred_at"]) == ("agent", True, "2026-11-18T08:25:00.000Z")
    assert "agent_id" not in reply  # who replied first is not in the record
    assert by_id["chatwoot:backfill:102:assigned"]["agent_id"] == "12"
    snoozed = by_id["chatwoot:backfill:103:status:on_hold"]
    assert (snoozed["occurred_at"], snoozed["attributes"]) == ("2026-11-17T16:00:00.000Z", {"raw_status": "snoozed"})
    assert by_id["chatwoot:backfill:104:created"]["channel"] == "other"  # Channel::Api
    assert by_id["chatwoot:backfill:104:status:pending"]["status"] == "pending"
    solved = by_id["chatwoot:backfill:105:status:solved"]
    assert (solved["queue_id"], solved["channel"], solved["occurred_at"]) == ("8", "email", "2026-11-17T10:00:00.000Z")
    assert not any(e["type"] == "contact.rated" or "priority" in e for e in events)  # neither is in the adapter


def test_the_backlog_counts_as_it_stands_in_chatwoot():
    fake = FakeChatwoot()
    with served(fake.app()) as url:
        events, _ = asyncio.run(backfill(url))
    live, counted = recompute.live(events), recompute.figures(events)
    web, mail = live["queue/chatwoot/7"], live["queue/chatwoot/8"]
    assert (web["open"], web["waiting"], web["unassigned"]) == (2, 1, 1)  # 101 unanswered; 102 answered
    assert (mail["open"], mail["pending"], mail["on_hold"], mail["waiting"]) == (2, 1, 1, 1)  # 104, 103; 105 done
    assert live["account/chatwoot/3"]["open"] == 4
    assert counted["queue/chatwoot/8"]["resolved"] == 1
    assert (counted["queue/chatwoot/7"]["fr_count"], counted["queue/chatwoot/7"]["fr_ms"]) == (1, 25 * 60_000)
    assert (counted["queue/chatwoot/8"]["fr_count"], counted["queue/chatwoot/8"]["fr_ms"]) == (2, 80 * 60_000)


def test_a_rate_limit_waits_what_retry_after_says():
    fake = FakeChatwoot(limited=1)
    waits: list[float] = []

    async def sleep(seconds):
        waits.append(seconds)

    with served(fake.app()) as url:
        events, totals = asyncio.run(backfill(url, sleep=sleep))
    assert waits == [7.0] and totals.pages == 2 and len({e["contact_id"] for e in events}) == 5


def test_paging_stops_at_an_empty_page_or_once_all_count_are_read():
    connection = chatwoot.connect(ENV, "https://chat.acme.example/")
    request = chatwoot.first(connection, SINCE_MS)
    assert request.url == "https://chat.acme.example/api/v1/accounts/3/conversations"
    page1 = json.loads((PAGES / "page1.json").read_text())
    page = chatwoot.parse(page1, connection, request, SINCE_MS)
    assert len(page.records) == 3 and page.next is not None and page.next.params["page"] == 2
    empty = {"data": {"meta": {"all_count": 6}, "payload": []}}
    assert chatwoot.parse(empty, connection, page.next, SINCE_MS).next is None
    page1["data"]["meta"]["all_count"] = 3  # 3 on page 1: all of them
    assert chatwoot.parse(page1, connection, request, SINCE_MS).next is None


def test_a_resumed_backfill_goes_on_at_the_saved_page(tmp_path):
    """The page number is in the saved request: a resumed Chatwoot backfill asks for that page first."""
    fake = FakeChatwoot()
    state = StateFile(tmp_path / "chatwoot-3.json", "chatwoot", ACCOUNT)
    sent: list[dict] = []

    async def go(url):
        async with httpx.AsyncClient() as client:
            return await run(chatwoot, chatwoot.connect(ENV, url), client, lambda e: asyncio.sleep(0, sent.extend(e)),
                             since_ms=SINCE_MS, state=state)

    with served(fake.app()) as url:
        state.save(chatwoot._request(chatwoot.connect(ENV, url), 2), Totals(pages=1, records=3, events=9))
        totals = asyncio.run(go(url))
    assert fake.requests[0] == {"status": "all", "assignee_type": "all", "sort_by": "last_activity_at_desc",
                                "page": "2"}
    assert totals.pages == 2 and sent and not state.path.exists()


def test_settings_credentials_and_the_account():
    every = ("DESKPULSE_BACKFILL_CHATWOOT_URL, DESKPULSE_BACKFILL_CHATWOOT_ACCOUNT_ID, "
             "DESKPULSE_BACKFILL_CHATWOOT_API_TOKEN")
    with pytest.raises(BackfillError, match="set " + every):
        chatwoot.connect({})
    with pytest.raises(BackfillError, match="set DESKPULSE_BACKFILL_CHATWOOT_API_TOKEN"):
        chatwoot.connect({"DESKPULSE_BACKFILL_CHATWOOT_ACCOUNT_ID": "3"}, "https://chat.acme.example")
    with pytest.raises(BackfillError, match="ACCOUNT_ID is the account's number"):
        chatwoot.connect({**ENV, "DESKPULSE_BACKFILL_CHATWOOT_ACCOUNT_ID": "acme"}, "https://chat.acme.example")
    connection = chatwoot.connect({**ENV, "DESKPULSE_BACKFILL_CHATWOOT_URL": "https://app.chatwoot.com/"})
    assert (connection.base_url, connection.account) == ("https://app.chatwoot.com", "3")
    assert TOKEN not in repr(connection)
    fake = FakeChatwoot()
    with served(fake.app()) as url:
        wrong = chatwoot.connect({**ENV, "DESKPULSE_BACKFILL_CHATWOOT_API_TOKEN": "nope"}, url)

        async def go():
            async with httpx.AsyncClient() as client:
                await run(chatwoot, wrong, client, lambda e: asyncio.sleep(0), since_ms=SINCE_MS)

        with pytest.raises(BackfillError, match="refused the credentials \\(401"):
            asyncio.run(go())
