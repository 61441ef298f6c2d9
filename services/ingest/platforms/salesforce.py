"""Salesforce Service Cloud: Outbound Messages (SOAP ``notifications``, up to 100 ``Notification`` elements).

Maps each ``Notification`` by its ``sObject`` type (``xsi:type``):
- ``Case``: ``contact.created`` (id ``salesforce:<CaseId>:created``, at ``CreatedDate``; sent by every message
  that carries ``CreatedDate`` so it survives out-of-order delivery) and, when the record was modified after
  creation, ``contact.status_changed`` (``Status``: New → new, Working/In Progress/Escalated → open, On Hold →
  on_hold, Waiting on Customer → pending, Closed → closed; a custom status → closed if ``IsClosed`` else open);
  a user ``OwnerId`` (``005…``) → ``contact.assigned``, a queue owner (``00G…``) → ``queue_id``. ``Priority``
  (Low/Medium/High/Critical) and ``Origin`` (Phone, Email, Web, Chat, …) map to priority and channel.
- ``AgentWork`` with ``AcceptDateTime``: ``contact.assigned`` (agent = ``UserId``, contact = ``WorkItemId``),
  plus ``contact.connected`` when the work item is live (chat transcript ``570``, messaging session ``0Mw``,
  voice call ``0LQ``). Offers not yet accepted are ignored.
- ``UserServicePresence`` (current state only): ``agent.state_changed`` away if ``IsAway`` else available,
  ``attributes.raw_state`` = ``ServicePresenceStatusId`` (the status name is on a related record, which Outbound
  Messages cannot include).
Other objects are ignored. Every delivery is answered with the SOAP ``Ack`` envelope Salesforce requires.
Cannot provide: messages, CSAT, the old status of a change (messages carry the latest record only), logouts
(an ended presence row is ignored: its end may tie with the next status's start).
Auth: Salesforce signs nothing; ``OrganizationId`` must equal a configured secret (15- or 18-character id).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from services.common.events import CanonicalEvent
from services.ingest.platforms.base import (
    Adapted,
    Delivery,
    Malformed,
    Reply,
    Unauthorized,
    Unmappable,
    any_matches,
    event,
    text_id,
    to_rfc3339,
    xml_root,
)

NAME = "salesforce"
MEDIA_TYPES = frozenset({"text/xml", "application/xml"})
REQUIRES_SECRET = True

ACK = (
    b'<?xml version="1.0" encoding="UTF-8"?>'
    b'<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>'
    b'<notificationsResponse xmlns="http://soap.sforce.com/2005/09/outbound"><Ack>true</Ack>'
    b"</notificationsResponse></soapenv:Body></soapenv:Envelope>"
)
_XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"
_STATUS = {
    "new": "new",
    "working": "open",
    "in progress": "open",
    "escalated": "open",
    "open": "open",
    "on hold": "on_hold",
    "waiting on customer": "pending",
    "pending": "pending",
    "closed": "closed",
    "solved": "solved",
    "resolved": "solved",
}
_PRIORITY = {
    "low": "low",
    "medium": "normal",
    "normal": "normal",
    "high": "high",
    "critical": "urgent",
    "urgent": "urgent",
}
_ORIGIN = {
    "phone": "voice",
    "email": "email",
    "web": "web",
    "chat": "chat",
    "messaging": "messaging",
    "sms": "sms",
    "text": "sms",
    "whatsapp": "messaging",
    "facebook": "social",
    "twitter": "social",
    "social": "social",
}
_LIVE_PREFIXES = ("570", "0Mw", "0LQ")


def _local(tag: Any) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _notifications(root: Any) -> Any:
    for element in root.iter():
        if _local(element.tag) == "notifications":
            return element
    return None


def _child_text(element: Any, name: str) -> str | None:
    for child in element:
        if _local(child.tag) == name:
            return (child.text or "").strip() or None
    return None


def verify(delivery: Delivery, secrets: Sequence[str], tolerance_s: float) -> None:
    found = _notifications(xml_root(delivery))
    org = _child_text(found, "OrganizationId") if found is not None else None
    if not org:
        raise Unauthorized("no OrganizationId in the SOAP notifications")
    ok = False
    for secret in secrets:  # a 15-character org id is the case-sensitive prefix of the 18-character one
        ok |= any_matches([secret], org[:15] if len(secret) == 15 else org)
    if not ok:
        raise Unauthorized("OrganizationId does not match the configured organization")


def to_events(delivery: Delivery) -> Adapted:
    found = _notifications(xml_root(delivery))
    if found is None:
        raise Malformed("no SOAP notifications element")
    events: list[CanonicalEvent] = []
    for index, note in enumerate(n for n in found if _local(n.tag) == "Notification"):
        sobject = next((c for c in note if _local(c.tag) == "sObject"), None)
        if sobject is None:
            raise Unmappable(f"Notification {index} has no sObject")
        kind = str(sobject.get(_XSI_TYPE) or "").rpartition(":")[2]
        fields = {_local(c.tag): (c.text or "").strip() for c in sobject if (c.text or "").strip()}
        note_id = text_id(_child_text(note, "Id"), f"Notification[{index}].Id")
        mapper = {"Case": _case, "AgentWork": _agent_work, "UserServicePresence": _presence}.get(kind)
        if mapper is not None:
            events += mapper(fields, note_id, delivery.account)
    return Adapted(events, reply=Reply(200, ACK, "text/xml"))


def _case(f: dict[str, str], note_id: str, account: str | None) -> list[CanonicalEvent]:
    case = text_id(f.get("Id"), "Case.Id")
    raw = f.get("Status")
    status = _STATUS.get((raw or "").lower()) or ("closed" if f.get("IsClosed") == "true" else "open")
    owner = f.get("OwnerId") or ""
    created, modified = f.get("CreatedDate"), f.get("LastModifiedDate") or f.get("SystemModstamp")
    base = {
        "platform": NAME,
        "account": account,
        "contact_id": case,
        "queue_id": owner if owner[:3] == "00G" else None,
        "channel": _ORIGIN.get((f.get("Origin") or "").lower(), "other" if f.get("Origin") else None),
        "priority": _PRIORITY.get((f.get("Priority") or "").lower()),
        "attributes": {k: v for k, v in {"raw_status": raw, "case_number": f.get("CaseNumber")}.items() if v},
    }
    if not created and not modified:
        raise Unmappable("Case without CreatedDate, LastModifiedDate or SystemModstamp")
    fresh = not modified or modified == created
    out = []
    if created:
        out.append(
            event(
                {
                    **base,
                    "event_id": f"{NAME}:{case}:created",
                    "type": "contact.created",
                    "occurred_at": to_rfc3339(created, field="CreatedDate"),
                    "status": status if fresh else "new",
                }
            )
        )
    when = to_rfc3339(modified or created, field="LastModifiedDate")
    if owner[:3] == "005":
        out.append(
            event(
                {
                    **base,
                    "event_id": f"{note_id}:assigned",
                    "type": "contact.assigned",
                    "occurred_at": when,
                    "agent_id": owner,
                }
            )
        )
    if not fresh:
        out.append(
            event(
                {**base, "event_id": note_id, "type": "contact.status_changed", "occurred_at": when, "status": status}
            )
        )
    return out


def _agent_work(f: dict[str, str], note_id: str, account: str | None) -> list[CanonicalEvent]:
    if not f.get("AcceptDateTime"):
        return []  # offered (Assigned), declined or canceled: not an assignment
    item = text_id(f.get("WorkItemId"), "AgentWork.WorkItemId")
    base = {
        "platform": NAME,
        "account": account,
        "contact_id": item,
        "agent_id": text_id(f.get("UserId"), "UserId"),
        "queue_id": f.get("OriginalQueueId") or None,
        "occurred_at": to_rfc3339(f["AcceptDateTime"], field="AcceptDateTime"),
        "attributes": {k: v for k, v in {"raw_status": f.get("Status"), "agent_work_id": f.get("Id")}.items() if v},
    }
    out = [event({**base, "event_id": f"{note_id}:assigned", "type": "contact.assigned"})]
    if item.startswith(_LIVE_PREFIXES):
        out.append(event({**base, "event_id": note_id, "type": "contact.connected"}))
    return out


def _presence(f: dict[str, str], note_id: str, account: str | None) -> list[CanonicalEvent]:
    if f.get("IsCurrentState") == "false" or f.get("StatusEndDate"):
        return []
    raw = f.get("ServicePresenceStatusId") or ("away" if f.get("IsAway") == "true" else "online")
    return [
        event(
            {
                "event_id": note_id,
                "type": "agent.state_changed",
                "platform": NAME,
                "account": account,
                "agent_id": text_id(f.get("UserId"), "UserServicePresence.UserId"),
                "occurred_at": to_rfc3339(f.get("StatusStartDate"), field="StatusStartDate"),
                "state": "away" if f.get("IsAway") == "true" else "available",
                "attributes": {"raw_state": raw},
            }
        )
    ]
