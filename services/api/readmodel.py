"""The API's read model: the latest partial snapshot of every (scope, partition), merged on read.

Built by consuming the compacted ``deskpulse.kpis.v1`` topic from the beginning; rebuilt the same way on
every start. Merging is pure: counters add up across partitions, the oldest waiting contact is the minimum.
The records' format (``deskpulse.snapshot.v1``, key and value) is ``services.domain.snapshot``.
"""

from __future__ import annotations

import asyncio
import bisect
import gc
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from services.api.slices import Slices
from services.common.clock import Clock, wall_ms
from services.common.kafka import ensure_topics
from services.common.settings import Settings
from services.domain.counters import total
from services.domain.scopes import LIGHT_KINDS
from services.domain.snapshot import LIVE_MIN, add_buckets, decode, decode_key
from services.domain.windows import sum_buckets, window_start

log = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class ScopeView:
    """One scope's figures over every partition. Immutable once built; the buckets are merged on first use
    (window ``all``, live figures and ``/metrics`` never need them)."""

    scope: str
    kind: str
    platform: str | None
    id: str | None
    totals: dict[str, int]  # window "all"
    live: dict[str, Any]
    agent: dict[str, Any] | None  # current state, for agent scopes
    stream_ms: int  # newest stream time among the partials, advanced by wall time since publication
    published_ms: int
    parts: tuple[dict[str, Any], ...] = field(default=(), repr=False)  # the partials, for the buckets
    # ``all`` only: events the aggregator refused for being too far in the future ({"n", "last"}), else None
    future: dict[str, Any] | None = None

    @cached_property
    def minutes(self) -> dict[int, dict[str, int]]:
        """One-minute buckets by start (ms)."""
        out: dict[int, dict[str, int]] = {}
        for partial in self.parts:
            add_buckets(out, partial["minutes"])
        return out

    @cached_property
    def quarters(self) -> dict[int, dict[str, int]]:
        """Fifteen-minute buckets by start (ms)."""
        out: dict[int, dict[str, int]] = {}
        for partial in self.parts:
            add_buckets(out, partial["quarters"])
        return out

    @cached_property
    def days(self) -> dict[int, dict[str, int]]:
        """Local-day buckets by start (ms): the per-day counters (``kpis.DAY_COUNTERS``), ~16 days."""
        out: dict[int, dict[str, int]] = {}
        for partial in self.parts:
            add_buckets(out, partial.get("days", {}))  # absent in partials of older aggregators
        return out

    def at(self, stream_ms: int) -> ScopeView:
        """This view at another stream time, sharing the merged buckets."""
        if stream_ms == self.stream_ms:
            return self
        other = replace(self, stream_ms=stream_ms)
        for name in ("minutes", "quarters", "days"):
            if name in self.__dict__:
                other.__dict__[name] = self.__dict__[name]
        return other

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


def merge(partials: list[dict[str, Any]], wall_ms: int) -> ScopeView:
    """Merge the partial snapshots of one scope (at least one): sums, and minima of "oldest" times."""
    first = partials[0]
    totals = dict(first["totals"]) if len(partials) == 1 else total(p["totals"] for p in partials)
    live: dict[str, Any] = {}
    agent = None
    agent_published = -1
    for partial in partials:
        for name, value in partial["live"].items():
            if name in LIVE_MIN:
                if value is not None and (live.get(name) is None or value < live[name]):
                    live[name] = value
                else:
                    live.setdefault(name, None)
            else:
                live[name] = live.get(name, 0) + value
        if partial.get("agent") and partial["published_ms"] > agent_published:
            agent, agent_published = partial["agent"], partial["published_ms"]
    stream = max(p["stream_ms"] + max(0, wall_ms - p["published_ms"]) for p in partials)
    refused = [p["future"] for p in partials if p.get("future")]
    future = (
        {
            "n": sum(f["n"] for f in refused),
            "last": max((f["last"] for f in refused), key=lambda last: last["refused_at_ms"]),
        }
        if refused
        else None
    )
    return ScopeView(
        scope=first["scope"],
        kind=first["kind"],
        platform=first["platform"],
        id=first["id"],
        totals=totals,
        live=live,
        agent=agent,
        stream_ms=stream,
        published_ms=max(p["published_ms"] for p in partials),
        parts=tuple(partials),
        future=future,
    )


@dataclass
class ViewsCopy:
    """What :meth:`ReadModel.copy` hands to a render thread."""

    cached: list[ScopeView]
    pending: list[tuple[str, tuple[dict[str, Any], ...]]]
    wall_ms: int
    merged: list[tuple[str, tuple[dict[str, Any], ...], ScopeView]] = field(default_factory=list)

    def views(self) -> list[ScopeView]:
        """Every view; merges the pending scopes (in whichever thread calls it) and remembers them."""
        self.merged = [(scope, parts, merge(list(parts), self.wall_ms)) for scope, parts in self.pending]
        return self.cached + [view for _, _, view in self.merged]


def settle_heap() -> None:
    """Move every object alive now out of the cyclic GC's reach (``gc.freeze``).

    The read model is millions of small acyclic objects (decoded partials); without this every full
    collection walks all of them, a pause of hundreds of ms at 10,000 agents. Refcounting still frees a
    replaced partial at once, frozen or not.
    """
    gc.collect()
    gc.freeze()


class ReadModel:
    """Latest partial per (scope, partition); merged views cached per scope until the scope's next record.

    ``apply`` runs on the event loop (the snapshot consumer) and records which scopes changed, for the live
    stream (``take_changes``). A cached view keeps the stream times of its partials, so ``view`` advances the
    stream clock by wall time without merging again.
    """

    def __init__(self, clock: Clock = wall_ms) -> None:
        self.clock = clock  # the wall clock that advances stream time between publications (tests fix it)
        self._partials: dict[str, dict[int, dict[str, Any]]] = {}  # scope -> partition -> partial
        self._cache: dict[str, tuple[ScopeView, tuple[tuple[int, int], ...]]] = {}
        self._by_id: dict[tuple[str, str], set[str]] = {}  # (kind, bare id) -> scopes, for bare-id lookups
        self._sorted: dict[str, list[str]] = {}  # kind -> sorted scope ids (rebuilt when a scope comes or goes)
        self._dirty: set[str] = set()
        self.changes = 0  # how many records changed a scope; the stream polls it
        self._caught_up = False
        self.last_update_monotonic: float | None = None
        self.last_update_wall_ms: int | None = None

    def apply(self, key: bytes | None, value: bytes | None) -> None:
        """Apply one record of the snapshot topic; malformed records are logged and skipped."""
        if key is None:
            return
        parsed = decode_key(key)
        if parsed is None:
            log.warning("ignoring snapshot with unexpected key %r", key[:200])
            return
        scope, partition = parsed
        if value is None:  # tombstone
            partials = self._partials.get(scope)
            if partials is not None and partials.pop(partition, None) is not None:
                if not partials:
                    del self._partials[scope]
                    self._forget(scope)
                self._changed(scope)
            return
        try:
            partial = decode(value)
        except ValueError:
            log.warning("ignoring undecodable snapshot for %s", scope)
            return
        partials = self._partials.get(scope)
        if partials is None:
            partials = self._partials[scope] = {}
            self._index(scope, partial)
        partials[partition] = partial
        self._changed(scope)
        self.last_update_monotonic = time.monotonic()
        self.last_update_wall_ms = self.clock()

    @property
    def caught_up(self) -> bool:
        """True once the snapshot topic has been read up to the end offsets seen at start."""
        return self._caught_up

    @caught_up.setter
    def caught_up(self, value: bool) -> None:
        if value and not self._caught_up:
            settle_heap()
        self._caught_up = value

    def _changed(self, scope: str) -> None:
        self._cache.pop(scope, None)
        if not scope.startswith(LIGHT_KINDS):  # queue x agent / x category: read by outliers, not streamed
            self._dirty.add(scope)
            self.changes += 1

    def _index(self, scope: str, partial: dict[str, Any]) -> None:
        kind = partial.get("kind") or scope.partition("/")[0]
        if kind in ("queue", "agent", "account"):
            self._by_id.setdefault((kind, scope.split("/", 2)[-1]), set()).add(scope)
        self._sorted.pop(kind, None)

    def _forget(self, scope: str) -> None:
        kind = scope.partition("/")[0]
        ids = self._by_id.get((kind, scope.split("/", 2)[-1]))
        if ids is not None:
            ids.discard(scope)
        self._sorted.pop(kind, None)

    def take_changes(self) -> set[str]:
        """Scopes changed since the last call (for the live stream)."""
        dirty, self._dirty = self._dirty, set()
        return dirty

    @property
    def scope_count(self) -> int:
        return len(self._partials)

    def _merged(self, scope: str, wall_ms: int) -> tuple[ScopeView, tuple[tuple[int, int], ...]] | None:
        cached = self._cache.get(scope)
        if cached is None:
            partials = self._partials.get(scope)
            if not partials:
                return None
            values = list(partials.values())
            cached = (merge(values, wall_ms), tuple((p["stream_ms"], p["published_ms"]) for p in values))
            self._cache[scope] = cached
        return cached

    def view(self, scope: str, wall_ms: int | None = None) -> ScopeView | None:
        wall = wall_ms if wall_ms is not None else self.clock()
        cached = self._merged(scope, wall)
        if cached is None:
            return None
        view, times = cached
        stream = max(s + max(0, wall - p) for s, p in times)
        return view.at(stream)

    def peek(self, scope: str) -> ScopeView | None:
        """The cached merged view as built (its ``stream_ms`` not advanced): for filters over many scopes."""
        cached = self._merged(scope, self.clock())
        return cached[0] if cached else None

    def agent_state(self, scope: str) -> str | None:
        """An agent scope's current presence state, without merging (the newest partial that has one)."""
        cached = self._cache.get(scope)
        if cached is not None:
            return cached[0].agent.get("state") if cached[0].agent else None
        best, published = None, -1
        for partial in self._partials.get(scope, {}).values():
            if partial.get("agent") and partial["published_ms"] > published:
                best, published = partial["agent"], partial["published_ms"]
        return best.get("state") if best else None

    def __contains__(self, scope: str) -> bool:
        return scope in self._partials

    def scopes(self, kind: str) -> list[str]:
        """Every scope of ``kind`` (all, platform, account, queue, agent), sorted."""
        cached = self._sorted.get(kind)
        if cached is None:
            if kind == "all":
                cached = ["all"] if "all" in self._partials else []
            else:
                prefix = f"{kind}/"
                cached = sorted(s for s in self._partials if s.startswith(prefix))
            self._sorted[kind] = cached
        return cached

    def under(self, prefix: str) -> list[str]:
        """Scope ids starting with ``prefix`` (``kind/...``), sorted: e.g. a queue's ``queue_agent`` scopes."""
        ids = self.scopes(prefix.partition("/")[0])
        i = bisect.bisect_left(ids, prefix)
        j = i
        while j < len(ids) and ids[j].startswith(prefix):
            j += 1
        return ids[i:j]

    def all_scopes(self) -> list[str]:
        return list(self._partials)

    def by_id(self, kind: str, key: str) -> list[str]:
        """Scopes of ``kind`` whose id (without the platform) is ``key``."""
        return sorted(self._by_id.get((kind, key), ()))

    def views(self) -> list[ScopeView]:
        """Every scope, merged (on the calling thread). See :meth:`copy` for the scrape path."""
        wall = self.clock()
        out = []
        for scope in list(self._partials):
            merged = self._merged(scope, wall)
            if merged is not None:
                out.append(merged[0])
        return out

    def copy(self) -> ViewsCopy:
        """A consistent copy for a render thread, cheap to take on the event loop.

        Cached views are immutable (a new record replaces the cached view, never changes it), and so are the
        decoded partials; scopes not merged yet are handed over as their partials, for the thread to merge
        (:meth:`ViewsCopy.views`), so a cold scrape does not stall the loop. :meth:`adopt` caches the thread's
        merges afterwards unless the scope changed meanwhile.
        """
        cached, pending = [], []
        for scope, partials in self._partials.items():
            hit = self._cache.get(scope)
            if hit is not None:
                cached.append(hit[0])
            elif partials:
                pending.append((scope, tuple(partials.values())))
        return ViewsCopy(cached, pending, self.clock())

    def adopt(self, copy: ViewsCopy) -> None:
        """Cache the views a render thread merged from ``copy`` (on the loop, after the thread finished)."""
        for scope, parts, view in copy.merged:
            partials = self._partials.get(scope)
            if scope in self._cache or partials is None or len(partials) != len(parts):
                continue
            if all(a is b for a, b in zip(partials.values(), parts)):
                self._cache[scope] = (view, tuple((p["stream_ms"], p["published_ms"]) for p in parts))

    def stream_ms(self, wall_ms: int | None = None) -> int | None:
        """The pipeline's stream time now: the ``all`` scope's, else the newest over every scope."""
        wall = wall_ms if wall_ms is not None else self.clock()
        if "all" in self._partials:
            return self.view("all", wall).stream_ms  # type: ignore[union-attr]
        best = None
        for partials in self._partials.values():
            for p in partials.values():
                t = p["stream_ms"] + max(0, wall - p["published_ms"])
                best = t if best is None or t > best else best
        return best

    def stale_seconds(self) -> float | None:
        """Seconds since the last record arrived (``None`` before the first)."""
        if self.last_update_monotonic is None:
            return None
        return round(max(0.0, time.monotonic() - self.last_update_monotonic), 3)


async def apply_sliced(
    model: ReadModel, records: Iterable[tuple[bytes | None, bytes | None]], slice_s: float = 0.005
) -> None:
    """Apply snapshot records on the event loop, letting other work in every ``slice_s``: a batch of thousands of
    records (a busy aggregator, a restart's catch-up) would otherwise hold every request for its whole length."""
    slices = Slices(slice_s)
    for key, value in records:
        model.apply(key, value)
        await slices.pause()


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
                log.warning(
                    "snapshot consumer failed (%r); serving the last state and retrying",
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
                gc.freeze()  # partials that arrived since: keep full collections short (see settle_heap)
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
                log.info("read model caught up with %s (%d scopes)", self._settings.kpis_topic, self._model.scope_count)
