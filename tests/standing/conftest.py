"""Fixtures for standing, leaderboard, moderation and staff-operation tests: the API harness of
tests/api (re-exported by ``standing_seed``) and ``seeded``: one scored event with two registered
reporters, counted and refused posts.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session, select

from app.events import service as events_service
from app.ingest import repository as repo
from app.ingest.models import Post
from app.reporters import service as reporters_service
from app.scoring import service as scoring
from app.users.models import Role, User
from collectors.base import PostKind
from tests.standing.standing_seed import (  # noqa: F401  (fixtures re-exported for pytest)
    LONG,
    NOW,
    Seeded,
    api_app,
    api_client,
    api_connection,
    api_settings,
    assert_problem,
    client_factory,
    collected,
    db,
    fast_password_hashing,
    login_as,
    make_user,
    reporter_of,
)


@pytest.fixture
def seeded(db: Session, make_user: Callable[..., User]) -> Seeded:  # noqa: F811  (pytest fixtures by name)
    spec = events_service.parse_event(
        {
            "slug": "wcc2025",
            "name": "World Conservation Congress",
            "start": "2025-10-09",
            "end": "2025-10-15",
            "timezone": "Asia/Dubai",
            "fee": "500",
            "currency": "CHF",
            "subsidy_cap": "300",
            "budget": "5000",
        }
    )
    event = events_service.create_event(session=db, spec=spec)
    ana = make_user(Role.REPORTER, name="Ana Reporter")
    bo = make_user(Role.REPORTER, name="Bo Hidden")
    ana_reporter, bo_reporter = reporter_of(db, ana), reporter_of(db, bo)
    bo_reporter.public_listing = False
    db.add(bo_reporter)
    for reporter, handle in ((ana_reporter, "ana"), (bo_reporter, "bo")):
        reporters_service.add_account(
            session=db,
            reporter=reporter,
            spec=reporters_service.parse_account(f"mastodon:{handle}@social.example"),
            verified=True,
        )
        events_service.register(
            session=db, reporter=reporter, event=event, at=datetime(2025, 9, 1, tzinfo=UTC), channel="staff"
        )
    items = {
        "ana_day10": collected("a1", "ana", day=10, text=LONG[0], likes=3),
        "ana_day11": collected("a2", "ana", day=11, text=LONG[1]),
        "ana_short": collected("a3", "ana", day=11, hour=9, text="Great day"),
        "ana_untagged": collected("a4", "ana", day=12, text=LONG[2], tags=()),
        "ana_boost": collected("a5", "ana", day=12, hour=10, text=LONG[3], kind=PostKind.REPOST),
        "bo_day10": collected("b1", "bo", day=10, text=LONG[2]),
        "bo_day12": collected("b2", "bo", day=12, text=LONG[3]),
        "bo_day13": collected("b3", "bo", day=13, text=LONG[1]),
    }
    repo.upsert_posts(db, source_id=None, posts=list(items.values()), now=NOW)
    ids = {
        name: db.exec(select(Post.id).where(Post.global_key == item.global_key)).one()
        for name, item in items.items()
    }
    scoring.rescore_event(db, event, NOW - timedelta(days=1))
    db.commit()
    return Seeded(
        event=event,
        ana=ana,
        ana_reporter=ana_reporter,
        bo=bo,
        bo_reporter=bo_reporter,
        posts={k: int(v) for k, v in ids.items() if v is not None},
    )
