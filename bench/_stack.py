"""What bench/freshness.py, bench/scale.py and bench/recovery.py share: the real services as processes on the
run's broker, events produced straight to the events topic, the aggregator's event count, process memory.

Not a bench module itself (``bench/run.py`` runs only the modules it names).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.common import peak_rss_bytes, progress, rss_bytes, topic_names  # noqa: E402
from services.common.localkafka import free_port  # noqa: E402
from services.common.processes import Service, supervised, wait_http  # noqa: E402

MiB = 1024 * 1024


class WorkdirService(Service):
    """A :class:`Service` run from this checkout's code (``PYTHONPATH``, so a worktree benchmarks its own commit)
    in a working directory of its own (the bench's temp dir; Faust's files go to ``DESKPULSE_DATA_DIR``)."""

    cwd: Path | None = None

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as out:
            import os

            self.process = subprocess.Popen(
                [sys.executable, "-m", "services.cli", *self.args],
                env={**os.environ, "PYTHONPATH": str(REPO), **self.env},
                cwd=self.cwd or self.log_path.parent,
                stdout=out, stderr=subprocess.STDOUT, **supervised(),
            )

    @property
    def pid(self) -> int:
        return self.process.pid if self.process is not None else 0


@dataclass
class Stack:
    """Aggregator, ingest and API as real processes on ``bootstrap``, with topics and app id of their own."""

    bootstrap: str
    workdir: Path
    prefix: str = "bench"
    partitions: int = 4
    extra_env: dict[str, str] = field(default_factory=dict)
    services: dict[str, WorkdirService] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.names = topic_names(self.prefix)
        self.ingest_port, self.api_port, self.metrics_port = free_port(), free_port(), free_port()
        self.env = {
            **self.names,
            "DESKPULSE_KAFKA_BOOTSTRAP": self.bootstrap,
            "DESKPULSE_TOPIC_PARTITIONS": str(self.partitions),
            "DESKPULSE_INGEST_PORT": str(self.ingest_port),
            "DESKPULSE_API_PORT": str(self.api_port),
            "DESKPULSE_LOG_LEVEL": "INFO",
            "DESKPULSE_DATA_DIR": str(self.workdir / "data"),
            **self.extra_env,
        }
        self.generation = 0

    @property
    def events_topic(self) -> str:
        return self.names["DESKPULSE_EVENTS_TOPIC"]

    @property
    def app_id(self) -> str:
        return self.names["DESKPULSE_AGGREGATOR_APP_ID"]

    @property
    def ingest_url(self) -> str:
        return f"http://127.0.0.1:{self.ingest_port}"

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def aggregator_metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.metrics_port}/metrics"

    def settings(self):
        from services.common.settings import Settings

        return Settings(kafka_bootstrap=self.bootstrap, events_topic=self.events_topic,
                        kpis_topic=self.names["DESKPULSE_KPIS_TOPIC"], dlq_topic=self.names["DESKPULSE_DLQ_TOPIC"], contacts_topic=self.names["DESKPULSE_CONTACTS_TOPIC"],
                        topic_partitions=self.partitions)

    def ensure_topics(self) -> None:
        from services.common.kafka import ensure_topics

        asyncio.run(ensure_topics(self.settings()))

    def start(self, *names: str, wait: bool = True) -> None:
        args = {"aggregator": ["aggregator", "--metrics-port", str(self.metrics_port)],
                "ingest": ["ingest"], "api": ["api"]}
        for name in names:
            self.generation += 1
            service = WorkdirService(name, args[name], self.env, self.workdir / "logs" / f"{name}.log")
            service.cwd = self.workdir
            service.start()
            self.services[name] = service
        if wait:
            if "ingest" in names:
                wait_http(f"{self.ingest_url}/readyz", 120, self.services["ingest"])
            if "api" in names:
                wait_http(f"{self.api_url}/readyz", 300, self.services["api"])

    def pid(self, name: str) -> int:
        return self.services[name].pid

    def memory(self) -> dict[str, tuple[int, int]]:
        """(VmRSS, VmHWM) in bytes of every running service."""
        return {n: (rss_bytes(s.pid), peak_rss_bytes(s.pid)) for n, s in self.services.items() if s.running}

    def stop(self) -> dict[str, int | None]:
        return {name: service.stop() for name, service in self.services.items()}

    def log_tail(self, name: str, chars: int = 3000) -> str:
        path = self.workdir / "logs" / f"{name}.log"
        return path.read_text(errors="replace")[-chars:] if path.exists() else ""


# -- the aggregator's own count ----------------------------------------------------------------------------------


def aggregator_counts(url: str, client: httpx.Client | None = None) -> dict[str, float]:
    """``deskpulse_aggregator_events_total`` by outcome (empty when the worker does not answer)."""
    out: dict[str, float] = {}
    try:
        text = (client.get(url, timeout=5) if client else httpx.get(url, timeout=5)).text
    except httpx.HTTPError:
        return out
    for line in text.splitlines():
        if line.startswith("deskpulse_aggregator_events_total{"):
            labels, value = line.rsplit(" ", 1)
            outcome = labels.split('outcome="', 1)[1].split('"', 1)[0]
            out[outcome] = out.get(outcome, 0.0) + float(value)
    return out


def wait_counted(stack: Stack, n: int, timeout_s: float, what: str = "events",
                 report_every_s: float = 30.0) -> tuple[float, float | None]:
    """Wait until the aggregator counted ``n`` events (any outcome). Returns (seconds waited, seconds from the
    first counted event to the last: the steady processing time)."""
    started = time.monotonic()
    first = None
    last_report = started
    with httpx.Client() as client:
        while True:
            counts = aggregator_counts(stack.aggregator_metrics_url, client)
            total = sum(counts.values())
            now = time.monotonic()
            if total and first is None:
                first = (now, total)
            if total >= n:
                steady = (now - first[0]) if first else None
                return now - started, steady
            if not stack.services["aggregator"].running:
                raise RuntimeError(f"aggregator exited while loading; log tail:\n{stack.log_tail('aggregator')}")
            if now - started > timeout_s:
                raise TimeoutError(f"aggregator counted {total:,.0f} of {n:,} {what} after {timeout_s:.0f} s")
            if now - last_report >= report_every_s:
                rate = (total - first[1]) / (now - first[0]) if first and now > first[0] else 0.0
                progress(f"aggregator counted {total:,.0f} / {n:,} {what} ({rate:,.0f}/s)")
                last_report = now
            time.sleep(0.5)


# -- producing canonical events straight to the events topic ------------------------------------------------------


def compact(doc: dict) -> dict:
    """The document without null fields (what ingest would publish for them is the same event)."""
    return {k: v for k, v in doc.items() if v is not None}


def kafka_key(doc: dict) -> bytes:
    """The events topic's key, as ingest sets it: the contact, or the agent for ``agent.*`` events."""
    return (doc["agent_id"] if doc["type"].startswith("agent.") else doc["contact_id"]).encode()


async def _produce(bootstrap: str, topic: str, docs: Iterable[dict]) -> tuple[int, int]:
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, linger_ms=20,
                                max_batch_size=512 * 1024)
    await producer.start()
    n = size = 0
    try:
        pending = []
        for doc in docs:
            value = json.dumps(compact(doc), separators=(",", ":")).encode()
            pending.append(await producer.send(topic, value, key=kafka_key(doc)))
            n += 1
            size += len(value)
            if len(pending) >= 20_000:
                await asyncio.gather(*pending)
                pending = []
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return n, size


def produce(bootstrap: str, topic: str, docs: Iterable[dict]) -> tuple[int, int, float]:
    """Write canonical event documents to ``topic`` keyed like ingest does (idempotent producer, acks=all).
    Returns (events, bytes, seconds)."""
    started = time.monotonic()
    n, size = asyncio.run(_produce(bootstrap, topic, docs))
    return n, size, time.monotonic() - started


async def _end_offsets(bootstrap: str, topic: str) -> int:
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        parts = consumer.partitions_for_topic(topic) or set()
        if not parts:
            await consumer._client.force_metadata_update()  # noqa: SLF001 - the topic may be new
            parts = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in parts]
        ends = await consumer.end_offsets(tps) if tps else {}
        return sum(ends.values())
    finally:
        await consumer.stop()


def end_offsets(bootstrap: str, topic: str) -> int:
    """Sum of the end offsets of ``topic``'s partitions (records ever written, before compaction)."""
    return asyncio.run(_end_offsets(bootstrap, topic))


def mib(n: float) -> str:
    return f"{n / MiB:,.0f} MiB"


# -- profiling (opt-in: DESKPULSE_BENCH_PROFILE=1) ---------------------------------------------------------------


class Profile:
    """``py-spy record`` of one process while a block runs, as collapsed stacks in ``path`` (only when
    ``DESKPULSE_BENCH_PROFILE`` is set and py-spy is installed; otherwise does nothing)."""

    def __init__(self, pid: int, path: Path, rate: int = 100, enabled: bool | None = None) -> None:
        import os
        import shutil

        self.pid, self.path, self.rate = pid, path, rate
        spy = Path(sys.executable).with_name("py-spy")
        self.spy = str(spy) if spy.exists() else shutil.which("py-spy")
        self.enabled = (os.environ.get("DESKPULSE_BENCH_PROFILE") not in (None, "", "0")
                        if enabled is None else enabled) and self.spy is not None
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> Profile:
        if self.enabled:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.process = subprocess.Popen(
                [self.spy, "record", "--pid", str(self.pid), "--format", "raw", "--rate", str(self.rate),
                 "--output", str(self.path), "--nonblocking"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(0.5)
        return self

    def __exit__(self, *exc) -> None:
        import signal

        if self.process is not None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def summary(self, top: int = 12) -> str:
        """The functions with the most samples on the stack (inclusive) and on top (self), in %."""
        if not self.enabled or not self.path.exists():
            return ""
        return summarize(self.path, top)


def _frame(text: str) -> str:
    """``func (path/to/file.py:123)`` → ``func (file.py)``."""
    name, _, where = text.partition(" (")
    return f"{name} ({where.rsplit('/', 1)[-1].split(':', 1)[0].rstrip(')')})" if where else name


def summarize(path: Path, top: int = 12) -> str:
    inclusive: dict[str, int] = {}
    own: dict[str, int] = {}
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = [_frame(f) for f in stack.split(";")]
        for frame in set(frames):
            inclusive[frame] = inclusive.get(frame, 0) + n
        own[frames[-1]] = own.get(frames[-1], 0) + n
    if not total:
        return "no samples"
    fmt = lambda d: "; ".join(f"{k} {v * 100 / total:.0f}%" for k, v in  # noqa: E731
                              sorted(d.items(), key=lambda kv: -kv[1])[:top])
    return f"{total} samples. self: {fmt(own)}\n  inclusive: {fmt(inclusive)}"
