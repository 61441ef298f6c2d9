"""HubSpot webhooks (Webhooks API, signatures v3, v2 and v1): conversations inbox and help desk tickets.

Bodies are JSON arrays of thin events. Maps each element by ``subscriptionType``:

- ``conversation.creation`` → ``contact.created`` (``contact_id`` = thread id ``objectId``);
- ``conversation.newMessage`` → ``contact.message`` (``MESSAGE`` public, ``COMMENT`` internal; the author is not in
  the payload, so ``author`` is null);
- ``conversation.propertyChange`` ``status`` → ``contact.status_changed`` (OPEN/CLOSED), ``assignedTo`` →
  ``contact.assigned``;
- ``ticket.creation`` → ``contact.created``; ``ticket.propertyChange`` ``hubspot_owner_id`` → ``contact.assigned``,
  ``hs_pipeline_stage`` of the default support pipeline (1 new, 2 waiting on contact, 3 waiting on us, 4 closed) →
  ``contact.status_changed``. Ticket ``contact_id`` is ``ticket-<objectId>`` (thread and ticket ids are separate id
  spaces).

Elements of other types or properties (contacts, deals, deletions, custom pipeline stages) are ignored. A mapped
type missing its ids or time makes the delivery unmappable. Event id: ``hubspot:<eventId>``; time ``occurredAt`` (ms).

Authentication: ``X-HubSpot-Signature-v3`` = base64(HMAC-SHA256(app secret, method + URI + body + timestamp)) with
``X-HubSpot-Request-Timestamp`` (ms) inside the replay window, checked whenever present. Without it,
``X-HubSpot-Signature`` v1 (hex SHA-256 of secret + body: what CRM object subscriptions still send) or v2 (secret +
method + URI + body), which carry no time. No CSAT, no
presence, no message author or text (enrich downstream from the Conversations API).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from services.ingest.platforms.base import (
    Adapted,
    Delivery,
    Malformed,
    Unauthorized,
    Unmappable,
    any_matches,
    b64,
    check_timestamp,
    event,
    hmac_digest,
    json_body,
    text_id,
    to_rfc3339,
)

NAME = "hubspot"
MEDIA_TYPES = frozenset({"application/json"})
REQUIRES_SECRET = True
SIGNS_URL = True  # the signature covers the URL: ingest builds delivery.url for this platform

# HubSpot's v3 docs: decode these percent-escapes in the request URI before signing.
_URI_DECODE = {
    "%3A": ":",
    "%2F": "/",
    "%3F": "?",
    "%40": "@",
    "%21": "!",
    "%24": "$",
    "%27": "'",
    "%28": "(",
    "%29": ")",
    "%2A": "*",
    "%2C": ",",
    "%3B": ";",
}
_CONVERSATION_STATUS = {"open": "open", "closed": "closed"}
_DEFAULT_PIPELINE_STAGE = {"1": "new", "2": "pending", "3": "open", "4": "closed"}


def verify(delivery: Delivery, secrets: Sequence[str], tolerance_s: float) -> None:
    signature = delivery.headers.get("x-hubspot-signature-v3")
    timestamp = delivery.headers.get("x-hubspot-request-timestamp", "").strip()
    if not signature and delivery.headers.get("x-hubspot-signature"):
        _verify_v1_v2(delivery, secrets)
        return
    if not signature or not timestamp:
        raise Unauthorized("missing X-HubSpot-Signature-v3 or X-HubSpot-Request-Timestamp")
    try:
        signed_ms = float(timestamp)
    except ValueError:
        raise Unauthorized("X-HubSpot-Request-Timestamp is not a number") from None
    if signed_ms != signed_ms:
        raise Unauthorized("X-HubSpot-Request-Timestamp is not a number")
    check_timestamp(signed_ms / 1000, delivery.received_at, tolerance_s)
    expected = [
        b64(hmac_digest(secret, _signed(delivery, uri, timestamp))) for uri in _uris(delivery.url) for secret in secrets
    ]
    if not any_matches(expected, signature):
        raise Unauthorized("wrong X-HubSpot-Signature-v3 (check DESKPULSE_PUBLIC_BASE_URL behind a proxy)")


def _verify_v1_v2(delivery: Delivery, secrets: Sequence[str]) -> None:
    """``X-HubSpot-Signature``: hex SHA-256 of secret + body (v1, CRM object subscriptions of the Webhooks API), or of
    secret + method + URI + body (v2, ``X-HubSpot-Signature-Version: v2``). Neither carries a time: a replayed
    request passes, and only deduplication on event ids keeps it harmless."""
    version = delivery.headers.get("x-hubspot-signature-version", "v1").strip().lower()
    if version not in ("v1", "v2"):
        raise Unauthorized(f"unknown X-HubSpot-Signature-Version {version!r} (v1, v2, or the v3 headers)")
    if version == "v1":
        expected = [hashlib.sha256(secret.encode() + delivery.body).hexdigest() for secret in secrets]
    else:
        expected = [
            hashlib.sha256(
                secret.encode() + delivery.method.upper().encode() + uri.encode() + delivery.body
            ).hexdigest()
            for uri in _uris(delivery.url)
            for secret in secrets
        ]
    if not any_matches(expected, delivery.headers["x-hubspot-signature"].strip().lower()):
        raise Unauthorized(f"wrong X-HubSpot-Signature ({version})")


def _signed(delivery: Delivery, uri: str, timestamp: str) -> bytes:
    return delivery.method.upper().encode() + uri.encode() + delivery.body + timestamp.encode()


def _uris(url: str) -> list[str]:
    decoded = url
    for escaped, char in _URI_DECODE.items():
        decoded = decoded.replace(escaped, char).replace(escaped.lower(), char)
    return [url] if decoded == url else [decoded, url]


def to_events(delivery: Delivery) -> Adapted:
    document = json_body(delivery)
    if isinstance(document, dict):
        document = [document]
    if not isinstance(document, list):
        raise Malformed("body must be a JSON array of events")
    events = []
    for index, element in enumerate(document):
        if isinstance(element, dict):
            mapped = _element(delivery, element, f"[{index}]")
            if mapped is not None:
                events.append(event(mapped))
    return Adapted(events)


def _element(delivery: Delivery, element: dict[str, Any], where: str) -> dict[str, Any] | None:
    kind = str(element.get("subscriptionType", "")).strip().lower()
    prop = str(element.get("propertyName", "")).strip().lower()
    value = element.get("propertyValue")
    value = value.strip() if isinstance(value, str) else value
    if kind not in (
        "conversation.creation",
        "conversation.newmessage",
        "conversation.propertychange",
        "ticket.creation",
        "ticket.propertychange",
    ):
        return None
    if kind.endswith("propertychange") and prop not in (
        "status",
        "assignedto",
        "hubspot_owner_id",
        "hs_pipeline_stage",
    ):
        return None
    object_id = text_id(element.get("objectId"), f"{where}.objectId")
    ticket = kind.startswith("ticket.")
    portal = element.get("portalId")
    base = {
        "event_id": f"hubspot:{text_id(element.get('eventId'), f'{where}.eventId')}",
        "platform": NAME,
        "occurred_at": to_rfc3339(element.get("occurredAt"), field=f"{where}.occurredAt"),
        "account": delivery.account or (text_id(portal, "portalId") if portal not in (None, "") else None),
        "contact_id": f"ticket-{object_id}" if ticket else object_id,
        "attributes": {
            k: element[k]
            for k in (
                "subscriptionType",
                "changeSource",
                "sourceId",
                "messageId",
                "changeFlag",
                "propertyName",
                "propertyValue",
                "attemptNumber",
            )
            if k in element
        },
    }
    if kind in ("conversation.creation", "ticket.creation"):
        return {**base, "type": "contact.created", "status": "new" if ticket else "open"}
    if kind == "conversation.newmessage":
        message_type = str(element.get("messageType", "")).strip().upper()
        return {**base, "type": "contact.message", "public": None if not message_type else message_type != "COMMENT"}
    if prop in ("assignedto", "hubspot_owner_id"):
        agent = None if value in (None, "") else text_id(value, f"{where}.propertyValue")
        return {**base, "type": "contact.assigned", "agent_id": agent}
    table = _CONVERSATION_STATUS if prop == "status" else _DEFAULT_PIPELINE_STAGE
    status = table.get(str(value).lower()) if isinstance(value, (str, int)) else None
    if status is None:
        if prop == "hs_pipeline_stage":
            return None  # a custom pipeline's stage: its meaning is not in the payload
        raise Unmappable(f"{where}: unknown conversation status {str(value)[:40]!r}")
    return {**base, "type": "contact.status_changed", "status": status}
