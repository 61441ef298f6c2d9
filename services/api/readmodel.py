"""The API's read model: the latest partial snapshot of every (scope, partition), merged on read.

Built by consuming the compacted ``deskpulse.kpis.v1`` topic from the beginning; rebuilt the same way on
every start. Merging is pure: counters add up across partitions, the oldest waiting contact is the minimum.
The records' format (``deskpulse.snapshot.v1``, key and value) is ``services.domain.snapshot``; a scope's view
and its window maths are ``scopeview``; ``consumer`` feeds the model from Kafka. Here: the store of partials,
the index of scopes by kind and id, and the copy handed to the ``/metrics`` thread.
"""

from __future__ import annotations

import bisect
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from services.api.scopeview import ScopeView, merge
from services.common import heap
from services.common.clock import Clock, wall_ms
from services.domain.scopes import LIGHT_KINDS
from services.domain.snapshot import decode, decode_key

log = logging.getLogger(__name__)


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

    def __repr__(self) -> str:
        return f"ReadModel({self.scope_count} scopes)"

    @property
    def caught_up(self) -> bool:
        """True once the snapshot topic has been read up to the end offsets seen at start."""
        return self._caught_up

    @caught_up.setter
    def caught_up(self, value: bool) -> None:
        if value and not self._caught_up:
            # The read model is millions of small acyclic objects (decoded partials): frozen, full collections no
            # longer walk them (a pause of hundreds of ms at 10,000 agents). Refcounting still frees a replaced
            # partial at once, frozen or not.
            heap.settle()
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

    def adopt(self, merged: Iterable[tuple[str, tuple[dict[str, Any], ...], ScopeView]]) -> None:
        """Cache views a render thread merged (``ViewsCopy.merged``; on the loop, after the thread finished, in
        slices if many: after a start that is every scope)."""
        for scope, parts, view in merged:
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
