"""Freshchat: the shared-secret header that stands in for the unverified RSA signature, and mapping edge cases."""

from __future__ import annotations

import json

import pytest

from services.ingest.platforms import freshchat
from services.ingest.platforms.base import Delivery, Unauthorized, Unmappable

BODY = b'{"action":"message_create"}'


def delivery(secret: str | None, body: bytes = BODY, **headers: str) -> Delivery:
    all_headers = {k.replace("_", "-"): v for k, v in headers.items()}
    if secret is not None:
        all_headers["x-deskpulse-secret"] = secret
    return Delivery(body=body, headers=all_headers)


def test_valid():
    freshchat.verify(delivery("fc-secret"), ["fc-secret"], 300)


def test_wrong_secret():
    with pytest.raises(Unauthorized):
        freshchat.verify(delivery("nope"), ["fc-secret"], 300)


def test_rotated_secret_accepted():
    freshchat.verify(delivery("old"), ["new", "old"], 300)


def test_missing_header():
    with pytest.raises(Unauthorized):
        freshchat.verify(delivery(None), ["fc-secret"], 300)


def test_freshchat_signature_alone_is_not_enough():
    """X-Freshchat-Signature is RSA and cannot be checked here: it must never authenticate on its own."""
    with pytest.raises(Unauthorized, match="not verified"):
        freshchat.verify(delivery(None, x_freshchat_signature="c2lnbmF0dXJl"), ["fc-secret"], 300)


def test_the_secret_is_not_read_from_the_body():
    with pytest.raises(Unauthorized):
        freshchat.verify(delivery(None, body=b'{"secret": "fc-secret"}'), ["fc-secret"], 300)


def events(document: dict) -> list:
    return freshchat.to_events(Delivery(body=json.dumps(document).encode(), headers={}, account="acme")).events


def message(**over) -> dict:
    msg = {"id": "m1", "conversation_id": "c1", "actor_type": "AGENT", "actor_id": "a1", "app_id": "app",
           "created_time": "2024-05-01T10:00:00.123Z", "message_source": "WhatsApp"}
    msg.update(over)
    return {"actor": {"actor_type": "agent", "actor_id": "a1"}, "action": "Message_Create",
            "action_time": "2024-05-01T10:00:00.200Z", "data": {"message": msg}}


def test_casing_channel_and_account_from_url():
    (msg,) = events(message())
    assert (msg.author, msg.agent_id, msg.channel, msg.account) == ("agent", "a1", "messaging", "acme")


@pytest.mark.parametrize("actor_type, author", [("user", "customer"), ("bot", "bot"), ("system", "system")])
def test_authors(actor_type, author):
    (msg,) = events(message(actor_type=actor_type))
    assert msg.author == author and msg.agent_id is None


def test_bot_private_note_is_not_public():
    (msg,) = events(message(botsPrivateNote=True))
    assert msg.public is False


def test_message_time_falls_back_to_action_time():
    (msg,) = events(message(created_time=None))
    assert msg.occurred_at == "2024-05-01T10:00:00.200Z"


def test_reopen_by_agent_sets_agent():
    (changed,) = events({"action": "conversation_reopen", "action_time": "2024-05-01T11:00:00Z",
                         "data": {"reopen": {"reopener": "Agent", "reopener_id": "a2",
                                             "conversation": {"conversation_id": "c1", "status": "reopened"}}}})
    assert (changed.status, changed.agent_id) == ("open", "a2")


def test_missing_message_id_is_unmappable():
    with pytest.raises(Unmappable):
        events(message(id=None))


def test_missing_data_section_is_unmappable():
    with pytest.raises(Unmappable):
        events({"action": "conversation_resolution", "action_time": "2024-05-01T11:00:00Z", "data": {}})
