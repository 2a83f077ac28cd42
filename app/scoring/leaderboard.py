"""Read leaderboards: an event's (optionally for one platform), and a season across events.

Items follow DESIGN §8: ``{"rank", "reporter": {"id", "name"}, "score", "posts_counted", "days_covered",
"platforms", "movement"}``. ``score`` is in points (thousandths shown as three decimals) and
``score_thousandths`` carries the exact integer. Anonymous reporters keep rank and score, not their name.

``BoardCache`` keeps the pages anonymous callers read for at most a second (docs/api.md).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict, defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
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

logger = logging.getLogger(__name__)

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


@dataclass(slots=True)
class Totals:
    """What a derived leaderboard ranks a reporter by (the §5 order: score, days, posts, first post)."""

    score: int = 0
    posts: int = 0
    days: int = 0
    platforms: set[str] = field(default_factory=set)
    first: datetime | None = None

    def add_first(self, moment: datetime | None) -> None:
        if moment is not None and (self.first is None or moment < self.first):
            self.first = moment


def _rank_totals(
    session: Session, totals: dict[int, Totals], *, offset: int, limit: int
) -> tuple[list[Item], int]:
    """Rank totals with the same `rank_leaderboard` as events; one page of items and the count."""
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
                score=t.score,
                posts_counted=t.posts,
                articles_counted=0,
                days_covered=t.days,
                event_days_covered=t.days,
                counted_days=(),
                platforms=tuple(sorted(t.platforms)),
                first_counted_at=t.first,
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


def platform_leaderboard(
    session: Session, event: Event, *, platform: str, offset: int = 0, limit: int = 50
) -> tuple[list[Item], int]:
    """Rank by the points of counted posts on one platform (no breadth bonuses), same order as §5."""
    registered = session.execute(
        select(ENTRIES.c.reporter_id).where(
            ENTRIES.c.event_id == event.id, ENTRIES.c.rules_version == event.rules_version
        )
    ).scalars()
    totals = {rid: Totals() for rid in registered}
    days: dict[int, set[Any]] = defaultdict(set)
    rows = session.execute(
        select(VERDICTS.c.reporter_id, VERDICTS.c.points, VERDICTS.c.day, POSTS.c.created_at)
        .select_from(VERDICTS.join(POSTS, POSTS.c.id == VERDICTS.c.post_id))
        .where(
            VERDICTS.c.event_id == event.id,
            VERDICTS.c.rules_version == event.rules_version,
            VERDICTS.c.counted.is_(True),
            POSTS.c.platform == platform,
        )
    )
    for r in rows:
        if r.reporter_id not in totals:
            continue
        t = totals[r.reporter_id]
        t.score += r.points
        t.posts += 1
        t.platforms.add(platform)
        t.add_first(r.created_at)
        if event.start_date <= r.day <= event.end_date:
            days[r.reporter_id].add(r.day)
    for rid, covered in days.items():
        totals[rid].days = len(covered)
    return _rank_totals(session, totals, offset=offset, limit=limit)


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
    totals: dict[int, Totals] = defaultdict(Totals)
    for r in session.execute(query):
        if year is not None and r.start_date.year != year:
            continue
        t = totals[r.reporter_id]
        t.score += r.score
        t.posts += r.posts_counted
        t.days += r.days_covered
        t.platforms.update(r.platforms or ())
        t.add_first(r.first_counted_at)
    return _rank_totals(session, totals, offset=offset, limit=limit)


# --- the anonymous first pages, cached for at most a second ------------------------------------

BoardKey = tuple[str, int, int]  # (slug, offset, limit)


class BoardCache:
    """Response bodies of public event-board pages for anonymous callers, each served for at most
    ``max_age_s`` after the query that made it *started* (so never staler than that), at most
    ``entries`` pages (least recently used dropped first).

    Under load most requests of a hot board are then answered on the event loop, without a worker
    thread, a session or a query. Concurrent misses of one page share one query (the first one
    computes, the others await it), and a page older than ``refresh_after_s`` (half the maximum age
    unless given) is still served while one query refreshes it in the background, so a busy page is
    never waited for. Pages of unpublished or unknown events are never cached. One instance per app
    (``app.state``); it lives in one process, so every worker keeps its own.
    """

    def __init__(
        self,
        *,
        max_age_s: float = 1.0,
        refresh_after_s: float | None = None,
        entries: int = 256,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_age_s = max_age_s
        self.refresh_after_s = max_age_s / 2 if refresh_after_s is None else refresh_after_s
        self.entries = entries
        self._clock = clock
        self._pages: OrderedDict[BoardKey, tuple[float, bytes]] = OrderedDict()
        self._pending: dict[BoardKey, asyncio.Future[bytes | None]] = {}

    async def page(self, key: BoardKey, compute: Callable[[], Awaitable[bytes | None]]) -> bytes | None:
        """The cached body of ``key`` if young enough, else what ``compute`` makes (None: no page)."""
        cached = self._pages.get(key)
        if cached is not None:
            started, body = cached
            age = self._clock() - started
            if age < self.max_age_s:
                self._pages.move_to_end(key)
                if age >= self.refresh_after_s and key not in self._pending:
                    self._start(key, compute)  # in the background: this caller does not wait
                return body
            del self._pages[key]
        pending = self._pending.get(key) or self._start(key, compute)
        # shielded: a caller that goes away does not cancel the query the others wait for
        return await asyncio.shield(pending)

    def fresh(self, key: BoardKey) -> bytes | None:
        """The cached body of ``key`` while it is young enough to need no refresh yet, else None (the
        caller then goes through ``page``, which refreshes it): a look-up that never computes."""
        cached = self._pages.get(key)
        if cached is None:
            return None
        started, body = cached
        if self._clock() - started >= min(self.refresh_after_s, self.max_age_s):
            return None
        self._pages.move_to_end(key)
        return body

    def _start(
        self, key: BoardKey, compute: Callable[[], Awaitable[bytes | None]]
    ) -> asyncio.Future[bytes | None]:
        task = self._pending[key] = asyncio.ensure_future(self._compute(key, compute))
        task.add_done_callback(_retrieved)
        return task

    async def _compute(self, key: BoardKey, compute: Callable[[], Awaitable[bytes | None]]) -> bytes | None:
        started = self._clock()
        try:
            body = await compute()
        finally:
            del self._pending[key]
        if body is None:
            self._pages.pop(key, None)  # unpublished or deleted meanwhile: no longer served
            return None
        self._pages[key] = (started, body)
        self._pages.move_to_end(key)
        while len(self._pages) > self.entries:
            self._pages.popitem(last=False)
        return body

    def clear(self) -> None:
        self._pages.clear()


def _retrieved(task: asyncio.Future[bytes | None]) -> None:
    """Collect the outcome of a refresh nobody may await (asyncio warns about unretrieved errors);
    a failed refresh keeps the page it would have replaced until that one is too old."""
    if not task.cancelled() and task.exception() is not None:
        logger.warning("could not refresh a leaderboard page", exc_info=task.exception())
