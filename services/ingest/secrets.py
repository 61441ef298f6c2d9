"""Webhook secrets per platform and account, read once at start-up.

- ``DESKPULSE_WEBHOOK_SECRET_<PLATFORM>``: the default account's secret; ``..._PREVIOUS`` is accepted too
  while a secret is being rotated.
- ``DESKPULSE_WEBHOOK_SECRETS_FILE``: YAML ``{platform: {account: secret | [secret, previous]}}``; the
  ``default`` account applies when a delivery names no account, or an account the file does not list.

Values are never logged: ``repr`` shows only which platforms and accounts have secrets.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import yaml


class SecretsConfigError(ValueError):
    """The secrets file cannot be used; the message says why (never what the secrets are)."""


class SecretStore:
    def __init__(self, table: Mapping[str, Mapping[str, list[str]]]) -> None:
        self._table = {p: dict(accounts) for p, accounts in table.items()}

    def __repr__(self) -> str:
        return f"SecretStore({ {p: sorted(a) for p, a in self._table.items()} })"

    def secrets(self, platform: str, account: str | None) -> list[str]:
        accounts = self._table.get(platform, {})
        if account is not None and account in accounts:
            return accounts[account]
        return accounts.get("default", [])

    @classmethod
    def load(cls, environ: Mapping[str, str] | None = None, path: Path | None = None) -> SecretStore:
        environ = os.environ if environ is None else environ
        table: dict[str, dict[str, list[str]]] = {}
        if path is not None:
            table = _read_file(path)
        prefix = "DESKPULSE_WEBHOOK_SECRET_"
        for name, value in environ.items():
            if not name.startswith(prefix) or name.endswith("_PREVIOUS") or not value:
                continue
            platform = name[len(prefix) :].lower()
            values = [value] + ([environ[f"{name}_PREVIOUS"]] if environ.get(f"{name}_PREVIOUS") else [])
            table.setdefault(platform, {})["default"] = values
        return cls(table)


def _read_file(path: Path) -> dict[str, dict[str, list[str]]]:
    try:
        data = yaml.safe_load(Path(path).read_text())
    except OSError as exc:
        raise SecretsConfigError(f"cannot read webhook secrets file {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise SecretsConfigError(f"webhook secrets file {path} is not valid YAML: {exc.__class__.__name__}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise SecretsConfigError(f"webhook secrets file {path}: expected a mapping of platform to accounts")
    table: dict[str, dict[str, list[str]]] = {}
    for platform, accounts in data.items():
        if not isinstance(accounts, dict):
            raise SecretsConfigError(f"webhook secrets file {path}: '{platform}' must map accounts to secrets")
        for account, value in accounts.items():
            values = value if isinstance(value, list) else [value]
            if not values or not all(isinstance(v, str) and v for v in values):
                raise SecretsConfigError(
                    f"webhook secrets file {path}: {platform}/{account} must be a secret or a list of secrets"
                )
            table.setdefault(str(platform).lower(), {})[str(account)] = values
    return table
