"""The contract every collector honours: configuration in, normalised pages out.

Errors form one family::

    CollectorError
    ├── InvalidSource      the source's configuration cannot work (bad URL, missing tag or token)
    ├── RateLimited        the server asks us to wait until ``reset_at``
    ├── SourceBlocked      the server refuses us (401/403, auth required, anonymous search refused)
    ├── TransientError     5xx, timeouts, connection resets after the retries gave up
    └── BadPayload         the server sent something we cannot map

Collectors are pure: no database, no app imports. ``app/ingest`` drives them.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol, runtime_checkable


class Platform(enum.StrEnum):
    MASTODON = "mastodon"
    BLUESKY = "bluesky"
    BLOG = "blog"
    X = "x"


class PostKind(enum.StrEnum):
    """What a post is; scoring derives the base points from it (and from ``media_count``)."""

    POST = "post"
    REPLY = "reply"
    QUOTE = "quote"
    REPOST = "repost"  # boost / repost / retweet: stored, never counted
    ARTICLE = "article"  # a blog entry


class Visibility(enum.StrEnum):
    PUBLIC = "public"
    UNLISTED = "unlisted"
    PRIVATE = "private"
    DIRECT = "direct"


# --- errors -------------------------------------------------------------------------------------


class CollectorError(Exception):
    """Base of every error a collector raises on purpose."""


class InvalidSource(CollectorError):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class RateLimited(CollectorError):
    def __init__(self, reset_at: datetime, reason: str = "rate limited") -> None:
        super().__init__(f"{reason}; retry after {reset_at.isoformat()}")
        self.reset_at = reset_at
        self.reason = reason


class SourceBlocked(CollectorError):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TransientError(CollectorError):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class BadPayload(CollectorError):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# --- data ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CollectedPost:
    """One post as every platform is normalised to.

    ``text`` is plain text for scoring: links that are not hashtags or mentions appear as their
    full URL so that scoring can strip them; hashtags appear as ``#tag`` and mentions as ``@user``.
    ``html`` is already sanitised with ``nh3`` (or ``None``). ``author_key`` is the account in the
    form reporters link it: ``mastodon:user@server`` (domain always present, lower-case),
    ``bluesky:did:plc:…``, ``blog:FEED_URL``, ``x:username`` (lower-case).
    """

    platform: Platform
    global_key: str  # Mastodon status uri, Bluesky at:// uri, blog entry id or link, X tweet id
    local_id: str  # the id on the server it was read from (opaque string)
    url: str | None
    author_key: str
    author_name: str | None
    created_at: datetime  # aware, UTC
    text: str
    html: str | None = None
    edited_at: datetime | None = None
    tags: tuple[str, ...] = ()  # platform tags as given (facets, record.tags, entities, categories)
    media_count: int = 0
    kind: PostKind = PostKind.POST
    visibility: Visibility = Visibility.PUBLIC
    likes: int = 0
    reposts: int = 0
    replies: int = 0
    language: str | None = None
    version: str | None = None  # Bluesky cid, Mastodon/X edited_at ISO string, blog updated ISO
    repost_of: str | None = None  # global key of the reposted post, for boosts/reposts
    author_aliases: tuple[str, ...] = ()  # other spellings of the author (e.g. bluesky:handle)
    raw: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SourceConfig:
    """What to follow where. ``token`` is the secret already read from the environment."""

    platform: Platform
    url: str  # server / PDS / feed URL / API base
    tags: tuple[str, ...] = ()
    query: str | None = None
    handle: str | None = None
    # bearer token (Mastodon, X) or app password (Bluesky); out of repr so a logged config leaks nothing
    token: str | None = field(default=None, repr=False)
    trusted: bool = False  # staff-marked: may be on loopback/private addresses (the simulator)
    timeout_s: float = 20.0
    max_bytes: int = 5_000_000
    page_limit: int | None = None  # platform maximum when None
    max_wait_s: float = 30.0  # wait at most this long for a rate limit; beyond it raise RateLimited
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CollectedPage:
    """One page of a run: the posts and the cursor to save with them in one transaction."""

    posts: Sequence[CollectedPost]
    cursor: Mapping[str, Any]
    requests: int = 1
    rate_limit_wait_s: float = 0.0


@dataclass(frozen=True, slots=True)
class PostRef:
    """A stored post to re-check."""

    global_key: str
    local_id: str
    url: str | None


@dataclass(frozen=True, slots=True)
class RecheckResult:
    """A re-check outcome: ``post`` is the fresh version, or ``None`` with ``gone=True``."""

    ref: PostRef
    post: CollectedPost | None
    gone: bool
    requests: int = 1


@dataclass(frozen=True, slots=True)
class Engagement:
    """Who liked or reposted a post (account keys in the ``author_key`` form)."""

    global_key: str
    liked_by: tuple[str, ...]
    reposted_by: tuple[str, ...]


class Clock(Protocol):
    def now(self) -> datetime: ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """Wall-clock time; tests pass their own ``Clock``."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


@runtime_checkable
class Collector(Protocol):
    """What ``collectors/registry.py`` maps each ``Platform`` to."""

    platform: Platform

    def validate(self, config: SourceConfig) -> None:
        """Raise ``InvalidSource`` when the configuration cannot work (no network)."""

    def fetch(self, config: SourceConfig, cursor: Mapping[str, Any] | None) -> Iterator[CollectedPage]:
        """Yield pages of new or changed posts since ``cursor``, oldest page first when possible."""

    def recheck(self, config: SourceConfig, refs: Sequence[PostRef]) -> Iterator[RecheckResult]:
        """Fetch the current state of stored posts: edits, deletions, engagement."""

    def fetch_engagement(self, config: SourceConfig, refs: Sequence[PostRef]) -> Iterator[Engagement]:
        """Name who liked and reposted these posts (empty for platforms that cannot say)."""

    def fetch_url(self, config: SourceConfig, url: str) -> CollectedPost:
        """Fetch one post by its public URL (missed-post claims, verification)."""

    def map_item(self, raw: Mapping[str, Any]) -> CollectedPost:
        """Map one raw item; raise ``BadPayload`` for anything unmappable, never anything else."""
