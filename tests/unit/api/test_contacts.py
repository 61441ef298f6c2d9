"""The contacts behind the figures (contactstore.py, routers/contacts.py): drill-down lists per state and the
contacts export, against the batch recomputation of the same events; a tombstone drops a contact."""

import csv
import io

import pytest
from fastapi.testclient import TestClient

from services.api.app import create_app
from services.api.contactstore import ContactStore, is_in
from services.common.events import from_epoch_ms
from services.common.settings import Settings
from services.domain import contactrow
from services.domain.slaconfig import SlaConfig
from tests.support import recompute
from tests.support.access import CONFIG, contacts, floor


@pytest.fixture(scope="module")
def client():
    _, model = floor()
    app = create_app(Settings(), read_model=model, consume=False, sla=SlaConfig.load(CONFIG), contacts=contacts())
    with TestClient(app) as c:
        yield c


def own_docs(docs, key):
    platform, contact = key.split("/", 1)
    return [d for d in docs if d.get("contact_id") == contact and d["platform"] == platform]


def test_the_export_of_a_queue_adds_up_to_the_recomputed_figures(client):
    docs, _ = floor()
    response = client.get("/v1/export/contacts.csv", params={"scope": "queue/zendesk/billing", "window": "all"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert tuple(rows[0]) == contactrow.CSV_FIELDS
    want = recompute.figures(docs, config=CONFIG)["queue/zendesk/billing"]
    assert len(rows) == want["created"] > 20  # one row per contact created in the queue
    fr = [float(r["first_response_seconds"]) for r in rows if r["first_response_seconds"]]
    assert len(fr) == want["fr_count"] and round(sum(fr) * 1000) == want["fr_ms"]
    assert sum(r["resolved_at"] != "" for r in rows) == want["resolved"]
    assert sum(int(r["replies"]) for r in rows) == want["replies"]
    assert sum(r["complaint"] == "true" for r in rows) == want.get("complaints", 0)
    assert [r["created_at"] for r in rows] == sorted(r["created_at"] for r in rows)  # oldest first
    assert {r["queue"] for r in rows} == {"billing"}


def test_a_queues_waiting_contacts_are_the_ones_the_recomputation_finds_waiting(client):
    docs, _ = floor()
    body = client.get("/v1/queues/zendesk/technical/contacts", params={"state": "waiting", "limit": 1000}).json()
    waiting = {i["key"] for i in body["items"]}
    for key in {f"zendesk/{d['contact_id']}" for d in docs if d.get("queue_id") == "technical" and d["platform"] ==
                "zendesk"}:
        live = recompute.live(own_docs(docs, key), config=CONFIG).get("all", {})
        assert (key in waiting) == bool(live.get("waiting")), key
    assert body["total"] == len(waiting) == recompute.live(docs, config=CONFIG)["queue/zendesk/technical"]["waiting"]
    few = client.get("/v1/queues/zendesk/technical/contacts", params={"state": "open", "limit": 2}).json()
    assert len(few["items"]) == 2 and few["total"] > 2


def test_an_agents_contacts_are_the_ones_assigned_to_them(client):
    body = client.get("/v1/agents/zendesk/ze-agent-01/contacts", params={"state": "open"}).json()
    assert body["items"] and {i["agent"] for i in body["items"]} == {"ze-agent-01"}
    assert all(i["open"] for i in body["items"])


def test_with_contact_rows_off_the_routes_say_so_rather_than_list_nothing():
    _, model = floor()
    app = create_app(Settings(contact_rows=False), read_model=model, consume=False, sla=SlaConfig.load(CONFIG),
                     contacts=contacts())
    with TestClient(app) as off:
        for path in ("/v1/queues/zendesk/billing/contacts", "/v1/agents/zendesk/ze-agent-01/contacts",
                     "/v1/export/contacts.csv"):
            response = off.get(path)
            assert response.status_code == 404, path
            assert "DESKPULSE_CONTACT_ROWS=false" in response.json()["detail"], path
        assert off.get("/v1/queues/zendesk/nope/contacts").json()["detail"] != response.json()["detail"]


def test_bad_parameters_are_422_with_a_detail(client):
    for params in ({"state": "lost"}, {"limit": 0}):
        response = client.get("/v1/queues/zendesk/billing/contacts", params=params)
        assert response.status_code == 422 and response.json()["detail"]
    assert client.get("/v1/export/contacts.csv", params={"window": "month"}).status_code == 422
    assert client.get("/v1/queues/zendesk/nowhere/contacts").status_code == 404


def test_states_on_the_streams_time_and_a_tombstone_drops_the_row():
    row = {"open": True, "waiting": False, "in_queue": False, "agent": None, "reopens": 0, "csat": "bad",
           "complaint": False, "sla_next_deadline": from_epoch_ms(2_000), "sla_at_risk_from": from_epoch_ms(1_000)}
    assert not is_in(row, "at_risk", 999) and is_in(row, "at_risk", 1_000) and not is_in(row, "breaching", 1_999)
    assert is_in(row, "breaching", 2_000) and not is_in(row, "at_risk", 2_000)
    assert is_in(row, "unassigned", 0) and is_in(row, "bad_rating", 0) and not is_in(row, "reopened", 0)
    store = ContactStore()
    value = contactrow.encode({"schema": contactrow.SCHEMA_ID, "key": "zendesk/1", "platform": "zendesk",
                               "queue": "q", "agent": "a"})
    store.apply(b"zendesk/1", value)
    assert [r["key"] for r in store.of("queue/zendesk/q")] == ["zendesk/1"] and len(store) == 1
    store.apply(b"zendesk/1", None)
    assert list(store.of("queue/zendesk/q")) == [] and list(store.of("agent/zendesk/a")) == [] and len(store) == 0
    store.apply(b"zendesk/2", b"not json")
    assert store.skipped == 1 and len(store) == 0
