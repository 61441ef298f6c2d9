"""The contact table's local state: records in memory, on disk only behind the changelog, per partition.

The store is Faust's real RocksDB store on a temporary directory; the changelog topic is a recorder (the restart
through a real broker is tests/integration/test_aggregator_recovery.py).
"""

from __future__ import annotations

from types import SimpleNamespace

import faust
import orjson
import pytest
from faust.serializers import codecs
from faust.types import TP

from services.aggregator import localstate
from services.aggregator.localstate import ContactStore, LocalState

CHANGELOG = "test-contacts-changelog"


class Changelog:
    """Records what is sent; ``ack`` plays Kafka's acknowledgement of the n-th message at an offset."""

    def __init__(self) -> None:
        self.sent: list[dict] = []

    def send_soon(self, **kwargs) -> None:
        self.sent.append(kwargs)

    def ack(self, index: int, offset: int) -> None:
        message = self.sent[index]
        message["callback"](SimpleNamespace(result=lambda: SimpleNamespace(offset=offset)))


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


def state_over(store: ContactStore) -> tuple[LocalState, Changelog]:
    changelog = Changelog()
    return LocalState(SimpleNamespace(data=store, changelog_topic=changelog)), changelog


def on_disk(store: ContactStore, partition: int) -> dict:
    return {orjson.loads(key): orjson.loads(value) for key, value in store.partition_items(partition)}


def test_a_write_goes_to_memory_and_to_its_own_changelog_partition_in_the_tables_own_encoding(tmp_path):
    state, changelog = state_over(SimpleNamespace())
    state.write("zendesk/7", {"p": 3, "ev": []}, 3)
    assert state.records == {"zendesk/7": {"p": 3, "ev": []}}
    [message] = changelog.sent
    assert message["partition"] == 3
    assert message["key_serializer"] == message["value_serializer"] == "raw"  # encoded once, here
    # Faust's recovery decodes the changelog with the table's codecs: what is sent must read back through them.
    table = contact_store(tmp_path).table
    assert codecs.loads(table.key_serializer, message["key"]) == "zendesk/7"
    assert codecs.loads(table.value_serializer, message["value"]) == {"p": 3, "ev": []}


def test_nothing_reaches_the_disk_before_kafka_acknowledges_it(disk):
    state, changelog = state_over(disk)
    state.write("a", {"p": 0, "v": 1}, 0)
    state.write("b", {"p": 1, "v": 2}, 1)
    assert state.persist() == 0
    assert on_disk(disk, 0) == {} and disk.persisted_offset(TP(CHANGELOG, 0)) is None
    changelog.ack(0, offset=41)
    assert state.persist() == 1
    assert on_disk(disk, 0) == {"a": {"p": 0, "v": 1}} and on_disk(disk, 1) == {}
    assert disk.persisted_offset(TP(CHANGELOG, 0)) == 41
    assert disk.persisted_offset(TP(CHANGELOG, 1)) is None  # not acknowledged: recovery reads it from Kafka


def test_each_record_goes_to_its_own_partitions_database_with_that_partitions_offset(disk):
    state, changelog = state_over(disk)
    for i, (key, partition) in enumerate([("a", 0), ("b", 1), ("c", 0)]):
        state.write(key, {"p": partition, "i": i}, partition)
    for index, offset in ((0, 10), (1, 5), (2, 11)):
        changelog.ack(index, offset)
    assert state.persist() == 3
    assert set(on_disk(disk, 0)) == {"a", "c"} and set(on_disk(disk, 1)) == {"b"}
    assert disk.persisted_offset(TP(CHANGELOG, 0)) == 11 and disk.persisted_offset(TP(CHANGELOG, 1)) == 5


def test_a_deletion_is_a_tombstone_on_the_changelog_and_on_disk(disk):
    state, changelog = state_over(disk)
    state.write("a", {"p": 0}, 0)
    changelog.ack(0, 1)
    state.persist()
    state.write("a", None, 0)
    assert state.records == {} and changelog.sent[1]["value"] is None
    changelog.ack(1, 2)
    state.persist()
    assert on_disk(disk, 0) == {} and disk.persisted_offset(TP(CHANGELOG, 0)) == 2


def test_acknowledgements_for_a_partition_revoked_since_are_not_written(disk):
    state, changelog = state_over(disk)
    state.write("a", {"p": 1}, 1)
    changelog.ack(0, 3)
    disk._dbs.pop(1).close()  # revoked: Faust closes the partition's database
    assert state.persist() == 0
    assert disk.persisted_offset(TP(CHANGELOG, 1)) is None  # reopened: still empty


def test_sync_loads_new_partitions_from_disk_drops_revoked_ones_and_keeps_its_own_newer_records(disk):
    writer, changelog = state_over(disk)
    for i, (key, partition) in enumerate([("a", 0), ("b", 1)]):
        writer.write(key, {"p": partition, "v": "on disk"}, partition)
        changelog.ack(i, i)
    writer.persist()

    state, _ = state_over(disk)
    state.sync({0, 1})
    assert state.records == {"a": {"p": 0, "v": "on disk"}, "b": {"p": 1, "v": "on disk"}}
    state.write("a", {"p": 0, "v": "newer, not acknowledged yet"}, 0)
    state.sync({0})  # partition 1 revoked, 0 kept: its records in memory are this worker's latest
    assert state.records == {"a": {"p": 0, "v": "newer, not acknowledged yet"}}
    state.sync({0, 1})  # partition 1 back (after Faust's recovery brought its database up to date)
    assert state.records["b"] == {"p": 1, "v": "on disk"}


def test_a_restarted_worker_finds_what_was_acknowledged_and_the_offset_to_resume_from(tmp_path):
    first = opened(contact_store(tmp_path), 0)
    state, changelog = state_over(first)
    state.write("a", {"p": 0, "v": 1}, 0)
    state.write("b", {"p": 0, "v": 2}, 0)
    changelog.ack(0, 7)  # "b" was never acknowledged: the crash lost it, the events topic replays its event
    state.persist()
    close(first)

    second = opened(contact_store(tmp_path), 0)
    try:
        restarted, _ = state_over(second)
        restarted.sync({0})
        assert restarted.records == {"a": {"p": 0, "v": 1}}
        assert second.persisted_offset(TP(CHANGELOG, 0)) == 7  # Faust's recovery reads the changelog after it
    finally:
        close(second)


async def test_the_records_are_synced_when_faust_reports_its_recovery_complete(disk):
    """Faust awaits the store's on_recovery_completed before it resumes the streams: the records are there before
    the first event of the new assignment (an event handled before would start its contact afresh)."""
    writer, changelog = state_over(disk)
    writer.write("a", {"p": 1, "v": "on disk"}, 1)
    changelog.ack(0, 0)
    writer.persist()
    state, _ = state_over(disk)
    disk.on_recovered = state.sync
    await disk.on_recovery_completed({TP(CHANGELOG, 0), TP(CHANGELOG, 1)}, set())
    assert state.records == {"a": {"p": 1, "v": "on disk"}}
