"""``deskpulse demo``: a local Kafka, the three services as separate processes, and live traffic.

Traffic (``--source``):

- ``synthetic`` (default): a working floor (``services/demo/synthetic.py``): a backfill of contacts, then live
  arrivals on every channel, agents logged in and changing state, ratings, and the SLA policies, goals and
  categories of ``floor.yaml``, so tiles turn green, amber and red and SLA clocks breach.
- ``bpi2013`` or ``helpdesk``: a real event log replayed through ingest by ``services/replay``
  (importer, pure schedule, ``run_loop`` and ``send_to_ingest``), rebased so the replay ends now and
  time-compressed (``--speed``, ``--since``; defaults in ``REPLAY_DEFAULTS``). See docs/datasets.md. A log has no
  presence, live channels or ratings: its wallboard shows queues and backlogs, not a floor.

Ctrl-C (or SIGTERM) stops the feed, then ingest, aggregator and API, then Kafka, each by its own PID.
"""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import signal
import socket
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import httpx

from services.common.events import format_time, from_epoch_ms, to_epoch_ms
from services.common.localkafka import LocalKafkaError, from_settings
from services.common.processes import Service, wait_http
from services.common.settings import Settings
from services.demo import observability as demo_observability
from services.demo.synthetic import AGENTS, LivePresence, LiveTraffic, history

SOURCES = ("bpi2013", "helpdesk", "synthetic")
# Per log: (--since, --speed). BPI 2013: its two busiest weeks (the 2012-05-02 peak) and the backlog draining
# to the end of the log, ~30 days in ~12 min at an hour per second. Helpdesk (a few tickets a day): 2013 at a
# day per second, ~6 min.
REPLAY_DEFAULTS = {"bpi2013": ("2012-04-23", 3600.0), "helpdesk": ("2013-01-01", 86400.0)}
SYNTHETIC_SPEED = 20.0
FLOOR = Path(__file__).resolve().parent / "floor.yaml"  # the synthetic floor's SLA policies, goals and categories
# Stopped first to last: producers, then the consumer, then the reader; unknown names last.
STOP_ORDER = {"ingest": 0, "aggregator": 1, "api": 2}


def _port_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        return s.connect_ex((host, port)) != 0


def _say(message: str) -> None:
    """A line for the person running the demo. Once the reader has gone (``make demo | tee log`` and a Ctrl-C
    that also stopped ``tee``), further lines go nowhere instead of failing the shutdown half-way."""
    try:
        print(f"[deskpulse demo] {message}", flush=True)
    except BrokenPipeError:
        # Standard output points at /dev/null from now on, so later lines and Python's own flush at exit are quiet.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


def _since_ms(text: str) -> int:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"--since must be an ISO 8601 date or date-time, got {text!r}") from None
    return to_epoch_ms(format_time(moment if moment.tzinfo else moment.replace(tzinfo=UTC)))


# -- feeds: what the demo posts to ingest ----------------------------------------------------------------------


class _Sent:
    """Stands in for ``services.replay.progress.Progress`` in ``run_loop``: remembers how many were sent."""

    def __init__(self) -> None:
        self.sent = 0

    def update(self, sent: int, force: bool = False) -> None:
        self.sent = sent


@dataclass
class ReplayFeed:
    """A real log through ``services.replay``: loaded (in a thread, while Kafka starts), then replayed."""

    sla_config = None  # a log has no SLA policies or goals of its own: DESKPULSE_SLA_CONFIG, if set, applies

    dataset: str
    since: str | None
    speed: float
    tag: str | None = None
    events: list[dict] = field(default_factory=list)
    times: list[int] = field(default_factory=list)
    error: Exception | None = None
    progress: _Sent = field(default_factory=_Sent)
    _loader: threading.Thread | None = None

    def __post_init__(self) -> None:
        from services.replay import resolve

        self.kind, self.path = resolve(self.dataset)  # ValueError for an unknown log
        self.since_ms = _since_ms(self.since) if self.since else None  # ValueError for a bad date

    def start_loading(self) -> None:
        self._loader = threading.Thread(target=self._load, name="demo-import", daemon=True)
        self._loader.start()

    def _load(self) -> None:
        from services.replay import importer
        from services.replay.schedule import order

        try:
            self.events, self.times = order(importer(self.kind)(self.path), since_ms=self.since_ms)
        except Exception as exc:  # reported by ready()
            self.error = exc

    def ready(self, timeout_s: float = 120) -> None:
        if self._loader is not None:
            self._loader.join(timeout_s)
        if self.error is not None:
            raise RuntimeError(f"cannot import {self.path}: {self.error}")
        if not self.events:
            raise RuntimeError(f"no events in {self.path.name} since {self.since}")

    def describe(self) -> str:
        days = (self.times[-1] - self.times[0]) / 86_400_000
        first, last = (from_epoch_ms(t)[:10] for t in (self.times[0], self.times[-1]))
        contacts = sum(1 for e in self.events if e["type"] == "contact.created")
        return (
            f"replaying {len(self.events):,} events of {contacts:,} contacts from {self.path.name} "
            f"({first} → {last}, {days:.1f} days) at {self.speed:g}x: about "
            f"{days * 86_400 / self.speed / 60:.0f} min, rebased to end then"
        )

    def examples(self) -> dict[str, str]:
        """Pages and API paths worth opening: the busiest team and agent of the replayed history."""
        queues = Counter(e["queue_id"] for e in self.events if e.get("queue_id"))
        agents = Counter(e["agent_id"] for e in self.events if e.get("agent_id"))
        platform = self.events[0]["platform"]
        out = {"director": "/director"}
        if queues:
            out["busiest team"] = f"/team/{platform}/{quote(queues.most_common(1)[0][0])}"
        if agents:
            out["busiest agent"] = f"/agent/{platform}/{quote(agents.most_common(1)[0][0])}"
        out |= {"summary": "/v1/summary", "platform": f"/v1/platforms/{platform}", "API docs": "/docs"}
        return out

    def status(self) -> str:
        sent = self.progress.sent
        at = f", log time {from_epoch_ms(self.times[sent - 1])[:16].replace('T', ' ')}" if sent else ""
        return f"{sent:,}/{len(self.events):,} events replayed{at}"

    async def run(self, ingest_url: str, stop: asyncio.Event) -> str:
        from services.commands.replay import run_loop
        from services.replay.schedule import make_schedule
        from services.replay.targets import send_to_ingest

        schedule = make_schedule(self.times, speed=self.speed, rebase=True, now_ms=int(time.time() * 1000))
        url = f"{ingest_url}/webhooks/canonical"
        token = os.environ.get("DESKPULSE_WEBHOOK_SECRET_CANONICAL")
        started = time.monotonic()
        async with httpx.AsyncClient(timeout=30) as client:
            sent = await run_loop(
                self.events,
                schedule,
                lambda batch: send_to_ingest(client, url, batch, token=token),
                batch=200,
                stop=stop,
                progress=self.progress,
                tag=self.tag,
            )
        return f"replay finished: {sent:,} events in {time.monotonic() - started:.0f} s"


@dataclass
class SyntheticFeed:
    """Generated contacts: ``history`` contacts of backfill, then ``rate`` new contacts per minute."""

    rate: float
    speed: float
    history: int
    posted: int = 0

    def start_loading(self) -> None:
        pass

    def ready(self) -> None:
        pass

    sla_config = FLOOR  # policies, goals and categories for the synthetic queues

    def describe(self) -> str:
        return (
            f"synthetic traffic: {self.history} contacts of history, then {self.rate:g} per minute; "
            f"{sum(len(a) for a in AGENTS.values())} agents changing state; SLA policies and goals of {FLOOR.name}"
        )

    def examples(self) -> dict[str, str]:
        return {
            "director": "/director",
            "a team": "/team/zendesk/billing",
            "an agent": "/agent/zendesk/ze-agent-01",
            "summary": "/v1/summary",
            "API docs": "/docs",
        }

    def status(self) -> str:
        return f"{self.posted:,} events posted"

    async def _post(self, client: httpx.AsyncClient, url: str, events: list[dict]) -> None:
        for start in range(0, len(events), 200):
            response = await client.post(url, json=events[start : start + 200])
            if response.status_code != 202:
                _say(f"ingest answered {response.status_code}: {response.text[:200]}")
            self.posted += len(events[start : start + 200])

    async def run(self, ingest_url: str, stop: asyncio.Event) -> str:
        url = f"{ingest_url}/webhooks/canonical"
        now_ms = int(time.time() * 1000)
        backfill = history(random.Random(7), now_ms - self.history * 20_000, self.history)
        backfill = [e for e in backfill if e["occurred_at"] <= from_epoch_ms(now_ms)]
        traffic = LiveTraffic(random.Random(11), arrivals_per_minute=self.rate, speed=self.speed)
        presence = LivePresence(random.Random(13))  # the floor logged in now, then changing state
        async with httpx.AsyncClient(timeout=10) as client:
            await self._post(client, url, backfill)
            while not stop.is_set():
                now = int(time.time() * 1000)
                await self._post(client, url, presence.due(now) + traffic.due(now))
                try:
                    await asyncio.wait_for(stop.wait(), 0.5)
                except TimeoutError:
                    pass
        return "synthetic traffic stopped"


def make_feed(
    source: str, *, since: str | None, speed: float | None, rate: float, history_contacts: int, tag: str | None = None
) -> ReplayFeed | SyntheticFeed:
    if source == "synthetic":
        return SyntheticFeed(rate=rate, speed=speed or SYNTHETIC_SPEED, history=history_contacts)
    if source not in REPLAY_DEFAULTS:
        raise ValueError(f"unknown source {source!r}: use one of {', '.join(SOURCES)}")
    default_since, default_speed = REPLAY_DEFAULTS[source]
    if speed is not None and speed <= 0:
        raise ValueError("--speed must be > 0 for a live replay")
    return ReplayFeed(source, since or default_since, speed or default_speed, tag)


# -- the stack -------------------------------------------------------------------------------------------------


def demo_services(
    bootstrap: str, metrics_port: int, logs: Path, data_dir: Path | None = None, sla_config: Path | None = None
) -> list[Service]:
    """The processes the demo supervises, in start order. Further services (e.g. Prometheus) go here.

    ``data_dir``: the aggregator's local state, when it must not be the default one (a fresh cluster per demo).
    ``sla_config``: the feed's SLA policies and goals, for the aggregator and the API (unless
    DESKPULSE_SLA_CONFIG names one already).
    """
    env = {"DESKPULSE_KAFKA_BOOTSTRAP": bootstrap}
    if data_dir is not None:
        env["DESKPULSE_DATA_DIR"] = str(data_dir)
    if sla_config is not None and not os.environ.get("DESKPULSE_SLA_CONFIG"):
        env["DESKPULSE_SLA_CONFIG"] = str(sla_config)
    return [
        Service("aggregator", ["aggregator", "--metrics-port", str(metrics_port)], env, logs / "aggregator.log"),
        Service("ingest", ["ingest"], env, logs / "ingest.log"),
        Service("api", ["api"], env, logs / "api.log"),
    ]


def _print_urls(
    api_url: str, ingest_url: str, metrics_url: str, logs: Path, examples: dict[str, str], observability=None
) -> None:
    _say("running. Open:")
    _say(f"  {'wallboard':<14} {api_url}/")
    for name, path in examples.items():
        _say(f"  {name:<14} {api_url}{path}")
    if observability is not None and observability.prometheus_url:
        _say(f"  {'prometheus':<14} {observability.prometheus_url}  (alerts: {observability.alertmanager_url})")
    _say(f"  {'metrics':<14} {api_url}/metrics  (aggregator: {metrics_url})")
    _say(f"  {'webhooks':<14} POST {ingest_url}/webhooks/canonical")
    _say(f"  {'logs':<14} {logs}/")
    _say("Ctrl-C stops everything.")


async def _supervise(feed, services: list[Service], ingest_url: str, api_url: str, stop_flag: dict) -> int:
    """Run the feed; watch the services; a status line every 30 s; return when Ctrl-C is pressed."""
    stop = asyncio.Event()
    feeding: asyncio.Task[str] | None = asyncio.create_task(feed.run(ingest_url, stop))
    last_report = time.monotonic()
    code = 0
    async with httpx.AsyncClient(timeout=5) as client:
        while not stop_flag["now"]:
            dead = next((s for s in services if not s.running), None)
            if dead is not None:
                _say(f"{dead.name} exited unexpectedly (code {dead.returncode}); see {dead.log_path}")
                code = 1
                break
            if feeding is not None and feeding.done():
                if feeding.exception() is not None:
                    _say(f"feed failed: {feeding.exception()}")
                    code = 1
                    break
                _say(f"{feeding.result()}; the figures stay up (Ctrl-C stops everything)")
                feeding = None
            if time.monotonic() - last_report > 30:
                last_report = time.monotonic()
                try:
                    summary = (await client.get(f"{api_url}/v1/summary")).json()
                    _say(
                        f"{feed.status()}; open {summary['live']['open']}, waiting {summary['live']['waiting']}, "
                        f"resolved {summary['contacts']['resolved']}"
                    )
                except (httpx.HTTPError, ValueError, KeyError) as exc:
                    _say(f"{feed.status()}; API not answering: {exc!r}")
            await asyncio.sleep(0.5)
    stop.set()
    if feeding is not None:
        try:  # the batch in flight finishes (ingest answers within its publish timeout)
            await asyncio.wait_for(feeding, 15)
        except (TimeoutError, Exception):
            pass
    return code


def run_demo(
    settings: Settings,
    *,
    source: str = "synthetic",
    since: str | None = None,
    speed: float | None = None,
    rate: float = 40.0,
    history_contacts: int = 300,
) -> int:
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

    bootstrap = os.environ.get("DESKPULSE_KAFKA_BOOTSTRAP")
    # On a cluster that outlives the demo, a second replay of the same log would be deduplicated: tag it.
    tag = f"demo{int(time.time())}" if bootstrap else None
    try:
        feed = make_feed(source, since=since, speed=speed, rate=rate, history_contacts=history_contacts, tag=tag)
    except ValueError as exc:
        print(f"deskpulse demo: {exc}", file=sys.stderr)
        return 2
    feed.start_loading()  # the import (a few seconds) runs while Kafka starts

    broker = None
    observability = None
    logs = settings.data_dir / "demo"
    services: list[Service] = []
    aggregator_data = None
    try:
        if bootstrap is None:
            data_dir = settings.data_dir / "demo-kafka"
            shutil.rmtree(data_dir, ignore_errors=True)  # a fresh cluster per demo
            # ... and a fresh aggregator state: its disk copy of the contact table belongs to the old cluster.
            aggregator_data = settings.data_dir / "demo-aggregator"
            shutil.rmtree(aggregator_data, ignore_errors=True)
            broker = from_settings(settings, data_dir=data_dir)
            _say(f"starting Kafka {settings.kafka_version} (the first start downloads it with Maven)…")
            seconds = broker.start()
            bootstrap = broker.bootstrap
            _say(f"Kafka ready at {bootstrap} in {seconds:.1f} s")
        services = demo_services(bootstrap, metrics_port, logs, aggregator_data, feed.sla_config)
        for service in services:
            service.start()
        by_name = {s.name: s for s in services}
        ingest_url = f"http://{settings.ingest_host}:{settings.ingest_port}"
        api_url = f"http://{settings.api_host}:{settings.api_port}"
        wait_http(f"{ingest_url}/readyz", 60, by_name["ingest"])
        wait_http(f"{api_url}/readyz", 60, by_name["api"])
        # Prometheus and Alertmanager with the project's rules, when they are installed (the demo runs without).
        observability = demo_observability.start(
            api_url,
            ingest_url=ingest_url,
            aggregator_url=f"http://{settings.api_host}:{metrics_port}",
            workdir=settings.data_dir / "demo-observability",
            say=_say,
        )
        feed.ready()
        _say(feed.describe())
        _print_urls(
            api_url,
            ingest_url,
            f"http://{settings.api_host}:{metrics_port}/metrics",
            logs,
            feed.examples(),
            observability,
        )
        if stop["now"]:
            return 0
        return asyncio.run(_supervise(feed, services, ingest_url, api_url, stop))
    except (LocalKafkaError, RuntimeError, TimeoutError, httpx.HTTPError) as exc:
        print(f"deskpulse demo: {exc}", file=sys.stderr)
        return 1
    finally:
        _say("stopping…")
        try:
            if observability is not None:
                observability.stop()
            for service in sorted(services, key=lambda s: STOP_ORDER.get(s.name, len(STOP_ORDER))):
                service.stop()
        finally:
            if broker is not None:
                broker.stop()  # whatever failed above (the broker also dies with this process: processes.supervised)
        _say("stopped.")
