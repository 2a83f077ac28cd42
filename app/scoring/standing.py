"""A reporter's standing: rank, score breakdown, every post's verdict in words, eligibility, history.

Two paths give the same answer (``tests/standing/test_standing_stored.py`` proves it):

- **stored** (the usual one): when the reporter is not queued in ``score_dirty`` for the event (nor
  for every event), the verdicts in ``post_verdicts`` and the entry in ``leaderboard_entries`` are
  exactly what a re-score would write now, so they are read: a few indexed queries, whatever the
  number of posts. A post's rank within its day is re-derived from the stored points (the best-first
  order of DESIGN §5), and ``duplicate_of`` is found for the duplicates on the requested page only,
  against the reporter's counted posts, with the engine's own text functions.
- **live**: while the reporter is queued (an incremental re-score is pending), or when what is stored
  does not match the reporter's registration or disagrees with itself (the entry's counted posts and
  points against the verdicts: a read that straddled a re-score's commit), the reporter is scored at
  request time with the same pure functions and facts as ``app.scoring.service`` (``score_one``), so
  the page is never stale.

Rank and movement always come from the stored leaderboard, the only place where every reporter's
totals meet. Engagement traded between reporters is left out exactly as the service does, but only
the engagers named on this reporter's posts are looked up.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

from pydantic import BaseModel
from sqlalchemy import ColumnElement, Text, and_, cast, func, or_, select
from sqlmodel import Session

from app.core.db import table
from app.events.models import Event
from app.reporters.models import Reporter, VerificationState
from app.scoring import service as scoring
from app.scoring.models import EVERY_EVENT, LeaderboardEntry, PostVerdict, ScoreDirty, ScoreHistory
from app.scoring.models import RuleSet as StoredRuleSet
from app.scoring.service import ACCOUNTS, POSTS, REGISTRATIONS
from app.scoring.service import _breakdown_from_json as breakdown_from_json
from scoring.eligibility import Eligibility, assess_eligibility, minor_unit
from scoring.engine import EMPTY_BREAKDOWN, ReporterResult, ScoreBreakdown, score_reporter
from scoring.model import EventSpec, ReporterFacts
from scoring.rules import RuleSet
from scoring.text import analyse_text, jaccard_at_least, shingles
from scoring.verdicts import REASON_TEXT, Reason

ENTRIES = table(LeaderboardEntry)
VERDICTS = table(PostVerdict)
DIRTY = table(ScoreDirty)
RULE_SETS = table(StoredRuleSet)
HISTORY = table(ScoreHistory)
EVENTS = table(Event)
REPORTERS = table(Reporter)

EXCERPT_CHARS = 280
HISTORY_POINTS = 1000  # the most recent changes of score or rank shown on the chart
ENGAGER_CHUNK = 500

__all__ = [
    "BoardPage",
    "Line",
    "Scored",
    "Standing",
    "StandingDetail",
    "StandingSummary",
    "eligibility_for",
    "format_money",
    "leaderboard_page",
    "reporter_standing",
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
    standing = reporter_standing(session=session, event=event, reporter_id=reporter_id)
    return assess_eligibility(
        rules=standing.rules, event=standing.spec, reporter=standing.facts, result=_result(standing)
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
        select(
            ENTRIES.c.rank,
            ENTRIES.c.previous_rank,
            ENTRIES.c.movement,
            ENTRIES.c.computed_at,
            ENTRIES.c.breakdown,
        ).where(
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


# --- the reporter's verdicts, stored or live ----------------------------------------------------


@dataclass(slots=True)
class Line:
    """One post's verdict as the standing shows it (``duplicate_of`` of a stored verdict is filled in
    for the posts of the requested page only)."""

    post_id: int
    created_at: datetime
    platform: str
    global_key: str
    counted: bool
    points: int
    base_points: int
    engagement_points: int
    reasons: tuple[str, ...]
    day: date
    daily_rank: int | None = None
    duplicate_of: int | None = None

    def best_first_key(self) -> tuple[int, datetime, str, str, int]:
        """DESIGN §5's best-first order: most points, then earliest, then platform, then key."""
        worth = self.base_points + self.engagement_points
        return (-worth, self.created_at, self.platform, self.global_key, self.post_id)


@dataclass(slots=True)
class Standing:
    """What a standing is built from; ``stored`` tells which path gave it."""

    rules: RuleSet
    spec: EventSpec
    facts: ReporterFacts
    breakdown: ScoreBreakdown
    lines: list[Line]
    entry: Any  # the stored leaderboard row (rank, movement, computed_at, breakdown) or None
    stored: bool

    @property
    def registered(self) -> bool:
        return self.facts.registered


def _queued(session: Session, event: Event, reporter_id: int) -> bool:
    """Whether the reporter waits in ``score_dirty`` for this event (or for every event)."""
    return (
        session.execute(
            select(DIRTY.c.id)
            .where(DIRTY.c.reporter_id == reporter_id, DIRTY.c.event_id.in_((event.id, EVERY_EVENT)))
            .limit(1)
        ).first()
        is not None
    )


def _facts(session: Session, event: Event, reporter_id: int) -> ReporterFacts:
    facts = scoring.reporter_facts(session, event, [reporter_id]).get(reporter_id)
    if facts is None:
        return ReporterFacts(
            reporter_id=reporter_id,
            name=None,
            anonymous=True,
            registered_at=None,
            verified_account_keys=frozenset(),
        )
    return facts


def _stored_standing(session: Session, event: Event, reporter_id: int) -> Standing | None:
    """The standing from the stored verdicts and entry, or None when they may not be current."""
    if _queued(session, event, reporter_id):
        return None
    facts = _facts(session, event, reporter_id)
    entry = _entry(session, event, reporter_id)
    # a registered reporter always has an entry once scored, an unregistered one never
    if facts.registered != (entry is not None):
        return None
    v, p = VERDICTS.c, POSTS.c
    rows = session.execute(
        select(
            v.post_id,
            v.counted,
            v.points,
            v.base_points,
            v.engagement_points,
            cast(v.reasons, Text).label("reasons"),  # decoded once per distinct list (_reasons)
            v.day,
            p.created_at,
            p.platform,
            p.global_key,
        )
        .select_from(VERDICTS.join(POSTS, POSTS.c.id == v.post_id))
        .where(v.event_id == event.id, v.rules_version == event.rules_version, v.reporter_id == reporter_id)
    ).all()
    # plain tuples: attribute access on 500 rows costs more than the query
    lines = [
        Line(
            post_id=post_id,
            created_at=_aware(created_at),
            platform=platform,
            global_key=global_key,
            counted=bool(is_counted),
            points=points,
            base_points=base_points,
            engagement_points=engagement_points,
            reasons=_reasons(reasons),
            day=day,
        )
        for (
            post_id,
            is_counted,
            points,
            base_points,
            engagement_points,
            reasons,
            day,
            created_at,
            platform,
            global_key,
        ) in rows
    ]
    if entry is not None:
        breakdown = breakdown_from_json(entry.breakdown)
    else:
        # an unregistered reporter's stored verdicts must say so, or they predate the withdrawal
        if not lines or any(str(Reason.NOT_REGISTERED) not in line.reasons for line in lines):
            return None
        breakdown = EMPTY_BREAKDOWN
    counted = [line for line in lines if line.counted]
    after_cap = breakdown.base + breakdown.engagement + breakdown.daily_cap_effect
    if len(counted) != breakdown.posts_counted or sum(line.points for line in counted) != after_cap:
        # read across a re-score that committed between these statements (PostgreSQL reads each
        # statement at its own snapshot): the entry and the verdicts disagree, so score now
        return None
    _rank_within_days(lines)
    return Standing(
        rules=_rules(session, event),
        spec=scoring.event_spec(event),
        facts=facts,
        breakdown=breakdown,
        lines=lines,
        entry=entry,
        stored=True,
    )


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


@lru_cache(maxsize=1024)
def _reasons(stored: str | None) -> tuple[str, ...]:
    """A verdict's reason codes from their stored JSON text (a few dozen distinct lists in all)."""
    return tuple(json.loads(stored)) if stored else ()


def _rank_within_days(lines: list[Line]) -> None:
    """Each counted post's rank within its day, best first (the order the daily cap applies in)."""
    rank_in_day: dict[date, int] = defaultdict(int)
    for line in sorted((line for line in lines if line.counted), key=Line.best_first_key):
        rank_in_day[line.day] += 1
        line.daily_rank = rank_in_day[line.day]


@lru_cache(maxsize=8)
def _parsed_rules(toml_text: str) -> RuleSet:
    return RuleSet.from_toml_text(toml_text)


def _rules(session: Session, event: Event) -> RuleSet:
    """The event's rule set as stored (parsed once per text: a standing request should not parse TOML)."""
    toml_text = session.execute(
        select(RULE_SETS.c.toml).where(RULE_SETS.c.version == event.rules_version)
    ).scalar_one_or_none()
    if toml_text is None:
        return scoring.rules_for(session, event.rules_version)
    return _parsed_rules(toml_text)


def _live_standing(session: Session, event: Event, reporter_id: int) -> Standing:
    scored = score_one(session=session, event=event, reporter_id=reporter_id)
    lines = [
        Line(
            post_id=v.post_id,
            created_at=scored.created_at[v.post_id],
            platform="",  # not needed: daily_rank and duplicate_of come from the engine
            global_key="",
            counted=v.counted,
            points=v.points,
            base_points=v.base_points,
            engagement_points=v.engagement_points,
            reasons=tuple(str(r) for r in v.reasons),
            day=v.day,
            daily_rank=v.daily_rank,
            duplicate_of=v.duplicate_of,
        )
        for v in scored.result.verdicts
    ]
    entry = _entry(session, event, reporter_id) if scored.result.registered else None
    return Standing(
        rules=scored.rules,
        spec=scored.spec,
        facts=scored.facts,
        breakdown=scored.result.breakdown,
        lines=lines,
        entry=entry,
        stored=False,
    )


def reporter_standing(*, session: Session, event: Event, reporter_id: int, live: bool = False) -> Standing:
    """The reporter's verdicts and score in one event: stored when current, else scored now."""
    if not live:
        stored = _stored_standing(session, event, reporter_id)
        if stored is not None:
            return stored
    return _live_standing(session, event, reporter_id)


def _fill_duplicates(session: Session, standing: Standing, page: list[Line]) -> None:
    """Find what each stored duplicate on the page repeats, as the engine did: among the counted
    (kept) posts better than it, best first, the one with the same normalised text, else the first
    with a Jaccard index of 5-character shingles at or above the threshold."""
    wanted = [line for line in page if str(Reason.DUPLICATE) in line.reasons and line.duplicate_of is None]
    if not wanted:
        return
    kept = sorted((line for line in standing.lines if line.counted), key=Line.best_first_key)
    ids = [line.post_id for line in kept] + [line.post_id for line in wanted]
    texts: dict[int, str] = {}
    for start in range(0, len(ids), ENGAGER_CHUNK):
        chunk = ids[start : start + ENGAGER_CHUNK]
        texts.update(
            (r.id, r.text)
            for r in session.execute(select(POSTS.c.id, POSTS.c.text).where(POSTS.c.id.in_(chunk)))
        )
    rules = standing.rules.duplicates
    threshold = rules.jaccard_threshold

    def shingles_of(post_id: int) -> frozenset[str]:
        return _shingles(normalised(post_id), rules.shingle_size)

    def normalised(post_id: int) -> str:
        return analyse_text(texts.get(post_id, "")).normalised

    for line in wanted:
        own = normalised(line.post_id)
        if not own:
            continue
        key = line.best_first_key()
        better = [k.post_id for k in kept if k.best_first_key() < key]
        exact = next((post_id for post_id in better if normalised(post_id) == own), None)
        if exact is not None:
            line.duplicate_of = exact
            continue
        own_shingles = shingles_of(line.post_id)
        line.duplicate_of = next(
            (
                post_id
                for post_id in better
                if jaccard_at_least(
                    own_shingles,
                    shingles_of(post_id),
                    numerator=threshold.numerator,
                    denominator=threshold.denominator,
                )
            ),
            None,
        )


@lru_cache(maxsize=4096)  # a reporter's counted posts, met again on each page they read
def _shingles(normalised: str, size: int) -> frozenset[str]:
    return shingles(normalised, size)


def _summary(session: Session, event: Event, standing: Standing) -> dict[str, Any]:
    entry = standing.entry
    counted = sum(1 for line in standing.lines if line.counted)
    breakdown = standing.breakdown
    return {
        "event": EventRef(
            slug=event.slug,
            name=event.name,
            start=event.start_date,
            end=event.end_date,
            timezone=event.timezone,
        ),
        "registered": standing.registered,
        "rank": entry.rank if entry is not None and entry.rank else None,
        "previous_rank": entry.previous_rank if entry is not None else None,
        "movement": entry.movement if entry is not None else None,
        "ranked_reporters": _ranked_count(session, event),
        "score": _points(breakdown.score),
        "score_thousandths": breakdown.score,
        "posts_counted": counted,
        "posts_not_counted": len(standing.lines) - counted,
        "breakdown": breakdown_public(breakdown),
        "ranked_at": entry.computed_at if entry is not None else None,
    }


def standing_summary(*, session: Session, event: Event, reporter_id: int) -> StandingSummary:
    """The reporter's rank, score, movement and breakdown in one event."""
    standing = reporter_standing(session=session, event=event, reporter_id=reporter_id)
    return StandingSummary(**_summary(session, event, standing))


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


def _post_lines(session: Session, chosen: list[Line]) -> list[PostLine]:
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
    live: bool = False,
) -> StandingDetail:
    """Everything a reporter needs to understand their place in one event (``live``: score now even
    when the stored verdicts are current)."""
    standing = reporter_standing(session=session, event=event, reporter_id=reporter_id, live=live)
    eligibility = assess_eligibility(
        rules=standing.rules, event=standing.spec, reporter=standing.facts, result=_result(standing)
    )
    chosen = [line for line in standing.lines if counted is None or line.counted is counted]
    # newest first, as a reporter reads their own timeline
    chosen.sort(key=lambda line: (line.created_at, line.post_id), reverse=True)
    page = chosen[offset : offset + limit]
    _fill_duplicates(session, standing, page)
    return StandingDetail(
        **_summary(session, event, standing),
        eligibility=eligibility_public(eligibility),
        history=_history(session, event, reporter_id),
        posts=PostPage(data=_post_lines(session, page), count=len(chosen)),
    )


def _result(standing: Standing) -> ReporterResult:
    """The part of a ReporterResult that eligibility reads (its verdicts are not needed)."""
    facts = standing.facts
    return ReporterResult(
        reporter_id=facts.reporter_id,
        name=facts.name,
        anonymous=facts.anonymous,
        registered=facts.registered,
        verdicts=(),
        breakdown=standing.breakdown,
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
