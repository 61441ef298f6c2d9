"""Team goals on KPIs (``csat: ">= 0.90"``) and whether a measured value meets one (docs/sla.md, goals)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Literal

from services.domain.windows import DAY_KEEP_MS, DAY_MS

Op = Literal[">=", ">", "<=", "<"]

_GOAL = re.compile(r"^\s*(>=|<=|>|<)\s*([+-]?\d+(?:\.\d+)?)\s*(%?)\s*$", re.ASCII)


# KPIs the aggregator keeps per local day, so a goal over a period (``GoalPeriod``) can be measured to date.
DAY_GOAL_METRICS = frozenset({"csat", "first_response_seconds_avg", "one_touch_rate", "reopen_rate", "complaint_rate"})
MAX_PERIOD_DAYS = DAY_KEEP_MS // DAY_MS  # the local days the aggregator keeps (today and the 31 before)


@dataclass(frozen=True)
class GoalPeriod:
    """The T of a SMART goal: ``today``, ``week`` (the local calendar week, Monday to Sunday), ``month`` (the local
    calendar month) or a date range."""

    kind: Literal["today", "week", "month", "range"]
    first: date | None = None  # range: the first and last local day, both included
    last: date | None = None

    def days(self, today: date) -> tuple[date, date]:
        """(first, last) local day of the period that holds ``today`` (a range is what it says)."""
        if self.kind == "today":
            return today, today
        if self.kind == "week":
            monday = today - timedelta(days=today.weekday())
            return monday, monday + timedelta(days=6)
        if self.kind == "month":
            following = (today.replace(day=28) + timedelta(days=4)).replace(day=1)
            return today.replace(day=1), following - timedelta(days=1)
        assert self.first is not None and self.last is not None
        return self.first, self.last

    def __str__(self) -> str:
        if self.kind == "range":
            return f"{self.first}..{self.last}"
        return "today" if self.kind == "today" else f"this {self.kind}"


@dataclass(frozen=True)
class Goal:
    """A team target on one KPI, e.g. ``Goal("csat", ">=", 0.9)``. Ratios are fractions (``"90%"`` = 0.9).
    ``period``: a goal to meet over a period (attainment to date, and what the rest of it needs), else a goal every
    window is measured against."""

    metric: str
    op: Op
    target: float
    period: GoalPeriod | None = None

    @classmethod
    def parse(cls, metric: str, text: Any) -> Goal:
        m = _GOAL.match(text) if isinstance(text, str) else None
        if m is None:
            raise ValueError(f"invalid goal {text!r} (expected a comparison such as '>= 0.90', '<= 600' or '>= 90%')")
        target = float(m[2]) / (100 if m[3] else 1)
        return cls(metric, m[1], target)  # type: ignore[arg-type]

    def __str__(self) -> str:
        text = f"{self.metric} {self.op} {self.target:g}"
        return f"{text} ({self.period})" if self.period is not None else text


@dataclass(frozen=True)
class Attainment:
    """A measured value against a goal.

    ``gap`` is signed so that positive means better than the target whatever the direction: ``value - target``
    for ``>=``/``>`` goals and ``target - value`` for ``<=``/``<`` goals. ``met`` and ``gap`` are ``None`` when
    there is no value (no data: KPIS.md §8), never ``False``/``0``.
    """

    goal: Goal
    value: float | None
    met: bool | None
    gap: float | None


def attainment(goal: Goal, value: float | None) -> Attainment:
    """Whether ``value`` meets ``goal``, and by how much (see ``Attainment.gap``)."""
    if value is None:
        return Attainment(goal, None, None, None)
    if goal.op in (">=", ">"):
        gap = value - goal.target
        met = value >= goal.target if goal.op == ">=" else value > goal.target
    else:
        gap = goal.target - value
        met = value <= goal.target if goal.op == "<=" else value < goal.target
    return Attainment(goal, value, met, gap)
