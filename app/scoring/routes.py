"""Leaderboards (public), a reporter's standing (reporter; staff for anyone), exports (staff)."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from app.audit import service as audit
from app.core import metrics
from app.core.api import MAX_OFFSET, IdPath, ListResponse, Page
from app.core.deps import (
    CurrentReporter,
    CurrentStaff,
    CurrentUser,
    SessionDep,
    actor,
    get_auth,
    is_staff,
)
from app.core.errors import NotFound
from app.events.models import Event
from app.events.routes import Slug, visible_event
from app.events.schemas import SLUG_RE
from app.ingest.export import (
    EXPORT_FIELDS,
    LEADERBOARD_FIELDS,
    MEDIA_TYPES,
    ExportFormat,
    leaderboard_rows,
    post_rows,
    stream_rows,
)
from app.reporters import service as reporters_service
from app.reporters.models import Reporter
from app.scoring import leaderboard as boards
from app.scoring import standing
from app.scoring.standing import StandingDetail, StandingSummary
from app.users.auth import SESSION_COOKIE
from collectors.base import Platform

router = APIRouter(tags=["leaderboards"])
standing_router = APIRouter(tags=["standing"])
export_router = APIRouter(prefix="/events", tags=["exports"])


def problems(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the problem+json answers a route may give."""
    words = {
        401: "Not signed in",
        403: "Not allowed for this role",
        404: "Not found (or not visible to the caller)",
        409: "Conflicts with the current state",
        422: "Invalid input",
    }
    return {code: {"description": words[code], "content": {"application/problem+json": {}}} for code in codes}


class ReporterName(BaseModel):
    id: int
    name: str | None


class LeaderboardItem(BaseModel):
    """DESIGN §8: ``score`` in points, ``score_thousandths`` exact; ``name`` is null when anonymous."""

    rank: int
    reporter: ReporterName
    score: float
    score_thousandths: int
    posts_counted: int
    days_covered: int
    platforms: list[str]
    movement: int | None


def _json(body: dict[str, Any]) -> Response:
    return Response(
        content=json.dumps(body, ensure_ascii=False, separators=(",", ":")), media_type="application/json"
    )


# --- leaderboards -------------------------------------------------------------------------------


Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Items to skip.")]
Limit = Annotated[int, Query(ge=1, le=200, description="Items to return (1–200).")]
BOARD_LIMIT = 50  # the leaderboard's page size when the caller names none
PlatformFilter = Annotated[Platform | None, Query(description="Rank by posts on this platform only.")]


@router.get(
    "/events/{slug}/leaderboard",
    response_model=ListResponse[LeaderboardItem],
    responses=problems(404, 422),
)
async def event_leaderboard(
    request: Request,
    slug: Slug,
    offset: Offset = 0,
    limit: Limit = BOARD_LIMIT,
    platform: PlatformFilter = None,
) -> Response:
    """An event's leaderboard, best first (anonymous reporters without their name).

    The busiest read of the service, so it has no dependencies (each sync one costs a worker-thread
    hop): an anonymous caller's page comes from the board cache (at most 1 s old, docs/api.md), a
    signed-in caller's from a session of its own, resolved as ``app.core.deps`` does.
    """
    slug = slug.lower()
    if not SLUG_RE.match(slug):
        raise NotFound("event", slug)
    if platform is None and _anonymous(request):
        factory: Callable[..., Session] = request.app.state.session_factory

        def compute() -> Awaitable[bytes | None]:
            return run_in_threadpool(_public_board, factory, slug, offset, limit)

        body = await _board_cache(request).page((slug, offset, limit), compute)
        if body is None:
            raise NotFound("event", slug)
        request.app.state.board_route = request.scope.get("route")  # for EarlyBoardPages' metrics
        return Response(content=body, media_type="application/json")
    return await run_in_threadpool(_board_for_caller, request, slug, offset, limit, platform)


def _anonymous(request: Request) -> bool:
    """No credentials at all (a bad bearer token or a stale cookie takes the signed-in path, which
    answers them as ``app.core.deps`` does)."""
    return "authorization" not in request.headers and SESSION_COOKIE not in request.cookies


def _board_cache(request: Request) -> boards.BoardCache:
    state = request.app.state
    cache: boards.BoardCache | None = getattr(state, "board_cache", None)
    if cache is None:
        cache = state.board_cache = boards.BoardCache()
    return cache


class EarlyBoardPages:
    """ASGI middleware: an anonymous GET of an event's leaderboard whose page the board cache holds,
    young enough to need no refresh, is answered before routing, with the bytes and headers
    ``event_leaderboard`` sends for it.

    On a hot board the cache already spares each request its query; what a request still cost was
    FastAPI itself, routing it through the included routers and validating its four parameters (about
    three quarters of it, bench/findings.md). Only a request with no ``Authorization`` header and no
    cookie at all, and no query but ``offset`` and ``limit`` in plain digits, each at most once, is
    looked up here; anything else, a page not cached, or one due for refresh goes on to the route,
    which validates the request and fills the cache. So a page is only answered here for parameters
    the route validated before, and never older than the cache serves it (``BoardCache.fresh``). The
    innermost middleware: request id, security headers and metrics (under the route's own template)
    apply as to any request.
    """

    def __init__(self, app: ASGIApp, prefix: str) -> None:
        self.app = app
        self.path = re.compile(rf"{re.escape(prefix)}/events/([^/]+)/leaderboard")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        found = self._cached(scope) if scope["type"] == "http" and scope["method"] == "GET" else None
        if found is None:
            await self.app(scope, receive, send)
            return
        route, body = found
        scope["route"] = route
        metrics.BOARD_PAGES_EARLY.inc()
        headers = [(b"content-length", str(len(body)).encode()), (b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    def _cached(self, scope: Scope) -> tuple[Any, bytes] | None:
        match = self.path.fullmatch(scope["path"])
        if match is None or any(name in (b"authorization", b"cookie") for name, _ in scope["headers"]):
            return None
        key = _board_key(match.group(1).lower(), scope["query_string"])
        state = scope["app"].state
        cache: boards.BoardCache | None = getattr(state, "board_cache", None)
        route = getattr(state, "board_route", None)
        if key is None or cache is None or route is None:
            return None
        body = cache.fresh(key)
        return None if body is None else (route, body)


def _board_key(slug: str, query: bytes) -> boards.BoardKey | None:
    """(slug, offset, limit) of a query of nothing but ``offset`` and ``limit`` in plain digits, each at
    most once; None for any other query (the route answers it)."""
    given: dict[bytes, int] = {}
    for part in query.split(b"&") if query else ():
        name, equals, value = part.partition(b"=")
        if not equals or name not in (b"offset", b"limit") or name in given:
            return None
        if not value.isdigit() or len(value) > 9:
            return None
        given[name] = int(value)
    return (slug, given.get(b"offset", 0), given.get(b"limit", BOARD_LIMIT))


def _board_body(found: standing.BoardPage) -> bytes:
    return json.dumps(
        {"data": found.items, "count": found.count}, ensure_ascii=False, separators=(",", ":")
    ).encode()


def _public_board(factory: Callable[..., Session], slug: str, offset: int, limit: int) -> bytes | None:
    """The page as the public sees it (None: no such event, or not published)."""
    with factory() as session:
        found = standing.leaderboard_page(session=session, slug=slug, offset=offset, limit=limit)
    if found is None or not found.published:
        return None
    return _board_body(found)


def _board_for_caller(
    request: Request, slug: str, offset: int, limit: int, platform: Platform | None
) -> Response:
    session: Session = request.app.state.session_factory()
    try:
        context = get_auth(request, session)
        user = context.user if context is not None else None
        if platform is not None:
            event = visible_event(session, slug, user)
            items, total = boards.event_leaderboard(
                session, event, offset=offset, limit=limit, platform=platform.value
            )
            response = _json({"data": [i.as_json() for i in items], "count": total})
        else:
            found = standing.leaderboard_page(session=session, slug=slug, offset=offset, limit=limit)
            if found is None or (not found.published and not is_staff(user)):
                raise NotFound("event", slug)
            response = Response(content=_board_body(found), media_type="application/json")
        session.commit()
        return response
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


@router.get("/leaderboards/season", response_model=ListResponse[LeaderboardItem], responses=problems(422))
def season_leaderboard(
    session: SessionDep,
    page: Page,
    year: Annotated[int | None, Query(ge=2000, le=2100, description="Events starting in this year.")] = None,
) -> Response:
    """The season's leaderboard across events (of one year when given)."""
    items, total = boards.season_leaderboard(session, year=year, offset=page.offset, limit=page.limit)
    return _json({"data": [i.as_json() for i in items], "count": total})


# --- standing -----------------------------------------------------------------------------------


CountedFilter = Annotated[
    bool | None, Query(description="Only posts that count (true) or that do not (false).")
]


@standing_router.get(
    "/me/standing", response_model=ListResponse[StandingSummary], responses=problems(401, 403), tags=["me"]
)
def my_standings(reporter: CurrentReporter, session: SessionDep, page: Page) -> ListResponse[StandingSummary]:
    """My rank, score, movement and breakdown in every event I am registered for or posted in."""
    assert reporter.id is not None
    events = standing.standing_events(session=session, reporter_id=reporter.id, include_unpublished=False)
    chosen = events[page.offset : page.offset + page.limit]
    data = [
        standing.standing_summary(session=session, event=event, reporter_id=reporter.id) for event in chosen
    ]
    return ListResponse(data=data, count=len(events))


@standing_router.get(
    "/me/standing/{slug}", response_model=StandingDetail, responses=problems(401, 403, 404), tags=["me"]
)
def my_standing(
    slug: Slug,
    reporter: CurrentReporter,
    user: CurrentUser,
    session: SessionDep,
    page: Page,
    counted: CountedFilter = None,
) -> StandingDetail:
    """My standing in one event: rank, breakdown, every post's verdict in words, eligibility, history."""
    event = visible_event(session, slug, user)
    assert reporter.id is not None
    return standing.standing_detail(
        session=session,
        event=event,
        reporter_id=reporter.id,
        offset=page.offset,
        limit=page.limit,
        counted=counted,
    )


def _own_reporter_id(session: Session, user: Any) -> int | None:
    from sqlmodel import select

    found = session.exec(select(Reporter.id).where(Reporter.user_id == user.id)).first()
    return int(found) if found is not None else None


@standing_router.get(
    "/reporters/{reporter_id}/standing/{slug}",
    response_model=StandingDetail,
    responses=problems(401, 404),
    tags=["standing"],
)
def reporter_standing(
    reporter_id: IdPath,
    slug: Slug,
    user: CurrentUser,
    session: SessionDep,
    page: Page,
    counted: CountedFilter = None,
) -> StandingDetail:
    """Any reporter's standing in one event (staff; a reporter may read only their own)."""
    if not is_staff(user) and _own_reporter_id(session, user) != reporter_id:
        raise NotFound("reporter", reporter_id)
    reporters_service.get_reporter(session=session, reporter_id=reporter_id)
    event = visible_event(session, slug, user)
    return standing.standing_detail(
        session=session,
        event=event,
        reporter_id=reporter_id,
        offset=page.offset,
        limit=page.limit,
        counted=counted,
    )


# --- exports (staff) ----------------------------------------------------------------------------


class ExportKind(StrEnum):
    POSTS = "posts"
    LEADERBOARD = "leaderboard"


FormatPath = Annotated[ExportFormat, Path(description="csv or jsonl.")]
EXPORT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The rows, streamed",
        "content": {"text/csv": {}, "application/x-ndjson": {}},
    },
    **problems(401, 403, 404, 422),
}


def _streamed(
    request: Request,
    *,
    event: Event,
    kind: ExportKind,
    fmt: ExportFormat,
) -> StreamingResponse:
    """Stream from a session of its own: the request's session is closed once the handler returns."""
    factory: Callable[[], Session] = request.app.state.session_factory
    event_id = event.id

    def chunks() -> Iterator[str]:
        session = factory()
        try:
            fresh = session.get(Event, event_id)
            if fresh is None:
                return
            if kind is ExportKind.POSTS:
                yield from stream_rows(post_rows(session, fresh), EXPORT_FIELDS, fmt)
            else:
                yield from stream_rows(leaderboard_rows(session, fresh), LEADERBOARD_FIELDS, fmt)
        finally:
            session.close()

    stamp = datetime.now(UTC).strftime("%Y%m%d")
    filename = f"{event.slug}-{kind.value}-{stamp}.{fmt.value}"
    return StreamingResponse(
        chunks(),
        media_type=MEDIA_TYPES[fmt],
        headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"},
    )


def _export(
    request: Request, slug: str, kind: ExportKind, fmt: ExportFormat, staff: Any, session: Session
) -> StreamingResponse:
    event = visible_event(session, slug, staff)
    audit.record(
        session=session,
        action=f"export.{kind.value}",
        target_type="event",
        target_id=event.id,
        detail={"event": event.slug, "format": fmt.value},
        **actor(staff),
    )
    return _streamed(request, event=event, kind=kind, fmt=fmt)


@export_router.get("/{slug}/posts.{fmt}", response_class=StreamingResponse, responses=EXPORT_RESPONSES)
def export_posts(
    request: Request, slug: Slug, fmt: FormatPath, staff: CurrentStaff, session: SessionDep
) -> StreamingResponse:
    """Every post in the event's coverage window, as CSV or JSON lines (staff; audited)."""
    return _export(request, slug, ExportKind.POSTS, fmt, staff, session)


@export_router.get("/{slug}/leaderboard.{fmt}", response_class=StreamingResponse, responses=EXPORT_RESPONSES)
def export_leaderboard(
    request: Request, slug: Slug, fmt: FormatPath, staff: CurrentStaff, session: SessionDep
) -> StreamingResponse:
    """The event's whole leaderboard, as CSV or JSON lines (staff; audited)."""
    return _export(request, slug, ExportKind.LEADERBOARD, fmt, staff, session)
