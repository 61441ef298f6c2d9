"""Front application (HMAC-SHA256 over ``ts:body``) and rule (HMAC-SHA1 over body) signatures, and the challenge.

Front publishes no signature test vector; the signatures are computed with the documented schemes
(https://dev.frontapp.com/docs/application-webhooks, https://dev.frontapp.com/docs/rule-webhooks).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest

from services.ingest.platforms import front
from services.ingest.platforms.base import Delivery, Unauthorized

SECRET = "app-signing-secret"
API_SECRET = "rule-api-secret"
BODY = b'{"type":"sync","authorization":{"id":"cmp_abc"}}'
NOW_MS = 1_790_000_000_000


def app_sig(secret, ts, body):
    return base64.b64encode(hmac.new(secret.encode(), f"{ts}:".encode() + body, hashlib.sha256).digest()).decode()


def rule_sig(secret, body):
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha1).digest()).decode()


def app_delivery(secret=SECRET, ts=NOW_MS, body=BODY, received_ms=NOW_MS, extra=None):
    headers = {"x-front-signature": app_sig(secret, ts, body), "x-front-request-timestamp": str(ts), **(extra or {})}
    return Delivery(body=body, headers=headers, received_at=received_ms / 1000)


def test_app_signature_valid():
    front.verify(app_delivery(), [SECRET], 300)


def test_app_signature_wrong_secret():
    with pytest.raises(Unauthorized):
        front.verify(app_delivery(secret="other"), [SECRET], 300)


def test_app_signature_tampered_body():
    good = app_delivery()
    with pytest.raises(Unauthorized):
        front.verify(Delivery(body=BODY + b" ", headers=good.headers, received_at=good.received_at), [SECRET], 300)


def test_app_signature_rotated_secret():
    front.verify(app_delivery(secret="next"), [SECRET, "next"], 300)


@pytest.mark.parametrize("age_ms", [300_001, -300_001, 3_600_000])
def test_app_timestamp_outside_five_minutes_rejected(age_ms):
    with pytest.raises(Unauthorized, match="replay"):
        front.verify(app_delivery(received_ms=NOW_MS + age_ms), [SECRET], 300)


def test_app_window_is_capped_at_five_minutes_even_with_a_larger_tolerance():
    with pytest.raises(Unauthorized):
        front.verify(app_delivery(received_ms=NOW_MS + 600_000), [SECRET], 3600)


def test_app_timestamp_inside_window_accepted():
    front.verify(app_delivery(received_ms=NOW_MS + 120_000), [SECRET], 300)


def test_app_timestamp_must_be_milliseconds_digits():
    with pytest.raises(Unauthorized):
        front.verify(app_delivery(ts="1790000000.5"), [SECRET], 300)


def test_timestamp_header_cannot_be_moved_into_the_signed_string():
    # The timestamp is part of the signed bytes: changing it after signing breaks the signature.
    d = app_delivery()
    headers = {**d.headers, "x-front-request-timestamp": str(NOW_MS + 1)}
    with pytest.raises(Unauthorized):
        front.verify(Delivery(body=BODY, headers=headers, received_at=d.received_at), [SECRET], 300)


def test_rule_signature_valid_and_rotated():
    d = Delivery(body=BODY, headers={"x-front-signature": rule_sig(API_SECRET, BODY)})
    front.verify(d, [API_SECRET], 300)
    front.verify(d, ["older", API_SECRET], 300)


def test_rule_signature_wrong_secret_and_tampered_body():
    with pytest.raises(Unauthorized):
        front.verify(Delivery(body=BODY, headers={"x-front-signature": rule_sig("x", BODY)}), [API_SECRET], 300)
    with pytest.raises(Unauthorized):
        front.verify(Delivery(body=BODY + b"x", headers={"x-front-signature": rule_sig(API_SECRET, BODY)}),
                     [API_SECRET], 300)


def test_app_signature_is_not_accepted_as_a_rule_signature():
    d = app_delivery()
    headers = {"x-front-signature": d.headers["x-front-signature"]}
    with pytest.raises(Unauthorized):
        front.verify(Delivery(body=BODY, headers=headers), [SECRET], 300)


def test_missing_signature_rejected():
    with pytest.raises(Unauthorized):
        front.verify(Delivery(body=BODY, headers={"x-front-request-timestamp": str(NOW_MS)},
                              received_at=NOW_MS / 1000), [SECRET], 300)


def test_challenge_is_echoed_as_json():
    adapted = front.to_events(app_delivery(extra={"x-front-challenge": 'a"b\\c'}))
    assert adapted.events == []
    assert adapted.reply.status == 200 and adapted.reply.media_type == "application/json"
    assert json.loads(adapted.reply.body) == {"challenge": 'a"b\\c'}


def test_sync_without_challenge_is_ignored_without_reply():
    adapted = front.to_events(Delivery(body=BODY, headers={}))
    assert adapted.events == [] and adapted.reply is None


def test_emitted_at_float_seconds_and_integer_seconds():
    for emitted, want in ((1453772000.987, "2016-01-26T01:33:20.987Z"), (1453772000, "2016-01-26T01:33:20.000Z")):
        body = json.dumps({"id": "evt_1", "type": "archive", "emitted_at": emitted, "conversation": {"id": "cnv_1"}})
        [e] = front.to_events(Delivery(body=body.encode(), headers={})).events
        assert e.occurred_at == want and e.status == "solved"


def test_through_ingest_challenge_answered_and_inbound_published():
    import time

    from fastapi.testclient import TestClient

    from services.common.settings import Settings
    from services.ingest.app import create_app
    from services.ingest.publisher import InMemoryPublisher
    from services.ingest.secrets import SecretStore

    publisher = InMemoryPublisher()
    app = create_app(Settings(), publisher=publisher, secrets=SecretStore({"front": {"default": [SECRET]}}))
    with TestClient(app) as client:
        ts = int(time.time() * 1000)
        headers = {"content-type": "application/json", "x-front-request-timestamp": str(ts),
                   "x-front-signature": app_sig(SECRET, ts, BODY), "x-front-challenge": "ch-123"}
        answer = client.post("/webhooks/front", content=BODY, headers=headers)
        assert (answer.status_code, answer.json()) == (200, {"challenge": "ch-123"})
        inbound = json.dumps({"type": "inbound_received", "authorization": {"id": "cmp_abc"},
                              "payload": {"id": "evt_1", "type": "inbound", "emitted_at": time.time(),
                                          "conversation": {"id": "cnv_1", "created_at": time.time()},
                                          "target": {"_meta": {"type": "message"}, "data": {"id": "msg_1"}}}}).encode()
        headers = {"content-type": "application/json", "x-front-request-timestamp": str(ts),
                   "x-front-signature": app_sig(SECRET, ts, inbound)}
        answer = client.post("/webhooks/front", content=inbound, headers=headers)
        assert (answer.status_code, answer.json()) == (202, {"accepted": 2})
        stale = {**headers, "x-front-request-timestamp": str(ts - 600_000),
                 "x-front-signature": app_sig(SECRET, ts - 600_000, inbound)}
        assert client.post("/webhooks/front", content=inbound, headers=stale).status_code == 401


def test_app_event_assignee_changed_without_legacy_type():
    body = json.dumps({"type": "assignee_changed", "payload": {"id": "evt_2", "emitted_at": 1453772000,
                                                               "conversation": {"id": "cnv_1"}, "target": None}})
    [e] = front.to_events(Delivery(body=body.encode(), headers={})).events
    assert (e.type, e.agent_id) == ("contact.assigned", None)
