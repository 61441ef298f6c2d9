"""Backfill (services/ingest/backfill/): Zendesk's export pages served by a local HTTP server, shaped as documented;
the events it makes, the backlog they count, rate limits, resuming, refusals, and the command end to end."""

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

from services import cli
from services.common.events import parse_event
from services.ingest.app import create_app as ingest_app
from services.ingest.backfill import zendesk
from services.ingest.backfill.fetch import retry_after
from services.ingest.backfill.run import StateFile, run
from services.ingest.backfill.source import BackfillError, Connection
from services.ingest.publisher import InMemoryPublisher
from services.ingest.secrets import SecretStore
from services.common.settings import Settings
from tests.support import recompute
from tests.support.serving import served

PAGES = Path(__file__).resolve().parents[2] / "fixtures" / "backfill" / "zendesk"
EMAIL, TOKEN = "ops@acme.example", "zd-api-token"
SINCE_MS = 1_793_750_400_000  # 2026-11-04T00:00:00Z: 30 days before the fixtures' last ticket, give or take


class FakeZendesk:
    """The Incremental Ticket Export of one account: two pages, optionally a 429 first, requests recorded."""

    def __init__(self, limited: int = 0) -> None:
        self.limited = limited
        self.requests: list[str] = []
        self.base = ""

    async def export(self, request: Request) -> JSONResponse:
        self.requests.append(str(request.url.query))
        expected = "Basic " + base64.b64encode(f"{EMAIL}/token:{TOKEN}".encode()).decode()
        if request.headers.get("authorization") != expected:
            return JSONResponse({"error": "Couldn't authenticate you"}, status_code=401)
        if self.limited:
            self.limited -= 1
            return JSONResponse({"error": "APIRateLimitExceeded"}, status_code=429, headers={"Retry-After": "7"})
        name = "page2.json" if request.query_params.get("cursor") else "page1.json"
        page = json.loads((PAGES / name).read_text())
        page["after_url"] = page["after_url"].replace("https://acme.zendesk.com", self.base)
        return JSONResponse(page)

    def app(self) -> Starlette:
        return Starlette(routes=[Route(zendesk.PATH, self.export)])


def connection(base: str) -> Connection:
    return zendesk.connect({"DESKPULSE_BACKFILL_ZENDESK_EMAIL": EMAIL, "DESKPULSE_BACKFILL_ZENDESK_API_TOKEN": TOKEN},
                           base)


async def backfill(base: str, **kwargs) -> tuple[list[dict], object]:
    sent: list[dict] = []

    async def send(events):
        sent.extend(events)

    async with httpx.AsyncClient() as client:
        totals = await run(zendesk, connection(base), client, send, since_ms=SINCE_MS, **kwargs)
    return sent, totals


def test_each_ticket_becomes_the_events_a_webhook_would_have_given_with_stable_ids():
    fake = FakeZendesk()
    with served(fake.app()) as url:
        fake.base = url
        events, totals = asyncio.run(backfill(url))
        again, _ = asyncio.run(backfill(url))
    assert (totals.pages, totals.records, totals.skipped) == (2, 5, 0) and totals.events == len(events)
    assert [json.dumps(e, sort_keys=True) for e in again] == [json.dumps(e, sort_keys=True) for e in events]
    assert fake.requests[0] == "start_time=1793750400&include=metric_sets&exclude_deleted=true"
    assert "cursor=" in fake.requests[1]
    for document in events:
        parse_event(document)  # every one valid
    by_id = {e["event_id"]: e for e in events}
    assert len(by_id) == len(events)
    assert not any(e["contact_id"] == "35438" for e in events)  # the deleted ticket
    created = by_id["zendesk:backfill:35436:created"]
    assert (created["queue_id"], created["channel"], created["priority"], created["occurred_at"]) == (
        "98738", "email", "high", "2026-11-16T08:12:40.000Z")
    assert created["attributes"]["tags"] == ["billing", "vat"] and created["attributes"]["backfilled"] is True
    reply = by_id["zendesk:backfill:35437:first-reply"]  # created 09:00 + 40 minutes
    assert (reply["author"], reply["public"], reply["occurred_at"]) == ("agent", True, "2026-11-16T09:40:00.000Z")
    assert "agent_id" not in reply  # who replied first is not in the record: no agent credited
    assert by_id["zendesk:backfill:35437:assigned"]["occurred_at"] == "2026-11-16T09:20:00.000Z"
    solved = by_id["zendesk:backfill:35439:status:solved"]
    assert solved["occurred_at"] == "2026-11-17T18:00:00.000Z"  # solved_at, not the later updated_at
    assert by_id["zendesk:backfill:35439:rated"]["rating"]["label"] == "good"
    assert all(e["account"] is None for e in events)  # a local server is no <account>.zendesk.com


def test_the_backlog_counts_once_backfilled():
    """What the backfill is for: the open contacts are waiting or answered as they are in Zendesk."""
    fake = FakeZendesk()
    with served(fake.app()) as url:
        fake.base = url
        events, _ = asyncio.run(backfill(url))
    live, counted = recompute.live(events), recompute.figures(events)
    billing, shipping = live["queue/zendesk/98738"], live["queue/zendesk/98739"]
    assert billing["open"] == 2 and billing["waiting"] == 1  # 35436 new and unanswered; 35437 answered
    assert shipping["open"] == 1 and shipping["pending"] == 1  # 35440 pending; 35439 solved
    assert counted["queue/zendesk/98739"]["resolved"] == 1
    assert counted["queue/zendesk/98738"]["fr_count"] == 1 and counted["queue/zendesk/98738"]["fr_ms"] == 40 * 60_000


def test_a_rate_limit_waits_what_retry_after_says():
    fake = FakeZendesk(limited=2)
    waits: list[float] = []

    async def sleep(seconds):
        waits.append(seconds)

    with served(fake.app()) as url:
        fake.base = url
        events, totals = asyncio.run(backfill(url, sleep=sleep))
    assert waits == [7.0, 7.0] and totals.pages == 2 and events
    assert retry_after("Wed, 18 Nov 2026 09:47:00 GMT", 1_794_995_200.0) == 20.0  # an HTTP date, 20 s on
    assert retry_after("soon", 0.0) is None and retry_after("3", 0.0) == 3.0


def test_an_interrupted_backfill_resumes_at_the_page_it_stopped_on(tmp_path):
    fake = FakeZendesk()
    state = StateFile(tmp_path / "zendesk-acme.json", "zendesk", None)
    sent: list[dict] = []

    async def failing_second_page(events):
        if sent and events[0]["contact_id"] not in {e["contact_id"] for e in sent}:
            raise ConnectionError("ingest went away")
        sent.extend(events)

    async def go(send):
        async with httpx.AsyncClient() as client:
            return await run(zendesk, connection(fake.base), client, send, since_ms=SINCE_MS, state=state)

    with served(fake.app()) as url:
        fake.base = url
        with pytest.raises(ConnectionError):
            asyncio.run(go(failing_second_page))
        assert json.loads(state.path.read_text())["totals"]["pages"] == 1  # page 1 sent and remembered
        first = len(fake.requests)

        async def rest(events):
            sent.extend(events)

        totals = asyncio.run(go(rest))
    assert fake.requests[first].startswith("cursor=")  # resumed at page 2, not from the start
    assert totals.pages == 2 and totals.records == 5 and not state.path.exists()  # done: the state is gone
    assert {e["contact_id"] for e in sent} == {"35436", "35437", "35439", "35440"}


def test_refused_credentials_and_missing_settings_say_what_to_set():
    fake = FakeZendesk()
    with served(fake.app()) as url:
        fake.base = url
        wrong = zendesk.connect({"DESKPULSE_BACKFILL_ZENDESK_EMAIL": EMAIL,
                                 "DESKPULSE_BACKFILL_ZENDESK_API_TOKEN": "nope"}, url)

        async def go():
            async with httpx.AsyncClient() as client:
                await run(zendesk, wrong, client, lambda e: asyncio.sleep(0), since_ms=SINCE_MS)

        with pytest.raises(BackfillError, match="refused the credentials \\(401"):
            asyncio.run(go())
    with pytest.raises(BackfillError, match="set DESKPULSE_BACKFILL_ZENDESK_URL, DESKPULSE_BACKFILL_ZENDESK_EMAIL"):
        zendesk.connect({})
    assert TOKEN not in repr(connection("https://acme.zendesk.com"))
    assert connection("https://acme.zendesk.com").account == "acme"


def test_the_command_sends_the_backlog_through_ingest(tmp_path, monkeypatch, capsys):
    fake = FakeZendesk()
    publisher = InMemoryPublisher()
    ingest = ingest_app(Settings(), publisher, SecretStore({}))
    monkeypatch.setenv("DESKPULSE_BACKFILL_ZENDESK_EMAIL", EMAIL)
    monkeypatch.setenv("DESKPULSE_BACKFILL_ZENDESK_API_TOKEN", TOKEN)
    with served(fake.app()) as url, served(ingest) as ingest_url:
        fake.base = url
        code = cli.main(["backfill", "zendesk", "--api-url", url, "--ingest-url", ingest_url, "--days", "40",
                         "--state", str(tmp_path / "state.json")])
    out = capsys.readouterr()
    assert code == 0, out.err
    assert "2 pages, 5 contacts" in out.out and TOKEN not in out.out + out.err
    published = [parse_event(json.loads(value)) for _, _, value in publisher.records]
    assert {e.contact_id for e in published} == {"35436", "35437", "35439", "35440"}


def test_contacts_created_after_the_webhooks_were_connected_are_left_to_them():
    fake = FakeZendesk()
    with served(fake.app()) as url:
        fake.base = url
        events, totals = asyncio.run(backfill(url, created_before_ms=1_794_873_600_000))  # 2026-11-17T00:00:00Z
    assert {e["contact_id"] for e in events} == {"35436", "35437"}  # created on the 16th
    assert totals.newer == 2 and totals.records == 5  # 35439 and 35440, created on the 17th and 18th


def test_the_rate_limit_headers_platforms_send_instead_of_retry_after():
    from services.ingest.backfill.fetch import _wait

    assert _wait({"x-ratelimit-retry-after": "12"}, 0.0) == 12.0  # Help Scout
    assert _wait({"x-ratelimit-reset": "1794995230"}, 1_794_995_200.0) == 30.0  # Intercom: epoch seconds
    assert _wait({"retry-after": "3", "x-ratelimit-reset": "1794995230"}, 1_794_995_200.0) == 3.0
    assert _wait({}, 0.0) is None and _wait({"x-ratelimit-reset": "soon"}, 0.0) is None
