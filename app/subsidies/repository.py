"""Every query of the subsidies domain: the event lock, budget sums, stored scores, lists."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select, update
from sqlmodel import Session, col
from sqlmodel import select as orm_select

from app.core.db import table
from app.events.models import Event
from app.reporters.models import Reporter
from app.scoring.models import LeaderboardEntry, ScoreDirty
from app.subsidies.models import Subsidy, SubsidyState, SubsidyTransition
from app.users.models import User
from scoring.engine import EMPTY_BREAKDOWN, ScoreBreakdown

EVENTS = table(Event)
SUBSIDIES = table(Subsidy)
ENTRIES = table(LeaderboardEntry)
DIRTY = table(ScoreDirty)
REPORTERS = table(Reporter)
USERS = table(User)

COMMITTED_STATES = (SubsidyState.APPROVED.value, SubsidyState.PAID.value)
ZERO = Decimal(0)


# --- the event lock -------------------------------------------------------------------------------


def lock_event(session: Session, *, event_id: int) -> bool:
    """Take the event's row lock (PostgreSQL) or the write lock (SQLite); False if no such event.

    Every budget decision bumps ``lock_version`` before reading any sum, so deciders of one event
    queue behind each other until the first commits, and each then reads the others' results.
    """
    result = session.execute(
        update(EVENTS).where(EVENTS.c.id == event_id).values(lock_version=EVENTS.c.lock_version + 1)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]  # CursorResult of an UPDATE


def lock_event_of_subsidy(session: Session, *, subsidy_id: int) -> bool:
    """Take the lock of the subsidy's event as the transaction's first write; False if no subsidy.

    One statement, so on SQLite the transaction's first access is a write (a read first could make
    the later upgrade to a writer fail when another writer committed in between).
    """
    event_of_subsidy = select(SUBSIDIES.c.event_id).where(SUBSIDIES.c.id == subsidy_id).scalar_subquery()
    result = session.execute(
        update(EVENTS).where(EVENTS.c.id == event_of_subsidy).values(lock_version=EVENTS.c.lock_version + 1)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]  # CursorResult of an UPDATE


# --- reads ----------------------------------------------------------------------------------------


def load_subsidy(session: Session, subsidy_id: int) -> Subsidy | None:
    """The subsidy as the database has it now (not an earlier copy from the session)."""
    return session.get(Subsidy, subsidy_id, populate_existing=True)


def load_event(session: Session, event_id: int) -> Event | None:
    return session.get(Event, event_id, populate_existing=True)


def totals_by_state(session: Session, *, event_id: int) -> dict[str, Decimal]:
    """The sum of subsidy amounts of an event per state (exact: money is stored as integers)."""
    rows = session.execute(
        select(SUBSIDIES.c.state, func.sum(SUBSIDIES.c.amount))
        .where(SUBSIDIES.c.event_id == event_id)
        .group_by(SUBSIDIES.c.state)
    ).all()
    return {str(state): Decimal(total or 0) for state, total in rows}


def committed_total(session: Session, *, event_id: int) -> Decimal:
    """Approved + paid of an event: what its budget already carries."""
    total = session.execute(
        select(func.sum(SUBSIDIES.c.amount)).where(
            SUBSIDIES.c.event_id == event_id, SUBSIDIES.c.state.in_(COMMITTED_STATES)
        )
    ).scalar_one()
    return Decimal(total) if total is not None else ZERO


def reporter_ids_with_subsidy(session: Session, *, event_id: int) -> set[int]:
    return {
        int(r)
        for r in session.execute(
            select(SUBSIDIES.c.reporter_id).where(SUBSIDIES.c.event_id == event_id)
        ).scalars()
    }


def subsidies_of_event_by_reporter(session: Session, *, event_id: int) -> dict[int, Subsidy]:
    rows = session.exec(orm_select(Subsidy).where(Subsidy.event_id == event_id)).all()
    return {s.reporter_id: s for s in rows}


def list_subsidies(
    session: Session,
    *,
    event_id: int | None = None,
    reporter_id: int | None = None,
    state: str | None = None,
    offset: int = 0,
    limit: int = 50,
) -> tuple[list[Subsidy], int]:
    """One page of subsidies (oldest first) and the total matching."""
    conditions: list[Any] = []
    if event_id is not None:
        conditions.append(col(Subsidy.event_id) == event_id)
    if reporter_id is not None:
        conditions.append(col(Subsidy.reporter_id) == reporter_id)
    if state is not None:
        conditions.append(col(Subsidy.state) == state)
    total = session.exec(orm_select(func.count()).select_from(Subsidy).where(*conditions)).one()
    rows = session.exec(
        orm_select(Subsidy).where(*conditions).order_by(col(Subsidy.id)).offset(offset).limit(limit)
    ).all()
    return list(rows), int(total)


def transitions_of(session: Session, *, subsidy_id: int) -> list[SubsidyTransition]:
    return list(
        session.exec(
            orm_select(SubsidyTransition)
            .where(SubsidyTransition.subsidy_id == subsidy_id)
            .order_by(col(SubsidyTransition.at), col(SubsidyTransition.id))
        ).all()
    )


def reporter_names(session: Session, reporter_ids: Iterable[int]) -> dict[int, str]:
    ids = sorted(set(reporter_ids))
    if not ids:
        return {}
    rows = session.execute(select(REPORTERS.c.id, REPORTERS.c.name).where(REPORTERS.c.id.in_(ids))).all()
    return {int(r.id): str(r.name) for r in rows}


def user_names(session: Session, user_ids: Iterable[int | None]) -> dict[int, str]:
    """A display name per user: their name, else their e-mail (for staff eyes only)."""
    ids = sorted({u for u in user_ids if u is not None})
    if not ids:
        return {}
    rows = session.execute(select(USERS.c.id, USERS.c.name, USERS.c.email).where(USERS.c.id.in_(ids))).all()
    return {int(r.id): str(r.name or r.email) for r in rows}


def reporter_of_user(session: Session, *, user_id: int | None) -> int | None:
    """The reporter profile id of a user, if they have one."""
    if user_id is None:
        return None
    found = session.execute(select(REPORTERS.c.id).where(REPORTERS.c.user_id == user_id)).scalar()
    return None if found is None else int(found)


def live_reporter_ids(session: Session, reporter_ids: Iterable[int]) -> list[int]:
    """Those of ``reporter_ids`` whose profile has not been deleted, in id order."""
    ids = sorted(set(reporter_ids))
    if not ids:
        return []
    return [
        int(r)
        for r in session.execute(
            select(REPORTERS.c.id)
            .where(REPORTERS.c.id.in_(ids), REPORTERS.c.deleted_at.is_(None))
            .order_by(REPORTERS.c.id)
        ).scalars()
    ]


def dirty_reporter_ids(session: Session, reporter_ids: Sequence[int]) -> set[int]:
    """Reporters whose stored scores wait for the next incremental re-score."""
    if not reporter_ids:
        return set()
    return {
        int(r)
        for r in session.execute(
            select(DIRTY.c.reporter_id).where(DIRTY.c.reporter_id.in_(list(reporter_ids)))
        ).scalars()
    }


# --- stored scores --------------------------------------------------------------------------------

_INT_FIELDS = (
    "base",
    "engagement",
    "daily_cap_effect",
    "day_bonus",
    "platform_bonus",
    "score",
    "posts_counted",
    "articles_counted",
    "days_covered",
    "event_days_covered",
)


def breakdown_from_json(data: dict[str, Any]) -> ScoreBreakdown:
    """A stored breakdown (leaderboard entry JSON) back as the scoring library's value."""
    first = data.get("first_counted_at")
    return ScoreBreakdown(
        **{name: int(data.get(name) or 0) for name in _INT_FIELDS},
        counted_days=tuple(date.fromisoformat(d) for d in data.get("counted_days") or ()),
        platforms=tuple(data.get("platforms") or ()),
        first_counted_at=datetime.fromisoformat(first) if first else None,
    )


def stored_breakdowns(
    session: Session, event: Event, reporter_ids: Sequence[int]
) -> dict[int, ScoreBreakdown]:
    """The latest stored score breakdown of each reporter for the event's current rule set."""
    if not reporter_ids:
        return {}
    rows = session.execute(
        select(ENTRIES.c.reporter_id, ENTRIES.c.breakdown).where(
            ENTRIES.c.event_id == event.id,
            ENTRIES.c.rules_version == event.rules_version,
            ENTRIES.c.reporter_id.in_(list(reporter_ids)),
        )
    ).all()
    return {
        int(r.reporter_id): breakdown_from_json(r.breakdown) if r.breakdown else EMPTY_BREAKDOWN for r in rows
    }
