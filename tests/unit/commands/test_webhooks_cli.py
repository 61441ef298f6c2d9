"""``deskpulse normalize`` and ``deskpulse verify`` on raw bodies and on recorded deliveries (the fixtures)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import datetime, timezone
from pathlib import Path

from services.ingest import recorded
from tests.support.cli import run

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
AT = 1_795_000_000.0


def events(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines()]


def test_normalize_takes_a_fixture_as_it_is_and_its_bare_body_alike(capsys, tmp_path):
    path = FIXTURES / "zendesk" / "ticket_created.json"
    fixture = json.loads(path.read_text())
    code, out, _ = run(["normalize", "--platform", "zendesk", str(path)], capsys)
    assert code == 0 and [e["type"] for e in events(out)] == [e["type"] for e in fixture["expect"]]
    for got, want in zip(events(out), fixture["expect"]):
        assert {k: got[k] for k in want} == want
    bare = tmp_path / "body.json"
    bare.write_text(json.dumps(fixture["body"]))
    assert run(["normalize", "--platform", "zendesk", str(bare)], capsys)[1] == out
    code, _, err = run(["normalize", "--platform", "zendesk", "--raw", str(path)], capsys)  # the wrapper as a body
    assert code == 2 and err.startswith("deskpulse normalize: ")


def test_every_fixture_is_a_recorded_delivery_and_no_fixture_body_is():
    for path in FIXTURES.glob("*/*.json"):
        fixture = json.loads(path.read_text())
        assert recorded.is_recorded(fixture), path
        assert not recorded.is_recorded(fixture.get("body")), path


def signed(tmp_path: Path, secret: str) -> Path:
    """The Zendesk fixture recorded with the signature Zendesk would send at ``AT``."""
    fixture = json.loads((FIXTURES / "zendesk" / "ticket_created.json").read_text())
    body = json.dumps(fixture["body"]).encode()
    stamp = datetime.fromtimestamp(AT, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    signature = base64.b64encode(hmac.new(secret.encode(), stamp.encode() + body, hashlib.sha256).digest()).decode()
    fixture.update(received_at=AT, headers={**fixture["headers"], "X-Zendesk-Webhook-Signature": signature,
                                           "X-Zendesk-Webhook-Signature-Timestamp": stamp})
    path = tmp_path / "signed.json"
    path.write_text(json.dumps(fixture))
    return path


def test_verify_reads_a_recorded_deliverys_headers_and_time(capsys, tmp_path):
    path = str(signed(tmp_path, "s3cret"))
    assert run(["verify", "--platform", "zendesk", "--secret", "s3cret", path], capsys)[:2] == (0, "valid\n")
    code, out, _ = run(["verify", "--platform", "zendesk", "--secret", "other", path], capsys)
    assert code == 1 and out.startswith("invalid: ")
    code, out, _ = run(["verify", "--platform", "zendesk", "--secret", "s3cret", "--at", str(AT + 3_600), path], capsys)
    assert code == 1 and "replay" in out  # --at overrides the recorded time: an hour later is out of the window
    # a header given on the command line wins over the recorded one
    code, _, _ = run(["verify", "--platform", "zendesk", "--secret", "s3cret", "--header",
                      "X-Zendesk-Webhook-Signature: forged", path], capsys)
    assert code == 1
