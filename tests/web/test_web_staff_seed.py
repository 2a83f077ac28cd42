"""Seeds for the staff console and judge workspace tests, through the real services (no tests here).

An eligible reporter (DESIGN §5): registered before the event, verified accounts, 5 counted posts on
2 event days and a blog article. Events run in the past so that registrations can be back-dated and
freezes need no early reason.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from sqlmodel import Session

from app.events import service as events_service
from app.events.models import Event
from app.ingest.repository import upsert_posts
from app.judging import service as judging
from app.judging.models import PrizeCategory
from app.reporters import service as reporters_service
from app.reporters.models import Reporter
from app.scoring.service import rescore_event
from app.users import service as users_service
from app.users.models import Role, User
from collectors.base import CollectedPost, Platform, PostKind
from tests.web.conftest import PASSWORD
from tests.web.web_factories import unique_text

_serial = itertools.count(1000)


def make_user(session: Session, *, role: Role, email: str, name: str) -> User:
    return users_service.create_user(session=session, email=email, password=PASSWORD, role=role, name=name)


def past_event(
    session: Session,
    *,
    slug: str,
    name: str = "Regional Forum",
    days_ago: int = 20,
    fee: str | None = "500",
    budget: str | None = "1000",
) -> Event:
    """A 3-day event that ended in the past (fee 500 CHF → subsidy min(250, cap 300) = 250.00 CHF)."""
    start = datetime.now(UTC).date() - timedelta(days=days_ago)
    spec = events_service.parse_event(
        {
            "slug": slug,
            "name": name,
            "start": start.isoformat(),
            "end": (start + timedelta(days=2)).isoformat(),
            "timezone": "UTC",
            "fee": fee,
            "currency": "CHF" if fee or budget else None,
            "subsidy_cap": "300" if fee else None,
            "budget": budget,
        }
    )
    return events_service.create_event(session=session, spec=spec)


def post(
    session: Session,
    *,
    author_key: str,
    created_at: datetime,
    text: str | None = None,
    kind: PostKind = PostKind.POST,
) -> str:
    """Ingest one public post tagged #iucncec; returns its global key."""
    platform = Platform(author_key.split(":", 1)[0])
    serial = next(_serial)
    key = f"https://example.org/{platform.value}/entries/{serial}"
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
                created_at=created_at,
                text=text if text is not None else unique_text(serial),
                tags=("iucncec",),
                kind=kind,
            )
        ],
        now=datetime.now(UTC),
    )
    return key


def reporter_with_posts(
    session: Session,
    event: Event,
    *,
    name: str,
    handle: str,
    posts: int = 5,
    article: bool = True,
    user_id: int | None = None,
    public: bool = True,
) -> Reporter:
    """A verified reporter registered a week before ``event`` with ``posts`` posts over its first two
    days (and a blog article): eligible for a subsidy with the defaults."""
    mastodon = f"mastodon:{handle}@social.example"
    blog = reporters_service.parse_account(f"blog:https://{handle}.blog.example/feed").account_key
    reporter = reporters_service.add_reporter(
        session=session,
        name=name,
        email=None,
        accounts=[mastodon, blog],
        verified=True,
        user_id=user_id,
        public_listing=public,
    )
    events_service.register(
        session=session,
        reporter=reporter,
        event=event,
        at=event.first_instant_at - timedelta(days=7),
        channel="staff",
    )
    for n in range(posts):
        day = event.first_instant_at + timedelta(days=n % 2, hours=9 + n)
        post(session, author_key=mastodon, created_at=day)
    if article:
        post(
            session,
            author_key=blog,
            created_at=event.first_instant_at + timedelta(hours=20),
            kind=PostKind.ARTICLE,
            text=unique_text(next(_serial)) + " a longer blog article about the forum",
        )
    return reporter


def rescore(session: Session, event: Event) -> None:
    rescore_event(session, event)


def judged_event(
    session: Session, *, slug: str, blind: bool = True, names: tuple[str, str] = ("Ana Fern", "Bo Lagoon")
) -> tuple[Event, PrizeCategory, list[Reporter]]:
    """A frozen past event with two ranked reporters and one prize category (two rubric criteria)."""
    event = past_event(session, slug=slug, fee=None, budget=None)
    reporters = [
        reporter_with_posts(session, event, name=names[0], handle="anafern", posts=4),
        reporter_with_posts(session, event, name=names[1], handle="bolagoon", posts=2, article=False),
    ]
    rescore(session, event)
    category = judging.create_category(
        session=session,
        event=event,
        spec=judging.CategorySpec(
            slug="best-overall",
            name="Best overall coverage",
            kind="overall",
            shortlist_size=5,
            blind=blind,
            criteria=(
                judging.CriterionSpec("Storytelling", weight=2),
                judging.CriterionSpec("Accuracy", weight=1),
            ),
        ),
    )
    judging.freeze_event(session=session, event=event)
    return event, category, reporters
