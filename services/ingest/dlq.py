"""The DLQ record: an authentic delivery that could not be mapped, as it is written to DESKPULSE_DLQ_TOPIC.

Keyed by platform; the value is a JSON object ``{platform, account, reason, received_at, headers, body}`` where
``body`` is ``{"text": ...}`` when the body is UTF-8 and ``{"base64": ...}`` otherwise, and ``headers`` leaves out
credentials (the authorization, cookie and API-key headers, and any header whose name contains "secret").
"""

from __future__ import annotations

import base64
import json

from services.ingest.platforms.base import Delivery

# Headers never copied into the DLQ: credentials.
SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "x-api-key"})


def dlq_record(platform: str, delivery: Delivery, reason: str) -> tuple[bytes, bytes]:
    """The (key, value) bytes of the DLQ record for ``delivery``; ``reason`` is why it could not be mapped."""
    try:
        body: dict = {"text": delivery.body.decode()}
    except UnicodeDecodeError:
        body = {"base64": base64.b64encode(delivery.body).decode()}
    value = {
        "platform": platform,
        "account": delivery.account,
        "reason": reason,
        "received_at": delivery.received_at,
        "headers": {k: v for k, v in delivery.headers.items() if k not in SECRET_HEADERS and "secret" not in k},
        "body": body,
    }
    return platform.encode(), json.dumps(value).encode()
