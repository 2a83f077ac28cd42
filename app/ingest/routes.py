"""Posts (read, moderate), the moderation queue, sources and their health, collector runs."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

import nh3
from fastapi import APIRouter, Query, status
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session, select

from app.core.api import IdPath, ListResponse, Page, SafeStr
from app.core.deps import CurrentStaff, OptionalUser, SessionDep, actor, is_staff
from app.core.errors import NotFound
from app.events import service as events_service
from app.ingest import moderation
from app.ingest.models import Post, Source
from app.reporters.models import Reporter
from app.users.models import User
from collectors.base import Platform
from scoring.verdicts import REASON_TEXT, Reason

router = APIRouter(tags=["posts"])
sources_router = APIRouter(tags=["sources"])

EXCERPT_CHARS = 280


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


def _reason_texts(codes: list[str]) -> list[str]:
    return [REASON_TEXT[Reason(c)] for c in codes if c in Reason._value2member_map_]


def _excerpt(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= EXCERPT_CHARS else text[: EXCERPT_CHARS - 1] + "…"


# --- posts ----------------------------------------------------------------------------------------


class ReporterRef(BaseModel):
    id: int
    name: str


class VerdictPublic(BaseModel):
    event: str
    counted: bool
    points: float
    reasons: list[str]
    reason_texts: list[str]
    day: date | None
    computed_at: datetime


class ModerationPublic(BaseModel):
    excluded: bool
    excluded_reason: str | None
    excluded_at: datetime | None
    excluded_by: int | None


class PostPublic(BaseModel):
    """A post. ``html`` is the sanitised HTML stored at ingest (safe to render); staff and the post's
    reporter also get its verdicts and moderation state."""

    id: int
    platform: str
    url: str | None
    author: str
    author_name: str | None
    reporter: ReporterRef | None
    created_at: datetime
    edited_at: datetime | None
    text: str
    html: str | None
    tags: list[str]
    kind: str
    media_count: int
    likes: int
    reposts: int
    replies: int
    visibility: str | None = None
    deleted_at: datetime | None = None
    moderation: ModerationPublic | None = None
    verdicts: list[VerdictPublic] | None = None


class ReasonBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Annotated[SafeStr, Field(min_length=1, max_length=1000, description="Shown to the reporter.")]


def _reporter_id_of(session: Session, user: User | None) -> int | None:
    if user is None:
        return None
    found = session.exec(select(Reporter.id).where(Reporter.user_id == user.id)).first()
    return int(found) if found is not None else None


def post_public(session: Session, post: Post, *, privileged: bool, staff: bool = False) -> PostPublic:
    reporter = session.get(Reporter, post.reporter_id) if post.reporter_id is not None else None
    listed = reporter is not None and reporter.deleted_at is None and (reporter.public_listing or privileged)
    body = PostPublic(
        id=post.id or 0,
        platform=post.platform,
        url=post.url,
        author=post.author_key,
        author_name=post.author_name,
        reporter=ReporterRef(id=reporter.id or 0, name=reporter.name) if listed and reporter else None,
        created_at=post.created_at,
        edited_at=post.edited_at,
        text=post.text,
        # sanitised at ingest; cleaned again so nothing unsafe can reach a page whatever wrote the row
        html=nh3.clean(post.html) if post.html else None,
        tags=list(post.tags),
        kind=post.kind,
        media_count=post.media_count,
        likes=post.likes,
        reposts=post.reposts,
        replies=post.replies,
    )
    if privileged:
        body.visibility = post.visibility
        body.deleted_at = post.deleted_at
        body.moderation = ModerationPublic(
            excluded=post.excluded,
            excluded_reason=post.excluded_reason,
            excluded_at=post.excluded_at,
            excluded_by=post.excluded_by if staff else None,  # which staff member: staff only
        )
        body.verdicts = [
            VerdictPublic(
                event=v.slug,
                counted=v.counted,
                points=v.points / 1000,
                reasons=list(v.reasons or ()),
                reason_texts=_reason_texts(list(v.reasons or ())),
                day=v.day,
                computed_at=v.computed_at,
            )
            for v in moderation.post_verdicts(session=session, post_id=post.id or 0)
        ]
    return body


@router.get("/posts/{post_id}", response_model=PostPublic, responses=problems(404, 422))
def get_post(post_id: IdPath, session: SessionDep, user: OptionalUser) -> PostPublic:
    """One post: public when it is public, not deleted or excluded and its reporter is listed."""
    staff = is_staff(user)
    own = _reporter_id_of(session, user)
    post = moderation.readable_post(session=session, post_id=post_id, staff=staff, reporter_id=own)
    privileged = staff or (own is not None and post.reporter_id == own)
    return post_public(session, post, privileged=privileged, staff=staff)


@router.post(
    "/posts/{post_id}/exclude", response_model=PostPublic, responses=problems(401, 403, 404, 409, 422)
)
def exclude_post(post_id: IdPath, body: ReasonBody, staff: CurrentStaff, session: SessionDep) -> PostPublic:
    """Exclude a post from scoring; the reporter sees the reason (staff; audited; re-scored at once)."""
    post = moderation.exclude_post(session=session, post_id=post_id, reason=body.reason, **actor(staff))
    return post_public(session, post, privileged=True, staff=True)


@router.post(
    "/posts/{post_id}/restore", response_model=PostPublic, responses=problems(401, 403, 404, 409, 422)
)
def restore_post(post_id: IdPath, body: ReasonBody, staff: CurrentStaff, session: SessionDep) -> PostPublic:
    """Undo an exclusion (staff; audited with the reason; re-scored at once)."""
    post = moderation.restore_post(session=session, post_id=post_id, reason=body.reason, **actor(staff))
    return post_public(session, post, privileged=True, staff=True)


class QueueItemPublic(BaseModel):
    post_id: int
    event: str
    platform: str
    url: str | None
    author: str
    reporter: ReporterRef
    created_at: datetime
    kind: str
    visibility: str
    excerpt: str
    deleted: bool
    excluded: bool
    excluded_reason: str | None
    excluded_at: datetime | None
    scored: bool
    counted: bool | None
    points: float | None
    reasons: list[str]
    reason_texts: list[str]


@router.get(
    "/moderation/queue",
    response_model=ListResponse[QueueItemPublic],
    responses=problems(401, 403, 404, 422),
    tags=["moderation"],
)
def moderation_queue(
    staff: CurrentStaff,
    session: SessionDep,
    page: Page,
    platform: Annotated[Platform | None, Query(description="Only this platform.")] = None,
    event: Annotated[
        str | None, Query(max_length=64, description="Only this event (any state); default: open events.")
    ] = None,
    counted: Annotated[
        bool | None, Query(description="Counted (true) or not / not yet scored (false).")
    ] = None,
    excluded: Annotated[bool | None, Query(description="Excluded by staff (true) or not (false).")] = None,
) -> ListResponse[QueueItemPublic]:
    """Newest posts of registered reporters in open events, with their verdicts (staff)."""
    chosen = None
    if event is not None:
        chosen = events_service.get_by_slug(session=session, slug=event)
        if chosen is None:
            raise NotFound("event", event)
    items, total = moderation.moderation_queue(
        session=session,
        event=chosen,
        platform=platform.value if platform else None,
        counted=counted,
        excluded=excluded,
        offset=page.offset,
        limit=page.limit,
    )
    data = [
        QueueItemPublic(
            post_id=i.post.id,
            event=i.event_slug,
            platform=i.post.platform,
            url=i.post.url,
            author=i.post.author_key,
            reporter=ReporterRef(id=i.post.reporter_id, name=i.reporter_name),
            created_at=i.post.created_at,
            kind=i.post.kind,
            visibility=i.post.visibility,
            excerpt=_excerpt(i.post.text),
            deleted=i.post.deleted_at is not None,
            excluded=bool(i.post.excluded),
            excluded_reason=i.post.excluded_reason,
            excluded_at=i.post.excluded_at,
            scored=i.counted is not None,
            counted=i.counted,
            points=None if i.points is None else i.points / 1000,
            reasons=list(i.reasons),
            reason_texts=list(i.reason_texts),
        )
        for i in items
    ]
    return ListResponse(data=data, count=total)


# --- sources and runs -----------------------------------------------------------------------------

TagList = Annotated[list[Annotated[SafeStr, Field(min_length=1, max_length=100)]], Field(max_length=20)]


class SourcePublic(BaseModel):
    id: int
    platform: str
    name: str
    url: str
    tags: list[str]
    query: str | None
    handle: str | None
    token_env: str | None
    trusted: bool
    enabled: bool
    interval_s: int
    health: str
    state: str
    state_words: str
    last_run_at: datetime | None
    last_success_at: datetime | None
    consecutive_failures: int
    next_run_at: datetime | None
    last_error: str | None
    leased_by: str | None
    lease_expires_at: datetime | None
    created_at: datetime


def source_public(source: Source) -> SourcePublic:
    state, words = moderation.health_state(source)
    return SourcePublic(
        id=source.id or 0,
        platform=source.platform,
        name=source.name,
        url=source.url,
        tags=list(source.tags),
        query=source.query,
        handle=source.handle,
        token_env=source.token_env,
        trusted=source.trusted,
        enabled=source.enabled,
        interval_s=source.interval_s,
        health=source.health,
        state=state,
        state_words=words,
        last_run_at=source.last_run_at,
        last_success_at=source.last_success_at,
        consecutive_failures=source.consecutive_failures,
        next_run_at=source.next_run_at,
        last_error=source.last_error,
        leased_by=source.lease_owner,
        lease_expires_at=source.lease_expires_at,
        created_at=source.created_at,
    )


class SourceCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    platform: Annotated[
        str, Field(min_length=1, max_length=16, description="mastodon, bluesky, rss/blog, x.")
    ]
    url: Annotated[SafeStr | None, Field(max_length=1000)] = None
    tags: TagList = []
    query: Annotated[SafeStr | None, Field(max_length=1000)] = None
    handle: Annotated[SafeStr | None, Field(max_length=300)] = None
    token_env: Annotated[str | None, Field(max_length=100, description="e.g. BIE_SOCIAL_TOKEN.")] = None
    trusted: bool = False
    interval_s: Annotated[int, Field(ge=30, le=7 * 86400)] = 300
    name: Annotated[SafeStr, Field(max_length=200)] = ""


class SourceUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool | None = None
    interval_s: Annotated[int | None, Field(ge=30, le=7 * 86400)] = None
    tags: TagList | None = None


class RunPublic(BaseModel):
    id: int
    source_id: int
    kind: str
    worker: str | None
    started_at: datetime
    finished_at: datetime | None
    status: str
    requests: int
    new_posts: int
    updated_posts: int
    errors: int
    rate_limit_waits: int
    rate_limit_wait_s: float
    error: str | None


def _run_public(row: Any) -> RunPublic:
    return RunPublic.model_validate(dict(row._mapping))


@sources_router.get("/sources", response_model=ListResponse[SourcePublic], responses=problems(401, 403, 422))
def list_sources(staff: CurrentStaff, session: SessionDep, page: Page) -> ListResponse[SourcePublic]:
    """Collection sources with their health: last success, failures, next run, last error (staff)."""
    rows, total = moderation.list_sources(session=session, offset=page.offset, limit=page.limit)
    return ListResponse(data=[source_public(s) for s in rows], count=total)


@sources_router.post(
    "/sources",
    status_code=status.HTTP_201_CREATED,
    response_model=SourcePublic,
    responses=problems(401, 403, 422),
)
def create_source(body: SourceCreate, staff: CurrentStaff, session: SessionDep) -> SourcePublic:
    """Add a source, validated as `bie sources add` does (staff; audited)."""
    source = moderation.create_source(
        session=session,
        platform=body.platform,
        url=body.url,
        tags=list(body.tags),
        query=body.query,
        handle=body.handle,
        token_env=body.token_env,
        trusted=body.trusted,
        interval_s=body.interval_s,
        name=body.name,
        **actor(staff),
    )
    return source_public(source)


@sources_router.get("/sources/{source_id}", response_model=SourcePublic, responses=problems(401, 403, 404))
def get_source(source_id: IdPath, staff: CurrentStaff, session: SessionDep) -> SourcePublic:
    """One source and its health (staff)."""
    return source_public(moderation.get_source(session=session, source_id=source_id))


@sources_router.patch(
    "/sources/{source_id}", response_model=SourcePublic, responses=problems(401, 403, 404, 422)
)
def update_source(
    source_id: IdPath, body: SourceUpdate, staff: CurrentStaff, session: SessionDep
) -> SourcePublic:
    """Enable or disable a source, change its interval or tags (staff; audited)."""
    source = moderation.get_source(session=session, source_id=source_id)
    updated = moderation.update_source(
        session=session,
        source=source,
        enabled=body.enabled,
        interval_s=body.interval_s,
        tags=None if body.tags is None else list(body.tags),
        **actor(staff),
    )
    return source_public(updated)


@sources_router.post(
    "/sources/{source_id}/collect",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=SourcePublic,
    responses=problems(401, 403, 404, 409),
)
def collect_now(source_id: IdPath, staff: CurrentStaff, session: SessionDep) -> SourcePublic:
    """Collect now: schedule the source for the scheduler's next tick; does not wait (staff; audited)."""
    source = moderation.get_source(session=session, source_id=source_id)
    return source_public(moderation.collect_now(session=session, source=source, **actor(staff)))


StatusFilter = Annotated[str | None, Query(max_length=16, description="running, ok, failed, partial …")]


@sources_router.get(
    "/sources/{source_id}/runs",
    response_model=ListResponse[RunPublic],
    responses=problems(401, 403, 404, 422),
)
def source_runs(
    source_id: IdPath, staff: CurrentStaff, session: SessionDep, page: Page, status: StatusFilter = None
) -> ListResponse[RunPublic]:
    """A source's collector runs, newest first (staff)."""
    moderation.get_source(session=session, source_id=source_id)
    rows, total = moderation.list_runs(
        session=session, source_id=source_id, status=status, offset=page.offset, limit=page.limit
    )
    return ListResponse(data=[_run_public(r) for r in rows], count=total)


@sources_router.get("/runs", response_model=ListResponse[RunPublic], responses=problems(401, 403, 422))
def all_runs(
    staff: CurrentStaff,
    session: SessionDep,
    page: Page,
    status: StatusFilter = None,
    source_id: Annotated[int | None, Query(ge=1, le=2_147_483_647, description="Only this source.")] = None,
) -> ListResponse[RunPublic]:
    """Every collector run, newest first (staff)."""
    rows, total = moderation.list_runs(
        session=session, source_id=source_id, status=status, offset=page.offset, limit=page.limit
    )
    return ListResponse(data=[_run_public(r) for r in rows], count=total)
