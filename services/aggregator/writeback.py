"""A write-back buffer over the record table, so a batch of events writes each touched record once.

The engine reads and writes records through a mapping. In the Faust worker every write to the table is a
changelog message; a contact that receives several events in one batch would be written several times. The
``WriteBack`` mapping keeps the batch's writes and deletions in memory (reads see them) and ``flush`` hands the
final state of each touched key to a sink, once.

Order at flush: every write first, then every deletion. Retirement relies on it: the ``retired#<partition>``
record (the totals of retired contacts) must be on the changelog before the deletions of those contacts, so a
crash part-way never loses them (see ``engine.py``). Writes among themselves need no order: each record is
self-contained.

Every record carries its partition in ``"p"``; the sink is told the partition so the changelog message goes to
the partition that owns the record (the events topic's partition it came from).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, MutableMapping
from typing import Any

_DELETED = object()

Sink = Callable[[str, dict | None, int], None]  # (key, record or None for a deletion, partition)


class WriteBack(MutableMapping[str, Any]):
    def __init__(self, table: MutableMapping[str, Any]) -> None:
        self.table = table
        self._pending: dict[str, Any] = {}
        self._partition: dict[str, int] = {}

    def __getitem__(self, key: str) -> Any:
        value = self._pending.get(key, self)
        if value is self:
            return self.table[key]
        if value is _DELETED:
            raise KeyError(key)
        return value

    def get(self, key: str, default: Any = None) -> Any:
        value = self._pending.get(key, self)
        if value is self:
            return self.table.get(key, default)
        return default if value is _DELETED else value

    def __setitem__(self, key: str, value: dict) -> None:
        self._pending[key] = value
        self._partition[key] = value["p"]

    def __delitem__(self, key: str) -> None:
        current = self.get(key)
        if current is None:
            raise KeyError(key)
        self._pending[key] = _DELETED
        self._partition[key] = current["p"]

    def __iter__(self) -> Iterator[str]:
        for key in self.table:
            if key not in self._pending:
                yield key
        for key, value in self._pending.items():
            if value is not _DELETED:
                yield key

    def __len__(self) -> int:
        return sum(1 for _ in self)

    @property
    def pending(self) -> int:
        """Keys written or deleted since the last flush."""
        return len(self._pending)

    def flush(self, sink: Sink) -> int:
        """Hand every pending write, then every pending deletion, to ``sink``; returns how many."""
        pending, self._pending = self._pending, {}
        partitions, self._partition = self._partition, {}
        deletions = []
        for key, value in pending.items():
            if value is _DELETED:
                deletions.append(key)
            else:
                sink(key, value, partitions[key])
        for key in deletions:
            sink(key, None, partitions[key])
        return len(pending)


def into(table: MutableMapping[str, Any]) -> Sink:
    """A sink that applies the writes to a plain mapping (tests, benchmarks)."""

    def sink(key: str, value: dict | None, partition: int) -> None:
        if value is None:
            table.pop(key, None)
        else:
            table[key] = value

    return sink
