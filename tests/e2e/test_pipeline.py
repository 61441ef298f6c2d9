"""End to end: ingest, aggregator and API as real processes on the real broker.

A few hundred canonical events, with duplicates and shuffled, go in through HTTP; every figure the API
returns (summary, every queue, every agent) and the per-queue Prometheus series must equal a batch
recomputation from the same events.
"""

from __future__ import annotations

import random
import time

import httpx
import pytest

from services.demo.synthetic import history
from tests.support import recompute
from tests.support.apifigures import api_figures, assert_every_scope, expected_body
from tests.support.pipeline import Pipeline

pytestmark = [pytest.mark.kafka, pytest.mark.e2e]


def scrape(client: httpx.Client, url: str) -> dict[tuple[str, str], float]:
    samples = {}
    for line in client.get(url).text.splitlines():
        if line.startswith("deskpulse_queue_") and not line.startswith("#"):
            name_labels, value = line.rsplit(" ", 1)
            samples[(name_labels.split("{")[0], name_labels.split("{")[1].rstrip("}"))] = float(value)
    return samples


@pytest.fixture
def pipeline(kafka_bootstrap, unique_names, tmp_path):
    # Ingest's short-circuit for recent duplicates is off, so every redelivery reaches the aggregator's dedupe.
    pipe = Pipeline(kafka_bootstrap, unique_names, tmp_path / "logs", extra_env={"DESKPULSE_DEDUPE_CACHE_SIZE": "0"})
    try:
        yield pipe
    finally:
        pipe.stop_cleanly()


def test_every_figure_equals_a_recomputation(pipeline):
    started = time.monotonic()
    pipeline.start()
    rng = random.Random(2026)
    base = 1_795_000_000_000
    docs = history(rng, base, contacts=90, mean_gap_ms=30_000)
    assert 300 <= len(docs) <= 800
    delivered = docs + rng.sample(docs, len(docs) // 4)  # 25 % redelivered
    rng.shuffle(delivered)
    expected = recompute.figures(docs)
    gauges = recompute.live(docs)

    with httpx.Client(timeout=10) as client:
        position = 0
        while position < len(delivered):  # arrays of varying size, and single events
            size = rng.choice([1, 1, 5, 20, 50])
            response = pipeline.post(client, delivered[position:position + size])
            assert response.status_code == 202, response.text
            position += size

        want = expected_body(expected["all"], gauges.get("all"))
        deadline = time.monotonic() + 60
        summary = None
        while time.monotonic() < deadline:
            summary = client.get(f"{pipeline.api_url}/v1/summary").json()
            if api_figures(summary) == want:
                break
            time.sleep(0.3)
        assert api_figures(summary) == want

        assert_every_scope(client, pipeline.api_url, docs)

        samples = scrape(client, f"{pipeline.api_url}/metrics")
        for scope, figures in expected.items():
            if scope.startswith("queue/"):
                _, platform, queue = scope.split("/", 2)
                labels = f'platform="{platform}",queue="{queue}"'
                assert samples[("deskpulse_queue_open_contacts", labels)] == gauges.get(scope, {}).get("open", 0)
                assert samples[("deskpulse_queue_first_responses_total", labels)] == figures.get("fr_count", 0)
                assert samples[("deskpulse_queue_first_response_seconds_total", labels)] == pytest.approx(
                    figures.get("fr_ms", 0) / 1000)
    print(f"\nend-to-end: {len(delivered)} deliveries ({len(docs)} unique events) checked in "
          f"{time.monotonic() - started:.1f} s")


def test_api_rebuilds_its_read_model_from_the_topic_on_restart(pipeline):
    pipeline.start()
    docs = history(random.Random(7), 1_795_000_000_000, contacts=15)
    want = expected_body(recompute.figures(docs)["all"], recompute.live(docs).get("all"))
    with httpx.Client(timeout=10) as client:
        assert pipeline.post(client, docs).status_code == 202
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if api_figures(client.get(f"{pipeline.api_url}/v1/summary").json()) == want:
                break
            time.sleep(0.3)
        assert pipeline.services["api"].stop() == 0
        pipeline.start("api")  # waits for /readyz: caught up with the snapshot topic
        assert api_figures(client.get(f"{pipeline.api_url}/v1/summary").json()) == want
