"""The herd benchmark's client (bench/stream.py): when it says a client had its snapshot, the client had it whole,
with every scope, whether it decompressed the bytes itself or found them equal to bytes another client checked."""

from __future__ import annotations

import asyncio
import zlib

import pytest

from bench.stream import UNFILTERED, Herd, _SnapshotReader, _Verified

GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"


def snapshot(scopes: int, seq: int = 7) -> bytes:
    bodies = b",".join(b'{"scope":"queue/zendesk/q-%d","live":{"waiting":%d}}' % (i, i) for i in range(scopes))
    return b"id: %d\nevent: snapshot\ndata: {\"scopes\":[%s]}\n\n" % (seq, bodies)


def response(events: list[bytes], gzip: bool, chunk: int) -> bytes:
    """An HTTP/1.1 chunked response of the events, each event its own run of deflate blocks as the API writes them,
    cut into HTTP chunks of at most ``chunk`` bytes."""
    body = b""
    for data in events:
        if gzip:
            compressor = zlib.compressobj(1, zlib.DEFLATED, -15)
            data = compressor.compress(data) + compressor.flush(zlib.Z_FULL_FLUSH)
        body += data
    body = (GZIP_HEADER if gzip else b"") + body
    head = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n" + (b"content-encoding: gzip\r\n" if gzip else b"")
    out = head + b"transfer-encoding: chunked\r\n\r\n"
    for i in range(0, len(body), chunk):
        part = body[i : i + chunk]
        out += b"%x\r\n%s\r\n" % (len(part), part)
    return out


def feed(reader: _SnapshotReader, raw: bytes, pieces: int) -> None:
    """The response as the socket might hand it over: ``pieces``-byte reads, cutting anywhere."""
    for i in range(0, len(raw), pieces):
        reader.data_received(raw[i : i + pieces])


@pytest.mark.parametrize("gzip", [True, False])
@pytest.mark.parametrize(("chunk", "pieces"), [(7, 3), (64, 1000), (100_000, 5)])
def test_a_client_that_decompresses_counts_every_scope_wherever_reads_and_chunks_cut(gzip, chunk, pieces):
    async def run():
        herd = Herd("h", UNFILTERED, 1, expected_scopes=300, timeout_s=1, gzip=gzip)
        reader = _SnapshotReader(herd, 0.0, _Verified(), checker=True)
        feed(reader, response([snapshot(300), b"id: 8\nevent: update\ndata: {}\n\n"], gzip, chunk), pieces)
        assert reader.done.done() and len(herd.firsts) == 1 and herd.failures == []

    asyncio.run(run())


def test_a_snapshot_short_of_a_scope_is_a_failure():
    async def run():
        herd = Herd("h", UNFILTERED, 1, expected_scopes=301, timeout_s=1)
        reader = _SnapshotReader(herd, 0.0, _Verified(), checker=True)
        feed(reader, response([snapshot(300)], True, 4096), 999)
        assert herd.failures == ["snapshot with 300 scopes, expected 301"]

    asyncio.run(run())


def test_clients_with_the_checked_bytes_have_it_and_a_client_with_other_bytes_checks_its_own():
    async def run():
        herd = Herd("h", UNFILTERED, 3, expected_scopes=300, timeout_s=1)
        verified = _Verified()
        checker = _SnapshotReader(herd, 0.0, verified, checker=True)
        same, other = (_SnapshotReader(herd, 0.0, verified, checker=False) for _ in range(2))
        feed(same, response([snapshot(300)], True, 4096), 512)  # all here before the check is over: it waits
        assert not same.done.done() and same in verified.waiting
        feed(checker, response([snapshot(300)], True, 4096), 512)
        assert same.done.done() and checker.done.done() and len(verified.prefixes) == 1 and not same.inflating
        feed(other, response([snapshot(299, seq=9)], True, 4096), 512)  # built again, one scope short
        assert other.done.done() and other.inflating
        assert herd.failures == ["snapshot with 299 scopes, expected 300"] and len(herd.firsts) == 3

    asyncio.run(run())


def test_clients_of_two_snapshots_each_wait_for_one_check_of_theirs():
    async def run():
        herd = Herd("h", UNFILTERED, 40, expected_scopes=300, timeout_s=1)
        verified = _Verified()
        readers = [_SnapshotReader(herd, 0.0, verified, checker=i == 0) for i in range(40)]
        streams = [response([snapshot(300, seq=7 if i % 2 else 8)], True, 4096) for i in range(40)]
        for start in range(0, max(map(len, streams)), 700):  # the clients' reads interleaved, as on one loop
            for reader, raw in zip(readers, streams):
                reader.data_received(raw[start : start + 700])
        assert all(r.done.done() for r in readers) and herd.failures == [] and len(herd.firsts) == 40
        assert sum(r.inflating for r in readers) == 2 and len(verified.prefixes) == 2

    asyncio.run(run())


def test_when_the_check_finds_a_wrong_snapshot_the_waiting_clients_check_their_own():
    async def run():
        herd = Herd("h", UNFILTERED, 2, expected_scopes=300, timeout_s=1)
        verified = _Verified()
        checker = _SnapshotReader(herd, 0.0, verified, checker=True)
        waiting = _SnapshotReader(herd, 0.0, verified, checker=False)
        feed(waiting, response([snapshot(1)], True, 4096), 512)
        assert not waiting.done.done()
        feed(checker, response([snapshot(1)], True, 4096), 512)
        assert verified.prefixes == [] and waiting.done.done() and waiting.inflating
        assert herd.failures == ["snapshot with 1 scopes, expected 300"] * 2

    asyncio.run(run())
