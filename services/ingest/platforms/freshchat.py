"""Freshchat conversation webhooks (payload versions 2018 and current).

Maps ``message_create`` → ``contact.message`` (actor user → customer, agent → agent, bot → bot, system → system;
``message_type`` private or ``botsPrivateNote`` → not public); ``conversation_assignment`` → ``contact.assigned``;
``conversation_resolution`` → ``contact.status_changed`` solved; ``conversation_reopen`` → ``contact.status_changed``
open. ``contact_id`` = ``conversation_id``, ``queue_id`` = the assigned group where the payload carries one,
``account`` = the URL's account, else ``app_id``. Times: ``created_time`` / ``action_time`` (ISO 8601, ms).

Authentication: Freshchat signs with RSA (``X-Freshchat-Signature`` = base64 RSA-SHA256 (PKCS#1 v1.5) signature of
the raw body). Configure the public key shown in Freshchat's webhook settings (PEM) as the secret; it is verified
with ``cryptography``. A configured secret that is not a PEM key is instead compared with an
``X-Deskpulse-Secret`` header (for a proxy that authenticates Freshchat itself), see docs/platforms/freshchat.md. ``conversation_assignment``'s body is undocumented: the fields
read are an assumption. Cannot map: CSAT, agent presence, queue wait (no such webhooks).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from services.ingest.platforms.base import (
    Adapted,
    Delivery,
    Unauthorized,
    Unmappable,
    any_matches,
    as_dict,
    event,
    json_body,
    obj,
    stable_id,
    text_id,
    to_rfc3339,
)

NAME = "freshchat"
MEDIA_TYPES = frozenset({"application/json"})
REQUIRES_SECRET = True

_AUTHOR = {"user": "customer", "agent": "agent", "bot": "bot", "system": "system"}
_CHANNEL = {
    "web": "chat",
    "mobile": "chat",
    "ios": "chat",
    "android": "chat",
    "whatsapp": "messaging",
    "facebook": "social",
    "instagram": "social",
    "twitter": "social",
    "apple_business_chat": "messaging",
    "line": "messaging",
    "telegram": "messaging",
    "email": "email",
    "sms": "sms",
    "voice": "voice",
}


_PEM = "-----BEGIN PUBLIC KEY-----"


@lru_cache(maxsize=16)
def _public_key(pem: str):
    try:
        key = serialization.load_pem_public_key(pem.strip().encode())
    except (ValueError, TypeError, UnsupportedAlgorithm):
        return None
    return key if isinstance(key, rsa.RSAPublicKey) else None


def _rsa_valid(pem: str, signature: bytes, body: bytes) -> bool:
    key = _public_key(pem)
    if key is None:
        return False
    try:
        key.verify(signature, body, padding.PKCS1v15(), hashes.SHA256())
        return True
    except InvalidSignature:
        return False


def verify(delivery: Delivery, secrets: Sequence[str], tolerance_s: float) -> None:
    keys = [s for s in secrets if s.lstrip().startswith(_PEM)]
    shared = [s for s in secrets if not s.lstrip().startswith(_PEM)]
    header = delivery.headers.get("x-freshchat-signature")
    if keys and header:
        try:
            signature = base64.b64decode(header.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise Unauthorized("X-Freshchat-Signature is not base64") from None
        if any(_rsa_valid(pem, signature, delivery.body) for pem in keys):
            return
        raise Unauthorized("X-Freshchat-Signature does not match the configured public key(s)")
    if shared and any_matches(shared, delivery.headers.get("x-deskpulse-secret")):
        return
    if keys:
        raise Unauthorized("missing X-Freshchat-Signature")
    raise Unauthorized("missing or wrong X-Deskpulse-Secret")


def to_events(delivery: Delivery) -> Adapted:
    document = obj(json_body(delivery), "body")
    action = document.get("action")
    if not isinstance(action, str) or not action.strip():
        raise Unmappable("action is missing")
    action = action.strip().lower()
    if action not in ("message_create", "conversation_assignment", "conversation_resolution", "conversation_reopen"):
        return Adapted([])
    data = obj(document.get("data"), "data")
    actor = as_dict(document.get("actor"))
    if action == "message_create":
        return Adapted([_message(delivery, document, obj(data.get("message"), "data.message"), actor)])
    key = {
        "conversation_assignment": "assignment",
        "conversation_resolution": "resolve",
        "conversation_reopen": "reopen",
    }[action]
    section = obj(data.get(key), f"data.{key}")
    convo = as_dict(section.get("conversation"))
    convo_id = text_id(convo.get("conversation_id", section.get("conversation_id")), "conversation_id")
    at = to_rfc3339(document.get("action_time"), field="action_time")
    base = {
        "platform": NAME,
        "occurred_at": at,
        "contact_id": convo_id,
        "account": _account(delivery, convo.get("app_id")),
        "queue_id": _opt_id(section.get("to_group_id") or convo.get("assigned_group_id"), "assigned_group_id"),
    }
    if action == "conversation_assignment":
        agent = section.get("to_agent_id", convo.get("assigned_agent_id"))
        agent_id = _opt_id(agent, "to_agent_id")
        return Adapted(
            [
                event(
                    {
                        **base,
                        "event_id": stable_id(NAME, convo_id, action, agent_id, base["queue_id"], at),
                        "type": "contact.assigned",
                        "agent_id": agent_id,
                        "attributes": {"assignor": section.get("assignor"), "assignor_id": section.get("assignor_id")},
                    }
                )
            ]
        )
    status = "solved" if action == "conversation_resolution" else "open"
    by = section.get("resolver" if status == "solved" else "reopener")
    by_id = section.get("resolver_id" if status == "solved" else "reopener_id")
    return Adapted(
        [
            event(
                {
                    **base,
                    "event_id": stable_id(NAME, convo_id, action, at),
                    "type": "contact.status_changed",
                    "status": status,
                    "agent_id": _opt_id(by_id, "resolver_id") if str(by).lower() == "agent" else None,
                    "attributes": {"raw_status": convo.get("status"), "by": by},
                }
            )
        ]
    )


def _message(delivery: Delivery, document: dict[str, Any], message: dict[str, Any], actor: dict[str, Any]) -> Any:
    actor_type = str(message.get("actor_type") or actor.get("actor_type") or "").strip().lower()
    author = _AUTHOR.get(actor_type)
    private = (
        str(message.get("message_type", "normal")).strip().lower() == "private"
        or message.get("botsPrivateNote") is True
    )
    source = message.get("message_source")
    return event(
        {
            "event_id": f"freshchat:message:{text_id(message.get('id'), 'data.message.id')}",
            "type": "contact.message",
            "platform": NAME,
            "contact_id": text_id(message.get("conversation_id"), "data.message.conversation_id"),
            "occurred_at": to_rfc3339(message.get("created_time") or document.get("action_time"), field="created_time"),
            "account": _account(delivery, message.get("app_id")),
            "author": author,
            "public": not private,
            "agent_id": _opt_id(message.get("actor_id") or actor.get("actor_id"), "actor_id")
            if author == "agent"
            else None,
            "channel": _CHANNEL.get(source.strip().lower(), "other")
            if isinstance(source, str) and source.strip()
            else "chat",
            "attributes": {
                "channel_id": message.get("channel_id"),
                "interaction_id": message.get("interaction_id"),
                "actor_type": actor_type or None,
            },
        }
    )


def _account(delivery: Delivery, app_id: Any) -> str | None:
    return delivery.account or _opt_id(app_id, "app_id")


def _opt_id(value: Any, field: str) -> str | None:
    return None if value in (None, "", 0) else text_id(value, field)
