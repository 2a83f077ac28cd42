"""Scores in the database: verdicts and leaderboard entries per (event, rule-set version).

Incremental: ingest marks reporters dirty in the same transaction as their posts; ``rescore_dirty``
re-scores only those reporters, for every event they take part in, then re-ranks those events from the
stored entries (ranking needs only each reporter's totals). ``rescore_event`` is the full re-score,
run on demand or when an event's rule set changes. Both use the same pure ``scoring`` functions, so an
incremental update equals a full re-score.
"""

from __future__ import annotations

import atexit
import gc
import hashlib
import json
import pickle
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import (
    Date,
    Engine,
    Integer,
    Text,
    and_,
    bindparam,
    cast,
    delete,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.engine import URL
from sqlmodel import Session

from app.core.db import among, insert_rows, make_engine, rows_cte, table, writing
from app.events.models import Event, Registration
from app.ingest.models import Post, PostEngagement
from app.reporters.models import Account, Reporter, VerificationState
from app.scoring.children import child_pool, in_order, usable_cores
from app.scoring.dirty import NEAR_MISS, reporters_with_posts
from app.scoring.models import (
    EVERY_EVENT,
    LeaderboardEntry,
    PostVerdict,
    RuleSet,
    ScoreDigest,
    ScoreDirty,
    ScoreHistory,
    ScoreNewPost,
)
from scoring.engine import (
    EMPTY_BREAKDOWN,
    ExtensionNeeds,
    RankTotals,
    ReporterResult,
    ScoreBreakdown,
    ShingleMemo,
    StoredPost,
    extend_reporter,
    extension_candidates,
    extension_needs,
    rank_order,
    score_reporter,
)
from scoring.engine import PostVerdict as EnginePostVerdict
from scoring.model import EventSpec, PostFacts, ReporterFacts
from scoring.rules import RuleSet as Rules
from scoring.rules import rules_toml_text
from scoring.verdicts import Reason

_T = TypeVar("_T")
POSTS = table(Post)
ACCOUNTS = table(Account)
REGISTRATIONS = table(Registration)
VERDICTS = table(PostVerdict)
ENTRIES = table(LeaderboardEntry)
DIRTY = table(ScoreDirty)
ENGAGEMENTS = table(PostEngagement)
REPORTERS = table(Reporter)
HISTORY = table(ScoreHistory)
EVENTS = table(Event)
DIGESTS = table(ScoreDigest)
NEW_POSTS = table(ScoreNewPost)


# --- rule sets ------------------------------------------------------------------------------------


def rules_for(session: Session, version: str) -> Rules:
    """The rule set of ``version`` as copied into the database (copied on first use)."""
    row = session.execute(select(table(RuleSet)).where(table(RuleSet).c.version == version)).first()
    if row is None:
        text = rules_toml_text(version)
        session.execute(
            insert(table(RuleSet)),
            [
                {
                    "version": version,
                    "toml": text,
                    "created_at": datetime.now(UTC),
                    "sha256": hashlib.sha256(text.encode()).hexdigest(),
                }
            ],
        )
        return _parsed_rules(text)
    return _parsed_rules(row.toml)


@lru_cache(maxsize=16)
def _parsed_rules(toml: str) -> Rules:
    """A rule set parsed once per process (immutable; its engagement table is built on first use)."""
    return Rules.from_toml_text(toml)


def event_spec(event: Event) -> EventSpec:
    assert event.id is not None
    return EventSpec(
        id=event.id,
        slug=event.slug,
        start=event.start_date,
        end=event.end_date,
        timezone=event.timezone,
        event_tag=event.event_tag,
        require_event_tag=event.require_tag,
        fee=event.fee,
        currency=event.currency,
        subsidy_cap=event.subsidy_cap,
        min_posts=event.min_posts,
        min_event_days=event.min_event_days,
        min_blog_articles=event.min_articles,
        subsidy_share_percent=event.subsidy_share_percent,
        rules_version=event.rules_version,
    )


# --- loading facts --------------------------------------------------------------------------------


def verified_keys_by_reporter(
    session: Session, reporter_ids: Iterable[int] | None = None
) -> dict[int, frozenset[str]]:
    """Every verified account key of each reporter (Bluesky accounts also under their DID)."""
    query = select(ACCOUNTS.c.reporter_id, ACCOUNTS.c.account_key, ACCOUNTS.c.did).where(
        ACCOUNTS.c.state == VerificationState.VERIFIED
    )
    queries = (
        [query]
        if reporter_ids is None
        else [query.where(ACCOUNTS.c.reporter_id.in_(chunk)) for chunk in _chunks(list(reporter_ids))]
    )
    keys: dict[int, set[str]] = defaultdict(set)
    for row in (row for part in queries for row in session.execute(part)):
        keys[row.reporter_id].add(row.account_key)
        if row.did:
            keys[row.reporter_id].add(f"bluesky:{row.did}")
    return {rid: frozenset(k) for rid, k in keys.items()}


def reporter_facts(session: Session, event: Event, reporter_ids: Iterable[int]) -> dict[int, ReporterFacts]:
    return reporter_facts_by_event(session, [event.id or 0], reporter_ids).get(event.id or 0, {})


def reporter_facts_by_event(
    session: Session, event_ids: Sequence[int], reporter_ids: Iterable[int]
) -> dict[int, dict[int, ReporterFacts]]:
    """These reporters as each event's scoring sees them (registration, verified accounts), keyed by
    event id, then reporter id; a deleted reporter is neither registered nor verified."""
    ids = list(reporter_ids)
    if not ids or not event_ids:
        return {}
    reporters = session.execute(
        select(REPORTERS.c.id, REPORTERS.c.name, REPORTERS.c.public_listing, REPORTERS.c.deleted_at).where(
            REPORTERS.c.id.in_(ids)
        )
    ).all()
    registered: dict[tuple[int, int], datetime] = {
        (row.event_id, row.reporter_id): row.registered_at
        for row in session.execute(
            select(
                REGISTRATIONS.c.event_id, REGISTRATIONS.c.reporter_id, REGISTRATIONS.c.registered_at
            ).where(
                REGISTRATIONS.c.event_id.in_(list(event_ids)),
                REGISTRATIONS.c.reporter_id.in_(ids),
                REGISTRATIONS.c.withdrawn_at.is_(None),
            )
        )
    }
    keys = verified_keys_by_reporter(session, ids)
    by_event: dict[int, dict[int, ReporterFacts]] = {}
    for event_id in event_ids:
        facts = by_event[event_id] = {}
        for row in reporters:
            deleted = row.deleted_at is not None
            facts[row.id] = ReporterFacts(
                reporter_id=row.id,
                name=row.name,
                anonymous=not row.public_listing,
                registered_at=None if deleted else _aware(registered.get((event_id, row.id))),
                verified_account_keys=frozenset() if deleted else keys.get(row.id, frozenset()),
            )
    return by_event


@lru_cache(maxsize=1024)
def _tags(raw: str | None) -> tuple[str, ...]:
    """A post's platform tags from their stored JSON text (a few distinct lists recur in every event)."""
    return tuple(json.loads(raw)) if raw else ()


def _aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def registered_reporter_ids(session: Session, event_id: int) -> list[int]:
    return [
        int(r)
        for r in session.execute(
            select(REGISTRATIONS.c.reporter_id).where(
                REGISTRATIONS.c.event_id == event_id, REGISTRATIONS.c.withdrawn_at.is_(None)
            )
        ).scalars()
    ]


def post_facts(session: Session, event: Event, reporter_ids: Sequence[int]) -> dict[int, list[PostFacts]]:
    """The candidate posts of these reporters for ``event``, as scoring facts, grouped by reporter."""
    return posts_between(session, reporter_ids, *candidate_span(event))


def candidate_span(event: Event) -> tuple[datetime, datetime]:
    """The instants whose posts get a verdict for the event: its coverage window ± the near-miss margin
    (start inclusive, end exclusive)."""
    return event.window_start_at - NEAR_MISS, event.window_end_at + NEAR_MISS


def posts_between(
    session: Session,
    reporter_ids: Sequence[int],
    start: datetime,
    end: datetime,
    *,
    only: Sequence[int] | None = None,
) -> dict[int, list[PostFacts]]:
    """These reporters' posts created in [start, end), as scoring facts, grouped by reporter, each
    reporter's in order of creation; only the posts ``only`` names, if given."""
    if not reporter_ids or (only is not None and not only):
        return {}
    p = POSTS.c
    restricted = [] if only is None else [among(session, p.id, only)]
    rows = session.execute(
        select(
            p.id,
            p.reporter_id,
            p.author_key,
            p.account_id,
            p.platform,
            p.global_key,
            p.created_at,
            p.kind,
            p.text,
            cast(p.tags, Text).label("tags"),  # parsed once per distinct value below
            p.media_count,
            p.visibility,
            p.likes,
            p.reposts,
            p.replies,
            p.deleted_at,
            p.excluded,
            ACCOUNTS.c.state,
        )
        .select_from(POSTS.outerjoin(ACCOUNTS, ACCOUNTS.c.id == p.account_id))
        .where(p.reporter_id.in_(list(reporter_ids)), p.created_at >= start, p.created_at < end, *restricted)
        .order_by(p.reporter_id, p.created_at, p.id)
    ).all()
    post_ids = [r.id for r in rows]
    engagers: dict[int, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for chunk_start in range(0, len(post_ids), 5000):
        chunk = post_ids[chunk_start : chunk_start + 5000]
        for e in session.execute(
            select(ENGAGEMENTS.c.post_id, ENGAGEMENTS.c.account_key, ENGAGEMENTS.c.kind).where(
                ENGAGEMENTS.c.post_id.in_(chunk)
            )
        ):
            engagers[e.post_id][e.kind].append(e.account_key)
    grouped: dict[int, list[PostFacts]] = defaultdict(list)
    none: dict[str, list[str]] = {}
    for r in rows:
        named = engagers.get(r.id, none)
        grouped[r.reporter_id].append(
            PostFacts(
                post_id=r.id,
                reporter_id=r.reporter_id,
                account_key=r.author_key,
                account_verified=r.state == VerificationState.VERIFIED,
                platform=r.platform,
                global_key=r.global_key,
                created_at=r.created_at,  # UTCDateTime reads aware instants
                kind=r.kind,
                text=r.text,
                tags=_tags(r.tags),
                media_count=r.media_count,
                visibility=r.visibility,
                likes=r.likes,
                reposts=r.reposts,
                replies=r.replies,
                liked_by=tuple(sorted(named["like"])) if "like" in named else (),
                reposted_by=tuple(sorted(named["repost"])) if "repost" in named else (),
                replied_by=tuple(sorted(named["reply"])) if "reply" in named else (),
                deleted=r.deleted_at is not None,
                excluded=bool(r.excluded),
            )
        )
    return grouped


def _unscored(session: Session, event: Event, post_ids: Sequence[int]) -> list[int]:
    """Those of these posts that have no verdict for the event's version (a queued new post that a full
    re-score reached first has one)."""
    scored: set[int] = set()
    for chunk in _chunks(post_ids, 30_000):
        # by post id alone (its own index), the event and version compared here: with the event in
        # the query, PostgreSQL's statistics of a freshly re-scored table led it to read every verdict
        # of the event
        scored.update(
            post_id
            for post_id, event_id, version in session.execute(
                select(VERDICTS.c.post_id, VERDICTS.c.event_id, VERDICTS.c.rules_version).where(
                    among(session, VERDICTS.c.post_id, chunk)
                )
            )
            if event_id == event.id and version == event.rules_version
        )
    return sorted(set(post_ids) - scored)


# --- writing results ------------------------------------------------------------------------------


_BREAKDOWN_FIELDS = tuple(field.name for field in fields(ScoreBreakdown))


def _breakdown_json(breakdown: ScoreBreakdown) -> dict[str, Any]:
    data = {name: getattr(breakdown, name) for name in _BREAKDOWN_FIELDS}  # asdict deep-copies: slow
    data["counted_days"] = [d.isoformat() for d in breakdown.counted_days]
    data["platforms"] = list(breakdown.platforms)
    data["first_counted_at"] = breakdown.first_counted_at.isoformat() if breakdown.first_counted_at else None
    return data


def _breakdown_from_json(data: dict[str, Any]) -> ScoreBreakdown:
    values = dict(data)
    values["counted_days"] = tuple(date.fromisoformat(d) for d in values.get("counted_days", ()))
    values["platforms"] = tuple(values.get("platforms", ()))
    first = values.get("first_counted_at")
    values["first_counted_at"] = datetime.fromisoformat(first) if first else None
    return ScoreBreakdown(**values)


# What a digest covers of one verdict, in post id order: every stored field but ``computed_at``.
_DigestRow = tuple[int, bool, int, int, int, tuple[Reason, ...], int, int | None, str | None]


def _digest_row(v: EnginePostVerdict) -> _DigestRow:
    return (
        v.post_id,
        v.counted,
        v.points,
        v.base_points,
        v.engagement_points,
        v.reasons,
        v.day.toordinal(),
        v.shingle_count,
        v.shingle_prefix,
    )


def _digest_of(rows: Sequence[_DigestRow], breakdown: ScoreBreakdown | None) -> str:
    """A short hash (stable across processes) of a reporter's stored verdicts and entry (None when not
    registered) for one event."""
    entry = _breakdown_json(breakdown) if breakdown is not None else None
    return hashlib.blake2b(repr((3, rows, entry)).encode(), digest_size=16).hexdigest()


def _digest(result: ReporterResult) -> str:
    """What ``_write_results`` stores for this result, as a short hash."""
    return _digest_of(
        [_digest_row(v) for v in result.verdicts], result.breakdown if result.registered else None
    )


VERDICT_COLUMNS = (
    "event_id",
    "rules_version",
    "post_id",
    "reporter_id",
    "counted",
    "points",
    "base_points",
    "engagement_points",
    "reasons",
    "day",
    "computed_at",
    "shingle_count",
    "shingle_prefix",
)


def _verdict_row(event_id: int, rules_version: str, v: EnginePostVerdict, now: datetime) -> tuple[Any, ...]:
    """One verdict's values in ``VERDICT_COLUMNS`` order."""
    return (
        event_id,
        rules_version,
        v.post_id,
        v.reporter_id,
        v.counted,
        v.points,
        v.base_points,
        v.engagement_points,
        tuple(r.value for r in v.reasons),  # binds as the same JSON list, once per distinct tuple
        v.day,
        now,
        v.shingle_count,
        v.shingle_prefix,
    )


@dataclass(frozen=True, slots=True)
class _Prepared:
    """One reporter's result for one event, ready to store: its digest, its verdict rows (in
    ``VERDICT_COLUMNS`` order) and the breakdown of its entry. Plain values, cheap to send from a child
    process."""

    reporter_id: int
    registered: bool
    digest: str
    rows: list[tuple[Any, ...]]
    breakdown: ScoreBreakdown


def _prepare(event_id: int, rules_version: str, result: ReporterResult, now: datetime) -> _Prepared:
    return _Prepared(
        reporter_id=result.reporter_id,
        registered=result.registered,
        digest=_digest(result),
        rows=[_verdict_row(event_id, rules_version, v, now) for v in result.verdicts],
        breakdown=result.breakdown,
    )


def _write_results(session: Session, event: Event, results: Sequence[_Prepared], now: datetime) -> None:
    """Store these reporters' verdicts and (unranked) entries for the event, skipping every reporter
    whose result is what was last stored (its digest is unchanged): a re-score that changes nothing
    writes nothing, and ``computed_at`` is when a row last changed."""
    version = event.rules_version
    key = (DIGESTS.c.event_id == event.id, DIGESTS.c.rules_version == version)
    stored: dict[int, str] = {}
    ids = [r.reporter_id for r in results]
    for chunk in _chunks(ids):
        for rid, digest in session.execute(
            select(DIGESTS.c.reporter_id, DIGESTS.c.digest).where(*key, DIGESTS.c.reporter_id.in_(chunk))
        ):
            stored[rid] = digest
    changed = [r for r in results if stored.get(r.reporter_id) != r.digest]
    if not changed:
        return
    changed_ids = [r.reporter_id for r in changed]
    _delete_reporters_rows(session, VERDICTS, event, changed_ids)
    _delete_reporters_rows(session, DIGESTS, event, changed_ids)
    insert_rows(session, VERDICTS, VERDICT_COLUMNS, (row for result in changed for row in result.rows))
    insert_rows(
        session,
        DIGESTS,
        ("event_id", "rules_version", "reporter_id", "digest"),
        ((event.id, version, r.reporter_id, r.digest) for r in changed),
    )
    _delete_reporters_rows(session, ENTRIES, event, [r.reporter_id for r in changed if not r.registered])
    registered = [r for r in changed if r.registered]
    if not registered:
        return
    existing = _reporters_with_rows(session, ENTRIES, event, [r.reporter_id for r in registered])
    values = [_entry_values(r.reporter_id, r.breakdown, now) for r in registered]
    _update_entries(session, event, [v for v in values if v["rid"] in existing])
    inserts = [
        {"event_id": event.id, "rules_version": version, "reporter_id": v.pop("rid"), "rank": 0, **v}
        for v in values
        if v["rid"] not in existing
    ]
    if inserts:
        session.execute(insert(ENTRIES), inserts)


def _entry_values(reporter_id: int, breakdown: ScoreBreakdown, now: datetime) -> dict[str, Any]:
    """A leaderboard entry's unranked values (``rid``: the reporter)."""
    return {
        "rid": reporter_id,
        "score": breakdown.score,
        "posts_counted": breakdown.posts_counted,
        "days_covered": breakdown.event_days_covered,
        "platforms": list(breakdown.platforms),
        "first_counted_at": breakdown.first_counted_at,
        "breakdown": _breakdown_json(breakdown),
        "computed_at": now,
    }


def _update_entries(session: Session, event: Event, updates: Sequence[dict[str, Any]]) -> None:
    if updates:
        session.execute(
            update(ENTRIES)
            .where(
                ENTRIES.c.event_id == event.id,
                ENTRIES.c.rules_version == event.rules_version,
                ENTRIES.c.reporter_id == bindparam("rid"),
            )
            .values({name: bindparam(name) for name in updates[0] if name != "rid"}),
            updates,
        )


def _reporters_with_rows(
    session: Session, stored: Any, event: Event, reporter_ids: Sequence[int]
) -> set[int]:
    """Which of these reporters have rows of ``stored`` (digests, entries) for the event's version."""
    found: set[int] = set()
    for chunk in _chunks(reporter_ids):
        found.update(
            session.execute(
                select(stored.c.reporter_id).where(
                    stored.c.event_id == event.id,
                    stored.c.rules_version == event.rules_version,
                    stored.c.reporter_id.in_(chunk),
                )
            ).scalars()
        )
    return found


def _delete_reporters_rows(session: Session, stored: Any, event: Event, reporter_ids: Sequence[int]) -> None:
    """Delete these reporters' rows of ``stored`` (verdicts, digests, entries) for the event's version."""
    for chunk in _chunks(reporter_ids):
        session.execute(
            delete(stored).where(
                stored.c.event_id == event.id,
                stored.c.rules_version == event.rules_version,
                stored.c.reporter_id.in_(chunk),
            )
        )


def _chunks(ids: Sequence[_T], size: int = 5000) -> list[list[_T]]:
    """Split a list of ids for ``IN (...)`` (SQLite allows 32,766 parameters per statement)."""
    return [list(ids[start : start + size]) for start in range(0, len(ids), size)]


def rerank(session: Session, event: Event, now: datetime) -> None:
    """Rank the event's stored entries under the total order of §5 (from their total columns); keep
    movement, and a history row whenever a reporter's score changed since the last ranking."""
    version = event.rules_version
    e = ENTRIES.c
    entries = session.execute(
        select(
            e.reporter_id,
            e.rank,
            e.previous_rank,
            e.movement,
            e.score,
            e.ranked_score,
            e.days_covered,  # the event days covered (what ranking compares)
            e.posts_counted,
            e.first_counted_at,
        ).where(e.event_id == event.id, e.rules_version == version)
    ).all()
    current = {row.reporter_id: row for row in entries}
    order = rank_order(
        RankTotals(row.reporter_id, row.score, row.days_covered, row.posts_counted, row.first_counted_at)
        for row in entries
    )
    changes = []
    history: list[tuple[Any, ...]] = []
    for rank, reporter_id in enumerate(order, start=1):
        old = current[reporter_id]
        moved = old.rank != rank or old.rank == 0
        if not moved and old.ranked_score == old.score:
            continue
        previous = (old.rank or None) if moved else old.previous_rank
        changes.append(
            {
                "rid": reporter_id,
                "rank": rank,
                "previous_rank": previous,
                "movement": (None if previous is None else previous - rank) if moved else old.movement,
                "ranked_score": old.score,
            }
        )
        if old.rank == 0 or old.ranked_score != old.score:
            # a point of the reporter's score over time (DESIGN §7), with the rank it then had; ranks
            # that only shift because others moved are not points (one new post can shift thousands)
            history.append((event.id, reporter_id, now, old.score, rank))
    # One UPDATE … FROM per 5,000 changed entries: a new post can move thousands of ranks, and an
    # executemany sends PostgreSQL one statement per row.
    for part in _chunks(changes, 5000):
        moved = rows_cte(
            session,
            "moved",
            [
                ("event_id", Integer),
                ("rules_version", Text),
                ("rid", Integer),
                ("rank", Integer),
                ("previous_rank", Integer),
                ("movement", Integer),
                ("ranked_score", Integer),
            ],
            [
                (event.id, version, c["rid"], c["rank"], c["previous_rank"], c["movement"], c["ranked_score"])
                for c in part
            ],
        )
        session.execute(
            update(ENTRIES)
            .where(  # keys from the same rows, not constants: SQLite then reads `moved` first (as above)
                ENTRIES.c.event_id == moved.c.event_id,
                ENTRIES.c.rules_version == moved.c.rules_version,
                ENTRIES.c.reporter_id == moved.c.rid,
            )
            .values(
                rank=moved.c.rank,
                previous_rank=moved.c.previous_rank,
                movement=moved.c.movement,
                ranked_score=moved.c.ranked_score,
            )
        )
    insert_rows(
        session,
        HISTORY,
        ("event_id", "reporter_id", "at", "score", "rank"),
        history,
    )


# Reporters scored per round trip: memory stays bounded by this many reporters' posts and results
# (a 1M-post Congress at once took 1.7 GB), while each round still reads and writes in bulk.
SCORE_CHUNK = 1000
# With child processes: smaller chunks, so that the children start soon and the last chunk's write,
# which nothing overlaps, is short; below CHILDREN_MIN_REPORTERS starting them costs more than it saves.
CHILD_CHUNK = 200
CHILDREN_MIN_REPORTERS = 2 * CHILD_CHUNK


@dataclass(frozen=True)
class ChunkPlan:
    """One event of a scoring run as scoring a chunk of reporters needs it (plain values: a child
    process gets them once)."""

    event_id: int
    rules_version: str
    spec: EventSpec
    rules: Rules
    wanted: frozenset[int]  # the reporters to score for it
    span: tuple[datetime, datetime]  # candidate_span(event)
    engaged: frozenset[str]  # every registered reporter's verified keys: engagement left out


_ChunkResults = list[tuple[int, list[_Prepared]]]
"""(event id, its prepared results) for each event a chunk was scored for."""


def _score_chunk(
    session: Session, plans: Sequence[ChunkPlan], chunk: Sequence[int], now: datetime
) -> _ChunkResults:
    """Read one chunk of reporters (facts and posts, one query over the span of the events' candidate
    windows) and score each for every event that wants them; each reporter's posts are turned into facts
    and shingled once, whichever events they count for. Reads only; stores nothing."""
    here = [plan for plan in plans if not plan.wanted.isdisjoint(chunk)]
    if not here:
        return []
    facts = reporter_facts_by_event(session, [plan.event_id for plan in here], chunk)
    start = min(plan.span[0] for plan in here)
    end = max(plan.span[1] for plan in here)
    posts = posts_between(session, chunk, start, end)
    results: dict[int, list[_Prepared]] = defaultdict(list)
    with _collector_paused():
        for rid in chunk:
            own = posts.pop(rid, [])
            own.sort(key=_created)  # already so from the query; bisect below relies on it
            instants = [post.created_at for post in own]
            memo: ShingleMemo = {}  # one reporter's texts, shared by their events
            for plan in here:
                reporter = facts[plan.event_id].get(rid)
                if rid not in plan.wanted or reporter is None:
                    continue
                result = score_reporter(
                    rules=plan.rules,
                    event=plan.spec,
                    reporter=reporter,
                    posts=own[bisect_left(instants, plan.span[0]) : bisect_left(instants, plan.span[1])],
                    other_reporters_verified_keys=plan.engaged,
                    memo=memo,
                )
                results[plan.event_id].append(_prepare(plan.event_id, plan.rules_version, result, now))
    return [(plan.event_id, results.get(plan.event_id, [])) for plan in here]


# A child process's database and plans (``_child_start``), for the chunks it is given.
_CHILD: tuple[Engine, tuple[ChunkPlan, ...]] | None = None


def _child_start(path: str) -> None:
    global _CHILD
    url, plans = pickle.loads(Path(path).read_bytes())
    engine = make_engine(url)
    atexit.register(engine.dispose)  # close its connections properly when the pool shuts down
    _CHILD = (engine, plans)


def _child_chunk(chunk: Sequence[int], now: datetime) -> _ChunkResults:
    assert _CHILD is not None, "_child_start runs first"
    engine, plans = _CHILD
    with Session(engine) as session:
        return _score_chunk(session, plans, chunk, now)


def _database_url(session: Session) -> str:
    """The session's database, for a child process to open its own connection to."""
    return session.get_bind().engine.url.render_as_string(hide_password=False)


def _children_for(url: URL, reporters: int, processes: int) -> int:
    """How many child processes score a scope of this many reporters on this database: none for a
    small scope, on one core, or for a database other processes cannot open (SQLite in memory)."""
    shared = url.get_backend_name() != "sqlite" or url.database not in (None, "", ":memory:")
    if reporters < CHILDREN_MIN_REPORTERS or not shared or usable_cores() < 2:
        return 0
    return min(processes, usable_cores())


def _score_scope(
    session: Session,
    scope: Sequence[tuple[Event, Sequence[int]]],
    now: datetime,
    registered: dict[int | None, list[int]] | None = None,
    *,
    processes: int = 0,
) -> None:
    """Score the given reporters of each event and store the results (not the ranks), chunk by chunk
    (``_score_chunk``).

    With ``processes`` > 0, a large scope is scored by that many child processes (at most one per core,
    ``app.scoring.children``) while this one writes each chunk's results as they come, in order. The
    children read through their own connections, so they see committed data only: pass ``processes``
    only when this transaction has not written anything scoring reads (posts, accounts, reporters,
    registrations, engagements), as at the start of ``bie score --full``."""
    if registered is None:  # each event's registered reporters, unless the caller read them already
        registered = {event.id: registered_reporter_ids(session, event.id or 0) for event, _ in scope}
    keys = verified_keys_by_reporter(session, sorted({rid for ids in registered.values() for rid in ids}))
    events = {event.id or 0: event for event, _ in scope}
    plans = tuple(
        ChunkPlan(
            event_id=event.id or 0,
            rules_version=event.rules_version,
            spec=event_spec(event),
            rules=rules_for(session, event.rules_version),
            wanted=frozenset(reporter_ids),
            span=candidate_span(event),
            # Engagement by the author's own accounts and by other registered reporters is left out
            # alike, so one set per event serves every reporter of it.
            engaged=frozenset().union(*(keys.get(rid, frozenset()) for rid in registered[event.id])),
        )
        for event, reporter_ids in scope
    )
    everyone = sorted(set().union(*(plan.wanted for plan in plans)))
    children = _children_for(session.get_bind().engine.url, len(everyone), processes)
    if not children:
        for chunk in _chunks(everyone, SCORE_CHUNK):
            _write_chunk(session, events, _score_chunk(session, plans, chunk, now), now)
        return
    with child_pool(children, _child_start, (_database_url(session), plans)) as pool:
        chunks = [(chunk, now) for chunk in _chunks(everyone, CHILD_CHUNK)]
        for scored in in_order(pool, _child_chunk, chunks, ahead=2 * children):
            _write_chunk(session, events, scored, now)


def _write_chunk(session: Session, events: dict[int, Event], scored: _ChunkResults, now: datetime) -> None:
    for event_id, prepared in scored:
        _write_results(session, events[event_id], prepared, now)


# The digest of a result that new posts extended: it never equals a computed digest (32 hex digits), so
# the next full re-score rewrites that reporter's rows once; its presence, like any stored digest, says
# that the reporter's verdicts carry near-copy signatures (migration 0003 forgot the older digests).
EXTENDED_DIGEST = "extended"


def _extend_event(session: Session, event: Event, new_posts: dict[int, set[int]], now: datetime) -> set[int]:
    """Add these reporters' new posts (no stored verdict yet; nothing else of theirs changed) to their
    stored results for the event (``scoring.extend_reporter``): only the new posts are analysed, only the
    stored verdicts they need are read (counted posts of their days, passing posts of a near-copy's
    size), and only the new verdicts, the day's re-capped points and the entry are written. Return the
    reporters it cannot extend (no stored result, a possible near-copy): they need a full re-score."""
    version = event.rules_version
    spec = event_spec(event)
    rules = rules_for(session, version)
    start, end = candidate_span(event)
    full: set[int] = set()
    for chunk in _chunks(sorted(new_posts), SCORE_CHUNK):
        signed = _reporters_with_rows(session, DIGESTS, event, chunk)
        full.update(rid for rid in chunk if rid not in signed)
        chunk = [rid for rid in chunk if rid in signed]
        queued = _unscored(session, event, sorted({pid for rid in chunk for pid in new_posts[rid]}))
        new = posts_between(session, chunk, start, end, only=queued)
        if not new:
            continue
        memos: dict[int, ShingleMemo] = {rid: {} for rid in new}  # each reporter's texts, shingled once
        needs = {
            rid: extension_needs(rules=rules, event=spec, new_posts=posts, memo=memos[rid])
            for rid, posts in new.items()
        }
        stored = _stored_needed(session, event, needs)
        facts = reporter_facts_by_event(session, [event.id or 0], list(new)).get(event.id or 0, {})
        entries: dict[int, dict[str, Any]] = {}
        for rid, breakdown in session.execute(
            select(ENTRIES.c.reporter_id, ENTRIES.c.breakdown).where(
                ENTRIES.c.event_id == event.id,
                ENTRIES.c.rules_version == version,
                ENTRIES.c.reporter_id.in_(list(new)),
            )
        ):
            entries[rid] = breakdown
        wanted: dict[int, frozenset[int]] = {}
        for rid, posts in new.items():
            reporter = facts.get(rid)
            found = extension_candidates(
                rules=rules, event=spec, stored=stored[rid], new_posts=posts, memo=memos[rid]
            )
            if found is None or reporter is None or reporter.registered != (rid in entries):
                full.add(rid)  # unsigned, deleted, or registration changed without its mark
            else:
                wanted[rid] = found
        texts = _texts(session, sorted(set().union(*wanted.values())))
        engaged = _registered_engagers(session, event, (post for rid in wanted for post in new[rid]))
        inserts: list[tuple[Any, ...]] = []
        repoints: list[dict[str, Any]] = []
        extended: list[dict[str, Any]] = []
        entry_updates: list[dict[str, Any]] = []
        for rid, found in wanted.items():
            reporter = facts[rid]
            extension = extend_reporter(
                rules=rules,
                event=spec,
                reporter=reporter,
                previous=_breakdown_from_json(entries[rid]) if reporter.registered else EMPTY_BREAKDOWN,
                stored=stored[rid],
                new_posts=new[rid],
                other_reporters_verified_keys=engaged,
                candidate_texts={post_id: texts[post_id] for post_id in found},
                memo=memos.pop(rid),
            )
            if extension is None:
                full.add(rid)
                continue
            inserts += [_verdict_row(event.id or 0, version, verdict, now) for verdict in extension.verdicts]
            repoints += [
                {"pid": post_id, "points": points, "computed_at": now}
                for post_id, points in extension.repointed.items()
            ]
            extended.append({"rid": rid, "digest": EXTENDED_DIGEST})
            if reporter.registered:
                entry_updates.append(_entry_values(rid, extension.breakdown, now))
        insert_rows(session, VERDICTS, VERDICT_COLUMNS, inserts)
        if repoints:
            session.execute(
                update(VERDICTS)
                .where(
                    VERDICTS.c.event_id == event.id,
                    VERDICTS.c.rules_version == version,
                    VERDICTS.c.post_id == bindparam("pid"),
                )
                .values(points=bindparam("points"), computed_at=bindparam("computed_at")),
                repoints,
            )
        if extended:
            session.execute(
                update(DIGESTS)
                .where(
                    DIGESTS.c.event_id == event.id,
                    DIGESTS.c.rules_version == version,
                    DIGESTS.c.reporter_id == bindparam("rid"),
                )
                .values(digest=bindparam("digest")),
                extended,
            )
        _update_entries(session, event, entry_updates)
    return full


def _stored_needed(
    session: Session, event: Event, needs: dict[int, ExtensionNeeds]
) -> dict[int, list[StoredPost]]:
    """The stored verdicts each reporter's ``ExtensionNeeds`` names (a post named twice comes once), with
    the post's ordering fields."""
    v, p = VERDICTS.c, POSTS.c
    columns = (
        v.reporter_id,
        v.post_id,
        v.counted,
        v.reasons,
        v.day,
        v.base_points,
        v.engagement_points,
        v.points,
        v.shingle_count,
        v.shingle_prefix,
        p.created_at,
        p.platform,
        p.global_key,
        p.kind,
    )
    # One row per reporter, spans that hold everything needed (a superset is harmless): each reporter's
    # verdicts are visited once, through the (event, version, reporter) index, and few come back.
    spans = [
        (
            event.id,
            event.rules_version,
            rid,
            min(need.days),
            max(need.days),
            min((low for low, _ in need.sizes), default=1),
            max((high for _, high in need.sizes), default=0),
        )
        for rid, need in needs.items()
        if need.days
    ]
    queries = []
    for part in _chunks(spans, 5000):
        wanted = rows_cte(
            session,
            "wanted",
            [
                ("event_id", Integer),
                ("rules_version", Text),
                ("rid", Integer),
                ("day_low", Date),
                ("day_high", Date),
                ("size_low", Integer),
                ("size_high", Integer),
            ],
            part,
        )
        queries.append(
            select(*columns)
            .select_from(wanted)
            # The event and version come from the same rows (not constants), so that SQLite's planner
            # reads `wanted` first and each reporter's verdicts through the index, rather than every
            # verdict of the event against every row of `wanted`.
            .join(
                VERDICTS,
                and_(
                    v.event_id == wanted.c.event_id,
                    v.rules_version == wanted.c.rules_version,
                    v.reporter_id == wanted.c.rid,
                ),
            )
            .join(POSTS, p.id == v.post_id)
            .where(
                or_(
                    and_(v.counted.is_(True), v.day >= wanted.c.day_low, v.day <= wanted.c.day_high),
                    and_(v.shingle_count >= wanted.c.size_low, v.shingle_count <= wanted.c.size_high),
                ),
            )
        )
    stored: dict[int, dict[int, StoredPost]] = defaultdict(dict)
    for query in queries:
        for row in session.execute(query):
            stored[row.reporter_id][row.post_id] = StoredPost(
                post_id=row.post_id,
                counted=row.counted,
                reasons=_reasons(tuple(row.reasons)),
                day=row.day,
                base_points=row.base_points,
                engagement_points=row.engagement_points,
                points=row.points,
                created_at=row.created_at,
                platform=row.platform,
                global_key=row.global_key,
                kind=row.kind,
                shingle_count=row.shingle_count,
                shingle_prefix=row.shingle_prefix,
            )
    return {rid: list(stored[rid].values()) for rid in needs}


@lru_cache(maxsize=64)
def _reasons(values: tuple[str, ...]) -> tuple[Reason, ...]:
    return tuple(Reason(value) for value in values)


def _texts(session: Session, post_ids: Sequence[int]) -> dict[int, str]:
    texts: dict[int, str] = {}
    for chunk in _chunks(post_ids):
        texts.update(
            (pid, text)
            for pid, text in session.execute(select(POSTS.c.id, POSTS.c.text).where(POSTS.c.id.in_(chunk)))
        )
    return texts


def _registered_engagers(session: Session, event: Event, posts: Iterable[PostFacts]) -> frozenset[str]:
    """Which of these posts' named engagers are verified accounts of reporters registered for the event
    (left out of engagement; the event-wide set restricted to the keys that matter here)."""
    keys = {key for post in posts for key in (*post.liked_by, *post.reposted_by, *post.replied_by)}
    if not keys:
        return frozenset()
    dids = sorted(key.removeprefix("bluesky:") for key in keys if key.startswith("bluesky:"))
    found: set[str] = set()
    for chunk in _chunks(sorted(keys)):
        query = (
            select(ACCOUNTS.c.account_key, ACCOUNTS.c.did)
            .join(REGISTRATIONS, REGISTRATIONS.c.reporter_id == ACCOUNTS.c.reporter_id)
            .where(
                ACCOUNTS.c.state == VerificationState.VERIFIED,
                REGISTRATIONS.c.event_id == event.id,
                REGISTRATIONS.c.withdrawn_at.is_(None),
                or_(ACCOUNTS.c.account_key.in_(chunk), ACCOUNTS.c.did.in_(dids)),
            )
        )
        for account_key, did in session.execute(query):
            found.add(account_key)
            if did:
                found.add(f"bluesky:{did}")
    return frozenset(found & keys)


def _created(post: PostFacts) -> datetime:
    return post.created_at


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while scoring builds many small objects, none of them
    in cycles (it cost a fifth of the scoring time); memory is still freed by reference counting."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


# Any constant: the key of PostgreSQL's transaction-level advisory lock that scorers queue on.
SCORING_LOCK_KEY = 0x5C0_12E5


def lock_scoring(session: Session) -> None:
    """Queue behind any other transaction that is writing scores (PostgreSQL; SQLite writers are
    serialised already). Without it two workers re-scoring the same dirty reporters at once both
    insert their verdicts, and two re-ranks of one event interleave."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCORING_LOCK_KEY})


def rescore_event(session: Session, event: Event, now: datetime | None = None) -> None:
    """Full re-score of one event: every candidate reporter, then ranks."""
    rescore_events(session, [event], now)


def rescore_events(
    session: Session, events: Sequence[Event], now: datetime | None = None, *, processes: int = 0
) -> None:
    """Full re-score of these events: every candidate reporter of each, then ranks; every reporter's
    posts are read once for all of them. ``processes``: child processes that may score a large scope
    (see ``_score_scope`` for when a caller may allow them)."""
    now = now or datetime.now(UTC)
    lock_scoring(session)
    scope = []
    registered_by_event: dict[int | None, list[int]] = {}
    for event in events:
        registered = registered_by_event[event.id] = registered_reporter_ids(session, event.id or 0)
        with_posts = reporters_with_posts(session, event.window_start_at, event.window_end_at)
        reporter_ids = sorted(set(registered) | with_posts)
        # drop results of reporters no longer involved (withdrawn, deleted)
        for stored in (VERDICTS, DIGESTS):
            session.execute(
                delete(stored).where(
                    stored.c.event_id == event.id,
                    stored.c.reporter_id.not_in(reporter_ids),  # an empty list matches every row
                )
            )
        session.execute(
            delete(ENTRIES).where(ENTRIES.c.event_id == event.id, ENTRIES.c.reporter_id.not_in(registered))
        )
        scope.append((event, reporter_ids))
    _score_scope(session, scope, now, registered_by_event, processes=processes)
    for event in events:
        rerank(session, event, now)
    if session.get_bind().dialect.name == "postgresql":
        # A full re-score can rewrite millions of rows: refresh the planner's statistics now rather
        # than when autovacuum gets to it (stale ones made it scan every verdict to find a few).
        session.execute(text("ANALYZE post_verdicts, leaderboard_entries, score_digests"))


def events_of_reporters(session: Session, reporter_ids: Sequence[int]) -> list[Event]:
    """Events these reporters are registered for (even if withdrawn) or have posts in the candidate
    window of."""
    ids = sorted(involvement(session, reporter_ids))
    if not ids:
        return []
    return list(session.execute(select(Event).where(EVENTS.c.id.in_(ids)).order_by(EVENTS.c.id)).scalars())


def involvement(session: Session, reporter_ids: Sequence[int]) -> dict[int, set[int]]:
    """The reporters each event involves among these: registered (or once registered) for it, or with
    posts in its candidate window. Keyed by event id."""
    involved: dict[int, set[int]] = defaultdict(set)
    if not reporter_ids:
        return involved
    for chunk in _chunks(sorted(set(reporter_ids))):
        for event_id, rid in session.execute(
            select(REGISTRATIONS.c.event_id, REGISTRATIONS.c.reporter_id).where(
                REGISTRATIONS.c.reporter_id.in_(chunk)
            )
        ):
            involved[event_id].add(rid)
        windows = session.execute(select(EVENTS.c.id, EVENTS.c.window_start_at, EVENTS.c.window_end_at)).all()
        for event_id, start, end in windows:
            involved[event_id] |= reporters_with_posts(session, start, end, chunk)
    return involved


def rescore_scoped(
    session: Session,
    scope: dict[int, set[int]],
    now: datetime | None = None,
    *,
    extend: dict[int, dict[int, set[int]]] | None = None,
) -> None:
    """Re-score the given reporters of each event (``{event id: reporter ids}``), then re-rank it.
    ``extend`` names reporters whose only change is new posts (``{event id: {reporter id: post ids}}``):
    their stored results are extended (``_extend_event``) unless that cannot tell, when they are
    re-scored like the others."""
    now = now or datetime.now(UTC)
    wanted = {event_id: set(rids) for event_id, rids in scope.items() if rids}
    adding = {
        event_id: {rid: ids for rid, ids in posts.items() if rid not in wanted.get(event_id, set())}
        for event_id, posts in (extend or {}).items()
    }
    adding = {event_id: posts for event_id, posts in adding.items() if posts}
    if not wanted and not adding:
        return
    lock_scoring(session)
    ids = sorted(set(wanted) | set(adding))
    events = session.execute(select(Event).where(EVENTS.c.id.in_(ids)).order_by(EVENTS.c.id))
    chosen = list(events.scalars().all())
    for event in chosen:
        if adding.get(event.id or 0):
            wanted.setdefault(event.id or 0, set()).update(
                _extend_event(session, event, adding[event.id or 0], now)
            )
    _score_scope(
        session,
        [(event, sorted(wanted[event.id or 0])) for event in chosen if wanted.get(event.id or 0)],
        now,
    )
    for event in chosen:
        rerank(session, event, now)


def rescore_reporters(session: Session, reporter_ids: Sequence[int], now: datetime | None = None) -> None:
    """Incremental update: re-score these reporters in every event they touch, then re-rank those events."""
    rescore_scoped(session, involvement(session, reporter_ids), now)


# An "only new posts" mark costs this many times less than a full re-score of its reporter.
NEW_POSTS_PER_MARK = 10


def rescore_pending(session: Session, *, batch: int = 500) -> int:
    """Re-score up to ``batch`` queued (reporter, event) marks (or ten times as many that only add new
    posts), in the caller's transaction; return how many marks were taken."""
    lock_scoring(session)  # before reading the queue: the previous scorer's deletions are then visible
    queue = session.execute(
        select(DIRTY.c.id, DIRTY.c.reporter_id, DIRTY.c.event_id, DIRTY.c.only_new)
        .order_by(DIRTY.c.id)
        .limit(batch * NEW_POSTS_PER_MARK)
    ).all()
    # ``batch`` full re-scores a transaction, an "only new posts" mark counting as a tenth of one (it
    # reads a few rows, not all the reporter's posts): fewer transactions re-rank the same events.
    marks: list[Any] = []
    budget = batch * NEW_POSTS_PER_MARK
    for mark in queue:
        budget -= 1 if mark.only_new else NEW_POSTS_PER_MARK
        if budget < 0 and marks:
            break
        marks.append(mark)
    if not marks:
        return 0
    for chunk in _chunks([m.id for m in marks]):
        if session.get_bind().dialect.name == "postgresql":
            # Lock them in (reporter, event) order, as ingest's upsert of a mark does (no deadlock);
            # a mark that an uncommitted page touched is waited for, so its posts are read below.
            session.execute(
                select(DIRTY.c.id)
                .where(DIRTY.c.id.in_(chunk))
                .order_by(DIRTY.c.reporter_id, DIRTY.c.event_id)
                .with_for_update()
            )
        session.execute(delete(DIRTY).where(DIRTY.c.id.in_(chunk)))
    everywhere = [m.reporter_id for m in marks if m.event_id == EVERY_EVENT]
    scope = involvement(session, everywhere)
    queued = _take_new_posts(session, marks)
    extend: dict[int, dict[int, set[int]]] = defaultdict(dict)
    for mark in marks:
        if mark.event_id == EVERY_EVENT:
            continue
        if mark.only_new:
            extend[mark.event_id][mark.reporter_id] = queued.get((mark.reporter_id, mark.event_id), set())
        else:
            scope[mark.event_id].add(mark.reporter_id)
    rescore_scoped(session, scope, extend=extend)
    return len(marks)


def _take_new_posts(session: Session, marks: Sequence[Any]) -> dict[tuple[int, int], set[int]]:
    """The queued new posts of the taken marks' (reporter, event) pairs (every event for a reporter
    marked ``EVERY_EVENT``), removed from the queue; by pair."""
    everywhere = {m.reporter_id for m in marks if m.event_id == EVERY_EVENT}
    pairs = {(m.reporter_id, m.event_id) for m in marks}
    taken: dict[tuple[int, int], set[int]] = defaultdict(set)
    done: list[int] = []
    for chunk in _chunks(sorted({m.reporter_id for m in marks})):
        for row in session.execute(
            select(NEW_POSTS.c.id, NEW_POSTS.c.reporter_id, NEW_POSTS.c.event_id, NEW_POSTS.c.post_id).where(
                NEW_POSTS.c.reporter_id.in_(chunk)
            )
        ):
            if row.reporter_id in everywhere or (row.reporter_id, row.event_id) in pairs:
                taken[(row.reporter_id, row.event_id)].add(row.post_id)
                done.append(row.id)
    for chunk in _chunks(done):
        session.execute(delete(NEW_POSTS).where(NEW_POSTS.c.id.in_(chunk)))
    return taken


def rescore_dirty(*, engine: Engine, batch: int = 500) -> int:
    """Re-score every queued (reporter, event) mark (ingest, registrations, verifications); return how
    many marks were taken."""
    done = 0
    while True:
        with Session(writing(engine)) as session:
            count = rescore_pending(session, batch=batch)
            session.commit()
        if not count:
            return done
        done += count


def rescore_all(session: Session) -> int:
    events = list(session.execute(select(Event).order_by(EVENTS.c.id)).scalars().all())
    rescore_events(session, events)
    session.execute(delete(DIRTY))
    session.execute(delete(NEW_POSTS))
    return len(events)
