import json
from pathlib import Path

import jsonschema
import pytest
from hypothesis import given, settings, strategies as st

from services.common.events import (
    EventValidationError, format_time, from_epoch_ms, normalise_time, parse_event, parse_time, to_epoch_ms,
)

SCHEMA_DIR = Path(__file__).resolve().parents[3] / "schemas" / "deskpulse.event.v1"
SCHEMA = json.loads((SCHEMA_DIR / "schema.json").read_text())
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
VALID = sorted((SCHEMA_DIR / "examples" / "valid").glob("*.json"))
INVALID = sorted((SCHEMA_DIR / "examples" / "invalid").glob("*.json"))


def model_accepts(doc) -> bool:
    try:
        parse_event(doc)
        return True
    except EventValidationError:
        return False


def test_there_are_examples_of_both_kinds():
    assert len(VALID) >= 5 and len(INVALID) >= 10


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.name)
def test_valid_examples_pass_schema_and_model(path):
    doc = json.loads(path.read_text())
    assert VALIDATOR.is_valid(doc), list(VALIDATOR.iter_errors(doc))
    assert model_accepts(doc)


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.name)
def test_invalid_examples_fail_schema_and_model(path):
    doc = json.loads(path.read_text())
    assert not VALIDATOR.is_valid(doc)
    assert not model_accepts(doc)


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.name)
def test_model_output_is_valid_against_the_schema(path):
    event = parse_event(json.loads(path.read_text()))
    VALIDATOR.validate(event.to_json_dict())
    # and it round-trips through the wire form unchanged
    assert parse_event(event.to_json_dict()) == event


def test_error_names_the_field():
    doc = json.loads((SCHEMA_DIR / "examples" / "invalid" / "bad_timestamp.json").read_text())
    with pytest.raises(EventValidationError, match=r"^occurred_at: "):
        parse_event(doc)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("2026-11-20T09:15:02Z", "2026-11-20T09:15:02.000Z"),
        ("2026-11-20T09:15:02.1+01:00", "2026-11-20T08:15:02.100Z"),
        ("2026-11-20T09:15:02.123456789Z", "2026-11-20T09:15:02.123Z"),  # nanoseconds truncated
        ("2026-11-20T00:30:00-05:30", "2026-11-20T06:00:00.000Z"),
    ],
)
def test_times_are_normalised_to_utc_milliseconds(text, expected):
    assert format_time(parse_time(text)) == expected


def outcome(f, value):
    try:
        return "ok", f(value)
    except ValueError as exc:
        return "error", str(exc)


field = st.integers(min_value=0, max_value=99).map(lambda n: f"{n:02d}")
timestamps = st.builds(
    lambda y, mo, d, h, mi, s, frac, zone: f"{y:04d}-{mo}-{d}T{h}:{mi}:{s}{frac}{zone}",
    st.integers(min_value=0, max_value=9999), field, field, field, field, field,
    st.sampled_from(["", ".1", ".12", ".123", ".123456", ".1234567", ".123456789"]),
    st.sampled_from(["Z", "+00:00", "-00:00", "+05:30", "-23:59", "+24:00", "", "z", "Z\n"]),
)


@settings(max_examples=2000, deadline=None)
@given(st.one_of(timestamps, st.text(max_size=30)))
def test_normalising_is_parsing_then_formatting(text):
    # normalise_time skips the round trip for a value already in the canonical form: same answer, same error.
    assert outcome(normalise_time, text) == outcome(lambda v: format_time(parse_time(v)), text)


@pytest.mark.parametrize("text", ["2026-02-29T10:00:00.000Z", "2026-11-20T24:00:00.000Z", "0000-01-01T00:00:00.000Z",
                                  "2026-11-20T09:15:60.000Z", "2026-13-01T00:00:00.000Z"])
def test_a_canonical_looking_time_that_is_no_date_is_refused(text):
    with pytest.raises(ValueError, match="not a valid calendar date and time"):
        normalise_time(text)


def test_epoch_milliseconds_are_exact():
    assert to_epoch_ms("1970-01-01T00:00:01.001Z") == 1001
    assert from_epoch_ms(to_epoch_ms("2026-11-20T09:15:02.123Z")) == "2026-11-20T09:15:02.123Z"


def test_kafka_key_is_contact_or_agent():
    contact = parse_event(json.loads((SCHEMA_DIR / "examples/valid/ticket_created.json").read_text()))
    agent = parse_event(json.loads((SCHEMA_DIR / "examples/valid/agent_state.json").read_text()))
    assert contact.kafka_key == "35436"
    assert agent.kafka_key == "WK01"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=6),
    max_leaves=20,
)
event_like = st.fixed_dictionaries(
    {
        "schema": st.sampled_from(["deskpulse.event.v1", "x"]),
        "event_id": st.text(max_size=5) | st.integers(),
        "type": st.sampled_from(["contact.created", "agent.state_changed", "contact.rated", "nope"]),
        "occurred_at": st.sampled_from(["2026-11-20T09:15:02Z", "2026-02-30T00:00:00Z", "yesterday"]) | st.text(max_size=25),
        "platform": st.sampled_from(["zendesk", "Zendesk", ""]),
    },
    optional={k: json_values for k in ["contact_id", "agent_id", "rating", "state", "public", "attributes", "extra"]},
)


@settings(max_examples=300, deadline=None)
@given(st.one_of(json_values, event_like))
def test_any_json_gives_an_event_or_the_typed_error_and_agrees_with_the_schema(doc):
    try:
        parse_event(doc)
        accepted = True
    except EventValidationError:
        accepted = False
    assert accepted == VALIDATOR.is_valid(doc)
