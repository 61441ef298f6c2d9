"""The aggregator's processing step over a table of records, independent of Faust.

``Engine`` is given the table (a Faust table in production, a dict in unit tests) holding three kinds of
record: one per contact (``contacts.py``), one per agent (``agents.py``) and one ``retired#<partition>`` per
partition (totals of contacts retired from memory). For each event it updates one record — the one write per
event — and the derived per-partition aggregates, and it remembers which (scope, partition) partials changed
so they can be published in batches.

Exactness under at-least-once delivery and restarts:

- duplicates are recognised inside the record; any order gives the in-order facts (records are sorted);
- the aggregates are never persisted: after recovery they are rebuilt from the table;
- contacts closed for longer than ``contact_retention_ms`` are retired: their totals are folded into the
  partition's retired record, written *before* the contacts are deleted, with the cutoff time. A rebuild
  skips (and deletes) records older than that cutoff, so a crash between the two writes never counts twice.
  Events older than the cutoff are late for good and are counted as such, not applied.

Clocks: stream time is kept per partition (``windows.StreamClock``), so one partition's events never age
another's contacts, and never runs more than ``max_ahead_ms`` ahead of the worker's wall clock: an event from
further in the future (a platform or producer with a wrong clock, a forged event) is not applied. It is counted
(outcome ``future``) in the partition's ``future#<partition>`` record, which the partition's ``all`` partial
carries to the API (``/readyz``), and it changes no figure (docs/architecture.md, "Clocks").
"""

from __future__ import annotations

import heapq
import logging
from collections import defaultdict
from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Any, Literal

from services.aggregator import agents
from services.aggregator.aggregates import BulkLoad, PartitionAggregates
from services.aggregator.contacts import add_event, facts, record_key
from services.aggregator.contributions import EMPTY, Contribution, fold_retired, retired_contribution
from services.aggregator.kpiconfig import DefaultConfig, KpiConfig
from services.aggregator.kpis import contribution
from services.aggregator.rows import contact_row
from services.common.events import CanonicalEvent
from services.domain.contactrow import encode as encode_contact
from services.domain.contactrow import encode_key as encode_contact_key
from services.domain.scopes import scope_id
from services.domain.snapshot import encode, encode_key
from services.domain.windows import DAY_KEEP_MS, DAY_MS, MINUTE_MS, Retention, StreamClock

log = logging.getLogger(__name__)

Outcome = Literal["applied", "duplicate", "late", "retired_late", "future"]
RECENT_CONTRIBUTIONS = 20_000  # contributions kept for the next event of their record (~3 kB each)


def retired_key(partition: int) -> str:
    """Key of the table record holding the totals of ``partition``'s retired contacts (a table key, not a
    snapshot's: the KPI topic's keys are ``services.domain.snapshot.key``)."""
    return f"retired#{partition}"


def future_key(partition: int) -> str:
    """Key of the record counting the events of ``partition`` refused for being too far in the future."""
    return f"future#{partition}"


def name_key(partition: int, scope: str) -> str:
    """Key of the record of a queue's or an agent's display name as ``partition``'s events last gave it."""
    return f"name#{partition}#{scope}"


def event_names(event: CanonicalEvent) -> list[tuple[str, str]]:
    """(scope, name) pairs an event gives: ``attributes.queue_name`` with its ``queue_id``, ``attributes.agent_name``
    with its ``agent_id`` (docs/architecture.md, "Names")."""
    attributes = event.attributes
    if not attributes:
        return []
    out = []
    for field, kind, key in (("queue_name", "queue", event.queue_id), ("agent_name", "agent", event.agent_id)):
        name = attributes.get(field)
        if key and isinstance(name, str) and name.strip():
            out.append((scope_id(kind, event.platform, key), name.strip()[:256]))
    return out


DEFAULT_RETENTION = Retention()  # frozen: one for every engine


@dataclass(frozen=True)
class EngineSettings:
    retention: Retention = DEFAULT_RETENTION
    contact_retention_ms: int = 3 * DAY_MS  # closed contacts stay in memory this long (reopens, late events)
    sweep_interval_ms: int = MINUTE_MS
    max_ahead_ms: int | None = 5 * MINUTE_MS  # DESKPULSE_MAX_CLOCK_SKEW_S: how far stream time may lead the wall clock
    contact_rows: bool = True  # keep track of the contact rows to publish (DESKPULSE_CONTACT_ROWS)


class _Partition:
    def __init__(self, partition: int, settings: EngineSettings) -> None:
        self.aggregates = PartitionAggregates(partition, settings.retention)
        self.clock = StreamClock(settings.max_ahead_ms)
        self.future: dict | None = None  # the future#<partition> record: events refused for their time
        self.agent_scopes: dict[str, str] = {}  # agent scope -> agent record key (agents living here)
        self.clock_heap: list[tuple[int, str]] = []  # (time a clock crosses a threshold, scope)
        self.closed: list[tuple[int, str]] = []  # (last event time, key) of contacts closed when last seen
        self.last_sweep_ms = 0
        self.names: dict[str, str] = {}  # scope -> display name, from this partition's name#<p>#<scope> records


class Engine:
    def __init__(
        self, table: MutableMapping[str, Any], config: KpiConfig | None = None, settings: EngineSettings | None = None
    ) -> None:
        self.table = table
        self.config = config or DefaultConfig()
        self.settings = settings or EngineSettings()
        self.partitions: dict[int, _Partition] = {}
        self._dirty: set[tuple[str, int]] = set()
        self.late_events = 0
        # key -> (record, its contribution) of recently written records, so the next event of a contact does
        # not fold the old record again. Checked by identity: the table hands back the object written.
        self._recent: dict[str, tuple[dict, Contribution]] = {}
        # contact key -> partition, of contacts whose row (rows.py) is to be published: changed, retired (a
        # tombstone) or rebuilt. Published a bounded number at a time (drain_contacts).
        self._dirty_contacts: dict[str, int] = {}

    # -- contributions of records -------------------------------------------------------------------------

    def _contribution(
        self,
        record: dict | None,
        part: _Partition | None = None,
        key: str | None = None,
        out: Contribution | None = None,
        previous: tuple[dict, Contribution] | None = None,
    ) -> Contribution:
        """A record's contribution; with ``part``, a closed contact is also queued for retirement. ``out``: an
        empty contribution to fill (``kpis.contribution``). ``previous``: the record it replaces and that record's
        contribution, which an agent's contribution extends (``agents.contribution``)."""
        if record is None:
            return EMPTY
        if record.get("kind") == "agent":
            return agents.contribution(record, self.settings.retention, previous)
        f = facts(record)
        if part is not None and key is not None and not f.is_open:  # callers pass ``key`` with ``part``
            heapq.heappush(part.closed, (f.last_event_at, key))
        return contribution(f, self.config, out)

    def _partition(self, partition: int) -> _Partition:
        state = self.partitions.get(partition)
        if state is None:
            state = self.partitions[partition] = _Partition(partition, self.settings)
        return state

    # -- processing ---------------------------------------------------------------------------------------

    def handle(self, partition: int, event: CanonicalEvent, wall_ms: int) -> Outcome:
        """Apply one event read from ``partition`` at wall-clock time ``wall_ms``. Idempotent."""
        part = self._partition(partition)
        t = event.occurred_ms
        if not part.clock.admits(t, wall_ms):
            self._refuse_future(partition, part, event, wall_ms)
            return "future"
        retired = self.table.get(retired_key(partition))
        if retired is not None and t < retired["through_ms"]:
            self.late_events += 1
            return "retired_late"
        now = part.clock.now(wall_ms)
        late = now is not None and self.settings.retention.is_late(t, now)
        if event.type == "agent.state_changed":
            key = agents.record_key(event)
            old = self.table.get(key)
            new = agents.add_state(old, event, partition)
        else:
            key = record_key(event)
            old = self.table.get(key)
            new = add_event(old, event, partition)
        if new is None:
            return "duplicate"
        part.clock.observe(t, wall_ms)
        if new.get("kind") == "agent":
            # Cutoffs up to date first: agent contributions leave out buckets that are behind them (agents.py).
            part.aggregates.expire(part.clock.now(wall_ms) or 0)
        self.table[key] = new
        recent = self._recent.pop(key, None)
        before = recent[1] if recent is not None and recent[0] is old else self._contribution(old)
        after = self._contribution(new, part, key, previous=(old, before) if old is not None else None)
        self._recent[key] = (new, after)
        if len(self._recent) > RECENT_CONTRIBUTIONS:
            del self._recent[next(iter(self._recent))]  # the least recently written
        self._apply(part, key, before, after, wall_ms)
        for scope, name in event_names(event):
            if part.names.get(scope) != name:  # a new name: one small record, written with the event's partition
                part.names[scope] = name
                self.table[name_key(partition, scope)] = {"p": partition, "kind": "name", "s": scope, "n": name}
                self._dirty.add((scope, partition))
        if new.get("kind") == "agent":
            scope = f"agent/{new['pl']}/{new['a']}"
            part.agent_scopes[scope] = key
            self._dirty.add((scope, partition))
        else:
            self._row_changed(key, partition)
        self._maybe_sweep(partition, part, wall_ms)
        if late:
            self.late_events += 1  # counted in its (still kept) bucket or only in the totals; reported
            return "late"
        return "applied"

    def _refuse_future(self, partition: int, part: _Partition, event: CanonicalEvent, wall_ms: int) -> None:
        old = self.table.get(future_key(partition)) or {"p": partition, "kind": "future", "n": 0}
        record = {
            **old,
            "n": old["n"] + 1,
            "last": {
                "event_id": event.event_id,
                "platform": event.platform,
                "occurred_at": event.occurred_at,
                "ahead_ms": event.occurred_ms - wall_ms,
                "refused_at_ms": wall_ms,
            },
        }
        self.table[future_key(partition)] = record
        part.future = record
        self._dirty.add(("all", partition))
        if old["n"] == 0 or wall_ms - old["last"]["refused_at_ms"] >= MINUTE_MS:  # once a minute at most
            log.warning(
                "not applying event %s of %s on partition %d: its time %s is %.0f s ahead of this worker's "
                "clock (DESKPULSE_MAX_CLOCK_SKEW_S allows %.0f s); %d such events on this partition so far",
                event.event_id,
                event.platform,
                partition,
                event.occurred_at,
                (event.occurred_ms - wall_ms) / 1000,
                (self.settings.max_ahead_ms or 0) / 1000,
                record["n"],
            )

    def _apply(self, part: _Partition, key: str, before: Contribution, after: Contribution, wall_ms: int) -> None:
        stream_ms = part.clock.now(wall_ms) or 0
        for scope in part.aggregates.apply(key, before, after):
            self._dirty.add((scope, part.aggregates.partition))
            if scope in after.clocks or scope in before.clocks:
                self._schedule_clock(part, scope, stream_ms)

    def _schedule_clock(self, part: _Partition, scope: str, stream_ms: int) -> None:
        state = part.aggregates.scopes.get(scope)
        if state is not None:
            change = state.next_clock_change(stream_ms)
            if change is not None:
                heapq.heappush(part.clock_heap, (change, scope))

    # -- retirement ---------------------------------------------------------------------------------------

    def _maybe_sweep(self, partition: int, part: _Partition, wall_ms: int) -> None:
        if wall_ms - part.last_sweep_ms < self.settings.sweep_interval_ms:
            return
        part.last_sweep_ms = wall_ms
        stream_ms = part.clock.now(wall_ms)
        if stream_ms is None:
            return
        part.aggregates.expire(stream_ms)
        self.retire(partition, stream_ms - self.settings.contact_retention_ms)

    def retire(self, partition: int, through_ms: int) -> int:
        """Fold contacts of ``partition`` closed and idle since before ``through_ms`` into the retired record.

        Must run while processing an event of ``partition`` (table writes go to that changelog partition).
        Returns how many contacts were retired.
        """
        part = self._partition(partition)
        victims = []
        chosen: set[str] = set()
        while part.closed and part.closed[0][0] < through_ms:
            last_event_at, key = heapq.heappop(part.closed)
            if key in chosen:
                continue  # queued more than once (e.g. two events in its last millisecond)
            record = self.table.get(key)
            if record is None or record["ev"][-1][0] != last_event_at:
                continue  # gone already, or changed since (a newer entry is queued if it is closed)
            f = facts(record)
            if not f.is_open and f.last_event_at == last_event_at:
                victims.append((key, record))
                chosen.add(key)
        if not victims:
            return 0
        contributions = [(key, self._contribution(record)) for key, record in victims]
        retired = fold_retired(
            self.table.get(retired_key(partition)),
            partition,
            through_ms,
            [contrib for _, contrib in contributions],
            through_ms - DAY_KEEP_MS,
        )
        # The retired record first, then the deletions: see the module docstring.
        self.table[retired_key(partition)] = retired
        for key, contrib in contributions:
            # The totals and day buckets stay (now accounted for by the retired record); the rest goes.
            part.aggregates.apply(key, contrib, contrib.retained())
            del self.table[key]
            self._recent.pop(key, None)
            self._row_changed(key, partition)  # its row goes too (a tombstone)
        self._dirty.update((scope, partition) for scope in (*retired["totals"], *retired.get("days", ())))
        log.info("retired %d closed contacts of partition %d", len(victims), partition)
        return len(victims)

    # -- rebuild and publication --------------------------------------------------------------------------

    def rebuild(self, active: set[int], wall_ms: int) -> None:
        """Recompute the aggregates of the ``active`` partitions from the table, e.g. after recovery.

        Every scope of every active partition is marked for publication, so the snapshot topic is repaired
        even if the previous owner of a partition died between a table write and a snapshot.
        """
        groups: dict[int, list[tuple[str, dict]]] = defaultdict(list)
        retired: dict[int, dict] = {}
        future: dict[int, dict] = {}
        names: dict[int, dict[str, str]] = defaultdict(dict)
        for key, record in self.table.items():
            if record is None or record.get("p") not in active:
                continue
            if key.startswith("retired#"):
                retired[record["p"]] = record
            elif key.startswith("future#"):
                future[record["p"]] = record
            elif key.startswith("name#"):
                names[record["p"]][record["s"]] = record["n"]
            else:
                groups[record["p"]].append((key, record))
        self.partitions = {}
        self._dirty = set()
        self._recent = {}
        for p in active:
            part = self._partition(p)
            part.future = future.get(p)
            part.names = names[p]
            through = retired.get(p, {}).get("through_ms", 0)
            records = []
            for key, record in groups[p]:
                steps = record["ev"]
                if (
                    through
                    and record.get("kind") != "agent"
                    and (steps[-1][0] if steps else 0) < through
                    and not facts(record).is_open
                ):
                    continue  # already folded into the retired totals by a sweep that was cut short
                records.append((key, record))
                if steps:
                    part.clock.observe(steps[-1][0], wall_ms)
                if record.get("kind") == "agent":
                    part.agent_scopes[f"agent/{record['pl']}/{record['a']}"] = key
                else:
                    self._row_changed(key, p)  # rows republished: a row lost with a killed worker comes back
            # One pass, the contributions summed per scope and bucket as they are computed, not applied one by one
            # (aggregates.BulkLoad): the same figures as incremental processing, ~4x less CPU (bench/rebuild.py).
            part.aggregates = PartitionAggregates(p, self.settings.retention)
            stream_ms = part.clock.now(wall_ms)
            if stream_ms is not None:
                part.aggregates.expire(stream_ms)
            bulk = BulkLoad(part.aggregates)
            for key, record in records:
                bulk.add(key, self._contribution(record, part, key, bulk.contribution()))
            bulk.add("retired", retired_contribution(retired.get(p)))
            bulk.finish()
            for scope in part.aggregates.scopes:
                self._dirty.add((scope, p))
            if part.future is not None:
                self._dirty.add(("all", p))
                self._schedule_clock(part, scope, stream_ms or 0)
        log.info("rebuilt aggregates of partitions %s from %d records", sorted(active), sum(map(len, groups.values())))

    def republish_all(self) -> None:
        """Mark every scope of every partition for publication (after a publication that failed part-way)."""
        for p, part in self.partitions.items():
            self._dirty.update((scope, p) for scope in part.aggregates.scopes)

    def _row_changed(self, key: str, partition: int) -> None:
        """Queue contact ``key``'s row for publication (``drain_contacts``), when contact rows are on."""
        if self.settings.contact_rows:
            self._dirty_contacts[key] = partition

    def drain_contacts(self, limit: int = 5_000) -> list[tuple[bytes, bytes | None]]:
        """Up to ``limit`` contact rows to publish (``services.domain.contactrow``), oldest change first; None for a
        retired contact (a tombstone). Contacts of partitions revoked since are left to their new owner."""
        out: list[tuple[bytes, bytes | None]] = []
        while self._dirty_contacts and len(out) < limit:
            key, partition = next(iter(self._dirty_contacts.items()))
            del self._dirty_contacts[key]
            if partition not in self.partitions:
                continue
            record = self.table.get(key)
            if record is None:
                out.append((encode_contact_key(key), None))
                continue
            recent = self._recent.get(key)
            contrib = recent[1] if recent is not None and recent[0] is record else self._contribution(record)
            out.append((encode_contact_key(key), encode_contact(contact_row(key, facts(record), contrib, self.config))))
        return out

    def rows_again(self, keys: list[bytes]) -> None:
        """Mark contact rows (as ``drain_contacts`` keyed them) to be published again, e.g. after a failed send."""
        for key in keys:
            name = key.decode()
            record = self.table.get(name)
            partition = record.get("p") if isinstance(record, dict) else None
            if partition is not None:
                self._dirty_contacts.setdefault(name, partition)

    def drain(self, wall_ms: int) -> list[tuple[bytes, bytes]]:
        """Partial snapshots to publish now: scopes that changed, and scopes whose SLA clocks crossed a
        threshold since. Returns (key, value) bytes for the KPI topic (``services.domain.snapshot``)."""
        for p, part in self.partitions.items():
            stream_ms = part.clock.now(wall_ms)
            if stream_ms is None:
                continue
            part.aggregates.expire(stream_ms)
            while part.clock_heap and part.clock_heap[0][0] <= stream_ms:
                _, scope = heapq.heappop(part.clock_heap)
                self._dirty.add((scope, p))
                self._schedule_clock(part, scope, stream_ms)
        dirty, self._dirty = self._dirty, set()
        out = []
        for scope, partition in sorted(dirty):
            owner = self.partitions.get(partition)
            if owner is None:
                continue  # partition revoked since
            agent = future = None
            agent_key = owner.agent_scopes.get(scope)
            if agent_key is not None and self.table.get(agent_key) is not None:
                agent = agents.current(self.table[agent_key])
            elif scope == "all" and owner.future is not None:
                future = {"n": owner.future["n"], "last": owner.future["last"]}
            value = owner.aggregates.snapshot(
                scope, owner.clock.now(wall_ms) or wall_ms, wall_ms, agent, future, owner.names.get(scope)
            )
            out.append((encode_key(scope, partition), encode(value)))
        return out
