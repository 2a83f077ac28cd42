"""The staff console: sources and runs, moderation, account verification, eligibility and subsidies with
the budget left, exports, the audit log, and judging (freeze, prize categories, shortlists, results).

Every page needs the staff or admin role (``ConsoleStaff``): anonymous visitors are sent to the login
page; to other roles the console does not exist (a 404 page). Pages only call the domain services;
each action is a CSRF-checked POST that redirects back to its page with a notice on success
(``?done=<key>``, a fixed message — never text from the URL), or renders the page again with the
error next to the field (422) or in an alert (403 / 409).

A failing action runs inside a SAVEPOINT (``attempt``) so nothing half-done is committed with the
re-rendered page. Subsidy decisions are the exception: a refused decision on one's own subsidy writes
an audit entry that must be kept, and the service raises every other refusal before it writes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine, Mapping
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse
from sqlmodel import Session
from starlette.responses import Response

from app.audit.routes import list_entries
from app.core.api import IdPath
from app.core.deps import SessionDep, actor
from app.core.errors import DomainError, InvalidInput, NotFound
from app.events import service as events_service
from app.events.models import Event
from app.events.schemas import SLUG_RE
from app.ingest import moderation
from app.judging import repository as judging_repo
from app.judging import service as judging
from app.judging.frozen import CATEGORY_KINDS
from app.judging.models import PrizeCategory
from app.reporters import identity
from app.reporters.models import Account
from app.subsidies import repository as subsidies_repo
from app.subsidies import service as subsidies
from app.subsidies.models import Subsidy, SubsidyState
from app.users.models import Role, User
from app.web import repository as web_repository
from app.web.i18n import MESSAGES, t
from app.web.pages import CheckedForm, PageRoute, PageUser, render
from app.web.templating import NAV_ITEMS, NavItem
from collectors.base import Platform

router = APIRouter(route_class=PageRoute, include_in_schema=False)

PAGE_SIZE = 50
MAX_PAGE = 1_000_000
MAX_REASON = 1000
CRITERION_ROWS = 6  # empty rows of the "new category" form
PLATFORMS = tuple(p.value for p in Platform)
RUN_STATUSES = ("running", "ok", "failed", "partial")
ACCOUNT_STATES = ("pending", "verified", "rejected")
SUBSIDY_ACTIONS = {a.value: a for a in subsidies.Action}

# ?done=<key> → the notice shown after a successful action (never text taken from the URL itself).
NOTICES = {
    "collect": "staff.notice.collect",
    "excluded": "staff.notice.excluded",
    "restored": "staff.notice.restored",
    "verified": "staff.notice.verified",
    "rejected": "staff.notice.rejected",
    "proposed": "staff.notice.proposed",
    "approve": "staff.notice.approve",
    "reject": "staff.notice.reject",
    "revoke": "staff.notice.revoke",
    "pay": "staff.notice.pay",
    "frozen": "staff.notice.frozen",
    "category": "staff.notice.category",
    "generated": "staff.notice.generated",
    "added": "staff.notice.added",
    "removed": "staff.notice.removed",
    "published": "staff.notice.published",
    "scored": "judge.notice.scored",
    "conflict": "judge.notice.conflict",
}


def console_roles(*roles: Role) -> Callable[[Request, User], Coroutine[Any, Any, User]]:
    """A page dependency for signed-in users with one of ``roles``; to anyone else the page does not
    exist (404, so the console is not advertised), and anonymous visitors are sent to log in."""
    allowed = frozenset(str(role) for role in roles)

    async def dependency(request: Request, user: PageUser) -> User:
        if str(user.role) not in allowed:
            raise NotFound("page", request.url.path[:200])
        return user

    return dependency


ConsoleStaff = Annotated[User, Depends(console_roles(Role.STAFF, Role.ADMIN))]

_STAFF_NAV = NavItem("/staff", "nav.staff", frozenset({"staff", "admin"}))
if _STAFF_NAV not in NAV_ITEMS:
    NAV_ITEMS.append(_STAFF_NAV)

T = TypeVar("T")


# --- helpers shared with the judge pages -----------------------------------------------------------


def notice_of(request: Request) -> str | None:
    """The fixed message of a ``?done=`` key, or None."""
    key = request.query_params.get("done", "")
    if key not in NOTICES:
        return None
    count = request.query_params.get("n", "")
    return t(NOTICES[key], count=int(count) if count.isdigit() and len(count) < 7 else 0)


def done(path: str, key: str, **extra: str | int) -> RedirectResponse:
    """303 back to ``path`` (a path of this site, built by the handler) with a notice key."""
    parts = urlsplit(path)
    query = dict(parse_qsl(parts.query))
    query = {k: v for k, v in query.items() if k not in ("done", "n")}
    query.update({"done": key, **{k: str(v) for k, v in extra.items()}})
    return RedirectResponse(f"{parts.path}?{urlencode(query)}", status_code=303)


def form_text(form: Mapping[str, str], name: str) -> str:
    """A submitted text field with NUL removed (no database stores it) and whitespace trimmed."""
    return form.get(name, "").replace("\x00", "").strip()


def check_reason(value: str, *, required: bool = True, limit: int = MAX_REASON) -> str | None:
    """The words of an error for a reason field, or None when it is fine."""
    if required and not value:
        return t("staff.reason_missing")
    if len(value) > limit:
        return t("staff.reason_too_long", max=limit)
    return None


def attempt(session: Session, call: Callable[[], T]) -> tuple[T | None, DomainError | None]:
    """Run a service call in a SAVEPOINT: its result, or the domain error (with its writes undone)."""
    try:
        with session.begin_nested():
            return call(), None
    except DomainError as exc:
        return None, exc


def int_param(
    params: Mapping[str, str], name: str, *, default: int | None, low: int, high: int
) -> int | None:
    """An integer query parameter in [low, high]; empty → default; anything else is a 422 page."""
    raw = params.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or len(raw) > 12 or not low <= int(raw) <= high:
        raise InvalidInput(f"invalid value for: {name}")
    return int(raw)


def choice_param(params: Mapping[str, str], name: str, choices: tuple[str, ...]) -> str | None:
    raw = params.get(name, "").strip()
    if not raw:
        return None
    if raw not in choices:
        raise InvalidInput(f"invalid value for: {name}")
    return raw


def bool_param(params: Mapping[str, str], name: str) -> bool | None:
    value = choice_param(params, name, ("true", "false"))
    return None if value is None else value == "true"


def text_param(params: Mapping[str, str], name: str, limit: int) -> str | None:
    """A text query parameter, trimmed and cut to ``limit``, without NUL (no database stores it)."""
    return params.get(name, "").replace("\x00", "").strip()[:limit] or None


def pages_of(total: int, size: int = PAGE_SIZE) -> int:
    return max(1, -(-total // size))


def page_query(filters: Mapping[str, Any], page: int) -> str:
    """The query string of another page of a filtered list."""
    values = {k: str(v) for k, v in filters.items() if v not in (None, "")}
    values["page"] = str(page)
    return urlencode(values)


def back_params(form: Mapping[str, str], path: str) -> dict[str, str]:
    """The query parameters of the page a form came from (only when it is ``path`` itself)."""
    parts = urlsplit(form.get("back", ""))
    if parts.scheme or parts.netloc or parts.path != path:
        return {}
    return {k: v for k, v in parse_qsl(parts.query) if k not in ("done", "n")}


def back_path(path: str, params: Mapping[str, str]) -> str:
    return f"{path}?{urlencode(params)}" if params else path


def label(prefix: str, value: str) -> str:
    """The catalogue's words for a value (a state, a kind…), or the value itself when there are none."""
    key = f"{prefix}.{value}"
    return t(key) if key in MESSAGES else value


def console_page(request: Request, template: str, *, status_code: int = 200, **context: Any) -> Response:
    """Render a console page: ``render`` plus the helpers the console's templates use."""
    return render(request, template, status_code=status_code, label=label, page_query=page_query, **context)


def _event_or_404(session: Session, slug: str) -> Event:
    event = web_repository.visible_event(session, slug, staff=True)
    if event is None:
        raise NotFound("event", slug[:64])
    return event


def _category_or_404(session: Session, event: Event, slug: str) -> PrizeCategory:
    if len(slug) > 64 or not SLUG_RE.match(slug.lower()):
        raise NotFound("category", slug[:64])
    return judging.require_category(session=session, event=event, slug=slug)


def _reporter_names(session: Session, reporter_ids: list[int]) -> dict[int, str]:
    return subsidies_repo.reporter_names(session, reporter_ids)


# --- home -------------------------------------------------------------------------------------------


@router.get("/staff")
def home(request: Request, staff: ConsoleStaff, session: SessionDep) -> Response:
    """The console's start: every event (published or not) and the console's sections."""
    params = request.query_params
    page = int_param(params, "page", default=1, low=1, high=MAX_PAGE) or 1
    events, total = events_service.list_events(
        session=session, offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE
    )
    return console_page(
        request,
        "staff/home.html",
        events=events,
        total=total,
        page=page,
        pages=pages_of(total),
        notice=notice_of(request),
    )


# --- sources and runs ---------------------------------------------------------------------------------


@router.get("/staff/sources")
def sources_page(request: Request, staff: ConsoleStaff, session: SessionDep) -> Response:
    """Every collection source with its health at a glance and a "collect now" button."""
    return _sources(request, session, request.query_params)


def _sources(
    request: Request,
    session: Session,
    params: Mapping[str, str],
    *,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    page = int_param(params, "page", default=1, low=1, high=MAX_PAGE) or 1
    rows, total = moderation.list_sources(session=session, offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE)
    now = datetime.now(UTC)
    sources = [(source, *moderation.health_state(source, now)) for source in rows]
    return console_page(
        request,
        "staff/sources.html",
        status_code=status_code,
        sources=sources,
        total=total,
        page=page,
        pages=pages_of(total),
        errors=errors or {},
        notice=None if errors else notice_of(request),
        back=back_path("/staff/sources", {"page": str(page)}),
    )


@router.post("/staff/sources/{source_id}/collect")
def collect_now(
    request: Request, source_id: IdPath, staff: ConsoleStaff, session: SessionDep, form: CheckedForm
) -> Response:
    """Schedule a source for the scheduler's next tick (audited)."""
    source = moderation.get_source(session=session, source_id=source_id)
    params = back_params(form, "/staff/sources")
    _, error = attempt(
        session, lambda: moderation.collect_now(session=session, source=source, **actor(staff))
    )
    if error is not None:
        return _sources(request, session, params, errors={"form": error.detail}, status_code=error.status)
    return done(back_path("/staff/sources", params), "collect")


@router.get("/staff/runs")
def runs_page(request: Request, staff: ConsoleStaff, session: SessionDep) -> Response:
    """Collector runs, newest first, by source and status."""
    params = request.query_params
    page = int_param(params, "page", default=1, low=1, high=MAX_PAGE) or 1
    source_id = int_param(params, "source_id", default=None, low=1, high=2**62)
    status = choice_param(params, "status", RUN_STATUSES)
    runs, total = moderation.list_runs(
        session=session,
        source_id=source_id,
        status=status,
        offset=(page - 1) * PAGE_SIZE,
        limit=PAGE_SIZE,
    )
    filters = {"source_id": source_id, "status": status}
    return console_page(
        request,
        "staff/runs.html",
        runs=runs,
        total=total,
        page=page,
        pages=pages_of(total),
        filters=filters,
        statuses=RUN_STATUSES,
    )


# --- moderation ---------------------------------------------------------------------------------------


@router.get("/staff/moderation")
def moderation_page(request: Request, staff: ConsoleStaff, session: SessionDep) -> Response:
    """The moderation queue: newest posts of registered reporters in open events, exclude or restore."""
    return _moderation(request, session, request.query_params)


def _moderation(
    request: Request,
    session: Session,
    params: Mapping[str, str],
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    page = int_param(params, "page", default=1, low=1, high=MAX_PAGE) or 1
    slug = params.get("event", "").strip()[:64]
    event = _event_or_404(session, slug) if slug else None
    platform = choice_param(params, "platform", PLATFORMS)
    counted = bool_param(params, "counted")
    excluded = bool_param(params, "excluded")
    items, total = moderation.moderation_queue(
        session=session,
        event=event,
        platform=platform,
        counted=counted,
        excluded=excluded,
        offset=(page - 1) * PAGE_SIZE,
        limit=PAGE_SIZE,
    )
    filters = {
        "event": event.slug if event else "",
        "platform": platform or "",
        "counted": "" if counted is None else str(counted).lower(),
        "excluded": "" if excluded is None else str(excluded).lower(),
    }
    events, _ = events_service.list_events(session=session, offset=0, limit=200)
    return console_page(
        request,
        "staff/moderation.html",
        status_code=status_code,
        items=items,
        total=total,
        page=page,
        pages=pages_of(total),
        filters=filters,
        events=events,
        platforms=PLATFORMS,
        errors=errors or {},
        values=values or {},
        notice=None if errors else notice_of(request),
        back=back_path("/staff/moderation", {**{k: v for k, v in filters.items() if v}, "page": str(page)}),
    )


def _moderate(
    request: Request, session: Session, staff: User, form: Mapping[str, str], post_id: int, exclude: bool
) -> Response:
    params = back_params(form, "/staff/moderation")
    reason = form_text(form, "reason")
    field = f"reason-{post_id}"
    problem = check_reason(reason)
    if problem is not None:
        return _moderation(
            request, session, params, errors={field: problem}, values={field: reason}, status_code=422
        )
    service = moderation.exclude_post if exclude else moderation.restore_post
    _, error = attempt(
        session, lambda: service(session=session, post_id=post_id, reason=reason, **actor(staff))
    )
    if error is not None:
        if error.status == 404:
            raise error
        return _moderation(
            request,
            session,
            params,
            errors={"form": error.detail, field: error.detail},
            values={field: reason},
            status_code=error.status,
        )
    return done(back_path("/staff/moderation", params), "excluded" if exclude else "restored")


@router.post("/staff/posts/{post_id}/exclude")
def exclude_post(
    request: Request, post_id: IdPath, staff: ConsoleStaff, session: SessionDep, form: CheckedForm
) -> Response:
    """Exclude a post from scoring with a reason the reporter will see (audited; re-scored at once)."""
    return _moderate(request, session, staff, form, post_id, exclude=True)


@router.post("/staff/posts/{post_id}/restore")
def restore_post(
    request: Request, post_id: IdPath, staff: ConsoleStaff, session: SessionDep, form: CheckedForm
) -> Response:
    """Undo an exclusion, with a reason (audited; re-scored at once)."""
    return _moderate(request, session, staff, form, post_id, exclude=False)


# --- account verification -------------------------------------------------------------------------------


@router.get("/staff/accounts")
def accounts_page(request: Request, staff: ConsoleStaff, session: SessionDep) -> Response:
    """The account verification queue (pending by default): verify or reject by hand, with a reason."""
    return _accounts(request, session, request.query_params)


def _accounts(
    request: Request,
    session: Session,
    params: Mapping[str, str],
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    page = int_param(params, "page", default=1, low=1, high=MAX_PAGE) or 1
    state = choice_param(params, "state", ACCOUNT_STATES) or "pending"
    accounts, total = identity.list_accounts(
        session=session, state=state, offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE
    )
    names = _reporter_names(session, [a.reporter_id for a in accounts])
    return console_page(
        request,
        "staff/accounts.html",
        status_code=status_code,
        accounts=accounts,
        names=names,
        total=total,
        page=page,
        pages=pages_of(total),
        state=state,
        states=ACCOUNT_STATES,
        errors=errors or {},
        values=values or {},
        notice=None if errors else notice_of(request),
        back=back_path("/staff/accounts", {"state": state, "page": str(page)}),
    )


def _decide_account(
    request: Request, session: Session, staff: User, form: Mapping[str, str], account_id: int, verify: bool
) -> Response:
    account = session.get(Account, account_id)
    if account is None:
        raise NotFound("account", account_id)
    params = back_params(form, "/staff/accounts")
    reason = form_text(form, "reason")
    field = f"reason-{account_id}" if verify else f"reject-reason-{account_id}"
    problem = check_reason(reason)
    if problem is not None:
        return _accounts(
            request, session, params, errors={field: problem}, values={field: reason}, status_code=422
        )
    call = identity.staff_verify if verify else identity.staff_reject
    assert staff.id is not None
    staff_id = staff.id
    _, error = attempt(
        session,
        lambda: call(
            session=session, account=account, reason=reason, actor_id=staff_id, actor_role=str(staff.role)
        ),
    )
    if error is not None:
        return _accounts(
            request,
            session,
            params,
            errors={"form": error.detail, field: error.detail},
            values={field: reason},
            status_code=error.status,
        )
    return done(back_path("/staff/accounts", params), "verified" if verify else "rejected")


@router.post("/staff/accounts/{account_id}/verify")
def verify_account(
    request: Request, account_id: IdPath, staff: ConsoleStaff, session: SessionDep, form: CheckedForm
) -> Response:
    """Verify an account by hand, with a reason (audited)."""
    return _decide_account(request, session, staff, form, account_id, verify=True)


@router.post("/staff/accounts/{account_id}/reject")
def reject_account(
    request: Request, account_id: IdPath, staff: ConsoleStaff, session: SessionDep, form: CheckedForm
) -> Response:
    """Reject an account, with a reason (audited)."""
    return _decide_account(request, session, staff, form, account_id, verify=False)


# --- audit log ----------------------------------------------------------------------------------------------


def _moment(params: Mapping[str, str], name: str, *, end: bool) -> datetime | None:
    """A date (UTC midnight; the day after for ``until``) or an ISO-8601 time with an offset."""
    raw = params.get(name, "").strip()
    if not raw:
        return None
    try:
        if len(raw) == 10:
            day = date.fromisoformat(raw)
            return datetime.combine(day + timedelta(days=1) if end else day, time(0), tzinfo=UTC)
        parsed = datetime.fromisoformat(raw)
    except (ValueError, OverflowError):
        raise InvalidInput(f"invalid value for: {name} (a date like 2025-10-09)") from None
    if parsed.tzinfo is None:
        raise InvalidInput(f"invalid value for: {name} (give a date, or a time with its offset)")
    return parsed


@router.get("/staff/audit")
def audit_page(request: Request, staff: ConsoleStaff, session: SessionDep) -> Response:
    """The audit log, newest first, filtered by action (a prefix ending in "."), actor, target and time."""
    params = request.query_params
    page = int_param(params, "page", default=1, low=1, high=MAX_PAGE) or 1
    action = text_param(params, "action", 100)
    actor_id = int_param(params, "actor_id", default=None, low=1, high=2**62)
    actor_role = text_param(params, "actor_role", 32)
    target_type = text_param(params, "target_type", 64)
    target_id = text_param(params, "target_id", 64)
    since = _moment(params, "since", end=False)
    until = _moment(params, "until", end=True)
    entries, total = list_entries(
        session=session,
        action=action,
        actor_id=actor_id,
        actor_role=actor_role,
        target_type=target_type,
        target_id=target_id,
        since=since,
        until=until,
        offset=(page - 1) * PAGE_SIZE,
        limit=PAGE_SIZE,
    )
    filters = {
        "action": action or "",
        "actor_id": actor_id or "",
        "actor_role": actor_role or "",
        "target_type": target_type or "",
        "target_id": target_id or "",
        "since": params.get("since", "").strip()[:40],
        "until": params.get("until", "").strip()[:40],
    }
    rows = [
        (entry, json.dumps(entry.detail or {}, sort_keys=True, ensure_ascii=False, default=str)[:600])
        for entry in entries
    ]
    return console_page(
        request,
        "staff/audit.html",
        rows=rows,
        total=total,
        page=page,
        pages=pages_of(total),
        filters=filters,
    )


# --- one event: overview and exports ---------------------------------------------------------------------


@router.get("/staff/events/{slug}")
def event_page(request: Request, slug: str, staff: ConsoleStaff, session: SessionDep) -> Response:
    """One event for staff: links to its eligibility and subsidies, judging, moderation and exports."""
    event = _event_or_404(session, slug)
    freeze = judging.get_freeze(session=session, event=event)
    budget = subsidies.budget_of(session=session, event=event)
    return console_page(request, "staff/event.html", event=event, freeze=freeze, budget=budget)


# --- eligibility and subsidies ---------------------------------------------------------------------


@router.get("/staff/events/{slug}/subsidies")
def subsidies_page(request: Request, slug: str, staff: ConsoleStaff, session: SessionDep) -> Response:
    """The event's budget (with what is left), the subsidy approval queue and every reporter's eligibility."""
    event = _event_or_404(session, slug)
    return _subsidies(request, session, event, request.query_params)


def _subsidies(
    request: Request,
    session: Session,
    event: Event,
    params: Mapping[str, str],
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    assert event.id is not None
    page = int_param(params, "page", default=1, low=1, high=MAX_PAGE) or 1
    state = choice_param(params, "state", tuple(s.value for s in SubsidyState))
    rows, total = subsidies_repo.list_subsidies(
        session, event_id=event.id, state=state, offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE
    )
    names = _reporter_names(session, [s.reporter_id for s in rows])
    deciders = subsidies_repo.user_names(session, [s.decided_by for s in rows])
    eligibility = subsidies.event_eligibility(session=session, event=event)
    epage = int_param(params, "epage", default=1, low=1, high=MAX_PAGE) or 1
    return console_page(
        request,
        "staff/subsidies.html",
        status_code=status_code,
        event=event,
        budget=subsidies.budget_of(session=session, event=event),
        subsidies=rows,
        names=names,
        deciders=deciders,
        total=total,
        page=page,
        pages=pages_of(total),
        state=state or "",
        states=[s.value for s in SubsidyState],
        eligibility=eligibility[(epage - 1) * PAGE_SIZE : epage * PAGE_SIZE],
        eligibility_total=len(eligibility),
        eligible_count=sum(1 for r in eligibility if r.eligibility.eligible),
        epage=epage,
        epages=pages_of(len(eligibility)),
        errors=errors or {},
        values=values or {},
        notice=None if errors else notice_of(request),
        back=back_path(f"/staff/events/{event.slug}/subsidies", {"state": state or "", "page": str(page)}),
    )


@router.post("/staff/events/{slug}/subsidies/propose")
def propose_subsidies(
    request: Request, slug: str, staff: ConsoleStaff, session: SessionDep, form: CheckedForm
) -> Response:
    """Propose the eligibility subsidy to every eligible reporter who has none yet (audited)."""
    event = _event_or_404(session, slug)
    path = f"/staff/events/{event.slug}/subsidies"
    params = back_params(form, path)
    created, error = attempt(
        session, lambda: subsidies.propose_subsidies(session=session, event=event, actor=staff)
    )
    if error is not None:
        return _subsidies(
            request, session, event, params, errors={"form": error.detail}, status_code=error.status
        )
    return done(back_path(path, params), "proposed", n=len(created or []))


def _parse_amount(raw: str) -> Decimal | None:
    if not raw:
        return None
    try:
        amount = Decimal(raw.replace(",", "").replace(" ", ""))
    except InvalidOperation:
        raise InvalidInput(t("staff.amount_invalid")) from None
    if not amount.is_finite() or amount <= 0 or amount >= Decimal(10) ** 12:
        raise InvalidInput(t("staff.amount_invalid"))
    return amount


@router.post("/staff/events/{slug}/subsidies/{subsidy_id}/{action}")
def decide_subsidy(
    request: Request,
    slug: str,
    subsidy_id: IdPath,
    action: str,
    staff: ConsoleStaff,
    session: SessionDep,
    form: CheckedForm,
) -> Response:
    """Approve (within the budget), reject, revoke or pay a subsidy; nobody decides on their own."""
    event = _event_or_404(session, slug)
    chosen = SUBSIDY_ACTIONS.get(action)
    subsidy = session.get(Subsidy, subsidy_id)
    if chosen is None or subsidy is None or subsidy.event_id != event.id:
        raise NotFound("subsidy", subsidy_id)
    path = f"/staff/events/{event.slug}/subsidies"
    params = back_params(form, path)
    reason = form_text(form, "reason")
    raw_amount = form_text(form, "amount")[:40]
    reason_field, amount_field = f"{chosen.value}-reason-{subsidy_id}", f"amount-{subsidy_id}"
    values = {reason_field: reason, amount_field: raw_amount}
    field_errors: dict[str, str] = {}
    problem = check_reason(reason, required=chosen in subsidies.REASON_REQUIRED, limit=subsidies.MAX_REASON)
    if problem is not None:
        field_errors[reason_field] = problem
    amount = None
    if chosen is subsidies.Action.APPROVE:
        try:
            amount = _parse_amount(raw_amount)
        except InvalidInput as exc:
            field_errors[amount_field] = exc.detail
    if field_errors:
        return _subsidies(
            request, session, event, params, errors=field_errors, values=values, status_code=422
        )
    try:
        # Not in a SAVEPOINT: a refused decision on one's own subsidy is audited, and that entry stays.
        subsidies.decide(
            session=session,
            subsidy_id=subsidy_id,
            staff=staff,
            action=chosen,
            reason=reason or None,
            amount=amount,
        )
    except DomainError as exc:
        if exc.status == 404:
            raise
        return _subsidies(
            request,
            session,
            event,
            params,
            errors={"form": exc.detail},
            values=values,
            status_code=exc.status,
        )
    return done(back_path(path, params), chosen.value)


# --- judging: freeze, categories, shortlists, results ---------------------------------------------------


def _judging(
    request: Request,
    session: Session,
    event: Event,
    staff: User,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    assert event.id is not None
    freeze = judging.get_freeze(session=session, event=event)
    categories, _ = judging_repo.categories_of(session, event.id, offset=0, limit=100)
    blocks = []
    for category in categories:
        assert category.id is not None
        entries = judging.shortlist_view(
            session=session, event=event, category=category, user=staff, staff=True
        )
        blocks.append(
            {
                "category": category,
                "criteria": judging_repo.criteria_of(session, category.id),
                "entries": entries,
                "scored": judging_repo.category_has_scores(session, category.id),
            }
        )
    defaults = {"kind": "overall", "shortlist_size": "10", "auto_weight_percent": "30"}
    return console_page(
        request,
        "staff/judging.html",
        status_code=status_code,
        event=event,
        freeze=freeze,
        deadline=judging.judging_deadline(event),
        early=datetime.now(UTC) < judging.judging_deadline(event),
        blocks=blocks,
        kinds=CATEGORY_KINDS,
        criterion_rows=range(1, CRITERION_ROWS + 1),
        errors=errors or {},
        values={**defaults, **(values or {})},
        notice=None if errors else notice_of(request),
    )


@router.get("/staff/events/{slug}/judging")
def judging_page(request: Request, slug: str, staff: ConsoleStaff, session: SessionDep) -> Response:
    """Freeze for judging (the hash shown), prize categories with rubrics, shortlists, results."""
    return _judging(request, session, _event_or_404(session, slug), staff)


@router.post("/staff/events/{slug}/freeze")
def freeze_event(
    request: Request, slug: str, staff: ConsoleStaff, session: SessionDep, form: CheckedForm
) -> Response:
    """Freeze the event's scores once (before the judging deadline only with a reason; audited)."""
    event = _event_or_404(session, slug)
    reason = form_text(form, "reason")
    problem = check_reason(reason, required=False)
    if problem is not None:
        return _judging(
            request,
            session,
            event,
            staff,
            errors={"freeze_reason": problem},
            values={"freeze_reason": reason},
            status_code=422,
        )
    _, error = attempt(
        session,
        lambda: judging.freeze_event(session=session, event=event, reason=reason or None, **actor(staff)),
    )
    if error is not None:
        field = "freeze_reason" if error.status in (409, 422) else "form"
        return _judging(
            request,
            session,
            event,
            staff,
            errors={"form": error.detail, field: error.detail},
            values={"freeze_reason": reason},
            status_code=error.status,
        )
    return done(f"/staff/events/{event.slug}/judging", "frozen")


def _small_int(raw: str, low: int, high: int) -> int | None:
    return int(raw) if raw.isdigit() and len(raw) <= 4 and low <= int(raw) <= high else None


def category_from_form(
    form: Mapping[str, str],
) -> tuple[judging.CategorySpec | None, dict[str, str], dict[str, str]]:
    """The category a "new category" form describes, or the errors per field; and the values to show again."""
    values = {
        name: form_text(form, name)
        for name in ("slug", "name", "description", "kind", "shortlist_size", "auto_weight_percent")
    }
    values["blind"] = "on" if form.get("blind") else ""
    errors: dict[str, str] = {}
    slug = values["slug"].lower()
    if not SLUG_RE.match(slug):
        errors["slug"] = t("staff.category.slug_invalid")
    if not values["name"]:
        errors["name"] = t("staff.category.name_missing")
    elif len(values["name"]) > 200:
        errors["name"] = t("staff.too_long", max=200)
    if len(values["description"]) > 2000:
        errors["description"] = t("staff.too_long", max=2000)
    if values["kind"] not in CATEGORY_KINDS:
        errors["kind"] = t("staff.category.kind_invalid")
    size = _small_int(values["shortlist_size"], 1, 100)
    if size is None:
        errors["shortlist_size"] = t("staff.category.size_invalid")
    weight = _small_int(values["auto_weight_percent"], 0, 100)
    if weight is None:
        errors["auto_weight_percent"] = t("staff.category.weight_invalid")
    criteria = []
    seen: set[str] = set()
    for row in range(1, CRITERION_ROWS + 1):
        name = form_text(form, f"criterion-{row}-name")
        raw_weight = form_text(form, f"criterion-{row}-weight") or "1"
        values[f"criterion-{row}-name"] = name
        values[f"criterion-{row}-weight"] = raw_weight
        if not name:
            continue
        if len(name) > 200:
            errors[f"criterion-{row}-name"] = t("staff.too_long", max=200)
        elif name.casefold() in seen:
            errors[f"criterion-{row}-name"] = t("staff.category.criterion_twice")
        seen.add(name.casefold())
        criterion_weight = _small_int(raw_weight, 1, 100)
        if criterion_weight is None:
            errors[f"criterion-{row}-weight"] = t("staff.category.criterion_weight_invalid")
            continue
        criteria.append(judging.CriterionSpec(name=name, weight=criterion_weight))
    if not seen:
        errors["criterion-1-name"] = t("staff.category.criteria_missing")
    if errors or size is None or weight is None:
        return None, errors, values
    spec = judging.CategorySpec(
        slug=slug,
        name=values["name"],
        description=values["description"],
        kind=values["kind"],
        shortlist_size=size,
        auto_weight_percent=weight,
        blind=bool(values["blind"]),
        criteria=tuple(criteria),
    )
    return spec, errors, values


@router.post("/staff/events/{slug}/categories")
def create_category(
    request: Request, slug: str, staff: ConsoleStaff, session: SessionDep, form: CheckedForm
) -> Response:
    """Create a prize category with its rubric (after the freeze its shortlist is built at once)."""
    event = _event_or_404(session, slug)
    spec, errors, values = category_from_form(form)
    if spec is None:
        return _judging(request, session, event, staff, errors=errors, values=values, status_code=422)
    _, error = attempt(
        session, lambda: judging.create_category(session=session, event=event, spec=spec, **actor(staff))
    )
    if error is not None:
        return _judging(
            request,
            session,
            event,
            staff,
            errors={"form": error.detail},
            values=values,
            status_code=error.status,
        )
    return done(f"/staff/events/{event.slug}/judging", "category")


@router.post("/staff/events/{slug}/categories/{category_slug}/shortlist/generate")
def generate_shortlist(
    request: Request,
    slug: str,
    category_slug: str,
    staff: ConsoleStaff,
    session: SessionDep,
    form: CheckedForm,
) -> Response:
    """Add the top N of the frozen scores who are missing from the shortlist (audited)."""
    event = _event_or_404(session, slug)
    category = _category_or_404(session, event, category_slug)

    def generate() -> object:
        freeze = judging.require_freeze(session=session, event=event)
        return judging.generate_shortlist(session=session, category=category, freeze=freeze, **actor(staff))

    _, error = attempt(session, generate)
    if error is not None:
        return _judging(
            request, session, event, staff, errors={"form": error.detail}, status_code=error.status
        )
    return done(f"/staff/events/{event.slug}/judging", "generated")


@router.post("/staff/events/{slug}/categories/{category_slug}/shortlist")
def add_to_shortlist(
    request: Request,
    slug: str,
    category_slug: str,
    staff: ConsoleStaff,
    session: SessionDep,
    form: CheckedForm,
) -> Response:
    """Add a reporter of the frozen leaderboard to a shortlist, with a reason (audited)."""
    event = _event_or_404(session, slug)
    category = _category_or_404(session, event, category_slug)
    raw_id = form_text(form, "reporter_id")
    reason = form_text(form, "reason")
    prefix = f"add-{category.slug}"
    values = {f"{prefix}-reporter": raw_id, f"{prefix}-reason": reason}
    errors: dict[str, str] = {}
    if not raw_id.isdigit() or len(raw_id) > 12 or int(raw_id) < 1:
        errors[f"{prefix}-reporter"] = t("staff.shortlist.reporter_invalid")
    problem = check_reason(reason)
    if problem is not None:
        errors[f"{prefix}-reason"] = problem
    if errors:
        return _judging(request, session, event, staff, errors=errors, values=values, status_code=422)
    _, error = attempt(
        session,
        lambda: judging.add_to_shortlist(
            session=session,
            event=event,
            category=category,
            reporter_id=int(raw_id),
            reason=reason,
            **actor(staff),
        ),
    )
    if error is not None:
        return _judging(
            request,
            session,
            event,
            staff,
            errors={"form": error.detail, f"{prefix}-reporter": error.detail},
            values=values,
            status_code=error.status,
        )
    return done(f"/staff/events/{event.slug}/judging", "added")


@router.post("/staff/events/{slug}/categories/{category_slug}/shortlist/{entry_id}/remove")
def remove_from_shortlist(
    request: Request,
    slug: str,
    category_slug: str,
    entry_id: IdPath,
    staff: ConsoleStaff,
    session: SessionDep,
    form: CheckedForm,
) -> Response:
    """Remove an entry (and its judges' scores) from a shortlist, with a reason (audited)."""
    event = _event_or_404(session, slug)
    category = _category_or_404(session, event, category_slug)
    entry = judging_repo.entry_by_id(session, entry_id)
    if entry is None or entry.category_id != category.id:
        raise NotFound("shortlist entry", entry_id)
    reason = form_text(form, "reason")
    field = f"remove-{entry_id}"
    problem = check_reason(reason)
    if problem is not None:
        return _judging(
            request, session, event, staff, errors={field: problem}, values={field: reason}, status_code=422
        )
    _, error = attempt(
        session,
        lambda: judging.remove_from_shortlist(
            session=session, category=category, entry=entry, reason=reason, **actor(staff)
        ),
    )
    if error is not None:
        return _judging(
            request, session, event, staff, errors={"form": error.detail}, status_code=error.status
        )
    return done(f"/staff/events/{event.slug}/judging", "removed")


def _results(
    request: Request,
    session: Session,
    event: Event,
    category: PrizeCategory,
    staff: User,
    *,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    results = judging.preview_results(session=session, event=event, category=category, **actor(staff))
    entries = results.get("entries", [])
    shortlist = {e.id: e.reporter_id for e in judging_repo.shortlist_of(session, category.id or 0)}
    reporter_ids = [int(row["reporter"]["id"]) for row in entries]
    names = _reporter_names(session, reporter_ids + list(shortlist.values()))
    return console_page(
        request,
        "staff/results.html",
        status_code=status_code,
        event=event,
        category=category,
        results=results,
        entries=entries,
        names=names,
        shortlist=shortlist,
        errors=errors or {},
        notice=None if errors else notice_of(request),
    )


@router.get("/staff/events/{slug}/categories/{category_slug}/results")
def results_preview(
    request: Request, slug: str, category_slug: str, staff: ConsoleStaff, session: SessionDep
) -> Response:
    """Preview a category's results (computed now; audited), with the button that publishes them."""
    event = _event_or_404(session, slug)
    return _results(request, session, event, _category_or_404(session, event, category_slug), staff)


@router.post("/staff/events/{slug}/categories/{category_slug}/publish")
def publish_results(
    request: Request,
    slug: str,
    category_slug: str,
    staff: ConsoleStaff,
    session: SessionDep,
    form: CheckedForm,
) -> Response:
    """Publish a category's results once (audited); the public results page shows them at once."""
    event = _event_or_404(session, slug)
    category = _category_or_404(session, event, category_slug)
    _, error = attempt(
        session,
        lambda: judging.publish_results(session=session, event=event, category=category, **actor(staff)),
    )
    if error is not None:
        session.refresh(category)
        return _results(
            request, session, event, category, staff, errors={"form": error.detail}, status_code=error.status
        )
    return done(f"/staff/events/{event.slug}/categories/{category.slug}/results", "published")
