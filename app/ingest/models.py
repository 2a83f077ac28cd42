"""Sources, collector runs, posts and what was seen of them (DESIGN §3)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.core.fields import json_field, utc_field


class Source(SQLModel, table=True):
    """(platform, endpoint, what to follow), with its cursor, lease and health."""

    __tablename__ = "sources"

    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=16, index=True)
    name: str = Field(default="", max_length=200)
    url: str = Field(max_length=1000)
    tags: list[str] = json_field()
    query: str | None = Field(default=None, max_length=1000)
    handle: str | None = Field(default=None, max_length=300)
    token_env: str | None = Field(default=None, max_length=100)  # name of the env var, never the secret
    trusted: bool = False
    enabled: bool = True
    interval_s: int = 300
    cursor: dict[str, Any] = json_field(list_=False)
    lease_owner: str | None = Field(default=None, max_length=200)
    lease_expires_at: datetime | None = utc_field()
    next_run_at: datetime | None = utc_field(index=True)
    last_run_at: datetime | None = utc_field()
    last_success_at: datetime | None = utc_field()
    consecutive_failures: int = 0
    last_error: str | None = Field(default=None, sa_type=Text)
    health: str = Field(default="new", max_length=16)  # new | ok | failing | blocked | rate_limited
    created_at: datetime = utc_field(now=True)


class CollectorRun(SQLModel, table=True):
    __tablename__ = "collector_runs"
    __table_args__ = (Index("ix_collector_runs_source_started", "source_id", "started_at"),)

    id: int | None = Field(default=None, primary_key=True)
    source_id: int = Field(foreign_key="sources.id", ondelete="CASCADE")
    kind: str = Field(default="collect", max_length=16)  # collect | recheck | engagement
    worker: str | None = Field(default=None, max_length=200)
    started_at: datetime = utc_field(now=True)
    finished_at: datetime | None = utc_field()
    status: str = Field(default="running", max_length=16)  # running | ok | failed | partial
    requests: int = 0
    new_posts: int = 0
    updated_posts: int = 0
    errors: int = 0
    rate_limit_waits: int = 0
    rate_limit_wait_s: float = 0.0
    error: str | None = Field(default=None, sa_type=Text)


class Post(SQLModel, table=True):
    """One post, unique by (platform, global key), whichever server or source it came through."""

    __tablename__ = "posts"
    __table_args__ = (
        UniqueConstraint("platform", "global_key", name="uq_posts_platform_key"),
        Index("ix_posts_reporter_created", "reporter_id", "created_at"),
        Index("ix_posts_author_key", "author_key"),
        Index("ix_posts_next_recheck", "next_recheck_at"),
        Index("ix_posts_created", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=16)
    global_key: str = Field(max_length=1000)
    local_id: str = Field(max_length=200)
    source_id: int | None = Field(default=None, foreign_key="sources.id", ondelete="SET NULL")
    url: str | None = Field(default=None, max_length=2000)
    author_key: str = Field(max_length=500)
    author_name: str | None = Field(default=None, max_length=300)
    account_id: int | None = Field(default=None, foreign_key="accounts.id", ondelete="SET NULL")
    reporter_id: int | None = Field(default=None, foreign_key="reporters.id", ondelete="SET NULL")
    created_at: datetime = utc_field(nullable=False)
    edited_at: datetime | None = utc_field()
    deleted_at: datetime | None = utc_field()
    first_seen_at: datetime = utc_field(now=True)
    last_seen_at: datetime = utc_field(now=True)
    text: str = Field(default="", sa_type=Text)
    html: str | None = Field(default=None, sa_type=Text)
    tags: list[str] = json_field()
    media_count: int = 0
    kind: str = Field(default="post", max_length=16)
    visibility: str = Field(default="public", max_length=16)
    likes: int = 0
    reposts: int = 0
    replies: int = 0
    language: str | None = Field(default=None, max_length=16)
    version: str | None = Field(default=None, max_length=200)
    repost_of: str | None = Field(default=None, max_length=1000)
    raw: dict[str, Any] = json_field(list_=False)
    excluded: bool = False
    excluded_reason: str | None = Field(default=None, max_length=1000)
    excluded_by: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    excluded_at: datetime | None = utc_field()
    recheck_stage: int = 0  # 0: +1 h due, 1: +1 day, 2: +7 days, 3: done
    next_recheck_at: datetime | None = utc_field()
    missing_count: int = 0  # consecutive re-checks that did not find it (Bluesky: gone after 2)
    claimed_by: int | None = Field(default=None, foreign_key="reporters.id", ondelete="SET NULL")


class PostSighting(SQLModel, table=True):
    """Where a post was seen: the server-local id per source (Mastodon ids differ per server)."""

    __tablename__ = "post_sightings"
    __table_args__ = (UniqueConstraint("post_id", "source_id", name="uq_sighting"),)

    id: int | None = Field(default=None, primary_key=True)
    post_id: int = Field(foreign_key="posts.id", index=True, ondelete="CASCADE")
    source_id: int = Field(foreign_key="sources.id", index=True, ondelete="CASCADE")
    local_id: str = Field(max_length=200)
    seen_at: datetime = utc_field(now=True)


class PostEngagement(SQLModel, table=True):
    """A named like, repost or reply, so scoring can leave out engagement traded between reporters."""

    __tablename__ = "post_engagements"
    __table_args__ = (UniqueConstraint("post_id", "account_key", "kind", name="uq_engagement"),)

    id: int | None = Field(default=None, primary_key=True)
    post_id: int = Field(foreign_key="posts.id", index=True, ondelete="CASCADE")
    account_key: str = Field(max_length=500, index=True)
    kind: str = Field(max_length=8)  # like | repost | reply
    seen_at: datetime = utc_field(now=True)


class PostClaim(SQLModel, table=True):
    """A reporter's missed-post claim: a URL to fetch and verify."""

    __tablename__ = "post_claims"

    id: int | None = Field(default=None, primary_key=True)
    reporter_id: int = Field(foreign_key="reporters.id", index=True, ondelete="CASCADE")
    event_id: int | None = Field(default=None, foreign_key="events.id", ondelete="SET NULL")
    url: str = Field(max_length=2000)
    state: str = Field(default="pending", max_length=16)  # pending | accepted | rejected
    reason: str | None = Field(default=None, max_length=1000)
    post_id: int | None = Field(default=None, foreign_key="posts.id", ondelete="SET NULL")
    created_at: datetime = utc_field(now=True)
    decided_at: datetime | None = utc_field()
