"""Rule sets, per-post verdicts and leaderboard entries, per (event, rule-set version)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Index, Text, UniqueConstraint
from sqlalchemy import text as sql_text
from sqlmodel import Field, SQLModel

from app.core.fields import json_field, utc_field


class RuleSet(SQLModel, table=True):
    """A rule set copied into the database; a change of rules is a new version, never an edit."""

    __tablename__ = "rule_sets"

    id: int | None = Field(default=None, primary_key=True)
    version: str = Field(max_length=32, unique=True)
    toml: str = Field(sa_type=Text)
    sha256: str = Field(max_length=64)
    created_at: datetime = utc_field(now=True)


class PostVerdict(SQLModel, table=True):
    __tablename__ = "post_verdicts"
    __table_args__ = (
        UniqueConstraint("event_id", "rules_version", "post_id", name="uq_verdict"),
        Index("ix_verdicts_event_reporter", "event_id", "rules_version", "reporter_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    event_id: int = Field(foreign_key="events.id", ondelete="CASCADE")
    rules_version: str = Field(max_length=32)
    post_id: int = Field(foreign_key="posts.id", index=True, ondelete="CASCADE")
    reporter_id: int | None = Field(default=None, foreign_key="reporters.id", ondelete="CASCADE")
    counted: bool = False
    points: int = 0  # thousandths, after the daily cap
    base_points: int = 0
    engagement_points: int = 0
    reasons: list[str] = json_field()
    day: date | None = None  # the post's day in the event's time zone
    computed_at: datetime = utc_field(now=True)
    # A post passing every check but `duplicate`: its shingle count and near-copy prefix (see
    # scoring.engine.PostVerdict), what a new post of the same reporter is compared with.
    shingle_count: int | None = None
    shingle_prefix: str | None = Field(default=None, sa_type=Text)


class LeaderboardEntry(SQLModel, table=True):
    __tablename__ = "leaderboard_entries"
    __table_args__ = (
        UniqueConstraint("event_id", "rules_version", "reporter_id", name="uq_leaderboard_entry"),
        Index("ix_leaderboard_rank", "event_id", "rules_version", "rank"),
    )

    id: int | None = Field(default=None, primary_key=True)
    event_id: int = Field(foreign_key="events.id", ondelete="CASCADE")
    rules_version: str = Field(max_length=32)
    reporter_id: int = Field(foreign_key="reporters.id", ondelete="CASCADE")
    rank: int
    previous_rank: int | None = None
    movement: int | None = None
    score: int = 0  # thousandths
    ranked_score: int | None = None  # the score when last ranked: a change is a point of its history
    posts_counted: int = 0
    days_covered: int = 0
    platforms: list[str] = json_field()
    first_counted_at: datetime | None = utc_field()
    breakdown: dict[str, Any] = json_field(list_=False)
    computed_at: datetime = utc_field(now=True)


class ScoreHistory(SQLModel, table=True):
    """A reporter's score and rank each time they changed (the score-over-time chart)."""

    __tablename__ = "score_history"
    __table_args__ = (Index("ix_score_history_event_reporter", "event_id", "reporter_id", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    event_id: int = Field(foreign_key="events.id", ondelete="CASCADE")
    reporter_id: int = Field(foreign_key="reporters.id", ondelete="CASCADE")
    at: datetime = utc_field(now=True)
    score: int
    rank: int


# ``ScoreDirty.event_id`` of a reporter whose change may touch every event they take part in.
EVERY_EVENT = 0


class ScoreDirty(SQLModel, table=True):
    """A reporter whose posts changed since their last scoring (written with the ingest page), for one
    event, or for every event they take part in when ``event_id`` is ``EVERY_EVENT`` (registrations,
    verifications, moderation). No foreign key on ``event_id``: 0 names no event, and a queued row of a
    deleted event is simply skipped."""

    __tablename__ = "score_dirty"
    __table_args__ = (UniqueConstraint("reporter_id", "event_id", name="uq_score_dirty_reporter_event"),)

    id: int | None = Field(default=None, primary_key=True)
    reporter_id: int = Field(foreign_key="reporters.id", ondelete="CASCADE")
    event_id: int = Field(default=EVERY_EVENT, sa_column_kwargs={"server_default": "0"})
    marked_at: datetime = utc_field(now=True)
    # Only new posts arrived since the last scoring (nothing stored changed): they may extend the
    # stored result (``scoring.extend_reporter``) instead of a full re-score of the reporter.
    only_new: bool = Field(default=False, sa_column_kwargs={"server_default": sql_text("false")})


class ScoreNewPost(SQLModel, table=True):
    """A post inserted since its reporter was last scored for an event, queued with the event's
    ``only_new`` mark in the same transaction: the scorer extends the stored result with exactly these
    posts instead of searching every post of the reporter for those without a verdict."""

    __tablename__ = "score_new_posts"
    __table_args__ = (Index("ix_score_new_posts_reporter_event", "reporter_id", "event_id"),)

    id: int | None = Field(default=None, primary_key=True)
    reporter_id: int = Field(foreign_key="reporters.id", ondelete="CASCADE")
    event_id: int  # no foreign key, as ``ScoreDirty.event_id``
    post_id: int = Field(foreign_key="posts.id", ondelete="CASCADE")


class ScoreDigest(SQLModel, table=True):
    """A digest of what was last written for one reporter in one event (verdicts and entry), so that a
    re-score whose result did not change writes nothing."""

    __tablename__ = "score_digests"

    event_id: int = Field(foreign_key="events.id", ondelete="CASCADE", primary_key=True)
    rules_version: str = Field(max_length=32, primary_key=True)
    reporter_id: int = Field(foreign_key="reporters.id", ondelete="CASCADE", primary_key=True)
    digest: str = Field(max_length=64)
