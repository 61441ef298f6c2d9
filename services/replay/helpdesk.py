"""Importer for the Helpdesk log of an Italian software company (``finale.csv``) → canonical events.

Streaming and pure: the CSV is read row by row and one case (contact) is mapped at a time; the rows of a case
must be contiguous, as they are in ``finale.csv``. One case is one contact (``platform`` ``helpdesk``,
``contact_id`` = the ``Case ID`` value). Timestamps carry no zone: they are read as local time in a
configurable IANA zone, default Europe/Rome. The mapping, and what the log cannot tell, are in
``docs/datasets.md``.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from datetime import datetime
from functools import partial
from pathlib import Path
from zoneinfo import ZoneInfo

from services.replay.documents import append_row_document, epoch_ms

PLATFORM = "helpdesk"
DEFAULT_TIMEZONE = "Europe/Rome"
TIME_FORMAT = "%Y/%m/%d %H:%M:%S.%f"

TAKE_IN_CHARGE = "Take in charge ticket"

# The 14 activities of finale.csv → canonical status (None: the activity changes no status).
ACTIVITY_STATUS: dict[str, str | None] = {
    "Insert ticket": None,  # ticket entered (first row of 118 cases): creation, status new
    "Assign seriousness": None,  # triage
    TAKE_IN_CHARGE: "open",  # an agent takes ownership (also the assignment, and the first one the response)
    "Wait": "pending",  # waiting, on the customer as far as the log tells
    "Require upgrade": "on_hold",  # waiting for a software upgrade
    "Create SW anomaly": "on_hold",  # escalated to development as a software anomaly
    "Resolve SW anomaly": "open",  # development fixed it; back with the help desk
    "Schedule intervention": "on_hold",  # waiting for a scheduled intervention
    "Resolve ticket": "solved",
    "Closed": "closed",
    # Upper-case states of the linked software anomaly (bug tracker), 8 rows in all: not ticket statuses.
    "RESOLVED": None,
    "VERIFIED": None,
    "INVALID": None,
    "DUPLICATE": None,
}
ACTIVITIES = tuple(ACTIVITY_STATUS)

# CSV column → attribute name kept on every canonical event (raw, anonymised values; never needed for a KPI).
_RAW = {
    "Activity": "activity",
    "Resource": "resource",
    "Variant index": "variant_index",
    "seriousness": "seriousness",
    "seriousness_2": "seriousness_2",
    "customer": "customer",
    "product": "product",
    "responsible_section": "responsible_section",
    "support_section": "support_section",
    "service_level": "service_level",
    "service_type": "service_type",
    "workgroup": "workgroup",
}

Row = dict[str, str]


def read_cases(path: str | Path | Iterable[str]) -> Iterator[tuple[str, list[Row]]]:
    """Yield ``(case id, [row, ...])`` per case, streaming; raises ValueError if a case's rows are not contiguous."""
    if isinstance(path, (str, Path)):
        with open(path, newline="", encoding="utf-8") as handle:
            yield from read_cases(handle)
        return
    reader = csv.reader(path)
    header = next(reader)
    # "Variant" appears twice in the header: keep the first occurrence of each name.
    columns: dict[str, int] = {}
    for position, name in enumerate(header):
        columns.setdefault(name, position)
    missing = {"Case ID", "Activity", "Resource", "Complete Timestamp"} - columns.keys()
    if missing:
        raise ValueError(f"not a Helpdesk log: missing columns {sorted(missing)}")
    seen: set[str] = set()
    case: str | None = None
    rows: list[Row] = []
    for record in reader:
        if not record:
            continue
        row = {name: record[position] for name, position in columns.items() if position < len(record)}
        if row["Case ID"] != case:
            if case is not None:
                yield case, rows
            case, rows = row["Case ID"], []
            if case in seen:
                raise ValueError(f"rows of case {case!r} are not contiguous")
            seen.add(case)
        rows.append(row)
    if case is not None:
        yield case, rows


def local_ms(text: str, zone: ZoneInfo) -> int:
    """A zone-less local timestamp → epoch ms. Ambiguous times (the repeated hour in autumn) take the first
    (summer-time) instant, non-existent ones (the skipped hour in spring) are read with the pre-transition offset
    (``fold=0`` in :mod:`zoneinfo`)."""
    return epoch_ms(datetime.strptime(text, TIME_FORMAT).replace(tzinfo=zone))


def map_case(case: str, rows: list[Row], zone: ZoneInfo) -> list[dict]:
    """The canonical events of one case, in row order (pure)."""
    out: list[dict] = []
    status: str | None = None
    queue: str | None = None
    assignee: str | None = None
    responded = False
    for index, row in enumerate(rows):
        ms = local_ms(row["Complete Timestamp"], zone)
        activity = row["Activity"]
        resource = row.get("Resource") or None
        team = row.get("workgroup") or None
        attributes = {"dataset": "helpdesk", "row": index, "local_time": row["Complete Timestamp"]}
        attributes.update((name, row[key]) for key, name in _RAW.items() if row.get(key))

        emit = partial(append_row_document, out, PLATFORM, case, index, ms, attributes, None)

        new_status = ACTIVITY_STATUS.get(activity)
        new_assignee = resource if activity == TAKE_IN_CHARGE and resource else assignee
        if index == 0:
            status, queue, assignee = new_status or "new", team, new_assignee
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
        if activity == TAKE_IN_CHARGE and resource and not responded:
            responded = True
            emit("response", "contact.message", agent_id=resource, queue_id=queue, author="agent", public=True)
        if index > 0 and new_status is not None and new_status != status:
            status = new_status
            emit("status", "contact.status_changed", status=status, queue_id=queue, agent_id=assignee)
    return out


def events(path: str | Path | Iterable[str], *, timezone: str = DEFAULT_TIMEZONE, **_: object) -> Iterator[dict]:
    """Every canonical event of the log, case by case (file order), each case in time order."""
    zone = ZoneInfo(timezone)
    for case, rows in read_cases(path):
        yield from map_case(case, rows, zone)
