"""Team goals on KPIs (``csat: ">= 0.90"``) and whether a measured value meets one (docs/sla.md, goals)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

Op = Literal[">=", ">", "<=", "<"]

_GOAL = re.compile(r"^\s*(>=|<=|>|<)\s*([+-]?\d+(?:\.\d+)?)\s*(%?)\s*$", re.ASCII)


@dataclass(frozen=True)
class Goal:
    """A team target on one KPI, e.g. ``Goal("csat", ">=", 0.9)``. Ratios are fractions (``"90%"`` = 0.9)."""

    metric: str
    op: Op
    target: float

    @classmethod
    def parse(cls, metric: str, text: Any) -> Goal:
        m = _GOAL.match(text) if isinstance(text, str) else None
        if m is None:
            raise ValueError(f"invalid goal {text!r} (expected a comparison such as '>= 0.90', '<= 600' or '>= 90%')")
        target = float(m[2]) / (100 if m[3] else 1)
        return cls(metric, m[1], target)  # type: ignore[arg-type]

    def __str__(self) -> str:
        return f"{self.metric} {self.op} {self.target:g}"


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
