"""Every contact's row (``services.domain.contactrow``), read from ``deskpulse.contacts.v1``: the drill-down lists
(the contacts behind a queue's or an agent's figures) and the contacts export.

Rows are kept as tuples in the order of ``contactrow.FIELDS`` with their repeated strings once each (about 1 KB a
contact in memory, measured with tracemalloc over 20,000 rows), indexed by queue and by agent; a tombstone removes
one. ``of`` hands them out as dicts. What the
store holds is what the aggregator keeps: open contacts, and closed ones until they are retired
(``DESKPULSE_CONTACT_RETENTION_S`` after their last event, 3 days by default).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from typing import Any

from services.common.events import to_epoch_ms
from services.domain.contactrow import FIELDS, decode

log = logging.getLogger(__name__)

# Fields whose values repeat across contacts (kept once each: ~a third of a row's memory).
_REPEATED = (
    "platform",
    "account",
    "queue",
    "agent",
    "category",
    "channel",
    "priority",
    "status",
    "csat",
    "sla_first_response",
    "sla_resolution",
)
STATES = ("open", "waiting", "in_queue", "unassigned", "at_risk", "breaching", "reopened", "bad_rating", "complaint")


def is_in(row: dict[str, Any], state: str, now_ms: int) -> bool:
    """Whether a row is in ``state`` at ``now_ms`` (SLA clocks run on the stream's time, as the figures do)."""
    if state in ("open", "waiting", "in_queue"):
        return bool(row[state])
    if state == "unassigned":
        return bool(row["open"]) and row["agent"] is None
    if state in ("at_risk", "breaching"):
        deadline = row["sla_next_deadline"]
        if not row["open"] or deadline is None:
            return False
        if to_epoch_ms(deadline) <= now_ms:
            return state == "breaching"
        risk = row["sla_at_risk_from"]
        return state == "at_risk" and risk is not None and to_epoch_ms(risk) <= now_ms
    if state == "reopened":
        return bool(row["reopens"])
    if state == "bad_rating":
        return row["csat"] == "bad"
    if state == "complaint":
        return bool(row["complaint"])
    raise ValueError(state)


class ContactStore:
    def __init__(self) -> None:
        self._rows: dict[str, tuple[Any, ...]] = {}
        self._by_queue: dict[str, set[str]] = {}
        self._by_agent: dict[str, set[str]] = {}
        self.caught_up = False
        self.skipped = 0

    def __repr__(self) -> str:
        return f"ContactStore({len(self._rows)} contacts)"

    def __len__(self) -> int:
        return len(self._rows)

    def apply(self, key: bytes | None, value: bytes | None) -> None:
        if key is None:
            return
        name = key.decode(errors="replace")
        self._drop(name)
        if value is None:
            return
        row = decode(value)
        if row is None or row["key"] != name:
            self.skipped += 1
            log.warning("skipped a contact row that is not deskpulse.contact.v1 (key %.80s)", name)
            return
        for field in _REPEATED:  # a few hundred distinct values over every contact: one copy of each
            value = row.get(field)
            if isinstance(value, str):
                row[field] = sys.intern(value)
        self._rows[name] = tuple(row.get(field) for field in FIELDS)
        for index, scope in ((self._by_queue, queue_of(row)), (self._by_agent, agent_of(row))):
            if scope is not None:
                index.setdefault(scope, set()).add(name)

    def _drop(self, key: str) -> None:
        kept = self._rows.pop(key, None)
        if kept is None:
            return
        old = _as_dict(kept)
        for index, scope in ((self._by_queue, queue_of(old)), (self._by_agent, agent_of(old))):
            if scope is not None and scope in index:
                index[scope].discard(key)
                if not index[scope]:
                    del index[scope]

    def of(self, scope: str) -> Iterator[dict[str, Any]]:
        """The rows of a scope: ``all``, ``platform/<p>``, ``account/<p>/<a>``, ``queue/…``, ``agent/…``,
        ``category/<c>``; nothing for any other."""
        kind, _, rest = scope.partition("/")
        if kind in ("queue", "agent"):
            index = self._by_queue if kind == "queue" else self._by_agent
            yield from (_as_dict(self._rows[k]) for k in index.get(scope, ()))
            return
        rows = (_as_dict(t) for t in self._rows.values())
        if scope == "all":
            yield from rows
        elif kind == "platform":
            yield from (r for r in rows if r["platform"] == rest)
        elif kind == "account":
            platform, _, account = rest.partition("/")
            yield from (r for r in rows if r["platform"] == platform and r["account"] == account)
        elif kind == "category":
            yield from (r for r in rows if r["category"] == rest)


def _as_dict(row: tuple[Any, ...]) -> dict[str, Any]:
    return dict(zip(FIELDS, row, strict=True))


def queue_of(row: dict[str, Any]) -> str | None:
    return f"queue/{row['platform']}/{row['queue']}" if row.get("queue") else None


def agent_of(row: dict[str, Any]) -> str | None:
    return f"agent/{row['platform']}/{row['agent']}" if row.get("agent") else None
