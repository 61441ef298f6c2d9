"""The Helpdesk importer against counts recomputed here from finale.csv with csv.DictReader."""

import csv
import io
from collections import Counter, defaultdict
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from services.replay import helpdesk, resolve

PATH = Path(__file__).resolve().parents[3] / "data" / "helpdesk" / "finale.csv"

STATUS = {"Take in charge ticket": "open", "Wait": "pending", "Require upgrade": "on_hold",
          "Create SW anomaly": "on_hold", "Resolve SW anomaly": "open", "Schedule intervention": "on_hold",
          "Resolve ticket": "solved", "Closed": "closed"}


@pytest.fixture(scope="module")
def docs():
    return list(helpdesk.events(PATH))


@pytest.fixture(scope="module")
def raw():
    cases = defaultdict(list)
    with open(PATH, newline="") as handle:
        for row in csv.DictReader(handle):
            cases[row["Case ID"]].append(row)
    return cases


def queue_entries(docs):
    """Per queue: contacts created in it plus contacts moved into it (queue_id differs from the contact's last)."""
    entries, last = Counter(), {}
    for d in docs:
        if d["contact_id"] not in last or d["queue_id"] != last[d["contact_id"]]:
            entries[d["queue_id"]] += 1
            last[d["contact_id"]] = d["queue_id"]
    return entries


def expected(cases):
    types, agents, teams, statuses, responders = Counter(), Counter(), Counter(), Counter(), Counter()
    for rows in cases.values():
        team = status = owner = None
        responded = False
        for i, row in enumerate(rows):
            taken = row["Activity"] == "Take in charge ticket"
            target = row["Resource"] if taken else owner
            mapped = STATUS.get(row["Activity"])
            if i == 0:
                types["contact.created"] += 1
                team, status, owner = row["workgroup"], mapped or "new", target
                teams[team] += 1
                if owner:
                    types["contact.assigned"] += 1
                    agents[owner] += 1
            else:
                moved = row["workgroup"] != team
                if moved:
                    team = row["workgroup"]
                    teams[team] += 1
                if moved or target != owner:  # a workgroup change is a re-assignment to the new workgroup
                    owner = target
                    types["contact.assigned"] += 1
                    agents[owner] += 1
                if mapped and mapped != status:
                    status = mapped
                    types["contact.status_changed"] += 1
                    statuses[status] += 1
            if taken and not responded:
                responded = True
                types["contact.message"] += 1
                responders[row["Resource"]] += 1
    return types, agents, teams, statuses, responders


def test_dataset_name_resolves_to_the_copy_in_data():
    assert resolve("helpdesk") == ("helpdesk", PATH)


def test_raw_log_is_the_documented_one(raw):
    assert len(raw) == 4580
    assert sum(len(rows) for rows in raw.values()) == 21348
    activities = {row["Activity"] for rows in raw.values() for row in rows}
    assert activities == set(helpdesk.ACTIVITIES) and len(activities) == 14


def test_counts_equal_a_recomputation_from_the_raw_log(docs, raw):
    types, agents, teams, statuses, responders = expected(raw)
    assert Counter(d["type"] for d in docs) == types
    assert "contact.queued" not in types  # no live queues in this log: team changes are re-assignments
    assert len(docs) == sum(types.values())
    assert len({d["contact_id"] for d in docs}) == len(raw) == types["contact.created"]
    assert Counter(d["agent_id"] for d in docs if d["type"] == "contact.assigned") == agents  # per resource
    assert queue_entries(docs) == teams
    assert Counter(d["status"] for d in docs if d["type"] == "contact.status_changed") == statuses
    assert Counter(d["agent_id"] for d in docs if d["type"] == "contact.message") == responders


def test_documents_are_valid_unique_and_in_time_order_per_contact(docs, check_documents):
    assert check_documents(docs, schema_every=5) == 4580


def test_local_times_are_read_in_europe_rome_by_default(docs, raw):
    rome = ZoneInfo("Europe/Rome")
    for doc in docs:
        local = raw[doc["contact_id"]][doc["attributes"]["row"]]["Complete Timestamp"]
        moment = datetime.strptime(local, "%Y/%m/%d %H:%M:%S.%f").replace(tzinfo=rome).astimezone(timezone.utc)
        assert doc["occurred_at"] == moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    first = next(d for d in docs if d["event_id"] == "helpdesk:Case 1:0000:created")
    assert first["occurred_at"] == "2012-10-09T12:50:17.000Z"  # 14:50:17 CEST (summer time, +02:00)
    winter = next(d for d in docs if d["attributes"]["local_time"] == "2010/01/13 08:40:25.000")
    assert winter["occurred_at"] == "2010-01-13T07:40:25.000Z"  # CET, +01:00


def test_time_zone_is_configurable():
    text = "Case ID,Activity,Resource,Complete Timestamp,workgroup\nCase 9,Insert ticket,Value 1,2012/10/09 14:50:17.000,Value 1\n"
    (utc,) = helpdesk.events(io.StringIO(text), timezone="UTC")
    (rome,) = helpdesk.events(io.StringIO(text))
    assert utc["occurred_at"] == "2012-10-09T14:50:17.000Z"
    assert rome["occurred_at"] == "2012-10-09T12:50:17.000Z"


def test_mapping_of_one_case():
    text = (
        "Case ID,Activity,Resource,Complete Timestamp,workgroup\n"
        "Case 1,Assign seriousness,Value 1,2012/10/09 14:50:17.000,Value 1\n"
        "Case 1,Take in charge ticket,Value 1,2012/10/09 14:51:01.000,Value 1\n"
        "Case 1,Take in charge ticket,Value 2,2012/10/12 15:02:56.000,Value 2\n"
        "Case 1,Wait,Value 2,2012/10/13 09:00:00.000,Value 2\n"
        "Case 1,Resolve ticket,Value 2,2012/10/25 11:54:26.000,Value 2\n"
        "Case 1,Closed,Value 5,2012/10/25 11:54:26.000,Value 2\n"
    )
    got = [(d["event_id"], d["type"], d["agent_id"], d["queue_id"], d["status"])
           for d in helpdesk.events(io.StringIO(text))]
    assert got == [
        ("helpdesk:Case 1:0000:created", "contact.created", None, "Value 1", "new"),
        ("helpdesk:Case 1:0001:assigned", "contact.assigned", "Value 1", "Value 1", None),
        ("helpdesk:Case 1:0001:response", "contact.message", "Value 1", "Value 1", None),
        ("helpdesk:Case 1:0001:status", "contact.status_changed", "Value 1", "Value 1", "open"),
        ("helpdesk:Case 1:0002:assigned", "contact.assigned", "Value 2", "Value 2", None),
        ("helpdesk:Case 1:0003:status", "contact.status_changed", "Value 2", "Value 2", "pending"),
        ("helpdesk:Case 1:0004:status", "contact.status_changed", "Value 2", "Value 2", "solved"),
        ("helpdesk:Case 1:0005:status", "contact.status_changed", "Value 2", "Value 2", "closed"),
    ]


def test_rows_of_a_case_must_be_contiguous():
    text = (
        "Case ID,Activity,Resource,Complete Timestamp,workgroup\n"
        "Case 1,Insert ticket,Value 1,2012/10/09 14:50:17.000,Value 1\n"
        "Case 2,Insert ticket,Value 1,2012/10/09 14:50:17.000,Value 1\n"
        "Case 1,Closed,Value 1,2012/10/09 15:50:17.000,Value 1\n"
    )
    with pytest.raises(ValueError, match="not contiguous"):
        list(helpdesk.events(io.StringIO(text)))
