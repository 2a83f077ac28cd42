"""Read-only queries of the public pages: latest counted posts and counted posts per hour."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlmodel import Session

from app.core.db import table
from app.events.models import Event
from app.events.schemas import SLUG_RE
from app.events.service import get_by_slug
from app.ingest.models import Post
from app.reporters.models import Reporter
from app.scoring.models import PostVerdict

POSTS = table(Post)
VERDICTS = table(PostVerdict)
REPORTERS = table(Reporter)
HOUR = timedelta(hours=1)


def visible_event(session: Session, slug: str, *, staff: bool) -> Event | None:
    """The event by slug, or None when it does not exist or is unpublished and the viewer not staff."""
    if len(slug) > 64 or not SLUG_RE.match(slug.lower()):
        return None
    event = get_by_slug(session=session, slug=slug)
    if event is None or (not event.published and not staff):
        return None
    return event


@dataclass(frozen=True, slots=True)
class CountedPost:
    id: int
    platform: str
    created_at: datetime
    url: str | None
    text: str
    html: str | None
    kind: str
    points: int  # thousandths
    reporter_name: str | None  # None when the reporter chose anonymous listing


def _counted(event: Event) -> tuple[object, ...]:
    return (
        VERDICTS.c.event_id == event.id,
        VERDICTS.c.rules_version == event.rules_version,
        VERDICTS.c.counted.is_(True),
        POSTS.c.deleted_at.is_(None),
        POSTS.c.excluded.is_(False),
    )


def latest_counted_posts(session: Session, event: Event, *, limit: int = 10) -> list[CountedPost]:
    """The event's counted posts, newest first."""
    rows = session.execute(
        select(
            POSTS.c.id,
            POSTS.c.platform,
            POSTS.c.created_at,
            POSTS.c.url,
            POSTS.c.text,
            POSTS.c.html,
            POSTS.c.kind,
            VERDICTS.c.points,
            REPORTERS.c.name,
            REPORTERS.c.public_listing,
        )
        .select_from(
            VERDICTS.join(POSTS, POSTS.c.id == VERDICTS.c.post_id).outerjoin(
                REPORTERS, REPORTERS.c.id == VERDICTS.c.reporter_id
            )
        )
        .where(*_counted(event))  # type: ignore[arg-type]  # column expressions, typed loosely above
        .order_by(POSTS.c.created_at.desc(), POSTS.c.id.desc())
        .limit(limit)
    ).all()
    return [
        CountedPost(
            id=r.id,
            platform=r.platform,
            created_at=r.created_at,
            url=r.url,
            text=r.text or "",
            html=r.html,
            kind=r.kind,
            points=r.points,
            reporter_name=r.name if r.public_listing else None,
        )
        for r in rows
    ]


def latest_counted_at(session: Session, event: Event) -> datetime | None:
    """When the event's newest counted post was published."""
    value: datetime | None = session.execute(
        select(func.max(POSTS.c.created_at))
        .select_from(VERDICTS.join(POSTS, POSTS.c.id == VERDICTS.c.post_id))
        .where(*_counted(event))  # type: ignore[arg-type]  # column expressions, typed loosely above
    ).scalar_one_or_none()
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def counted_per_hour(
    session: Session, event: Event, *, end: datetime, hours: int = 24
) -> tuple[datetime, dict[str, list[int]]]:
    """Counted posts per platform in each of the ``hours`` whole hours before ``end`` (rounded up).

    Returns the first hour's start (UTC) and, per platform, one count per hour.
    """
    last_hour = end.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    if last_hour < end:
        last_hour += HOUR
    start = last_hour - hours * HOUR
    rows = session.execute(
        select(POSTS.c.platform, POSTS.c.created_at)
        .select_from(VERDICTS.join(POSTS, POSTS.c.id == VERDICTS.c.post_id))
        .where(
            *_counted(event),  # type: ignore[arg-type]  # column expressions, typed loosely above
            POSTS.c.created_at >= start,
            POSTS.c.created_at < last_hour,
        )
    ).all()
    counts: dict[str, list[int]] = defaultdict(lambda: [0] * hours)
    for r in rows:
        created = r.created_at if r.created_at.tzinfo else r.created_at.replace(tzinfo=UTC)
        index = int((created - start) // HOUR)
        if 0 <= index < hours:
            counts[r.platform][index] += 1
    return start, dict(counts)
