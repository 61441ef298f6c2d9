"""After a recovery, stream partitions never committed are read from their beginning (services/aggregator/seeking.py)."""

from types import SimpleNamespace

from aiokafka import TopicPartition

from services.aggregator.seeking import rewind_uncommitted

EVENTS = "t.events"


def app_with(committed: dict):
    sought = []

    async def seek_to_committed():
        return committed

    async def seek_to_beginning(*tps):
        sought.append(tps)

    consumer = SimpleNamespace(seek_to_committed=seek_to_committed,
                               _thread=SimpleNamespace(seek_to_beginning=seek_to_beginning))
    return SimpleNamespace(consumer=consumer), sought


async def test_partitions_of_the_stream_never_committed_are_sought_to_their_beginning():
    committed = {TopicPartition(EVENTS, 0): 120, TopicPartition(EVENTS, 2): None, TopicPartition(EVENTS, 1): 0,
                 TopicPartition("t-contacts-changelog", 0): None}  # a changelog: Faust's recovery positions it
    app, sought = app_with(committed)
    rewind_uncommitted(app, EVENTS)
    assert await app.consumer.seek_to_committed() is committed  # what Faust reads is unchanged
    assert sought == [(TopicPartition(EVENTS, 1), TopicPartition(EVENTS, 2))]


async def test_nothing_is_sought_when_every_partition_has_a_committed_offset():
    app, sought = app_with({TopicPartition(EVENTS, 0): 5, TopicPartition(EVENTS, 1): 9})
    rewind_uncommitted(app, EVENTS)
    await app.consumer.seek_to_committed()
    assert sought == []
