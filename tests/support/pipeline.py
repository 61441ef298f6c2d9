"""The three deskpulse services as real processes against a real broker, for end-to-end tests."""

from __future__ import annotations

import re

from dataclasses import dataclass, field
from pathlib import Path

import httpx

from services.common.localkafka import free_port
from services.common.processes import Service, wait_http


@dataclass
class Pipeline:
    bootstrap: str
    names: dict[str, str]
    log_dir: Path
    partitions: int = 3
    extra_env: dict[str, str] = field(default_factory=dict)
    services: dict[str, Service] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.ingest_port, self.api_port, self.metrics_port = free_port(), free_port(), free_port()
        self.env = {
            **self.names,
            "DESKPULSE_KAFKA_BOOTSTRAP": self.bootstrap,
            "DESKPULSE_TOPIC_PARTITIONS": str(self.partitions),
            "DESKPULSE_INGEST_PORT": str(self.ingest_port),
            "DESKPULSE_API_PORT": str(self.api_port),
            "DESKPULSE_SNAPSHOT_INTERVAL_S": "0.2",
            "DESKPULSE_DATA_DIR": str(self.log_dir / "data"),  # Faust's own files
            **self.extra_env,
        }

    @property
    def ingest_url(self) -> str:
        return f"http://127.0.0.1:{self.ingest_port}"

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def start(self, *names: str) -> None:
        args = {
            "aggregator": ["aggregator", "--metrics-port", str(self.metrics_port)],
            "ingest": ["ingest"],
            "api": ["api"],
        }
        for name in names or ("aggregator", "ingest", "api"):
            service = Service(name, args[name], self.env, self.log_dir / f"{name}.log")
            service.start()
            self.services[name] = service
        if "ingest" in self.services and (not names or "ingest" in names):
            wait_http(f"{self.ingest_url}/readyz", 60, self.services["ingest"])
        if "api" in self.services and (not names or "api" in names):
            wait_http(f"{self.api_url}/readyz", 60, self.services["api"])

    def stop(self) -> dict[str, int | None]:
        return {name: service.stop() for name, service in self.services.items()}

    def stop_cleanly(self, tail: int = 3000) -> None:
        """Stop every service, print the end of the logs, and fail unless each one exited with 0."""
        codes = self.stop()
        print(self.logs()[-tail:])
        assert all(code == 0 for code in codes.values()), f"unclean shutdown: {codes}"

    def post(self, client: httpx.Client, events: list[dict]) -> httpx.Response:
        return client.post(f"{self.ingest_url}/webhooks/canonical", json=events if len(events) != 1 else events[0])

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text()[-4000:]}" for p in sorted(self.log_dir.glob("*.log")))

    def aggregator_notes(self, most: int = 300) -> str:
        """What the aggregators' logs say about their partitions (assignments, revocations, recoveries, the local
        state) and every warning or error, in order: after a failure, what a figure short or wrong went through."""
        notable = re.compile(r"services\.aggregator|WARNING|ERROR|newly assigned|Revoking|Recovery\]: (Resume|Done)")
        out = []
        for path in sorted(self.log_dir.glob("aggregator*.log")):
            lines = [line[:300] for line in path.read_text(errors="replace").splitlines() if notable.search(line)]
            out.append(f"--- {path.name} ({len(lines)} notable lines, the last {most})\n" + "\n".join(lines[-most:]))
        return "\n".join(out)
