"""End to end: a floor of wallboards connects to the live stream at once, through the real pipeline.

Contacts go in through ingest; once the API's figures equal the batch recomputation, 200 clients open the
wallboard page's subscription at the same moment. Every client must get a snapshot whose figures equal the
recomputation, and, after more contacts go in, updates that bring every scope it sees to the new recomputation.
The snapshot is built once for them all (``fanout.SharedEvents``), not once per client.
"""

from __future__ import annotations

import asyncio
import json
import random
import time

import httpx
import pytest

from services.common.events import to_epoch_ms
from services.demo.synthetic import history
from tests.support import recompute
from tests.support.apifigures import api_figures, expected_body
from tests.support.pipeline import Pipeline

pytestmark = [pytest.mark.kafka, pytest.mark.e2e]

CLIENTS = 200
PATH = "/v1/stream?scope=all&scope=queue/&window=all"


@pytest.fixture
def pipeline(kafka_bootstrap, unique_names, tmp_path):
    pipe = Pipeline(kafka_bootstrap, unique_names, tmp_path / "logs")
    try:
        yield pipe
    finally:
        pipe.stop_cleanly()


def wanted(docs: list[dict]) -> dict[str, dict]:
    """What a wallboard client must end up showing: the figures of ``all`` and of every queue."""
    figures, gauges = recompute.figures(docs), recompute.live(docs)
    return {scope: expected_body(counters, gauges.get(scope)) for scope, counters in figures.items()
            if scope == "all" or scope.startswith("queue/")}


class Client:
    def __init__(self) -> None:
        self.snapshot: dict[str, dict] | None = None
        self.shown: dict[str, dict] = {}

    async def run(self, http: httpx.AsyncClient, url: str, connected: asyncio.Event) -> None:
        async with http.stream("GET", url + PATH) as response:
            assert response.status_code == 200
            connected.set()
            buffer = b""
            async for chunk in response.aiter_bytes():
                buffer += chunk
                while b"\n\n" in buffer:
                    raw, buffer = buffer.split(b"\n\n", 1)
                    fields = dict(line.split(": ", 1) for line in raw.decode().split("\n") if not line.startswith(":"))
                    if not fields:
                        continue
                    data = json.loads(fields["data"])
                    bodies = data["scopes"] if fields["event"] == "snapshot" else [data]
                    for body in bodies:
                        self.shown[body["scope"]] = api_figures(body)
                    if fields["event"] == "snapshot":
                        self.snapshot = dict(self.shown)


async def herd(url: str, post_more, first: dict, final: dict) -> list[Client]:
    clients = [Client() for _ in range(CLIENTS)]
    limits = httpx.Limits(max_connections=CLIENTS + 10, max_keepalive_connections=0)
    async with httpx.AsyncClient(timeout=httpx.Timeout(60, read=None), limits=limits) as http:
        connected = [asyncio.Event() for _ in clients]
        tasks = [asyncio.create_task(c.run(http, url, e)) for c, e in zip(clients, connected)]
        deadline = time.monotonic() + 60
        while any(c.snapshot is None for c in clients) and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        assert all(c.snapshot == first for c in clients), "a snapshot differs from the recomputation"
        await asyncio.to_thread(post_more)
        while any(c.shown != final for c in clients) and time.monotonic() < deadline + 60:
            await asyncio.sleep(0.2)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return clients


def test_hundreds_of_wallboards_connecting_at_once_get_correct_snapshots_and_updates(pipeline):
    pipeline.start()
    now = int(time.time() * 1000)
    docs = [d for d in history(random.Random(22), now - 3_600_000, contacts=80, mean_gap_ms=40_000)
            if to_epoch_ms(d["occurred_at"]) <= now]
    half = len(docs) // 2
    first, final = wanted(docs[:half]), wanted(docs)
    assert first != final
    with httpx.Client(timeout=10) as client:
        assert pipeline.post(client, docs[:half]).status_code == 202
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # the pipeline has the first half's figures
            if api_figures(client.get(f"{pipeline.api_url}/v1/summary").json()) == first["all"]:
                break
            time.sleep(0.3)

        def post_more() -> None:
            assert pipeline.post(client, docs[half:]).status_code == 202

        clients = asyncio.run(herd(pipeline.api_url, post_more, first, final))
        assert all(c.shown == final for c in clients), (
            f"{sum(c.shown != final for c in clients)} of {CLIENTS} clients do not show the final figures")
        stream_builds = client.get(f"{pipeline.api_url}/metrics").text
    built = _sample(stream_builds, "deskpulse_stream_snapshots_total", result="built")
    shared = _sample(stream_builds, "deskpulse_stream_snapshots_total", result="shared")
    assert built + shared >= CLIENTS and built <= 5  # one build per snapshot max age, not one per client


def _sample(text: str, name: str, **labels: str) -> float:
    rendered = ",".join(f'{k}="{v}"' for k, v in labels.items())
    prefix = f"{name}{{{rendered}}} " if rendered else f"{name} "
    return next(float(line[len(prefix):]) for line in text.splitlines() if line.startswith(prefix))
