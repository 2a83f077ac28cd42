"""Reporter identity and data: profile, linked accounts and their verification, missed-post claims,
export and deletion (DESIGN §4, §8); public reporter profiles; staff verification and deletion."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, status
from sqlmodel import select

from app.core.api import IdPath, ListResponse, Page
from app.core.deps import (
    ClientAddress,
    CurrentReporter,
    CurrentStaff,
    CurrentUser,
    SessionDep,
    SettingsDep,
    actor,
)
from app.core.errors import Forbidden, NotFound
from app.events.models import Event
from app.events.service import require_event
from app.reporters import identity, privacy
from app.reporters import service as reporters_service
from app.reporters.models import Account, Reporter, VerificationState
from app.reporters.schemas import (
    AccountCreate,
    AccountPublic,
    ClaimCreate,
    ClaimPublic,
    DeleteMeRequest,
    ProfilePublic,
    ProfileUpdate,
    PublicAccount,
    PublicEventStanding,
    ReporterPublicProfile,
    StaffAccountPublic,
    StaffDecision,
    VerifyNowRequest,
    account_public,
    claim_public,
    profile_public,
    staff_account_public,
)
from app.users import auth

router = APIRouter(tags=["reporters"])

E401: dict[int | str, dict[str, Any]] = {401: {"description": "Not signed in"}}
E403: dict[int | str, dict[str, Any]] = {403: {"description": "Not allowed for this role"}}
E404: dict[int | str, dict[str, Any]] = {404: {"description": "Not found (or not yours)"}}
E409: dict[int | str, dict[str, Any]] = {409: {"description": "Conflicts with what exists"}}
E422: dict[int | str, dict[str, Any]] = {422: {"description": "Invalid input, or the check failed"}}
E429: dict[int | str, dict[str, Any]] = {429: {"description": "Too many requests"}}
ME = E401 | E403


# --- profile ------------------------------------------------------------------------------------


@router.get("/me/profile", response_model=ProfilePublic, responses=ME, tags=["me"])
def get_profile(reporter: CurrentReporter) -> ProfilePublic:
    """The signed-in reporter's profile and listing choice."""
    return profile_public(reporter)


@router.patch("/me/profile", response_model=ProfilePublic, responses=ME | E422, tags=["me"])
def update_profile(body: ProfileUpdate, reporter: CurrentReporter, session: SessionDep) -> ProfilePublic:
    """Change name, bio, or public vs anonymous listing (anonymous: rank and score, no name)."""
    reporters_service.update_profile(
        session=session,
        reporter=reporter,
        name=body.name,
        bio=body.bio,
        public_listing=body.public_listing,
    )
    return profile_public(reporter)


@router.get("/reporters/{reporter_id}", response_model=ReporterPublicProfile, responses=E404)
def public_profile(reporter_id: IdPath, session: SessionDep) -> ReporterPublicProfile:
    """A publicly listed reporter: name, bio, verified accounts, events and ranks."""
    reporter = reporters_service.get_public_reporter(session=session, reporter_id=reporter_id)
    accounts = session.exec(
        select(Account)
        .where(Account.reporter_id == reporter_id, Account.state == VerificationState.VERIFIED)
        .order_by(Account.id)  # type: ignore[arg-type]  # a column, typed as int on the model
    ).all()
    standings = reporters_service.public_standings(session=session, reporter_id=reporter_id)
    return ReporterPublicProfile(
        id=reporter_id,
        name=reporter.name,
        bio=reporter.bio,
        accounts=[PublicAccount(platform=a.platform, handle=a.handle) for a in accounts],
        events=[
            PublicEventStanding(
                slug=s.slug,
                name=s.name,
                rank=s.rank,
                score=None if s.score_thousandths is None else s.score_thousandths / 1000,
                posts_counted=s.posts_counted,
            )
            for s in standings
        ],
    )


# --- linked accounts ----------------------------------------------------------------------------


@router.get("/me/accounts", response_model=ListResponse[AccountPublic], responses=ME, tags=["me"])
def list_my_accounts(
    reporter: CurrentReporter, session: SessionDep, page: Page
) -> ListResponse[AccountPublic]:
    """The reporter's linked accounts, their state, and the code of pending ones."""
    rows, total = identity.list_accounts(
        session=session, reporter_id=reporter.id, offset=page.offset, limit=page.limit
    )
    return ListResponse(data=[account_public(a) for a in rows], count=total)


@router.post(
    "/me/accounts",
    status_code=status.HTTP_201_CREATED,
    response_model=AccountPublic,
    responses=ME | E409 | E422,
    tags=["me"],
)
def link_account(
    body: AccountCreate, reporter: CurrentReporter, user: CurrentUser, session: SessionDep
) -> AccountPublic:
    """Link ``platform:handle``; the answer carries the one-time code and how to publish it."""
    account = identity.link_account(
        session=session, reporter=reporter, account_text=body.account, **actor(user)
    )
    return account_public(account)


@router.delete(
    "/me/accounts/{account_id}", status_code=status.HTTP_204_NO_CONTENT, responses=ME | E404, tags=["me"]
)
def unlink_account(
    account_id: IdPath, reporter: CurrentReporter, user: CurrentUser, session: SessionDep
) -> Response:
    """Remove a linked account; its posts stop counting."""
    account = identity.get_own_account(session=session, reporter=reporter, account_id=account_id)
    identity.unlink_account(session=session, account=account, **actor(user))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/me/accounts/{account_id}/verify",
    response_model=AccountPublic,
    responses=ME | E404 | E409 | E422,
    tags=["me"],
)
def verify_now(
    account_id: IdPath,
    body: VerifyNowRequest,
    reporter: CurrentReporter,
    user: CurrentUser,
    session: SessionDep,
) -> AccountPublic:
    """Verify now: fetch the post at ``url`` and check it is by the account and carries the code."""
    account = identity.get_own_account(session=session, reporter=reporter, account_id=account_id)
    identity.verify_now(session=session, account=account, url=body.url, **actor(user))
    return account_public(account)


@router.post(
    "/me/accounts/{account_id}/code",
    response_model=AccountPublic,
    responses=ME | E404 | E409,
    tags=["me"],
)
def new_code(account_id: IdPath, reporter: CurrentReporter, session: SessionDep) -> AccountPublic:
    """Issue a new one-time code for a pending account (the old one stops working)."""
    account = identity.get_own_account(session=session, reporter=reporter, account_id=account_id)
    identity.regenerate_code(session=session, account=account)
    return account_public(account)


# --- staff: accounts and reporters --------------------------------------------------------------


def _account(session: SessionDep, account_id: int) -> Account:
    account = session.get(Account, account_id)
    if account is None:
        raise NotFound("account", account_id)
    return account


@router.get("/accounts", response_model=ListResponse[StaffAccountPublic], responses=E401 | E403)
def list_accounts(
    staff: CurrentStaff,
    session: SessionDep,
    page: Page,
    state: Annotated[VerificationState | None, Query(description="Only accounts in this state.")] = None,
) -> ListResponse[StaffAccountPublic]:
    """Linked accounts of every reporter (e.g. ``state=pending``: the verification queue)."""
    rows, total = identity.list_accounts(
        session=session, state=state.value if state else None, offset=page.offset, limit=page.limit
    )
    return ListResponse(data=[staff_account_public(a) for a in rows], count=total)


@router.post(
    "/accounts/{account_id}/verify",
    response_model=StaffAccountPublic,
    responses=E401 | E403 | E404 | E409 | E422,
)
def staff_verify(
    account_id: IdPath, body: StaffDecision, staff: CurrentStaff, session: SessionDep
) -> StaffAccountPublic:
    """Verify an account by hand (staff; the reason is audited)."""
    account = _account(session, account_id)
    identity.staff_verify(
        session=session, account=account, reason=body.reason, actor_id=staff.id or 0, actor_role=staff.role
    )
    return staff_account_public(account)


@router.post(
    "/accounts/{account_id}/reject",
    response_model=StaffAccountPublic,
    responses=E401 | E403 | E404 | E409 | E422,
)
def staff_reject(
    account_id: IdPath, body: StaffDecision, staff: CurrentStaff, session: SessionDep
) -> StaffAccountPublic:
    """Reject an account (staff; the reason is audited): it never counts."""
    account = _account(session, account_id)
    identity.staff_reject(
        session=session, account=account, reason=body.reason, actor_id=staff.id or 0, actor_role=staff.role
    )
    return staff_account_public(account)


@router.delete(
    "/reporters/{reporter_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=E401 | E403 | E404,
)
def staff_delete_reporter(reporter_id: IdPath, staff: CurrentStaff, session: SessionDep) -> Response:
    """Delete a reporter's data on their request (staff; audited without personal data)."""
    reporter = reporters_service.get_reporter(session=session, reporter_id=reporter_id)
    privacy.delete_reporter(session=session, reporter=reporter, **actor(staff))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# --- claims -------------------------------------------------------------------------------------


def _slugs(session: SessionDep, event_ids: set[int]) -> dict[int, str]:
    if not event_ids:
        return {}
    events = session.exec(select(Event).where(Event.id.in_(event_ids))).all()  # type: ignore[union-attr]  # a column, typed as int | None on the model
    return {e.id: e.slug for e in events if e.id is not None}


@router.post(
    "/me/claims",
    status_code=status.HTTP_201_CREATED,
    response_model=ClaimPublic,
    responses=ME | E404 | E422 | E429,
    tags=["me"],
)
def submit_claim(body: ClaimCreate, reporter: CurrentReporter, session: SessionDep) -> ClaimPublic:
    """Claim a missed post by URL: it is fetched and checked; the claim says accepted or why not."""
    event = require_event(session=session, slug=body.event) if body.event else None
    if event is not None and not event.published:
        raise NotFound("event", body.event)
    claim = identity.submit_claim(
        session=session,
        reporter=reporter,
        url=body.url,
        event_id=event.id if event else None,
        platform=body.platform,
    )
    return claim_public(claim, event.slug if event else None)


@router.get("/me/claims", response_model=ListResponse[ClaimPublic], responses=ME, tags=["me"])
def list_claims(reporter: CurrentReporter, session: SessionDep, page: Page) -> ListResponse[ClaimPublic]:
    """The reporter's missed-post claims, newest first."""
    rows, total = identity.list_claims(
        session=session, reporter=reporter, offset=page.offset, limit=page.limit
    )
    slugs = _slugs(session, {c.event_id for c in rows if c.event_id is not None})
    return ListResponse(
        data=[claim_public(c, slugs.get(c.event_id) if c.event_id else None) for c in rows], count=total
    )


# --- export and deletion ------------------------------------------------------------------------


@router.get("/me/export", responses=ME, tags=["me"])
def export_me(reporter: CurrentReporter, session: SessionDep) -> dict[str, Any]:
    """Everything stored about the reporter, as one JSON document."""
    return privacy.export_reporter(session=session, reporter=reporter)


@router.delete("/me", status_code=status.HTTP_204_NO_CONTENT, responses=ME | E422 | E429, tags=["me"])
def delete_me(
    body: DeleteMeRequest,
    reporter: CurrentReporter,
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    address: ClientAddress,
) -> Response:
    """Delete the reporter's data and sign-in for good (confirm with the password)."""
    confirmed = auth.attempt_login(
        session=session, email=user.email, password=body.password, address=address, settings=settings
    )
    if confirmed is None or confirmed.id != user.id:
        session.commit()  # the failed attempt counts towards the login throttle
        raise Forbidden("the password is wrong: nothing was deleted")
    privacy.delete_reporter(session=session, reporter=_reload(session, reporter), **actor(user))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _reload(session: SessionDep, reporter: Reporter) -> Reporter:
    return reporters_service.get_reporter(session=session, reporter_id=reporter.id or 0)
