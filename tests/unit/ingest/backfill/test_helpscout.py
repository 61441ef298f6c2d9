"""Backfill of Help Scout (services/ingest/backfill/helpscout.py): List Conversations pages (HAL, threads embedded)
served by a local HTTP server, shaped as the Mailbox API 2.0 gives them; the events each conversation gives, the
backlog they count, the skipped ones, a rate limit, resuming, and the settings."""

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
from services.ingest.backfill import helpscout
from services.ingest.backfill.run import StateFile, run
from services.ingest.backfill.source import BackfillError
from tests.support import recompute
from tests.support.serving import served

PAGES = Path(__file__).resolve().parents[3] / "fixtures" / "backfill" / "helpscout"
TOKEN = "hs-access-token"
SINCE_MS = 1_793_750_400_000  # 2026-11-04T00:00:00Z
ENV = {"DESKPULSE_BACKFILL_HELPSCOUT_ACCESS_TOKEN": TOKEN}


class FakeHelpScout:
    """List Conversations: the two fixture pages, their links pointing here; optionally 429s first."""

    def __init__(self, limited: int = 0) -> None:
        self.limited = limited
        self.requests: list[dict[str, str]] = []
        self.base = ""

    async def conversations(self, request: Request) -> JSONResponse:
        if request.headers.get("authorization") != f"Bearer {TOKEN}":
            return JSONResponse({"error": "invalid_token"}, status_code=401)
        self.requests.append(dict(request.query_params))
        if self.limited:
            self.limited -= 1
            headers = {"X-RateLimit-Retry-After": "7", "Retry-After": "7"}  # fetch.py reads only Retry-After
            return JSONResponse({"message": "Rate limit exceeded"}, status_code=429, headers=headers)
        page = request.query_params.get("page", "1")
        text = (PAGES / f"page{page}.json").read_text().replace("https://api.helpscout.net", self.base)
        return JSONResponse(json.loads(text), media_type="application/hal+json")

    def app(self) -> Starlette:
        return Starlette(routes=[Route(helpscout.PATH, self.conversations)])


async def backfill(url: str, environ: dict | None = None, **kwargs) -> tuple[list[dict], object]:
    sent: list[dict] = []

    async def send(events):
        sent.extend(events)

    async with httpx.AsyncClient() as client:
        connection = helpscout.connect(environ or ENV, url)
        totals = await run(helpscout, connection, client, send, since_ms=SINCE_MS, **kwargs)
    return sent, totals


def test_each_conversation_gives_the_events_the_webhooks_would_have_with_stable_ids():
    fake = FakeHelpScout()
    with served(fake.app()) as url:
        fake.base = url
        events, totals = asyncio.run(backfill(url))
        again, _ = asyncio.run(backfill(url))
    assert (totals.pages, totals.records, totals.skipped) == (2, 5, 0) and totals.events == len(events)
    assert [json.dumps(e, sort_keys=True) for e in again] == [json.dumps(e, sort_keys=True) for e in events]
    assert fake.requests[0] == {"status": "all", "modifiedSince": "2026-11-04T00:00:00Z", "embed": "threads",
                                "sortField": "createdAt", "sortOrder": "desc"}
    assert fake.requests[1] == {**fake.requests[0], "page": "2"}  # _links.next, query kept
    for document in events:
        parse_event(document)
    by_id = {e["event_id"]: e for e in events}
    assert len(by_id) == len(events)
    assert {e["contact_id"] for e in events} == {"2001", "2002", "2004", "2005"}  # not 2003, spam
    assert all(e["platform"] == "helpscout" and e["account"] is None for e in events)
    created = by_id["helpscout:backfill:2001:created"]
    assert (created["queue_id"], created["channel"], created["occurred_at"]) == (
        "301", "email", "2026-11-18T09:10:00.000Z")
    assert created["attributes"] == {"backfilled": True} and "status" not in created
    assert [e["type"] for e in events if e["contact_id"] == "2001"] == ["contact.created", "contact.status_changed"]
    reply = by_id["helpscout:backfill:2002:first-reply"]  # the user's chat thread, not the draft before it
    assert (reply["author"], reply["public"], reply["agent_id"], reply["occurred_at"], reply["channel"]) == (
        "agent", True, "41", "2026-11-18T08:03:00.000Z", "chat")
    assert by_id["helpscout:backfill:2002:assigned"]["occurred_at"] == "2026-11-18T08:01:00.000Z"  # the line item
    closed = by_id["helpscout:backfill:2004:status:closed"]
    assert (closed["occurred_at"], closed["attributes"]) == ("2026-11-17T11:00:00.000Z", {"raw_status": "closed"})
    rated = by_id["helpscout:backfill:2004:rated"]
    assert (rated["rating"], rated["agent_id"], rated["occurred_at"]) == (
        {"label": "good", "score": 3.0, "scale_max": 3.0}, "42", "2026-11-17T10:45:00.000Z")
    pending = by_id["helpscout:backfill:2005:status:pending"]  # snoozed: Help Scout keeps the status
    assert pending["occurred_at"] == "2026-11-16T14:00:00.000Z"


def test_the_backlog_counts_as_it_stands_in_help_scout():
    fake = FakeHelpScout()
    with served(fake.app()) as url:
        fake.base = url
        events, _ = asyncio.run(backfill(url))
    live, counted = recompute.live(events), recompute.figures(events)
    sales, support = live["queue/helpscout/301"], live["queue/helpscout/302"]
    assert (sales["open"], sales["waiting"], sales["unassigned"]) == (2, 1, 1)  # 2001 unanswered; 2002 answered
    assert (support["open"], support["pending"], support["waiting"]) == (1, 1, 0)  # 2005; 2004 closed
    assert counted["queue/helpscout/302"]["resolved"] == 1 and counted["agent/helpscout/42"]["resolved"] == 1
    assert (counted["queue/helpscout/301"]["fr_count"], counted["queue/helpscout/301"]["fr_ms"]) == (1, 3 * 60_000)
    assert (counted["queue/helpscout/302"]["fr_count"], counted["queue/helpscout/302"]["fr_ms"]) == (
        2, (45 + 60) * 60_000)
    assert counted["agent/helpscout/41"]["fr_count"] == 1  # the record says who replied first
    assert counted["queue/helpscout/302"]["csat_good"] == 1


def test_a_rate_limit_waits_what_retry_after_says():
    fake = FakeHelpScout(limited=1)
    waits: list[float] = []

    async def sleep(seconds):
        waits.append(seconds)

    with served(fake.app()) as url:
        fake.base = url
        events, totals = asyncio.run(backfill(url, sleep=sleep))
    assert waits == [7.0] and totals.pages == 2 and len({e["contact_id"] for e in events}) == 4


def test_an_interrupted_backfill_resumes_at_the_next_link(tmp_path):
    fake = FakeHelpScout()
    state = StateFile(tmp_path / "helpscout-default.json", "helpscout", None)
    sent: list[dict] = []

    async def failing_second_page(events):
        if sent and events[0]["contact_id"] not in {e["contact_id"] for e in sent}:
            raise ConnectionError("ingest went away")
        sent.extend(events)

    async def rest(events):
        sent.extend(events)

    with served(fake.app()) as url:
        fake.base = url
        with pytest.raises(ConnectionError):
            asyncio.run(_run(url, state, failing_second_page))
        assert json.loads(state.path.read_text())["next"]["url"].endswith("&page=2")
        first = len(fake.requests)
        totals = asyncio.run(_run(url, state, rest))
    assert fake.requests[first]["page"] == "2" and totals.pages == 2 and not state.path.exists()
    assert {e["contact_id"] for e in sent} == {"2001", "2002", "2004", "2005"}


async def _run(url, state, send):
    async with httpx.AsyncClient() as client:
        return await run(helpscout, helpscout.connect(ENV, url), client, send, since_ms=SINCE_MS, state=state)


def test_settings_credentials_and_the_account():
    with pytest.raises(BackfillError, match="set DESKPULSE_BACKFILL_HELPSCOUT_ACCESS_TOKEN"):
        helpscout.connect({})
    connection = helpscout.connect(ENV)
    assert (connection.base_url, connection.account) == ("https://api.helpscout.net", None)
    assert connection.headers == {"Authorization": f"Bearer {TOKEN}"} and TOKEN not in repr(connection)
    assert helpscout.first(connection, SINCE_MS).url == "https://api.helpscout.net/v2/conversations"
    named = helpscout.connect({**ENV, "DESKPULSE_BACKFILL_HELPSCOUT_URL": "http://127.0.0.1:9/",
                               "DESKPULSE_BACKFILL_HELPSCOUT_ACCOUNT": "acme"})
    assert (named.base_url, named.account) == ("http://127.0.0.1:9", "acme")  # as /webhooks/helpscout/acme gives
    fake = FakeHelpScout()
    with served(fake.app()) as url:
        fake.base = url
        events, _ = asyncio.run(backfill(url, {**ENV, "DESKPULSE_BACKFILL_HELPSCOUT_ACCOUNT": "acme"}))
        assert {e["account"] for e in events} == {"acme"}
        with pytest.raises(BackfillError, match="refused the credentials \\(401"):
            asyncio.run(backfill(url, {"DESKPULSE_BACKFILL_HELPSCOUT_ACCESS_TOKEN": "nope"}))
