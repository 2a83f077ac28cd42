"""Freezes, prize categories, shortlists, rubrics, conflicts, judge scores, results (DESIGN §7)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from app.core.fields import json_field, utc_field


class Freeze(SQLModel, table=True):
    """A frozen leaderboard: rule set, the exact posts and verdicts, and their content hash."""

    __tablename__ = "freezes"
    __table_args__ = (UniqueConstraint("event_id", name="uq_freeze_event"),)

    id: int | None = Field(default=None, primary_key=True)
    event_id: int = Field(foreign_key="events.id", ondelete="CASCADE")
    rules_version: str = Field(max_length=32)
    frozen_at: datetime = utc_field(now=True)
    frozen_by: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    content_hash: str = Field(max_length=64)
    snapshot: dict[str, Any] = json_field(list_=False)


class PrizeCategory(SQLModel, table=True):
    __tablename__ = "prize_categories"
    __table_args__ = (UniqueConstraint("event_id", "slug", name="uq_category_slug"),)

    id: int | None = Field(default=None, primary_key=True)
    event_id: int = Field(foreign_key="events.id", index=True, ondelete="CASCADE")
    slug: str = Field(max_length=64)
    name: str = Field(max_length=200)
    description: str = Field(default="", max_length=2000)
    kind: str = Field(default="overall", max_length=16)  # overall | article | visual | newcomer
    shortlist_size: int = 10
    auto_weight_percent: int = 30  # weight of the automatic score in the combined result
    blind: bool = False
    published_at: datetime | None = utc_field()
    published_by: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    results: dict[str, Any] = json_field(list_=False)


class RubricCriterion(SQLModel, table=True):
    __tablename__ = "rubric_criteria"

    id: int | None = Field(default=None, primary_key=True)
    category_id: int = Field(foreign_key="prize_categories.id", index=True, ondelete="CASCADE")
    name: str = Field(max_length=200)
    description: str = Field(default="", max_length=2000)
    weight: int = 1


class ShortlistEntry(SQLModel, table=True):
    __tablename__ = "shortlist_entries"
    __table_args__ = (UniqueConstraint("category_id", "reporter_id", name="uq_shortlist_entry"),)

    id: int | None = Field(default=None, primary_key=True)
    category_id: int = Field(foreign_key="prize_categories.id", index=True, ondelete="CASCADE")
    reporter_id: int = Field(foreign_key="reporters.id", ondelete="CASCADE")
    post_id: int | None = Field(default=None, foreign_key="posts.id", ondelete="SET NULL")
    auto_score: int = 0  # thousandths, from the freeze
    added_by: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    added_at: datetime = utc_field(now=True)


class JudgeConflict(SQLModel, table=True):
    __tablename__ = "judge_conflicts"
    __table_args__ = (UniqueConstraint("judge_id", "entry_id", name="uq_conflict"),)

    id: int | None = Field(default=None, primary_key=True)
    judge_id: int = Field(foreign_key="users.id", index=True, ondelete="CASCADE")
    entry_id: int = Field(foreign_key="shortlist_entries.id", ondelete="CASCADE")
    reason: str = Field(default="", max_length=1000)
    declared_at: datetime = utc_field(now=True)


class JudgeScore(SQLModel, table=True):
    __tablename__ = "judge_scores"
    __table_args__ = (UniqueConstraint("entry_id", "judge_id", "criterion_id", name="uq_judge_score"),)

    id: int | None = Field(default=None, primary_key=True)
    entry_id: int = Field(foreign_key="shortlist_entries.id", index=True, ondelete="CASCADE")
    judge_id: int = Field(foreign_key="users.id", index=True, ondelete="CASCADE")
    criterion_id: int = Field(foreign_key="rubric_criteria.id", ondelete="CASCADE")
    score: int  # 1..5
    comment: str = Field(default="", max_length=2000)
    scored_at: datetime = utc_field(now=True)
