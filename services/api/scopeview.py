"""One scope's figures as the API reads them: the partial snapshots of its partitions merged (``merge``), and the
window maths over the merged buckets (``ScopeView.counters``: a trailing window, ``today``, ``all``).

Pure: counters add up across partitions, the oldest waiting contact is the minimum, stream time is the newest.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

from services.domain.counters import total
from services.domain.snapshot import LIVE_MIN, add_buckets
from services.domain.windows import sum_buckets, window_start


@dataclass(frozen=True, eq=False)
class ScopeView:
    """One scope's figures over every partition. Immutable once built; the buckets are merged on first use
    (window ``all``, live figures and ``/metrics`` never need them)."""

    scope: str
    kind: str
    platform: str | None
    id: str | None
    totals: dict[str, int]  # window "all"
    live: dict[str, Any]
    agent: dict[str, Any] | None  # current state, for agent scopes
    stream_ms: int  # newest stream time among the partials, advanced by wall time since publication
    published_ms: int
    parts: tuple[dict[str, Any], ...] = field(default=(), repr=False)  # the partials, for the buckets
    # ``all`` only: events the aggregator refused for being too far in the future ({"n", "last"}), else None
    future: dict[str, Any] | None = None
    # queues and agents: the display name the platform's events gave (the newest partial that has one), else None
    name: str | None = None
    # the view this one is ``at`` another stream time: its buckets are merged once, there, and shared
    origin: ScopeView | None = field(default=None, repr=False)

    @cached_property
    def minutes(self) -> dict[int, dict[str, int]]:
        """One-minute buckets by start (ms)."""
        return self.origin.minutes if self.origin is not None else self._merged("minutes")

    @cached_property
    def quarters(self) -> dict[int, dict[str, int]]:
        """Fifteen-minute buckets by start (ms)."""
        return self.origin.quarters if self.origin is not None else self._merged("quarters")

    @cached_property
    def days(self) -> dict[int, dict[str, int]]:
        """Local-day buckets by start (ms): the per-day counters (``kpis.DAY_COUNTERS``), ~16 days."""
        return self.origin.days if self.origin is not None else self._merged("days")

    def _merged(self, level: str) -> dict[int, dict[str, int]]:
        out: dict[int, dict[str, int]] = {}
        for partial in self.parts:
            add_buckets(out, partial.get(level, {}))  # "days" is absent in partials of older aggregators
        return out

    def at(self, stream_ms: int) -> ScopeView:
        """This view at another stream time, sharing the merged buckets: they are merged on the first use of any
        such view and kept on the one the read model holds (a snapshot of every scope asks each view at the time
        of its build, so merging on the copy merged every scope's minutes again for every snapshot)."""
        if stream_ms == self.stream_ms:
            return self
        return replace(self, stream_ms=stream_ms, origin=self.origin or self)

    def counters(self, window: str, now_ms: int, today_start_ms: int | None = None) -> dict[str, int]:
        """Summed counters of ``window`` at ``now_ms`` (``today`` needs its local start)."""
        if window == "all":
            return self.totals
        if window == "today":
            return sum_buckets(self.quarters, today_start_ms or 0)
        level, start = window_start(window, now_ms)
        return sum_buckets(self.minutes if level == "m" else self.quarters, start)

    def window_from(self, window: str, now_ms: int, today_start_ms: int | None = None) -> int | None:
        if window == "all":
            return None
        if window == "today":
            return today_start_ms
        return window_start(window, now_ms)[1]


def merge(partials: list[dict[str, Any]], wall_ms: int) -> ScopeView:
    """Merge the partial snapshots of one scope (at least one): sums, and minima of "oldest" times."""
    first = partials[0]
    totals = dict(first["totals"]) if len(partials) == 1 else total(p["totals"] for p in partials)
    live: dict[str, Any] = {}
    agent = None
    agent_published = -1
    for partial in partials:
        for name, value in partial["live"].items():
            if name in LIVE_MIN:
                if value is not None and (live.get(name) is None or value < live[name]):
                    live[name] = value
                else:
                    live.setdefault(name, None)
            else:
                live[name] = live.get(name, 0) + value
        if partial.get("agent") and partial["published_ms"] > agent_published:
            agent, agent_published = partial["agent"], partial["published_ms"]
    stream = max(p["stream_ms"] + max(0, wall_ms - p["published_ms"]) for p in partials)
    refused = [p["future"] for p in partials if p.get("future")]
    future = (
        {
            "n": sum(f["n"] for f in refused),
            "last": max((f["last"] for f in refused), key=lambda last: last["refused_at_ms"]),
        }
        if refused
        else None
    )
    named = [p for p in partials if p.get("name")]
    return ScopeView(
        scope=first["scope"],
        kind=first["kind"],
        platform=first["platform"],
        id=first["id"],
        totals=totals,
        live=live,
        agent=agent,
        stream_ms=stream,
        published_ms=max(p["published_ms"] for p in partials),
        parts=tuple(partials),
        future=future,
        name=max(named, key=lambda p: p["published_ms"])["name"] if named else None,
    )
