"""Faust wiring of the aggregator: topic → contact table → partial snapshots. Logic lives in ``engine``."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter as Counter_

import faust
import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from prometheus_client import Counter, start_http_server

from services.aggregator.engine import Engine, EngineSettings
from services.aggregator.kpis import DefaultConfig, SlaKpiConfig
from services.domain.slaconfig import SlaConfig, SlaConfigError
from services.domain.windows import Retention
from services.aggregator.writeback import WriteBack
from services.common.clock import Clock, wall_ms
from services.common.events import EventValidationError, parse_event
from services.common.kafka import ensure_topics
from services.common.settings import Settings

log = logging.getLogger(__name__)

EVENTS = Counter(
    "deskpulse_aggregator_events_total",
    "Events read from the events topic, by outcome (applied, duplicate, late, retired_late, future, invalid)",
    ["outcome"],
)
LATE = Counter(
    "deskpulse_late_events_total",
    "Events older than stream time minus the grace period; counted where their buckets still exist and "
    "always in totals and live state (retired_late: older than the retirement cutoff, not applied)",
    ["kind"],
)
SNAPSHOTS = Counter("deskpulse_aggregator_snapshots_published_total", "Partial snapshots published")


def kpi_config(settings: Settings):
    """SLA policies and service-level settings from DESKPULSE_SLA_CONFIG, else the defaults."""
    if settings.sla_config is None:
        return DefaultConfig()
    return SlaKpiConfig(SlaConfig.load(settings.sla_config))


def build_app(settings: Settings, config=None, clock: Clock = wall_ms) -> faust.App:
    """The Faust app; ``clock`` is the wall clock that advances stream time while no newer event arrives."""
    datadir = settings.data_dir / "faust" / settings.aggregator_app_id
    datadir.mkdir(parents=True, exist_ok=True)
    app = faust.App(
        settings.aggregator_app_id,
        broker=[f"kafka://{b.strip()}" for b in settings.kafka_bootstrap.split(",")],
        store="memory://",
        # Faust keeps a few files of its own (table metadata) under {datadir}/v1: not in the working directory.
        datadir=str(datadir),
        web_enabled=False,
        topic_partitions=settings.topic_partitions,
        table_standby_replicas=0,
        producer_acks=-1,
        producer_linger=0.005,
        # A worker that died (SIGKILL, lost node) holds its partitions until the broker's session times out:
        # Faust's 60 s default left a restarted worker idle for ~59 s (bench/recovery.py). 10 s, 3 s heartbeats.
        broker_session_timeout=10.0,
    )
    events = app.topic(
        settings.events_topic,
        key_serializer="raw",
        value_serializer="raw",
        partitions=settings.topic_partitions,
    )
    # Keys are strings; values are JSON records: contacts, agents and retired totals (see engine.py).
    # The changelog is compacted (Faust's default) but Kafka only compacts closed segments, and the default segment
    # is a week or 1 GiB: a restart replayed ~4 records per contact. Segments of 10 minutes, cleaned at 10 % dirty.
    contacts = app.Table("contacts", default=None, key_type=str, partitions=settings.topic_partitions,
                         extra_topic_configs={"segment.ms": "600000", "min.cleanable.dirty.ratio": "0.1"})
    snapshots: dict = {"producer": None, "waiting": False}
    pacing = {"next": 0.0}  # monotonic time before which no snapshot is published (see publish_snapshots)
    table = WriteBack(contacts)
    engine = Engine(table, config=config or kpi_config(settings),
                    settings=EngineSettings(retention=Retention(grace_ms=int(settings.grace_s * 1000)),
                                            contact_retention_ms=int(settings.contact_retention_s * 1000),
                                            max_ahead_ms=int(settings.max_clock_skew_s * 1000)))
    built_for = {"generation": -1}

    def ready() -> bool:
        """True once table recovery has completed and the derived aggregates match the assignment."""
        if app.rebalancing or not app.tables.recovery.completed.is_set():
            return False
        if built_for["generation"] != app.rebalancing_count:
            active = {tp.partition for tp in app.assignor.assigned_actives() if tp.topic == settings.events_topic}
            engine.rebuild(active, clock())
            built_for["generation"] = app.rebalancing_count
        return True

    def to_changelog(key: str, record: dict | None, partition: int) -> None:
        # What Table.__setitem__/__delitem__ do, with the partition given: the record's own, not the one of
        # the stream's current event (a batch holds events of several partitions).
        if record is None:
            contacts.data.pop(key, None)
            contacts.send_changelog(partition, key, None, value_serializer="raw")
        else:
            contacts.data[key] = record
            contacts.send_changelog(partition, key, record)

    @app.agent(events)
    async def aggregate(stream):
        # Batches: each record touched by a batch is written to the changelog once (see writeback.py). Events
        # are acknowledged after their batch is processed, so a crash replays the batch (idempotent).
        async for batch in stream.take_events(settings.aggregator_batch_max, within=settings.aggregator_batch_s):
            ready()
            now = clock()
            outcomes: Counter_[str] = Counter_()
            for message in batch:
                try:
                    event = parse_event(orjson.loads(message.value))
                except (ValueError, EventValidationError) as exc:
                    # Ingest validates, so this is a foreign writer: skip it, visibly, rather than stall.
                    outcomes["invalid"] += 1
                    log.warning("skipping invalid event at partition %d offset %d: %s",
                                message.message.partition, message.message.offset, exc)
                    continue
                outcomes[engine.handle(message.message.partition, event, now)] += 1
            table.flush(to_changelog)
            for outcome, n in outcomes.items():
                EVENTS.labels(outcome).inc(n)
                if outcome in ("late", "retired_late"):
                    LATE.labels(outcome).inc(n)

    async def snapshot_producer() -> AIOKafkaProducer | None:
        """The snapshot producer, started on first use; None while Kafka cannot be reached (tried again next tick).

        A producer of its own: large snapshots must not queue ahead of the changelog writes in Faust's producer
        buffer (that stalls the stream).
        """
        if snapshots["producer"] is None:
            producer = AIOKafkaProducer(
                bootstrap_servers=settings.kafka_bootstrap, linger_ms=10, max_batch_size=1_048_576,
                max_request_size=8_388_608, acks=1)
            try:
                await producer.start()
            except KafkaError as exc:
                await producer.stop()
                if not snapshots["waiting"]:  # once per outage, not once per tick
                    log.warning("snapshots wait for Kafka: %s", exc)
                snapshots["waiting"] = True
                return None
            if snapshots["waiting"]:
                log.info("snapshot producer connected to Kafka")
            snapshots.update(producer=producer, waiting=False)
        return snapshots["producer"]

    @app.timer(settings.snapshot_interval_s)
    async def publish_snapshots():
        if time.monotonic() < pacing["next"] or not ready():
            return
        producer = await snapshot_producer()
        if producer is None:
            return
        # Paced on the publication's own cost: not on the rebuild ready() may just have done (a 90 s rebuild
        # after a restart held every snapshot back for another 4 × 90 s) nor on waiting for Kafka.
        started = time.monotonic()
        batch = engine.drain(clock())
        # Not awaited one by one: a snapshot replaces the previous one for its key, and a restarted worker
        # republishes every scope after its rebuild.
        try:
            for key, value in batch:
                await producer.send(settings.kpis_topic, value, key=key)
        except KafkaError as exc:
            log.warning("publishing snapshots failed, every scope is published again next time: %s", exc)
            engine.republish_all()
            return
        SNAPSHOTS.inc(len(batch))
        # The cost is proportional to the scopes that changed, and under a backlog every scope changes in every
        # interval: publication waits four times as long as it took, so it never takes over a fifth of the time.
        pacing["next"] = started + 4 * (time.monotonic() - started)

    @app.on_before_shutdown.connect
    async def stop_snapshot_producer(app, **kwargs):
        if snapshots["producer"] is not None:
            await snapshots["producer"].stop()

    return app


def run(settings: Settings, metrics_port: int | None = None) -> None:
    """Run one aggregator worker until SIGINT/SIGTERM (Faust's worker handles both gracefully)."""
    try:
        config = kpi_config(settings)
    except (SlaConfigError, OSError) as exc:
        log.error("cannot use DESKPULSE_SLA_CONFIG=%s: %s", settings.sla_config, exc)
        raise SystemExit(2) from None
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    loop.run_until_complete(ensure_topics(settings))
    if metrics_port:
        start_http_server(metrics_port, addr=settings.api_host)
    app = build_app(settings, config)
    worker = faust.Worker(app, loop=loop, loglevel=settings.log_level.lower(), override_logging=False)
    worker.execute_from_commandline()
