"""LiveChat: the body's secret_key against the configured secrets, and mapping edge cases."""

from __future__ import annotations

import json

import pytest

from services.ingest.platforms import livechat
from services.ingest.platforms.base import Delivery, Unauthorized, Unmappable

NOW = 1_790_000_000.0


def body(secret_key=None, action="routing_status_set", payload=None, **extra) -> bytes:
    document = {"webhook_id": "w1", "action": action, "organization_id": "org-1",
                "payload": payload if payload is not None else {"agent_id": "a@example.com", "status": "offline"},
                **extra}
    if secret_key is not None:
        document["secret_key"] = secret_key
    return json.dumps(document).encode()


def delivery(raw: bytes, account: str | None = None) -> Delivery:
    return Delivery(body=raw, headers={}, account=account, received_at=NOW)


def test_valid():
    livechat.verify(delivery(body("lc-secret")), ["lc-secret"], 300)


def test_wrong_secret():
    with pytest.raises(Unauthorized):
        livechat.verify(delivery(body("other")), ["lc-secret"], 300)


def test_tampered_secret_prefix():
    with pytest.raises(Unauthorized):
        livechat.verify(delivery(body("lc-secret ")), ["lc-secret"], 300)


def test_rotated_secret_accepted():
    livechat.verify(delivery(body("old")), ["new", "old"], 300)


@pytest.mark.parametrize("raw", [body(None), body(123), b"not json", b"[]", b'"lc-secret"'])
def test_missing_or_unusable_secret(raw):
    with pytest.raises(Unauthorized):
        livechat.verify(delivery(raw), ["lc-secret"], 300)


def test_secret_in_a_header_is_not_accepted():
    with pytest.raises(Unauthorized):
        livechat.verify(Delivery(body=body(None), headers={"x-deskpulse-secret": "lc-secret"}), ["lc-secret"], 300)


def events(raw: bytes, account: str | None = None) -> list:
    return livechat.to_events(delivery(raw, account)).events


@pytest.mark.parametrize("raw, state", [("ACCEPTING_CHATS", "available"), ("Not_Accepting_Chats", "away"),
                                        ("offline", "offline")])
def test_routing_status_casing(raw, state):
    (changed,) = events(body(payload={"agent_id": "a@example.com", "status": raw}))
    assert changed.state == state and changed.attributes["raw_state"] == raw and changed.account == "org-1"


def test_license_id_of_older_versions_and_url_account():
    raw = json.dumps({"action": "routing_status_set", "license_id": 104130623,
                      "payload": {"agent_id": "a@example.com", "status": "offline"}}).encode()
    assert events(raw)[0].account == "104130623"
    assert events(raw, account="acme")[0].account == "acme"


@pytest.mark.parametrize("author_id, author", [("smith@example.com", "agent"), ("b7eff798-f8df-4364-8059-649c35c9ed0c",
                                               "customer"), ("0f9c3b7e2a1d4c5b8e6f7a9b0c1d2e3f", "bot")])
def test_author_by_id_shape(author_id, author):
    payload = {"chat_id": "C", "thread_id": "T", "event": {"id": "T_1", "type": "message", "author_id": author_id,
                                                          "created_at": "2024-02-03T04:05:06.123456Z"}}
    (message,) = events(body(action="incoming_event", payload=payload))
    assert message.author == author and message.occurred_at == "2024-02-03T04:05:06.123Z"


def test_system_messages_are_ignored():
    payload = {"chat_id": "C", "thread_id": "T", "event": {"id": "T_2", "type": "system_message",
                                                          "created_at": "2024-02-03T04:05:06Z"}}
    assert events(body(action="incoming_event", payload=payload)) == []


def test_router_closed_chat_has_no_agent():
    (closed,) = events(body(action="chat_deactivated", payload={"chat_id": "C", "thread_id": "T"}))
    assert closed.agent_id is None and closed.attributes["closed_by"] == "router"


def test_transfer_without_target_is_unmappable():
    with pytest.raises(Unmappable):
        events(body(action="chat_transferred", payload={"chat_id": "C", "thread_id": "T", "reason": "manual"}))


def test_missing_thread_id_is_unmappable():
    with pytest.raises(Unmappable):
        events(body(action="chat_deactivated", payload={"chat_id": "C"}))
