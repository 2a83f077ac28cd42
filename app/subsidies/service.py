"""Fee subsidies (DESIGN §5 eligibility, §6): eligibility from stored scores, proposals, decisions.

State machine (``TRANSITIONS``)::

    (none) ──propose──▶ proposed ──approve──▶ approved ──pay──▶ paid
                           │  ▲                   │
                        reject └──────revoke──────┘
                           ▼
                        rejected

Every transition writes a ``SubsidyTransition`` row (who, when, amount, reason) and an audit entry.
A reason is required to reject, to revoke and to change the amount when approving. Nobody decides
on their own subsidy. The budget rule (approved + paid ≤ budget) holds under concurrent deciders
because each decision first takes the event's lock (``repository.lock_event*``) and only then reads
the subsidy and the sums, inside the caller's transaction.

Errors (app.core.errors)::

    InvalidInput      a reason is missing, an amount is not valid for the currency
    NotFound          no such subsidy
    Conflict
    ├── IllegalTransition   the subsidy is not in the state the action needs (names both)
    └── BudgetExceeded      the approval would take approved + paid above the budget (or no budget)
    Forbidden
    └── OwnSubsidy          the decider is the subsidy's reporter (audited before it is raised)
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from typing import Any

from sqlmodel import Session

from app.audit import service as audit
from app.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from app.events.models import Event
from app.scoring import service as scoring_service
from app.subsidies import repository as repo
from app.subsidies.models import Subsidy, SubsidyState, SubsidyTransition
from app.users.models import User
from scoring.eligibility import Eligibility, assess_eligibility, minor_unit
from scoring.engine import EMPTY_BREAKDOWN, ReporterResult

SYSTEM_ROLE = "system"
MAX_REASON = 2000


class Action(enum.StrEnum):
    APPROVE = "approve"
    REJECT = "reject"
    REVOKE = "revoke"
    PAY = "pay"


# action -> (the state it needs, the state it leads to)
TRANSITIONS: dict[Action, tuple[SubsidyState, SubsidyState]] = {
    Action.APPROVE: (SubsidyState.PROPOSED, SubsidyState.APPROVED),
    Action.REJECT: (SubsidyState.PROPOSED, SubsidyState.REJECTED),
    Action.REVOKE: (SubsidyState.APPROVED, SubsidyState.PROPOSED),
    Action.PAY: (SubsidyState.APPROVED, SubsidyState.PAID),
}
REASON_REQUIRED = frozenset({Action.REJECT, Action.REVOKE})
_PAST = {Action.APPROVE: "approved", Action.REJECT: "rejected", Action.REVOKE: "revoked", Action.PAY: "paid"}


class IllegalTransition(Conflict):
    """The subsidy is not in the state the action needs."""

    def __init__(self, subsidy_id: int, action: Action, state: str) -> None:
        needed, _ = TRANSITIONS[action]
        super().__init__(
            f"subsidy {subsidy_id} is {state}: only a {needed.value} subsidy can be {_PAST[action]}"
        )
        self.state = state
        self.action = action


class BudgetExceeded(Conflict):
    """Approving would take the event's approved + paid total above its budget."""


class OwnSubsidy(Forbidden):
    """The decider is the reporter the subsidy belongs to."""


# --- money --------------------------------------------------------------------------------------


def quantum(currency: str | None) -> Decimal:
    """The currency's minor unit as a Decimal step (0.01 for CHF, 1 for JPY, 0.001 for KWD)."""
    return Decimal(1).scaleb(-minor_unit(currency))


def truncate(amount: Decimal, currency: str | None) -> Decimal:
    """Cut an amount down to the currency's minor unit (never rounds up)."""
    return amount.quantize(quantum(currency), rounding=ROUND_DOWN)


def format_money(amount: Decimal, currency: str | None) -> str:
    """The amount as a string with exactly the currency's minor unit, e.g. '150.00', '3000', '1.250'."""
    return f"{truncate(amount, currency):f}"


def _checked_amount(amount: Decimal, currency: str, event: Event) -> Decimal:
    try:
        exact = amount.quantize(quantum(currency), rounding=ROUND_DOWN)
    except InvalidOperation:
        raise InvalidInput(f"amount {amount} is not a valid {currency} amount") from None
    if not amount.is_finite() or amount <= 0:
        raise InvalidInput("the amount must be more than zero")
    if exact != amount:
        decimals = minor_unit(currency)
        raise InvalidInput(
            f"{currency} amounts have {decimals} decimal{'s' if decimals != 1 else ''} at most: "
            f"{amount} is not a {currency} amount (did you mean {format_money(exact, currency)}?)"
        )
    if event.fee is not None and amount > event.fee:
        raise InvalidInput(
            f"the amount {format_money(amount, currency)} {currency} is more than the event's fee "
            f"of {format_money(event.fee, currency)} {currency}"
        )
    return exact


def _clean_reason(reason: str | None) -> str | None:
    if reason is None:
        return None
    reason = " ".join(reason.split())
    if len(reason) > MAX_REASON:
        raise InvalidInput(f"a reason has at most {MAX_REASON} characters")
    return reason or None


# --- eligibility --------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, slots=True)
class ReporterEligibility:
    """A reporter's eligibility for an event, with what staff need beside it."""

    reporter_id: int
    name: str
    eligibility: Eligibility
    scores_pending: bool  # new posts or changes wait for the next re-score
    subsidy: Subsidy | None


def _assess(session: Session, event: Event, reporter_ids: list[int]) -> dict[int, Eligibility]:
    rules = scoring_service.rules_for(session, event.rules_version)
    spec = scoring_service.event_spec(event)
    facts = scoring_service.reporter_facts(session, event, reporter_ids)
    breakdowns = repo.stored_breakdowns(session, event, reporter_ids)
    assessed = {}
    for reporter_id in reporter_ids:
        reporter = facts.get(reporter_id)
        if reporter is None:
            continue
        result = ReporterResult(
            reporter_id=reporter_id,
            name=reporter.name,
            anonymous=reporter.anonymous,
            registered=reporter.registered,
            verdicts=(),
            breakdown=breakdowns.get(reporter_id, EMPTY_BREAKDOWN),
        )
        assessed[reporter_id] = assess_eligibility(rules=rules, event=spec, reporter=reporter, result=result)
    return assessed


def eligibility_for(*, session: Session, event: Event, reporter_id: int) -> Eligibility:
    """One reporter's fee-reimbursement criteria for an event, from their stored scores."""
    found = _assess(session, event, [reporter_id])
    if reporter_id not in found:
        raise NotFound("reporter", reporter_id)
    return found[reporter_id]


def event_eligibility(*, session: Session, event: Event) -> list[ReporterEligibility]:
    """Every registered reporter's eligibility: eligible first, then by name and id."""
    assert event.id is not None
    registered = repo.live_reporter_ids(session, scoring_service.registered_reporter_ids(session, event.id))
    assessed = _assess(session, event, registered)
    names = repo.reporter_names(session, registered)
    pending = repo.dirty_reporter_ids(session, registered)
    subsidies = repo.subsidies_of_event_by_reporter(session, event_id=event.id)
    rows = [
        ReporterEligibility(
            reporter_id=rid,
            name=names.get(rid, ""),
            eligibility=assessed[rid],
            scores_pending=rid in pending,
            subsidy=subsidies.get(rid),
        )
        for rid in registered
        if rid in assessed
    ]
    rows.sort(key=lambda r: (not r.eligibility.eligible, r.name.casefold(), r.reporter_id))
    return rows


# --- proposals ----------------------------------------------------------------------------------


def propose_subsidies(
    *, session: Session, event: Event, actor: User | None, actor_role: str | None = None
) -> list[Subsidy]:
    """Propose the eligibility subsidy to every eligible reporter who has none yet; return the new ones.

    Idempotent: a reporter with a subsidy in any state (also rejected) gets no second one. The
    event's lock makes two simultaneous runs queue, so the second finds the first's proposals.
    """
    assert event.id is not None
    if not repo.lock_event(session, event_id=event.id):
        raise NotFound("event", event.slug)
    actor_id = None if actor is None else actor.id
    actor_role = actor_role or (SYSTEM_ROLE if actor is None else str(actor.role))
    existing = repo.reporter_ids_with_subsidy(session, event_id=event.id)
    created = []
    now = datetime.now(UTC)
    for row in event_eligibility(session=session, event=event):
        amount = row.eligibility.subsidy
        if row.reporter_id in existing or amount is None or amount <= 0 or event.currency is None:
            continue
        subsidy = Subsidy(
            event_id=event.id,
            reporter_id=row.reporter_id,
            state=SubsidyState.PROPOSED,
            amount=amount,
            currency=event.currency,
            proposed_at=now,
        )
        session.add(subsidy)
        session.flush()
        assert subsidy.id is not None
        session.add(
            SubsidyTransition(
                subsidy_id=subsidy.id,
                from_state=None,
                to_state=SubsidyState.PROPOSED,
                amount=amount,
                actor_id=actor_id,
                at=now,
                reason="every eligibility criterion is met",
            )
        )
        audit.record(
            session=session,
            action="subsidy.propose",
            target_type="subsidy",
            target_id=subsidy.id,
            detail={
                "event": event.slug,
                "reporter_id": row.reporter_id,
                "from": None,
                "to": SubsidyState.PROPOSED.value,
                "amount": format_money(amount, event.currency),
                "currency": event.currency,
            },
            actor_id=actor_id,
            actor_role=actor_role,
        )
        created.append(subsidy)
    session.flush()
    return created


# --- decisions ----------------------------------------------------------------------------------


def decide(
    *,
    session: Session,
    subsidy_id: int,
    staff: User,
    action: Action,
    reason: str | None = None,
    amount: Decimal | None = None,
) -> Subsidy:
    """Move a subsidy along the state machine on behalf of ``staff``; see the module docstring."""
    reason = _clean_reason(reason)
    if amount is not None and action is not Action.APPROVE:
        raise InvalidInput("an amount can only be set when approving")
    if action in REASON_REQUIRED and reason is None:
        raise InvalidInput(f"a reason is required to {action.value} a subsidy")
    # The lock comes first: everything read below is what the previous decider committed.
    if not repo.lock_event_of_subsidy(session, subsidy_id=subsidy_id):
        raise NotFound("subsidy", subsidy_id)
    subsidy = repo.load_subsidy(session, subsidy_id)
    event = repo.load_event(session, subsidy.event_id) if subsidy is not None else None
    if subsidy is None or event is None:
        raise NotFound("subsidy", subsidy_id)
    actor_id, actor_role = staff.id, str(staff.role)

    if repo.reporter_of_user(session, user_id=staff.id) == subsidy.reporter_id:
        audit.record(
            session=session,
            action="subsidy.self_decision_refused",
            target_type="subsidy",
            target_id=subsidy_id,
            detail={"event": event.slug, "reporter_id": subsidy.reporter_id, "attempted": action.value},
            actor_id=actor_id,
            actor_role=actor_role,
        )
        raise OwnSubsidy(f"you cannot {action.value} your own subsidy: another staff member must decide")

    needed, target = TRANSITIONS[action]
    if subsidy.state != needed:
        raise IllegalTransition(subsidy_id, action, subsidy.state)

    previous_amount = subsidy.amount
    new_amount = previous_amount
    if amount is not None:
        new_amount = _checked_amount(amount, subsidy.currency, event)
    overridden = new_amount != previous_amount
    if overridden and reason is None:
        raise InvalidInput("a reason is required to change the amount")
    if action is Action.APPROVE:
        _check_budget(session, event, subsidy, new_amount)

    now = datetime.now(UTC)
    subsidy.state = target
    subsidy.amount = new_amount
    subsidy.decided_by = staff.id
    subsidy.decided_at = now
    subsidy.reason = reason
    if action is Action.PAY:
        subsidy.paid_at = now
    session.add(subsidy)
    session.add(
        SubsidyTransition(
            subsidy_id=subsidy_id,
            from_state=needed,
            to_state=target,
            amount=new_amount,
            actor_id=staff.id,
            at=now,
            reason=reason,
        )
    )
    detail: dict[str, Any] = {
        "event": event.slug,
        "reporter_id": subsidy.reporter_id,
        "from": needed.value,
        "to": target.value,
        "amount": format_money(new_amount, subsidy.currency),
        "currency": subsidy.currency,
        "reason": reason,
    }
    if overridden:
        detail["previous_amount"] = format_money(previous_amount, subsidy.currency)
    audit.record(
        session=session,
        action=f"subsidy.{action.value}",
        target_type="subsidy",
        target_id=subsidy_id,
        detail=detail,
        actor_id=actor_id,
        actor_role=actor_role,
    )
    session.flush()
    return subsidy


def _check_budget(session: Session, event: Event, subsidy: Subsidy, amount: Decimal) -> None:
    currency = subsidy.currency
    if event.budget is None:
        raise BudgetExceeded(f"event {event.slug} has no subsidy budget: set one before approving subsidies")
    committed = repo.committed_total(session, event_id=subsidy.event_id)
    left = event.budget - committed
    if amount > left:
        shown_left = format_money(max(left, Decimal(0)), currency)
        raise BudgetExceeded(
            f"budget exceeded: {shown_left} {currency} left, "
            f"and this subsidy is {format_money(amount, currency)} {currency}"
        )


def approve_subsidy(
    *,
    session: Session,
    subsidy_id: int,
    staff: User,
    reason: str | None = None,
    amount: Decimal | None = None,
) -> Subsidy:
    """Approve a proposed subsidy within the budget (a changed amount needs a reason)."""
    return decide(
        session=session,
        subsidy_id=subsidy_id,
        staff=staff,
        action=Action.APPROVE,
        reason=reason,
        amount=amount,
    )


def reject_subsidy(*, session: Session, subsidy_id: int, staff: User, reason: str | None) -> Subsidy:
    """Reject a proposed subsidy (a reason is required)."""
    return decide(session=session, subsidy_id=subsidy_id, staff=staff, action=Action.REJECT, reason=reason)


def revoke_subsidy(*, session: Session, subsidy_id: int, staff: User, reason: str | None) -> Subsidy:
    """Take back an approval before payment: the subsidy is proposed again (a reason is required)."""
    return decide(session=session, subsidy_id=subsidy_id, staff=staff, action=Action.REVOKE, reason=reason)


def pay_subsidy(*, session: Session, subsidy_id: int, staff: User, reason: str | None = None) -> Subsidy:
    """Record that an approved subsidy has been paid."""
    return decide(session=session, subsidy_id=subsidy_id, staff=staff, action=Action.PAY, reason=reason)


# --- budget and exports -------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, slots=True)
class Budget:
    currency: str | None
    budget: Decimal | None
    proposed: Decimal
    approved: Decimal
    paid: Decimal

    @property
    def committed(self) -> Decimal:
        return self.approved + self.paid

    @property
    def left(self) -> Decimal | None:
        return None if self.budget is None else self.budget - self.committed


def budget_of(*, session: Session, event: Event) -> Budget:
    """The event's budget and what its subsidies take from it."""
    assert event.id is not None
    totals = repo.totals_by_state(session, event_id=event.id)
    return Budget(
        currency=event.currency,
        budget=event.budget,
        proposed=totals.get(SubsidyState.PROPOSED, repo.ZERO),
        approved=totals.get(SubsidyState.APPROVED, repo.ZERO),
        paid=totals.get(SubsidyState.PAID, repo.ZERO),
    )


EXPORT_FIELDS = [
    "subsidy_id",
    "reporter_id",
    "reporter",
    "event",
    "amount",
    "currency",
    "state",
    "decided_by",
    "decided_at",
]
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value: Any) -> Any:
    """Defuse a cell a spreadsheet would run as a formula by prefixing a quote (OWASP CSV injection)."""
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


def export_rows(*, session: Session, event: Event, batch: int = 500) -> Iterator[dict[str, Any]]:
    """The finance export of an event's subsidies, oldest first, as plain rows (not yet CSV-safe)."""
    assert event.id is not None
    offset = 0
    while True:
        rows, _ = repo.list_subsidies(session, event_id=event.id, offset=offset, limit=batch)
        if not rows:
            return
        names = repo.reporter_names(session, [s.reporter_id for s in rows])
        deciders = repo.user_names(session, [s.decided_by for s in rows])
        for s in rows:
            yield {
                "subsidy_id": s.id,
                "reporter_id": s.reporter_id,
                "reporter": names.get(s.reporter_id, ""),
                "event": event.slug,
                "amount": format_money(s.amount, s.currency),
                "currency": s.currency,
                "state": s.state,
                "decided_by": deciders.get(s.decided_by, "") if s.decided_by is not None else "",
                "decided_at": s.decided_at.isoformat() if s.decided_at else "",
            }
        offset += len(rows)


def record_export(
    *, session: Session, event: Event, rows: int, fmt: str, actor_id: int | None, actor_role: str | None
) -> None:
    """Audit that an event's subsidies left the system (finance data)."""
    audit.record(
        session=session,
        action="subsidy.export",
        actor_id=actor_id,
        actor_role=actor_role,
        target_type="event",
        target_id=event.id,
        detail={"event": event.slug, "rows": rows, "format": fmt},
    )
