"""Judging test helpers: a small frozen-ready world (event, reporters, posts, judges) and the API harness.

The API fixtures (``db``, ``login_as``, ``assert_problem`` …) are tests/api/conftest.py's, re-exported
here so judging's API tests reuse them instead of copying them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import Session

from app.events import service as events_service
from app.events.models import Event
from app.ingest import repository as ingest_repo
from app.judging import service as judging
from app.judging.models import PrizeCategory
from app.reporters import service as reporters_service
from app.users import service as users_service
from app.users.models import Role, User
from collectors.base import CollectedPost, Platform, PostKind
from tests.api.conftest import (  # noqa: F401  (fixtures re-exported for tests/judging)
    api_app,
    api_client,
    api_connection,
    api_settings,
    assert_problem,
    client_factory,
    db,
    fast_password_hashing,
    login_as,
    make_user,
)

NOW = datetime(2025, 11, 20, tzinfo=UTC)  # after the event's coverage window
TEXTS = [
    "Mangrove restoration panel with fishers from the Sundarbans was inspiring",
    "Youth delegates demand a seat at the table for biodiversity finance decisions",
    "Indigenous rangers explained how camera traps help monitor snow leopards",
    "The Red List update shows freshwater species need urgent attention now",
    "Peatlands store more carbon than all forests combined, protect them",
    "Ocean literacy side event had standing room only this morning in hall B",
    "Citizen scientists counted four thousand migratory birds along the flyway",
    "Storytelling can reconnect people with nature, notes from the plenary",
]


def make_event(
    session: Session, slug: str = "wcc2025", start: str = "2025-10-09", end: str = "2025-10-15"
) -> Event:
    spec = events_service.parse_event(
        {"slug": slug, "name": f"Event {slug}", "start": start, "end": end, "timezone": "Asia/Dubai"}
    )
    return events_service.create_event(session=session, spec=spec)


def make_reporter(
    session: Session, name: str, handle: str, events: list[Event], *, public: bool = True
) -> int:
    reporter = reporters_service.add_reporter(
        session=session,
        name=name,
        email=f"{handle}@mail.example",
        accounts=[f"mastodon:{handle}@social.example"],
        verified=True,
        public_listing=public,
    )
    for event in events:
        events_service.register(
            session=session,
            reporter=reporter,
            event=event,
            at=datetime(2024, 1, 1, tzinfo=UTC),
            channel="staff",
        )
    assert reporter.id is not None
    return reporter.id


def collected(
    n: int,
    handle: str,
    *,
    day: int = 10,
    text: str | None = None,
    kind: PostKind = PostKind.POST,
    likes: int = 0,
    media: int = 0,
) -> CollectedPost:
    body = text if text is not None else TEXTS[n % len(TEXTS)]
    return CollectedPost(
        platform=Platform.MASTODON,
        global_key=f"https://social.example/users/{handle}/statuses/{n}",
        local_id=str(n),
        url=f"https://social.example/@{handle}/{n}",
        author_key=f"mastodon:{handle}@social.example",
        author_name=handle.title(),
        created_at=datetime(2025, 10, day, 8, tzinfo=UTC) + timedelta(minutes=n),
        text=f"{body} #iucncec",
        tags=("iucncec",),
        kind=kind,
        likes=likes,
        media_count=media,
        version=f"v{n}",
    )


@dataclass
class World:
    event: Event
    reporters: dict[str, int]
    earlier: Event
    judges: list[User] = field(default_factory=list)

    def rid(self, name: str) -> int:
        return self.reporters[name]


def build_world(session: Session) -> World:
    """wcc2025 with ana (not a newcomer), bo and cy (newcomers) and dee (no posts)."""
    earlier = make_event(session, "cop16", "2024-10-21", "2024-11-01")
    event = make_event(session)
    ana = make_reporter(session, "Ana Alvarez", "ana", [earlier, event])
    bo = make_reporter(session, "Bo Berg", "bo", [event])
    cy = make_reporter(session, "Cy Chen", "cy", [event], public=False)
    dee = make_reporter(session, "Dee Diaz", "dee", [event])
    posts = [
        collected(
            1,
            "ana",
            text="Hello from @ana@social.example and @bo: mangroves https://ana.example/x are vital "
            "for coastal fisheries and villages",
        ),
        collected(2, "ana", day=11, media=1),
        collected(3, "ana", day=12, kind=PostKind.ARTICLE, text="A long read on peatland carbon and policy"),
        collected(
            4, "bo", day=10, kind=PostKind.ARTICLE, likes=40, text="Field notes on the ocean literacy day"
        ),
        collected(5, "bo", day=13),
        collected(6, "cy", day=11, media=2),
        collected(7, "cy", day=14, media=1, text="Snow leopard camera traps at the rangers' booth"),
    ]
    ingest_repo.upsert_posts(session, source_id=None, posts=posts, now=NOW)
    session.flush()
    return World(event=event, reporters={"ana": ana, "bo": bo, "cy": cy, "dee": dee}, earlier=earlier)


def make_judge(session: Session, n: int) -> User:
    return users_service.create_user(
        session=session,
        email=f"judge{n}@jury.example",
        password="correct horse battery",
        role=Role.JUDGE,
        name=f"J{n}",
    )


def add_category(
    session: Session,
    event: Event,
    slug: str,
    kind: str = "overall",
    *,
    size: int = 10,
    blind: bool = False,
    auto_weight: int = 0,
    criteria: tuple[tuple[str, int], ...] = (("Insight", 2), ("Craft", 1)),
) -> PrizeCategory:
    spec = judging.CategorySpec(
        slug=slug,
        name=slug.title(),
        kind=kind,
        shortlist_size=size,
        auto_weight_percent=auto_weight,
        blind=blind,
        criteria=tuple(judging.CriterionSpec(name, "", weight) for name, weight in criteria),
    )
    return judging.create_category(session=session, event=event, spec=spec, actor_id=None, actor_role="staff")


@pytest.fixture
def world(session: Session) -> World:
    return build_world(session)


@pytest.fixture
def freeze_now() -> Callable[..., Any]:
    def run(session: Session, event: Event, **kwargs: Any) -> Any:
        return judging.freeze_event(session=session, event=event, now=NOW + timedelta(days=30), **kwargs)

    return run
