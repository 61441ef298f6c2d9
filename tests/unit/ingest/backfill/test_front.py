"""Front backfill (services/ingest/backfill/front.py): List conversations pages served by a local HTTP server,
shaped as documented; the events, the backlog they count, a later webhook lining up, rate limits, settings."""

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
from services.ingest.backfill import front
from services.ingest.backfill.run import run
from services.ingest.backfill.source import BackfillError, Connection
from services.ingest.platforms import front as front_webhooks
from services.ingest.platforms.base import Delivery
from tests.support import recompute
from tests.support.serving import served

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures"
PAGES = FIXTURES / "backfill" / "front"
TOKEN = "front-api-token"
SINCE_MS = 1_793_750_400_000  # 2026-11-04T00:00:00Z
HOST = "https://acme.api.frontapp.com"


class FakeFront:
    """List conversations of one company: two pages, optionally 429s first, requests recorded."""

    def __init__(self, limited: int = 0) -> None:
        self.limited = limited
        self.requests: list[Request] = []
        self.base = ""

    async def conversations(self, request: Request) -> JSONResponse:
        self.requests.append(request)
        if request.headers.get("authorization") != f"Bearer {TOKEN}":
            return JSONResponse({"_error": {"status": 401, "title": "Unauthenticated"}}, status_code=401)
        if self.limited:
            self.limited -= 1
            return JSONResponse({"_error": {"status": 429, "title": "Too Many Requests"}}, status_code=429,
                                headers={"Retry-After": "7", "x-ratelimit-remaining": "0"})
        name = "page2.json" if request.query_params.get("page_token") else "page1.json"
        page = json.loads((PAGES / name).read_text())
        if page["_pagination"]["next"]:
            page["_pagination"]["next"] = page["_pagination"]["next"].replace(HOST, self.base)
        return JSONResponse(page)

    def app(self) -> Starlette:
        return Starlette(routes=[Route(front.PATH, self.conversations)])


def connection(base: str | None = None) -> Connection:
    return front.connect({"DESKPULSE_BACKFILL_FRONT_API_TOKEN": TOKEN}, base)


async def backfill(base: str, **kwargs) -> tuple[list[dict], object]:
    sent: list[dict] = []

    async def send(events):
        sent.extend(events)

    async with httpx.AsyncClient() as client:
        totals = await run(front, connection(base), client, send, since_ms=SINCE_MS, **kwargs)
    return sent, totals


def served_backfill(fake: FakeFront, **kwargs) -> tuple[list[dict], object]:
    with served(fake.app()) as url:
        fake.base = url
        return asyncio.run(backfill(url, **kwargs))


def test_each_conversation_becomes_the_events_a_webhook_would_have_given_with_stable_ids():
    fake = FakeFront()
    with served(fake.app()) as url:
        fake.base = url
        events, totals = asyncio.run(backfill(url))
        again, _ = asyncio.run(backfill(url))
    assert (totals.pages, totals.records, totals.skipped) == (2, 5, 0) and totals.events == len(events)
    assert [json.dumps(e, sort_keys=True) for e in again] == [json.dumps(e, sort_keys=True) for e in events]
    first = fake.requests[0]
    assert first.query_params.getlist("q[statuses][]") == ["assigned", "unassigned", "archived"]
    assert first.query_params["limit"] == "100" and "page_token" not in first.query_params
    assert fake.requests[1].query_params["page_token"].startswith("ce787da6")  # _pagination.next, followed as given
    for document in events:
        parse_event(document)  # every one valid
    by_id = {e["event_id"]: e for e in events}
    assert len(by_id) == len(events)
    assert not any(e["contact_id"] == "cnv_yo1kg5s" for e in events)  # the deleted (trashed) conversation
    created = by_id["front:backfill:cnv_yo1kg5q:created"]
    assert (created["type"], created["status"], created["occurred_at"]) == (
        "contact.created", "open", "2026-11-16T08:00:00.125Z")
    assert created["attributes"] == {"subject": "Invoice shows the wrong VAT", "backfilled": True}
    assert "front:backfill:cnv_yo1kg5q:assigned" not in by_id  # unassigned
    assigned = by_id["front:backfill:cnv_yo1kg5r:assigned"]
    assert (assigned["agent_id"], assigned["occurred_at"]) == ("tea_6r55a", "2026-11-16T09:00:00.000Z")
    assert not [e for e in events if e["type"] == "contact.message"]  # no reply times in the record
    solved = by_id["front:backfill:cnv_yo1kg5t:status:solved"]
    assert (solved["occurred_at"], solved["attributes"]) == ("2026-11-17T18:00:00.000Z", {"raw_status": "archived"})
    snoozed = by_id["front:backfill:cnv_yo1kg5u:status:pending"]  # archived with a reminder: snoozed
    assert snoozed["occurred_at"] == "2026-11-18T09:00:00.250Z"
    assert "front:backfill:cnv_yo1kg5u:status:solved" not in by_id
    assert {e["event_id"].rsplit(":", 1)[-1] for e in events} <= {"created", "assigned", "solved", "pending"}
    assert all(e["account"] is None and e.get("queue_id") is None for e in events)


def test_the_backlog_counts_once_backfilled():
    events, _ = served_backfill(FakeFront())
    live, counted = recompute.live(events), recompute.figures(events)
    assert not [scope for scope in live if scope.startswith("queue/")]  # the record names no inbox
    gauges = live["platform/front"]
    assert (gauges["open"], gauges["waiting"], gauges["pending"], gauges["unassigned"]) == (3, 3, 1, 2)
    assert live["agent/front/tea_6r55a"]["open"] == 1
    assert counted["platform/front"]["resolved"] == 1 and "fr_count" not in counted["platform/front"]
    assert counted["agent/front/tea_6r55b"]["resolved"] == 1  # archived while assigned to Fry


def test_a_later_webhook_lines_up_with_the_backfilled_conversation():
    """The out_reply webhook of a backfilled conversation names the same contact: the first response counts and
    the inbox arrives with it."""
    events, _ = served_backfill(FakeFront())
    fixture = json.loads((FIXTURES / "front" / "rule_out_reply.json").read_text())
    body = copy.deepcopy(fixture["body"])
    body["conversation"]["id"] = "cnv_yo1kg5r"
    body["emitted_at"] = 1_794_913_200.0  # 2026-11-17T11:00:00Z, after the backfilled creation
    delivery = Delivery(body=json.dumps(body).encode(), headers={"content-type": "application/json"})
    reply = [e.to_json_dict() for e in front_webhooks.to_events(delivery).events]
    assert [(e["platform"], e["contact_id"]) for e in reply] == [("front", "cnv_yo1kg5r")]
    live, counted = recompute.live(events + reply), recompute.figures(events + reply)
    assert live["platform/front"]["waiting"] == 2 and live["queue/front/inb_55c8c149"]["open"] == 1
    assert counted["platform/front"]["fr_count"] == 1
    assert counted["platform/front"]["fr_ms"] == 1_794_913_200_000 - 1_794_819_600_000


def test_a_rate_limit_waits_what_retry_after_says():
    waits: list[float] = []

    async def sleep(seconds):
        waits.append(seconds)

    events, totals = served_backfill(FakeFront(limited=2), sleep=sleep)
    assert waits == [7.0, 7.0] and totals.pages == 2 and events


def test_given_since_parse_keeps_recent_conversations_and_stops_at_a_page_of_old_ones():
    page = json.loads((PAGES / "page1.json").read_text())
    conn = connection()
    assert len(front.parse(page, conn).records) == 3  # as run.py calls it today: no time filter
    cut = 1_794_900_000_000  # 2026-11-17T07:20:00Z: after cnv_yo1kg5q's last update
    kept = front.parse(page, conn, since_ms=cut)
    assert [c["id"] for c in kept.records] == ["cnv_yo1kg5r", "cnv_yo1kg5s"] and kept.next is not None
    done = front.parse(page, conn, since_ms=1_795_000_000_000)  # nothing on the page updated since: stop
    assert done.records == [] and done.next is None
    assert front.parse({"_results": [], "_pagination": {"next": None}}, conn).next is None


def test_refused_credentials_and_missing_settings_say_what_to_set():
    fake = FakeFront()
    with served(fake.app()) as url:
        wrong = front.connect({"DESKPULSE_BACKFILL_FRONT_API_TOKEN": "nope"}, url)

        async def go():
            async with httpx.AsyncClient() as client:
                await run(front, wrong, client, lambda e: asyncio.sleep(0), since_ms=SINCE_MS)

        with pytest.raises(BackfillError, match="refused the credentials \\(401"):
            asyncio.run(go())
    with pytest.raises(BackfillError, match="set DESKPULSE_BACKFILL_FRONT_API_TOKEN"):
        front.connect({"DESKPULSE_BACKFILL_FRONT_URL": "https://api2.frontapp.com"})
    assert TOKEN not in repr(connection()) and connection().base_url == "https://api2.frontapp.com"
    configured = front.connect({"DESKPULSE_BACKFILL_FRONT_API_TOKEN": TOKEN,
                                "DESKPULSE_BACKFILL_FRONT_URL": "https://acme.api.frontapp.com/"})
    assert configured.base_url == "https://acme.api.frontapp.com" and configured.account is None
    assert front.first(configured, SINCE_MS).url == "https://acme.api.frontapp.com/conversations"
