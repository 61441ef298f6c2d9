"""``GET /v1/stream``: server-sent events of the figures (contract in docs/api.md)."""

from __future__ import annotations

import logging
from typing import Annotated, get_args

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import StreamingResponse
from fastapi.routing import APIRoute
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from services.api.deps import Access, get_stream_access
from services.api.fanout import CHUNK, GZIP_HEADER, KEEPALIVE, RESUMED, SharedEvents
from services.api.reach import Reach, rule
from services.api.schemas import Error, Window
from services.api.slices import in_chunks
from services.api.stream import ChangeFeed, ScopeFilter, Subscriber

log = logging.getLogger(__name__)
router = APIRouter(prefix="/v1", tags=["stream"])
MAX_SCOPES = 200
WINDOWS = frozenset(get_args(Window))

_EXAMPLE = (
    'id: 1795000100000001\nevent: snapshot\ndata: {"scopes": [{"scope": "queue/zendesk/billing", ...}]}\n\n'
    'id: 1795000100000007\nevent: update\ndata: {"scope": "queue/zendesk/billing", ...}\n\n'
    ": keepalive\n\n"
)


@router.get(
    "/stream",
    summary="Live figures as server-sent events",
    response_class=StreamingResponse,
    openapi_extra=rule("stream"),
    description=(
        'First `event: snapshot` with `data: {"scopes": [<scope body>, ...]}` (every matching scope), then '
        "`event: update` with `data: <scope body>` for each scope whose figures changed, at most one per scope "
        "per 0.5 s. Every event has an increasing `id:`; `: keepalive` every 15 s. Reconnecting with "
        "`Last-Event-ID` replays the changes after that id (current figures of every scope that changed since), "
        "or sends a fresh snapshot when the id is too old or unknown. With tokens on, the stream carries only the "
        "scopes the token may see (docs/api.md, Roles): the scopes asked for, within its reach."
    ),
    responses={
        200: {
            "content": {"text/event-stream": {"schema": {"type": "string"}, "example": _EXAMPLE}},
            "description": "an endless event stream",
        },
        401: {"model": Error, "description": "bearer token missing, unknown or expired (only when tokens are on)"},
        403: {"model": Error, "description": "a metrics token"},
    },
)
async def stream(
    request: Request,
    access: Annotated[Access, Depends(get_stream_access)],
    scope: Annotated[
        list[str],
        Query(
            description="scope id (`queue/zendesk/billing`) or prefix ending in `/` "
            "(`queue/zendesk/`); repeatable; default every scope",
            max_length=MAX_SCOPES,
        ),
    ] = [],  # noqa: B006
    window: Annotated[Window, Query(description="window of the bodies")] = "15m",
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID", description="resume after this id")] = None,
) -> StreamingResponse:
    return await open_stream(request, scope, window, last_event_id, access)


async def open_stream(
    request: Request, scope: list[str], window: str, last_event_id: str | None, access: Access
) -> StreamingResponse:
    """The stream of one client, its parameters and token already checked: the scopes asked for, within reach."""
    state = request.app.state
    feed: ChangeFeed = state.change_feed
    shared: SharedEvents = state.shared_events
    keepalive_s: float = state.keepalive_s
    match = ScopeFilter(scope).within(access.reach.stream_filter())
    gzip = "gzip" in request.headers.get("accept-encoding", "").lower()  # browsers' EventSource ask for it

    # Subscribe first: every change from now on reaches the subscriber; what came before is in the snapshot or
    # in the feed's replay buffer.
    subscriber = feed.subscribe(match)
    try:
        async with shared.openings:  # a floor connecting at once is set up a few at a time (fanout.OPENINGS)
            last, first = await _first_events(feed, shared, subscriber, match, window, last_event_id, gzip)
    except BaseException:
        feed.unsubscribe(subscriber)
        raise

    async def events():
        sent = last
        try:
            if gzip:
                yield GZIP_HEADER
            if not first:
                yield RESUMED.encoded(gzip)
            for data in first:
                # the others' chunks, a few per turn of the loop (fanout.CHUNKS_PER_TURN), and any request between
                async for piece in in_chunks(data, CHUNK, shared.chunk_turns.wait):
                    yield piece
            while True:
                changes = await subscriber.next(keepalive_s)
                if changes is None:
                    return  # the server is stopping
                if not changes:
                    yield KEEPALIVE.encoded(gzip)
                    continue
                due = [(seq, changed) for seq, changed in changes if seq > sent]
                if not due:
                    continue
                sent = due[-1][0]
                out = await shared.joined(due, window, gzip)
                if out:
                    yield out
        finally:
            feed.unsubscribe(subscriber)

    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no", "Vary": "Accept-Encoding"}
    if gzip:
        headers["Content-Encoding"] = "gzip"
    return StreamingResponse(events(), media_type="text/event-stream", headers=headers)


async def _first_events(
    feed: ChangeFeed,
    shared: SharedEvents,
    subscriber: Subscriber,
    match: ScopeFilter,
    window: str,
    last_event_id: str | None,
    gzip: bool,
) -> tuple[int, list[bytes]]:
    """What a new stream sends first: a snapshot (shared) and the changes since it, or on a reconnect with
    ``Last-Event-ID`` only the changes since that id; and the feed's number up to which they cover everything."""
    # One write for every change since, not one each: a snapshot that took seconds to build is followed by
    # hundreds of them, and each write of its own costs a pass through the ASGI stack.
    replay = None
    if last_event_id is not None and last_event_id.strip().isdigit():
        last = feed.seq
        since = feed.since(int(last_event_id.strip()), match)
        if since is not None:
            first = []
            replay = (last, await shared.joined(since, window, gzip))
    if replay is None:
        # The shared snapshot may be a few seconds old: the changes since it follow it (still the newest figures
        # of every scope the client sees, with no gap).
        for _ in range(3):  # a build outrun by more changes than the replay buffer holds is built again
            snapshot = await shared.snapshot(window, match)
            replay = await shared.replay(snapshot, window, match, gzip)
            if replay is not None:
                break
        else:
            log.warning(
                "stream: 3 snapshots in a row were older than the replay buffer; sent without the changes since"
            )
            replay = (feed.seq, b"")
        first = [snapshot.data.encoded(gzip)]
    # Everything numbered up to ``last`` is in the snapshot or the replay; what comes later, the subscriber has.
    last, replayed = replay
    subscriber.pending = {s: q for s, q in subscriber.pending.items() if q > last}
    if replayed:
        first.append(replayed)
    return last, first


class LightStream:
    """``GET /v1/stream`` as a plain ASGI route matched before the FastAPI one, for the common case.

    A floor of wallboards connects at once after every deploy: FastAPI's routing and dependency solving cost
    several times the stream's own work per connection (bench/stream.py), and the loop serves nothing else
    meanwhile. Well-formed requests are answered here; anything else (a bad window, too many scopes, a token
    to refuse) goes to the FastAPI route, so errors and the OpenAPI description stay the ones documented.
    """

    def __init__(self, documented: APIRoute) -> None:
        self.documented = documented

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        params = request.query_params
        scopes, window = params.getlist("scope"), params.get("window", "15m")
        access = _accepted(request) if window in WINDOWS and len(scopes) <= MAX_SCOPES else None
        if access is not None:
            response = await open_stream(request, scopes, window, request.headers.get("last-event-id"), access)
            await response(scope, receive, send)
        else:
            await self.documented.handle(scope, receive, send)


def _accepted(request: Request) -> Access | None:
    """What ``deps.get_stream_access`` lets through; None leaves a refusal to it (its documented, counted 401/403)."""
    tokens = request.app.state.tokens
    book = tokens.current()
    grant = None
    if book.enabled:
        token = request.query_params.get("access_token")
        if token is None:
            scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
            token = credentials if scheme.lower() == "bearer" else None
        found = book.lookup(token, tokens.clock())
        if isinstance(found, str) or found.role == "metrics":
            return None
        grant = found
    return Access(Reach(grant, request.app.state.read_model), request)


def light_route() -> Route:
    """The light route, to put in front of the app's routes (``app.router.routes.insert(0, ...)``)."""
    documented = next(r for r in router.routes if isinstance(r, APIRoute) and r.path == "/v1/stream")
    return Route("/v1/stream", LightStream(documented), methods=["GET"], include_in_schema=False)
