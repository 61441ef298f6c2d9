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


# HubSpot's documented v1 and v2 examples (developers.hubspot.com, "Validating requests": v1 request validation,
# v2 request validation for a GET).
V1 = {"secret": "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy",
      "body": b'[{"eventId":1,"subscriptionId":12345,"portalId":62515,"occurredAt":1564113600000,'
              b'"subscriptionType":"contact.creation","attemptNumber":0,"objectId":123,"changeSource":"CRM",'
              b'"changeFlag":"NEW","appId":54321}]',
      "signature": "232db2615f3d666fe21a8ec971ac7b5402d33b9a925784df3ca654d05f4817de"}
V2_GET = {"url": "https://www.example.com/webhook_uri",
          "signature": "eee2dddcc73c94d699f5e395f4b9d454a069a6855fbfa152e91e88823087200e"}


def legacy(body: bytes, signature: str, version: str | None = None, *, url: str = URL, method: str = "POST",
           extra: dict | None = None) -> Delivery:
    headers = {"x-hubspot-signature": signature, **(extra or {})}
    if version is not None:
        headers["x-hubspot-signature-version"] = version
    return Delivery(body=body, headers=headers, method=method, url=url, received_at=NOW)


def test_v1_documented_example():
    hubspot.verify(legacy(V1["body"], V1["signature"], "v1"), [V1["secret"]], 300)
    hubspot.verify(legacy(V1["body"], V1["signature"].upper()), [V1["secret"]], 300)  # no version header: v1
    with pytest.raises(Unauthorized, match=r"wrong X-HubSpot-Signature \(v1\)"):
        hubspot.verify(legacy(V1["body"] + b" ", V1["signature"], "v1"), [V1["secret"]], 300)
    with pytest.raises(Unauthorized):
        hubspot.verify(legacy(V1["body"], V1["signature"], "v1"), ["another-secret"], 300)
    hubspot.verify(legacy(V1["body"], V1["signature"], "v1"), ["new-secret", V1["secret"]], 300)  # rotation


def test_v2_documented_example_covers_the_method_and_the_uri():
    hubspot.verify(legacy(b"", V2_GET["signature"], "v2", url=V2_GET["url"], method="GET"), [V1["secret"]], 300)
    with pytest.raises(Unauthorized, match=r"\(v2\)"):
        hubspot.verify(legacy(b"", V2_GET["signature"], "v2", url=V2_GET["url"] + "x", method="GET"), [V1["secret"]], 300)


def test_v3_wins_when_present_and_unknown_versions_are_refused():
    with pytest.raises(Unauthorized, match="wrong X-HubSpot-Signature-v3"):  # a right v1 does not rescue a wrong v3
        hubspot.verify(legacy(V1["body"], V1["signature"], "v1", extra={
            "x-hubspot-signature-v3": "nope", "x-hubspot-request-timestamp": str(int(NOW * 1000))}),
                       [V1["secret"]], 300)
    with pytest.raises(Unauthorized, match="unknown X-HubSpot-Signature-Version 'v9'"):
        hubspot.verify(legacy(V1["body"], V1["signature"], "v9"), [V1["secret"]], 300)
