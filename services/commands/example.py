"""``deskpulse example``: a canonical example event with new ids and the pipeline's current time, to POST.

The examples under ``schemas/deskpulse.event.v1/examples/valid/`` carry fixed ids and times. Posted as they are
into a running pipeline, the second post is a duplicate and the time is whatever day the file was written: during
a replay of history that can be weeks ahead of the replay, and the partition it lands on would jump ahead with
it, making later replayed events late (docs/architecture.md, "Clocks"). This command prints the example with
fresh ids (each run is a new contact) and the time the pipeline is at: the API's stream time when the API
answers (the replay's present during a replay, now for live traffic), else the wall clock.
"""

from __future__ import annotations

import argparse
import json
import sys

import httpx

from services.common.clock import wall_ms
from services.common.events import from_epoch_ms, parse_event, to_epoch_ms
from services.common.settings import REPO_ROOT, get_settings

EXAMPLES = REPO_ROOT / "schemas" / "deskpulse.event.v1" / "examples" / "valid"


def stamp(document: dict, at_ms: int, tag: str) -> dict:
    """``document`` at ``at_ms``, its event id and contact (or agent) id made unique with ``tag``."""
    out = {**document, "occurred_at": from_epoch_ms(at_ms), "event_id": f"{document['event_id']}-{tag}"}
    if out.get("contact_id") is not None:
        out["contact_id"] = f"{out['contact_id']}-{tag}"
    parse_event(out)  # still a valid canonical event
    return out


def pipeline_time(api_url: str, timeout_s: float = 2.0) -> int | None:
    """The API's stream time (``as_of`` of ``/v1/summary``), or None when the API has none or does not answer."""
    try:
        response = httpx.get(f"{api_url.rstrip('/')}/v1/summary", timeout=timeout_s)
        as_of = response.json().get("as_of") if response.status_code == 200 else None
    except (httpx.HTTPError, ValueError):
        return None
    return to_epoch_ms(as_of) if isinstance(as_of, str) else None


def _names() -> list[str]:
    return sorted(p.stem for p in EXAMPLES.glob("*.json"))


def cmd_example(args: argparse.Namespace) -> int:
    path = EXAMPLES / f"{args.name}.json"
    if not path.is_file():
        print(f"deskpulse example: no example '{args.name}'; known: {', '.join(_names())}", file=sys.stderr)
        return 2
    if args.at == "now":
        at, source = wall_ms(), "the wall clock"
    elif args.at == "stream":
        stream_at = pipeline_time(args.api)
        at, source = (
            (stream_at, f"the pipeline's stream time ({args.api})")
            if stream_at is not None
            else (wall_ms(), f"the wall clock: {args.api} gave no stream time")
        )
    else:
        try:
            at, source = to_epoch_ms(args.at), "--at"
        except ValueError as exc:
            print(f"deskpulse example: --at must be now, stream or an RFC 3339 time: {exc}", file=sys.stderr)
            return 2
    document = stamp(json.loads(path.read_text()), at, str(wall_ms()))
    print(json.dumps(document, separators=(",", ":")))
    print(f"deskpulse example: {args.name} at {document['occurred_at']} ({source})", file=sys.stderr)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    settings = get_settings()
    example = sub.add_parser(
        "example",
        help="print a canonical example event with new ids, stamped at the pipeline's time",
        description="Print one of the canonical schema's examples with new ids, stamped at the pipeline's current "
        "time, e.g. to pipe into curl. Examples: " + ", ".join(_names()),
    )
    example.add_argument("name", nargs="?", default="ticket_created", help="which example (default ticket_created)")
    example.add_argument(
        "--at",
        default="stream",
        help="stream (default): the API's stream time, else now; now: the wall clock; or an RFC 3339 time",
    )
    example.add_argument(
        "--api",
        default=f"http://{settings.api_host}:{settings.api_port}",
        help="the read API asked for the stream time (default from DESKPULSE_API_HOST/PORT)",
    )
    example.set_defaults(func=cmd_example)
