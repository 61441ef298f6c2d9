"""Live-stream herd benchmark: a floor of wallboards connecting to ``/v1/stream`` at the same moment.

    .venv/bin/python bench/stream.py [--agents 10000] [--queues 1000] [--herds 50,200,500] [--unfiltered 200]

Starts the API in a process of its own (``bench/api.py serve``: a read model of ``--agents`` agents and
``--queues`` queues, four partition partials each, ``--churn`` scopes changing per second as a busy aggregator
publishes), then for each herd opens that many SSE connections at once from this process (raw asyncio sockets,
the lightest client, so the figures are mostly the server's):

- the wallboard page's subscription (``scope=all&scope=queue/``, window 15m) for each size of ``--herds``;
- ``--unfiltered`` clients of the README's unfiltered ``/v1/stream``;

and reports when each client had its whole first snapshot (p50, max, how many within the goal), the latency of
an integration polling one agent's status every 50 ms during the herd (p99, max), one ``/metrics`` scrape
during the herd, and the API's resident memory with the clients still attached and reading. Every client's
snapshot is checked to hold every scope it subscribed to. Prints figures; not a timed test.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import multiprocessing
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

from bench.api import PLATFORMS, cpu_seconds, start_server  # noqa: E402
from bench.common import Figure, percentile, progress, rss_bytes  # noqa: E402

WALLBOARD = "/v1/stream?scope=all&scope=queue/&window=15m"
UNFILTERED = "/v1/stream"


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
    client_cpu_s: float = 0.0  # this process's (the clients') CPU time meanwhile


async def _client(host: str, port: int, herd: Herd, started: float, release: asyncio.Event) -> None:
    writer = None
    try:
        reader, writer = await asyncio.open_connection(host, port, limit=1 << 22)
        encoding = "Accept-Encoding: gzip, deflate\r\n" if herd.gzip else ""
        writer.write(f"GET {herd.path} HTTP/1.1\r\nHost: {host}\r\nAccept: text/event-stream\r\n{encoding}\r\n".encode())
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        if b" 200 " not in head.split(b"\r\n", 1)[0]:
            herd.failures.append(head.split(b"\r\n", 1)[0].decode())
            return
        compressed = b"content-encoding: gzip" in head.lower()
        if compressed != herd.gzip:
            herd.failures.append(f"asked for gzip: {herd.gzip}, got it: {compressed}")
            return
        decompressor = zlib.decompressobj(31) if compressed else None
        body = bytearray()
        seen = 0
        while True:  # chunked transfer encoding, up to the end of the first event
            size = int((await reader.readuntil(b"\r\n"))[:-2], 16)
            chunk = (await reader.readexactly(size + 2))[:-2]
            body += decompressor.decompress(chunk) if decompressor is not None else chunk
            end = body.find(b"\n\n", max(0, seen - 1))
            seen = len(body)
            if end >= 0:
                break
        herd.firsts.append(time.perf_counter() - started)
        snapshot = bytes(body[:end])
        scopes = snapshot.count(b'{"scope":')
        if not snapshot.startswith(b"id: ") or b"event: snapshot" not in snapshot[:64] or scopes != herd.expected_scopes:
            herd.failures.append(f"snapshot with {scopes} scopes, expected {herd.expected_scopes}")
        while not release.is_set():  # stay attached, reading updates, until the herd is measured
            try:
                await asyncio.wait_for(reader.read(1 << 20), 0.5)
            except TimeoutError:
                pass
    except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
        herd.failures.append(repr(exc)[:200])
    finally:
        if writer is not None:
            writer.close()


def _observe(url: str, agents: int, scrape_after_s: float, stop, results) -> None:
    """In a process of its own (a thread would wait for this process's GIL, not for the server): an integration
    polling one agent's status every 50 ms over one keep-alive connection, and one ``/metrics`` scrape
    ``scrape_after_s`` in, on another connection. Puts (status latencies, scrape seconds) on ``results``."""
    parts = urlsplit(url)
    scrape: list[float] = []

    def scraper() -> None:
        time.sleep(scrape_after_s)
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
        t = time.perf_counter()
        connection.request("GET", "/metrics")
        connection.getresponse().read()
        scrape.append(time.perf_counter() - t)
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


async def _run_herd(url: str, server_pid: int, agents: int, herd: Herd) -> Herd:
    parts = urlsplit(url)
    release = asyncio.Event()
    context = multiprocessing.get_context("spawn")
    stop, results = context.Event(), context.Queue()
    observer = context.Process(target=_observe, args=(url, agents, 0.5, stop, results))
    observer.start()
    await asyncio.sleep(1.0)  # the observer's interpreter is up and polling (20 polls a second)
    server_cpu, client_cpu = cpu_seconds(server_pid), time.process_time()
    started = time.perf_counter()
    tasks = [asyncio.create_task(_client(parts.hostname, parts.port, herd, started, release))
             for _ in range(herd.clients)]
    deadline = started + herd.timeout_s
    while len(herd.firsts) + len(herd.failures) < herd.clients and time.perf_counter() < deadline:
        await asyncio.sleep(0.05)
    herd.elapsed_s = time.perf_counter() - started
    herd.server_cpu_s = cpu_seconds(server_pid) - server_cpu
    herd.client_cpu_s = time.process_time() - client_cpu
    stop.set()
    status, herd.scrape_s = await asyncio.to_thread(results.get, True, 180)
    herd.status = status[-max(1, round((time.perf_counter() - started) / 0.05)):]  # the polls during the herd
    await asyncio.to_thread(observer.join, 30)
    herd.rss = rss_bytes(server_pid)  # every client still attached and reading
    release.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    await asyncio.sleep(1.0)  # the server notices the disconnections
    return herd


def measure(agents: int, queues: int, herds: list[int], unfiltered: int, churn: int, say=print,
            gzip: bool = True) -> list[Herd]:
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
            asyncio.run(_run_herd(url, server.pid, agents, herd))
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
                              unit="ms", goal="≤ 500 ms", met=herd.scrape_s <= 0.5, detail="one warm scrape 0.5 s in"))
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
    result = measure(agents, queues, herds, unfiltered, churn=200, say=lambda text: progress(f"stream: {text}"))
    return figures(result, f"{agents:,} agents, {queues:,} queues, 4 partition partials each, 200 scopes changing/s")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--agents", type=int, default=10_000)
    parser.add_argument("--queues", type=int, default=1_000)
    parser.add_argument("--herds", default="50,200,500", help="wallboard-page clients per herd, comma-separated")
    parser.add_argument("--unfiltered", type=int, default=200, help="unfiltered clients in the last herd (0: none)")
    parser.add_argument("--churn", type=int, default=200, help="scopes whose partial changes per second")
    parser.add_argument("--identity", action="store_true",
                        help="clients do not ask for gzip (as curl without --compressed); default: they do, as browsers")
    args = parser.parse_args()
    herds = measure(args.agents, args.queues, [int(n) for n in args.herds.split(",") if n], args.unfiltered,
                    args.churn, gzip=not args.identity)
    print(json.dumps([{"herd": h.label, "served": len(h.firsts), "clients": h.clients, "failures": len(h.failures),
                       "first_p50_s": round(percentile(h.firsts, 50), 3) if h.firsts else None,
                       "first_max_s": round(max(h.firsts), 3) if h.firsts else None,
                       "status_p99_ms": round(percentile(h.status, 99) * 1000, 1) if h.status else None,
                       "scrape_ms": round(h.scrape_s * 1000) if h.scrape_s is not None else None,
                       "rss_mib": round(h.rss / 2**20)} for h in herds], indent=1))


if __name__ == "__main__":
    main()
