"""Who holds the read API's tokens: each token's role, reach, name and expiry, kept as a hash (docs/api.md, Roles).

``DESKPULSE_API_TOKENS_FILE`` names a YAML file::

    tokens:
      - name: Billing leads          # shown in logs and 403s, never the token
        role: manager                # agent | manager | director | metrics
        sha256: 9f86d081884c7d65…    # hex SHA-256 of the token (``deskpulse token new`` prints the line)
        teams: [zendesk/billing]     # <platform>/<queue id>: its queue, its agents, its light scopes
        platforms: [intercom]        # every queue and agent of the platform, and its figures
        accounts: [zendesk/acme]     # the account's figures
        expires: 2027-06-30          # optional: a date (its UTC midnight) or an RFC 3339 time
      - name: Ana
        role: agent
        agent: zendesk/42            # the agent's own figures, and their teams' aggregates
        sha256: …

Tokens are 256 random bits (``new_token``), so one SHA-256 is enough to keep them: there is no dictionary to try
(the practice of GitHub's and PyPI's tokens). The flat ``DESKPULSE_API_TOKENS`` list keeps working: each of its
tokens is a ``director``. Nothing here ever holds or logs a token, only its hash and name.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Literal

import yaml

from services.common.clock import Clock, wall_ms

log = logging.getLogger(__name__)

Role = Literal["agent", "manager", "director", "metrics"]
ROLES: tuple[Role, ...] = ("agent", "manager", "director", "metrics")
Refusal = Literal["missing", "unknown", "expired"]
_HEX = re.compile(r"[0-9a-f]{64}")
_REACH_KEYS = ("agent", "teams", "platforms", "accounts")
_KEYS = frozenset({"name", "role", "sha256", "expires", *_REACH_KEYS})


class TokensFileError(ValueError):
    """The tokens file cannot be used; the message names the file and the entry (never a token)."""


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    """A fresh token: 256 random bits, URL-safe (it may go in ``?token=`` once)."""
    return "dp_" + secrets.token_urlsafe(32)


@dataclass(frozen=True)
class Grant:
    """One token's role and reach. ``teams``/``accounts`` are (platform, id); ``agent`` is (platform, agent id)."""

    name: str
    role: Role
    agent: tuple[str, str] | None = None
    teams: frozenset[tuple[str, str]] = frozenset()
    platforms: frozenset[str] = frozenset()
    accounts: frozenset[tuple[str, str]] = frozenset()
    expires_ms: int | None = None

    def describe(self) -> str:
        """What the token reaches, for a 403's detail: ``manager of zendesk/billing, platform intercom``."""
        parts = [f"{p}/{q}" for p, q in sorted(self.teams)]
        parts += [f"platform {p}" for p in sorted(self.platforms)]
        parts += [f"account {p}/{a}" for p, a in sorted(self.accounts)]
        if self.role == "agent" and self.agent is not None:
            return f"agent {self.agent[0]}/{self.agent[1]}" + (f" in {', '.join(parts)}" if parts else "")
        if self.role == "manager":
            return "manager of " + ", ".join(parts)
        return self.role


@dataclass
class TokenBook:
    """The tokens the API accepts, by hash. Empty: the API is open (no token needed anywhere)."""

    grants: dict[str, Grant] = field(default_factory=dict)
    roles_file: bool = False  # a tokens file is in use: /metrics then needs a metrics or director token

    @property
    def enabled(self) -> bool:
        return bool(self.grants) or self.roles_file

    def lookup(self, token: str | None, now_ms: int) -> Grant | Refusal:
        """The token's grant, or why it is refused."""
        if not token:
            return "missing"
        grant = self.grants.get(hash_token(token))
        if grant is None:
            return "unknown"
        if grant.expires_ms is not None and now_ms >= grant.expires_ms:
            return "expired"
        return grant

    def counts(self) -> dict[str, int]:
        """Tokens per role (``deskpulse doctor``, the API's start log)."""
        out = dict.fromkeys(ROLES, 0)
        for grant in self.grants.values():
            out[grant.role] += 1
        return {role: n for role, n in out.items() if n}


def flat_grants(tokens: Iterable[str]) -> dict[str, Grant]:
    """``DESKPULSE_API_TOKENS``: director tokens, named by their place in the list."""
    return {hash_token(t): Grant(f"DESKPULSE_API_TOKENS[{i}]", "director") for i, t in enumerate(tokens) if t}


def load_file(path: Path) -> dict[str, Grant]:
    """The grants of a tokens file, by hash; ``TokensFileError`` saying what is wrong and where."""
    try:
        data = yaml.safe_load(Path(path).read_text())
    except OSError as exc:
        raise TokensFileError(f"cannot read tokens file {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise TokensFileError(f"tokens file {path} is not valid YAML: {exc.__class__.__name__}") from None
    if data is None:
        return {}
    if not isinstance(data, dict) or not isinstance(data.get("tokens", []), list) or set(data) - {"tokens"}:
        raise TokensFileError(f"tokens file {path}: expected 'tokens:', a list of entries")
    out: dict[str, Grant] = {}
    for index, entry in enumerate(data.get("tokens") or []):
        where = f"tokens file {path}, entry {index + 1}"
        if isinstance(entry, dict) and isinstance(entry.get("name"), str):
            where += f" ({entry['name']})"
        digest, grant = parse_entry(entry, where)
        if digest in out:
            raise TokensFileError(f"{where}: the same sha256 as '{out[digest].name}'")
        out[digest] = grant
    return out


def parse_entry(entry: Any, where: str) -> tuple[str, Grant]:
    """(hash, grant) of one entry of the file."""
    if not isinstance(entry, dict):
        raise TokensFileError(f"{where}: expected a mapping with name, role and sha256")
    unknown = sorted(set(map(str, entry)) - _KEYS)
    if unknown:
        raise TokensFileError(f"{where}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(_KEYS))}")
    name, role, digest = entry.get("name"), entry.get("role"), entry.get("sha256")
    if not isinstance(name, str) or not name.strip():
        raise TokensFileError(f"{where}: 'name' must be a non-empty string")
    if role not in ROLES:
        raise TokensFileError(f"{where}: 'role' must be one of {', '.join(ROLES)}, not {role!r}")
    if not isinstance(digest, str) or not _HEX.fullmatch(digest.lower()):
        raise TokensFileError(f"{where}: 'sha256' must be 64 hex digits (the token's hash, never the token)")
    teams = _pairs(entry.get("teams"), "teams", where)
    platforms = frozenset(_strings(entry.get("platforms"), "platforms", where))
    accounts = _pairs(entry.get("accounts"), "accounts", where)
    agent = None
    if entry.get("agent") is not None:
        agents = _pairs([entry["agent"]], "agent", where)
        agent = next(iter(agents))
    if role == "agent":
        if agent is None:
            raise TokensFileError(f"{where}: an agent token needs 'agent: <platform>/<agent id>'")
        if platforms or accounts:
            raise TokensFileError(f"{where}: an agent token takes 'agent' and 'teams' only")
    elif role == "manager":
        if agent is not None:
            raise TokensFileError(f"{where}: a manager token takes 'teams', 'platforms' and 'accounts', not 'agent'")
        if not (teams or platforms or accounts):
            raise TokensFileError(f"{where}: a manager token needs at least one of teams, platforms, accounts")
    elif agent is not None or teams or platforms or accounts:
        raise TokensFileError(f"{where}: a {role} token reaches a fixed set; remove agent/teams/platforms/accounts")
    grant = Grant(name.strip(), role, agent, teams, platforms, accounts, _expiry(entry.get("expires"), where))
    return digest.lower(), grant


def _strings(value: Any, key: str, where: str) -> list[str]:
    if value is None:
        return []
    values = value if isinstance(value, list) else [value]
    if not all(isinstance(v, str) and v.strip() and "/" not in v for v in values):
        raise TokensFileError(f"{where}: '{key}' must be a list of platform names")
    return [v.strip().lower() for v in values]


def _pairs(value: Any, key: str, where: str) -> frozenset[tuple[str, str]]:
    """``<platform>/<id>`` strings as (platform, id); the id may itself hold ``/``."""
    if value is None:
        return frozenset()
    values = value if isinstance(value, list) else [value]
    out = set()
    for v in values:
        platform, _, key_id = str(v).partition("/") if isinstance(v, str | int) else ("", "", "")
        if not platform or not key_id:
            raise TokensFileError(f"{where}: '{key}' takes <platform>/<id> values, not {v!r}")
        out.add((platform.lower(), key_id))
    return frozenset(out)


def _expiry(value: Any, where: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day, tzinfo=UTC)
    else:
        try:
            moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            raise TokensFileError(f"{where}: 'expires' must be a date or an RFC 3339 time, not {value!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


class Tokens:
    """The API's token book, read again when the file changes (checked at most every ``recheck_s``).

    A file broken by an edit keeps the last good book and logs why: revoking a token takes an edit of the file,
    never a restart, and a typo neither locks everyone out nor opens the API.
    """

    def __init__(
        self, flat: Iterable[str] = (), path: Path | None = None, clock: Clock = wall_ms, recheck_s: float = 2.0
    ) -> None:
        self._flat = flat_grants(flat)
        self.path = path
        self.clock = clock
        self._recheck_ms = int(recheck_s * 1000)
        self._checked_ms = clock()
        self._stamp = self._file_stamp()
        file_grants = load_file(path) if path is not None else {}  # a broken file at start: refuse to start
        self.book = TokenBook({**self._flat, **file_grants}, roles_file=path is not None)

    @classmethod
    def from_settings(cls, settings: Any, clock: Clock = wall_ms) -> Tokens:
        flat = [t.get_secret_value() for t in settings.api_tokens]
        return cls(flat, settings.api_tokens_file, clock)

    def current(self) -> TokenBook:
        if self.path is not None:
            now = self.clock()
            if now - self._checked_ms >= self._recheck_ms:
                self._checked_ms = now
                self._reload()
        return self.book

    def _file_stamp(self) -> tuple[int, int] | None:
        if self.path is None:
            return None
        try:
            stat = os.stat(self.path)
        except OSError:
            return None
        return (stat.st_mtime_ns, stat.st_size)

    def _reload(self) -> None:
        stamp = self._file_stamp()
        if stamp == self._stamp:
            return
        self._stamp = stamp
        assert self.path is not None
        try:
            grants = load_file(self.path)
        except TokensFileError as exc:
            log.error("%s; still using the tokens read before", exc)
            return
        self.book = TokenBook({**self._flat, **grants}, roles_file=True)
        log.info("tokens file %s read again: %s", self.path, counted(self.book.counts()))


def counted(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{n} {role}" for role, n in counts.items()) or "no tokens"
