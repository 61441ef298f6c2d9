"""Tokens with a role and a reach (services/api/tokens.py): the file, its errors, hashes, expiry, reloading."""

import logging
import os

import pytest

from services.api.tokens import Grant, TokenBook, Tokens, TokensFileError, hash_token, load_file, new_token
from services.common.clock import FixedClock

T0 = 1_795_000_000_000  # 2026-11-18T09:46:40Z


def write(tmp_path, text: str):
    path = tmp_path / "tokens.yaml"
    path.write_text(text)
    return path


def entry(name: str, role: str, token: str, extra: str = "") -> str:
    return f"  - name: {name}\n    role: {role}\n    sha256: {hash_token(token)}\n{extra}"


def test_a_file_of_every_role_gives_each_token_its_grant(tmp_path):
    path = write(tmp_path, "tokens:\n"
                 + entry("Billing leads", "manager", "m1", "    teams: [zendesk/billing, zendesk/a/b]\n"
                         "    platforms: [Intercom]\n    accounts: [zendesk/acme]\n")
                 + entry("Ana", "agent", "a1", "    agent: zendesk/42\n    teams: [zendesk/vip]\n")
                 + entry("Ops", "director", "d1", "    expires: 2027-06-30\n")
                 + entry("Prometheus", "metrics", "p1", "    expires: 2027-01-01T12:00:00+01:00\n"))
    grants = load_file(path)
    assert set(grants) == {hash_token(t) for t in ("m1", "a1", "d1", "p1")}
    manager = grants[hash_token("m1")]
    assert manager.teams == {("zendesk", "billing"), ("zendesk", "a/b")}  # a queue id may hold "/"
    assert manager.platforms == {"intercom"} and manager.accounts == {("zendesk", "acme")}
    assert grants[hash_token("a1")].agent == ("zendesk", "42")
    assert grants[hash_token("d1")].expires_ms == 1_814_313_600_000  # 2027-06-30T00:00:00Z
    assert grants[hash_token("p1")].expires_ms == 1_798_801_200_000  # 2027-01-01T11:00:00Z
    assert "m1" not in path.read_text()  # the file holds hashes only


@pytest.mark.parametrize("body, says", [
    ("tokens: nope", "expected 'tokens:'"),
    ("tokens:\n  - name: x\n    role: boss\n    sha256: " + "a" * 64, "'role' must be one of"),
    ("tokens:\n  - name: x\n    role: director\n    sha256: s3cret", "64 hex digits"),
    ("tokens:\n  - name: x\n    role: director\n    sha256: " + "a" * 64 + "\n    team: [a/b]", "unknown key(s) team"),
    ("tokens:\n  - name: x\n    role: agent\n    sha256: " + "a" * 64, "needs 'agent: <platform>/<agent id>'"),
    ("tokens:\n  - name: x\n    role: manager\n    sha256: " + "a" * 64, "at least one of teams"),
    ("tokens:\n  - name: x\n    role: manager\n    sha256: " + "a" * 64 + "\n    teams: [billing]", "<platform>/<id>"),
    ("tokens:\n  - name: x\n    role: director\n    sha256: " + "a" * 64 + "\n    teams: [a/b]", "fixed set"),
    ("tokens:\n  - name: x\n    role: director\n    sha256: " + "a" * 64 + "\n    expires: soon", "'expires'"),
    ("tokens:\n  - {name: x, role: director, sha256: " + "a" * 64 + "}\n  - {name: y, role: metrics, sha256: "
     + "a" * 64 + "}", "the same sha256 as 'x'"),
    ("tokens: [", "not valid YAML"),
])
def test_a_broken_file_is_refused_naming_the_entry_and_the_fault(tmp_path, body, says):
    with pytest.raises(TokensFileError) as refused:
        load_file(write(tmp_path, body))
    assert says in str(refused.value) and "tokens.yaml" in str(refused.value)


def test_lookup_refuses_missing_unknown_and_expired_tokens():
    book = TokenBook({hash_token("t"): Grant("ops", "director", expires_ms=T0)})
    assert book.lookup(None, T0 - 1) == "missing" and book.lookup("", T0 - 1) == "missing"
    assert book.lookup("other", T0 - 1) == "unknown"
    assert book.lookup("t", T0 - 1).name == "ops"
    assert book.lookup("t", T0) == "expired"


def test_flat_tokens_are_directors_and_no_tokens_is_the_open_api(tmp_path):
    tokens = Tokens(["a", "b"], clock=FixedClock(T0))
    assert tokens.current().lookup("b", T0).role == "director"
    assert not tokens.current().roles_file
    assert not Tokens([], clock=FixedClock(T0)).current().enabled
    assert Tokens([], write(tmp_path, ""), clock=FixedClock(T0)).current().enabled  # a file, even empty: on


def test_an_edited_file_is_read_again_and_a_broken_edit_keeps_the_last_good_tokens(tmp_path, caplog):
    clock = FixedClock(T0)
    path = write(tmp_path, "tokens:\n" + entry("one", "director", "tok-one-9c1d"))
    tokens = Tokens([], path, clock=clock, recheck_s=2)
    assert tokens.current().lookup("tok-one-9c1d", T0).name == "one"
    path.write_text("tokens:\n" + entry("two", "director", "tok-two-4e8b"))
    os.utime(path, ns=(T0 * 1_000_000, T0 * 1_000_000))
    assert tokens.current().lookup("tok-two-4e8b", T0) == "unknown"  # checked at most every 2 s
    clock.advance(2_000)
    assert tokens.current().lookup("tok-two-4e8b", T0).name == "two" and tokens.current().lookup("tok-one-9c1d", T0) == "unknown"
    path.write_text("tokens:\n  - name: broken\n")
    os.utime(path, ns=((T0 + 5) * 1_000_000, (T0 + 5) * 1_000_000))
    clock.advance(2_000)
    with caplog.at_level(logging.ERROR):
        assert tokens.current().lookup("tok-two-4e8b", T0).name == "two"
    assert "still using the tokens read before" in caplog.text and "tok-two-4e8b" not in caplog.text


def test_new_tokens_are_long_random_and_url_safe():
    a, b = new_token(), new_token()
    assert a != b and len(a) >= 40 and a.replace("_", "").replace("-", "").isalnum()
