"""JSON shapes the HTTP API returns for a scope: durations in seconds, timestamps RFC 3339 UTC."""

from __future__ import annotations

from typing import Any

from services.api.readmodel import ScopeView
from services.common.events import from_epoch_ms


def scope_body(view: ScopeView | None, scope: str, kind: str, window: str, now_ms: int) -> dict[str, Any]:
    """The public figures of one scope in one window; an unseen scope gives zeros."""
    figures = view.windows.get(window, {}) if view else {}
    responses = figures.get("first_responses", 0)
    total_ms = figures.get("first_response_ms_sum", 0)
    oldest = view.oldest_waiting_created_ms if view else None
    return {
        "scope": scope,
        "kind": kind,
        "platform": view.platform if view else None,
        "id": view.id if view else None,
        "window": window,
        "as_of": from_epoch_ms(view.published_ms) if view else None,
        "contacts": {
            "created": figures.get("created", 0),
            "resolved": figures.get("resolved", 0),
            "reopened": figures.get("reopened", 0),
        },
        "first_response": {
            "count": responses,
            "total_seconds": total_ms / 1000,
            "average_seconds": round(total_ms / responses / 1000, 3) if responses else None,
        },
        "live": {
            "open": view.open if view else 0,
            "waiting": view.waiting if view else 0,
            "oldest_waiting_created_at": from_epoch_ms(oldest) if oldest is not None else None,
            "oldest_waiting_age_seconds": max(0.0, (now_ms - oldest) / 1000) if oldest is not None else None,
        },
    }
