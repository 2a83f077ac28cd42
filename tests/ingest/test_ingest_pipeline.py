"""The ingest pipeline on real databases: page + cursor in one transaction, upserts, leases, health."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, func
from sqlmodel import Session, select

from app.ingest import repository as repo
from app.ingest import service
from app.ingest.models import CollectorRun, Post, PostSighting, Source
from app.reporters import service as reporters_service
from app.scoring.models import ScoreDirty
from collectors.base import (
    CollectedPage,
    CollectedPost,
    Engagement,
    Platform,
    PostRef,
    RateLimited,
    RecheckResult,
    SourceConfig,
    TransientError,
)

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


class FakeClock:
    def __init__(self, now: datetime = T0) -> None:
        self._now = now

    def now(self) -> datetime:
        return self._now

    def sleep(self, seconds: float) -> None:
        self._now += timedelta(seconds=seconds)


def make_post(
    i: int,
    *,
    author: str = "mastodon:ana@social.example",
    likes: int = 0,
    version: str | None = None,
    edited_at: datetime | None = None,
    text: str | None = None,
) -> CollectedPost:
    return CollectedPost(
        platform=Platform.MASTODON,
        global_key=f"https://social.example/users/ana/statuses/{i}",
        local_id=str(i),
        url=f"https://social.example/@ana/{i}",
        author_key=author,
        author_name="Ana",
        created_at=T0 - timedelta(minutes=i),
        text=text or f"post number {i} about mangroves #iucncec",
        tags=("iucncec",),
        likes=likes,
        version=version or (T0 - timedelta(minutes=i)).isoformat(),
        edited_at=edited_at,
        raw={"id": str(i), "unknown_field": [1, 2]},
    )


class FakeCollector:
    """Serves ``posts`` in pages of ``page_size``; the cursor is the offset; may fail after N pages."""

    platform = Platform.MASTODON

    def __init__(
        self,
        posts: Sequence[CollectedPost],
        page_size: int = 3,
        fail_after: int | None = None,
        failure: Exception | None = None,
        recheck_results: dict[str, CollectedPost | None] | None = None,
    ):
        self.posts = list(posts)
        self.page_size = page_size
        self.fail_after = fail_after
        self.failure = failure or TransientError("server kept answering 503")
        self.recheck_results = recheck_results or {}
        self.cursors_seen: list[Mapping[str, Any] | None] = []

    def validate(self, config: SourceConfig) -> None:
        return None

    def fetch(self, config: SourceConfig, cursor: Mapping[str, Any] | None) -> Iterator[CollectedPage]:
        self.cursors_seen.append(cursor)
        offset = int((cursor or {}).get("offset", 0))
        pages = 0
        while offset < len(self.posts):
            if self.fail_after is not None and pages >= self.fail_after:
                raise self.failure
            batch = self.posts[offset : offset + self.page_size]
            offset += len(batch)
            pages += 1
            yield CollectedPage(posts=batch, cursor={"offset": offset}, requests=1)

    def recheck(self, config: SourceConfig, refs: Sequence[PostRef]) -> Iterator[RecheckResult]:
        for ref in refs:
            if ref.global_key in self.recheck_results:
                fresh = self.recheck_results[ref.global_key]
                yield RecheckResult(ref=ref, post=fresh, gone=False)
            else:
                yield RecheckResult(ref=ref, post=None, gone=True)

    def fetch_engagement(self, config: SourceConfig, refs: Sequence[PostRef]) -> Iterator[Engagement]:
        for ref in refs:
            yield Engagement(ref.global_key, liked_by=("mastodon:bo@social.example",), reposted_by=())

    def fetch_url(self, config: SourceConfig, url: str) -> CollectedPost:
        raise NotImplementedError

    def map_item(self, raw: Mapping[str, Any]) -> CollectedPost:
        raise NotImplementedError


@pytest.fixture
def db(fresh_db_url: str) -> Iterator[Engine]:
    from app.core.db import make_engine

    engine = make_engine(fresh_db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def source_id(db: Engine) -> int:
    with Session(db) as session:
        source = service.add_source(
            session=session,
            platform="mastodon",
            url="https://social.example",
            tags=["iucncec", "#NatureForAll"],
            trusted=True,
            validate=False,
        )
        session.commit()
        assert source.id is not None
        return source.id


def use(monkeypatch: pytest.MonkeyPatch, collector: FakeCollector) -> None:
    monkeypatch.setattr(service, "collector_for", lambda platform, **_: collector)


def count_posts(engine: Engine) -> int:
    with Session(engine) as session:
        return int(session.exec(select(func.count()).select_from(Post)).one())


def test_pages_are_stored_with_their_cursor_and_rerun_changes_nothing(db, source_id, monkeypatch) -> None:
    posts = [make_post(i) for i in range(10)]
    use(monkeypatch, FakeCollector(posts))
    summary = service.collect_source(engine=db, source_id=source_id, clock=FakeClock(), force=True)
    assert (summary.status, summary.pages, summary.new, summary.requests) == ("ok", 4, 10, 4)
    with Session(db) as session:
        source = session.get(Source, source_id)
        assert source is not None
        assert source.cursor == {"offset": 10}
        assert (source.health, source.consecutive_failures, source.lease_owner) == ("ok", 0, None)
        run = session.exec(select(CollectorRun)).one()
        assert (run.status, run.new_posts, run.requests) == ("ok", 10, 4)
        stored = session.exec(select(Post).where(Post.local_id == "3")).one()
        assert stored.raw["unknown_field"] == [1, 2]
        assert stored.created_at == T0 - timedelta(minutes=3)
        assert session.exec(select(func.count()).select_from(PostSighting)).one() == 10

    # the same items again (a fresh cursor) refresh engagement, duplicate nothing
    refreshed = [replace(p, likes=7) for p in posts]
    use(monkeypatch, FakeCollector(refreshed))
    with Session(db) as session:
        source = session.get(Source, source_id)
        assert source is not None
        source.cursor = {}
        session.add(source)
        session.commit()
    summary = service.collect_source(engine=db, source_id=source_id, clock=FakeClock(), force=True)
    assert (summary.new, summary.updated) == (0, 0)
    assert count_posts(db) == 10
    with Session(db) as session:
        assert {p.likes for p in session.exec(select(Post)).all()} == {7}


def test_a_failure_keeps_committed_pages_and_the_next_run_resumes(db, source_id, monkeypatch) -> None:
    posts = [make_post(i) for i in range(10)]
    failing = FakeCollector(posts, fail_after=2)
    use(monkeypatch, failing)
    clock = FakeClock()
    summary = service.collect_source(engine=db, source_id=source_id, clock=clock, force=True)
    assert summary.status == "partial"
    assert "503" in (summary.error or "")
    assert count_posts(db) == 6
    with Session(db) as session:
        source = session.get(Source, source_id)
        assert source is not None
        assert source.cursor == {"offset": 6}
        assert (source.health, source.consecutive_failures) == ("failing", 1)
        assert source.last_error is not None
        assert "server kept answering 503" in source.last_error
        assert source.next_run_at is not None
        assert source.next_run_at > clock.now()
        assert source.lease_owner is None

    # not due yet: a scheduled run skips it; a forced one resumes from the saved cursor
    assert service.collect_source(engine=db, source_id=source_id, clock=clock).status == "not_due"
    healthy = FakeCollector(posts)
    use(monkeypatch, healthy)
    summary = service.collect_source(engine=db, source_id=source_id, clock=clock, force=True)
    assert healthy.cursors_seen == [{"offset": 6}]
    assert (summary.status, summary.new) == ("ok", 4)
    assert count_posts(db) == 10


def test_rate_limit_schedules_the_next_run_at_the_reset(db, source_id, monkeypatch) -> None:
    reset = T0 + timedelta(minutes=4)
    use(monkeypatch, FakeCollector([make_post(1)], fail_after=0, failure=RateLimited(reset)))
    summary = service.collect_source(engine=db, source_id=source_id, clock=FakeClock(), force=True)
    assert summary.status == "failed"
    with Session(db) as session:
        source = session.get(Source, source_id)
        assert source is not None
        assert (source.health, source.next_run_at) == ("rate_limited", reset)
        assert source.last_error is not None
        assert "rate limited" in source.last_error


def test_leases_keep_two_workers_apart_and_expire(db, source_id, monkeypatch) -> None:
    lease = timedelta(minutes=5)
    assert repo.claim_lease(db, source_id=source_id, owner="worker-a", now=T0, lease=lease)
    assert not repo.claim_lease(
        db, source_id=source_id, owner="worker-b", now=T0 + timedelta(minutes=1), lease=lease
    )
    use(monkeypatch, FakeCollector([make_post(1)]))
    summary = service.collect_source(
        engine=db,
        source_id=source_id,
        owner="worker-b",
        clock=FakeClock(T0 + timedelta(minutes=1)),
        force=True,
    )
    assert summary.status == "leased_elsewhere"
    assert count_posts(db) == 0
    # after expiry another worker takes over
    assert repo.claim_lease(
        db, source_id=source_id, owner="worker-b", now=T0 + timedelta(minutes=6), lease=lease
    )


def test_a_lost_lease_stops_the_run_without_writing_the_page(db, source_id, monkeypatch) -> None:
    posts = [make_post(i) for i in range(6)]

    class StealingCollector(FakeCollector):
        def fetch(self, config, cursor):
            for number, page in enumerate(super().fetch(config, cursor)):
                if number == 1:  # another worker takes the (expired) lease mid-run
                    with Session(db) as session:
                        src = session.get(Source, source_id)
                        assert src is not None
                        src.lease_owner = "thief"
                        session.add(src)
                        session.commit()
                yield page

    use(monkeypatch, StealingCollector(posts))
    summary = service.collect_source(
        engine=db, source_id=source_id, owner="me", clock=FakeClock(), force=True
    )
    assert summary.status == "lease_lost"
    assert count_posts(db) == 3
    with Session(db) as session:
        source = session.get(Source, source_id)
        assert source is not None
        assert (source.cursor, source.lease_owner) == ({"offset": 3}, "thief")


def test_authors_resolve_to_reporters_and_mark_them_for_scoring(db, source_id, monkeypatch) -> None:
    with Session(db) as session:
        reporter = reporters_service.add_reporter(
            session=session, name="Ana", email=None, accounts=["mastodon:ana@social.example"], verified=True
        )
        session.commit()
        reporter_id = reporter.id
    posts = [make_post(1), make_post(2, author="mastodon:stranger@elsewhere.example")]
    use(monkeypatch, FakeCollector(posts))
    service.collect_source(engine=db, source_id=source_id, clock=FakeClock(), force=True)
    with Session(db) as session:
        by_author = {p.author_key: p.reporter_id for p in session.exec(select(Post)).all()}
        assert by_author == {
            "mastodon:ana@social.example": reporter_id,
            "mastodon:stranger@elsewhere.example": None,
        }
        assert [d.reporter_id for d in session.exec(select(ScoreDirty)).all()] == [reporter_id]


def test_newer_versions_replace_content_older_ones_do_not(db, source_id, monkeypatch) -> None:
    original = make_post(1, text="original text about peatlands #iucncec", version="v1")
    edited = replace(
        original,
        text="edited text about peatlands, tag removed",
        tags=(),
        version="v2",
        edited_at=T0 + timedelta(hours=1),
    )
    with Session(db) as session:
        repo.upsert_posts(session, source_id=source_id, posts=[original], now=T0)
        outcome = repo.upsert_posts(session, source_id=source_id, posts=[edited], now=T0)
        assert outcome.updated == 1
        stale = replace(original, edited_at=T0 + timedelta(minutes=30), version="v1.5")
        assert repo.upsert_posts(session, source_id=source_id, posts=[stale], now=T0).updated == 0
        # the same key twice in one page (a duplicated item) is one row
        assert (
            repo.upsert_posts(session, source_id=source_id, posts=[make_post(5), make_post(5)], now=T0).new
            == 1
        )
        session.commit()
        post = session.exec(select(Post).where(Post.local_id == "1")).one()
        assert (post.text, post.tags, post.version) == ("edited text about peatlands, tag removed", [], "v2")


def test_recheck_marks_deletions_applies_edits_and_stores_engagement(db, source_id, monkeypatch) -> None:
    with Session(db) as session:
        reporters_service.add_reporter(
            session=session, name="Ana", email=None, accounts=["mastodon:ana@social.example"], verified=True
        )
        session.commit()
    created = T0 - timedelta(hours=2)
    kept = replace(make_post(1), created_at=created)
    gone = replace(make_post(2), created_at=created)
    use(monkeypatch, FakeCollector([kept, gone]))
    service.collect_source(engine=db, source_id=source_id, clock=FakeClock(), force=True)
    with Session(db) as session:
        due = repo.posts_due_for_recheck(session, now=T0, limit=10)
        assert len(due) == 0  # +1 h already passed at first sight: next stage is +1 day
        post = session.exec(select(Post).where(Post.local_id == "1")).one()
        assert (post.recheck_stage, post.next_recheck_at) == (1, created + timedelta(days=1))

    edited = replace(kept, text="edited: the hashtag is gone", tags=(), version="v2", edited_at=T0)
    use(monkeypatch, FakeCollector([], recheck_results={kept.global_key: edited}))
    later = FakeClock(created + timedelta(days=1, minutes=1))
    summary = service.recheck_due(engine=db, clock=later)
    assert (summary.checked, summary.deleted, summary.updated) == (2, 1, 1)
    with Session(db) as session:
        rows = {p.local_id: p for p in session.exec(select(Post)).all()}
        assert rows["2"].deleted_at is not None
        assert rows["1"].deleted_at is None
        assert rows["1"].tags == []
        assert rows["1"].next_recheck_at == created + timedelta(days=7)
        from app.ingest.models import PostEngagement

        likes = session.exec(select(PostEngagement)).all()
        assert {(e.account_key, e.kind) for e in likes} == {("mastodon:bo@social.example", "like")}


def test_a_missing_post_is_gone_after_two_misses(db, source_id, monkeypatch) -> None:
    class MissingCollector(FakeCollector):
        def recheck(self, config, refs):
            for ref in refs:
                yield RecheckResult(ref=ref, post=None, gone=False)

    post = replace(make_post(1), created_at=T0 - timedelta(hours=2))
    use(monkeypatch, MissingCollector([post]))
    service.collect_source(engine=db, source_id=source_id, clock=FakeClock(), force=True)
    with Session(db) as session:
        post_id = session.exec(select(Post.id)).one()
    assert service.recheck_due(engine=db, post_ids=[post_id]).deleted == 0
    assert service.recheck_due(engine=db, post_ids=[post_id]).deleted == 1


def test_add_source_validates_input(db) -> None:
    from app.core.errors import InvalidInput

    with Session(db) as session:
        with pytest.raises(InvalidInput, match="unknown platform"):
            service.add_source(session=session, platform="myspace", url="https://x", validate=False)
        with pytest.raises(InvalidInput, match="between 30 seconds"):
            service.add_source(
                session=session,
                platform="rss" if False else "blog",
                url="https://x",
                interval_s=1,
                validate=False,
            )


def test_backoff_grows_and_is_capped() -> None:
    import random

    rng = random.Random(1)
    delays = [service.backoff_delay(n, 300, rng) for n in range(1, 12)]
    assert delays[0] <= timedelta(seconds=375)
    assert delays[3] >= timedelta(seconds=300 * 8 * 0.75)
    assert max(delays) <= service.MAX_BACKOFF * 1.25
