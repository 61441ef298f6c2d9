"""The deduplication cache of one ingest process: the event ids Kafka acknowledged most recently.

An immediate redelivery of ids that are all in it is answered 200 without publishing again. It is an optimisation
only: the aggregator deduplicates by event id regardless (docs/architecture.md), so a process restart or an
evicted id costs a duplicate record on Kafka, never a wrong figure.
"""

from __future__ import annotations

from collections import OrderedDict


class RecentIds:
    """Event ids acknowledged recently (bounded LRU), so an immediate redelivery is answered 200 unpublished.

    Only ids Kafka acknowledged are remembered; a delivery that failed is never mistaken for a duplicate. A size
    of 0 (DESKPULSE_DEDUPE_CACHE_SIZE=0) remembers nothing.
    """

    def __init__(self, size: int) -> None:
        self._size = size
        self._ids: OrderedDict[str, None] = OrderedDict()

    def all_seen(self, ids: list[str]) -> bool:
        """True if ``ids`` is not empty and every id in it is remembered. Does not refresh them."""
        return self._size > 0 and bool(ids) and all(i in self._ids for i in ids)

    def remember(self, ids: list[str]) -> None:
        """Remember ``ids`` as the most recent, forgetting the least recent beyond the size."""
        if self._size == 0:
            return
        for i in ids:
            self._ids[i] = None
            self._ids.move_to_end(i)
        while len(self._ids) > self._size:
            self._ids.popitem(last=False)
