import json
from pathlib import Path

import jsonschema
import pytest

ROOT = Path(__file__).resolve().parents[3]
SCHEMA = json.loads((ROOT / "schemas" / "deskpulse.event.v1" / "schema.json").read_text())


@pytest.fixture(scope="session")
def schema_validator():
    return jsonschema.Draft202012Validator(SCHEMA, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)


def _check_documents(docs, validator, *, schema_every: int = 10):
    """Every document valid for the model; ids unique; per-contact times non-decreasing.

    The JSON Schema (jsonschema, with the format checker) costs about 0.3-0.5 ms per document, too slow for the
    ~80,000 documents of BPI 2013 in a unit test, so it checks every document of every ``schema_every``-th
    contact plus the first document of every distinct shape (type, status, author, public, priority, which
    optional ids are null); the model, which accepts and rejects the same documents as the schema
    (tests/unit/common/test_events.py), checks every document.
    """
    from services.common.events import parse_event

    ids = [d["event_id"] for d in docs]
    assert len(ids) == len(set(ids)), "event ids are not unique"
    last: dict[str, str] = {}
    contact_number: dict[str, int] = {}
    shapes = set()
    for doc in docs:
        event = parse_event(doc)
        assert event.to_json_dict() == doc  # already in wire form: UTC, milliseconds, every field present
        contact = doc["contact_id"]
        number = contact_number.setdefault(contact, len(contact_number))
        shape = (doc["type"], doc["status"], doc["author"], doc["public"], doc["priority"],
                 doc["agent_id"] is None, doc["queue_id"] is None)
        if number % schema_every == 0 or shape not in shapes:
            shapes.add(shape)
            errors = list(validator.iter_errors(doc))
            assert not errors, (doc["event_id"], errors[:3])
        # occurred_at is fixed-width UTC ("...T..:..:..mmmZ"), so string order is time order
        assert doc["occurred_at"] >= last.get(contact, ""), f"{doc['event_id']} goes back in time"
        last[contact] = doc["occurred_at"]
    return len(contact_number)


@pytest.fixture(scope="session")
def check_documents(schema_validator):
    return lambda docs, **kw: _check_documents(docs, schema_validator, **kw)
