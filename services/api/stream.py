"""The live stream's change feed: which scopes changed, numbered, coalesced, with a bounded replay buffer.

One :class:`ChangeFeed` per process polls the read model's change counter on the event loop. At most every
``interval_s`` it takes the changed scopes, gives each a sequence number and hands it to every subscriber
whose filter matches; each subscriber keeps only the newest number per scope (coalescing), so a slow client
costs at most one entry per scope. The last ``buffer`` numbers are kept for ``Last-Event-ID`` replays.

Sequence numbers start at the process's start time in ms × 1000, so an id from an earlier process is always
older than anything this one has, and a reconnect with it gets a fresh snapshot instead of a gap.

What the clients are sent, and how that work is shared between them, is in ``fanout.py``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Iterable, Iterator

from services.api.readmodel import ReadModel

log = logging.getLogger(__name__)
WOKEN_AT_ONCE = 25  # subscribers handed their changes per turn of the event loop (each then writes ~0.1 ms)


class ScopeFilter:
    """Scope ids and prefixes ending in ``/`` (``queue/zendesk/``); empty matches everything."""

    def __init__(self, values: Iterable[str] = ()) -> None:
        values = list(values)
        exact = frozenset(v for v in values if not v.endswith("/"))
        self._set(exact, {v for v in values if v.endswith("/")}, everything=not values)

    def _set(self, exact: frozenset[str], prefixes: Iterable[str], everything: bool = False) -> None:
        self.exact = exact
        self.prefixes = tuple(sorted(set(prefixes)))
        self.everything = everything
        # equal for filters that match the same scopes by the same rules
        self.key = (everything, self.exact, self.prefixes)

    @classmethod
    def of(cls, exact: Iterable[str], prefixes: Iterable[str]) -> ScopeFilter:
        """A filter of these ids and prefixes; matches nothing when both are empty (unlike ``ScopeFilter([])``)."""
        out = cls.__new__(cls)
        out._set(frozenset(exact), prefixes)
        return out

    def within(self, reach: ScopeFilter | None) -> ScopeFilter:
        """What this filter and ``reach`` both match (``None``: no bound), as one filter."""
        if reach is None:
            return self
        if self.everything:
            return reach
        exact = {s for s in self.exact if reach(s)} | {s for s in reach.exact if self(s)}
        prefixes = set()
        for mine in self.prefixes:
            for theirs in reach.prefixes:
                if mine.startswith(theirs):
                    prefixes.add(mine)
                elif theirs.startswith(mine):
                    prefixes.add(theirs)
        return ScopeFilter.of(exact, prefixes)

    def __call__(self, scope: str) -> bool:
        return self.everything or scope in self.exact or (bool(self.prefixes) and scope.startswith(self.prefixes))


class Subscriber:
    def __init__(self, match: ScopeFilter) -> None:
        self.match = match
        self.pending: dict[str, int] = {}
        self.event = asyncio.Event()
        self.closed = False

    def take(self, seq: int, scope: str) -> None:
        """Queue a change already known to match (``ChangeFeed.publish`` matches once per filter)."""
        self.pending.pop(scope, None)  # keep insertion order = sequence order
        self.pending[scope] = seq
        self.event.set()

    def close(self) -> None:
        self.closed = True
        self.event.set()

    async def next(self, wait_s: float) -> list[tuple[int, str]] | None:
        """The pending (seq, scope) pairs in sequence order; empty after ``wait_s`` seconds without changes;
        ``None`` once the server is shutting down (the stream should end)."""
        if self.closed:
            return None
        if not self.pending:
            self.event.clear()
            try:
                async with asyncio.timeout(wait_s):  # no task per wait, unlike wait_for: hundreds of clients wait
                    await self.event.wait()
            except TimeoutError:
                return []
            if self.closed:
                return None
        out = [(seq, scope) for scope, seq in self.pending.items()]
        self.pending.clear()
        return out


class ChangeFeed:
    def __init__(self, model: ReadModel, interval_s: float = 0.5, buffer: int = 10_000, poll_s: float = 0.05) -> None:
        self.model = model
        self.interval_s = interval_s
        self.poll_s = poll_s
        self.ring: deque[tuple[int, str]] = deque(maxlen=buffer)
        self.base = int(time.time() * 1000) * 1000
        self.seq = self.base  # the newest number given out (the base: nothing yet)
        self.evicted = self.base  # newest number no longer in the ring
        self.subscribers: set[Subscriber] = set()
        self.closing = False
        self._seen = -1
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        self._seen = self.model.changes
        self.model.take_changes()  # what is there now is in every snapshot
        self._task = asyncio.create_task(self._run(), name="change-feed")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass

    async def _run(self) -> None:
        while True:
            if self.model.changes == self._seen:
                await asyncio.sleep(self.poll_s)
                continue
            self._seen = self.model.changes
            for _ in self._hand_out(self._number(self.model.take_changes())):
                await asyncio.sleep(0)  # the woken streams write, and any request is served, before the next ones
            await asyncio.sleep(self.interval_s)  # coalescing: one update per scope per interval at most

    def publish(self, scopes: Iterable[str]) -> None:
        """Number the changed scopes and hand them to every subscriber at once."""
        for _ in self._hand_out(self._number(scopes)):
            pass

    def _number(self, scopes: Iterable[str]) -> list[tuple[int, str]]:
        numbered = []
        for scope in sorted(scopes):
            self.seq += 1
            if len(self.ring) == self.ring.maxlen:
                self.evicted = self.ring[0][0]
            self.ring.append((self.seq, scope))
            numbered.append((self.seq, scope))
        return numbered

    def _hand_out(self, numbered: list[tuple[int, str]]) -> Iterator[None]:
        """Give every subscriber the numbered changes it matches, pausing (a ``yield``) after every
        ``WOKEN_AT_ONCE`` woken: each then writes its update in the next turn of the loop, so 500 woken at once
        made one turn of 50 ms that every other request waited behind. A subscriber that comes meanwhile is not
        handed these: its snapshot and replay cover every number given out before it subscribed."""
        # Subscribers with the same filter (a floor of wallboards) are matched once, not once each.
        groups: dict[tuple, list[Subscriber]] = {}
        for subscriber in self.subscribers:
            groups.setdefault(subscriber.match.key, []).append(subscriber)
        woken = 0
        for members in groups.values():
            match = members[0].match
            due = [(seq, scope) for seq, scope in numbered if match(scope)]
            if not due:
                continue
            for subscriber in members:
                for seq, scope in due:
                    subscriber.take(seq, scope)
                woken += 1
                if woken % WOKEN_AT_ONCE == 0:
                    yield

    def subscribe(self, match: ScopeFilter) -> Subscriber:
        subscriber = Subscriber(match)
        if self.closing:
            subscriber.close()
        self.subscribers.add(subscriber)
        return subscriber

    def close_streams(self) -> None:
        """End every open stream (server shutdown): clients reconnect to another replica or after restart."""
        self.closing = True
        for subscriber in self.subscribers:
            subscriber.close()

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self.subscribers.discard(subscriber)

    def since(self, last_id: int, match: ScopeFilter) -> list[tuple[int, str]] | None:
        """Changes after ``last_id`` (newest number per scope, in order), or ``None`` when ``last_id`` is not
        one this process can replay from (older than the buffer, from another process, or in the future)."""
        if not (self.evicted <= last_id <= self.seq):
            return None
        newest: dict[str, int] = {}
        for seq, scope in reversed(self.ring):
            if seq <= last_id:
                break
            if scope not in newest and match(scope):
                newest[scope] = seq
        return sorted((seq, scope) for scope, seq in newest.items())
