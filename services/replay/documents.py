"""Building canonical event documents (the wire form of ``deskpulse.event.v1``) without a model round trip.

The importers build plain dicts, every field present as :meth:`CanonicalEvent.to_json_dict` would give it, so
importing a whole log stays fast; the unit tests validate every document against the JSON Schema and the model.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from services.common.events import SCHEMA_ID

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def utc_ms_text(ms: int) -> str:
    """Epoch milliseconds → ``YYYY-MM-DDThh:mm:ss.mmmZ``, exact (integer arithmetic, no float rounding)."""
    return (_EPOCH + timedelta(milliseconds=ms)).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def epoch_ms(moment: datetime) -> int:
    """An aware datetime → epoch milliseconds (sub-millisecond digits truncated)."""
    return (moment - _EPOCH) // timedelta(milliseconds=1)


def document(
    *,
    event_id: str,
    type: str,
    ms: int,
    platform: str,
    contact_id: str,
    agent_id: str | None = None,
    queue_id: str | None = None,
    priority: str | None = None,
    status: str | None = None,
    author: str | None = None,
    public: bool | None = None,
    attributes: dict[str, Any],
) -> dict[str, Any]:
    return {
        "schema": SCHEMA_ID,
        "event_id": event_id,
        "type": type,
        "occurred_at": utc_ms_text(ms),
        "platform": platform,
        "account": None,
        "contact_id": contact_id,
        "agent_id": agent_id,
        "queue_id": queue_id,
        "channel": None,
        "priority": priority,
        "status": status,
        "author": author,
        "public": public,
        "rating": None,
        "state": None,
        "attributes": attributes,
    }


def event_id(platform: str, contact_id: str, index: int, kind: str) -> str:
    """``<platform>:<case>:<row index, 4 digits>:<kind>``, e.g. ``vinst:1-364285768:0003:assigned``.

    The row index is the 0-based position of the source row within its case; it is zero-padded so that ids of
    one contact sort in row order (the aggregator breaks ties between events of the same millisecond and type
    by ``event_id``). ``kind`` says which canonical event the row gave (a row can give several).
    """
    return f"{platform}:{contact_id}:{index:04d}:{kind}"


def append_row_document(
    out: list[dict[str, Any]],
    platform: str,
    contact_id: str,
    index: int,
    ms: int,
    attributes: dict[str, Any],
    priority: str | None,
    kind: str,
    type_: str,
    **fields: Any,
) -> None:
    """Append the ``kind`` document of source row ``index`` to ``out``; the importers bind the row's part with
    :func:`functools.partial` (bound per row, so a call never sees a later row's values)."""
    out.append(
        document(
            event_id=event_id(platform, contact_id, index, kind),
            type=type_,
            ms=ms,
            platform=platform,
            contact_id=contact_id,
            priority=priority,
            attributes=attributes,
            **fields,
        )
    )
