"""A contribution: what one record adds to each scope, kept compact as facts until the aggregates expand them.

A fact is (time, scopes, counters, day keys); ``split``, ``daily``, ``for_scope`` and ``day_starts`` say where a
fact's counters go (totals, minute, quarter and local-day buckets; per-channel counters in agent scopes only).
``fold_retired`` / ``retired_contribution`` keep what stays of retired contacts in one record per partition.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from services.domain.catalogue import DAY_COUNTERS
from services.domain.counters import Counters, add
from services.domain.scopes import LIGHT_KINDS, is_light
from services.domain.windows import DayCalendar

BucketKey = tuple[str, str, int]  # (scope, level "m"/"q"/"d", bucket start ms)
Clock = tuple[int, int]  # (breach at ms, at risk from ms)

# Scopes whose days are the queue's local days; every other scope uses the default days.
_QUEUE_DAYS = ("queue/",) + LIGHT_KINDS


# (time, scopes, counters, day keys): one thing counted. Day keys give each scope's day start (scopes may live in
# different time zones); None: no day buckets.
Fact = tuple[int, tuple[str, ...], tuple[tuple[str, int], ...], "tuple[DayCalendar, DayCalendar] | None"]


def split(counters: Counters) -> tuple[Counters, Counters]:
    """(quarter-bucket counters, minute-bucket counters) of a fact's counters.

    Histogram bins (``…h:<bin>``) are kept in the totals and quarter-hour buckets only, so percentiles are
    served for 24h, today and all while minute buckets (the short windows) stay small; ``le`` counters feed
    Prometheus histograms from the totals only.
    """
    if not any(("h:" in k or "le:" in k) for k in counters):
        return counters, counters
    windowed = {k: v for k, v in counters.items() if "le:" not in k}
    return windowed, {k: v for k, v in windowed.items() if "h:" not in k}


def daily(counters: Counters) -> Counters:
    """The part of a fact's counters kept in day buckets."""
    return {k: v for k, v in counters.items() if k in DAY_COUNTERS or k.partition("@")[0] in DAY_COUNTERS}


def for_scope(scope: str, counters: Counters) -> Counters:
    """The counters of a fact that count in ``scope``: per-channel counters (``name@channel``) only in agent
    scopes, so queues and the rest keep small buckets."""
    if scope.startswith("agent/") or not any("@" in k for k in counters):
        return counters
    return {k: v for k, v in counters.items() if "@" not in k}


DayKeys = tuple[DayCalendar, DayCalendar]  # (the queue's days, the default days): part of each fact


def day_starts(keys: DayKeys, scopes: tuple[str, ...] | list[str], t_ms: int) -> tuple[int, ...]:
    """Day start of each scope at ``t_ms``: the queue's local days for queue-bound scopes, the default days else.

    Called only when a fact is expanded into buckets: most facts of a contact do not change from one event to
    the next, so most are never expanded. (Calendars hash by identity: each config keeps one per zone.)
    """
    queue_days, default_days = keys
    default = default_days.start(t_ms)
    if queue_days is default_days:
        return (default,) * len(scopes)
    queue = queue_days.start(t_ms)
    return tuple(queue if s.startswith(_QUEUE_DAYS) else default for s in scopes)


@dataclass(slots=True)
class Contribution:
    """What one record adds. ``facts`` are kept compact and expanded into totals and buckets by the
    aggregates only where a contact's old and new facts differ (most do not change from one event to the next).
    ``totals`` and ``buckets`` hold figures that are already aggregated (retired totals, agents' time in state)."""

    facts: list[Fact] = field(default_factory=list)
    totals: dict[str, Counters] = field(default_factory=dict)
    buckets: dict[BucketKey, Counters] = field(default_factory=dict)
    live: dict[str, Counters] = field(default_factory=dict)  # gauges now
    oldest: dict[tuple[str, str], int] = field(default_factory=dict)  # (scope, "waiting"/"queued") -> since
    clocks: dict[str, list[Clock]] = field(default_factory=dict)  # running SLA clocks per scope
    day_keys: DayKeys | None = None  # None: no day buckets

    def add(self, scopes: tuple[str, ...] | list[str], t_ms: int, counters: Counters) -> None:
        """Count ``counters`` at event time ``t_ms`` in every scope (totals, minute, quarter and day buckets;
        light scopes only the day buckets)."""
        self.facts.append((t_ms, tuple(scopes), tuple(counters.items()), self.day_keys))

    def gauge(self, scopes: tuple[str, ...] | list[str], counters: Counters) -> None:
        for scope in scopes:
            add(self.live.setdefault(scope, {}), counters)

    def all_totals(self) -> dict[str, Counters]:
        """Window ``all`` per scope: the facts and the pre-aggregated totals together (light scopes have none)."""
        out = {scope: dict(c) for scope, c in self.totals.items()}
        for _, scopes, items, _ in self.facts:
            counters = dict(items)
            for scope in scopes:
                if not is_light(scope):
                    add(out.setdefault(scope, {}), for_scope(scope, counters))
        return out

    def totals_of(self, scope: str) -> Counters:
        """``all_totals().get(scope, {})`` without the other scopes' sums (a contact row needs ``all`` only)."""
        out = dict(self.totals.get(scope, {}))
        if not is_light(scope):
            for _, scopes, items, _ in self.facts:
                if scope in scopes:
                    add(out, for_scope(scope, dict(items)))
        return out

    def day_buckets(self) -> dict[BucketKey, Counters]:
        """The day buckets of the facts (and of ``buckets``), per (scope, "d", day start)."""
        out = {key: dict(c) for key, c in self.buckets.items() if key[1] == "d"}
        for t, scopes, items, day_keys in self.facts:
            if day_keys is None:
                continue
            part = daily(dict(items))
            if not part:
                continue
            for scope, start in zip(scopes, day_starts(day_keys, scopes, t)):
                counters = for_scope(scope, part)
                if counters:
                    add(out.setdefault((scope, "d", start), {}), counters)
        return out

    def retained(self) -> Contribution:
        """What stays of a retired contact: its totals and its day buckets (minute and quarter buckets, gauges and
        clocks go). The partition's retired record keeps the same (``fold_retired``)."""
        return Contribution(totals=self.all_totals(), buckets=self.day_buckets())


EMPTY = Contribution()


def fold_retired(
    record: dict | None, partition: int, through_ms: int, contributions: list[Contribution], keep_days_from_ms: int
) -> dict:
    """The partition's ``retired#<p>`` record with ``contributions`` folded in: totals per scope, and day buckets
    per scope (those starting before ``keep_days_from_ms`` are dropped, so the record stays bounded)."""
    record = record or {"p": partition, "through_ms": 0, "totals": {}}
    totals = {scope: dict(c) for scope, c in record["totals"].items()}
    days = {
        scope: {start: dict(c) for start, c in by_day.items() if int(start) >= keep_days_from_ms}
        for scope, by_day in record.get("days", {}).items()
    }
    for contrib in contributions:
        for scope, counters in contrib.all_totals().items():
            add(totals.setdefault(scope, {}), counters)
        for (scope, _, start), counters in contrib.day_buckets().items():
            if start >= keep_days_from_ms:
                add(days.setdefault(scope, {}).setdefault(str(start), {}), counters)
    out = {"p": partition, "through_ms": max(through_ms, record["through_ms"]), "totals": totals}
    days = {scope: by_day for scope, by_day in days.items() if by_day}
    if days:
        out["days"] = days
    return out


def retired_contribution(record: dict | None) -> Contribution:
    """The retired record as a contribution, for a rebuild: its totals and its day buckets."""
    if record is None:
        return Contribution()
    return Contribution(
        totals=record.get("totals", {}),
        buckets={
            (scope, "d", int(start)): counters
            for scope, by_day in record.get("days", {}).items()
            for start, counters in by_day.items()
        },
    )
