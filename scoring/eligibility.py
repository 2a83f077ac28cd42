"""Fee reimbursement eligibility and the proposed subsidy (DESIGN §5); eligibility proposes only."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from enum import StrEnum

from scoring.engine import ReporterResult
from scoring.model import EventSpec, ReporterFacts
from scoring.rules import RuleSet

__all__ = [
    "CURRENCY_MINOR_UNITS",
    "Criterion",
    "CriterionCode",
    "Eligibility",
    "assess_eligibility",
    "minor_unit",
    "subsidy_amount",
]

# ISO 4217 currencies whose minor unit is not 2 decimals; every other currency uses 2.
CURRENCY_MINOR_UNITS: dict[str, int] = {
    **dict.fromkeys(
        (
            "BIF",
            "CLP",
            "DJF",
            "GNF",
            "ISK",
            "JPY",
            "KMF",
            "KRW",
            "PYG",
            "RWF",
            "UGX",
            "UYI",
            "VND",
            "VUV",
            "XAF",
            "XOF",
            "XPF",
        ),
        0,
    ),
    **dict.fromkeys(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"), 3),
    **dict.fromkeys(("CLF", "UYW"), 4),
}


class CriterionCode(StrEnum):
    """The fee reimbursement criteria, in the order they are shown."""

    REGISTERED_IN_TIME = "registered_in_time"
    VERIFIED_ACCOUNT = "verified_account"
    POSTS = "posts"
    EVENT_DAYS = "event_days"
    BLOG_ARTICLES = "blog_articles"


@dataclass(frozen=True, kw_only=True, slots=True)
class Criterion:
    """One criterion: met or not, its numbers, words, and what is missing (None when met)."""

    code: CriterionCode
    met: bool
    actual: int
    required: int
    words: str
    missing: str | None


@dataclass(frozen=True, kw_only=True, slots=True)
class Eligibility:
    """All criteria of one reporter for one event and the subsidy proposed, if any.

    `subsidy` is proposed only when every criterion is met and the event has a fee;
    `potential_subsidy` is what would be proposed once they are (None without a fee).
    """

    reporter_id: int
    criteria: tuple[Criterion, ...]
    eligible: bool
    currency: str | None
    potential_subsidy: Decimal | None
    subsidy: Decimal | None


def minor_unit(currency: str | None) -> int:
    """Return the number of decimals of a currency's minor unit (2 when unknown)."""
    if currency is None:
        return 2
    return CURRENCY_MINOR_UNITS.get(currency.upper(), 2)


def subsidy_amount(
    *, fee: Decimal | None, share_percent: int, cap: Decimal | None, currency: str | None
) -> Decimal | None:
    """Return min(fee × share, cap) truncated to the currency's minor unit; None without a fee."""
    if fee is None:
        return None
    amount = fee * Decimal(share_percent) / Decimal(100)
    if cap is not None:
        amount = min(amount, cap)
    quantum = Decimal(1).scaleb(-minor_unit(currency))
    return amount.quantize(quantum, rounding=ROUND_DOWN)


def _plural(count: int, singular: str, plural: str) -> str:
    return singular if count == 1 else plural


def _counted(
    code: CriterionCode, actual: int, required: int, singular: str, plural: str, hint: str
) -> Criterion:
    met = actual >= required
    short = required - actual
    return Criterion(
        code=code,
        met=met,
        actual=actual,
        required=required,
        # "3 of 5 posts" up to the requirement; beyond it "7 posts (5 needed)" reads better than "7 of 5"
        words=(
            f"{actual} of {required} {_plural(required, singular, plural)}"
            if actual <= required
            else f"{actual} {_plural(actual, singular, plural)} ({required} needed)"
        ),
        missing=None if met else hint.format(short=short, unit=_plural(short, singular, plural)),
    )


def _override(value: int | None, default: int) -> int:
    return default if value is None else value


def assess_eligibility(
    *, rules: RuleSet, event: EventSpec, reporter: ReporterFacts, result: ReporterResult
) -> Eligibility:
    """Check each fee reimbursement criterion of a reporter; propose a subsidy if all pass."""
    if result.reporter_id != reporter.reporter_id:
        raise ValueError(f"result of reporter {result.reporter_id} given for reporter {reporter.reporter_id}")
    defaults = rules.eligibility
    min_posts = _override(event.min_posts, defaults.min_posts)
    min_days = _override(event.min_event_days, defaults.min_event_days)
    min_articles = _override(event.min_blog_articles, defaults.min_blog_articles)
    share = _override(event.subsidy_share_percent, defaults.subsidy_share_percent)
    breakdown = result.breakdown

    first_instant = event.first_instant()
    registered_at = reporter.registered_at
    if registered_at is None:
        registration = Criterion(
            code=CriterionCode.REGISTERED_IN_TIME,
            met=False,
            actual=0,
            required=1,
            words="not registered for the event",
            missing="register for the event before it starts",
        )
    else:
        in_time = registered_at < first_instant
        registration = Criterion(
            code=CriterionCode.REGISTERED_IN_TIME,
            met=in_time,
            actual=1 if in_time else 0,
            required=1,
            words=(
                f"registered {'before' if in_time else 'after'} the event began "
                f"({first_instant.isoformat()} {event.timezone})"
            ),
            missing=None if in_time else "registration came after the event began",
        )

    verified = len(reporter.verified_account_keys)
    criteria = (
        registration,
        _counted(
            CriterionCode.VERIFIED_ACCOUNT,
            verified,
            1,
            "verified account",
            "verified accounts",
            "verify at least one account",
        ),
        _counted(
            CriterionCode.POSTS,
            breakdown.posts_counted,
            min_posts,
            "post",
            "posts",
            "{short} more {unit}",
        ),
        _counted(
            CriterionCode.EVENT_DAYS,
            breakdown.event_days_covered,
            min(min_days, len(event.event_days)),
            "day",
            "days",
            "counted posts on {short} more event {unit}",
        ),
        _counted(
            CriterionCode.BLOG_ARTICLES,
            breakdown.articles_counted,
            min_articles,
            "blog article",
            "blog articles",
            "{short} more {unit}",
        ),
    )
    eligible = all(criterion.met for criterion in criteria)
    potential = subsidy_amount(
        fee=event.fee, share_percent=share, cap=event.subsidy_cap, currency=event.currency
    )
    return Eligibility(
        reporter_id=reporter.reporter_id,
        criteria=criteria,
        eligible=eligible,
        currency=event.currency,
        potential_subsidy=potential,
        subsidy=potential if eligible else None,
    )
