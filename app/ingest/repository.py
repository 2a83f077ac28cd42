"""Every query of the ingest domain: upsert a page of posts, sightings, accounts, leases."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Engine, Text, bindparam, func, or_, select, true, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import ARRAY
from sqlmodel import Session

from app.core.db import table, writing
from app.ingest.models import Post, PostEngagement, PostSighting, Source
from app.reporters.models import Account, VerificationState
from app.scoring.dirty import mark_posts_dirty
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
    # (reporter, post instant) of every post stored or refreshed: the events to re-score them in
    touched_posts: list[tuple[int, datetime]] = field(default_factory=list)


def next_recheck(created_at: datetime, now: datetime) -> tuple[int, datetime | None]:
    """The first re-check stage (+1 h, +1 day, +7 days after publication) still ahead of ``now``."""
    for stage, offset in enumerate(RECHECK_OFFSETS):
        due = created_at + offset
        if due > now:
            return stage, due
    return len(RECHECK_OFFSETS), None


def match_accounts(session: Session, posts: Iterable[CollectedPost]) -> dict[str, AccountMatch]:
    """Map every author key and alias in ``posts`` to the linked account, if any."""
    keys: set[str] = set()
    dids: set[str] = set()
    for post in posts:
        keys.add(post.author_key)
        keys.update(post.author_aliases)
        if post.author_key.startswith("bluesky:did:"):
            dids.add(post.author_key.removeprefix("bluesky:"))
    if not keys:
        return {}
    condition: ColumnElement[bool] = ACCOUNTS.c.account_key.in_(keys)
    if dids:
        condition = or_(condition, ACCOUNTS.c.did.in_(dids))
    found: dict[str, AccountMatch] = {}
    query = select(
        ACCOUNTS.c.id, ACCOUNTS.c.reporter_id, ACCOUNTS.c.state, ACCOUNTS.c.account_key, ACCOUNTS.c.did
    )
    for account in session.execute(query.where(condition)):
        match = AccountMatch(account.id, account.reporter_id, account.state == VerificationState.VERIFIED)
        found[account.account_key] = match
        if account.did:
            found[f"bluesky:{account.did}"] = match
    return found


def _resolve(post: CollectedPost, accounts: dict[str, AccountMatch]) -> AccountMatch | None:
    for key in (post.author_key, *post.author_aliases):
        if key in accounts:
            return accounts[key]
    return None


def _content(post: CollectedPost) -> dict[str, Any]:
    return {
        "url": post.url,
        "author_name": post.author_name,
        "edited_at": post.edited_at,
        "text": post.text,
        "html": post.html,
        "tags": list(post.tags),
        "media_count": post.media_count,
        "kind": post.kind.value,
        "visibility": post.visibility.value,
        "language": post.language,
        "version": post.version,
        "repost_of": post.repost_of,
        "raw": dict(post.raw),
    }


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


def upsert_posts(
    session: Session, *, source_id: int | None, posts: Sequence[CollectedPost], now: datetime
) -> PageOutcome:
    """Insert new posts, refresh engagement on known ones, apply newer versions; mark reporters dirty."""
    outcome = PageOutcome()
    items = _collapse(posts)
    if not items:
        return outcome
    accounts = match_accounts(session, items)
    existing = _existing_rows(session, items)

    inserts, updates = _plan(items, existing, accounts, now, outcome, source_id)
    # every post of the page by its id, for the sightings: the known ones now, the new ones once inserted
    ids = {key: row.id for key, row in existing.items()}
    if inserts:
        stored = _insert_new(session, inserts)
        ids.update(stored)
        if len(stored) < len(inserts):
            # Another transaction stored some of these keys first (sources running side by side see
            # the same federated posts; PostgreSQL's unique index made us wait for it): they are
            # known posts now, so refresh them as such instead of failing the whole page.
            planned = {(row["platform"], row["global_key"]) for row in inserts}
            lost = [p for p in items if (p.platform.value, p.global_key) in planned - stored.keys()]
            outcome.new -= len(lost)
            rows = _existing_rows(session, lost)
            missing, more = _plan(lost, rows, accounts, now, outcome, source_id)
            if missing:  # never drop a post: fail the page, whose cursor then stays where it was
                raise RuntimeError(f"{len(missing)} posts were neither inserted nor found")
            ids.update((key, row.id) for key, row in rows.items())
            updates += more
    if updates:
        _update_known(session, updates)
    if source_id is not None:
        _record_sightings(session, source_id=source_id, items=items, ids=ids, now=now)
    mark_posts_dirty(session, outcome.touched_posts)
    # --- identity hook: verification codes in collected posts (owned by app/reporters/identity.py) ---
    from app.reporters.identity import detect_verification_codes  # late: identity imports this module

    detect_verification_codes(session, items, now=now)
    return outcome


def _existing_rows(session: Session, items: Sequence[CollectedPost]) -> dict[tuple[str, str], Any]:
    by_platform: dict[str, list[str]] = {}
    for post in items:
        by_platform.setdefault(post.platform.value, []).append(post.global_key)
    existing: dict[tuple[str, str], Any] = {}
    P = POSTS.c
    columns = (P.id, P.platform, P.global_key, P.version, P.edited_at, P.reporter_id, P.deleted_at)
    for platform, keys in by_platform.items():
        rows = session.execute(_by_keys(session, columns, platform, keys))
        existing.update({(r.platform, r.global_key): r for r in rows})
    return existing


def _insert_new(session: Session, rows: list[dict[str, Any]]) -> dict[tuple[str, str], int]:
    """Insert posts whose key nobody stored yet; return the ids of those actually inserted by key."""
    conflict = ["platform", "global_key"]
    if session.get_bind().dialect.name == "postgresql":
        # psycopg pipelines a plain executemany of one prepared statement; a multi-row INSERT …
        # RETURNING is a new, large statement for each page size, rendered by SQLAlchemy, parsed by
        # the driver and planned by the server every time (2-3 × slower). So insert without
        # RETURNING, count the rows inserted and read their ids back; when the count falls short
        # (another transaction stored some of these keys first) undo and insert again with
        # RETURNING to learn which keys are ours.
        with session.begin_nested() as savepoint:
            stmt = postgresql.insert(POSTS).on_conflict_do_nothing(index_elements=conflict)
            result: Any = session.execute(stmt, rows, execution_options={"preserve_rowcount": True})
            if result.rowcount == len(rows):
                return _ids_of(session, [(row["platform"], row["global_key"]) for row in rows])
            savepoint.rollback()
    insert_fn: Any = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    returning = (
        insert_fn(POSTS)
        .on_conflict_do_nothing(index_elements=conflict)
        .returning(POSTS.c.id, POSTS.c.platform, POSTS.c.global_key)
    )
    return {(r.platform, r.global_key): r.id for r in session.execute(returning, rows)}


def _ids_of(session: Session, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], int]:
    """The ids of stored posts by (platform, global key)."""
    by_platform: dict[str, list[str]] = {}
    for platform, key in keys:
        by_platform.setdefault(platform, []).append(key)
    ids: dict[tuple[str, str], int] = {}
    for platform, global_keys in by_platform.items():
        query = _by_keys(session, (POSTS.c.id, POSTS.c.platform, POSTS.c.global_key), platform, global_keys)
        ids.update({(r.platform, r.global_key): r.id for r in session.execute(query)})
    return ids


def _by_keys(session: Session, columns: Sequence[Any], platform: str, keys: list[str]) -> Any:
    """SELECT ``columns`` of the posts of ``platform`` whose global key is one of ``keys``."""
    P = POSTS.c
    if session.get_bind().dialect.name == "postgresql":
        # One array parameter: the same statement whatever the page size (prepared once). Each key
        # is looked up on its own (LATERAL … LIMIT 1, which the planner cannot flatten; the key is
        # unique anyway) so that the unique index serves both columns even while the table has no
        # statistics yet: with IN, or a plain join, the planner then scans every post of the platform.
        wanted = func.unnest(bindparam("keys", keys, type_=ARRAY(Text))).table_valued("key").render_derived()
        match = (
            select(*columns).where(P.platform == platform, P.global_key == wanted.c.key).limit(1).lateral()
        )
        return select(*(match.c[column.name] for column in columns)).select_from(wanted).join(match, true())
    return select(*columns).where(P.platform == platform, P.global_key.in_(keys))


def _update_known(session: Session, updates: list[dict[str, Any]]) -> None:
    """Apply the changes to known posts: one executemany UPDATE by id per set of changed columns."""
    groups: dict[frozenset[str], list[dict[str, Any]]] = {}
    for change in updates:
        groups.setdefault(frozenset(change), []).append(change)
    for names, group in groups.items():
        # bind names must differ from the column names an UPDATE sets
        columns = sorted(names - {"id"})
        stmt = (
            update(POSTS)
            .where(POSTS.c.id == bindparam("_id"))
            .values({name: bindparam(f"_{name}") for name in columns})
        )
        session.execute(stmt, [{f"_{name}": change[name] for name in names} for change in group])


def _plan(
    items: Sequence[CollectedPost],
    existing: dict[tuple[str, str], Any],
    accounts: dict[str, AccountMatch],
    now: datetime,
    outcome: PageOutcome,
    source_id: int | None,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Split a page into rows to insert and changes to known rows; count them in ``outcome``."""
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    for post in items:
        match = _resolve(post, accounts)
        reporter_id = match.reporter_id if match else None
        row = existing.get((post.platform.value, post.global_key))
        if row is None:
            stage, due = next_recheck(post.created_at, now)
            inserts.append(
                {
                    "platform": post.platform.value,
                    "global_key": post.global_key,
                    "local_id": post.local_id,
                    "source_id": source_id,
                    "author_key": post.author_key,
                    "account_id": match.account_id if match else None,
                    "reporter_id": reporter_id,
                    "created_at": post.created_at,
                    "first_seen_at": now,
                    "last_seen_at": now,
                    "likes": post.likes,
                    "reposts": post.reposts,
                    "replies": post.replies,
                    "recheck_stage": stage,
                    "next_recheck_at": due,
                    "missing_count": 0,
                    "excluded": False,
                    **_content(post),
                }
            )
            outcome.new += 1
            if reporter_id is not None:
                outcome.touched_reporters.add(reporter_id)
                outcome.touched_posts.append((reporter_id, post.created_at))
            continue
        change: dict[str, Any] = {
            "id": row.id,
            "last_seen_at": now,
            "likes": post.likes,
            "reposts": post.reposts,
            "replies": post.replies,
            "missing_count": 0,
        }
        if _is_newer(post, row.version, row.edited_at):
            change.update(_content(post))
            outcome.updated += 1
        else:
            outcome.unchanged += 1
        if match is not None:
            change["account_id"] = match.account_id
            change["reporter_id"] = match.reporter_id
        updates.append(change)
        for rid in (row.reporter_id, reporter_id):
            if rid is not None:
                outcome.touched_reporters.add(rid)
                outcome.touched_posts.append((rid, post.created_at))
    return inserts, updates


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
    session: Session,
    *,
    source_id: int,
    items: Sequence[CollectedPost],
    ids: dict[tuple[str, str], int],
    now: datetime,
) -> None:
    rows = [
        {"post_id": post_id, "source_id": source_id, "local_id": post.local_id, "seen_at": now}
        for post in items
        if (post_id := ids.get((post.platform.value, post.global_key))) is not None
    ]
    _insert_ignore(session, table(PostSighting), rows, ["post_id", "source_id"])


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
