"""Scale: 10,000 agents, 1,000 queues, 200,000 open contacts through the real aggregator, then the API's
/metrics scrape time, agent-status latency and every process's resident memory.

    .venv/bin/python bench/scale.py [--quick] [--agents 10000] [--queues 1000] [--contacts 200000]

Real processes on one broker (ingest, one aggregator worker, API; default settings, 4 partitions). The state
is built by the aggregator from canonical events, not synthesised partials:

- one ``contact.created`` per open contact (status new, email or chat, spread over the last 24 h, in one of
  the queues), and a ``contact.assigned`` to an agent of the queue's platform for 30 % of them — written
  straight to the events topic, keyed as ingest keys them (faster than webhooks; ingest's own throughput is
  bench/ingest.py's figure);
- one ``agent.state_changed`` per agent, posted to ingest as canonical webhooks (100 events per POST), so
  ingest has done some work when its memory is read.

Once the aggregator counted every event and the API serves all open contacts, from this process: ``GET
/metrics`` (one cold scrape, then the median of warm ones: time, body size, series), ``GET
/v1/agents/<platform>/<agent>`` over random agents on one keep-alive connection (p50/p99/max), again while
another connection scrapes /metrics back to back, and VmRSS/VmHWM of the three processes from /proc.
"""

from __future__ import annotations

import argparse
import http.client
import os
import random
import statistics
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import httpx  # noqa: E402

from bench._stack import MiB, Profile, Stack, mib, produce, wait_counted  # noqa: E402
from bench.common import (BenchContext, Figure, context_for_cli, cpu_seconds, percentile, print_figures,  # noqa: E402
                          progress, summary_ms)
from services.common.events import SCHEMA_ID, from_epoch_ms  # noqa: E402

PLATFORMS = ("zendesk", "intercom", "freshdesk", "genesys", "twilio")
DAY_MS = 86_400_000
ASSIGNED = 0.3
SCRAPE_GOAL_MS, STATUS_GOAL_MS, AGGREGATOR_GOAL = 250.0, 10.0, 1024 * MiB


def contact_events(contacts: int, queues: int, agents: int, now_ms: int, seed: int = 5, first: int = 0):
    """(time-ordered) canonical documents of ``contacts`` open contacts, numbered from ``first``; yields lazily."""
    rng = random.Random(seed)
    plan = []
    for c in range(first, first + contacts):
        q = rng.randrange(queues)
        t = now_ms - rng.randrange(DAY_MS)
        plan.append((t, 0, c, q))
        if rng.random() < ASSIGNED:
            plan.append((t + rng.randrange(1_000, 600_000), 1, c, q))
    plan.sort()
    for t, kind, c, q in plan:
        platform = PLATFORMS[q % len(PLATFORMS)]
        doc = {"schema": SCHEMA_ID, "event_id": f"scale-{c}-{kind}", "occurred_at": from_epoch_ms(min(t, now_ms)),
               "platform": platform, "contact_id": f"c{c}"}
        if kind == 0:
            doc.update(type="contact.created", queue_id=f"queue-{q}", status="new",
                       channel="chat" if c % 4 == 0 else "email")
        else:
            # an agent of the same platform: agent a belongs to PLATFORMS[a % 5]
            a = rng.randrange(agents // len(PLATFORMS)) * len(PLATFORMS) + q % len(PLATFORMS)
            doc.update(type="contact.assigned", agent_id=f"agent-{min(a, agents - 1)}")
        yield doc


def agent_events(agents: int, now_ms: int, seed: int = 6) -> list[dict]:
    rng = random.Random(seed)
    return [{"schema": SCHEMA_ID, "event_id": f"scale-agent-{a}", "type": "agent.state_changed",
             "occurred_at": from_epoch_ms(now_ms - rng.randrange(3_600_000)), "platform": PLATFORMS[a % 5],
             "agent_id": f"agent-{a}", "state": rng.choice(("available", "busy", "away", "offline")),
             "attributes": {"raw_state": "x"}} for a in range(agents)]


def status_latencies(url: str, agents: int, n: int, seed: int) -> list[float]:
    """Sequential GETs of random agents over one keep-alive ``http.client`` connection (the lightest client,
    so the figures are mostly the server's)."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    rng = random.Random(seed)
    out = []
    try:
        for _ in range(n):
            a = rng.randrange(agents)
            t = time.perf_counter()
            connection.request("GET", f"/v1/agents/{PLATFORMS[a % 5]}/agent-{a}")
            response = connection.getresponse()
            body = response.read()
            out.append(time.perf_counter() - t)
            if response.status != 200:
                raise RuntimeError(f"agent-{a}: {response.status} {body[:300]!r}")
    finally:
        connection.close()
    return out


def scrape(client: httpx.Client, url: str) -> tuple[float, int, int]:
    t = time.perf_counter()
    response = client.get(f"{url}/metrics")
    seconds = time.perf_counter() - t
    body = response.content
    series = sum(1 for line in body.split(b"\n") if line and not line.startswith(b"#"))
    return seconds, len(body), series


def run(ctx: BenchContext, agents: int | None = None, queues: int | None = None,
        contacts: int | None = None, extra_env: dict[str, str] | None = None) -> list[Figure]:
    divisor = 10 if ctx.quick else 1
    agents = agents or 10_000 // divisor
    queues = queues or 1_000 // divisor
    contacts = contacts or 200_000 // divisor
    requests = 5_000 if not ctx.quick else 1_000
    stack = Stack(ctx.bootstrap, ctx.workdir, prefix="scale", extra_env=dict(extra_env or {}))
    figures: list[Figure] = []
    try:
        stack.ensure_topics()
        stack.start("aggregator", "ingest", "api")
        time.sleep(2.0)
        idle = stack.memory()
        now_ms = int(time.time() * 1000)

        # agents through ingest, 100 per webhook
        started = time.monotonic()
        docs = agent_events(agents, now_ms)
        with httpx.Client(timeout=60) as client:
            for i in range(0, len(docs), 100):
                response = client.post(f"{stack.ingest_url}/webhooks/canonical", json=docs[i:i + 100])
                if response.status_code != 202:
                    raise RuntimeError(f"ingest answered {response.status_code}: {response.text[:300]}")
        agents_s = time.monotonic() - started
        # contacts straight to the events topic
        n, size, produce_s = produce(ctx.bootstrap, stack.events_topic, contact_events(contacts, queues, agents,
                                                                                       now_ms))
        total = n + len(docs)
        progress(f"scale: {agents:,} agent events via ingest in {agents_s:.1f} s; {n:,} contact events "
                 f"({size / MiB:,.0f} MiB) written in {produce_s:.1f} s; waiting for the aggregator")
        waited, steady = wait_counted(stack, total, timeout_s=max(1800.0, total / 50))
        load_s = time.monotonic() - started
        # the API serves every open contact and every agent
        deadline = time.monotonic() + 600
        with httpx.Client(timeout=60) as client:
            while True:
                summary = client.get(f"{stack.api_url}/v1/summary").json()
                listed = client.get(f"{stack.api_url}/v1/agents", params={"limit": 1}).json()["total"]
                if summary["live"]["open"] == contacts and listed == agents:
                    break
                if time.monotonic() > deadline:
                    raise TimeoutError(f"API shows {summary['live']['open']} open contacts (want {contacts}), "
                                       f"{listed} agents (want {agents})")
                time.sleep(1.0)
        visible_s = time.monotonic() - started
        progress(f"scale: aggregator counted {total:,} events {load_s:.0f} s after the load began "
                 f"({total / load_s:,.0f} events/s); API shows them after {visible_s:.0f} s")
        loaded = stack.memory()

        api_pid = stack.pid("api")
        # what the API spends with no request at all (consuming snapshot records the aggregator keeps publishing)
        cpu, t = cpu_seconds(api_pid), time.monotonic()
        time.sleep(10.0)
        idle_cpu = (cpu_seconds(api_pid) - cpu) / (time.monotonic() - t)
        with httpx.Client(timeout=120) as client:
            cold = scrape(client, stack.api_url)
            cpu = cpu_seconds(api_pid)
            warm = [scrape(client, stack.api_url) for _ in range(10 if not ctx.quick else 5)]
            scrape_cpu_ms = (cpu_seconds(api_pid) - cpu) / len(warm) * 1000
            with Profile(api_pid, ctx.workdir / "profile-api-scrape.txt") as scrape_profile:
                if scrape_profile.enabled:  # a separate pass: py-spy's own CPU must not skew the figures
                    [scrape(client, stack.api_url) for _ in range(5)]
        scrape_ms = statistics.median(s for s, _, _ in warm) * 1000
        _, body_bytes, series = warm[-1]
        progress(f"scale: /metrics cold {cold[0] * 1000:,.0f} ms, warm median {scrape_ms:,.0f} ms; "
                 f"{body_bytes / 1e6:.1f} MB, {series:,} series")

        status_latencies(stack.api_url, agents, 300, seed=1)  # warm-up
        cpu = cpu_seconds(api_pid)
        latencies = status_latencies(stack.api_url, agents, requests, seed=2)
        status_cpu_ms = (cpu_seconds(api_pid) - cpu) / len(latencies) * 1000
        with Profile(api_pid, ctx.workdir / "profile-api-status.txt") as status_profile:
            if status_profile.enabled:
                status_latencies(stack.api_url, agents, requests // 2, seed=4)
        for label, prof in (("scrapes", scrape_profile), ("agent status", status_profile)):
            if prof.enabled:
                progress(f"scale: API profile during {label} ({prof.path}): {prof.summary()}")
        stop = threading.Event()

        def scraper():
            with httpx.Client(timeout=120) as scrape_client:
                while not stop.is_set():
                    scrape_client.get(f"{stack.api_url}/metrics")

        thread = threading.Thread(target=scraper, daemon=True)
        thread.start()
        time.sleep(0.3)
        during = status_latencies(stack.api_url, agents, requests // 5, seed=3)
        stop.set()
        thread.join(120)
        progress(f"scale: agent status {summary_ms(latencies)}; during scrapes {summary_ms(during)}")
        after = stack.memory()
        load = os.getloadavg()[0]

        sizes = (f"{agents:,} agents, {queues:,} queues, {contacts:,} open contacts ({total:,} events: one created "
                 f"per contact, {ASSIGNED:.0%} also assigned, one state change per agent)")
        p99 = percentile(latencies, 99) * 1000
        figures += [
            Figure(name="scale /metrics scrape (warm median)", value=scrape_ms, unit="ms",
                   goal=f"≤ {SCRAPE_GOAL_MS:.0f} ms", met=scrape_ms <= SCRAPE_GOAL_MS,
                   detail=f"{sizes}; GET /metrics from this process, median of {len(warm)} warm scrapes "
                          f"(min {min(s for s, _, _ in warm) * 1000:,.0f}, max {max(s for s, _, _ in warm) * 1000:,.0f} "
                          f"ms; first, cold scrape {cold[0] * 1000:,.0f} ms); API CPU {scrape_cpu_ms:,.0f} ms per warm scrape "
                          f"(/proc utime+stime); "
                          f"body {body_bytes / 1e6:.1f} MB, "
                          f"{series:,} series; load average {load:.1f} on {os.cpu_count()} CPUs"),
            Figure(name="scale agent status p99", value=p99, unit="ms", goal=f"p99 ≤ {STATUS_GOAL_MS:.0f} ms",
                   met=p99 <= STATUS_GOAL_MS,
                   detail=f"GET /v1/agents/<platform>/<agent>, random agents, sequential on one keep-alive "
                          f"connection (http.client), API in its own process: {summary_ms(latencies)}; API CPU "
                          f"{status_cpu_ms:.2f} ms per request (/proc utime+stime; with no requests it used {idle_cpu * 1000:,.0f} ms "
                          f"of CPU per second); while "
                          f"another connection scrapes /metrics back to back: {summary_ms(during)}; {sizes}"),
        ]
        for name in ("aggregator", "api", "ingest"):
            rss, hwm = after.get(name, (0, 0))
            grown = loaded.get(name, (0, 0))[0] - idle.get(name, (0, 0))[0]
            per = f"; {grown / contacts:,.0f} B per open contact over idle ({mib(idle.get(name, (0, 0))[0])})" \
                if name == "aggregator" else f"; idle after start {mib(idle.get(name, (0, 0))[0])}"
            figures.append(Figure(
                name=f"scale {name} resident memory", value=hwm / MiB, unit="MiB",
                goal="≤ 1,024 MiB" if name == "aggregator" else "", met=hwm <= AGGREGATOR_GOAL if name == "aggregator"
                else None,
                detail=f"VmHWM (peak) {mib(hwm)}, VmRSS {mib(rss)} at the end (after the scrapes){per}; {sizes}"))
        figures.append(Figure(
            name="scale load time", value=load_s, unit="s", goal="", met=None,
            detail=f"{total:,} events: {len(docs):,} agent events via ingest ({agents_s:.1f} s), {n:,} contact "
                   f"events written to the events topic in {produce_s:.1f} s; aggregator counted all "
                   f"{load_s:.0f} s after the load began ({total / load_s:,.0f} events/s; "
                   f"{(total / steady) if steady else float('nan'):,.0f} events/s from its first count); "
                   f"API served all {visible_s:.0f} s after the load began"))
    finally:
        stack.stop()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--agents", type=int, default=None)
    parser.add_argument("--queues", type=int, default=None)
    parser.add_argument("--contacts", type=int, default=None)
    parser.add_argument("--env", action="append", default=[], metavar="KEY=VALUE",
                        help="extra environment for the services (what-if runs)")
    args = parser.parse_args()
    with context_for_cli(args.quick) as ctx:
        print_figures(run(ctx, args.agents, args.queues, args.contacts, dict(e.split("=", 1) for e in args.env)))


if __name__ == "__main__":
    main()
