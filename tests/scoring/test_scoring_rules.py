"""The shipped rule set is read exactly and a malformed one is refused."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest

from scoring import (
    RulesError,
    RuleSet,
    UnknownRulesVersion,
    available_versions,
    load_rules,
    rules_toml_text,
)


def test_version_2026_1_has_the_values_of_design_section_5() -> None:
    rules = load_rules("2026.1")
    assert rules.version == "2026.1"
    assert (rules.base_points.short_post, rules.base_points.media_post) == (1000, 1500)
    assert rules.base_points.blog_article == 5000
    engagement = rules.engagement
    assert (engagement.multiplier, engagement.cap) == (500, 3000)
    assert (engagement.like_weight, engagement.repost_weight, engagement.reply_weight) == (1, 2, 3)
    assert rules.min_own_text_length == 40
    assert (rules.daily_cap.threshold, rules.daily_cap.factor) == (5, Fraction(1, 2))
    assert (rules.coverage.event_day_bonus, rules.coverage.extra_platform_bonus) == (2000, 1000)
    assert rules.duplicates.jaccard_threshold == Fraction(9, 10)
    assert rules.duplicates.shingle_size == 5
    assert (rules.window.start_offset_days, rules.window.end_offset_days) == (-2, 14)
    assert rules.accepted_tags == ("iucncec", "NatureForAll")
    eligibility = rules.eligibility
    assert (eligibility.min_posts, eligibility.min_event_days) == (5, 2)
    assert (eligibility.min_blog_articles, eligibility.subsidy_share_percent) == (1, 50)


def test_stored_text_reloads_to_the_same_rules() -> None:
    assert "2026.1" in available_versions()
    assert RuleSet.from_toml_text(rules_toml_text("2026.1")) == load_rules("2026.1")


def test_decimal_bonus_table_agrees_with_the_float_formula() -> None:
    table = load_rules("2026.1").engagement.bonus_table
    assert len(table) == 403  # 500·ln(1 + 403) is the first to reach 3000
    assert list(table) == [round(500 * math.log(1 + weighted)) for weighted in range(403)]


@pytest.mark.parametrize("version", ["1999.1", "../rules/2026.1", "2026.1/../../x", ""])
def test_unknown_versions_are_refused(version: str) -> None:
    with pytest.raises(UnknownRulesVersion):
        load_rules(version)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("cap = 3000", "cap = 3000\nbonus = 1"), "unknown keys"),
        (("cap = 3000\n", ""), "missing key 'cap'"),
        (('factor = "0.5"', 'factor = "half"'), "not a decimal number"),
        (('factor = "0.5"', 'factor = "1.5"'), "between 0 and 1"),
        (("short_post = 1000", "short_post = -1"), "at least 0"),
        (("short_post = 1000", "short_post = 1.5"), "expected an integer"),
        (('version = "2026.1"', 'version = "latest"'), "not a version"),
        (('accepted = ["iucncec", "NatureForAll"]', "accepted = []"), "at least one tag"),
        (("[window]", "[window"), "not valid TOML"),
    ],
)
def test_malformed_rules_are_refused(change: tuple[str, str], message: str) -> None:
    text = rules_toml_text("2026.1")
    old, new = change
    assert old in text
    with pytest.raises(RulesError, match=message):
        RuleSet.from_toml_text(text.replace(old, new, 1))
