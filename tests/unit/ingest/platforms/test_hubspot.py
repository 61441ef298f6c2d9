"""HubSpot: X-HubSpot-Signature-v3 with its replay window, and batch mapping edge cases."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest

from services.ingest.platforms import hubspot
from services.ingest.platforms.base import Delivery, Unauthorized, Unmappable

# Official SDK test vector: HubSpot/hubspot-api-python tests/spec/utils/test_signature.py, test_get_signature__v3.
SDK = {"secret": "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy", "body": b"{'example_field':'example_value'}",
       "url": "https://www.example.com/webhook_uri", "method": "POST", "timestamp": "15000000",
       "signature": "HPW73RUtKmcYoEDADG0s6MmGFWUzWJKAW07r8RDgcQw="}
NOW = 1_790_000_000.0
URL = "https://hooks.example.com/webhooks/hubspot/acme"


def sign(secret: str, method: str, url: str, body: bytes, timestamp: str) -> str:
    message = method.encode() + url.encode() + body + timestamp.encode()
    return base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest()).decode()


def delivery(body: bytes, *, signature: str | None, timestamp: str | None, url: str = URL, method: str = "POST",
             received_at: float = NOW) -> Delivery:
    headers = {}
    if signature is not None:
        headers["x-hubspot-signature-v3"] = signature
    if timestamp is not None:
        headers["x-hubspot-request-timestamp"] = timestamp
    return Delivery(body=body, headers=headers, method=method, url=url, received_at=received_at)


def signed(body: bytes = b"[]", secret: str = "app-secret", at: float = NOW, url: str = URL) -> Delivery:
    timestamp = str(int(at * 1000))
    return delivery(body, signature=sign(secret, "POST", url, body, timestamp), timestamp=timestamp, url=url)


def test_sdk_vector():
    sdk = delivery(SDK["body"], signature=SDK["signature"], timestamp=SDK["timestamp"], url=SDK["url"],
                   received_at=15_000.0)
    hubspot.verify(sdk, [SDK["secret"]], 300)


def test_valid():
    hubspot.verify(signed(), ["app-secret"], 300)


def test_wrong_secret():
    with pytest.raises(Unauthorized):
        hubspot.verify(signed(secret="other"), ["app-secret"], 300)


def test_tampered_body():
    good = signed(b'[{"eventId": 1}]')
    tampered = Delivery(body=b'[{"eventId": 2}]', headers=good.headers, url=good.url, received_at=NOW)
    with pytest.raises(Unauthorized):
        hubspot.verify(tampered, ["app-secret"], 300)


def test_rotated_secret_accepted():
    hubspot.verify(signed(secret="old-secret"), ["new-secret", "old-secret"], 300)


@pytest.mark.parametrize("skew", [-301, 301])
def test_timestamp_outside_window(skew):
    with pytest.raises(Unauthorized, match="replay"):
        hubspot.verify(signed(at=NOW + skew), ["app-secret"], 300)


def test_timestamp_inside_window():
    hubspot.verify(signed(at=NOW - 299), ["app-secret"], 300)


@pytest.mark.parametrize("drop", ["x-hubspot-signature-v3", "x-hubspot-request-timestamp"])
def test_missing_header(drop):
    good = signed()
    headers = {k: v for k, v in good.headers.items() if k != drop}
    with pytest.raises(Unauthorized):
        hubspot.verify(Delivery(body=good.body, headers=headers, url=URL, received_at=NOW), ["app-secret"], 300)


def test_non_numeric_timestamp():
    with pytest.raises(Unauthorized):
        hubspot.verify(delivery(b"[]", signature="x", timestamp="yesterday"), ["app-secret"], 300)


def test_other_url_rejected():
    """The URI is signed: behind a proxy DESKPULSE_PUBLIC_BASE_URL must rebuild the public one."""
    good = signed()
    moved = Delivery(body=good.body, headers=good.headers, url="http://10.0.0.5:8001/webhooks/hubspot/acme",
                     received_at=NOW)
    with pytest.raises(Unauthorized):
        hubspot.verify(moved, ["app-secret"], 300)


def test_percent_encoded_uri_characters_are_decoded_as_hubspot_does():
    url = "https://hooks.example.com/webhooks/hubspot?portal=a%3Ab"
    timestamp = str(int(NOW * 1000))
    signature = sign("app-secret", "POST", "https://hooks.example.com/webhooks/hubspot?portal=a:b", b"[]", timestamp)
    hubspot.verify(delivery(b"[]", signature=signature, timestamp=timestamp, url=url), ["app-secret"], 300)


def element(**over):
    document = {"eventId": 7, "portalId": 62515, "occurredAt": 1713790000000, "objectId": 555,
                "subscriptionType": "conversation.propertyChange", "propertyName": "status", "propertyValue": "open"}
    document.update(over)
    return document


def events(*elements, account=None):
    return hubspot.to_events(Delivery(body=json.dumps(list(elements)).encode(), headers={}, account=account)).events


def test_casing_and_account():
    (changed,) = events(element(subscriptionType="Conversation.PropertyChange", propertyName="Status",
                                propertyValue="Open"))
    assert (changed.type, changed.status, changed.account) == ("contact.status_changed", "open", "62515")
    (again,) = events(element(), account="acme")
    assert again.account == "acme"


def test_epoch_ms_and_string_ids():
    (created,) = events(element(subscriptionType="ticket.creation", eventId="3816279340", occurredAt="1462216307945"))
    assert created.event_id == "hubspot:3816279340" and created.occurred_at == "2016-05-02T19:11:47.945Z"
    assert created.contact_id == "ticket-555"


def test_unassigned_owner():
    (assigned,) = events(element(subscriptionType="ticket.propertyChange", propertyName="hubspot_owner_id",
                                 propertyValue=""))
    assert assigned.type == "contact.assigned" and assigned.agent_id is None


def test_batch_keeps_order_and_skips_unmapped_elements():
    mapped = events(element(eventId=1), {"subscriptionType": "deal.creation", "eventId": 2}, "junk",
                    element(eventId=3, propertyName="isArchived", propertyValue="true"),
                    element(eventId=4, subscriptionType="conversation.creation"))
    assert [e.event_id for e in mapped] == ["hubspot:1", "hubspot:4"]


def test_unknown_conversation_status_is_unmappable():
    with pytest.raises(Unmappable):
        events(element(propertyValue="SNOOZED"))


def test_empty_array_is_ignored():
    assert events() == []
