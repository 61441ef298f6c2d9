"""``GET /metrics``: Prometheus exposition (a metrics or director token with a tokens file, else open; catalogue in
docs/metrics.md)."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST

from services.api import metrics
from services.api.deps import get_model, require_metrics
from services.api.reach import rule
from services.api.readmodel import ReadModel

router = APIRouter(tags=["health"])


@router.get(
    "/metrics",
    summary="Prometheus exposition",
    response_class=Response,
    dependencies=[Depends(require_metrics)],
    openapi_extra=rule("metrics"),
    responses={
        200: {
            "content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}},
            "description": "text exposition format 0.0.4",
        }
    },
)
async def prometheus_metrics(request: Request, model: Annotated[ReadModel, Depends(get_model)]) -> Response:
    # A consistent copy, taken on the loop; merged and rendered in a thread so the loop keeps serving.
    shared = request.app.state.shared_events
    health = metrics.Health(
        ready=model.caught_up,
        stale_seconds=model.stale_seconds(),
        stream_ms=model.stream_ms(),
        wall_s=model.clock() / 1000,
        stream_clients=len(request.app.state.change_feed.subscribers),
        stream_snapshots=(shared.builds, shared.served - shared.builds),
        denied=dict(request.app.state.denials),
    )
    copy = model.copy()
    staffing = request.app.state.figures.staffing
    body = await asyncio.to_thread(lambda: metrics.render(copy.views(), health, staffing))
    model.adopt(copy)  # back on the loop: keep what the thread merged
    return Response(body, media_type=CONTENT_TYPE_LATEST)
