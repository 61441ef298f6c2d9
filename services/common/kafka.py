"""Kafka helpers shared by the services: topic creation and client factories (no service logic)."""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from services.common.settings import CommonSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    config: dict[str, str] = field(default_factory=dict)


def deskpulse_topics(settings: CommonSettings) -> list[TopicSpec]:
    """The public topics of ARCHITECTURE.md. Faust creates its own changelog topics."""
    return [
        TopicSpec(settings.events_topic, settings.topic_partitions),
        TopicSpec(settings.dlq_topic, 1),
        # Compacted: the latest snapshot per key is all the API needs to rebuild its read model.
        TopicSpec(
            settings.kpis_topic,
            settings.topic_partitions,
            {"cleanup.policy": "compact", "segment.ms": "600000", "min.cleanable.dirty.ratio": "0.1"},
        ),
    ] + (
        # Compacted too: the latest row per contact, a tombstone once it is retired (unless DESKPULSE_CONTACT_ROWS=false).
        [
            TopicSpec(
                settings.contacts_topic,
                settings.topic_partitions,
                {"cleanup.policy": "compact", "segment.ms": "600000", "min.cleanable.dirty.ratio": "0.1"},
            )
        ]
        if getattr(settings, "contact_rows", False)  # the aggregator and the API have it; ingest does not
        else []
    )


async def ensure_topics(
    settings: CommonSettings, specs: list[TopicSpec] | None = None, timeout_s: float = 30.0
) -> None:
    """Create any missing topic; existing topics are left as they are. Idempotent, safe to race."""
    specs = specs if specs is not None else deskpulse_topics(settings)
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap, request_timeout_ms=int(timeout_s * 1000))
    await asyncio.wait_for(admin.start(), timeout_s)
    try:
        existing = set(await admin.list_topics())
        missing = [s for s in specs if s.name not in existing]
        for spec in missing:
            try:
                await admin.create_topics(
                    [NewTopic(spec.name, spec.partitions, settings.topic_replication, topic_configs=spec.config)]
                )
                log.info("created topic %s (%d partitions)", spec.name, spec.partitions)
            except TopicAlreadyExistsError:
                pass
    finally:
        await admin.close()


async def ensure_topics_when_reachable(
    settings: CommonSettings, wait_s: float, first_retry_s: float = 1.0, longest_retry_s: float = 15.0
) -> None:
    """``ensure_topics`` once Kafka answers: a broker that is not up yet (containers starting together, a broker
    restarting) is waited for up to ``wait_s``, with a warning per attempt; after that the last error is raised."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_s
    retry_s = first_retry_s
    while True:
        try:
            await ensure_topics(settings)
            return
        except (KafkaError, OSError, TimeoutError) as exc:
            left = deadline - loop.time()
            if left <= 0:
                raise
            pause = min(retry_s, left)
            log.warning(
                "Kafka at %s does not answer (%r); trying again in %.0f s", settings.kafka_bootstrap, exc, pause
            )
            await asyncio.sleep(pause)
            retry_s = min(retry_s * 2, longest_retry_s)


async def metadata_round_trip(bootstrap: str, timeout_s: float = 10.0) -> None:
    """Prove a broker serves requests: create a throwaway topic, write and read one record, delete the topic.

    An open port is not a ready broker (STACK.md §4.5); this is the readiness check for the local broker.
    """
    name = f"deskpulse.health.{uuid.uuid4().hex[:12]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=int(timeout_s * 1000))
    await asyncio.wait_for(admin.start(), timeout_s)
    try:
        await admin.create_topics([NewTopic(name, 1, 1)])
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
        await producer.start()
        try:
            await asyncio.wait_for(producer.send_and_wait(name, b"ping"), timeout_s)
        finally:
            await producer.stop()
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
        await consumer.start()
        try:
            tp = TopicPartition(name, 0)
            consumer.assign([tp])
            await consumer.seek_to_beginning(tp)
            record = await asyncio.wait_for(consumer.getone(), timeout_s)
            if record.value != b"ping":
                raise RuntimeError("broker returned a different record than was written")
        finally:
            await consumer.stop()
        await admin.delete_topics([name])
    finally:
        await admin.close()
