"""Event times ahead of the receiving clock, and what ingest does with them (docs/architecture.md, "Clocks").

Stream time follows event time, so one event dated in the future would drag every window, ``today`` and the
retirement of closed contacts forward with it. Ingest allows an event's ``occurred_at`` to lead its own clock by
``DESKPULSE_MAX_CLOCK_SKEW_S`` at most:

- a **canonical** event states its own time, and its sender can correct it: refused with 400, naming the field,
  how far ahead it was and the allowed skew;
- a **platform's** webhook is a real delivery whose platform would retry a 4xx or disable the endpoint: its
  events are accepted, stamped with the time ingest received them, and keep the platform's own value in
  ``attributes.platform_occurred_at``.

Both are counted in ``deskpulse_ingest_future_events_total{platform, action}``. Pure: the receipt time is given.
"""

from __future__ import annotations

from collections.abc import Sequence

from services.common.events import CanonicalEvent, from_epoch_ms, parse_event

PLATFORM_TIME = "platform_occurred_at"  # attribute holding a restamped event's original occurred_at


def beyond_skew(events: Sequence[CanonicalEvent], received_ms: int, max_skew_ms: int) -> list[int]:
    """Indexes of the events whose time is more than ``max_skew_ms`` after ``received_ms``.

    Canonical times are all in one form (UTC, milliseconds, ``Z``: ``events.format_time``), so they compare as
    strings: one formatting per delivery instead of one parse per event on ingest's hot path.
    """
    limit = from_epoch_ms(received_ms + max_skew_ms)
    return [i for i, event in enumerate(events) if event.occurred_at > limit]


def refusal(events: Sequence[CanonicalEvent], index: int, received_ms: int, max_skew_ms: int) -> str:
    """The 400 detail for a canonical delivery whose event ``index`` is too far in the future."""
    event = events[index]
    where = f"event[{index}].occurred_at" if len(events) > 1 else "occurred_at"
    ahead_s = (event.occurred_ms - received_ms) / 1000
    return (
        f"{where}: {event.occurred_at} is {ahead_s:,.0f} s ahead of the time it was received "
        f"({from_epoch_ms(received_ms)}); at most {max_skew_ms / 1000:,.0f} s is allowed "
        f"(DESKPULSE_MAX_CLOCK_SKEW_S)"
    )


def restamp(event: CanonicalEvent, received_ms: int) -> CanonicalEvent:
    """``event`` at the receipt time, its own time kept in ``attributes.platform_occurred_at``."""
    document = event.to_json_dict()
    document["occurred_at"] = from_epoch_ms(received_ms)
    document["attributes"] = {**event.attributes, PLATFORM_TIME: event.occurred_at}
    return parse_event(document)
