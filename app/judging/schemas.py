"""Judging schemas: what staff and judges send, and what each role reads."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.core.api import SafeStr

CATEGORY_SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}[a-z0-9]$|^[a-z0-9]$")
Kind = Literal["overall", "article", "visual", "newcomer"]


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class FreezeRequest(_Input):
    reason: SafeStr | None = Field(
        default=None, max_length=1000, description="Required to freeze before the judging deadline."
    )


class FreezePublic(BaseModel):
    event: str
    content_hash: str
    frozen_at: datetime
    rules_version: str
    reporters: int
    posts: int


class FreezeVerificationPublic(BaseModel):
    ok: bool
    content_hash: str
    snapshot_hash: str
    recomputed_hash: str
    rules_version: str
    rules_unchanged: bool
    differences: list[str]


class CriterionIn(_Input):
    name: SafeStr = Field(min_length=1, max_length=200)
    description: SafeStr = Field(default="", max_length=2000)
    weight: int = Field(default=1, ge=1, le=100)


class CriterionPublic(BaseModel):
    id: int
    name: str
    description: str
    weight: int


def _category_slug(value: str) -> str:
    value = value.lower()
    if not CATEGORY_SLUG_RE.match(value):
        raise ValueError("a category slug is 1–64 lower-case letters, digits and dashes, e.g. best-article")
    return value


class CategoryCreate(_Input):
    slug: str = Field(max_length=64)
    name: SafeStr = Field(min_length=1, max_length=200)
    description: SafeStr = Field(default="", max_length=2000)
    kind: Kind = "overall"
    shortlist_size: int = Field(default=10, ge=1, le=100)
    auto_weight_percent: int = Field(default=30, ge=0, le=100)
    blind: bool = False
    criteria: list[CriterionIn] = Field(min_length=1, max_length=20)

    @field_validator("slug")
    @classmethod
    def _slug(cls, value: str) -> str:
        return _category_slug(value)


class CategoryUpdate(_Input):
    slug: str | None = Field(default=None, max_length=64)
    name: SafeStr | None = Field(default=None, min_length=1, max_length=200)
    description: SafeStr | None = Field(default=None, max_length=2000)
    kind: Kind | None = None
    shortlist_size: int | None = Field(default=None, ge=1, le=100)
    auto_weight_percent: int | None = Field(default=None, ge=0, le=100)
    blind: bool | None = None
    criteria: list[CriterionIn] | None = Field(default=None, min_length=1, max_length=20)

    @field_validator("slug")
    @classmethod
    def _slug(cls, value: str | None) -> str | None:
        return None if value is None else _category_slug(value)


class CategoryPublic(BaseModel):
    id: int
    event: str
    slug: str
    name: str
    description: str
    kind: str
    shortlist_size: int
    auto_weight_percent: int
    blind: bool
    criteria: list[CriterionPublic]
    published_at: datetime | None


class ShortlistAdd(_Input):
    reporter_id: int = Field(ge=1, le=2_147_483_647)
    reason: SafeStr = Field(min_length=1, max_length=1000)


class ReporterRef(BaseModel):
    id: int
    name: str | None


class EntryPost(BaseModel):
    """A frozen post; in blind mode only platform, kind, day, tags, media count and masked text."""

    platform: str
    kind: str
    day: str
    text: str
    tags: list[str]
    media_count: int
    post_id: int | None = None
    url: str | None = None
    author_key: str | None = None
    author_name: str | None = None
    created_at: datetime | None = None
    likes: int | None = None
    reposts: int | None = None
    replies: int | None = None
    points: float | None = None


class EntryPublic(BaseModel):
    """A shortlisted entry; blind: only its id and masked posts (identity fields are absent)."""

    id: int
    posts: list[EntryPost]
    posts_total: int
    reporter: ReporterRef | None = None
    handles: list[str] | None = None
    auto_score: float | None = None
    auto_score_thousandths: int | None = None
    rank: int | None = None
    added_by_staff: bool | None = None
    conflict: bool | None = None
    scored: bool | None = None


class WorkspaceCategory(BaseModel):
    event: str
    category: CategoryPublic
    published: bool
    entries: list[EntryPublic]


class ScoreIn(_Input):
    criterion_id: int = Field(ge=1, le=2_147_483_647)
    score: int = Field(ge=1, le=5, strict=True)
    comment: SafeStr = Field(default="", max_length=2000)


class ScoresIn(_Input):
    scores: list[ScoreIn] = Field(min_length=1, max_length=50)


class ScorePublic(BaseModel):
    entry_id: int
    criterion_id: int
    score: int
    comment: str
    scored_at: datetime


class ConflictIn(_Input):
    reason: SafeStr = Field(default="", max_length=1000)


class ConflictPublic(BaseModel):
    entry_id: int
    reason: str
    declared_at: datetime


class JudgeEntryScore(BaseModel):
    judge_id: int
    score: str


class PublicResultEntry(BaseModel):
    entry_id: int
    position: int
    shared_rank: int
    tied: bool
    combined: str
    judge_component: str
    automatic_component: str
    automatic_score: float
    automatic_score_thousandths: int
    judge_count: int
    reporter: ReporterRef
    post_id: int | None


class ResultEntry(PublicResultEntry):
    judge_scores: list[JudgeEntryScore]


class IncompleteScores(BaseModel):
    judge_id: int
    entry_id: int
    missing: int


class CategoryResults(BaseModel):
    """Staff preview: computed now (or as published), with each judge's entry score."""

    event: str
    category: str
    kind: str
    freeze_hash: str
    automatic_weight_percent: int
    computed_at: str
    published_at: datetime | None = None
    entries: list[ResultEntry]
    ties: list[list[int]]
    incomplete: list[IncompleteScores]
    conflicts: int


class CategoryRef(BaseModel):
    slug: str
    name: str
    kind: str


class PublishedResults(BaseModel):
    """Public results of one category: no individual judge's scores."""

    category: CategoryRef
    published_at: datetime | None
    freeze_hash: str | None
    automatic_weight_percent: int | None
    entries: list[PublicResultEntry]
    ties: list[list[int]]
