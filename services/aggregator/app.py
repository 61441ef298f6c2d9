"""Faust wiring of the aggregator: topic → contact table → partial snapshots.

Wiring only: the Faust app, its topic, table, agent and timer, connected to the pieces that hold the logic:
``engine`` (the figures), ``batches`` (a batch through the engine onto the changelog), ``localstate`` (the table's
records in memory and on local disk), ``rebalance`` (the rebuild after a rebalance) and ``publisher`` (the partial
snapshots onto the KPI topic).
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import faust
from aiokafka.errors import KafkaError
from prometheus_client import Counter, start_http_server

from services.aggregator import localstate
from services.aggregator.batches import BatchStep, each_batch
from services.aggregator.engine import Engine, EngineSettings
from services.aggregator.kpiconfig import DefaultConfig, SlaKpiConfig
from services.aggregator.localstate import LocalState
from services.aggregator.publisher import SnapshotPublisher
from services.aggregator.rebalance import RebuildOnRebalance, Revocations, in_flux
from services.aggregator.seeking import rewind_uncommitted
from services.aggregator.watchdog import Watchdog
from services.aggregator.writeback import WriteBack
from services.common.clock import Clock, wall_ms
from services.common.kafka import ensure_topics_when_reachable
from services.common.settings import AggregatorSettings
from services.domain.slaconfig import SlaConfig, SlaConfigError
from services.domain.windows import Retention

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


def kpi_config(settings: AggregatorSettings):
    """SLA policies and service-level settings from DESKPULSE_SLA_CONFIG, else the defaults."""
    if settings.sla_config is None:
        return DefaultConfig()
    return SlaKpiConfig(SlaConfig.load(settings.sla_config))


def worker_dir(settings: AggregatorSettings) -> Path:
    """The worker's own directory (created if missing): Faust's files and the contact table's databases."""
    datadir = settings.data_dir / "faust" / settings.aggregator_app_id
    datadir.mkdir(parents=True, exist_ok=True)
    return datadir


def build_app(settings: AggregatorSettings, config=None, clock: Clock = wall_ms) -> faust.App:
    """The Faust app; ``clock`` is the wall clock that advances stream time while no newer event arrives."""
    datadir = worker_dir(settings)
    localstate.register()
    app = faust.App(
        settings.aggregator_app_id,
        broker=[f"kafka://{b.strip()}" for b in settings.kafka_bootstrap.split(",")],
        # The contact table's databases, one per partition, live under {datadir}/v1/tables (localstate.py).
        store=localstate.STORE_URL,
        datadir=str(datadir),
        web_enabled=False,
        topic_partitions=settings.topic_partitions,
        table_standby_replicas=settings.aggregator_standby_replicas,
        producer_acks=-1,
        producer_linger=0.005,
        # A worker that died (SIGKILL, lost node) holds its partitions until the broker's session times out:
        # Faust's 60 s default left a restarted worker idle for ~59 s (bench/recovery.py). 10 s, 3 s heartbeats.
        broker_session_timeout=10.0,
        # Static membership when the worker has a stable name: a worker restarted under the same name (SIGKILL,
        # OOM, node restart) takes its partitions back as soon as it rejoins, with no rebalance of the others.
        consumer_group_instance_id=settings.aggregator_instance_id,
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
    contacts = app.Table(
        "contacts",
        default=None,
        key_type=str,
        partitions=settings.topic_partitions,
        extra_topic_configs={"segment.ms": "600000", "min.cleanable.dirty.ratio": "0.1"},
        options=dict(localstate.ROCKSDB_OPTIONS),  # a copy: Faust pops keys off the dict it is given
    )
    state = LocalState(contacts, bootstrap=settings.kafka_bootstrap)
    table = WriteBack(state.records)
    engine = Engine(
        table,
        config=config or kpi_config(settings),
        settings=EngineSettings(
            retention=Retention(grace_ms=int(settings.grace_s * 1000)),
            contact_retention_ms=int(settings.contact_retention_s * 1000),
            max_ahead_ms=int(settings.max_clock_skew_s * 1000),
            contact_rows=settings.contact_rows,
        ),
    )
    rebuild = RebuildOnRebalance(app, engine, settings.events_topic, clock, load=state.sync)
    # Faust's recovery is complete and the streams have not resumed: records, then aggregates, follow the
    # assignment before any event of it is handled.
    state.store.on_recovered = rebuild.on_recovered
    batches = BatchStep(engine, table, state.write, rebuild.ready, clock, events=EVENTS, late=LATE)
    publisher = SnapshotPublisher(
        engine,
        rebuild.ready,
        bootstrap=settings.kafka_bootstrap,
        topic=settings.kpis_topic,
        published=SNAPSHOTS,
        clock=clock,
        contacts_topic=settings.contacts_topic if settings.contact_rows else None,
    )

    rewind_uncommitted(app, settings.events_topic)
    watchdog = Watchdog(app, settings.events_topic, rebuild.ready)
    revocations = Revocations(app)

    def assigned() -> set[int]:
        return {tp.partition for tp in app.assignor.assigned_actives() if tp.topic == settings.events_topic}

    @app.agent(events)
    async def aggregate(stream):
        # Batches: each record touched by a batch is written to the changelog once (see writeback.py). Events
        # are acknowledged after their batch is handled and its changelog writes are acknowledged, so a crash
        # replays the batch (idempotent); never when the agent is cancelled in the middle of one (each_batch).
        taken = stream.take_events(settings.aggregator_batch_max, within=settings.aggregator_batch_s)
        await each_batch(taken, handle, stream)

    async def handle(batch: list) -> None:
        partitions = {event.message.partition for event in batch}
        # Not in the middle of a rebalance or a recovery: Faust hands over a batch before its recovery is
        # complete now and then, and the recovery hook's load then overwrote what the batch wrote (a restart's
        # figures short for good). Except during the revocation, which waits for this very batch
        # (rebalance.Revocations). Bounded: after 60 s it goes on, with a warning (never a stall).
        await settled(app, revocations.under_way)
        # their records loaded by the recovery hook first (a partition is judged revoked only outside a rebalance)
        ready = await state.loaded(partitions, assigned, rebalancing=lambda: bool(app.rebalancing))
        batches.process(batch if ready == partitions else [e for e in batch if e.message.partition in ready])
        watchdog.flushing = True
        await state.flush()  # the changelog writes acknowledged (and on local disk) before the events
        watchdog.flushing = False
        watchdog.batch_done(len(batch))

    @app.timer(10.0)
    async def watch_for_stalls():
        watchdog.check()

    @app.timer(settings.snapshot_interval_s)
    async def publish_snapshots():
        await publisher.publish()

    @app.timer(1.0)
    async def publish_contact_rows():
        await publisher.publish_contacts()

    # Faust's annotation of connect() rejects every coroutine function (mypy reads its receiver union as one type).
    @app.on_before_shutdown.connect  # type: ignore[arg-type]
    async def stop_producers(app: faust.App, **kwargs: Any) -> None:
        await publisher.stop()
        await state.stop()

    return app


async def settled(
    app: faust.App, revoking: Callable[[], bool] = lambda: False, poll_s: float = 0.05, most_s: float = 60.0
) -> None:
    """Wait while the app rebalances or its tables recover, at most ``most_s`` seconds; not while ``revoking``
    (Faust's revocation waits for the batch in hand)."""
    waited = 0.0
    while in_flux(app) and not revoking():
        if waited >= most_s:
            log.warning("a batch goes on after %.0f s of rebalance or recovery", waited)
            return
        await asyncio.sleep(poll_s)
        waited += poll_s


def lock_data_dir(settings: AggregatorSettings):
    """Hold the worker's data directory for as long as the returned file is open; exit with a clear message if
    another worker holds it (RocksDB would otherwise retry its locked databases for 30 s and then crash)."""
    datadir = worker_dir(settings)
    lock = open(datadir / "worker.lock", "w")  # noqa: SIM115 (held until the process exits)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        log.error(
            "another aggregator worker uses %s: give each worker on one machine its own DESKPULSE_DATA_DIR", datadir
        )
        raise SystemExit(2) from None
    return lock


def run(settings: AggregatorSettings, metrics_port: int | None = None) -> None:
    """Run one aggregator worker until SIGINT/SIGTERM (Faust's worker handles both gracefully)."""
    try:
        config = kpi_config(settings)
    except (SlaConfigError, OSError) as exc:
        log.error("cannot use DESKPULSE_SLA_CONFIG=%s: %s", settings.sla_config, exc)
        raise SystemExit(2) from None
    lock = lock_data_dir(settings)  # noqa: F841 (kept open while the worker runs)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        loop.run_until_complete(ensure_topics_when_reachable(settings, settings.kafka_start_wait_s))
    except (KafkaError, OSError, TimeoutError) as exc:
        log.error(
            "Kafka at %s did not answer in %.0f s (DESKPULSE_KAFKA_START_WAIT_S): %r",
            settings.kafka_bootstrap,
            settings.kafka_start_wait_s,
            exc,
        )
        raise SystemExit(1) from None
    if metrics_port:
        start_http_server(metrics_port, addr=settings.api_host)
    app = build_app(settings, config)
    worker = faust.Worker(app, loop=loop, loglevel=settings.log_level.lower(), override_logging=False)
    worker.execute_from_commandline()
