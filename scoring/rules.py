"""Versioned scoring rules: TOML data loaded into frozen, typed objects (DESIGN §5).

Errors::

    RulesError (ValueError)        a rules text is malformed or inconsistent
    └── UnknownRulesVersion        no shipped rules file has that version
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation, localcontext
from fractions import Fraction
from functools import cache, cached_property
from importlib import resources
from typing import Any

__all__ = [
    "BasePoints",
    "CoverageRules",
    "DailyCapRules",
    "DuplicateRules",
    "EligibilityRules",
    "EngagementRules",
    "RuleSet",
    "RulesError",
    "UnknownRulesVersion",
    "WindowRules",
    "available_versions",
    "load_rules",
    "rules_toml_text",
]

_VERSION_PATTERN = re.compile(r"^\d+(?:\.\d+)*$")


class RulesError(ValueError):
    """A rules text is malformed or inconsistent."""


class UnknownRulesVersion(RulesError):
    """No shipped rules file has this version."""

    def __init__(self, version: str) -> None:
        super().__init__(f"unknown scoring rules version {version!r}")
        self.version = version


@dataclass(frozen=True, kw_only=True, slots=True)
class BasePoints:
    """Base points of a counted post by kind, in thousandths."""

    short_post: int
    media_post: int
    blog_article: int


@dataclass(frozen=True, kw_only=True)
class EngagementRules:
    """Parameters of the engagement bonus, in thousandths."""

    multiplier: int
    like_weight: int
    repost_weight: int
    reply_weight: int
    cap: int

    @cached_property
    def bonus_table(self) -> tuple[int, ...]:
        """Return the bonus for every weighted engagement below the one that reaches the cap."""
        table: list[int] = []
        weighted = 0
        while True:
            bonus = _log_bonus(self.multiplier, weighted)
            if bonus >= self.cap:
                return tuple(table)
            table.append(bonus)
            weighted += 1

    def bonus(self, *, likes: int, reposts: int, replies: int) -> int:
        """Return the engagement bonus in thousandths for already-filtered counts."""
        weighted = likes * self.like_weight + reposts * self.repost_weight + replies * self.reply_weight
        table = self.bonus_table
        return table[weighted] if weighted < len(table) else self.cap


def _log_bonus(multiplier: int, weighted: int) -> int:
    """Return round_half_even(multiplier * ln(1 + weighted)) computed in 40-digit decimal."""
    # Decimal.ln is correctly rounded, so the result is the same on every platform; float math.log
    # could differ by an ulp between C libraries and flip a near-.5 rounding.
    with localcontext() as context:
        context.prec = 40
        context.rounding = ROUND_HALF_EVEN
        exact = Decimal(multiplier) * Decimal(1 + weighted).ln()
        return int(exact.to_integral_value(rounding=ROUND_HALF_EVEN))


@dataclass(frozen=True, kw_only=True, slots=True)
class DailyCapRules:
    """Diminishing returns: a day's n-th post (n > threshold) counts at factor^(n - threshold)."""

    threshold: int
    factor: Fraction


@dataclass(frozen=True, kw_only=True, slots=True)
class CoverageRules:
    """Coverage breadth bonuses, in thousandths."""

    event_day_bonus: int
    extra_platform_bonus: int


@dataclass(frozen=True, kw_only=True, slots=True)
class DuplicateRules:
    """Near-copy detection: Jaccard index of character shingles of normalised text."""

    jaccard_threshold: Fraction
    shingle_size: int


@dataclass(frozen=True, kw_only=True, slots=True)
class WindowRules:
    """Coverage window offsets in days relative to the event's start and end dates."""

    start_offset_days: int
    end_offset_days: int


@dataclass(frozen=True, kw_only=True, slots=True)
class EligibilityRules:
    """Default fee-reimbursement criteria; an event may override each."""

    min_posts: int
    min_event_days: int
    min_blog_articles: int
    subsidy_share_percent: int


@dataclass(frozen=True, kw_only=True)
class RuleSet:
    """One immutable version of the scoring rules."""

    version: str
    base_points: BasePoints
    engagement: EngagementRules
    min_own_text_length: int
    daily_cap: DailyCapRules
    coverage: CoverageRules
    duplicates: DuplicateRules
    window: WindowRules
    accepted_tags: tuple[str, ...]
    eligibility: EligibilityRules

    @classmethod
    def from_toml_text(cls, text: str) -> RuleSet:
        """Parse and validate a rules TOML text (as shipped or as stored in the database)."""
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as error:
            raise RulesError(f"rules are not valid TOML: {error}") from error
        return _build_rule_set(_Reader(data, "rules"))


class _Reader:
    """Read one TOML table strictly: every key required, no unknown key."""

    def __init__(self, data: Mapping[str, Any], where: str) -> None:
        self._data = data
        self._where = where
        self._seen: set[str] = set()

    def _get(self, key: str) -> Any:
        if key not in self._data:
            raise RulesError(f"{self._where}: missing key {key!r}")
        self._seen.add(key)
        return self._data[key]

    def table(self, key: str) -> _Reader:
        value = self._get(key)
        if not isinstance(value, dict):
            raise RulesError(f"{self._where}.{key}: expected a table")
        return _Reader(value, f"{self._where}.{key}")

    def integer(self, key: str, *, minimum: int | None = 0) -> int:
        value = self._get(key)
        if isinstance(value, bool) or not isinstance(value, int):
            raise RulesError(f"{self._where}.{key}: expected an integer")
        if minimum is not None and value < minimum:
            raise RulesError(f"{self._where}.{key}: must be at least {minimum}")
        return value

    def fraction(self, key: str) -> Fraction:
        value = self._get(key)
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise RulesError(f"{self._where}.{key}: expected a decimal number")
        try:
            # str() of a float is its shortest repr, so 0.9 reads as exactly 9/10.
            number = Decimal(str(value))
        except InvalidOperation as error:
            raise RulesError(f"{self._where}.{key}: {value!r} is not a decimal number") from error
        if not number.is_finite():
            raise RulesError(f"{self._where}.{key}: must be finite")
        return Fraction(number)

    def string(self, key: str) -> str:
        value = self._get(key)
        if not isinstance(value, str):
            raise RulesError(f"{self._where}.{key}: expected a string")
        return value

    def strings(self, key: str) -> tuple[str, ...]:
        value = self._get(key)
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise RulesError(f"{self._where}.{key}: expected a list of strings")
        return tuple(value)

    def done(self) -> None:
        unknown = sorted(set(self._data) - self._seen)
        if unknown:
            raise RulesError(f"{self._where}: unknown keys {unknown}")


def _build_rule_set(reader: _Reader) -> RuleSet:
    version = reader.string("version")
    if not _VERSION_PATTERN.match(version):
        raise RulesError(f"rules.version: {version!r} is not a version like '2026.1'")

    base = reader.table("base_points")
    base_points = BasePoints(
        short_post=base.integer("short_post"),
        media_post=base.integer("media_post"),
        blog_article=base.integer("blog_article"),
    )
    base.done()

    table = reader.table("engagement")
    engagement = EngagementRules(
        multiplier=table.integer("multiplier", minimum=1),
        like_weight=table.integer("like_weight"),
        repost_weight=table.integer("repost_weight"),
        reply_weight=table.integer("reply_weight"),
        cap=table.integer("cap"),
    )
    table.done()

    content = reader.table("content")
    min_own_text_length = content.integer("min_own_text_length")
    content.done()

    table = reader.table("daily_cap")
    daily_cap = DailyCapRules(threshold=table.integer("threshold"), factor=table.fraction("factor"))
    table.done()
    if not 0 <= daily_cap.factor <= 1:
        raise RulesError("rules.daily_cap.factor: must be between 0 and 1")

    table = reader.table("coverage")
    coverage = CoverageRules(
        event_day_bonus=table.integer("event_day_bonus"),
        extra_platform_bonus=table.integer("extra_platform_bonus"),
    )
    table.done()

    table = reader.table("duplicates")
    duplicates = DuplicateRules(
        jaccard_threshold=table.fraction("jaccard_threshold"),
        shingle_size=table.integer("shingle_size", minimum=1),
    )
    table.done()
    if not 0 < duplicates.jaccard_threshold <= 1:
        raise RulesError("rules.duplicates.jaccard_threshold: must be in (0, 1]")

    table = reader.table("window")
    window = WindowRules(
        start_offset_days=table.integer("start_offset_days", minimum=None),
        end_offset_days=table.integer("end_offset_days", minimum=None),
    )
    table.done()

    table = reader.table("tags")
    accepted_tags = table.strings("accepted")
    table.done()
    if not accepted_tags:
        raise RulesError("rules.tags.accepted: at least one tag is needed")

    table = reader.table("eligibility")
    eligibility = EligibilityRules(
        min_posts=table.integer("min_posts"),
        min_event_days=table.integer("min_event_days"),
        min_blog_articles=table.integer("min_blog_articles"),
        subsidy_share_percent=table.integer("subsidy_share_percent"),
    )
    table.done()
    if eligibility.subsidy_share_percent > 100:
        raise RulesError("rules.eligibility.subsidy_share_percent: must be at most 100")

    reader.done()
    return RuleSet(
        version=version,
        base_points=base_points,
        engagement=engagement,
        min_own_text_length=min_own_text_length,
        daily_cap=daily_cap,
        coverage=coverage,
        duplicates=duplicates,
        window=window,
        accepted_tags=accepted_tags,
        eligibility=eligibility,
    )


def _rules_directory() -> Any:
    return resources.files("scoring") / "rules"


def available_versions() -> list[str]:
    """Return the versions of every shipped rules file, oldest first."""
    versions = [
        entry.name.removesuffix(".toml")
        for entry in _rules_directory().iterdir()
        if entry.name.endswith(".toml") and _VERSION_PATTERN.match(entry.name.removesuffix(".toml"))
    ]
    return sorted(versions, key=lambda version: tuple(int(part) for part in version.split(".")))


def rules_toml_text(version: str) -> str:
    """Return the shipped TOML text of one rules version (to copy into the database)."""
    if not _VERSION_PATTERN.match(version):
        raise UnknownRulesVersion(version)
    entry = _rules_directory() / f"{version}.toml"
    if not entry.is_file():
        raise UnknownRulesVersion(version)
    text: str = entry.read_text(encoding="utf-8")
    return text


@cache
def load_rules(version: str) -> RuleSet:
    """Load and validate one shipped rules version."""
    rules = RuleSet.from_toml_text(rules_toml_text(version))
    if rules.version != version:
        raise RulesError(f"rules file {version}.toml declares version {rules.version!r}")
    return rules
