"""Staff operations on collected posts and on sources: exclude / restore a post (re-scored at once),
the moderation queue, who may read a post, source settings, "collect now", runs.

Exclude and restore are conditional UPDATEs (``WHERE excluded = false`` / ``= true``): of two staff
acting on the same post at once, one wins and the other gets a 409, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlmodel import Session

from app.audit import service as audit
from app.core.db import table
from app.core.errors import Conflict, InvalidInput, NotFound
from app.events.models import Event, Registration
from app.ingest import service as ingest
from app.ingest.models import CollectorRun, Post, Source
from app.reporters.models import Reporter
from app.scoring import service as scoring
from app.scoring.dirty import mark_dirty
from app.scoring.models import PostVerdict
from collectors.base import InvalidSource, Platform
from collectors.registry import collector_for
from scoring.verdicts import REASON_TEXT, Reason

POSTS = table(Post)
EVENTS = table(Event)
REGISTRATIONS = table(Registration)
REPORTERS = table(Reporter)
VERDICTS = table(PostVerdict)
SOURCES = table(Source)
RUNS = table(CollectorRun)

MAX_REASON = 1000
MIN_INTERVAL_S = 30
MAX_INTERVAL_S = 7 * 86400
PLATFORM_ALIASES = {"rss": "blog", "atom": "blog", "feed": "blog", "twitter": "x"}
DEFAULT_URLS = {"x": "https://api.x.com", "bluesky": "https://bsky.social/xrpc"}
DEFAULT_X_QUERY = "#iucncec -is:retweet"
# Through the API a source may only name a token variable of this shape: a staff member must not be
# able to make a collector send one of the app's own secrets (BIE_SECRET_KEY …) to a server.
TOKEN_ENV_RE = re.compile(r"^BIE_[A-Z0-9_]*TOKEN[A-Z0-9_]*$")


# --- moderation ---------------------------------------------------------------------------------


def _clean_reason(reason: str) -> str:
    cleaned = " ".join(reason.split())
    if not cleaned:
        raise InvalidInput("a reason is required")
    if len(cleaned) > MAX_REASON:
        raise InvalidInput(f"the reason is longer than {MAX_REASON} characters")
    return cleaned


def get_post(*, session: Session, post_id: int) -> Post:
    post = session.get(Post, post_id)
    if post is None:
        raise NotFound("post", post_id)
    return post


def _set_excluded(
    session: Session,
    *,
    post_id: int,
    exclude: bool,
    reason: str,
    actor_id: int | None,
    actor_role: str | None,
    now: datetime | None,
) -> Post:
    post = get_post(session=session, post_id=post_id)
    reason = _clean_reason(reason)
    now = now or datetime.now(UTC)
    values: dict[str, Any] = (
        {"excluded": True, "excluded_reason": reason, "excluded_by": actor_id, "excluded_at": now}
        if exclude
        else {"excluded": False, "excluded_reason": None, "excluded_by": None, "excluded_at": None}
    )
    changed = session.execute(
        update(POSTS).where(POSTS.c.id == post_id, POSTS.c.excluded.is_(not exclude)).values(**values)
    )
    if changed.rowcount == 0:  # type: ignore[attr-defined]  # CursorResult of an UPDATE
        state = "already excluded" if exclude else "not excluded"
        raise Conflict(f"post {post_id} is {state}")
    session.refresh(post)
    audit.record(
        session=session,
        action="post.exclude" if exclude else "post.restore",
        actor_id=actor_id,
        actor_role=actor_role,
        target_type="post",
        target_id=post_id,
        detail={
            "reason": reason,
            "reporter_id": post.reporter_id,
            "platform": post.platform,
            "global_key": post.global_key,
        },
    )
    if post.reporter_id is not None:
        # Queued as every score change is, and re-scored now so the leaderboard shows it at once.
        mark_dirty(session, [post.reporter_id])
        scoring.rescore_reporters(session, [post.reporter_id], now)
    return post


def exclude_post(
    *,
    session: Session,
    post_id: int,
    reason: str,
    actor_id: int | None,
    actor_role: str | None,
    now: datetime | None = None,
) -> Post:
    """Exclude a post from scoring with a reason the reporter will see (audited; re-scored at once)."""
    return _set_excluded(
        session,
        post_id=post_id,
        exclude=True,
        reason=reason,
        actor_id=actor_id,
        actor_role=actor_role,
        now=now,
    )


def restore_post(
    *,
    session: Session,
    post_id: int,
    reason: str,
    actor_id: int | None,
    actor_role: str | None,
    now: datetime | None = None,
) -> Post:
    """Undo an exclusion (audited with its reason; re-scored at once)."""
    return _set_excluded(
        session,
        post_id=post_id,
        exclude=False,
        reason=reason,
        actor_id=actor_id,
        actor_role=actor_role,
        now=now,
    )


@dataclass(frozen=True, slots=True)
class QueueItem:
    post: Any  # a row of POSTS columns
    event_slug: str
    reporter_name: str
    counted: bool | None
    points: int | None
    reasons: tuple[str, ...]

    @property
    def reason_texts(self) -> tuple[str, ...]:
        return tuple(REASON_TEXT[Reason(r)] for r in self.reasons if r in Reason._value2member_map_)


def moderation_queue(
    *,
    session: Session,
    now: datetime | None = None,
    event: Event | None = None,
    platform: str | None = None,
    counted: bool | None = None,
    excluded: bool | None = None,
    offset: int = 0,
    limit: int = 50,
) -> tuple[list[QueueItem], int]:
    """Newest posts of registered reporters in open events (or one given event), one row per event."""
    now = now or datetime.now(UTC)
    p = POSTS.c
    joined = (
        POSTS.join(
            REGISTRATIONS,
            and_(REGISTRATIONS.c.reporter_id == p.reporter_id, REGISTRATIONS.c.withdrawn_at.is_(None)),
        )
        .join(
            EVENTS,
            and_(
                EVENTS.c.id == REGISTRATIONS.c.event_id,
                p.created_at >= EVENTS.c.window_start_at,
                p.created_at < EVENTS.c.window_end_at,
            ),
        )
        .join(REPORTERS, REPORTERS.c.id == p.reporter_id)
        .outerjoin(
            VERDICTS,
            and_(
                VERDICTS.c.post_id == p.id,
                VERDICTS.c.event_id == EVENTS.c.id,
                VERDICTS.c.rules_version == EVENTS.c.rules_version,
            ),
        )
    )
    conditions: list[Any] = []
    if event is not None:
        conditions.append(EVENTS.c.id == event.id)
    else:  # open: the coverage window is running
        conditions += [EVENTS.c.window_start_at <= now, EVENTS.c.window_end_at > now]
    if platform is not None:
        conditions.append(p.platform == platform)
    if counted is True:
        conditions.append(VERDICTS.c.counted.is_(True))
    elif counted is False:
        conditions.append(or_(VERDICTS.c.counted.is_(False), VERDICTS.c.counted.is_(None)))
    if excluded is not None:
        conditions.append(p.excluded.is_(excluded))
    total = int(session.execute(select(func.count()).select_from(joined).where(*conditions)).scalar_one())
    rows = session.execute(
        select(
            p.id,
            p.platform,
            p.url,
            p.author_key,
            p.reporter_id,
            p.created_at,
            p.text,
            p.kind,
            p.visibility,
            p.deleted_at,
            p.excluded,
            p.excluded_reason,
            p.excluded_at,
            EVENTS.c.slug,
            REPORTERS.c.name,
            VERDICTS.c.counted,
            VERDICTS.c.points,
            VERDICTS.c.reasons,
        )
        .select_from(joined)
        .where(*conditions)
        .order_by(p.created_at.desc(), p.id.desc(), EVENTS.c.id)
        .offset(offset)
        .limit(limit)
    ).all()
    items = [
        QueueItem(
            post=r,
            event_slug=r.slug,
            reporter_name=r.name,
            counted=r.counted,
            points=r.points,
            reasons=tuple(r.reasons or ()),
        )
        for r in rows
    ]
    return items, total


def post_verdicts(*, session: Session, post_id: int) -> list[Any]:
    """The post's verdict in each event under that event's current rules."""
    return list(
        session.execute(
            select(
                EVENTS.c.slug,
                VERDICTS.c.counted,
                VERDICTS.c.points,
                VERDICTS.c.reasons,
                VERDICTS.c.day,
                VERDICTS.c.computed_at,
            )
            .select_from(VERDICTS.join(EVENTS, EVENTS.c.id == VERDICTS.c.event_id))
            .where(VERDICTS.c.post_id == post_id, VERDICTS.c.rules_version == EVENTS.c.rules_version)
            .order_by(EVENTS.c.start_date, EVENTS.c.id)
        ).all()
    )


def readable_post(*, session: Session, post_id: int, staff: bool, reporter_id: int | None) -> Post:
    """The post if the caller may read it: staff always, its reporter always, anyone else only when it
    is public, not deleted, not excluded, and its reporter is listed publicly; otherwise 404."""
    post = session.get(Post, post_id)
    if post is None:
        raise NotFound("post", post_id)
    if staff or (reporter_id is not None and post.reporter_id == reporter_id):
        return post
    owner = session.get(Reporter, post.reporter_id) if post.reporter_id is not None else None
    public = (
        post.visibility == "public"
        and post.deleted_at is None
        and not post.excluded
        and owner is not None
        and owner.deleted_at is None
        and owner.public_listing
    )
    if not public:
        raise NotFound("post", post_id)
    return post


# --- sources ------------------------------------------------------------------------------------


def get_source(*, session: Session, source_id: int) -> Source:
    source = session.get(Source, source_id)
    if source is None:
        raise NotFound("source", source_id)
    return source


def _clean_tags(tags: list[str]) -> list[str]:
    cleaned = []
    for tag in tags:
        value = tag.strip().lstrip("#").strip()
        if value and value not in cleaned:
            cleaned.append(value)
    return cleaned


def _check_token_env(token_env: str | None) -> None:
    if token_env is not None and not TOKEN_ENV_RE.match(token_env):
        raise InvalidInput(
            "token_env must name a variable like BIE_<NAME>_TOKEN (upper-case letters, digits, underscores)"
        )


def create_source(
    *,
    session: Session,
    platform: str,
    url: str | None,
    tags: list[str],
    query: str | None,
    handle: str | None,
    token_env: str | None,
    trusted: bool,
    interval_s: int,
    name: str,
    actor_id: int | None,
    actor_role: str | None,
) -> Source:
    """Add a source with the same defaults and validation as ``bie sources add`` (audited)."""
    platform = PLATFORM_ALIASES.get(platform.lower(), platform.lower())
    _check_token_env(token_env)
    if url is None:
        url = DEFAULT_URLS.get(platform)
        if url is None:
            raise InvalidInput("url is required for this platform")
    if platform == "x" and not query:
        query = DEFAULT_X_QUERY
    source = ingest.add_source(
        session=session,
        platform=platform,
        url=url,
        tags=tags,
        query=query,
        handle=handle,
        token_env=token_env,
        trusted=trusted,
        interval_s=interval_s,
        name=name,
    )
    audit.record(
        session=session,
        action="source.create",
        actor_id=actor_id,
        actor_role=actor_role,
        target_type="source",
        target_id=source.id,
        detail={"platform": source.platform, "url": source.url, "trusted": trusted, "tags": source.tags},
    )
    return source


def update_source(
    *,
    session: Session,
    source: Source,
    enabled: bool | None = None,
    interval_s: int | None = None,
    tags: list[str] | None = None,
    actor_id: int | None,
    actor_role: str | None,
) -> Source:
    """Enable or disable a source, change its interval or tags (validated like a new one; audited)."""
    before = {"enabled": source.enabled, "interval_s": source.interval_s, "tags": list(source.tags)}
    if interval_s is not None:
        if not MIN_INTERVAL_S <= interval_s <= MAX_INTERVAL_S:
            raise InvalidInput("interval_s must be between 30 seconds and 7 days")
        source.interval_s = interval_s
    if tags is not None:
        source.tags = _clean_tags(tags)
    if enabled is not None:
        if enabled and not source.enabled and source.next_run_at is None:
            source.next_run_at = datetime.now(UTC)
        source.enabled = enabled
    try:
        collector_for(Platform(source.platform)).validate(ingest.source_config(source))
    except InvalidSource as exc:
        raise InvalidInput(exc.reason) from None
    after = {"enabled": source.enabled, "interval_s": source.interval_s, "tags": list(source.tags)}
    session.add(source)
    session.flush()
    changes = {k: {"from": before[k], "to": after[k]} for k in before if before[k] != after[k]}
    audit.record(
        session=session,
        action="source.update",
        actor_id=actor_id,
        actor_role=actor_role,
        target_type="source",
        target_id=source.id,
        detail={"changes": changes},
    )
    return source


def collect_now(
    *,
    session: Session,
    source: Source,
    actor_id: int | None,
    actor_role: str | None,
    now: datetime | None = None,
) -> Source:
    """Schedule the source for the next scheduler tick (never blocks on the network; audited)."""
    now = now or datetime.now(UTC)
    if not source.enabled:
        raise Conflict(f"source {source.id} is disabled: enable it first")
    if source.health == "rate_limited" and source.next_run_at is not None and source.next_run_at > now:
        raise Conflict(
            f"source {source.id} is rate limited by its server until "
            f"{source.next_run_at.isoformat(timespec='seconds')}; it will run then"
        )
    previous = source.next_run_at
    source.next_run_at = now
    session.add(source)
    session.flush()
    audit.record(
        session=session,
        action="source.collect_now",
        actor_id=actor_id,
        actor_role=actor_role,
        target_type="source",
        target_id=source.id,
        detail={"previous_next_run_at": previous.isoformat() if previous else None},
    )
    return source


def health_state(source: Source, now: datetime | None = None) -> tuple[str, str]:
    """The source's state and a sentence for the health page."""
    now = now or datetime.now(UTC)
    when = source.next_run_at.isoformat(timespec="seconds") if source.next_run_at else "not scheduled"
    if not source.enabled:
        return "disabled", "disabled by staff; nothing is collected"
    overdue_after = timedelta(seconds=2 * source.interval_s + 300)
    if source.next_run_at is not None and now - source.next_run_at > overdue_after:
        return "overdue", f"due since {when} but not collected: is a worker running?"
    if source.health == "new":
        return "new", f"not collected yet; first run at {when}"
    if source.health == "ok":
        return "ok", f"collecting normally; next run at {when}"
    failures = source.consecutive_failures
    times = f"{failures} failure{'s' if failures != 1 else ''} in a row"
    if source.health == "rate_limited":
        return "rate_limited", f"rate limited by the server ({times}); next try at {when}"
    if source.health == "blocked":
        return "blocked", f"refused by the server ({times}); next try at {when}"
    return source.health, f"failing ({times}); next try at {when}"


def list_sources(*, session: Session, offset: int = 0, limit: int = 50) -> tuple[list[Source], int]:
    from sqlmodel import col
    from sqlmodel import select as orm_select

    total = int(session.execute(select(func.count()).select_from(SOURCES)).scalar_one())
    rows = session.exec(orm_select(Source).order_by(col(Source.id)).offset(offset).limit(limit)).all()
    return list(rows), total


def list_runs(
    *,
    session: Session,
    source_id: int | None = None,
    status: str | None = None,
    offset: int = 0,
    limit: int = 50,
) -> tuple[list[Any], int]:
    """Collector runs, newest first."""
    conditions: list[Any] = []
    if source_id is not None:
        conditions.append(RUNS.c.source_id == source_id)
    if status is not None:
        conditions.append(RUNS.c.status == status)
    total = int(session.execute(select(func.count()).select_from(RUNS).where(*conditions)).scalar_one())
    rows = session.execute(
        select(RUNS)
        .where(*conditions)
        .order_by(RUNS.c.started_at.desc(), RUNS.c.id.desc())
        .offset(offset)
        .limit(limit)
    ).all()
    return list(rows), total
