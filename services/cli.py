"""``deskpulse``: the one console script. Each sub-command is a thin entry point into a service."""

from __future__ import annotations

import argparse
import logging
import re
import signal
import sys
import time

from services.common.settings import get_settings


def _logging(level: str) -> None:
    logging.basicConfig(level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request is noise here


def cmd_kafka(args: argparse.Namespace) -> int:
    from services.common.localkafka import LocalKafkaError, from_settings

    settings = get_settings()
    broker = from_settings(settings)
    try:
        if args.action == "fetch":
            spent = broker.fetch()
            print(f"Kafka {settings.kafka_version} jars in {broker.lib_dir} ({spent:.1f} s)")
            return 0
        seconds = broker.start()
    except LocalKafkaError as exc:
        print(f"deskpulse kafka: {exc}", file=sys.stderr)
        return 1
    print(
        f"Kafka {settings.kafka_version} ready at {broker.bootstrap} in {seconds:.1f} s (Ctrl-C stops it)", flush=True
    )
    stop = {"now": False}

    def _stop(*_):
        stop["now"] = True

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    try:
        while not stop["now"] and broker.process is not None and broker.process.poll() is None:
            time.sleep(0.2)
    finally:
        broker.stop()
    print("Kafka stopped")
    return 0


class RedactTokens(logging.Filter):
    """Access-log lines never carry a token passed in the query string (``?access_token=…``)."""

    _TOKEN = re.compile(r"(access_token|token)=[^&\s]*")

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and len(record.args) >= 3 and isinstance(path := record.args[2], str):
            args = list(record.args)
            args[2] = self._TOKEN.sub(r"\1=[redacted]", path)
            record.args = tuple(args)
        return True


def _serve(app, host: str, port: int, on_exit=None) -> int:
    """Serve an ASGI app until SIGINT/SIGTERM; a requested stop drains requests and exits with code 0.

    ``on_exit`` runs on the event loop as soon as the stop is requested (e.g. to end open event streams,
    which uvicorn would otherwise wait for until its graceful timeout).
    """
    import asyncio

    import uvicorn

    class Server(uvicorn.Server):
        def handle_exit(self, sig, frame) -> None:
            super().handle_exit(sig, frame)
            self._captured_signals.clear()  # uvicorn would re-raise the signal after a graceful stop
            if on_exit is not None:
                try:
                    asyncio.get_event_loop().call_soon_threadsafe(on_exit)
                except RuntimeError:
                    pass  # no loop yet: nothing is open

    config = uvicorn.Config(
        app, host=host, port=port, log_level=get_settings().log_level.lower(), timeout_graceful_shutdown=10
    )
    logging.getLogger("uvicorn.access").addFilter(RedactTokens())  # after Config, which sets up logging
    server = Server(config)
    server.run()
    return 0 if server.started else 1


def cmd_ingest(args: argparse.Namespace) -> int:
    from services.ingest.app import OpenWritePath, create_app
    from services.ingest.secrets import SecretsConfigError

    settings = get_settings()
    try:
        app = create_app(settings)
    except (OpenWritePath, SecretsConfigError) as exc:
        print(f"deskpulse ingest: {exc}", file=sys.stderr)
        return 2
    return _serve(app, settings.ingest_host, settings.ingest_port)


def cmd_api(args: argparse.Namespace) -> int:
    from services.api.app import ConfigError, create_app

    settings = get_settings()
    try:
        app = create_app(settings)
    except ConfigError as exc:
        print(f"deskpulse api: {exc}", file=sys.stderr)
        return 2
    return _serve(app, settings.api_host, settings.api_port, on_exit=app.state.change_feed.close_streams)


def cmd_aggregator(args: argparse.Namespace) -> int:
    from services.aggregator.app import run

    run(get_settings(), metrics_port=args.metrics_port)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from services.demo.run import run_demo

    return run_demo(
        get_settings(),
        source=args.source,
        since=args.since,
        speed=args.speed,
        rate=args.rate,
        history_contacts=args.history,
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="deskpulse", description="Live customer-service KPIs over Kafka.")
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser(
        "demo",
        help="run Kafka, aggregator, ingest and API locally and feed them events",
        description="Run the pipeline locally and feed it a working floor of synthetic traffic, or replay a "
        "real helpdesk log through it (rebased to end now, time-compressed).",
    )
    demo.add_argument(
        "--source",
        choices=["bpi2013", "helpdesk", "synthetic"],
        default="synthetic",
        help="synthetic (default): a working floor of generated contacts and agents with SLA policies and goals; "
        "bpi2013: the BPI Challenge 2013 incident log replayed; helpdesk: the Helpdesk log (docs/datasets.md)",
    )
    demo.add_argument(
        "--since",
        metavar="TIME",
        help="replay: only contacts created at or after TIME (default bpi2013 2012-04-23, helpdesk 2013-01-01)",
    )
    demo.add_argument(
        "--speed",
        type=float,
        default=None,
        help="replay: time compression (default bpi2013 3600 = an hour of history per second, "
        "helpdesk 86400); synthetic: how much faster than real time contacts progress (20)",
    )
    demo.add_argument("--rate", type=float, default=40.0, help="synthetic: new contacts per minute (default 40)")
    demo.add_argument(
        "--history", type=int, default=300, help="synthetic: contacts of backfilled history to post first"
    )
    demo.set_defaults(func=cmd_demo)

    kafka = sub.add_parser("kafka", help="run a local single-node Kafka (KRaft) until Ctrl-C")
    kafka.add_argument(
        "action",
        nargs="?",
        choices=["run", "fetch"],
        default="run",
        help="run (default), or only fetch the broker jars",
    )
    kafka.set_defaults(func=cmd_kafka)

    sub.add_parser("ingest", help="run the webhook ingest service").set_defaults(func=cmd_ingest)
    sub.add_parser("api", help="run the read API").set_defaults(func=cmd_api)
    agg = sub.add_parser("aggregator", help="run one aggregator worker")
    agg.add_argument("--metrics-port", type=int, default=None, help="serve Prometheus metrics on this port")
    agg.set_defaults(func=cmd_aggregator)

    # Further commands live in one module each under services/commands/, with a register(sub) function.
    from services.commands import backfill, doctor, example, replay, staffing, token, webhooks

    for module in (webhooks, staffing, replay, backfill, example, doctor, token):
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _logging(get_settings().log_level)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
