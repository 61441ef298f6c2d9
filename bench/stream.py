"""Live-stream herd benchmark: a floor of wallboards connecting to ``/v1/stream`` at the same moment.

    .venv/bin/python bench/stream.py [--agents 10000] [--queues 1000] [--herds 50,200,500] [--unfiltered 200]
                                     [--processes 2]

Starts the API in a process of its own (``bench/api.py serve``: a read model of ``--agents`` agents and
``--queues`` queues, four partition partials each, ``--churn`` scopes changing per second as a busy aggregator
publishes), then for each herd opens that many SSE connections at the same instant from ``--processes`` client
processes (default: one per core; raw asyncio protocols that decompress and scan each piece as it arrives and
keep nothing, the lightest client that still reads every byte, so the figures are mostly the server's):

- the wallboard page's subscription (``scope=all&scope=queue/``, window 15m) for each size of ``--herds``;
- ``--unfiltered`` clients of the README's unfiltered ``/v1/stream``;

and reports when each client had its whole first snapshot (p50, max, how many within the goal), the latency of
an integration polling one agent's status every 50 ms during the herd (p99, max), one ``/metrics`` scrape
during the herd (as the deployed Prometheus scrapes: every 5 s, asking for gzip), and the API's resident memory
with the clients still attached and reading. Every client's snapshot is checked to hold every scope it
subscribed to. Prints figures; not a timed test.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import http.client
import json
import multiprocessing
import os
import random
import sys
import threading
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import urlopen

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.api import PLATFORMS, start_server  # noqa: E402
from bench.common import Figure, cpu_seconds, percentile, progress, rss_bytes  # noqa: E402

WALLBOARD = "/v1/stream?scope=all&scope=queue/&window=15m"
UNFILTERED = "/v1/stream"
SCRAPE_INTERVAL_S = 5.0  # deploy/prometheus/prometheus.yml's scrape_interval


@dataclass
class Herd:
    label: str
    path: str
    clients: int
    expected_scopes: int
    timeout_s: float
    gzip: bool = True  # ask for a compressed stream, as browsers' EventSource do
    firsts: list[float] = field(default_factory=list)  # seconds from the herd's start to each whole snapshot
    failures: list[str] = field(default_factory=list)
    status: list[float] = field(default_factory=list)  # agent-status latencies during the herd
    scrape_s: float | None = None
    rss: int = 0
    elapsed_s: float = 0.0  # from the herd's start until every client had its snapshot (or gave up)
    server_cpu_s: float = 0.0  # the API process's CPU time meanwhile
    client_cpu_s: float = 0.0  # the client processes' CPU time meanwhile


class _Verified:
    """The compressed bytes of the snapshots clients of this process decompressed and checked, shared with the
    others: a client whose stream starts with exactly the bytes of a checked snapshot has that same snapshot (equal
    input to the same decompressor gives equal output), so it compares bytes instead of decompressing and scanning
    them all again. A client whose bytes match no checked snapshot and no check under way (a snapshot built again
    meanwhile) decompresses and checks its own, and the clients with its bytes wait for that check."""

    def __init__(self) -> None:
        self.prefixes: list[bytes] = []  # checked: the stream's first bytes, through the end of the snapshot
        self.checking: set[_SnapshotReader] = set()  # clients decompressing and checking theirs
        self.waiting: set[_SnapshotReader] = set()

    def finished(self, checker: _SnapshotReader, prefix: bytes | None) -> None:
        """``checker``'s check is over: ``prefix`` the bytes of its snapshot, checked, or None (it was wrong)."""
        self.checking.discard(checker)
        if prefix is not None:
            self.prefixes.append(prefix)
        waiting, self.waiting = self.waiting, set()
        for reader in waiting:
            reader.compare()


class _SnapshotReader(asyncio.Protocol):
    """One client: reads the response head, then the chunked body as it arrives, and has its first snapshot once
    either it decompressed it and found the end of the event and every scope in it (the ``checker`` of its process,
    or any client whose bytes differ from the checked ones), or its bytes equal those of a snapshot checked so. It
    keeps nothing else: a browser parses the JSON on its own machine, while here hundreds of clients share the
    API's two cores, and the lighter each client, the more the figures are the server's."""

    SCOPE = b'{"scope":'

    def __init__(self, herd: Herd, started: float, verified: _Verified, checker: bool) -> None:
        self.herd, self.started, self.verified = herd, started, verified
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.buffer = bytearray()  # framing not yet parsed (the head, a chunk-size line)
        self.remaining = -2  # bytes of the current chunk and its CRLF still to come; -2: the head, -1: a size line
        self.decompressor = None
        self.inflating = False  # decompressing and scanning (else: holding bytes to compare)
        self.held = bytearray()  # the body's bytes so far, until the snapshot is had
        self.like: bytes | _SnapshotReader | None = None  # a checked snapshot's bytes, or a checker, it matches
        self.compared = 0  # how many of its bytes equal those
        self.tail = b""  # the last bytes of the decompressed body so far, for a match across two pieces
        self.start = b""  # its first bytes, to check the event's kind
        self.scopes = 0
        if checker:
            self._check()

    def data_received(self, data: bytes) -> None:
        if self.done.done():
            return  # attached and reading updates, as a wallboard stays
        self.buffer += data
        while self.buffer and not self.done.done():
            if self.remaining == -2:
                end = self.buffer.find(b"\r\n\r\n")
                if end < 0:
                    return
                head = bytes(self.buffer[:end]).lower()
                del self.buffer[: end + 4]
                status = head.split(b"\r\n", 1)[0]
                if b" 200 " not in status:
                    return self._fail(status.decode())
                compressed = b"content-encoding: gzip" in head
                if compressed != self.herd.gzip:
                    return self._fail(f"asked for gzip: {self.herd.gzip}, got it: {compressed}")
                self.decompressor = zlib.decompressobj(31) if compressed else None
                self.remaining = -1
            elif self.remaining == -1:
                end = self.buffer.find(b"\r\n")
                if end < 0:
                    return
                self.remaining = int(self.buffer[:end], 16) + 2  # the chunk and its CRLF
                del self.buffer[: end + 2]
            else:
                before = self.remaining
                piece = self.buffer[:before]
                del self.buffer[: len(piece)]
                self.remaining = before - len(piece) or -1
                body = bytes(piece[: max(0, before - 2)])  # without the CRLF after the chunk
                if body:
                    self._body(body)

    def _body(self, body: bytes) -> None:
        self.held += body
        if self.inflating:
            self._scan(self._inflate(body))
        else:
            self.compare()

    def _inflate(self, body: bytes) -> bytes:
        return self.decompressor.decompress(body) if self.decompressor is not None else body

    def compare(self) -> None:
        """Had once every byte of a checked snapshot is here and equal; waits while its bytes so far equal those of
        a checked snapshot or of a check under way; otherwise decompresses and checks everything held itself."""
        if self.done.done() or self.inflating:
            return
        if self.like is not None and (isinstance(self.like, bytes) or self.like in self.verified.checking):
            candidates: list = [self.like]
        else:  # not compared yet, or the check it waited for is over: its snapshot is among the checked, or wrong
            candidates = [*self.verified.prefixes, *self.verified.checking]
            self.like = None
        for like in candidates:
            if self.like is not like:
                self.like, self.compared = like, 0
            if self._same(like if isinstance(like, bytes) else like.held):
                if not isinstance(like, bytes):
                    self.verified.waiting.add(self)
                elif self.compared == len(like):
                    self.herd.firsts.append(time.perf_counter() - self.started)
                    self._had()
                return  # the rest is on its way
        self._check()

    def _same(self, other: bytes | bytearray) -> bool:
        """Whether the bytes held so far equal ``other``'s so far, comparing only what was not compared yet."""
        n = min(len(self.held), len(other))
        if self.held[self.compared : n] != other[self.compared : n]:
            return False
        self.compared = n
        return True

    def _check(self) -> None:
        self.inflating = True
        self.verified.checking.add(self)
        if self.held:
            self._scan(self._inflate(bytes(self.held)))

    def _had(self) -> None:
        self.done.set_result(None)
        self.decompressor, self.held = None, bytearray()  # what an attached client reads next is dropped

    def _scan(self, out: bytes) -> None:
        if len(self.start) < 64:
            self.start += out[: 64 - len(self.start)]
        pattern = self.SCOPE
        boundary = self.tail + out[: len(pattern) - 1]
        if self.tail.endswith(b"\n") and out.startswith(b"\n"):
            end = 0
        else:
            end = out.find(b"\n\n")
            end = end + 1 if end >= 0 else -1  # the count stops before the event's last line break
        if end < 0:
            self.scopes += boundary.count(pattern) + out.count(pattern)
            self.tail = (self.tail + out)[-(len(pattern) - 1) :]
            return
        self.scopes += boundary.count(pattern) + out.count(pattern, 0, end)
        self.herd.firsts.append(time.perf_counter() - self.started)
        wrong = None
        if not self.start.startswith(b"id: ") or b"event: snapshot" not in self.start:
            wrong = f"the first event is not a snapshot: {self.start[:64]!r}"
        elif self.scopes != self.herd.expected_scopes:
            wrong = f"snapshot with {self.scopes} scopes, expected {self.herd.expected_scopes}"
        if wrong is not None:
            self.herd.failures.append(wrong)
        prefix = bytes(self.held) if wrong is None else None
        self._had()
        self.verified.finished(self, prefix)

    def _fail(self, why: str) -> None:
        self.herd.failures.append(why[:200])
        self.done.set_result(None)
        self.verified.finished(self, None)

    def connection_lost(self, exc: Exception | None) -> None:
        self.verified.waiting.discard(self)
        if not self.done.done():
            self._fail(f"connection lost before the snapshot: {exc!r}")


async def _client(host: str, port: int, herd: Herd, started: float, release, verified: _Verified,
                  checker: bool) -> None:
    transport = None
    try:
        loop = asyncio.get_running_loop()
        transport, reader = await loop.create_connection(
            lambda: _SnapshotReader(herd, started, verified, checker), host, port)
        encoding = "Accept-Encoding: gzip, deflate\r\n" if herd.gzip else ""
        transport.write(f"GET {herd.path} HTTP/1.1\r\nHost: {host}\r\nAccept: text/event-stream\r\n{encoding}\r\n".encode())
        await reader.done
        await release()  # stay attached, reading updates, until the herd is measured
    except OSError as exc:
        herd.failures.append(repr(exc)[:200])
    finally:
        if transport is not None:
            transport.close()


def _clients(host: str, port: int, herd: Herd, count: int, started: float, results, release) -> None:
    """In a process of its own: ``count`` of the herd's clients, connecting at ``started`` (``time.perf_counter``,
    the same clock in every process). Puts (seconds to each snapshot, failures, this process's CPU until the last
    had it) on ``results``, then stays attached until ``release`` is set."""

    async def main() -> None:
        await asyncio.sleep(max(0.0, started - time.perf_counter()))
        cpu = time.process_time()
        done = asyncio.Event()
        verified = _Verified()
        tasks = [asyncio.create_task(_client(host, port, herd, started, done.wait, verified, checker=i == 0))
                 for i in range(count)]
        deadline = started + herd.timeout_s
        while len(herd.firsts) + len(herd.failures) < count and time.perf_counter() < deadline:
            await asyncio.sleep(0.05)
        results.put((herd.firsts, herd.failures, time.process_time() - cpu))
        await asyncio.to_thread(release.wait, herd.timeout_s + 300)
        done.set()
        await asyncio.gather(*tasks, return_exceptions=True)

    asyncio.run(main())


def _observe(url: str, agents: int, scrape_at: float, stop, results) -> None:
    """In a process of its own (a thread would wait for this process's GIL, not for the server): an integration
    polling one agent's status every 50 ms over one keep-alive connection, and ``/metrics`` scraped on another
    at ``scrape_at`` (``time.perf_counter()``, the same clock in every process here) and ``SCRAPE_INTERVAL_S``
    before. Puts (status latencies, the scrape at ``scrape_at`` in seconds) on ``results``."""
    parts = urlsplit(url)
    scrape: list[float] = []

    def scraper() -> None:
        # As the deployed Prometheus: every SCRAPE_INTERVAL_S, asking for gzip. The scrape before the herd only
        # sets what the herd's scrape finds changed since; that one is reported.
        due = scrape_at - SCRAPE_INTERVAL_S
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
        for _ in range(2):
            time.sleep(max(0.0, due - time.perf_counter()))
            t = time.perf_counter()
            connection.request("GET", "/metrics", headers={"Accept-Encoding": "gzip"})
            response = connection.getresponse()
            body = response.read()
            took = time.perf_counter() - t
            if response.getheader("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            assert body.startswith(b"# HELP deskpulse_"), body[:200]
            due += SCRAPE_INTERVAL_S
        scrape.append(took)
        connection.close()

    thread = threading.Thread(target=scraper)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    a = random.Random(5).randrange(agents)
    path = f"/v1/agents/{PLATFORMS[a % len(PLATFORMS)]}/agent-{a}"
    out = []
    thread.start()
    while not stop.is_set():
        t = time.perf_counter()
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        out.append(time.perf_counter() - t)
        stop.wait(max(0.0, 0.05 - (time.perf_counter() - t)))
    connection.close()
    thread.join()
    results.put((out, scrape[0] if scrape else None))


def _run_herd(url: str, server_pid: int, agents: int, herd: Herd, processes: int) -> Herd:
    """The herd's clients split over ``processes`` processes (one process can use one core: on two cores, one
    process of clients would be the slowest part of the measurement), all connecting at the same instant."""
    parts = urlsplit(url)
    context = multiprocessing.get_context("spawn")
    stop, results, release = context.Event(), context.Queue(), context.Event()
    # every process's interpreter is up by then, the observer polling, and its scrape before the herd done
    started = time.perf_counter() + SCRAPE_INTERVAL_S + 0.5
    observer = context.Process(target=_observe, args=(url, agents, started + 0.5, stop, results))
    observer.start()
    shares = [herd.clients // processes + (1 if i < herd.clients % processes else 0) for i in range(processes)]
    found = context.Queue()
    workers = [context.Process(target=_clients, args=(parts.hostname, parts.port, herd, n, started, found, release))
               for n in shares if n]
    for worker in workers:
        worker.start()
    time.sleep(max(0.0, started - time.perf_counter()))
    server_cpu = cpu_seconds(server_pid)
    for _ in workers:
        firsts, failures, cpu = found.get(True, herd.timeout_s + 60)
        herd.firsts += firsts
        herd.failures += failures
        herd.client_cpu_s += cpu
    herd.elapsed_s = time.perf_counter() - started
    herd.server_cpu_s = cpu_seconds(server_pid) - server_cpu
    stop.set()
    status, herd.scrape_s = results.get(True, 180)
    herd.status = status[-max(1, round((time.perf_counter() - started) / 0.05)):]  # the polls during the herd
    observer.join(30)
    herd.rss = rss_bytes(server_pid)  # every client still attached and reading
    release.set()
    for worker in workers:
        worker.join(60)
    time.sleep(1.0)  # the server notices the disconnections
    return herd


def measure(agents: int, queues: int, herds: list[int], unfiltered: int, churn: int, say=print,
            gzip: bool = True, processes: int = 2) -> list[Herd]:
    server, url = start_server(agents, queues, churn)
    scopes = queues + agents + len(PLATFORMS) + 1
    out = []
    try:
        say(f"API up: {agents:,} agents, {queues:,} queues ({scopes:,} scopes), {churn} scopes changing per second; "
            f"resident {rss_bytes(server.pid) / 2**20:.0f} MiB before any client")
        with urlopen(f"{url}/metrics", timeout=300) as response:  # the first scrape merges every scope: not the herd's
            response.read()
        plain = "" if gzip else " (uncompressed)"
        plan = [Herd(f"{n} wallboard-page clients{plain}", WALLBOARD, n, queues + 1, 300, gzip) for n in herds]
        if unfiltered:
            plan.append(Herd(f"{unfiltered} unfiltered clients{plain}", UNFILTERED, unfiltered, scopes, 300, gzip))
        for herd in plan:
            _run_herd(url, server.pid, agents, herd, processes)
            say(describe(herd))
            out.append(herd)
    finally:
        server.terminate()
        server.wait(30)
    return out


def describe(herd: Herd) -> str:
    firsts = sorted(herd.firsts)
    text = (f"{herd.label}: {len(firsts)} of {herd.clients} had their first snapshot"
            + (f", p50 {percentile(firsts, 50):.2f} s, max {firsts[-1]:.2f} s" if firsts else ""))
    if herd.status:
        text += (f"; agent status every 50 ms during the herd: p99 {percentile(herd.status, 99) * 1000:.1f} ms, "
                 f"max {max(herd.status) * 1000:.1f} ms (n={len(herd.status)})")
    if herd.scrape_s is not None:
        text += f"; /metrics scrape {herd.scrape_s * 1000:.0f} ms"
    text += f"; API resident {herd.rss / 2**20:.0f} MiB with the clients attached"
    text += (f"; CPU while it lasted ({herd.elapsed_s:.1f} s): API {herd.server_cpu_s:.1f} s, the clients "
             f"{herd.client_cpu_s:.1f} s")
    if herd.failures:
        text += f"; {len(herd.failures)} failed, e.g. {herd.failures[0]}"
    return text


def figures(herds: list[Herd], sizes: str) -> list[Figure]:
    out = []
    for herd in herds:
        goal_s = 10.0 if herd.path == UNFILTERED else 5.0
        served = sum(1 for t in herd.firsts if t <= goal_s)
        worst = max(herd.firsts) if herd.firsts else float("inf")
        out.append(Figure(
            name=f"stream: {herd.label} connect at once, slowest first snapshot", value=worst, unit="s",
            goal=f"all within {goal_s:.0f} s", met=served == herd.clients and not herd.failures,
            detail=(f"{served} of {herd.clients} within {goal_s:.0f} s; p50 "
                    f"{percentile(herd.firsts, 50) if herd.firsts else float('nan'):.2f} s; {len(herd.failures)} "
                    f"failed; {sizes}")))
        if herd.status:
            p99 = percentile(herd.status, 99)
            out.append(Figure(name=f"stream: agent status p99 during {herd.label}", value=p99 * 1000, unit="ms",
                              goal="≤ 50 ms", met=p99 <= 0.050,
                              detail=f"one agent polled every 50 ms, n={len(herd.status)}, max "
                                     f"{max(herd.status) * 1000:.1f} ms"))
        if herd.scrape_s is not None:
            out.append(Figure(name=f"stream: /metrics scrape during {herd.label}", value=herd.scrape_s * 1000,
                              unit="ms", goal="≤ 500 ms", met=herd.scrape_s <= 0.5,
                              detail="a scrape 0.5 s in, 5 s after the one before (gzip)"))
    largest = max((h for h in herds if h.path == WALLBOARD), key=lambda h: h.clients, default=None)
    if largest is not None:
        out.append(Figure(name=f"stream: API resident memory, {largest.label} attached", value=largest.rss / 2**20,
                          unit="MiB", goal="(recorded)", met=None, detail=sizes))
    return out


def run(ctx) -> list[Figure]:
    """Figures for ``bench/run.py``: the issue's sizes (10,000 agents, 1,000 queues; 50/200/500 wallboard
    clients, 200 unfiltered), or a quarter of them with ``--quick``."""
    agents, queues, herds, unfiltered = ((2_500, 250, [50, 200], 50) if ctx.quick
                                         else (10_000, 1_000, [50, 200, 500], 200))
    result = measure(agents, queues, herds, unfiltered, churn=200, say=lambda text: progress(f"stream: {text}"),
                     processes=os.cpu_count() or 1)
    return figures(result, f"{agents:,} agents, {queues:,} queues, 4 partition partials each, 200 scopes changing/s")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--agents", type=int, default=10_000)
    parser.add_argument("--queues", type=int, default=1_000)
    parser.add_argument("--herds", default="50,200,500", help="wallboard-page clients per herd, comma-separated")
    parser.add_argument("--unfiltered", type=int, default=200, help="unfiltered clients in the last herd (0: none)")
    parser.add_argument("--churn", type=int, default=200, help="scopes whose partial changes per second")
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 1,
                        help="client processes the herd is split over (default: one per core)")
    parser.add_argument("--identity", action="store_true",
                        help="clients do not ask for gzip (as curl without --compressed); default: they do, as browsers")
    args = parser.parse_args()
    herds = measure(args.agents, args.queues, [int(n) for n in args.herds.split(",") if n], args.unfiltered,
                    args.churn, gzip=not args.identity, processes=args.processes)
    print(json.dumps([{"herd": h.label, "served": len(h.firsts), "clients": h.clients, "failures": len(h.failures),
                       "first_p50_s": round(percentile(h.firsts, 50), 3) if h.firsts else None,
                       "first_max_s": round(max(h.firsts), 3) if h.firsts else None,
                       "status_p99_ms": round(percentile(h.status, 99) * 1000, 1) if h.status else None,
                       "scrape_ms": round(h.scrape_s * 1000) if h.scrape_s is not None else None,
                       "rss_mib": round(h.rss / 2**20)} for h in herds], indent=1))


if __name__ == "__main__":
    main()
