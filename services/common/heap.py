"""The cyclic garbage collector in processes that hold large, long-lived state (the API's read model, the
aggregator's contact table and aggregates): what ``gc.freeze()`` leaves to tune.

After a freeze few objects count as long-lived, and CPython starts a full collection whenever those that survived
since outnumber a quarter of them: every second or two under load, each walking every object not frozen (0.1-0.3 s
of the whole API during a herd of stream clients, ``bench/stream.py``; about a tenth of an aggregator worker's time
on a backlog of 250,000 events, ``bench/aggregator_kafka.py``). Full collections then wait for
``FULL_COLLECTION_AFTER`` young ones instead of CPython's 10: only garbage in reference cycles waits longer to be
freed; reference counting frees everything else at once.
"""

from __future__ import annotations

import gc

FULL_COLLECTION_AFTER = 1_000


def settle() -> None:
    """Collect what is garbage now, move every object still alive out of the collector's reach (``gc.freeze``),
    and make full collections rare."""
    gc.collect()
    gc.freeze()
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, FULL_COLLECTION_AFTER)
