"""In-process cost of ``Engine.rebuild``: the aggregates recomputed from a restored table after a restart.

    .venv/bin/python bench/rebuild.py [--contacts 20000] [--sla-config deploy/sla.example.yaml] [--profile out.prof]

No Kafka: builds the engine state of ``--contacts`` synthetic contacts (plus agent shifts) with ``Engine.handle``
like ``bench/engine.py``, takes its table (what changelog recovery gives a restarted worker), times
``Engine.rebuild`` on a fresh ``Engine`` over it (wall and CPU time; on a shared machine compare the CPU
figures), and checks that every partial snapshot of the rebuilt engine equals the incrementally built one.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from services.aggregator.engine import Engine  # noqa: E402
from services.aggregator.kpiconfig import DefaultConfig, SlaKpiConfig  # noqa: E402
from services.domain.slaconfig import SlaConfig  # noqa: E402
from services.common.events import parse_event  # noqa: E402
from services.demo.synthetic import agent_shifts, history  # noqa: E402

T0 = 1_795_000_000_000


def build(contacts: int, partitions: int, gap_ms: int, config) -> tuple[Engine, int]:
    """The incrementally built engine (events handled in time order, wall clock = event time) and the last time."""
    rng = random.Random(1)
    docs = history(rng, T0, contacts, mean_gap_ms=gap_ms)
    docs += agent_shifts(rng, T0, T0 + contacts * gap_ms)
    docs.sort(key=lambda d: d["occurred_at"])
    engine = Engine({}, config=config)
    last = T0
    for d in docs:
        e = parse_event(d)
        engine.handle(hash(e.kafka_key) % partitions, e, e.occurred_ms)
        last = max(last, e.occurred_ms)
    return engine, last


def differences(a: Engine, b: Engine, wall_ms: int) -> list[str]:
    """Scopes whose partial snapshots differ between two engines (after expiring both at the same stream time)."""
    out = []
    if set(a.partitions) != set(b.partitions):
        return [f"partitions {sorted(a.partitions)} != {sorted(b.partitions)}"]
    for p in sorted(a.partitions):
        pa, pb = a.partitions[p], b.partitions[p]
        stream_ms = max(pa.clock.now(wall_ms) or 0, pb.clock.now(wall_ms) or 0)
        pa.aggregates.expire(stream_ms)
        pb.aggregates.expire(stream_ms)
        for scope in sorted(pa.aggregates.scopes.keys() | pb.aggregates.scopes.keys()):
            sa = pa.aggregates.snapshot(scope, stream_ms, wall_ms)
            sb = pb.aggregates.snapshot(scope, stream_ms, wall_ms)
            if sa != sb:
                out.append(f"{scope}#{p}")
        if pa.agent_scopes != pb.agent_scopes:
            out.append(f"agent scopes of partition {p}")
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--contacts", type=int, default=20_000)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--gap-ms", type=int, default=3_000, help="mean time between contacts")
    parser.add_argument("--sla-config", help="an SLA config (e.g. deploy/sla.example.yaml): clocks, categories, days")
    parser.add_argument("--repeat", type=int, default=1, help="time the rebuild this many times")
    parser.add_argument("--profile", help="write a cProfile of one rebuild to this file")
    args = parser.parse_args()

    config = SlaKpiConfig(SlaConfig.load(args.sla_config)) if args.sla_config else DefaultConfig()
    started = time.perf_counter()
    engine, last = build(args.contacts, args.partitions, args.gap_ms, config)
    table = dict(engine.table)
    contacts = sum(1 for r in table.values() if "c" in r)
    print(f"state: {len(table):,} records ({contacts:,} contacts) built in {time.perf_counter() - started:.1f} s")

    active = set(range(args.partitions))
    for _ in range(args.repeat):
        restored = Engine(dict(table), config=config)
        gc.collect()
        wall, cpu = time.perf_counter(), time.process_time()
        restored.rebuild(active, last)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        print(f"rebuild: {len(table):,} records in {wall:.2f} s wall, {cpu:.2f} s CPU = "
              f"{contacts / cpu:,.0f} contacts per CPU-second, {cpu / contacts * 1000:.3f} ms CPU per contact")

    if args.profile:
        restored = Engine(dict(table), config=config)
        cProfile.runctx("restored.rebuild(active, last)", globals(), locals(), args.profile)
        print(f"profile: {args.profile}")

    wrong = differences(engine, restored, last)
    if wrong:
        print(f"MISMATCH: {len(wrong)} partials differ from the incremental state, e.g. {wrong[:5]}")
        sys.exit(1)
    scopes = sum(len(p.aggregates.scopes) for p in restored.partitions.values())
    print(f"check: all {scopes:,} partials equal the incremental state")


if __name__ == "__main__":
    main()
