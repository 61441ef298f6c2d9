"""A stalled stream, said in the log: events waiting on an assigned partition while no batch is handled.

Written to find why a worker restarted after a SIGKILL came out short of the recomputation about once in ten runs
(docs/performance.md, "A batch ahead of the hook"): it logged the batch Faust had handed over before the recovery
hook. ``Watchdog`` keeps such things visible where an operator looks, once per episode each: a stall (events wait
on an assigned partition, no batch handled for ``after_s``; with the read and high-water offsets, paused and
buffer-full state of each partition, what aiokafka's fetcher keeps for it, and whether the agent waits for the
changelog) and its end; a worker not ready for ``after_s``; a batch handled before Faust reported the recovery
complete (harmless since batches wait for their partitions' records: ``LocalState.loaded``). It changes nothing
in the worker.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aiokafka import TopicPartition

if TYPE_CHECKING:
    import faust

log = logging.getLogger(__name__)


class Watchdog:
    """When the agent last handled a batch, and whether it is waiting for the changelog now."""

    def __init__(
        self,
        app: faust.App,
        events_topic: str,
        ready: Callable[[], bool],
        after_s: float = 30.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._app = app
        self._topic = events_topic
        self._ready = ready
        self._after_s = after_s
        self._monotonic = monotonic
        self.last_batch = monotonic()
        self.flushing = False  # the agent awaits the changelog's acknowledgements
        self._stalled_since: float | None = None
        self.last_ready = monotonic()
        self._unready_since: float | None = None
        self._unready_batch_logged = -1  # the rebalance generation a batch handled while not ready was logged for

    def readiness(self) -> str:
        """What ``ready`` reads, for a log line."""
        app: Any = self._app
        return (
            f"rebalancing {app.rebalancing} (generation {app.rebalancing_count}), recovery completed "
            f"{app.tables.recovery.completed.is_set()}, in recovery {app.in_recovery}"
        )

    def batch_done(self, events: int = 0) -> None:
        now = self._monotonic()
        if self._stalled_since is not None:
            log.info("events flow again after a stall of %.0f s", now - self._stalled_since)
            self._stalled_since = None
        self.last_batch = now
        generation = self._app.rebalancing_count
        if not self._ready() and self._unready_batch_logged != generation:
            self._unready_batch_logged = generation
            log.info(
                "a batch of %d events was handled before the recovery was reported complete: %s",
                events,
                self.readiness(),
            )

    def partitions(self) -> dict[int, dict[str, Any]]:
        """Per assigned partition of the events topic: read and high-water offsets, paused, buffer full."""
        consumer: Any = self._app.consumer
        paused, buffered = consumer._paused_partitions, consumer._buffered_partitions  # Faust's own bookkeeping
        active = consumer._active_partitions or set()
        out = {}
        for tp in consumer.assignment():
            if tp.topic != self._topic:
                continue
            out[tp.partition] = {
                "read": consumer._read_offset.get(tp),
                "highwater": consumer.highwater(tp),
                "paused": tp in paused,
                "buffer_full": tp in buffered,
                "fetching": tp in active,
            }
        return dict(sorted(out.items()))

    def check(self) -> bool:
        """Log a stall once: ready, no batch for ``after_s``, and an event waiting on some partition. True while
        stalled."""
        now = self._monotonic()
        if not self._ready():
            if self._unready_since is None and now - self.last_ready >= self._after_s:
                self._unready_since = self.last_ready
                log.warning("not ready for %.0f s: %s", now - self.last_ready, self.readiness())
            return False
        if self._unready_since is not None:
            log.info("ready again after %.0f s", now - self._unready_since)
            self._unready_since = None
        self.last_ready = now
        if now - self.last_batch < self._after_s:
            return False
        partitions = self.partitions()
        waiting = {
            p: s
            for p, s in partitions.items()
            if s["highwater"] is not None and (-1 if s["read"] is None else s["read"]) + 1 < s["highwater"]
        }
        if not waiting:
            return False
        if self._stalled_since is None:
            self._stalled_since = self.last_batch
            consumer: Any = self._app.consumer
            log.warning(
                "no event handled for %.0f s while events wait on partitions %s: %s; flow active %s, in recovery "
                "%s, agent waiting for the changelog %s; aiokafka's view: %s",
                now - self.last_batch,
                sorted(waiting),
                partitions,
                consumer.flow_active,
                self._app.in_recovery,
                self.flushing,
                self.fetch_states(sorted(waiting)),
            )
        return True

    def fetch_states(self, partitions: list[int]) -> dict[Any, Any]:
        """Per partition of the events topic, the state aiokafka's fetcher keeps (status, position, paused,
        reset strategy): whether the client under Faust still means to fetch it. A restarted worker was once
        seen with Faust's side ready and nothing read for minutes (CI, 2026-12-07)."""
        try:
            consumer: Any = self._app.consumer
            client = consumer._thread._ensure_consumer()  # Faust's aiokafka consumer (in a thread of its own)
            assignment = client._subscription.subscription.assignment
        except Exception as exc:  # internals of the libraries: said, never fatal
            return {"unavailable": repr(exc)}
        out: dict[Any, Any] = {}
        for partition in partitions:
            state = assignment.state_value(TopicPartition(self._topic, partition))
            out[partition] = (
                None
                if state is None
                else {
                    "status": getattr(state._status, "name", state._status),
                    "position": state._position,
                    "paused": state.paused,
                    "reset": state._reset_strategy,
                }
            )
        return out
