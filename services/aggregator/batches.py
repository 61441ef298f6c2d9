"""The aggregator's batch step: a batch of events-topic messages through the engine, then onto the changelog.

Each batch is parsed and handed to the engine event by event; the engine reads and writes records through the
``WriteBack`` buffer, which is flushed once at the end of the batch, so each record a batch touched is written to
the contact table's changelog once (see ``writeback.py``; the sink is ``LocalState.write``). Events are
acknowledged by Faust after their batch is processed and its changelog writes are acknowledged, so a crash replays
the batch; the engine deduplicates, which makes that harmless.
"""

from __future__ import annotations

import logging
from collections import Counter as Counter_
from collections.abc import Callable, Iterable
from typing import Any

import orjson
from prometheus_client import Counter

from services.aggregator.engine import Engine
from services.aggregator.writeback import WriteBack
from services.common.clock import Clock
from services.common.events import EventValidationError, parse_event

log = logging.getLogger(__name__)

LATE_OUTCOMES = ("late", "retired_late")  # the outcomes also counted in deskpulse_late_events_total


class BatchStep:
    """What processing one batch needs: the engine, the write-back buffer over the contact table and its sink,
    the readiness check (which rebuilds after a rebalance), the wall clock and the outcome counters.

    ``events`` is ``deskpulse_aggregator_events_total{outcome}`` and ``late`` ``deskpulse_late_events_total{kind}``.
    """

    def __init__(
        self,
        engine: Engine,
        table: WriteBack,
        sink: Callable[[str, dict | None, int], None],
        ready: Callable[[], bool],
        clock: Clock,
        *,
        events: Counter,
        late: Counter,
    ) -> None:
        self._engine = engine
        self._table = table
        self._sink = sink
        self._ready = ready
        self._clock = clock
        self._events = events
        self._late = late

    def process(self, batch: Iterable[Any]) -> Counter_[str]:
        """Apply one batch of Faust events (``.value``: the JSON bytes; ``.message``: partition and offset).

        Called by the agent for each batch, on the event loop; does no I/O of its own beyond handing the
        changelog writes to the sink. Never raises for a bad message: one that is not a valid canonical event
        (a foreign writer; ingest validates) is skipped, logged and counted as ``invalid``. Returns the number of
        events per outcome.
        """
        self._ready()
        now = self._clock()
        outcomes: Counter_[str] = Counter_()
        for message in batch:
            try:
                event = parse_event(orjson.loads(message.value))
            except (ValueError, EventValidationError) as exc:
                # Ingest validates, so this is a foreign writer: skip it, visibly, rather than stall.
                outcomes["invalid"] += 1
                log.warning(
                    "skipping invalid event at partition %d offset %d: %s",
                    message.message.partition,
                    message.message.offset,
                    exc,
                )
                continue
            outcomes[self._engine.handle(message.message.partition, event, now)] += 1
        self._table.flush(self._sink)
        for outcome, n in outcomes.items():
            self._events.labels(outcome).inc(n)
            if outcome in LATE_OUTCOMES:
                self._late.labels(outcome).inc(n)
        return outcomes
