"""Chaos under steady load: every process SIGKILLed and restarted at random, the broker restarted once; at the end
every figure equals the batch recomputation of what ingest acknowledged, nothing acknowledged is lost, and the
memory each process grew by is reported.

Real processes, a broker of the test's own (it is restarted). The aggregator keeps its local state (localstate.py)
across its restarts, as a worker restarted on its node does. CI runs ``DESKPULSE_SOAK_S`` = 60 s of chaos; ``make
soak`` runs 600 s.

The load is what platforms send: batches of canonical events with a quarter of them delivered twice, in shuffled
order, retried until ingest acknowledges them (a 503 while the broker is away, a refused connection while ingest is
down), as webhooks are.
"""

from __future__ import annotations

import os
import random
import signal
import time
from pathlib import Path

import httpx
import pytest

from services.common.localkafka import LocalKafka, free_port
from services.common.settings import Settings
from services.demo.synthetic import agent_shifts, history
from tests.reliability.test_faults import check_every_queue_and_agent
from tests.support.pipeline import Pipeline

pytestmark = [pytest.mark.kafka, pytest.mark.e2e, pytest.mark.reliability]
BASE = 1_795_000_000_000
SOAK_S = float(os.environ.get("DESKPULSE_SOAK_S", "60"))
SERVICES = ("aggregator", "ingest", "api")


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def deliver(pipe: Pipeline, client: httpx.Client, batch: list[dict], timeout_s: float = 120) -> None:
    """Post ``batch`` until ingest acknowledges it, as a platform retries a webhook."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            response = pipe.post(client, batch)
            if response.status_code in (200, 202):
                return
            assert response.status_code == 503, response.text  # the broker is away: retry later
        except httpx.TransportError:
            pass  # ingest is down (killed): retry once it is back
        if time.monotonic() > deadline:
            pytest.fail(f"ingest did not acknowledge a batch within {timeout_s:.0f} s")
        time.sleep(0.5)


def test_sigkills_of_every_process_and_a_broker_restart_under_load_keep_every_figure_exact(unique_names, tmp_path):
    settings = Settings()
    broker = LocalKafka(settings.kafka_version, settings.cache_dir, tmp_path / "kafka", free_port(), free_port())
    broker.start()
    pipe = Pipeline(broker.bootstrap, unique_names, tmp_path / "logs", partitions=4,
                    extra_env={"DESKPULSE_PUBLISH_TIMEOUT_S": "2", "DESKPULSE_DEDUPE_CACHE_SIZE": "0",
                               "DESKPULSE_AGGREGATOR_INSTANCE_ID": "chaos-aggregator-0"})
    rng = random.Random(2026)
    contacts = max(300, int(SOAK_S * 10))
    docs = history(rng, BASE, contacts=contacts, mean_gap_ms=6_000)
    docs += agent_shifts(rng, BASE, BASE + contacts * 6_000)
    delivered = docs + rng.sample(docs, len(docs) // 4)
    rng.shuffle(delivered)
    batches = [delivered[i:i + 20] for i in range(0, len(delivered), 20)]
    pause_s = SOAK_S / len(batches)  # steady load spread over the soak
    chaos_until = len(batches) * 2 // 3  # then a third without faults, whose memory growth is reported
    broker_restarted_at = len(batches) // 3
    kills = dict.fromkeys(SERVICES, 0)
    memory: dict[str, float] = {}
    order: list[str] = []
    next_fault = time.monotonic() + rng.uniform(5, 10)
    try:
        pipe.start()
        with httpx.Client(timeout=10) as client:
            for i, batch in enumerate(batches):
                deliver(pipe, client, batch)
                if i == broker_restarted_at:
                    broker.stop()
                    time.sleep(5)
                    broker.start()
                if i < chaos_until and time.monotonic() >= next_fault:
                    if not order:
                        order = rng.sample(SERVICES, len(SERVICES))  # each in turn, in a random order
                    victim = order.pop()
                    pipe.services[victim].signal(signal.SIGKILL)
                    pipe.services[victim].process.wait(10)
                    time.sleep(rng.uniform(0.5, 3))
                    pipe.start(victim)
                    kills[victim] += 1
                    next_fault = time.monotonic() + rng.uniform(5, 10)
                if i == chaos_until:
                    memory = {name: rss_mib(pipe.services[name].process.pid) for name in SERVICES}
                time.sleep(pause_s)
            print(f"chaos: {len(batches)} batches ({len(delivered)} deliveries of {len(docs)} events) over "
                  f"{SOAK_S:.0f} s; SIGKILLs {kills}; broker restarted once")
            check_every_queue_and_agent(client, pipe.api_url, docs)
            print("chaos: VmRSS over the last third (no faults), MiB: " + ", ".join(
                f"{name} {memory[name]:.0f} -> {rss_mib(pipe.services[name].process.pid):.0f}" for name in SERVICES))
    finally:
        codes = pipe.stop()
        broker.stop()
        print(pipe.logs()[-3000:])
    assert min(kills.values()) >= 1, kills
    assert set(codes.values()) == {0}, codes
