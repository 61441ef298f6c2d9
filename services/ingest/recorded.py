"""A webhook delivery recorded as JSON: the format of ``tests/fixtures/<platform>/*.json``.

    {"description": "...", "source": "...", "headers": {"Content-Type": "application/json"}, "account": null,
     "url": "https://…/webhooks/<platform>", "received_at": 1790000000.0,
     "body": {...} | "body_text": "raw text (form, XML)", "expect": ...}

The fixtures' tests and ``deskpulse normalize``/``verify`` read it with the same function, so a fixture is also
a file to try the CLI with.
"""

from __future__ import annotations

import json
from typing import Any, TypeGuard

from services.ingest.platforms.base import Delivery

# A JSON object is taken for a recorded delivery, not for a platform's raw body, when it has a body, a
# description or source, and no key a recording does not have.
_KEYS = frozenset({"description", "source", "headers", "account", "url", "received_at", "body", "body_text", "expect"})


def is_recorded(document: Any) -> TypeGuard[dict[str, Any]]:
    return (
        isinstance(document, dict)
        and ("body" in document or "body_text" in document)
        and ("description" in document or "source" in document)
        and document.keys() <= _KEYS
        and isinstance(document.get("headers", {}), dict)
    )


def delivery(
    recorded: dict, *, url: str | None = None, account: str | None = None, received_at: float | None = None
) -> Delivery:
    """The ``Delivery`` a recording describes; arguments given override the recording's own values."""
    body = recorded["body_text"].encode() if "body_text" in recorded else json.dumps(recorded["body"]).encode()
    return Delivery(
        body=body,
        headers={k.lower(): v for k, v in recorded.get("headers", {}).items()},
        url=url if url is not None else recorded.get("url", "https://hooks.example.com/webhooks/x"),
        account=account if account is not None else recorded.get("account"),
        received_at=received_at if received_at is not None else recorded.get("received_at", 0.0),
    )
