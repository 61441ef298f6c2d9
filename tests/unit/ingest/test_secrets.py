"""Webhook secrets per platform and account (services/ingest/secrets.py): environment, file, rotation, errors."""

import pytest

from services.ingest.secrets import SecretsConfigError, SecretStore

PREFIX = "DESKPULSE_WEBHOOK_SECRET_"


def test_an_environment_secret_is_the_default_accounts_with_its_previous_one_during_a_rotation():
    store = SecretStore.load({f"{PREFIX}ZENDESK": "new", f"{PREFIX}ZENDESK_PREVIOUS": "old",
                              f"{PREFIX}INTERCOM": "ic", "OTHER_VARIABLE": "x"})
    assert store.secrets("zendesk", None) == ["new", "old"]
    assert store.secrets("zendesk", "any-account") == ["new", "old"]  # no such account: the default applies
    assert store.secrets("intercom", None) == ["ic"]
    assert store.secrets("freshdesk", None) == []  # no secret configured


def test_empty_environment_values_configure_nothing():
    store = SecretStore.load({f"{PREFIX}ZENDESK": "", f"{PREFIX}INTERCOM_PREVIOUS": "old",
                              f"{PREFIX}FRONT": "f", f"{PREFIX}FRONT_PREVIOUS": ""})
    assert store.secrets("zendesk", None) == []
    assert store.secrets("intercom", None) == []  # a previous secret alone is not a secret
    assert store.secrets("front", None) == ["f"]


def test_the_file_gives_secrets_per_account_and_a_default(tmp_path):
    path = tmp_path / "secrets.yaml"
    path.write_text("Zendesk:\n  default: d\n  acme: [acme-new, acme-old]\n  12345: numeric\nfront:\n  eu: e\n")
    store = SecretStore.load({}, path)
    assert store.secrets("zendesk", "acme") == ["acme-new", "acme-old"]
    assert store.secrets("zendesk", "globex") == ["d"]  # an account the file does not list
    assert store.secrets("zendesk", None) == ["d"]
    assert store.secrets("zendesk", "12345") == ["numeric"]  # YAML's number key, as the id a delivery names
    assert store.secrets("front", "eu") == ["e"]
    assert store.secrets("front", "us") == []  # no default for front


def test_the_environment_sets_the_default_account_and_keeps_the_files_others(tmp_path):
    path = tmp_path / "secrets.yaml"
    path.write_text("zendesk:\n  default: from-file\n  acme: acme-secret\n")
    store = SecretStore.load({f"{PREFIX}ZENDESK": "from-env"}, path)
    assert store.secrets("zendesk", None) == ["from-env"]
    assert store.secrets("zendesk", "acme") == ["acme-secret"]


def test_an_empty_file_has_no_secrets(tmp_path):
    path = tmp_path / "secrets.yaml"
    path.write_text("")
    assert SecretStore.load({}, path).secrets("zendesk", None) == []


@pytest.mark.parametrize("text, says", [
    ("zendesk: [hunter2-secret]\n", "'zendesk' must map accounts to secrets"),
    ("- hunter2-secret\n", "expected a mapping of platform to accounts"),
    ("zendesk:\n  acme: []\n", "zendesk/acme must be a secret or a list of secrets"),
    ("zendesk:\n  acme: ['']\n", "zendesk/acme must be a secret or a list of secrets"),
    ("zendesk:\n  acme: 12345\n", "zendesk/acme must be a secret or a list of secrets"),
    ("zendesk:\n  acme: [hunter2-secret, {x: 1}]\n", "zendesk/acme must be a secret or a list of secrets"),
    ("zendesk:\n  acme: 'hunter2-secret\n", "not valid YAML"),
])
def test_an_unusable_file_is_refused_saying_why_never_what_the_secrets_are(tmp_path, text, says):
    path = tmp_path / "secrets.yaml"
    path.write_text(text)
    with pytest.raises(SecretsConfigError, match=says) as error:
        SecretStore.load({}, path)
    assert str(path) in str(error.value)
    assert "hunter2" not in str(error.value)


def test_a_missing_file_is_refused(tmp_path):
    with pytest.raises(SecretsConfigError, match="cannot read webhook secrets file .*nope.yaml"):
        SecretStore.load({}, tmp_path / "nope.yaml")


def test_repr_names_platforms_and_accounts_never_secrets(tmp_path):
    path = tmp_path / "secrets.yaml"
    path.write_text("zendesk:\n  acme: hunter2-acme\n")
    text = repr(SecretStore.load({f"{PREFIX}INTERCOM": "hunter2-ic"}, path))
    assert "zendesk" in text and "acme" in text and "intercom" in text and "default" in text
    assert "hunter2" not in text


def test_load_reads_the_process_environment_by_default(monkeypatch):
    monkeypatch.setenv(f"{PREFIX}GORGIAS", "from-process")
    assert SecretStore.load().secrets("gorgias", None) == ["from-process"]
