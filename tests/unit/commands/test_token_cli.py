"""``deskpulse token new`` and ``hash`` (services/commands/token.py): the entry it prints is one the API accepts."""

import io

import yaml

from services import cli
from services.api.tokens import hash_token, load_file


def test_a_new_token_is_printed_once_with_an_entry_the_tokens_file_accepts(capsys, tmp_path):
    assert cli.main(["token", "new", "--role", "manager", "--team", "zendesk/billing", "--platform", "intercom",
                     "--name", "Billing leads", "--expires", "2027-06-30"]) == 0
    out = capsys.readouterr().out
    token = next(line.strip() for line in out.splitlines() if line.strip().startswith("dp_"))
    entry = out.split("under `tokens:`", 1)[1].split("\n", 2)[2]
    path = tmp_path / "tokens.yaml"
    path.write_text("tokens:\n" + entry)
    grant = load_file(path)[hash_token(token)]
    assert grant.name == "Billing leads" and grant.role == "manager"
    assert grant.teams == {("zendesk", "billing")} and grant.platforms == {"intercom"}
    assert grant.expires_ms == 1_814_313_600_000
    assert out.count(token) == 1 and token not in yaml.safe_dump(yaml.safe_load(path.read_text()))


def test_a_token_the_file_would_refuse_is_not_made(capsys):
    assert cli.main(["token", "new", "--role", "agent", "--name", "Ana"]) == 2
    captured = capsys.readouterr()
    assert "needs 'agent: <platform>/<agent id>'" in captured.err and "dp_" not in captured.out


def test_hash_reads_the_token_from_stdin(capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("dp_abc\n"))
    assert cli.main(["token", "hash"]) == 0
    assert capsys.readouterr().out.strip() == hash_token("dp_abc")
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert cli.main(["token", "hash"]) == 2
