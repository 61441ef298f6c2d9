"""``GET /v1/stream``: server-sent events of the figures (contract in docs/api.md)."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import StreamingResponse

from services.api.deps import Figures, get_figures, require_token_or_query
from services.api.schemas import Error, Window
from services.api.stream import ChangeFeed, ScopeFilter

router = APIRouter(prefix="/v1", tags=["stream"])

_EXAMPLE = ('id: 1795000100000001\nevent: snapshot\ndata: {"scopes": [{"scope": "queue/zendesk/billing", ...}]}\n\n'
            'id: 1795000100000007\nevent: update\ndata: {"scope": "queue/zendesk/billing", ...}\n\n'
            ': keepalive\n\n')


def _event(seq: int, kind: str, data: dict) -> str:
    return f"id: {seq}\nevent: {kind}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


@router.get(
    "/stream", summary="Live figures as server-sent events",
    dependencies=[Depends(require_token_or_query)],
    response_class=StreamingResponse,
    description=(
        "First `event: snapshot` with `data: {\"scopes\": [<scope body>, ...]}` (every matching scope), then "
        "`event: update` with `data: <scope body>` for each scope whose figures changed, at most one per scope "
        "per 0.5 s. Every event has an increasing `id:`; `: keepalive` every 15 s. Reconnecting with "
        "`Last-Event-ID` replays the changes after that id (current figures of every scope that changed since), "
        "or sends a fresh snapshot when the id is too old or unknown."),
    responses={200: {"content": {"text/event-stream": {"schema": {"type": "string"}, "example": _EXAMPLE}},
                     "description": "an endless event stream"},
               401: {"model": Error, "description": "bearer token missing or invalid (only when tokens are on)"}},
)
async def stream(
    request: Request,
    figures: Annotated[Figures, Depends(get_figures)],
    scope: Annotated[list[str], Query(description="scope id (`queue/zendesk/billing`) or prefix ending in `/` "
                                                  "(`queue/zendesk/`); repeatable; default every scope",
                                      max_length=200)] = [],  # noqa: B006
    window: Annotated[Window, Query(description="window of the bodies")] = "15m",
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID", description="resume after this id")] = None,
) -> StreamingResponse:
    feed: ChangeFeed = request.app.state.change_feed
    keepalive_s: float = request.app.state.keepalive_s
    match = ScopeFilter(scope)
    model = figures.model

    # Subscribe and take the snapshot (or the replay) in one step on the loop: nothing falls between them.
    subscriber = feed.subscribe(match)
    replay = None
    if last_event_id is not None and last_event_id.strip().isdigit():
        replay = feed.since(int(last_event_id.strip()), match)
    if replay is None:
        snapshot_id = feed.seq
        first = _event(snapshot_id, "snapshot",
                       {"scopes": [figures.body(s, window) for s in model.all_scopes() if match(s)]})
        last = snapshot_id
    else:
        first = "".join(_event(seq, "update", figures.body(s, window)) for seq, s in replay if s in model)
        last = feed.seq
    subscriber.pending = {s: q for s, q in subscriber.pending.items() if q > last}

    async def events():
        sent = last
        try:
            yield first or ": resumed\n\n"
            while True:
                changes = await subscriber.next(keepalive_s)
                if changes is None:
                    return  # the server is stopping
                if not changes:
                    yield ": keepalive\n\n"
                    continue
                out = []
                for seq, changed in changes:
                    if seq <= sent:
                        continue
                    sent = seq
                    if changed in model:
                        out.append(_event(seq, "update", figures.body(changed, window)))
                if out:
                    yield "".join(out)
        finally:
            feed.unsubscribe(subscriber)

    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
