"""The live stream's shared work: every client of the same (window, filter) gets the same encoded bytes.

Building a scope's body costs tens of microseconds; a floor of wallboards connecting at once (every morning,
after every deploy) asked the API to build the same snapshot once per connection, on the event loop, so N
connections froze every request for N snapshot builds. Here:

- a **snapshot** is built once per (window, filter) and its encoded event kept for ``max_age_s``: a client
  connecting meanwhile gets those bytes, then the changes since the snapshot's sequence number from the
  feed's replay buffer, so it misses nothing. The build runs on the event loop in slices of at most
  ``slice_s`` (bodies read the read model, which only the loop may touch), so requests interleave with it;
  clients that ask while it is being built wait for the same build.
- an **update** (one scope's change, numbered by the feed) is encoded once per window and shared by every
  client it goes to.
- for clients that accept gzip (browsers' ``EventSource`` do), each event is also compressed once, as a
  self-contained run of deflate blocks (``Payload.gzip``): a client's stream is the gzip header followed by
  those shared runs, so compression costs nothing per client and a snapshot of the whole read model is about a
  tenth of the bytes to write.

What a slow client costs is bounded without this module: its subscriber keeps only the newest change per scope
(``stream.Subscriber``), and the route writes the snapshot in chunks of ``CHUNK`` bytes, so a client that stops
reading holds one chunk and its socket buffers, and gets the current figures of what changed when it reads again.
"""

from __future__ import annotations

import asyncio
import time
import zlib
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import orjson

from services.api.slices import Foreground, Slices, Turns
from services.api.stream import ChangeFeed, ScopeFilter

CHUNK = 256 * 1024  # bytes of a snapshot written at a time
# Streams set up at once. When a shared snapshot is ready, every client waiting for it would otherwise resume in
# the same turn of the event loop and prepare its first events there, one after the other: with 200 clients that
# turn lasted a second, and every other request waited behind it.
OPENINGS = 4
# Chunks of first events written per turn of the event loop, over every stream: with 200 clients of a 3.5 MB
# snapshot each writing one per turn, a turn held 50-80 chunk writes (40-80 ms) that every request waited behind.
CHUNKS_PER_TURN = 4
GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"  # deflate, no name, no time, unknown OS (RFC 1952)

Body = Callable[[str, str], dict]  # (scope, window) -> the scope's public body (deps.Figures.body)


class Payload:
    """Bytes of one or more server-sent events, and the same compressed, made once and shared by every client."""

    __slots__ = ("_gzip", "raw")

    def __init__(self, raw: bytes) -> None:
        self.raw = raw
        self._gzip: bytes | None = None

    @property
    def gzip(self) -> bytes:
        """``raw`` as deflate blocks ending in a full flush: they follow any other such run in a gzip stream."""
        if self._gzip is None:
            compressor = zlib.compressobj(1, zlib.DEFLATED, -15)  # level 1: JSON still shrinks ~10 times
            self._gzip = compressor.compress(self.raw) + compressor.flush(zlib.Z_FULL_FLUSH)
        return self._gzip

    def encoded(self, gzip: bool) -> bytes:
        return self.gzip if gzip else self.raw


KEEPALIVE = Payload(b": keepalive\n\n")
RESUMED = Payload(b": resumed\n\n")


def event(seq: int, kind: str, *data: bytes) -> Payload:
    """One server-sent event whose ``data`` is already encoded JSON, given whole or in pieces to join."""
    # One join, not %-formatting: it copies a snapshot's tens of megabytes once, and without the GIL.
    return Payload(b"".join((b"id: %d\nevent: %s\ndata: " % (seq, kind.encode()), *data, b"\n\n")))


@dataclass(frozen=True)
class Snapshot:
    seq: int  # the feed's number when the build started: every change after it is in the replay buffer
    data: Payload  # the whole ``snapshot`` event
    built_at: float  # monotonic
    scopes: int


class SharedEvents:
    """Encoded snapshots per (window, filter) and updates per (change, window), shared by every stream client."""

    def __init__(
        self,
        feed: ChangeFeed,
        body: Body,
        all_scopes: Callable[[], list[str]],
        *,
        max_age_s: float = 5.0,
        slice_s: float = 0.004,
        updates: int = 20_000,
        foreground: Foreground | None = None,
    ) -> None:
        self.feed = feed
        self.body = body
        self.all_scopes = all_scopes
        self.max_age_s = max_age_s
        # One slice of building per turn of the loop, over every build; none while a /metrics render holds the
        # foreground.
        self.slices = Slices(slice_s, foreground)
        self._snapshots: dict[tuple, Snapshot] = {}
        self._building: dict[tuple, asyncio.Future[Snapshot]] = {}
        self._updates: OrderedDict[tuple[int, str], Payload] = OrderedDict()
        self._max_updates = updates
        self.openings = asyncio.Semaphore(OPENINGS)  # held while a new stream prepares its first events
        self.chunk_turns = Turns(CHUNKS_PER_TURN)  # a new stream waits here before each chunk after its first
        # (window, filter, gzip) -> the newest replay: (snapshot's number, feed's number, its bytes)
        self._replays: dict[tuple, tuple[int, int, asyncio.Future[bytes]]] = {}
        self.builds = 0  # snapshots built
        self.served = 0  # snapshots handed to clients: built or shared

    async def snapshot(self, window: str, match: ScopeFilter) -> Snapshot:
        """A snapshot of the scopes ``match`` takes, at most ``max_age_s`` old and still covered by the feed's
        replay buffer (so the changes since can be sent after it); built now if there is none."""
        key = (window, match.key)
        self.served += 1
        cached = self._snapshots.get(key)
        if cached is not None and self._usable(cached):
            return cached
        building = self._building.get(key)
        if building is None:
            building = self._building[key] = asyncio.ensure_future(self._build(key, window, match))
        # Shielded: a client that disconnects while waiting does not cancel the build the others wait for.
        return await asyncio.shield(building)

    def _usable(self, snapshot: Snapshot) -> bool:
        return (
            time.monotonic() - snapshot.built_at <= self.max_age_s
            and self.feed.evicted <= snapshot.seq <= self.feed.seq
        )

    async def _build(self, key: tuple, window: str, match: ScopeFilter) -> Snapshot:
        try:
            seq = self.feed.seq
            scopes = [s for s in self.all_scopes() if match(s)]
            parts: list[bytes] = []
            for scope in scopes:
                parts.append(orjson.dumps(self.body(scope, window)))
                await self.slices.pause()

            def assemble() -> Payload:
                data = event(seq, "snapshot", b'{"scopes":[', b",".join(parts), b"]}")
                _ = data.gzip  # compressed once, here
                return data

            # Joining and compressing a snapshot of every scope (36 MB) held the loop for 0.3 s; bytes.join and
            # zlib let go of the GIL, so in a thread the loop goes on meanwhile.
            data = await asyncio.to_thread(assemble)
            snapshot = Snapshot(seq, data, time.monotonic(), len(scopes))
            self._snapshots[key] = snapshot
            self.builds += 1
            return snapshot
        finally:
            self._building.pop(key, None)

    async def replay(self, snapshot: Snapshot, window: str, match: ScopeFilter, gzip: bool) -> tuple[int, bytes] | None:
        """The changes since ``snapshot`` as one run of encoded ``update`` events, and the feed's number up to
        which it covers everything; ``None`` when the replay buffer no longer reaches back to the snapshot.

        Shared like the snapshot: every client that opens with the same snapshot while the feed stays where it
        is (between two publications) gets the same bytes; before, each of 200 unfiltered clients filtered and
        joined the thousand changes since a snapshot a few seconds old on its own (4-11 ms each)."""
        key = (window, match.key, gzip)
        upto = self.feed.seq
        cached = self._replays.get(key)
        if cached is None or cached[:2] != (snapshot.seq, upto):
            changes = self.feed.since(snapshot.seq, match)
            if changes is None:
                return None
            cached = self._replays[key] = (
                snapshot.seq,
                upto,
                asyncio.ensure_future(self.joined(changes, window, gzip)),
            )
        # Shielded, like a build: the clients opening meanwhile wait for the same bytes.
        return upto, await asyncio.shield(cached[2])

    async def joined(self, changes: list[tuple[int, str]], window: str, gzip: bool) -> bytes:
        """The ``update`` events of ``changes`` (seq, scope) in ``window`` as one run of bytes, for one write;
        a scope gone from the read model since its change has nothing to send."""
        model = self.feed.model
        return b"".join(await self.updates([(seq, s) for seq, s in changes if s in model], window, gzip))

    def update(self, seq: int, scope: str, window: str) -> Payload:
        """The ``update`` event of change ``seq`` (of ``scope``) in ``window``, built once."""
        key = (seq, window)
        data = self._updates.get(key)
        if data is None:
            data = self._updates[key] = event(seq, "update", orjson.dumps(self.body(scope, window)))
            if len(self._updates) > self._max_updates:
                self._updates.popitem(last=False)
        return data

    async def updates(self, changes: list[tuple[int, str]], window: str, gzip: bool) -> list[bytes]:
        """The encoded ``update`` events of ``changes`` (seq, scope) in ``window``, built in slices like a snapshot:
        after a long build or a slow client, thousands may be due at once, and most are built here first."""
        out = []
        for seq, scope in changes:
            out.append(self.update(seq, scope, window).encoded(gzip))
            await self.slices.pause()
        return out
