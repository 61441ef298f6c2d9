"""The snapshot publisher: what changed goes to the KPI topic, counted; paced; waits for Kafka; repairs failures."""

from __future__ import annotations

import logging

import pytest
from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError
from prometheus_client import CollectorRegistry, Counter

from services.aggregator.publisher import SnapshotPublisher
from services.common.clock import FixedClock
from tests.support.events import T0

METRIC = "deskpulse_aggregator_snapshots_published_total"


class FakeEngine:
    """Drains what it is given; each drain can take monotonic time (the publication's cost)."""

    def __init__(self, monotonic: Monotonic, cost_s: float = 0.0) -> None:
        self.pending: list[tuple[bytes, bytes]] = []
        self.drained_at: list[int] = []
        self.republished = 0
        self.monotonic, self.cost_s = monotonic, cost_s

    def drain(self, wall_ms):
        self.drained_at.append(wall_ms)
        self.monotonic.now += self.cost_s
        batch, self.pending = self.pending, []
        return batch

    def republish_all(self):
        self.republished += 1


class FakeProducer:
    def __init__(self, start_error: Exception | None = None, send_error: Exception | None = None) -> None:
        self.start_error, self.send_error = start_error, send_error
        self.started = self.stopped = 0
        self.sent: list[tuple[str, bytes, bytes]] = []

    async def start(self):
        self.started += 1
        if self.start_error is not None:
            raise self.start_error

    async def stop(self):
        self.stopped += 1

    async def send(self, topic, value, key=None):
        if self.send_error is not None:
            raise self.send_error
        self.sent.append((topic, key, value))


class Monotonic:
    def __init__(self, now: float = 100.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Setup:
    """``monotonic`` is both the wall clock and the CPU clock, unless a separate ``wall`` clock is given."""

    def __init__(self, producers: list[FakeProducer], ready=lambda: True, cost_s: float = 0.0,
                 wall: Monotonic | None = None) -> None:
        self.registry = CollectorRegistry()
        self.monotonic = Monotonic()
        self.engine = FakeEngine(self.monotonic, cost_s)
        self.clock = FixedClock(T0)
        self.producers = list(producers)
        self.made: list[FakeProducer] = []
        self.publisher = SnapshotPublisher(
            self.engine, ready, bootstrap="k:9092", topic="kpis", clock=self.clock,
            published=Counter(METRIC.removesuffix("_total"), "published", registry=self.registry),
            producer_factory=self.make, monotonic=wall or self.monotonic, cpu=self.monotonic)

    def make(self) -> FakeProducer:
        producer = self.producers.pop(0)
        self.made.append(producer)
        return producer

    @property
    def published(self) -> float | None:
        return self.registry.get_sample_value(METRIC)


async def test_publishes_what_changed_to_the_kpi_topic_keyed_and_counts_it():
    s = Setup([FakeProducer()])
    s.engine.pending = [(b"all#0", b"{}"), (b"queue/zendesk/q#0", b"{}")]
    assert await s.publisher.publish() == 2
    assert s.made[0].sent == [("kpis", b"all#0", b"{}"), ("kpis", b"queue/zendesk/q#0", b"{}")]
    assert s.engine.drained_at == [T0]
    assert s.published == 2
    s.engine.pending = [(b"all#0", b"{}")]
    s.clock.advance(500)
    assert await s.publisher.publish() == 1
    assert s.engine.drained_at == [T0, T0 + 500] and s.published == 3
    assert len(s.made) == 1  # one producer, started once, reused


async def test_nothing_changed_publishes_nothing():
    s = Setup([FakeProducer()])
    assert await s.publisher.publish() == 0
    assert s.made[0].sent == [] and s.published == 0


async def test_nothing_is_published_while_the_worker_is_not_ready():
    s = Setup([FakeProducer()], ready=lambda: False)
    s.engine.pending = [(b"all#0", b"{}")]
    assert await s.publisher.publish() == 0
    assert s.engine.drained_at == [] and s.made == [] and s.published == 0


async def test_the_next_publication_waits_four_times_as_long_as_the_last_took():
    calls = []
    s = Setup([FakeProducer()], ready=lambda: calls.append(1) or True, cost_s=2.0)
    s.engine.pending = [(b"all#0", b"{}")]
    await s.publisher.publish()  # from 100 to 102: the next may start at 100 + 4 * 2
    s.engine.pending = [(b"all#0", b"{}")]
    s.monotonic.now = 107.9
    assert await s.publisher.publish() == 0
    assert len(calls) == 1  # paced before readiness is even checked (that may rebuild)
    s.monotonic.now = 108.0
    assert await s.publisher.publish() == 1


async def test_time_spent_waiting_for_kafka_does_not_pace_the_next_publication():
    # A send that waits 39 s for a broker that went down (wall time, no CPU): the next publication may start as
    # soon as it is due, not 4 x 39 s later (figures held back for minutes after the broker came back).
    wall = Monotonic(100.0)

    class Waiting(FakeProducer):
        async def send(self, topic, value, key=None):
            wall.now += 39.0
            await super().send(topic, value, key)

    s = Setup([Waiting()], cost_s=0.5, wall=wall)  # the fake engine's drain costs 0.5 s of CPU
    s.engine.pending = [(b"all#0", b"{}")]
    assert await s.publisher.publish() == 1 and (wall.now, s.monotonic.now) == (139.0, 100.5)
    s.engine.pending = [(b"all#0", b"{}")]
    assert await s.publisher.publish() == 1  # due at 100 + 4 x 0.5, long past


async def test_while_kafka_is_away_it_waits_logs_once_and_connects_later(caplog):
    away = KafkaConnectionError("no broker")
    s = Setup([FakeProducer(start_error=away), FakeProducer(start_error=away), FakeProducer()])
    s.engine.pending = [(b"all#0", b"{}")]
    with caplog.at_level(logging.INFO, logger="services.aggregator.publisher"):
        assert await s.publisher.publish() == 0
        assert await s.publisher.publish() == 0
        assert await s.publisher.publish() == 1
    assert [p.stopped for p in s.made] == [1, 1, 0]  # a producer that did not start is stopped, not leaked
    assert s.engine.drained_at == [T0]  # nothing drained (and lost) while waiting
    messages = [r.getMessage() for r in caplog.records]
    assert sum("snapshots wait for Kafka" in m for m in messages) == 1
    assert messages[-1] == "snapshot producer connected to Kafka"


async def test_a_failed_publication_publishes_every_scope_again_and_counts_nothing():
    s = Setup([FakeProducer(send_error=KafkaTimeoutError())], cost_s=5.0)
    s.engine.pending = [(b"all#0", b"{}")]
    assert await s.publisher.publish() == 0
    assert s.engine.republished == 1 and s.published == 0
    s.made[0].send_error = None
    s.engine.pending = [(b"all#0", b"{}")]
    assert await s.publisher.publish() == 1  # not paced: the failed publication set no pause


async def test_stop_stops_the_producer_it_started():
    s = Setup([FakeProducer()])
    await s.publisher.stop()  # never started: nothing to stop
    await s.publisher.publish()
    await s.publisher.stop()
    assert s.made[0].stopped == 1


@pytest.mark.parametrize("ready", [True, False])
async def test_no_producer_is_made_before_the_first_publication(ready):
    s = Setup([FakeProducer()], ready=lambda: ready)
    assert s.made == []
    await s.publisher.publish()
    assert len(s.made) == (1 if ready else 0)


async def test_contact_rows_go_on_their_own_and_never_hold_back_the_snapshots():
    from aiokafka.errors import KafkaConnectionError

    class RowsEngine(FakeEngine):
        def __init__(self, monotonic):
            super().__init__(monotonic)
            self.rows = [(b"zendesk/1", b"{}"), (b"zendesk/2", None)]
            self.again: list[bytes] = []
            self.broken = False

        def drain_contacts(self, limit=2_000):
            if self.broken:
                raise KeyError("a row that cannot be built")
            rows, self.rows = self.rows[:limit], self.rows[limit:]
            return rows

        def rows_again(self, keys):
            self.again.extend(keys)

    producer = FakeProducer()
    s = Setup([producer])
    s.engine = engine = RowsEngine(s.monotonic)
    s.publisher = SnapshotPublisher(
        engine, lambda: True, bootstrap="k:9092", topic="kpis", clock=s.clock, contacts_topic="contacts",
        published=Counter("x", "x", registry=CollectorRegistry()), producer_factory=s.make, monotonic=s.monotonic)
    engine.pending = [(b"all#0", b"{}")]
    assert await s.publisher.publish() == 1
    assert [t for t, _, _ in producer.sent] == ["kpis"]  # no row rides along with the snapshots
    assert await s.publisher.publish_contacts(limit=1) == 1 and await s.publisher.publish_contacts() == 1
    assert producer.sent[1:] == [("contacts", b"zendesk/1", b"{}"), ("contacts", b"zendesk/2", None)]  # a tombstone
    engine.rows = [(b"zendesk/3", b"{}")]
    producer.send_error = KafkaConnectionError()
    assert await s.publisher.publish_contacts() == 0 and engine.again == [b"zendesk/3"]  # to go again
    producer.send_error = None
    engine.broken = True
    assert await s.publisher.publish_contacts() == 0  # logged; the worker goes on
    engine.pending = [(b"all#0", b"{}")]
    s.monotonic.now += 10
    assert await s.publisher.publish() == 1  # and the snapshots too
