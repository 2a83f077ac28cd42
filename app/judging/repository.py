"""Every query of the judging domain."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import func, select, update
from sqlmodel import Session, col
from sqlmodel import select as orm_select

from app.core.db import table
from app.core.types import utcnow
from app.events.models import Event, Registration
from app.ingest.models import Post
from app.judging.models import (
    Freeze,
    JudgeConflict,
    JudgeScore,
    PrizeCategory,
    RubricCriterion,
    ShortlistEntry,
)
from app.reporters.models import Account
from app.scoring.dirty import reporters_with_posts
from app.scoring.models import RuleSet
from app.scoring.service import registered_reporter_ids

POSTS = table(Post)
ACCOUNTS = table(Account)
REGISTRATIONS = table(Registration)
EVENTS = table(Event)
CATEGORIES = table(PrizeCategory)
SCORES = table(JudgeScore)
CONFLICTS = table(JudgeConflict)
ENTRIES = table(ShortlistEntry)
RULE_SETS = table(RuleSet)


# --- facts for a freeze ---------------------------------------------------------------------------


def involved_reporter_ids(session: Session, event: Event) -> list[int]:
    """Registered reporters and those with posts near the coverage window (as a full re-score takes)."""
    assert event.id is not None
    registered = registered_reporter_ids(session, event.id)
    with_posts = reporters_with_posts(session, event.window_start_at, event.window_end_at)
    return sorted(set(registered) | with_posts)


def handles_by_reporter(session: Session, reporter_ids: Sequence[int]) -> dict[int, list[str]]:
    """Every handle and account key of each reporter (verified or not), to recognise self-mentions."""
    found: dict[int, list[str]] = defaultdict(list)
    if not reporter_ids:
        return found
    rows = session.execute(
        select(ACCOUNTS.c.reporter_id, ACCOUNTS.c.account_key, ACCOUNTS.c.handle).where(
            ACCOUNTS.c.reporter_id.in_(list(reporter_ids))
        )
    )
    for row in rows:
        found[row.reporter_id].extend([row.account_key, row.handle])
    return found


def earlier_registrations(session: Session, event: Event, reporter_ids: Sequence[int]) -> dict[int, int]:
    """How many events that started before ``event`` each reporter is (still) registered for."""
    if not reporter_ids:
        return {}
    rows = session.execute(
        select(REGISTRATIONS.c.reporter_id, func.count())
        .select_from(REGISTRATIONS.join(EVENTS, EVENTS.c.id == REGISTRATIONS.c.event_id))
        .where(
            REGISTRATIONS.c.reporter_id.in_(list(reporter_ids)),
            REGISTRATIONS.c.withdrawn_at.is_(None),
            EVENTS.c.start_date < event.start_date,
            EVENTS.c.id != event.id,
        )
        .group_by(REGISTRATIONS.c.reporter_id)
    ).all()
    return {int(r[0]): int(r[1]) for r in rows}


def post_display(session: Session, post_ids: Sequence[int]) -> dict[int, tuple[str | None, str | None]]:
    """URL and author name of posts, by id."""
    found: dict[int, tuple[str | None, str | None]] = {}
    for start in range(0, len(post_ids), 5000):
        chunk = list(post_ids[start : start + 5000])
        for row in session.execute(
            select(POSTS.c.id, POSTS.c.url, POSTS.c.author_name).where(POSTS.c.id.in_(chunk))
        ):
            found[row.id] = (row.url, row.author_name)
    return found


def rules_sha256(session: Session, version: str) -> str | None:
    return session.execute(
        select(RULE_SETS.c.sha256).where(RULE_SETS.c.version == version)
    ).scalar_one_or_none()


# --- freezes and categories -----------------------------------------------------------------------


def freeze_of(session: Session, event_id: int) -> Freeze | None:
    return session.exec(orm_select(Freeze).where(Freeze.event_id == event_id)).first()


def frozen_events(session: Session) -> list[Event]:
    return list(
        session.exec(
            orm_select(Event)
            .join(Freeze, col(Freeze.event_id) == col(Event.id))
            .order_by(col(Event.start_date), col(Event.id))
        ).all()
    )


def category_by_slug(
    session: Session, event_id: int, slug: str, *, for_update: bool = False
) -> PrizeCategory | None:
    query = orm_select(PrizeCategory).where(PrizeCategory.event_id == event_id, PrizeCategory.slug == slug)
    if for_update:
        query = query.with_for_update()
    return session.exec(query).first()


def lock_category(session: Session, category_id: int) -> PrizeCategory | None:
    """The category row, locked until the end of the transaction (PostgreSQL; SQLite serialises writes)."""
    return session.exec(
        orm_select(PrizeCategory).where(PrizeCategory.id == category_id).with_for_update()
    ).first()


def categories_of(
    session: Session, event_id: int, *, offset: int = 0, limit: int = 1000
) -> tuple[list[PrizeCategory], int]:
    total = session.execute(
        select(func.count()).select_from(CATEGORIES).where(CATEGORIES.c.event_id == event_id)
    ).scalar_one()
    rows = session.exec(
        orm_select(PrizeCategory)
        .where(PrizeCategory.event_id == event_id)
        .order_by(col(PrizeCategory.id))
        .offset(offset)
        .limit(limit)
    ).all()
    return list(rows), int(total)


def published_categories(
    session: Session, event_id: int, *, offset: int = 0, limit: int = 1000
) -> tuple[list[PrizeCategory], int]:
    where = (CATEGORIES.c.event_id == event_id, CATEGORIES.c.published_at.is_not(None))
    total = session.execute(select(func.count()).select_from(CATEGORIES).where(*where)).scalar_one()
    rows = session.exec(
        orm_select(PrizeCategory)
        .where(PrizeCategory.event_id == event_id, col(PrizeCategory.published_at).is_not(None))
        .order_by(col(PrizeCategory.id))
        .offset(offset)
        .limit(limit)
    ).all()
    return list(rows), int(total)


def any_published(session: Session, event_id: int) -> bool:
    return (
        session.execute(
            select(CATEGORIES.c.id)
            .where(CATEGORIES.c.event_id == event_id, CATEGORIES.c.published_at.is_not(None))
            .limit(1)
        ).first()
        is not None
    )


def mark_published(
    session: Session, category: PrizeCategory, *, by: int | None, results: dict[str, object]
) -> bool:
    """Set published_at only if nobody did first (the WHERE decides between two staff at once)."""
    now = utcnow()
    done = session.execute(
        update(CATEGORIES)
        .where(CATEGORIES.c.id == category.id, CATEGORIES.c.published_at.is_(None))
        .values(published_at=now, published_by=by, results=results)
    )
    if done.rowcount != 1:  # type: ignore[attr-defined]  # CursorResult of an UPDATE
        return False
    session.refresh(category)
    return True


def criteria_of(session: Session, category_id: int) -> list[RubricCriterion]:
    return list(
        session.exec(
            orm_select(RubricCriterion)
            .where(RubricCriterion.category_id == category_id)
            .order_by(col(RubricCriterion.id))
        ).all()
    )


def criteria_by_category(session: Session, category_ids: Sequence[int]) -> dict[int, list[RubricCriterion]]:
    found: dict[int, list[RubricCriterion]] = defaultdict(list)
    if not category_ids:
        return found
    for row in session.exec(
        orm_select(RubricCriterion)
        .where(col(RubricCriterion.category_id).in_(list(category_ids)))
        .order_by(col(RubricCriterion.id))
    ).all():
        found[row.category_id].append(row)
    return found


def category_has_scores(session: Session, category_id: int) -> bool:
    return (
        session.execute(
            select(SCORES.c.id)
            .select_from(SCORES.join(ENTRIES, ENTRIES.c.id == SCORES.c.entry_id))
            .where(ENTRIES.c.category_id == category_id)
            .limit(1)
        ).first()
        is not None
    )


# --- shortlists, conflicts, scores ----------------------------------------------------------------


def shortlist_of(session: Session, category_id: int) -> list[ShortlistEntry]:
    return list(
        session.exec(
            orm_select(ShortlistEntry)
            .where(ShortlistEntry.category_id == category_id)
            .order_by(col(ShortlistEntry.id))
        ).all()
    )


def shortlists_of(session: Session, category_ids: Sequence[int]) -> dict[int, list[ShortlistEntry]]:
    found: dict[int, list[ShortlistEntry]] = defaultdict(list)
    if not category_ids:
        return found
    for row in session.exec(
        orm_select(ShortlistEntry)
        .where(col(ShortlistEntry.category_id).in_(list(category_ids)))
        .order_by(col(ShortlistEntry.id))
    ).all():
        found[row.category_id].append(row)
    return found


def entry_by_id(session: Session, entry_id: int) -> ShortlistEntry | None:
    return session.get(ShortlistEntry, entry_id)


def shortlisted(session: Session, category_id: int, reporter_id: int) -> ShortlistEntry | None:
    return session.exec(
        orm_select(ShortlistEntry).where(
            ShortlistEntry.category_id == category_id, ShortlistEntry.reporter_id == reporter_id
        )
    ).first()


def conflict_of(session: Session, judge_id: int, entry_id: int) -> JudgeConflict | None:
    return session.exec(
        orm_select(JudgeConflict).where(
            JudgeConflict.judge_id == judge_id, JudgeConflict.entry_id == entry_id
        )
    ).first()


def conflicts_in(session: Session, entry_ids: Sequence[int]) -> set[tuple[int, int]]:
    """(judge id, entry id) of every declared conflict on these entries."""
    if not entry_ids:
        return set()
    rows = session.execute(
        select(CONFLICTS.c.judge_id, CONFLICTS.c.entry_id).where(CONFLICTS.c.entry_id.in_(list(entry_ids)))
    )
    return {(int(r.judge_id), int(r.entry_id)) for r in rows}


def scores_of(session: Session, *, entry_id: int, judge_id: int) -> list[JudgeScore]:
    return list(
        session.exec(
            orm_select(JudgeScore)
            .where(JudgeScore.entry_id == entry_id, JudgeScore.judge_id == judge_id)
            .order_by(col(JudgeScore.criterion_id))
        ).all()
    )


def scores_in(session: Session, entry_ids: Sequence[int]) -> list[JudgeScore]:
    if not entry_ids:
        return []
    return list(
        session.exec(
            orm_select(JudgeScore)
            .where(col(JudgeScore.entry_id).in_(list(entry_ids)))
            .order_by(col(JudgeScore.judge_id), col(JudgeScore.entry_id), col(JudgeScore.criterion_id))
        ).all()
    )


def delete_scores(session: Session, *, entry_id: int, judge_id: int) -> int:
    rows = scores_of(session, entry_id=entry_id, judge_id=judge_id)
    for row in rows:
        session.delete(row)
    session.flush()
    return len(rows)
