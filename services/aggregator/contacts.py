"""Per-contact state: the contact's deduplicated events in event-time order, and the facts they imply.

Pure: no Faust, no Kafka. The aggregator keeps one :data:`ContactRecord` per contact in a Faust table (one
changelog write per event); everything else is derived from it, so

- a duplicate event (same ``event_id``) is recognised and changes nothing;
- events of one contact that arrive out of order give the same facts as in order, because facts are always
  folded from the events sorted by ``(occurred_at, type rank, event_id)``;
- a restarted worker derives exactly the same figures from the restored records.

Definitions follow ARCHITECTURE.md ("Meaning of the types"):

- *response*: the first public agent ``contact.message`` after creation, or ``contact.connected`` on live
  channels. A public agent message at the very moment of creation is the agent opening the ticket, not a
  response (KPIS.md §3.1, Zendesk first reply time).
- *resolved*: the first transition to ``solved``, or to ``closed`` without a ``solved`` before it (a contact
  created as ``solved``/``closed`` is resolved at creation).
- *reopen*: a transition from ``solved``/``closed`` to any open status.
- *open*: created, not in ``solved``/``closed`` and not abandoned. *Waiting*: open with no response yet.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from services.common.events import DONE_STATUSES, OPEN_STATUSES, CanonicalEvent
from services.domain.categories import NO_LABELS, Labels, fold_labels, freeze, step_labels

# A contact record as stored in the table (JSON-serialisable):
#   {"pl": platform, "c": contact_id, "p": partition, "ev": [step, ...]}
# where a step is the compact list produced by `_step` (field order in `_STEP_FIELDS`), followed by the event's
# category labels (``categories.step_labels``) only when its attributes carry any.
ContactRecord = dict[str, Any]

_STEP_FIELDS = (
    "t",
    "type",
    "id",
    "agent",
    "queue",
    "status",
    "author",
    "public",
    "channel",
    "priority",
    "account",
    "rating",
)
_T, _TYPE, _ID, _AGENT, _QUEUE, _STATUS, _AUTHOR, _PUBLIC, _CHANNEL, _PRIORITY, _ACCOUNT, _RATING = range(
    len(_STEP_FIELDS)
)
_LABELS = len(_STEP_FIELDS)  # optional element: category labels (None when only a link follows)
_URL = _LABELS + 1  # optional last element: the contact's page on its platform (``attributes.url``)

# Channels where a customer waits in a queue for an agent to connect (service level, ASA, abandonment).
LIVE_CHANNELS = frozenset({"voice", "chat", "messaging", "sms"})

# Events at the same millisecond are ordered so that creation comes first and the outcome is independent of
# arrival order; the event id breaks the remaining ties.
_TYPE_RANK = {
    "contact.created": 0,
    "contact.queued": 1,
    "contact.assigned": 2,
    "contact.connected": 3,
    "contact.message": 4,
    "contact.status_changed": 5,
    "contact.abandoned": 6,
    "contact.rated": 7,
}


def record_key(event: CanonicalEvent) -> str:
    """Table key of the contact an event belongs to (contact ids are only unique within a platform)."""
    return f"{event.platform}/{event.contact_id}"


def _step(event: CanonicalEvent) -> list[Any]:
    step = [
        event.occurred_ms,
        event.type,
        event.event_id,
        event.agent_id,
        event.queue_id,
        event.status,
        event.author,
        event.public,
        event.channel,
        event.priority,
        event.account,
        [event.rating.label, event.rating.score, event.rating.scale_max] if event.rating else None,
    ]
    labels = step_labels(event.attributes)
    url = event.attributes.get("url") if event.attributes else None
    if isinstance(url, str) and url.startswith("https://") and len(url) <= 2048:
        step += [labels, url]
    elif labels is not None:
        step.append(labels)
    return step


def _order(step: list[Any]) -> tuple[int, int, str]:
    return (step[_T], _TYPE_RANK.get(step[_TYPE], 9), step[_ID])


def add_event(record: ContactRecord | None, event: CanonicalEvent, partition: int) -> ContactRecord | None:
    """Return the record with ``event`` merged in, or ``None`` if the record already holds that event.

    The input record is not modified. ``partition`` is the events-topic partition the contact lives on; it is
    kept so derived aggregates can be rebuilt per partition after a rebalance.
    """
    if record is not None and any(s[_ID] == event.event_id for s in record["ev"]):
        return None
    steps = list(record["ev"]) if record is not None else []
    steps.append(_step(event))
    steps.sort(key=_order)
    return {"pl": event.platform, "c": event.contact_id, "p": partition, "ev": steps}


@dataclass(frozen=True, slots=True)
class ContactFacts:
    """What one contact's events say, as of the newest event seen. Times are epoch milliseconds."""

    platform: str
    account: str | None
    queue: str | None
    channel: str | None
    priority: str | None
    assignee: str | None
    status: str | None
    created_at: int | None
    first_response_at: int | None
    responder: str | None
    resolved_at: int | None  # first resolution
    resolver: str | None
    last_solved_at: int | None  # latest resolution, if the contact is resolved now (full resolution)
    reopen_times: tuple[int, ...]
    abandoned_at: int | None
    replies: tuple[tuple[int, str | None], ...]  # public agent replies after creation: (time, agent)
    next_replies: tuple[tuple[int, int, str | None], ...]  # (reply time, wait since oldest unanswered, agent)
    unanswered_since: int | None  # oldest customer message still awaiting a reply, after the first response
    queued_at: int | None  # entered a live queue
    connected_at: int | None
    connected_agent: str | None
    ended_at: int | None  # first solve/close after the agent connected (handle time ends)
    rating: tuple[int, str, float | None, float | None] | None  # latest: (time, label, score, scale_max)
    rating_agent: str | None  # assignee when the rating arrived
    last_event_at: int
    labels: Labels = NO_LABELS  # what the events' attributes say for categories, latest value per key
    url: str | None = None  # the contact's page on its platform, the latest an event gave (attributes.url)

    @property
    def reopens(self) -> int:
        return len(self.reopen_times)

    @property
    def abandoned(self) -> bool:
        return self.abandoned_at is not None

    @property
    def is_open(self) -> bool:
        return self.created_at is not None and not self.abandoned and (self.status or "new") in OPEN_STATUSES

    @property
    def is_waiting(self) -> bool:
        return self.is_open and self.first_response_at is None

    @property
    def in_queue(self) -> bool:
        """Waiting in a live queue now: queued, not yet connected, not abandoned, not closed."""
        return self.is_open and self.queued_at is not None and self.connected_at is None

    @property
    def first_response_ms(self) -> int | None:
        if self.first_response_at is None or self.created_at is None:
            return None
        return self.first_response_at - self.created_at


def facts(record: ContactRecord) -> ContactFacts:
    """Fold a record's events (already in event-time order) into the contact's facts."""
    account = queue = channel = priority = assignee = status = None
    created_at = first_response_at = responder = resolved_at = resolver = last_solved_at = None
    abandoned_at = queued_at = connected_at = connected_agent = ended_at = None
    unanswered_since = None
    queued_implicitly = False  # queue entry taken from creation on a live channel, until an explicit one
    rating = rating_agent = None
    reopen_times: list[int] = []
    replies: list[tuple[int, str | None]] = []
    next_replies: list[tuple[int, int, str | None]] = []
    labels: list[Any] | None = None
    url = None
    for step in record["ev"]:
        kind, t = step[_TYPE], step[_T]
        if len(step) > _LABELS:
            if step[_LABELS] is not None:
                if labels is None:
                    labels = list(NO_LABELS)
                fold_labels(labels, step[_LABELS])
            if len(step) > _URL:
                url = step[_URL]
        account = step[_ACCOUNT] or account
        queue = step[_QUEUE] or queue
        channel = step[_CHANNEL] or channel
        priority = step[_PRIORITY] or priority
        if kind == "contact.created":
            if created_at is None:
                created_at = t
                status = step[_STATUS] or status or "new"
                if status in DONE_STATUSES:  # created already solved, e.g. by an agent on the phone
                    resolved_at = last_solved_at = t
                    resolver = step[_AGENT] or assignee
                if channel in LIVE_CHANNELS and queued_at is None:
                    queued_at, queued_implicitly = t, True
        elif kind == "contact.queued":
            # An explicit queue entry wins over creation: Amazon Connect creates contacts before the IVR.
            if connected_at is None and (queued_at is None or queued_implicitly):
                queued_at, queued_implicitly = t, False
        elif kind == "contact.assigned":
            assignee = step[_AGENT]  # null means unassigned
        elif kind == "contact.connected":
            if connected_at is None and abandoned_at is None:
                connected_at, connected_agent = t, step[_AGENT]
                if created_at is not None and t > created_at and first_response_at is None:
                    first_response_at, responder = t, step[_AGENT]
            if step[_AGENT] and assignee is None:
                assignee = step[_AGENT]
        elif kind == "contact.message":
            author, public = step[_AUTHOR], step[_PUBLIC] is True
            if author == "customer" and public:
                if first_response_at is not None and unanswered_since is None:
                    unanswered_since = t
            elif author == "agent" and public and created_at is not None and t > created_at:
                replies.append((t, step[_AGENT]))
                if first_response_at is None and abandoned_at is None:
                    first_response_at, responder = t, step[_AGENT]
                elif unanswered_since is not None:
                    next_replies.append((t, t - unanswered_since, step[_AGENT]))
                unanswered_since = None
        elif kind == "contact.status_changed":
            new = step[_STATUS]
            if status in DONE_STATUSES and new in OPEN_STATUSES:
                reopen_times.append(t)
                last_solved_at = None
            if new in DONE_STATUSES:
                if resolved_at is None:
                    resolved_at, resolver = t, assignee
                if status not in DONE_STATUSES:
                    last_solved_at = t
                if connected_at is not None and ended_at is None:
                    ended_at = t
            status = new
        elif kind == "contact.abandoned":
            if connected_at is None and first_response_at is None and abandoned_at is None:
                abandoned_at = t
        elif kind == "contact.rated" and step[_RATING]:
            label, score, scale_max = step[_RATING]
            rating, rating_agent = (t, label, score, scale_max), assignee
    if status not in DONE_STATUSES:
        last_solved_at = None  # reopened since: no full resolution yet
    return ContactFacts(
        platform=record["pl"],
        account=account,
        queue=queue,
        channel=channel,
        priority=priority,
        assignee=assignee,
        status=status,
        created_at=created_at,
        first_response_at=first_response_at,
        responder=responder,
        resolved_at=resolved_at,
        resolver=resolver,
        last_solved_at=last_solved_at,
        reopen_times=tuple(reopen_times),
        abandoned_at=abandoned_at,
        replies=tuple(replies),
        next_replies=tuple(next_replies),
        unanswered_since=unanswered_since if status not in DONE_STATUSES else None,
        queued_at=queued_at,
        connected_at=connected_at,
        connected_agent=connected_agent,
        ended_at=ended_at,
        rating=rating,
        rating_agent=rating_agent,
        last_event_at=record["ev"][-1][_T] if record["ev"] else 0,
        labels=freeze(labels) if labels is not None else NO_LABELS,
        url=url,
    )
