"""In-process aggregator engine figures: events/s, memory per open contact, partial snapshot sizes.

    .venv/bin/python bench/engine.py [--contacts 20000]

No Kafka: this measures the engine's own cost (the Faust worker adds decoding, the changelog and commits;
`bench/aggregator_kafka.py` measures that).
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import time
import tracemalloc

from services.aggregator.engine import Engine
from services.common.events import parse_event
from services.demo.synthetic import agent_shifts, history

T0 = 1_795_000_000_000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--contacts", type=int, default=20_000)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--publish-every", type=int, default=0, metavar="EVENTS",
                        help="also drain the partial snapshots every so many events, as the worker publishes, and "
                        "count that CPU in (default 0: only once, after the timed part)")
    args = parser.parse_args()

    rng = random.Random(1)
    docs = history(rng, T0, args.contacts, mean_gap_ms=3_000)
    docs += agent_shifts(rng, T0, T0 + args.contacts * 3_000)
    docs.sort(key=lambda d: d["occurred_at"])
    events = [parse_event(d) for d in docs]
    engine = Engine({})
    every = args.publish_every or len(events)
    drain_cpu = 0.0
    started, cpu_started = time.perf_counter(), time.process_time()
    for i, e in enumerate(events, 1):
        engine.handle(hash(e.kafka_key) % args.partitions, e, e.occurred_ms)
        if i % every == 0 and i < len(events):
            drained = time.process_time()
            engine.drain(e.occurred_ms)
            drain_cpu += time.process_time() - drained
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    # CPU time as well as wall time: on a shared machine the CPU figure is the one that compares across runs.
    print(f"engine: {len(events)} events in {seconds:.2f} s = {len(events) / seconds:,.0f} events/s (one core); "
          f"{len(events) / cpu:,.0f} events per CPU-second, {cpu / len(events) * 1e6:.1f} µs each"
          + (f", of which {drain_cpu / len(events) * 1e6:.1f} µs publishing (partials drained every {every:,} events)"
             if args.publish_every else ""))

    batch = engine.drain(events[-1].occurred_ms)
    sizes = sorted(len(v) for _, v in batch)
    biggest = max(batch, key=lambda kv: len(kv[1]))
    print(f"partials: {len(batch)}; median {sizes[len(sizes) // 2]:,} B, max {sizes[-1]:,} B ({biggest[0].decode()})")

    # memory of open contacts: records held in the table plus derived aggregates, per 1,000 open contacts
    gc.collect()
    tracemalloc.start()
    fresh = Engine({})
    open_docs = history(random.Random(2), T0, 5_000, mean_gap_ms=1_000)
    opened = [parse_event(d) for d in open_docs if d["type"] in ("contact.created", "contact.message", "contact.assigned")]
    before = tracemalloc.take_snapshot()
    for e in opened:
        fresh.handle(hash(e.kafka_key) % args.partitions, e, e.occurred_ms)
    after = tracemalloc.take_snapshot()
    used = sum(s.size_diff for s in after.compare_to(before, "filename"))
    open_now = sum(1 for r in fresh.table.values() if r.get("kind") != "agent")
    changelog = sum(len(json.dumps(r)) for r in fresh.table.values())
    print(f"state: {open_now} open contacts use {used / 1e6:.1f} MB in memory = {used / open_now * 1000 / 1e6:.2f} MB "
          f"per 1,000 open contacts; changelog values {changelog / open_now * 1000 / 1e6:.2f} MB per 1,000")

    # agents: two days of presence changes every ~15 minutes (what an agent record keeps at most)
    agents = Engine({})
    shifts = [parse_event(d) for d in agent_shifts(random.Random(4), T0, T0 + 2 * 86_400_000)]
    n_agents = len({e.agent_id for e in shifts})
    gc.collect()
    before = tracemalloc.take_snapshot()
    for e in shifts:
        agents.handle(hash(e.kafka_key) % args.partitions, e, e.occurred_ms)
    after = tracemalloc.take_snapshot()
    used = sum(s.size_diff for s in after.compare_to(before, "filename"))
    changelog = sum(len(json.dumps(r)) for r in agents.table.values())
    print(f"agents: {n_agents} agents with {len(shifts) / n_agents:.0f} state changes each over 2 days use "
          f"{used / n_agents / 1e3:.0f} kB each in memory (records and time-in-state buckets); "
          f"changelog {changelog / n_agents / 1e3:.1f} kB each")

    # presence alone: three days of state changes (records pruned to two days), CPU per change
    tracemalloc.stop()
    presence = [parse_event(d) for d in agent_shifts(random.Random(4), T0, T0 + 3 * 86_400_000)]
    presence.sort(key=lambda e: e.occurred_ms)
    timed = Engine({})
    cpu_started = time.process_time()
    for e in presence:
        timed.handle(hash(e.kafka_key) % args.partitions, e, e.occurred_ms)
    cpu = time.process_time() - cpu_started
    print(f"presence: {len(presence)} state changes over 3 days, {cpu / len(presence) * 1e6:.0f} µs of CPU each")


if __name__ == "__main__":
    main()
