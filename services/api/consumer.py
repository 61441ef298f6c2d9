"""The API's feeds: a compacted topic consumed from the beginning, for as long as the API runs, applied in slices
so no request waits behind a long batch: ``deskpulse.kpis.v1`` into the read model, ``deskpulse.contacts.v1`` into
the contact store (``contactstore.py``)."""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import Iterable
from typing import Protocol

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from services.api.slices import Slices
from services.common.kafka import ensure_topics
from services.common.settings import Settings

log = logging.getLogger(__name__)


class Sink(Protocol):
    """What a consumer feeds: records applied by key, and whether the topic has been read up to its end once."""

    caught_up: bool

    def apply(self, key: bytes | None, value: bytes | None) -> None: ...


async def apply_sliced(
    model: Sink, records: Iterable[tuple[bytes | None, bytes | None]], slice_s: float = 0.005
) -> None:
    """Apply snapshot records on the event loop, letting other work in every ``slice_s``: a batch of thousands of
    records (a busy aggregator, a restart's catch-up) would otherwise hold every request for its whole length."""
    slices = Slices(slice_s)
    for key, value in records:
        model.apply(key, value)
        await slices.pause()


class SnapshotConsumer:
    """Feeds a :class:`ReadModel` (or any :class:`Sink`) from a compacted topic (default: the snapshot topic), from
    the beginning, for as long as it runs.

    ``caught_up`` turns true once every partition has been read up to the end offsets seen at start. If Kafka goes
    away the sink keeps its last state and the consumer keeps retrying.
    """

    def __init__(self, settings: Settings, read_model: Sink, topic: str | None = None) -> None:
        self._settings = settings
        self._model = read_model
        self._topic = topic or settings.kpis_topic
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"consumer-{self._topic}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass

    async def _run(self) -> None:
        topic = self._topic
        while True:
            consumer = None
            try:
                await ensure_topics(self._settings)
                # No group: the consumer assigns itself every partition and starts from the earliest offset.
                consumer = AIOKafkaConsumer(
                    topic,
                    bootstrap_servers=self._settings.kafka_bootstrap,
                    group_id=None,
                    enable_auto_commit=False,
                    auto_offset_reset="earliest",
                )
                await consumer.start()
                await self._consume(consumer)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # keep serving the last state whatever happened; retry
                log.warning(
                    "consumer of %s failed (%r); serving the last state and retrying",
                    topic,
                    exc,
                    exc_info=not isinstance(exc, (KafkaError, OSError, TimeoutError)),
                )
                await asyncio.sleep(2)
            finally:
                if consumer is not None:
                    await consumer.stop()

    async def _consume(self, consumer: AIOKafkaConsumer) -> None:
        pending: dict[TopicPartition, int] | None = None
        settled = time.monotonic()
        while True:
            batches = await consumer.getmany(timeout_ms=500, max_records=5000)
            if self._model.caught_up and time.monotonic() - settled > 300:
                gc.freeze()  # partials that arrived since: keep full collections short (see common/heap.py)
                settled = time.monotonic()
            for records in batches.values():
                await apply_sliced(self._model, ((r.key, r.value) for r in records))
            if self._model.caught_up:
                continue
            assigned = consumer.assignment()
            if not assigned:
                continue
            if pending is None:
                pending = dict(await consumer.end_offsets(list(assigned)))
            for tp, end in list(pending.items()):
                if await consumer.position(tp) >= end:
                    del pending[tp]
            if not pending:
                self._model.caught_up = True
                log.info("caught up with %s (%r)", self._topic, self._model)
