"""Contact rows (rows.py, engine.drain_contacts, services/domain/contactrow.py): each contact's figures as the batch
recomputation of its own events gives them, tombstones for retired contacts, every row again after a rebuild."""

import random

import orjson

from services.aggregator.engine import Engine, EngineSettings
from services.aggregator.kpiconfig import SlaKpiConfig
from services.common.events import from_epoch_ms, parse_event, to_epoch_ms
from services.demo.synthetic import history
from services.domain import contactrow
from services.domain.slaconfig import SlaConfig
from services.domain.windows import DAY_MS
from tests.support import recompute
from tests.support.events import T0, doc

CONFIG = {
    "categories": [{"name": "billing", "match": [{"tag": ["billing", "refund", "invoice"]}]},
                   {"name": "defect", "match": [{"tag": "bug"}]}],
    "complaints": {"categories": ["defect"], "bad_rating_at_most": 0.4},
}


def rows_of(engine: Engine) -> dict[str, dict | None]:
    out = {}
    while batch := engine.drain_contacts(limit=97):  # several calls: a bounded number at a time
        for key, value in batch:
            out[key.decode()] = contactrow.decode(value) if value is not None else None
    return out


def run(docs, engine=None):
    engine = engine or Engine({}, config=SlaKpiConfig(SlaConfig.load(CONFIG)))
    for d in sorted(docs, key=lambda d: d["occurred_at"]):
        e = parse_event(d)
        engine.handle(hash(e.kafka_key) % 3, e, e.occurred_ms)
    return engine


def test_every_contacts_row_is_the_recomputation_of_its_own_events():
    docs = history(random.Random(3), T0, contacts=400, mean_gap_ms=DAY_MS // 200)
    rows = rows_of(run(docs))
    by_contact: dict[str, list[dict]] = {}
    for d in docs:
        if d.get("contact_id"):
            by_contact.setdefault(f"{d['platform']}/{d['contact_id']}", []).append(d)
    assert set(rows) == set(by_contact) and len(rows) >= 300
    checked = {"first_response": 0, "resolved": 0, "csat": 0, "complaint": 0, "open": 0}
    for key, row in rows.items():
        assert row is not None and tuple(orjson.loads(contactrow.encode(row))) == contactrow.FIELDS
        own = by_contact[key]
        want = recompute.figures(own, config=CONFIG).get("all", {})
        live = recompute.live(own, config=CONFIG).get("all", {})
        assert (row["platform"], row["contact_id"]) == tuple(key.split("/", 1))
        fr = want.get("fr_ms") / 1000 if want.get("fr_count") else None
        assert row["first_response_seconds"] == fr, key
        res = want.get("res_ms") / 1000 if want.get("resolved") else None
        assert row["resolution_seconds"] == res, key
        assert row["replies"] == want.get("replies", 0) and row["reopens"] == want.get("reopened", 0), key
        assert row["complaint"] == bool(want.get("complaints")), key
        assert row["csat"] == next((k[5:] for k in want if k.startswith("csat_")), None), key
        assert row["one_touch"] == (bool(want.get("one_touch")) if want.get("resolved") else None), key
        assert row["open"] == bool(live.get("open")) and row["waiting"] == bool(live.get("waiting")), key
        checked["first_response"] += fr is not None
        checked["resolved"] += res is not None
        checked["csat"] += row["csat"] is not None
        checked["complaint"] += row["complaint"]
        checked["open"] += row["open"]
    assert all(n > 5 for n in checked.values()), checked  # the scenario has each kind of figure


def test_a_policy_gives_the_rows_sla_outcomes_and_the_running_clock():
    config = {"policies": [{"name": "std", "targets": {"first_response": "1h", "resolution": "8h"}}]}
    engine = Engine({}, config=SlaKpiConfig(SlaConfig.load(config)))
    for d in [doc("contact.created", 0, "late"), doc("contact.message", 2 * 3600, "late", author="agent", public=True,
                                                      agent_id="a1"),
              doc("contact.created", 0, "waiting")]:
        engine.handle(0, parse_event(d), to_epoch_ms(d["occurred_at"]))
    rows = rows_of(engine)
    late, waiting = rows["zendesk/late"], rows["zendesk/waiting"]
    assert late["sla_first_response"] == "breached" and late["first_response_seconds"] == 7200.0
    assert late["sla_resolution"] is None and late["sla_next_deadline"] == from_epoch_ms(T0 + 8 * 3_600_000)
    assert waiting["sla_first_response"] is None and waiting["waiting"] is True
    assert waiting["sla_next_deadline"] == from_epoch_ms(T0 + 3_600_000)  # the first response is due first
    assert waiting["sla_at_risk_from"] < waiting["sla_next_deadline"]


def test_retired_contacts_leave_a_tombstone_and_a_rebuild_publishes_every_row_again():
    settings = EngineSettings(contact_retention_ms=DAY_MS)
    engine = Engine({}, config=SlaKpiConfig(SlaConfig.load(CONFIG)), settings=settings)
    docs = [doc("contact.created", 0, "old"), doc("contact.status_changed", 60, "old", status="solved"),
            doc("contact.created", 3 * 86_400, "new")]
    run(docs[:2], engine)
    assert rows_of(engine)["zendesk/old"]["status"] == "solved"
    run(docs[2:], engine)
    engine.retire(hash("old") % 3, T0 + 2 * DAY_MS)
    after = rows_of(engine)
    assert after.get("zendesk/old", "kept") is None  # the tombstone
    restarted = Engine(dict(engine.table), config=SlaKpiConfig(SlaConfig.load(CONFIG)), settings=settings)
    restarted.rebuild({0, 1, 2}, T0 + 3 * DAY_MS)
    assert set(rows_of(restarted)) == {"zendesk/new"}


def test_every_row_is_valid_against_the_schema_that_names_the_modules_fields():
    import json
    from pathlib import Path

    import jsonschema

    schema = json.loads((Path(__file__).resolve().parents[3] / "schemas/deskpulse.contact.v1/schema.json").read_text())
    assert tuple(schema["properties"]) == contactrow.FIELDS  # the wire order, too
    assert schema["properties"]["schema"]["const"] == contactrow.SCHEMA_ID
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    config = {**CONFIG, "policies": [{"name": "std", "targets": {"first_response": "1h", "resolution": "8h"}}]}
    engine = Engine({}, config=SlaKpiConfig(SlaConfig.load(config)))
    rows = rows_of(run(history(random.Random(5), T0, contacts=150, mean_gap_ms=60_000), engine))
    assert len(rows) >= 100 and any(r["sla_next_deadline"] for r in rows.values())
    for row in rows.values():
        validator.validate(row)
    assert not validator.is_valid({**next(iter(rows.values())), "csat": "great"})


def test_a_contacts_link_to_its_platform_is_the_latest_https_url_its_events_gave():
    engine = Engine({})
    for d in [doc("contact.created", 0, "c1", attributes={"url": "https://acme.zendesk.com/agent/tickets/1",
                                                          "tags": ["billing"]}),
              doc("contact.message", 5, "c1", author="customer", public=True, attributes={"url": "http://evil.test/"}),
              doc("contact.created", 0, "c2")]:
        engine.handle(0, parse_event(d), to_epoch_ms(d["occurred_at"]))
    rows = rows_of(engine)
    assert rows["zendesk/c1"]["url"] == "https://acme.zendesk.com/agent/tickets/1"  # not an http:// one
    assert rows["zendesk/c2"]["url"] is None
