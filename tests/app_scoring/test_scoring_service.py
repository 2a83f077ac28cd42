"""Scores in the database: the ingest path feeds verdicts and leaderboards; incremental = full."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, select, update
from sqlmodel import Session

from app.core.db import make_engine, table
from app.events import service as events_service
from app.events.models import Event
from app.ingest import repository as repo
from app.ingest.models import Post
from app.reporters import service as reporters_service
from app.scoring import leaderboard as boards
from app.scoring import service as scoring
from app.scoring.models import LeaderboardEntry, PostVerdict
from collectors.base import CollectedPost, Platform, PostKind

NOW = datetime(2025, 10, 20, tzinfo=UTC)
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


def make_event(session: Session, slug: str = "wcc2025") -> Event:
    spec = events_service.parse_event(
        {
            "slug": slug,
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
    return events_service.create_event(session=session, spec=spec)


def add_reporter(session: Session, name: str, handle: str, event: Event | None, verified: bool = True) -> int:
    reporter = reporters_service.add_reporter(
        session=session,
        name=name,
        email=None,
        accounts=[f"mastodon:{handle}@social.example"],
        verified=verified,
    )
    if event is not None:
        events_service.register(
            session=session,
            reporter=reporter,
            event=event,
            at=datetime(2025, 9, 1, tzinfo=UTC),
            channel="staff",
        )
    assert reporter.id is not None
    return reporter.id


def post(
    n: int,
    handle: str,
    *,
    day: int = 10,
    hour: int = 8,
    text: str | None = None,
    tags: tuple[str, ...] = ("iucncec",),
    kind: PostKind = PostKind.POST,
    likes: int = 0,
    media: int = 0,
) -> CollectedPost:
    created = datetime(2025, 10, day, hour, tzinfo=UTC) + timedelta(minutes=n)
    return CollectedPost(
        platform=Platform.MASTODON,
        global_key=f"https://social.example/users/{handle}/statuses/{n}",
        local_id=str(n),
        url=None,
        author_key=f"mastodon:{handle}@social.example",
        author_name=handle,
        created_at=created,
        text=(text or TEXTS[n % len(TEXTS)]) + " " + " ".join(f"#{t}" for t in tags),
        tags=tags,
        kind=kind,
        likes=likes,
        media_count=media,
        version=f"v{n}",
    )


def snapshot(session: Session, event: Event) -> tuple[list[Any], list[Any]]:
    entries = session.execute(
        select(
            table(LeaderboardEntry).c.reporter_id,
            table(LeaderboardEntry).c.rank,
            table(LeaderboardEntry).c.score,
            table(LeaderboardEntry).c.posts_counted,
            table(LeaderboardEntry).c.days_covered,
        )
        .where(table(LeaderboardEntry).c.event_id == event.id)
        .order_by(table(LeaderboardEntry).c.rank)
    ).all()
    verdicts = session.execute(
        select(
            table(PostVerdict).c.post_id,
            table(PostVerdict).c.counted,
            table(PostVerdict).c.points,
            table(PostVerdict).c.reasons,
        )
        .where(table(PostVerdict).c.event_id == event.id)
        .order_by(table(PostVerdict).c.post_id)
    ).all()
    return [tuple(e) for e in entries], [(v.post_id, v.counted, v.points, tuple(v.reasons)) for v in verdicts]


def test_ingested_posts_become_verdicts_and_a_ranked_leaderboard(session: Session) -> None:
    event = make_event(session)
    ana = add_reporter(session, "Ana", "ana", event)
    bo = add_reporter(session, "Bo", "bo", event)
    cy = add_reporter(session, "Cy", "cy", event)  # registered, no posts: ranked last
    add_reporter(session, "Dee", "dee", None)  # not registered
    posts = [
        post(1, "ana"),
        post(2, "ana", day=11),
        post(3, "ana", text="short"),
        post(4, "bo", likes=1),
        post(5, "bo", tags=()),
        post(6, "dee"),
        post(7, "ana", day=5),
    ]
    outcome = repo.upsert_posts(session, source_id=None, posts=posts, now=NOW)
    assert outcome.new == 7
    # marks taken: each reporter for every event (added, registered), and the 3 authors for this event
    assert scoring.rescore_pending(session) == 7

    items, total = boards.event_leaderboard(session, event)
    assert total == 3
    # Ana: 2 counted short posts (1.000 each) on 2 event days (+2.000 each) = 6.000
    # Bo: 1 counted post with 1 like: 1.000 + round(500·ln 2)=0.347, one day +2.000 = 3.347
    assert [(i.reporter_id, i.rank, i.score, i.posts_counted, i.days_covered) for i in items] == [
        (ana, 1, 6000, 2, 2),
        (bo, 2, 3347, 1, 1),
        (cy, 3, 0, 0, 0),
    ]
    reasons = {v.post_id: tuple(v.reasons) for v in session.execute(select(table(PostVerdict))).all()}
    by_local = {p.local_id: p.id for p in session.execute(select(table(Post))).all()}
    assert reasons[by_local["3"]] == ("too_short",)
    assert reasons[by_local["5"]] == ("missing_tag",)
    assert reasons[by_local["6"]] == ("not_registered",)
    assert reasons[by_local["7"]] == ("outside_window",)

    # a deletion restores the result it had before the post arrived; movement is recorded
    session.execute(update(table(Post)).where(table(Post).c.local_id == "2").values(deleted_at=NOW))
    scoring.rescore_reporters(session, [ana])
    items, _ = boards.event_leaderboard(session, event)
    assert [(i.reporter_id, i.score) for i in items][:2] == [(ana, 3000), (bo, 3347)] or [
        (i.reporter_id, i.score) for i in items
    ][:2] == [(bo, 3347), (ana, 3000)]
    assert items[0].reporter_id == bo
    assert items[0].movement == 1
    assert items[1].movement == -1


def test_json_items_have_the_design_shape_and_hide_anonymous_names(session: Session) -> None:
    event = make_event(session)
    reporter = reporters_service.add_reporter(
        session=session,
        name="Secret",
        email=None,
        accounts=["mastodon:anon@social.example"],
        verified=True,
        public_listing=False,
    )
    events_service.register(
        session=session, reporter=reporter, event=event, at=datetime(2025, 9, 1, tzinfo=UTC), channel="staff"
    )
    repo.upsert_posts(session, source_id=None, posts=[post(1, "anon")], now=NOW)
    scoring.rescore_event(session, event)
    items, total = boards.event_leaderboard(session, event)
    data = json.loads(json.dumps({"data": [i.as_json() for i in items], "count": total}))
    assert data == {
        "count": 1,
        "data": [
            {
                "rank": 1,
                "reporter": {"id": reporter.id, "name": None},
                "score": 3.0,
                "score_thousandths": 3000,
                "posts_counted": 1,
                "days_covered": 1,
                "platforms": ["mastodon"],
                "movement": None,
            }
        ],
    }


OPERATIONS = st.lists(
    st.tuples(
        st.sampled_from(["insert", "edit_untag", "delete", "exclude", "like", "register_late"]),
        st.integers(min_value=0, max_value=11),  # post number
        st.sampled_from(["ana", "bo", "cy"]),
        st.integers(min_value=7, max_value=20),  # day
    ),
    min_size=1,
    max_size=14,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(operations=OPERATIONS)
def test_incremental_updates_equal_a_full_rescore(
    session: Session, operations: list[tuple[str, int, str, int]]
) -> None:
    nested = session.begin_nested()
    try:
        event = make_event(session, slug="inc-event")
        ids = {
            h: add_reporter(session, h.title(), h, event if h != "cy" else None) for h in ("ana", "bo", "cy")
        }
        known: dict[int, CollectedPost] = {}
        for op, n, handle, day in operations:
            touched: set[int] = set()
            if op == "insert" or n not in known:
                item = post(
                    n, handle, day=day, media=n % 2, kind=PostKind.POST if n % 5 else PostKind.ARTICLE
                )
                known[n] = item
                touched |= repo.upsert_posts(session, source_id=None, posts=[item], now=NOW).touched_reporters
            elif op == "edit_untag":
                item = replace(
                    known[n],
                    tags=(),
                    text="edited: no tag any more in this long enough text",
                    version=known[n].version + "e",
                    edited_at=NOW,
                )
                known[n] = item
                touched |= repo.upsert_posts(session, source_id=None, posts=[item], now=NOW).touched_reporters
            elif op in ("delete", "exclude"):
                column = {"delete": {"deleted_at": NOW}, "exclude": {"excluded": True}}[op]
                session.execute(
                    update(table(Post))
                    .where(table(Post).c.global_key == known[n].global_key)
                    .values(**column)
                )
                touched.add(ids[known[n].author_key.split(":")[1].split("@")[0]])
            elif op == "like":
                item = replace(known[n], likes=known[n].likes + 3)
                known[n] = item
                touched |= repo.upsert_posts(session, source_id=None, posts=[item], now=NOW).touched_reporters
            elif op == "register_late" and handle == "cy":
                reporter = reporters_service.get_reporter(session=session, reporter_id=ids["cy"])
                try:
                    events_service.register(
                        session=session,
                        reporter=reporter,
                        event=event,
                        at=datetime(2025, 10, 12, tzinfo=UTC),
                        channel="staff",
                    )
                except Exception:  # noqa: BLE001  (already registered: nothing to do)
                    pass
                touched.add(ids["cy"])
            scoring.rescore_reporters(session, sorted(touched))
            scoring.rescore_pending(session)
        incremental = snapshot(session, event)
        scoring.rescore_event(session, event)
        assert snapshot(session, event) == incremental
    finally:
        nested.rollback()


def test_reingesting_the_same_data_changes_nothing(session: Session) -> None:
    event = make_event(session)
    add_reporter(session, "Ana", "ana", event)
    posts = [post(n, "ana", day=9 + n % 5, likes=n) for n in range(9)]
    scoring.rescore_reporters(
        session, sorted(repo.upsert_posts(session, source_id=None, posts=posts, now=NOW).touched_reporters)
    )
    before = snapshot(session, event)
    scoring.rescore_reporters(
        session, sorted(repo.upsert_posts(session, source_id=None, posts=posts, now=NOW).touched_reporters)
    )
    assert snapshot(session, event) == before


def _build(engine: Engine) -> tuple[list[Any], list[Any]]:
    with Session(engine) as session:
        event = make_event(session)
        for handle in ("ana", "bo", "cy", "dee"):
            add_reporter(session, handle.title(), handle, event)
        posts = [
            post(
                n,
                h,
                day=8 + (n * 7) % 9,
                hour=(n * 5) % 24,
                likes=(n * 3) % 11,
                media=n % 3,
                kind=PostKind.ARTICLE if n % 7 == 0 else PostKind.POST,
            )
            for n in range(40)
            for h in ("ana", "bo", "cy", "dee")
            if (n + len(h)) % 3
        ]
        repo.upsert_posts(session, source_id=None, posts=posts, now=NOW)
        scoring.rescore_event(session, event)
        result = snapshot(session, event)
        session.rollback()
        return result


def test_sqlite_and_postgresql_give_identical_leaderboards(tmp_path, db_kind: str) -> None:
    if db_kind != "postgresql":
        pytest.skip("compares both databases once, in the PostgreSQL run")
    from app.core import migrate
    from tests.conftest import create_database, drop_database

    results = []
    for kind in ("sqlite", "postgresql"):
        url, handle = create_database(kind, tmp_path)
        engine = make_engine(url)
        migrate.upgrade(engine)
        try:
            results.append(_build(engine))
        finally:
            engine.dispose()
            drop_database(handle)
    assert results[0] == results[1]
    assert len(results[0][0]) == 4


_ = date
