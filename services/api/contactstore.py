"""Every contact's row (``services.domain.contactrow``), read from ``deskpulse.contacts.v1``: the drill-down lists
(the contacts behind a queue's or an agent's figures) and the contacts export.

Rows are kept as the aggregator published them, indexed by queue and by agent; a tombstone removes one. What the
store holds is what the aggregator keeps: open contacts, and closed ones until they are retired
(``DESKPULSE_CONTACT_RETENTION_S`` after their last event, 3 days by default).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from services.common.events import to_epoch_ms
from services.domain.contactrow import decode

log = logging.getLogger(__name__)

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
        self.rows: dict[str, dict[str, Any]] = {}
        self._by_queue: dict[str, set[str]] = {}
        self._by_agent: dict[str, set[str]] = {}
        self.caught_up = False
        self.skipped = 0

    def __repr__(self) -> str:
        return f"ContactStore({len(self.rows)} contacts)"

    def __len__(self) -> int:
        return len(self.rows)

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
        self.rows[name] = row
        for index, scope in ((self._by_queue, queue_of(row)), (self._by_agent, agent_of(row))):
            if scope is not None:
                index.setdefault(scope, set()).add(name)

    def _drop(self, key: str) -> None:
        old = self.rows.pop(key, None)
        if old is None:
            return
        for index, scope in ((self._by_queue, queue_of(old)), (self._by_agent, agent_of(old))):
            if scope is not None and scope in index:
                index[scope].discard(key)
                if not index[scope]:
                    del index[scope]

    def of(self, scope: str) -> Iterator[dict[str, Any]]:
        """The rows of a scope: ``all``, ``platform/<p>``, ``account/<p>/<a>``, ``queue/…``, ``agent/…``,
        ``category/<c>``; nothing for any other."""
        kind, _, rest = scope.partition("/")
        if kind == "queue":
            yield from (self.rows[k] for k in self._by_queue.get(scope, ()))
        elif kind == "agent":
            yield from (self.rows[k] for k in self._by_agent.get(scope, ()))
        elif scope == "all":
            yield from self.rows.values()
        elif kind == "platform":
            yield from (r for r in self.rows.values() if r["platform"] == rest)
        elif kind == "account":
            platform, _, account = rest.partition("/")
            yield from (r for r in self.rows.values() if r["platform"] == platform and r["account"] == account)
        elif kind == "category":
            yield from (r for r in self.rows.values() if r["category"] == rest)


def queue_of(row: dict[str, Any]) -> str | None:
    return f"queue/{row['platform']}/{row['queue']}" if row.get("queue") else None


def agent_of(row: dict[str, Any]) -> str | None:
    return f"agent/{row['platform']}/{row['agent']}" if row.get("agent") else None
