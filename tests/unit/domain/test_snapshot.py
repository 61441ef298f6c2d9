"""The partial snapshot record deskpulse.snapshot.v1 (services/domain/snapshot.py, schemas/deskpulse.snapshot.v1).

The valid examples are records of a small engine run (``deploy/sla.example.yaml``, one contact in each of two
categories, an agent, an event from the future), written out with ``json.dumps(record, indent=1)``; the invalid
ones are those records with one thing wrong each.
"""

from __future__ import annotations

import json
import random
import zlib
from pathlib import Path

import jsonschema
import orjson
import pytest

from services.aggregator.engine import Engine, EngineSettings
from services.aggregator.kpiconfig import SlaKpiConfig
from services.api.readmodel import ReadModel
from services.common.events import from_epoch_ms, parse_event
from services.demo.synthetic import agent_shifts, history
from services.domain import snapshot
from services.domain.scopes import light_scope
from services.domain.slaconfig import SlaConfig
from services.domain.windows import HOUR_MS
from tests.support.partials import encoded, partial

ROOT = Path(__file__).resolve().parents[3]
SCHEMA_DIR = ROOT / "schemas" / "deskpulse.snapshot.v1"
SCHEMA = json.loads((SCHEMA_DIR / "schema.json").read_text())
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
VALID = sorted((SCHEMA_DIR / "examples" / "valid").glob("*.json"))
INVALID = sorted((SCHEMA_DIR / "examples" / "invalid").glob("*.json"))
KINDS = ("all", "platform", "category", "account", "queue", "agent", "queue_agent", "queue_category",
         "queue_agent_category")
T0 = 1_795_000_000_000


def rebuilt(doc: dict) -> dict:
    """``doc`` built again by ``snapshot.record`` from its decoded parts, as the aggregator builds it."""
    buckets = {level: {int(k): v for k, v in doc.get(name, {}).items()} for level, name in snapshot.BUCKET_FIELDS.items()}
    return snapshot.record(doc["scope"], doc["partition"], doc["stream_ms"], doc["published_ms"], doc["totals"],
                           buckets, doc["live"], doc.get("agent"), doc.get("future"), doc.get("name"))


# -- the schema and its examples ------------------------------------------------------------------------------------

def test_there_are_examples_of_both_kinds():
    assert len(VALID) >= 8 and len(INVALID) >= 15


def test_the_schema_names_what_the_module_names():
    assert SCHEMA["properties"]["schema"]["const"] == snapshot.SCHEMA_ID
    assert tuple(SCHEMA["properties"]) == snapshot.FIELDS  # the wire order, too
    assert set(snapshot.DECODE_REQUIRED) <= set(SCHEMA["required"])
    assert set(SCHEMA["properties"]["live"]["required"]) == set(snapshot.LIVE_DEFAULTS)
    assert set(snapshot.LIVE_MIN) <= set(snapshot.LIVE_DEFAULTS)
    assert all(SCHEMA["properties"][name]["$ref"] == "#/$defs/buckets" for name in snapshot.BUCKET_FIELDS.values())
    assert tuple(SCHEMA["properties"]["kind"]["enum"]) == KINDS


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.name)
def test_valid_examples_pass_the_schema_and_round_trip(path):
    doc = json.loads(path.read_text())
    assert VALIDATOR.is_valid(doc), list(VALIDATOR.iter_errors(doc))
    value = snapshot.encode(doc)
    assert snapshot.decode(value) == doc
    if "days" in doc:  # (records of older aggregators have no day buckets; record() always writes them)
        assert snapshot.encode(rebuilt(doc)) == value  # same fields, same order, same bytes


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.name)
def test_invalid_examples_fail_the_schema(path):
    doc = json.loads(path.read_text())
    assert not VALIDATOR.is_valid(doc)


@pytest.mark.parametrize("name", ["missing_totals", "missing_stream_ms", "not_an_object"])
def test_the_decoder_refuses_records_without_what_the_read_model_needs(name):
    with pytest.raises(ValueError):
        snapshot.decode((SCHEMA_DIR / "examples" / "invalid" / f"{name}.json").read_bytes())


@pytest.mark.parametrize("value", [b"not json", b"", b"\xff", b"[]", b"3", b'"x"', b"null", b'{"totals": {}}'])
def test_the_decoder_raises_value_error_for_anything_undecodable(value):
    with pytest.raises(ValueError):
        snapshot.decode(value)


def test_the_test_helpers_write_valid_records():
    doc = partial("agent/zendesk/a1", 2, totals={"created": 1}, minutes={T0: {"created": 1}},
                  live={"open": 1, "oldest_waiting_created_ms": T0}, agent={"state": "busy", "since_ms": T0,
                                                                          "raw_state": None})
    VALIDATOR.validate(doc)
    VALIDATOR.validate(partial("all", future={"n": 1, "last": {"event_id": "e", "platform": "p", "ahead_ms": 1,
                                                                "occurred_at": "2030-01-01T00:00:00.000Z",
                                                                "refused_at_ms": T0}}))
    key, value = encoded("agent/zendesk/a1", 2, totals={"created": 1})
    assert snapshot.decode_key(key) == ("agent/zendesk/a1", 2)
    VALIDATOR.validate(snapshot.decode(value))


# -- keys -----------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("scope", ["all", "queue/zendesk/a#b", light_scope("queue_agent", "zendesk", "q/1", "ä#7")])
def test_keys_round_trip(scope):
    assert snapshot.encode_key(scope, 12) == snapshot.key(scope, 12).encode()
    assert snapshot.decode_key(snapshot.encode_key(scope, 12)) == (scope, 12)


@pytest.mark.parametrize("raw", [b"no-partition", b"#0", b"all#", b"all#x", b"all#-1", "all#\u00b2".encode()])
def test_keys_that_are_not_scope_and_partition_are_refused(raw):
    assert snapshot.decode_key(raw) is None


# -- what the engine publishes --------------------------------------------------------------------------------------

def events() -> list[dict]:
    """Synthetic traffic over ~80 minutes (every scope kind but accounts), contacts of an account, and agents."""
    rng = random.Random(5)
    docs = history(rng, T0, 80, mean_gap_ms=60_000)
    docs += agent_shifts(rng, T0, T0 + 80 * 60_000)
    base = {"schema": "deskpulse.event.v1", "platform": "zendesk", "account": "acme", "queue_id": "billing"}
    for n in range(3):
        t = T0 + n * 600_000
        docs += [
            {**base, "event_id": f"acme-{n}-c", "type": "contact.created", "occurred_at": from_epoch_ms(t),
             "contact_id": f"acme-{n}", "status": "new", "channel": "email", "attributes": {"tags": ["refund"]}},
            {**base, "event_id": f"acme-{n}-m", "type": "contact.message", "occurred_at": from_epoch_ms(t + 90_000),
             "contact_id": f"acme-{n}", "author": "agent", "public": True, "agent_id": "a7"},
        ]
    return sorted(docs, key=lambda d: d["occurred_at"])


def test_every_record_the_engine_publishes_is_valid_and_reads_back():
    config = SlaKpiConfig(SlaConfig.load(ROOT / "deploy" / "sla.example.yaml"))
    engine = Engine({}, config=config, settings=EngineSettings(contact_retention_ms=HOUR_MS // 2))
    published: list[tuple[bytes, bytes]] = []
    docs = events()
    for i, d in enumerate(docs):
        event = parse_event(d)
        engine.handle(zlib.crc32(event.kafka_key.encode()) % 2, event, event.occurred_ms)
        if i == len(docs) // 2:
            published += engine.drain(event.occurred_ms)
    now = parse_event(docs[-1]).occurred_ms
    stray = parse_event({**docs[0], "event_id": "from-2030", "contact_id": "stray", "occurred_at": "2030-01-01T00:00:00Z"})
    partition = zlib.crc32(stray.kafka_key.encode()) % 2
    assert engine.handle(partition, stray, now) == "future"
    published += engine.drain(now)
    assert any(key.startswith("retired#") for key in engine.table)  # partials after a retirement too
    engine.rebuild({0, 1}, now + 60_000)
    rebuilt_batch = engine.drain(now + 60_000)
    published += rebuilt_batch

    kinds, extras = set(), set()
    model = ReadModel()
    for key, value in published:
        doc = orjson.loads(value)
        assert VALIDATOR.is_valid(doc), (key, [e.message for e in VALIDATOR.iter_errors(doc)][:5])
        assert key == snapshot.encode_key(doc["scope"], doc["partition"])
        assert snapshot.decode_key(key) == (doc["scope"], doc["partition"])
        assert tuple(doc) == tuple(name for name in snapshot.FIELDS if name in doc)  # every field, in order
        assert snapshot.decode(value) == doc
        assert snapshot.encode(rebuilt(doc)) == value
        kinds.add(doc["kind"])
        extras.update(set(doc) & {"agent", "future"})
        model.apply(key, value)
    assert kinds == set(KINDS) and extras == {"agent", "future"}
    # the read model keeps what it was sent: the last record of each key, as decoded
    last = {snapshot.decode_key(key): orjson.loads(value) for key, value in published}
    assert set(model.all_scopes()) == {scope for scope, _ in last}
    for scope in model.all_scopes():
        parts = sorted(model.peek(scope).parts, key=lambda part: part["partition"])
        assert parts == [doc for (s, _), doc in sorted(last.items()) if s == scope]
    assert model.view("all").future["n"] == 1
