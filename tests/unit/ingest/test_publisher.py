"""Publication of canonical events (services/ingest/publisher.py), without a broker.

What needs a real Kafka (acknowledged records are readable; an unreachable broker fails fast) is in
tests/integration/test_kafka.py. Here: the in-memory publisher the unit tests of ingest rely on, and
``KafkaPublisher.publish``'s own rules (one deadline for accepting and acknowledging every record, each failure
reported as ``PublishUnavailable``) against a stand-in for aiokafka's producer, whose ``send`` returns the
record's acknowledgement future as aiokafka's does.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from aiokafka.errors import KafkaConnectionError, NotLeaderForPartitionError

from services.common.localkafka import free_port
from services.ingest.publisher import InMemoryPublisher, KafkaPublisher, PublishUnavailable

RECORDS = [(b"c1", b'{"n": 1}'), (b"c2", b'{"n": 2}'), (b"c1", b'{"n": 3}')]


# -- the in-memory publisher ------------------------------------------------------------------------------------

async def test_in_memory_publisher_keeps_records_in_order_with_their_topic_and_key():
    publisher = InMemoryPublisher()
    await publisher.start()
    await publisher.publish("events", RECORDS[:2])
    await publisher.publish("dlq", RECORDS[2:])
    assert publisher.records == [("events", b"c1", b'{"n": 1}'), ("events", b"c2", b'{"n": 2}'),
                                 ("dlq", b"c1", b'{"n": 3}')]
    await publisher.stop()


async def test_an_unavailable_in_memory_publisher_refuses_and_keeps_nothing():
    publisher = InMemoryPublisher()
    publisher.available = False
    assert not publisher.connected
    with pytest.raises(PublishUnavailable):
        await publisher.publish("events", RECORDS)
    assert publisher.records == []
    publisher.available = True
    assert publisher.connected
    await publisher.publish("events", RECORDS[:1])
    assert len(publisher.records) == 1


# -- KafkaPublisher without a broker ------------------------------------------------------------------------------

async def test_nothing_is_published_before_kafka_is_connected():
    publisher = KafkaPublisher("127.0.0.1:9", timeout_s=0.5)
    assert not publisher.connected
    with pytest.raises(PublishUnavailable, match="not connected"):
        await publisher.publish("events", RECORDS)


async def test_it_keeps_trying_to_connect_in_the_background_until_stopped():
    publisher = KafkaPublisher(f"127.0.0.1:{free_port()}", timeout_s=0.5)  # nothing listens there
    await publisher.start()  # returns at once, Kafka down or not
    await asyncio.sleep(1.5)  # a failed attempt, the 0.5 s pause, another attempt
    assert not publisher.connected
    with pytest.raises(PublishUnavailable):
        await publisher.publish("events", RECORDS)
    await publisher.stop()
    await asyncio.sleep(0.05)
    assert not [t for t in asyncio.all_tasks() if t.get_name() == "kafka-publisher-connect" and not t.done()]


class Producer:
    """Stands in for aiokafka's producer: ``send`` enqueues and returns the record's ack future."""

    def __init__(self, *, ack: str = "at once", accept: int | None = None, refuse_at: int | None = None,
                 reject_at: int | None = None) -> None:
        self.ack = ack  # "at once" or "never"
        self.accept = accept  # records accepted before ``send`` blocks (a full buffer)
        self.refuse_at = refuse_at  # the record whose send raises
        self.reject_at = reject_at  # the record whose ack fails
        self.sent: list[tuple[str, bytes, bytes]] = []
        self.futures: list[asyncio.Future] = []
        self.stopped = False

    async def send(self, topic, value, key=None):
        if self.accept is not None and len(self.sent) >= self.accept:
            await asyncio.Event().wait()
        if self.refuse_at == len(self.sent):
            raise KafkaConnectionError("connection lost")
        self.sent.append((topic, key, value))
        future = asyncio.get_running_loop().create_future()
        if self.reject_at == len(self.sent) - 1:
            future.set_exception(NotLeaderForPartitionError())
        elif self.ack == "at once":
            future.set_result(object())
        self.futures.append(future)
        return future

    async def stop(self):
        self.stopped = True


def connected(producer: Producer, timeout_s: float = 0.3) -> KafkaPublisher:
    publisher = KafkaPublisher("127.0.0.1:9", timeout_s=timeout_s)
    publisher._producer = producer  # as _connect_forever leaves it once connected
    return publisher


async def test_publish_returns_once_every_record_is_acknowledged():
    producer = Producer()
    publisher = connected(producer)
    assert publisher.connected
    await publisher.publish("events", RECORDS)
    assert producer.sent == [("events", key, value) for key, value in RECORDS]
    await publisher.stop()
    assert producer.stopped and not publisher.connected


async def test_acks_that_do_not_come_in_time_are_unavailable_within_the_deadline():
    publisher = connected(Producer(ack="never"), timeout_s=0.3)
    started = time.monotonic()
    with pytest.raises(PublishUnavailable, match="did not acknowledge within 0.3 s"):
        await publisher.publish("events", RECORDS)
    assert time.monotonic() - started < 1.5


async def test_records_kafka_does_not_accept_in_time_are_unavailable_within_the_same_deadline():
    publisher = connected(Producer(accept=1), timeout_s=0.3)  # the producer's buffer is full after one
    started = time.monotonic()
    with pytest.raises(PublishUnavailable, match="did not accept the records within 0.3 s"):
        await publisher.publish("events", RECORDS)
    assert time.monotonic() - started < 1.5


async def test_a_rejected_record_makes_the_whole_publication_unavailable():
    producer = Producer(reject_at=1)
    with pytest.raises(PublishUnavailable, match="rejected a record"):
        await connected(producer).publish("events", RECORDS)
    assert len(producer.sent) == 3  # the others may be written: the aggregator deduplicates the retry


async def test_a_send_that_fails_midway_is_unavailable():
    producer = Producer(refuse_at=2)
    with pytest.raises(PublishUnavailable, match="did not accept the records"):
        await connected(producer).publish("events", RECORDS)
    assert len(producer.sent) == 2
