"""Eligibility the whole way: ingested posts → scoring → stored scores → criteria and proposals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlmodel import Session

from app.events import service as events_service
from app.events.models import Event
from app.ingest import repository as ingest_repo
from app.reporters import service as reporters_service
from app.scoring import service as scoring
from app.scoring.dirty import mark_dirty
from app.subsidies import service
from collectors.base import CollectedPost, Platform, PostKind
from tests.subsidies.subsidies_factories import make_event

NOW = datetime(2025, 10, 20, tzinfo=UTC)
TEXTS = [
    "Mangrove restoration panel with fishers from the Sundarbans was inspiring",
    "Youth delegates demand a seat at the table for biodiversity finance decisions",
    "Indigenous rangers explained how camera traps help monitor snow leopards",
    "The Red List update shows freshwater species need urgent attention now",
    "Peatlands store more carbon than all forests combined, protect them",
    "Ocean literacy side event had standing room only this morning in hall B",
]


def enrol(session: Session, event: Event, handle: str, *, registered: datetime) -> int:
    reporter = reporters_service.add_reporter(
        session=session,
        name=handle.title(),
        email=None,
        accounts=[f"mastodon:{handle}@social.example", f"blog:https://{handle}.example/feed.xml"],
        verified=True,
    )
    events_service.register(session=session, reporter=reporter, event=event, at=registered, channel="staff")
    assert reporter.id is not None
    return reporter.id


def toot(handle: str, n: int, day: int) -> CollectedPost:
    return CollectedPost(
        platform=Platform.MASTODON,
        global_key=f"https://social.example/users/{handle}/statuses/{n}",
        local_id=str(n),
        url=None,
        author_key=f"mastodon:{handle}@social.example",
        author_name=handle,
        created_at=datetime(2025, 10, day, 8, tzinfo=UTC) + timedelta(minutes=n),
        text=TEXTS[n % len(TEXTS)] + " #iucncec",
        tags=("iucncec",),
        kind=PostKind.POST,
        version=f"v{n}",
    )


def article(handle: str, n: int, day: int) -> CollectedPost:
    return CollectedPost(
        platform=Platform.BLOG,
        global_key=f"https://{handle}.example/posts/{n}",
        local_id=str(n),
        url=f"https://{handle}.example/posts/{n}",
        author_key=f"blog:https://{handle}.example/feed.xml",
        author_name=handle,
        created_at=datetime(2025, 10, day, 18, tzinfo=UTC),
        text="A long read on what the Congress decided about nature-based solutions #NatureForAll",
        tags=("NatureForAll",),
        kind=PostKind.ARTICLE,
        version=f"a{n}",
    )


def test_eligibility_follows_the_stored_scores_of_ingested_posts(session: Session) -> None:
    event = make_event(session, slug="wcc2025", budget="1000")
    early = datetime(2025, 9, 1, tzinfo=UTC)
    ana = enrol(session, event, "ana", registered=early)
    bo = enrol(session, event, "bo", registered=early)
    late = enrol(session, event, "cy", registered=datetime(2025, 10, 9, 12, tzinfo=UTC))  # after it began
    posts = [
        *(toot("ana", n, day=10 + n % 2) for n in range(4)),
        article("ana", 100, day=11),
        *(toot("bo", 10 + n, day=10) for n in range(4)),  # 4 posts on one day, no article
        *(toot("cy", 20 + n, day=10 + n % 2) for n in range(4)),
        article("cy", 200, day=12),
    ]
    ingest_repo.upsert_posts(session, source_id=None, posts=posts, now=NOW)
    scoring.rescore_pending(session)

    rows = {r.reporter_id: r for r in service.event_eligibility(session=session, event=event)}
    assert [r.reporter_id for r in service.event_eligibility(session=session, event=event)] == [ana, bo, late]
    assert rows[ana].eligibility.eligible
    assert rows[ana].eligibility.subsidy == Decimal("250.00")
    assert not rows[ana].scores_pending
    words = {c.code.value: c.words for c in rows[bo].eligibility.criteria}
    assert words == {
        "registered_in_time": words["registered_in_time"],
        "verified_account": "2 verified accounts (1 needed)",
        "posts": "4 of 5 posts",
        "event_days": "1 of 2 days",
        "blog_articles": "0 of 1 blog article",
    }
    late_criteria = {c.code.value: c for c in rows[late].eligibility.criteria}
    assert not late_criteria["registered_in_time"].met
    assert late_criteria["posts"].met
    assert late_criteria["registered_in_time"].missing == "registration came after the event began"

    # the single-reporter view (the standing page's) says the same
    assert service.eligibility_for(session=session, event=event, reporter_id=bo) == rows[bo].eligibility

    # Bo posts a fifth time on another day and writes an article: once re-scored, Bo qualifies
    ingest_repo.upsert_posts(
        session, source_id=None, posts=[toot("bo", 30, day=12), article("bo", 300, day=12)], now=NOW
    )
    mark_dirty(session, [bo])
    pending = {r.reporter_id: r for r in service.event_eligibility(session=session, event=event)}
    assert pending[bo].scores_pending
    assert not pending[bo].eligibility.eligible  # stored scores are not re-scored yet
    scoring.rescore_pending(session)
    assert service.eligibility_for(session=session, event=event, reporter_id=bo).eligible

    created = service.propose_subsidies(session=session, event=event, actor=None)
    assert sorted(s.reporter_id for s in created) == sorted([ana, bo])
