"""``deskpulse backfill <platform>``: the contacts open now (and those changed in the last days) from the platform's
REST API, as canonical events, into ingest or the events topic; resumable (docs/backfill.md)."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path

from services.common.clock import wall_ms
from services.common.events import parse_time, to_epoch_ms


def _line(platform: str, totals, started: float) -> str:
    seconds = time.monotonic() - started
    return (
        f"backfill {platform}: {totals.pages:,} pages, {totals.records:,} contacts, {totals.events:,} events, "
        f"{totals.skipped:,} skipped, {totals.newer:,} newer (left to the webhooks), "
        f"{totals.records / seconds if seconds > 0 else 0:,.0f} contacts/s"
    )


async def _backfill(args: argparse.Namespace) -> int:
    import httpx

    from services.common.settings import get_settings
    from services.ingest.backfill.run import SOURCES, StateFile, run
    from services.replay.targets import kafka_producer, send_to_ingest, send_to_kafka

    settings = get_settings()
    source = SOURCES[args.platform]
    connection = source.connect(os.environ, args.api_url)
    path = args.state or settings.data_dir / "backfill" / f"{args.platform}-{connection.account or 'default'}.json"
    state = StateFile(Path(path), args.platform, connection.account)
    if args.restart:
        state.finish()
    started = time.monotonic()
    last = {"at": 0.0}

    def progress(totals) -> None:
        if args.progress and (time.monotonic() - last["at"] >= 1.0 or totals.pages == 1):
            last["at"] = time.monotonic()
            print(_line(args.platform, totals, started), file=sys.stderr, flush=True)

    since_ms = wall_ms() - int(args.days * 86_400_000)
    created_before_ms = to_epoch_ms(args.created_before) if args.created_before else None
    async with httpx.AsyncClient(timeout=60.0) as client:
        producer = None
        if args.to == "ingest":
            url = args.ingest_url.rstrip("/") + "/webhooks/canonical"
            token = os.environ.get("DESKPULSE_WEBHOOK_SECRET_CANONICAL")

            async def send(events):
                await send_to_ingest(client, url, events, token=token)

        else:
            producer = kafka_producer(settings.kafka_bootstrap)
            await asyncio.wait_for(producer.start(), 30)

            async def send(events):
                await send_to_kafka(producer, settings.events_topic, events)

        try:
            totals = await run(
                source,
                connection,
                client,
                send,
                since_ms=since_ms,
                state=state,
                progress=progress,
                created_before_ms=created_before_ms,
            )
        finally:
            if producer is not None:
                await producer.stop()
    print(_line(args.platform, totals, started) + " (done)", flush=True)
    return 0


def cmd_backfill(args: argparse.Namespace) -> int:
    from services.ingest.backfill.source import BackfillError
    from services.replay.targets import ReplayError

    try:
        return asyncio.run(_backfill(args))
    except (BackfillError, ReplayError) as exc:
        print(f"deskpulse backfill: {exc}", file=sys.stderr)
        return 2 if "set DESKPULSE_BACKFILL" in str(exc) else 1
    except KeyboardInterrupt:
        print("deskpulse backfill: interrupted; run the same command again to resume", file=sys.stderr)
        return 130


def _time(text: str) -> str:
    try:
        parse_time(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an RFC 3339 time: {text!r} (e.g. 2026-12-07T09:00:00Z)") from None
    return text


def register(sub) -> None:
    from services.ingest.backfill.run import SOURCES

    parser = sub.add_parser(
        "backfill",
        help="bring in the contacts already open (and recently changed) from a platform's API",
        description="Read the contacts changed in the last --days (the open backlog included) through the platform's "
        "REST API and send them as canonical events. Credentials come from DESKPULSE_BACKFILL_<PLATFORM>_* "
        "variables (docs/backfill.md). Resumable: an interrupted run continues where it stopped.",
    )
    parser.add_argument("platform", choices=sorted(SOURCES))
    parser.add_argument("--days", type=float, default=30.0, help="contacts changed in this many days (default 30)")
    parser.add_argument("--api-url", help="the platform API's base URL (default from its DESKPULSE_BACKFILL_*_URL)")
    parser.add_argument("--to", choices=["ingest", "kafka"], default="ingest", help="where events go (default ingest)")
    parser.add_argument("--ingest-url", default="http://127.0.0.1:8001", help="ingest base URL (default %(default)s)")
    parser.add_argument(
        "--state", type=Path, help="the resume file (default <data dir>/backfill/<platform>-<account>.json)"
    )
    parser.add_argument("--restart", action="store_true", help="forget a saved position and start over")
    parser.add_argument(
        "--created-before",
        type=_time,
        metavar="TIME",
        help="only contacts created before this RFC 3339 time: when the platform's webhooks were connected "
        "(the later ones came through them; docs/backfill.md)",
    )
    parser.add_argument("--no-progress", dest="progress", action="store_false", help="no progress lines on stderr")
    parser.set_defaults(func=cmd_backfill)
