"""GET a page of a platform's API: JSON back, rate limits waited out (``Retry-After``), transient failures retried."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from services.ingest.backfill.source import BackfillError, Request

log = logging.getLogger(__name__)
Sleep = Callable[[float], Awaitable[None]]


def retry_after(value: str | None, now_s: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: a number of seconds or an HTTP date (RFC 9110 §10.2.3)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - now_s)
    except (TypeError, ValueError, IndexError):
        return None


def _wait(headers: Mapping[str, str], now_s: float) -> float | None:
    """Seconds a 429 asks to wait: ``Retry-After``; else Help Scout's ``X-RateLimit-Retry-After`` (seconds); else
    ``X-RateLimit-Reset`` (Intercom, Front: when the window resets, epoch seconds, or seconds from now if small)."""
    wait = retry_after(headers.get("retry-after"), now_s) or retry_after(headers.get("x-ratelimit-retry-after"), now_s)
    if wait is not None:
        return wait
    try:
        reset = float(headers.get("x-ratelimit-reset", ""))
    except ValueError:
        return None
    return max(0.0, reset - now_s) if reset > 1_000_000_000 else max(0.0, reset)


async def get_json(
    client: httpx.AsyncClient,
    request: Request,
    headers: Mapping[str, str],
    platform: str,
    *,
    attempts: int = 8,
    backoff_s: float = 1.0,
    max_wait_s: float = 300.0,
    sleep: Sleep = asyncio.sleep,
    now_s: Callable[[], float] = time.time,
) -> Any:
    """The JSON body of ``request``. 429 and 5xx wait (``Retry-After``, else exponential back-off) and try again,
    as do connection errors, up to ``attempts`` tries; 401/403 and other 4xx stop with the platform's answer."""
    delay = backoff_s
    problem = ""
    for attempt in range(1, attempts + 1):
        wait = delay
        try:
            response = await client.get(request.url, params=dict(request.params) or None, headers=dict(headers))
        except httpx.TransportError as exc:
            problem = f"cannot reach {platform} at {request.url}: {exc.__class__.__name__}"
        else:
            if response.status_code == 200:
                try:
                    return response.json()
                except ValueError:
                    raise BackfillError(f"{platform} answered {request.url} with something other than JSON") from None
            answer = response.text[:300].strip()
            if response.status_code in (401, 403):
                raise BackfillError(
                    f"{platform} refused the credentials ({response.status_code} {answer}); check its "
                    "DESKPULSE_BACKFILL_* variables (docs/backfill.md)"
                )
            if response.status_code != 429 and response.status_code < 500:
                raise BackfillError(f"{platform} answered {response.status_code} to {request.url}: {answer}")
            problem = f"{platform} answered {response.status_code}"
            wait = _wait(response.headers, now_s()) or delay
        if attempt < attempts:
            wait = min(wait, max_wait_s)
            log.warning("%s; trying again in %.0f s (attempt %d of %d)", problem, wait, attempt + 1, attempts)
            await sleep(wait)
            delay = min(delay * 2, max_wait_s)
    raise BackfillError(f"{problem} (gave up after {attempts} attempts)")
