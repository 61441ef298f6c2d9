"""SLA policies and their clocks: pure functions over epoch ms, in calendar time or a business-hours calendar.

Nothing here reads the clock: callers pass ``now_ms``. ``deadline`` / ``clock_state`` give a clock's breach
instant and its state (running, at risk, breached, met, missed); the semantics are in ``docs/sla.md``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal, get_args

from services.domain.calendars import Calendar, add_business_ms, business_ms

Metric = Literal["first_response", "next_reply", "resolution"]
METRICS: tuple[Metric, ...] = get_args(Metric)
Status = Literal["running", "at_risk", "breached", "met", "missed"]

DEFAULT_AT_RISK = 0.8


@dataclass(frozen=True)
class Match:
    """Conditions of a policy; ``None`` = any value. A contact without the attribute fails a set condition."""

    platform: frozenset[str] | None = None
    queue: frozenset[str] | None = None
    priority: frozenset[str] | None = None
    channel: frozenset[str] | None = None

    def matches(self, platform: str | None, queue: str | None, priority: str | None, channel: str | None) -> bool:
        return all(
            allowed is None or value in allowed
            for allowed, value in (
                (self.platform, platform),
                (self.queue, queue),
                (self.priority, priority),
                (self.channel, channel),
            )
        )


@dataclass(frozen=True)
class Policy:
    """One SLA policy: targets in ms per metric (``None`` = no target), and the calendar if business hours apply."""

    name: str
    match: Match = field(default_factory=Match)
    first_response_ms: int | None = None
    next_reply_ms: int | None = None
    resolution_ms: int | None = None
    calendar: Calendar | None = None  # None: the clock runs in calendar time (24/7)
    at_risk: float = DEFAULT_AT_RISK

    def target_ms(self, metric: Metric) -> int | None:
        if metric not in METRICS:
            raise ValueError(f"unknown SLA metric {metric!r} (one of {', '.join(METRICS)})")
        return getattr(self, f"{metric}_ms")

    @property
    def business_hours(self) -> bool:
        return self.calendar is not None

    # Method forms of the module functions, matching the engine's ``SlaPolicy`` protocol (kpis.py).
    def deadline(self, metric: Metric, start_ms: int) -> int | None:
        """``deadline(self, metric, start_ms)``."""
        return deadline(self, metric, start_ms)

    def at_risk_at(self, metric: Metric, start_ms: int) -> int | None:
        """Instant a clock started at ``start_ms`` turns ``at_risk``; ``None`` without a target."""
        target = self.target_ms(metric)
        return None if target is None else _after(self, start_ms, _at_risk_ms(self, target))

    def business_ms(self, start_ms: int, end_ms: int) -> int:
        """``elapsed_ms(self, start_ms, end_ms)``: business ms under the calendar, else calendar ms."""
        return elapsed_ms(self, start_ms, end_ms)


@dataclass(frozen=True)
class ClockState:
    """One SLA clock at ``now_ms`` (or at its stop).

    ``elapsed_ms``/``remaining_ms`` are in the policy's time (business ms under a calendar, else calendar ms);
    ``remaining_ms = target_ms - elapsed_ms`` goes negative once over target (under business hours it only moves
    while open). ``breach_at_ms`` is the deadline instant for a clock that is still running (also once breached,
    then in the past) and ``None`` once stopped; time to breach in calendar time is ``breach_at_ms - now_ms``.
    """

    metric: Metric
    status: Status
    target_ms: int
    elapsed_ms: int
    remaining_ms: int
    breach_at_ms: int | None
    at_risk_at_ms: int | None
    business_hours: bool


def elapsed_ms(policy: Policy, start_ms: int, end_ms: int) -> int:
    """Time between two instants as the policy counts it (business ms under its calendar, else calendar ms)."""
    if policy.calendar is None:
        return max(0, end_ms - start_ms)
    return business_ms(policy.calendar, start_ms, end_ms)


def _after(policy: Policy, start_ms: int, amount_ms: int) -> int:
    if policy.calendar is None:
        return start_ms + amount_ms
    return add_business_ms(policy.calendar, start_ms, amount_ms)


def _at_risk_ms(policy: Policy, target_ms: int) -> int:
    return max(1, math.ceil(policy.at_risk * target_ms))


def deadline(policy: Policy, metric: Metric, start_ms: int) -> int | None:
    """Instant the ``metric`` target of a clock started at ``start_ms`` breaches; ``None`` if it has no target.

    Under business hours this is the first instant at which the target's business time has elapsed (Friday
    16:30 + 1 h under Mon–Fri 9–17 is Monday 09:30). A stop at the deadline itself still meets the target.
    """
    target = policy.target_ms(metric)
    return None if target is None else _after(policy, start_ms, target)


def clock_state(
    policy: Policy, metric: Metric, start_ms: int, now_ms: int, stopped_at_ms: int | None = None
) -> ClockState | None:
    """State of an SLA clock, or ``None`` when the policy sets no target for ``metric``.

    Running (``stopped_at_ms`` is ``None``): ``breached`` once ``now_ms`` is past the deadline, ``at_risk`` once
    ``at_risk`` × target has elapsed, else ``running``. Stopped: ``met`` if it stopped at or before the deadline,
    else ``missed``; ``now_ms`` is then irrelevant.
    """
    target = policy.target_ms(metric)
    if target is None:
        return None
    due = _after(policy, start_ms, target)
    business = policy.business_hours
    if stopped_at_ms is not None:
        spent = elapsed_ms(policy, start_ms, stopped_at_ms)
        status: Status = "met" if stopped_at_ms <= due else "missed"
        return ClockState(metric, status, target, spent, target - spent, None, None, business)
    risk_at = _after(policy, start_ms, _at_risk_ms(policy, target))
    spent = elapsed_ms(policy, start_ms, now_ms)
    if now_ms > due:
        status = "breached"
    elif now_ms >= risk_at:
        status = "at_risk"
    else:
        status = "running"
    return ClockState(metric, status, target, spent, target - spent, due, risk_at, business)
