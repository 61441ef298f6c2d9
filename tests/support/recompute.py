"""A straightforward batch recomputation of the skeleton's figures from canonical event documents.

Written independently of ``services.aggregator`` (no imports from it), directly from the definitions in
ARCHITECTURE.md, so tests can compare the streaming result with it.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

TYPE_ORDER = ["contact.created", "contact.queued", "contact.assigned", "contact.connected", "contact.message",
              "contact.status_changed", "contact.abandoned", "contact.rated"]
DONE = {"solved", "closed"}
OPEN = {"new", "open", "pending", "on_hold"}


def ms(doc: dict) -> int:
    moment = datetime.fromisoformat(doc["occurred_at"].replace("Z", "+00:00"))
    return round(moment.timestamp() * 1000)


def expected_figures(docs: list[dict]) -> dict[str, dict]:
    """scope id -> {created, first_responses, first_response_ms_sum, resolved, reopened, open, waiting,
    oldest_waiting_created_ms}."""
    unique = {}
    for doc in docs:
        unique.setdefault(doc["event_id"], doc)
    contacts = defaultdict(list)
    for doc in unique.values():
        if doc["type"].startswith("contact."):
            contacts[(doc["platform"], doc["contact_id"])].append(doc)

    figures: dict[str, dict] = defaultdict(lambda: {
        "created": 0, "first_responses": 0, "first_response_ms_sum": 0, "resolved": 0, "reopened": 0,
        "open": 0, "waiting": 0, "oldest_waiting_created_ms": None,
    })
    for (platform, _), evs in contacts.items():
        evs.sort(key=lambda d: (ms(d), TYPE_ORDER.index(d["type"]), d["event_id"]))
        creations = [d for d in evs if d["type"] == "contact.created"]
        if not creations:
            continue
        created = creations[0]
        created_at = ms(created)
        queues = [d["queue_id"] for d in evs if d.get("queue_id")]
        queue = queues[-1] if queues else None

        abandoned_at = next((ms(d) for d in evs if d["type"] == "contact.abandoned"), None)
        responses = [
            d for d in evs
            if ms(d) > created_at
            and (d["type"] == "contact.connected"
                 or (d["type"] == "contact.message" and d.get("author") == "agent" and d.get("public") is True))
        ]
        first = responses[0] if responses else None
        if first is not None and abandoned_at is not None and abandoned_at <= ms(first):
            first = None
        abandoned = abandoned_at is not None and first is None

        # status history and who was assigned at each point
        status = created.get("status") or "new"
        assignee = None
        resolved_by, resolved, reopens = None, False, 0
        if status in DONE:
            resolved, resolved_by = True, created.get("agent_id")
        for d in evs:
            if d["type"] == "contact.assigned":
                assignee = d.get("agent_id")
            if d["type"] == "contact.connected" and d.get("agent_id") and assignee is None:
                assignee = d["agent_id"]
            if d["type"] == "contact.status_changed":
                new = d["status"]
                if status in DONE and new in OPEN:
                    reopens += 1
                if new in DONE and not resolved:
                    resolved, resolved_by = True, assignee
                status = new
        is_open = not abandoned and status in OPEN
        is_waiting = is_open and first is None

        scopes = ["all", f"platform/{platform}"] + ([f"queue/{platform}/{queue}"] if queue else [])
        for scope in scopes:
            f = figures[scope]
            f["created"] += 1
            if first is not None:
                f["first_responses"] += 1
                f["first_response_ms_sum"] += ms(first) - created_at
            f["resolved"] += int(resolved)
            f["reopened"] += reopens
            f["open"] += int(is_open)
            f["waiting"] += int(is_waiting)
            if is_waiting and (f["oldest_waiting_created_ms"] is None or created_at < f["oldest_waiting_created_ms"]):
                f["oldest_waiting_created_ms"] = created_at
        if first is not None and first.get("agent_id"):
            f = figures[f"agent/{platform}/{first['agent_id']}"]
            f["first_responses"] += 1
            f["first_response_ms_sum"] += ms(first) - created_at
        if resolved and resolved_by:
            figures[f"agent/{platform}/{resolved_by}"]["resolved"] += 1
        if is_open and assignee:
            figures[f"agent/{platform}/{assignee}"]["open"] += 1
    return dict(figures)
