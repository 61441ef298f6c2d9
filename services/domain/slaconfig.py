"""The operator's SLA config file: calendars, policies, goals, service levels, days, categories and complaints.

``SlaConfig.load(path_or_mapping)`` validates the YAML (pydantic) and raises ``SlaConfigError`` listing every
problem with the dotted path of the offending key, e.g. ``policies[1].targets.first_response``. The format is
documented in ``docs/sla.md``; ``deploy/sla.example.yaml`` is a complete example. What the config's parts
compute lives beside it: ``policies`` (SLA clocks), ``goals``, ``service_levels``, ``calendars``, ``categories``.

- ``SlaConfig.policy_for(...)``: the **first** policy, in file order, whose ``match`` fits (Zendesk semantics).
- ``SlaConfig.days_for(queue)``: the local days of a queue's ``today`` (one ``DayCalendar`` per zone and reset).
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

from services.common.events import Channel, Priority
from services.domain.calendars import Calendar, TimeRange, parse_days, parse_time, zone
from services.domain.categories import CategoryMap, CategorySpec, ComplaintRule, ComplaintsSpec, check_sections
from services.domain.goals import DAY_GOAL_METRICS, MAX_PERIOD_DAYS, Goal, GoalPeriod
from services.domain.policies import DEFAULT_AT_RISK, METRICS, Match, Policy
from services.domain.service_levels import AbandonRule, ServiceLevel
from services.domain.windows import UTC_DAYS, DayCalendar, days


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


class _RangeSpec(_Strict):
    first: date = Field(alias="from")
    last: date = Field(alias="to")

    @model_validator(mode="after")
    def _order(self) -> _RangeSpec:
        if self.last < self.first:
            raise ValueError("'to' is before 'from'")
        if (self.last - self.first).days + 1 > MAX_PERIOD_DAYS:
            raise ValueError(f"a period of at most {MAX_PERIOD_DAYS} days (the local days deskpulse keeps)")
        return self


class _PeriodGoalSpec(_Strict):
    target: Annotated[str, AfterValidator(_check_goal)]
    period: Literal["today", "week", "month"] | _RangeSpec


def _goal_value(value: Any) -> str | _PeriodGoalSpec:
    """A goal: a comparison (``">= 0.90"``), or ``{target: <comparison>, period: today | week | month | {from, to}}``."""
    if isinstance(value, str):
        return _check_goal(value)
    if not isinstance(value, dict):
        raise ValueError("a goal is a comparison such as '>= 0.90', or {target: '>= 0.90', period: week}")
    try:
        return _PeriodGoalSpec.model_validate(value)
    except ValidationError as e:
        errors = e.errors()
        if isinstance(value.get("period"), dict):  # a range: what the range got wrong, not that it is no word
            errors = [x for x in errors if not any(str(p).startswith("literal") for p in x["loc"])] or errors
        first = errors[0]
        where = ".".join(str(part) for part in first["loc"] if not str(part).startswith(("_", "literal", "function-")))
        raise ValueError(f"{where}: {_message(first)}" if where else _message(first)) from None


_GoalMap = dict[Annotated[str, AfterValidator(_check_kpi)], Annotated[Any, AfterValidator(_goal_value)]]


def _goal(metric: str, value: str | _PeriodGoalSpec) -> Goal:
    if isinstance(value, str):
        return Goal.parse(metric, value)
    goal = Goal.parse(metric, value.target)
    p = value.period
    period = GoalPeriod("range", p.first, p.last) if isinstance(p, _RangeSpec) else GoalPeriod(p)
    return Goal(goal.metric, goal.op, goal.target, period)


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


DisplayName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class _NamesSpec(_Strict):
    """Display names: ``<platform>/<id>`` or a bare ``<id>`` (any platform) → the name people know it by."""

    queues: dict[str, DisplayName] = {}
    agents: dict[str, DisplayName] = {}
    accounts: dict[str, DisplayName] = {}


class _ConfigSpec(_Strict):
    at_risk: float = Field(DEFAULT_AT_RISK, gt=0, le=1)
    calendars: dict[Name, _CalendarSpec] = {}
    policies: list[_PolicySpec] = []
    goals: _GoalsSpec = _GoalsSpec()
    service_levels: _ServiceLevelsSpec = _ServiceLevelsSpec()
    days: _DaysSpec = _DaysSpec()
    categories: list[CategorySpec] = []
    complaints: ComplaintsSpec = ComplaintsSpec()
    names: _NamesSpec = _NamesSpec()


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


# SlaConfig's defaults, shared (both are frozen). A config without ``service_levels.default`` keeps short abandons
# in (0 s), unlike the no-config DEFAULT_SERVICE_LEVEL (5 s): docs/sla.md.
_CONFIG_SERVICE_LEVEL = ServiceLevel()
_NO_COMPLAINTS = ComplaintRule()


@dataclass(frozen=True)
class SlaConfig:
    """Validated SLA configuration. Build with ``SlaConfig.load``."""

    calendars: Mapping[str, Calendar] = field(default_factory=dict)
    policies: tuple[Policy, ...] = ()
    at_risk: float = DEFAULT_AT_RISK
    global_goals: Mapping[str, Goal] = field(default_factory=dict)
    queue_goals: Mapping[str, Mapping[str, Goal]] = field(default_factory=dict)
    default_service_level: ServiceLevel = _CONFIG_SERVICE_LEVEL
    queue_service_levels: Mapping[str, ServiceLevel] = field(default_factory=dict)
    default_day: Day | None = None  # None: the service's DESKPULSE_TIMEZONE / DESKPULSE_DAY_RESET
    queue_days: Mapping[str, Day] = field(default_factory=dict)
    categories: CategoryMap | None = None  # None: no categories configured (no category scopes)
    complaints: ComplaintRule = _NO_COMPLAINTS
    names: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  # kind (queue, agent, account) -> key -> name

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
        levels = [("goals.global", spec.goals.global_)] + [
            (f"goals.queues.{q}", g) for q, g in spec.goals.queues.items()
        ]
        for where_, goals in levels:
            for metric, value in goals.items():
                if isinstance(value, _PeriodGoalSpec) and metric not in DAY_GOAL_METRICS:
                    problems.append(
                        (
                            f"{where_}.{metric}.period",
                            f"a goal over a period needs a KPI kept per day ({', '.join(sorted(DAY_GOAL_METRICS))})",
                        )
                    )
        if problems:
            raise SlaConfigError(problems, where)
        default_sl = spec.service_levels.default
        return cls(
            calendars=calendars,
            policies=tuple(policies),
            at_risk=spec.at_risk,
            global_goals={k: _goal(k, v) for k, v in spec.goals.global_.items()},
            queue_goals={q: {k: _goal(k, v) for k, v in g.items()} for q, g in spec.goals.queues.items()},
            default_service_level=default_sl,
            queue_service_levels={
                q: default_sl.model_copy(update=o.model_dump(exclude_none=True))
                for q, o in spec.service_levels.queues.items()
            },
            default_day=spec.days.default,
            queue_days=dict(spec.days.queues),
            categories=CategoryMap.build(spec.categories) if spec.categories else None,
            complaints=ComplaintRule(frozenset(spec.complaints.categories), spec.complaints.bad_rating_at_most),
            names={
                "queue": dict(spec.names.queues),
                "agent": dict(spec.names.agents),
                "account": dict(spec.names.accounts),
            },
        )

    def policy_for(
        self, platform: str | None, queue: str | None, priority: str | None, channel: str | None
    ) -> Policy | None:
        """The first policy in file order whose match fits, or ``None`` (no SLA applies)."""
        for policy in self.policies:
            if policy.match.matches(platform, queue, priority, channel):
                return policy
        return None

    def name_for(self, kind: str, platform: str | None, key: str | None) -> str | None:
        """The display name of a queue, an agent or an account (``names:``): ``<platform>/<id>`` first, then the bare
        id."""
        names = self.names.get(kind)
        if not names or key is None:
            return None
        return names.get(f"{platform}/{key}") or names.get(key)

    def _merged_goals(self, queue: str | None) -> dict[str, Goal]:
        goals = dict(self.global_goals)
        if queue is not None:
            goals.update(self.queue_goals.get(queue, {}))
        return goals

    def goals_for(self, queue: str | None = None) -> dict[str, Goal]:
        """Goals every window is measured against, for a queue: the global goals overridden per KPI by the queue's
        own (``None``: global). Goals with a period are in ``period_goals_for``."""
        return {k: g for k, g in self._merged_goals(queue).items() if g.period is None}

    def period_goals_for(self, queue: str | None = None) -> dict[str, Goal]:
        """Goals to meet over a period (``period:``), merged the same way."""
        return {k: g for k, g in self._merged_goals(queue).items() if g.period is not None}

    def day_for(self, queue: str | None) -> Day | None:
        """When ``today`` starts for a queue: its own setting, else ``days.default``, else ``None``."""
        return self.queue_days.get(queue, self.default_day) if queue else self.default_day

    def days_for(self, queue: str | None) -> DayCalendar:
        """The local days of a queue's ``today`` (``day_for``), UTC days from midnight when none is set. The
        aggregator's day buckets and the API's periods both ask here, so they agree on which day a time is in."""
        day = self.day_for(queue)
        return UTC_DAYS if day is None else days(day.timezone, day.reset)

    def service_level_for(self, queue: str | None) -> ServiceLevel:
        """Service-level settings of a queue: its overrides on top of ``service_levels.default``."""
        return self.queue_service_levels.get(queue, self.default_service_level) if queue else self.default_service_level
