"""Liveness and readiness (always open, even with bearer tokens on)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from services.api.deps import get_model
from services.api.reach import rule
from services.api.readmodel import ReadModel
from services.api.schemas import Health
from services.common.events import from_epoch_ms

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness", response_model=Health, openapi_extra=rule("open"))
async def healthz() -> dict:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="Readiness: the read model has caught up with the snapshot topic",
    response_model=None,
    openapi_extra=rule("open"),
    description="200 once the read model has read the snapshot topic up to the end offsets seen at start; it "
    "stays 200 while Kafka is away (the API serves its last state) and `stale_seconds` says for how "
    "long nothing new arrived. 503 while catching up. `future_events` appears once the aggregator has "
    'refused an event whose time was too far ahead of its clock (docs/architecture.md, "Clocks").',
    responses={
        200: {
            "model": Health,
            "content": {
                "application/json": {
                    "example": {"status": "ready", "caught_up": True, "scopes": 1204, "stale_seconds": 0.31}
                }
            },
        },
        503: {
            "model": Health,
            "content": {
                "application/json": {
                    "example": {
                        "status": "catching up",
                        "detail": "read model is still reading the snapshot topic",
                        "caught_up": False,
                        "scopes": 310,
                        "stale_seconds": 0.02,
                    }
                }
            },
        },
    },
)
async def readyz(request: Request, model: Annotated[ReadModel, Depends(get_model)]) -> JSONResponse:
    figures: dict[str, Any] = {
        "caught_up": model.caught_up,
        "scopes": model.scope_count,
        "stale_seconds": model.stale_seconds(),
    }
    future = future_events(model)
    if future is not None:
        figures["future_events"] = future
    if request.app.state.exposure:
        figures["warning"] = request.app.state.exposure
    if request.app.state.sla_loaded is not None:
        settings = request.app.state.settings
        figures["sla_config"] = {"path": str(settings.sla_config or ""), "loaded_at": request.app.state.sla_loaded}
    if model.caught_up:
        return JSONResponse({"status": "ready", **figures})
    return JSONResponse(
        {"status": "catching up", "detail": "read model is still reading the snapshot topic", **figures},
        status_code=503,
    )


def future_events(model: ReadModel) -> dict | None:
    """What the aggregator refused for being too far in the future (docs/architecture.md, "Clocks"), if anything."""
    view = model.peek("all")
    if view is None or view.future is None:
        return None
    last = view.future["last"]
    return {
        "refused": view.future["n"],
        "last": {
            "event_id": last["event_id"],
            "platform": last["platform"],
            "occurred_at": last["occurred_at"],
            "ahead_seconds": round(last["ahead_ms"] / 1000, 3),
            "refused_at": from_epoch_ms(last["refused_at_ms"]),
        },
    }
