"""A reporter's standing: rank, score breakdown, every post's verdict in words, eligibility, history.

The score, breakdown, verdicts and eligibility are computed for the one reporter at request time
with the same pure functions and facts as ``app.scoring.service`` (so they are exact even while an
incremental re-score is pending); rank and movement come from the stored leaderboard, the only place
where every reporter's totals meet. Engagement traded between reporters is left out exactly as the
service does, but only the engagers named on this reporter's posts are looked up.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel
from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlmodel import Session

from app.core.db import table
from app.events.models import Event
from app.reporters.models import Reporter, VerificationState
from app.scoring import service as scoring
from app.scoring.models import LeaderboardEntry, ScoreHistory
from app.scoring.service import ACCOUNTS, POSTS, REGISTRATIONS
from scoring.eligibility import Eligibility, assess_eligibility, minor_unit
from scoring.engine import PostVerdict, ReporterResult, ScoreBreakdown, score_reporter
from scoring.model import EventSpec, ReporterFacts
from scoring.rules import RuleSet
from scoring.verdicts import REASON_TEXT, Reason

ENTRIES = table(LeaderboardEntry)
HISTORY = table(ScoreHistory)
EVENTS = table(Event)
REPORTERS = table(Reporter)

EXCERPT_CHARS = 280
HISTORY_POINTS = 1000  # the most recent changes of score or rank shown on the chart
ENGAGER_CHUNK = 500

__all__ = [
    "BoardPage",
    "Scored",
    "StandingDetail",
    "StandingSummary",
    "eligibility_for",
    "format_money",
    "leaderboard_page",
    "score_one",
    "standing_detail",
    "standing_events",
    "standing_summaries",
    "standing_summary",
]


# --- public schemas -----------------------------------------------------------------------------


class EventRef(BaseModel):
    slug: str
    name: str
    start: date
    end: date
    timezone: str


class Breakdown(BaseModel):
    """How the score adds up, in points (and exact integer thousandths): score = base + engagement
    + daily_cap_effect + day_bonus + platform_bonus."""

    base: float
    engagement: float
    daily_cap_effect: float
    day_bonus: float
    platform_bonus: float
    score: float
    base_thousandths: int
    engagement_thousandths: int
    daily_cap_effect_thousandths: int
    day_bonus_thousandths: int
    platform_bonus_thousandths: int
    score_thousandths: int
    posts_counted: int
    articles_counted: int
    days_covered: int
    event_days_covered: int
    counted_days: list[date]
    platforms: list[str]
    first_counted_at: datetime | None


class StandingSummary(BaseModel):
    event: EventRef
    registered: bool
    rank: int | None
    previous_rank: int | None
    movement: int | None
    ranked_reporters: int
    score: float
    score_thousandths: int
    posts_counted: int
    posts_not_counted: int
    breakdown: Breakdown
    ranked_at: datetime | None


class PostLine(BaseModel):
    post_id: int
    platform: str
    kind: str
    url: str | None
    created_at: datetime
    day: date
    excerpt: str
    counted: bool
    points: float
    points_thousandths: int
    base_thousandths: int
    engagement_thousandths: int
    daily_rank: int | None
    duplicate_of: int | None
    reasons: list[str]
    reason_texts: list[str]
    excluded_reason: str | None
    deleted: bool


class PostPage(BaseModel):
    data: list[PostLine]
    count: int


class CriterionPublic(BaseModel):
    code: str
    met: bool
    actual: int
    required: int
    words: str
    missing: str | None


class EligibilityPublic(BaseModel):
    eligible: bool
    criteria: list[CriterionPublic]
    missing: list[str]
    currency: str | None
    potential_subsidy: str | None
    subsidy: str | None


class HistoryPoint(BaseModel):
    at: datetime
    score: float
    score_thousandths: int
    rank: int


class StandingDetail(StandingSummary):
    eligibility: EligibilityPublic
    history: list[HistoryPoint]
    posts: PostPage


# --- scoring one reporter -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Scored:
    rules: RuleSet
    spec: EventSpec
    facts: ReporterFacts
    result: ReporterResult
    created_at: dict[int, datetime]  # post id -> publication instant


def _registered_engager_keys(session: Session, event: Event, named: set[str]) -> frozenset[str]:
    """Of the account keys named as engagers, those that are verified accounts of registered reporters."""
    if not named:
        return frozenset()
    found: set[str] = set()
    ordered = sorted(named)
    for start in range(0, len(ordered), ENGAGER_CHUNK):
        chunk = ordered[start : start + ENGAGER_CHUNK]
        dids = [k.removeprefix("bluesky:") for k in chunk if k.startswith("bluesky:did:")]
        condition: ColumnElement[bool] = ACCOUNTS.c.account_key.in_(chunk)
        if dids:
            condition = or_(condition, ACCOUNTS.c.did.in_(dids))
        rows = session.execute(
            select(ACCOUNTS.c.account_key, ACCOUNTS.c.did)
            .select_from(ACCOUNTS.join(REGISTRATIONS, REGISTRATIONS.c.reporter_id == ACCOUNTS.c.reporter_id))
            .where(
                condition,
                ACCOUNTS.c.state == VerificationState.VERIFIED,
                REGISTRATIONS.c.event_id == event.id,
                REGISTRATIONS.c.withdrawn_at.is_(None),
            )
        ).all()
        for row in rows:
            found.add(row.account_key)
            if row.did:
                found.add(f"bluesky:{row.did}")
    return frozenset(found)


def score_one(*, session: Session, event: Event, reporter_id: int) -> Scored:
    """Score one reporter for one event now, with the facts and rules the scoring service uses."""
    rules = scoring.rules_for(session, event.rules_version)
    spec = scoring.event_spec(event)
    facts = scoring.reporter_facts(session, event, [reporter_id]).get(reporter_id)
    if facts is None:
        facts = ReporterFacts(
            reporter_id=reporter_id,
            name=None,
            anonymous=True,
            registered_at=None,
            verified_account_keys=frozenset(),
        )
    posts = scoring.post_facts(session, event, [reporter_id]).get(reporter_id, [])
    named = {key for p in posts for key in (*p.liked_by, *p.reposted_by, *p.replied_by)}
    result = score_reporter(
        rules=rules,
        event=spec,
        reporter=facts,
        posts=posts,
        other_reporters_verified_keys=_registered_engager_keys(session, event, named),
    )
    created_at = {p.post_id: p.created_at for p in posts}
    return Scored(rules=rules, spec=spec, facts=facts, result=result, created_at=created_at)


def eligibility_for(*, session: Session, event: Event, reporter_id: int) -> Eligibility:
    """Fee reimbursement eligibility of one reporter for one event, as of now (DESIGN §5)."""
    scored = score_one(session=session, event=event, reporter_id=reporter_id)
    return assess_eligibility(
        rules=scored.rules, event=scored.spec, reporter=scored.facts, result=scored.result
    )


# --- building the standing ----------------------------------------------------------------------


def format_money(amount: Decimal | None, currency: str | None) -> str | None:
    """A Decimal as a string with the currency's minor unit, e.g. ``250.00`` CHF, ``300`` JPY."""
    if amount is None:
        return None
    return str(amount.quantize(Decimal(1).scaleb(-minor_unit(currency))))


def _points(thousandths: int) -> float:
    return thousandths / 1000


def breakdown_public(b: ScoreBreakdown) -> Breakdown:
    return Breakdown(
        base=_points(b.base),
        engagement=_points(b.engagement),
        daily_cap_effect=_points(b.daily_cap_effect),
        day_bonus=_points(b.day_bonus),
        platform_bonus=_points(b.platform_bonus),
        score=_points(b.score),
        base_thousandths=b.base,
        engagement_thousandths=b.engagement,
        daily_cap_effect_thousandths=b.daily_cap_effect,
        day_bonus_thousandths=b.day_bonus,
        platform_bonus_thousandths=b.platform_bonus,
        score_thousandths=b.score,
        posts_counted=b.posts_counted,
        articles_counted=b.articles_counted,
        days_covered=b.days_covered,
        event_days_covered=b.event_days_covered,
        counted_days=list(b.counted_days),
        platforms=list(b.platforms),
        first_counted_at=b.first_counted_at,
    )


def eligibility_public(eligibility: Eligibility) -> EligibilityPublic:
    return EligibilityPublic(
        eligible=eligibility.eligible,
        criteria=[
            CriterionPublic(
                code=str(c.code),
                met=c.met,
                actual=c.actual,
                required=c.required,
                words=c.words,
                missing=c.missing,
            )
            for c in eligibility.criteria
        ],
        missing=[c.missing for c in eligibility.criteria if c.missing],
        currency=eligibility.currency,
        potential_subsidy=format_money(eligibility.potential_subsidy, eligibility.currency),
        subsidy=format_money(eligibility.subsidy, eligibility.currency),
    )


def standing_events(*, session: Session, reporter_id: int, include_unpublished: bool) -> list[Event]:
    """Events the reporter is registered for (even if withdrawn) or has posts in, by start date."""
    events = scoring.events_of_reporters(session, [reporter_id])
    visible = [e for e in events if include_unpublished or e.published]
    return sorted(visible, key=lambda e: (e.start_date, e.id or 0))


def _entry(session: Session, event: Event, reporter_id: int) -> Any:
    return session.execute(
        select(ENTRIES.c.rank, ENTRIES.c.previous_rank, ENTRIES.c.movement, ENTRIES.c.computed_at).where(
            ENTRIES.c.event_id == event.id,
            ENTRIES.c.rules_version == event.rules_version,
            ENTRIES.c.reporter_id == reporter_id,
        )
    ).first()


def _ranked_count(session: Session, event: Event) -> int:
    return int(
        session.execute(
            select(func.count())
            .select_from(ENTRIES)
            .where(ENTRIES.c.event_id == event.id, ENTRIES.c.rules_version == event.rules_version)
        ).scalar_one()
    )


def _summary(session: Session, event: Event, scored: Scored) -> dict[str, Any]:
    result = scored.result
    entry = _entry(session, event, result.reporter_id) if result.registered else None
    counted = sum(1 for v in result.verdicts if v.counted)
    return {
        "event": EventRef(
            slug=event.slug,
            name=event.name,
            start=event.start_date,
            end=event.end_date,
            timezone=event.timezone,
        ),
        "registered": result.registered,
        "rank": entry.rank if entry is not None and entry.rank else None,
        "previous_rank": entry.previous_rank if entry is not None else None,
        "movement": entry.movement if entry is not None else None,
        "ranked_reporters": _ranked_count(session, event),
        "score": _points(result.score),
        "score_thousandths": result.score,
        "posts_counted": counted,
        "posts_not_counted": len(result.verdicts) - counted,
        "breakdown": breakdown_public(result.breakdown),
        "ranked_at": entry.computed_at if entry is not None else None,
    }


def standing_summary(*, session: Session, event: Event, reporter_id: int) -> StandingSummary:
    """The reporter's rank, score, movement and breakdown in one event."""
    scored = score_one(session=session, event=event, reporter_id=reporter_id)
    return StandingSummary(**_summary(session, event, scored))


def standing_summaries(
    *, session: Session, reporter_id: int, include_unpublished: bool = False
) -> list[StandingSummary]:
    """The reporter's standing summary in every event they take part in."""
    return [
        standing_summary(session=session, event=event, reporter_id=reporter_id)
        for event in standing_events(
            session=session, reporter_id=reporter_id, include_unpublished=include_unpublished
        )
    ]


def _history(session: Session, event: Event, reporter_id: int) -> list[HistoryPoint]:
    rows = session.execute(
        select(HISTORY.c.at, HISTORY.c.score, HISTORY.c.rank)
        .where(HISTORY.c.event_id == event.id, HISTORY.c.reporter_id == reporter_id)
        .order_by(HISTORY.c.at.desc(), HISTORY.c.id.desc())
        .limit(HISTORY_POINTS)
    ).all()
    return [
        HistoryPoint(at=r.at, score=_points(r.score), score_thousandths=r.score, rank=r.rank)
        for r in reversed(rows)
    ]


def _post_lines(session: Session, verdicts: Iterable[PostVerdict]) -> list[PostLine]:
    chosen = list(verdicts)
    if not chosen:
        return []
    p = POSTS.c
    rows = {
        r.id: r
        for r in session.execute(
            select(
                p.id,
                p.platform,
                p.kind,
                p.url,
                p.created_at,
                p.text,
                p.excluded,
                p.excluded_reason,
                p.deleted_at,
            ).where(p.id.in_([v.post_id for v in chosen]))
        )
    }
    lines = []
    for v in chosen:
        row = rows.get(v.post_id)
        if row is None:
            continue
        reasons = [Reason(r) for r in v.reasons]
        lines.append(
            PostLine(
                post_id=v.post_id,
                platform=row.platform,
                kind=row.kind,
                url=row.url,
                created_at=row.created_at,
                day=v.day,
                excerpt=_excerpt(row.text),
                counted=v.counted,
                points=_points(v.points),
                points_thousandths=v.points,
                base_thousandths=v.base_points,
                engagement_thousandths=v.engagement_points,
                daily_rank=v.daily_rank,
                duplicate_of=v.duplicate_of,
                reasons=[str(r) for r in reasons],
                reason_texts=[REASON_TEXT[r] for r in reasons],
                excluded_reason=row.excluded_reason if row.excluded else None,
                deleted=row.deleted_at is not None,
            )
        )
    return lines


def _excerpt(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= EXCERPT_CHARS else text[: EXCERPT_CHARS - 1] + "…"


def standing_detail(
    *,
    session: Session,
    event: Event,
    reporter_id: int,
    offset: int = 0,
    limit: int = 50,
    counted: bool | None = None,
) -> StandingDetail:
    """Everything a reporter needs to understand their place in one event."""
    scored = score_one(session=session, event=event, reporter_id=reporter_id)
    eligibility = assess_eligibility(
        rules=scored.rules, event=scored.spec, reporter=scored.facts, result=scored.result
    )
    chosen = [v for v in scored.result.verdicts if counted is None or v.counted is counted]
    # newest first, as a reporter reads their own timeline
    chosen.sort(key=lambda v: (scored.created_at[v.post_id], v.post_id), reverse=True)
    page = chosen[offset : offset + limit]
    return StandingDetail(
        **_summary(session, event, scored),
        eligibility=eligibility_public(eligibility),
        history=_history(session, event, reporter_id),
        posts=PostPage(data=_post_lines(session, page), count=len(chosen)),
    )


# --- the public leaderboard's page: one indexed query -------------------------------------------


@dataclass(frozen=True, slots=True)
class BoardPage:
    event_id: int
    published: bool
    items: list[dict[str, Any]]  # DESIGN §8 items, as Item.as_json
    count: int


def leaderboard_page(*, session: Session, slug: str, offset: int, limit: int) -> BoardPage | None:
    """One page of an event's leaderboard with its total, in one query (None: no such event).

    The event is found by its unique slug in uncorrelated sub-queries (evaluated once, before the
    scan), so the page comes straight off the (event_id, rules_version, rank) index as a top-N and
    names join by primary key; the total counts the same index range. A join to ``events`` would
    hide the event id from the planner and sort the whole board instead. Only an empty page costs a
    second query.
    """
    e = ENTRIES.c
    by_slug = EVENTS.c.slug == slug
    event_id = select(EVENTS.c.id).where(by_slug).scalar_subquery()
    rules_version = select(EVENTS.c.rules_version).where(by_slug).scalar_subquery()
    published = select(EVENTS.c.published).where(by_slug).scalar_subquery()
    on_board = and_(e.event_id == event_id, e.rules_version == rules_version)
    total = select(func.count()).select_from(ENTRIES).where(on_board).scalar_subquery()
    rows = session.execute(
        select(
            e.event_id,
            published.label("published"),
            total.label("total"),
            e.rank,
            e.reporter_id,
            e.score,
            e.posts_counted,
            e.days_covered,
            e.platforms,
            e.movement,
            REPORTERS.c.name,
            REPORTERS.c.public_listing,
        )
        .select_from(ENTRIES.join(REPORTERS, REPORTERS.c.id == e.reporter_id))
        .where(on_board)
        .order_by(e.rank)
        .offset(offset)
        .limit(limit)
    ).all()
    if not rows:
        event = session.execute(
            select(EVENTS.c.id, EVENTS.c.published, EVENTS.c.rules_version).where(EVENTS.c.slug == slug)
        ).first()
        if event is None:
            return None
        count = session.execute(
            select(func.count())
            .select_from(ENTRIES)
            .where(e.event_id == event.id, e.rules_version == event.rules_version)
        ).scalar_one()
        return BoardPage(event_id=event.id, published=event.published, items=[], count=int(count))
    items = [
        {
            "rank": r.rank,
            "reporter": {"id": r.reporter_id, "name": r.name if r.public_listing else None},
            "score": r.score / 1000,
            "score_thousandths": r.score,
            "posts_counted": r.posts_counted,
            "days_covered": r.days_covered,
            "platforms": list(r.platforms or ()),
            "movement": r.movement,
        }
        for r in rows
    ]
    first = rows[0]
    return BoardPage(event_id=first.event_id, published=first.published, items=items, count=int(first.total))
