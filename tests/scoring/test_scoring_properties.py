"""Property-based proofs of the invariants DESIGN §5 promises."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from random import Random

from hypothesis import given, settings
from hypothesis import strategies as st

from scoring import (
    EventResult,
    PostFacts,
    PostVerdict,
    Reason,
    ReporterFacts,
    ReporterResult,
    analyse_text,
    extend_reporter,
    extension_candidates,
    extension_needs,
    rank_leaderboard,
    registered_verified_keys,
    score_event,
    score_reporter,
)
from scoring.engine import RankTotals, ShingleMemo, rank_order
from scoring.text import jaccard_at_least, may_reach_jaccard, prefix_length, shingles
from tests.scoring.scoring_factories import EVENT, RULES, needed, sentence, stored_posts

PROPERTY_SETTINGS = settings(max_examples=120, deadline=None)

REPORTER_IDS = (1, 2, 3)
ACCOUNTS = {
    reporter_id: (
        f"mastodon:r{reporter_id}@a.example",
        f"bluesky:r{reporter_id}.bsky.social",
        f"blog:https://r{reporter_id}.example/feed",
        f"x:r{reporter_id}",  # never verified
    )
    for reporter_id in REPORTER_IDS
}
VERIFIED = {reporter_id: frozenset(keys[:3]) for reporter_id, keys in ACCOUNTS.items()}
STRANGERS = ("mastodon:nobody@z.example", "bluesky:someone.bsky.social")
ALL_KEYS = tuple(key for keys in ACCOUNTS.values() for key in keys) + STRANGERS
EVENT_NOON = datetime(2025, 10, 9, 8, 0, tzinfo=UTC)

# a small pool so that copies, near-copies and too-short texts all turn up
TEXTS = (
    sentence(1),
    sentence(2),
    sentence(3),
    "Coral reefs need protection now, more than ever before.",
    "CORAL reefs need protection now - more than ever before!",
    "Coral reefs need protection now, more than ever before..",
    "Great panel!",
    "",
)
TAG_SUFFIXES = (" #iucncec", " #NatureForAll", " #iucncec #WCC25", "", " #other")


@dataclass(frozen=True)
class EventData:
    reporters: tuple[ReporterFacts, ...]
    posts: tuple[PostFacts, ...]


@st.composite
def post_drafts(draw: st.DrawFn, owner: int | None = None) -> PostFacts:
    """Draw one post with post_id 0 (numbered later); owner None means any owner."""
    reporter_id = draw(st.sampled_from((*REPORTER_IDS, None))) if owner is None else owner
    if reporter_id is None:
        account_key = draw(st.sampled_from(STRANGERS))
        verified = draw(st.booleans())
    else:
        account_key = draw(st.sampled_from(ACCOUNTS[reporter_id]))
        verified = account_key in VERIFIED[reporter_id]
    platform = account_key.split(":", 1)[0]
    text = draw(st.sampled_from(TEXTS)) + draw(st.sampled_from(TAG_SUFFIXES))
    likes = draw(st.integers(0, 40))
    return PostFacts(
        post_id=0,
        reporter_id=reporter_id,
        account_key=account_key,
        account_verified=verified,
        platform=platform,
        global_key="",
        created_at=EVENT_NOON + timedelta(minutes=draw(st.integers(-4 * 1440, 17 * 1440))),
        kind=draw(st.sampled_from(("post", "post", "reply", "quote", "repost", "article"))),
        text=text,
        tags=draw(st.sampled_from(((), ("iucncec",), ("other",)))),
        media_count=draw(st.integers(0, 1)),
        visibility=draw(st.sampled_from(("public", "public", "public", "unlisted"))),
        likes=likes,
        reposts=draw(st.integers(0, 10)),
        replies=draw(st.integers(0, 10)),
        liked_by=tuple(draw(st.lists(st.sampled_from(ALL_KEYS), max_size=4))),
        reposted_by=tuple(draw(st.lists(st.sampled_from(ALL_KEYS), max_size=2))),
        replied_by=tuple(draw(st.lists(st.sampled_from(ALL_KEYS), max_size=2))),
        deleted=draw(st.integers(0, 9)) == 0,
        excluded=draw(st.integers(0, 9)) == 0,
    )


def numbered(posts: list[PostFacts], start: int = 1) -> list[PostFacts]:
    return [
        replace(post, post_id=post_id, global_key=f"{post.platform}:{post_id}")
        for post_id, post in enumerate(posts, start=start)
    ]


@st.composite
def event_data(draw: st.DrawFn) -> EventData:
    reporters = tuple(
        ReporterFacts(
            reporter_id=reporter_id,
            name=f"Reporter {reporter_id}",
            anonymous=draw(st.booleans()),
            registered_at=(
                datetime(2025, 9, 1, tzinfo=UTC) if reporter_id == 1 or draw(st.booleans()) else None
            ),
            verified_account_keys=VERIFIED[reporter_id],
        )
        for reporter_id in REPORTER_IDS
    )
    posts = numbered(draw(st.lists(post_drafts(), max_size=30)))
    return EventData(reporters=reporters, posts=tuple(posts))


def full_score(data: EventData, posts: tuple[PostFacts, ...] | list[PostFacts] | None = None) -> EventResult:
    return score_event(
        rules=RULES,
        event=EVENT,
        reporters=data.reporters,
        posts=data.posts if posts is None else posts,
        previous_ranks={1: 3, 2: 1},
    )


@PROPERTY_SETTINGS
@given(data=event_data(), random=st.randoms(use_true_random=False))
def test_result_does_not_depend_on_ingest_order(data: EventData, random: Random) -> None:
    shuffled_posts = list(data.posts)
    random.shuffle(shuffled_posts)
    shuffled_reporters = list(data.reporters)
    random.shuffle(shuffled_reporters)
    shuffled = EventData(reporters=tuple(shuffled_reporters), posts=tuple(shuffled_posts))
    assert full_score(shuffled) == full_score(data)


@PROPERTY_SETTINGS
@given(data=event_data())
def test_re_ingesting_the_same_data_changes_nothing(data: EventData) -> None:
    first = full_score(data)
    assert full_score(data) == first
    assert full_score(data, data.posts + data.posts) == first


@PROPERTY_SETTINGS
@given(data=event_data())
def test_score_adds_up(data: EventData) -> None:
    for result in full_score(data).reporters:
        breakdown = result.breakdown
        counted = [verdict for verdict in result.verdicts if verdict.counted]
        assert breakdown.score == (
            breakdown.base
            + breakdown.engagement
            + breakdown.daily_cap_effect
            + breakdown.day_bonus
            + breakdown.platform_bonus
        )
        assert breakdown.base + breakdown.engagement + breakdown.daily_cap_effect == sum(
            verdict.points for verdict in counted
        )
        assert breakdown.daily_cap_effect <= 0
        assert breakdown.posts_counted == len(counted)
        assert all(verdict.counted == (not verdict.reasons) for verdict in result.verdicts)


@PROPERTY_SETTINGS
@given(
    data=event_data(),
    seed=st.integers(100, 10_000),
    minutes=st.integers(-2 * 1440, 4 * 1440),
    account=st.sampled_from(sorted(VERIFIED[1])),
    likes=st.integers(0, 30),
    media=st.integers(0, 1),
)
def test_a_new_counted_post_never_lowers_the_score(
    data: EventData, seed: int, minutes: int, account: str, likes: int, media: int
) -> None:
    new_text = f"{sentence(seed, words=12)} #iucncec"
    new_normalised = analyse_text(new_text).normalised
    new_shingles = shingles(new_normalised, 5)
    for post in data.posts:
        if post.reporter_id == 1:
            other = analyse_text(post.text).normalised
            # the property is about posts that are neither copies nor near-copies
            assert other != new_normalised
            assert not jaccard_at_least(new_shingles, shingles(other, 5), numerator=9, denominator=10)
    new_post = PostFacts(
        post_id=len(data.posts) + 1,
        reporter_id=1,
        account_key=account,
        account_verified=True,
        platform=account.split(":", 1)[0],
        global_key="new",
        created_at=EVENT_NOON + timedelta(minutes=minutes),
        kind="post",
        text=new_text,
        media_count=media,
        likes=likes,
    )
    before = full_score(data)
    after = full_score(data, (*data.posts, new_post))
    assert after.verdicts()[new_post.post_id].counted
    score_before = {result.reporter_id: result.score for result in before.reporters}
    score_after = {result.reporter_id: result.score for result in after.reporters}
    assert score_after[1] >= score_before[1]
    assert {key: value for key, value in score_after.items() if key != 1} == {
        key: value for key, value in score_before.items() if key != 1
    }


@PROPERTY_SETTINGS
@given(data=event_data(), new_post=post_drafts())
def test_deleting_a_post_restores_the_result_before_it_arrived(data: EventData, new_post: PostFacts) -> None:
    (arrived,) = numbered([new_post], start=len(data.posts) + 1)
    before = full_score(data)
    after = full_score(data, (*data.posts, replace(arrived, deleted=True)))
    assert after.leaderboard == before.leaderboard
    assert [result.breakdown for result in after.reporters] == [
        result.breakdown for result in before.reporters
    ]
    after_verdicts = after.verdicts()
    assert Reason.DELETED in after_verdicts.pop(arrived.post_id).reasons
    assert after_verdicts == before.verdicts()


@PROPERTY_SETTINGS
@given(
    data=event_data(),
    reporter_id=st.sampled_from(REPORTER_IDS),
    delete_first=st.booleans(),
    draw=st.data(),
)
def test_incremental_rescore_equals_full_rescore(
    data: EventData, reporter_id: int, delete_first: bool, draw: st.DataObject
) -> None:
    new_posts = draw.draw(st.lists(post_drafts(owner=reporter_id), max_size=6))
    previous = full_score(data)
    changed_posts = list(data.posts)
    own = [index for index, post in enumerate(changed_posts) if post.reporter_id == reporter_id]
    if delete_first and own:
        changed_posts[own[0]] = replace(changed_posts[own[0]], deleted=True)
    changed_posts += numbered(new_posts, start=len(data.posts) + 1)
    reporter = next(item for item in data.reporters if item.reporter_id == reporter_id)
    rescored = score_reporter(
        rules=RULES,
        event=EVENT,
        reporter=reporter,
        posts=[post for post in changed_posts if post.reporter_id == reporter_id],
        other_reporters_verified_keys=registered_verified_keys(data.reporters),
    )
    results = [rescored if item.reporter_id == reporter_id else item for item in previous.reporters]
    incremental = rank_leaderboard(results=results, previous_ranks={1: 3, 2: 1})
    full = full_score(data, changed_posts)
    assert tuple(incremental) == full.leaderboard
    assert rescored in full.reporters


@st.composite
def near_copies(draw: st.DrawFn) -> list[str]:
    """Texts drawn from a few bases with a few one-character edits each, so that many pairs sit near
    the 0.9 threshold, on either side."""
    bases = draw(st.lists(st.text(alphabet="ab cd", min_size=0, max_size=60), min_size=1, max_size=4))
    texts = []
    for _ in range(draw(st.integers(0, 40))):
        text = draw(st.sampled_from(bases))
        for _ in range(draw(st.integers(0, 3))):
            at = draw(st.integers(0, len(text)))
            text = text[:at] + draw(st.sampled_from("abcd ")) + text[at + draw(st.integers(0, 1)) :]
        texts.append(text)
    return texts


@settings(max_examples=200, deadline=None)
@given(texts=near_copies())
def test_prefix_filtered_duplicates_equal_a_plain_pairwise_scan(texts: list[str]) -> None:
    """Up to 40 posts: groups of up to 12 texts are compared directly, larger ones through prefixes."""
    posts = [
        PostFacts(
            post_id=post_id,
            reporter_id=1,
            account_key=ACCOUNTS[1][0],
            account_verified=True,
            platform="mastodon",
            global_key=f"k{post_id}",
            created_at=EVENT_NOON + timedelta(minutes=post_id),
            kind="post",
            text=f"{text} #iucncec",
            media_count=1,
        )
        for post_id, text in enumerate(texts, start=1)
    ]
    reporter = ReporterFacts(
        reporter_id=1, registered_at=datetime(2025, 9, 1, tzinfo=UTC), verified_account_keys=VERIFIED[1]
    )
    result = score_reporter(
        rules=RULES, event=EVENT, reporter=reporter, posts=posts, other_reporters_verified_keys=frozenset()
    )
    # equal points, so best first is earliest first, which is post id order here
    kept: list[tuple[str, int]] = []
    expected: dict[int, int | None] = {}
    for post in posts:
        normalised = analyse_text(post.text).normalised
        match = next(
            (
                kept_id
                for kept_text, kept_id in kept
                if normalised
                and (
                    kept_text == normalised
                    or jaccard_at_least(
                        shingles(normalised, 5), shingles(kept_text, 5), numerator=9, denominator=10
                    )
                )
            ),
            None,
        )
        expected[post.post_id] = match
        if match is None and normalised:
            kept.append((normalised, post.post_id))
    assert {verdict.post_id: verdict.duplicate_of for verdict in result.verdicts} == expected


@settings(max_examples=500, deadline=None)
@given(
    first=st.frozensets(st.text("abcdef", min_size=1, max_size=2), max_size=30),
    second=st.frozensets(st.text("abcdef", min_size=1, max_size=2), max_size=30),
    threshold=st.sampled_from([Fraction(1, 2), Fraction(3, 4), Fraction(9, 10), Fraction(1)]),
    known=st.integers(1, 30),
)
def test_the_suffix_bound_never_rules_out_a_near_copy(
    first: frozenset[str], second: frozenset[str], threshold: Fraction, known: int
) -> None:
    """Knowing one set in full and only the first ``known`` elements of the other (sorted), the bound
    says "may" for every pair that reaches the threshold."""
    prefix = sorted(second)[:known]
    if jaccard_at_least(first, second, numerator=threshold.numerator, denominator=threshold.denominator):
        assert may_reach_jaccard(first, sorted(first), len(second), prefix, threshold)


def test_the_suffix_bound_rules_out_sets_that_share_only_an_early_element() -> None:
    """Two 40-element sets sharing their smallest element and nothing after the other's prefix."""
    first = frozenset({"a00", *(f"d{n:02}" for n in range(39))})
    second = frozenset({"a00", *(f"c{n:02}" for n in range(39))})
    prefix = sorted(second)[: prefix_length(len(second), Fraction(9, 10))]
    assert not may_reach_jaccard(first, sorted(first), len(second), prefix, Fraction(9, 10))
    assert may_reach_jaccard(first, sorted(first), len(first), sorted(first)[:5], Fraction(9, 10))


@st.composite
def fresh_posts(draw: st.DrawFn, owner: int) -> PostFacts:
    """A new post of ``owner``: often a text of its own (the extension's case), sometimes one of the
    shared pool (copies and near-copies, where it must give way to a full re-score)."""
    post = draw(post_drafts(owner=owner))
    if draw(st.booleans()):
        own = sentence(draw(st.integers(10, 10_000)), words=draw(st.integers(3, 40)))
        post = replace(post, text=own + draw(st.sampled_from(TAG_SUFFIXES)))
    if draw(st.booleans()):  # one that passes every check but `duplicate`
        post = replace(
            post,
            account_key=ACCOUNTS[owner][0],
            platform="mastodon",
            account_verified=True,
            text=post.text + " #iucncec",
            kind="post",
            visibility="public",
            media_count=1,
            deleted=False,
            excluded=False,
        )
    return post


def _passing(verdict: PostVerdict) -> bool:
    return verdict.counted or verdict.reasons == (Reason.DUPLICATE,)


@settings(max_examples=300, deadline=None)
@given(data=event_data(), reporter_id=st.sampled_from(REPORTER_IDS), draw=st.data())
def test_extending_a_stored_result_with_new_posts_equals_a_full_rescore(
    data: EventData, reporter_id: int, draw: st.DataObject
) -> None:
    """``extend_reporter`` gives exactly what ``score_reporter`` gives over old and new posts, and
    declines (None) only when a new post passing every other check is a copy or near-copy of one."""
    reporter = next(item for item in data.reporters if item.reporter_id == reporter_id)
    engaged = registered_verified_keys(data.reporters)
    old = numbered(draw.draw(st.lists(fresh_posts(owner=reporter_id), max_size=25)))
    new = numbered(draw.draw(st.lists(fresh_posts(owner=reporter_id), max_size=5)), start=len(old) + 1)
    if draw.draw(st.booleans()):  # crowd them into two days: the daily cap re-ranks stored posts
        old, new = (
            [
                replace(post, created_at=EVENT_NOON + timedelta(minutes=draw.draw(st.integers(0, 1439))))
                for post in posts
            ]
            for posts in (old, new)
        )

    def score(posts: Sequence[PostFacts]) -> ReporterResult:
        return score_reporter(
            rules=RULES, event=EVENT, reporter=reporter, posts=posts, other_reporters_verified_keys=engaged
        )

    before = score(old)
    memo: ShingleMemo | None = {} if draw.draw(st.booleans()) else None  # shared by the three calls, or not
    needs = extension_needs(rules=RULES, event=EVENT, new_posts=new, memo=memo)
    stored = needed(stored_posts(before, old), needs)
    wanted = extension_candidates(rules=RULES, event=EVENT, stored=stored, new_posts=new, memo=memo)
    assert wanted is not None  # every passing post was stored with its signature
    texts = {post.post_id: post.text for post in old if post.post_id in wanted}
    extension = extend_reporter(
        rules=RULES,
        event=EVENT,
        reporter=reporter,
        previous=before.breakdown,
        stored=stored,
        new_posts=new,
        other_reporters_verified_keys=engaged,
        candidate_texts=texts,
        memo=memo,
    )
    after = score(old + new)
    verdicts = {verdict.post_id: verdict for verdict in after.verdicts}
    if extension is None:
        new_ids = {post.post_id for post in new}
        normalised = {
            post.post_id: analyse_text(post.text).normalised
            for post in old + new
            if _passing(verdicts[post.post_id]) and analyse_text(post.text).normalised
        }
        assert any(
            first in new_ids
            and first != second
            and jaccard_at_least(
                shingles(text, 5), shingles(normalised[second], 5), numerator=9, denominator=10
            )
            for first, text in normalised.items()
            for second in normalised
        )
        return
    assert extension.breakdown == after.breakdown
    assert extension.verdicts == tuple(verdicts[post.post_id] for post in new)
    for verdict in before.verdicts:
        now = verdicts[verdict.post_id]
        assert now.points == extension.repointed.get(verdict.post_id, verdict.points)
        assert (now.counted, now.reasons, now.base_points, now.engagement_points) == (
            verdict.counted,
            verdict.reasons,
            verdict.base_points,
            verdict.engagement_points,
        )


@PROPERTY_SETTINGS
@given(data=event_data())
def test_ranking_from_totals_equals_ranking_from_results(data: EventData) -> None:
    """The app re-ranks from stored totals (``rank_order``); it must order exactly as ``rank_leaderboard``."""
    results = full_score(data).reporters
    totals = [
        RankTotals(
            r.reporter_id,
            r.breakdown.score,
            r.breakdown.event_days_covered,
            r.breakdown.posts_counted,
            r.breakdown.first_counted_at,
        )
        for r in results
        if r.registered
    ]
    assert rank_order(totals) == [entry.reporter_id for entry in rank_leaderboard(results=results)]
