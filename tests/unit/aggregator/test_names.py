"""Display names from the platforms' events (engine.event_names, name#<p>#<scope> records): published with the
queue's and the agent's partials, kept across a rebuild, shown by the API unless the SLA config names them, and
exported for Grafana's legends (deskpulse_queue_info, deskpulse_agent_info)."""

from fastapi.testclient import TestClient

from services.aggregator.engine import Engine, name_key
from services.api.app import create_app
from services.api.readmodel import ReadModel
from services.common.clock import FixedClock
from services.common.events import parse_event
from services.common.settings import Settings
from services.domain.slaconfig import SlaConfig
from tests.support.events import T0, doc


def published(engine: Engine, wall_ms: int) -> dict[str, dict]:
    import orjson

    return {orjson.loads(value)["scope"]: orjson.loads(value) for _, value in engine.drain(wall_ms)}


def events():
    return [
        doc("contact.created", 0, "c1", queue_id="q7", attributes={"queue_name": "Billing (EMEA)"}),
        doc("contact.assigned", 5, "c1", agent_id="a1", attributes={"agent_name": " Ana Lima "}),
        doc("contact.created", 9, "c2", queue_id="q8"),
    ]


def test_names_go_out_with_the_partials_of_the_queue_and_the_agent():
    engine = Engine({})
    for d in events():
        engine.handle(0, parse_event(d), T0 + 10_000)
    out = published(engine, T0 + 10_000)
    assert out["queue/zendesk/q7"]["name"] == "Billing (EMEA)"
    assert out["agent/zendesk/a1"]["name"] == "Ana Lima"
    assert "name" not in out["queue/zendesk/q8"] and "name" not in out["platform/zendesk"]
    # a rename: written and published again; the same name again: nothing to write
    table_before = dict(engine.table)
    engine.handle(0, parse_event(doc("contact.message", 20, "c1", author="customer", public=True,
                                     queue_id="q7", attributes={"queue_name": "Billing (EMEA)"})), T0 + 20_000)
    assert engine.table[name_key(0, "queue/zendesk/q7")] is table_before[name_key(0, "queue/zendesk/q7")]
    engine.handle(0, parse_event(doc("contact.status_changed", 30, "c1", status="open", queue_id="q7",
                                     attributes={"queue_name": "Billing"})), T0 + 30_000)
    assert published(engine, T0 + 30_000)["queue/zendesk/q7"]["name"] == "Billing"


def test_names_survive_a_rebuild_from_the_table():
    engine = Engine({})
    for d in events():
        engine.handle(1, parse_event(d), T0 + 10_000)
    restarted = Engine(dict(engine.table))
    restarted.rebuild({1}, T0 + 60_000)
    out = published(restarted, T0 + 60_000)
    assert out["queue/zendesk/q7"]["name"] == "Billing (EMEA)" and out["agent/zendesk/a1"]["name"] == "Ana Lima"


def test_the_api_shows_the_platforms_name_unless_the_sla_config_gives_one():
    engine = Engine({})
    for d in events():
        engine.handle(0, parse_event(d), T0 + 10_000)
    model = ReadModel(clock=FixedClock(T0 + 10_000))
    for key, value in engine.drain(T0 + 10_000):
        model.apply(key, value)
    model.caught_up = True
    config = SlaConfig.load({"names": {"agents": {"zendesk/a1": "Ana L."}}})
    with TestClient(create_app(Settings(), read_model=model, consume=False, sla=config)) as client:
        assert client.get("/v1/queues/zendesk/q7").json()["name"] == "Billing (EMEA)"
        assert client.get("/v1/agents/zendesk/a1").json()["name"] == "Ana L."  # the config wins
        assert client.get("/v1/queues/zendesk/q8").json()["name"] is None
        text = client.get("/metrics").text  # one info series per queue and agent, for Grafana's legends
    assert 'deskpulse_queue_info{platform="zendesk",queue="q7",name="Billing (EMEA)"} 1' in text
    assert 'deskpulse_queue_info{platform="zendesk",queue="q8",name="q8"} 1' in text  # no name: the id
    assert 'deskpulse_agent_info{platform="zendesk",agent="a1",name="Ana L."} 1' in text


def test_accounts_take_their_names_from_the_sla_config():
    engine = Engine({})
    engine.handle(0, parse_event(doc("contact.created", 0, "c1", account="acme", queue_id="q7")), T0)
    model = ReadModel(clock=FixedClock(T0))
    for key, value in engine.drain(T0):
        model.apply(key, value)
    config = SlaConfig.load({"names": {"accounts": {"zendesk/acme": "ACME Europe"}}})
    with TestClient(create_app(Settings(), read_model=model, consume=False, sla=config)) as client:
        assert client.get("/v1/accounts/zendesk/acme").json()["name"] == "ACME Europe"
