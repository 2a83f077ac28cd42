"""Read leaderboards: an event's (optionally for one platform), and a season across events.

Items follow DESIGN §8: ``{"rank", "reporter": {"id", "name"}, "score", "posts_counted", "days_covered",
"platforms", "movement"}``. ``score`` is in points (thousandths shown as three decimals) and
``score_thousandths`` carries the exact integer. Anonymous reporters keep rank and score, not their name.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session

from app.core.db import table
from app.events.models import Event
from app.ingest.models import Post
from app.reporters.models import Reporter
from app.scoring.models import LeaderboardEntry, PostVerdict
from scoring.engine import ReporterResult, ScoreBreakdown, rank_leaderboard

ENTRIES = table(LeaderboardEntry)
REPORTERS = table(Reporter)
VERDICTS = table(PostVerdict)
POSTS = table(Post)
EVENTS = table(Event)


@dataclass(frozen=True, slots=True)
class Item:
    rank: int
    reporter_id: int
    name: str | None
    score: int
    posts_counted: int
    days_covered: int
    platforms: tuple[str, ...]
    movement: int | None

    def as_json(self) -> dict[str, Any]:
        return {
            "rank": self.rank,
            "reporter": {"id": self.reporter_id, "name": self.name},
            "score": self.score / 1000,
            "score_thousandths": self.score,
            "posts_counted": self.posts_counted,
            "days_covered": self.days_covered,
            "platforms": list(self.platforms),
            "movement": self.movement,
        }


def _names(session: Session, reporter_ids: list[int]) -> dict[int, str | None]:
    rows = session.execute(
        select(REPORTERS.c.id, REPORTERS.c.name, REPORTERS.c.public_listing).where(
            REPORTERS.c.id.in_(reporter_ids)
        )
    ).all()
    return {r.id: (r.name if r.public_listing else None) for r in rows}


def event_leaderboard(
    session: Session, event: Event, *, offset: int = 0, limit: int = 50, platform: str | None = None
) -> tuple[list[Item], int]:
    """One page of the event's leaderboard and the number of ranked reporters."""
    if platform is not None:
        return platform_leaderboard(session, event, platform=platform, offset=offset, limit=limit)
    where = (ENTRIES.c.event_id == event.id, ENTRIES.c.rules_version == event.rules_version)
    total = int(session.execute(select(func.count()).select_from(ENTRIES).where(*where)).scalar_one())
    rows = session.execute(
        select(
            ENTRIES.c.rank,
            ENTRIES.c.reporter_id,
            ENTRIES.c.score,
            ENTRIES.c.posts_counted,
            ENTRIES.c.days_covered,
            ENTRIES.c.platforms,
            ENTRIES.c.movement,
        )
        .where(*where)
        .order_by(ENTRIES.c.rank)
        .offset(offset)
        .limit(limit)
    ).all()
    names = _names(session, [r.reporter_id for r in rows])
    items = [
        Item(
            r.rank,
            r.reporter_id,
            names.get(r.reporter_id),
            r.score,
            r.posts_counted,
            r.days_covered,
            tuple(r.platforms or ()),
            r.movement,
        )
        for r in rows
    ]
    return items, total


def platform_leaderboard(
    session: Session, event: Event, *, platform: str, offset: int = 0, limit: int = 50
) -> tuple[list[Item], int]:
    """Rank by the points of counted posts on one platform (no breadth bonuses), same order as §5."""
    registered = (
        session.execute(
            select(ENTRIES.c.reporter_id).where(
                ENTRIES.c.event_id == event.id, ENTRIES.c.rules_version == event.rules_version
            )
        )
        .scalars()
        .all()
    )
    rows = session.execute(
        select(VERDICTS.c.reporter_id, VERDICTS.c.points, VERDICTS.c.day, POSTS.c.created_at)
        .select_from(VERDICTS.join(POSTS, POSTS.c.id == VERDICTS.c.post_id))
        .where(
            VERDICTS.c.event_id == event.id,
            VERDICTS.c.rules_version == event.rules_version,
            VERDICTS.c.counted.is_(True),
            POSTS.c.platform == platform,
        )
    ).all()
    points: dict[int, int] = defaultdict(int)
    posts: dict[int, int] = defaultdict(int)
    days: dict[int, set[Any]] = defaultdict(set)
    first: dict[int, datetime] = {}
    for r in rows:
        points[r.reporter_id] += r.points
        posts[r.reporter_id] += 1
        if event.start_date <= r.day <= event.end_date:
            days[r.reporter_id].add(r.day)
        if r.reporter_id not in first or r.created_at < first[r.reporter_id]:
            first[r.reporter_id] = r.created_at
    results = [
        ReporterResult(
            reporter_id=rid,
            name=None,
            anonymous=False,
            registered=True,
            verdicts=(),
            breakdown=ScoreBreakdown(
                base=0,
                engagement=0,
                daily_cap_effect=0,
                day_bonus=0,
                platform_bonus=0,
                score=points[rid],
                posts_counted=posts[rid],
                articles_counted=0,
                days_covered=len(days[rid]),
                event_days_covered=len(days[rid]),
                counted_days=tuple(sorted(days[rid])),
                platforms=(platform,) if posts[rid] else (),
                first_counted_at=first.get(rid),
            ),
        )
        for rid in registered
    ]
    ranked = rank_leaderboard(results=results)
    page = ranked[offset : offset + limit]
    names = _names(session, [e.reporter_id for e in page])
    items = [
        Item(
            e.rank,
            e.reporter_id,
            names.get(e.reporter_id),
            e.score,
            e.posts_counted,
            e.event_days_covered,
            e.platforms,
            None,
        )
        for e in page
    ]
    return items, len(ranked)


def season_leaderboard(
    session: Session, *, year: int | None = None, offset: int = 0, limit: int = 50
) -> tuple[list[Item], int]:
    """Across events (of one year when given): total score, event days and posts; same order as §5."""
    query = (
        select(
            ENTRIES.c.reporter_id,
            ENTRIES.c.score,
            ENTRIES.c.posts_counted,
            ENTRIES.c.days_covered,
            ENTRIES.c.platforms,
            ENTRIES.c.first_counted_at,
            EVENTS.c.start_date,
        )
        .select_from(ENTRIES.join(EVENTS, EVENTS.c.id == ENTRIES.c.event_id))
        .where(ENTRIES.c.rules_version == EVENTS.c.rules_version)
    )
    rows = [r for r in session.execute(query).all() if year is None or r.start_date.year == year]
    totals: dict[int, dict[str, Any]] = {}
    for r in rows:
        t = totals.setdefault(
            r.reporter_id, {"score": 0, "posts": 0, "days": 0, "platforms": set(), "first": None}
        )
        t["score"] += r.score
        t["posts"] += r.posts_counted
        t["days"] += r.days_covered
        t["platforms"].update(r.platforms or ())
        if r.first_counted_at is not None and (t["first"] is None or r.first_counted_at < t["first"]):
            t["first"] = r.first_counted_at
    results = [
        ReporterResult(
            reporter_id=rid,
            name=None,
            anonymous=False,
            registered=True,
            verdicts=(),
            breakdown=ScoreBreakdown(
                base=0,
                engagement=0,
                daily_cap_effect=0,
                day_bonus=0,
                platform_bonus=0,
                score=t["score"],
                posts_counted=t["posts"],
                articles_counted=0,
                days_covered=t["days"],
                event_days_covered=t["days"],
                counted_days=(),
                platforms=tuple(sorted(t["platforms"])),
                first_counted_at=t["first"],
            ),
        )
        for rid, t in totals.items()
    ]
    ranked = rank_leaderboard(results=results)
    page = ranked[offset : offset + limit]
    names = _names(session, [e.reporter_id for e in page])
    items = [
        Item(
            e.rank,
            e.reporter_id,
            names.get(e.reporter_id),
            e.score,
            e.posts_counted,
            e.event_days_covered,
            e.platforms,
            None,
        )
        for e in page
    ]
    return items, len(ranked)
