"""Every fixture in tests/fixtures/<platform>/ through its adapter; every output valid against the schema.

A fixture is a JSON file:

    {"description": "...", "source": "where the payload comes from (URL or SDK test file)",
     "headers": {"Content-Type": "application/json"}, "account": null,
     "body": {...} | "body_text": "raw text (form, XML)",
     "expect": [{"type": "contact.created", "contact_id": "123", ...}, ...]   # listed fields must match
       | {"error": "unmappable" | "malformed"}
       | [] (accepted and ignored)}
"""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from services.ingest import platforms
from services.ingest import recorded
from services.ingest.platforms.base import Delivery, WebhookError

ROOT = Path(__file__).resolve().parents[4]
SCHEMA = json.loads((ROOT / "schemas" / "deskpulse.event.v1" / "schema.json").read_text())
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
FIXTURES = sorted(p for p in (ROOT / "tests" / "fixtures").glob("*/*.json"))


def delivery_of(fixture: dict) -> Delivery:
    return recorded.delivery(fixture)


def test_every_registered_platform_has_fixtures():
    with_fixtures = {p.parent.name for p in FIXTURES}
    assert set(platforms.PLATFORMS) <= with_fixtures


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_fixture_maps_as_expected_and_validates(path):
    fixture = json.loads(path.read_text())
    assert fixture.get("source"), "cite where the payload comes from"
    adapter = platforms.get(path.parent.name)
    assert adapter is not None, f"no adapter registered for {path.parent.name}"
    expect = fixture["expect"]
    if isinstance(expect, dict):
        with pytest.raises(WebhookError) as raised:
            adapter.to_events(delivery_of(fixture))
        assert raised.value.outcome == expect["error"]
        return
    adapted = adapter.to_events(delivery_of(fixture))
    produced = [e.to_json_dict() for e in adapted.events]
    for document in produced:
        VALIDATOR.validate(document)
    assert len(produced) == len(expect), produced
    for got, want in zip(produced, expect):
        assert {k: got[k] for k in want} == want
    # Redelivery of the same payload maps to the same event ids (dedupe downstream relies on it).
    again = [e.event_id for e in adapter.to_events(delivery_of(fixture)).events]
    assert again == [d["event_id"] for d in produced]
