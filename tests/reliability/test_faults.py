"""Faults under load, with real processes and a real broker: the figures stay exact.

- a second aggregator worker joins and later leaves mid-stream (two rebalances);
- the Kafka broker is stopped for 30 s under load and restarted: ingest answers 503 while it is down, and every
  event it acknowledged (2xx) is counted exactly once afterwards;
- an aggregator started before Kafka (containers starting together) waits for it, then counts everything.
"""

from __future__ import annotations

import random
import time

import httpx
import pytest

from services.common.localkafka import LocalKafka, free_port
from services.common.processes import Service
from services.common.settings import Settings
from services.demo.synthetic import agent_shifts, history
from tests.e2e.test_pipeline import api_figures, expected_body
from tests.support import recompute
from tests.support.pipeline import Pipeline

pytestmark = [pytest.mark.kafka, pytest.mark.e2e, pytest.mark.reliability]
BASE = 1_795_000_000_000


def wait_for_summary(client, api_url, want, timeout_s=120):
    deadline = time.monotonic() + timeout_s
    body = None
    while time.monotonic() < deadline:
        try:
            body = client.get(f"{api_url}/v1/summary").json()
        except httpx.HTTPError:
            body = None
        if body is not None and api_figures(body) == want:
            return body
        time.sleep(0.5)
    return body


def check_every_queue_and_agent(client, api_url, docs):
    expected, gauges = recompute.figures(docs), recompute.live(docs)
    body = wait_for_summary(client, api_url, expected_body(expected["all"], gauges.get("all")))
    assert api_figures(body) == expected_body(expected["all"], gauges.get("all"))
    for scope, figures in expected.items():
        kind, platform, key = (scope.split("/", 2) + [None, None])[:3]
        if kind in ("queue", "agent"):
            body = client.get(f"{api_url}/v1/{kind}s/{platform}/{key}").json()
            assert api_figures(body) == expected_body(figures, gauges.get(scope)), scope


def post_all(pipe, client, events, size=50):
    for start in range(0, len(events), size):
        response = pipe.post(client, events[start:start + size])
        assert response.status_code in (200, 202), response.text


def test_a_worker_joining_and_leaving_mid_stream_keeps_figures_exact(kafka_bootstrap, unique_names, tmp_path):
    pipe = Pipeline(kafka_bootstrap, unique_names, tmp_path / "logs", partitions=4,
                    extra_env={"DESKPULSE_DEDUPE_CACHE_SIZE": "0"})
    rng = random.Random(5)
    docs = history(rng, BASE, contacts=500, mean_gap_ms=6_000) + agent_shifts(rng, BASE, BASE + 3_000_000)
    delivered = docs + rng.sample(docs, len(docs) // 4)
    rng.shuffle(delivered)
    thirds = [delivered[i::3] for i in range(3)]
    second = None
    try:
        pipe.start()
        with httpx.Client(timeout=10) as client:
            post_all(pipe, client, thirds[0])
            # A worker of its own: its own data directory (two workers cannot share one).
            env2 = {**pipe.env, "DESKPULSE_DATA_DIR": str(pipe.log_dir / "data-2")}
            second = Service("aggregator-2", ["aggregator"], env2, pipe.log_dir / "aggregator-2.log")
            second.start()  # joins the group: partitions move to it
            time.sleep(8)
            post_all(pipe, client, thirds[1])
            time.sleep(4)
            assert second.stop() == 0  # leaves: its partitions move back
            post_all(pipe, client, thirds[2])
            check_every_queue_and_agent(client, pipe.api_url, docs)
    finally:
        if second is not None:
            second.stop()
        codes = pipe.stop()
        # On a failure, what the workers went through (this test has failed now and then with figures short).
        print(pipe.aggregator_notes())
    assert set(codes.values()) == {0}


def test_broker_down_for_30_s_under_load_loses_nothing_acknowledged(unique_names, tmp_path):
    settings = Settings()
    broker = LocalKafka(settings.kafka_version, settings.cache_dir, tmp_path / "kafka", free_port(), free_port())
    broker.start()
    pipe = Pipeline(broker.bootstrap, unique_names, tmp_path / "logs",
                    extra_env={"DESKPULSE_PUBLISH_TIMEOUT_S": "2", "DESKPULSE_DEDUPE_CACHE_SIZE": "0"})
    rng = random.Random(8)
    docs = history(rng, BASE, contacts=400, mean_gap_ms=6_000)
    acknowledged: list[dict] = []
    unavailable = 0
    try:
        pipe.start()
        with httpx.Client(timeout=10) as client:
            batches = [docs[i:i + 20] for i in range(0, len(docs), 20)]
            half = len(batches) // 2
            for batch in batches[:half]:
                response = pipe.post(client, batch)
                assert response.status_code == 202
                acknowledged.extend(batch)
            # the outage comes once the aggregator runs (a worker Kafka leaves while it starts exits for its
            # supervisor to restart it, which this pipeline does not do): its figures of the first half are in
            check_every_queue_and_agent(client, pipe.api_url, acknowledged)
            broker.stop()
            stopped_at = time.monotonic()
            pending = list(batches[half:])
            while time.monotonic() - stopped_at < 30:  # load continues while Kafka is away
                response = pipe.post(client, pending[0])
                if response.status_code == 202:
                    acknowledged.extend(pending.pop(0))
                else:
                    assert response.status_code == 503, response.text
                    assert "retry" in response.json()["detail"]
                    unavailable += 1
                time.sleep(0.5)
            assert unavailable > 0
            broker.start()
            for batch in pending:  # the platform retries what got 503, as platforms do
                for _ in range(60):
                    response = pipe.post(client, batch)
                    if response.status_code == 202:
                        acknowledged.extend(batch)
                        break
                    time.sleep(1)
                else:
                    pytest.fail("ingest never recovered after the broker came back")
            check_every_queue_and_agent(client, pipe.api_url, acknowledged)
    finally:
        codes = pipe.stop()
        broker.stop()
        print(pipe.logs()[-3000:])
    assert codes["ingest"] == 0 and codes["api"] == 0


def test_an_aggregator_started_before_kafka_waits_for_it_then_counts_everything(unique_names, tmp_path):
    settings = Settings()
    broker = LocalKafka(settings.kafka_version, settings.cache_dir, tmp_path / "kafka", free_port(), free_port())
    pipe = Pipeline(broker.bootstrap, unique_names, tmp_path / "logs")
    docs = history(random.Random(9), BASE, contacts=100, mean_gap_ms=6_000)
    try:
        pipe.start("aggregator")
        time.sleep(4)  # a few attempts at a broker that is not there yet
        assert pipe.services["aggregator"].running, pipe.logs()
        broker.start()
        pipe.start("ingest", "api")
        with httpx.Client(timeout=10) as client:
            post_all(pipe, client, docs)
            check_every_queue_and_agent(client, pipe.api_url, docs)
        assert "does not answer" in (pipe.log_dir / "aggregator.log").read_text()
    finally:
        codes = pipe.stop()
        broker.stop()
        print(pipe.logs()[-3000:])
    assert codes == {"aggregator": 0, "ingest": 0, "api": 0}
