"""Synthetic contact-center traffic: contacts that arrive, get assigned, answered, solved, sometimes reopened.

Pure and seeded: ``history(rng, start_ms, contacts)`` returns a list of canonical event documents in event
time order, so tests and demos are reproducible. ``LiveTraffic`` schedules the same kind of lifecycles
against a clock for the demo, and ``LivePresence`` the agents' changes of state.
"""

from __future__ import annotations

import heapq
import itertools
import random
import zlib
from dataclasses import dataclass, field
from typing import Any

from services.common.events import SCHEMA_ID, from_epoch_ms, to_epoch_ms

QUEUES = {
    "zendesk": ["billing", "technical", "vip"],
    "intercom": ["sales-chat", "support-chat"],
    "twilio": ["phone-support"],
}
CHANNELS = {"zendesk": "email", "intercom": "chat", "twilio": "voice"}
AGENTS = {platform: [f"{platform[:2]}-agent-{i:02d}" for i in range(1, 7)] for platform in QUEUES}
# Issue tags (docs/kpis.md "Categories"); chosen by a hash of the contact id, not the rng, so adding them left
# every other random draw (and so every seeded history) as it was.
TAGS = ("billing", "refund", "login", "bug", "how-to", "complaint", "shipping")


def _tags(contact: str, salt: str = "") -> list[str]:
    h = zlib.crc32((salt + contact).encode())
    return [TAGS[h % len(TAGS)]] + (["vip"] if h % 11 == 0 else [])


def _retagged(contact: str) -> bool:
    """One contact in five is re-tagged by the agent when solved."""
    return zlib.crc32(contact.encode()) % 5 == 0


def _event(counter: itertools.count, kind: str, t_ms: int, platform: str, contact: str, **fields: Any) -> dict:
    doc = {
        "schema": SCHEMA_ID,
        "event_id": f"syn-{platform}-{contact}-{next(counter)}",
        "type": kind,
        "occurred_at": from_epoch_ms(t_ms),
        "platform": platform,
        "contact_id": contact,
    }
    doc.update(fields)
    return doc


def lifecycle(
    rng: random.Random, counter: itertools.count, created_ms: int, platform: str, contact: str, speed: float = 1.0
) -> list[dict]:
    """Every event of one contact's life, starting at ``created_ms``. ``speed`` > 1 compresses the delays."""
    queue = rng.choice(QUEUES[platform])
    channel = CHANNELS[platform]
    agent = rng.choice(AGENTS[platform])
    scale = 1.0 / speed
    live = channel in ("chat", "voice")
    t = created_ms
    events = [
        _event(
            counter,
            "contact.created",
            t,
            platform,
            contact,
            queue_id=queue,
            channel=channel,
            priority=rng.choice(["low", "normal", "normal", "high", "urgent"]),
            status="new",
            attributes={"tags": _tags(contact)},
        )
    ]
    if live:
        events.append(_event(counter, "contact.queued", t, platform, contact, queue_id=queue))
        wait = int(rng.expovariate(1 / 40_000) * scale) + 1
        if rng.random() < 0.12:  # the customer gives up in the queue, some of them quickly
            t += wait if rng.random() < 0.6 else int(rng.uniform(500, 4_000) * scale) + 1
            events.append(_event(counter, "contact.abandoned", t, platform, contact))
            return events
        t += wait
        events.append(_event(counter, "contact.connected", t, platform, contact, agent_id=agent))
        t += int(rng.uniform(60_000, 600_000) * scale)  # talk / chat
        events.append(_event(counter, "contact.status_changed", t, platform, contact, status="closed", agent_id=agent))
        _maybe_rate(rng, counter, events, t, platform, contact, scale)
        return events
    events.append(_event(counter, "contact.message", t + 1, platform, contact, author="customer", public=True))
    if rng.random() < 0.08:  # some contacts are never picked up while we watch
        return events
    t += int(rng.uniform(2_000, 120_000) * scale)
    events.append(_event(counter, "contact.assigned", t, platform, contact, agent_id=agent, queue_id=queue))
    if rng.random() < 0.1:  # assigned, still waiting for a first response
        return events
    t += int(rng.expovariate(1 / 240_000) * scale) + 1
    events.append(_event(counter, "contact.message", t, platform, contact, agent_id=agent, author="agent", public=True))
    if rng.random() < 0.3:  # the customer writes back and gets a next reply
        t += int(rng.uniform(30_000, 300_000) * scale)
        events.append(_event(counter, "contact.message", t, platform, contact, author="customer", public=True))
        if rng.random() < 0.3:
            t += int(rng.uniform(1_000, 60_000) * scale)
            events.append(_event(counter, "contact.message", t, platform, contact, author="customer", public=True))
        if rng.random() < 0.2:
            return events  # still awaiting the next reply
        t += int(rng.expovariate(1 / 300_000) * scale) + 1
        events.append(
            _event(counter, "contact.message", t, platform, contact, agent_id=agent, author="agent", public=True)
        )
    if rng.random() < 0.15:
        return events  # answered, conversation still going
    if rng.random() < 0.2:
        t += int(rng.uniform(10_000, 60_000) * scale)
        events.append(_event(counter, "contact.status_changed", t, platform, contact, status="pending"))
    t += int(rng.uniform(30_000, 900_000) * scale)
    events.append(
        _event(
            counter,
            "contact.status_changed",
            t,
            platform,
            contact,
            status="solved",
            agent_id=agent,
            **({"attributes": {"tags": _tags(contact, "re")}} if _retagged(contact) else {}),
        )
    )
    if rng.random() < 0.12:  # customer writes back: reopened, then solved again
        t += int(rng.uniform(60_000, 600_000) * scale)
        events.append(_event(counter, "contact.status_changed", t, platform, contact, status="open"))
        t += int(rng.uniform(60_000, 600_000) * scale)
        events.append(_event(counter, "contact.status_changed", t, platform, contact, status="solved"))
    _maybe_rate(rng, counter, events, t, platform, contact, scale)
    if rng.random() < 0.5:
        t += int(rng.uniform(60_000, 600_000) * scale)
        events.append(_event(counter, "contact.status_changed", t, platform, contact, status="closed"))
    return events


def _maybe_rate(rng, counter, events, t, platform, contact, scale) -> None:
    if rng.random() < 0.45:
        t += int(rng.uniform(60_000, 1_800_000) * scale)
        if rng.random() < 0.25:  # an NPS-style 0-10 survey
            score = rng.choice([10, 9, 9, 8, 7, 6, 3, 10])
            label = "good" if score >= 9 else "bad" if score <= 6 else "neutral"
            rating = {"label": label, "score": score, "scale_max": 10}
        else:
            label = rng.choice(["good", "good", "good", "good", "bad", "neutral"])
            rating = {"label": label, "score": {"good": 5, "neutral": 3, "bad": 1}[label], "scale_max": 5}
        events.append(_event(counter, "contact.rated", t, platform, contact, rating=rating))


def agent_shifts(rng: random.Random, start_ms: int, end_ms: int) -> list[dict]:
    """Presence changes of every synthetic agent between two instants."""
    counter = itertools.count(1)
    events = []
    for platform, agents in AGENTS.items():
        for agent in agents:
            t = start_ms + int(rng.uniform(0, 600_000))
            while t < end_ms:
                state = rng.choice(["available", "available", "busy", "busy", "away", "offline"])
                events.append(
                    {
                        "schema": SCHEMA_ID,
                        "event_id": f"syn-{platform}-{agent}-state-{next(counter)}",
                        "type": "agent.state_changed",
                        "occurred_at": from_epoch_ms(t),
                        "platform": platform,
                        "agent_id": agent,
                        "state": state,
                        "attributes": {"raw_state": state.title()},
                    }
                )
                t += int(rng.expovariate(1 / 900_000)) + 1_000
    return events


def history(rng: random.Random, start_ms: int, contacts: int, mean_gap_ms: int = 20_000) -> list[dict]:
    """``contacts`` lifecycles arriving as a Poisson process from ``start_ms``, all events in time order."""
    counter = itertools.count(1)
    events: list[dict] = []
    t = start_ms
    for n in range(contacts):
        t += int(rng.expovariate(1 / mean_gap_ms))
        platform = rng.choice(list(QUEUES))
        events.extend(lifecycle(rng, counter, t, platform, f"c{n:05d}"))
    events.sort(key=lambda e: e["occurred_at"])
    return events


@dataclass
class LiveTraffic:
    """Lifecycles scheduled against a clock, for the demo: ``due(now_ms)`` returns the events now due."""

    rng: random.Random
    arrivals_per_minute: float = 30.0
    speed: float = 20.0  # lifecycles run this many times faster than real time
    _queue: list[tuple[int, int, dict]] = field(default_factory=list)
    _counter: itertools.count = field(default_factory=lambda: itertools.count(1))
    _contacts: itertools.count = field(default_factory=lambda: itertools.count(1))
    _next_arrival_ms: int | None = None

    def due(self, now_ms: int) -> list[dict]:
        if self._next_arrival_ms is None:
            self._next_arrival_ms = now_ms
        while self._next_arrival_ms <= now_ms:
            platform = self.rng.choice(list(QUEUES))
            contact = f"live{next(self._contacts):06d}"
            for event in lifecycle(self.rng, self._counter, self._next_arrival_ms, platform, contact, self.speed):
                heapq.heappush(self._queue, (to_epoch_ms(event["occurred_at"]), next(self._counter), event))
            self._next_arrival_ms += int(self.rng.expovariate(self.arrivals_per_minute / 60_000)) + 1
        out = []
        while self._queue and self._queue[0][0] <= now_ms:
            out.append(heapq.heappop(self._queue)[2])
        return out


STATES = ("available", "available", "busy", "busy", "busy", "away", "offline")  # a floor mostly at work
HELD_AT_LOGIN_MS = 120_000  # how long at least the agents found away or offline at the start stay so


@dataclass
class LivePresence:
    """Every synthetic agent's presence against a clock, for the demo: logged in at the start, then a change of
    state every ``mean_s`` seconds on average per agent (``due(now_ms)``: the changes now due)."""

    rng: random.Random
    mean_s: float = 90.0
    _next: dict[tuple[str, str], int] = field(default_factory=dict)
    _counter: itertools.count = field(default_factory=lambda: itertools.count(1))
    _logins: list[str] = field(default_factory=list)  # the first states, drawn once: a floor has every state

    def _first_state(self) -> str:
        """At login, as on a floor at any moment: most agents available or busy, some on a break, some not in yet
        (one of each at least, so the board shows every state from the start)."""
        if not self._logins:
            agents = sum(len(a) for a in AGENTS.values())
            rest = [self.rng.choice(("available", "available", "busy", "busy", "away")) for _ in range(agents - 2)]
            self._logins = ["away", "offline", *rest]
            self.rng.shuffle(self._logins)
        return self._logins.pop()

    def due(self, now_ms: int) -> list[dict]:
        out = []
        for platform, agents in AGENTS.items():
            for agent in agents:
                at = self._next.get((platform, agent), now_ms)
                if at > now_ms:
                    continue
                first = (platform, agent) not in self._next
                state = self._first_state() if first else self.rng.choice(STATES)
                out.append(
                    {
                        "schema": SCHEMA_ID,
                        "event_id": f"syn-{platform}-{agent}-live-{next(self._counter)}-{at}",
                        "type": "agent.state_changed",
                        "occurred_at": from_epoch_ms(at),
                        "platform": platform,
                        "agent_id": agent,
                        "state": state,
                        "attributes": {"raw_state": state.title()},
                    }
                )
                wait = int(self.rng.expovariate(1 / (self.mean_s * 1000))) + 1_000
                if first and state in ("away", "offline"):
                    wait += HELD_AT_LOGIN_MS  # on a break, or not in yet: the board shows every state from the start
                self._next[(platform, agent)] = at + wait
        return out
