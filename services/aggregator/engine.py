"""The aggregator's processing step over a table of contact records, independent of Faust.

``Engine`` is given the table (a Faust table in production, a dict in unit tests). For each event it updates
the contact's record (the one write per event) and the derived per-partition aggregates, and it remembers
which (scope, partition) partial snapshots changed so they can be published in batches.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import MutableMapping
from typing import Literal

from services.aggregator.aggregates import EMPTY, PartitionAggregates, contribution, rebuild
from services.aggregator.contacts import ContactRecord, add_event, facts, record_key
from services.common.events import CanonicalEvent

log = logging.getLogger(__name__)

Outcome = Literal["applied", "duplicate", "ignored"]


def snapshot_key(scope: str, partition: int) -> str:
    """Key of a partial snapshot on the compacted KPI topic: the scope id, then ``#`` and the partition."""
    return f"{scope}#{partition}"


class Engine:
    def __init__(self, table: MutableMapping[str, ContactRecord]) -> None:
        self.table = table
        self.partitions: dict[int, PartitionAggregates] = {}
        self._dirty: set[tuple[str, int]] = set()

    def rebuild(self, active: set[int]) -> None:
        """Recompute the aggregates of the ``active`` partitions from the table, e.g. after recovery.

        Every scope of every active partition is marked for publication, so the snapshot topic is repaired
        even if the previous owner of a partition died between a table write and a snapshot.
        """
        groups: dict[int, list] = defaultdict(list)
        for key, record in self.table.items():
            if record is not None and record["p"] in active:
                groups[record["p"]].append((key, contribution(facts(record))))
        self.partitions = {p: rebuild(p, groups[p]) for p in active}
        self._dirty = {(scope, p) for p, aggs in self.partitions.items() for scope in aggs.scopes}
        log.info("rebuilt aggregates of partitions %s from %d contacts", sorted(active), sum(map(len, groups.values())))

    def handle(self, partition: int, event: CanonicalEvent) -> Outcome:
        """Apply one event read from ``partition``. Idempotent: a repeated event id changes nothing."""
        if event.contact_id is None:
            return "ignored"  # agent.* events: agent state arrives with the KPI engine
        key = record_key(event)
        old = self.table.get(key)
        new = add_event(old, event, partition)
        if new is None:
            return "duplicate"
        self.table[key] = new
        before = contribution(facts(old)) if old is not None else EMPTY
        after = contribution(facts(new))
        aggregates = self.partitions.get(partition)
        if aggregates is None:
            aggregates = self.partitions[partition] = PartitionAggregates(partition)
        for scope in aggregates.apply(key, before, after):
            self._dirty.add((scope, partition))
        return "applied"

    def drain(self, now_ms: int) -> list[tuple[bytes, bytes]]:
        """Partial snapshots changed since the last drain, as (key, value) bytes for the KPI topic."""
        dirty, self._dirty = self._dirty, set()
        out = []
        for scope, partition in sorted(dirty):
            aggregates = self.partitions.get(partition)
            if aggregates is None:
                continue  # partition revoked since
            value = aggregates.snapshot(scope, now_ms)
            out.append((snapshot_key(scope, partition).encode(), json.dumps(value, separators=(",", ":")).encode()))
        return out
