"""The subsidy state machine, proposals, the budget rule and money per currency (service level)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import event as note_outcome
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlmodel import Session, col
from sqlmodel import select as orm_select

from app.audit.models import AuditEntry
from app.core.db import table
from app.core.errors import Conflict, InvalidInput, NotFound
from app.subsidies import service
from app.subsidies.models import Subsidy, SubsidyState, SubsidyTransition
from app.users.models import Role
from tests.subsidies.subsidies_factories import (
    Numbers,
    make_event,
    make_reporter,
    make_staff_user,
    make_subsidy,
)

A = service.Action
AUDIT = table(AuditEntry)
S = SubsidyState


def audit_actions(session: Session, subsidy_id: int) -> list[str]:
    rows = session.exec(
        orm_select(AuditEntry)
        .where(AuditEntry.target_type == "subsidy", AuditEntry.target_id == str(subsidy_id))
        .order_by(col(AuditEntry.id))
    ).all()
    return [r.action for r in rows]


def transitions(
    session: Session, subsidy_id: int
) -> list[tuple[str | None, str, Decimal, int | None, str | None]]:
    rows = session.exec(
        orm_select(SubsidyTransition)
        .where(SubsidyTransition.subsidy_id == subsidy_id)
        .order_by(col(SubsidyTransition.id))
    ).all()
    return [(t.from_state, t.to_state, t.amount, t.actor_id, t.reason) for t in rows]


# --- the happy path and each rule ---------------------------------------------------------------


def test_approve_then_pay_records_who_when_amount_and_reason(session: Session) -> None:
    event = make_event(session)
    reporter = make_reporter(session, event)
    subsidy = make_subsidy(session, event, reporter)
    staff = make_staff_user(session)
    assert subsidy.id is not None

    approved = service.approve_subsidy(session=session, subsidy_id=subsidy.id, staff=staff)
    assert approved.state == S.APPROVED
    assert approved.decided_by == staff.id
    assert approved.decided_at is not None
    paid = service.pay_subsidy(session=session, subsidy_id=subsidy.id, staff=staff, reason="bank run 12")
    assert paid.state == S.PAID
    assert paid.paid_at is not None

    assert transitions(session, subsidy.id) == [
        (None, "proposed", Decimal("250.0000"), None, None),
        ("proposed", "approved", Decimal("250.0000"), staff.id, None),
        ("approved", "paid", Decimal("250.0000"), staff.id, "bank run 12"),
    ]
    assert audit_actions(session, subsidy.id) == ["subsidy.approve", "subsidy.pay"]
    entry = session.exec(
        orm_select(AuditEntry).where(AuditEntry.action == "subsidy.pay").order_by(col(AuditEntry.id).desc())
    ).first()
    assert entry is not None
    assert entry.actor_id == staff.id
    assert entry.actor_role == "staff"
    assert entry.detail["from"] == "approved"
    assert entry.detail["to"] == "paid"
    assert entry.detail["amount"] == "250.00"
    assert entry.detail["reason"] == "bank run 12"


def test_reject_and_revoke_need_a_reason(session: Session) -> None:
    event = make_event(session)
    subsidy = make_subsidy(session, event, make_reporter(session, event))
    staff = make_staff_user(session)
    assert subsidy.id is not None
    for blank in (None, "", "   \n "):
        with pytest.raises(InvalidInput, match="reason is required to reject"):
            service.reject_subsidy(session=session, subsidy_id=subsidy.id, staff=staff, reason=blank)
    service.approve_subsidy(session=session, subsidy_id=subsidy.id, staff=staff)
    with pytest.raises(InvalidInput, match="reason is required to revoke"):
        service.revoke_subsidy(session=session, subsidy_id=subsidy.id, staff=staff, reason=None)
    revoked = service.revoke_subsidy(
        session=session, subsidy_id=subsidy.id, staff=staff, reason="  receipt   missing "
    )
    assert revoked.state == S.PROPOSED
    assert revoked.reason == "receipt missing"
    rejected = service.reject_subsidy(session=session, subsidy_id=subsidy.id, staff=staff, reason="no show")
    assert rejected.state == S.REJECTED
    assert [t[:2] for t in transitions(session, subsidy.id)] == [
        (None, "proposed"),
        ("proposed", "approved"),
        ("approved", "proposed"),
        ("proposed", "rejected"),
    ]


@pytest.mark.parametrize(
    ("state", "action", "message"),
    [
        (S.APPROVED, A.APPROVE, "is approved: only a proposed subsidy can be approved"),
        (S.PAID, A.APPROVE, "is paid: only a proposed subsidy can be approved"),
        (S.REJECTED, A.APPROVE, "is rejected: only a proposed subsidy can be approved"),
        (S.PROPOSED, A.PAY, "is proposed: only a approved subsidy can be paid"),
        (S.REJECTED, A.PAY, "is rejected: only a approved subsidy can be paid"),
        (S.PAID, A.PAY, "is paid: only a approved subsidy can be paid"),
        (S.PROPOSED, A.REVOKE, "is proposed: only a approved subsidy can be revoked"),
        (S.PAID, A.REVOKE, "is paid: only a approved subsidy can be revoked"),
        (S.APPROVED, A.REJECT, "is approved: only a proposed subsidy can be rejected"),
        (S.PAID, A.REJECT, "is paid: only a proposed subsidy can be rejected"),
        (S.REJECTED, A.REJECT, "is rejected: only a proposed subsidy can be rejected"),
    ],
)
def test_illegal_transitions_are_conflicts_naming_the_states(
    session: Session, state: SubsidyState, action: service.Action, message: str
) -> None:
    event = make_event(session)
    subsidy = make_subsidy(session, event, make_reporter(session, event), state=state)
    staff = make_staff_user(session)
    assert subsidy.id is not None
    with pytest.raises(service.IllegalTransition, match=message):
        service.decide(session=session, subsidy_id=subsidy.id, staff=staff, action=action, reason="why")
    session.refresh(subsidy)
    assert subsidy.state == state
    assert audit_actions(session, subsidy.id) == []


def test_nobody_decides_their_own_subsidy_and_the_attempt_is_audited(session: Session) -> None:
    event = make_event(session)
    staff = make_staff_user(session, role=Role.ADMIN)
    own = make_subsidy(session, event, make_reporter(session, event, user_id=staff.id))
    other = make_staff_user(session)
    assert own.id is not None
    for action in A:
        with pytest.raises(service.OwnSubsidy, match=f"cannot {action.value} your own subsidy"):
            service.decide(session=session, subsidy_id=own.id, staff=staff, action=action, reason="mine")
    session.refresh(own)
    assert own.state == S.PROPOSED
    assert audit_actions(session, own.id) == ["subsidy.self_decision_refused"] * 4
    refused = session.exec(
        orm_select(AuditEntry).where(AuditEntry.action == "subsidy.self_decision_refused")
    ).all()
    assert {r.detail["attempted"] for r in refused} == {"approve", "reject", "revoke", "pay"}
    assert {r.actor_id for r in refused} == {staff.id}
    # another staff member may
    assert service.approve_subsidy(session=session, subsidy_id=own.id, staff=other).state == S.APPROVED


def test_unknown_subsidy_is_not_found(session: Session) -> None:
    staff = make_staff_user(session)
    with pytest.raises(NotFound, match="subsidy 999999 not found"):
        service.approve_subsidy(session=session, subsidy_id=999_999, staff=staff)


# --- budget -------------------------------------------------------------------------------------


def test_budget_caps_approved_plus_paid_and_says_what_is_left(session: Session) -> None:
    event = make_event(session, budget="600")
    staff = make_staff_user(session)
    ids = []
    for _ in range(3):
        s = make_subsidy(session, event, make_reporter(session, event), amount="250")
        assert s.id is not None
        ids.append(s.id)
    service.approve_subsidy(session=session, subsidy_id=ids[0], staff=staff)
    service.approve_subsidy(session=session, subsidy_id=ids[1], staff=staff)
    with pytest.raises(service.BudgetExceeded, match=r"budget exceeded: 100\.00 CHF left"):
        service.approve_subsidy(session=session, subsidy_id=ids[2], staff=staff)
    # paying keeps the money committed; revoking an approval frees it
    service.pay_subsidy(session=session, subsidy_id=ids[0], staff=staff)
    with pytest.raises(service.BudgetExceeded):
        service.approve_subsidy(session=session, subsidy_id=ids[2], staff=staff)
    service.revoke_subsidy(session=session, subsidy_id=ids[1], staff=staff, reason="duplicate")
    assert service.approve_subsidy(session=session, subsidy_id=ids[2], staff=staff).state == S.APPROVED
    budget = service.budget_of(session=session, event=event)
    assert (budget.proposed, budget.approved, budget.paid, budget.left) == (
        Decimal("250"),
        Decimal("250"),
        Decimal("250"),
        Decimal("100"),
    )


def test_an_override_is_checked_against_the_budget_and_needs_a_reason(session: Session) -> None:
    event = make_event(session, budget="400.50")
    staff = make_staff_user(session)
    first = make_subsidy(session, event, make_reporter(session, event), amount="250")
    second = make_subsidy(session, event, make_reporter(session, event), amount="250")
    assert first.id is not None
    assert second.id is not None
    service.approve_subsidy(session=session, subsidy_id=first.id, staff=staff)
    with pytest.raises(InvalidInput, match="reason is required to change the amount"):
        service.approve_subsidy(session=session, subsidy_id=second.id, staff=staff, amount=Decimal("150"))
    with pytest.raises(service.BudgetExceeded, match=r"150\.50 CHF left, and this subsidy is 150\.51 CHF"):
        service.approve_subsidy(
            session=session, subsidy_id=second.id, staff=staff, amount=Decimal("150.51"), reason="partial"
        )
    approved = service.approve_subsidy(
        session=session, subsidy_id=second.id, staff=staff, amount=Decimal("150"), reason="arrived late"
    )
    assert approved.amount == Decimal("150")
    assert transitions(session, second.id)[-1] == (
        "proposed",
        "approved",
        Decimal("150"),
        staff.id,
        "arrived late",
    )
    entry = session.exec(orm_select(AuditEntry).order_by(col(AuditEntry.id).desc())).first()
    assert entry is not None
    assert entry.detail["previous_amount"] == "250.00"
    assert entry.detail["amount"] == "150.00"
    # the same amount again is no override: no reason needed
    third = make_subsidy(session, event, make_reporter(session, event), amount="0.5")
    assert third.id is not None
    service.approve_subsidy(session=session, subsidy_id=third.id, staff=staff, amount=Decimal("0.50"))


def test_without_a_budget_nothing_can_be_approved(session: Session) -> None:
    event = make_event(session, budget=None)
    subsidy = make_subsidy(session, event, make_reporter(session, event))
    assert subsidy.id is not None
    with pytest.raises(service.BudgetExceeded, match="has no subsidy budget"):
        service.approve_subsidy(session=session, subsidy_id=subsidy.id, staff=make_staff_user(session))


# --- money per currency -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fee", "currency", "cap", "expected"),
    [
        ("500", "CHF", "300", "250.00"),
        ("333.33", "CHF", None, "166.66"),  # 166.665 truncated, never rounded up
        ("0.03", "EUR", None, "0.01"),
        ("12345", "JPY", None, "6172"),  # no minor unit
        ("10001", "JPY", "9999.99", "5000"),
        ("7.777", "KWD", None, "3.888"),  # three decimals
        ("99.99", "XYZ", None, "49.99"),  # unknown currency: two decimals
        ("2.4691", "CLF", None, "1.2345"),  # four decimals (1.23455)
    ],
)
def test_proposed_amounts_are_truncated_to_the_currency_minor_unit(
    session: Session, fee: str, currency: str, cap: str | None, expected: str
) -> None:
    event = make_event(session, fee=fee, currency=currency, cap=cap, budget="100000")
    make_reporter(session, event)
    [subsidy] = service.propose_subsidies(session=session, event=event, actor=None)
    assert subsidy.currency == currency
    assert service.format_money(subsidy.amount, currency) == expected
    assert subsidy.amount == Decimal(expected)


@pytest.mark.parametrize(
    ("currency", "amount", "message"),
    [
        ("JPY", "100.5", "JPY amounts have 0 decimals at most: 100.5 is not a JPY amount"),
        ("CHF", "10.001", r"did you mean 10\.00\?"),
        ("KWD", "1.2345", "KWD amounts have 3 decimals"),
        ("CHF", "600", "more than the event's fee of 500.00 CHF"),
        ("CHF", "0", "more than zero"),
    ],
)
def test_override_amounts_must_fit_the_currency(
    session: Session, currency: str, amount: str, message: str
) -> None:
    event = make_event(session, fee="500", currency=currency, cap=None, budget="100000")
    subsidy = make_subsidy(session, event, make_reporter(session, event), amount="250")
    assert subsidy.id is not None
    with pytest.raises(InvalidInput, match=message):
        service.approve_subsidy(
            session=session,
            subsidy_id=subsidy.id,
            staff=make_staff_user(session),
            amount=Decimal(amount),
            reason="x",
        )


@given(amount=st.decimals(min_value=0, max_value=10**9, places=4, allow_nan=False, allow_infinity=False))
@settings(max_examples=200)
def test_format_money_truncates_to_exactly_the_minor_unit(amount: Decimal) -> None:
    for currency, decimals in (("CHF", 2), ("JPY", 0), ("KWD", 3), ("CLF", 4)):
        text = service.format_money(amount, currency)
        assert len(text.partition(".")[2]) == decimals
        assert Decimal(text) <= amount
        assert amount - Decimal(text) < Decimal(1).scaleb(-decimals)


# --- proposals ----------------------------------------------------------------------------------


def test_propose_creates_one_subsidy_per_eligible_reporter_and_is_idempotent(session: Session) -> None:
    event = make_event(session)
    staff = make_staff_user(session)
    eligible = [make_reporter(session, event) for _ in range(3)]
    make_reporter(session, event, numbers=Numbers(posts=4))  # one post short
    make_reporter(session, event, numbers=Numbers(articles=0))  # no blog article
    make_reporter(session, event, verified=False)  # no verified account
    make_reporter(session, event, numbers=None)  # never scored

    created = service.propose_subsidies(session=session, event=event, actor=staff)
    assert sorted(s.reporter_id for s in created) == sorted(r.id for r in eligible if r.id is not None)
    assert {(s.state, s.amount, s.currency) for s in created} == {(S.PROPOSED, Decimal("250"), "CHF")}
    for s in created:
        assert s.id is not None
        assert transitions(session, s.id) == [
            (None, "proposed", Decimal("250"), staff.id, "every eligibility criterion is met")
        ]
        assert audit_actions(session, s.id) == ["subsidy.propose"]

    assert service.propose_subsidies(session=session, event=event, actor=staff) == []
    # a rejected reporter is not proposed again; a newly eligible one is
    first = created[0]
    assert first.id is not None
    service.reject_subsidy(session=session, subsidy_id=first.id, staff=staff, reason="left early")
    late = make_reporter(session, event)
    again = service.propose_subsidies(session=session, event=event, actor=staff)
    assert [s.reporter_id for s in again] == [late.id]
    total = session.execute(
        select(func.count()).select_from(Subsidy).where(col(Subsidy.event_id) == event.id)
    )
    assert total.scalar_one() == 4


def test_events_without_a_fee_propose_nothing(session: Session) -> None:
    event = make_event(session, fee=None, cap=None, budget="100")
    make_reporter(session, event)
    assert service.propose_subsidies(session=session, event=event, actor=None) == []


# --- the state machine under random use (hypothesis) --------------------------------------------


@dataclass
class Model:
    states: list[SubsidyState]
    amounts: list[Decimal]
    budget: Decimal
    transitions: list[int]
    audits: list[int]
    owner_of: dict[int, int] = field(default_factory=dict)  # subsidy index -> staff index

    def committed(self) -> Decimal:
        return sum(
            (a for s, a in zip(self.states, self.amounts, strict=True) if s in (S.APPROVED, S.PAID)),
            Decimal(0),
        )


def counts_by(session: Session, column: Any, keys: list[Any], *where: Any) -> list[int]:
    query = select(column, func.count()).where(column.in_(keys), *where).group_by(column)
    rows = dict(session.execute(query).all())
    return [int(rows.get(key, 0)) for key in keys]


step = st.tuples(
    st.sampled_from([A.APPROVE, A.APPROVE, A.PAY, A.REVOKE, A.REJECT]),
    st.integers(0, 3),  # subsidy
    st.integers(0, 2),  # staff
    st.sampled_from([None, "ok", "ok", "ok"]),  # reason
    st.sampled_from([None, Decimal("100"), Decimal("170.50")]),  # amount override
)


@given(
    budget=st.sampled_from([Decimal("0"), Decimal("300"), Decimal("500"), Decimal("1000"), Decimal("1000")]),
    amounts=st.lists(
        st.sampled_from([Decimal("100"), Decimal("200"), Decimal("250")]), min_size=4, max_size=4
    ),
    steps=st.lists(step, min_size=1, max_size=18),
)
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_random_decisions_keep_every_rule(
    session: Session,
    budget: Decimal,
    amounts: list[Decimal],
    steps: list[tuple[service.Action, int, int, str | None, Decimal | None]],
) -> None:
    example = session.begin_nested()
    try:
        event = make_event(session, budget=str(budget))
        staff = [make_staff_user(session) for _ in range(3)]
        reporters = [
            make_reporter(session, event, user_id=staff[0].id),
            *(make_reporter(session, event) for _ in range(3)),
        ]
        subsidies = [
            make_subsidy(session, event, r, amount=str(a)) for r, a in zip(reporters, amounts, strict=True)
        ]
        ids = [s.id for s in subsidies]
        model = Model(
            states=[S.PROPOSED] * 4, amounts=list(amounts), budget=budget, transitions=[1] * 4, audits=[0] * 4
        )
        model.owner_of[0] = 0

        for action, index, who, reason, amount in steps:
            subsidy_id = ids[index]
            assert subsidy_id is not None
            amount = amount if action is A.APPROVE else None
            needed, target = service.TRANSITIONS[action]
            # what the rules say must happen, in the order they are checked
            if action in service.REASON_REQUIRED and reason is None:
                expected: type[Exception] | None = InvalidInput
            elif model.owner_of.get(index) == who:
                expected = service.OwnSubsidy
            elif model.states[index] != needed:
                expected = service.IllegalTransition
            elif amount is not None and amount != model.amounts[index] and reason is None:
                expected = InvalidInput
            elif action is A.APPROVE and model.committed() + (amount or model.amounts[index]) > budget:
                expected = service.BudgetExceeded
            else:
                expected = None

            note_outcome(f"{action.value}: {'ok' if expected is None else expected.__name__}")
            attempt = session.begin_nested()
            try:
                service.decide(
                    session=session,
                    subsidy_id=subsidy_id,
                    staff=staff[who],
                    action=action,
                    reason=reason,
                    amount=amount,
                )
            except service.OwnSubsidy:
                attempt.commit()  # as the API does: the refusal's audit entry is kept
                assert expected is service.OwnSubsidy
                model.audits[index] += 1
            except (InvalidInput, Conflict) as exc:
                attempt.rollback()
                refused: Exception = exc
                assert expected is not None
                assert isinstance(refused, expected), (refused, expected)
            else:
                attempt.commit()
                assert expected is None, expected
                model.states[index] = target
                if amount is not None:
                    model.amounts[index] = amount
                model.transitions[index] += 1
                model.audits[index] += 1

            # invariants, read back from the database (one query each)
            stored = {
                r.id: (r.state, r.amount)
                for r in session.execute(
                    select(table(Subsidy).c.id, table(Subsidy).c.state, table(Subsidy).c.amount).where(
                        table(Subsidy).c.event_id == event.id
                    )
                )
            }
            assert [stored[sid] for sid in ids] == list(zip(model.states, model.amounts, strict=True))
            assert counts_by(session, table(SubsidyTransition).c.subsidy_id, ids) == model.transitions
            audit_ids = [str(sid) for sid in ids]
            assert (
                counts_by(session, AUDIT.c.target_id, audit_ids, AUDIT.c.target_type == "subsidy")
                == model.audits
            )
            committed = service.budget_of(session=session, event=event)
            assert committed.approved + committed.paid == model.committed() <= budget
        # the owner's own subsidy never moved by their hand
        assert all(t[3] != staff[0].id for t in transitions(session, ids[0] or 0))
    finally:
        example.rollback()
