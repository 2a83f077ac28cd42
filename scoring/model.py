"""Input facts for scoring: the event, its reporters and their posts, as frozen values.

The app builds these from database rows; scoring never sees the database.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from zoneinfo import ZoneInfo

__all__ = [
    "EventSpec",
    "PostFacts",
    "PostKind",
    "ReporterFacts",
    "Visibility",
]


class PostKind(StrEnum):
    """What a collected item is; only `repost` never counts."""

    POST = "post"
    REPLY = "reply"
    QUOTE = "quote"
    REPOST = "repost"
    ARTICLE = "article"


class Visibility(StrEnum):
    """Audience of a post; only `public` counts."""

    PUBLIC = "public"
    UNLISTED = "unlisted"
    PRIVATE = "private"
    DIRECT = "direct"


_KINDS = frozenset(kind.value for kind in PostKind)
_VISIBILITIES = frozenset(visibility.value for visibility in Visibility)


def _require_aware(value: datetime, what: str) -> None:
    if value.tzinfo is UTC:
        return  # the common case, without the cost of utcoffset()
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} must be a timezone-aware datetime, got {value!r}")


@dataclass(frozen=True, kw_only=True)
class EventSpec:
    """An event as scoring needs it; `None` overrides fall back to the rule set's defaults."""

    id: int
    slug: str
    start: date
    end: date
    timezone: str
    event_tag: str | None = None
    require_event_tag: bool = False
    fee: Decimal | None = None
    currency: str | None = None
    subsidy_cap: Decimal | None = None
    min_posts: int | None = None
    min_event_days: int | None = None
    min_blog_articles: int | None = None
    subsidy_share_percent: int | None = None
    rules_version: str = "2026.1"

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"event {self.slug}: end {self.end} is before start {self.start}")
        ZoneInfo(self.timezone)  # raises ZoneInfoNotFoundError for an unknown zone
        if self.require_event_tag and not self.event_tag:
            raise ValueError(f"event {self.slug}: require_event_tag needs an event_tag")
        for name in ("fee", "subsidy_cap"):
            amount = getattr(self, name)
            if amount is not None and (not amount.is_finite() or amount < 0):
                raise ValueError(f"event {self.slug}: {name} must be a non-negative amount")
        for name in ("min_posts", "min_event_days", "min_blog_articles"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ValueError(f"event {self.slug}: {name} must not be negative")
        share = self.subsidy_share_percent
        if share is not None and not 0 <= share <= 100:
            raise ValueError(f"event {self.slug}: subsidy_share_percent must be 0..100")

    @property
    def zone(self) -> ZoneInfo:
        """Return the event's time zone."""
        return ZoneInfo(self.timezone)

    @property
    def event_days(self) -> tuple[date, ...]:
        """Return every event day, start to end inclusive."""
        count = (self.end - self.start).days + 1
        return tuple(self.start + timedelta(days=offset) for offset in range(count))

    def first_instant(self) -> datetime:
        """Return the first instant of the start date in the event's time zone (aware)."""
        # fold=0 picks the earlier of two midnights, and for a midnight inside a DST gap it uses
        # the offset before the gap, which is exactly the instant the day begins.
        return datetime(self.start.year, self.start.month, self.start.day, tzinfo=self.zone)


@dataclass(frozen=True, kw_only=True)
class ReporterFacts:
    """A reporter as scoring needs it; `registered_at` None means not registered for the event."""

    reporter_id: int
    name: str | None = None
    anonymous: bool = False
    registered_at: datetime | None = None
    verified_account_keys: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if self.registered_at is not None:
            _require_aware(self.registered_at, "registered_at")

    @property
    def registered(self) -> bool:
        """Return whether the reporter is registered for the event."""
        return self.registered_at is not None


@dataclass(frozen=True, kw_only=True, slots=True)
class PostFacts:
    """One collected post with everything the rules look at."""

    post_id: int
    reporter_id: int | None
    account_key: str
    account_verified: bool
    platform: str
    global_key: str
    created_at: datetime
    kind: str
    text: str
    tags: tuple[str, ...] = ()
    media_count: int = 0
    visibility: str = "public"
    likes: int = 0
    reposts: int = 0
    replies: int = 0
    liked_by: tuple[str, ...] = ()
    reposted_by: tuple[str, ...] = ()
    replied_by: tuple[str, ...] = ()
    deleted: bool = False
    excluded: bool = False

    def __post_init__(self) -> None:
        _require_aware(self.created_at, "created_at")
        if self.kind not in _KINDS:
            raise ValueError(f"post {self.post_id}: unknown kind {self.kind!r}")
        if self.visibility not in _VISIBILITIES:
            raise ValueError(f"post {self.post_id}: unknown visibility {self.visibility!r}")
        if min(self.likes, self.reposts, self.replies, self.media_count) < 0:
            raise ValueError(f"post {self.post_id}: counts must not be negative")
