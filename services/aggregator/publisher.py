"""The snapshot publisher: the partial snapshots of the scopes that changed, onto the compacted KPI topic.

Each partial snapshot is keyed ``<scope>#<partition>`` and replaces the previous value for that key, so
publication is at-least-once and harmless to repeat: when a publication fails part-way, every scope is published
again next time (docs/architecture.md, "Aggregator").
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from prometheus_client import Counter

from services.aggregator.engine import Engine
from services.common.clock import Clock

log = logging.getLogger(__name__)

PACING = 4  # after a publication that took t, the next waits until 4 t later: at most a fifth of the time


class SnapshotPublisher:
    """The snapshot producer (started on first use), whether it is waiting for Kafka, and when the next
    publication may start.

    ``ready`` is the worker's readiness check (it rebuilds the aggregates after a rebalance); ``published`` is
    ``deskpulse_aggregator_snapshots_published_total``. ``producer_factory``, ``monotonic`` and ``cpu`` (the CPU
    time of the event loop's thread, what pacing measures) are for tests.
    """

    def __init__(
        self,
        engine: Engine,
        ready: Callable[[], bool],
        *,
        bootstrap: str,
        topic: str,
        published: Counter,
        clock: Clock,
        contacts_topic: str | None = None,
        producer_factory: Callable[[], AIOKafkaProducer] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        cpu: Callable[[], float] = time.thread_time,
    ) -> None:
        self._engine = engine
        self._contacts_topic = contacts_topic
        self._ready = ready
        self._bootstrap = bootstrap
        self._topic = topic
        self._published = published
        self._clock = clock
        self._producer_factory = producer_factory or self._kafka_producer
        self._monotonic = monotonic
        self._cpu = cpu
        self._producer: AIOKafkaProducer | None = None
        self._waiting = False  # the last start failed: the outage was logged once
        self._next = 0.0  # monotonic time before which no snapshot is published (see publish)

    def _kafka_producer(self) -> AIOKafkaProducer:
        # A producer of its own: large snapshots must not queue ahead of the changelog writes in Faust's producer
        # buffer (that stalls the stream).
        return AIOKafkaProducer(
            bootstrap_servers=self._bootstrap,
            linger_ms=10,
            max_batch_size=1_048_576,
            max_request_size=8_388_608,
            acks=1,
        )

    async def producer(self) -> AIOKafkaProducer | None:
        """The snapshot producer, started on first use; None while Kafka cannot be reached (tried again next tick).

        Never raises for Kafka being away: the outage is logged once, and its end once.
        """
        if self._producer is None:
            producer = self._producer_factory()
            try:
                await producer.start()
            except KafkaError as exc:
                await producer.stop()
                if not self._waiting:  # once per outage, not once per tick
                    log.warning("snapshots wait for Kafka: %s", exc)
                self._waiting = True
                return None
            if self._waiting:
                log.info("snapshot producer connected to Kafka")
            self._producer, self._waiting = producer, False
        return self._producer

    async def publish(self) -> int:
        """Publish the partial snapshots the engine has to publish now; returns how many were sent (0: none due).

        Called by the worker's timer every DESKPULSE_SNAPSHOT_INTERVAL_S. Does nothing while paced (below), while
        the worker is not ready, or while Kafka cannot be reached. Sends without awaiting each acknowledgement:
        a snapshot replaces the previous one for its key, and a restarted worker republishes every scope after
        its rebuild. If a send fails, every scope is marked to be published again and nothing is counted.
        """
        if self._monotonic() < self._next or not self._ready():
            return 0
        producer = await self.producer()
        if producer is None:
            return 0
        # Paced on the publication's own cost: not on the rebuild ready() may just have done (a 90 s rebuild
        # after a restart held every snapshot back for another 4 × 90 s) nor on waiting for Kafka: its CPU time on
        # the event loop's thread, not its wall time (sends that waited 39 s for a broker that was down held every
        # snapshot back for 4 × 39 s after it came back).
        started, cpu_started = self._monotonic(), self._cpu()
        batch = self._engine.drain(self._clock())
        try:
            for key, value in batch:
                await producer.send(self._topic, value, key=key)
        except KafkaError as exc:
            log.warning("publishing snapshots failed, every scope is published again next time: %s", exc)
            self._engine.republish_all()
            return 0
        self._published.inc(len(batch))
        # The cost is proportional to the scopes that changed, and under a backlog every scope changes in every
        # interval: publication waits four times as long as it took, so it never takes over a fifth of the time.
        self._next = started + PACING * (self._cpu() - cpu_started)
        return len(batch)

    async def publish_contacts(self, limit: int = 2_000) -> int:
        """Publish up to ``limit`` contact rows (``engine.drain_contacts``) on their own timer, so rows never hold
        back the snapshots or their pacing. Rows that fail to go out are marked to go again; any other fault is
        logged and the rows are left for the next rebuild (they are derived, never lost figures)."""
        if not self._contacts_topic or not self._ready():
            return 0
        producer = await self.producer()
        if producer is None:
            return 0
        try:
            rows = self._engine.drain_contacts(limit)
        except Exception:  # a row is a view of the figures: never let it stop the worker
            log.exception("building contact rows failed; they go out again after the next rebuild")
            return 0
        try:
            for key, row in rows:
                await producer.send(self._contacts_topic, row, key=key)
        except KafkaError as exc:
            log.warning("publishing contact rows failed, they are published again: %s", exc)
            self._engine.rows_again([key for key, _ in rows])
            return 0
        return len(rows)

    async def stop(self) -> None:
        """Stop the producer if one was started (at worker shutdown)."""
        if self._producer is not None:
            await self._producer.stop()
