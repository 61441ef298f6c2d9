"""Read-API benchmark: agent-status latency and /metrics scrape time with a large read model.

    .venv/bin/python bench/api.py [--agents 10000] [--queues 1000] [--requests 5000] [--churn 0]

Starts a real uvicorn process (``bench/api.py serve``) whose read model holds ``--agents`` agents and
``--queues`` queues, each as four partition partials like the aggregator publishes (realistic totals, minute
and quarter buckets, le counters), then, from this separate process, measures:

- ``GET /v1/agents/{platform}/{agent}`` latency (p50/p90/p99/max) over random agents, sequential requests;
- the same with a bare agent id (the index lookup);
- ``GET /metrics``: scrape time, body size and series count, and the server's CPU time per warm scrape
  (``/proc/<pid>/stat`` utime + stime around the warm scrapes; with ``--churn`` it includes applying records);
- agent-status latency while scrapes run back to back (the API keeps answering during scrapes).

With ``--churn N`` the server's event loop replaces one partition partial of N random scopes per second (a
new record for each, as a busy aggregator publishes), so warm scrapes also re-render changed scopes.

Prints figures; not a timed test. ``measure(...)`` returns them as a dict, ``run(ctx)`` as bench Figures
(agent-status p99, scrape time, the API's resident memory) for ``bench/run.py``-style callers.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.common import Figure, cpu_seconds, percentile, progress, rss_bytes  # noqa: E402

T0 = 1_795_000_000_000
MINUTE, QUARTER = 60_000, 900_000
PLATFORMS = ("zendesk", "intercom", "freshdesk", "genesys", "twilio")
BOUNDS = (20, 30, 60, 120, 300, 600, 1800, 3600, 14400, 86400)


def _counters(rng: random.Random, scale: int) -> dict[str, int]:
    fr = rng.randint(0, scale)
    out = {"created": rng.randint(fr, fr + scale), "fr_count": fr, "fr_ms": fr * rng.randint(10_000, 900_000),
           "resolved": rng.randint(0, fr), "replies": rng.randint(fr, 3 * fr + 1), "reopened": rng.randint(0, 3),
           "nr_count": fr // 2, "nr_ms": fr * 200_000, "res_count": fr // 2, "res_ms": fr * 3_000_000,
           "answered": fr // 3, "asa_ms": fr * 20_000, "handled": fr // 3, "handle_ms": fr * 100_000,
           "sl_offered": fr // 3, "sl_met": fr // 4, "csat_good": fr // 5, "csat_bad": fr // 9, "rated": fr // 4}
    for prefix, count in (("fr", fr), ("nr", fr // 2), ("res", fr // 2), ("asa", fr // 3)):
        within = 0
        for bound in BOUNDS:
            within = rng.randint(within, count)
            if within:
                out[f"{prefix}le:{bound}"] = within
        for b in range(5):
            out[f"{prefix}h:{300 + b * 7}"] = count // 5 if prefix != "asa" else 0
    return {k: v for k, v in out.items() if v}


def build_model(agents: int, queues: int, partitions: int = 4):
    from services.api.readmodel import ReadModel
    from tests.support.partials import encoded

    rng = random.Random(1)
    model = ReadModel()
    now = T0 + 10 * 3_600_000
    wall = int(time.time() * 1000)

    def bucket():
        fr = rng.randint(0, 3)
        return {"created": fr + 1, "fr_count": fr, "fr_ms": fr * 60_000, "replies": fr, "resolved": fr // 2}

    def put(scope, partition, **kw):
        minutes = {now - now % MINUTE - i * MINUTE: bucket() for i in range(0, 60, 4)}
        quarters = {now - now % QUARTER - i * QUARTER: bucket() for i in range(0, 96, 4)}
        model.apply(*encoded(scope, partition, minutes=minutes, quarters=quarters, stream_ms=now,
                             published_ms=wall, **kw))

    for q in range(queues):
        platform = PLATFORMS[q % len(PLATFORMS)]
        for p in range(partitions):
            put(f"queue/{platform}/queue-{q}", p, totals=_counters(rng, 200),
                live={"open": rng.randint(0, 30), "waiting": rng.randint(0, 5), "sla_running": rng.randint(0, 9),
                      "oldest_waiting_created_ms": now - rng.randint(0, 3_600_000)})
    for a in range(agents):
        platform = PLATFORMS[a % len(PLATFORMS)]
        # an agent's presence lives in one partition; its work figures in every partition
        for p in range(partitions):
            agent = {"state": rng.choice(["available", "busy", "away", "offline"]),
                     "since_ms": now - rng.randint(0, 3_600_000), "raw_state": "x"} if p == 0 else None
            put(f"agent/{platform}/agent-{a}", p, totals=_counters(rng, 20), live={"open": rng.randint(0, 4)},
                agent=agent)
    for platform in PLATFORMS:
        for p in range(partitions):
            put(f"platform/{platform}", p, totals=_counters(rng, 5000),
                live={"agents_available": agents // 20, "agents_busy": agents // 20})
    for p in range(partitions):
        put("all", p, totals=_counters(rng, 20000), live={"open": 900})
    model.caught_up = True
    return model


async def churn(model, per_second: int, interval: float = 0.5) -> None:
    """Replace one partition partial of ``per_second`` random scopes per second, every ``interval`` seconds."""
    import asyncio

    from services.api.consumer import apply_sliced

    rng = random.Random(7)
    scopes = model.all_scopes()
    n = max(1, round(per_second * interval))
    # The records are encoded once, up front (20 intervals' worth, then again in turn): encoding is the
    # aggregator's work, not the API's, whose CPU the benchmarks measure. The API decodes each one as it arrives.
    rounds = []
    for _ in range(20):
        records = []
        for scope in rng.sample(scopes, min(n, len(scopes))):
            partition, old = next(iter(model._partials[scope].items()))
            new = dict(old, totals=dict(old["totals"], created=old["totals"].get("created", 0) + 1))
            records.append((f"{scope}#{partition}".encode(), json.dumps(new).encode()))
        rounds.append(records)
    turn = 0
    while True:
        await asyncio.sleep(interval)
        await apply_sliced(model, rounds[turn % len(rounds)])  # as the API's snapshot consumer applies what it reads
        turn += 1


def _report_long_collections(threshold_s: float = 0.1) -> None:
    """Print every garbage collection that holds the process longer than ``threshold_s`` (to stderr)."""
    import gc

    started = {}

    def callback(phase: str, info: dict) -> None:
        if phase == "start":
            started["t"] = time.perf_counter()
        elif "t" in started and time.perf_counter() - started["t"] > threshold_s:
            print(f"bench api server: generation-{info['generation']} collection took "
                  f"{time.perf_counter() - started['t']:.2f} s ({info['collected']} collected)", file=sys.stderr, flush=True)

    gc.callbacks.append(callback)


def serve(args) -> None:
    import asyncio

    import uvicorn

    from services.api.app import create_app
    from services.common.settings import Settings

    _report_long_collections()
    started = time.monotonic()
    model = build_model(args.agents, args.queues)
    print(f"read model: {model.scope_count} scopes built in {time.monotonic() - started:.1f} s", flush=True)
    config = uvicorn.Config(create_app(Settings(), read_model=model, consume=False), host="127.0.0.1",
                            port=args.port, log_level="warning", access_log=False)
    server = uvicorn.Server(config)

    async def main() -> None:
        task = asyncio.create_task(churn(model, args.churn)) if args.churn else None
        await server.serve()
        if task is not None:
            task.cancel()

    # The event loop `deskpulse api` runs on (uvicorn's choice: uvloop when installed, as with uvicorn[standard]).
    with asyncio.Runner(loop_factory=config.get_loop_factory()) as runner:
        runner.run(main())


def percentiles(samples: list[float]) -> str:
    s = sorted(samples)
    q = statistics.quantiles(s, n=100)
    return (f"p50 {q[49] * 1000:.2f} ms, p90 {q[89] * 1000:.2f} ms, p99 {q[98] * 1000:.2f} ms, "
            f"max {s[-1] * 1000:.2f} ms (n={len(s)})")


def status_latencies(url: str, agents: int, n: int, bare: bool = False, seed: int = 2) -> list[float]:
    """Sequential requests over one keep-alive connection (``http.client``: the lightest Python client, so the
    figures are mostly the server's)."""
    import http.client
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        a = rng.randrange(agents)
        path = f"agent-{a}" if bare else f"{PLATFORMS[a % len(PLATFORMS)]}/agent-{a}"
        t = time.perf_counter()
        connection.request("GET", f"/v1/agents/{path}")
        response = connection.getresponse()
        body = response.read()
        out.append(time.perf_counter() - t)
        assert response.status == 200, body[:300]
    connection.close()
    return out


def start_server(agents: int, queues: int, churn: int = 0, port: int = 0) -> tuple[subprocess.Popen, str]:
    """The API in a process of its own (``serve``) with the synthetic read model; returns it once ready."""
    import httpx

    from services.common.localkafka import free_port

    port = port or free_port()
    server = subprocess.Popen([sys.executable, __file__, "serve", "--agents", str(agents), "--queues",
                               str(queues), "--port", str(port), "--churn", str(churn)], cwd=REPO)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 600
    with httpx.Client(timeout=30) as client:
        while True:
            try:
                if client.get(f"{url}/readyz").status_code == 200:
                    return server, url
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                server.kill()
                raise RuntimeError("API bench server did not start")
            time.sleep(0.5)


def measure(agents: int = 10_000, queues: int = 1_000, requests: int = 5_000, scrapes: int = 10, port: int = 0,
            say=print, churn: int = 0) -> dict:
    """Starts the API server process with the synthetic read model, measures from this process and returns the
    figures (latencies in seconds, scrape times in seconds, sizes in bytes, the server's RSS)."""
    import httpx

    server, url = start_server(agents, queues, churn, port)
    out: dict = {"agents": agents, "queues": queues, "partitions": 4, "churn_per_s": churn}
    try:
        with httpx.Client(timeout=30) as client:
            say(f"server up with {agents} agents, {queues} queues (4 partitions each); cpu count {os.cpu_count()}")
            status_latencies(url, agents, 300, seed=1)  # warm-up
            status = status_latencies(url, agents, requests)
            say(f"agent status, GET /v1/agents/<platform>/<agent>: {percentiles(status)}")
            bare = status_latencies(url, agents, requests // 5, bare=True)
            say(f"agent status, bare id GET /v1/agents/<agent>:   {percentiles(bare)}")
            out.update(status_p50_s=percentile(status, 50), status_p90_s=percentile(status, 90),
                       status_p99_s=percentile(status, 99), status_max_s=max(status), status_n=len(status),
                       bare_p99_s=percentile(bare, 99))

            say(f"load average while measuring: {os.getloadavg()[0]:.1f}")
            times, cpu, size, series = [], [], 0, 0
            for _ in range(scrapes):
                c = cpu_seconds(server.pid)
                t = time.perf_counter()
                response = client.get(f"{url}/metrics")
                times.append(time.perf_counter() - t)
                cpu.append(cpu_seconds(server.pid) - c)
                size = len(response.content)
                series = sum(1 for line in response.text.splitlines() if line and not line.startswith("#"))
            say(f"GET /metrics (first scrape cold: merges every scope in the render thread): "
                f"{times[0] * 1000:.0f} ms")
            cold, times, cpu = times[0], times[1:] or times, cpu[1:] or cpu
            say(f"GET /metrics warm: median {statistics.median(times) * 1000:.0f} ms, min {min(times) * 1000:.0f} ms, "
                f"max {max(times) * 1000:.0f} ms over {len(times)} scrapes; {size / 1e6:.1f} MB, {series} series; "
                f"API CPU per warm scrape: median {statistics.median(cpu) * 1000:.0f} ms (clock ticks of 10 ms)")
            out.update(scrape_cold_s=cold, scrape_median_s=statistics.median(times), scrape_max_s=max(times),
                       scrape_n=len(times), scrape_bytes=size, series=series, scrape_cpu_median_s=statistics.median(cpu))

            # The API keeps answering while scrapes run back to back in another thread (its own connection).
            stop = threading.Event()

            def scraper():
                with httpx.Client(timeout=30) as scrape_client:
                    while not stop.is_set():
                        scrape_client.get(f"{url}/metrics")

            thread = threading.Thread(target=scraper)
            thread.start()
            time.sleep(0.2)
            during = status_latencies(url, agents, requests // 5, seed=3)
            stop.set()
            thread.join()
            say(f"agent status during back-to-back scrapes:       {percentiles(during)}")
            out.update(during_scrapes_p99_s=percentile(during, 99), rss_bytes=rss_bytes(server.pid))
    finally:
        server.terminate()
        server.wait(30)
    return out


def run(ctx) -> list:
    """Figures for the runner: agent-status p99, scrape time and the API's resident memory at 10,000 agents and
    1,000 queues (a read model only: no broker needed)."""

    agents, queues = (2_000, 200) if ctx.quick else (10_000, 1_000)
    m = measure(agents, queues, requests=1_000 if ctx.quick else 5_000, scrapes=5 if ctx.quick else 10,
                say=lambda text: progress(f"api: {text}"))
    sizes = f"{agents:,} agents, {queues:,} queues, 4 partition partials each"
    return [
        Figure(name="agent-status p99", value=m["status_p99_s"] * 1000, unit="ms", goal="≤ 10 ms",
               met=m["status_p99_s"] <= 0.010,
               detail=(f"GET /v1/agents/<platform>/<agent>, {m['status_n']:,} sequential keep-alive requests over random "
                       f"agents from a separate process; {sizes}; p50 {m['status_p50_s'] * 1000:.2f} ms, max "
                       f"{m['status_max_s'] * 1000:.1f} ms; p99 during back-to-back scrapes "
                       f"{m['during_scrapes_p99_s'] * 1000:.2f} ms")),
        Figure(name="scrape time", value=m["scrape_max_s"] * 1000, unit="ms", goal="≤ 250 ms",
               met=m["scrape_max_s"] <= 0.250,
               detail=(f"GET /metrics, slowest of {m['scrape_n']} warm scrapes (median {m['scrape_median_s'] * 1000:.0f} ms, "
                       f"first cold {m['scrape_cold_s'] * 1000:.0f} ms); {m['scrape_bytes'] / 1e6:.1f} MB, "
                       f"{m['series']:,} series; {sizes}")),
        Figure(name="API resident memory", value=m["rss_bytes"] / 2**20, unit="MiB", goal="(recorded)", met=None,
               detail=f"VmRSS of the API process after the measurements; {sizes}"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", nargs="?", default="bench", choices=["bench", "serve"])
    parser.add_argument("--agents", type=int, default=10_000)
    parser.add_argument("--queues", type=int, default=1_000)
    parser.add_argument("--requests", type=int, default=5_000)
    parser.add_argument("--scrapes", type=int, default=10)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--churn", type=int, default=0, help="scopes whose partial the server replaces per second")
    args = parser.parse_args()
    if args.mode == "serve":
        serve(args)
        return
    figures = measure(args.agents, args.queues, args.requests, args.scrapes, args.port, churn=args.churn)
    print(json.dumps({k: round(v, 6) if isinstance(v, float) else v for k, v in figures.items()}))


if __name__ == "__main__":
    main()
