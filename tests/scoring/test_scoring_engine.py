"""Worked examples of DESIGN §5, each expected figure computed by hand in the comment beside it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from scoring import (
    REASON_TEXT,
    EventSpec,
    Extension,
    PostFacts,
    PostVerdict,
    Reason,
    ReporterFacts,
    ReporterResult,
    StoredPost,
    analyse_text,
    extend_reporter,
    extension_candidates,
    score_event,
    score_reporter,
)
from tests.scoring.scoring_factories import (
    ALICE,
    ALICE_BLOG,
    ALICE_BLUESKY,
    ALICE_MASTODON,
    BOB,
    BOB_MASTODON,
    EVENT,
    NOON_DAY_ONE,
    RULES,
    make_post,
    make_reporter,
    sentence,
    stored_posts,
)

DAY = timedelta(days=1)


def score(
    posts: Iterable[PostFacts],
    *,
    reporter: ReporterFacts | None = None,
    event: EventSpec = EVENT,
    others: frozenset[str] = frozenset(),
) -> ReporterResult:
    return score_reporter(
        rules=RULES,
        event=event,
        reporter=reporter or make_reporter(),
        posts=posts,
        other_reporters_verified_keys=others,
    )


def verdict_of(result: ReporterResult, post_id: int) -> PostVerdict:
    (found,) = [verdict for verdict in result.verdicts if verdict.post_id == post_id]
    return found


LONG_OWN_TEXT = "Mangroves shelter fish nurseries and protect coasts."  # 52 code points


class TestBasePoints:
    def test_short_post_is_one_point_plus_day_bonus(self) -> None:
        result = score([make_post(1)])
        assert verdict_of(result, 1).points == 1000
        # 1000 base + 2000 for one event day covered
        assert result.score == 3000
        assert result.breakdown.base == 1000
        assert result.breakdown.day_bonus == 2000
        assert result.breakdown.platform_bonus == 0

    def test_media_post_is_one_and_a_half(self) -> None:
        result = score([make_post(1, media_count=2)])
        assert verdict_of(result, 1).points == 1500
        assert result.score == 1500 + 2000

    def test_blog_article_is_five(self) -> None:
        post = make_post(1, kind="article", platform="blog", account_key=ALICE_BLOG)
        result = score([post])
        assert verdict_of(result, 1).points == 5000
        assert result.breakdown.articles_counted == 1
        assert result.score == 5000 + 2000

    def test_reply_and_quote_count_like_any_post(self) -> None:
        result = score([make_post(1, kind="reply"), make_post(2, kind="quote")])
        assert [verdict.counted for verdict in result.verdicts] == [True, True]


class TestEngagementBonus:
    @pytest.mark.parametrize(
        ("likes", "reposts", "replies", "bonus"),
        [
            (0, 0, 0, 0),  # ln 1 = 0
            (1, 0, 0, 347),  # 500·ln 2 = 346.57…
            (0, 1, 0, 549),  # 500·ln 3 = 549.31…
            (0, 0, 1, 693),  # 500·ln 4 = 693.15…
            (2, 1, 1, 1040),  # 500·ln(1+2+2+3) = 500·ln 8 = 1039.72…
            (402, 0, 0, 2999),  # 500·ln 403 = 2998.83…
            (403, 0, 0, 3000),  # 500·ln 404 = 3000.07… capped at 3000
            (10_000, 500, 500, 3000),  # far beyond the cap
        ],
    )
    def test_bonus(self, likes: int, reposts: int, replies: int, bonus: int) -> None:
        post = make_post(1, likes=likes, reposts=reposts, replies=replies)
        verdict = verdict_of(score([post]), 1)
        assert verdict.engagement_points == bonus
        assert verdict.points == 1000 + bonus

    def test_traded_engagement_is_left_out(self) -> None:
        post = make_post(
            1,
            # 3 likes: Bob (verified, registered) and Alice's own Bluesky are left out -> 1 like
            likes=3,
            liked_by=(BOB_MASTODON, ALICE_BLUESKY, "bluesky:stranger.bsky.social"),
            # 1 repost by someone who is a reporter's account but not of a registered reporter
            reposts=1,
            reposted_by=("mastodon:carol@elsewhere.example",),
            # 2 replies, one by the posting account itself -> 1 reply
            replies=2,
            replied_by=(ALICE_MASTODON,),
        )
        verdict = verdict_of(score([post], others=frozenset({BOB_MASTODON})), 1)
        assert (verdict.likes_counted, verdict.reposts_counted, verdict.replies_counted) == (1, 1, 1)
        # 500·ln(1 + 1 + 2·1 + 3·1) = 500·ln 7 = 972.95… -> 973
        assert verdict.engagement_points == 973

    def test_known_engagers_beyond_the_count_never_go_below_zero(self) -> None:
        post = make_post(1, likes=1, liked_by=(BOB_MASTODON, ALICE_BLUESKY, ALICE_BLUESKY))
        verdict = verdict_of(score([post], others=frozenset({BOB_MASTODON})), 1)
        assert verdict.likes_counted == 0
        assert verdict.engagement_points == 0

    def test_engagement_nobody_is_named_for_is_kept(self) -> None:
        post = make_post(1, likes=5, liked_by=(BOB_MASTODON,))
        # only Bob's like is left out: 500·ln 5 = 804.72… -> 805
        assert verdict_of(score([post], others=frozenset({BOB_MASTODON})), 1).engagement_points == 805


class TestDailyCap:
    def test_sixth_and_seventh_post_of_a_day_count_half_and_quarter(self) -> None:
        posts = [
            make_post(post_id, created_at=NOON_DAY_ONE + post_id * timedelta(minutes=5))
            for post_id in range(1, 8)
        ]
        result = score(posts)
        # equal points, so the earliest come first: ranks follow post ids
        assert [verdict.daily_rank for verdict in result.verdicts] == [1, 2, 3, 4, 5, 6, 7]
        assert [verdict.points for verdict in result.verdicts] == [1000] * 5 + [500, 250]
        assert result.breakdown.base == 7000
        assert result.breakdown.daily_cap_effect == -1250
        assert result.score == 5750 + 2000

    def test_rounding_is_half_even_to_thousandths(self) -> None:
        articles = [
            make_post(post_id, kind="article", platform="blog", account_key=ALICE_BLOG)
            for post_id in range(1, 6)
        ]
        sixth = make_post(6, likes=1, reposts=1)  # 1000 + 500·ln 4 = 1693
        seventh = make_post(7, likes=1)  # 1000 + 500·ln 2 = 1347
        result = score([*articles, sixth, seventh])
        # 1693 · 0.5 = 846.5 -> 846 (half to even); 1347 · 0.25 = 336.75 -> 337
        assert verdict_of(result, 6).points == 846
        assert verdict_of(result, 7).points == 337
        assert result.breakdown.daily_cap_effect == (846 - 1693) + (337 - 1347)
        # 5·5000 + 846 + 337 + 2000 (one event day) + 1000 (blog and mastodon)
        assert result.score == 29183

    def test_cap_applies_per_day_in_event_time(self) -> None:
        day_one = [make_post(i, created_at=NOON_DAY_ONE + i * timedelta(minutes=1)) for i in range(1, 6)]
        day_two = [
            make_post(i, created_at=NOON_DAY_ONE + DAY + i * timedelta(minutes=1)) for i in range(6, 8)
        ]
        result = score([*day_one, *day_two])
        assert all(verdict.points == 1000 for verdict in result.verdicts)
        assert result.score == 7000 + 2 * 2000


class TestCoverageBreadth:
    def test_day_bonus_only_for_event_days(self) -> None:
        posts = [
            make_post(1, created_at=NOON_DAY_ONE),
            make_post(2, created_at=NOON_DAY_ONE + 2 * DAY),  # last event day
            make_post(3, created_at=NOON_DAY_ONE - DAY),  # in the window, before the event
        ]
        result = score(posts)
        assert result.breakdown.days_covered == 3
        assert result.breakdown.event_days_covered == 2
        assert result.breakdown.day_bonus == 4000
        assert result.score == 3000 + 4000

    def test_platform_bonus_per_platform_beyond_the_first(self) -> None:
        posts = [
            make_post(1),
            make_post(2, platform="bluesky", account_key=ALICE_BLUESKY, global_key="at://2"),
            make_post(3, platform="blog", account_key=ALICE_BLOG, kind="article"),
        ]
        result = score(posts)
        assert result.breakdown.platforms == ("blog", "bluesky", "mastodon")
        assert result.breakdown.platform_bonus == 2000
        # 1000 + 1000 + 5000 + 2000 day + 2000 platforms
        assert result.score == 11000

    def test_two_mastodon_compatible_servers_are_one_platform(self) -> None:
        second_server = "mastodon:alice@pixelfed.example"
        reporter = make_reporter(verified_account_keys=frozenset({ALICE_MASTODON, second_server}))
        posts = [make_post(1), make_post(2, account_key=second_server)]
        result = score(posts, reporter=reporter)
        assert result.breakdown.platform_bonus == 0
        assert result.score == 2000 + 2000


class TestReasons:
    def test_every_reason_has_words(self) -> None:
        assert set(REASON_TEXT) == set(Reason)
        assert all(REASON_TEXT[reason].strip() for reason in Reason)

    @pytest.mark.parametrize(
        ("overrides", "reason"),
        [
            ({"account_verified": False}, Reason.NOT_VERIFIED),
            ({"text": LONG_OWN_TEXT}, Reason.MISSING_TAG),
            ({"text": f"{LONG_OWN_TEXT} https://iucn.example/#iucncec"}, Reason.MISSING_TAG),
            ({"created_at": NOON_DAY_ONE - 3 * DAY}, Reason.OUTSIDE_WINDOW),
            ({"kind": "repost"}, Reason.REPOST),
            ({"visibility": "unlisted"}, Reason.NOT_PUBLIC),
            ({"visibility": "private"}, Reason.NOT_PUBLIC),
            ({"visibility": "direct"}, Reason.NOT_PUBLIC),
            ({"text": "Great panel on mangroves! #iucncec"}, Reason.TOO_SHORT),
            ({"deleted": True}, Reason.DELETED),
            ({"excluded": True}, Reason.EXCLUDED_BY_STAFF),
        ],
    )
    def test_single_reason(self, overrides: dict[str, object], reason: Reason) -> None:
        verdict = verdict_of(score([make_post(1, **overrides)]), 1)
        assert verdict.reasons == (reason,)
        assert not verdict.counted
        assert verdict.points == 0

    def test_not_registered(self) -> None:
        result = score([make_post(1)], reporter=make_reporter(registered_at=None))
        assert verdict_of(result, 1).reasons == (Reason.NOT_REGISTERED,)
        assert result.score == 0

    def test_post_of_no_reporter_is_not_verified(self) -> None:
        post = make_post(1, reporter_id=None, account_key="mastodon:nobody@x.example")
        result = score_event(rules=RULES, event=EVENT, reporters=[], posts=[post])
        assert result.verdicts()[1].reasons == (Reason.NOT_VERIFIED,)
        assert result.leaderboard == ()

    def test_every_failing_reason_in_order(self) -> None:
        post = make_post(
            1,
            account_verified=False,
            text="Short! @bob@mastodon.example https://x.example",
            created_at=NOON_DAY_ONE + 30 * DAY,
            kind="repost",
            visibility="direct",
            deleted=True,
            excluded=True,
        )
        result = score([post], reporter=make_reporter(registered_at=None))
        assert verdict_of(result, 1).reasons == (
            Reason.NOT_VERIFIED,
            Reason.NOT_REGISTERED,
            Reason.MISSING_TAG,
            Reason.OUTSIDE_WINDOW,
            Reason.REPOST,
            Reason.NOT_PUBLIC,
            Reason.TOO_SHORT,
            Reason.DELETED,
            Reason.EXCLUDED_BY_STAFF,
        )
        assert verdict_of(result, 1).reason_texts[0] == REASON_TEXT[Reason.NOT_VERIFIED]


class TestTags:
    @pytest.mark.parametrize(
        "overrides",
        [
            {"text": f"{LONG_OWN_TEXT} #NatureForAll"},
            {"text": f"{LONG_OWN_TEXT} #natureforall"},
            {"text": f"{LONG_OWN_TEXT} #IUCNCEC"},
            {"text": f"{LONG_OWN_TEXT} ＃ＩＵＣＮＣＥＣ"},  # full-width: NFKC folds it
            {"text": LONG_OWN_TEXT, "tags": ("IucnCec",)},  # platform tag
            {"text": LONG_OWN_TEXT, "tags": ("#iucncec",)},
        ],
    )
    def test_accepted_programme_tags(self, overrides: dict[str, object]) -> None:
        assert verdict_of(score([make_post(1, **overrides)]), 1).counted

    def test_event_tag_required_when_the_event_says_so(self) -> None:
        event = replace(EVENT, require_event_tag=True)
        only_programme = make_post(1, text=f"{LONG_OWN_TEXT} #iucncec")
        only_event = make_post(2, text=f"{sentence(2)} #wcc25")
        both = make_post(3, text=f"{sentence(3)} #iucncec #wcc25")
        result = score([only_programme, only_event, both], event=event)
        assert verdict_of(result, 1).reasons == (Reason.MISSING_TAG,)
        assert verdict_of(result, 2).reasons == (Reason.MISSING_TAG,)
        assert verdict_of(result, 3).counted


class TestOwnText:
    def test_links_mentions_and_hashtags_do_not_count(self) -> None:
        text = "Mangroves @alice@mastodon.example https://iucn.org/x #iucncec protect coasts."
        facts = analyse_text(text)
        assert facts.own_text == "Mangroves protect coasts."
        assert facts.own_length == 25
        assert facts.hashtags == frozenset({"iucncec"})

    def test_bluesky_mentions_and_email_addresses(self) -> None:
        facts = analyse_text("Thanks @carol.bsky.social. Write to info@iucn.example")
        assert facts.own_text == "Thanks . Write to info@iucn.example"

    @pytest.mark.parametrize(
        ("own", "counted"),
        [
            ("x" * 39, False),  # 39 code points
            ("x" * 40, True),  # 40 code points
            ("e\u0301" * 40, True),  # NFC composes e + acute into é: 40 code points
            ("🌍" * 40, True),  # emoji are one code point each
        ],
    )
    def test_forty_code_points(self, own: str, counted: bool) -> None:
        verdict = verdict_of(score([make_post(1, text=f"{own} #iucncec")]), 1)
        assert verdict.counted is counted

    def test_short_text_passes_with_media_or_as_article(self) -> None:
        posts = [
            make_post(1, text="Look! #iucncec", media_count=1),
            make_post(2, text="Read this! #iucncec", kind="article", platform="blog"),
        ]
        assert all(verdict.counted for verdict in score(posts).verdicts)

    def test_normalised_text_drops_case_and_punctuation(self) -> None:
        assert analyse_text("Mangroves — protect, COASTS!!").normalised == "mangroves protect coasts"


class TestDuplicates:
    def test_exact_copy_counts_once_and_the_best_is_kept(self) -> None:
        text = f"{LONG_OWN_TEXT} #iucncec"
        posts = [
            make_post(1, text=text),
            make_post(2, text=text, platform="bluesky", account_key=ALICE_BLUESKY, likes=1),
        ]
        result = score(posts)
        # the Bluesky copy is worth 1347 and the Mastodon copy 1000: the Bluesky one is kept
        assert verdict_of(result, 2).counted
        assert verdict_of(result, 1).reasons == (Reason.DUPLICATE,)
        assert verdict_of(result, 1).duplicate_of == 2
        assert result.score == 1347 + 2000

    def test_copy_with_other_tags_links_mentions_and_punctuation(self) -> None:
        posts = [
            make_post(1, text=f"{LONG_OWN_TEXT} #iucncec https://a.example/1"),
            make_post(2, text="MANGROVES shelter fish-nurseries and protect coasts #NatureForAll"),
        ]
        result = score(posts)
        # equal points, times and platform: the smaller global key (post 1) is kept
        assert [verdict.counted for verdict in result.verdicts] == [True, False]

    def test_equal_points_keep_the_earliest(self) -> None:
        text = f"{LONG_OWN_TEXT} #iucncec"
        posts = [make_post(1, text=text, created_at=NOON_DAY_ONE + DAY), make_post(2, text=text)]
        result = score(posts)
        assert verdict_of(result, 2).counted
        assert verdict_of(result, 1).duplicate_of == 2

    def test_near_copy_by_shingles(self) -> None:
        # 100 distinct 5-character shingles; changing one letter in the middle changes 5 of them:
        # Jaccard = (100 - 5) / (100 + 5) = 0.905 ≥ 0.9 -> duplicate
        base = "".join(chr(0x4E00 + index) for index in range(104))
        changed = base[:50] + "X" + base[51:]
        assert len(analyse_text(base).normalised) == 104
        result = score([make_post(1, text=f"{base} #iucncec"), make_post(2, text=f"{changed} #iucncec")])
        assert verdict_of(result, 2).reasons == (Reason.DUPLICATE,)

    def test_short_texts_one_change_apart_are_not_copies(self) -> None:
        # 60 distinct shingles: Jaccard = (60 - 5) / (60 + 5) = 0.846 < 0.9
        base = "".join(chr(0x4E00 + index) for index in range(64))
        changed = base[:30] + "X" + base[31:]
        result = score([make_post(1, text=f"{base} #iucncec"), make_post(2, text=f"{changed} #iucncec")])
        assert all(verdict.counted for verdict in result.verdicts)

    def test_posts_without_own_text_are_never_duplicates(self) -> None:
        posts = [
            make_post(1, text="#iucncec https://photos.example/1", media_count=1),
            make_post(2, text="#iucncec https://photos.example/2", media_count=1),
        ]
        result = score(posts)
        assert all(verdict.counted for verdict in result.verdicts)
        assert result.score == 1500 + 1500 + 2000

    def test_deleting_the_kept_copy_brings_the_next_back(self) -> None:
        text = f"{LONG_OWN_TEXT} #iucncec"
        kept = make_post(1, text=text, likes=3)
        copy = make_post(2, text=text)
        assert verdict_of(score([kept, copy]), 2).reasons == (Reason.DUPLICATE,)
        result = score([replace(kept, deleted=True), copy])
        assert verdict_of(result, 1).reasons == (Reason.DELETED,)
        assert verdict_of(result, 2).counted

    def test_failing_post_never_suppresses(self) -> None:
        text = f"{LONG_OWN_TEXT} #iucncec"
        unlisted = make_post(1, text=text, likes=3, visibility="unlisted")
        excluded = make_post(2, text=text, likes=2, excluded=True)
        public = make_post(3, text=text)
        result = score([unlisted, excluded, public])
        assert verdict_of(result, 1).reasons == (Reason.NOT_PUBLIC,)
        assert verdict_of(result, 2).reasons == (Reason.EXCLUDED_BY_STAFF,)
        assert verdict_of(result, 3).counted


class TestDaysAndWindow:
    def test_day_follows_daylight_saving_time(self) -> None:
        # Zurich leaves summer time on 2025-10-26 at 03:00 CEST (01:00 UTC)
        event = replace(EVENT, start=date(2025, 10, 26), end=date(2025, 10, 26), timezone="Europe/Zurich")
        posts = [
            make_post(1, created_at=datetime(2025, 10, 25, 21, 59, tzinfo=UTC)),  # 23:59 CEST 25th
            make_post(2, created_at=datetime(2025, 10, 25, 22, 0, tzinfo=UTC)),  # 00:00 CEST 26th
            make_post(3, created_at=datetime(2025, 10, 26, 22, 30, tzinfo=UTC)),  # 23:30 CET 26th
            make_post(4, created_at=datetime(2025, 10, 26, 23, 0, tzinfo=UTC)),  # 00:00 CET 27th
        ]
        result = score(posts, event=event)
        assert [verdict.day for verdict in result.verdicts] == [
            date(2025, 10, 25),
            date(2025, 10, 26),
            date(2025, 10, 26),
            date(2025, 10, 27),
        ]
        assert result.breakdown.event_days_covered == 1

    @pytest.mark.parametrize(
        ("created_at", "inside"),
        [
            # window: 2025-10-07 00:00 to 2025-10-25 23:59:59 in Dubai (UTC+4)
            (datetime(2025, 10, 6, 19, 59, 59, tzinfo=UTC), False),
            (datetime(2025, 10, 6, 20, 0, 0, tzinfo=UTC), True),
            (datetime(2025, 10, 25, 19, 59, 59, tzinfo=UTC), True),
            (datetime(2025, 10, 25, 20, 0, 0, tzinfo=UTC), False),
        ],
    )
    def test_window_edges_are_inclusive(self, created_at: datetime, inside: bool) -> None:
        verdict = verdict_of(score([make_post(1, created_at=created_at)]), 1)
        assert verdict.counted is inside
        assert verdict.reasons == (() if inside else (Reason.OUTSIDE_WINDOW,))


class TestLeaderboard:
    def test_order_ranks_movement_and_anonymity(self) -> None:
        reporters = [
            make_reporter(ALICE),
            make_reporter(BOB, anonymous=True),
            make_reporter(3, name="Carol"),  # registered, no posts
            make_reporter(4, name="Dan", verified_account_keys=frozenset({"x:dan"})),
            make_reporter(5, name="Eve", registered_at=None),  # not registered: not listed
        ]
        posts = [
            make_post(1),  # Alice: 1000 + 2000
            make_post(2, reporter_id=BOB, account_key=BOB_MASTODON, created_at=NOON_DAY_ONE - DAY),
            make_post(3, reporter_id=BOB, account_key=BOB_MASTODON),  # Bob: 2000 + 2000, 1 day
            make_post(
                4, reporter_id=4, account_key="x:dan", platform="x", created_at=NOON_DAY_ONE + DAY
            ),  # Dan: same score as Alice, later
            make_post(5, reporter_id=5, account_key="x:eve", platform="x"),
        ]
        result = score_event(
            rules=RULES,
            event=EVENT,
            reporters=reporters,
            posts=posts,
            previous_ranks={ALICE: 1, BOB: 2, 4: 3},
        )
        board = [
            (entry.rank, entry.reporter_id, entry.name, entry.score, entry.movement)
            for entry in result.leaderboard
        ]
        assert board == [
            (1, BOB, None, 4000, 1),
            (2, ALICE, "Alice", 3000, -1),
            (3, 4, "Dan", 3000, 0),
            (4, 3, "Carol", 0, None),
        ]
        assert result.verdicts()[5].reasons == (Reason.NOT_REGISTERED,)

    def test_ties_fall_to_event_days_then_posts_then_first_post_then_id(self) -> None:
        reporters = [
            make_reporter(reporter_id, verified_account_keys=frozenset({f"x:{reporter_id}"}))
            for reporter_id in (10, 11, 12, 13, 14)
        ]

        def post(post_id: int, reporter_id: int, **overrides: object) -> PostFacts:
            return make_post(
                post_id, reporter_id=reporter_id, account_key=f"x:{reporter_id}", platform="x", **overrides
            )

        posts = [
            # 10: one article on one event day: 5000 + 2000 = 7000
            post(1, 10, kind="article"),
            # 11: 5 short posts 6 h apart (12:00 to 12:00 next day, Dubai): 5000 + 2·2000 = 9000
            *[post(10 + i, 11, created_at=NOON_DAY_ONE + i * DAY // 4) for i in range(5)],
            # 12: 1000·3 on 3 event days = 3000 + 6000 = 9000 (3 event days beats 2)
            *[post(20 + i, 12, created_at=NOON_DAY_ONE + i * DAY) for i in range(3)],
            # 13 and 14: one media post each: 1500 + 2000; 14 posted first
            post(30, 13, media_count=1, created_at=NOON_DAY_ONE + timedelta(hours=1)),
            post(31, 14, media_count=1),
        ]
        board = score_event(rules=RULES, event=EVENT, reporters=reporters, posts=posts).leaderboard
        assert [(entry.reporter_id, entry.score) for entry in board] == [
            (12, 9000),
            (11, 9000),
            (10, 7000),
            (14, 3500),
            (13, 3500),
        ]


def test_the_worked_example_of_docs_scoring_md() -> None:
    """Amina's week, exactly as docs/scoring.md walks through it."""
    ben = "mastodon:ben@mastodon.example"
    photo_text = "Youth delegates just presented their mangrove restoration map! #iucncec"
    posts = [
        # 8 Oct, Mastodon, 4 likes of which one by Ben (another registered reporter)
        make_post(
            1,
            text="Arrived in Dubai for the Congress: tomorrow the first session on ocean finance. #iucncec",
            created_at=datetime(2025, 10, 8, 8, 0, tzinfo=UTC),
            likes=4,
            liked_by=(ben,),
        ),
        # 9 Oct, Mastodon with a photo, 2 boosts and 1 reply
        make_post(2, text=photo_text, media_count=1, reposts=2, replies=1),
        # 9 Oct, the same text with the photo cross-posted to Bluesky, no engagement
        make_post(
            3,
            text=photo_text.replace("#iucncec", "#NatureForAll"),
            media_count=1,
            platform="bluesky",
            account_key=ALICE_BLUESKY,
            created_at=NOON_DAY_ONE + timedelta(minutes=2),
        ),
        # 10 Oct, blog article
        make_post(4, kind="article", platform="blog", account_key=ALICE_BLOG, created_at=NOON_DAY_ONE + DAY),
        # 10 Oct, too short
        make_post(5, text="Great panel! #iucncec", created_at=NOON_DAY_ONE + DAY),
        # 10 Oct, a boost of someone else's post
        make_post(6, kind="repost", created_at=NOON_DAY_ONE + DAY),
    ]
    result = score(posts, others=frozenset({ben}))
    assert [verdict.points for verdict in result.verdicts] == [1693, 2540, 0, 5000, 0, 0]
    assert [verdict.reasons for verdict in result.verdicts][2:] == [
        (Reason.DUPLICATE,),
        (),
        (Reason.TOO_SHORT,),
        (Reason.REPOST,),
    ]
    assert result.breakdown.day_bonus == 4000
    assert result.breakdown.platform_bonus == 1000
    assert result.score == 14233


# --- extending a stored result with new posts ----------------------------------------------------------


def _extend(
    old: list[PostFacts], new: list[PostFacts], stored: list[StoredPost] | None = None
) -> Extension | None:
    before = score(old)
    stored = stored_posts(before, old) if stored is None else stored
    return extend_reporter(
        rules=RULES,
        event=EVENT,
        reporter=make_reporter(),
        previous=before.breakdown,
        stored=stored,
        new_posts=new,
        other_reporters_verified_keys=frozenset(),
        candidate_texts={post.post_id: post.text for post in old},
    )


def test_a_new_post_with_more_points_re_caps_its_day_without_re_scoring_the_stored_ones() -> None:
    old = [make_post(n, likes=n, created_at=NOON_DAY_ONE + timedelta(minutes=n)) for n in range(1, 10)]
    new = [make_post(20, likes=7)]
    extension = _extend(old, new)
    after = score(old + new)
    assert extension is not None
    assert extension.breakdown == after.breakdown
    assert extension.verdicts == (after.verdicts[-1],)
    # posts 1-5 had ranks 9..5 on the day; each moves one down, and the cap halves them once more
    assert extension.repointed == {v.post_id: v.points for v in after.verdicts[:5]}
    assert len(extension.repointed) == 5


def test_a_new_near_copy_of_a_stored_post_leaves_it_to_a_full_re_score() -> None:
    old = [make_post(1, text="Coral reefs need protection now, more than ever before. #iucncec")]
    new = [make_post(2, text="Coral reefs need protection now - more than ever before! #iucncec", likes=30)]
    assert _extend(old, new) is None


def test_a_stored_passing_post_without_its_signature_cannot_be_extended() -> None:
    old = [make_post(1)]
    unsigned = [
        replace(item, shingle_count=None, shingle_prefix=None) for item in stored_posts(score(old), old)
    ]
    assert extension_candidates(rules=RULES, event=EVENT, stored=unsigned, new_posts=[make_post(2)]) is None
    assert _extend(old, [make_post(2)], stored=unsigned) is None


def test_a_candidate_text_the_caller_did_not_give_is_an_error() -> None:
    old = [make_post(1, text="Coral reefs need protection now, more than ever before. #iucncec")]
    before = score(old)
    with pytest.raises(ValueError, match="text of stored post 1"):
        extend_reporter(
            rules=RULES,
            event=EVENT,
            reporter=make_reporter(),
            previous=before.breakdown,
            stored=stored_posts(before, old),
            new_posts=[
                make_post(2, text="Coral reefs need protection now - more than ever before! #iucncec")
            ],
            other_reporters_verified_keys=frozenset(),
            candidate_texts={},
        )
