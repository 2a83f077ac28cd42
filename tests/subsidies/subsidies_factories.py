"""Row factories for the subsidy tests (imported by the tests and by conftest)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from sqlmodel import Session

from app.events import service as events_service
from app.events.models import Event
from app.reporters import service as reporters_service
from app.reporters.models import Reporter
from app.scoring.models import LeaderboardEntry
from app.subsidies.models import Subsidy, SubsidyState, SubsidyTransition
from app.users.models import Role, User

_counter = itertools.count(1)
REGISTERED_AT = datetime(2025, 9, 1, tzinfo=UTC)  # before the event's first instant


def make_event(
    session: Session,
    *,
    slug: str | None = None,
    fee: str | None = "500",
    currency: str | None = "CHF",
    cap: str | None = "300",
    budget: str | None = "1000",
    start: str = "2025-10-09",
    end: str = "2025-10-15",
) -> Event:
    """An event of 7 days in Asia/Dubai (default subsidy: min(500 × 50 %, 300) = 250.00 CHF)."""
    spec = events_service.parse_event(
        {
            "slug": slug or f"event-{next(_counter)}",
            "name": "World Conservation Congress",
            "start": start,
            "end": end,
            "timezone": "Asia/Dubai",
            "fee": fee,
            "currency": currency if (fee or cap or budget) else None,
            "subsidy_cap": cap,
            "budget": budget,
        }
    )
    return events_service.create_event(session=session, spec=spec)


@dataclass(frozen=True)
class Numbers:
    posts: int = 5
    event_days: int = 2
    articles: int = 1


ELIGIBLE = Numbers()


def store_scores(session: Session, event: Event, reporter_id: int, numbers: Numbers) -> None:
    """Store a leaderboard entry for the reporter as the scoring pipeline would."""
    assert event.id is not None
    breakdown = {
        "base": 1000 * numbers.posts,
        "engagement": 0,
        "daily_cap_effect": 0,
        "day_bonus": 2000 * numbers.event_days,
        "platform_bonus": 0,
        "score": 1000 * numbers.posts + 2000 * numbers.event_days,
        "posts_counted": numbers.posts,
        "articles_counted": numbers.articles,
        "days_covered": numbers.event_days,
        "event_days_covered": numbers.event_days,
        "counted_days": [f"2025-10-{9 + d:02d}" for d in range(numbers.event_days)],
        "platforms": ["mastodon"],
        "first_counted_at": "2025-10-09T08:00:00+00:00" if numbers.posts else None,
    }
    session.add(
        LeaderboardEntry(
            event_id=event.id,
            rules_version=event.rules_version,
            reporter_id=reporter_id,
            rank=1,
            score=breakdown["score"],
            posts_counted=numbers.posts,
            days_covered=numbers.event_days,
            platforms=["mastodon"],
            breakdown=breakdown,
        )
    )
    session.flush()


def make_reporter(
    session: Session,
    event: Event | None,
    *,
    name: str | None = None,
    numbers: Numbers | None = ELIGIBLE,
    user_id: int | None = None,
    verified: bool = True,
    registered_at: datetime = REGISTERED_AT,
) -> Reporter:
    """A reporter with one (verified) account, registered for ``event`` with stored ``numbers``."""
    n = next(_counter)
    reporter = reporters_service.add_reporter(
        session=session,
        name=name or f"Reporter {n}",
        email=None,
        accounts=[f"mastodon:rep{n}@social.example"],
        verified=verified,
        user_id=user_id,
    )
    assert reporter.id is not None
    if event is not None:
        events_service.register(
            session=session, reporter=reporter, event=event, at=registered_at, channel="staff"
        )
        if numbers is not None:
            store_scores(session, event, reporter.id, numbers)
    return reporter


def make_staff_user(session: Session, *, role: Role = Role.STAFF, name: str | None = None) -> User:
    """A staff user row (no usable password: for service-level tests)."""
    n = next(_counter)
    user = User(email=f"staff{n}@example.org", name=name or f"Staff {n}", password_hash="-", role=role)
    session.add(user)
    session.flush()
    return user


def make_subsidy(
    session: Session,
    event: Event,
    reporter: Reporter,
    *,
    amount: str = "250",
    state: SubsidyState = SubsidyState.PROPOSED,
) -> Subsidy:
    """A subsidy row as a proposal would leave it (with its first transition)."""
    assert event.id is not None
    assert reporter.id is not None
    subsidy = Subsidy(
        event_id=event.id,
        reporter_id=reporter.id,
        state=state,
        amount=Decimal(amount),
        currency=event.currency or "CHF",
    )
    session.add(subsidy)
    session.flush()
    assert subsidy.id is not None
    session.add(
        SubsidyTransition(subsidy_id=subsidy.id, from_state=None, to_state=state, amount=Decimal(amount))
    )
    session.flush()
    return subsidy
