"""Importer for the BPI Challenge 2013 incidents log (Volvo IT Belgium, VINST): XES → canonical events.

Streaming and pure: the gzip stream is parsed with ``iterparse`` (the standard library's, behind defusedxml's
hardened expat parser, which is already a dependency) and every ``<event>`` and ``<trace>`` is cleared once read,
so memory holds one incident at a time. One trace is one incident is one contact (``platform`` ``vinst``,
``contact_id`` = incident number). The mapping, and what the log cannot tell, are in ``docs/datasets.md``.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import IO, TYPE_CHECKING

from defusedxml.ElementTree import iterparse

from services.replay.documents import append_row_document, epoch_ms

if TYPE_CHECKING:
    from _typeshed import SupportsRead

PLATFORM = "vinst"
_NS = "{http://www.xes-standard.org/}"

# Owners that are system accounts, not people: they never become the assignee and never respond.
SYSTEM_OWNERS = frozenset({"Siebel"})

QUEUED = ("Queued", "Awaiting Assignment")
RESPONSE = ("Accepted", "In Progress")

# (status, sub-status) → canonical status. Queued/Awaiting Assignment is "new" until the incident was first
# accepted or completed, "open" after (see _status). Classes not listed (Unmatched/Unmatched) change no status.
STATUS: dict[tuple[str, str], str] = {
    ("Accepted", "In Progress"): "open",
    ("Accepted", "Assigned"): "open",
    ("Accepted", "Wait"): "pending",
    ("Accepted", "Wait - User"): "pending",
    ("Accepted", "Wait - Customer"): "pending",
    ("Accepted", "Wait - Vendor"): "on_hold",
    ("Accepted", "Wait - Implementation"): "on_hold",
    QUEUED: "open",
    ("Completed", "Resolved"): "solved",
    ("Completed", "In Call"): "solved",
    ("Completed", "Closed"): "closed",
    ("Completed", "Cancelled"): "closed",
}

PRIORITY = {"Low": "low", "Medium": "normal", "High": "high", "Major": "urgent"}

# XES key → attribute name kept on every canonical event (raw values, never needed for a KPI).
_RAW = {
    "concept:name": "raw_status",
    "lifecycle:transition": "raw_sub_status",
    "org:resource": "owner",
    "org:group": "team",
    "org:role": "role",
    "organization involved": "org_line",
    "organization country": "organization_country",
    "resource country": "resource_country",
    "impact": "impact",
    "product": "product",
}

Row = dict[str, str]


def read_traces(source: str | Path | SupportsRead[bytes]) -> Iterator[tuple[str, list[Row]]]:
    """Yield ``(incident number, [event attributes, ...])`` per trace, streaming; event-scope XES globals applied.

    ``source`` is a path (``.gz`` is decompressed on the fly) or a binary file object.
    """
    if isinstance(source, (str, Path)):
        path = Path(source)
        opener = gzip.open if path.name.endswith(".gz") else open
        with opener(path, "rb") as handle:
            yield from read_traces(handle)
        return
    defaults: Row = {}
    rows: list[Row] = []
    root = None
    for kind, elem in iterparse(source, events=("start", "end")):
        if kind == "start":
            if root is None:
                root = elem
            continue
        tag = elem.tag
        if tag == _NS + "event":
            row = dict(defaults)
            row.update((child.get("key"), child.get("value")) for child in elem)
            rows.append(row)
            elem.clear()
        elif tag == _NS + "trace":
            case = next(
                (c.get("value") for c in elem if c.tag != _NS + "event" and c.get("key") == "concept:name"), None
            )
            if not case:
                raise ValueError("a trace has no concept:name (incident number)")
            yield case, rows
            rows = []
            elem.clear()
            assert root is not None  # the log element's start came first
            root.clear()  # drop the emptied trace from the log element, so memory stays flat
        elif tag == _NS + "global" and elem.get("scope") == "event":
            defaults = {c.get("key"): c.get("value") for c in elem if c.get("key") != "time:timestamp"}
        elif root is not None and elem is not root and tag in (_NS + "global", _NS + "extension", _NS + "classifier"):
            elem.clear()


def _ms(value: str) -> int:
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"timestamp without offset: {value!r}")
    return epoch_ms(moment)


def map_incident(case: str, rows: list[Row]) -> list[dict]:
    """The canonical events of one incident, in row order (pure)."""
    out: list[dict] = []
    status: str | None = None
    queue: str | None = None
    assignee: str | None = None
    accepted = responded = False
    for index, row in enumerate(rows):
        ms = _ms(row["time:timestamp"])
        cls = (row.get("concept:name", ""), row.get("lifecycle:transition", ""))
        owner = row.get("org:resource") or None
        human = owner if owner not in SYSTEM_OWNERS else None
        team = row.get("org:group") or None
        if team == "UNKNOWN":
            team = None
        priority = PRIORITY.get(row.get("impact", ""))
        attributes = {"dataset": "bpi2013", "row": index}
        attributes.update((name, row[key]) for key, name in _RAW.items() if key in row)
        if owner in SYSTEM_OWNERS:
            attributes["actor"] = "system"

        new_status = STATUS.get(cls)
        if cls == QUEUED and not accepted:
            new_status = "new"
        if cls[0] in ("Accepted", "Completed"):
            accepted = True
        # Awaiting Assignment means nobody owns it (the owner on that row is whoever queued it);
        # a system owner (Siebel) leaves the human assignee in place.
        new_assignee = None if cls == QUEUED else (human or assignee)

        emit = partial(append_row_document, out, PLATFORM, case, index, ms, attributes, priority)

        if index == 0:
            status, queue = new_status or "new", team
            assignee = None if cls == QUEUED else human
            emit("created", "contact.created", status=status, queue_id=queue, agent_id=assignee)
            if assignee is not None:
                emit("assigned", "contact.assigned", agent_id=assignee, queue_id=queue)
        else:
            # A team change is a re-assignment to the new queue (as the Zendesk adapter maps a group change), not
            # `contact.queued`: in deskpulse that means entering a live queue, which only `contact.connected` ends.
            moved = team is not None and team != queue
            if moved or new_assignee != assignee:
                queue, assignee = (team if moved else queue), new_assignee
                emit("assigned", "contact.assigned", agent_id=assignee, queue_id=queue)
        if cls == RESPONSE and human is not None and not responded:
            responded = True
            emit("response", "contact.message", agent_id=human, queue_id=queue, author="agent", public=True)
        if index > 0 and new_status is not None and new_status != status:
            status = new_status
            emit("status", "contact.status_changed", status=status, queue_id=queue, agent_id=assignee)
    return out


def events(path: str | Path | IO[bytes], **_: object) -> Iterator[dict]:
    """Every canonical event of the log, incident by incident (file order), each incident in time order."""
    for case, rows in read_traces(path):
        yield from map_incident(case, rows)
