"""The DLQ record format: keyed by platform; body as text or base64; credentials left out."""

from __future__ import annotations

import base64
import json

from services.ingest.dlq import SECRET_HEADERS, dlq_record
from services.ingest.platforms.base import Delivery


def test_a_text_body_is_kept_as_text_with_the_delivery_context():
    delivery = Delivery(body='{"status": "archivé"}'.encode(), headers={"content-type": "application/json"},
                        account="acme", received_at=1_795_000_000.5)
    key, value = dlq_record("gorgias", delivery, "unknown status 'archivé'")
    assert key == b"gorgias"
    assert json.loads(value) == {
        "platform": "gorgias",
        "account": "acme",
        "reason": "unknown status 'archivé'",
        "received_at": 1_795_000_000.5,
        "headers": {"content-type": "application/json"},
        "body": {"text": '{"status": "archivé"}'},
    }


def test_a_body_that_is_not_utf8_is_kept_as_base64():
    body = b"\xff\xfe<xml/>"
    _, value = dlq_record("salesforce", Delivery(body=body, headers={}), "not XML")
    record = json.loads(value)
    assert record["body"] == {"base64": base64.b64encode(body).decode()}
    assert base64.b64decode(record["body"]["base64"]) == body
    assert record["account"] is None


def test_credentials_never_reach_the_dlq():
    headers = dict.fromkeys(SECRET_HEADERS, "x") | {"x-deskpulse-secret": "s3cret", "x-webhook-secret-token": "t",
                                                     "x-hub-signature": "sha256=ab", "user-agent": "ua"}
    _, value = dlq_record("zendesk", Delivery(body=b"{}", headers=headers), "r")
    assert json.loads(value)["headers"] == {"x-hub-signature": "sha256=ab", "user-agent": "ua"}


def test_the_value_is_plain_json_with_ascii_escapes():
    _, value = dlq_record("front", Delivery(body="é".encode(), headers={}), "r")
    assert b"\\u00e9" in value  # json.dumps defaults: what DLQ readers have always received
