"""The HTTP and Kafka targets of deskpulse replay, against a mock transport and a fake producer."""

import asyncio
import json

import httpx
import pytest

from services.commands.replay import send_to_ingest, send_to_kafka
from services.replay.documents import document
from services.replay.progress import Progress, render
from services.replay.targets import ReplayError

URL = "http://ingest.test/webhooks/canonical"


def events(n=3):
    return [document(event_id=f"t:c{i}:0", type="contact.created", ms=1_336_000_000_000 + i, platform="t",
                     contact_id=f"c{i}", status="new", attributes={}) for i in range(n)]


def client_answering(*answers):
    seen = []
    answers = list(answers)

    def handler(request):
        seen.append(request)
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        status, body = answer
        return httpx.Response(status, json=body, headers={"retry-after": "0.25"} if status == 503 else {})

    return httpx.AsyncClient(transport=httpx.MockTransport(handler)), seen


async def test_posts_one_json_array_with_the_bearer_token():
    client, seen = client_answering((202, {"accepted": 3}))
    async with client:
        assert await send_to_ingest(client, URL, events(), token="s3cret") == 3
    (request,) = seen
    assert request.headers["content-type"] == "application/json"
    assert request.headers["authorization"] == "Bearer s3cret"
    assert [e["event_id"] for e in json.loads(request.content)] == ["t:c0:0", "t:c1:0", "t:c2:0"]


async def test_retries_503_and_connection_errors_with_backoff():
    client, seen = client_answering((503, {"detail": "Kafka is unavailable"}), httpx.ConnectError("refused"),
                                    (200, {"accepted": 0, "duplicate": True}))
    slept = []

    async def sleep(seconds):
        slept.append(seconds)

    async with client:
        assert await send_to_ingest(client, URL, events(), sleep=sleep, backoff_s=0.5) == 0
    assert len(seen) == 3
    assert slept == [0.25, 1.0]  # Retry-After honoured, then exponential backoff


async def test_gives_up_after_the_attempts_and_refusals_are_not_retried():
    client, _ = client_answering(*[(503, {"detail": "Kafka is unavailable"})] * 3)

    async def sleep(seconds):
        pass

    async with client:
        with pytest.raises(ReplayError, match="503.*gave up after 3 attempts"):
            await send_to_ingest(client, URL, events(), attempts=3, sleep=sleep)
    client, seen = client_answering((400, {"detail": "event[0]: type: bad"}))
    async with client:
        with pytest.raises(ReplayError, match="400: event\\[0\\]: type: bad"):
            await send_to_ingest(client, URL, events())
    assert len(seen) == 1


class FakeProducer:
    def __init__(self):
        self.records = []

    async def send(self, topic, key=None, value=None):
        self.records.append((topic, key, json.loads(value)))
        future = asyncio.get_running_loop().create_future()
        future.set_result(None)
        return future


async def test_kafka_target_keys_by_contact_and_waits_for_every_ack():
    producer = FakeProducer()
    assert await send_to_kafka(producer, "deskpulse.events.v1", events()) == 3
    assert [(t, k) for t, k, _ in producer.records] == [("deskpulse.events.v1", b"c0"), ("deskpulse.events.v1", b"c1"),
                                                       ("deskpulse.events.v1", b"c2")]
    assert producer.records[0][2] == events()[0]


def test_progress_line():
    assert render(50, 200, 2.0, width=10) == "[##........] 50/200 events  25.0%  25 events/s  2.0 s"

    class Stream:
        text = ""

        def write(self, s):
            self.text += s

        def flush(self):
            pass

    stream, now = Stream(), [0.0]
    bar = Progress(4, stream=stream, clock=lambda: now[0])
    now[0] = 1.0
    bar.update(4)
    bar.close()
    assert stream.text.splitlines()[-1].startswith("[" + "#" * 30 + "] 4/4 events 100.0%")


async def test_real_ingest_app_accepts_replayed_batches_and_503_is_retried():
    """The first 400 Helpdesk events through the real ingest app (in-memory publisher) in batches of 200."""
    from itertools import islice
    from pathlib import Path

    from services.common.settings import Settings
    from services.ingest.app import create_app
    from services.ingest.publisher import InMemoryPublisher
    from services.replay import helpdesk

    path = Path(__file__).resolve().parents[3] / "data" / "helpdesk" / "finale.csv"
    batch = list(islice(helpdesk.events(path), 400))
    publisher = InMemoryPublisher()
    app = create_app(Settings(), publisher=publisher)
    publisher.available = False
    calls = []

    async def sleep(seconds):  # Kafka comes back while the replay backs off
        calls.append(seconds)
        publisher.available = True

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ingest") as client:
        for start in (0, 200):
            chunk = batch[start:start + 200]
            assert await send_to_ingest(client, "http://ingest/webhooks/canonical", chunk, sleep=sleep) == 200
    assert calls == [0.5]
    assert [json.loads(v)["event_id"] for _, _, v in publisher.records] == [e["event_id"] for e in batch]
    assert {k for _, k, _ in publisher.records} == {e["contact_id"].encode() for e in batch}
