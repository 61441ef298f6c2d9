"""Per-scope aggregates of one partition, derived from its contacts' contributions (``kpis.py``).

Pure: no Faust, no Kafka. The aggregate of a scope is the sum of its contacts' contributions, kept
incrementally: when a contact changes, its old contribution is subtracted and the new one added. All values
are integers, so any sequence of updates equals a recomputation from scratch (what a rebuild after a
rebalance does).

Buckets older than the retention cutoff are dropped; adding to or subtracting from a dropped bucket does
nothing, and cutoffs only move forward, so every bucket that exists holds exactly the sum of the current
contributions to it.

A partition's snapshot of a scope is a *partial*: the API adds the partials of every partition.
"""

from __future__ import annotations

import bisect
import heapq
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from services.aggregator.kpis import (
    EMPTY, Contribution, Counters, Fact, daily, day_starts, describe_scope, for_scope, is_light, split,
)
from services.aggregator.windows import LEVEL_SIZE, Retention, bucket_start

SNAPSHOT_SCHEMA = "deskpulse.snapshot.v1"


def _bump(target: Counters, counters: Counters, sign: int) -> None:
    for name, value in counters.items():
        new = target.get(name, 0) + sign * value
        if new:
            target[name] = new
        else:
            target.pop(name, None)


@dataclass(slots=True)
class _Oldest:
    """Minimum "since" time over contacts, with removals: a dict plus a lazily pruned heap."""

    since: dict[str, int] = field(default_factory=dict)
    heap: list[tuple[int, str]] = field(default_factory=list)

    def set(self, key: str, t: int | None) -> None:
        if t is None:
            self.since.pop(key, None)
            return
        self.since[key] = t
        heapq.heappush(self.heap, (t, key))
        if len(self.heap) > 2 * len(self.since) + 64:
            self.heap = [(v, k) for k, v in self.since.items()]
            heapq.heapify(self.heap)

    def min(self) -> int | None:
        heap = self.heap
        while heap and self.since.get(heap[0][1]) != heap[0][0]:
            heapq.heappop(heap)
        return heap[0][0] if heap else None


@dataclass(slots=True)
class ScopeState:
    light: bool = False  # kpis.LIGHT_KINDS: day buckets only
    agent: bool = False  # agent scopes also count the per-channel counters (``name@channel``)
    totals: Counters = field(default_factory=dict)
    buckets: dict[str, dict[int, Counters]] = field(default_factory=lambda: {"m": {}, "q": {}, "d": {}})
    live: Counters = field(default_factory=dict)
    oldest: dict[str, _Oldest] = field(default_factory=lambda: {"waiting": _Oldest(), "queued": _Oldest()})
    deadlines: list[int] = field(default_factory=list)  # running SLA clocks, sorted
    risks: list[int] = field(default_factory=list)  # their at-risk times, sorted

    def clock_summary(self, now_ms: int) -> dict[str, Any]:
        breaching = bisect.bisect_right(self.deadlines, now_ms)
        at_risk = max(0, bisect.bisect_right(self.risks, now_ms) - breaching)
        return {
            "sla_running": len(self.deadlines),
            "sla_breaching": breaching,
            "sla_at_risk": at_risk,
            "next_breach_ms": self.deadlines[breaching] if breaching < len(self.deadlines) else None,
        }

    def next_clock_change(self, now_ms: int) -> int | None:
        """The next time a clock turns at-risk or breached, so the scope is republished then."""
        candidates = []
        i = bisect.bisect_right(self.deadlines, now_ms)
        if i < len(self.deadlines):
            candidates.append(self.deadlines[i])
        j = bisect.bisect_right(self.risks, now_ms)
        if j < len(self.risks):
            candidates.append(self.risks[j])
        return min(candidates) if candidates else None


def _insort_all(target: list[int], values: list[int]) -> None:
    for v in values:
        bisect.insort(target, v)


def _remove_all(target: list[int], values: list[int]) -> None:
    for v in values:
        i = bisect.bisect_left(target, v)
        if i < len(target) and target[i] == v:
            del target[i]


class PartitionAggregates:
    """Every scope's aggregate over the contacts of one partition."""

    def __init__(self, partition: int, retention: Retention | None = None) -> None:
        self.partition = partition
        self.retention = retention or Retention()
        self.scopes: dict[str, ScopeState] = {}
        self.cutoffs = {level: 0 for level in (*LEVEL_SIZE, "d")}

    def _state(self, scope: str) -> ScopeState:
        state = self.scopes.get(scope)
        if state is None:
            state = self.scopes[scope] = ScopeState(light=is_light(scope), agent=scope.startswith("agent/"))
        return state

    def apply(self, key: str, old: Contribution, new: Contribution) -> set[str]:
        """Replace contact ``key``'s contribution ``old`` by ``new``; return the scopes whose figures changed.

        Only what differs is touched: consecutive events of a contact leave most of its facts as they were.
        """
        changed: set[str] = set()
        if old.facts != new.facts:
            diff = Counter(new.facts)
            diff.subtract(old.facts)
            for fact, count in diff.items():
                if count:
                    self._expand(fact, count, changed)
        for scope in old.totals.keys() | new.totals.keys():
            before, after = old.totals.get(scope), new.totals.get(scope)
            if before != after:
                totals = self._state(scope).totals
                _bump(totals, before or {}, -1)
                _bump(totals, after or {}, +1)
                changed.add(scope)
        for bucket_key in old.buckets.keys() | new.buckets.keys():
            before, after = old.buckets.get(bucket_key), new.buckets.get(bucket_key)
            if before == after:
                continue
            scope, level, start = bucket_key
            if start < self.cutoffs[level]:
                continue  # that bucket has expired; facts for it only count in the totals
            buckets = self._state(scope).buckets[level]
            bucket = buckets.setdefault(start, {})
            _bump(bucket, before or {}, -1)
            _bump(bucket, after or {}, +1)
            if not bucket:
                del buckets[start]
        for scope in old.live.keys() | new.live.keys():
            before, after = old.live.get(scope), new.live.get(scope)
            if before != after or scope not in self.scopes:
                live = self._state(scope).live
                _bump(live, before or {}, -1)
                _bump(live, after or {}, +1)
                changed.add(scope)
        for scope in old.clocks.keys() | new.clocks.keys():
            before, after = old.clocks.get(scope, []), new.clocks.get(scope, [])
            if before != after:
                state = self._state(scope)
                _remove_all(state.deadlines, [c[0] for c in before])
                _remove_all(state.risks, [c[1] for c in before])
                _insort_all(state.deadlines, [c[0] for c in after])
                _insort_all(state.risks, [c[1] for c in after])
                changed.add(scope)
        for (scope, kind) in old.oldest.keys() - new.oldest.keys():
            self._state(scope).oldest[kind].set(key, None)
            changed.add(scope)
        for (scope, kind), since in new.oldest.items():
            if old.oldest.get((scope, kind)) != since:
                self._state(scope).oldest[kind].set(key, since)
                changed.add(scope)
        return changed

    def _expand(self, fact: Fact, sign: int, changed: set[str]) -> None:
        """Add (``sign`` > 0) or remove a fact in the totals and the buckets of each of its scopes."""
        t, scopes, items, day_keys = fact
        full = dict(items)
        common = for_scope("", full)  # without the agents' per-channel counters (the same dict if none)
        parts = {}
        for counters in {id(full): full, id(common): common}.values():
            windowed, plain = split(counters)
            levels = []
            for level, part in (("q", windowed), ("m", plain)):
                start = bucket_start(t, LEVEL_SIZE[level])
                if start >= self.cutoffs[level]:  # an expired bucket: the fact only counts in the totals
                    levels.append((level, start, part))
            parts[id(counters)] = (levels, daily(counters) if day_keys is not None else None)
        days = day_starts(day_keys, scopes, t) if parts[id(full)][1] else None  # type: ignore[arg-type]
        day_cutoff = self.cutoffs["d"]
        for i, scope in enumerate(scopes):
            if is_light(scope) and not (days and parts[id(common)][1] and days[i] >= day_cutoff):
                continue  # a light scope keeps only day buckets: nothing to count there
            state = self._state(scope)
            counters = full if state.agent else common
            levels, day_part = parts[id(counters)]
            if not state.light:
                _bump(state.totals, counters, sign)
                for level, start, part in levels:
                    buckets = state.buckets[level]
                    bucket = buckets.setdefault(start, {})
                    _bump(bucket, part, sign)
                    if not bucket:
                        del buckets[start]
            if day_part and days[i] >= day_cutoff:  # type: ignore[index]  (days is set when any part is)
                buckets = state.buckets["d"]
                bucket = buckets.setdefault(days[i], {})  # type: ignore[index]
                _bump(bucket, day_part, sign)
                if not bucket:
                    del buckets[days[i]]  # type: ignore[index]
            changed.add(scope)

    def expire(self, stream_ms: int) -> None:
        """Drop buckets that fell behind retention at ``stream_ms`` (cutoffs only move forward)."""
        for level in self.cutoffs:
            cutoff = max(self.cutoffs[level], self.retention.cutoff(level, stream_ms))
            if cutoff == self.cutoffs[level]:
                continue
            self.cutoffs[level] = cutoff
            for state in self.scopes.values():
                buckets = state.buckets[level]
                for start in [s for s in buckets if s < cutoff]:
                    del buckets[start]

    def snapshot(self, scope: str, stream_ms: int, published_ms: int, extra: dict | None = None) -> dict[str, Any]:
        """The partial snapshot of ``scope`` on this partition, as published to ``deskpulse.kpis.v1``."""
        state = self.scopes.get(scope) or ScopeState()
        return {
            "schema": SNAPSHOT_SCHEMA,
            "scope": scope,
            **describe_scope(scope),
            "partition": self.partition,
            "stream_ms": stream_ms,
            "published_ms": published_ms,
            "totals": dict(state.totals),
            "minutes": {str(k): v for k, v in sorted(state.buckets["m"].items())},
            "quarters": {str(k): v for k, v in sorted(state.buckets["q"].items())},
            "days": {str(k): v for k, v in sorted(state.buckets["d"].items())},
            "live": {
                **state.live,
                "oldest_waiting_created_ms": state.oldest["waiting"].min(),
                "oldest_queued_ms": state.oldest["queued"].min(),
                **state.clock_summary(stream_ms),
            },
            **(extra or {}),
        }


def rebuild(partition: int, contributions, stream_ms: int | None, retention: Retention | None = None) -> PartitionAggregates:
    """Aggregates of a partition recomputed from scratch from its contacts' contributions."""
    aggregates = PartitionAggregates(partition, retention)
    if stream_ms is not None:
        aggregates.expire(stream_ms)
    for key, contrib in contributions:
        aggregates.apply(key, EMPTY, contrib)
    return aggregates
