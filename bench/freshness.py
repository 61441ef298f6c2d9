"""Freshness: webhook accepted (ingest's 202) → the change visible on the API's live stream and on /metrics.

    .venv/bin/python bench/freshness.py [--quick] [--seconds 30] [--rates 100,1000] [--loaded 200000]

Real processes on one broker: ingest, one aggregator worker and the API, started as ``deskpulse`` starts them,
with the default ``DESKPULSE_SNAPSHOT_INTERVAL_S`` (0.5 s) and the API's default stream coalescing (0.5 s).
For each rate a load process posts canonical webhooks (one event per request, keep-alive connections) open
loop at the rate for ``--seconds``: contacts created in 40 busy queues, assigned, answered, solved, and agent
state changes, all stamped now. Beside it, 5 times a second, this process posts a *probe*: a
``contact.created`` in a queue of its own (``queue/freshdesk/probe-…``), so each probe is one scope whose
``created`` goes 0 → 1 and whose first appearance is unambiguous. Two observer processes record when each
probe becomes visible:

- API: an SSE subscription ``GET /v1/stream?scope=queue/freshdesk/`` (the time the ``update`` arrives);
- /metrics: ``GET /metrics`` polled back to back with a 100 ms pause; a probe counts as visible at the start
  of the first scrape whose ``deskpulse_contacts_created_total`` has it (so the figure is an upper bound with
  ~100 ms + one scrape of resolution). Prometheus's own scrape interval comes on top and is not included.

Freshness = visible − 202, all on this machine's monotonic clock. Probes not visible 60 s after their phase
ended count until then (a lower bound; they are reported).

Then (``--loaded``, default 200,000; 0 skips it) the open contacts of a large floor (``bench/scale.py``'s: 1,000
queues, 10,000 agents) are written straight to the events topic; once the worker counted them, the events of a
tenth more contacts (at least 10,000) as a backlog (the worker's rate with all of them held), and one more phase at 1,000 events/s
with them held (issue 18's goals: ≥ 5,000 events/s, freshness p99 ≤ 0.5 s).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import random
import sys
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import httpx  # noqa: E402

from bench._stack import Stack, aggregator_counts, mib, produce, wait_counted  # noqa: E402
from bench.common import (BenchContext, Figure, context_for_cli, percentile, print_figures,  # noqa: E402
                          progress)
from bench.scale import contact_events  # noqa: E402
from services.common.events import SCHEMA_ID, from_epoch_ms  # noqa: E402

PROBE_PLATFORM = "freshdesk"
PROBES_PER_S = 5
METRICS_PAUSE_S = 0.1
MISSING_S = 60.0
GOAL_S = 1.0
# Issue 18: with the open contacts of a large floor held (bench/scale.py's, 1,000 queues and 10,000 agents), the
# worker's rate on a backlog and freshness at 1,000 events/s.
LOADED_QUEUES, LOADED_AGENTS = 1_000, 10_000
LOADED_RATE, LOADED_GOAL_S, LOADED_EVENTS_GOAL = 1_000, 0.5, 5_000.0


def load_open_contacts(stack: Stack, bootstrap: str, contacts: int, backlog: int) -> dict:
    """``contacts`` open contacts written straight to the events topic and counted by the aggregator; then the
    events of ``backlog`` more contacts as a backlog the worker reads with all of those held: its rate there (from
    before the backlog was written until the worker counted all of it)."""
    now = _now_ms()
    counted = sum(aggregator_counts(stack.aggregator_metrics_url).values())
    n, _, _ = produce(bootstrap, stack.events_topic, contact_events(contacts, LOADED_QUEUES, LOADED_AGENTS, now))
    load_s, _ = wait_counted(stack, counted + n, timeout_s=max(1800.0, n / 50), what="events of the open contacts")
    started = time.monotonic()
    m, _, _ = produce(bootstrap, stack.events_topic,
                      contact_events(backlog, LOADED_QUEUES, LOADED_AGENTS, now, seed=9, first=contacts))
    wait_counted(stack, counted + n + m, timeout_s=max(600.0, m / 50), what="events of the backlog")
    backlog_s = time.monotonic() - started
    return {"events": n, "load_s": load_s, "backlog": m, "backlog_s": backlog_s, "rate": m / backlog_s}


def _now_ms() -> int:
    return int(time.time() * 1000)


# -- background load ---------------------------------------------------------------------------------------------


class Traffic:
    """Contact lifecycles stamped now: created → assigned → agent reply → solved, plus agent state changes."""

    def __init__(self, tag: str, seed: int = 1) -> None:
        self.rng = random.Random(seed)
        self.tag = tag
        self.n = 0
        self.open: list[list] = []  # [platform, contact, stage, agent]

    def _doc(self, kind: str, platform: str, contact: str | None = None, **fields) -> dict:
        self.n += 1
        doc = {"schema": SCHEMA_ID, "event_id": f"fresh-{self.tag}-{self.n}", "type": kind,
               "occurred_at": from_epoch_ms(_now_ms()), "platform": platform}
        if contact is not None:
            doc["contact_id"] = contact
        doc.update(fields)
        return doc

    def next(self) -> dict:
        rng = self.rng
        if self.n % 25 == 24:
            platform = rng.choice(("zendesk", "intercom"))
            state = rng.choice(("available", "busy", "away"))
            return self._doc("agent.state_changed", platform, agent_id=f"agent-{rng.randrange(200)}", state=state)
        if len(self.open) < 200 or rng.random() < 0.27:
            platform = rng.choice(("zendesk", "intercom"))
            contact = f"{self.tag}-{self.n}"
            self.open.append([platform, contact, 0, f"agent-{rng.randrange(200)}"])
            return self._doc("contact.created", platform, contact, queue_id=f"q-{rng.randrange(20):02d}",
                             channel="email" if platform == "zendesk" else "chat", status="new")
        i = rng.randrange(len(self.open))
        c = self.open[i]
        platform, contact, stage, agent = c
        c[2] += 1
        if stage == 0:
            return self._doc("contact.assigned", platform, contact, agent_id=agent)
        if stage == 1:
            return self._doc("contact.message", platform, contact, agent_id=agent, author="agent", public=True)
        self.open[i] = self.open[-1]
        self.open.pop()
        return self._doc("contact.status_changed", platform, contact, status="solved", agent_id=agent)


async def _load(url: str, rate: float, seconds: float, tag: str, out_path: str, ready, batch: int) -> None:
    import aiohttp

    traffic = Traffic(tag)
    total = int(rate * seconds / batch)  # requests
    stats = {"sent": 0, "accepted": 0, "errors": 0, "max_lag_s": 0.0, "latencies": []}
    connector = aiohttp.TCPConnector(limit=128)
    async with aiohttp.ClientSession(connector=connector) as session:
        async def post(docs: list[dict]) -> None:
            t = time.monotonic()
            try:
                async with session.post(url, data=json.dumps(docs if len(docs) > 1 else docs[0]),
                                        headers={"content-type": "application/json"}) as response:
                    await response.read()
                    if response.status == 202:
                        stats["accepted"] += len(docs)
                    else:
                        stats["errors"] += 1
            except aiohttp.ClientError:
                stats["errors"] += 1
            stats["latencies"].append(time.monotonic() - t)

        tasks = set()
        ready.set()
        started = time.monotonic()
        for i in range(total):
            due = started + i * batch / rate
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            else:
                stats["max_lag_s"] = max(stats["max_lag_s"], -delay)
            task = asyncio.ensure_future(post([traffic.next() for _ in range(batch)]))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            stats["sent"] += batch
        sent_s = time.monotonic() - started
        await asyncio.gather(*list(tasks))
        done_s = time.monotonic() - started
    lat = stats.pop("latencies")
    stats.update(send_s=sent_s, done_s=done_s, p50_post_s=percentile(lat, 50), p99_post_s=percentile(lat, 99))
    Path(out_path).write_text(json.dumps(stats))


def load_process(url: str, rate: float, seconds: float, tag: str, out_path: str, ready, batch: int) -> None:
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(_load(url, rate, seconds, tag, out_path, ready, batch))


# -- observers ---------------------------------------------------------------------------------------------------


def sse_watcher(api_url: str, out_path: str) -> None:
    """Appends ``<queue id> <monotonic s>`` the first time each probe queue appears with created ≥ 1."""
    seen: set[str] = set()
    prefix = f"queue/{PROBE_PLATFORM}/"
    with open(out_path, "a", buffering=1) as out, httpx.Client(timeout=httpx.Timeout(10, read=None)) as client:
        while True:
            try:
                with client.stream("GET", f"{api_url}/v1/stream", params={"scope": prefix}) as response:
                    for line in response.iter_lines():
                        if not line.startswith("data: "):
                            continue
                        t = time.monotonic()
                        data = json.loads(line[6:])
                        for body in data.get("scopes", [data]):
                            scope = body.get("scope", "")
                            if scope.startswith(prefix) and scope not in seen and body["contacts"]["created"] >= 1:
                                seen.add(scope)
                                out.write(f"{scope[len(prefix):]} {t:.6f}\n")
            except httpx.HTTPError:
                time.sleep(0.2)  # reconnect: the snapshot then lists what is already there


def metrics_watcher(api_url: str, out_path: str, scrapes_path: str) -> None:
    """Scrapes /metrics back to back (``METRICS_PAUSE_S`` between); appends ``<queue id> <scrape start>``."""
    seen: set[str] = set()
    needle = f'deskpulse_contacts_created_total{{platform="{PROBE_PLATFORM}",queue="'
    with open(out_path, "a", buffering=1) as out, open(scrapes_path, "a", buffering=1) as scrapes, \
            httpx.Client(timeout=30) as client:
        while True:
            t0 = time.monotonic()
            try:
                text = client.get(f"{api_url}/metrics").text
            except httpx.HTTPError:
                time.sleep(0.2)
                continue
            scrapes.write(f"{time.monotonic() - t0:.6f} {len(text)}\n")
            start = 0
            while True:
                i = text.find(needle, start)
                if i < 0:
                    break
                end = text.index('"', i + len(needle))
                queue = text[i + len(needle):end]
                start = end
                if queue not in seen and float(text[text.index(" ", end) + 1:text.index("\n", end)]) >= 1:
                    seen.add(queue)
                    out.write(f"{queue} {t0:.6f}\n")
            time.sleep(METRICS_PAUSE_S)


def kpis_watcher(bootstrap: str, topic: str, out_path: str) -> None:
    """Appends ``<queue id> <publish time>`` (the record's CreateTime, wall clock, set by the aggregator's
    producer) for the first partial snapshot of each probe queue on the KPI topic."""

    async def watch() -> None:
        from aiokafka import AIOKafkaConsumer

        prefix = f"queue/{PROBE_PLATFORM}/".encode()
        seen: set[bytes] = set()
        consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="latest",
                                    fetch_max_wait_ms=50, max_partition_fetch_bytes=16 * 1024 * 1024)
        await consumer.start()
        try:
            with open(out_path, "a", buffering=1) as out:
                async for record in consumer:
                    key = record.key or b""
                    if key.startswith(prefix):
                        queue = key[len(prefix):].split(b"#", 1)[0]
                        if queue not in seen:
                            seen.add(queue)
                            out.write(f"{queue.decode()} {record.timestamp / 1000:.3f}\n")
        finally:
            await consumer.stop()

    asyncio.run(watch())


def _read_times(path: Path) -> dict[str, float]:
    out = {}
    if path.exists():
        for line in path.read_text().splitlines():
            parts = line.split()
            if len(parts) == 2:
                out.setdefault(parts[0], float(parts[1]))
    return out


# -- one phase ---------------------------------------------------------------------------------------------------


def probe_doc(run: str, queue: str) -> dict:
    return {"schema": SCHEMA_ID, "event_id": f"probe-{run}-{queue}", "type": "contact.created",
            "occurred_at": from_epoch_ms(_now_ms()), "platform": PROBE_PLATFORM, "contact_id": f"probe-{run}-{queue}",
            "queue_id": queue, "channel": "email", "status": "new"}


def send_probes(client: httpx.Client, url: str, run: str, label: str, seconds: float,
                accepted: dict[str, float], walls: dict[str, float]) -> int:
    """Posts a probe every 1/PROBES_PER_S s for ``seconds``; records the monotonic time of each 202."""
    started = time.monotonic()
    errors = 0
    i = 0
    while True:
        due = started + i / PROBES_PER_S
        if due - started >= seconds:
            return errors
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        queue = f"probe-{label}-{i:04d}"
        response = client.post(url, json=probe_doc(run, queue))
        if response.status_code == 202:
            accepted[queue] = time.monotonic()
            walls[queue] = time.time()
        else:
            errors += 1
        i += 1


def phase(stack: Stack, run: str, rate: int, seconds: float, workdir: Path, sse_path: Path,
          metrics_path: Path, kpis_path: Path, batch: int, label: str | None = None) -> dict:
    label = label or f"r{rate}"  # in the load's and the probes' ids: unique per phase, or they are duplicates
    load_rate = max(1.0, rate - PROBES_PER_S)  # the probes are part of the rate
    stats_path = workdir / f"load-{label}.json"
    context = multiprocessing.get_context("spawn")
    ready = context.Event()
    load = context.Process(target=load_process, args=(f"{stack.ingest_url}/webhooks/canonical", load_rate, seconds,
                                                     f"{run}-{label}", str(stats_path), ready, batch),
                           daemon=True)
    before = sum(aggregator_counts(stack.aggregator_metrics_url).values())
    load.start()
    if not ready.wait(60):
        raise RuntimeError("the load process did not start")
    time.sleep(1.0)  # the load runs before the first probe
    t_start = time.monotonic()
    accepted: dict[str, float] = {}
    walls: dict[str, float] = {}
    with httpx.Client(timeout=10) as client:
        probe_errors = send_probes(client, f"{stack.ingest_url}/webhooks/canonical", run, label, seconds - 2.0,
                                   accepted, walls)
    load.join(seconds + 120)
    counted = sum(aggregator_counts(stack.aggregator_metrics_url).values()) - before
    t_end = time.monotonic()
    load_stats = json.loads(stats_path.read_text()) if stats_path.exists() else {}
    # wait for the probes to show up on both surfaces
    deadline = time.monotonic() + MISSING_S
    while time.monotonic() < deadline:
        sse, scraped = _read_times(sse_path), _read_times(metrics_path)
        if all(q in sse and q in scraped for q in accepted):
            break
        time.sleep(0.5)
    sse, scraped = _read_times(sse_path), _read_times(metrics_path)
    gave_up = time.monotonic()  # a probe still missing counts as visible now: a lower bound
    published = _read_times(kpis_path)
    return {
        # 202 → its first partial snapshot on the KPI topic (wall clock: the record's CreateTime)
        "published": [published[q] - walls[q] for q in walls if q in published],
        "rate": rate, "batch": batch, "accepted": accepted, "probe_errors": probe_errors, "load": load_stats,
        "aggregator_rate": counted / (t_end - t_start + 1.0) if t_end > t_start else float("nan"),
        "sse": [sse.get(q, gave_up) - t for q, t in accepted.items()],
        "metrics": [scraped.get(q, gave_up) - t for q, t in accepted.items()],
        "sse_missing": sum(1 for q in accepted if q not in sse),
        "metrics_missing": sum(1 for q in accepted if q not in scraped),
    }


def _stats(samples: list[float]) -> str:
    if not samples:
        return "no samples"
    return (f"p50 {percentile(samples, 50) * 1000:,.0f} ms, p99 {percentile(samples, 99) * 1000:,.0f} ms, "
            f"max {max(samples) * 1000:,.0f} ms")


def batch_for(rate: int) -> int:
    """Events per POST: one at 100/s; ten at 1,000/s (ingest's own capacity for single-event webhooks is
    bench/ingest.py's figure, and on a shared 2-core machine it cannot also carry the rest of the pipeline)."""
    return 1 if rate <= 200 else 10


def run(ctx: BenchContext, seconds: float | None = None, rates: tuple[int, ...] = (100, 1000),
        batch: int | None = None, extra_env: dict[str, str] | None = None, loaded: int | None = None) -> list[Figure]:
    """The phases at ``rates``; then, unless ``loaded`` is 0, ``loaded`` open contacts (default 200,000, a tenth
    with ``--quick``) and a backlog of a tenth more (at least 10,000), and a phase at 1,000 events/s with them held."""
    seconds = seconds or (10.0 if ctx.quick else 30.0)
    loaded = (20_000 if ctx.quick else 200_000) if loaded is None else loaded
    extra_env = dict(extra_env or {})
    stack = Stack(ctx.bootstrap, ctx.workdir, prefix="fresh", extra_env=extra_env)
    run_id = uuid.uuid4().hex[:6]
    sse_path, metrics_path, scrapes_path, kpis_path = (ctx.workdir / "sse.txt", ctx.workdir / "metrics.txt",
                                                       ctx.workdir / "scrapes.txt", ctx.workdir / "kpis.txt")
    context = multiprocessing.get_context("spawn")
    observers = []
    figures: list[Figure] = []
    try:
        stack.ensure_topics()
        stack.start("aggregator", "ingest", "api")
        observers = [context.Process(target=sse_watcher, args=(stack.api_url, str(sse_path)), daemon=True),
                     context.Process(target=metrics_watcher, args=(stack.api_url, str(metrics_path),
                                                                   str(scrapes_path)), daemon=True),
                     context.Process(target=kpis_watcher, args=(ctx.bootstrap, stack.names["DESKPULSE_KPIS_TOPIC"],
                                                                str(kpis_path)), daemon=True)]
        for p in observers:
            p.start()
        # warm-up: the aggregator joined its group and publishes; a probe goes all the way through
        warm = {}
        with httpx.Client(timeout=10) as client:
            deadline = time.monotonic() + 180
            i = 0
            while time.monotonic() < deadline:
                queue = f"probe-warm-{i:04d}"
                if client.post(f"{stack.ingest_url}/webhooks/canonical", json=probe_doc(run_id, queue)).status_code == 202:
                    warm[queue] = time.monotonic()
                time.sleep(1.0)
                sse, scraped = _read_times(sse_path), _read_times(metrics_path)
                if any(q in sse and q in scraped for q in warm):
                    break
                i += 1
            else:
                raise TimeoutError(f"no probe went through within 180 s; aggregator log:\n"
                                   f"{stack.log_tail('aggregator')}")
        progress(f"freshness: pipeline warm after {i + 1} warm-up probes")
        results = []

        def measured(rate: int, label: str | None = None, held_note: str = "") -> None:
            r = phase(stack, run_id, rate, seconds, ctx.workdir, sse_path, metrics_path, kpis_path,
                      batch or batch_for(rate), label=label)
            load = r["load"]
            achieved = (load.get("accepted", 0) + len(r["accepted"])) / max(load.get("done_s", seconds), 1e-9)
            progress(f"freshness @{rate}/s{held_note}: API {_stats(r['sse'])}; /metrics {_stats(r['metrics'])}; "
                     f"202 → published {_stats(r['published'])}; achieved {achieved:,.0f}/s, aggregator "
                     f"{r['aggregator_rate']:,.0f}/s")
            results.append((r, achieved))

        for rate in rates:
            progress(f"freshness: {rate} events/s for {seconds:.0f} s")
            measured(rate)
            time.sleep(3.0)
        held = None
        if loaded:
            progress(f"freshness: loading {loaded:,} open contacts ({LOADED_QUEUES:,} queues, {LOADED_AGENTS:,} "
                     f"agents) straight to the events topic")
            held = load_open_contacts(stack, ctx.bootstrap, loaded, max(loaded // 10, 10_000))
            progress(f"freshness: the aggregator counted their {held['events']:,} events in {held['load_s']:.0f} s, "
                     f"then a backlog of {held['backlog']:,} at {held['rate']:,.0f} events/s; {LOADED_RATE:,} "
                     f"events/s for {seconds:.0f} s with them held")
            time.sleep(3.0)
            measured(LOADED_RATE, f"r{LOADED_RATE}-held", f", {loaded:,} open contacts")
        memory = stack.memory()
        scrapes = [float(line.split()[0]) for line in scrapes_path.read_text().splitlines()] \
            if scrapes_path.exists() else []
        if held is not None:
            figures.append(Figure(
                name=f"aggregator events/s, {loaded:,} open contacts held", value=held["rate"], unit="events/s",
                goal=f"≥ {LOADED_EVENTS_GOAL:,.0f}/s", met=held["rate"] >= LOADED_EVENTS_GOAL,
                detail=(f"one worker, {stack.partitions} partitions: {held['events']:,} events of {loaded:,} open "
                        f"contacts in {LOADED_QUEUES:,} queues (bench/scale.py's) written straight to the events "
                        f"topic and counted in {held['load_s']:.0f} s ({held['events'] / held['load_s']:,.0f}/s while "
                        f"the state grew), then a backlog of {held['backlog']:,} events of {max(loaded // 10, 10_000):,} more "
                        f"contacts, counted {held['backlog_s']:.1f} s after it began to be written; the API "
                        f"scraped back to back meanwhile; {os.cpu_count()} CPUs shared with Kafka and the services")))
        for i, (r, achieved) in enumerate(results):
            with_held = held is not None and i == len(results) - 1
            load = r["load"]
            common = (f"{len(r['accepted'])} probes (new queue each, 5/s) among {achieved:,.0f} events/s achieved "
                      f"(target {r['rate']:,}/s open loop, {r['batch']} event(s) per POST, {load.get('errors', 0)} errors, "
                      f"send lag max {load.get('max_lag_s', 0) * 1000:,.0f} ms, POST p50 "
                      f"{load.get('p50_post_s', float('nan')) * 1000:,.1f} ms p99 "
                      f"{load.get('p99_post_s', float('nan')) * 1000:,.1f} ms); aggregator counted "
                      f"{r['aggregator_rate']:,.0f} events/s during the phase; {seconds:.0f} s per phase; "
                      f"DESKPULSE_SNAPSHOT_INTERVAL_S {extra_env.get('DESKPULSE_SNAPSHOT_INTERVAL_S', 'default 0.5')} s "
                      f"(202 → the probe's partial snapshot on the KPI topic, by its CreateTime: "
                      f"{_stats(r['published']) if r['published'] else 'not seen'}); 1 aggregator worker, {stack.partitions} "
                      f"partitions; {os.cpu_count()} CPUs shared by Kafka, the 3 services and the load"
                      + (f" [what-if: services ran with {extra_env}]" if extra_env else ""))
            for surface, key, missing, how in (
                    ("API", "sse", "sse_missing", "SSE /v1/stream update received (API coalesces 0.5 s)"),
                    ("/metrics", "metrics", "metrics_missing",
                     f"start of the first /metrics scrape showing it, polled with {METRICS_PAUSE_S * 1000:.0f} ms "
                     f"pauses (scrape median {percentile(scrapes, 50) * 1000:,.0f} ms; Prometheus's scrape "
                     f"interval excluded)")):
                samples = r[key]
                p99 = percentile(samples, 99)
                goal_s = LOADED_GOAL_S if with_held else GOAL_S
                figures.append(Figure(
                    name=f"freshness {surface} p99 @{r['rate']:,}/s" + (f", {loaded:,} open contacts held"
                                                                        if with_held else ""),
                    value=p99, unit="s", goal=f"p99 ≤ {goal_s:g} s", met=p99 <= goal_s and not r[missing],
                    detail=f"202 → {how}: {_stats(samples)}; {r[missing]} not visible {MISSING_S:.0f} s after the phase "
                           f"ended (counted until then: a lower bound). {common}"))
        progress("freshness: resident memory " + ", ".join(f"{n} {mib(m[0])} (peak {mib(m[1])})"
                                                           for n, m in memory.items()))
    finally:
        for p in observers:
            if p.is_alive():
                p.terminate()
                p.join(5)
        stack.stop()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--seconds", type=float, default=None)
    parser.add_argument("--rates", default="100,1000")
    parser.add_argument("--batch", type=int, default=None, help="events per POST (default: 1 at ≤ 200/s, else 10)")
    parser.add_argument("--env", action="append", default=[], metavar="KEY=VALUE",
                        help="extra environment for the services (what-if runs, e.g. DESKPULSE_SNAPSHOT_INTERVAL_S=0.25)")
    parser.add_argument("--loaded", type=int, default=None,
                        help="open contacts held for the last phase (default 200,000; 20,000 with --quick; 0: none)")
    args = parser.parse_args()
    with context_for_cli(args.quick) as ctx:
        print_figures(run(ctx, args.seconds, tuple(int(r) for r in args.rates.split(",")), args.batch,
                          dict(e.split("=", 1) for e in args.env), args.loaded))


if __name__ == "__main__":
    main()
