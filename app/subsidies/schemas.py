"""What staff send (decisions) and what each role reads (eligibility, subsidies, budget).

Money leaves as strings with exactly the currency's minor unit ("150.00", "3000", "1.250").
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from app.core.api import SafeStr
from app.subsidies.models import Subsidy, SubsidyState, SubsidyTransition
from app.subsidies.service import Budget, ReporterEligibility, format_money
from scoring.eligibility import Eligibility

Reason = Annotated[SafeStr, Field(max_length=2000, description="Why; required to reject or revoke.")]


class DecisionRequest(BaseModel):
    """A staff decision on a subsidy."""

    model_config = ConfigDict(extra="forbid")

    reason: Reason | None = None


class ApproveRequest(DecisionRequest):
    """Approve, optionally with another amount (then a reason is required)."""

    amount: Annotated[
        Decimal | None,
        Field(
            default=None,
            gt=0,
            max_digits=12,
            decimal_places=4,
            description="Override the proposed amount (in the event's currency, at most its minor unit).",
            examples=["250.00"],
        ),
    ] = None


class Ref(BaseModel):
    id: int
    name: str


class CriterionPublic(BaseModel):
    code: str
    met: bool
    actual: int
    required: int
    words: str = Field(description='The numbers in words, e.g. "3 of 5 posts".')
    missing: str | None = Field(description="What is still missing; null when met.")


class SubsidyRef(BaseModel):
    id: int
    state: SubsidyState
    amount: str
    currency: str


class EligibilityPublic(BaseModel):
    event: str
    reporter: Ref
    eligible: bool
    criteria: list[CriterionPublic]
    currency: str | None
    potential_subsidy: str | None = Field(description="What would be proposed once every criterion is met.")
    subsidy: str | None = Field(description="The subsidy proposed now (null unless eligible).")
    scores_pending: bool = Field(description="Changes wait for the next re-score: figures may move.")
    current_subsidy: SubsidyRef | None = Field(default=None, description="The subsidy on record, if any.")


class SubsidyPublic(BaseModel):
    """A subsidy as its reporter sees it."""

    id: int
    event: str
    reporter: Ref
    state: SubsidyState
    amount: str
    currency: str
    proposed_at: datetime
    decided_at: datetime | None
    paid_at: datetime | None
    reason: str | None


class TransitionPublic(BaseModel):
    from_state: SubsidyState | None
    to_state: SubsidyState
    amount: str
    actor: Ref | None
    at: datetime
    reason: str | None


class SubsidyStaff(SubsidyPublic):
    """A subsidy in a staff list: also who decided."""

    decided_by: Ref | None


class SubsidyDetail(SubsidyStaff):
    """A subsidy as staff see it: who decided, and every transition."""

    transitions: list[TransitionPublic]


class BudgetPublic(BaseModel):
    event: str
    currency: str | None
    budget: str | None
    proposed: str
    approved: str
    paid: str
    committed: str = Field(description="approved + paid")
    left: str | None = Field(description="budget − approved − paid; null without a budget.")


def money(amount: Decimal | None, currency: str | None) -> str | None:
    return None if amount is None else format_money(amount, currency)


def eligibility_public(
    *,
    event_slug: str,
    reporter: Ref,
    eligibility: Eligibility,
    scores_pending: bool = False,
    subsidy: Subsidy | None = None,
) -> EligibilityPublic:
    currency = eligibility.currency
    return EligibilityPublic(
        event=event_slug,
        reporter=reporter,
        eligible=eligibility.eligible,
        criteria=[
            CriterionPublic(
                code=c.code.value,
                met=c.met,
                actual=c.actual,
                required=c.required,
                words=c.words,
                missing=c.missing,
            )
            for c in eligibility.criteria
        ],
        currency=currency,
        potential_subsidy=money(eligibility.potential_subsidy, currency),
        subsidy=money(eligibility.subsidy, currency),
        scores_pending=scores_pending,
        current_subsidy=None if subsidy is None else subsidy_ref(subsidy),
    )


def row_public(event_slug: str, row: ReporterEligibility) -> EligibilityPublic:
    return eligibility_public(
        event_slug=event_slug,
        reporter=Ref(id=row.reporter_id, name=row.name),
        eligibility=row.eligibility,
        scores_pending=row.scores_pending,
        subsidy=row.subsidy,
    )


def subsidy_ref(subsidy: Subsidy) -> SubsidyRef:
    return SubsidyRef(
        id=subsidy.id or 0,
        state=SubsidyState(subsidy.state),
        amount=format_money(subsidy.amount, subsidy.currency),
        currency=subsidy.currency,
    )


def subsidy_public(subsidy: Subsidy, *, event_slug: str, reporter_name: str) -> SubsidyPublic:
    return SubsidyPublic(
        id=subsidy.id or 0,
        event=event_slug,
        reporter=Ref(id=subsidy.reporter_id, name=reporter_name),
        state=SubsidyState(subsidy.state),
        amount=format_money(subsidy.amount, subsidy.currency),
        currency=subsidy.currency,
        proposed_at=subsidy.proposed_at,
        decided_at=subsidy.decided_at,
        paid_at=subsidy.paid_at,
        reason=subsidy.reason,
    )


def _user_ref(user_id: int | None, user_names: dict[int, str]) -> Ref | None:
    return None if user_id is None else Ref(id=user_id, name=user_names.get(user_id, ""))


def subsidy_staff(
    subsidy: Subsidy, *, event_slug: str, reporter_name: str, user_names: dict[int, str]
) -> SubsidyStaff:
    return SubsidyStaff(
        **subsidy_public(subsidy, event_slug=event_slug, reporter_name=reporter_name).model_dump(),
        decided_by=_user_ref(subsidy.decided_by, user_names),
    )


def subsidy_detail(
    subsidy: Subsidy,
    *,
    event_slug: str,
    reporter_name: str,
    transitions: list[SubsidyTransition],
    user_names: dict[int, str],
) -> SubsidyDetail:
    return SubsidyDetail(
        **subsidy_staff(
            subsidy, event_slug=event_slug, reporter_name=reporter_name, user_names=user_names
        ).model_dump(),
        transitions=[
            TransitionPublic(
                from_state=None if t.from_state is None else SubsidyState(t.from_state),
                to_state=SubsidyState(t.to_state),
                amount=format_money(t.amount, subsidy.currency),
                actor=_user_ref(t.actor_id, user_names),
                at=t.at,
                reason=t.reason,
            )
            for t in transitions
        ],
    )


def budget_public(event_slug: str, budget: Budget) -> BudgetPublic:
    currency = budget.currency
    return BudgetPublic(
        event=event_slug,
        currency=currency,
        budget=money(budget.budget, currency),
        proposed=format_money(budget.proposed, currency),
        approved=format_money(budget.approved, currency),
        paid=format_money(budget.paid, currency),
        committed=format_money(budget.committed, currency),
        left=money(budget.left, currency),
    )
