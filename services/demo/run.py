"""``deskpulse demo``: a local Kafka, the three services as separate processes, and live synthetic traffic.

Ctrl-C (or SIGTERM) stops the feed, then ingest, aggregator and API, then Kafka, each by its own PID.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import socket
import sys
import time

import httpx

from services.common.events import from_epoch_ms
from services.common.localkafka import LocalKafkaError, from_settings
from services.common.processes import Service, wait_http
from services.common.settings import Settings
from services.demo.synthetic import LiveTraffic, history


def _port_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        return s.connect_ex((host, port)) != 0


def _say(message: str) -> None:
    print(f"[deskpulse demo] {message}", flush=True)


def _post(client: httpx.Client, url: str, events: list[dict]) -> None:
    for start in range(0, len(events), 200):
        response = client.post(url, json=events[start:start + 200])
        if response.status_code != 202:
            _say(f"ingest answered {response.status_code}: {response.text[:200]}")


def run_demo(settings: Settings, *, rate: float, speed: float, history_contacts: int) -> int:
    stop = {"now": False}

    def _stop(*_):
        stop["now"] = True

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)

    metrics_port = settings.api_port + 2
    busy = [p for p in (settings.api_port, settings.ingest_port, metrics_port) if not _port_free(p)]
    if busy:
        print(f"deskpulse demo: ports {busy} are in use; is a demo already running?", file=sys.stderr)
        return 1

    broker = None
    bootstrap = os.environ.get("DESKPULSE_KAFKA_BOOTSTRAP")
    logs = settings.data_dir / "demo"
    services: list[Service] = []
    try:
        if bootstrap is None:
            data_dir = settings.data_dir / "demo-kafka"
            shutil.rmtree(data_dir, ignore_errors=True)  # a fresh cluster per demo
            broker = from_settings(settings, data_dir=data_dir)
            _say(f"starting Kafka {settings.kafka_version} (the first start downloads it with Maven)…")
            seconds = broker.start()
            bootstrap = broker.bootstrap
            _say(f"Kafka ready at {bootstrap} in {seconds:.1f} s")
        env = {"DESKPULSE_KAFKA_BOOTSTRAP": bootstrap}
        services = [
            Service("aggregator", ["aggregator", "--metrics-port", str(metrics_port)], env, logs / "aggregator.log"),
            Service("ingest", ["ingest"], env, logs / "ingest.log"),
            Service("api", ["api"], env, logs / "api.log"),
        ]
        for service in services:
            service.start()
        ingest_url = f"http://{settings.ingest_host}:{settings.ingest_port}"
        api_url = f"http://{settings.api_host}:{settings.api_port}"
        wait_http(f"{ingest_url}/readyz", 60, services[1])
        wait_http(f"{api_url}/readyz", 60, services[2])

        rng = random.Random(7)
        now_ms = int(time.time() * 1000)
        with httpx.Client(timeout=10) as client:
            backfill = history(rng, now_ms - history_contacts * 20_000, history_contacts)
            backfill = [e for e in backfill if e["occurred_at"] <= from_epoch_ms(now_ms)]
            _say(f"posting {len(backfill)} events of recent history…")
            _post(client, f"{ingest_url}/webhooks/canonical", backfill)
            _say("running. Open:")
            _say(f"  summary    {api_url}/v1/summary")
            _say(f"  a queue    {api_url}/v1/queues/zendesk/billing")
            _say(f"  an agent   {api_url}/v1/agents/zendesk/ze-agent-01")
            _say(f"  metrics    {api_url}/metrics  (aggregator: http://{settings.api_host}:{metrics_port}/metrics)")
            _say(f"  webhooks   POST {ingest_url}/webhooks/canonical")
            _say(f"  logs       {logs}/")
            _say("Ctrl-C stops everything.")
            traffic = LiveTraffic(random.Random(11), arrivals_per_minute=rate, speed=speed)
            posted = len(backfill)
            last_report = time.monotonic()
            while not stop["now"]:
                for service in services:
                    if not service.running:
                        _say(f"{service.name} exited unexpectedly (code {service.process.returncode}); "
                             f"see {service.log_path}")
                        return 1
                due = traffic.due(int(time.time() * 1000))
                if due:
                    _post(client, f"{ingest_url}/webhooks/canonical", due)
                    posted += len(due)
                if time.monotonic() - last_report > 30:
                    summary = client.get(f"{api_url}/v1/summary").json()
                    live = summary["live"]
                    _say(f"{posted} events posted; open {live['open']}, waiting {live['waiting']}, "
                         f"resolved {summary['contacts']['resolved']}")
                    last_report = time.monotonic()
                time.sleep(0.5)
        return 0
    except (LocalKafkaError, RuntimeError, TimeoutError, httpx.HTTPError) as exc:
        print(f"deskpulse demo: {exc}", file=sys.stderr)
        return 1
    finally:
        _say("stopping…")
        # Producers first, then the consumer, then the reader, then the broker they all need.
        order = {"ingest": 0, "aggregator": 1, "api": 2}
        for service in sorted(services, key=lambda s: order[s.name]):
            service.stop()
        if broker is not None:
            broker.stop()
        _say("stopped.")
