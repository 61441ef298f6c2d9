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
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from services.aggregator.contributions import (
    _QUEUE_DAYS,
    BucketKey,
    Clock,
    Contribution,
    DayKeys,
    Fact,
    daily,
    day_starts,
    for_scope,
    split,
)
from services.domain.counters import Counters, add, add_signed, nonzero
from services.domain.scopes import is_light
from services.domain.snapshot import record
from services.domain.windows import LEVEL_SIZE, MINUTE_MS, QUARTER_MS, Retention, bucket_start


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
        self.cutoffs = dict.fromkeys((*LEVEL_SIZE, "d"), 0)

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
                add_signed(totals, before or {}, -1)
                add_signed(totals, after or {}, +1)
                changed.add(scope)
        for bucket_key in old.buckets.keys() | new.buckets.keys():
            before, after = old.buckets.get(bucket_key), new.buckets.get(bucket_key)
            if before is after or before == after:  # the same dict: an agent's buckets kept from before
                continue
            scope, level, start = bucket_key
            if start < self.cutoffs[level]:
                continue  # that bucket has expired; facts for it only count in the totals
            buckets = self._state(scope).buckets[level]
            bucket = buckets.setdefault(start, {})
            add_signed(bucket, before or {}, -1)
            add_signed(bucket, after or {}, +1)
            if not bucket:
                del buckets[start]
        for scope in old.live.keys() | new.live.keys():
            before, after = old.live.get(scope), new.live.get(scope)
            if before != after or scope not in self.scopes:
                live = self._state(scope).live
                add_signed(live, before or {}, -1)
                add_signed(live, after or {}, +1)
                changed.add(scope)
        for scope in old.clocks.keys() | new.clocks.keys():
            clocks_before, clocks_after = old.clocks.get(scope, []), new.clocks.get(scope, [])
            if clocks_before != clocks_after:
                state = self._state(scope)
                _remove_all(state.deadlines, [c[0] for c in clocks_before])
                _remove_all(state.risks, [c[1] for c in clocks_before])
                _insort_all(state.deadlines, [c[0] for c in clocks_after])
                _insort_all(state.risks, [c[1] for c in clocks_after])
                changed.add(scope)
        for scope, kind in old.oldest.keys() - new.oldest.keys():
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
        days = day_starts(day_keys, scopes, t) if day_keys is not None and parts[id(full)][1] else None
        day_cutoff = self.cutoffs["d"]
        for i, scope in enumerate(scopes):
            if is_light(scope) and not (days and parts[id(common)][1] and days[i] >= day_cutoff):
                continue  # a light scope keeps only day buckets: nothing to count there
            state = self._state(scope)
            counters = full if state.agent else common
            levels, day_part = parts[id(counters)]
            if not state.light:
                add_signed(state.totals, counters, sign)
                for level, start, part in levels:
                    buckets = state.buckets[level]
                    bucket = buckets.setdefault(start, {})
                    add_signed(bucket, part, sign)
                    if not bucket:
                        del buckets[start]
            if day_part and days is not None and days[i] >= day_cutoff:  # days is set when any part is
                buckets = state.buckets["d"]
                bucket = buckets.setdefault(days[i], {})
                add_signed(bucket, day_part, sign)
                if not bucket:
                    del buckets[days[i]]
            changed.add(scope)

    def load(self, contributions: Iterable[tuple[str, Contribution]]) -> None:
        """Add the contributions of every contact of a partition that has no aggregates yet (a rebuild): the same
        figures, scopes and buckets as ``apply(key, EMPTY, contribution)`` for each, summed first (``BulkLoad``)."""
        bulk = BulkLoad(self)
        for key, contrib in contributions:
            bulk.add(key, contrib)
        bulk.finish()

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

    def snapshot(
        self,
        scope: str,
        stream_ms: int,
        published_ms: int,
        agent: dict[str, Any] | None = None,
        future: dict[str, Any] | None = None,
        name: str | None = None,
    ) -> dict[str, Any]:
        """The partial snapshot of ``scope`` on this partition, as published to ``deskpulse.kpis.v1``
        (``services.domain.snapshot``); ``agent`` for an agent scope, ``future`` for ``all``, ``name`` when the
        partition's events named the queue or agent."""
        state = self.scopes.get(scope) or ScopeState()
        live = {
            **state.live,
            "oldest_waiting_created_ms": state.oldest["waiting"].min(),
            "oldest_queued_ms": state.oldest["queued"].min(),
            **state.clock_summary(stream_ms),
        }
        return record(
            scope, self.partition, stream_ms, published_ms, state.totals, state.buckets, live, agent, future, name
        )


class _Summed(Contribution):
    """A contribution whose facts go straight into a ``BulkLoad``'s sums as ``kpis.contribution`` adds them."""

    __slots__ = ("_sink",)
    _sink: Callable[[tuple[str, ...], int, Counters, DayKeys | None], None]

    def add(self, scopes: tuple[str, ...] | list[str], t_ms: int, counters: Counters) -> None:
        self._sink(tuple(scopes), t_ms, counters, self.day_keys)


class BulkLoad:
    """The contributions of a partition's contacts summed in one pass, then expanded into its (empty) aggregates.

    The result is what ``apply(key, EMPTY, contribution)`` for each gives — the same figures, scopes and
    buckets — without its per-fact, per-scope work: facts are first summed per (scope list, minute, quarter,
    day), those sums per scope list and per bucket, and only then expanded into each scope as ``_expand``
    expands one fact. Sums keep every counter name they were given, zeros included, so whether a scope or a
    bucket is touched is decided from the same names as fact by fact; zeros and empty buckets are dropped at the
    end, where ``_bump`` would have dropped them on the way (integers: the order of additions does not matter).

    ``add(key, contribution)`` takes any contribution; ``contribution()`` gives an empty one to fill with
    ``kpis.contribution(facts, config, out)`` whose facts are summed as they are added (not kept). ``finish()``
    once at the end.
    """

    def __init__(self, aggregates: PartitionAggregates) -> None:
        if aggregates.scopes:
            raise ValueError("a bulk load is for a partition without aggregates; use apply()")
        self.aggregates = aggregates
        self.cut_m, self.cut_q, self.cut_d = (aggregates.cutoffs[level] for level in ("m", "q", "d"))
        self.groups: dict[tuple, Counters] = {}  # (scopes, day keys, minute, quarter, (queue day, default day))
        self.totals: dict[str, Counters] = {}  # pre-aggregated figures (retired totals, agents' time in state) ...
        self.buckets: dict[BucketKey, Counters] = {}
        self.live: dict[str, Counters] = {}  # ... gauges, oldest times and clocks: as in apply()
        self.oldest: dict[tuple[str, str], dict[str, int]] = {}
        self.clocks: dict[str, list[Clock]] = {}

    def contribution(self) -> Contribution:
        out = _Summed()
        out._sink = self._fact
        return out

    def _fact(self, scopes: tuple[str, ...], t: int, counters: Counters, day_keys: DayKeys | None) -> None:
        minute = t - t % MINUTE_MS
        quarter = t - t % QUARTER_MS
        days = None
        if day_keys is not None:
            queue_days, default_days = day_keys
            default = default_days.start(t)
            days = (default if queue_days is default_days else queue_days.start(t), default)
        group = (
            scopes,
            day_keys,
            minute if minute >= self.cut_m else None,
            quarter if quarter >= self.cut_q else None,
            days,
        )
        sums = self.groups.get(group)
        if sums is None:
            self.groups[group] = dict(counters)
        else:
            add(sums, counters)

    def add(self, key: str, contrib: Contribution) -> None:
        for t, scopes, items, day_keys in contrib.facts:
            self._fact(scopes, t, dict(items), day_keys)
        if contrib.totals:
            for scope, counters in contrib.totals.items():
                add(self.totals.setdefault(scope, {}), counters)
        if contrib.buckets:
            cutoffs = self.aggregates.cutoffs
            for bucket_key, counters in contrib.buckets.items():
                if bucket_key[2] >= cutoffs[bucket_key[1]]:
                    add(self.buckets.setdefault(bucket_key, {}), counters)
        if contrib.live:
            for scope, counters in contrib.live.items():
                add(self.live.setdefault(scope, {}), counters)
        if contrib.clocks:
            for scope, running in contrib.clocks.items():
                if running:
                    self.clocks.setdefault(scope, []).extend(running)
        if contrib.oldest:
            for scope_kind, since in contrib.oldest.items():
                if since is not None:
                    self.oldest.setdefault(scope_kind, {})[key] = since

    def finish(self) -> None:
        aggregates = self.aggregates
        # The fact sums per scope list and bucket, per scope list and day, per scope list (the totals: from the
        # day sums, fewer). A group's own sums become its quarter's when it is the first there (usually the only
        # one): it is not read again after that.
        by_scopes: dict[tuple[str, ...], Counters] = {}
        by_level: dict[str, dict[tuple[tuple[str, ...], int], Counters]] = {"m": {}, "q": {}}
        by_quarter = by_level["q"]
        by_day: dict[tuple, Counters] = {}
        for (scopes, _, minute, quarter, days), sums in self.groups.items():
            if days is not None:
                add(by_day.setdefault((scopes, days), {}), sums)
            else:
                add(by_scopes.setdefault(scopes, {}), sums)
            if minute is not None:
                add(by_level["m"].setdefault((scopes, minute), {}), sums)
            if quarter is not None:
                found = by_quarter.get((scopes, quarter))
                if found is None:
                    by_quarter[(scopes, quarter)] = sums
                else:
                    add(found, sums)
        for (scopes, _), sums in by_day.items():
            add(by_scopes.setdefault(scopes, {}), sums)

        # Expanded into the scopes as _expand does: agent scopes count every counter, the others leave out the
        # per-channel ones; light scopes keep only day buckets (and exist only where a fact has a day part for
        # them); histogram bins go to the totals and quarter buckets, ``le`` counters to the totals only.
        targets: dict[tuple[str, ...], list[ScopeState]] = {}  # the scopes with totals, minutes and quarters
        for scopes, sums in by_scopes.items():
            states = targets[scopes] = [aggregates._state(scope) for scope in scopes if not is_light(scope)]
            common = None
            for state in states:
                if state.agent:
                    add(state.totals, sums)
                else:
                    if common is None:
                        common = {k: v for k, v in sums.items() if "@" not in k}
                    add(state.totals, common)
        for level, plain in (("q", False), ("m", True)):
            for (scopes, start), sums in by_level[level].items():
                full = common = None
                for state in targets[scopes]:
                    if state.agent:
                        if full is None:
                            full = {k: v for k, v in sums.items() if "le:" not in k and not (plain and "h:" in k)}
                        part = full
                    else:
                        if common is None:
                            common = {
                                k: v
                                for k, v in sums.items()
                                if "le:" not in k and "@" not in k and not (plain and "h:" in k)
                            }
                        part = common
                    bucket = state.buckets[level].get(start)
                    if bucket is None:
                        state.buckets[level][start] = dict(part)
                    else:
                        add(bucket, part)
        for (scopes, (queue_day, default_day)), sums in by_day.items():
            full_part = daily(sums)
            if not full_part:
                continue
            common_part = daily(for_scope("", sums))
            for scope in scopes:
                day = queue_day if scope.startswith(_QUEUE_DAYS) else default_day
                if is_light(scope) and not (common_part and day >= self.cut_d):
                    continue
                state = aggregates._state(scope)
                part = full_part if state.agent else common_part
                if part and day >= self.cut_d:
                    add(state.buckets["d"].setdefault(day, {}), part)

        for scope, counters in self.totals.items():
            add(aggregates._state(scope).totals, counters)
        for (scope, level, start), counters in self.buckets.items():
            add(aggregates._state(scope).buckets[level].setdefault(start, {}), counters)
        for scope, counters in self.live.items():
            add(aggregates._state(scope).live, counters)
        for scope, running in self.clocks.items():
            state = aggregates._state(scope)
            state.deadlines = sorted(c[0] for c in running)
            state.risks = sorted(c[1] for c in running)
        for (scope, kind), since in self.oldest.items():
            state = aggregates._state(scope)
            heap = [(t, key) for key, t in since.items()]
            heapq.heapify(heap)
            state.oldest[kind] = _Oldest(since, heap)

        for state in aggregates.scopes.values():
            state.totals = nonzero(state.totals)
            state.live = nonzero(state.live)
            for level, by_start in state.buckets.items():
                kept = {}
                for start, counters in by_start.items():
                    counters = nonzero(counters)
                    if counters:
                        kept[start] = counters
                state.buckets[level] = kept
