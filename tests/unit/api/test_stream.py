"""The live stream: the change feed's numbering, coalescing and replay, and the SSE contract over a real server."""

import asyncio
import json
import threading
import time
from contextlib import contextmanager

import httpx
import pytest
import uvicorn

from services.api.app import create_app
from services.api.readmodel import ReadModel
from services.api.stream import WOKEN_AT_ONCE, ChangeFeed, ScopeFilter
from services.common.localkafka import free_port
from services.common.settings import Settings
from tests.support.partials import encoded


def test_filter_takes_ids_and_prefixes():
    match = ScopeFilter(["all", "queue/zendesk/"])
    assert match("all") and match("queue/zendesk/billing")
    assert not match("queue/intercom/billing") and not match("platform/zendesk")
    assert ScopeFilter([])("anything")


async def test_feed_numbers_coalesces_and_replays():
    model = ReadModel()
    feed = ChangeFeed(model, interval_s=0.01, buffer=3)
    sub = feed.subscribe(ScopeFilter(["queue/"]))
    start = feed.seq
    feed.publish(["queue/z/a", "all"])
    feed.publish(["queue/z/b"])
    feed.publish(["queue/z/a"])
    assert await sub.next(0.1) == [(start + 3, "queue/z/b"), (start + 4, "queue/z/a")]  # one entry per scope
    assert await sub.next(0.01) == []  # timeout: nothing new
    assert feed.since(start + 1, ScopeFilter()) == [(start + 3, "queue/z/b"), (start + 4, "queue/z/a")]
    assert feed.since(start + 4, ScopeFilter()) == []
    assert feed.since(start, ScopeFilter()) is None  # start + 1 fell out of the buffer of 3
    assert feed.since(start + 99, ScopeFilter()) is None  # not given out yet: another process's id
    assert feed.since(start - 5, ScopeFilter()) is None  # an earlier process's id


async def test_feed_polls_the_model_and_publishes_changed_scopes():
    model = ReadModel()
    feed = ChangeFeed(model, interval_s=0.05, poll_s=0.01)
    await feed.start()
    sub = feed.subscribe(ScopeFilter())
    model.apply(*encoded("queue/z/a"))
    model.apply(*encoded("queue/z/a", 1))
    assert [scope for _, scope in await sub.next(1)] == ["queue/z/a"]
    await feed.stop()


async def test_a_change_wakes_the_subscribers_a_few_at_a_time():
    """500 streams woken in one turn of the event loop wrote their updates in it, one after the other: 50 ms
    that every request waited behind. They are handed their changes ``WOKEN_AT_ONCE`` per turn."""
    model = ReadModel()
    feed = ChangeFeed(model, interval_s=0.05, poll_s=0.01)
    await feed.start()
    queues = [feed.subscribe(ScopeFilter(["queue/"])) for _ in range(4 * WOKEN_AT_ONCE + 3)]
    agents = feed.subscribe(ScopeFilter(["agent/"]))
    seen = [0]  # subscribers with their change: none before it, then once per turn of the loop

    async def watch():
        while True:
            seen.append(sum(1 for s in queues if s.pending))
            await asyncio.sleep(0)

    watcher = asyncio.create_task(watch())
    model.apply(*encoded("queue/z/a"))
    async with asyncio.timeout(5):
        while not seen or seen[-1] < len(queues):
            await asyncio.sleep(0.001)
    watcher.cancel()
    await feed.stop()
    assert {tuple(s.pending.items()) for s in queues} == {(("queue/z/a", feed.seq),)}
    assert not agents.pending
    steps = [b - a for a, b in zip(seen, seen[1:]) if b != a]
    assert max(steps) <= WOKEN_AT_ONCE and len(steps) == 5, steps


@contextmanager
def serve(app):
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on",
                                           timeout_graceful_shutdown=1))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def read_events(response, count: int, timeout: float = 5.0) -> list[dict]:
    """The next ``count`` events (comments as {"comment": ...}) from an SSE response."""
    if not hasattr(response, "_sse_lines"):
        response._sse_lines = response.iter_lines()
    events, current = [], {}
    deadline = time.monotonic() + timeout
    for line in response._sse_lines:
        if line.startswith(":"):
            events.append({"comment": line[1:].strip()})
        elif line == "":
            if current:
                events.append(current)
                current = {}
        else:
            field, _, value = line.partition(":")
            current[field] = value[1:] if value.startswith(" ") else value
        if len(events) >= count or time.monotonic() > deadline:
            break
    return events


def apply_soon(app, *records):
    """Apply records on the server's loop, as the snapshot consumer does."""
    model: ReadModel = app.state.read_model
    for key, value in records:
        model.apply(key, value)


@pytest.fixture
def app():
    model = ReadModel()
    model.apply(*encoded("all", totals={"created": 1}))
    model.apply(*encoded("queue/zendesk/billing", totals={"created": 1}))
    model.apply(*encoded("queue/intercom/sales", totals={"created": 1}))
    model.caught_up = True
    return create_app(Settings(), read_model=model, consume=False, stream_interval_s=0.1, keepalive_s=0.5)


def test_snapshot_then_coalesced_updates_then_keepalive_and_replay(app):
    with serve(app) as url, httpx.Client(timeout=10) as client:
        with client.stream("GET", f"{url}/v1/stream?scope=queue/zendesk/&scope=all&window=all") as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            snapshot, = read_events(response, 1)
            assert snapshot["event"] == "snapshot"
            scopes = json.loads(snapshot["data"])["scopes"]
            assert {s["scope"] for s in scopes} == {"all", "queue/zendesk/billing"}
            assert all(s["window"] == "all" for s in scopes)
            for created in (2, 3, 4):  # three records in a row: at most one update
                apply_soon(app, encoded("queue/zendesk/billing", totals={"created": created}))
            apply_soon(app, encoded("queue/intercom/sales", totals={"created": 9}))  # filtered out
            update, = read_events(response, 1)
            assert update["event"] == "update" and int(update["id"]) > int(snapshot["id"])
            body = json.loads(update["data"])
            assert body["scope"] == "queue/zendesk/billing" and body["contacts"]["created"] == 4
            keepalive, = read_events(response, 1)
            assert keepalive == {"comment": "keepalive"}
            last_seen = update["id"]
            apply_soon(app, encoded("all", totals={"created": 7}))
            missed_id = read_events(response, 1)[0]["id"]
        # disconnected; these happen while away
        apply_soon(app, encoded("queue/zendesk/billing", totals={"created": 5}))
        time.sleep(0.3)
        apply_soon(app, encoded("queue/zendesk/other", totals={"created": 1}))
        time.sleep(0.3)
        with client.stream("GET", f"{url}/v1/stream?scope=queue/zendesk/&scope=all&window=all",
                           headers={"Last-Event-ID": last_seen}) as response:
            replayed = read_events(response, 3)
        assert [e["event"] for e in replayed] == ["update"] * 3
        assert [json.loads(e["data"])["scope"] for e in replayed] == [
            "all", "queue/zendesk/billing", "queue/zendesk/other"]
        assert replayed[0]["id"] == missed_id
        ids = [int(e["id"]) for e in replayed]
        assert ids == sorted(ids) and ids[0] > int(last_seen)
        assert json.loads(replayed[1]["data"])["contacts"]["created"] == 5


@pytest.mark.parametrize("last_id", ["12", "garbage", "99999999999999999"])
def test_unknown_or_too_old_id_gets_a_fresh_snapshot(app, last_id):
    with serve(app) as url, httpx.Client(timeout=10) as client:
        with client.stream("GET", f"{url}/v1/stream?scope=all", headers={"Last-Event-ID": last_id}) as response:
            event, = read_events(response, 1)
    scopes = json.loads(event["data"])["scopes"]
    assert event["event"] == "snapshot" and [s["scope"] for s in scopes] == ["all"]
    assert scopes[0]["window"] == "15m"  # the default


def test_stream_parameters_are_validated(app):
    with serve(app) as url:
        assert httpx.get(f"{url}/v1/stream?window=3h").status_code == 422


def test_a_client_given_the_shared_snapshot_also_gets_every_change_since_it(app):
    with serve(app) as url, httpx.Client(timeout=10) as client:
        path = f"{url}/v1/stream?scope=queue/zendesk/&scope=all&window=all"
        with client.stream("GET", path) as first:
            snapshot, = read_events(first, 1)
            apply_soon(app, encoded("queue/zendesk/billing", totals={"created": 5}))
            update, = read_events(first, 1)  # published by the feed
            with client.stream("GET", path) as second:  # within the snapshot's max age: the same bytes, then the change
                again, caught_up = read_events(second, 2)
        assert again == snapshot and app.state.shared_events.builds == 1
        assert caught_up == update and json.loads(caught_up["data"])["contacts"]["created"] == 5


async def test_hundreds_of_clients_connecting_at_once_share_one_snapshot_and_all_get_updates(app):
    import asyncio

    for q in range(300):
        apply_soon(app, encoded(f"queue/zendesk/q{q:03d}", totals={"created": q}))
    expected = {"all", "queue/zendesk/billing"} | {f"queue/zendesk/q{q:03d}" for q in range(300)}

    async def client(http, url, got_snapshot):
        async with http.stream("GET", f"{url}/v1/stream?scope=all&scope=queue/zendesk/&window=all") as response:
            buffer, events = b"", []
            async for chunk in response.aiter_bytes():
                buffer += chunk
                while b"\n\n" in buffer:
                    raw, buffer = buffer.split(b"\n\n", 1)
                    fields = dict(line.split(": ", 1) for line in raw.decode().split("\n") if not line.startswith(":"))
                    if fields:
                        events.append(fields)
                        if fields["event"] == "snapshot":
                            got_snapshot()
                if len(events) == 2:
                    return events

    with serve(app) as url:
        async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=300)) as http:
            snapshots = 0

            def got_snapshot():
                nonlocal snapshots
                snapshots += 1
                if snapshots == 200:
                    apply_soon(app, encoded("queue/zendesk/q007", totals={"created": 777}))

            results = await asyncio.gather(*(client(http, url, got_snapshot) for _ in range(200)))
    for snapshot, update in results:
        assert snapshot["event"] == "snapshot" and {s["scope"] for s in json.loads(snapshot["data"])["scopes"]} == expected
        assert update["event"] == "update", update
        assert json.loads(update["data"])["contacts"]["created"] == 777, update["data"][:80]
    assert app.state.shared_events.builds <= 3  # one per snapshot's max age at most, not one per client


def test_the_light_route_answers_what_the_documented_one_would(app):
    """Well-formed requests take the light route; tokens and bad parameters get the documented answers."""
    model = app.state.read_model
    tokens = create_app(Settings(api_tokens="s3cret"), read_model=model, consume=False, keepalive_s=0.5)
    with serve(tokens) as url, httpx.Client(timeout=10) as client:
        for how in ({"params": {"access_token": "s3cret"}}, {"headers": {"Authorization": "Bearer s3cret"}}):
            with client.stream("GET", f"{url}/v1/stream", **how) as response:
                assert response.status_code == 200 and read_events(response, 1)[0]["event"] == "snapshot"
        missing = client.get(f"{url}/v1/stream")
        assert missing.status_code == 401 and missing.json()["detail"].startswith("missing bearer token")
        assert client.get(f"{url}/v1/stream", params={"access_token": "nope"}).json() == {"detail": "invalid bearer token"}
        too_many = client.get(f"{url}/v1/stream", params={"access_token": "s3cret", "scope": [f"q{i}" for i in range(201)]})
        assert too_many.status_code == 422 and too_many.json()["detail"][0]["loc"] == ["query", "scope"]
    assert tokens.state.shared_events.served == 2  # the refused requests never reached the stream
