"""Rebuild on rebalance: the engine's per-partition aggregates follow the worker's assignment.

The aggregates are not changelogged (docs/architecture.md): after every rebalance or restart they are rebuilt from
the restored contact table, once Faust's table recovery has completed (in its recovery hook, before the streams
resume: ``on_recovered``). ``RebuildOnRebalance`` holds the rebalance
generation they were last built for and rebuilds them the first time it is asked in a newer one.
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from services.aggregator.engine import Engine
from services.common import heap
from services.common.clock import Clock

if TYPE_CHECKING:
    import faust

log = logging.getLogger(__name__)


def in_flux(app: faust.App) -> bool:
    """Whether ``app`` is rebalancing or its tables are still recovering: no rebuild meanwhile, and no batch once
    the rebalance's revocation is over (``Revocations``)."""
    return bool(app.rebalancing) or not app.tables.recovery.completed.is_set()  # type: ignore[attr-defined]


class Revocations:
    """Whether a rebalance's revocation is still under way.

    A rebalance starts with the revocation (``app.rebalancing`` turns true at once): Faust stops fetching, then
    waits until the agent has finished and acknowledged the events it already holds (``Consumer.wait_empty``),
    commits, and only then takes the new assignment and recovers it. A batch in hand during the revocation belongs
    to the assignment still in force and must go on: waiting for the rebalance to end there held the rebalance
    itself until the wait gave up (60 s, with the group's heartbeats failing meanwhile), and the batch then went on
    in the middle of the next phase (a worker leaving: figures short in the joining-and-leaving test). Faust sends
    ``on_partitions_revoked`` when its revocation is over; ``rebalancing_count`` numbers the rebalances.
    """

    def __init__(self, app: faust.App) -> None:
        self._app = app
        self.done_for = -1  # the rebalance whose revocation is over
        app.on_partitions_revoked.connect(self._revoked)

    async def _revoked(self, *args: object, **kwargs: object) -> None:
        self.done_for = self._app.rebalancing_count

    def under_way(self) -> bool:
        return bool(self._app.rebalancing) and self.done_for != self._app.rebalancing_count


class RebuildOnRebalance:
    """The rebalance generation the engine's aggregates were built for; ``ready`` rebuilds them when it is stale.

    ``app`` is the Faust app: ``ready`` reads its ``rebalancing``, ``rebalancing_count``,
    ``tables.recovery.completed`` and ``assignor.assigned_actives()``, nothing else.
    """

    def __init__(
        self,
        app: faust.App,
        engine: Engine,
        events_topic: str,
        clock: Clock,
        load: Callable[[set[int]], None] = lambda active: None,
    ) -> None:
        self._app = app
        self._engine = engine
        self._events_topic = events_topic
        self._clock = clock
        self._load = load  # brings the engine's table to the assigned partitions (LocalState.sync)
        self.built_for = -1  # the app's rebalancing_count at the last rebuild; -1: never built

    def on_recovered(self, active: set[int]) -> None:
        """Load the ``active`` partitions' records and rebuild their aggregates as soon as Faust's recovery of them
        is complete, before it resumes the streams (the table store's recovery hook).

        Both block the event loop (seconds for a large table): done here, no event is fetched meanwhile. Rebuilt
        in the first ``ready`` instead, the streams had resumed, the consumer's buffers filled during the rebuild
        and Faust's flow control left a partition paused for good (seen at 1M events of state).
        """
        self._rebuild(active, load=True)

    def _rebuild(self, active: set[int], load: bool = False) -> None:
        started = time.perf_counter()
        # Loading and rebuilding allocate millions of long-lived objects: the cyclic collector, run over and over
        # as they pile up, took three quarters of the load's CPU (7.5 s of 9.6 s for 207,725 records). Paused, then
        # everything built is frozen: later collections no longer walk it (15-28 % of the CPU at 200k contacts),
        # and full ones are rare (heap.settle).
        gc.disable()
        gc.unfreeze()
        try:
            if load:
                self._load(active)
            self._engine.rebuild(active, self._clock())
        finally:
            heap.settle()
            gc.enable()
        self.built_for = self._app.rebalancing_count
        log.info(
            "aggregates rebuilt for partitions %s in %.1f s (%d objects frozen)",
            sorted(active),
            time.perf_counter() - started,
            gc.get_freeze_count(),
        )

    def ready(self) -> bool:
        """True once table recovery has completed and the derived aggregates match the assignment.

        Called before every batch and every snapshot publication, on the event loop. The first call in a new
        rebalance generation that ``on_recovered`` did not build for rebuilds the aggregates of the partitions of the
        events topic assigned to this worker (synchronously: seconds for a large table); every later call in the
        same generation is a few attribute reads. False, without rebuilding, while a rebalance or the table's
        recovery is under way.
        """
        app = self._app
        if in_flux(app):
            return False
        if self.built_for != app.rebalancing_count:
            active = {tp.partition for tp in app.assignor.assigned_actives() if tp.topic == self._events_topic}
            self._rebuild(active)
        return True
