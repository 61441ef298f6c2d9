"""Where replayed events go: ingest's ``POST /webhooks/canonical`` over HTTP, or the events topic directly.

Both take one batch of canonical event documents and return once it is durably accepted (ingest answered
2xx, or Kafka acknowledged every record), so the caller can count it as sent.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

Sleep = Callable[[float], Awaitable[None]]


class ReplayError(RuntimeError):
    """A batch could not be delivered (a refusal that retrying will not fix, or retries exhausted)."""


def kafka_key(event: dict[str, Any]) -> bytes:
    """The partition key of ARCHITECTURE.md: ``contact_id``, or ``agent_id`` for ``agent.*`` events."""
    key = event["agent_id"] if event["type"].startswith("agent.") else event["contact_id"]
    return key.encode()


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return float(response.headers["retry-after"])
    except (KeyError, ValueError):
        return None


async def send_to_ingest(
    client: httpx.AsyncClient,
    url: str,
    events: list[dict[str, Any]],
    *,
    token: str | None = None,
    attempts: int = 8,
    backoff_s: float = 0.5,
    max_backoff_s: float = 10.0,
    sleep: Sleep = asyncio.sleep,
) -> int:
    """POST ``events`` as one JSON array to ``url`` (``…/webhooks/canonical``); return how many ingest accepted.

    202 (accepted) and 200 (duplicates) are success. 503 (Kafka unavailable) and connection errors are retried
    with exponential backoff (``Retry-After`` honoured), up to ``attempts`` tries; anything else raises
    :class:`ReplayError` with ingest's ``detail``.
    """
    if not events:
        return 0
    headers = {"content-type": "application/json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    body = json.dumps(events, separators=(",", ":")).encode()
    delay = backoff_s
    problem = ""
    for attempt in range(1, attempts + 1):
        wait = delay
        try:
            response = await client.post(url, content=body, headers=headers)
        except httpx.TransportError as exc:
            problem = f"cannot reach ingest at {url}: {exc.__class__.__name__} {exc}".rstrip()
        else:
            if response.status_code in (200, 202):
                try:
                    return int(response.json().get("accepted", 0))
                except (ValueError, AttributeError):
                    return 0
            try:
                detail = response.json().get("detail", response.text)
            except (ValueError, AttributeError):
                detail = response.text
            problem = f"ingest answered {response.status_code}: {str(detail)[:300]}"
            if response.status_code != 503:
                raise ReplayError(problem)
            wait = _retry_after(response) or delay
        if attempt < attempts:
            await sleep(min(wait, max_backoff_s))
            delay = min(delay * 2, max_backoff_s)
    raise ReplayError(f"{problem} (gave up after {attempts} attempts)")


async def send_to_kafka(producer: Any, topic: str, events: list[dict[str, Any]]) -> int:
    """Write ``events`` to ``topic`` (key = contact_id) with an idempotent producer; return once all are acked."""
    futures = [
        await producer.send(topic, key=kafka_key(e), value=json.dumps(e, separators=(",", ":")).encode())
        for e in events
    ]
    await asyncio.gather(*futures)
    return len(futures)


def kafka_producer(bootstrap: str, *, linger_ms: int = 20):
    """An idempotent aiokafka producer (``acks=all``); the caller starts and stops it."""
    from aiokafka import AIOKafkaProducer

    return AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, linger_ms=linger_ms)
