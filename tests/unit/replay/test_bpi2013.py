"""The BPI Challenge 2013 importer against counts recomputed here from the raw XES with a plain ElementTree.parse."""

import gzip
import io
import xml.etree.ElementTree as ET
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import pytest

from services.replay import bpi2013, resolve

PATH = Path(__file__).resolve().parents[3] / "data" / "bpi2013_incidents" / "bpi_challenge_2013_incidents.xes.gz"
NS = "{http://www.xes-standard.org/}"


@pytest.fixture(scope="module")
def docs():
    return list(bpi2013.events(PATH))


@pytest.fixture(scope="module")
def raw():
    """[(incident, [event attribute dicts])] from a full, non-streaming parse (straightforward, independent)."""
    root = ET.parse(gzip.open(PATH)).getroot()
    traces = []
    for trace in root.findall(NS + "trace"):
        case = [s.get("value") for s in trace.findall(NS + "string") if s.get("key") == "concept:name"][0]
        rows = [{a.get("key"): a.get("value") for a in event} for event in trace.findall(NS + "event")]
        traces.append((case, rows))
    return traces


def queue_entries(docs):
    """Per queue: contacts created in it plus contacts moved into it (queue_id differs from the contact's last)."""
    entries, last = Counter(), {}
    for d in docs:
        if d["contact_id"] not in last or d["queue_id"] != last[d["contact_id"]]:
            entries[d["queue_id"]] += 1
            last[d["contact_id"]] = d["queue_id"]
    return entries


def expected(traces):
    """The mapping of docs/datasets.md, recomputed row by row from the raw log."""
    types, agents, teams, statuses, responders = Counter(), Counter(), Counter(), Counter(), Counter()
    for _, rows in traces:
        team = status = owner = None
        accepted = responded = False
        for i, row in enumerate(rows):
            cls = (row["concept:name"], row["lifecycle:transition"])
            person = None if row["org:resource"] == "Siebel" else row["org:resource"]
            if cls == ("Queued", "Awaiting Assignment"):
                mapped, target = ("open" if accepted else "new"), None
            else:
                mapped = {
                    "In Progress": "open", "Assigned": "open", "Wait": "pending", "Wait - User": "pending",
                    "Wait - Customer": "pending", "Wait - Vendor": "on_hold", "Wait - Implementation": "on_hold",
                    "Resolved": "solved", "In Call": "solved", "Closed": "closed", "Cancelled": "closed",
                }.get(cls[1])
                target = person if person else owner
            if cls[0] in ("Accepted", "Completed"):
                accepted = True
            if i == 0:
                types["contact.created"] += 1
                team, status, owner = row["org:group"], mapped or "new", target
                teams[team] += 1
                if owner:
                    types["contact.assigned"] += 1
                    agents[owner] += 1
            else:
                moved = row["org:group"] != team
                if moved:
                    team = row["org:group"]
                    teams[team] += 1
                if moved or target != owner:  # a team change is a re-assignment to the new team
                    owner = target
                    types["contact.assigned"] += 1
                    agents[owner] += 1
                if mapped and mapped != status:
                    status = mapped
                    types["contact.status_changed"] += 1
                    statuses[status] += 1
            if cls == ("Accepted", "In Progress") and person and not responded:
                responded = True
                types["contact.message"] += 1
                responders[person] += 1
    return types, agents, teams, statuses, responders


def test_dataset_name_resolves_to_the_copy_in_data():
    assert resolve("bpi2013") == ("bpi2013", PATH)


def test_raw_log_is_the_documented_one(raw):
    assert len(raw) == 7554
    assert sum(len(rows) for _, rows in raw) == 65533


def test_counts_equal_a_recomputation_from_the_raw_log(docs, raw):
    types, agents, teams, statuses, responders = expected(raw)
    assert Counter(d["type"] for d in docs) == types
    assert "contact.queued" not in types  # no live queues in this log: team changes are re-assignments
    assert len(docs) == sum(types.values())
    assert len({d["contact_id"] for d in docs}) == len(raw) == types["contact.created"]
    assert Counter(d["agent_id"] for d in docs if d["type"] == "contact.assigned") == agents  # per owner
    assert queue_entries(docs) == teams
    assert Counter(d["status"] for d in docs if d["type"] == "contact.status_changed") == statuses
    assert Counter(d["agent_id"] for d in docs if d["type"] == "contact.message") == responders


def test_documents_are_valid_unique_and_in_time_order_per_contact(docs, check_documents):
    assert check_documents(docs) == 7554


def test_times_are_the_raw_timestamps_exactly_in_utc(docs, raw):
    rows = {case: rows for case, rows in raw}
    for doc in docs:
        stamp = rows[doc["contact_id"]][doc["attributes"]["row"]]["time:timestamp"]
        utc = datetime.fromisoformat(stamp).astimezone(timezone.utc)
        assert doc["occurred_at"] == utc.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def test_priority_comes_from_impact_and_siebel_is_never_an_agent(docs):
    mapping = {"Low": "low", "Medium": "normal", "High": "high", "Major": "urgent"}
    assert all(d["priority"] == mapping[d["attributes"]["impact"]] for d in docs)
    assert not any(d["agent_id"] == "Siebel" for d in docs)
    assert all(d["attributes"]["actor"] == "system" for d in docs if d["attributes"]["owner"] == "Siebel")


def test_event_ids_name_platform_case_row_and_kind(docs):
    first = [d for d in docs if d["contact_id"] == "1-364285768"]
    assert [d["event_id"] for d in first[:4]] == [
        "vinst:1-364285768:0000:created",
        "vinst:1-364285768:0000:assigned",
        "vinst:1-364285768:0000:response",
        "vinst:1-364285768:0002:assigned",  # queued to V5 3rd: unassigned, new team
    ]


def _row(status, sub, owner, team, at, impact="Medium"):
    return {"concept:name": status, "lifecycle:transition": sub, "org:resource": owner, "org:group": team,
            "time:timestamp": at, "impact": impact}


def test_mapping_of_one_incident():
    rows = [
        _row("Queued", "Awaiting Assignment", "Siebel", "S1", "2012-05-01T10:00:00+02:00", "Major"),
        _row("Accepted", "In Progress", "Ann", "S1", "2012-05-01T10:05:00+02:00", "Major"),
        _row("Accepted", "Wait - User", "Ann", "S1", "2012-05-01T11:00:00+02:00", "Major"),
        _row("Queued", "Awaiting Assignment", "Ann", "S2 2nd", "2012-05-02T09:00:00+02:00", "Major"),
        _row("Accepted", "In Progress", "Bob", "S2 2nd", "2012-05-02T09:30:00+02:00", "Major"),
        _row("Completed", "Resolved", "Bob", "S2 2nd", "2012-05-03T08:00:00+02:00", "Major"),
        _row("Completed", "Closed", "Siebel", "S2 2nd", "2012-05-13T08:00:00+02:00", "Major"),
    ]
    got = [(d["event_id"].split(":", 2)[2], d["type"], d["occurred_at"], d["agent_id"], d["queue_id"], d["status"])
           for d in bpi2013.map_incident("INC", rows)]
    assert got == [
        ("0000:created", "contact.created", "2012-05-01T08:00:00.000Z", None, "S1", "new"),
        ("0001:assigned", "contact.assigned", "2012-05-01T08:05:00.000Z", "Ann", "S1", None),
        ("0001:response", "contact.message", "2012-05-01T08:05:00.000Z", "Ann", "S1", None),
        ("0001:status", "contact.status_changed", "2012-05-01T08:05:00.000Z", "Ann", "S1", "open"),
        ("0002:status", "contact.status_changed", "2012-05-01T09:00:00.000Z", "Ann", "S1", "pending"),
        ("0003:assigned", "contact.assigned", "2012-05-02T07:00:00.000Z", None, "S2 2nd", None),
        ("0003:status", "contact.status_changed", "2012-05-02T07:00:00.000Z", None, "S2 2nd", "open"),
        ("0004:assigned", "contact.assigned", "2012-05-02T07:30:00.000Z", "Bob", "S2 2nd", None),
        ("0005:status", "contact.status_changed", "2012-05-03T06:00:00.000Z", "Bob", "S2 2nd", "solved"),
        ("0006:status", "contact.status_changed", "2012-05-13T06:00:00.000Z", "Bob", "S2 2nd", "closed"),
    ]
    docs = bpi2013.map_incident("INC", rows)
    assert {d["priority"] for d in docs} == {"urgent"}
    assert docs[-1]["attributes"]["actor"] == "system"


class CountingReader(io.RawIOBase):
    def __init__(self, inner):
        self.inner, self.read_bytes = inner, 0

    def readable(self):
        return True

    def readinto(self, buffer):
        data = self.inner.read(len(buffer))
        buffer[: len(data)] = data
        self.read_bytes += len(data)
        return len(data)


def test_import_streams_rather_than_loading_the_whole_document():
    with gzip.open(PATH) as stream:
        reader = CountingReader(stream)
        traces = bpi2013.read_traces(reader)
        case, rows = next(traces)
        assert case == "1-364285768" and len(rows) > 1
        assert reader.read_bytes < 5_000_000  # of ~39.5 MB of XML
        traces.close()
