"""Twilio: published signature vectors, rotation, tampering, Event Streams body hash, mapping edge cases."""

from __future__ import annotations

import base64
import json
from urllib.parse import urlencode

import pytest

from services.ingest.platforms import twilio as adapter
from services.ingest.platforms.base import Delivery, Malformed, Unauthorized, Unmappable

# Twilio's documented example (twilio.com/docs/usage/security "Validating signatures from Twilio"; the same vector
# appears in TwilioDevEd/api-snippets): AuthToken 12345.
TOKEN = "12345"
URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
DOC_PARAMS = {"CallSid": "CA1234567890ABCDE", "Caller": "+12349013030", "Digits": "1234", "From": "+12349013030",
              "To": "+18005551212"}
DOC_SIGNATURE = "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
# twilio-php tests/Twilio/Unit/Security/RequestValidatorTest.php (also twilio-python, twilio-csharp).
SDK_PARAMS = {**DOC_PARAMS, "Caller": "+14158675309", "From": "+14158675309"}
SDK_SIGNATURE = "RSOYDt4T1cUTdK1PDd93/VVr8B8="
SDK_BODY = '{"property": "value", "boolean": true}'
SDK_BODY_HASH = "0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620"
SDK_BODY_SIGNATURE = "a9nBmqA0ju/hNViExpshrM61xv4="


def form(params, signature=None, url=URL, order=None) -> Delivery:
    items = list(params.items()) if isinstance(params, dict) else list(params)
    if order:
        items = sorted(items, reverse=True)
    headers = {"content-type": "application/x-www-form-urlencoded"}
    if signature is not None:
        headers["x-twilio-signature"] = signature
    return Delivery(body=urlencode(items).encode(), headers=headers, url=url)


def test_documented_vector():
    assert adapter.signature(TOKEN, URL, list(DOC_PARAMS.items())) == DOC_SIGNATURE
    adapter.verify(form(DOC_PARAMS, DOC_SIGNATURE, order="reversed"), [TOKEN], 300)


def test_sdk_vector():
    adapter.verify(form(SDK_PARAMS, SDK_SIGNATURE), [TOKEN], 300)


def test_sdk_vector_repeated_params_sorted_and_distinct():
    params = [("Sid", "CA123"), ("SidAccount", "AC123"), ("Digits", "5678"), ("Digits", "1234"), ("Digits", "1234")]
    adapter.verify(form(params, "IK+Dwps556ElfBT0I3Rgjkr1wJU="), [TOKEN], 300)


def test_sdk_vectors_default_port_added_or_removed():
    adapter.verify(form(SDK_PARAMS, SDK_SIGNATURE, url=URL.replace(".com", ".com:443")), [TOKEN], 300)
    adapter.verify(form(SDK_PARAMS, "kvajT1Ptam85bY51eRf/AJRuM3w="), [TOKEN], 300)  # signed with :443


def test_sdk_json_body_vector():
    delivery = Delivery(body=SDK_BODY.encode(), url=f"{URL}&bodySHA256={SDK_BODY_HASH}",
                        headers={"content-type": "application/json", "x-twilio-signature": SDK_BODY_SIGNATURE})
    adapter.verify(delivery, [TOKEN], 300)


def test_json_body_tampered_fails_hash():
    delivery = Delivery(body=SDK_BODY.encode().replace(b"true", b"false"), url=f"{URL}&bodySHA256={SDK_BODY_HASH}",
                        headers={"content-type": "application/json", "x-twilio-signature": SDK_BODY_SIGNATURE})
    with pytest.raises(Unauthorized, match="bodySHA256"):
        adapter.verify(delivery, [TOKEN], 300)


def test_rotated_token_accepted():
    adapter.verify(form(DOC_PARAMS, DOC_SIGNATURE), ["new-token", TOKEN], 300)


def test_wrong_token_rejected():
    with pytest.raises(Unauthorized):
        adapter.verify(form(DOC_PARAMS, DOC_SIGNATURE), ["54321"], 300)


def test_tampered_param_rejected():
    with pytest.raises(Unauthorized):
        adapter.verify(form({**DOC_PARAMS, "Digits": "9999"}, DOC_SIGNATURE), [TOKEN], 300)


def test_added_param_rejected():
    with pytest.raises(Unauthorized):
        adapter.verify(form({**DOC_PARAMS, "Extra": "1"}, DOC_SIGNATURE), [TOKEN], 300)


def test_other_url_rejected():
    with pytest.raises(Unauthorized, match="PUBLIC_BASE_URL"):
        adapter.verify(form(DOC_PARAMS, DOC_SIGNATURE, url="http://10.0.0.5:8000/myapp.php?foo=1&bar=2"), [TOKEN], 300)


def test_missing_header_rejected():
    with pytest.raises(Unauthorized, match="missing"):
        adapter.verify(form(DOC_PARAMS), [TOKEN], 300)


def test_event_streams_basic_auth():
    auth = "Basic " + base64.b64encode(b"deskpulse:pw").decode()
    delivery = Delivery(body=b"[]", headers={"content-type": "application/json", "authorization": auth})
    adapter.verify(delivery, ["deskpulse:pw"], 300)
    with pytest.raises(Unauthorized):
        adapter.verify(delivery, ["deskpulse:other"], 300)


# -- mapping ------------------------------------------------------------------------------------------------

def callback(**fields) -> Delivery:
    base = {"EventType": "task.created", "TaskSid": "WT1", "TimestampMs": "1795683600123", "Sid": "EV1"}
    return form({**base, **fields})


def test_callback_reply_is_204():
    adapted = adapter.to_events(callback())
    assert adapted.reply is not None and adapted.reply.status == 204


def test_ignored_callback_still_204():
    adapted = adapter.to_events(callback(EventType="workflow.timeout"))
    assert adapted.events == [] and adapted.reply.status == 204


def test_timestamp_ms_preferred_over_seconds():
    [created] = adapter.to_events(callback(Timestamp="1795680000")).events
    assert created.occurred_at == "2026-11-26T09:00:00.123Z"


@pytest.mark.parametrize("name,state", [("Available", "available"), ("Offline", "offline"), ("Unavailable", "away"),
                                        ("Break", "away"), ("Busy", "busy"), ("Lunch 🍕", "away")])
def test_activity_names(name, state):
    [changed] = adapter.to_events(callback(EventType="worker.activity.update", WorkerSid="WK1",
                                           WorkerActivityName=name)).events
    assert (changed.state, changed.attributes["raw_state"]) == (state, name)


@pytest.mark.parametrize("raw,channel", [("voice", "voice"), ("chat", "chat"), ("sms", "sms"), ("default", "other")])
def test_channels(raw, channel):
    [created] = adapter.to_events(callback(TaskChannelUniqueName=raw)).events
    assert created.channel == channel


def test_callback_without_event_type_is_unmappable():
    with pytest.raises(Unmappable):
        adapter.to_events(form({"Foo": "bar"}))


def test_stream_single_object_and_stable_ids():
    body = json.dumps({"specversion": "1.0", "type": "com.twilio.taskrouter.task.created", "id": "NO1",
                       "data": {"timestamp": "2026-11-20T10:00:00Z", "payload": {"task_sid": "WT1"}}}).encode()
    delivery = Delivery(body=body, headers={"content-type": "application/json"})
    first = [e.event_id for e in adapter.to_events(delivery).events]
    assert first == ["NO1"] == [e.event_id for e in adapter.to_events(delivery).events]
    assert adapter.to_events(delivery).reply is None


def test_stream_not_json_is_malformed():
    with pytest.raises(Malformed):
        adapter.to_events(Delivery(body=b"<x/>", headers={"content-type": "application/json"}))
