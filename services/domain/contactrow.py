"""The contact row: one contact's facts and figures as the aggregator publishes them on ``deskpulse.contacts.v1``
(compacted, keyed by ``<platform>/<contact id>``, a tombstone when the contact is retired), for the API's
drill-down lists and CSV export. Written here once for both sides; the JSON Schema is in
``schemas/deskpulse.contact.v1/``.

Times are RFC 3339 UTC; durations seconds (calendar, and business hours where the contact's SLA policy has a
calendar); ``null`` where the contact has no such figure (yet). The figures are the contact's own share of the
scopes' counters (``kpis.contribution``), so rows add up to the figures.
"""

from __future__ import annotations

from typing import Any

import orjson

SCHEMA_ID = "deskpulse.contact.v1"

# The row's fields in the order they are written, and the CSV's columns (without ``schema``).
FIELDS = (
    "schema",
    "key",
    "platform",
    "account",
    "contact_id",
    "queue",
    "agent",
    "category",
    "channel",
    "priority",
    "status",
    "created_at",
    "first_response_at",
    "resolved_at",
    "last_event_at",
    "open",
    "waiting",
    "in_queue",
    "first_response_seconds",
    "first_response_business_seconds",
    "resolution_seconds",
    "full_resolution_seconds",
    "replies",
    "reopens",
    "one_touch",
    "csat",
    "complaint",
    "sla_first_response",
    "sla_resolution",
    "sla_next_deadline",
    "sla_at_risk_from",
    "url",
)
CSV_FIELDS = FIELDS[1:]
SLA_OUTCOMES = ("met", "breached")


def encode_key(key: str) -> bytes:
    return key.encode()


def encode(row: dict[str, Any]) -> bytes:
    return orjson.dumps({name: row.get(name) for name in FIELDS})


def decode(value: bytes) -> dict[str, Any] | None:
    """A row, or None for a value that is not one (logged and skipped by the reader)."""
    try:
        row = orjson.loads(value)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(row, dict) or row.get("schema") != SCHEMA_ID or not isinstance(row.get("key"), str):
        return None
    return row
