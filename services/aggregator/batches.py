"""The aggregator's batch step: a batch of events-topic messages through the engine, then onto the changelog.

Each batch is parsed and handed to the engine event by event; the engine reads and writes records through the
``WriteBack`` buffer, which is flushed once at the end of the batch, so each record a batch touched is written to
the contact table's changelog once (see ``writeback.py``; the sink is ``LocalState.write``). Events are
acknowledged by Faust after their batch is processed and its changelog writes are acknowledged, so a crash replays
the batch; the engine deduplicates, which makes that harmless.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter as Counter_
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Any

import orjson
from prometheus_client import Counter

from services.aggregator.engine import Engine
from services.aggregator.writeback import WriteBack
from services.common.clock import Clock
from services.common.events import EventValidationError, parse_event

log = logging.getLogger(__name__)

LATE_OUTCOMES = ("late", "retired_late")  # the outcomes also counted in deskpulse_late_events_total


# Faust take generators left with a batch unfinished, kept alive until the process ends (``each_batch``).
_UNFINISHED: list[AsyncIterator[Any]] = []


async def each_batch(
    taken: AsyncIterator[list[Any]], handle: Callable[[list[Any]], Awaitable[None]], stream: Any = None
) -> None:
    """``handle`` every batch of ``taken`` (``stream.take_events``, Faust's), one at a time.

    Faust acknowledges a batch's events in a ``finally`` around its ``yield``: when the next batch is asked for,
    or when the generator is closed, which ``Stream.on_stop`` does to every such generator it tracks as the agent
    stops, and the garbage collector to one left behind. An agent cancelled in the middle of a batch (a worker
    stopping: Faust cancels its agents after a last wait for them that does not wait while it stops) had its
    unfinished batch acknowledged that way and committed as the consumer stopped, and the partitions' next owner
    resumed after events never counted (a worker leaving: figures short for good). So on cancellation the
    generator is taken off the stream's list and kept alive until the process ends: the batch stays
    unacknowledged, and its events are read again by whoever owns their partitions next.
    """
    in_hand = 0
    try:
        async for batch in taken:
            in_hand = len(batch)
            await handle(batch)
            in_hand = 0
    except asyncio.CancelledError:
        tracked = getattr(stream, "_active_agens", None)  # faust-streaming's Stream: the generators it closes
        if tracked is not None:
            tracked.discard(taken)
        _UNFINISHED.append(taken)
        if in_hand:
            log.info("stopped in the middle of a batch: its %d events stay unacknowledged, to be read again", in_hand)
        raise


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
