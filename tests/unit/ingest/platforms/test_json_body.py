"""json_body reads a body as json.loads does (orjson where that is certain): same document, same error."""

from __future__ import annotations

import json
import struct

import pytest
from hypothesis import given, settings, strategies as st

from services.ingest.platforms.base import Delivery, Malformed, json_body


def typed(value):
    """A value with every type made visible (1 is not 1.0, -0.0 is not 0.0, key order counts)."""
    if isinstance(value, dict):
        return ("object", [(k, typed(v)) for k, v in value.items()])
    if isinstance(value, list):
        return ("array", [typed(v) for v in value])
    if isinstance(value, float):
        return ("float", struct.pack("<d", value))
    return (type(value).__name__, value)


def reference(body: bytes):
    """What json_body answered when it was json.loads alone."""
    try:
        return "ok", typed(json.loads(body))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return "malformed", f"body is not valid JSON: {exc}"
    except RecursionError:
        return "malformed", "body is not valid JSON: nested too deeply"


def answer(body: bytes):
    try:
        return "ok", typed(json_body(Delivery(body=body, headers={})))
    except Malformed as exc:
        return "malformed", exc.detail


@pytest.mark.parametrize("body", [
    b'{"id":18446744073709551616}', b'[18446744073709551615,-9223372036854775808,-9223372036854775809]',
    b'[NaN,Infinity,-Infinity]', b'[1e400,-1e400,1e-400]', b'{"a":"\\ud800"}', b'"\xed\xa0\x80"', b"\xef\xbb\xbf{}",
    '{"a":"\u00e9"}'.encode("utf-16"), b'{"a":1,"b":2,"a":3}', b"[-0,-0.0,1.0,1E2]", b"null", b"", b"{", b'"\x01"',
    b'"\xff"', b"[" * 100_000 + b"]" * 100_000, b'{"a":1} x',
])
def test_edge_cases_read_as_json_does(body):
    assert answer(body) == reference(body)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(10**25), max_value=10**25)
    | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=5),
    max_leaves=30,
)


@settings(max_examples=500, deadline=None)
@given(st.one_of(json_values.map(lambda v: json.dumps(v).encode()),
                 json_values.map(lambda v: json.dumps(v, ensure_ascii=False).encode("utf-8", "surrogatepass")),
                 st.binary(max_size=60)))
def test_any_body_reads_as_json_does(body):
    assert answer(body) == reference(body)
