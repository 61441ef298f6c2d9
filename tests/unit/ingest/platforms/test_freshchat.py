"""Freshchat: the shared-secret header that stands in for the unverified RSA signature, and mapping edge cases."""

from __future__ import annotations

import base64
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


def test_freshchat_signature_without_a_configured_key_is_not_enough():
    """With only a shared secret configured, an X-Freshchat-Signature (RSA) never authenticates on its own."""
    with pytest.raises(Unauthorized, match="X-Deskpulse-Secret"):
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



# -- RSA-SHA256 (X-Freshchat-Signature) with the public key from Freshchat's settings -----------------------

from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import padding, rsa  # noqa: E402

_KEYS = [rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(2)]


def _pem(key) -> str:
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def _signed(body: bytes, key=_KEYS[0]) -> Delivery:
    signature = base64.b64encode(key.sign(body, padding.PKCS1v15(), hashes.SHA256())).decode()
    return Delivery(body=body, headers={"x-freshchat-signature": signature})


RSA_BODY = b'{"action": "message_create", "data": {}}'


def test_rsa_signature_verified_with_the_public_key():
    freshchat.verify(_signed(RSA_BODY), [_pem(_KEYS[0])], 300)


def test_rsa_signature_with_another_key_is_refused_and_rotation_accepts_either():
    with pytest.raises(Unauthorized, match="does not match"):
        freshchat.verify(_signed(RSA_BODY, _KEYS[1]), [_pem(_KEYS[0])], 300)
    freshchat.verify(_signed(RSA_BODY, _KEYS[1]), [_pem(_KEYS[0]), _pem(_KEYS[1])], 300)


def test_rsa_signature_over_a_tampered_body_is_refused():
    delivery = _signed(RSA_BODY)
    tampered = Delivery(body=RSA_BODY.replace(b"message_create", b"message_update"), headers=delivery.headers)
    with pytest.raises(Unauthorized):
        freshchat.verify(tampered, [_pem(_KEYS[0])], 300)


def test_a_configured_key_requires_the_signature_header():
    with pytest.raises(Unauthorized, match="missing X-Freshchat-Signature"):
        freshchat.verify(Delivery(body=RSA_BODY, headers={}), [_pem(_KEYS[0])], 300)
    with pytest.raises(Unauthorized, match="not base64"):
        freshchat.verify(Delivery(body=RSA_BODY, headers={"x-freshchat-signature": "%%%"}), [_pem(_KEYS[0])], 300)
