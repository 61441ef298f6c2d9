"""OpenAPI description of the read API's bodies (documentation only: routes return the dicts built by
``views.scope_body`` as they are, so these models never sit on the request path)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Window = Literal["5m", "15m", "30m", "1h", "24h", "today", "all"]
AgentState = Literal["available", "busy", "away", "offline"]


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class Contacts(_Open):
    created: int
    resolved: int
    reopened: int
    replies: int
    handled: int


class Duration(_Open):
    count: int
    total_seconds: float
    average_seconds: float | None
    p50_seconds: float | None
    p90_seconds: float | None
    p95_seconds: float | None


class FirstResponse(Duration):
    business_average_seconds: float | None


class Resolution(Duration):
    full_count: int
    full_average_seconds: float | None


class CountRate(_Open):
    count: int
    rate: float | None


class ServiceLevel(_Open):
    met: int
    offered: int
    rate: float | None


class Abandonment(_Open):
    abandoned: int
    short_abandoned: int
    offered: int
    rate: float | None


class SpeedOfAnswer(_Open):
    answered: int
    average_seconds: float | None


class HandleTime(_Open):
    handled: int
    average_seconds: float | None


class Csat(_Open):
    good: int
    bad: int
    neutral: int
    rated: int
    score: float | None = Field(description="good / (good + bad); null without ratings")


class Nps(_Open):
    promoters: int
    passives: int
    detractors: int
    responses: int
    score: float | None = Field(description="% promoters − % detractors; null without responses")


class SlaResult(_Open):
    met: int
    breached: int
    compliance: float | None


class Sla(_Open):
    first_response: SlaResult
    next_reply: SlaResult
    resolution: SlaResult


class LiveSla(_Open):
    running: int
    breaching: int
    at_risk: int
    next_breach_at: str | None
    seconds_to_next_breach: float | None


class AgentsByState(_Open):
    available: int
    busy: int
    away: int
    offline: int


class Live(_Open):
    open: int
    waiting: int
    unassigned: int
    pending: int
    on_hold: int
    in_queue: int
    oldest_waiting_created_at: str | None
    oldest_waiting_age_seconds: float | None
    oldest_queued_at: str | None
    longest_queue_wait_seconds: float | None
    sla: LiveSla
    agents: AgentsByState | None = Field(None, description="`all` and `platform` scopes only")


class TimeInState(_Open):
    available_seconds: float
    busy_seconds: float
    away_seconds: float
    offline_seconds: float
    occupancy: float | None


class AgentStatus(_Open):
    state: str | None = Field(description="available / busy / away / offline; null before any presence event")
    raw_state: str | None = Field(description="the platform's own state name")
    since: str | None
    seconds_in_state: float | None
    time_in_state: TimeInState


class GoalResult(_Open):
    goal: str
    op: str
    target: float
    value: float | None
    met: bool | None
    gap: float | None


class Staffing(_Open):
    """Erlang C staffing forecast from the staffing window (docs/kpis.md#staffing-forecast). Indicative: the
    model assumes no abandonment and steady Poisson arrivals. A null figure comes with a ``reason``."""

    window: Literal["15m", "30m", "1h"] = Field(description="DESKPULSE_STAFFING_WINDOW")
    from_: str | None = Field(
        alias="from", description="window start: the window is the whole minutes before the current one"
    )
    window_seconds: float = Field(description="the window's length (arrival rate = offered / length)")
    offered: int = Field(
        description="live contacts offered: answered + abandoned in the window (short abandons "
        "left out), plus those still queued now"
    )
    arrival_rate_per_hour: float
    handled: int = Field(description="live contacts handled (connected → ended) in the window")
    aht_s: float | None = Field(description="average handle time of those; null without any")
    traffic_erlangs: float | None = Field(description="workload A = arrival rate × AHT")
    target_sl: float = Field(
        description="service-level target share: the queue's service_level goal, else DESKPULSE_STAFFING_TARGET_SL"
    )
    target_answer_s: float = Field(description="the queue's service-level threshold")
    target_source: Literal["goal", "default"]
    shrinkage: float = Field(description="DESKPULSE_STAFFING_SHRINKAGE")
    max_occupancy: float = Field(description="DESKPULSE_STAFFING_MAX_OCCUPANCY (1 = no cap)")
    agents_scope: str | None = Field(
        description="where agents_available is counted: the queue's platform (presence events carry no queue)"
    )
    agents_available: int | None = Field(
        description="agents available or busy now on that platform; null when it reports no presence"
    )
    agents_needed: int | None = Field(
        description="smallest number taking contacts that meets the target (and the occupancy cap)"
    )
    agents_needed_scheduled: int | None = Field(description="agents_needed / (1 − shrinkage), rounded up")
    limited_by: Literal["service_level", "occupancy"] | None
    agents_short: int | None = Field(description="max(0, agents_needed − agents_available)")
    stable: bool | None = Field(description="false when agents_available ≤ traffic: the queue grows without bound")
    predicted_sl: float | None = Field(description="service level expected with agents_available (0 if unstable)")
    predicted_asa_s: float | None = Field(
        description="average speed of answer expected with agents_available; null if unstable (unbounded)"
    )
    occupancy: float | None = Field(description="traffic / agents_available")
    reason: Literal["no_arrivals", "no_handle_time", "no_agent_presence", "beyond_model"] | None = Field(
        description="why figures are null: nothing offered; no live contact handled (AHT unknown); the platform "
        "reports no agent presence (needed is still given); traffic beyond the model's range"
    )


class PeriodFigures(_Open):
    """One period's complaints and the quality figures read beside them (docs/kpis.md, Per day and per week)."""

    from_: str = Field(alias="from")
    to: str
    created: int
    resolved: int
    complaints: int
    complaint_rate: float | None = Field(description="complaints / resolved; null without resolved contacts")
    reopened: int
    reopen_rate: float | None
    one_touch_rate: float | None
    csat: float | None
    rated: int
    first_response_average_seconds: float | None


class PeriodTrend(PeriodFigures):
    previous: PeriodFigures = Field(description="the period of the same length just before")
    complaint_rate_change: float | None = Field(description="complaint rate now − before (positive = worse)")
    reopen_rate_change: float | None
    csat_change: float | None


class Trend(_Open):
    timezone: str = Field(description="the local days these periods are made of")
    reset: str
    day: PeriodTrend = Field(description="today so far against yesterday")
    week: PeriodTrend = Field(description="today and the 6 days before against the 7 days before those")


class ChannelWork(_Open):
    replies: int
    answered: int
    handled: int
    resolved: int


class WorkQuality(_Open):
    csat: float | None
    reopen_rate: float | None
    one_touch_rate: float | None
    complaint_rate: float | None


class Workload(ChannelWork):
    by_channel: dict[str, ChannelWork] = Field(description="per canonical channel of the contacts (or unknown)")
    quality: WorkQuality = Field(description="the same agent and window: volume is never read alone")


class ScopeBody(_Open):
    """The figures of one scope in one window. Durations in seconds, timestamps RFC 3339 UTC."""

    scope: str = Field(
        description="scope id: all, platform/<p>, account/<p>/<a>, queue/<p>/<q>, agent/<p>/<a>, category/<name>"
    )
    kind: Literal["all", "platform", "account", "queue", "agent", "category"]
    platform: str | None
    id: str | None
    name: str | None = Field(
        None,
        description="queues, agents and accounts: the display name of `names:` in the SLA config, else the one the "
        "platform's events gave (queues and agents), else null",
    )
    window: Window
    from_: str | None = Field(alias="from", description="window start (null for window all)")
    as_of: str | None = Field(description="stream time the figures are computed at")
    stale_seconds: float | None = Field(
        description="seconds since the API last received a snapshot record (grows while Kafka or the "
        "aggregator is away); null before the first"
    )
    contacts: Contacts
    first_response: FirstResponse
    next_reply: Duration
    resolution: Resolution
    resolution_rate: float | None
    one_touch: CountRate
    reopen_rate: float | None
    complaints: CountRate = Field(description="complaints in the window; rate = complaints / resolved")
    service_level: ServiceLevel
    abandonment: Abandonment
    speed_of_answer: SpeedOfAnswer
    handle_time: HandleTime
    csat: Csat
    nps: Nps
    sla: Sla
    live: Live
    agent: AgentStatus | None = Field(None, description="agent scopes only: current state")
    workload: Workload | None = Field(None, description="agent scopes only: work per channel beside quality")
    goals: dict[str, GoalResult] | None = Field(None, description="when goals are configured (docs/kpis.md)")
    trend: Trend | None = Field(
        None, description="complaints and quality per day and per week, against the previous period"
    )
    staffing: Staffing | None = Field(None, description="queue scopes; platform scopes pooled over their queues")


class Page(BaseModel):
    items: list[ScopeBody]
    total: int = Field(description="items matching the filters")
    next: str | None = Field(description="URL of the next page, null on the last")


class Error(BaseModel):
    detail: str


class RefusedEvent(BaseModel):
    event_id: str
    platform: str
    occurred_at: str = Field(description="the event's own time, as it arrived")
    ahead_seconds: float = Field(description="how far ahead of the aggregator's clock it was")
    refused_at: str


class FutureEvents(BaseModel):
    """Events the aggregator did not apply: their time was more than DESKPULSE_MAX_CLOCK_SKEW_S ahead of its
    clock (a platform or producer with a wrong clock, or a forged event). They change no figure."""

    refused: int
    last: RefusedEvent


class Health(BaseModel):
    status: str
    detail: str | None = None
    caught_up: bool | None = None
    scopes: int | None = None
    stale_seconds: float | None = None
    future_events: FutureEvents | None = Field(
        None, description="present once the aggregator has refused an event from the future"
    )
    warning: str | None = Field(None, description="present when the API listens beyond loopback without tokens")
    sla_config: dict[str, str] | None = Field(
        None, description="the SLA config read at start: its `path` and when it was read (`loaded_at`)"
    )
