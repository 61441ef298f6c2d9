"""Freshdesk shared-secret authentication (no platform signature exists) and mapping edge cases."""

from __future__ import annotations

import base64
import json

import pytest

from services.ingest.platforms import freshdesk
from services.ingest.platforms.base import Delivery, Unauthorized, Unmappable

SECRET = "s3cret-for-freshdesk"
BODY = b'{"template":"deskpulse.freshdesk.v1","event":"test"}'


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_secret_header_accepted():
    freshdesk.verify(Delivery(body=BODY, headers={"x-deskpulse-secret": SECRET}), [SECRET], 300)


def test_basic_auth_password_accepted_any_user():
    freshdesk.verify(Delivery(body=BODY, headers={"authorization": basic("freshdesk", SECRET)}), [SECRET], 300)


def test_basic_auth_password_may_contain_colons():
    freshdesk.verify(Delivery(body=BODY, headers={"authorization": basic("u", "a:b:c")}), ["a:b:c"], 300)


def test_wrong_secret_rejected():
    with pytest.raises(Unauthorized):
        freshdesk.verify(Delivery(body=BODY, headers={"x-deskpulse-secret": "nope"}), [SECRET], 300)
    with pytest.raises(Unauthorized):
        freshdesk.verify(Delivery(body=BODY, headers={"authorization": basic("u", "nope")}), [SECRET], 300)


def test_rotated_second_secret_accepted():
    freshdesk.verify(Delivery(body=BODY, headers={"x-deskpulse-secret": "next"}), [SECRET, "next"], 300)


@pytest.mark.parametrize("headers", [{}, {"x-deskpulse-secret": ""}, {"authorization": "Bearer " + SECRET},
                                     {"authorization": "Basic %%%"}, {"authorization": basic("only-user", "")},
                                     {"authorization": "Basic " + base64.b64encode(b"\xff\xfe:x").decode()}])
def test_missing_or_unusable_credentials_rejected(headers):
    with pytest.raises(Unauthorized):
        freshdesk.verify(Delivery(body=BODY, headers=headers), [SECRET], 300)


def test_body_is_not_authenticated_so_a_valid_secret_accepts_any_body():
    # Documented limitation: Freshdesk cannot sign, so integrity rests on TLS and the secret.
    freshdesk.verify(Delivery(body=b"anything", headers={"x-deskpulse-secret": SECRET}), [SECRET], 300)


def _doc(event, **ticket):
    doc = {"template": "deskpulse.freshdesk.v1", "event": event, "ticket": {"id": 9, **ticket}}
    return Delivery(body=json.dumps(doc).encode(), headers={}, received_at=1_790_000_000.5)


@pytest.mark.parametrize("raw,status", [("OPEN", "open"), ("pending", "pending"), ("Resolved", "solved"),
                                        (4, "solved"), ("5", "closed"), ("Waiting on Third Party", "on_hold")])
def test_status_names_codes_and_casing(raw, status):
    [e] = freshdesk.to_events(_doc("status.changed", status=raw)).events
    assert e.status == status


def test_arrival_time_used_without_occurred_at_and_epoch_occurred_at_accepted():
    [e] = freshdesk.to_events(_doc("reply.customer")).events
    assert e.occurred_at == "2026-09-21T14:13:20.500Z"
    doc = json.loads(_doc("reply.customer").body)
    doc["occurred_at"] = 1_790_000_100
    [e] = freshdesk.to_events(Delivery(body=json.dumps(doc).encode(), headers={})).events
    assert e.occurred_at == "2026-09-21T14:15:00.000Z"


def test_same_change_arriving_later_is_a_new_event():
    first = freshdesk.to_events(_doc("status.changed", status="Pending")).events[0].event_id
    d = _doc("status.changed", status="Pending")
    later = Delivery(body=d.body, headers={}, received_at=d.received_at + 3600)
    assert freshdesk.to_events(later).events[0].event_id != first


def test_missing_ticket_id_unmappable():
    with pytest.raises(Unmappable):
        freshdesk.to_events(Delivery(body=b'{"template":"deskpulse.freshdesk.v1","event":"reply.agent"}',
                                     headers={}, received_at=1.7e9))
