"""services/demo/observability.py: the demo's Prometheus and Alertmanager (loopback only, temp dirs)."""

from __future__ import annotations

import time

import httpx

from services.demo import observability
from tests.support.tools import require_tool


def test_config_scrapes_the_demo_and_loads_the_shipped_rules():
    config = observability.prometheus_config(
        "http://127.0.0.1:8000", ingest_url="http://127.0.0.1:8001", aggregator_url="http://127.0.0.1:8002",
        alertmanager_url="http://127.0.0.1:9093", scrape_interval="1s")
    jobs = {j["job_name"]: j["static_configs"][0]["targets"] for j in config["scrape_configs"]}
    assert jobs == {"deskpulse-api": ["127.0.0.1:8000"], "deskpulse-ingest": ["127.0.0.1:8001"],
                    "deskpulse-aggregator": ["127.0.0.1:8002"]}
    assert config["global"]["evaluation_interval"] == "1s"
    assert [p.rsplit("/", 1)[-1] for p in config["rule_files"]] == [
        "deskpulse.alerts.yml", "deskpulse.rules.yml", "deskpulse.targets.yml"]
    assert config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == ["127.0.0.1:9093"]


def test_start_and_stop(tmp_path):
    require_tool("prometheus")
    require_tool("prometheus-alertmanager", "alertmanager")
    obs = observability.start("http://127.0.0.1:9", workdir=tmp_path / "obs", prometheus_port=None,
                              alertmanager_port=None, say=lambda _: None)
    try:
        rules = httpx.get(f"{obs.prometheus_url}/api/v1/rules").json()["data"]["groups"]
        assert sum(len(g["rules"]) for g in rules) >= 30
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # Prometheus applies its Alertmanager discovery shortly after start
            ams = httpx.get(f"{obs.prometheus_url}/api/v1/alertmanagers").json()["data"]["activeAlertmanagers"]
            if ams:
                break
            time.sleep(0.2)
        assert ams and ams[0]["url"].startswith(obs.alertmanager_url)
        assert httpx.get(f"{obs.alertmanager_url}/api/v2/status").status_code == 200
    finally:
        assert obs.stop() == {"prometheus": 0, "alertmanager": 0}
