"""The API's read model: the latest partial snapshot of every (scope, partition), merged on read.

Built by consuming the compacted ``deskpulse.kpis.v1`` topic from the beginning; rebuilt the same way on
every start. Merging is pure: counters add up across partitions, the oldest waiting contact is the minimum.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from services.common.kafka import ensure_topics
from services.common.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ScopeView:
    """One scope's figures over every partition."""

    scope: str
    kind: str
    platform: str | None
    id: str | None
    windows: dict[str, dict[str, int]]
    open: int
    waiting: int
    oldest_waiting_created_ms: int | None
    published_ms: int


def merge(partials: list[dict[str, Any]]) -> ScopeView:
    """Merge the partial snapshots of one scope (at least one)."""
    first = partials[0]
    windows: dict[str, dict[str, int]] = {}
    open_ = waiting = 0
    oldest: int | None = None
    for partial in partials:
        for window, figures in partial["windows"].items():
            merged = windows.setdefault(window, {})
            for name, value in figures.items():
                merged[name] = merged.get(name, 0) + value
        live = partial["live"]
        open_ += live["open"]
        waiting += live["waiting"]
        candidate = live["oldest_waiting_created_ms"]
        if candidate is not None and (oldest is None or candidate < oldest):
            oldest = candidate
    return ScopeView(
        scope=first["scope"],
        kind=first["kind"],
        platform=first["platform"],
        id=first["id"],
        windows=windows,
        open=open_,
        waiting=waiting,
        oldest_waiting_created_ms=oldest,
        published_ms=max(p["published_ms"] for p in partials),
    )


class ReadModel:
    def __init__(self) -> None:
        self._partials: dict[str, dict[int, dict[str, Any]]] = {}  # scope -> partition -> partial
        self.caught_up = False
        self.last_update_monotonic: float | None = None

    def apply(self, key: bytes | None, value: bytes | None) -> None:
        """Apply one record of the snapshot topic; malformed records are logged and skipped."""
        if key is None:
            return
        scope, _, partition = key.decode(errors="replace").rpartition("#")
        if not scope or not partition.isdigit():
            log.warning("ignoring snapshot with unexpected key %r", key[:200])
            return
        if value is None:  # tombstone
            self._partials.get(scope, {}).pop(int(partition), None)
            return
        try:
            partial = json.loads(value)
        except ValueError:
            log.warning("ignoring undecodable snapshot for %s", scope)
            return
        self._partials.setdefault(scope, {})[int(partition)] = partial
        self.last_update_monotonic = time.monotonic()

    @property
    def scope_count(self) -> int:
        return len(self._partials)

    def view(self, scope: str) -> ScopeView | None:
        partials = self._partials.get(scope)
        return merge(list(partials.values())) if partials else None

    def scopes(self, kind: str) -> list[str]:
        prefix = f"{kind}/"
        return sorted(s for s in self._partials if s.startswith(prefix))

    def views(self) -> list[ScopeView]:
        """Every scope, merged; taken on the event loop so it is a consistent copy for a render thread."""
        return [merge(list(p.values())) for p in self._partials.values() if p]


class SnapshotConsumer:
    """Feeds a :class:`ReadModel` from the snapshot topic, from the beginning, for as long as it runs.

    ``read_model.caught_up`` turns true once every partition has been read up to the end offsets seen at
    start. If Kafka goes away the model keeps its last state and the consumer keeps retrying.
    """

    def __init__(self, settings: Settings, read_model: ReadModel) -> None:
        self._settings = settings
        self._model = read_model
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="snapshot-consumer")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass

    async def _run(self) -> None:
        topic = self._settings.kpis_topic
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
                log.warning("snapshot consumer failed (%r); serving the last state and retrying", exc,
                            exc_info=not isinstance(exc, (KafkaError, OSError, TimeoutError)))
                await asyncio.sleep(2)
            finally:
                if consumer is not None:
                    await consumer.stop()

    async def _consume(self, consumer: AIOKafkaConsumer) -> None:
        pending: dict[TopicPartition, int] | None = None
        while True:
            batches = await consumer.getmany(timeout_ms=500, max_records=5000)
            for records in batches.values():
                for record in records:
                    self._model.apply(record.key, record.value)
            if self._model.caught_up:
                continue
            assigned = consumer.assignment()
            if not assigned:
                continue
            if pending is None:
                pending = {tp: end for tp, end in (await consumer.end_offsets(list(assigned))).items()}
            for tp, end in list(pending.items()):
                if await consumer.position(tp) >= end:
                    del pending[tp]
            if not pending:
                self._model.caught_up = True
                log.info("read model caught up with %s (%d scopes)", self._settings.kpis_topic, self._model.scope_count)
