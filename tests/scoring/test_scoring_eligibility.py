"""Fee reimbursement eligibility and subsidy amounts, with numbers worked by hand."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from scoring import (
    Criterion,
    CriterionCode,
    Eligibility,
    EventSpec,
    PostFacts,
    ReporterFacts,
    assess_eligibility,
    minor_unit,
    score_reporter,
    subsidy_amount,
)
from tests.scoring.scoring_factories import ALICE_BLOG, EVENT, NOON_DAY_ONE, RULES, make_post, make_reporter

DAY = timedelta(days=1)


def assess(
    posts: list[PostFacts], *, reporter: ReporterFacts | None = None, event: EventSpec = EVENT
) -> Eligibility:
    reporter = reporter or make_reporter()
    result = score_reporter(
        rules=RULES,
        event=event,
        reporter=reporter,
        posts=posts,
        other_reporters_verified_keys=frozenset(),
    )
    return assess_eligibility(rules=RULES, event=event, reporter=reporter, result=result)


def by_code(eligibility: Eligibility) -> dict[CriterionCode, Criterion]:
    return {criterion.code: criterion for criterion in eligibility.criteria}


def test_reporter_short_of_posts_days_and_article() -> None:
    posts = [
        make_post(post_id, created_at=NOON_DAY_ONE + post_id * timedelta(hours=1)) for post_id in range(1, 4)
    ]
    eligibility = assess(posts)
    criteria = by_code(eligibility)
    assert criteria[CriterionCode.REGISTERED_IN_TIME].met
    assert criteria[CriterionCode.VERIFIED_ACCOUNT].words == "3 verified accounts (1 needed)"
    posts_criterion = criteria[CriterionCode.POSTS]
    assert (posts_criterion.met, posts_criterion.words) == (False, "3 of 5 posts")
    assert posts_criterion.missing == "2 more posts"
    days = criteria[CriterionCode.EVENT_DAYS]
    assert (days.met, days.words, days.missing) == (False, "1 of 2 days", "counted posts on 1 more event day")
    articles = criteria[CriterionCode.BLOG_ARTICLES]
    assert (articles.words, articles.missing) == ("0 of 1 blog article", "1 more blog article")
    assert not eligibility.eligible
    assert eligibility.subsidy is None
    # min(500 CHF × 50 %, 300) = 250.00, proposed once every criterion is met
    assert eligibility.potential_subsidy == Decimal("250.00")


def full_coverage() -> list[PostFacts]:
    posts = [make_post(post_id, created_at=NOON_DAY_ONE + (post_id % 2) * DAY) for post_id in range(1, 5)]
    posts.append(make_post(5, kind="article", platform="blog", account_key=ALICE_BLOG))
    return posts


def test_eligible_reporter_gets_a_proposed_subsidy() -> None:
    eligibility = assess(full_coverage())
    assert all(criterion.met for criterion in eligibility.criteria)
    assert all(criterion.missing is None for criterion in eligibility.criteria)
    assert by_code(eligibility)[CriterionCode.POSTS].words == "5 of 5 posts"
    assert by_code(eligibility)[CriterionCode.EVENT_DAYS].words == "2 of 2 days"
    assert eligibility.eligible
    assert eligibility.subsidy == Decimal("250.00")
    assert eligibility.currency == "CHF"


def test_no_fee_means_no_subsidy() -> None:
    eligibility = assess(full_coverage(), event=replace(EVENT, fee=None))
    assert eligibility.eligible
    assert eligibility.subsidy is None


def test_one_day_event_needs_one_event_day() -> None:
    event = replace(EVENT, end=EVENT.start)
    posts = [
        make_post(post_id, created_at=NOON_DAY_ONE + post_id * timedelta(minutes=5))
        for post_id in range(1, 5)
    ]
    posts.append(make_post(5, kind="article", platform="blog", account_key=ALICE_BLOG))
    eligibility = assess(posts, event=event)
    assert by_code(eligibility)[CriterionCode.EVENT_DAYS].words == "1 of 1 day"
    assert eligibility.eligible


def test_window_days_are_not_event_days() -> None:
    posts = [make_post(post_id, created_at=NOON_DAY_ONE - post_id * DAY) for post_id in (1, 2)]
    criterion = by_code(assess(posts))[CriterionCode.EVENT_DAYS]
    assert criterion.words == "0 of 2 days"
    assert criterion.missing == "counted posts on 2 more event days"


def test_event_overrides() -> None:
    event = replace(EVENT, min_posts=2, min_event_days=1, min_blog_articles=0, subsidy_share_percent=40)
    posts = [make_post(1), make_post(2)]
    eligibility = assess(posts, event=event)
    assert eligibility.eligible
    assert eligibility.subsidy == Decimal("200.00")  # 500 × 40 % = 200 below the cap of 300


@pytest.mark.parametrize(
    ("registered_at", "met"),
    [
        # the event starts 2025-10-09 00:00 in Dubai = 2025-10-08 20:00 UTC
        (datetime(2025, 10, 8, 19, 59, 59, tzinfo=UTC), True),
        (datetime(2025, 10, 8, 20, 0, 0, tzinfo=UTC), False),
    ],
)
def test_registration_strictly_before_the_first_instant(registered_at: datetime, met: bool) -> None:
    eligibility = assess(full_coverage(), reporter=make_reporter(registered_at=registered_at))
    assert by_code(eligibility)[CriterionCode.REGISTERED_IN_TIME].met is met
    assert eligibility.eligible is met


def test_first_instant_inside_a_dst_gap() -> None:
    # Chile skipped 2024-09-08 00:00-01:00; the day began at 01:00 -03 = 04:00 UTC
    event = replace(EVENT, start=date(2024, 9, 8), end=date(2024, 9, 8), timezone="America/Santiago")
    assert event.first_instant().astimezone(UTC) == datetime(2024, 9, 8, 4, 0, tzinfo=UTC)


def test_unverified_and_unregistered_reporter() -> None:
    reporter = make_reporter(registered_at=None, verified_account_keys=frozenset())
    criteria = by_code(assess([], reporter=reporter))
    assert criteria[CriterionCode.REGISTERED_IN_TIME].missing == ("register for the event before it starts")
    verified = criteria[CriterionCode.VERIFIED_ACCOUNT]
    assert (verified.met, verified.words) == (False, "0 of 1 verified account")


@pytest.mark.parametrize(
    ("fee", "cap", "currency", "expected"),
    [
        ("500", "300", "CHF", "250.00"),  # 250 below the cap
        ("1000", "300", "CHF", "300.00"),  # capped
        ("333.33", None, "CHF", "166.66"),  # 166.665 truncated, not rounded up
        ("12345", None, "JPY", "6172"),  # 6172.5 truncated to whole yen
        ("12345", "6000.9", "JPY", "6000"),  # the cap too is truncated to the minor unit
        ("10.0005", None, "KWD", "5.000"),  # 5.00025 truncated to fils
        ("99.99", None, "EUR", "49.99"),  # 49.995
        ("0", None, "EUR", "0.00"),
    ],
)
def test_subsidy_truncates_to_the_minor_unit(fee: str, cap: str | None, currency: str, expected: str) -> None:
    amount = subsidy_amount(
        fee=Decimal(fee),
        share_percent=50,
        cap=None if cap is None else Decimal(cap),
        currency=currency,
    )
    assert amount is not None
    assert str(amount) == expected


def test_minor_units() -> None:
    assert [minor_unit(code) for code in ("JPY", "krw", "CHF", "BHD", "XYZ", None)] == [0, 0, 2, 3, 2, 2]
