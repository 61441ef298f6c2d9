"""``deskpulse replay DATASET``: send a real helpdesk event log through the pipeline, in event-time order.

Thin I/O around pure parts: the importers (``services/replay/bpi2013.py``, ``helpdesk.py``) give canonical
events, :mod:`services.replay.schedule` decides which are due when (speed, rebase), and
:mod:`services.replay.targets` delivers batches to ingest (``POST /webhooks/canonical``) or to Kafka.
Ctrl-C stops after the batch in flight (a second Ctrl-C aborts it) and prints what was sent.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, Protocol

from services.common.events import format_time, to_epoch_ms
from services.replay import DATASETS, importer, resolve
from services.replay.helpdesk import DEFAULT_TIMEZONE
from services.replay.progress import Progress
from services.replay.schedule import Schedule, make_schedule, order, shifted
from services.replay.targets import ReplayError, kafka_producer, send_to_ingest, send_to_kafka

__all__ = ["cmd_replay", "register", "run_loop", "send_to_ingest", "send_to_kafka"]

Send = Callable[[list[dict[str, Any]]], Awaitable[Any]]


class ProgressSink(Protocol):
    """What ``run_loop`` tells of its progress: ``Progress``, or the demo's counter."""

    def update(self, sent: int, force: bool = False) -> None: ...


def _say(message: str) -> None:
    print(f"deskpulse replay: {message}", file=sys.stderr, flush=True)


def _duration(seconds: float) -> str:
    seconds = round(seconds)
    if seconds < 120:
        return f"{seconds} s"
    hours, rest = divmod(seconds, 3600)
    return f"{hours} h {rest // 60} min" if hours else f"{rest // 60} min {rest % 60} s"


def tagged(event: dict[str, Any], tag: str | None) -> dict[str, Any]:
    """With ``--tag``: a separate copy of the log (contact and event ids suffixed), so it is not deduplicated
    against an earlier replay of the same log."""
    if not tag:
        return event
    out = dict(event)
    out["contact_id"] = f"{event['contact_id']}~{tag}"
    out["event_id"] = f"{event['event_id']}~{tag}"
    return out


async def run_loop(
    events: list[dict[str, Any]],
    schedule: Schedule,
    send: Send,
    *,
    batch: int,
    stop: asyncio.Event,
    progress: ProgressSink | None = None,
    tag: str | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> int:
    """Send every event when it is due, in order, at most ``batch`` per call; return how many were sent."""
    sent = index = 0
    total = len(events)
    started = clock()
    while index < total and not stop.is_set():
        elapsed = clock() - started
        due = schedule.due(elapsed, index)
        if due <= index:
            try:  # sleep until the next event is due, waking at once on Ctrl-C and at least twice a second
                await asyncio.wait_for(stop.wait(), min(schedule.wait_s(elapsed, index), 0.5) or 0.001)
            except TimeoutError:
                pass
            if progress is not None:
                progress.update(sent)
            continue
        end = min(due, index + batch)
        chunk = [tagged(shifted(events[k], schedule.times_ms[k], schedule.shift_ms), tag) for k in range(index, end)]
        await send(chunk)
        sent += len(chunk)
        index = end
        if progress is not None:
            progress.update(sent)
    return sent


async def _replay(args: argparse.Namespace, events: list[dict], schedule: Schedule) -> int:
    from services.common.settings import get_settings

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    main = asyncio.current_task()
    assert main is not None  # a coroutine run by asyncio is always in a task

    def _interrupt() -> None:
        if stop.is_set():  # second Ctrl-C: abandon the batch in flight
            main.cancel()
        else:
            _say("stopping after the batch in flight (Ctrl-C again to abort it)")
            stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, _interrupt)

    progress = Progress(len(events)) if args.progress else None
    started = time.monotonic()
    sent = 0
    code = 0
    counter = {"sent": 0}

    async def counted(send: Send, chunk: list[dict]) -> None:
        await send(chunk)
        counter["sent"] += len(chunk)

    try:
        if args.target == "stdout":

            async def send(chunk):
                sys.stdout.write("".join(json.dumps(e, separators=(",", ":")) + "\n" for e in chunk))

            sent = await run_loop(
                events,
                schedule,
                lambda c: counted(send, c),
                batch=args.batch,
                stop=stop,
                progress=progress,
                tag=args.tag,
            )
        elif args.target == "ingest":
            import httpx

            url = args.url.rstrip("/") + "/webhooks/canonical"
            async with httpx.AsyncClient(timeout=30.0) as client:
                sent = await run_loop(
                    events,
                    schedule,
                    lambda c: counted(lambda b: send_to_ingest(client, url, b, token=args.token), c),
                    batch=args.batch,
                    stop=stop,
                    progress=progress,
                    tag=args.tag,
                )
        else:
            from aiokafka.errors import KafkaError

            from services.common.kafka import deskpulse_topics, ensure_topics

            settings = get_settings()
            try:
                await ensure_topics(
                    settings, [s for s in deskpulse_topics(settings) if s.name == settings.events_topic]
                )
                producer = kafka_producer(settings.kafka_bootstrap)
                await asyncio.wait_for(producer.start(), 30)
            except (KafkaError, OSError, TimeoutError) as exc:
                raise ReplayError(f"cannot reach Kafka at {settings.kafka_bootstrap}: {exc!r}") from None
            try:
                sent = await run_loop(
                    events,
                    schedule,
                    lambda c: counted(lambda b: send_to_kafka(producer, settings.events_topic, b), c),
                    batch=args.batch,
                    stop=stop,
                    progress=progress,
                    tag=args.tag,
                )
            finally:
                await producer.stop()
    except ReplayError as exc:
        sent = counter["sent"]
        _say(str(exc))
        code = 1
    except asyncio.CancelledError:
        sent = counter["sent"]
        code = 130
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        if progress is not None:
            progress.update(counter["sent"])
            progress.close()
    if code == 0 and stop.is_set() and sent < len(events):
        code = 130
    seconds = time.monotonic() - started
    rate = sent / seconds if seconds > 0 else 0.0
    state = {0: "done", 1: "failed", 130: "interrupted"}[code]
    print(
        f"replay {args.dataset} {state}: {sent} of {len(events)} events in {seconds:.1f} s ({rate:.0f} events/s)",
        file=sys.stderr if args.target == "stdout" else sys.stdout,
        flush=True,
    )
    return code


def cmd_replay(args: argparse.Namespace) -> int:
    try:
        kind, path = resolve(args.dataset)
    except ValueError as exc:
        _say(str(exc))
        return 2
    if not path.is_file():
        _say(f"no such file: {path}")
        return 2
    if args.speed < 0 or args.batch < 1 or (args.limit is not None and args.limit < 1):
        _say("--speed must be >= 0, --batch and --limit >= 1")
        return 2
    speed = 0.0 if args.no_wait else args.speed
    since_ms = None
    if args.since:
        try:
            since = datetime.fromisoformat(args.since)
        except ValueError:
            _say(f"--since must be an ISO date or date-time, got {args.since!r}")
            return 2
        since_ms = to_epoch_ms(format_time(since if since.tzinfo else since.replace(tzinfo=UTC)))
    loading = time.monotonic()
    try:
        events, times = order(
            importer(kind)(path, timezone=args.timezone), limit_contacts=args.limit, since_ms=since_ms
        )
    except KeyboardInterrupt:
        _say("interrupted while importing")
        return 130
    except (ValueError, KeyError, OSError) as exc:
        _say(f"cannot import {path}: {exc}")
        return 2
    except Exception as exc:  # e.g. XML syntax errors from the parser
        _say(f"cannot import {path}: {exc.__class__.__name__}: {exc}")
        return 2
    contacts = len({e["contact_id"] for e in events})
    schedule = make_schedule(times, speed=speed, rebase=args.rebase, now_ms=int(time.time() * 1000))
    span_days = schedule.span_ms / 86_400_000
    pace = f"at {speed:g}x: about {_duration(schedule.duration_s)}" if speed > 0 else "as fast as possible"
    _say(
        f"{len(events):,} events of {contacts:,} contacts from {path.name} (imported in "
        f"{time.monotonic() - loading:.1f} s), {span_days:,.1f} days of history, sent {pace}"
        + (f"; times shifted by {schedule.shift_ms / 86_400_000:+,.2f} days" if schedule.shift_ms else "")
    )
    try:
        return asyncio.run(_replay(args, events, schedule))
    except KeyboardInterrupt:  # Ctrl-C before the signal handlers were installed
        return 130


def register(sub: argparse._SubParsersAction) -> None:
    names = ", ".join(sorted(DATASETS))
    parser = sub.add_parser(
        "replay",
        help="replay a real helpdesk event log (bpi2013, helpdesk) as canonical events, in event-time order",
        description="Replay a real helpdesk event log as canonical events, in event-time order. "
        "Mappings: docs/datasets.md.",
    )
    parser.add_argument(
        "dataset", help=f"{names}, or a path to a .xes[.gz] (BPI 2013 layout) or .csv (Helpdesk layout)"
    )
    parser.add_argument(
        "--speed",
        type=float,
        default=3600.0,
        help="time compression: 3600 = an hour of history per second (default); 0 = no waiting",
    )
    parser.add_argument("--no-wait", action="store_true", help="send as fast as possible (same as --speed 0)")
    parser.add_argument(
        "--rebase",
        action="store_true",
        help="shift all event times by one constant so the replayed history ends now (when the last event is sent)",
    )
    parser.add_argument(
        "--limit", type=int, metavar="N", help="only the first N contacts by creation time, with all their events"
    )
    parser.add_argument(
        "--since",
        metavar="TIME",
        help="only contacts created at or after TIME (ISO 8601; UTC if no offset), e.g. 2012-05-01",
    )
    parser.add_argument(
        "--target",
        choices=["ingest", "kafka", "stdout"],
        default="ingest",
        help="ingest: POST /webhooks/canonical (default); kafka: the events topic directly "
        "(DESKPULSE_KAFKA_BOOTSTRAP); stdout: JSON lines",
    )
    parser.add_argument("--url", default="http://127.0.0.1:8001", help="ingest base URL (default %(default)s)")
    parser.add_argument(
        "--token",
        default=os.environ.get("DESKPULSE_WEBHOOK_SECRET_CANONICAL"),
        help="bearer token for ingest (default: $DESKPULSE_WEBHOOK_SECRET_CANONICAL)",
    )
    parser.add_argument("--batch", type=int, default=200, help="most events per request / batch (default 200)")
    parser.add_argument(
        "--timezone",
        default=DEFAULT_TIMEZONE,
        help="IANA zone of the Helpdesk log's zone-less local times (default %(default)s)",
    )
    parser.add_argument(
        "--tag",
        help="suffix contact and event ids with ~TAG, to replay the same log again as "
        "separate contacts (otherwise a second replay is deduplicated)",
    )
    parser.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar on stderr")
    parser.set_defaults(func=cmd_replay)
