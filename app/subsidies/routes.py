"""Eligibility, subsidy proposals and decisions, the budget, the finance export (DESIGN §6).

Staff see and decide everything; a reporter sees their own eligibility and subsidies only. A subsidy
the caller may not see answers 404, like one that does not exist.
"""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response
from sqlmodel import Session

from app.core.api import IdPath, ListResponse, Page, ProblemResponse, problem
from app.core.deps import CurrentReporter, CurrentStaff, CurrentUser, SessionDep, actor, is_staff
from app.core.errors import NotFound
from app.events import service as events_service
from app.events.models import Event
from app.events.schemas import SLUG_RE
from app.subsidies import repository as repo
from app.subsidies import service
from app.subsidies.models import Subsidy, SubsidyState
from app.subsidies.schemas import (
    ApproveRequest,
    BudgetPublic,
    DecisionRequest,
    EligibilityPublic,
    Ref,
    SubsidyDetail,
    SubsidyPublic,
    SubsidyStaff,
    budget_public,
    eligibility_public,
    row_public,
    subsidy_detail,
    subsidy_public,
    subsidy_staff,
)
from app.users.models import User

router = APIRouter(tags=["subsidies"])

Slug = Annotated[str, Path(max_length=64, description="The event's slug, e.g. wcc2025.")]


def _problem(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/problem+json": {}}}


AUTH_ERRORS: dict[int | str, dict[str, Any]] = {
    401: _problem("Not signed in."),
    403: _problem("Not allowed for this role (or a missing CSRF token)."),
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: _problem("No such event or subsidy (or not yours).")}
DECISION_ERRORS: dict[int | str, dict[str, Any]] = {
    **AUTH_ERRORS,
    **NOT_FOUND,
    403: _problem("Not staff, a missing CSRF token, or a decision on one's own subsidy (audited)."),
    409: _problem("The subsidy is not in the state this needs, or the budget is exceeded."),
    422: _problem("A reason is missing or the amount is not valid for the currency."),
}


def event_for(session: Session, slug: str, user: User | None) -> Event:
    """The event, or 404 — also when it is unpublished and the caller is not staff."""
    if not SLUG_RE.match(slug.lower()):
        raise NotFound("event", slug)
    event = events_service.get_by_slug(session=session, slug=slug)
    if event is None or (not event.published and not is_staff(user)):
        raise NotFound("event", slug)
    return event


def _event_slugs(session: Session, subsidies: list[Subsidy]) -> dict[int, str]:
    slugs = {}
    for event_id in {s.event_id for s in subsidies}:
        event = session.get(Event, event_id)
        slugs[event_id] = event.slug if event is not None else ""
    return slugs


def _staff_items(session: Session, rows: list[Subsidy]) -> list[SubsidyStaff]:
    slugs = _event_slugs(session, rows)
    names = repo.reporter_names(session, [s.reporter_id for s in rows])
    deciders = repo.user_names(session, [s.decided_by for s in rows])
    return [
        subsidy_staff(
            s,
            event_slug=slugs[s.event_id],
            reporter_name=names.get(s.reporter_id, ""),
            user_names=deciders,
        )
        for s in rows
    ]


def _detail(session: Session, subsidy: Subsidy) -> SubsidyDetail:
    assert subsidy.id is not None
    transitions = repo.transitions_of(session, subsidy_id=subsidy.id)
    users = repo.user_names(session, [subsidy.decided_by, *(t.actor_id for t in transitions)])
    event = session.get(Event, subsidy.event_id)
    return subsidy_detail(
        subsidy,
        event_slug=event.slug if event is not None else "",
        reporter_name=repo.reporter_names(session, [subsidy.reporter_id]).get(subsidy.reporter_id, ""),
        transitions=transitions,
        user_names=users,
    )


# --- eligibility --------------------------------------------------------------------------------


@router.get(
    "/events/{slug}/eligibility",
    response_model=ListResponse[EligibilityPublic],
    responses={**AUTH_ERRORS, **NOT_FOUND},
)
def list_eligibility(
    slug: Slug,
    staff: CurrentStaff,
    session: SessionDep,
    page: Page,
    eligible: Annotated[
        bool | None, Query(description="Only eligible (true) or not eligible (false).")
    ] = None,
) -> ListResponse[EligibilityPublic]:
    """Every registered reporter's fee-reimbursement criteria and potential subsidy (staff)."""
    event = event_for(session, slug, staff)
    rows = service.event_eligibility(session=session, event=event)
    if eligible is not None:
        rows = [r for r in rows if r.eligibility.eligible is eligible]
    window = rows[page.offset : page.offset + page.limit]
    return ListResponse(data=[row_public(event.slug, r) for r in window], count=len(rows))


@router.get(
    "/events/{slug}/eligibility/me",
    response_model=EligibilityPublic,
    responses={**AUTH_ERRORS, **NOT_FOUND},
)
def my_eligibility(
    slug: Slug, reporter: CurrentReporter, user: CurrentUser, session: SessionDep
) -> EligibilityPublic:
    """The signed-in reporter's criteria for an event: met or not, with numbers and words."""
    event = event_for(session, slug, user)
    assert reporter.id is not None
    assert event.id is not None
    eligibility = service.eligibility_for(session=session, event=event, reporter_id=reporter.id)
    pending = reporter.id in repo.dirty_reporter_ids(session, [reporter.id])
    subsidy = repo.subsidies_of_event_by_reporter(session, event_id=event.id).get(reporter.id)
    return eligibility_public(
        event_slug=event.slug,
        reporter=Ref(id=reporter.id, name=reporter.name),
        eligibility=eligibility,
        scores_pending=pending,
        subsidy=subsidy,
    )


# --- subsidies of an event ------------------------------------------------------------------------


@router.post(
    "/events/{slug}/subsidies/propose",
    response_model=ListResponse[SubsidyStaff],
    responses={**AUTH_ERRORS, **NOT_FOUND},
)
def propose(slug: Slug, staff: CurrentStaff, session: SessionDep) -> ListResponse[SubsidyStaff]:
    """Propose the eligibility subsidy to every eligible reporter without one; list the new ones (staff)."""
    event = event_for(session, slug, staff)
    created = service.propose_subsidies(session=session, event=event, actor=staff)
    return ListResponse(data=_staff_items(session, created), count=len(created))


@router.get(
    "/events/{slug}/subsidies",
    response_model=ListResponse[SubsidyStaff],
    responses={**AUTH_ERRORS, **NOT_FOUND},
)
def list_event_subsidies(
    slug: Slug,
    staff: CurrentStaff,
    session: SessionDep,
    page: Page,
    state: Annotated[SubsidyState | None, Query(description="Only subsidies in this state.")] = None,
) -> ListResponse[SubsidyStaff]:
    """An event's subsidies, oldest first (staff)."""
    event = event_for(session, slug, staff)
    rows, total = repo.list_subsidies(
        session,
        event_id=event.id,
        state=None if state is None else state.value,
        offset=page.offset,
        limit=page.limit,
    )
    return ListResponse(data=_staff_items(session, rows), count=total)


@router.get(
    "/events/{slug}/budget",
    response_model=BudgetPublic,
    responses={**AUTH_ERRORS, **NOT_FOUND},
)
def event_budget(slug: Slug, staff: CurrentStaff, session: SessionDep) -> BudgetPublic:
    """The event's subsidy budget: proposed, approved, paid and what is left (staff)."""
    event = event_for(session, slug, staff)
    return budget_public(event.slug, service.budget_of(session=session, event=event))


@router.get(
    "/events/{slug}/subsidies.csv",
    response_class=Response,
    responses={
        200: {"content": {"text/csv": {}}, "description": "The finance export (UTF-8 CSV)."},
        **AUTH_ERRORS,
        **NOT_FOUND,
    },
)
def export_csv(slug: Slug, staff: CurrentStaff, session: SessionDep) -> Response:
    """The finance export: reporter, event, amount, currency, state, decided by, decided at (staff)."""
    event = event_for(session, slug, staff)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=service.EXPORT_FIELDS, extrasaction="ignore")
    writer.writeheader()
    count = 0
    for row in service.export_rows(session=session, event=event):
        writer.writerow({k: service.csv_safe(v) for k, v in row.items()})
        count += 1
    service.record_export(session=session, event=event, rows=count, fmt="csv", **actor(staff))
    return Response(
        content=out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="subsidies-{event.slug}.csv"',
            "Cache-Control": "no-store",
        },
    )


# --- one subsidy ----------------------------------------------------------------------------------


@router.get(
    "/subsidies/{subsidy_id}",
    response_model=SubsidyDetail | SubsidyPublic,
    responses={**AUTH_ERRORS, **NOT_FOUND},
)
def get_subsidy(subsidy_id: IdPath, user: CurrentUser, session: SessionDep) -> SubsidyDetail | SubsidyPublic:
    """One subsidy: staff see its history; its reporter sees their own, without staff details."""
    subsidy = session.get(Subsidy, subsidy_id)
    if subsidy is None:
        raise NotFound("subsidy", subsidy_id)
    if is_staff(user):
        return _detail(session, subsidy)
    if repo.reporter_of_user(session, user_id=user.id) != subsidy.reporter_id:
        raise NotFound("subsidy", subsidy_id)
    event = session.get(Event, subsidy.event_id)
    names = repo.reporter_names(session, [subsidy.reporter_id])
    return subsidy_public(
        subsidy,
        event_slug=event.slug if event is not None else "",
        reporter_name=names.get(subsidy.reporter_id, ""),
    )


def _decide(
    session: Session,
    subsidy_id: int,
    staff: User,
    action: service.Action,
    reason: str | None,
    amount: Decimal | None = None,
) -> SubsidyDetail | ProblemResponse:
    try:
        subsidy = service.decide(
            session=session, subsidy_id=subsidy_id, staff=staff, action=action, reason=reason, amount=amount
        )
    except service.OwnSubsidy as exc:
        # Answered rather than raised, so that the request commits the audit entry of the attempt.
        return problem(exc.status, exc.detail, code="forbidden", title=exc.title)
    return _detail(session, subsidy)


@router.post("/subsidies/{subsidy_id}/approve", response_model=SubsidyDetail, responses=DECISION_ERRORS)
def approve(
    subsidy_id: IdPath, staff: CurrentStaff, session: SessionDep, body: ApproveRequest | None = None
) -> SubsidyDetail | ProblemResponse:
    """Approve a proposed subsidy within the event's budget; a changed amount needs a reason (staff)."""
    body = body or ApproveRequest()
    return _decide(session, subsidy_id, staff, service.Action.APPROVE, body.reason, body.amount)


@router.post("/subsidies/{subsidy_id}/reject", response_model=SubsidyDetail, responses=DECISION_ERRORS)
def reject(
    subsidy_id: IdPath, staff: CurrentStaff, session: SessionDep, body: DecisionRequest | None = None
) -> SubsidyDetail | ProblemResponse:
    """Reject a proposed subsidy, with a reason (staff)."""
    return _decide(session, subsidy_id, staff, service.Action.REJECT, (body or DecisionRequest()).reason)


@router.post("/subsidies/{subsidy_id}/revoke", response_model=SubsidyDetail, responses=DECISION_ERRORS)
def revoke(
    subsidy_id: IdPath, staff: CurrentStaff, session: SessionDep, body: DecisionRequest | None = None
) -> SubsidyDetail | ProblemResponse:
    """Take back an approval before payment, with a reason: the subsidy is proposed again (staff)."""
    return _decide(session, subsidy_id, staff, service.Action.REVOKE, (body or DecisionRequest()).reason)


@router.post("/subsidies/{subsidy_id}/pay", response_model=SubsidyDetail, responses=DECISION_ERRORS)
def pay(
    subsidy_id: IdPath, staff: CurrentStaff, session: SessionDep, body: DecisionRequest | None = None
) -> SubsidyDetail | ProblemResponse:
    """Record that an approved subsidy has been paid (staff)."""
    return _decide(session, subsidy_id, staff, service.Action.PAY, (body or DecisionRequest()).reason)


# --- the reporter's own ---------------------------------------------------------------------------


@router.get("/me/subsidies", response_model=ListResponse[SubsidyPublic], tags=["me"], responses=AUTH_ERRORS)
def my_subsidies(reporter: CurrentReporter, session: SessionDep, page: Page) -> ListResponse[SubsidyPublic]:
    """The signed-in reporter's own subsidies, oldest first."""
    rows, total = repo.list_subsidies(session, reporter_id=reporter.id, offset=page.offset, limit=page.limit)
    slugs = _event_slugs(session, rows)
    return ListResponse(
        data=[subsidy_public(s, event_slug=slugs[s.event_id], reporter_name=reporter.name) for s in rows],
        count=total,
    )
