"""Partial snapshots as the aggregator publishes them, for API tests."""

from __future__ import annotations

import json

from services.domain.scopes import describe_scope


def partial(scope: str, partition: int = 0, *, totals=None, minutes=None, quarters=None, live=None, agent=None,
            stream_ms: int = 1_795_000_100_000, published_ms: int = 1_795_000_100_000, days=None,
            future=None) -> dict:
    return {
        "schema": "deskpulse.snapshot.v1", "scope": scope, **describe_scope(scope), "partition": partition,
        "stream_ms": stream_ms, "published_ms": published_ms,
        "totals": totals or {}, "minutes": {str(k): v for k, v in (minutes or {}).items()},
        "quarters": {str(k): v for k, v in (quarters or {}).items()},
        "days": {str(k): v for k, v in (days or {}).items()},
        "live": {"oldest_waiting_created_ms": None, "oldest_queued_ms": None, "sla_running": 0, "sla_breaching": 0,
                 "sla_at_risk": 0, "next_breach_ms": None, **(live or {})},
        **({"agent": agent} if agent else {}),
        **({"future": future} if future else {}),
    }


def encoded(scope: str, partition: int = 0, **kw) -> tuple[bytes, bytes]:
    return f"{scope}#{partition}".encode(), json.dumps(partial(scope, partition, **kw)).encode()
