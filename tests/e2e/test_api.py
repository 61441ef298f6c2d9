"""End to end: the read API's lists, agent status, live stream and OpenAPI, against real processes.

Ingest, aggregator and API run as real processes on the real broker (one pipeline for the module, so the
whole file stays well under 90 s). Events go in through ingest's HTTP route; figures come out of the API.
"""

from __future__ import annotations

import csv
import io
import json
import random
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from services.common.events import to_epoch_ms
from services.demo.synthetic import agent_shifts, history
from tests.support import recompute
from tests.support.pipeline import Pipeline

pytestmark = [pytest.mark.kafka, pytest.mark.e2e]

BASE = 1_795_000_000_000


@pytest.fixture(scope="module")
def pipeline(kafka_bootstrap, tmp_path_factory):
    tag = f"api-{int(time.time() * 1000) % 10**8}"
    names = {"DESKPULSE_EVENTS_TOPIC": f"t.{tag}.events", "DESKPULSE_DLQ_TOPIC": f"t.{tag}.dlq",
             "DESKPULSE_KPIS_TOPIC": f"t.{tag}.kpis", "DESKPULSE_CONTACTS_TOPIC": f"t.{tag}.contacts",
             "DESKPULSE_AGGREGATOR_APP_ID": f"t-{tag}"}
    pipe = Pipeline(kafka_bootstrap, names, tmp_path_factory.mktemp("api-logs"))
    pipe.start()
    try:
        yield pipe
    finally:
        pipe.stop_cleanly()


def wait_for(check, timeout: float = 30.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.3)


@pytest.fixture(scope="module")
def loaded(pipeline):
    """History and agent presence posted, and visible in the API."""
    rng = random.Random(11)
    docs = history(rng, BASE, contacts=60, mean_gap_ms=30_000)
    presence = agent_shifts(rng, BASE, BASE + 3_600_000)
    with httpx.Client(timeout=10) as client:
        for i in range(0, len(docs + presence), 100):
            assert pipeline.post(client, (docs + presence)[i:i + 100]).status_code == 202
        created = recompute.figures(docs)["all"]["created"]
        wait_for(lambda: client.get(f"{pipeline.api_url}/v1/summary").json()["contacts"]["created"] == created,
                 what="the summary")
        latest = {}
        for event in sorted(presence, key=lambda e: e["occurred_at"]):
            latest[f"agent/{event['platform']}/{event['agent_id']}"] = event
        wait_for(lambda: client.get(f"{pipeline.api_url}/v1/agents?limit=1000").json()["total"] == len(latest),
                 what="every agent")
    return docs, latest


def collect(client: httpx.Client, url: str) -> list[dict]:
    items = []
    while url:
        page = client.get(url).json()
        items += page["items"]
        url = page["next"] and url.split("/v1/")[0] + page["next"]
    return items


def test_lists_page_through_every_queue_and_filter_agents(pipeline, loaded):
    docs, latest = loaded
    api = pipeline.api_url
    expected = recompute.figures(docs)
    queues = sorted(s for s in expected if s.startswith("queue/"))
    with httpx.Client(timeout=10) as client:
        items = collect(client, f"{api}/v1/queues?limit=2")
        assert [i["scope"] for i in items] == queues
        for item in items:
            assert item["contacts"]["created"] == expected[item["scope"]].get("created", 0)
        zendesk = client.get(f"{api}/v1/queues?platform=zendesk").json()
        assert [i["scope"] for i in zendesk["items"]] == [q for q in queues if q.startswith("queue/zendesk/")]
        for state in ("available", "busy", "away", "offline"):
            want = sorted(s for s, e in latest.items() if e["state"] == state)
            got = collect(client, f"{api}/v1/agents?state={state}&limit=3")
            assert [i["scope"] for i in got] == want, state
        intercom = client.get(f"{api}/v1/agents?platform=intercom&window=today").json()
        assert intercom["total"] == sum(1 for s in latest if s.startswith("agent/intercom/"))
        assert all(i["window"] == "today" for i in intercom["items"])
        assert client.get(f"{api}/v1/agents?limit=0").status_code == 422


def test_agent_status_is_the_latest_presence_with_open_contacts(pipeline, loaded):
    _, latest = loaded
    api = pipeline.api_url
    with httpx.Client(timeout=10) as client:
        for scope, event in list(latest.items())[:6]:
            _, platform, agent = scope.split("/", 2)
            body = client.get(f"{api}/v1/agents/{platform}/{agent}?window=today").json()
            assert body["agent"]["state"] == event["state"]
            assert to_epoch_ms(body["agent"]["since"]) == to_epoch_ms(event["occurred_at"])
            assert body["agent"]["raw_state"] == event["attributes"]["raw_state"]
            assert isinstance(body["live"]["open"], int) and body["window"] == "today"
            assert client.get(f"{api}/v1/agents/{agent}").json()["scope"] == scope  # bare id, unique
        missing = client.get(f"{api}/v1/agents/zendesk/nobody")
        assert missing.status_code == 404 and missing.json() == {"detail": "unknown agent 'zendesk/nobody'"}


class Events:
    """Server-sent events read from one streaming response."""

    def __init__(self, response: httpx.Response) -> None:
        self.lines = response.iter_lines()
        self.last_id: str | None = None

    def next(self) -> dict:
        event: dict = {}
        for line in self.lines:
            if line.startswith(":"):
                continue
            if line == "":
                if event:
                    if "id" in event:
                        self.last_id = event["id"]
                    return event
                continue
            name, _, value = line.partition(":")
            event[name] = value[1:] if value.startswith(" ") else value
        raise AssertionError("stream ended")


def contact(platform: str, queue: str, n: int, t_ms: int) -> dict:
    return {"schema": "deskpulse.event.v1", "event_id": f"stream-{platform}-{queue}-{n}", "type": "contact.created",
            "occurred_at": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t_ms / 1000)) + f".{t_ms % 1000:03d}Z",
            "platform": platform, "contact_id": f"stream-{queue}-{n}", "queue_id": queue, "channel": "email",
            "status": "new"}


def test_stream_snapshot_updates_and_resume_without_gaps(pipeline, loaded):
    api = pipeline.api_url
    t = BASE + 4_000_000
    figures: dict[str, int] = {}  # what a wallboard would show: created per scope, from the stream only
    stream_url = f"{api}/v1/stream?scope=queue/zendesk/&scope=all&window=all"
    timeout = httpx.Timeout(10.0, read=20.0)
    with httpx.Client(timeout=timeout) as client, httpx.Client(timeout=10) as poster:
        with client.stream("GET", stream_url) as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            events = Events(response)
            snapshot = events.next()
            assert snapshot["event"] == "snapshot"
            for body in json.loads(snapshot["data"])["scopes"]:
                assert body["scope"] == "all" or body["scope"].startswith("queue/zendesk/")
                figures[body["scope"]] = body["contacts"]["created"]
            before = figures["queue/zendesk/billing"] if "queue/zendesk/billing" in figures else 0
            assert pipeline.post(poster, [contact("zendesk", "billing", i, t + i) for i in range(3)]).status_code == 202
            ids = [int(snapshot["id"])]
            while figures.get("queue/zendesk/billing", 0) < before + 3:
                update = events.next()
                assert update["event"] == "update"
                ids.append(int(update["id"]))
                body = json.loads(update["data"])
                figures[body["scope"]] = body["contacts"]["created"]
            assert ids == sorted(ids) and len(set(ids)) == len(ids)
            resume_from = events.last_id
        # away: figures change in two queues and overall
        assert pipeline.post(poster, [contact("zendesk", "billing", 10 + i, t + 10 + i) for i in range(2)]
                             + [contact("zendesk", "new-queue", i, t + 20 + i) for i in range(4)]
                             + [contact("intercom", "elsewhere", i, t + 30 + i) for i in range(2)]).status_code == 202
        rest = lambda path: poster.get(f"{api}/v1/{path}").json()  # noqa: E731
        wait_for(lambda: rest("queues/zendesk/new-queue").get("contacts", {}).get("created") == 4
                 and rest("queues/zendesk/billing")["contacts"]["created"] == before + 5, what="the new figures")
        time.sleep(1.0)  # past one coalescing interval, so the changes are numbered before we come back
        with client.stream("GET", stream_url, headers={"Last-Event-ID": resume_from}) as response:
            events = Events(response)
            replayed = []
            while figures.get("queue/zendesk/new-queue") != 4 or figures["queue/zendesk/billing"] != before + 5:
                event = events.next()
                assert event["event"] == "update", "a replay, not a fresh snapshot"
                replayed.append(int(event["id"]))
                body = json.loads(event["data"])
                assert body["scope"] == "all" or body["scope"].startswith("queue/zendesk/")
                figures[body["scope"]] = body["contacts"]["created"]
            assert replayed and replayed == sorted(replayed) and replayed[0] > int(resume_from)
        # nothing missed: the stream-fed figures equal the REST figures for every scope it covers
        wait_for(lambda: rest("summary")["contacts"]["created"] == figures["all"] or None, timeout=5,
                 what="the summary to match the stream")
        for scope, created in figures.items():
            if scope != "all":
                assert rest(f"queues/{scope.split('/', 1)[1]}")["contacts"]["created"] == created, scope
        # an unknown id gets a fresh snapshot
        with client.stream("GET", stream_url, headers={"Last-Event-ID": "7"}) as response:
            assert Events(response).next()["event"] == "snapshot"


def test_schemathesis_finds_no_server_errors(pipeline, loaded, tmp_path):
    command = [str(Path(sys.executable).with_name("schemathesis")), "run", f"{pipeline.api_url}/openapi.json",
               "--checks", "not_a_server_error", "--exclude-path", "/v1/stream", "--max-examples", "30",
               "--seed", "2026", "--workers", "1", "--request-timeout", "10", "--max-time", "35"]
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    print(result.stdout[-4000:])
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]


def test_without_the_aggregator_the_api_serves_its_last_state_and_reports_staleness(pipeline, loaded):
    api = pipeline.api_url
    with httpx.Client(timeout=10) as client:
        before = client.get(f"{api}/v1/summary").json()
        assert pipeline.services["aggregator"].stop() == 0  # nothing reaches the snapshot topic any more
        time.sleep(2.5)
        after = client.get(f"{api}/v1/summary").json()
        assert after["contacts"] == before["contacts"] and after["stale_seconds"] >= 2.0
        ready = client.get(f"{api}/readyz")
        assert ready.status_code == 200 and ready.json()["stale_seconds"] >= 2.0
        ages = [line for line in client.get(f"{api}/metrics").text.splitlines()
                if line.startswith("deskpulse_snapshot_age_seconds ")]
        assert len(ages) == 1 and float(ages[0].split()[1]) >= 2.0


def test_api_stops_promptly_with_a_stream_open(kafka_bootstrap, unique_names, tmp_path):
    import threading

    pipe = Pipeline(kafka_bootstrap, unique_names, tmp_path / "logs")
    try:
        pipe.start("api")
        opened = threading.Event()

        def listen():
            try:
                with httpx.stream("GET", f"{pipe.api_url}/v1/stream", timeout=30) as response:
                    for _ in response.iter_lines():
                        opened.set()
            except httpx.HTTPError:
                pass

        threading.Thread(target=listen, daemon=True).start()
        assert opened.wait(10)
        started = time.monotonic()
        assert pipe.services["api"].stop(timeout_s=20) == 0
        assert time.monotonic() - started < 5  # not uvicorn's 10 s graceful timeout
    finally:
        pipe.stop()


def test_the_contacts_export_through_kafka_has_each_contacts_row_as_recomputed(pipeline, loaded):
    """deskpulse.contacts.v1 end to end: the aggregator's rows reach the API, one per contact, adding up to the
    recomputed figures (no contact is retired: the history is younger than the retention)."""
    docs, _ = loaded
    want = recompute.figures(docs)["all"]
    keys = {f"{d['platform']}/{d['contact_id']}" for d in docs if d.get("contact_id")}
    with httpx.Client(timeout=10) as client:
        def rows():  # the loaded history's contacts (other tests of the module post a few of their own)
            text = client.get(f"{pipeline.api_url}/v1/export/contacts.csv", params={"window": "all"}).text
            out = [r for r in csv.DictReader(io.StringIO(text)) if r["key"] in keys]
            return out if len(out) == want["created"] == len(keys) else None

        got = wait_for(rows, what="a row per contact")
        waiting = client.get(f"{pipeline.api_url}/v1/queues/zendesk/billing/contacts",
                             params={"state": "waiting", "limit": 1000}).json()
    fr = [float(r["first_response_seconds"]) for r in got if r["first_response_seconds"]]
    assert len(fr) == want["fr_count"] and round(sum(fr) * 1000) == want["fr_ms"]
    assert sum(r["resolved_at"] != "" for r in got) == want.get("resolved", 0)
    mine = [i for i in waiting["items"] if i["key"] in keys]
    assert len(mine) == recompute.live(docs).get("queue/zendesk/billing", {}).get("waiting", 0)
