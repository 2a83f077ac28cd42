"""Queue reporters for incremental re-scoring, in the same transaction as whatever changed them.

A changed post queues its reporter only for the events whose candidate window (the coverage window
± ``NEAR_MISS``) holds the post's instant; a change to a reporter (registration, verification,
moderation) queues them for every event they take part in (``EVERY_EVENT``).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from app.core.db import insert_rows, table
from app.core.types import utcnow
from app.events.models import Event, Registration
from app.ingest.models import Post, PostEngagement
from app.reporters.models import Account
from app.scoring.models import EVERY_EVENT, ScoreDirty, ScoreNewPost

# Posts this far outside the coverage window still get a verdict (``outside_window``) so that a
# reporter sees why a near miss did not count.
NEAR_MISS = timedelta(days=3)

EVENTS = table(Event)
ACCOUNTS = table(Account)
POSTS = table(Post)
ENGAGEMENTS = table(PostEngagement)
REGISTRATIONS = table(Registration)


def _queue(session: Session, pairs: Iterable[tuple[int, int]], *, only_new: bool = False) -> None:
    now = utcnow()
    rows = [(rid, eid, now, only_new) for rid, eid in sorted(set(pairs))]
    if not rows:
        return
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    marks = table(ScoreDirty)
    statement = insert(marks)
    # An existing mark is touched, not skipped: the row lock makes a scorer that takes this mark while
    # our transaction is open wait for our commit, and so read our posts. With DO NOTHING it could
    # take the mark, score without our uncommitted posts, and leave them unscored with no mark left.
    # Marks are locked in (reporter, event) order here and in ``rescore_pending``: no deadlock.
    # A mark stays "only new posts" only while every change it stands for is one.
    upsert = statement.on_conflict_do_update(
        index_elements=["reporter_id", "event_id"],
        set_={
            "marked_at": statement.excluded.marked_at,
            "only_new": and_(marks.c.only_new, statement.excluded.only_new),
        },
    )
    insert_rows(session, marks, ("reporter_id", "event_id", "marked_at", "only_new"), rows, statement=upsert)


def mark_dirty(session: Session, reporter_ids: Iterable[int | None]) -> None:
    """Mark reporters whose accounts, registrations or standing changed, for every event (idempotent).

    A reporter's verified accounts are left out of the engagement of other registered reporters' posts
    (§5, no trading likes), so the reporters whose posts these reporters' accounts engaged with are
    marked too: their points change when these accounts' verification or registration does.
    """
    ids = sorted({rid for rid in reporter_ids if rid is not None})
    if not ids:
        return
    keys = [
        key
        for account_key, did in session.execute(
            select(ACCOUNTS.c.account_key, ACCOUNTS.c.did).where(ACCOUNTS.c.reporter_id.in_(ids))
        )
        for key in (account_key, f"bluesky:{did}" if did else None)
        if key is not None
    ]
    engaged = (
        session.execute(
            select(POSTS.c.reporter_id)
            .distinct()
            .join(ENGAGEMENTS, ENGAGEMENTS.c.post_id == POSTS.c.id)
            .where(ENGAGEMENTS.c.account_key.in_(keys), POSTS.c.reporter_id.is_not(None))
        )
        .scalars()
        .all()
        if keys
        else []
    )
    _queue(session, ((rid, EVERY_EVENT) for rid in {*ids, *engaged}))


Windows = list[Any]  # (event id, window start, window end) of every event, as ``event_windows`` reads them


def event_windows(session: Session) -> Windows:
    """Every event's coverage window, for callers that mark several lists of posts at once."""
    return list(session.execute(select(EVENTS.c.id, EVENTS.c.window_start_at, EVENTS.c.window_end_at)))


def mark_posts_dirty(
    session: Session, posts: Iterable[tuple[int | None, datetime]], windows: Windows | None = None
) -> None:
    """Mark (reporter, post instant) pairs: each reporter for the events whose candidate window holds
    one of their changed posts (idempotent). ``windows``: ``event_windows``, when already read."""
    _queue(session, _pairs(session, posts, windows))


def mark_new_posts(
    session: Session, posts: Iterable[tuple[int | None, datetime, int]], windows: Windows | None = None
) -> None:
    """Mark (reporter, post instant, post id) of posts just inserted, and nothing else of their
    reporters' changed: each (reporter, event) pair is queued "only new", with the posts themselves
    (``score_new_posts``), so that the scorer extends the stored result with them. A pair also marked
    by ``mark_posts_dirty`` (before or after, until scored) is re-scored in full."""
    inserted = [(rid, at, post_id) for rid, at, post_id in posts if rid is not None]
    if not inserted:
        return
    windows = event_windows(session) if windows is None else windows
    rows = sorted(
        {
            (rid, int(event_id), post_id)
            for rid, at, post_id in inserted
            for event_id, start, end in windows
            if start - NEAR_MISS <= at < end + NEAR_MISS
        }
    )
    insert_rows(session, table(ScoreNewPost), ("reporter_id", "event_id", "post_id"), rows)
    _queue(session, ((rid, eid) for rid, eid, _ in rows), only_new=True)


def _pairs(
    session: Session, posts: Iterable[tuple[int | None, datetime]], windows: Windows | None = None
) -> list[tuple[int, int]]:
    """(reporter, event) for each event whose candidate window holds one of these posts' instants."""
    changed = [(rid, at) for rid, at in posts if rid is not None]
    if not changed:
        return []
    windows = event_windows(session) if windows is None else windows
    return [
        (rid, int(event_id))
        for rid, at in changed
        for event_id, start, end in windows
        if start - NEAR_MISS <= at < end + NEAR_MISS
    ]


def mark_event_dirty(session: Session, event_id: int, windows: Iterable[tuple[datetime, datetime]]) -> None:
    """Mark every reporter an edited event involves: registered for it, or with posts in any of these
    coverage windows (the event's before and after the edit, so that posts leaving it lose their
    verdicts)."""
    registered = session.execute(
        select(REGISTRATIONS.c.reporter_id).where(REGISTRATIONS.c.event_id == event_id)
    ).scalars()
    involved = set(registered)
    for start, end in windows:
        involved |= reporters_with_posts(session, start, end)
    _queue(session, ((rid, event_id) for rid in involved))


def reporters_with_posts(
    session: Session, start: datetime, end: datetime, among: Iterable[int] | None = None
) -> set[int]:
    """Reporters (of ``among``, or any) with posts in the candidate window of the coverage window
    ``[start, end)``: ``NEAR_MISS`` wider on both sides."""
    query = (
        select(POSTS.c.reporter_id)
        .distinct()
        .where(
            POSTS.c.reporter_id.is_not(None),
            POSTS.c.created_at >= start - NEAR_MISS,
            POSTS.c.created_at < end + NEAR_MISS,
        )
    )
    if among is not None:
        query = query.where(POSTS.c.reporter_id.in_(list(among)))
    return set(session.execute(query).scalars())
