"""Any body and headers, to any adapter: only the typed WebhookError, never another exception."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from services.ingest import platforms
from services.ingest.platforms.base import Delivery, WebhookError

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=15), children, max_size=6),
    max_leaves=25,
)
bodies = st.one_of(
    st.binary(max_size=300),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.dictionaries(st.text(max_size=10), st.text(max_size=10), max_size=5).map(
        lambda d: "&".join(f"{k}={v}" for k, v in d.items()).encode()),
    st.text(max_size=200).map(lambda t: f"<?xml version='1.0'?><a>{t}</a>".encode(errors="ignore")),
)
headers = st.dictionaries(st.sampled_from(["content-type", "x-hub-signature", "x-zendesk-webhook-signature",
                                           "x-zendesk-webhook-signature-timestamp", "authorization",
                                           "x-twilio-signature", "x-front-challenge", "x-helpscout-event",
                                           "x-hubspot-signature-v3", "x-hubspot-request-timestamp"]),
                          st.text(max_size=30), max_size=4)


@pytest.mark.parametrize("name", sorted(platforms.PLATFORMS))
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=bodies, head=headers, secret=st.text(min_size=1, max_size=20))
def test_adapters_raise_only_the_typed_error(name, body, head, secret):
    adapter = platforms.get(name)
    delivery = Delivery(body=body, headers=head, url="https://h.example/webhooks/x", received_at=1_790_000_000.0)
    for call in (lambda: adapter.verify(delivery, [secret], 300.0), lambda: adapter.to_events(delivery)):
        try:
            call()
        except WebhookError:
            pass


@pytest.mark.parametrize("name", sorted(platforms.PLATFORMS))
def test_deeply_nested_json_is_malformed_not_a_crash(name):
    adapter = platforms.get(name)
    body = b"[" * 100_000 + b"]" * 100_000
    delivery = Delivery(body=body, headers={"content-type": "application/json"}, url="https://h.example/x",
                        received_at=1_790_000_000.0)
    for call in (lambda: adapter.verify(delivery, ["s"], 300.0), lambda: adapter.to_events(delivery)):
        try:
            call()
        except WebhookError:
            pass
