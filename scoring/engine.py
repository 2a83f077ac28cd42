"""Per-post verdicts, per-reporter scores and the leaderboard, exactly as DESIGN §5 states them.

A reporter's result depends only on the rules, the event, the reporter, their own posts and the set
of verified accounts of other registered reporters, so the app can re-score one reporter and
re-rank (`score_reporter` + `rank_leaderboard`) instead of re-scoring the whole event.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction
from functools import partial
from typing import NamedTuple
from zoneinfo import ZoneInfo

from scoring.model import EventSpec, PostFacts, PostKind, ReporterFacts, Visibility
from scoring.rules import RuleSet
from scoring.text import (
    analyse_text,
    comparable_shingles,
    jaccard_at_least,
    may_reach_jaccard,
    near_copy_prefix,
    normalise_tag,
    prefix_length,
)
from scoring.verdicts import Reason, reason_words

__all__ = [
    "EMPTY_BREAKDOWN",
    "EventResult",
    "Extension",
    "LeaderboardEntry",
    "PostVerdict",
    "ReporterResult",
    "ScoreBreakdown",
    "ShingleMemo",
    "StoredPost",
    "coverage_window",
    "ExtensionNeeds",
    "extend_reporter",
    "extension_candidates",
    "extension_needs",
    "post_day",
    "RankTotals",
    "rank_leaderboard",
    "rank_order",
    "registered_verified_keys",
    "score_event",
    "score_reporter",
    "score_unowned_posts",
]


@dataclass(frozen=True, kw_only=True, slots=True)
class PostVerdict:
    """Whether one post counts for the event, why not, and what it is worth (thousandths).

    `base_points` and `engagement_points` are what the post is worth before the daily cap, shown
    even when it does not count; `points` is what it adds to the score (0 unless counted).
    `shingle_count` and `shingle_prefix` (its ``near_copy_prefix``, joined by ``PREFIX_SEPARATOR``)
    are set for a post that passes every check but `duplicate` (0 and "" when it has no own text): what
    a later `extend_reporter` compares a new post with.
    """

    post_id: int
    reporter_id: int | None
    counted: bool
    reasons: tuple[Reason, ...]
    day: date
    base_points: int
    engagement_points: int
    likes_counted: int
    reposts_counted: int
    replies_counted: int
    points: int
    daily_rank: int | None
    duplicate_of: int | None
    own_text_length: int
    shingle_count: int | None = None
    shingle_prefix: str | None = None

    @property
    def reason_texts(self) -> tuple[str, ...]:
        """Return the reasons in words."""
        return reason_words(self.reasons)


@dataclass(frozen=True, kw_only=True, slots=True)
class ScoreBreakdown:
    """How a reporter's score adds up; every amount in integer thousandths.

    score == base + engagement + daily_cap_effect + day_bonus + platform_bonus.
    """

    base: int
    engagement: int
    daily_cap_effect: int
    day_bonus: int
    platform_bonus: int
    score: int
    posts_counted: int
    articles_counted: int
    days_covered: int
    event_days_covered: int
    counted_days: tuple[date, ...]
    platforms: tuple[str, ...]
    first_counted_at: datetime | None


# The breakdown of a reporter with no counted post (what the engine gives an unregistered one).
EMPTY_BREAKDOWN = ScoreBreakdown(
    base=0,
    engagement=0,
    daily_cap_effect=0,
    day_bonus=0,
    platform_bonus=0,
    score=0,
    posts_counted=0,
    articles_counted=0,
    days_covered=0,
    event_days_covered=0,
    counted_days=(),
    platforms=(),
    first_counted_at=None,
)


@dataclass(frozen=True, kw_only=True, slots=True)
class ReporterResult:
    """One reporter's verdicts (ordered by post id) and score for one event."""

    reporter_id: int
    name: str | None
    anonymous: bool
    registered: bool
    verdicts: tuple[PostVerdict, ...]
    breakdown: ScoreBreakdown

    @property
    def score(self) -> int:
        """Return the score in thousandths."""
        return self.breakdown.score


@dataclass(frozen=True, kw_only=True, slots=True)
class LeaderboardEntry:
    """One row of an event leaderboard; `name` is None for anonymous reporters."""

    rank: int
    reporter_id: int
    name: str | None
    anonymous: bool
    score: int
    posts_counted: int
    days_covered: int
    event_days_covered: int
    platforms: tuple[str, ...]
    first_counted_at: datetime | None
    previous_rank: int | None
    movement: int | None


@dataclass(frozen=True, kw_only=True, slots=True)
class EventResult:
    """Everything scored for one event."""

    reporters: tuple[ReporterResult, ...]
    leaderboard: tuple[LeaderboardEntry, ...]
    unowned: tuple[PostVerdict, ...]

    def verdicts(self) -> dict[int, PostVerdict]:
        """Return every post's verdict by post id."""
        found = {verdict.post_id: verdict for verdict in self.unowned}
        for result in self.reporters:
            for verdict in result.verdicts:
                found[verdict.post_id] = verdict
        return found


def coverage_window(*, rules: RuleSet, event: EventSpec) -> tuple[date, date]:
    """Return the first and last day of the coverage window, inclusive."""
    return (
        event.start + timedelta(days=rules.window.start_offset_days),
        event.end + timedelta(days=rules.window.end_offset_days),
    )


def post_day(created_at: datetime, zone: ZoneInfo) -> date:
    """Return the calendar date of an instant in a time zone."""
    return created_at.astimezone(zone).date()


class _Context:
    """What every post of one event is checked against, computed once."""

    def __init__(self, rules: RuleSet, event: EventSpec) -> None:
        if rules.version != event.rules_version:
            raise ValueError(
                f"event {event.slug} uses rules {event.rules_version}, got rules {rules.version}"
            )
        self.rules = rules
        self.event = event
        self.zone = event.zone
        self.window_first, self.window_last = coverage_window(rules=rules, event=event)
        self.accepted_tags = frozenset(normalise_tag(tag) for tag in rules.accepted_tags)
        self.event_tag = (
            normalise_tag(event.event_tag)
            if event.require_event_tag and event.event_tag is not None
            else None
        )
        threshold = rules.duplicates.jaccard_threshold
        self.jaccard_numerator = threshold.numerator
        self.jaccard_denominator = threshold.denominator


@dataclass(slots=True)
class _Assessed:
    """A post under assessment, before duplicates and the daily cap are decided."""

    post: PostFacts
    reasons: list[Reason]
    day: date
    base: int
    engagement: int
    likes: int
    reposts: int
    replies: int
    normalised: str
    own_length: int
    duplicate_of: int | None = None
    daily_rank: int | None = None
    points: int = 0
    shingle_count: int | None = None
    shingle_prefix: str | None = None

    @property
    def worth(self) -> int:
        return self.base + self.engagement

    def best_first_key(self) -> tuple[int, datetime, str, str, int]:
        post = self.post
        return (-self.worth, post.created_at, post.platform, post.global_key, post.post_id)


def _remaining(count: int, engagers: tuple[str, ...], excluded: frozenset[str], author: str) -> int:
    """Return the count minus the known excluded engagers of that kind (the author's own account
    and the excluded set), never below 0."""
    if not engagers:
        return count
    left_out = sum(1 for key in frozenset(engagers) if key == author or key in excluded)
    return max(0, count - left_out)


def _assess(
    context: _Context,
    post: PostFacts,
    *,
    has_reporter: bool,
    registered: bool,
    excluded_engagers: frozenset[str],
) -> _Assessed:
    """Run every check except `duplicate` and compute base and engagement points."""
    rules = context.rules
    facts = analyse_text(post.text)
    day = post_day(post.created_at, context.zone)
    is_article = post.kind == PostKind.ARTICLE

    reasons: list[Reason] = []
    if not (has_reporter and post.account_verified):
        reasons.append(Reason.NOT_VERIFIED)
    if has_reporter and not registered:
        reasons.append(Reason.NOT_REGISTERED)
    tags = facts.hashtags | frozenset(normalise_tag(tag) for tag in post.tags)
    if tags.isdisjoint(context.accepted_tags) or (
        context.event_tag is not None and context.event_tag not in tags
    ):
        reasons.append(Reason.MISSING_TAG)
    if not context.window_first <= day <= context.window_last:
        reasons.append(Reason.OUTSIDE_WINDOW)
    if post.kind == PostKind.REPOST:
        reasons.append(Reason.REPOST)
    if post.visibility != Visibility.PUBLIC:
        reasons.append(Reason.NOT_PUBLIC)
    if facts.own_length < rules.min_own_text_length and not (post.media_count > 0 or is_article):
        reasons.append(Reason.TOO_SHORT)
    if post.deleted:
        reasons.append(Reason.DELETED)
    if post.excluded:
        reasons.append(Reason.EXCLUDED_BY_STAFF)

    if is_article:
        base = rules.base_points.blog_article
    elif post.media_count > 0:
        base = rules.base_points.media_post
    else:
        base = rules.base_points.short_post
    author = post.account_key
    likes = _remaining(post.likes, post.liked_by, excluded_engagers, author)
    reposts = _remaining(post.reposts, post.reposted_by, excluded_engagers, author)
    replies = _remaining(post.replies, post.replied_by, excluded_engagers, author)
    engagement = rules.engagement.bonus(likes=likes, reposts=reposts, replies=replies)
    return _Assessed(
        post=post,
        reasons=reasons,
        day=day,
        base=base,
        engagement=engagement,
        likes=likes,
        reposts=reposts,
        replies=replies,
        normalised=facts.normalised,
        own_length=facts.own_length,
    )


def _verdict(assessed: _Assessed) -> PostVerdict:
    found = assessed.reasons
    reasons = tuple(sorted(found, key=_REASON_ORDER.__getitem__) if len(found) > 1 else found)
    return PostVerdict(
        post_id=assessed.post.post_id,
        reporter_id=assessed.post.reporter_id,
        counted=not reasons,
        reasons=reasons,
        day=assessed.day,
        base_points=assessed.base,
        engagement_points=assessed.engagement,
        likes_counted=assessed.likes,
        reposts_counted=assessed.reposts,
        replies_counted=assessed.replies,
        points=assessed.points,
        daily_rank=assessed.daily_rank,
        duplicate_of=assessed.duplicate_of,
        own_text_length=assessed.own_length,
        shingle_count=assessed.shingle_count,
        shingle_prefix=assessed.shingle_prefix,
    )


_REASON_ORDER = {reason: index for index, reason in enumerate(Reason)}


def _unique_posts(posts: Iterable[PostFacts]) -> list[PostFacts]:
    """Drop repeated identical posts; refuse two different posts under one post id."""
    by_id: dict[int, PostFacts] = {}
    for post in posts:
        seen = by_id.setdefault(post.post_id, post)
        if seen is not post and seen != post:
            raise ValueError(f"post {post.post_id} is given twice with different facts")
    return [by_id[post_id] for post_id in sorted(by_id)]


@dataclass(slots=True)
class _Shingled:
    """A normalised text's comparable shingles and, once needed, the same sorted (for prefixes) and
    its stored prefix (joined)."""

    shingles: frozenset[str]
    ordered: list[str] | None = None
    prefix: str | None = None

    def sorted(self) -> list[str]:
        if self.ordered is None:
            self.ordered = sorted(self.shingles)
        return self.ordered

    def stored_prefix(self, threshold: Fraction) -> str:
        """``near_copy_prefix`` of the shingles, joined by ``PREFIX_SEPARATOR``."""
        if self.prefix is None:
            self.prefix = PREFIX_SEPARATOR.join(near_copy_prefix(self.sorted(), threshold))
        return self.prefix


# Joins a stored prefix's shingles: normalised text never holds it (str.split() takes it for a space).
PREFIX_SEPARATOR = "\x1f"


def _shingled(memo: ShingleMemo, text: str, size: int) -> _Shingled:
    entry = memo.get(text)
    if entry is None:
        entry = memo[text] = _Shingled(comparable_shingles(text, size))
    return entry


ShingleMemo = dict[str, _Shingled]
"""Normalised text -> its shingles, shared by the events a caller scores one reporter for (a post's
text is the same in every event); start with ``{}``."""


# Below this many passing posts with text, comparing each with every kept post (sizes first) is cheaper
# than building the prefix index; both find exactly the same duplicates.
_SMALL_GROUP = 12


def _mark_duplicates(context: _Context, passing: list[_Assessed], memo: ShingleMemo) -> None:
    """Mark each passing post that repeats a better post already kept (best first)."""
    size = context.rules.duplicates.shingle_size
    numerator, denominator = context.jaccard_numerator, context.jaccard_denominator
    kept_texts: dict[str, int] = {}
    kept: list[tuple[frozenset[str], int, int]] = []  # (shingles, their count, post id), best first
    texts = {item.normalised for item in passing if item.normalised}
    small = len(texts) <= _SMALL_GROUP
    for text in texts:
        _shingled(memo, text, size)
    if not small:
        prefix_size = partial(prefix_length, threshold=context.rules.duplicates.jaccard_threshold)
        # a shingle -> positions in `kept` of the kept posts whose prefix (`near_copy_prefix`, the same
        # order as the stored signatures: any order the same for every set keeps the filter exact)
        # holds it
        kept_by_prefix: dict[str, list[int]] = defaultdict(list)
    for assessed in passing:
        text = assessed.normalised
        if not text:
            continue  # no own text: never a duplicate, and nothing can repeat it
        exact = kept_texts.get(text)
        if exact is not None:
            assessed.duplicate_of = exact
            assessed.reasons.append(Reason.DUPLICATE)
            continue
        entry = memo[text]
        own_shingles = entry.shingles
        own_count = len(own_shingles)
        if small:
            candidates: Iterable[int] = range(len(kept))
        else:
            prefix = entry.sorted()[: prefix_size(own_count)]
            candidates = sorted({position for token in prefix for position in kept_by_prefix.get(token, ())})
        for position in candidates:  # best kept post first, as a plain scan would find it
            other_shingles, other_count, other_id = kept[position]
            # |A∩B| <= the smaller size and |A∪B| >= the larger: a size ratio below the threshold
            # cannot match
            if own_count < other_count:
                if own_count * denominator < numerator * other_count:
                    continue
            elif other_count * denominator < numerator * own_count:
                continue
            common = len(own_shingles & other_shingles)
            if common * denominator >= numerator * (own_count + other_count - common):
                assessed.duplicate_of = other_id
                assessed.reasons.append(Reason.DUPLICATE)
                break
        else:
            kept_texts[text] = assessed.post.post_id
            if not small:
                for token in prefix:
                    kept_by_prefix[token].append(len(kept))
            kept.append((own_shingles, own_count, assessed.post.post_id))


def _capped(context: _Context, worth: int, rank: int) -> int:
    """What the ``rank``-th counted post of a day (best first) adds: diminishing returns past the cap."""
    threshold = context.rules.daily_cap.threshold
    if rank <= threshold:
        return worth
    # Fraction arithmetic is exact and round() on a Fraction rounds half to even.
    return round(Fraction(worth) * context.rules.daily_cap.factor ** (rank - threshold))


def _apply_daily_cap(context: _Context, counted: list[_Assessed]) -> None:
    """Give each counted post its points after diminishing returns within its day."""
    rank_in_day: dict[date, int] = defaultdict(int)
    for assessed in counted:  # already best first
        rank_in_day[assessed.day] += 1
        rank = rank_in_day[assessed.day]
        assessed.daily_rank = rank
        assessed.points = _capped(context, assessed.worth, rank)


class _Counted(NamedTuple):
    """What a reporter's breakdown reads of one counted post."""

    base: int
    engagement: int
    points: int
    day: date
    platform: str
    is_article: bool
    created_at: datetime


def _counted(assessed: _Assessed) -> _Counted:
    post = assessed.post
    return _Counted(
        assessed.base,
        assessed.engagement,
        assessed.points,
        assessed.day,
        post.platform,
        post.kind == PostKind.ARTICLE,
        post.created_at,
    )


def _breakdown(context: _Context, counted: Sequence[_Counted]) -> ScoreBreakdown:
    rules = context.rules
    base = sum(item.base for item in counted)
    engagement = sum(item.engagement for item in counted)
    after_cap = sum(item.points for item in counted)
    daily_cap_effect = after_cap - base - engagement
    counted_days = tuple(sorted({item.day for item in counted}))
    event_days_covered = sum(1 for day in counted_days if context.event.start <= day <= context.event.end)
    platforms = tuple(sorted({item.platform for item in counted}))
    day_bonus = rules.coverage.event_day_bonus * event_days_covered
    platform_bonus = rules.coverage.extra_platform_bonus * max(0, len(platforms) - 1)
    return ScoreBreakdown(
        base=base,
        engagement=engagement,
        daily_cap_effect=daily_cap_effect,
        day_bonus=day_bonus,
        platform_bonus=platform_bonus,
        score=after_cap + day_bonus + platform_bonus,
        posts_counted=len(counted),
        articles_counted=sum(1 for item in counted if item.is_article),
        days_covered=len(counted_days),
        event_days_covered=event_days_covered,
        counted_days=counted_days,
        platforms=platforms,
        first_counted_at=min((item.created_at for item in counted), default=None),
    )


def _assess_own(
    context: _Context, reporter: ReporterFacts, posts: Sequence[PostFacts], others_keys: frozenset[str]
) -> list[_Assessed]:
    """Assess a reporter's own posts (engagement by their accounts and ``others_keys`` left out)."""
    excluded_engagers = reporter.verified_account_keys | others_keys
    return [
        _assess(
            context,
            post,
            has_reporter=True,
            registered=reporter.registered,
            excluded_engagers=excluded_engagers,
        )
        for post in posts
    ]


def score_reporter(
    *,
    rules: RuleSet,
    event: EventSpec,
    reporter: ReporterFacts,
    posts: Iterable[PostFacts],
    other_reporters_verified_keys: frozenset[str],
    memo: ShingleMemo | None = None,
) -> ReporterResult:
    """Score one reporter's own posts for one event.

    `other_reporters_verified_keys` are the verified accounts of every other reporter registered
    for the event; passing the event-wide set including this reporter's own keys gives the same
    result, since a reporter's own accounts are left out of engagement anyway. `memo` (one per
    reporter) lets a caller scoring several events share the shingles of the same texts.
    """
    context = _Context(rules, event)
    unique = _unique_posts(posts)
    for post in unique:
        if post.reporter_id != reporter.reporter_id:
            raise ValueError(
                f"post {post.post_id} belongs to reporter {post.reporter_id}, not {reporter.reporter_id}"
            )
    assessed = _assess_own(context, reporter, unique, other_reporters_verified_keys)
    passing = sorted((item for item in assessed if not item.reasons), key=_Assessed.best_first_key)
    memo = {} if memo is None else memo
    _mark_duplicates(context, passing, memo)
    _sign(context, passing, memo)
    counted = [item for item in passing if not item.reasons]
    _apply_daily_cap(context, counted)
    return ReporterResult(
        reporter_id=reporter.reporter_id,
        name=reporter.name,
        anonymous=reporter.anonymous,
        registered=reporter.registered,
        verdicts=tuple(_verdict(item) for item in assessed),
        breakdown=_breakdown(context, [_counted(item) for item in counted]),
    )


def _sign(context: _Context, passing: list[_Assessed], memo: ShingleMemo) -> None:
    """Give each post that passed every check but `duplicate` its shingle count and stored prefix."""
    size = context.rules.duplicates.shingle_size
    threshold = context.rules.duplicates.jaccard_threshold
    for item in passing:
        text = item.normalised
        if not text:
            item.shingle_count, item.shingle_prefix = 0, ""
            continue
        entry = _shingled(memo, text, size)
        item.shingle_count, item.shingle_prefix = len(entry.shingles), entry.stored_prefix(threshold)


def score_unowned_posts(
    *, rules: RuleSet, event: EventSpec, posts: Iterable[PostFacts]
) -> tuple[PostVerdict, ...]:
    """Give verdicts to posts of accounts that belong to no reporter (never counted)."""
    context = _Context(rules, event)
    unique = _unique_posts(posts)
    for post in unique:
        if post.reporter_id is not None:
            raise ValueError(f"post {post.post_id} belongs to reporter {post.reporter_id}")
    return tuple(
        _verdict(_assess(context, post, has_reporter=False, registered=False, excluded_engagers=frozenset()))
        for post in unique
    )


@dataclass(frozen=True, kw_only=True, slots=True)
class StoredPost:
    """One post's verdict as the last scoring of its reporter for the event gave it (``PostVerdict``'s
    stored fields), with what ordering and the breakdown read of the post."""

    post_id: int
    counted: bool
    reasons: tuple[Reason, ...]
    day: date
    base_points: int
    engagement_points: int
    points: int
    created_at: datetime
    platform: str
    global_key: str
    kind: str
    shingle_count: int | None
    shingle_prefix: str | None

    @property
    def passing(self) -> bool:
        """Whether it passed every check but `duplicate` (it takes part in near-copy detection)."""
        return self.counted or self.reasons == (Reason.DUPLICATE,)

    def best_first_key(self) -> tuple[int, datetime, str, str, int]:
        return (
            -(self.base_points + self.engagement_points),
            self.created_at,
            self.platform,
            self.global_key,
            self.post_id,
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class Extension:
    """What new posts change in a reporter's stored result: the new posts' verdicts, the stored counted
    posts whose points the daily cap changed (post id -> points), and the new breakdown."""

    verdicts: tuple[PostVerdict, ...]
    repointed: Mapping[int, int]
    breakdown: ScoreBreakdown


def _prefix_tokens(prefix: str) -> list[str]:
    return prefix.split(PREFIX_SEPARATOR) if prefix else []


def _size_range(count: int, context: _Context) -> tuple[int, int]:
    """The shingle counts a set of ``count`` shingles can reach the Jaccard threshold with (inclusive)."""
    numerator, denominator = context.jaccard_numerator, context.jaccard_denominator
    return -(-count * numerator // denominator), count * denominator // numerator


@dataclass(frozen=True, slots=True)
class ExtensionNeeds:
    """Which stored posts `extend_reporter` reads: the counted posts of these days (the daily cap), and
    the passing posts whose shingle count lies in one of these inclusive ranges (possible near-copies)."""

    days: frozenset[date]
    sizes: tuple[tuple[int, int], ...]


def extension_needs(
    *, rules: RuleSet, event: EventSpec, new_posts: Sequence[PostFacts], memo: ShingleMemo | None = None
) -> ExtensionNeeds:
    """What of the stored result extending it with these new posts reads (see ``ExtensionNeeds``).
    ``memo``, as for `score_reporter`: pass the same one to `extension_candidates` and
    `extend_reporter` for this reporter, and the new posts are shingled once."""
    context = _Context(rules, event)
    size = rules.duplicates.shingle_size
    memo = {} if memo is None else memo
    sizes = set()
    for post in new_posts:
        normalised = analyse_text(post.text).normalised
        if normalised:
            sizes.add(_size_range(len(_shingled(memo, normalised, size).shingles), context))
    return ExtensionNeeds(
        days=frozenset(post_day(post.created_at, context.zone) for post in new_posts),
        sizes=tuple(sorted(sizes)),
    )


def _candidates(
    context: _Context, stored: Sequence[StoredPost], new_posts: Sequence[PostFacts], memo: ShingleMemo
) -> dict[int, set[int]] | None:
    """For each new post with own text (by id), the stored passing posts that may be near-copies of it:
    size-compatible, sharing a prefix shingle, and not ruled out by the shingles after their prefix
    (``may_reach_jaccard``). None when a stored passing post has no signature."""
    size = context.rules.duplicates.shingle_size
    threshold = context.rules.duplicates.jaccard_threshold
    passing = [item for item in stored if item.passing]
    if any(item.shingle_count is None or item.shingle_prefix is None for item in passing):
        return None  # stored before signatures were: only a full re-score can tell
    found: dict[int, set[int]] = {}
    for post in new_posts:
        normalised = analyse_text(post.text).normalised
        if not normalised:
            continue
        entry = _shingled(memo, normalised, size)
        comparable, ordered = entry.shingles, entry.sorted()
        low, high = _size_range(len(comparable), context)
        tokens = frozenset(near_copy_prefix(ordered, threshold))
        found[post.post_id] = ids = set()
        for item in passing:
            count = item.shingle_count or 0
            if low <= count <= high:
                prefix = _prefix_tokens(item.shingle_prefix or "")
                if not tokens.isdisjoint(prefix) and may_reach_jaccard(
                    comparable, ordered, count, prefix, threshold
                ):
                    ids.add(item.post_id)
    return found


def extension_candidates(
    *,
    rules: RuleSet,
    event: EventSpec,
    stored: Sequence[StoredPost],
    new_posts: Sequence[PostFacts],
    memo: ShingleMemo | None = None,
) -> frozenset[int] | None:
    """The stored posts whose texts `extend_reporter` needs (possible near-copies of a new post), or
    None when it cannot extend this result (a stored passing post has no signature)."""
    found = _candidates(_Context(rules, event), stored, new_posts, {} if memo is None else memo)
    if found is None:
        return None
    return frozenset().union(*found.values())


def extend_reporter(
    *,
    rules: RuleSet,
    event: EventSpec,
    reporter: ReporterFacts,
    previous: ScoreBreakdown,
    stored: Sequence[StoredPost],
    new_posts: Iterable[PostFacts],
    other_reporters_verified_keys: frozenset[str],
    candidate_texts: Mapping[int, str],
    memo: ShingleMemo | None = None,
) -> Extension | None:
    """Add posts that are new since a stored result (the last `score_reporter` of this reporter and
    event, nothing else changed since) without re-scoring the stored ones, or None when only a full
    `score_reporter` can tell.

    ``previous`` is the stored breakdown; ``stored`` holds at least the stored posts that
    `extension_needs` names (more do no harm); ``candidate_texts`` the text of every post that
    `extension_candidates` names; ``memo`` the one given to both, if any.

    A new post that is neither a copy nor a near-copy of any of the reporter's passing posts (stored
    or new) changes no other post's duplicate verdict (each post is still compared with the same kept
    posts, and the new one matches none of them) and is itself kept; it only re-ranks the counted
    posts of its day under the daily cap and adds to the totals. When a new post may be a near-copy,
    this returns None.
    """
    context = _Context(rules, event)
    new = _unique_posts(new_posts)
    known = {item.post_id for item in stored}
    for post in new:
        if post.reporter_id != reporter.reporter_id:
            raise ValueError(
                f"post {post.post_id} belongs to reporter {post.reporter_id}, not {reporter.reporter_id}"
            )
        if post.post_id in known:
            raise ValueError(f"post {post.post_id} is stored already")
    memo = {} if memo is None else memo
    found = _candidates(context, stored, new, memo)
    if found is None:
        return None
    size = context.rules.duplicates.shingle_size
    assessed = _assess_own(context, reporter, new, other_reporters_verified_keys)
    passing = [item for item in assessed if not item.reasons]
    for position, item in enumerate(passing):
        if not item.normalised:
            continue
        own = _shingled(memo, item.normalised, size).shingles
        others = [
            _shingled(memo, other.normalised, size).shingles
            for other in passing[:position]
            if other.normalised
        ]
        for post_id in found[item.post.post_id]:
            if post_id not in candidate_texts:
                raise ValueError(f"the text of stored post {post_id} is needed")
            normalised = analyse_text(candidate_texts[post_id]).normalised
            others.append(_shingled(memo, normalised, size).shingles if normalised else frozenset())
        numerator, denominator = context.jaccard_numerator, context.jaccard_denominator
        if any(
            jaccard_at_least(own, other, numerator=numerator, denominator=denominator) for other in others
        ):
            return None  # a near-copy: which one is kept depends on the others
    _sign(context, passing, memo)
    # The daily cap of each day a new post counts on, over that day's stored and new counted posts.
    ranked: dict[date, list[tuple[tuple[int, datetime, str, str, int], StoredPost | _Assessed]]] = {
        item.day: [] for item in passing
    }
    seen: set[int] = set()
    for before in stored:
        if before.counted and before.day in ranked and before.post_id not in seen:
            seen.add(before.post_id)
            ranked[before.day].append((before.best_first_key(), before))
    for fresh in passing:
        ranked[fresh.day].append((fresh.best_first_key(), fresh))
    repointed: dict[int, int] = {}
    change = 0  # in the stored posts' points
    for day_items in ranked.values():
        day_items.sort(key=lambda pair: pair[0])
        for rank, (_, entry) in enumerate(day_items, start=1):
            if isinstance(entry, _Assessed):
                entry.daily_rank = rank
                entry.points = _capped(context, entry.worth, rank)
            else:
                points = _capped(context, entry.base_points + entry.engagement_points, rank)
                if points != entry.points:
                    repointed[entry.post_id] = points
                    change += points - entry.points
    return Extension(
        verdicts=tuple(_verdict(item) for item in assessed),
        repointed=repointed,
        breakdown=_added(context, previous, [_counted(item) for item in passing], change),
    )


def _added(
    context: _Context, previous: ScoreBreakdown, counted: Sequence[_Counted], change: int
) -> ScoreBreakdown:
    """A breakdown with these counted posts added and the stored posts' points changed by ``change``
    (``_breakdown`` over all counted posts gives the same)."""
    if not counted and not change:
        return previous
    rules = context.rules
    base = previous.base + sum(item.base for item in counted)
    engagement = previous.engagement + sum(item.engagement for item in counted)
    after_cap = (
        previous.base
        + previous.engagement
        + previous.daily_cap_effect
        + change
        + sum(item.points for item in counted)
    )
    counted_days = tuple(sorted({*previous.counted_days, *(item.day for item in counted)}))
    event_days_covered = sum(1 for day in counted_days if context.event.start <= day <= context.event.end)
    platforms = tuple(sorted({*previous.platforms, *(item.platform for item in counted)}))
    day_bonus = rules.coverage.event_day_bonus * event_days_covered
    platform_bonus = rules.coverage.extra_platform_bonus * max(0, len(platforms) - 1)
    firsts = [item.created_at for item in counted]
    if previous.first_counted_at is not None:
        firsts.append(previous.first_counted_at)
    return ScoreBreakdown(
        base=base,
        engagement=engagement,
        daily_cap_effect=after_cap - base - engagement,
        day_bonus=day_bonus,
        platform_bonus=platform_bonus,
        score=after_cap + day_bonus + platform_bonus,
        posts_counted=previous.posts_counted + len(counted),
        articles_counted=previous.articles_counted + sum(1 for item in counted if item.is_article),
        days_covered=len(counted_days),
        event_days_covered=event_days_covered,
        counted_days=counted_days,
        platforms=platforms,
        first_counted_at=min(firsts, default=None),
    )


_EARLIEST = datetime.min.replace(tzinfo=UTC)


class RankTotals(NamedTuple):
    """What ranking reads of one registered reporter's result."""

    reporter_id: int
    score: int
    event_days_covered: int
    posts_counted: int
    first_counted_at: datetime | None


def _totals_key(totals: RankTotals) -> tuple[int, int, int, int, datetime, int]:
    first = totals.first_counted_at
    return (
        -totals.score,
        -totals.event_days_covered,
        -totals.posts_counted,
        0 if first is not None else 1,
        first if first is not None else _EARLIEST,
        totals.reporter_id,
    )


def rank_order(totals: Iterable[RankTotals]) -> list[int]:
    """Reporter ids in leaderboard order (rank 1 first), under the same total order as
    ``rank_leaderboard``; for callers that hold only the totals."""
    return [item.reporter_id for item in sorted(totals, key=_totals_key)]


def _leaderboard_key(result: ReporterResult) -> tuple[int, int, int, int, datetime, int]:
    breakdown = result.breakdown
    return _totals_key(
        RankTotals(
            result.reporter_id,
            breakdown.score,
            breakdown.event_days_covered,
            breakdown.posts_counted,
            breakdown.first_counted_at,
        )
    )


def rank_leaderboard(
    *, results: Iterable[ReporterResult], previous_ranks: Mapping[int, int] | None = None
) -> list[LeaderboardEntry]:
    """Rank every registered reporter 1…N without shared ranks, with movement since last time."""
    registered: dict[int, ReporterResult] = {}
    for result in results:
        if result.reporter_id in registered:
            raise ValueError(f"reporter {result.reporter_id} appears twice")
        if result.registered:
            registered[result.reporter_id] = result
    previous = previous_ranks or {}
    entries: list[LeaderboardEntry] = []
    ordered = sorted(registered.values(), key=_leaderboard_key)
    for rank, result in enumerate(ordered, start=1):
        breakdown = result.breakdown
        previous_rank = previous.get(result.reporter_id)
        entries.append(
            LeaderboardEntry(
                rank=rank,
                reporter_id=result.reporter_id,
                name=None if result.anonymous else result.name,
                anonymous=result.anonymous,
                score=breakdown.score,
                posts_counted=breakdown.posts_counted,
                days_covered=breakdown.days_covered,
                event_days_covered=breakdown.event_days_covered,
                platforms=breakdown.platforms,
                first_counted_at=breakdown.first_counted_at,
                previous_rank=previous_rank,
                movement=None if previous_rank is None else previous_rank - rank,
            )
        )
    return entries


def registered_verified_keys(reporters: Iterable[ReporterFacts]) -> frozenset[str]:
    """Return the verified account keys of every registered reporter (engagement to leave out)."""
    return frozenset(
        key for reporter in reporters if reporter.registered for key in reporter.verified_account_keys
    )


def score_event(
    *,
    rules: RuleSet,
    event: EventSpec,
    reporters: Sequence[ReporterFacts],
    posts: Iterable[PostFacts],
    previous_ranks: Mapping[int, int] | None = None,
) -> EventResult:
    """Score every post and reporter of one event and rank the leaderboard."""
    by_id: dict[int, ReporterFacts] = {}
    for reporter in reporters:
        if reporter.reporter_id in by_id:
            raise ValueError(f"reporter {reporter.reporter_id} is given twice")
        by_id[reporter.reporter_id] = reporter
    posts_by_reporter: dict[int, list[PostFacts]] = defaultdict(list)
    unowned: list[PostFacts] = []
    for post in posts:
        if post.reporter_id is None:
            unowned.append(post)
        else:
            posts_by_reporter[post.reporter_id].append(post)
    for reporter_id in posts_by_reporter:
        # A post of a reporter the caller did not list: that reporter is not registered for E.
        by_id.setdefault(reporter_id, ReporterFacts(reporter_id=reporter_id))
    engaged_keys = registered_verified_keys(by_id.values())
    results = tuple(
        score_reporter(
            rules=rules,
            event=event,
            reporter=by_id[reporter_id],
            posts=posts_by_reporter.get(reporter_id, ()),
            other_reporters_verified_keys=engaged_keys,
        )
        for reporter_id in sorted(by_id)
    )
    return EventResult(
        reporters=results,
        leaderboard=tuple(rank_leaderboard(results=results, previous_ranks=previous_ranks)),
        unowned=score_unowned_posts(rules=rules, event=event, posts=unowned),
    )
