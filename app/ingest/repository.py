"""Every query of the ingest domain: upsert a page of posts, sightings, accounts, leases."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import Engine, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from app.core.db import table, writing
from app.ingest import driver
from app.ingest.models import Post, PostEngagement, Source
from app.reporters.models import Account, VerificationState
from app.scoring.dirty import event_windows, mark_new_posts, mark_posts_dirty
from collectors.base import CollectedPost, Engagement

POSTS = table(Post)
SOURCES = table(Source)
ACCOUNTS = table(Account)
RECHECK_OFFSETS = (timedelta(hours=1), timedelta(days=1), timedelta(days=7))


@dataclass(frozen=True, slots=True)
class AccountMatch:
    account_id: int
    reporter_id: int
    verified: bool


@dataclass(slots=True)
class PageOutcome:
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    touched_reporters: set[int] = field(default_factory=set)
    # (reporter, stored post instant) of every post refreshed: the events to re-score them in
    touched_posts: list[tuple[int, datetime]] = field(default_factory=list)
    # (reporter, instant, post id) of every post inserted: they may extend a stored result
    new_posts: list[tuple[int, datetime, int]] = field(default_factory=list)


def next_recheck(created_at: datetime, now: datetime) -> tuple[int, datetime | None]:
    """The first re-check stage (+1 h, +1 day, +7 days after publication) still ahead of ``now``."""
    for stage, offset in enumerate(RECHECK_OFFSETS):
        due = created_at + offset
        if due > now:
            return stage, due
    return len(RECHECK_OFFSETS), None


def match_accounts(session: Session, posts: Iterable[CollectedPost]) -> dict[str, AccountMatch]:
    """Map every author key and alias in ``posts`` to the linked account, if any."""
    return _match_accounts(driver.Page(session), posts)


def _match_accounts(page: driver.Page, posts: Iterable[CollectedPost]) -> dict[str, AccountMatch]:
    keys: set[str] = set()
    dids: set[str] = set()
    for post in posts:
        keys.add(post.author_key)
        keys.update(post.author_aliases)
        if post.author_key.startswith("bluesky:did:"):
            dids.add(post.author_key.removeprefix("bluesky:"))
    if not keys:
        return {}
    found: dict[str, AccountMatch] = {}
    for account_id, reporter_id, state, account_key, did in page.accounts(sorted(keys), sorted(dids)):
        match = AccountMatch(account_id, reporter_id, state == VerificationState.VERIFIED)
        found[account_key] = match
        if did:
            found[f"bluesky:{did}"] = match
    return found


def _resolve(post: CollectedPost, accounts: dict[str, AccountMatch]) -> AccountMatch | None:
    for key in (post.author_key, *post.author_aliases):
        if key in accounts:
            return accounts[key]
    return None


def _content_values(post: CollectedPost) -> list[Any]:
    """The content columns of ``post`` in ``driver.CONTENT_COLUMNS`` order."""
    raw = post.raw
    return [
        post.url,
        post.author_name,
        post.edited_at,
        post.text,
        post.html,
        list(post.tags),
        post.media_count,
        post.kind.value,
        post.visibility.value,
        post.language,
        post.version,
        post.repost_of,
        raw if type(raw) is dict else dict(raw),
    ]


def _content(post: CollectedPost) -> dict[str, Any]:
    """The content columns of ``post`` by name."""
    return dict(zip(driver.CONTENT_COLUMNS, _content_values(post), strict=True))


def _is_newer(incoming: CollectedPost, stored_version: str | None, stored_edited: datetime | None) -> bool:
    if incoming.version == stored_version:
        return False
    if incoming.edited_at is not None and stored_edited is not None:
        return incoming.edited_at > stored_edited
    return not (incoming.edited_at is None and stored_edited is not None)


def _collapse(posts: Sequence[CollectedPost]) -> list[CollectedPost]:
    """One item per key (pages may repeat items); the most recently edited version wins."""
    by_key: dict[str, CollectedPost] = {}
    for post in posts:
        current = by_key.get(post.global_key)
        if current is None or _is_newer(post, current.version, current.edited_at):
            by_key[post.global_key] = post
    return list(by_key.values())


PostKey = tuple[str, str]  # (platform, global key)


class KnownPost(NamedTuple):
    """What a page needs of a stored post (``driver.KNOWN_COLUMNS`` without the key)."""

    id: int
    version: str | None
    edited_at: datetime | None
    reporter_id: int | None
    created_at: datetime


@dataclass(slots=True)
class _Plan:
    """A page split into new posts (rows to insert) and changes to known ones (by changed columns)."""

    inserts: list[tuple[tuple[str, str], list[Any]]] = field(default_factory=list)
    updates: dict[tuple[str, ...], list[list[Any]]] = field(default_factory=dict)
    # (reporter, instant, key) of each new post of a reporter: queued "only new" once it has an id
    new_marks: list[tuple[int, datetime, tuple[str, str]]] = field(default_factory=list)


def upsert_posts(
    session: Session, *, source_id: int | None, posts: Sequence[CollectedPost], now: datetime
) -> PageOutcome:
    """Insert new posts, refresh engagement on known ones, apply newer versions; mark reporters dirty."""
    outcome = PageOutcome()
    items = _collapse(posts)
    if not items:
        return outcome
    page = driver.Page(session)
    accounts = _match_accounts(page, items)
    existing = _existing_rows(page, items)

    plan = _Plan()
    _plan(items, existing, accounts, now, outcome, source_id, plan)
    # every post of the page by its id, for the sightings: the known ones now, the new ones once inserted
    ids = {key: row.id for key, row in existing.items()}
    if plan.inserts:
        stored = _insert_new(page, plan.inserts)
        ids.update(stored)
        if len(stored) < len(plan.inserts):
            # Another transaction stored some of these keys first (sources running side by side see
            # the same federated posts; PostgreSQL's unique index made us wait for it): they are
            # known posts now, so refresh them as such instead of failing the whole page.
            planned = {key for key, _ in plan.inserts}
            lost = [p for p in items if (p.platform.value, p.global_key) in planned - stored.keys()]
            outcome.new -= len(lost)
            rows = _existing_rows(page, lost)
            more = _Plan()
            _plan(lost, rows, accounts, now, outcome, source_id, more)
            if more.inserts:  # never drop a post: fail the page, whose cursor then stays where it was
                raise RuntimeError(f"{len(more.inserts)} posts were neither inserted nor found")
            ids.update((key, row.id) for key, row in rows.items())
            for names, changes in more.updates.items():
                plan.updates.setdefault(names, []).extend(changes)
    if plan.updates:
        _update_known(page, plan.updates)
    if source_id is not None:
        _record_sightings(page, source_id=source_id, items=items, ids=ids, now=now)
    outcome.new_posts = [(rid, at, ids[key]) for rid, at, key in plan.new_marks if key in ids]
    if outcome.touched_posts or outcome.new_posts:  # the events' windows, read once for both
        windows = event_windows(session)
        mark_posts_dirty(session, outcome.touched_posts, windows)
        mark_new_posts(session, outcome.new_posts, windows)  # a pair marked above too stays a full re-score
    # --- identity hook: verification codes in collected posts (owned by app/reporters/identity.py) ---
    from app.reporters.identity import detect_verification_codes  # late: identity imports this module

    detect_verification_codes(session, items, now=now)
    return outcome


def _existing_rows(page: driver.Page, items: Sequence[CollectedPost]) -> dict[tuple[str, str], KnownPost]:
    """The stored posts among ``items`` by (platform, global key)."""
    by_platform: dict[str, list[str]] = {}
    for post in items:
        by_platform.setdefault(post.platform.value, []).append(post.global_key)
    existing: dict[tuple[str, str], KnownPost] = {}
    for platform, keys in by_platform.items():
        for post_id, global_key, *rest in page.known(platform, keys):
            existing[(platform, global_key)] = KnownPost(post_id, *rest)
    return existing


def _insert_new(page: driver.Page, rows: list[tuple[PostKey, list[Any]]]) -> dict[PostKey, int]:
    """Insert posts whose key nobody stored yet; return the ids of those actually inserted by key."""
    return page.insert_posts([values for _, values in rows])


def _update_known(page: driver.Page, updates: dict[tuple[str, ...], list[list[Any]]]) -> None:
    """Apply the changes to known posts: one UPDATE by id per set of changed columns."""
    for names, changes in updates.items():
        page.update_posts(names, changes)


# the columns every sighting of a known post refreshes, then those a newer version replaces, then
# the account the author is linked to
_SEEN = ("last_seen_at", "likes", "reposts", "replies", "missing_count")
_SEEN_CONTENT = _SEEN + driver.CONTENT_COLUMNS
_LINKED = ("account_id", "reporter_id")


def _plan(
    items: Sequence[CollectedPost],
    existing: dict[tuple[str, str], KnownPost],
    accounts: dict[str, AccountMatch],
    now: datetime,
    outcome: PageOutcome,
    source_id: int | None,
    plan: _Plan,
) -> None:
    """Split a page into rows to insert and changes to known rows; count them in ``outcome``."""
    for post in items:
        match = _resolve(post, accounts)
        reporter_id = match.reporter_id if match else None
        key = (post.platform.value, post.global_key)
        row = existing.get(key)
        if row is None:
            stage, due = next_recheck(post.created_at, now)
            values = [
                post.platform.value,
                post.global_key,
                post.local_id,
                source_id,
                post.author_key,
                match.account_id if match else None,
                reporter_id,
                post.created_at,
                now,
                now,
                post.likes,
                post.reposts,
                post.replies,
                stage,
                due,
                0,
                False,
            ]
            values += _content_values(post)
            plan.inserts.append((key, values))
            outcome.new += 1
            if reporter_id is not None:
                outcome.touched_reporters.add(reporter_id)
                plan.new_marks.append((reporter_id, post.created_at, key))
            continue
        newer = _is_newer(post, row.version, row.edited_at)
        values = [now, post.likes, post.reposts, post.replies, 0]
        if newer:
            values += _content_values(post)
            outcome.updated += 1
        else:
            outcome.unchanged += 1
        if match is not None:
            values += [match.account_id, match.reporter_id]
        names = (_SEEN_CONTENT if newer else _SEEN) + (_LINKED if match is not None else ())
        values.append(row.id)
        plan.updates.setdefault(names, []).append(values)
        # Every sighting re-queues the reporter, changed or not. Queuing only on a change of what
        # scoring reads would be enough on its own, but a mark can be lost on PostgreSQL: a page whose
        # mark meets a queued one (ON CONFLICT DO NOTHING) and commits after a scorer took that mark
        # and read the posts leaves its post unscored; the next sighting's mark repairs that. The
        # events are those around the stored instant, which scoring reads (a sighting never changes
        # it, whatever instant the server now sends).
        for rid in (row.reporter_id, reporter_id):
            if rid is not None:
                outcome.touched_reporters.add(rid)
                outcome.touched_posts.append((rid, row.created_at))


def _insert_ignore(session: Session, table: Any, rows: list[dict[str, Any]], conflict: list[str]) -> None:
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        stmt: Any = postgresql.insert(table).on_conflict_do_nothing(index_elements=conflict)
    else:
        stmt = sqlite.insert(table).on_conflict_do_nothing(index_elements=conflict)
    session.execute(stmt, rows)


def _record_sightings(
    page: driver.Page,
    *,
    source_id: int,
    items: Sequence[CollectedPost],
    ids: dict[tuple[str, str], int],
    now: datetime,
) -> None:
    rows = [
        [post_id, source_id, post.local_id, now]
        for post in items
        if (post_id := ids.get((post.platform.value, post.global_key))) is not None
    ]
    if rows:
        page.insert_sightings(rows)


def mark_deleted(session: Session, *, post_id: int, now: datetime) -> int | None:
    """Record a deletion; return the reporter to re-score."""
    post = session.get(Post, post_id)
    if post is None or post.deleted_at is not None:
        return None
    post.deleted_at = now
    session.add(post)
    if post.reporter_id is not None:
        mark_posts_dirty(session, [(post.reporter_id, post.created_at)])
    return post.reporter_id


def store_engagement(session: Session, *, post_id: int, engagement: Engagement) -> None:
    rows = [{"post_id": post_id, "account_key": key, "kind": "like"} for key in set(engagement.liked_by)]
    rows += [
        {"post_id": post_id, "account_key": key, "kind": "repost"} for key in set(engagement.reposted_by)
    ]
    _insert_ignore(session, table(PostEngagement), rows, ["post_id", "account_key", "kind"])


# --- leases ---------------------------------------------------------------------------------------


def claim_lease(engine: Engine, *, source_id: int, owner: str, now: datetime, lease: timedelta) -> bool:
    """Take the source's lease if it is free, expired or already ours (atomic on both databases)."""
    with Session(writing(engine)) as session:
        result = session.execute(
            update(SOURCES)
            .where(
                SOURCES.c.id == source_id,
                or_(
                    SOURCES.c.lease_owner.is_(None),
                    SOURCES.c.lease_expires_at < now,
                    SOURCES.c.lease_owner == owner,
                ),
            )
            .values(lease_owner=owner, lease_expires_at=now + lease)
        )
        session.commit()
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]  # CursorResult of an UPDATE


def renew_lease(
    session: Session,
    *,
    source_id: int,
    owner: str,
    now: datetime,
    lease: timedelta,
    cursor: dict[str, Any] | None = None,
) -> bool:
    """Extend our lease (and save the cursor) in the caller's transaction; False if it was lost."""
    values: dict[str, Any] = {"lease_expires_at": now + lease}
    if cursor is not None:
        values["cursor"] = cursor
    result = session.execute(
        update(SOURCES).where(SOURCES.c.id == source_id, SOURCES.c.lease_owner == owner).values(**values)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]  # CursorResult of an UPDATE


def release_lease(session: Session, *, source_id: int, owner: str) -> None:
    session.execute(
        update(SOURCES)
        .where(SOURCES.c.id == source_id, SOURCES.c.lease_owner == owner)
        .values(lease_owner=None, lease_expires_at=None)
    )


def due_source_ids(session: Session, *, now: datetime, limit: int = 50) -> list[int]:
    """Sources whose turn has come and whose lease is free (SKIP LOCKED on PostgreSQL)."""
    query = (
        select(SOURCES.c.id)
        .where(
            SOURCES.c.enabled.is_(True),
            or_(SOURCES.c.next_run_at.is_(None), SOURCES.c.next_run_at <= now),
            or_(SOURCES.c.lease_owner.is_(None), SOURCES.c.lease_expires_at < now),
        )
        .order_by(SOURCES.c.next_run_at.nulls_first(), SOURCES.c.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return [int(r) for r in session.execute(query).scalars()]


def posts_due_for_recheck(session: Session, *, now: datetime, limit: int) -> list[Post]:
    query = (
        select(Post)
        .where(POSTS.c.next_recheck_at <= now, POSTS.c.deleted_at.is_(None))
        .order_by(POSTS.c.next_recheck_at)
        .limit(limit)
    )
    return list(session.execute(query).scalars())
