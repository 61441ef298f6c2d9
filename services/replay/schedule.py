"""The pure timing logic of ``deskpulse replay``: order, limit, which events are due when, and rebasing.

The I/O loop (``services/commands/replay.py``) only asks :meth:`Schedule.due` how many of the ordered events are
due after ``elapsed`` seconds of wall time and :meth:`Schedule.wait_s` how long to sleep until the next one.

- ``speed`` compresses time: at 3600 one hour of history is sent per second of wall time; 0 means as fast as
  possible (everything is due at once).
- ``rebase`` shifts every event time by one constant so that the last event carries the wall-clock time at
  which it is due: with ``speed`` 0 the replayed history ends at the moment the replay starts, with a timed
  replay it ends the moment the replay ends. Relative times within the log (response times, resolution
  times) are unchanged, and with ``speed`` ≥ 1 no event carries a time later than the moment it is sent.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from services.common.events import to_epoch_ms
from services.replay.documents import utc_ms_text


@dataclass(frozen=True, slots=True)
class Schedule:
    times_ms: tuple[int, ...]  # original event times, non-decreasing
    speed: float  # 0: no waiting
    shift_ms: int  # added to every event time on the way out (0 without rebase)

    @property
    def first_ms(self) -> int | None:
        return self.times_ms[0] if self.times_ms else None

    @property
    def span_ms(self) -> int:
        return self.times_ms[-1] - self.times_ms[0] if self.times_ms else 0

    @property
    def duration_s(self) -> float:
        """Planned wall-clock length of the replay."""
        return self.span_ms / 1000 / self.speed if self.speed > 0 else 0.0

    def offset_s(self, index: int) -> float:
        """Seconds after the start at which event ``index`` is due."""
        if self.speed <= 0:
            return 0.0
        return (self.times_ms[index] - self.times_ms[0]) / 1000 / self.speed

    def due(self, elapsed_s: float, start: int = 0) -> int:
        """One past the last event due after ``elapsed_s`` seconds (events ``start:due`` are to be sent now)."""
        if not self.times_ms:
            return 0
        if self.speed <= 0:
            return len(self.times_ms)
        horizon = self.times_ms[0] + elapsed_s * 1000 * self.speed
        return bisect.bisect_right(self.times_ms, horizon, lo=start)

    def wait_s(self, elapsed_s: float, index: int) -> float:
        """How long to sleep before event ``index`` is due (0 if it is due, or there is none)."""
        if index >= len(self.times_ms):
            return 0.0
        return max(0.0, self.offset_s(index) - elapsed_s)


def make_schedule(times_ms: Sequence[int], *, speed: float, rebase: bool, now_ms: int) -> Schedule:
    """``times_ms`` must be non-decreasing; ``now_ms`` is the wall-clock start of the replay (epoch ms)."""
    if speed < 0:
        raise ValueError("speed must be >= 0")
    times = tuple(times_ms)
    if any(b < a for a, b in pairwise(times)):
        raise ValueError("event times must be in non-decreasing order")
    schedule = Schedule(times, float(speed), 0)
    if rebase and times:
        end_ms = now_ms + round(schedule.duration_s * 1000)
        schedule = Schedule(times, float(speed), end_ms - times[-1])
    return schedule


def order(
    events: Iterable[dict[str, Any]], *, limit_contacts: int | None = None, since_ms: int | None = None
) -> tuple[list[dict], list[int]]:
    """The events of the whole log in event-time order, and their times (epoch ms).

    Ties keep the importer's order, so each contact's events stay in its own order. With ``since_ms`` only
    contacts created at or after that time are kept; with ``limit_contacts`` only the first N contacts by
    creation time (ties: file order). A kept contact keeps all its events.
    """
    keyed = [(to_epoch_ms(e["occurred_at"]), seq, e) for seq, e in enumerate(events)]
    keyed.sort(key=lambda item: (item[0], item[1]))
    if limit_contacts is not None or since_ms is not None:
        chosen: set[tuple[str, str]] = set()
        for t, _, e in keyed:
            if limit_contacts is not None and len(chosen) >= limit_contacts:
                break
            if e["type"] == "contact.created" and (since_ms is None or t >= since_ms):
                chosen.add((e["platform"], e["contact_id"]))
        keyed = [k for k in keyed if (k[2]["platform"], k[2]["contact_id"]) in chosen]
    return [e for _, _, e in keyed], [t for t, _, _ in keyed]


def shifted(event: dict[str, Any], event_ms: int, shift_ms: int) -> dict[str, Any]:
    """The event as sent: its time moved by ``shift_ms`` (a copy; the input is not modified)."""
    if not shift_ms:
        return event
    out = dict(event)
    out["occurred_at"] = utc_ms_text(event_ms + shift_ms)
    return out
