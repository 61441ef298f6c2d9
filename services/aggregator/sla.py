"""SLA policies, team goals and service-level settings: a validated config plus pure functions over epoch ms.

Nothing here reads the clock or the environment: the engine passes ``now_ms``. The config format and the
semantics are documented in ``docs/sla.md``; ``deploy/sla.example.yaml`` is a complete example.

- ``SlaConfig.load(path_or_mapping)`` validates the YAML (pydantic) and raises ``SlaConfigError`` listing every
  problem with the dotted path of the offending key, e.g. ``policies[1].targets.first_response``.
- ``SlaConfig.policy_for(...)``: the **first** policy, in file order, whose ``match`` fits (Zendesk semantics).
- ``deadline`` / ``clock_state``: SLA clocks in calendar time or in a business-hours calendar.
- ``attainment``: a measured KPI against a goal such as ``csat: ">= 0.90"``.
- ``service_level``: numerator and denominator of SL under the vendor variants of KPIS.md §4.1.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Annotated, Any, Literal, get_args

import yaml
from pydantic import (
    AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator, model_validator,
)

from services.aggregator.calendars import (
    Calendar, TimeRange, add_business_ms, business_ms, parse_days, parse_time, zone,
)
from services.aggregator.categories import (
    CategoryMap, CategorySpec, ComplaintRule, ComplaintsSpec, check_sections,
)
from services.common.events import Channel, Priority

Metric = Literal["first_response", "next_reply", "resolution"]
METRICS: tuple[Metric, ...] = get_args(Metric)
Status = Literal["running", "at_risk", "breached", "met", "missed"]
AbandonRule = Literal["count_against", "count_in", "excluded", "excluded_within_threshold"]
Op = Literal[">=", ">", "<=", "<"]

DEFAULT_AT_RISK = 0.8


class SlaConfigError(ValueError):
    """An invalid SLA config. ``problems`` holds ``(path, message)`` pairs; ``str()`` lists them all."""

    def __init__(self, problems: list[tuple[str, str]], source: str = "") -> None:
        self.problems = problems
        where = f" in {source}" if source else ""
        lines = "\n".join(f"  {path or '(top level)'}: {msg}" for path, msg in problems)
        super().__init__(f"invalid SLA config{where}:\n{lines}")


# --- scalar parsers (usable on their own) ---------------------------------------------------------------

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw])", re.ASCII)
_DURATION = re.compile(r"^\s*(?:\d+(?:\.\d+)?\s*[smhdw]\s*)+$", re.ASCII)
_UNIT_MS = {"s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}


def parse_duration(value: Any) -> int:
    """Milliseconds of ``"90s"``, ``"10m"``, ``"4h"``, ``"2d"``, ``"1h30m"``, ``"1.5h"`` or a number of seconds.

    Durations must be positive and whole milliseconds.
    """
    if isinstance(value, bool):
        raise ValueError(f"invalid duration {value!r}")
    if isinstance(value, (int, float)):
        total = value * 1000
    elif isinstance(value, str) and _DURATION.match(value):
        total = sum(float(n) * _UNIT_MS[u] for n, u in _DURATION_PART.findall(value))
    else:
        raise ValueError(f"invalid duration {value!r} (use e.g. 45s, 10m, 4h, 2d, 1h30m, or a number of seconds)")
    if not math.isfinite(total) or total <= 0 or total != int(total):
        raise ValueError(f"invalid duration {value!r}: must be a positive whole number of milliseconds")
    return int(total)


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


# --- service level ----------------------------------------------------------------------------------------


class ServiceLevel(BaseModel):
    """Service-level settings of a queue (KPIS.md §4.1, §7.1).

    - ``threshold_seconds``: answered with a queue wait ``<=`` this is within service level.
    - ``abandons``: how contacts abandoned in queue count (short abandons aside):
      ``count_against`` (default; Genesys with "Include Abandons", Twilio, Freshcaller, Talkdesk): in the
      denominator only; ``count_in`` (Amazon Connect "SL X"): an abandon within the threshold counts as met, a
      later one as missed; ``excluded`` (Genesys without "Include Abandons"): not counted at all;
      ``excluded_within_threshold`` (WFM "ignored"): within the threshold not counted, later ones missed.
    - ``short_abandon_seconds``: abandons with a wait shorter than this are left out entirely (0 = off).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    threshold_seconds: float = Field(20, gt=0, le=604_800)
    abandons: AbandonRule = "count_against"
    short_abandon_seconds: float = Field(0, ge=0, le=604_800)


def service_level_contribution(answered: bool, wait_ms: int, settings: ServiceLevel) -> tuple[int, int]:
    """(numerator, denominator) added by one contact that left the queue after ``wait_ms``.

    For incremental counters; ``service_level`` is the sum over a window.
    """
    within = wait_ms <= settings.threshold_seconds * 1000
    if answered:
        return (1 if within else 0), 1
    if wait_ms < settings.short_abandon_seconds * 1000:
        return 0, 0
    rule = settings.abandons
    if rule == "excluded" or (rule == "excluded_within_threshold" and within):
        return 0, 0
    if rule == "count_in" and within:
        return 1, 1
    return 0, 1


def service_level(
    answered_wait_ms: Iterable[int], abandoned_wait_ms: Iterable[int], settings: ServiceLevel
) -> tuple[int, int]:
    """(numerator, denominator) of service level; the ratio is ``ratio(n, d)`` (``None`` when d is 0)."""
    num = den = 0
    for answered, waits in ((True, answered_wait_ms), (False, abandoned_wait_ms)):
        for w in waits:
            n, d = service_level_contribution(answered, w, settings)
            num += n
            den += d
    return num, den


def ratio(numerator: int, denominator: int) -> float | None:
    """``numerator / denominator``, or ``None`` (no data) when the denominator is 0 (KPIS.md §8)."""
    return numerator / denominator if denominator else None


# --- policies and clocks --------------------------------------------------------------------------------


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


# --- config -----------------------------------------------------------------------------------------------

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,127}$", re.ASCII)
_KPI = re.compile(r"^[a-z][a-z0-9_]{0,63}$", re.ASCII)
_PLATFORM = re.compile(r"^[a-z][a-z0-9_]{0,31}$", re.ASCII)  # as in the canonical event


def _check_name(value: str) -> str:
    if not _NAME.match(value):
        raise ValueError(f"invalid name {value!r} (letters, digits, '_', '-', '.', ':', '/'; up to 128)")
    return value


def _check_platform(value: str) -> str:
    if not _PLATFORM.match(value):
        raise ValueError(f"invalid platform {value!r} (lower-case letters, digits or '_', as in events)")
    return value


def _check_timezone(value: str) -> str:
    zone(value)
    return value


def _check_range(value: str) -> str:
    TimeRange.parse(value)
    return value


def _check_days(value: str) -> str:
    parse_days(value)
    return value


def _check_kpi(value: str) -> str:
    if not _KPI.match(value):
        raise ValueError(f"invalid KPI name {value!r} (lower-case letters, digits and '_')")
    return value


def _check_goal(value: Any) -> str:
    Goal.parse("goal", value)
    return value


def _one_or_many(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


Name = Annotated[str, AfterValidator(_check_name)]
QueueId = Annotated[str, Field(min_length=1, max_length=256)]  # any queue id an event may carry
Platform = Annotated[str, AfterValidator(_check_platform)]
Duration = Annotated[int, BeforeValidator(parse_duration)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _CalendarSpec(_Strict):
    timezone: Annotated[str, AfterValidator(_check_timezone)]
    hours: dict[Annotated[str, AfterValidator(_check_days)], list[Annotated[str, AfterValidator(_check_range)]]]
    holidays: list[date] = []

    @model_validator(mode="before")
    @classmethod
    def _always(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and data.get("hours") in ("24/7", "always"):
            data = {**data, "hours": {"daily": ["00:00-24:00"]}}
        return data


class _MatchSpec(_Strict):
    platform: Annotated[list[Platform], BeforeValidator(_one_or_many)] | None = None
    queue: Annotated[list[QueueId], BeforeValidator(_one_or_many)] | None = None
    priority: Annotated[list[Priority], BeforeValidator(_one_or_many)] | None = None
    channel: Annotated[list[Channel], BeforeValidator(_one_or_many)] | None = None


class _TargetsSpec(_Strict):
    first_response: Duration | None = None
    next_reply: Duration | None = None
    resolution: Duration | None = None

    @model_validator(mode="after")
    def _some(self) -> _TargetsSpec:
        if self.first_response is None and self.next_reply is None and self.resolution is None:
            raise ValueError(f"set at least one target ({', '.join(METRICS)})")
        return self


class _PolicySpec(_Strict):
    name: Name
    match: _MatchSpec = _MatchSpec()
    targets: _TargetsSpec
    business_hours: Name | None = None  # calendar name; omitted or null = calendar time
    at_risk: float | None = Field(None, gt=0, le=1)


_GoalMap = dict[Annotated[str, AfterValidator(_check_kpi)], Annotated[str, AfterValidator(_check_goal)]]


class _GoalsSpec(_Strict):
    global_: _GoalMap = Field({}, alias="global")
    queues: dict[QueueId, _GoalMap] = {}


class _ServiceLevelOverride(_Strict):
    threshold_seconds: float | None = Field(None, gt=0, le=604_800)
    abandons: AbandonRule | None = None
    short_abandon_seconds: float | None = Field(None, ge=0, le=604_800)


class _ServiceLevelsSpec(_Strict):
    default: ServiceLevel = ServiceLevel()
    queues: dict[QueueId, _ServiceLevelOverride] = {}


class Day(_Strict):
    """When a queue's ``today`` starts: a local reset time in an IANA time zone (KPIS.md §7.2)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    timezone: str = "UTC"
    reset: str = "00:00"

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        zone(value)  # raises ValueError naming the zone
        return value

    @field_validator("reset")
    @classmethod
    def _reset(cls, value: str) -> str:
        parse_time(value)
        return value


class _DaysSpec(_Strict):
    default: Day | None = None
    queues: dict[QueueId, Day] = {}


class _ConfigSpec(_Strict):
    at_risk: float = Field(DEFAULT_AT_RISK, gt=0, le=1)
    calendars: dict[Name, _CalendarSpec] = {}
    policies: list[_PolicySpec] = []
    goals: _GoalsSpec = _GoalsSpec()
    service_levels: _ServiceLevelsSpec = _ServiceLevelsSpec()
    days: _DaysSpec = _DaysSpec()
    categories: list[CategorySpec] = []
    complaints: ComplaintsSpec = ComplaintsSpec()


def _path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part == "[key]":
            out += " (key)"
        elif isinstance(part, str) and part.startswith(("function-", "list[", "literal[")):
            continue  # pydantic's names for union members and validators
        else:
            out += ("." if out else "") + str(part)
    return out


def _message(error: Mapping[str, Any]) -> str:
    if error["type"] == "extra_forbidden":
        return "unknown key"
    if error["type"] == "missing":
        return "required key is missing"
    msg = str(error["msg"])
    return msg.removeprefix("Value error, ")


@dataclass(frozen=True)
class SlaConfig:
    """Validated SLA configuration. Build with ``SlaConfig.load``."""

    calendars: Mapping[str, Calendar] = field(default_factory=dict)
    policies: tuple[Policy, ...] = ()
    at_risk: float = DEFAULT_AT_RISK
    global_goals: Mapping[str, Goal] = field(default_factory=dict)
    queue_goals: Mapping[str, Mapping[str, Goal]] = field(default_factory=dict)
    default_service_level: ServiceLevel = ServiceLevel()
    queue_service_levels: Mapping[str, ServiceLevel] = field(default_factory=dict)
    default_day: Day | None = None  # None: the service's DESKPULSE_TIMEZONE / DESKPULSE_DAY_RESET
    queue_days: Mapping[str, Day] = field(default_factory=dict)
    categories: CategoryMap | None = None  # None: no categories configured (no category scopes)
    complaints: ComplaintRule = ComplaintRule()

    @classmethod
    def load(cls, source: str | os.PathLike[str] | Mapping[str, Any]) -> SlaConfig:
        """Load from a YAML file path or an already-parsed mapping; raises ``SlaConfigError`` naming each bad key."""
        where = ""
        if isinstance(source, Mapping):
            data: Any = source
        else:
            where = os.fspath(source)
            with open(where, encoding="utf-8") as f:
                try:
                    data = yaml.safe_load(f)
                except yaml.YAMLError as e:
                    raise SlaConfigError([("", f"not valid YAML: {e}")], where) from None
            data = {} if data is None else data
        if not isinstance(data, Mapping):
            raise SlaConfigError([("", "the config must be a mapping of keys")], where)
        try:
            spec = _ConfigSpec.model_validate(dict(data))
        except ValidationError as e:
            raise SlaConfigError([(_path(err["loc"]), _message(err)) for err in e.errors()], where) from None
        return cls._build(spec, where)

    @classmethod
    def _build(cls, spec: _ConfigSpec, where: str) -> SlaConfig:
        problems: list[tuple[str, str]] = []
        calendars = {}
        for name, c in spec.calendars.items():
            try:
                calendars[name] = Calendar.weekly(c.timezone, c.hours, c.holidays, name=name)
            except ValueError as e:
                problems.append((f"calendars.{name}.hours", str(e)))
        seen: dict[str, int] = {}
        policies = []
        for i, p in enumerate(spec.policies):
            if p.name in seen:
                other = f"policies[{seen[p.name]}]"
                problems.append((f"policies[{i}].name", f"duplicate policy name {p.name!r} (also {other})"))
            seen.setdefault(p.name, i)
            if p.business_hours is not None and p.business_hours not in calendars:
                if p.business_hours in spec.calendars:
                    continue  # the calendar itself is invalid, reported above
                known = ", ".join(sorted(spec.calendars)) or "none defined"
                problems.append(
                    (f"policies[{i}].business_hours", f"unknown calendar {p.business_hours!r} (known: {known})")
                )
                continue
            m = p.match
            conditions = (m.platform, m.queue, m.priority, m.channel)
            policies.append(
                Policy(
                    name=p.name,
                    match=Match(*(None if v is None else frozenset(v) for v in conditions)),
                    first_response_ms=p.targets.first_response,
                    next_reply_ms=p.targets.next_reply,
                    resolution_ms=p.targets.resolution,
                    calendar=calendars[p.business_hours] if p.business_hours is not None else None,
                    at_risk=p.at_risk if p.at_risk is not None else spec.at_risk,
                )
            )
        problems += check_sections(spec.categories, spec.complaints)
        if problems:
            raise SlaConfigError(problems, where)
        default_sl = spec.service_levels.default
        return cls(
            calendars=calendars,
            policies=tuple(policies),
            at_risk=spec.at_risk,
            global_goals={k: Goal.parse(k, v) for k, v in spec.goals.global_.items()},
            queue_goals={q: {k: Goal.parse(k, v) for k, v in g.items()} for q, g in spec.goals.queues.items()},
            default_service_level=default_sl,
            queue_service_levels={
                q: default_sl.model_copy(update=o.model_dump(exclude_none=True))
                for q, o in spec.service_levels.queues.items()
            },
            default_day=spec.days.default,
            queue_days=dict(spec.days.queues),
            categories=CategoryMap.build(spec.categories) if spec.categories else None,
            complaints=ComplaintRule(frozenset(spec.complaints.categories), spec.complaints.bad_rating_at_most),
        )

    def policy_for(
        self, platform: str | None, queue: str | None, priority: str | None, channel: str | None
    ) -> Policy | None:
        """The first policy in file order whose match fits, or ``None`` (no SLA applies)."""
        for policy in self.policies:
            if policy.match.matches(platform, queue, priority, channel):
                return policy
        return None

    def goals_for(self, queue: str | None = None) -> dict[str, Goal]:
        """Goals in force for a queue: the global goals overridden per KPI by the queue's own (``None``: global)."""
        goals = dict(self.global_goals)
        if queue is not None:
            goals.update(self.queue_goals.get(queue, {}))
        return goals

    def day_for(self, queue: str | None) -> Day | None:
        """When ``today`` starts for a queue: its own setting, else ``days.default``, else ``None``."""
        return self.queue_days.get(queue, self.default_day) if queue else self.default_day

    def service_level_for(self, queue: str | None) -> ServiceLevel:
        """Service-level settings of a queue: its overrides on top of ``service_levels.default``."""
        return self.queue_service_levels.get(queue, self.default_service_level) if queue else self.default_service_level
