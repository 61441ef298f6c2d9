"""``deskpulse normalize`` and ``deskpulse verify``: see what a delivery becomes, or why it is refused."""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace

from services.ingest import platforms, recorded
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


def _delivery(args: argparse.Namespace, received_at: float | None) -> Delivery:
    """The delivery in ``args.file``: a raw body, or a recorded delivery (a fixture: body, headers, time), whose
    values the command line's ``--header``, ``--url``, ``--account`` and ``--at`` override."""
    body = _read(args.file)
    document = None
    if not args.raw and body.lstrip()[:1] == b"{":
        try:
            document = json.loads(body)
        except ValueError:
            document = None
    if recorded.is_recorded(document):
        found = recorded.delivery(document, url=args.url, account=args.account, received_at=received_at)
        return replace(
            found, headers={**found.headers, **_headers(args.header)}, received_at=found.received_at or time.time()
        )
    return Delivery(
        body=body,
        headers=_headers(args.header),
        url=args.url or "",
        account=args.account,
        received_at=received_at if received_at is not None else time.time(),
    )


def cmd_normalize(args: argparse.Namespace) -> int:
    adapter = _adapter(args.platform)
    delivery = _delivery(args, None)
    try:
        adapted = adapter.to_events(delivery)
    except WebhookError as exc:
        print(f"deskpulse normalize: {exc.outcome} ({exc.status}): {exc.detail}", file=sys.stderr)
        return 2
    for event in adapted.events:
        print(json.dumps(event.to_json_dict(), separators=(",", ":")))
    if not adapted.events:
        print(
            f"deskpulse normalize: accepted and ignored: {args.platform} sends nothing for KPIs in this delivery",
            file=sys.stderr,
        )
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    adapter = _adapter(args.platform)
    delivery = _delivery(args, args.at)
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
    common.add_argument(
        "--header",
        action="append",
        default=[],
        metavar="'Name: value'",
        help="a request header as received (repeatable)",
    )
    common.add_argument("--url", help="the public URL the platform called (platforms that sign the URL)")
    common.add_argument("--account", help="the account segment of /webhooks/<platform>/<account>")
    common.add_argument(
        "file",
        help="the request body, or a recorded delivery as in tests/fixtures/ (body, headers "
        "and time, which the options override); - for standard input",
    )
    common.add_argument(
        "--raw", action="store_true", help="the file is the body as sent, even if it looks like a recorded delivery"
    )

    normalize = sub.add_parser(
        "normalize", parents=[common], help="print the canonical events a delivery becomes, as JSON lines"
    )
    normalize.set_defaults(func=cmd_normalize)

    verify = sub.add_parser("verify", parents=[common], help="check a delivery's signature: exit 0 valid, 1 invalid")
    verify.add_argument("--secret", action="append", required=True, help="the webhook secret (repeat for rotation)")
    verify.add_argument("--tolerance", type=float, default=300.0, help="replay window for signed timestamps (s)")
    verify.add_argument("--at", type=float, help="pretend the delivery arrived at this epoch time (s)")
    verify.set_defaults(func=cmd_verify)
