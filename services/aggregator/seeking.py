"""Stream partitions that were never committed start at the beginning after every recovery, not wherever the client
happened to be.

Faust ends each recovery by seeking every stream partition to its committed offset (``Consumer.perform_seek``),
through aiokafka's ``seek_to_committed``, which seeks only partitions that have a committed offset above 0. A
partition whose previous owner died before its first commit keeps the position the client had reached: records it
fetched while the recovery ran, and Faust dropped, are behind that position and never handled. Seen in CI: a worker
SIGKILLed 1.5 s after it started, restarted, stood at the high-water mark of every partition with nothing read, and
its figures stayed short for good (the watchdog's stall line: status CONSUMING, position = high-water). Kafka's
``auto_offset_reset="earliest"``, Faust's default, means the beginning for such a partition; this makes it so.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import faust

log = logging.getLogger(__name__)


def rewind_uncommitted(app: faust.App, topic: str) -> None:
    """After each ``seek_to_committed`` of ``app``'s consumer, seek ``topic``'s partitions with no committed offset
    to their beginning."""
    consumer: Any = app.consumer
    seek_to_committed: Callable[[], Awaitable[Mapping[Any, int | None]]] = consumer.seek_to_committed

    async def seek_to_committed_or_beginning() -> Mapping[Any, int | None]:
        committed = await seek_to_committed()
        uncommitted = sorted(
            (tp for tp, offset in committed.items() if tp.topic == topic and not offset), key=lambda tp: tp.partition
        )
        if uncommitted:
            await consumer._thread.seek_to_beginning(*uncommitted)  # aiokafka's partitions, as it gave them
            log.info(
                "partitions %s of %s have no committed offset: read from their beginning",
                [tp.partition for tp in uncommitted],
                topic,
            )
        return committed

    consumer.seek_to_committed = seek_to_committed_or_beginning
