"""Intercom backfill (services/ingest/backfill/intercom.py): List all conversations pages (API 2.11) served by a
local HTTP server, shaped as documented; the events, the backlog they count, the webhooks lining up, rate limits,
settings."""

import asyncio
import copy
import json
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from services.common.events import parse_event
from services.ingest.backfill import intercom
from services.ingest.backfill.run import run
from services.ingest.backfill.source import BackfillError, Connection
from services.ingest.platforms import intercom as intercom_webhooks
from services.ingest.platforms.base import Delivery
from tests.support import recompute
from tests.support.serving import served

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures"
PAGES = FIXTURES / "backfill" / "intercom"
TOKEN = "intercom-access-token"
SINCE_MS = 1_793_750_400_000  # 2026-11-04T00:00:00Z


class FakeIntercom:
    """List all conversations of one workspace: two pages, optionally 429s first, requests recorded."""

    def __init__(self, limited: int = 0, retry_after: bool = True) -> None:
        self.limited, self.retry_after = limited, retry_after
        self.requests: list[Request] = []

    async def conversations(self, request: Request) -> JSONResponse:
        self.requests.append(request)
        if request.headers.get("authorization") != f"Bearer {TOKEN}":
            error = {"code": "unauthorized", "message": "Access Token Invalid"}
            return JSONResponse({"type": "error.list", "errors": [error]}, status_code=401)
        if request.headers.get("intercom-version") != "2.11":
            return JSONResponse({"type": "error.list", "errors": [{"code": "intercom_version_invalid"}]}, 400)
        if self.limited:
            self.limited -= 1
            headers = {"X-RateLimit-Limit": "1666", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "1794999610"}
            if self.retry_after:
                headers["Retry-After"] = "7"
            error = {"code": "rate_limit_exceeded", "message": "Exceeded rate limit of 1666 in 10_seconds"}
            return JSONResponse({"type": "error.list", "errors": [error]}, status_code=429, headers=headers)
        name = "page2.json" if request.query_params.get("starting_after") else "page1.json"
        return JSONResponse(json.loads((PAGES / name).read_text()))

    def app(self) -> Starlette:
        return Starlette(routes=[Route(intercom.PATH, self.conversations)])


def connection(base: str | None = None) -> Connection:
    return intercom.connect({"DESKPULSE_BACKFILL_INTERCOM_ACCESS_TOKEN": TOKEN}, base)


async def backfill(base: str, **kwargs) -> tuple[list[dict], object]:
    sent: list[dict] = []

    async def send(events):
        sent.extend(events)

    async with httpx.AsyncClient() as client:
        totals = await run(intercom, connection(base), client, send, since_ms=SINCE_MS, **kwargs)
    return sent, totals


def served_backfill(fake: FakeIntercom, **kwargs) -> tuple[list[dict], object]:
    with served(fake.app()) as url:
        return asyncio.run(backfill(url, **kwargs))


def test_each_conversation_becomes_the_events_a_webhook_would_have_given_with_stable_ids():
    fake = FakeIntercom()
    with served(fake.app()) as url:
        events, totals = asyncio.run(backfill(url))
        again, _ = asyncio.run(backfill(url))
    assert (totals.pages, totals.records, totals.skipped) == (2, 5, 0) and totals.events == len(events)
    assert [json.dumps(e, sort_keys=True) for e in again] == [json.dumps(e, sort_keys=True) for e in events]
    assert str(fake.requests[0].url.query) == "per_page=150"
    assert str(fake.requests[1].url.query) == "per_page=150&starting_after=WzE3OTQ5MTE0MDAwMDAsMjE1NDcxMjM2XQ%3D%3D"
    for document in events:
        parse_event(document)  # every one valid
    by_id = {e["event_id"]: e for e in events}
    assert len(by_id) == len(events)
    assert not any(e["contact_id"] == "215471236" for e in events)  # started by a teammate: no webhook creates it
    created = by_id["intercom:backfill:215471234:created"]
    assert (created["queue_id"], created["channel"], created["priority"], created["status"]) == (
        "5017691", "chat", None, "open")
    assert created["occurred_at"] == "2026-11-16T08:00:00.000Z"
    assert created["attributes"] == {"tags": ["billing"], "backfilled": True}
    assert [e["event_id"] for e in events if e["contact_id"] == "215471234"] == ["intercom:backfill:215471234:created"]
    answered = {e["event_id"].rsplit(":", 1)[-1]: e for e in events if e["contact_id"] == "215471235"}
    assert sorted(answered) == ["assigned", "created", "first-reply"]
    assert (answered["created"]["channel"], answered["created"]["priority"]) == ("email", "high")
    assert (answered["assigned"]["agent_id"], answered["assigned"]["occurred_at"]) == (
        "991267715", "2026-11-16T09:20:00.000Z")  # statistics.first_assignment_at
    reply = answered["first-reply"]
    assert (reply["author"], reply["public"], reply["occurred_at"]) == ("agent", True, "2026-11-16T09:40:00.000Z")
    assert "agent_id" not in reply  # who replied first is not in the record: no agent credited
    solved = by_id["intercom:backfill:215471237:status:solved"]
    assert solved["occurred_at"] == "2026-11-17T18:00:00.000Z"  # last_close_at, not the later updated_at
    rated = by_id["intercom:backfill:215471237:rated"]
    assert (rated["type"], rated["rating"], rated["agent_id"], rated["occurred_at"]) == (
        "contact.rated", {"label": "good", "score": 5.0, "scale_max": 5.0}, "991267716", "2026-11-17T18:00:00.000Z")
    assert rated["attributes"] == {"remark": "Quick and kind"} and rated["queue_id"] == "5017692"
    pending = by_id["intercom:backfill:215471238:status:pending"]
    assert (pending["occurred_at"], pending["attributes"]) == ("2026-11-18T09:00:00.000Z", {"raw_state": "snoozed"})
    assert all(e["account"] is None for e in events)


def test_the_backlog_counts_once_backfilled():
    """What the backfill is for: the open conversations are waiting or answered, per team, as in Intercom."""
    events, _ = served_backfill(FakeIntercom())
    live, counted = recompute.live(events), recompute.figures(events)
    billing, shipping = live["queue/intercom/5017691"], live["queue/intercom/5017692"]
    assert (billing["open"], billing["waiting"], billing["pending"]) == (2, 1, 0)  # 215471234 waiting; 215471235 not
    assert (shipping["open"], shipping["waiting"], shipping["pending"]) == (1, 0, 1)  # 215471238 snoozed
    assert counted["queue/intercom/5017692"]["resolved"] == 1 and counted["agent/intercom/991267716"]["resolved"] == 1
    assert counted["queue/intercom/5017691"]["fr_count"] == 1
    assert counted["queue/intercom/5017691"]["fr_ms"] == 40 * 60_000
    assert counted["queue/intercom/5017692"]["fr_count"] == 2
    assert counted["queue/intercom/5017692"]["fr_ms"] == (5 + 12) * 60_000
    assert counted["queue/intercom/5017692"]["csat_good"] == 1


def test_the_webhooks_of_a_backfilled_conversation_line_up():
    """The conversation.user.created webhook of the same conversation gives the same contact, queue, channel,
    priority and categories; a later admin reply is not a second first response."""
    events, _ = served_backfill(FakeIntercom())
    record = json.loads((PAGES / "page1.json").read_text())["conversations"][1]
    fixture = json.loads((FIXTURES / "intercom" / "conversation_user_created.json").read_text())
    body = copy.deepcopy(fixture["body"])
    body["data"]["item"] = {**record, "state": "open"}
    delivery = Delivery(body=json.dumps(body).encode(), headers={"content-type": "application/json"})
    webhook = [e.to_json_dict() for e in intercom_webhooks.to_events(delivery).events]
    backfilled = next(e for e in events if e["event_id"] == "intercom:backfill:215471235:created")
    keys = ("platform", "contact_id", "queue_id", "channel", "priority", "occurred_at", "status")
    assert [{k: e[k] for k in keys} for e in webhook if e["type"] == "contact.created"] == [
        {k: backfilled[k] for k in keys}]
    created = next(e for e in webhook if e["type"] == "contact.created")
    assert {k: v for k, v in backfilled["attributes"].items() if k != "backfilled"} == created["attributes"]
    assert [e["agent_id"] for e in webhook if e["type"] == "contact.assigned"] == ["991267715"]
    counted = recompute.figures(events + webhook)
    assert counted["queue/intercom/5017691"]["fr_count"] == 1 and counted["queue/intercom/5017691"]["created"] == 2


def test_a_rate_limit_waits_what_retry_after_says_else_backs_off():
    waits: list[float] = []

    async def sleep(seconds):
        waits.append(seconds)

    events, totals = served_backfill(FakeIntercom(limited=1), sleep=sleep)
    assert waits == [7.0] and totals.pages == 2 and events
    waits.clear()
    # As Intercom documents it: X-RateLimit-Reset (a UNIX time), no Retry-After: the framework's back-off (1 s).
    events, totals = served_backfill(FakeIntercom(limited=1, retry_after=False), sleep=sleep)
    assert waits == [1.0] and totals.pages == 2 and events


def test_given_since_parse_keeps_recently_updated_conversations():
    page = json.loads((PAGES / "page2.json").read_text())
    conn = connection()
    assert len(intercom.parse(page, conn).records) == 2 and intercom.parse(page, conn).next is None
    kept = intercom.parse(page, conn, since_ms=1_794_950_000_000)  # 2026-11-17T21:13:20Z
    assert [c["id"] for c in kept.records] == ["215471238"]
    first = intercom.parse(json.loads((PAGES / "page1.json").read_text()), conn, since_ms=1_795_000_000_000)
    assert first.records == [] and first.next is not None  # the list's order is not documented: read on
    assert first.next.params == {"per_page": 150, "starting_after": "WzE3OTQ5MTE0MDAwMDAsMjE1NDcxMjM2XQ=="}


def test_refused_credentials_and_missing_settings_say_what_to_set():
    fake = FakeIntercom()
    with served(fake.app()) as url:
        wrong = intercom.connect({"DESKPULSE_BACKFILL_INTERCOM_ACCESS_TOKEN": "nope"}, url)

        async def go():
            async with httpx.AsyncClient() as client:
                await run(intercom, wrong, client, lambda e: asyncio.sleep(0), since_ms=SINCE_MS)

        with pytest.raises(BackfillError, match="refused the credentials \\(401"):
            asyncio.run(go())
    with pytest.raises(BackfillError, match="set DESKPULSE_BACKFILL_INTERCOM_ACCESS_TOKEN"):
        intercom.connect({"DESKPULSE_BACKFILL_INTERCOM_URL": "https://api.eu.intercom.io"})
    assert TOKEN not in repr(connection()) and connection().base_url == "https://api.intercom.io"
    assert connection().headers["Intercom-Version"] == "2.11"
    eu = intercom.connect({"DESKPULSE_BACKFILL_INTERCOM_ACCESS_TOKEN": TOKEN,
                           "DESKPULSE_BACKFILL_INTERCOM_URL": "https://api.eu.intercom.io/"})
    assert intercom.first(eu, SINCE_MS).url == "https://api.eu.intercom.io/conversations" and eu.account is None
