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

from services.aggregator.windows import sum_buckets, window_start
from services.common.kafka import ensure_topics
from services.common.settings import Settings

log = logging.getLogger(__name__)


def _wall_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True, slots=True)
class ScopeView:
    """One scope's figures over every partition."""

    scope: str
    kind: str
    platform: str | None
    id: str | None
    totals: dict[str, int]  # window "all"
    minutes: dict[int, dict[str, int]]  # one-minute buckets by start (ms)
    quarters: dict[int, dict[str, int]]  # fifteen-minute buckets by start (ms)
    live: dict[str, Any]
    agent: dict[str, Any] | None  # current state, for agent scopes
    stream_ms: int  # newest stream time among the partials, advanced by wall time since publication
    published_ms: int

    def counters(self, window: str, now_ms: int, today_start_ms: int | None = None) -> dict[str, int]:
        """Summed counters of ``window`` at ``now_ms`` (``today`` needs its local start)."""
        if window == "all":
            return self.totals
        if window == "today":
            return sum_buckets(self.quarters, today_start_ms or 0)
        level, start = window_start(window, now_ms)
        return sum_buckets(self.minutes if level == "m" else self.quarters, start)

    def window_from(self, window: str, now_ms: int, today_start_ms: int | None = None) -> int | None:
        if window == "all":
            return None
        if window == "today":
            return today_start_ms
        return window_start(window, now_ms)[1]


_LIVE_MIN = ("oldest_waiting_created_ms", "oldest_queued_ms", "next_breach_ms")


def _bucket_merge(target: dict[int, dict[str, int]], buckets: dict[str, dict[str, int]]) -> None:
    for start, counters in buckets.items():
        merged = target.setdefault(int(start), {})
        for name, value in counters.items():
            merged[name] = merged.get(name, 0) + value


def merge(partials: list[dict[str, Any]], wall_ms: int) -> ScopeView:
    """Merge the partial snapshots of one scope (at least one): sums, and minima of "oldest" times."""
    first = partials[0]
    totals: dict[str, int] = {}
    minutes: dict[int, dict[str, int]] = {}
    quarters: dict[int, dict[str, int]] = {}
    live: dict[str, Any] = {}
    agent = None
    agent_published = -1
    for partial in partials:
        for name, value in partial["totals"].items():
            totals[name] = totals.get(name, 0) + value
        _bucket_merge(minutes, partial["minutes"])
        _bucket_merge(quarters, partial["quarters"])
        for name, value in partial["live"].items():
            if name in _LIVE_MIN:
                if value is not None and (live.get(name) is None or value < live[name]):
                    live[name] = value
                else:
                    live.setdefault(name, None)
            else:
                live[name] = live.get(name, 0) + value
        if partial.get("agent") and partial["published_ms"] > agent_published:
            agent, agent_published = partial["agent"], partial["published_ms"]
    stream = max(p["stream_ms"] + max(0, wall_ms - p["published_ms"]) for p in partials)
    return ScopeView(
        scope=first["scope"], kind=first["kind"], platform=first["platform"], id=first["id"],
        totals=totals, minutes=minutes, quarters=quarters, live=live, agent=agent,
        stream_ms=stream, published_ms=max(p["published_ms"] for p in partials),
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

    def view(self, scope: str, wall_ms: int | None = None) -> ScopeView | None:
        partials = self._partials.get(scope)
        return merge(list(partials.values()), wall_ms or _wall_ms()) if partials else None

    def scopes(self, kind: str) -> list[str]:
        prefix = f"{kind}/"
        return sorted(s for s in self._partials if s.startswith(prefix))

    def views(self) -> list[ScopeView]:
        """Every scope, merged; taken on the event loop so it is a consistent copy for a render thread."""
        wall = _wall_ms()
        return [merge(list(p.values()), wall) for p in self._partials.values() if p]


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
