"""Zammad: X-Hub-Signature "sha1=<hex HMAC-SHA1(token, body)>" (lib/user_agent.rb) and snapshot mapping."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from services.ingest.platforms import zammad
from services.ingest.platforms.base import Delivery, Unauthorized, Unmappable

BODY = b'{"ticket":{"id":1}}'
# Zammad publishes no vector; computed independently with
# `printf '{"ticket":{"id":1}}' | openssl dgst -sha1 -hmac zammad-token -hex`, in the format Zammad's
# lib/user_agent.rb (UserAgent.set_signature) writes: "sha1=" + OpenSSL::HMAC.hexdigest('sha1', token, body).
VECTOR = "sha1=39a0596fdeadc8fa753ae7090ddc62cae73921e2"


def delivery(body: bytes = BODY, signature: str | None = VECTOR) -> Delivery:
    headers = {"x-zammad-delivery": "job-1"}
    if signature is not None:
        headers["x-hub-signature"] = signature
    return Delivery(body=body, headers=headers)


def sign(body: bytes, token: str) -> str:
    return "sha1=" + hmac.new(token.encode(), body, hashlib.sha1).hexdigest()


def test_independent_vector():
    zammad.verify(delivery(), ["zammad-token"], 300)


def test_valid():
    zammad.verify(delivery(b'{"ticket":{"id":2}}', sign(b'{"ticket":{"id":2}}', "t")), ["t"], 300)


def test_wrong_secret():
    with pytest.raises(Unauthorized):
        zammad.verify(delivery(), ["other"], 300)


def test_tampered_body():
    with pytest.raises(Unauthorized):
        zammad.verify(delivery(b'{"ticket":{"id":9}}'), ["zammad-token"], 300)


def test_rotated_secret_accepted():
    zammad.verify(delivery(), ["new-token", "zammad-token"], 300)


def test_missing_header():
    with pytest.raises(Unauthorized):
        zammad.verify(delivery(signature=None), ["zammad-token"], 300)


def test_bare_hex_without_prefix_rejected():
    with pytest.raises(Unauthorized):
        zammad.verify(delivery(signature=VECTOR.removeprefix("sha1=")), ["zammad-token"], 300)


def events(document: dict) -> list:
    return zammad.to_events(Delivery(body=json.dumps(document).encode(), headers={})).events


TICKET = {"id": 5, "group_id": 2, "state": "Pending Close", "priority": "3 high", "created_at": "2024-01-01T10:00:00Z",
          "updated_at": "2024-01-01T11:00:00.5Z", "article_ids": [1, 2], "owner_id": 1}


def test_state_casing_and_priority_string():
    (changed,) = events({"ticket": TICKET, "article": {}})
    assert (changed.type, changed.status, changed.priority) == ("contact.status_changed", "pending", "high")


def test_creation_without_article_and_unassigned_owner():
    ticket = {**TICKET, "article_ids": [], "article_count": 0, "updated_at": TICKET["created_at"], "state": "new"}
    (created,) = events({"ticket": ticket, "article": {}})
    assert (created.type, created.status, created.agent_id) == ("contact.created", "new", None)


def test_state_object_and_system_article():
    ticket = {**TICKET, "state": {"id": 4, "name": "closed"}, "article_ids": [1, 2, 3]}
    article = {"id": 3, "sender": {"name": "System"}, "internal": False, "created_at": "2024-01-01T11:00:00Z",
               "type": "email", "created_by_id": 1}
    changed, message = events({"ticket": ticket, "article": article})
    assert changed.status == "closed" and (message.author, message.agent_id) == ("system", None)


def test_article_id_is_the_dedupe_key_across_triggers():
    document = {"ticket": TICKET, "article": {"id": 2, "sender": "Agent", "created_by_id": 7, "internal": False,
                                              "created_at": "2024-01-01T10:30:00Z"}}
    first = zammad.to_events(Delivery(body=json.dumps(document).encode(), headers={"x-zammad-delivery": "a"}))
    second = zammad.to_events(Delivery(body=json.dumps(document).encode(), headers={"x-zammad-delivery": "b"}))
    assert [e.event_id for e in first.events] == [e.event_id for e in second.events]
    assert first.events[1].agent_id == "7" and first.events[1].attributes["delivery"] == "a"


def test_ticket_without_id_is_unmappable():
    with pytest.raises(Unmappable):
        events({"ticket": {"state": "open"}, "article": {}})
