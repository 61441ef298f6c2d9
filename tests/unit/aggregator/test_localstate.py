"""The contact table's local state: records in memory, on disk only behind the changelog, per partition.

The store is Faust's real RocksDB store on a temporary directory; the changelog's producer is a stand-in that
records batches and acknowledges them when told (the restart through a real broker is
tests/integration/test_aggregator_recovery.py, faults and all tests/reliability/test_chaos.py).
"""

from __future__ import annotations

import asyncio
import logging
from types import SimpleNamespace

import faust
import orjson
import pytest
from aiokafka.errors import KafkaConnectionError
from faust.serializers import codecs
from faust.types import TP

from services.aggregator import localstate
from services.aggregator.localstate import ContactStore, LocalState

CHANGELOG = "test-contacts-changelog"


class Batch:
    """aiokafka's batch builder as the producer hands it out: ``append`` returns None once ``capacity`` is reached."""

    def __init__(self, capacity: int) -> None:
        self.capacity, self.records = capacity, []

    def append(self, *, key, value, timestamp):
        if len(self.records) >= self.capacity and self.records:
            return None
        self.records.append((key, value))
        return object()


class Producer:
    """Records the batches sent per partition; Kafka's acknowledgement (with the batch's first offset) comes when
    the test calls ``ack`` (or at once, with ``auto_ack``). ``fail`` makes the next sends raise as Kafka away would."""

    def __init__(self, capacity: int = 1000, auto_ack: bool = True) -> None:
        self.capacity, self.auto_ack = capacity, auto_ack
        self.sent: list[tuple[str, int, list, asyncio.Future]] = []
        self.offsets: dict[int, int] = {}
        self.fail = 0
        self.started = self.stopped = False

    async def start(self):
        self.started = True

    async def stop(self):
        self.stopped = True

    def create_batch(self) -> Batch:
        return Batch(self.capacity)

    async def send_batch(self, batch: Batch, topic: str, *, partition: int) -> asyncio.Future:
        if self.fail:
            self.fail -= 1
            raise KafkaConnectionError("broker away")
        future = asyncio.get_running_loop().create_future()
        self.sent.append((topic, partition, batch.records, future))
        if self.auto_ack:
            self.ack(len(self.sent) - 1)
        return future

    def ack(self, index: int) -> None:
        _, partition, records, future = self.sent[index]
        offset = self.offsets.get(partition, 0)
        self.offsets[partition] = offset + len(records)
        future.set_result(SimpleNamespace(offset=offset))


def contact_store(datadir) -> ContactStore:
    localstate.register()
    app = faust.App("test-localstate", datadir=str(datadir), store=localstate.STORE_URL, web_enabled=False)
    return app.Table("contacts", default=None, partitions=4).data


def opened(store: ContactStore, *partitions: int) -> ContactStore:
    """Open the partitions' databases, as Faust does when they are assigned."""
    for partition in partitions:
        store._db_for_partition(partition)
    return store


def close(store: ContactStore) -> None:
    for db in store._dbs.values():
        db.close()
    store._dbs.clear()


@pytest.fixture
def disk(tmp_path):
    store = opened(contact_store(tmp_path), 0, 1)
    yield store
    close(store)


def state_over(store, producer: Producer | None = None) -> tuple[LocalState, Producer]:
    producer = producer or Producer()
    table = SimpleNamespace(data=store, changelog_topic=SimpleNamespace(get_topic_name=lambda: CHANGELOG))
    return LocalState(table, producer_factory=lambda: producer), producer


def on_disk(store: ContactStore, partition: int) -> dict:
    return {orjson.loads(key): orjson.loads(value) for key, value in store.partition_items(partition)}


async def test_writes_go_to_memory_at_once_and_to_their_own_changelog_partition_at_the_flush(tmp_path):
    state, producer = state_over(SimpleNamespace(persist=lambda acked: 0))
    state.write("zendesk/7", {"p": 3, "ev": []}, 3)
    state.write("zendesk/8", {"p": 1, "ev": []}, 1)
    state.write("zendesk/7", {"p": 3, "ev": [1]}, 3)
    assert state.records == {"zendesk/7": {"p": 3, "ev": [1]}, "zendesk/8": {"p": 1, "ev": []}}
    assert producer.sent == []
    assert await state.flush() == 3
    assert [(topic, partition, len(records)) for topic, partition, records, _ in producer.sent] == [
        (CHANGELOG, 3, 2), (CHANGELOG, 1, 1)]  # one batch per partition, in the order written
    # Faust's recovery decodes the changelog with the table's codecs: what is sent must read back through them.
    table = contact_store(tmp_path).table
    key, value = producer.sent[0][2][1]
    assert codecs.loads(table.key_serializer, key) == "zendesk/7"
    assert codecs.loads(table.value_serializer, value) == {"p": 3, "ev": [1]}
    assert await state.flush() == 0 and len(producer.sent) == 2  # nothing new: nothing sent


async def test_a_partitions_writes_beyond_one_batch_go_in_several_with_consecutive_offsets(disk):
    state, producer = state_over(disk, Producer(capacity=2))
    for i in range(5):
        state.write(f"k{i}", {"p": 0, "i": i}, 0)
    await state.flush()
    assert [len(records) for _, _, records, _ in producer.sent] == [2, 2, 1]
    assert set(on_disk(disk, 0)) == {f"k{i}" for i in range(5)}
    assert disk.persisted_offset(TP(CHANGELOG, 0)) == 4  # the offset of the fifth record


async def test_nothing_reaches_the_disk_before_kafka_acknowledges_it(disk):
    state, producer = state_over(disk, Producer(auto_ack=False))
    state.write("a", {"p": 0, "v": 1}, 0)
    state.write("b", {"p": 1, "v": 2}, 1)
    flushing = asyncio.create_task(state.flush())
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert len(producer.sent) == 2 and not flushing.done()  # the agent waits: its events stay unacknowledged
    producer.ack(0)
    await asyncio.sleep(0)
    assert on_disk(disk, 0) == {} and disk.persisted_offset(TP(CHANGELOG, 0)) is None
    producer.ack(1)
    assert await flushing == 2
    assert on_disk(disk, 0) == {"a": {"p": 0, "v": 1}} and on_disk(disk, 1) == {"b": {"p": 1, "v": 2}}
    assert disk.persisted_offset(TP(CHANGELOG, 0)) == 0 and disk.persisted_offset(TP(CHANGELOG, 1)) == 0


async def test_while_kafka_is_away_the_flush_waits_and_retries_then_writes_everything(disk, caplog):
    caplog.set_level(logging.INFO, "services.aggregator.localstate")
    producer, made = Producer(), []
    state = LocalState(SimpleNamespace(data=disk, changelog_topic=SimpleNamespace(get_topic_name=lambda: CHANGELOG)),
                       producer_factory=lambda: made.append(1) or producer, retry_s=0.01)
    state.write("a", {"p": 0}, 0)
    producer.fail = 3
    assert await state.flush() == 1
    assert producer.fail == 0 and len(producer.sent) == 1  # three refused attempts, then the one that went
    assert len(made) == 4 and producer.stopped  # each failed attempt's producer stopped, a fresh one for the next
    assert on_disk(disk, 0) == {"a": {"p": 0}}
    assert caplog.text.count("changelog writes wait for Kafka") == 1 and "changelog writes resumed" in caplog.text


async def test_a_deletion_is_a_tombstone_on_the_changelog_and_on_disk(disk):
    state, producer = state_over(disk)
    state.write("a", {"p": 0}, 0)
    await state.flush()
    state.write("a", None, 0)
    assert state.records == {}
    await state.flush()
    assert producer.sent[1][2] == [(b'"a"', None)]
    assert on_disk(disk, 0) == {} and disk.persisted_offset(TP(CHANGELOG, 0)) == 1


def test_acknowledgements_for_a_partition_revoked_since_are_not_written(disk):
    disk._dbs.pop(1).close()  # revoked: Faust closes the partition's database
    assert disk.persist([(1, b'"a"', b"{}", 3)]) == 0
    assert disk.persisted_offset(TP(CHANGELOG, 1)) is None  # reopened: still empty


async def test_sync_loads_new_partitions_from_disk_drops_revoked_ones_and_keeps_its_own_newer_records(disk):
    writer, _ = state_over(disk)
    writer.write("a", {"p": 0, "v": "on disk"}, 0)
    writer.write("b", {"p": 1, "v": "on disk"}, 1)
    await writer.flush()

    state, _ = state_over(disk)
    state.sync({0, 1})
    assert state.records == {"a": {"p": 0, "v": "on disk"}, "b": {"p": 1, "v": "on disk"}}
    state.write("a", {"p": 0, "v": "newer, not flushed yet"}, 0)
    state.sync({0})  # partition 1 revoked, 0 kept: its records in memory are this worker's latest
    assert state.records == {"a": {"p": 0, "v": "newer, not flushed yet"}}
    state.sync({0, 1})  # partition 1 back (after Faust's recovery brought its database up to date)
    assert state.records["b"] == {"p": 1, "v": "on disk"}


async def test_events_wait_for_their_partitions_records_and_revoked_partitions_are_left_out(disk, caplog):
    state, _ = state_over(disk)
    assigned = {0, 1, 2}
    assert await state.loaded(set(), lambda: assigned) == set()
    waiting = asyncio.create_task(state.loaded({0, 1}, lambda: assigned, poll_s=0.01, warn_s=0.05))
    await asyncio.sleep(0.1)
    assert not waiting.done()  # Faust handed the events over before its recovery hook loaded their records
    state.sync({0, 1, 2})
    assert await asyncio.wait_for(waiting, 1) == {0, 1}
    assert "events of partitions [0, 1] wait 0 s for their records to be loaded" in caplog.text
    assigned = {0}  # partition 3 never loaded and revoked since: its events are left to its next owner
    assert await asyncio.wait_for(state.loaded({0, 3}, lambda: assigned, poll_s=0.01), 1) == {0}
    # during a rebalance the assignment read may be the outgoing one: partition 3 is not judged revoked yet, and
    # when it comes back to this worker its events wait for its records instead of being left out
    rebalancing = {"now": True}
    waiting = asyncio.create_task(state.loaded({0, 3}, lambda: assigned, poll_s=0.01,
                                               rebalancing=lambda: rebalancing["now"]))
    await asyncio.sleep(0.1)
    assert not waiting.done()
    assigned, rebalancing["now"] = {0, 3}, False
    state.sync({0, 3})
    assert await asyncio.wait_for(waiting, 1) == {0, 3}


async def test_a_restarted_worker_finds_what_was_acknowledged_and_the_offset_to_resume_from(tmp_path):
    first = opened(contact_store(tmp_path), 0)
    state, _ = state_over(first)
    state.write("a", {"p": 0, "v": 1}, 0)
    await state.flush()
    state.write("b", {"p": 0, "v": 2}, 0)  # never flushed: the crash lost it, the events topic replays its event
    close(first)

    second = opened(contact_store(tmp_path), 0)
    try:
        restarted, _ = state_over(second)
        restarted.sync({0})
        assert restarted.records == {"a": {"p": 0, "v": 1}}
        assert second.persisted_offset(TP(CHANGELOG, 0)) == 0  # Faust's recovery reads the changelog after it
    finally:
        close(second)


async def test_the_records_are_synced_when_faust_reports_its_recovery_complete(disk):
    """Faust awaits the store's on_recovery_completed before it resumes the streams: the records are there before
    the first event of the new assignment (an event handled before would start its contact afresh)."""
    writer, _ = state_over(disk)
    writer.write("a", {"p": 1, "v": "on disk"}, 1)
    await writer.flush()
    state, _ = state_over(disk)
    disk.on_recovered = state.sync
    await disk.on_recovery_completed({TP(CHANGELOG, 0), TP(CHANGELOG, 1)}, set())
    assert state.records == {"a": {"p": 1, "v": "on disk"}}
