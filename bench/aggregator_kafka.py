"""Aggregator throughput through real Kafka, beside a baseline, on one machine in one run.

    .venv/bin/python bench/aggregator_kafka.py [--events 60000] [--partitions 4] [--workers 1 2] [--engine-off]
    (``make bench`` runs ``run(ctx)`` on the run's shared broker; ``measure(bootstrap, …)`` returns the raw figures)

1. Writes N canonical events (synthetic contacts, keyed by contact) to a fresh events topic.
2. Baseline: a plain aiokafka consumer that reads and validates them (json + the canonical model) — what any
   consumer of this topic must pay.
3. deskpulse: one aggregator worker process (Faust, contact table with changelog, snapshots) started on the
   backlog; events/s until its metrics count every event.
4. With ``--engine-off``, one more worker on a fresh backlog whose engine does nothing (``bench/_engine_off.py``):
   Faust's own ceiling on this machine, beside the other two.
Uses DESKPULSE_KAFKA_BOOTSTRAP if set, else starts a local broker.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import BenchContext, Figure, cpu_seconds, peak_rss_bytes, progress, topic_names  # noqa: E402
from services.common.events import parse_event  # noqa: E402
from services.common.kafka import ensure_topics  # noqa: E402
from services.common.localkafka import LocalKafka, free_port  # noqa: E402
from services.common.processes import Service  # noqa: E402
from services.common.settings import Settings  # noqa: E402
from services.demo.synthetic import agent_shifts, history  # noqa: E402

T0 = 1_795_000_000_000


def make_events(n: int) -> list[dict]:
    rng = random.Random(3)
    docs: list[dict] = []
    contacts = max(1, n // 5)
    docs = history(rng, T0, contacts, mean_gap_ms=2_000) + agent_shifts(rng, T0, T0 + contacts * 2_000)
    docs.sort(key=lambda d: d["occurred_at"])
    return docs[:n]


async def produce(bootstrap: str, topic: str, docs: list[dict]) -> float:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, linger_ms=20,
                                max_batch_size=256 * 1024)
    await producer.start()
    started = time.perf_counter()
    try:
        futures = []
        for d in docs:
            key = (d.get("contact_id") or d.get("agent_id")).encode()
            futures.append(await producer.send(topic, json.dumps(d).encode(), key=key))
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return time.perf_counter() - started


async def baseline(bootstrap: str, topic: str, n: int) -> float:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest",
                                max_partition_fetch_bytes=4 * 1024 * 1024)
    await consumer.start()
    seen = 0
    started = time.perf_counter()
    try:
        while seen < n:
            for records in (await consumer.getmany(timeout_ms=500, max_records=5000)).values():
                for record in records:
                    parse_event(json.loads(record.value))
                    seen += 1
    finally:
        await consumer.stop()
    return time.perf_counter() - started


def counted(url: str) -> float:
    total = 0.0
    try:
        for line in httpx.get(url, timeout=2).text.splitlines():
            if line.startswith("deskpulse_aggregator_events_total{"):
                total += float(line.rsplit(" ", 1)[1])
    except httpx.HTTPError:
        pass
    return total


def measure(bootstrap: str, events: int = 60_000, partitions: int = 4, workdir: Path | None = None,
            say=print, workers: int = 1, engine_off: bool = False) -> dict:
    """Writes ``events`` events to a fresh topic, then times the baseline consumer and ``workers`` aggregator
    workers (one consumer group, a data directory each) on that backlog; ``engine_off``: workers whose engine does
    nothing (Faust's own ceiling). Returns the figures as a dict (events/s, ratio, start-up, peak RSS of the
    largest worker)."""
    workdir = workdir or Path(tempfile.mkdtemp(prefix="deskpulse-bench-"))
    names = topic_names("bench-agg")
    services: list[Service] = []
    try:
        settings = Settings(kafka_bootstrap=bootstrap, events_topic=names["DESKPULSE_EVENTS_TOPIC"],
                            kpis_topic=names["DESKPULSE_KPIS_TOPIC"], dlq_topic=names["DESKPULSE_DLQ_TOPIC"], contacts_topic=names["DESKPULSE_CONTACTS_TOPIC"],
                            topic_partitions=partitions)
        asyncio.run(ensure_topics(settings))
        docs = make_events(events)
        produce_s = asyncio.run(produce(bootstrap, settings.events_topic, docs))
        say(f"wrote {len(docs)} events in {produce_s:.1f} s")
        base_s = asyncio.run(baseline(bootstrap, settings.events_topic, len(docs)))
        base_rate = len(docs) / base_s
        say(f"baseline (aiokafka consumer + JSON + canonical model): {base_rate:,.0f} events/s")

        urls = []
        launched = time.perf_counter()
        for i in range(workers):
            port = free_port()
            env = {**names, "DESKPULSE_KAFKA_BOOTSTRAP": bootstrap, "DESKPULSE_TOPIC_PARTITIONS": str(partitions),
                   "DESKPULSE_LOG_LEVEL": "WARNING", "DESKPULSE_DATA_DIR": str(workdir / f"data-{i}"),
                   "PYTHONPATH": str(ROOT)}
            service = Service(f"aggregator-{i}", ["aggregator", "--metrics-port", str(port)], env,
                              workdir / f"aggregator-{names['DESKPULSE_AGGREGATOR_APP_ID']}-{i}.log",
                              module="bench._engine_off" if engine_off else "services.cli")
            service.start()
            services.append(service)
            urls.append(f"http://127.0.0.1:{port}/metrics")
        first = None
        peak = 0
        while True:
            n = sum(counted(url) for url in urls)
            if n > 0 and first is None:
                first = (time.perf_counter(), n)
                cpu_first = sum(cpu_seconds(s.process.pid) for s in services)
            peak = max([peak] + [peak_rss_bytes(s.process.pid) for s in services])
            if n >= len(docs):
                break
            for service in services:
                if not service.running:
                    raise RuntimeError(f"aggregator exited; see {service.log_path}")
            time.sleep(0.2)
        done = time.perf_counter()
        cpu = sum(cpu_seconds(s.process.pid) for s in services) - cpu_first if first else float("nan")
        steady = (len(docs) - first[1]) / (done - first[0]) if first and done > first[0] else float("nan")
        per_cpu_s = (len(docs) - first[1]) / cpu if first and cpu > 0 else float("nan")
        say(f"deskpulse aggregator ({workers} worker{'s' if workers > 1 else ''}, {partitions} partitions"
            f"{', engine off' if engine_off else ''}): "
            f"{steady:,.0f} events/s once consuming ({len(docs) / (done - launched):,.0f} events/s including "
            f"start-up {first[0] - launched:.1f} s); ratio to baseline {steady / base_rate:.2f}; "
            f"{per_cpu_s:,.0f} events per CPU-second of the worker{'s' if workers > 1 else ''}")
        return {"events": len(docs), "partitions": partitions, "workers": workers, "baseline_rate": base_rate,
                "per_cpu_s": per_cpu_s,
                "rate": steady, "rate_with_startup": len(docs) / (done - launched), "startup_s": first[0] - launched,
                "ratio": steady / base_rate, "peak_rss_bytes": peak}
    finally:
        for service in services:
            service.stop()


def run(ctx: BenchContext) -> list[Figure]:
    events = 15_000 if ctx.quick else 60_000
    m = measure(ctx.bootstrap, events=events, workdir=ctx.workdir, say=lambda text: progress(f"aggregator: {text}"))
    return [Figure(
        name="aggregator throughput", value=m["rate"], unit="events/s", baseline=m["baseline_rate"],
        goal="≥ 6,000/s and ≥ 0.07 × baseline", met=m["rate"] >= 6_000 and m["ratio"] >= 0.07,
        detail=(f"one aggregator worker process (Faust, contact table with changelog, snapshots to the KPI topic) "
                f"started on a backlog of {m['events']:,} synthetic events in {m['partitions']} partitions; events/s "
                f"from its first counted event until its metrics count every event (start-up "
                f"{m['startup_s']:.1f} s not included; {m['rate_with_startup']:,.0f}/s with it); peak RSS "
                f"{m['peak_rss_bytes'] / 2**20:,.0f} MiB; baseline = a plain aiokafka consumer loop decoding the same "
                f"events (json + canonical model)"),
    ), scale_out(ctx, events, m), faust_ceiling(ctx, events, m)]


def faust_ceiling(ctx: BenchContext, events: int, one: dict) -> Figure:
    """One worker whose engine does nothing (``bench/_engine_off.py``) on a fresh backlog of the same size: what
    Faust's per-message path and the parsing cost without deskpulse's fold, beside the worker measured before."""
    off = measure(ctx.bootstrap, events=events, workdir=ctx.workdir, engine_off=True,
                  say=lambda text: progress(f"aggregator: {text}"))
    return Figure(
        name="aggregator, engine off (Faust's ceiling)", value=off["rate"], unit="events/s", baseline=one["rate"],
        goal="(recorded)", met=None,
        detail=(f"one worker on a fresh backlog of {off['events']:,} events whose engine does nothing: Faust fetches, "
                f"batches, parses and acknowledges every event; baseline = the worker with its engine, measured "
                f"before: per event {1e6 / one['rate']:,.0f} µs in all, {1e6 / off['rate']:,.0f} µs of it Faust's "
                f"path and parsing, so a worker at 6,000 events/s leaves the fold "
                f"{max(0.0, 1e6 / 6_000 - 1e6 / off['rate']):,.0f} µs per event"),
    )


def scale_out(ctx: BenchContext, events: int, one: dict) -> Figure:
    """Two workers (one consumer group, four partitions) on a fresh backlog of the same size, beside one."""
    two = measure(ctx.bootstrap, events=events, workdir=ctx.workdir, workers=2,
                  say=lambda text: progress(f"aggregator: {text}"))
    return Figure(
        name="aggregator 2 workers vs 1", value=two["rate"], unit="events/s", baseline=one["rate"],
        goal="≥ 1.7 × 1 worker", met=two["rate"] >= 1.7 * one["rate"],
        detail=(f"two worker processes in one consumer group, a data directory each, on a fresh backlog of "
                f"{two['events']:,} events in {two['partitions']} partitions, events/s from the first counted event "
                f"until both count every event together; baseline = one worker, measured just before on the same "
                f"sizes. On a 2-core machine the broker, the bench and both workers share the cores: events per "
                f"CPU-second of the workers {two['per_cpu_s']:,.0f} with two, {one['per_cpu_s']:,.0f} with one "
                f"({two['per_cpu_s'] / one['per_cpu_s']:.2f} of it per core, so two workers on cores of their own "
                f"would do up to {2 * two['per_cpu_s'] / one['per_cpu_s']:.2f}× one)"),
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=60_000)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--workers", type=int, nargs="+", default=[1],
                        help="worker counts to measure one after the other, each on a fresh topic (e.g. 1 2)")
    parser.add_argument("--engine-off", action="store_true",
                        help="then one worker whose engine does nothing, on a fresh topic: Faust's own ceiling")
    args = parser.parse_args()
    broker = None
    bootstrap = os.environ.get("DESKPULSE_KAFKA_BOOTSTRAP")
    if not bootstrap:
        settings = Settings()
        broker = LocalKafka(settings.kafka_version, settings.cache_dir, Path(tempfile.mkdtemp()), free_port(), free_port())
        broker.start()
        bootstrap = broker.bootstrap
    try:
        rates = {}
        for workers in args.workers:
            rates[workers] = measure(bootstrap, events=args.events, partitions=args.partitions, workers=workers)["rate"]
        if len(rates) > 1:
            one = rates[min(rates)]
            print("scale-out: " + ", ".join(f"{w} workers {r:,.0f} events/s ({r / one:.2f}×)" for w, r in rates.items()))
        if args.engine_off:
            off = measure(bootstrap, events=args.events, partitions=args.partitions, engine_off=True)["rate"]
            one = rates[min(rates)]
            print(f"one worker {one:,.0f} events/s, its engine off {off:,.0f} events/s: the engine's share "
                  f"{1 - one / off:.0%} of the worker's time per event ({1e6 / one:,.0f} µs; Faust's path and parsing "
                  f"{1e6 / off:,.0f} µs)")
    finally:
        if broker is not None:
            broker.stop()


if __name__ == "__main__":
    main()
