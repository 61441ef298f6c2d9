"""End to end: one wrong clock changes no figure (docs/architecture.md, "Clocks").

Live traffic goes in through ingest; in the middle of it, an event dated 2030 arrives three ways: as a canonical
event (refused with 400), in a platform's webhook (accepted at its receipt time, the platform's time kept in
``attributes.platform_occurred_at``) and written straight to Kafka by another producer (not applied by the
aggregator, counted, shown on the API's ``/readyz``). Afterwards every figure equals the batch recomputation of
the traffic plus the restamped webhook events.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from pathlib import Path

import httpx
import orjson
import pytest
from aiokafka import AIOKafkaProducer

from services.common.events import to_epoch_ms
from services.demo.synthetic import history
from tests.support import recompute
from tests.support.apifigures import api_figures, assert_every_scope, expected_body
from tests.support.kafka import read_topic
from tests.support.pipeline import Pipeline

pytestmark = [pytest.mark.kafka, pytest.mark.e2e]

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
STRAY = "2030-01-01T00:00:00.000Z"


@pytest.fixture
def pipeline(kafka_bootstrap, unique_names, tmp_path):
    pipe = Pipeline(kafka_bootstrap, unique_names, tmp_path / "logs",
                    extra_env={"DESKPULSE_WEBHOOK_SECRET_GORGIAS": "e2e-secret", "DESKPULSE_MAX_CLOCK_SKEW_S": "300"})
    try:
        yield pipe
    finally:
        pipe.stop_cleanly()


async def _produce(bootstrap: str, topic: str, key: bytes, value: bytes) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(topic, value, key=key)
    finally:
        await producer.stop()


def _counter(text: str, name: str, **labels: str) -> float:
    """The sum of ``name``'s samples carrying ``labels`` in a text exposition."""
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_an_event_from_2030_changes_no_other_figure(pipeline, kafka_bootstrap, unique_names):
    pipeline.start()
    now = int(time.time() * 1000)
    docs = [d for d in history(random.Random(30), now - 2 * 3_600_000, contacts=60, mean_gap_ms=60_000)
            if to_epoch_ms(d["occurred_at"]) <= now]
    half = len(docs) // 2
    gorgias = json.loads((FIXTURES / "gorgias" / "ticket_created.json").read_text())["body"]
    gorgias["ticket"].update(id="2030", created_datetime="2030-01-01T00:00:00", updated_datetime="2030-01-01T00:00:00",
                             last_message_datetime="2030-01-01T00:00:00")
    canonical = {**docs[0], "event_id": "stray-canonical", "contact_id": "stray-canonical", "occurred_at": STRAY}
    direct = {**docs[0], "event_id": "stray-direct", "contact_id": "stray-direct", "occurred_at": STRAY}

    with httpx.Client(timeout=10) as client:
        assert pipeline.post(client, docs[:half]).status_code == 202
        refused = pipeline.post(client, [canonical])
        assert refused.status_code == 400 and "DESKPULSE_MAX_CLOCK_SKEW_S" in refused.json()["detail"]
        assert refused.json()["detail"].startswith(f"occurred_at: {STRAY} is ")
        webhook = client.post(f"{pipeline.ingest_url}/webhooks/gorgias/acme", json=gorgias,
                              headers={"X-Deskpulse-Secret": "e2e-secret"})
        assert webhook.status_code == 202, webhook.text
        asyncio.run(_produce(kafka_bootstrap, unique_names["DESKPULSE_EVENTS_TOPIC"], b"stray-direct",
                             orjson.dumps(direct)))
        assert pipeline.post(client, docs[half:]).status_code == 202

        on_kafka = [orjson.loads(r.value) for r in asyncio.run(
            read_topic(kafka_bootstrap, unique_names["DESKPULSE_EVENTS_TOPIC"], pipeline.partitions))]
        restamped = [e for e in on_kafka if e["platform"] == "gorgias"]
        assert len(restamped) == 2 and all(e["attributes"]["platform_occurred_at"] == STRAY for e in restamped)
        assert all(now <= to_epoch_ms(e["occurred_at"]) <= int(time.time() * 1000) for e in restamped)
        assert not any(e["event_id"] == "stray-canonical" for e in on_kafka)
        counted = docs + restamped  # the webhook's events count at their receipt time; the other two not at all

        want = expected_body(recompute.figures(counted)["all"], recompute.live(counted).get("all"))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            summary = client.get(f"{pipeline.api_url}/v1/summary").json()
            ready = client.get(f"{pipeline.api_url}/readyz").json()
            if api_figures(summary) == want and ready.get("future_events"):
                break
            time.sleep(0.3)
        assert api_figures(summary) == want
        assert to_epoch_ms(summary["as_of"]) <= int(time.time() * 1000) + 300_000  # "now" was not dragged to 2030
        assert_every_scope(client, pipeline.api_url, counted)

        future = ready["future_events"]
        assert future["refused"] == 1 and future["last"]["event_id"] == "stray-direct"
        assert future["last"]["occurred_at"] == STRAY and future["last"]["ahead_seconds"] > 86_400 * 365
        aggregator = client.get(f"http://127.0.0.1:{pipeline.metrics_port}/metrics").text
        assert _counter(aggregator, "deskpulse_aggregator_events_total", outcome="future") == 1
        assert _counter(aggregator, "deskpulse_aggregator_events_total", outcome="retired_late") == 0
        ingest = client.get(f"{pipeline.ingest_url}/metrics").text
        assert _counter(ingest, "deskpulse_ingest_future_events_total", platform="canonical", action="refused") == 1
        assert _counter(ingest, "deskpulse_ingest_future_events_total", platform="gorgias", action="restamped") == 2
