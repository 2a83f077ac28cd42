"""``upsert_posts`` on both databases: ids for sightings, grouped updates, and keys another
transaction stored between our lookup and our insert."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, delete
from sqlmodel import Session, select

from app.core.db import table
from app.events import service as events_service
from app.ingest import repository as repo
from app.ingest import service
from app.ingest.models import Post, PostSighting
from app.reporters import service as reporters_service
from app.scoring.models import ScoreDirty
from collectors.base import CollectedPost, Platform

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def post(i: int, *, likes: int = 0, text: str | None = None, version: str = "v1") -> CollectedPost:
    return CollectedPost(
        platform=Platform.MASTODON,
        global_key=f"https://social.example/users/ana/statuses/{i}",
        local_id=str(i),
        url=f"https://social.example/@ana/{i}",
        author_key="mastodon:ana@social.example",
        author_name="Ana",
        created_at=T0 - timedelta(minutes=i),
        text=text or f"post {i} about mangroves #iucncec",
        html=f"<p>post {i}</p>",
        tags=("iucncec", f"t{i}"),
        likes=likes,
        version=version,
        raw={"id": str(i), "nested": [1, {"quote": 'a "b" \\ c'}], "tags": ["x"]},
    )


@pytest.fixture
def db(fresh_db_url: str) -> Iterator[Engine]:
    from app.core.db import make_engine

    engine = make_engine(fresh_db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def sources(db: Engine) -> list[int]:
    ids = []
    with Session(db) as session:
        for n in (1, 2):
            source = service.add_source(
                session=session,
                platform="mastodon",
                url=f"https://social{n}.example",
                tags=["iucncec"],
                trusted=True,
                validate=False,
            )
            session.flush()
            assert source.id is not None
            ids.append(source.id)
        session.commit()
    return ids


def stored(db: Engine) -> dict[str, Post]:
    with Session(db) as session:
        return {p.local_id: p for p in session.exec(select(Post)).all()}


def sightings(db: Engine) -> set[tuple[str, int, str]]:
    with Session(db) as session:
        rows = session.exec(select(Post.local_id, PostSighting.source_id, PostSighting.local_id).join(Post))
        return {(key, source, local) for key, source, local in rows}


def test_new_and_known_posts_are_stored_and_sighted_by_every_source(db, sources) -> None:
    first, second = sources
    with Session(db) as session:
        outcome = repo.upsert_posts(session, source_id=first, posts=[post(1), post(2)], now=T0)
        session.commit()
    assert (outcome.new, outcome.updated, outcome.unchanged) == (2, 0, 0)
    later = T0 + timedelta(hours=1)
    page = [post(1, likes=5), post(2, text="edited #iucncec", version="v2"), post(3)]
    with Session(db) as session:
        outcome = repo.upsert_posts(session, source_id=second, posts=page, now=later)
        session.commit()
    assert (outcome.new, outcome.updated, outcome.unchanged) == (1, 1, 1)
    rows = stored(db)
    assert (rows["1"].likes, rows["1"].last_seen_at, rows["1"].text) == (
        5,
        later,
        "post 1 about mangroves #iucncec",
    )
    assert (rows["2"].text, rows["2"].version, rows["2"].tags) == ("edited #iucncec", "v2", ["iucncec", "t2"])
    assert rows["3"].raw == {"id": "3", "nested": [1, {"quote": 'a "b" \\ c'}], "tags": ["x"]}
    assert rows["3"].tags == ["iucncec", "t3"]
    assert sightings(db) == {
        ("1", first, "1"),
        ("2", first, "2"),
        ("1", second, "1"),
        ("2", second, "2"),
        ("3", second, "3"),
    }


def test_keys_stored_by_another_transaction_first_are_refreshed_not_lost(db, sources, monkeypatch) -> None:
    first, second = sources
    with Session(db) as session:
        repo.upsert_posts(session, source_id=first, posts=[post(1), post(2)], now=T0)
        session.commit()

    # our lookup ran before the other transaction committed: it saw none of the page's keys
    real_existing = repo._existing_rows
    calls: list[int] = []

    def stale_lookup(page: Any, items: Any) -> Any:
        calls.append(len(items))
        return {} if len(calls) == 1 else real_existing(page, items)

    monkeypatch.setattr(repo, "_existing_rows", stale_lookup)
    later = T0 + timedelta(hours=1)
    page = [post(1, likes=7), post(2, text="edited #iucncec", version="v2"), post(3)]
    with Session(db) as session:
        outcome = repo.upsert_posts(session, source_id=second, posts=page, now=later)
        session.commit()
    assert calls == [3, 2]  # the two lost keys were looked up again
    assert (outcome.new, outcome.updated, outcome.unchanged) == (1, 1, 1)
    rows = stored(db)
    assert len(rows) == 3
    assert (rows["1"].likes, rows["1"].last_seen_at, rows["1"].source_id) == (7, later, first)
    assert (rows["2"].text, rows["2"].version) == ("edited #iucncec", "v2")
    assert rows["3"].source_id == second
    assert ("3", second, "3") in sightings(db)
    assert ("1", second, "1") in sightings(db)


def test_a_page_with_every_key_new_inserts_all_in_one_go(db, sources) -> None:
    first, _ = sources
    page = [replace(post(i), global_key=f"at://did:plc:x/app.bsky.feed.post/{i}") for i in range(1, 41)]
    with Session(db) as session:
        outcome = repo.upsert_posts(session, source_id=first, posts=page, now=T0)
        session.commit()
    assert outcome.new == 40
    assert len(stored(db)) == 40
    assert len(sightings(db)) == 40


class TestQueueing:
    """A stored or refreshed post queues its reporter for re-scoring, in the page's transaction."""

    @pytest.fixture(autouse=True)
    def event(self, session: Session) -> None:
        """An event whose window holds every post below (a reporter is queued per event)."""
        spec = {"slug": "queue", "name": "Queue", "timezone": "UTC"}
        spec |= {"start": "2026-10-30", "end": "2026-11-02"}
        events_service.create_event(session=session, spec=events_service.parse_event(spec))

    @staticmethod
    def add_ana(session: Session) -> int:
        reporter = reporters_service.add_reporter(
            session=session, name="Ana", email=None, accounts=["mastodon:ana@social.example"], verified=True
        )
        assert reporter.id is not None
        return reporter.id

    @staticmethod
    def queued(session: Session) -> set[int]:
        """The reporters queued since the last call (the queue is emptied)."""
        reporters = {row.reporter_id for row in session.exec(select(ScoreDirty)).all()}
        session.execute(delete(table(ScoreDirty)))
        return reporters

    def store(self, session: Session, *posts: CollectedPost, at: datetime = T0) -> set[int]:
        outcome = repo.upsert_posts(session, source_id=None, posts=list(posts), now=at)
        assert outcome.touched_reporters == self.queued(session)
        return outcome.touched_reporters

    @pytest.mark.parametrize(
        "change", [{}, {"likes": 4}, {"replies": 2}, {"text": "edited #iucncec", "version": "v2"}]
    )
    def test_a_post_new_or_seen_again_queues_its_reporter(
        self, session: Session, change: dict[str, Any]
    ) -> None:
        ana = self.add_ana(session)
        self.queued(session)  # (adding the reporter queued them for every event)
        assert self.store(session, post(1)) == {ana}
        later = T0 + timedelta(hours=1)
        # unchanged too: the next sighting's mark repairs a mark lost to a scorer racing the page
        assert self.store(session, replace(post(1), **change), at=later) == {ana}
        assert session.exec(select(Post)).one().last_seen_at == later

    def test_an_author_linked_since_queues_the_reporter(self, session: Session) -> None:
        assert self.store(session, post(1)) == set()  # nobody's account yet: stored, queues nobody
        ana = self.add_ana(session)
        self.queued(session)
        assert self.store(session, post(1)) == {ana}
        assert session.exec(select(Post)).one().reporter_id == ana

    def test_a_known_post_queues_the_events_of_its_stored_instant(self, session: Session) -> None:
        """Scoring reads the instant stored first (a sighting never changes it), so a sighting that
        brings another one queues the events around the stored one."""
        ana = self.add_ana(session)
        self.store(session, post(1))
        moved = replace(post(1), created_at=datetime(2026, 12, 20, tzinfo=UTC), likes=9)
        assert self.store(session, moved) == {ana}  # the queue holds ana for the event, too
        assert session.exec(select(Post)).one().created_at == post(1).created_at
