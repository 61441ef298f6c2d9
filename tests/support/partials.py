"""Partial snapshots as the aggregator publishes them (``services.domain.snapshot``), for API tests."""

from __future__ import annotations

from services.domain import snapshot


def partial(scope: str, partition: int = 0, *, totals=None, minutes=None, quarters=None, live=None, agent=None,
            stream_ms: int = 1_795_000_100_000, published_ms: int = 1_795_000_100_000, days=None,
            future=None) -> dict:
    """The record of ``scope`` on ``partition``: buckets by start (ms), ``live`` over ``snapshot.LIVE_DEFAULTS``."""
    return snapshot.record(scope, partition, stream_ms, published_ms, totals or {},
                           {"m": minutes or {}, "q": quarters or {}, "d": days or {}},
                           {**snapshot.LIVE_DEFAULTS, **(live or {})}, agent, future)


def encoded(scope: str, partition: int = 0, **kw) -> tuple[bytes, bytes]:
    """(key, value) of that record on the KPI topic."""
    return snapshot.encode_key(scope, partition), snapshot.encode(partial(scope, partition, **kw))
