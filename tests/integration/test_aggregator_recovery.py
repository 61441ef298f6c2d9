"""Kill the aggregator with SIGKILL mid-stream, restart it: the figures equal a recomputation.

Real processes, real broker. The restarted worker finds its contact table on its local disk (RocksDB, written
behind the changelog: localstate.py), restores the changelog written since, rebuilds its aggregates from the table
and re-reads the events after the last committed offset; deduplication on event ids makes that replay harmless.
"""

from __future__ import annotations

import asyncio
import random
import re
import signal
import time

import httpx
import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from services.demo.synthetic import agent_shifts, history
from tests.e2e.test_pipeline import api_figures, expected_body
from tests.support import recompute
from tests.support.pipeline import Pipeline

pytestmark = [pytest.mark.kafka, pytest.mark.e2e]
BASE = 1_795_000_000_000


def wait_for(client, url, want, timeout_s=90):
    deadline = time.monotonic() + timeout_s
    body = None
    while time.monotonic() < deadline:
        body = client.get(url).json()
        if api_figures(body) == want:
            return body
        time.sleep(0.5)
    return body


def topic_config(bootstrap: str, topic: str) -> dict[str, str]:
    async def describe():
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            [config] = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
            return {entry[0]: entry[1] for entry in config.resources[0][4]}
        finally:
            await admin.close()

    return asyncio.run(describe())


# Dynamic membership (the default), and static membership as the Kubernetes manifests run workers: the restarted
# worker rejoins under its old name and takes its partitions back from its dead self without a rebalance.
@pytest.mark.parametrize("instance_id", [None, "recovery-worker-0"], ids=["dynamic", "static"])
def test_sigkill_mid_stream_then_restart_gives_exact_figures(kafka_bootstrap, unique_names, tmp_path, instance_id):
    env = {"DESKPULSE_DEDUPE_CACHE_SIZE": "0"}
    if instance_id is not None:
        env["DESKPULSE_AGGREGATOR_INSTANCE_ID"] = instance_id  # names are per consumer group: one per test
    pipe = Pipeline(kafka_bootstrap, unique_names, tmp_path / "logs", extra_env=env)
    rng = random.Random(99)
    docs = history(rng, BASE, contacts=600, mean_gap_ms=6_000) + agent_shifts(rng, BASE, BASE + 3_600_000)
    delivered = docs + rng.sample(docs, len(docs) // 5)
    rng.shuffle(delivered)
    half = len(delivered) // 2
    try:
        pipe.start()
        with httpx.Client(timeout=10) as client:
            for start in range(0, half, 100):
                assert pipe.post(client, delivered[start:min(start + 100, half)]).status_code in (200, 202)
            # the worker is mid-way through the first half: some of it applied (and so on its disk), on a busy
            # machine too (a fixed second was sometimes before the worker had started)
            deadline = time.monotonic() + 60
            while client.get(f"{pipe.api_url}/v1/summary").json()["contacts"]["created"] == 0:
                assert time.monotonic() < deadline, "the aggregator applied nothing in 60 s"
                time.sleep(0.2)
            aggregator = pipe.services["aggregator"]
            aggregator.signal(signal.SIGKILL)
            aggregator.process.wait(10)
            for start in range(half, len(delivered), 100):
                assert pipe.post(client, delivered[start:start + 100]).status_code in (200, 202)
            pipe.start("aggregator")

            expected, gauges = recompute.figures(docs), recompute.live(docs)
            body = wait_for(client, f"{pipe.api_url}/v1/summary", expected_body(expected["all"], gauges.get("all")))
            # what the workers' logs say about their partitions, if the figures stayed short (it happened once)
            assert api_figures(body) == expected_body(expected["all"], gauges.get("all")), pipe.aggregator_notes()
            for scope, figures in expected.items():
                kind, platform, key = (scope.split("/", 2) + [None, None])[:3]
                if kind not in ("queue", "agent"):
                    continue
                body = client.get(f"{pipe.api_url}/v1/{kind}s/{platform}/{key}").json()
                assert api_figures(body) == expected_body(figures, gauges.get(scope)), scope
        # the restarted worker found its partitions' records on its own disk (only the changelog's tail replayed)
        restarted = (pipe.log_dir / "aggregator.log").read_text().split("Recovery complete")[-1]
        loaded = [int(n) for n in re.findall(r"local state: (\d+) records of partitions \[0, 1, 2\]", restarted)]
        assert loaded and loaded[0] > 0, restarted[-3000:]
        # what a full restore replays: the changelog is compacted, in segments short enough for compaction to run
        changelog = topic_config(kafka_bootstrap, f"{unique_names['DESKPULSE_AGGREGATOR_APP_ID']}-contacts-changelog")
        assert changelog["cleanup.policy"] == "compact" and changelog["segment.ms"] == "600000"
    finally:
        codes = pipe.stop()
        print(pipe.logs()[-2000:])
    assert codes["ingest"] == 0 and codes["api"] == 0 and codes["aggregator"] == 0
