import json
import os

import pytest
from fastapi.testclient import TestClient

from services.common.settings import Settings
from services.ingest.app import create_app
from services.ingest.publisher import InMemoryPublisher
from tests.support.events import doc


@pytest.fixture
def publisher():
    return InMemoryPublisher()


@pytest.fixture
def client(publisher):
    app = create_app(Settings(max_body_bytes=4096), publisher=publisher)
    with TestClient(app) as c:
        yield c


def received(client, outcome, platform="canonical"):
    for line in client.get("/metrics").text.splitlines():
        if line.startswith("deskpulse_webhooks_received_total{") and f'outcome="{outcome}"' in line \
                and f'platform="{platform}"' in line:
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_single_event_is_published_keyed_by_contact(client, publisher):
    response = client.post("/webhooks/canonical", json=doc("contact.created", 0, contact="T-1"))
    assert response.status_code == 202
    assert response.json() == {"accepted": 1}
    [(topic, key, value)] = publisher.records
    assert topic == "deskpulse.events.v1" and key == b"T-1"
    assert json.loads(value)["occurred_at"].endswith("Z")
    assert received(client, "accepted") == 1


def test_agent_events_are_keyed_by_agent(client, publisher):
    event = doc("agent.state_changed", 0, agent_id="A-7", state="away")
    del event["contact_id"]
    assert client.post("/webhooks/canonical", json=event).status_code == 202
    assert publisher.records[0][1] == b"A-7"


def test_array_is_published_whole(client, publisher):
    events = [doc("contact.created", i, contact=f"c{i}") for i in range(5)]
    assert client.post("/webhooks/canonical", json=events).status_code == 202
    assert [k for _, k, _ in publisher.records] == [f"c{i}".encode() for i in range(5)]


def test_array_with_one_bad_event_publishes_nothing_and_names_it(client, publisher):
    events = [doc("contact.created", i, contact=f"c{i}") for i in range(5)]
    events[3]["occurred_at"] = "last tuesday"
    response = client.post("/webhooks/canonical", json=events)
    assert response.status_code == 400
    assert response.json()["detail"].startswith("event[3]: occurred_at:")
    assert publisher.records == []
    assert received(client, "malformed") == 1


@pytest.mark.parametrize(
    "body, detail",
    [
        (b"{not json", "not valid JSON"),
        (b"[]", "the array holds no events"),
        (b'"a string"', "event must be a JSON object"),
        (json.dumps({**doc("contact.created", 0), "type": "contact.exploded"}).encode(), "type:"),
        (b"\xff\xfe\x00", "not valid JSON"),
    ],
)
def test_malformed_bodies_get_400_with_detail(client, publisher, body, detail):
    response = client.post("/webhooks/canonical", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert detail in response.json()["detail"]
    assert publisher.records == []


def test_oversized_body_gets_413(client, publisher):
    big = [doc("contact.created", i, contact=f"c{i}") for i in range(50)]
    response = client.post("/webhooks/canonical", json=big)
    assert response.status_code == 413
    assert "4096" in response.json()["detail"]
    assert publisher.records == []
    assert received(client, "too_large") == 1


def test_oversized_body_without_content_length_gets_413(client, publisher):
    def chunks():
        for _ in range(10):
            yield b" " * 1000
    response = client.post("/webhooks/canonical", content=chunks(), headers={"content-type": "application/json"})
    assert response.status_code == 413


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", ""])
def test_non_json_content_type_gets_415(client, content_type, publisher):
    response = client.post("/webhooks/canonical", content=b"{}", headers={"content-type": content_type})
    assert response.status_code == 415
    assert "application/json" in response.json()["detail"]


def test_json_with_charset_and_suffix_types_are_accepted(client):
    for content_type in ("application/json; charset=utf-8", "application/cloudevents+json"):
        body = json.dumps(doc("contact.created", 0)).encode()
        assert client.post("/webhooks/canonical", content=body, headers={"content-type": content_type}).status_code == 202


def test_kafka_unavailable_gets_503_and_is_counted(client, publisher):
    publisher.available = False
    response = client.post("/webhooks/canonical", json=doc("contact.created", 0))
    assert response.status_code == 503
    assert "retry" in response.json()["detail"]
    assert received(client, "unavailable") == 1
    assert client.get("/readyz").status_code == 503


def test_unknown_platform_is_404_and_counted_under_a_bounded_label(client):
    response = client.post("/webhooks/no-such-desk", json={})
    assert response.status_code == 404
    assert "no-such-desk" in response.json()["detail"]
    assert received(client, "unknown_platform", platform="unknown") == 1


def test_health_endpoints(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").status_code == 200


def test_platforms_that_read_the_url_declare_it():
    # Ingest builds delivery.url (tens of µs per request) only for platforms with SIGNS_URL = True.
    import inspect

    from services.ingest import platforms

    for name, module in platforms.PLATFORMS.items():
        if "delivery.url" in inspect.getsource(module):
            assert getattr(module, "SIGNS_URL", False), f"{name} reads delivery.url but does not set SIGNS_URL"


def test_webhook_answer_and_openapi_are_unchanged_by_the_fast_route(client, publisher):
    response = client.post("/webhooks/canonical/acme", json=doc("contact.created", 0))
    assert response.status_code == 202
    assert response.json() == {"accepted": 1}
    assert response.headers["content-type"] == "application/json"
    paths = client.get("/openapi.json").json()["paths"]
    assert "/webhooks/{platform}" in paths and "/webhooks/{platform}/{account}" in paths


# -- events from the future (docs/architecture.md, "Clocks") ------------------------------------------------------


def future_count(client, platform, action):
    for line in client.get("/metrics").text.splitlines():
        if line.startswith("deskpulse_ingest_future_events_total{") and f'platform="{platform}"' in line \
                and f'action="{action}"' in line:
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_a_canonical_event_from_beyond_the_skew_is_refused_naming_the_field_and_the_setting(publisher):
    from services.common.clock import FixedClock
    from tests.support.events import T0

    app = create_app(Settings(max_clock_skew_s=300), publisher=publisher, clock=FixedClock(T0))
    with TestClient(app) as client:
        near = doc("contact.created", 300, contact="near")  # exactly the skew ahead: accepted
        assert client.post("/webhooks/canonical", json=near).status_code == 202
        far = [doc("contact.created", 0, contact="a"), {**doc("contact.created", 0, contact="b"),
                                                        "occurred_at": "2030-01-01T00:00:00Z"}]
        response = client.post("/webhooks/canonical", json=far)
        assert response.status_code == 400
        detail = response.json()["detail"]
        assert detail.startswith("event[1].occurred_at: 2030-01-01T00:00:00.000Z is ")
        assert "at most 300 s is allowed (DESKPULSE_MAX_CLOCK_SKEW_S)" in detail
        assert [key for _, key, _ in publisher.records] == [b"near"]  # nothing of the refused delivery
        assert future_count(client, "canonical", "refused") == 1 and received(client, "malformed") == 1


def test_a_platforms_event_from_the_future_is_accepted_at_its_receipt_time(publisher):
    from pathlib import Path

    from services.common.clock import FixedClock
    from services.common.events import to_epoch_ms
    from services.ingest.secrets import SecretStore

    fixture = json.loads((Path(__file__).parents[2] / "fixtures" / "gorgias" / "ticket_created.json").read_text())
    platform_time = fixture["expect"][0]["occurred_at"]
    clock = FixedClock(to_epoch_ms(platform_time) - 86_400_000)  # the platform's clock is a day ahead of ours
    app = create_app(Settings(), publisher=publisher, secrets=SecretStore({"gorgias": {"default": ["s3cret"]}}),
                     clock=clock)
    with TestClient(app) as client:
        response = client.post("/webhooks/gorgias/acme", json=fixture["body"], headers={"X-Deskpulse-Secret": "s3cret"})
        assert response.status_code == 202 and response.json() == {"accepted": 2}
        events = [json.loads(value) for _, _, value in publisher.records]
        assert [to_epoch_ms(e["occurred_at"]) for e in events] == [clock(), clock()]
        assert [e["attributes"]["platform_occurred_at"] for e in events] == [platform_time, platform_time]
        assert [e["event_id"] for e in events][0] == fixture["expect"][0]["event_id"]  # redeliveries still dedupe
        assert future_count(client, "gorgias", "restamped") == 2 and received(client, "accepted", "gorgias") == 1


def test_a_platform_without_a_secret_is_told_which_variable_to_set(publisher):
    from services.ingest.secrets import SecretStore

    app = create_app(Settings(), publisher=publisher, secrets=SecretStore({}))
    with TestClient(app) as client:
        plain = client.post("/webhooks/zendesk", json={})
        for_account = client.post("/webhooks/zendesk/acme", json={})
    assert plain.status_code == 401 and "set DESKPULSE_WEBHOOK_SECRET_ZENDESK" in plain.json()["detail"]
    assert "'zendesk: {default: <secret>}'" in plain.json()["detail"]
    assert "add 'acme' under 'zendesk' in the file DESKPULSE_WEBHOOK_SECRETS_FILE names" in for_account.json()["detail"]
    assert publisher.records == []


@pytest.mark.parametrize("host", ["0.0.0.0", "10.1.2.3", "::"])
def test_beyond_loopback_without_the_canonical_secret_ingest_refuses_to_start(host):
    from services.ingest.app import OpenWritePath
    from services.ingest.secrets import SecretStore

    with pytest.raises(OpenWritePath) as refused:
        create_app(Settings(ingest_host=host), InMemoryPublisher(), SecretStore({}))
    assert "DESKPULSE_WEBHOOK_SECRET_CANONICAL" in str(refused.value)
    assert "DESKPULSE_ALLOW_OPEN_WRITES=true" in str(refused.value)
    # the secret, or the operator's explicit opt-out, or loopback: it starts
    create_app(Settings(ingest_host=host), InMemoryPublisher(), SecretStore({"canonical": {"default": ["s"]}}))
    create_app(Settings(ingest_host=host, allow_open_writes=True), InMemoryPublisher(), SecretStore({}))
    create_app(Settings(ingest_host="127.0.0.1"), InMemoryPublisher(), SecretStore({}))


def test_the_cli_says_why_ingest_will_not_start(monkeypatch, capsys):
    from services import cli
    from services.common.settings import get_settings

    monkeypatch.setenv("DESKPULSE_INGEST_HOST", "0.0.0.0")
    for name in [n for n in os.environ if n.startswith("DESKPULSE_WEBHOOK_SECRET")]:
        monkeypatch.delenv(name)
    get_settings.cache_clear()
    try:
        assert cli.main(["ingest"]) == 2
    finally:
        get_settings.cache_clear()
    assert "deskpulse ingest: ingest listens on 0.0.0.0" in capsys.readouterr().err
