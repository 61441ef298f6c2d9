"""The canonical event ``deskpulse.event.v1``: the one shape every adapter emits.

The JSON Schema in ``schemas/deskpulse.event.v1/schema.json`` is the public contract; this model accepts
and rejects the same documents (``tests/unit/common/test_events.py`` runs the schema's examples through
both). The model is strict: no type coercion, no unknown fields, so ``"public": "yes"`` is an error rather
than ``True``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from functools import cached_property, lru_cache
from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

SCHEMA_ID: Final = "deskpulse.event.v1"

EventType = Literal[
    "contact.created",
    "contact.queued",
    "contact.assigned",
    "contact.connected",
    "contact.message",
    "contact.status_changed",
    "contact.abandoned",
    "contact.rated",
    "agent.state_changed",
]
Channel = Literal["email", "chat", "messaging", "voice", "sms", "social", "web", "other"]
Priority = Literal["low", "normal", "high", "urgent"]
Status = Literal["new", "open", "pending", "on_hold", "solved", "closed"]
Author = Literal["customer", "agent", "bot", "system"]
AgentState = Literal["available", "busy", "away", "offline"]

OPEN_STATUSES: frozenset[str] = frozenset({"new", "open", "pending", "on_hold"})
DONE_STATUSES: frozenset[str] = frozenset({"solved", "closed"})

_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$", re.ASCII)
# What format_time produces: such a string, if it is a real date and time, is its own normal form.
_CANONICAL = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z", re.ASCII)
_PLATFORM = re.compile(r"^[a-z][a-z0-9_]{0,31}$", re.ASCII)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

Id = Annotated[str, Field(min_length=1, max_length=256)]


class Rating(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    label: Literal["good", "neutral", "bad"]
    score: float | None = None
    scale_max: Annotated[float, Field(gt=0)] | None = None


class CanonicalEvent(BaseModel):
    """One canonical event. Construct with :func:`parse_event` from untrusted JSON."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    schema_: Literal["deskpulse.event.v1"] = Field(SCHEMA_ID, alias="schema")
    event_id: Id
    type: EventType
    occurred_at: str
    platform: str
    account: Id | None = None
    contact_id: Id | None = None
    agent_id: Id | None = None
    queue_id: Id | None = None
    channel: Channel | None = None
    priority: Priority | None = None
    status: Status | None = None
    author: Author | None = None
    public: bool | None = None
    rating: Rating | None = None
    state: AgentState | None = None
    attributes: dict[str, Any] = Field(default_factory=dict)

    @field_validator("occurred_at")
    @classmethod
    def _normalise_time(cls, value: str) -> str:
        return normalise_time(value)

    @field_validator("platform")
    @classmethod
    def _check_platform(cls, value: str) -> str:
        if not _PLATFORM.match(value):
            raise ValueError("platform must be lower-case letters, digits or '_', starting with a letter")
        return value

    @model_validator(mode="after")
    def _check_type_requirements(self) -> CanonicalEvent:
        if self.type == "agent.state_changed":
            if self.agent_id is None:
                raise ValueError("agent.state_changed needs agent_id")
            if self.state is None:
                raise ValueError("agent.state_changed needs state")
        elif self.contact_id is None:
            raise ValueError(f"{self.type} needs contact_id")
        if self.type == "contact.rated" and self.rating is None:
            raise ValueError("contact.rated needs rating")
        if self.type == "contact.status_changed" and self.status is None:
            raise ValueError("contact.status_changed needs status")
        return self

    @property
    def kafka_key(self) -> str:
        """Partition key on ``deskpulse.events.v1``: the contact, or the agent for ``agent.*`` events."""
        if self.type.startswith("agent."):
            return self.agent_id  # type: ignore[return-value]
        return self.contact_id  # type: ignore[return-value]

    @cached_property
    def occurred_ms(self) -> int:
        """Event time in epoch milliseconds (parsed once: the aggregator asks several times per event)."""
        return to_epoch_ms(self.occurred_at)

    def to_json_dict(self) -> dict[str, Any]:
        """The wire form: every field present, ``schema`` under its public name."""
        return self.model_dump(by_alias=True, mode="json")


class EventValidationError(ValueError):
    """Raised by :func:`parse_event` with a message that names the offending field."""


def parse_event(document: Any) -> CanonicalEvent:
    """Validate one decoded JSON document as a canonical event.

    Raises :class:`EventValidationError` whose message names the first offending field, e.g.
    ``occurred_at: not an RFC 3339 timestamp``. Never raises anything else for any JSON value.
    """
    if not isinstance(document, dict):
        raise EventValidationError(f"event must be a JSON object, got {type(document).__name__}")
    try:
        return CanonicalEvent.model_validate(document)
    except ValidationError as exc:
        raise EventValidationError(describe_validation_error(exc)) from None


def describe_validation_error(exc: ValidationError) -> str:
    """A one-line, human-readable account of a pydantic error: ``field: problem[; ...]``."""
    parts = []
    for err in exc.errors(include_url=False)[:5]:
        loc = ".".join(str(p) for p in err["loc"] if p not in ("function-after",)) or "event"
        loc = loc.replace("schema_", "schema")
        message = err["msg"].removeprefix("Value error, ")
        parts.append(f"{loc}: {message}")
    return "; ".join(parts)


def parse_time(value: str) -> datetime:
    """Parse an RFC 3339 timestamp (any offset, up to nanoseconds) into an aware UTC datetime."""
    if not isinstance(value, str) or not (match := _RFC3339.match(value)):
        raise ValueError("not an RFC 3339 timestamp (e.g. 2026-11-20T09:15:02.123Z)")
    text = value  # fromisoformat reads the Z suffix itself
    if match.end(1) - match.start(1) > 7:  # Python parses at most 6 fractional digits: truncate to microseconds
        text = value[: match.start(1) + 7] + value[match.end(1) :]
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError("not a valid calendar date and time") from None
    return parsed.astimezone(UTC)


def format_time(moment: datetime) -> str:
    """UTC, millisecond precision, ``Z`` suffix: the form every canonical event carries."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def normalise_time(value: str) -> str:
    """``format_time(parse_time(value))``: a timestamp in the canonical form, or ``ValueError`` as ``parse_time``.

    A value already in that form (what adapters hand the model) is checked to be a real date and time but not
    parsed and formatted again.
    """
    if isinstance(value, str) and _CANONICAL.fullmatch(value):
        try:
            datetime.fromisoformat(value)
        except ValueError:
            pass  # parse_time raises the error
        else:
            return value
    return format_time(parse_time(value))


def to_epoch_ms(value: str) -> int:
    """Epoch milliseconds of an RFC 3339 timestamp (sub-millisecond digits truncated), exact."""
    return (parse_time(value) - _EPOCH) // timedelta(milliseconds=1)


@lru_cache(maxsize=1 << 16)
def from_epoch_ms(ms: int) -> str:
    """``format_time`` of an epoch-ms instant. Remembered: a body of the API formats the same few instants (today's
    and this week's bounds, the stream time) for every scope, and a snapshot builds thousands of bodies."""
    return format_time(datetime.fromtimestamp(ms / 1000, tz=UTC))
