"""Gorgias shared-secret authentication (Gorgias signs nothing) and mapping edge cases."""

from __future__ import annotations

import base64
import json

import pytest

from services.ingest.platforms import gorgias
from services.ingest.platforms.base import Delivery, Unauthorized, Unmappable

SECRET = "gorgias-shared-secret"
BODY = b'{"template":"deskpulse.gorgias.v1","event":"ticket-message-failed"}'


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_secret_header_accepted():
    gorgias.verify(Delivery(body=BODY, headers={"x-deskpulse-secret": SECRET}), [SECRET], 300)


def test_basic_auth_password_accepted():
    gorgias.verify(Delivery(body=BODY, headers={"authorization": basic("gorgias", SECRET)}), [SECRET], 300)


def test_wrong_secret_rejected():
    for headers in ({"x-deskpulse-secret": SECRET + "x"}, {"authorization": basic("gorgias", "x")}):
        with pytest.raises(Unauthorized):
            gorgias.verify(Delivery(body=BODY, headers=headers), [SECRET], 300)


def test_rotated_second_secret_accepted():
    gorgias.verify(Delivery(body=BODY, headers={"x-deskpulse-secret": "new"}), [SECRET, "new"], 300)


@pytest.mark.parametrize("headers", [{}, {"x-deskpulse-secret": ""}, {"authorization": "Basic not-base64!"},
                                     {"authorization": "Token " + SECRET}, {"x-api-key": SECRET}])
def test_missing_or_unusable_credentials_rejected(headers):
    with pytest.raises(Unauthorized):
        gorgias.verify(Delivery(body=BODY, headers=headers), [SECRET], 300)


def _doc(event, message=None, **ticket):
    doc = {"template": "deskpulse.gorgias.v1", "event": event,
           "ticket": {"id": 7, "status": "open", "updated_datetime": "2024-03-01T10:00:00",
                      "created_datetime": "2024-03-01T09:00:00.5", **ticket}}
    if message is not None:
        doc["message"] = message
    return Delivery(body=json.dumps(doc).encode(), headers={})


@pytest.mark.parametrize("value,want", [("2024-03-01T10:00:00", "2024-03-01T10:00:00.000Z"),
                                        ("2024-03-01 10:00:00.123456", "2024-03-01T10:00:00.123Z"),
                                        ("2024-03-01T10:00:00+02:00", "2024-03-01T08:00:00.000Z"),
                                        ("2024-03-01T10:00:00Z", "2024-03-01T10:00:00.000Z")])
def test_naive_datetimes_are_utc_and_offsets_respected(value, want):
    [status, _] = gorgias.to_events(_doc("ticket-updated", updated_datetime=value)).events
    assert status.occurred_at == want


@pytest.mark.parametrize("raw", [True, "True", "true", "TRUE"])
def test_from_agent_renderings(raw):
    message = {"id": 1, "from_agent": raw, "public": "True", "sender_id": 4, "created_datetime": "2024-03-01T10:00:00"}
    [e] = gorgias.to_events(_doc("ticket-message-created", message)).events
    assert (e.author, e.agent_id, e.public) == ("agent", "4", True)


def test_ai_agent_message_is_bot():
    message = {"id": 2, "from_agent": "True", "via": "ai-agent", "created_datetime": "2024-03-01T10:00:00"}
    [e] = gorgias.to_events(_doc("ticket-message-created", message)).events
    assert e.author == "bot"


@pytest.mark.parametrize("priority,want", [("critical", "urgent"), ("High", "high"), ("None", None)])
def test_priority(priority, want):
    [e, _] = gorgias.to_events(_doc("ticket-updated", priority=priority)).events
    assert e.priority == want


def test_unknown_event_unmappable():
    with pytest.raises(Unmappable):
        gorgias.to_events(_doc("ticket-exploded"))


def test_redelivery_same_ids_and_later_update_new_ids():
    first = [e.event_id for e in gorgias.to_events(_doc("ticket-updated")).events]
    assert first == [e.event_id for e in gorgias.to_events(_doc("ticket-updated")).events]
    later = [e.event_id for e in gorgias.to_events(_doc("ticket-updated", updated_datetime="2024-03-01T10:05:00")).events]
    assert set(first).isdisjoint(later)
