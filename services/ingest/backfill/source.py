"""What a platform's backfill module provides, and the request/page/connection shapes they share.

A module ``services/ingest/backfill/<platform>.py`` has:

- ``NAME``: the platform, as in ``/webhooks/<platform>``;
- ``ENV``: the environment variables it reads (names only; values are secrets and never printed);
- ``connect(environ, url) -> Connection``: where and how to call the API (``url`` overrides the configured base);
- ``first(connection, since_ms) -> Request``: the first page of records changed since ``since_ms``;
- ``parse(document, connection[, request][, since_ms]) -> Page``: a page's records and the request of the next page
  (None: done); ``request`` (the one this page answers) and ``since_ms`` are passed when ``parse`` names them
  (a list with page numbers only, or without a "changed since" filter, needs them);
- ``to_events(record, connection) -> list[dict]``: the canonical event documents of one record;
- optionally ``async prepare(connection, fetch) -> Connection``: reference data read once per run, resumed ones
  too, before the first page (e.g. names of ids the records hold); ``fetch(request)`` gets one JSON document with
  the run's retries and rate-limit waits.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from services.common.events import to_epoch_ms
from services.ingest.platforms.base import to_rfc3339


class BackfillError(RuntimeError):
    """A backfill cannot go on; the message says what to fix (never a secret)."""


@dataclass(frozen=True)
class Request:
    url: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def as_state(self) -> dict[str, Any]:
        return {"url": self.url, "params": dict(self.params)}

    @classmethod
    def from_state(cls, value: Mapping[str, Any]) -> Request:
        return cls(str(value["url"]), dict(value.get("params") or {}))


@dataclass(frozen=True)
class Page:
    records: list[Any]
    next: Request | None


@dataclass(frozen=True)
class Connection:
    """A platform API's base URL, the request headers that authenticate (secret), and the account they reach."""

    base_url: str
    headers: Mapping[str, str]
    account: str | None = None

    def __repr__(self) -> str:  # the headers hold credentials
        return f"Connection({self.base_url!r}, account={self.account!r})"


def required(environ: Mapping[str, str], names: tuple[str, ...], platform: str) -> list[str]:
    """The values of ``names``; a BackfillError naming every one that is missing."""
    missing = [n for n in names if not environ.get(n)]
    if missing:
        raise BackfillError(f"backfill {platform}: set {', '.join(missing)} (docs/backfill.md)")
    return [environ[n] for n in names]


def _rfc3339(value: Any, field: str) -> str:
    return to_rfc3339(value, field=field)


def times_after(created: str, parse: Callable[[Any, str], str] = _rfc3339) -> Callable[..., str]:
    """``at(value, field)``: a record's time as RFC 3339, never before the contact's creation ``created`` (a missing
    time, or one before it, is the creation itself: the platform's clocks and the record's fields may disagree)."""
    created_ms = to_epoch_ms(created)

    def at(value: Any, field: str = "time") -> str:
        if not value:
            return created
        text = parse(value, field)
        return text if to_epoch_ms(text) >= created_ms else created

    return at
