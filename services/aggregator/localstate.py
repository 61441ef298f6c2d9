"""The contact table's records: in memory for the engine, on local disk for restarts, behind the changelog.

The engine reads every record of its partitions on every event, so the records it works on are a plain dict of
decoded records (``LocalState.records``), as fast as the memory store was. Under them, Faust's RocksDB store keeps
one database per changelog partition on this node's disk with the changelog offset it holds (Faust's
``persisted_offset``), so a restarted worker replays only the changelog written since, not the whole of it, and a
standby replica (``DESKPULSE_AGGREGATOR_STANDBY_REPLICAS``) keeps another node's copy current for a failover.

Three rules keep the disk exact:

- **Behind the changelog, never ahead.** A record goes to disk only once Kafka has acknowledged its changelog
  message, in one RocksDB write batch with that message's offset. After a crash the disk holds a prefix of the
  changelog; Faust's recovery reads the rest, and the events whose changelog writes never made it are read again
  from the events topic (the agent waits for a batch's changelog acknowledgements before Faust acknowledges the
  batch's events, so their offsets are committed only after). A record written to disk before its changelog
  message could survive a crash that lost the message: the replayed event would then be a duplicate, the
  changelog would never get it, and the next owner of the partition would miss it.
- **The record's own partition.** Each write goes to the database of the partition the record lives on (``"p"``),
  not the one of the stream's current event (a batch holds events of several partitions); Faust's
  ``Table.__setitem__`` would file it under the latter.
- **Loaded after recovery, before the first event.** ``sync`` runs when Faust's recovery has completed and before
  Faust resumes the streams (the store's ``on_recovery_completed``): it drops the records of partitions no longer
  assigned and loads the newly assigned ones from their databases. The records of partitions that stayed assigned
  are this worker's own latest writes and stay as they are. An event handled before its partition's records were
  loaded would start its contact afresh and overwrite the contact's history on the changelog; Faust does hand
  events over before the hook now and then, so each batch waits for its partitions' records (``loaded``).

Changelog writes are batched: each batch of events queues the records it touched (once each, ``writeback.py``) and
``flush`` sends them as one producer batch per partition, on a producer of the table's own, not one message at a
time through Faust's producer buffer.

The changelog and the disk hold the same bytes: key and record as JSON (orjson), which is how the table's codecs
(Faust's ``json`` serializer, for keys and values) read them back during Faust's recovery.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from faust.stores import rocksdb

if TYPE_CHECKING:
    from faust.types import TP, TableT

log = logging.getLogger(__name__)

STORE_URL = "deskpulse-rocksdb://"  # the contact table's store (registered by ``register``)

# Faust's RocksDB defaults are sized for tables read from disk: a 2 GiB block cache and 3 × 64 MiB write buffers,
# per partition. Here the disk is written in batches and read once, at a restart: small buffers, a small cache
# (at most ~12 MiB per partition held by this worker).
ROCKSDB_OPTIONS = {"write_buffer_size": 4 << 20, "max_write_buffer_number": 2, "block_cache_size": 4 << 20}

Acked = tuple[int, bytes, bytes | None, int]  # (partition, key, value or None for a deletion, changelog offset)
Write = tuple[bytes, bytes | None]  # (key, value or None for a deletion), encoded
Sent = tuple[int, list[Write], "asyncio.Future[Any]"]  # (partition, a batch's writes, its acknowledgement)


class ContactStore(rocksdb.Store):
    """Faust's RocksDB store (one database per partition, each with its persisted changelog offset), plus what
    ``LocalState`` needs: writing acknowledged changelog messages to their partition's database, reading one
    partition's records, and being told when Faust's recovery has completed (``on_recovered``)."""

    #: Called with the active partitions once Faust's recovery of them is complete, before any event of the new
    #: assignment is handed to the agent (Faust awaits ``on_recovery_completed`` before it resumes the streams).
    on_recovered: Callable[[set[int]], None] | None = None

    async def on_recovery_completed(self, active_tps: set[TP], standby_tps: set[TP]) -> None:
        await super().on_recovery_completed(active_tps, standby_tps)
        if self.on_recovered is not None:
            self.on_recovered({tp.partition for tp in active_tps})

    def persist(self, acked: Iterable[Acked]) -> int:
        """Write each acknowledged (partition, key, value, offset) to its partition's database, one write batch
        per partition holding the records and the highest offset. Partitions whose database is closed (revoked
        since) are skipped: their next owner recovers them from the changelog. Returns how many were written."""
        batches: dict[int, Any] = defaultdict(lambda: rocksdb.rocksdict.WriteBatch(raw_mode=True))
        offsets: dict[int, int] = {}
        for partition, key, value, offset in acked:
            if partition not in self._dbs:
                continue
            batch = batches[partition]
            if value is None:
                batch.delete(key)
            else:
                batch.put(key, value)
            offsets[partition] = max(offset, offsets.get(partition, -1))
        written = 0
        for partition, batch in batches.items():
            batch.put(self.offset_key, str(offsets[partition]).encode())
            written += len(batch) - 1
            self._dbs[partition].write(batch)
        return written

    def partition_items(self, partition: int) -> Iterator[tuple[bytes, bytes]]:
        """Every (key, value) in ``partition``'s database, without Faust's offset entry."""
        db = self._db_for_partition(partition)
        for key, value in db.items():
            if key != self.offset_key:
                yield key, value


def register() -> None:
    """Make ``STORE_URL`` name ``ContactStore`` in Faust's store registry (Faust looks stores up by URL scheme)."""
    from faust.stores import STORES

    STORES[STORE_URL.split(":", 1)[0]] = f"{__name__}:ContactStore"


class LocalState:
    """The records of this worker's active partitions (``records``, the engine's table) over the table's store.

    ``write`` is the write-back buffer's sink (``writeback.py``): it updates ``records`` and queues the record for
    its partition of the changelog; ``flush`` sends what was queued, one producer batch per partition, waits for
    Kafka's acknowledgements and writes them to local disk (``ContactStore.persist``); ``sync`` makes ``records`` hold exactly
    the assigned partitions once Faust's recovery is complete.

    ``producer_factory`` builds the changelog's producer (started on first use; tests pass a stand-in);
    ``retry_s`` is the wait between attempts while Kafka cannot be reached.
    """

    def __init__(
        self,
        table: TableT,
        *,
        bootstrap: str = "",
        producer_factory: Callable[[], AIOKafkaProducer] | None = None,
        retry_s: float = 1.0,
    ) -> None:
        self.records: dict[str, Any] = {}
        self._table = table
        self._bootstrap = bootstrap
        self._producer_factory = producer_factory or self._kafka_producer
        self._producer: AIOKafkaProducer | None = None
        self._pending: dict[int, list[Write]] = defaultdict(list)
        self._loaded: set[int] = set()
        self._waiting = False  # the last flush failed: the outage was logged once
        self._retry_s = retry_s

    @property
    def store(self) -> ContactStore:
        return self._table.data  # type: ignore[return-value]

    def _kafka_producer(self) -> AIOKafkaProducer:
        # acks=all: a record is on the changelog for good before its events are acknowledged. Batches of up to
        # 1 MiB: a batch of events writes a few hundred kB per partition.
        return AIOKafkaProducer(bootstrap_servers=self._bootstrap, acks="all", linger_ms=0, max_batch_size=1 << 20)

    def write(self, key: str, record: dict | None, partition: int) -> None:
        """Store ``record`` under ``key`` (``None``: delete it) and queue it for ``partition`` of the changelog."""
        if record is None:
            self.records.pop(key, None)
            value = None
        else:
            self.records[key] = record
            value = orjson.dumps(record)
        self._pending[partition].append((orjson.dumps(key), value))

    async def flush(self) -> int:
        """Send the writes queued since the last flush to the changelog, one producer batch per partition (more if
        one fills), wait until Kafka has acknowledged every one, then write them to local disk. Returns how many.

        The agent calls it after each batch of events, before Faust acknowledges those events: the events topic's
        offsets are committed only once their changelog writes are durable. While Kafka cannot be reached it
        retries every second (the events stay unacknowledged, so nothing is committed), logging the outage once;
        a retry may write a record twice, which changes nothing (the same key and value, compacted).
        """
        if not self._pending:
            return 0
        pending, self._pending = self._pending, defaultdict(list)
        topic = self._table.changelog_topic.get_topic_name()
        while True:
            try:
                if self._producer is None:
                    producer = self._producer_factory()
                    await producer.start()
                    self._producer = producer
                sent: list[Sent] = []
                for partition, writes in pending.items():
                    sent += await _send_batches(self._producer, topic, partition, writes)
                acknowledged = await asyncio.gather(*(future for _, _, future in sent))
            except KafkaError as exc:
                if not self._waiting:
                    log.warning("changelog writes wait for Kafka (their events stay unacknowledged): %s", exc)
                    self._waiting = True
                await self._discard_producer()
                await asyncio.sleep(self._retry_s)
                continue
            break
        if self._waiting:
            log.info("changelog writes resumed")
            self._waiting = False
        self.store.persist(
            (partition, key, value, metadata.offset + i)
            for (partition, writes, _), metadata in zip(sent, acknowledged, strict=True)
            for i, (key, value) in enumerate(writes)
        )
        return sum(len(writes) for writes in pending.values())

    async def _discard_producer(self) -> None:
        """After a failed attempt, the next starts a fresh producer: one whose metadata went stale while the broker
        was away kept failing with UnknownTopicOrPartitionError (aiokafka refreshes known topics every 5 minutes),
        and a worker stayed stuck for minutes after a broker restart (test_faults)."""
        producer, self._producer = self._producer, None
        if producer is not None:
            with contextlib.suppress(KafkaError, TimeoutError):
                await asyncio.wait_for(producer.stop(), 5)

    async def stop(self) -> None:
        """Stop the changelog producer if one was started (at worker shutdown)."""
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None

    async def loaded(
        self,
        partitions: set[int],
        assigned: Callable[[], set[int]],
        poll_s: float = 0.05,
        warn_s: float = 30.0,
        rebalancing: Callable[[], bool] = lambda: False,
    ) -> set[int]:
        """Wait until each of ``partitions`` has its records loaded (``sync``) or is no longer ``assigned``; return
        the loaded ones, whose events may be handled now.

        Faust hands an event to the agent before its partition's recovery hook has run, now and then (a restart
        that read a changelog tail: about one in ten): the event would start its contact afresh, or the hook's load
        would overwrite what its batch had just written, and the batch's events were lost from the figures while
        their offsets were committed. A revoked partition's events are left to its next owner (its offsets are not
        committed by this worker any more). "Revoked" is judged only outside a rebalance (``rebalancing``): during
        one, the assignment read here can be the one on its way out, and a partition coming back to this worker
        looked revoked, its events were left out and their offsets committed (figures short for good: the worker
        joining and leaving test, three full-suite runs)."""
        waited = 0.0
        while True:
            pending = partitions - self._loaded
            if not pending or (not (pending & assigned()) and not rebalancing()):
                return partitions & self._loaded
            if waited >= warn_s and waited - poll_s < warn_s:
                log.warning(
                    "events of partitions %s wait %.0f s for their records to be loaded", sorted(pending), waited
                )
            await asyncio.sleep(poll_s)
            waited += poll_s

    def sync(self, active: set[int]) -> None:
        """Hold the records of exactly the ``active`` partitions: drop the others', load the newly assigned ones'
        from their databases (after Faust's recovery has brought them up to the changelog's end)."""
        started = time.perf_counter()
        gone = self._loaded - active
        if gone:
            for name in [name for name, record in self.records.items() if record.get("p") in gone]:
                del self.records[name]
        new = sorted(active - self._loaded)
        loaded = 0
        for partition in new:
            for raw_key, value in self.store.partition_items(partition):
                self.records[orjson.loads(raw_key)] = orjson.loads(value)
                loaded += 1
        self._loaded = set(active)
        if gone or new:
            log.info(
                "local state: %d records of partitions %s loaded from disk, partitions %s dropped, in %.1f s",
                loaded,
                new,
                sorted(gone),
                time.perf_counter() - started,
            )


async def _send_batches(producer: AIOKafkaProducer, topic: str, partition: int, writes: list[Write]) -> list[Sent]:
    """Hand ``writes`` to the producer in as few batches as they fit, in order; returns each batch's writes with
    the future of its acknowledgement (whose offset is that of the batch's first record)."""
    sent: list[Sent] = []
    batch, first = producer.create_batch(), 0
    for i, (key, value) in enumerate(writes):
        if batch.append(key=key, value=value, timestamp=None) is None:  # full: send it, start the next
            sent.append((partition, writes[first:i], await producer.send_batch(batch, topic, partition=partition)))
            batch, first = producer.create_batch(), i
            batch.append(key=key, value=value, timestamp=None)  # an empty batch takes any one record
    sent.append((partition, writes[first:], await producer.send_batch(batch, topic, partition=partition)))
    return sent
