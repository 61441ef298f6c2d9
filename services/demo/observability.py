"""Prometheus and Alertmanager next to a running deskpulse, as child processes with temporary configs.

For ``make demo`` and the end-to-end tests. Uses the installed binaries (Debian's ``prometheus`` and
``prometheus-alertmanager``, from deploy/local/install-prerequisites.sh) with the shipped rule files
(deploy/prometheus/rules/) and Alertmanager config (deploy/alertmanager/alertmanager.yml); nothing is
downloaded. When a binary is missing, ``start`` says so and returns without it.

    obs = start(api_url, ingest_url=..., aggregator_url=..., workdir=settings.data_dir / "demo-observability")
    print(obs.prometheus_url, obs.alertmanager_url)   # None when not installed
    ...
    obs.stop()
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import yaml

from services.common.processes import supervised

REPO = Path(__file__).resolve().parents[2]
RULES = sorted((REPO / "deploy" / "prometheus" / "rules").glob("*.yml"))
ALERTMANAGER_CONFIG = REPO / "deploy" / "alertmanager" / "alertmanager.yml"


def find_binary(*names: str) -> str | None:
    for name in names:
        path = shutil.which(name) or (f"/usr/bin/{name}" if os.access(f"/usr/bin/{name}", os.X_OK) else None)
        if path:
            return path
    return None


def _port(preferred: int | None) -> int:
    if preferred:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", preferred)) != 0:
                return preferred
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _hostport(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port}"


@dataclass
class Observability:
    workdir: Path
    prometheus_url: str | None = None
    alertmanager_url: str | None = None
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    def stop(self, timeout_s: float = 10.0) -> dict[str, int | None]:
        """SIGTERM each process (Prometheus first), wait, SIGKILL if needed; returns the exit codes."""
        codes = {}
        for name in ("prometheus", "alertmanager"):
            proc = self.processes.get(name)
            if proc is None:
                continue
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout_s)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            codes[name] = proc.returncode
        return codes

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text()[-3000:]}" for p in sorted(self.workdir.glob("*.log")))


def prometheus_config(
    api_url: str,
    *,
    ingest_url: str | None = None,
    aggregator_url: str | None = None,
    alertmanager_url: str | None = None,
    scrape_interval: str = "5s",
    evaluation_interval: str | None = None,
) -> dict:
    """The scrape config for one local deskpulse, with the shipped rule files (absolute paths)."""
    jobs = [("deskpulse-api", api_url), ("deskpulse-ingest", ingest_url), ("deskpulse-aggregator", aggregator_url)]
    config: dict = {
        "global": {
            "scrape_interval": scrape_interval,
            "evaluation_interval": evaluation_interval or scrape_interval,
            "scrape_timeout": scrape_interval
            if scrape_interval.endswith("s") and float(scrape_interval[:-1]) < 10
            else "10s",
        },
        "rule_files": [str(p) for p in RULES],
        "scrape_configs": [
            {"job_name": job, "static_configs": [{"targets": [_hostport(url)]}]} for job, url in jobs if url
        ],
    }
    if alertmanager_url:
        config["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": [_hostport(alertmanager_url)]}]}]}
    return config


def _spawn(args: list[str], log_path: Path) -> subprocess.Popen:
    with open(log_path, "ab") as out:
        return subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, **supervised())


def _wait_ready(url: str, proc: subprocess.Popen, timeout_s: float, name: str, log: Path) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited with code {proc.returncode}; see {log}")
        try:
            if httpx.get(f"{url}/-/ready", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{name} not ready at {url} after {timeout_s:.0f} s; see {log}")


def start(
    api_url: str,
    *,
    workdir: Path,
    ingest_url: str | None = None,
    aggregator_url: str | None = None,
    scrape_interval: str = "5s",
    evaluation_interval: str | None = None,
    prometheus_port: int | None = 9090,
    alertmanager_port: int | None = 9093,
    say: Callable[[str], None] = print,
    timeout_s: float = 30,
) -> Observability:
    """Start Alertmanager, then Prometheus scraping the given deskpulse URLs; wait until both are ready.

    Ports: the preferred ones when free, else any free port (read the URLs from the result). ``workdir`` holds
    the configs, the TSDB, Alertmanager's state and the logs; it is emptied first.
    """
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    obs = Observability(workdir)
    am_bin = find_binary("prometheus-alertmanager", "alertmanager")
    prom_bin = find_binary("prometheus")
    try:
        if am_bin is None:
            say("Alertmanager not installed (deploy/local/install-prerequisites.sh): alerts stay in Prometheus")
        else:
            port = _port(alertmanager_port)
            url = f"http://127.0.0.1:{port}"
            log = workdir / "alertmanager.log"
            obs.processes["alertmanager"] = _spawn(
                [
                    am_bin,
                    f"--config.file={ALERTMANAGER_CONFIG}",
                    f"--storage.path={workdir / 'alertmanager'}",
                    f"--web.listen-address=127.0.0.1:{port}",
                    "--cluster.listen-address=",
                    f"--web.external-url={url}",
                ],
                log,
            )
            _wait_ready(url, obs.processes["alertmanager"], timeout_s, "alertmanager", log)
            obs.alertmanager_url = url
        if prom_bin is None:
            say("Prometheus not installed (deploy/local/install-prerequisites.sh): no rules or alerts")
        else:
            port = _port(prometheus_port)
            url = f"http://127.0.0.1:{port}"
            config = workdir / "prometheus.yml"
            config.write_text(
                yaml.safe_dump(
                    prometheus_config(
                        api_url,
                        ingest_url=ingest_url,
                        aggregator_url=aggregator_url,
                        alertmanager_url=obs.alertmanager_url,
                        scrape_interval=scrape_interval,
                        evaluation_interval=evaluation_interval,
                    )
                )
            )
            log = workdir / "prometheus.log"
            obs.processes["prometheus"] = _spawn(
                [
                    prom_bin,
                    f"--config.file={config}",
                    f"--storage.tsdb.path={workdir / 'tsdb'}",
                    f"--web.listen-address=127.0.0.1:{port}",
                    f"--web.external-url={url}",
                    "--storage.tsdb.retention.time=2d",
                ],
                log,
            )
            _wait_ready(url, obs.processes["prometheus"], timeout_s, "prometheus", log)
            obs.prometheus_url = url
    except BaseException:
        obs.stop()
        raise
    return obs
