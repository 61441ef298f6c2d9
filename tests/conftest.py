"""Run-wide fixtures: one real Kafka broker for the whole test run, started only if a test needs it."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from services.common.localkafka import LocalKafka, free_port
from services.common.settings import Settings

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory) -> str:
    """Bootstrap address of a real broker: ``DESKPULSE_KAFKA_BOOTSTRAP`` if set, else a local KRaft broker."""
    existing = os.environ.get("DESKPULSE_KAFKA_BOOTSTRAP")
    if existing:
        yield existing
        return
    settings = Settings()
    broker = LocalKafka(
        version=settings.kafka_version,
        cache_dir=settings.cache_dir,
        data_dir=tmp_path_factory.mktemp("kafka"),
        port=free_port(),
        controller_port=free_port(),
    )
    fetch_s = broker.fetch()
    start_s = broker.start()
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "kafka-start.txt").write_text(
        f"Kafka {settings.kafka_version}: fetch {fetch_s:.1f} s, start to first round trip {start_s:.1f} s\n"
    )
    print(f"\nreal Kafka {settings.kafka_version} at {broker.bootstrap}: fetch {fetch_s:.1f} s, ready in {start_s:.1f} s")
    try:
        yield broker.bootstrap
    finally:
        broker.stop()


@pytest.fixture(autouse=True)
def _kafka_only_when_marked(request):
    """Tests reach the broker only under the ``kafka`` marker, so the fast tier stays fast and honest."""
    if "kafka_bootstrap" in request.fixturenames and request.node.get_closest_marker("kafka") is None:
        pytest.fail("this test uses the real broker: mark it with @pytest.mark.kafka")


@pytest.fixture
def unique_names(request) -> dict[str, str]:
    """Topic names and app id of one test, so tests sharing the broker never see each other's data."""
    tag = f"{request.node.name[:40]}-{int(time.time() * 1000) % 10**8}".replace("[", "-").replace("]", "")
    tag = "".join(c if c.isalnum() or c in "-_." else "-" for c in tag)
    return {
        "DESKPULSE_EVENTS_TOPIC": f"t.{tag}.events",
        "DESKPULSE_DLQ_TOPIC": f"t.{tag}.dlq",
        "DESKPULSE_KPIS_TOPIC": f"t.{tag}.kpis",
        "DESKPULSE_CONTACTS_TOPIC": f"t.{tag}.contacts",
        "DESKPULSE_AGGREGATOR_APP_ID": f"t-{tag}",
    }
