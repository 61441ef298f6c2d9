"""Small builders of canonical event documents for tests."""

from __future__ import annotations

import itertools

from services.common.events import from_epoch_ms, parse_event

_ids = itertools.count(1)
T0 = 1_795_000_000_000  # a fixed epoch-ms origin for readable offsets


def doc(kind: str, t_s: float, contact: str = "c1", platform: str = "zendesk", **fields) -> dict:
    """A canonical event document ``t_s`` seconds after ``T0``."""
    out = {
        "schema": "deskpulse.event.v1",
        "event_id": fields.pop("event_id", f"e{next(_ids)}"),
        "type": kind,
        "occurred_at": from_epoch_ms(T0 + int(t_s * 1000)),
        "platform": platform,
        "contact_id": contact,
    }
    out.update(fields)
    return out


def ev(kind: str, t_s: float, contact: str = "c1", **fields):
    return parse_event(doc(kind, t_s, contact, **fields))
