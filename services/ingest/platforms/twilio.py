"""Twilio TaskRouter / Flex: Workspace event callbacks (form-encoded), Event Streams webhook sinks (JSON), and
TaskRouter's Event resource as its REST API gives it (JSON: one, an array, or a page of the Events list, as a
forwarder that reads the API posts them; ``event_data`` names read like Event Streams', id = the Event's ``sid``).

Maps (callbacks and Event Streams alike; Event Streams ``data.payload`` snake_case names are read as the
callback's PascalCase ones, ``task_queue_sid`` → ``TaskQueueSid``):
- ``task.created`` → ``contact.created`` (+ ``contact.queued`` when the task already names a TaskQueue);
  ``task-queue.entered`` → ``contact.queued``;
- ``reservation.accepted`` → ``contact.assigned`` + ``contact.connected`` (agent = ``WorkerSid``);
- ``task.canceled`` → ``contact.abandoned`` (TaskRouter only cancels tasks that were never accepted);
- ``task.wrapup`` → ``contact.status_changed`` ``pending`` (``attributes.raw_status`` ``wrapping``: the
  conversation ended, the agent is in after-contact work); ``task.completed`` → ``contact.status_changed``
  ``closed``;
- ``worker.activity.update`` → ``agent.state_changed``: Available/Idle → available, Offline → offline,
  Busy/On a Task/Wrap-up → busy, anything else (Unavailable, Break, Lunch, custom) → away; the activity name
  goes to ``attributes.raw_state``.
Channel from ``TaskChannelUniqueName`` (voice, chat, sms, email, video; ``default`` → other).
Ignored: ``reservation.created/rejected/timeout/…`` (offers, not assignments), ``task.updated``, workflow,
activity and worker-attribute events, non-TaskRouter CloudEvents.
Cannot provide: messages (Conversations is another product), ratings, priority as an enum (TaskRouter priority is
an integer: ``attributes.task_priority``), transfers.

Auth: ``X-Twilio-Signature`` = base64(HMAC-SHA1(AuthToken, URL + sorted params)) with the URL as Twilio called
it (``delivery.url``), tried also with the default port added/removed as Twilio's SDKs do. JSON bodies (Event
Streams) are signed over the URL alone, which carries ``bodySHA256`` = hex SHA-256 of the raw body. Event Streams
sinks may instead use Basic auth in the sink URL: the secret is then ``user:password``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from services.common.events import CanonicalEvent
from services.ingest.platforms.base import (
    Adapted,
    Delivery,
    Malformed,
    Reply,
    Unauthorized,
    Unmappable,
    any_matches,
    as_dict,
    b64,
    event,
    form_body,
    hmac_digest,
    json_body,
    obj,
    stable_id,
    text_id,
    to_rfc3339,
)

NAME = "twilio"
MEDIA_TYPES = frozenset({"application/x-www-form-urlencoded", "application/json"})
REQUIRES_SECRET = True
SIGNS_URL = True  # the signature covers the URL: ingest builds delivery.url for this platform

_CHANNELS = {
    "voice": "voice",
    "chat": "chat",
    "sms": "sms",
    "email": "email",
    "video": "voice",
    "whatsapp": "messaging",
    "messenger": "social",
    "default": "other",
}
_STATES = {
    "available": "available",
    "idle": "available",
    "offline": "offline",
    "busy": "busy",
    "on a task": "busy",
    "wrap-up": "busy",
    "wrapup": "busy",
    "wrapping": "busy",
}
_PREFIX = "com.twilio.taskrouter."


def _is_json(delivery: Delivery) -> bool:
    return delivery.headers.get("content-type", "").split(";")[0].strip().lower().endswith("json")


def _url_variants(url: str) -> list[str]:
    """The URL as given, and with the scheme's default port added or removed (twilio-python does the same)."""
    try:
        parts = urlsplit(url)
        port, host = parts.port, parts.hostname or ""
    except ValueError:
        return [url]
    default = {"https": 443, "http": 80}.get(parts.scheme)
    userinfo = parts.netloc.rpartition("@")[0]
    prefix = f"{userinfo}@" if userinfo else ""
    if port is not None:
        other = parts._replace(netloc=prefix + host)
    elif default is not None:
        other = parts._replace(netloc=f"{prefix}{host}:{default}")
    else:
        return [url]
    return [url, urlunsplit(other)]


def signature(token: str, url: str, params: list[tuple[str, str]]) -> str:
    """Twilio's signature: names sorted, each name's distinct values sorted, name+value concatenated."""
    values: dict[str, set[str]] = {}
    for name, value in params:
        values.setdefault(name, set()).add(value)
    payload = url + "".join(name + value for name in sorted(values) for value in sorted(values[name]))
    return b64(hmac_digest(token, payload.encode(), "sha1"))


def verify(delivery: Delivery, secrets: Sequence[str], tolerance_s: float) -> None:
    presented = delivery.headers.get("x-twilio-signature")
    auth = delivery.headers.get("authorization", "")
    if not presented and auth[:6].lower() == "basic ":
        try:
            pair = base64.b64decode(auth[6:].strip(), validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            raise Unauthorized("Authorization header is not valid Basic auth") from None
        if not any_matches(secrets, pair):
            raise Unauthorized("wrong Basic credentials")
        return
    if not presented:
        raise Unauthorized("missing X-Twilio-Signature header (or Basic auth for Event Streams sinks)")
    if _is_json(delivery):
        try:
            query = dict(parse_qsl(urlsplit(delivery.url).query))
        except ValueError:
            query = {}
        claimed = query.get("bodySHA256", "")
        if not hmac.compare_digest(claimed.lower().encode(), hashlib.sha256(delivery.body).hexdigest().encode()):
            raise Unauthorized("bodySHA256 in the URL does not match the body")
        params: list[tuple[str, str]] = []
    else:
        try:
            params = parse_qsl(delivery.body.decode("utf-8"), keep_blank_values=True)
        except UnicodeDecodeError:
            raise Unauthorized("cannot verify: the form body is not UTF-8") from None
    ok = False
    for token in secrets:
        for url in _url_variants(delivery.url):
            ok |= hmac.compare_digest(signature(token, url, params).encode(), presented.encode())
    if not ok:
        raise Unauthorized("X-Twilio-Signature does not match (check DESKPULSE_PUBLIC_BASE_URL behind a proxy)")


def to_events(delivery: Delivery) -> Adapted:
    if _is_json(delivery):
        return Adapted(_stream_events(json_body(delivery), delivery.account))
    fields = form_body(delivery)
    if not fields.get("EventType"):
        raise Unmappable("callback without EventType")
    sid = fields.get("Sid") or fields.get("EventSid")
    stamp = fields.get("TimestampMs") or fields.get("Timestamp")
    event_id = sid or stable_id(NAME, fields["EventType"], fields.get("ResourceSid"), stamp)
    return Adapted(_map(fields["EventType"], fields, event_id, stamp, delivery.account), reply=Reply(status=204))


def _is_event_resource(item: Any) -> bool:
    """TaskRouter's Event resource as its REST API gives it (``event_type``, ``event_data``, ``sid`` EV…)."""
    return isinstance(item, dict) and isinstance(item.get("event_type"), str) and "specversion" not in item


def _resource_events(item: dict[str, Any], index: int, account: str | None) -> list[CanonicalEvent]:
    data = as_dict(item.get("event_data"))
    fields = {_pascal(k): v for k, v in data.items()}
    for top in ("resource_sid", "workspace_sid"):  # the resource's own SIDs, where event_data leaves them out
        fields.setdefault(_pascal(top), item.get(top))
    stamp = next((v for v in (item.get("event_date_ms"), item.get("event_date")) if v not in (None, "")), None)
    event_id = text_id(item.get("sid"), f"[{index}].sid")
    return _map(item["event_type"], fields, event_id, stamp, account)


def _stream_events(document: Any, account: str | None) -> list[CanonicalEvent]:
    if isinstance(document, dict) and isinstance(document.get("events"), list) and "specversion" not in document:
        document = document["events"]  # a page of the REST API's Events list
    items = document if isinstance(document, list) else [document]
    events: list[CanonicalEvent] = []
    for index, item in enumerate(items):
        if _is_event_resource(item):
            events += _resource_events(item, index, account)
            continue
        cloud = obj(item, f"[{index}]")
        kind = cloud.get("type")
        if not isinstance(kind, str) or "specversion" not in cloud:
            raise Malformed(f"[{index}] is neither a CloudEvent nor a TaskRouter Event resource")
        if not kind.startswith(_PREFIX):
            continue
        data = as_dict(cloud.get("data"))
        payload = as_dict(data.get("payload"))
        fields = {_pascal(k): v for k, v in payload.items()}
        stamp = next(
            (
                v
                for v in (fields.get("TimestampMs"), fields.get("Timestamp"), data.get("timestamp"), cloud.get("time"))
                if v not in (None, "")
            ),
            None,
        )
        event_id = text_id(cloud.get("id"), f"[{index}].id")
        events += _map(kind[len(_PREFIX) :], fields, event_id, stamp, account)
    return events


def _named(attributes: dict[str, Any], **names: Any) -> dict[str, Any]:
    """``attributes`` with the display names given (``queue_name``, ``agent_name``) that are non-empty text."""
    return {**attributes, **{k: v.strip() for k, v in names.items() if isinstance(v, str) and v.strip()}}


def _pascal(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in str(name).split("_"))


def _map(kind: str, f: dict[str, Any], event_id: str, stamp: Any, account: str | None) -> list[CanonicalEvent]:
    if kind == "worker.activity.update":
        name = f.get("WorkerActivityName")
        if not isinstance(name, str) or not name:
            raise Unmappable("worker.activity.update without WorkerActivityName")
        return [
            event(
                {
                    "event_id": event_id,
                    "type": "agent.state_changed",
                    "platform": NAME,
                    "account": account,
                    "occurred_at": to_rfc3339(stamp, field="TimestampMs"),
                    "agent_id": text_id(f.get("WorkerSid"), "WorkerSid"),
                    "state": _STATES.get(name.strip().lower(), "away"),
                    "attributes": _named({"raw_state": name}, agent_name=f.get("WorkerName")),
                }
            )
        ]
    if kind not in (
        "task.created",
        "task-queue.entered",
        "reservation.accepted",
        "task.canceled",
        "task.wrapup",
        "task.completed",
    ):
        return []
    channel = (
        _CHANNELS.get(str(f.get("TaskChannelUniqueName") or "").lower()) if f.get("TaskChannelUniqueName") else None
    )
    queue = f.get("TaskQueueSid") or None
    attributes = {
        k: v
        for k, v in {
            "raw_event_type": kind,
            "task_priority": f.get("TaskPriority"),
            "reason": f.get("TaskCanceledReason") or f.get("TaskCompletedReason"),
            "queue_name": f.get("TaskQueueName") if queue else None,
        }.items()
        if v not in (None, "")
    }
    base = {
        "platform": NAME,
        "account": account,
        "contact_id": text_id(f.get("TaskSid"), "TaskSid"),
        "queue_id": queue if isinstance(queue, str) else None,
        "channel": channel,
        "occurred_at": to_rfc3339(stamp, field="TimestampMs"),
        "attributes": attributes,
    }
    if kind == "task.created":
        out = [event({**base, "event_id": event_id, "type": "contact.created", "status": "new"})]
        if base["queue_id"]:
            out.append(event({**base, "event_id": f"{event_id}:queued", "type": "contact.queued"}))
        return out
    if kind == "task-queue.entered":
        return [event({**base, "event_id": event_id, "type": "contact.queued"})]
    if kind == "reservation.accepted":
        agent = text_id(f.get("WorkerSid"), "WorkerSid")
        base["attributes"] = _named(attributes, agent_name=f.get("WorkerName"))
        return [
            event({**base, "event_id": f"{event_id}:assigned", "type": "contact.assigned", "agent_id": agent}),
            event({**base, "event_id": event_id, "type": "contact.connected", "agent_id": agent}),
        ]
    if kind == "task.canceled":
        return [event({**base, "event_id": event_id, "type": "contact.abandoned"})]
    status = "pending" if kind == "task.wrapup" else "closed"
    if kind == "task.wrapup":
        base["attributes"] = {**attributes, "raw_status": "wrapping"}
    return [event({**base, "event_id": event_id, "type": "contact.status_changed", "status": status})]
