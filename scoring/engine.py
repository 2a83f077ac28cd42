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
from zoneinfo import ZoneInfo

from scoring.model import EventSpec, PostFacts, PostKind, ReporterFacts, Visibility
from scoring.rules import RuleSet
from scoring.text import analyse_text, normalise_tag, prefix_length, shingles
from scoring.verdicts import Reason, reason_words

__all__ = [
    "EMPTY_BREAKDOWN",
    "EventResult",
    "LeaderboardEntry",
    "PostVerdict",
    "ReporterResult",
    "ScoreBreakdown",
    "ShingleMemo",
    "coverage_window",
    "post_day",
    "rank_leaderboard",
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


def _prefix(ordered_hashes: list[int], size: int) -> list[int]:
    """The first ``size`` shingle hashes in ascending order, and any that tie with the last one.

    The prefix filter (see ``prefix_length``) holds for any total order that is the same for every
    set; ordering by hash (ties broken by the text) is one, cheap because a string keeps its hash, and
    it makes prefixes a random sample, so unrelated texts rarely share one. Indexing the hashes of that
    prefix, with every hash tied with the last, finds a superset of that order's candidates (equal
    hashes of different shingles only add candidates, which are then compared exactly)."""
    end = size
    if end < len(ordered_hashes):
        last = ordered_hashes[end - 1]
        while end < len(ordered_hashes) and ordered_hashes[end] == last:
            end += 1
    return ordered_hashes[:end]


@dataclass(slots=True)
class _Shingled:
    """A normalised text's shingles and, once a prefix index needs them, their hashes in order."""

    shingles: frozenset[str]
    ordered_hashes: list[int] | None = None


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
        entry = memo.get(text)
        if entry is None:
            entry = memo[text] = _Shingled(shingles(text, size))
        if not small and entry.ordered_hashes is None:
            entry.ordered_hashes = sorted(map(hash, entry.shingles))
    if not small:
        prefix_size = partial(prefix_length, threshold=context.rules.duplicates.jaccard_threshold)
        # a shingle's hash -> positions in `kept` of the kept posts whose prefix holds it
        kept_by_prefix: dict[int, list[int]] = defaultdict(list)
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
            assert entry.ordered_hashes is not None  # filled above for a large group
            prefix = _prefix(entry.ordered_hashes, prefix_size(own_count))
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


def _apply_daily_cap(context: _Context, counted: list[_Assessed]) -> None:
    """Give each counted post its points after diminishing returns within its day."""
    threshold = context.rules.daily_cap.threshold
    factor = context.rules.daily_cap.factor
    rank_in_day: dict[date, int] = defaultdict(int)
    for assessed in counted:  # already best first
        rank_in_day[assessed.day] += 1
        rank = rank_in_day[assessed.day]
        assessed.daily_rank = rank
        if rank <= threshold:
            assessed.points = assessed.worth
        else:
            # Fraction arithmetic is exact and round() on a Fraction rounds half to even.
            assessed.points = round(Fraction(assessed.worth) * factor ** (rank - threshold))


def _breakdown(context: _Context, counted: list[_Assessed]) -> ScoreBreakdown:
    rules = context.rules
    base = sum(assessed.base for assessed in counted)
    engagement = sum(assessed.engagement for assessed in counted)
    after_cap = sum(assessed.points for assessed in counted)
    daily_cap_effect = after_cap - base - engagement
    counted_days = tuple(sorted({assessed.day for assessed in counted}))
    event_days_covered = sum(1 for day in counted_days if context.event.start <= day <= context.event.end)
    platforms = tuple(sorted({assessed.post.platform for assessed in counted}))
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
        articles_counted=sum(1 for assessed in counted if assessed.post.kind == PostKind.ARTICLE),
        days_covered=len(counted_days),
        event_days_covered=event_days_covered,
        counted_days=counted_days,
        platforms=platforms,
        first_counted_at=min((assessed.post.created_at for assessed in counted), default=None),
    )


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
    excluded_engagers = reporter.verified_account_keys | other_reporters_verified_keys
    assessed = [
        _assess(
            context,
            post,
            has_reporter=True,
            registered=reporter.registered,
            excluded_engagers=excluded_engagers,
        )
        for post in unique
    ]
    passing = sorted((item for item in assessed if not item.reasons), key=_Assessed.best_first_key)
    _mark_duplicates(context, passing, {} if memo is None else memo)
    counted = [item for item in passing if not item.reasons]
    _apply_daily_cap(context, counted)
    return ReporterResult(
        reporter_id=reporter.reporter_id,
        name=reporter.name,
        anonymous=reporter.anonymous,
        registered=reporter.registered,
        verdicts=tuple(_verdict(item) for item in assessed),
        breakdown=_breakdown(context, counted),
    )


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


_EARLIEST = datetime.min.replace(tzinfo=UTC)


def _leaderboard_key(result: ReporterResult) -> tuple[int, int, int, int, datetime, int]:
    breakdown = result.breakdown
    first = breakdown.first_counted_at
    return (
        -breakdown.score,
        -breakdown.event_days_covered,
        -breakdown.posts_counted,
        0 if first is not None else 1,
        first if first is not None else _EARLIEST,
        result.reporter_id,
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
