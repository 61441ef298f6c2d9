"""The stream's shared work (services/api/fanout.py): one snapshot build per (window, filter), updates encoded once,
builds in slices that let other work in."""

import asyncio
import json

import zlib

from services.api.fanout import GZIP_HEADER, KEEPALIVE, SharedEvents
from services.api.readmodel import ReadModel
from services.api.slices import Foreground
from services.api.stream import ChangeFeed, ScopeFilter
from tests.support.partials import encoded


class Bodies:
    """A stand-in for ``Figures.body`` that counts its calls (the read model and routes are tested elsewhere)."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, scope: str, window: str) -> dict:
        self.calls += 1
        return {"scope": scope, "window": window, "n": self.calls}


def shared(scopes, **kw):
    feed = ChangeFeed(ReadModel(), buffer=100)
    bodies = Bodies()
    return feed, bodies, SharedEvents(feed, bodies, lambda: list(scopes), **kw)


def decode(data: bytes) -> tuple[int, str, dict]:
    lines = data.decode().strip().split("\n")
    return int(lines[0][4:]), lines[1][7:], json.loads(lines[2][6:])


async def test_clients_connecting_together_share_one_build_per_window_and_filter():
    scopes = ["all"] + [f"queue/z/q{i}" for i in range(50)] + [f"agent/z/a{i}" for i in range(50)]
    feed, bodies, events = shared(scopes, slice_s=0.0)
    wallboard = ScopeFilter(["all", "queue/"])
    same = ScopeFilter(["queue/", "all", "queue/"])  # the same subscription written otherwise
    results = await asyncio.gather(*(events.snapshot("15m", wallboard if i % 2 else same) for i in range(200)))
    assert events.builds == 1 and bodies.calls == 51 and len({id(r) for r in results}) == 1
    seq, kind, data = decode(results[0].data.raw)
    assert (seq, kind) == (feed.seq, "snapshot") and [b["scope"] for b in data["scopes"]] == scopes[:51]
    # another window or another filter is another build; the same one again is served from the cache
    await events.snapshot("1h", wallboard)
    await events.snapshot("15m", ScopeFilter(["all"]))
    await events.snapshot("15m", wallboard)
    assert events.builds == 3


async def test_a_snapshot_is_rebuilt_once_too_old_or_no_longer_covered_by_the_replay_buffer():
    feed, _, events = shared(["all", "queue/z/a"], max_age_s=60)
    first = await events.snapshot("15m", ScopeFilter())
    feed.publish(["queue/z/a"])  # a change: the cached snapshot plus the replay buffer still tell everything
    assert await events.snapshot("15m", ScopeFilter()) is first
    feed.publish([f"queue/z/x{i}" for i in range(100)])  # the buffer of 100 no longer holds first.seq + 1
    assert feed.since(first.seq, ScopeFilter()) is None
    again = await events.snapshot("15m", ScopeFilter())
    assert again is not first and again.seq == feed.seq and events.builds == 2
    _, _, stale = shared(["all"], max_age_s=0)
    a = await stale.snapshot("15m", ScopeFilter())
    await asyncio.sleep(0.01)
    assert await stale.snapshot("15m", ScopeFilter()) is not a


async def test_the_build_lets_other_work_in_between_slices():
    feed, _, events = shared([f"agent/z/a{i}" for i in range(2_000)], slice_s=0.0)
    ticks = 0

    async def request_meanwhile():
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    other = asyncio.create_task(request_meanwhile())
    await events.snapshot("15m", ScopeFilter())
    other.cancel()
    assert ticks >= 1_000  # it ran between the slices, not after the whole build


async def test_a_build_steps_aside_while_a_render_holds_the_foreground():
    foreground = Foreground(longest_s=60)
    feed, bodies, events = shared([f"agent/z/a{i}" for i in range(200)], slice_s=0.0, foreground=foreground)
    with foreground.hold():  # a /metrics render in its thread
        build = asyncio.create_task(events.snapshot("15m", ScopeFilter()))
        for _ in range(50):
            await asyncio.sleep(0)
        assert 0 < bodies.calls < 5 and not build.done()  # it began, then waited at its first pause
    snapshot = await asyncio.wait_for(build, 5)
    assert bodies.calls == snapshot.scopes == 200


async def test_an_update_is_encoded_once_per_change_and_window():
    feed, bodies, events = shared(["queue/z/a"])
    feed.publish(["queue/z/a"])
    seq = feed.seq
    assert len({events.update(seq, "queue/z/a", "15m") for _ in range(500)}) == 1 and bodies.calls == 1
    assert decode(events.update(seq, "queue/z/a", "15m").raw)[:2] == (seq, "update")
    events.update(seq, "queue/z/a", "1h")
    assert bodies.calls == 2


async def test_a_client_that_gives_up_waiting_does_not_cancel_the_build_for_the_others():
    feed, _, events = shared([f"agent/z/a{i}" for i in range(500)], slice_s=0.0)
    impatient = asyncio.create_task(events.snapshot("15m", ScopeFilter()))
    patient = asyncio.create_task(events.snapshot("15m", ScopeFilter()))
    await asyncio.sleep(0)
    impatient.cancel()
    assert (await patient).scopes == 500 and events.builds == 1


async def test_compressed_events_are_made_once_and_join_into_one_gzip_stream():
    feed, bodies, events = shared([f"queue/z/q{i}" for i in range(300)])
    snapshot = await events.snapshot("all", ScopeFilter())
    feed.publish(["queue/z/q1"])
    update = events.update(feed.seq, "queue/z/q1", "all")
    assert update.gzip is update.gzip  # compressed once, shared by every client that takes gzip
    stream = GZIP_HEADER + snapshot.data.gzip + KEEPALIVE.gzip + update.gzip
    decompressor = zlib.decompressobj(31)
    pieces = b"".join(decompressor.decompress(stream[i:i + 1000]) for i in range(0, len(stream), 1000))
    assert pieces == snapshot.data.raw + KEEPALIVE.raw + update.raw  # readable as it arrives, event by event
    assert len(snapshot.data.gzip) * 5 < len(snapshot.data.raw)


def _events(data: bytes, gzip: bool) -> list[tuple[int, str, dict]]:
    raw = zlib.decompressobj(-15).decompress(data) if gzip else data
    return [decode(part + b"\n\n") for part in raw.split(b"\n\n") if part]


async def test_clients_opening_with_the_same_snapshot_share_its_replay_until_the_feed_moves_on():
    scopes = ["all", "queue/z/a", "queue/z/b"]
    feed, bodies, events = shared(scopes, slice_s=0.0)
    for scope in scopes:
        feed.model.apply(*encoded(scope))
    snapshot = await events.snapshot("15m", ScopeFilter())
    feed.publish(["queue/z/a", "queue/z/b"])
    built = bodies.calls
    replays = await asyncio.gather(*(events.replay(snapshot, "15m", ScopeFilter(), True) for _ in range(50)))
    assert bodies.calls == built + 2  # each change encoded once
    assert len({id(data) for _, data in replays}) == 1  # and joined once, for all 50
    upto, data = replays[0]
    assert upto == feed.seq
    assert [(seq, kind, body["scope"]) for seq, kind, body in _events(data, gzip=True)] == [
        (feed.seq - 1, "update", "queue/z/a"), (feed.seq, "update", "queue/z/b")]
    # the feed moves on: the next client's replay has the new change too
    feed.publish(["all"])
    upto, data = await events.replay(snapshot, "15m", ScopeFilter(), False)
    assert upto == feed.seq and [body["scope"] for _, _, body in _events(data, gzip=False)] == scopes[1:] + ["all"]
    # a filter sees only its scopes; a scope gone from the model is left out
    feed.model.apply(b"queue/z/b#0", None)
    feed.publish(["queue/z/b"])
    _, data = await events.replay(snapshot, "15m", ScopeFilter(["queue/"]), False)
    assert [body["scope"] for _, _, body in _events(data, gzip=False)] == ["queue/z/a"]
    # the buffer no longer reaches back to the snapshot: no replay (the client gets a new snapshot)
    feed.publish([f"queue/z/x{i}" for i in range(100)])
    assert await events.replay(snapshot, "15m", ScopeFilter(), False) is None
