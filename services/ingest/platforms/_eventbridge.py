"""Shared by the Amazon EventBridge based adapters (Amazon Connect, Genesys Cloud): API-destination auth and
envelope reading. Private (not an adapter): the registry skips ``_``-prefixed modules.

An EventBridge API destination authenticates through its *connection*, which adds one of:

- an API key header (any header name; deskpulse reads ``x-api-key``), value = the configured secret;
- Basic auth, ``Authorization: Basic base64(user:password)``, secret = ``user:password``;
- (OAuth client credentials is not supported: it needs a token endpoint, i.e. I/O.)

Amazon signs nothing (no HMAC), so the shared secret over TLS is the only proof of origin.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from typing import Any

from services.ingest.platforms.base import Delivery, Malformed, Unauthorized, any_matches


def presented_credentials(delivery: Delivery) -> list[str]:
    """Every credential the request presents: the API key header, a Basic pair, a Bearer token."""
    found = []
    api_key = delivery.headers.get("x-api-key")
    if api_key:
        found.append(api_key)
    auth = delivery.headers.get("authorization", "").strip()
    scheme, _, value = auth.partition(" ")
    if scheme.lower() == "basic" and value:
        try:
            found.append(base64.b64decode(value.strip(), validate=True).decode("utf-8"))
        except (binascii.Error, ValueError):
            pass
    elif scheme.lower() == "bearer" and value:
        found.append(value.strip())
    return found


def verify_shared_secret(delivery: Delivery, secrets: Sequence[str]) -> None:
    """``Unauthorized`` unless one presented credential equals one configured secret (constant-time each)."""
    presented = presented_credentials(delivery)
    if not presented:
        raise Unauthorized("missing credentials: send the secret in x-api-key or as Basic auth user:password")
    ok = False
    for value in presented:  # every candidate is compared; no early exit
        ok |= any_matches(secrets, value)
    if not ok:
        raise Unauthorized("wrong API key or Basic credentials")


def ci(mapping: Any, *names: str) -> Any:
    """The value of the first of ``names`` present in ``mapping``, keys compared case-insensitively.

    AWS documentation mixes ``agentInfo``/``AgentInfo`` and ``instanceARN``/``instanceArn``.
    """
    if not isinstance(mapping, Mapping):
        return None
    for name in names:
        if name in mapping:
            return mapping[name]
    lowered = {str(k).lower(): v for k, v in mapping.items()}
    for name in names:
        if name.lower() in lowered:
            return lowered[name.lower()]
    return None


def is_envelope(document: Any) -> bool:
    return isinstance(document, dict) and "detail" in document and "detail-type" in document


def envelope_items(document: Any) -> list[Any]:
    """One JSON value or an array of them (API destinations send one event; forwarders may batch)."""
    if isinstance(document, list):
        if not document:
            raise Malformed("the array holds no events")
        return document
    return [document]


def id_part(arn: Any, kind: str) -> str | None:
    """``arn:aws:connect:…:instance/<i>/agent/<id>`` → ``<id>`` for kind ``agent``; a plain id is returned as is."""
    if not isinstance(arn, str) or not arn:
        return None
    marker = f"/{kind}/"
    if marker in arn:
        tail = arn.split(marker, 1)[1].split("/", 1)[0]
        return tail or None
    return arn if not arn.startswith("arn:") else None
