"""Incremental scoring per (reporter, event): a changed post queues its reporter only for the events
whose candidate window holds it, and a re-score whose result did not change writes nothing."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from random import Random
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, insert, select, update
from sqlmodel import Session

from app.core.db import make_engine, table, writing
from app.events import service as events_service
from app.events.models import Event
from app.ingest import repository as repo
from app.ingest.models import Post, PostEngagement
from app.reporters.models import Account, Reporter, VerificationState
from app.scoring import service as scoring
from app.scoring.dirty import mark_dirty, mark_posts_dirty
from app.scoring.models import (
    EVERY_EVENT,
    LeaderboardEntry,
    PostVerdict,
    ScoreDigest,
    ScoreDirty,
    ScoreHistory,
    ScoreNewPost,
)
from collectors.base import CollectedPost
from tests.app_scoring.test_scoring_service import NOW, TEXTS, add_reporter, make_event, post, snapshot

DIRTY = table(ScoreDirty)
VERDICTS = table(PostVerdict)
DIGESTS = table(ScoreDigest)
ENTRIES = table(LeaderboardEntry)
HISTORY = table(ScoreHistory)
NEW_POSTS = table(ScoreNewPost)


def make_summit(session: Session) -> Event:
    """A second event a month after the Congress (2025-10-09..15): windows that do not overlap."""
    spec = events_service.parse_event(
        {
            "slug": "summit",
            "name": "Ocean Summit",
            "start": "2025-11-20",
            "end": "2025-11-21",
            "timezone": "UTC",
        }
    )
    return events_service.create_event(session=session, spec=spec)


def queued(session: Session) -> set[tuple[int, int]]:
    return {
        (r.reporter_id, r.event_id) for r in session.execute(select(DIRTY.c.reporter_id, DIRTY.c.event_id))
    }


def test_a_changed_post_queues_its_reporter_only_for_events_whose_window_holds_it(session: Session) -> None:
    congress, summit = make_event(session), make_summit(session)
    ana = add_reporter(session, "Ana", "ana", congress)
    session.execute(delete(DIRTY))
    in_congress = datetime(2025, 10, 10, tzinfo=UTC)
    mark_posts_dirty(session, [(ana, in_congress), (None, in_congress)])
    assert queued(session) == {(ana, congress.id)}
    # the candidate window is the coverage window (start - 2 .. end + 14) ± 3 days of near misses
    near_miss_of_summit = datetime(2025, 11, 18 - 3, 0, 1, tzinfo=UTC)
    mark_posts_dirty(session, [(ana, near_miss_of_summit)])
    assert queued(session) == {(ana, congress.id), (ana, summit.id)}
    mark_posts_dirty(session, [(ana, datetime(2024, 1, 1, tzinfo=UTC))])  # no event: nothing more
    mark_dirty(session, [ana, None])
    assert queued(session) == {(ana, congress.id), (ana, summit.id), (ana, EVERY_EVENT)}


def test_a_rescore_that_changes_nothing_writes_nothing(session: Session) -> None:
    event = make_event(session)
    add_reporter(session, "Ana", "ana", event)
    add_reporter(session, "Bo", "bo", event)
    items = [post(n, handle, day=9 + n % 5, likes=n) for n in range(8) for handle in ("ana", "bo")]
    repo.upsert_posts(session, source_id=None, posts=items, now=NOW)
    first = NOW + timedelta(hours=1)
    scoring.rescore_event(session, event, first)
    rows = {
        r.id: (r.post_id, r.computed_at)
        for r in session.execute(select(VERDICTS.c.id, VERDICTS.c.post_id, VERDICTS.c.computed_at))
    }
    assert len(rows) == 16
    scoring.rescore_event(session, event, first + timedelta(hours=1))
    again = {
        r.id: (r.post_id, r.computed_at)
        for r in session.execute(select(VERDICTS.c.id, VERDICTS.c.post_id, VERDICTS.c.computed_at))
    }
    assert again == rows  # the same rows, not rewritten
    # one more like on one of Bo's posts: only Bo's verdicts are rewritten
    liked = post(1, "bo", day=10, likes=40)
    repo.upsert_posts(session, source_id=None, posts=[liked], now=NOW)
    later = first + timedelta(hours=2)
    scoring.rescore_event(session, event, later)
    rewritten = session.execute(
        select(VERDICTS.c.post_id, VERDICTS.c.computed_at, table(Post).c.author_key).join(
            table(Post), table(Post).c.id == VERDICTS.c.post_id
        )
    ).all()
    assert {r.author_key for r in rewritten if r.computed_at == later} == {"mastodon:bo@social.example"}
    assert len([r for r in rewritten if r.computed_at == later]) == 8
    assert len(rewritten) == 16


OPS = st.lists(
    st.tuples(
        st.sampled_from(["add", "like", "delete", "exclude", "untag"]),
        st.integers(0, 11),
        st.sampled_from(["ana", "bo"]),
        st.sampled_from([9, 11, 16, 33, 48, 52]),  # Congress days, the gap, the Summit's near miss and day
    ),
    min_size=1,
    max_size=14,
)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=OPS)
def test_incremental_per_event_marks_equal_a_full_rescore(
    session: Session, ops: list[tuple[str, int, str, int]]
) -> None:
    """Posts land in either event's window (or neither); the queue marks only those events, and after
    re-scoring the queue every event equals a full re-score of it."""
    nested = session.begin_nested()
    try:
        congress = make_event(session)
        summit = make_summit(session)
        ids = {h: add_reporter(session, h.title(), h, congress) for h in ("ana", "bo")}
        events_service.register(
            session=session,
            reporter=session.get_one(Reporter, ids["bo"]),
            event=summit,
            at=datetime(2025, 9, 1, tzinfo=UTC),
            channel="staff",
        )
        scoring.rescore_pending(session)
        known: dict[int, CollectedPost] = {}
        for op, n, handle, day in ops:
            key = n * 10 + (handle == "bo")
            if op == "add" or key not in known:
                created = datetime(2025, 10, 1, 9, tzinfo=UTC) + timedelta(days=day - 1, minutes=key)
                item = replace(post(key, handle, likes=n % 4), created_at=created)
                known[key] = item
                repo.upsert_posts(session, source_id=None, posts=[item], now=NOW)
            elif op == "like":
                item = replace(known[key], likes=known[key].likes + 2)
                known[key] = item
                repo.upsert_posts(session, source_id=None, posts=[item], now=NOW)
            else:
                column = {
                    "delete": {"deleted_at": NOW},
                    "exclude": {"excluded": True},
                    "untag": {"tags": [], "text": "no tag here any more, but long enough to count"},
                }[op]
                row = session.execute(
                    update(table(Post))
                    .where(table(Post).c.global_key == known[key].global_key)
                    .values(**column)
                    .returning(table(Post).c.reporter_id, table(Post).c.created_at)
                ).one()
                mark_posts_dirty(session, [(row.reporter_id, row.created_at)])
            while scoring.rescore_pending(session):
                pass
        incremental = [stored_state(session, event)[::2] for event in (congress, summit)]
        scoring.rescore_event(session, congress)
        scoring.rescore_event(session, summit)
        # every verdict (with its near-copy signature) and entry (with its breakdown), not the digests
        assert [stored_state(session, event)[::2] for event in (congress, summit)] == incremental
    finally:
        nested.rollback()


def test_verifying_an_account_re_scores_the_reporters_whose_posts_it_engaged_with(session: Session) -> None:
    """Engagement by other registered reporters' verified accounts is left out (§5): when Bo's account
    becomes verified, the likes it gave Ana's post stop counting, without a full re-score."""
    event = make_event(session)
    ana = add_reporter(session, "Ana", "ana", event)
    bo = add_reporter(session, "Bo", "bo", event, verified=False)
    repo.upsert_posts(session, source_id=None, posts=[post(1, "ana", likes=1)], now=NOW)
    ana_post = session.execute(select(table(Post).c.id).where(table(Post).c.reporter_id == ana)).scalar_one()
    session.execute(
        insert(table(PostEngagement)),
        [{"post_id": ana_post, "account_key": "mastodon:bo@social.example", "kind": "like", "seen_at": NOW}],
    )
    while scoring.rescore_pending(session):
        pass
    liked = session.execute(
        select(VERDICTS.c.engagement_points).where(VERDICTS.c.post_id == ana_post)
    ).scalar_one()
    assert liked > 0
    session.execute(
        update(table(Account))
        .where(table(Account).c.reporter_id == bo)
        .values(state=VerificationState.VERIFIED)
    )
    mark_dirty(session, [bo])  # what verification does
    assert (ana, EVERY_EVENT) in queued(session)
    while scoring.rescore_pending(session):
        pass
    points = session.execute(select(VERDICTS.c.engagement_points).where(VERDICTS.c.post_id == ana_post))
    assert points.scalar_one() == 0
    incremental = snapshot(session, event)
    scoring.rescore_event(session, event)
    assert snapshot(session, event) == incremental


def test_scoring_in_chunks_of_reporters_gives_the_same_result(session: Session, monkeypatch) -> None:
    """Reporters are scored ``SCORE_CHUNK`` at a time (bounded memory); the chunk size changes nothing."""
    event = make_event(session)
    for handle in ("ana", "bo", "cy"):
        add_reporter(session, handle.title(), handle, event)
    items = [post(n, h, day=9 + n % 6, likes=n % 4) for n in range(9) for h in ("ana", "bo", "cy")]
    repo.upsert_posts(session, source_id=None, posts=items, now=NOW)
    scoring.rescore_event(session, event)
    whole = snapshot(session, event)
    session.execute(delete(VERDICTS))
    session.execute(delete(table(ScoreDigest)))
    session.execute(delete(table(LeaderboardEntry)))
    monkeypatch.setattr(scoring, "SCORE_CHUNK", 2)
    scoring.rescore_event(session, event)
    assert snapshot(session, event) == whole


def test_editing_an_event_queues_everyone_it_concerns(session: Session) -> None:
    """Moving the Congress a week later: posts of the old dates fall outside the window (or out of
    the candidates), and the queue alone brings the scores to what a full re-score gives."""
    event = make_event(session)
    ana = add_reporter(session, "Ana", "ana", event)
    add_reporter(session, "Bo", "bo", None)  # not registered: involved through his posts only
    items = [post(n, h, day=d) for n, (h, d) in enumerate([("ana", 9), ("ana", 20), ("bo", 10), ("bo", 24)])]
    repo.upsert_posts(session, source_id=None, posts=items, now=NOW)
    while scoring.rescore_pending(session):
        pass
    before = snapshot(session, event)
    spec = events_service.parse_event(
        {**events_service.spec_fields(event), "start": "2025-10-23", "end": "2025-10-29"}
    )
    events_service.update_event(session=session, event=event, spec=spec)
    assert {rid for rid, eid in queued(session) if eid == event.id} >= {ana}
    while scoring.rescore_pending(session):
        pass
    moved = snapshot(session, event)
    assert moved != before
    scoring.rescore_event(session, event)
    assert snapshot(session, event) == moved


def test_scoring_several_events_in_one_pass_equals_scoring_each_alone(session: Session) -> None:
    """``rescore_events`` reads each reporter's posts once for every event and shares their shingles;
    with three events whose candidate windows overlap (a post counts in two of them, near-copies
    cross the boundary), every event's verdicts and entries are what scoring it alone gives."""
    congress, summit = make_event(session), make_summit(session)
    spec = events_service.parse_event(
        {
            "slug": "forum",
            "name": "Youth Forum",
            "start": "2025-10-20",
            "end": "2025-10-22",
            "timezone": "UTC",
        }
    )
    forum = events_service.create_event(session=session, spec=spec)  # overlaps the Congress window
    ids = {h: add_reporter(session, h.title(), h, congress) for h in ("ana", "bo", "cy")}
    for handle, event in (("ana", forum), ("bo", forum), ("bo", summit)):
        events_service.register(
            session=session,
            reporter=session.get_one(Reporter, ids[handle]),
            event=event,
            at=datetime(2025, 9, 1, tzinfo=UTC),
            channel="staff",
        )
    copy = "mangroves and coral reefs restored by community rangers across the delta this year"
    items = [
        post(n * 3 + k, handle, day=day, likes=n % 3, text=copy + ("!" * (n % 2)) if n % 4 == 0 else None)
        for n, day in enumerate([8, 9, 12, 19, 21, 23, 28, 30])
        for k, handle in enumerate(("ana", "bo", "cy"))
    ]
    items += [
        replace(post(90 + k, h), created_at=datetime(2025, 11, 20, 9 + k, tzinfo=UTC))
        for k, h in enumerate(ids)
    ]
    repo.upsert_posts(session, source_id=None, posts=items, now=NOW)
    events = [congress, summit, forum]
    scoring.rescore_events(session, events)
    together = [snapshot(session, event) for event in events]
    assert all(verdicts for _, verdicts in together)
    assert {post_id for _, v in together[:1] for post_id, *_ in v} & {
        p for _, v in together[2:] for p, *_ in v
    }
    for stored in (VERDICTS, table(ScoreDigest), table(LeaderboardEntry)):
        session.execute(delete(stored))
    for event in events:
        scoring.rescore_event(session, event)
    assert [snapshot(session, event) for event in events] == together


def test_a_scorer_taking_a_mark_that_an_open_page_touched_waits_for_its_posts(fresh_db_url: str) -> None:
    """A page re-marks (reporter, event) while that mark is still queued from an earlier page, and a
    scorer takes the mark before the page commits: the scorer must wait for the page's commit and
    score its post (else the post stays unscored and no mark is left). On PostgreSQL the page's upsert
    of the mark locks it; on SQLite writers queue for the write lock."""
    engine = make_engine(fresh_db_url)
    try:
        with Session(writing(engine)) as setup:
            event = make_event(setup)
            ana = add_reporter(setup, "Ana", "ana", event)
            repo.upsert_posts(setup, source_id=None, posts=[post(1, "ana")], now=NOW)
            setup.commit()
            event_id = event.id
        scoring.rescore_dirty(engine=engine)
        with Session(writing(engine)) as earlier:  # an earlier page's mark, still queued
            mark_posts_dirty(earlier, [(ana, datetime(2025, 10, 10, tzinfo=UTC))])
            earlier.commit()

        written, failures = threading.Event(), []

        def scorer() -> None:
            written.wait(timeout=30)
            try:
                scoring.rescore_dirty(engine=engine)
            except BaseException as exc:  # noqa: BLE001  (any failure fails the test)
                failures.append(exc)

        thread = threading.Thread(target=scorer)
        thread.start()
        with Session(writing(engine)) as page:
            repo.upsert_posts(session=page, source_id=None, posts=[post(2, "ana", day=11)], now=NOW)
            written.set()
            thread.join(timeout=1.5)  # the scorer takes the mark meanwhile (it must wait for us)
            page.commit()
        thread.join(timeout=60)
        assert not thread.is_alive()
        assert failures == []
        with Session(engine) as check:
            posts = set(
                check.execute(select(table(Post).c.id).where(table(Post).c.reporter_id == ana)).scalars()
            )
            judged = set(
                check.execute(select(VERDICTS.c.post_id).where(VERDICTS.c.event_id == event_id)).scalars()
            )
            still_queued = (ana, event_id) in queued(check)
        assert posts <= judged or still_queued
    finally:
        engine.dispose()


def stored_state(session: Session, event: Event) -> tuple[list[Any], list[Any], list[Any]]:
    """Everything scoring stores for an event: verdicts (with near-copy signatures), digests, entries."""
    verdicts = session.execute(
        select(
            VERDICTS.c.post_id,
            VERDICTS.c.counted,
            VERDICTS.c.points,
            VERDICTS.c.base_points,
            VERDICTS.c.engagement_points,
            VERDICTS.c.reasons,
            VERDICTS.c.day,
            VERDICTS.c.shingle_count,
            VERDICTS.c.shingle_prefix,
        )
        .where(VERDICTS.c.event_id == event.id)
        .order_by(VERDICTS.c.post_id)
    ).all()
    digests = session.execute(
        select(DIGESTS.c.reporter_id, DIGESTS.c.digest)
        .where(DIGESTS.c.event_id == event.id)
        .order_by(DIGESTS.c.reporter_id)
    ).all()
    entries = session.execute(
        select(ENTRIES.c.reporter_id, ENTRIES.c.rank, ENTRIES.c.score, ENTRIES.c.breakdown)
        .where(ENTRIES.c.event_id == event.id)
        .order_by(ENTRIES.c.reporter_id)
    ).all()
    return [tuple(v) for v in verdicts], [tuple(d) for d in digests], [tuple(e) for e in entries]


def distinct_text(n: int) -> str:
    """A text far from every other ``n``'s (no copies or near-copies among them)."""
    words = " ".join(TEXTS).lower().replace(",", "").split()
    return " ".join(Random(n).sample(words, 14))


def computed_at(session: Session) -> dict[int, datetime]:
    rows = session.execute(select(VERDICTS.c.post_id, VERDICTS.c.computed_at)).all()
    return {row.post_id: row.computed_at for row in rows}


def test_new_posts_extend_stored_results_and_rewrite_only_what_they_change(session: Session) -> None:
    """New posts queue "only new" marks; the scorer adds their verdicts, re-caps their day, and leaves
    every other stored verdict as it was, with the same result as a full re-score."""
    event = make_event(session)
    ana = add_reporter(session, "Ana", "ana", event)
    add_reporter(session, "Bo", "bo", event)
    first = [
        post(n, handle, day=10, likes=n, text=distinct_text(n)) for n in range(7) for handle in ("ana", "bo")
    ]
    repo.upsert_posts(session, source_id=None, posts=first, now=NOW)
    while scoring.rescore_pending(session):
        pass
    before = computed_at(session)
    # two new posts of Ana's: one that ranks first on the crowded day, one on a quiet day
    new = [
        post(20, "ana", day=10, likes=50, text=distinct_text(20)),
        post(21, "ana", day=12, text=distinct_text(21)),
    ]
    repo.upsert_posts(session, source_id=None, posts=new, now=NOW)
    assert session.execute(select(DIRTY.c.reporter_id, DIRTY.c.only_new)).all() == [(ana, True)]
    queued = session.execute(select(NEW_POSTS.c.reporter_id, NEW_POSTS.c.post_id)).all()
    assert len(queued) == 2
    assert {rid for rid, _ in queued} == {ana}
    while scoring.rescore_pending(session):
        pass
    assert session.execute(select(NEW_POSTS.c.id)).all() == []  # taken with their mark
    after = computed_at(session)
    rewritten = {post_id for post_id, at in after.items() if before.get(post_id) != at}
    ana_posts = set(
        session.execute(select(table(Post).c.id).where(table(Post).c.reporter_id == ana)).scalars()
    )
    assert rewritten <= ana_posts
    # the two new verdicts and Ana's day-10 posts ranked 5th and below, now one place lower
    assert len(rewritten) == 2 + 3
    verdicts, digests, entries = stored_state(session, event)
    assert dict(digests)[ana] == scoring.EXTENDED_DIGEST  # the next full re-score rewrites Ana's rows once
    scoring.rescore_event(session, event)
    again = stored_state(session, event)
    assert (again[0], again[2]) == (verdicts, entries)
    assert scoring.EXTENDED_DIGEST not in dict(again[1]).values()


def test_a_new_near_copy_is_re_scored_in_full(session: Session) -> None:
    event = make_event(session)
    ana = add_reporter(session, "Ana", "ana", event)
    repo.upsert_posts(
        session, source_id=None, posts=[post(n, "ana", text=distinct_text(n)) for n in range(4)], now=NOW
    )
    while scoring.rescore_pending(session):
        pass
    copy = post(9, "ana", likes=30, text=distinct_text(2) + "!")  # better than the original: kept instead
    repo.upsert_posts(session, source_id=None, posts=[copy], now=NOW)
    while scoring.rescore_pending(session):
        pass
    extended = stored_state(session, event)
    assert scoring.EXTENDED_DIGEST not in dict(extended[1]).values()  # re-scored in full, not extended
    reasons = {
        row.post_id: list(row.reasons)
        for row in session.execute(
            select(VERDICTS.c.post_id, VERDICTS.c.reasons, table(Post).c.local_id).join(
                table(Post), table(Post).c.id == VERDICTS.c.post_id
            )
        )
    }
    assert sorted(reasons.values()) == [[], [], [], [], ["duplicate"]]
    original = session.execute(
        select(table(Post).c.id).where(table(Post).c.reporter_id == ana, table(Post).c.local_id == "2")
    ).scalar_one()
    assert reasons[original] == ["duplicate"]  # the new copy has more points: it is the one kept
    scoring.rescore_event(session, event)
    assert stored_state(session, event) == extended


def test_a_score_change_without_a_rank_change_is_a_point_of_history(session: Session) -> None:
    event = make_event(session)
    ana = add_reporter(session, "Ana", "ana", event)
    repo.upsert_posts(session, source_id=None, posts=[post(1, "ana", text=distinct_text(1))], now=NOW)
    while scoring.rescore_pending(session):
        pass
    repo.upsert_posts(session, source_id=None, posts=[post(2, "ana", day=11, text=distinct_text(2))], now=NOW)
    while scoring.rescore_pending(session):
        pass
    history = session.execute(
        select(HISTORY.c.rank, HISTORY.c.score).where(HISTORY.c.reporter_id == ana).order_by(HISTORY.c.id)
    ).all()
    assert [rank for rank, _ in history] == [1, 1]  # alone in the event: always first
    assert history[0].score < history[1].score
    entry = session.execute(select(ENTRIES.c.score, ENTRIES.c.ranked_score)).one()
    assert entry.score == entry.ranked_score == history[1].score
    scoring.rescore_event(session, event)  # nothing changed: no new point
    assert len(session.execute(select(HISTORY.c.id)).all()) == 2
