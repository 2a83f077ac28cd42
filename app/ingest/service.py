"""The ingest pipeline: run a collector against a source, page by page, loss-free and duplicate-free.

Each page is written with its cursor in one transaction, guarded by the source's lease: killed at any
instant, the next run resumes from the last committed cursor; upserts by (platform, global key) make
a page seen twice harmless. A run that fails marks the source's health and schedules a retry with
jittered exponential backoff (or at the rate limit's reset) without touching other sources.
"""

from __future__ import annotations

import logging
import os
import random
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from app.core import metrics
from app.core.db import writing
from app.core.errors import InvalidInput, NotFound
from app.core.settings import Settings, get_settings
from app.ingest import repository as repo
from app.ingest.models import CollectorRun, Post, PostSighting, Source
from app.reporters.models import Account, VerificationState
from app.scoring.dirty import mark_posts_dirty
from collectors.base import (
    Clock,
    CollectorError,
    InvalidSource,
    Platform,
    PostRef,
    RateLimited,
    SourceBlocked,
    SourceConfig,
    SystemClock,
)
from collectors.registry import collector_for

log = logging.getLogger(__name__)

MAX_BACKOFF = timedelta(hours=6)
BLOCKED_BACKOFF = timedelta(hours=1)
RECHECK_BATCH = 100

AfterPage = Callable[[Engine], None]


def worker_identity() -> str:
    settings = get_settings()
    return settings.worker_id or f"{socket.gethostname()}:{os.getpid()}"


def source_config(source: Source, settings: Settings | None = None) -> SourceConfig:
    """The collector's view of a source, with its secret read from the environment now."""
    settings = settings or get_settings()
    token: str | None = None
    if source.token_env:
        token = os.environ.get(source.token_env) or None
    elif source.platform == Platform.BLUESKY and settings.bluesky_app_password is not None:
        token = settings.bluesky_app_password.get_secret_value()
    elif source.platform == Platform.X and settings.x_bearer_token is not None:
        token = settings.x_bearer_token.get_secret_value()
    handle = source.handle
    if source.platform == Platform.BLUESKY and handle is None:
        handle = settings.bluesky_handle
    return SourceConfig(
        platform=Platform(source.platform),
        url=source.url,
        tags=tuple(source.tags),
        query=source.query,
        handle=handle,
        token=token,
        trusted=source.trusted,
    )


@dataclass(slots=True)
class RunSummary:
    source_id: int
    run_id: int | None
    status: str
    pages: int = 0
    requests: int = 0
    new: int = 0
    updated: int = 0
    rate_limit_waits: int = 0
    error: str | None = None
    touched_reporters: set[int] = field(default_factory=set)


def backoff_delay(failures: int, interval_s: int, rng: random.Random | None = None) -> timedelta:
    """Jittered exponential backoff: interval · 2^(failures−1), capped, ±25 %."""
    rng = rng or random.Random()
    base = min(timedelta(seconds=interval_s) * (2 ** max(0, failures - 1)), MAX_BACKOFF)
    jittered: timedelta = base * rng.uniform(0.75, 1.25)
    return jittered


def describe(exc: BaseException) -> str:
    """An error in words for the sources' health page."""
    if isinstance(exc, RateLimited):
        return f"rate limited by the server until {exc.reset_at.isoformat(timespec='seconds')}"
    if isinstance(exc, SourceBlocked):
        return f"refused by the server: {exc.reason}"
    if isinstance(exc, InvalidSource):
        return f"the source's settings cannot work: {exc.reason}"
    if isinstance(exc, CollectorError):
        reason = getattr(exc, "reason", str(exc))
        return f"{type(exc).__name__}: {reason}"
    return f"unexpected {type(exc).__name__}: {exc}"


def collect_source(
    *,
    engine: Engine,
    source_id: int,
    owner: str | None = None,
    clock: Clock | None = None,
    after_page: AfterPage | None = None,
    collector_options: dict[str, Any] | None = None,
    on_page: Callable[[RunSummary], None] | None = None,
    force: bool = False,
) -> RunSummary:
    """Run one collection pass over a source under its lease (``force`` ignores its backoff)."""
    settings = get_settings()
    owner = owner or worker_identity()
    clock = clock or SystemClock()
    lease = timedelta(seconds=settings.lease_s)
    now = clock.now()
    with Session(engine) as session:
        source = session.get(Source, source_id)
        if source is None:
            raise NotFound("source", source_id)
        if not force and source.next_run_at is not None and source.next_run_at > now:
            return RunSummary(source_id, None, "not_due")
    if not repo.claim_lease(engine, source_id=source_id, owner=owner, now=now, lease=lease):
        return RunSummary(source_id, None, "leased_elsewhere")

    with Session(writing(engine), expire_on_commit=False) as session:
        source = session.get(Source, source_id)
        assert source is not None
        run = CollectorRun(source_id=source_id, worker=owner, started_at=now)
        session.add(run)
        source.last_run_at = now
        session.add(source)
        session.commit()
        config = source_config(source, settings)
        cursor = dict(source.cursor or {})
        platform = Platform(source.platform)
        interval_s = source.interval_s

    summary = RunSummary(source_id, run.id, "running")
    failure: BaseException | None = None
    try:
        collector = collector_for(platform, clock=clock, **(collector_options or {}))
        collector.validate(config)
        for page in collector.fetch(config, cursor or None):
            page_now = clock.now()
            with Session(writing(engine)) as session:
                outcome = repo.upsert_posts(session, source_id=source_id, posts=page.posts, now=page_now)
                if not repo.renew_lease(
                    session,
                    source_id=source_id,
                    owner=owner,
                    now=page_now,
                    lease=lease,
                    cursor=dict(page.cursor),
                ):
                    session.rollback()
                    raise LeaseLost(source_id)
                summary.pages += 1
                summary.requests += page.requests
                summary.new += outcome.new
                summary.updated += outcome.updated
                summary.touched_reporters |= outcome.touched_reporters
                if page.rate_limit_wait_s > 0:
                    summary.rate_limit_waits += 1
                    metrics.RATE_LIMIT_WAITS.labels(platform.value).inc()
                metrics.POSTS_INGESTED.labels(platform.value).inc(outcome.new + outcome.updated)
                _update_run(session, run.id, summary, page.rate_limit_wait_s)
                session.commit()
            if after_page is not None:
                after_page(engine)
            if on_page is not None:
                on_page(summary)
    except LeaseLost as exc:
        failure = exc
    except Exception as exc:  # noqa: BLE001  (any failure is recorded on the source, never raised past the run)
        failure = exc
        if not isinstance(exc, CollectorError):
            log.exception("collector crashed on source %s", source_id)
    _finish(
        engine,
        source_id=source_id,
        owner=owner,
        run_id=run.id,
        summary=summary,
        failure=failure,
        now=clock.now(),
        interval_s=interval_s,
    )
    return summary


class LeaseLost(Exception):
    def __init__(self, source_id: int) -> None:
        super().__init__(f"lease on source {source_id} was taken over")


def _update_run(session: Session, run_id: int | None, summary: RunSummary, wait_s: float) -> None:
    run = session.get(CollectorRun, run_id)
    if run is None:
        return
    run.requests, run.new_posts, run.updated_posts = summary.requests, summary.new, summary.updated
    run.rate_limit_waits = summary.rate_limit_waits
    run.rate_limit_wait_s += wait_s
    session.add(run)


def _finish(
    engine: Engine,
    *,
    source_id: int,
    owner: str,
    run_id: int | None,
    summary: RunSummary,
    failure: BaseException | None,
    now: datetime,
    interval_s: int,
) -> None:
    with Session(writing(engine)) as session:
        source = session.get(Source, source_id)
        run = session.get(CollectorRun, run_id)
        assert source is not None
        if failure is None:
            summary.status = "ok"
            source.health = "ok"
            source.consecutive_failures = 0
            source.last_error = None
            source.last_success_at = now
            source.next_run_at = now + timedelta(seconds=interval_s)
        elif isinstance(failure, LeaseLost):
            summary.status = "lease_lost"
            summary.error = str(failure)
        else:
            summary.error = describe(failure)
            summary.status = "partial" if summary.pages else "failed"
            source.consecutive_failures += 1
            source.last_error = summary.error
            if isinstance(failure, RateLimited):
                source.health = "rate_limited"
                source.next_run_at = max(failure.reset_at, now + timedelta(seconds=1))
            elif isinstance(failure, SourceBlocked | InvalidSource):
                source.health = "blocked"
                source.next_run_at = now + max(
                    BLOCKED_BACKOFF, backoff_delay(source.consecutive_failures, interval_s)
                )
            else:
                source.health = "failing"
                source.next_run_at = now + backoff_delay(source.consecutive_failures, interval_s)
        metrics.COLLECTOR_RUNS.labels(source.platform, _metric_status(failure)).inc()
        metrics.SOURCE_HEALTH.labels(str(source_id), source.platform).set(1 if source.health == "ok" else 0)
        if run is not None:
            run.finished_at = now
            run.status = summary.status
            run.error = summary.error
            run.errors = 0 if failure is None else 1
            session.add(run)
        session.add(source)
        repo.release_lease(session, source_id=source_id, owner=owner)
        session.commit()


def _metric_status(failure: BaseException | None) -> str:
    if failure is None:
        return "ok"
    if isinstance(failure, RateLimited):
        return "rate_limited"
    if isinstance(failure, SourceBlocked | InvalidSource):
        return "blocked"
    return "failed"


# --- re-checks and engagement -----------------------------------------------------------------------


@dataclass(slots=True)
class RecheckSummary:
    checked: int = 0
    deleted: int = 0
    updated: int = 0
    missing: int = 0
    errors: list[str] = field(default_factory=list)


def recheck_due(
    *,
    engine: Engine,
    clock: Clock | None = None,
    limit: int = 1000,
    post_ids: list[int] | None = None,
    collector_options: dict[str, Any] | None = None,
) -> RecheckSummary:
    """Re-check posts due (+1 h, +1 day, +7 days) or the given posts: deletions, edits, engagement."""
    clock = clock or SystemClock()
    now = clock.now()
    summary = RecheckSummary()
    with Session(engine, expire_on_commit=False) as session:
        if post_ids is not None:
            posts = [
                p for pid in post_ids if (p := session.get(Post, pid)) is not None and p.deleted_at is None
            ]
        else:
            posts = repo.posts_due_for_recheck(session, now=now, limit=limit)
        # ask the server a post was seen on, in that server's ids
        work: dict[int, list[tuple[Post, str]]] = {}
        for post in posts:
            sighting = session.exec(select(PostSighting).where(col(PostSighting.post_id) == post.id)).first()
            source_id = sighting.source_id if sighting else post.source_id
            if source_id is None:
                continue
            work.setdefault(source_id, []).append((post, sighting.local_id if sighting else post.local_id))
        sources = {sid: session.get(Source, sid) for sid in work}
        verified_accounts = set(
            session.exec(select(Account.id).where(col(Account.state) == VerificationState.VERIFIED)).all()
        )
    for source_id, items in work.items():
        source = sources[source_id]
        if source is None:
            continue
        config = source_config(source)
        collector = collector_for(Platform(source.platform), clock=clock, **(collector_options or {}))
        for start in range(0, len(items), RECHECK_BATCH):
            batch = items[start : start + RECHECK_BATCH]
            refs = [PostRef(global_key=p.global_key, local_id=local_id, url=p.url) for p, local_id in batch]
            by_key = {p.global_key: p for p, _ in batch}
            try:
                results = list(collector.recheck(config, refs))
                engaged = [p for p, _ in batch if p.account_id in verified_accounts]
                engagement = (
                    list(
                        collector.fetch_engagement(
                            config, [PostRef(p.global_key, lid, p.url) for p, lid in batch if p in engaged]
                        )
                    )
                    if engaged
                    else []
                )
            except CollectorError as exc:
                summary.errors.append(f"source {source_id}: {describe(exc)}")
                continue
            with Session(writing(engine)) as session:
                fresh = []
                for result in results:
                    known = by_key.get(result.ref.global_key)
                    if known is None:
                        continue
                    summary.checked += 1
                    stored = session.get(Post, known.id)
                    if stored is None:
                        continue
                    if result.post is None:
                        stored.missing_count += 1
                        summary.missing += 1
                        if result.gone or stored.missing_count >= 2:
                            repo.mark_deleted(session, post_id=stored.id, now=now)  # type: ignore[arg-type]  # stored rows have ids
                            summary.deleted += 1
                    else:
                        fresh.append(result.post)
                    _advance_recheck(stored, now)
                    session.add(stored)
                if fresh:
                    outcome = repo.upsert_posts(session, source_id=None, posts=fresh, now=now)
                    summary.updated += outcome.updated
                for item in engagement:
                    engaged_post = by_key.get(item.global_key)
                    if engaged_post is not None and engaged_post.id is not None:
                        repo.store_engagement(session, post_id=engaged_post.id, engagement=item)
                        if engaged_post.reporter_id is not None:
                            mark_posts_dirty(session, [(engaged_post.reporter_id, engaged_post.created_at)])
                session.commit()
    return summary


def _advance_recheck(post: Post, now: datetime) -> None:
    stage, due = repo.next_recheck(post.created_at, now)
    post.recheck_stage = stage
    post.next_recheck_at = due


# --- sources ---------------------------------------------------------------------------------------


def add_source(
    *,
    session: Session,
    platform: str,
    url: str,
    tags: list[str] | None = None,
    query: str | None = None,
    handle: str | None = None,
    token_env: str | None = None,
    trusted: bool = False,
    interval_s: int = 300,
    name: str = "",
    validate: bool = True,
) -> Source:
    """Add a source after the collector has validated its settings (no network)."""
    try:
        platform_enum = Platform(platform)
    except ValueError:
        raise InvalidInput(
            f"unknown platform {platform!r}: use one of {', '.join(p.value for p in Platform)}"
        ) from None
    if interval_s < 30 or interval_s > 7 * 86400:
        raise InvalidInput("--every must be between 30 seconds and 7 days")
    clean_tags = [t.lstrip("#").strip() for t in tags or [] if t.strip().lstrip("#")]
    source = Source(
        platform=platform_enum.value,
        url=url.strip(),
        tags=clean_tags,
        query=query,
        handle=handle,
        token_env=token_env,
        trusted=trusted,
        interval_s=interval_s,
        name=name or url.strip(),
        next_run_at=datetime.now(UTC),
    )
    if validate:
        try:
            collector_for(platform_enum).validate(source_config(source))
        except InvalidSource as exc:
            raise InvalidInput(exc.reason) from None
    session.add(source)
    session.flush()
    return source
