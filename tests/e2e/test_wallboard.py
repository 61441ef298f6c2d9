"""End to end: the floor wallboard in a real headless Chromium, fed by the SSE stream of the real pipeline.

Events go in through ingest; the page (loaded once, never reloaded) must show the new figures, colour them
against the goals of the SLA config, show each queue's staffing forecast (agents needed vs on the floor), list
SLA breaches, show "stale" when the API goes away and recover when it
comes back. Screenshots: ``test-artifacts/wallboard.png`` (live) and ``test-artifacts/wallboard-stale.png``.
"""

from __future__ import annotations

import signal
import time
import uuid
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from services.api.app import create_app
from services.api.readmodel import ReadModel
from services.common.events import from_epoch_ms
from services.common.settings import Settings
from services.domain.slaconfig import SlaConfig
from tests.support.browser import ARTIFACTS, By, requests_made, served, text, wait_for
from tests.support.partials import encoded
from tests.support.pipeline import Pipeline

pytestmark = [pytest.mark.kafka, pytest.mark.e2e]

SLA_CONFIG = """
policies:
  - name: billing-live
    match: {queue: billing}
    targets: {first_response: 1m}
  - name: vip
    match: {queue: vip}
    targets: {first_response: 10m}
goals:
  global:
    first_response_seconds_avg: "<= 600"
  queues:
    billing:
      service_level: ">= 0.80"
service_levels:
  default: {threshold_seconds: 20}
"""


def event(kind: str, at_ms: int, **fields) -> dict:
    return {"schema": "deskpulse.event.v1", "event_id": f"wb-{uuid.uuid4().hex}", "type": kind,
            "occurred_at": from_epoch_ms(at_ms), "platform": "zendesk", **fields}


def created(contact: str, queue: str, channel: str, at_ms: int) -> dict:
    return event("contact.created", at_ms, contact_id=contact, queue_id=queue, channel=channel, status="new")


def agent(agent_id: str, state: str, at_ms: int) -> dict:
    return event("agent.state_changed", at_ms, agent_id=agent_id, contact_id=None, state=state)


@pytest.fixture
def pipeline(kafka_bootstrap, unique_names, tmp_path):
    sla = tmp_path / "sla.yaml"
    sla.write_text(SLA_CONFIG)
    pipe = Pipeline(kafka_bootstrap, unique_names, tmp_path / "logs", partitions=1,
                    extra_env={"DESKPULSE_SLA_CONFIG": str(sla)})
    try:
        yield pipe
    finally:
        pipe.stop_cleanly()


def tile(queue: str, kpi: str) -> str:
    return f'[data-scope="queue/zendesk/{queue}"] [data-kpi="{kpi}"]'


def only_the_stream_and_own_files(requests: list[tuple[str, str]], api_url: str) -> list[tuple[str, str]]:
    """The requests that went over the network, after checking that the page asked nothing of any other host (a
    floor TV may have no internet access) and took its figures from the stream only: EventSource requests on
    ``v1/stream``, no fetch() or XMLHttpRequest polling."""
    # data:, about:, chrome:// (the browser's own start page) never reach the network
    fetched = [(kind, url) for kind, url in requests if urlsplit(url).scheme in ("http", "https", "ws", "wss")]
    assert fetched, "no request seen: is the performance log on?"
    assert all(url.startswith(f"{api_url}/") for _, url in fetched), fetched
    assert not [r for r in fetched if r[0] in ("XHR", "Fetch")], fetched
    streams = [url for kind, url in fetched if kind == "EventSource"]
    assert streams and all(url.startswith(f"{api_url}/v1/stream?") for url in streams), fetched
    return fetched


def seconds(clock: str) -> int:
    parts = [int(p) for p in clock.split(":")]
    return parts[0] * 60 + parts[1] if len(parts) == 2 else parts[0] * 3600 + parts[1] * 60 + parts[2]


def test_wallboard_shows_live_figures_from_the_stream(pipeline, browser):
    started = time.monotonic()
    pipeline.start()
    now = int(time.time() * 1000)
    # presence first (its own delivery), so the queues' staffing forecast finds the zendesk pool: 3 agents
    presence = [agent("a1", "available", now - 60_000), agent("a2", "available", now - 60_000),
                agent("a3", "busy", now - 60_000)]
    seed = [
        # billing (chat): two waiting for 2 minutes, past the 1-minute first-response target: breaching
        created("c1", "billing", "chat", now - 120_000), created("c2", "billing", "chat", now - 118_000),
        # answered in 10 s: within the 20 s service-level threshold, first response 10 s; handled in 30 s, ended
        # over a minute before the newest event, so in a whole minute before stream time (the staffing window)
        created("c3", "billing", "chat", now - 160_000),
        event("contact.connected", now - 150_000, contact_id="c3", agent_id="a1"),
        event("contact.status_changed", now - 120_000, contact_id="c3", status="closed", agent_id="a1"),
        # vip (email): one answered in 10 s; one waiting 9 minutes of a 10-minute target: at risk
        created("v1", "vip", "email", now - 30_000),
        event("contact.message", now - 20_000, contact_id="v1", agent_id="a3", author="agent", public=True),
        created("v2", "vip", "email", now - 540_000),
    ]
    with httpx.Client(timeout=10) as client:
        assert pipeline.post(client, presence).status_code == 202
        assert pipeline.post(client, seed).status_code == 202

        browser.get(f"{pipeline.api_url}/?platform=zendesk&queue=billing&queue=vip&window=15m")
        browser.execute_script("window.__loadedOnce = true")  # gone if the page ever reloads
        wait_for(browser, "the stream live", lambda d: d.find_element(By.TAG_NAME, "body").get_attribute(
            "data-status") == "live")
        wait_for(browser, "billing waiting 2", lambda d: text(d, f"{tile('billing', 'waiting')} .value") == "2")
        wait_for(browser, "vip's first response", lambda d: text(d, f"{tile('vip', 'first_response')} .value")
                 == "0:10")

        assert text(browser, f"{tile('billing', 'waiting')} .sub") == "2 in queue"
        assert text(browser, f"{tile('billing', 'service_level')} .value") == "100%"
        assert browser.find_element(By.CSS_SELECTOR, tile("billing", "service_level")).get_attribute(
            "data-state") == "green"
        assert text(browser, f"{tile('billing', 'first_response')} .value") == "0:10"
        assert browser.find_element(By.CSS_SELECTOR, tile("billing", "first_response")).get_attribute(
            "data-state") == "green"  # goal <= 600 s
        # vip has no service-level goal and no live-channel contacts: no data, never "0%"
        assert text(browser, f"{tile('vip', 'service_level')} .value") == "—"
        assert browser.find_element(By.CSS_SELECTOR, tile("vip", "service_level")).get_attribute(
            "data-state") == "neutral"
        wait_for(browser, "agents 2 available", lambda d: text(d, "#agents-available .value") == "2")
        assert text(browser, '#agent-states [data-state="busy"] .count') == "1"

        # staffing: billing was offered 3 live contacts in its 30-minute window (one answered, two queued), one
        # handled in 30 s: Erlang C needs 1 agent for 80 % in 20 s; zendesk has 3 available or busy: green
        wait_for(browser, "billing's staffing forecast",
                 lambda d: text(d, f"{tile('billing', 'staffing')} .value") == "1"
                 and text(d, f"{tile('billing', 'staffing')} .sub") == "3 on floor")
        assert browser.find_element(By.CSS_SELECTOR, tile("billing", "staffing")).get_attribute(
            "data-state") == "green"
        # vip is e-mail: no live contacts, so no forecast, never "0 agents"
        assert text(browser, f"{tile('vip', 'staffing')} .value") == "—"
        assert text(browser, f"{tile('vip', 'staffing')} .sub") == "no live contacts"
        assert browser.find_element(By.CSS_SELECTOR, tile("vip", "staffing")).get_attribute(
            "data-state") == "neutral"
        staffing = client.get(f"{pipeline.api_url}/v1/queues/zendesk/billing").json()["staffing"]
        assert (staffing["offered"], staffing["handled"], staffing["aht_s"], staffing["agents_needed"],
                staffing["agents_available"], staffing["target_source"]) == (3, 1, 30.0, 1, 3, "goal")

        # the oldest waiting age counts up between updates, without any event
        first = seconds(text(browser, f"{tile('billing', 'oldest')} .value"))
        assert 90 <= first <= 200, first  # stream time: the newest event (20 s old) plus wall time
        wait_for(browser, "the oldest wait counting up",
                 lambda d: seconds(text(d, f"{tile('billing', 'oldest')} .value")) >= first + 2, timeout=6)

        # SLA ticker: billing breaching, vip at risk with its countdown
        wait_for(browser, "billing breaching in the ticker", lambda d: "2 breaching" in text(d, "#ticker-items"))
        ticker = text(browser, "#ticker-items")
        assert "billing" in ticker and "vip" in ticker and "1 at risk" in ticker and "breach in" in ticker, ticker
        assert "2 breaching" in text(browser, '[data-scope="queue/zendesk/billing"] .badge')

        # --- new events: the page follows without a reload
        now = int(time.time() * 1000)
        assert pipeline.post(client, [
            created("c4", "billing", "chat", now), created("c5", "billing", "chat", now),
            event("contact.connected", now, contact_id="c1", agent_id="a2"),  # after ~2 min: misses the SL
            agent("a2", "busy", now),
        ]).status_code == 202
        wait_for(browser, "billing waiting 3", lambda d: text(d, f"{tile('billing', 'waiting')} .value") == "3")
        wait_for(browser, "billing SL 50 % in red",
                 lambda d: text(d, f"{tile('billing', 'service_level')} .value") == "50%"
                 and d.find_element(By.CSS_SELECTOR, tile("billing", "service_level")).get_attribute(
                     "data-state") == "red")
        wait_for(browser, "1 agent available", lambda d: text(d, "#agents-available .value") == "1")
        assert text(browser, '#agent-states [data-state="busy"] .count') == "2"
        assert browser.execute_script("return window.__loadedOnce === true"), "the page reloaded"
        assert text(browser, "#updated-time") != "—"
        errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
        assert not errors, errors  # no script error, no failed request
        # what the page asked of the network for all of that: itself, its files and one stream held open (the
        # figures above came as its "snapshot" and "update" events; the counting up is the page's own timer)
        fetched = only_the_stream_and_own_files(requests_made(browser), pipeline.api_url)
        kinds = sorted(kind for kind, _ in fetched)
        assert kinds.count("Document") == 1 and kinds.count("EventSource") == 1, fetched
        time.sleep(1.2)  # let the change highlight fade before the picture
        ARTIFACTS.mkdir(exist_ok=True)
        browser.save_screenshot(str(ARTIFACTS / "wallboard.png"))

        # --- the API dies (a crash, a dropped network): stale indicator; back: live again with the same figures.
        # (A SIGTERM would first wait out uvicorn's graceful shutdown for the open stream.)
        api = pipeline.services["api"]
        api.signal(signal.SIGKILL)
        api.process.wait(10)
        wait_for(browser, "the stale indicator",
                 lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-status") in ("reconnecting",
                                                                                                "offline")
                 and d.find_element(By.ID, "stale-banner").is_displayed())
        assert "Stale" in text(browser, "#stale-banner")
        browser.save_screenshot(str(ARTIFACTS / "wallboard-stale.png"))
        pipeline.start("api")
        wait_for(browser, "live again", lambda d: d.find_element(By.TAG_NAME, "body").get_attribute(
            "data-status") == "live", timeout=30)
        assert not browser.find_element(By.ID, "stale-banner").is_displayed()
        assert text(browser, f"{tile('billing', 'waiting')} .value") == "3"
        assert browser.execute_script("return window.__loadedOnce === true"), "the page reloaded"
        # it came back by opening the stream again, still without polling or any other host
        fetched = only_the_stream_and_own_files(requests_made(browser), pipeline.api_url)
        assert "Document" not in [kind for kind, _ in fetched], fetched
    print(f"\nwallboard end to end in {time.monotonic() - started:.1f} s; screenshots in {ARTIFACTS}")


def test_wallboard_passes_its_token_to_the_stream(browser):
    """With DESKPULSE_API_TOKENS set, ``?token=`` on the page's URL opens the stream; a wrong one shows Offline."""
    now = int(time.time() * 1000)
    model = ReadModel()
    # 100 live contacts in the 30 whole minutes before now, 3 minutes each (the worked example of
    # docs/staffing.md): Erlang C needs 14 agents for 80 % in 20 s, zendesk has 12 available or busy: red
    minute = now - now % 60_000
    buckets = {minute - 60_000 * i: {"answered": 4 if i % 3 == 0 else 3, "handled": 4 if i % 3 == 0 else 3,
                                     "handle_ms": (4 if i % 3 == 0 else 3) * 180_000} for i in range(1, 31)}
    assert sum(b["answered"] for b in buckets.values()) == 100
    frozen = now + 3_600_000  # "published" later than any wall time of the test: stream time stays at now
    model.apply(*encoded("queue/zendesk/billing", live={"open": 4, "waiting": 4}, minutes=buckets, stream_ms=now,
                         published_ms=frozen))
    model.apply(*encoded("platform/zendesk", live={"agents_available": 5, "agents_busy": 7, "agents_away": 2},
                         stream_ms=now, published_ms=frozen))
    model.caught_up = True
    names = SlaConfig.load({"names": {"queues": {"zendesk/billing": "Billing & refunds"}}})  # a display name
    with served(create_app(Settings(api_tokens="wallboard-token"), read_model=model, consume=False, sla=names)) as url:
        page = f"{url}/?platform=zendesk&queue=billing"
        browser.get(f"{page}&token=wallboard-token")
        wait_for(browser, "billing waiting 4", lambda d: text(d, f"{tile('billing', 'waiting')} .value") == "4")
        assert browser.find_element(By.TAG_NAME, "body").get_attribute("data-status") == "live"
        # the queue under its display name, linking to its team page with the token (which the page stores)
        name = browser.find_element(By.CSS_SELECTOR, '[data-scope="queue/zendesk/billing"] .name')
        assert name.text == "Billing & refunds" and name.get_attribute("title") == "billing"
        assert name.get_attribute("href") == f"{url}/team/zendesk/billing?token=wallboard-token"
        # the stream subscribes to the page's scopes and window, with the page's token (EventSource has no headers)
        fetched = only_the_stream_and_own_files(requests_made(browser), url)
        stream = [url for kind, url in fetched if kind == "EventSource"]
        assert len(stream) == 1, fetched
        query = parse_qs(urlsplit(stream[0]).query)
        assert query == {"scope": ["platform/zendesk", "queue/zendesk/billing"], "window": ["15m"],
                         "access_token": ["wallboard-token"]}, query
        # fewer agents on the floor than the forecast needs: red, with the pool underneath
        assert text(browser, f"{tile('billing', 'staffing')} .value") == "14"
        assert text(browser, f"{tile('billing', 'staffing')} .sub") == "12 on floor"
        assert browser.find_element(By.CSS_SELECTOR, tile("billing", "staffing")).get_attribute(
            "data-state") == "red"
        ARTIFACTS.mkdir(exist_ok=True)
        browser.save_screenshot(str(ARTIFACTS / "wallboard-staffing-short.png"))
        # red / amber / green and formatting, as the page computes them
        js = "return window.deskpulseWallboard"
        assert [browser.execute_script(f"{js}.grade({v}, '>=', 0.8)") for v in (0.9, 0.85, 0.8, 0.79, "null")] == [
            "green", "amber", "amber", "red", "neutral"]
        assert [browser.execute_script(f"{js}.grade({v}, '<=', 600)") for v in (500, 560, 601)] == [
            "green", "amber", "red"]
        assert browser.execute_script(f"{js}.percent(0.29)") == "29%"
        assert browser.execute_script(f"{js}.percent(null)") == "—"
        assert browser.execute_script(f"{js}.duration(3725.4)") == "1:02:05"
        grades = [browser.execute_script(f"{js}.staffingGrade({{agents_needed: 10, agents_available: {n}}})")
                  for n in (9, 10, 11, 12)]
        assert grades == ["red", "amber", "green", "green"]  # amber: exactly enough, or within a tenth
        assert browser.execute_script(f"{js}.staffingGrade({{agents_needed: 3, agents_available: null, "
                                      f"reason: 'no_agent_presence'}})") == "neutral"
        assert browser.execute_script(f"{js}.staffingText({{agents_needed: 3, agents_available: null, "
                                      f"reason: 'no_agent_presence'}})") == "no agent presence"
        browser.get(f"{page}&token=wrong")
        wait_for(browser, "Offline", lambda d: d.find_element(By.TAG_NAME, "body").get_attribute(
            "data-status") == "offline", timeout=10)
        assert text(browser, f"{tile('billing', 'waiting')} .value") == "—"
        browser.get("about:blank")  # close the stream before the server stops

