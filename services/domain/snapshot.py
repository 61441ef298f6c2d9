"""The partial snapshot record ``deskpulse.snapshot.v1``: what the aggregator publishes to ``deskpulse.kpis.v1``.

One record holds one scope's figures on one partition of the events topic (a *partial*; the API adds the
partials of every partition). Written here once for the aggregator (``aggregates.snapshot``, ``engine.drain``),
which builds and encodes it, the API's read model, which decodes it, and the tests' partials. The JSON Schema in
``schemas/deskpulse.snapshot.v1/schema.json`` is the contract; ``tests/unit/domain/test_snapshot.py`` checks the
records the engine produces against it.

- **Kafka key**: ``<scope>#<partition>`` (UTF-8; the scope may itself hold ``#``, the partition never does), so
  the compacted topic keeps the latest partial of every (scope, partition). A tombstone (no value) removes one.
- **Value**: a JSON object (UTF-8, compact, as ``orjson`` writes it), its fields in the order of ``FIELDS``:
  ``schema``; ``scope`` with its labels ``kind``, ``platform``, ``id`` (``scopes.describe_scope``);
  ``partition``; ``stream_ms`` (the partition's stream time) and ``published_ms`` (the worker's wall clock);
  ``totals`` (window ``all``: counter name -> integer); ``minutes``, ``quarters``, ``days`` (buckets: start in
  epoch ms as a decimal string -> counters, ascending); ``live`` (gauges now, plus the fields of
  ``LIVE_DEFAULTS``); on agent scopes ``agent`` (current state), on ``all`` once an event was refused for its
  time ``future`` (``{"n", "last"}``).

Plain functions and dicts, no validation beyond what the read model needs: it applies thousands of records a
second. The schema is checked in tests, not on the hot path.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from services.domain.counters import Counters, add
from services.domain.scopes import describe_scope

SCHEMA_ID = "deskpulse.snapshot.v1"

# The value's fields, in the order they are written; the last three only where they apply.
FIELDS = (
    "schema",
    "scope",
    "kind",
    "platform",
    "id",
    "partition",
    "stream_ms",
    "published_ms",
    "totals",
    "minutes",
    "quarters",
    "days",
    "live",
    "agent",
    "future",
    "name",
)
# What the read model needs of a record to keep it (``decode``): anything else is read when a view is built.
DECODE_REQUIRED = ("totals", "live", "stream_ms", "published_ms")
# Bucket level (``windows.LEVEL_SIZE`` and ``d``) -> the field that holds its buckets.
BUCKET_FIELDS = {"m": "minutes", "q": "quarters", "d": "days"}
# The live fields every partial carries, at their values for a scope with nothing open or running; the other
# live fields are gauges (``open``, ``waiting``, ``agents_<state>``…), present when not zero.
LIVE_DEFAULTS: dict[str, int | None] = {
    "oldest_waiting_created_ms": None,
    "oldest_queued_ms": None,
    "sla_running": 0,
    "sla_breaching": 0,
    "sla_at_risk": 0,
    "next_breach_ms": None,
}
# Live fields merged across partitions by their minimum (``None``: none there); the others add up.
LIVE_MIN = ("oldest_waiting_created_ms", "oldest_queued_ms", "next_breach_ms")


def key(scope: str, partition: int) -> str:
    """Key of a partial snapshot on the compacted KPI topic: the scope id, then ``#`` and the partition."""
    return f"{scope}#{partition}"


def encode_key(scope: str, partition: int) -> bytes:
    """``key`` as the bytes sent to Kafka."""
    return f"{scope}#{partition}".encode()


def decode_key(raw: bytes) -> tuple[str, int] | None:
    """(scope, partition) of a record's key; ``None`` for a key that is not ``<scope>#<digits>``."""
    scope, _, partition = raw.decode(errors="replace").rpartition("#")
    if not scope or not partition.isdigit():
        return None
    try:
        return scope, int(partition)
    except ValueError:  # digits int() does not read, e.g. "²"
        return None


def record(
    scope: str,
    partition: int,
    stream_ms: int,
    published_ms: int,
    totals: Counters,
    buckets: Mapping[str, Mapping[int, Counters]],
    live: dict[str, Any],
    agent: dict[str, Any] | None = None,
    future: dict[str, Any] | None = None,
    name: str | None = None,
) -> dict[str, Any]:
    """The record of ``scope`` on ``partition``. ``buckets``: level (``m``, ``q``, ``d``) -> start (ms) -> counters;
    ``live``: the gauges and the ``LIVE_DEFAULTS`` fields, as written; ``agent``, ``future`` and ``name`` (a queue's
    or an agent's display name, as the platform's events gave it) only if given."""
    out = {
        "schema": SCHEMA_ID,
        "scope": scope,
        **describe_scope(scope),
        "partition": partition,
        "stream_ms": stream_ms,
        "published_ms": published_ms,
        "totals": dict(totals),
        "minutes": {str(k): v for k, v in sorted(buckets["m"].items())},
        "quarters": {str(k): v for k, v in sorted(buckets["q"].items())},
        "days": {str(k): v for k, v in sorted(buckets["d"].items())},
        "live": live,
    }
    if agent:
        out["agent"] = agent
    if future:
        out["future"] = future
    if name:
        out["name"] = name
    return out


def encode(value: dict[str, Any]) -> bytes:
    """A record as the bytes published on the KPI topic."""
    return orjson.dumps(value)


def decode(raw: bytes | str) -> dict[str, Any]:
    """The record in a value read from the KPI topic, as a dict (bucket starts stay strings: ``add_buckets``).

    Raises ``ValueError`` for a value that is not JSON or lacks a field of ``DECODE_REQUIRED``.
    """
    try:
        value = orjson.loads(raw)  # ~5x faster than json on partials; its errors are ValueErrors too
        value["totals"], value["live"], value["stream_ms"], value["published_ms"]  # each raises if absent
    except (KeyError, TypeError) as exc:
        raise ValueError(f"not a {SCHEMA_ID} record: {exc!r}") from None
    return value


def add_buckets(target: dict[int, Counters], buckets: Mapping[str, Counters]) -> None:
    """Add a record's ``minutes``, ``quarters`` or ``days`` into ``target``, keyed by start in ms (an int)."""
    for start, counters in buckets.items():
        add(target.setdefault(int(start), {}), counters)
