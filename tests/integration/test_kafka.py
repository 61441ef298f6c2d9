"""Topic creation, durable publication and the ingest → Kafka path, against the real broker."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient

from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from fastapi.testclient import TestClient

from services.common.kafka import ensure_topics
from services.common.localkafka import free_port
from services.common.settings import Settings
from services.ingest.app import create_app
from services.ingest.publisher import KafkaPublisher, PublishUnavailable
from tests.support.events import doc

pytestmark = pytest.mark.kafka


def settings_for(bootstrap: str, names: dict[str, str], **extra) -> Settings:
    return Settings(
        kafka_bootstrap=bootstrap,
        events_topic=names["DESKPULSE_EVENTS_TOPIC"],
        dlq_topic=names["DESKPULSE_DLQ_TOPIC"],
        kpis_topic=names["DESKPULSE_KPIS_TOPIC"],
        contacts_topic=names["DESKPULSE_CONTACTS_TOPIC"],
        **extra,
    )


async def read_all(bootstrap: str, topic: str, expected: int, timeout_s: float = 20) -> list:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest")
    await consumer.start()
    records = []
    try:
        deadline = time.monotonic() + timeout_s
        while len(records) < expected and time.monotonic() < deadline:
            for batch in (await consumer.getmany(timeout_ms=300)).values():
                records.extend(batch)
    finally:
        await consumer.stop()
    return records


async def test_topics_are_created_once_with_partitions_and_compaction(kafka_bootstrap, unique_names):
    settings = settings_for(kafka_bootstrap, unique_names, topic_partitions=3)
    await ensure_topics(settings)
    await ensure_topics(settings)  # idempotent
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        described = {t["topic"]: t for t in await admin.describe_topics([settings.events_topic, settings.kpis_topic])}
        assert len(described[settings.events_topic]["partitions"]) == 3
        [config] = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, settings.kpis_topic)])
        entries = {e[0]: e[1] for e in config.resources[0][4]}
        assert entries["cleanup.policy"] == "compact"
    finally:
        await admin.close()


async def test_publisher_returns_after_ack_and_records_are_readable(kafka_bootstrap, unique_names):
    topic = unique_names["DESKPULSE_EVENTS_TOPIC"]
    publisher = KafkaPublisher(kafka_bootstrap, timeout_s=10)
    await publisher.start()
    deadline = time.monotonic() + 20
    while not publisher.connected and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    try:
        await publisher.publish(topic, [(f"k{i}".encode(), f"v{i}".encode()) for i in range(50)])
    finally:
        await publisher.stop()
    records = await read_all(kafka_bootstrap, topic, 50)
    assert sorted(r.value for r in records) == sorted(f"v{i}".encode() for i in range(50))
    assert {r.key for r in records} == {f"k{i}".encode() for i in range(50)}


async def test_unreachable_kafka_fails_fast_with_the_typed_error():
    publisher = KafkaPublisher(f"127.0.0.1:{free_port()}", timeout_s=1)
    started = time.monotonic()
    await publisher.start()  # does not block while Kafka is down
    with pytest.raises(PublishUnavailable):
        await publisher.publish("any", [(b"k", b"v")])
    await publisher.stop()
    assert time.monotonic() - started < 5


def test_ingest_acknowledges_only_what_kafka_holds(kafka_bootstrap, unique_names):
    settings = settings_for(kafka_bootstrap, unique_names)
    asyncio.run(ensure_topics(settings))
    events = [doc("contact.created", i, contact=f"c{i}") for i in range(20)]
    with TestClient(create_app(settings)) as client:
        deadline = time.monotonic() + 20
        while client.get("/readyz").status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert client.post("/webhooks/canonical", json=events).status_code == 202
        bad = client.post("/webhooks/canonical", json=[*events[:3], {"nope": 1}])
        assert bad.status_code == 400
    records = asyncio.run(read_all(kafka_bootstrap, settings.events_topic, 21, timeout_s=5))
    assert len(records) == 20  # the rejected array left nothing behind
    assert {json.loads(r.value)["event_id"] for r in records} == {e["event_id"] for e in events}
    assert {r.key for r in records} == {e["contact_id"].encode() for e in events}
