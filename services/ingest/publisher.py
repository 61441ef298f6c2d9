"""Durable publication of canonical events: 2xx is only answered after Kafka acknowledged every record.

``KafkaPublisher`` uses aiokafka's idempotent producer (``acks=all``). It starts even while Kafka is down and
keeps reconnecting in the background; until it is connected, or when an ack does not arrive within the
configured time, :meth:`publish` raises :class:`PublishUnavailable`, which ingest turns into 503 so the
platform retries. A record whose ack timed out may still be written later; the aggregator deduplicates on
``event_id``, so the retry never double counts.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

log = logging.getLogger(__name__)

Record = tuple[bytes, bytes]  # (key, value)


class PublishUnavailable(RuntimeError):
    """Kafka did not acknowledge in time; nothing may be assumed written."""


class Publisher(Protocol):
    @property
    def connected(self) -> bool: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def publish(self, topic: str, records: list[Record]) -> None:
        """Write every record and return once all are acknowledged; raise PublishUnavailable otherwise."""


class KafkaPublisher:
    def __init__(
        self, bootstrap: str, *, timeout_s: float = 5.0, linger_ms: int = 5, max_batch_bytes: int = 256 * 1024
    ) -> None:
        self._bootstrap = bootstrap
        self._max_batch_bytes = max_batch_bytes
        self._timeout_s = timeout_s
        self._linger_ms = linger_ms
        self._producer: AIOKafkaProducer | None = None
        self._connector: asyncio.Task | None = None

    @property
    def connected(self) -> bool:
        return self._producer is not None

    async def start(self) -> None:
        self._connector = asyncio.create_task(self._connect_forever(), name="kafka-publisher-connect")

    async def _connect_forever(self) -> None:
        delay = 0.5
        while self._producer is None:
            producer = AIOKafkaProducer(
                bootstrap_servers=self._bootstrap,
                enable_idempotence=True,  # implies acks="all"
                linger_ms=self._linger_ms,
                # aiokafka keeps one batch in flight per partition, so a batch must hold what arrives during a
                # round trip: 16 KiB (the default) is ~35 events, which capped a partition at ~2,200 acknowledged
                # records/s on a loaded 2-core machine; 256 KiB gave ~16,000-19,000 (docs/performance.md).
                max_batch_size=self._max_batch_bytes,
                request_timeout_ms=max(int(self._timeout_s * 1000), 1000),
            )
            try:
                await producer.start()
            except (KafkaError, OSError) as exc:
                await producer.stop()
                log.warning("Kafka at %s unreachable (%s); retrying in %.1f s", self._bootstrap, exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            self._producer = producer
            log.info("connected to Kafka at %s", self._bootstrap)

    async def stop(self) -> None:
        if self._connector is not None:
            self._connector.cancel()
        if self._producer is not None:
            await self._producer.stop()  # flushes what is buffered
            self._producer = None

    async def publish(self, topic: str, records: list[Record]) -> None:
        producer = self._producer
        if producer is None:
            raise PublishUnavailable("not connected to Kafka yet")
        # One deadline for enqueueing and acknowledgement. A cancelled ack future does not stop the record from
        # being sent (aiokafka skips futures already done); only the wait ends.
        futures = []
        try:
            async with asyncio.timeout(self._timeout_s):
                for key, value in records:
                    futures.append(await producer.send(topic, value, key=key))
                for future in futures:
                    await future
        except TimeoutError:
            if len(futures) < len(records):
                raise PublishUnavailable(f"Kafka did not accept the records within {self._timeout_s:g} s") from None
            raise PublishUnavailable(f"Kafka did not acknowledge within {self._timeout_s:g} s") from None
        except KafkaError as exc:
            for future in futures:  # retrieve the other records' outcomes too: no "never retrieved" warnings
                if future.done() and not future.cancelled():
                    future.exception()
            if len(futures) < len(records):
                raise PublishUnavailable(f"Kafka did not accept the records: {exc!r}") from None
            raise PublishUnavailable(f"Kafka rejected a record: {exc!r}") from None


class InMemoryPublisher:
    """Keeps published records in a list; ``available = False`` makes it behave like an unreachable Kafka."""

    def __init__(self) -> None:
        self.records: list[tuple[str, bytes, bytes]] = []
        self.available = True

    @property
    def connected(self) -> bool:
        return self.available

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    async def publish(self, topic: str, records: list[Record]) -> None:
        if not self.available:
            raise PublishUnavailable("in-memory publisher set unavailable")
        self.records.extend((topic, key, value) for key, value in records)
