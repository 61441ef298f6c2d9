"""``/metrics`` render time in process: ``render`` over a large read model, cold, warm and after changes.

    .venv/bin/python bench/metrics_render.py [--queues 1000] [--agents 10000] [--module services.api.metrics]

Builds a read model of ``--queues`` queues and ``--agents`` agents, four partition partials each (the totals and
le counters of ``bench/api.py``), with what the staffing forecast and the outlier judgements read: live minutes
(answered, abandoned, handled) on 3 queues in 5, day buckets on every queue, one ``queue_agent`` scope per agent
and three ``queue_category`` scopes per queue; plus 20 issue categories and the platforms' presence. Then times
``render`` in CPU time (the render thread's work; the views are merged before timing):

- cold: fresh views, nothing cached;
- warm: the same views again (median of ``--warm`` scrapes);
- churn: ``--churn`` random scopes replaced (queues, agents, light scopes), then one scrape (median of 5 rounds);
- minute: the wall clock a minute on, so every queue's staffing window moves (median of 3);

and counts the Erlang C forecasts and outlier judgements each kind of scrape computed. ``--module`` picks the
renderer (a dotted module, or a path to a ``.py`` file: an older ``metrics.py`` to compare with). ``--check
OTHER`` renders the same model with both and fails unless the bytes are equal at every step. Prints figures.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import random
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.api import PLATFORMS, _counters  # noqa: E402

T0 = 1_795_000_000_000
NOW = T0 + 10 * 3_600_000 + 30_000
MINUTE, QUARTER, DAY = 60_000, 900_000, 86_400_000
WALL = NOW + 5_000


def load(module: str):
    """The renderer module: dotted, or a ``.py`` file loaded under a name of its own."""
    if module.endswith(".py"):
        spec = importlib.util.spec_from_file_location(f"_bench_metrics_{abs(hash(module))}", module)
        found = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = found  # dataclasses look their module up
        spec.loader.exec_module(found)
        return found
    return importlib.import_module(module)


def records(queues: int, agents: int, partitions: int = 4, seed: int = 1) -> list[tuple[bytes, bytes]]:
    """Every snapshot record of the model, in the order the API would read them."""
    from services.domain.scopes import light_scope
    from tests.support.partials import encoded

    rng = random.Random(seed)
    today = NOW - NOW % DAY
    out = []

    def put(scope, partition=0, **kw):
        out.append(encoded(scope, partition, stream_ms=NOW, published_ms=WALL, **kw))

    def day(scale):
        resolved = rng.randint(0, scale)
        return {"resolved": resolved, "complaints": rng.randint(0, resolved // 4 + 1), "reopened": rng.randint(0, 3),
                "fr_count": resolved, "fr_ms": resolved * rng.randint(30_000, 900_000)}

    for q in range(queues):
        platform = PLATFORMS[q % len(PLATFORMS)]
        live_queue = q % 5 < 3
        for p in range(partitions):
            minutes = {NOW - NOW % MINUTE - i * MINUTE: (
                {"answered": rng.randint(0, 6), "abandoned": rng.randint(0, 1), "handled": rng.randint(1, 6),
                 "handle_ms": rng.randint(60_000, 600_000)} if live_queue else {"created": rng.randint(0, 3)})
                for i in range(0, 61)}
            quarters = {NOW - NOW % QUARTER - i * QUARTER: {"created": rng.randint(0, 9)} for i in range(0, 96, 4)}
            put(f"queue/{platform}/queue-{q}", p, totals=_counters(rng, 200), minutes=minutes, quarters=quarters,
                days={today - i * DAY: day(40) for i in range(15)},
                live={"open": rng.randint(0, 30), "waiting": rng.randint(0, 5), "sla_running": rng.randint(0, 9),
                      "in_queue": rng.randint(0, 2) if live_queue else 0,
                      "oldest_waiting_created_ms": NOW - rng.randint(0, 3_600_000)})
        for c in range(3):
            put(light_scope("queue_category", platform, f"queue-{q}", f"cat-{c}"),
                days={today - i * DAY: day(20) for i in range(15)})
    for a in range(agents):
        platform = PLATFORMS[a % len(PLATFORMS)]
        for p in range(partitions):
            agent = {"state": rng.choice(["available", "busy", "away", "offline"]),
                     "since_ms": NOW - rng.randint(0, 3_600_000), "raw_state": "x"} if p == 0 else None
            totals = _counters(rng, 20)
            totals.update({"replies@email": rng.randint(0, 9), "replies@chat": rng.randint(0, 9)})
            put(f"agent/{platform}/agent-{a}", p, totals=totals, live={"open": rng.randint(0, 4)}, agent=agent)
        # the agent works in one queue of its platform
        queue = (a // len(PLATFORMS)) % max(1, queues // len(PLATFORMS)) * len(PLATFORMS) + a % len(PLATFORMS)
        put(light_scope("queue_agent", platform, f"queue-{queue}", f"agent-{a}"),
            days={today - i * DAY: day(30) for i in range(15)})
    for c in range(20):
        put(f"category/cat-{c}", totals=_counters(rng, 500), live={"open": rng.randint(0, 30)})
    for platform in PLATFORMS:
        for p in range(partitions):
            put(f"platform/{platform}", p, totals=_counters(rng, 5000),
                live={"agents_available": agents // 40, "agents_busy": agents // 40})
    for p in range(partitions):
        put("all", p, totals=_counters(rng, 20000), live={"open": 900})
    return out


def model_of(recs):
    from services.api.readmodel import ReadModel
    from services.common.clock import FixedClock

    model = ReadModel(clock=FixedClock(WALL))
    for key, value in recs:
        model.apply(key, value)
    model.caught_up = True
    return model


def churned(model, recs, rng: random.Random, n: int) -> list[tuple[bytes, bytes]]:
    """``n`` random scopes' first partial, replaced by a copy with one more contact created."""
    out = []
    for key, value in rng.sample(recs, n):
        partial = json.loads(value)
        partial["totals"] = dict(partial["totals"], created=partial["totals"].get("created", 0) + 1)
        for bucket in partial["days"].values():
            bucket["resolved"] = bucket.get("resolved", 0) + 1
        new = json.dumps(partial).encode()
        model.apply(key, new)
        out.append((key, new))
    return out


class Counting:
    """Counts calls of the Erlang C forecast and of the outlier judgement while installed."""

    def __init__(self) -> None:
        self.erlang = self.judge = 0
        self._undo = []

    def install(self) -> Counting:
        from services.api import outliers
        from services.domain import erlang

        for module, name, attr in ((erlang, "forecast", "erlang"), (outliers, "judge", "judge")):
            original = getattr(module, name)

            def counted(*a, _f=original, _attr=attr, **kw):
                setattr(self, _attr, getattr(self, _attr) + 1)
                return _f(*a, **kw)

            setattr(module, name, counted)
            self._undo.append((module, name, original))
        return self

    def take(self) -> tuple[int, int]:
        out = (self.erlang, self.judge)
        self.erlang = self.judge = 0
        return out


def health(metrics, wall_ms: int):
    return metrics.Health(ready=True, stale_seconds=1.0, stream_ms=NOW, wall_s=wall_ms / 1000)


def timed(fn) -> tuple[float, object]:
    """(CPU seconds of this process, result): CPU time, so that other work on a shared machine counts less."""
    start = time.process_time()
    out = fn()
    return time.process_time() - start, out


def measure(args) -> None:
    from services.api.staffing import StaffingConfig

    metrics = load(args.module)
    staffing = StaffingConfig()
    recs = records(args.queues, args.agents)
    model = model_of(recs)
    views = model.views()
    counts = Counting().install()
    print(f"{args.module}: {args.queues} queues, {args.agents} agents, {len(views)} views")
    cold_s, body = timed(lambda: metrics.render(views, health(metrics, WALL), staffing))
    print(f"cold   {cold_s * 1000:8.1f} ms  {len(body) / 1e6:.1f} MB  forecasts, judgements: {counts.take()}")
    warm = [timed(lambda: metrics.render(views, health(metrics, WALL), staffing))[0] for _ in range(args.warm)]
    print(f"warm   {statistics.median(warm) * 1000:8.1f} ms  (min {min(warm) * 1000:.1f}, max {max(warm) * 1000:.1f})"
          f"  forecasts, judgements: {counts.take()}")
    rng = random.Random(3)
    times, computed = [], []
    for _ in range(5):
        churned(model, recs, rng, args.churn)
        views = model.views()
        times.append(timed(lambda views=views: metrics.render(views, health(metrics, WALL), staffing))[0])
        computed.append(counts.take())
    print(f"churn  {statistics.median(times) * 1000:8.1f} ms  ({args.churn} scopes changed; merges not timed)"
          f"  forecasts, judgements: {computed}")
    times, computed = [], []
    for i in range(1, 4):
        times.append(timed(lambda i=i: metrics.render(views, health(metrics, WALL + i * MINUTE), staffing))[0])
        computed.append(counts.take())
    print(f"minute {statistics.median(times) * 1000:8.1f} ms  (wall clock a minute on)"
          f"  forecasts, judgements: {computed}")


def check(args) -> None:
    """Both renderers over identical models (separate views: each caches on its own) at every step."""
    from services.api.staffing import StaffingConfig

    mine, other = load(args.module), load(args.check)
    staffing = StaffingConfig()
    recs = records(args.queues, args.agents)
    models = [model_of(recs), model_of(recs)]
    rngs = [random.Random(3), random.Random(3)]

    def same(label: str, wall_ms: int) -> None:
        a = mine.render(models[0].views(), health(mine, wall_ms), staffing)
        b = other.render(models[1].views(), health(other, wall_ms), staffing)
        if a != b:
            raise SystemExit(f"{label}: renders differ ({len(a)} and {len(b)} bytes)")
        print(f"{label}: equal ({len(a)} bytes)")

    same("cold", WALL)
    same("warm", WALL)
    for step in range(3):
        for model, rng in zip(models, rngs):
            churned(model, recs, rng, args.churn)
        same(f"churn {step + 1}", WALL)
    same("minute on", WALL + MINUTE)
    same("a day on", WALL + DAY)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--queues", type=int, default=1000)
    parser.add_argument("--agents", type=int, default=10_000)
    parser.add_argument("--warm", type=int, default=9)
    parser.add_argument("--churn", type=int, default=100)
    parser.add_argument("--module", default="services.api.metrics")
    parser.add_argument("--check", default=None, help="another renderer whose bytes must equal --module's")
    args = parser.parse_args()
    (check if args.check else measure)(args)


if __name__ == "__main__":
    main()
