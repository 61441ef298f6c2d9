"""``deskpulse normalize`` and ``deskpulse verify``: see what a delivery becomes, or why it is refused."""

from __future__ import annotations

import argparse
import json
import sys
import time

from services.ingest import platforms
from services.ingest.platforms.base import Delivery, WebhookError


def _headers(values: list[str]) -> dict[str, str]:
    headers = {}
    for value in values:
        name, sep, rest = value.partition(":")
        if not sep or not name.strip():
            raise SystemExit(f"deskpulse: --header must look like 'Name: value', got {value!r}")
        headers[name.strip().lower()] = rest.strip()
    return headers


def _read(path: str) -> bytes:
    if path == "-":
        return sys.stdin.buffer.read()
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as exc:
        raise SystemExit(f"deskpulse: cannot read {path}: {exc.strerror}") from None


def _adapter(name: str):
    adapter = platforms.get(name)
    if adapter is None:
        known = ", ".join(sorted(platforms.PLATFORMS))
        print(f"deskpulse: unknown platform '{name}'; known: {known}", file=sys.stderr)
        raise SystemExit(2)
    return adapter


def cmd_normalize(args: argparse.Namespace) -> int:
    adapter = _adapter(args.platform)
    delivery = Delivery(body=_read(args.file), headers=_headers(args.header), url=args.url or "",
                        account=args.account, received_at=time.time())
    try:
        adapted = adapter.to_events(delivery)
    except WebhookError as exc:
        print(f"deskpulse normalize: {exc.outcome} ({exc.status}): {exc.detail}", file=sys.stderr)
        return 2
    for event in adapted.events:
        print(json.dumps(event.to_json_dict(), separators=(",", ":")))
    if not adapted.events:
        print(f"deskpulse normalize: accepted and ignored: {args.platform} sends nothing for KPIs in this delivery",
              file=sys.stderr)
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    adapter = _adapter(args.platform)
    delivery = Delivery(body=_read(args.file), headers=_headers(args.header), url=args.url or "",
                        account=args.account, received_at=args.at if args.at is not None else time.time())
    try:
        adapter.verify(delivery, args.secret, args.tolerance)
    except WebhookError as exc:
        print(f"invalid: {exc.detail}")
        return 1
    print("valid")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--platform", required=True, help="platform name, e.g. zendesk")
    common.add_argument("--header", action="append", default=[], metavar="'Name: value'",
                        help="a request header as received (repeatable)")
    common.add_argument("--url", help="the public URL the platform called (platforms that sign the URL)")
    common.add_argument("--account", help="the account segment of /webhooks/<platform>/<account>")
    common.add_argument("file", help="the raw request body, or - for standard input")

    normalize = sub.add_parser("normalize", parents=[common],
                               help="print the canonical events a delivery becomes, as JSON lines")
    normalize.set_defaults(func=cmd_normalize)

    verify = sub.add_parser("verify", parents=[common], help="check a delivery's signature: exit 0 valid, 1 invalid")
    verify.add_argument("--secret", action="append", required=True, help="the webhook secret (repeat for rotation)")
    verify.add_argument("--tolerance", type=float, default=300.0, help="replay window for signed timestamps (s)")
    verify.add_argument("--at", type=float, help="pretend the delivery arrived at this epoch time (s)")
    verify.set_defaults(func=cmd_verify)
