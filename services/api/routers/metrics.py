"""``GET /metrics``: Prometheus exposition (a metrics or director token with a tokens file, else open; catalogue in
docs/metrics.md)."""

from __future__ import annotations

import asyncio
import gzip
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import StreamingResponse
from prometheus_client import CONTENT_TYPE_LATEST

from services.api import metrics
from services.api.deps import get_model, require_metrics
from services.api.reach import rule
from services.api.readmodel import ReadModel
from services.api.slices import in_chunks

router = APIRouter(tags=["health"])
ADOPTED_AT_ONCE = 1_000  # merged views cached per turn of the loop (~6 ms; the first scrape after a start has all)
CHUNK = 1024 * 1024  # bytes written per turn of the loop (~5 ms on a busy machine): 15 turns for 15 MB


@router.get(
    "/metrics",
    summary="Prometheus exposition",
    response_class=Response,
    dependencies=[Depends(require_metrics)],
    openapi_extra=rule("metrics"),
    responses={
        200: {
            "content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}},
            "description": "text exposition format 0.0.4; gzip-compressed when the request accepts it",
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
    compressed = "gzip" in request.headers.get("accept-encoding", "").lower()  # Prometheus asks for it

    def render() -> bytes:
        body = metrics.render(copy.views(), health, staffing)
        # 15 MB at 10,000 agents: a tenth of the bytes to write, compressed here (zlib lets go of the GIL)
        return gzip.compress(body, compresslevel=1, mtime=0) if compressed else body

    with request.app.state.foreground.hold():  # the live stream's snapshot builds step aside meanwhile
        body = await asyncio.to_thread(render)
    for start in range(0, len(copy.merged), ADOPTED_AT_ONCE):  # back on the loop: keep what the thread merged
        model.adopt(copy.merged[start : start + ADOPTED_AT_ONCE])
        await asyncio.sleep(0)
    # Megabytes: written in pieces, so other requests are served while it goes out.
    headers = {"Content-Length": str(len(body)), "Vary": "Accept-Encoding"}
    if compressed:
        headers["Content-Encoding"] = "gzip"
    return StreamingResponse(in_chunks(body, CHUNK), media_type=CONTENT_TYPE_LATEST, headers=headers)
