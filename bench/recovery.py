"""Recovery: the aggregator SIGKILLed holding 1,000,000 events of state, restarted: how long until the API
serves correct figures again.

    .venv/bin/python bench/recovery.py [--quick] [--events 1000000] [--delta 2000]

Real processes on one broker (one aggregator worker, the API; default settings, 4 partitions). The worker runs as
the Kubernetes manifests run it, a static group member under a stable name (``DESKPULSE_AGGREGATOR_INSTANCE_ID``,
restarted under the same name); ``--env DESKPULSE_AGGREGATOR_INSTANCE_ID=`` measures dynamic membership:

1. Synthetic contact lifecycles (``services.demo.synthetic.lifecycle``: created, queued, assigned, messages,
   status changes, ratings; ~5 events per contact) arriving over the last 36 h, and the synthetic agents'
   presence, in event-time order, written straight to the events topic keyed as ingest keys them (the
   cheapest load: no HTTP) — all but the last ``--delta`` events. The batch recomputation
   (``tests/support/recompute.py``) of every event is summed contact by contact while they are generated.
2. Wait until the aggregator counted them (``deskpulse_aggregator_events_total``); SIGKILL it.
3. While it is down, the last ``--delta`` events arrive (new contacts and later events of known ones), so
   correct figures need both the restored state and the new events.
4. Restart the worker; poll every 0.5 s until every scope the recomputation has (``all``, each platform,
   queue and agent: counters of window ``all``, open, waiting, oldest waiting) equals it on the API.

Reported: restart → correct figures (goal ≤ 30 s), with the moments the worker's log says its table recovery
completed and its aggregates were rebuilt; the load time; the size of the contact table's changelog.
"""

from __future__ import annotations

import argparse
import asyncio
import heapq
import itertools
import os
import random
import signal
import sys
import time
from collections import deque
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import httpx  # noqa: E402

from bench._stack import MiB, Profile, Stack, aggregator_counts, end_offsets, mib, produce, wait_counted  # noqa: E402
from bench.common import BenchContext, Figure, context_for_cli, print_figures, progress  # noqa: E402
from services.common.events import to_epoch_ms  # noqa: E402
from services.demo.synthetic import QUEUES, agent_shifts, lifecycle  # noqa: E402
from tests.support import recompute  # noqa: E402

GOAL_S = 30.0
SPAN_MS = 36 * 3_600_000
EVENTS_PER_CONTACT = 4.5  # synthetic lifecycles average ~4.85 events (after dropping future ones): n is reached before now


class Expected:
    """The recomputation of every generated event, summed contact chunk by contact chunk (a contact's facts
    depend only on its own events, so sums of chunks equal the whole)."""

    def __init__(self) -> None:
        self.counters: dict[str, dict[str, int]] = {}
        self.gauges: dict[str, dict] = {}
        self.chunk: list[dict] = []

    def add(self, docs: list[dict]) -> None:
        self.chunk.extend(docs)
        if len(self.chunk) >= 50_000:
            self.flush()

    def flush(self) -> None:
        if not self.chunk:
            return
        for scope, counters in recompute.figures(self.chunk).items():
            target = self.counters.setdefault(scope, {})
            for name, value in counters.items():
                target[name] = target.get(name, 0) + value
        for scope, gauges in recompute.live(self.chunk).items():
            target = self.gauges.setdefault(scope, dict.fromkeys(("open", "waiting", "unassigned", "pending",
                                                                  "on_hold", "in_queue"), 0))
            for name, value in gauges.items():
                if name.endswith("_ms"):
                    if value is not None and (target.get(name) is None or value < target[name]):
                        target[name] = value
                    else:
                        target.setdefault(name, None)
                else:
                    target[name] = target.get(name, 0) + value
        self.chunk = []


def events(n: int, now_ms: int, expected: Expected, seed: int = 11) -> Iterator[dict]:
    """About ``n`` canonical documents in event-time order, none after ``now_ms``."""
    rng = random.Random(seed)
    counter = itertools.count(1)
    start = now_ms - SPAN_MS
    gap = SPAN_MS / (n / EVENTS_PER_CONTACT)
    heap: list[tuple[int, int, dict]] = []
    seq = itertools.count()
    for doc in agent_shifts(rng, start, now_ms):
        heapq.heappush(heap, (to_epoch_ms(doc["occurred_at"]), next(seq), doc))
    emitted, generated, t, c = 0, len(heap), start, 0
    while generated < n:
        t += rng.expovariate(1 / gap)
        if t > now_ms:
            break
        platform = rng.choice(list(QUEUES))
        docs = [d for d in lifecycle(rng, counter, int(t), platform, f"r{c:07d}")
                if to_epoch_ms(d["occurred_at"]) <= now_ms]
        c += 1
        expected.add(docs)
        generated += len(docs)
        for doc in docs:
            heapq.heappush(heap, (to_epoch_ms(doc["occurred_at"]), next(seq), doc))
        while heap and heap[0][0] <= t:
            emitted += 1
            yield heapq.heappop(heap)[2]
    expected.flush()
    while heap:
        yield heapq.heappop(heap)[2]


def split(docs: Iterator[dict], delta: int, held: deque) -> Iterator[dict]:
    """All but the last ``delta`` documents; those stay in ``held``."""
    for doc in docs:
        held.append(doc)
        if len(held) > delta:
            yield held.popleft()


def scope_path(scope: str) -> str | None:
    kind, _, rest = scope.partition("/")
    return {"all": "/v1/summary", "platform": f"/v1/platforms/{rest}", "queue": f"/v1/queues/{rest}",
            "agent": f"/v1/agents/{rest}", "account": f"/v1/accounts/{rest}"}.get(kind)


def wrong_scopes(client: httpx.Client, api_url: str, expected: Expected) -> list[str]:
    from tests.e2e.test_pipeline import api_figures, expected_body

    wrong = []
    for scope in sorted(set(expected.counters) | set(expected.gauges)):
        path = scope_path(scope)
        if path is None:
            continue
        response = client.get(f"{api_url}{path}")
        want = expected_body(expected.counters.get(scope, {}), expected.gauges.get(scope))
        if response.status_code != 200 or api_figures(response.json()) != want:
            wrong.append(scope)
    return wrong


async def _changelog_bytes(bootstrap: str, topic: str, partitions: int, timeout_s: float = 600) -> tuple[int, int, int]:
    """Records, bytes (keys + values) and distinct keys of a topic, read from the beginning to its end offsets.
    Read to the offsets, not to a count: compaction leaves fewer records than offsets."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                                max_partition_fetch_bytes=8 * MiB)
    await consumer.start()
    seen = size = 0
    keys: set[bytes] = set()
    deadline = time.monotonic() + timeout_s
    try:
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        left = {tp for tp in tps if ends[tp] > 0}
        while left and time.monotonic() < deadline:
            for tp, records in (await consumer.getmany(*left, timeout_ms=1000, max_records=10_000)).items():
                for record in records:
                    seen += 1
                    size += len(record.value or b"") + len(record.key or b"")
                    keys.add(record.key)
            left = {tp for tp in left if await consumer.position(tp) < ends[tp]}
    finally:
        await consumer.stop()
    return seen, size, len(keys)


def run(ctx: BenchContext, n: int | None = None, delta: int = 2_000,
        extra_env: dict[str, str] | None = None) -> list[Figure]:
    n = n or (100_000 if ctx.quick else 1_000_000)
    env = {"DESKPULSE_AGGREGATOR_INSTANCE_ID": "bench-aggregator-0", **(extra_env or {})}
    if not env["DESKPULSE_AGGREGATOR_INSTANCE_ID"]:
        del env["DESKPULSE_AGGREGATOR_INSTANCE_ID"]  # `--env DESKPULSE_AGGREGATOR_INSTANCE_ID=`: dynamic membership
    membership = "static" if "DESKPULSE_AGGREGATOR_INSTANCE_ID" in env else "dynamic"
    stack = Stack(ctx.bootstrap, ctx.workdir, prefix="recovery", extra_env=env)
    expected = Expected()
    held: deque = deque()
    figures: list[Figure] = []
    try:
        stack.ensure_topics()
        stack.start("aggregator", "api")
        now_ms = int(time.time() * 1000)
        started = time.monotonic()
        loaded, size, produce_s = produce(ctx.bootstrap, stack.events_topic, split(events(n, now_ms, expected),
                                                                                   delta, held))
        contacts = expected.counters.get("all", {}).get("created", 0)
        progress(f"recovery: {loaded:,} events ({size / MiB:,.0f} MiB, {contacts:,} contacts) written in "
                 f"{produce_s:.0f} s (with the recomputation); {len(held):,} held back; waiting for the aggregator")
        waited, steady = wait_counted(stack, loaded, timeout_s=max(3600.0, loaded / 50))
        load_s = time.monotonic() - started
        progress(f"recovery: aggregator counted {loaded:,} events {load_s:.0f} s after the load began "
                 f"({loaded / load_s:,.0f} events/s)")
        time.sleep(2.0)  # a few snapshot intervals: the state before the kill is published
        aggregator = stack.services["aggregator"]
        before_kill = stack.memory()["aggregator"]
        counts_before = aggregator_counts(stack.aggregator_metrics_url)
        os.kill(aggregator.pid, signal.SIGKILL)
        aggregator.process.wait(30)
        changelog_topic = f"{stack.app_id}-contacts-changelog"
        changelog_n = end_offsets(ctx.bootstrap, changelog_topic)

        extra, extra_size, _ = produce(ctx.bootstrap, stack.events_topic, list(held))
        log_path = ctx.workdir / "logs" / "aggregator.log"
        log_offset = log_path.stat().st_size if log_path.exists() else 0
        with httpx.Client(timeout=30) as client:
            wrong_at_kill = len(wrong_scopes(client, stack.api_url, expected))
            restart = time.monotonic()
            stack.start("aggregator", wait=False)
            profile = Profile(stack.pid("aggregator"), ctx.workdir / "profile-aggregator-restart.txt").__enter__()
            marks: dict[str, float] = {}
            wrong: list[str] = []
            last_check = 0.0
            give_up_s = max(600.0, loaded / 500)  # the goal is 30 s; past it, still measure how long it takes
            while time.monotonic() - restart < give_up_s:
                now = time.monotonic()
                text = log_path.read_text(errors="replace")[log_offset:] if log_path.exists() else ""
                for mark, needle in (("joined group", "Joined group"), ("recovery complete", "Recovery complete"),
                                     ("local state loaded", "local state:"),
                                     ("aggregates rebuilt", "rebuilt aggregates")):
                    if mark not in marks and needle in text:
                        marks[mark] = now - restart
                if "metrics up" not in marks and _metrics_up(stack.aggregator_metrics_url):
                    marks["metrics up"] = now - restart
                if "metrics up" in marks and "counted the new events" not in marks \
                        and sum(aggregator_counts(stack.aggregator_metrics_url).values()) >= extra:
                    marks["counted the new events"] = now - restart
                if not stack.services["aggregator"].running:
                    raise RuntimeError(f"restarted aggregator exited:\n{stack.log_tail('aggregator')}")
                if now - last_check >= 0.5:
                    last_check = now
                    wrong = wrong_scopes(client, stack.api_url, expected)
                    if not wrong:
                        marks["correct"] = time.monotonic() - restart
                        break
                time.sleep(0.1)
            profile.__exit__(None, None, None)
        if profile.enabled:
            progress(f"recovery: aggregator profile from restart to correct ({profile.path}): {profile.summary()}")
        after = stack.memory().get("aggregator", (0, 0))
        correct_s = marks.get("correct", float("nan"))
        progress(f"recovery: restart → correct figures {correct_s:.1f} s; marks "
                 + ", ".join(f"{k} {v:.1f} s" for k, v in marks.items()))
        counted_after = sum(aggregator_counts(stack.aggregator_metrics_url).values())
        cl_seen, cl_bytes, cl_keys = asyncio.run(_changelog_bytes(ctx.bootstrap, changelog_topic, stack.partitions))
        scopes = len([s for s in set(expected.counters) | set(expected.gauges) if scope_path(s)])
        what_if = f" [what-if: services ran with {extra_env}]" if extra_env else ""
        state = (f"{loaded:,} events of state ({contacts:,} contacts, synthetic lifecycles over 36 h, plus agent "
                 f"presence), {extra:,} more written while the worker was down")
        figures += [
            Figure(name="recovery restart → correct figures", value=correct_s, unit="s", goal=f"≤ {GOAL_S:.0f} s",
                   met=correct_s <= GOAL_S if "correct" in marks else False,
                   detail=(f"{state}; SIGKILL after the worker counted every event, restart, then every 0.5 s all "
                           f"{scopes} scopes compared with tests/support/recompute.py ({wrong_at_kill} differed "
                           f"at the restart{'' if 'correct' in marks else f'; still wrong after {give_up_s:.0f} s: {wrong[:5]}'})"
                           f"; from the restart: " + ", ".join(f"{k} {v:.1f} s" for k, v in marks.items())
                           + f"; the new worker counted {counted_after:,.0f} events (re-read after the last commit, "
                           f"deduplicated, plus the new ones); aggregator VmRSS {mib(before_kill[0])} before the kill, "
                           f"{mib(after[0])} after recovery; changelog {changelog_n:,} records; {membership} group "
                           f"membership{what_if}")),
            Figure(name="recovery changelog size", value=cl_bytes / MiB, unit="MiB", goal="", met=None,
                   detail=f"{changelog_topic}: {changelog_n:,} records at the kill ({cl_seen:,} read back, "
                          f"{cl_keys:,} distinct keys: compaction can shrink it to that), keys + values "
                          f"{cl_bytes / MiB:,.0f} MiB ({cl_bytes / max(cl_seen, 1):,.0f} B per record)"),
            Figure(name="recovery load time", value=load_s, unit="s", goal="", met=None,
                   detail=f"{loaded:,} events ({size / MiB:,.0f} MiB JSON) written straight to the events topic in "
                          f"{produce_s:.0f} s (generation and recomputation included); the aggregator counted all "
                          f"{load_s:.0f} s after the load began ({loaded / load_s:,.0f} events/s; "
                          f"{loaded / steady if steady else float('nan'):,.0f} events/s from its first count); "
                          f"counts {dict((k, int(v)) for k, v in counts_before.items())}"),
        ]
    finally:
        stack.stop()
    return figures


def _metrics_up(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--events", type=int, default=None)
    parser.add_argument("--delta", type=int, default=2_000)
    parser.add_argument("--env", action="append", default=[], metavar="KEY=VALUE",
                        help="extra environment for the services (what-if runs, e.g. BROKER_SESSION_TIMEOUT=10)")
    args = parser.parse_args()
    with context_for_cli(args.quick) as ctx:
        print_figures(run(ctx, args.events, args.delta, dict(e.split("=", 1) for e in args.env)))


if __name__ == "__main__":
    main()
