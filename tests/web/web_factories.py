"""Seed rows for web tests through the real services (events, reporters, ingest, scoring)."""

from __future__ import annotations

import hashlib
import itertools
from datetime import UTC, date, datetime, timedelta

from sqlmodel import Session

from app.events import service as events_service
from app.events.models import Event
from app.events.schemas import EventCreate
from app.ingest.repository import upsert_posts
from app.reporters import service as reporters_service
from app.reporters.models import Reporter
from app.scoring.service import rescore_event
from collectors.base import CollectedPost, Platform

_serial = itertools.count(1)

WORDS = (
    "mangrove restoration coral reef seagrass wetland forest corridor pollinator river delta "
    "youth ranger indigenous stewardship finance ocean protected area species recovery climate "
    "adaptation peatland grassland savanna desert island lagoon estuary monitoring citizen science "
    "drone survey turtle dugong falcon oryx gazelle acacia"
).split()


def unique_text(serial: int) -> str:
    """A post text of ≥ 40 code points that is no near-copy of any other serial's text."""
    digest = hashlib.sha256(str(serial).encode()).digest()
    words = [WORDS[b % len(WORDS)] for b in digest[:12]]
    return f"Congress note {serial}: " + " ".join(words) + " #iucncec"


def make_event(
    session: Session,
    *,
    slug: str | None = None,
    name: str = "World Conservation Congress",
    start: date | None = None,
    days: int = 4,
    timezone: str = "UTC",
    tag: str | None = None,
    published: bool = True,
) -> Event:
    """A published event running around today (so that posts made now fall in its window)."""
    start = start or (datetime.now(UTC).date() - timedelta(days=1))
    spec = EventCreate(
        slug=slug or f"event-{next(_serial)}",
        name=name,
        start=start,
        end=start + timedelta(days=days - 1),
        timezone=timezone,
        tag=tag,
        location="Abu Dhabi",
    )
    event = events_service.create_event(session=session, spec=spec)
    if not published:
        event.published = False
        session.add(event)
        session.flush()
    return event


def make_reporter(
    session: Session, *, name: str, account: str, event: Event | None = None, public: bool = True
) -> Reporter:
    """A reporter with one verified account, registered for ``event`` when given."""
    reporter = reporters_service.add_reporter(
        session=session, name=name, email=None, accounts=[account], verified=True, public_listing=public
    )
    if event is not None:
        events_service.register(session=session, reporter=reporter, event=event)
    return reporter


def add_post(
    session: Session,
    *,
    author_key: str,
    text: str | None = None,
    html: str | None = None,
    created_at: datetime | None = None,
    key: str | None = None,
) -> str:
    """Ingest one public post by ``author_key`` (``platform:…``); returns its global key."""
    platform = Platform(author_key.split(":", 1)[0])
    serial = next(_serial)
    key = key or f"https://example.org/{platform.value}/posts/{serial}"
    upsert_posts(
        session,
        source_id=None,
        posts=[
            CollectedPost(
                platform=platform,
                global_key=key,
                local_id=str(serial),
                url=key,
                author_key=author_key,
                author_name=None,
                created_at=created_at or datetime.now(UTC) - timedelta(minutes=5),
                text=text if text is not None else unique_text(serial),
                html=html,
                tags=("iucncec",),
            )
        ],
        now=datetime.now(UTC),
    )
    return key


def rescore(session: Session, event: Event) -> None:
    rescore_event(session, event)
