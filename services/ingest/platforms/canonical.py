"""Events posted already in the canonical schema (one event or a JSON array).

Authentication is optional: with ``DESKPULSE_WEBHOOK_SECRET_CANONICAL`` set, requests must carry
``Authorization: Bearer <secret>``.
"""

from __future__ import annotations

from collections.abc import Sequence

from services.common.events import EventValidationError, parse_event
from services.ingest.platforms.base import Adapted, Delivery, Malformed, Unauthorized, any_matches, json_body

NAME = "canonical"
MEDIA_TYPES = frozenset({"application/json"})
REQUIRES_SECRET = False


def verify(delivery: Delivery, secrets: Sequence[str], tolerance_s: float) -> None:
    if not secrets:
        return
    auth = delivery.headers.get("authorization", "")
    token = auth[7:] if auth[:7].lower() == "bearer " else None
    if not any_matches(secrets, token):
        raise Unauthorized("missing or wrong bearer token")


def to_events(delivery: Delivery) -> Adapted:
    document = json_body(delivery)
    if isinstance(document, list):
        if not document:
            raise Malformed("the array holds no events")
        events = []
        for index, item in enumerate(document):
            try:
                events.append(parse_event(item))
            except EventValidationError as exc:
                raise Malformed(f"event[{index}]: {exc}") from None
        return Adapted(events)
    try:
        return Adapted([parse_event(document)])
    except EventValidationError as exc:
        raise Malformed(str(exc)) from None
