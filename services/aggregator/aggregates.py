"""Per-scope aggregates of one partition, derived from its contacts' facts.

Pure: no Faust, no Kafka. Each contact *contributes* to a few scopes (overall, its platform, its queue, the
agents involved). The partition's aggregate of a scope is the sum of its contacts' contributions, kept
incrementally: when a contact changes, its old contribution is subtracted and the new one added. All values
are integers (durations in milliseconds), so any sequence of updates is exact and the result equals a
recomputation from scratch, which is what a rebuild after a rebalance does.

Scope ids are the keys of ARCHITECTURE.md: ``all``, ``platform/<p>``, ``queue/<p>/<queue>``,
``agent/<p>/<agent>``. A partition's snapshot of a scope is a *partial*: the API adds the partials of every
partition (sums, and the minimum for the oldest waiting contact).
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from typing import Any, Iterable

from services.aggregator.contacts import ContactFacts

SNAPSHOT_SCHEMA = "deskpulse.snapshot.v1"

# Completed-event counters: they only grow as contacts progress (window "all" = since state began).
COUNTERS = ("created", "first_responses", "first_response_ms_sum", "resolved", "reopened")
# Live gauges: the state right now.
GAUGES = ("open", "waiting")


def scope_id(kind: str, platform: str | None = None, key: str | None = None) -> str:
    if kind == "all":
        return "all"
    if kind == "platform":
        return f"platform/{platform}"
    return f"{kind}/{platform}/{key}"


def describe_scope(scope: str) -> dict[str, str | None]:
    """Labels of a scope id: ``{"kind", "platform", "id"}`` (``id`` may itself contain ``/``)."""
    if scope == "all":
        return {"kind": "all", "platform": None, "id": None}
    kind, _, rest = scope.partition("/")
    if kind == "platform":
        return {"kind": kind, "platform": rest, "id": None}
    platform, _, key = rest.partition("/")
    return {"kind": kind, "platform": platform, "id": key}


@dataclass(frozen=True, slots=True)
class Contribution:
    """What one contact adds to each scope: non-zero values only."""

    values: dict[str, dict[str, int]]  # scope -> counter or gauge -> value
    waiting_since: dict[str, int]  # scope -> creation time, for scopes in which the contact is waiting


EMPTY = Contribution({}, {})


def contribution(f: ContactFacts) -> Contribution:
    """The scopes a contact counts in and what it counts there.

    Contact figures go to overall, platform and (current) queue. Agent figures: the first response to the
    responding agent, the resolution to the assignee at resolution time, an open contact to its assignee now.
    """
    if f.created_at is None:
        return EMPTY  # nothing counts until the contact's creation is known
    values: dict[str, dict[str, int]] = {}
    contact_figures: dict[str, int] = {"created": 1}
    if f.first_response_ms is not None:
        contact_figures["first_responses"] = 1
        contact_figures["first_response_ms_sum"] = f.first_response_ms
    if f.resolved_at is not None:
        contact_figures["resolved"] = 1
    if f.reopens:
        contact_figures["reopened"] = f.reopens
    if f.is_open:
        contact_figures["open"] = 1
    if f.is_waiting:
        contact_figures["waiting"] = 1
    contact_scopes = [scope_id("all"), scope_id("platform", f.platform)]
    if f.queue:
        contact_scopes.append(scope_id("queue", f.platform, f.queue))
    for scope in contact_scopes:
        values[scope] = dict(contact_figures)

    def agent(agent_id: str | None, figures: dict[str, int]) -> None:
        if agent_id:
            bucket = values.setdefault(scope_id("agent", f.platform, agent_id), {})
            for name, value in figures.items():
                bucket[name] = bucket.get(name, 0) + value

    if f.first_response_ms is not None:
        agent(f.responder, {"first_responses": 1, "first_response_ms_sum": f.first_response_ms})
    if f.resolved_at is not None:
        agent(f.resolver, {"resolved": 1})
    if f.is_open:
        agent(f.assignee, {"open": 1})
    waiting = {scope: f.created_at for scope in contact_scopes} if f.is_waiting else {}
    return Contribution(values, waiting)


@dataclass(slots=True)
class ScopeTotals:
    values: dict[str, int] = field(default_factory=dict)
    waiting: dict[str, int] = field(default_factory=dict)  # contact key -> creation time
    _heap: list[tuple[int, str]] = field(default_factory=list)  # lazily pruned min-heap over `waiting`

    def add(self, figures: dict[str, int], sign: int) -> None:
        for name, value in figures.items():
            self.values[name] = self.values.get(name, 0) + sign * value

    def set_waiting(self, key: str, created_at: int | None) -> None:
        if created_at is None:
            self.waiting.pop(key, None)
            return
        self.waiting[key] = created_at
        heapq.heappush(self._heap, (created_at, key))
        if len(self._heap) > 2 * len(self.waiting) + 64:
            self._heap = [(t, k) for k, t in self.waiting.items()]
            heapq.heapify(self._heap)

    def oldest_waiting(self) -> int | None:
        heap = self._heap
        while heap and self.waiting.get(heap[0][1]) != heap[0][0]:
            heapq.heappop(heap)
        return heap[0][0] if heap else None


class PartitionAggregates:
    """Every scope's aggregate over the contacts of one partition."""

    def __init__(self, partition: int) -> None:
        self.partition = partition
        self.scopes: dict[str, ScopeTotals] = {}

    def apply(self, key: str, old: Contribution, new: Contribution) -> set[str]:
        """Replace contact ``key``'s contribution ``old`` by ``new``; return the scopes whose figures changed."""
        changed: set[str] = set()
        for scope, figures in old.values.items():
            if new.values.get(scope) != figures:
                self._totals(scope).add(figures, -1)
                changed.add(scope)
        for scope, figures in new.values.items():
            if old.values.get(scope) != figures:
                self._totals(scope).add(figures, +1)
                changed.add(scope)
        for scope in old.waiting_since.keys() - new.waiting_since.keys():
            self._totals(scope).set_waiting(key, None)
            changed.add(scope)
        for scope, created_at in new.waiting_since.items():
            if old.waiting_since.get(scope) != created_at:
                self._totals(scope).set_waiting(key, created_at)
                changed.add(scope)
        return changed

    def _totals(self, scope: str) -> ScopeTotals:
        totals = self.scopes.get(scope)
        if totals is None:
            totals = self.scopes[scope] = ScopeTotals()
        return totals

    def snapshot(self, scope: str, now_ms: int) -> dict[str, Any]:
        """The partial snapshot of ``scope`` on this partition, as published to ``deskpulse.kpis.v1``."""
        totals = self.scopes.get(scope) or ScopeTotals()
        values = totals.values
        return {
            "schema": SNAPSHOT_SCHEMA,
            "scope": scope,
            **describe_scope(scope),
            "partition": self.partition,
            "published_ms": now_ms,
            "windows": {"all": {name: values.get(name, 0) for name in COUNTERS}},
            "live": {
                **{name: values.get(name, 0) for name in GAUGES},
                "oldest_waiting_created_ms": totals.oldest_waiting(),
            },
        }


def rebuild(partition: int, contributions: Iterable[tuple[str, Contribution]]) -> PartitionAggregates:
    """Aggregates of a partition recomputed from scratch from its contacts' contributions."""
    aggregates = PartitionAggregates(partition)
    for key, contrib in contributions:
        aggregates.apply(key, EMPTY, contrib)
    return aggregates
