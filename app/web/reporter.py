"""Reporter pages: dashboard, accounts and verification, registration, standing, claims, profile, data.

Every page here needs a signed-in user with a reporter profile (``PageReporter``; others get a 403
page, anonymous viewers the login redirect). The pages only call services: scores, verdicts and
eligibility come from ``app.scoring.standing`` (never recomputed here), accounts and claims from
``app.reporters.identity``, export and deletion from ``app.reporters.privacy``, registration from
``app.events.service``.

Forms post, then redirect (303) to a page that shows the outcome: ``?done=<key>`` names one of a
fixed set of notices, and any object it mentions is read back from the database as the reporter's
own (a crafted link cannot put words on the page). A form with errors is shown again, with each
error next to its field and the status of the failure (422, 403, 409, 429).

The event page (``event.html``, another module's) shows the registration box by including
``reporter/_event_registration.html``, which calls the template global ``reporter_registration``
registered below: it reads the viewer's registration through a short read-only session.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal
from urllib.parse import quote
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse
from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup, escape
from sqlmodel import Session, col, select
from starlette.responses import Response

from app.core.api import IdPath
from app.core.db import table
from app.core.deps import ClientAddress, SessionDep, SettingsDep, actor
from app.core.errors import Conflict, Forbidden, InvalidInput, NotFound, TooManyRequests
from app.events import service as events_service
from app.events.models import Event, Registration
from app.ingest.models import PostClaim
from app.reporters import identity, privacy
from app.reporters import service as reporters_service
from app.reporters.models import Account, Reporter, VerificationState
from app.scoring import standing
from app.users import auth
from app.users.models import Role
from app.web import repository
from app.web.charts import PALETTE, nice_ceiling
from app.web.i18n import MESSAGES, t
from app.web.pages import CheckedForm, PageRoute, PageUser, render
from app.web.templating import ENVIRONMENT, NAV_ITEMS, NavItem, format_points, local_datetime, platform_name
from collectors.base import Platform

router = APIRouter(route_class=PageRoute, include_in_schema=False)

EVENTS_PAGE_SIZE = 20
ACCOUNTS_PAGE_SIZE = 20
POSTS_PAGE_SIZE = 20
CLAIMS_PAGE_SIZE = 20
OPEN_EVENTS_SHOWN = 10
HISTORY_ROWS = 10  # the latest score changes listed under the chart
CHART_DOTS_MAX = 120  # beyond this many changes the chart draws the line only
MAX_URL_CHARS = 2000
MAX_HANDLE_CHARS = 500
PLATFORMS = tuple(p.value for p in Platform)
POST_FILTERS: dict[str, bool | None] = {"all": None, "counted": True, "not_counted": False}

PageNumber = Annotated[int, Query(ge=1, le=1_000_000, description="Page number, from 1.")]
Done = Annotated[str, Query(max_length=32, description="Which notice to show after a form.")]

if not any(item.href == "/me" for item in NAV_ITEMS):
    NAV_ITEMS.append(NavItem("/me", "nav.my_reporting", frozenset({str(Role.REPORTER)})))


# --- who may look ---------------------------------------------------------------------------------


def page_reporter(user: PageUser, session: SessionDep) -> Reporter:
    """The signed-in user's reporter profile (a 403 page for users without one)."""
    reporter = session.exec(select(Reporter).where(Reporter.user_id == user.id)).first()
    if reporter is None or reporter.deleted_at is not None:
        raise Forbidden(t("reporter.no_profile"))
    return reporter


PageReporter = Annotated[Reporter, Depends(page_reporter)]


def _rid(reporter: Reporter) -> int:
    assert reporter.id is not None  # stored rows have ids
    return reporter.id


def _event_or_404(session: Session, slug: str) -> Event:
    event = repository.visible_event(session, slug, staff=False)
    if event is None:
        raise NotFound("event", slug[:64])
    return event


def _pages(total: int, size: int) -> int:
    return max(1, -(-total // size))


def _see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _text(form: dict[str, str], name: str, limit: int) -> tuple[str, bool]:
    """A form field, trimmed and cut to ``limit``; False when no database could store it."""
    value = form.get(name, "").strip()[:limit]
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return value, False
    return value, "\x00" not in value


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# --- registration -------------------------------------------------------------------------------

RegistrationState = Literal["registered", "withdrawn", "none"]


@dataclass(frozen=True, slots=True)
class RegistrationBox:
    """What the registration box of an event shows to the viewer."""

    slug: str
    state: RegistrationState | Literal["anonymous"]
    closed: bool


def registration_state(session: Session, reporter_id: int, event: Event) -> RegistrationState:
    registration = session.exec(
        select(Registration).where(Registration.event_id == event.id, Registration.reporter_id == reporter_id)
    ).first()
    if registration is None:
        return "none"
    return "withdrawn" if registration.withdrawn_at is not None else "registered"


def registration_closed(event: Event, now: datetime | None = None) -> bool:
    deadline = event.registration_deadline
    return deadline is not None and (now or datetime.now(UTC)) > _aware(deadline)


def registration_box(session: Session, reporter_id: int, event: Event) -> RegistrationBox:
    return RegistrationBox(
        slug=event.slug,
        state=registration_state(session, reporter_id, event),
        closed=registration_closed(event),
    )


@pass_context
def reporter_registration(context: Context, event: Event) -> RegistrationBox | None:
    """The viewer's registration box for ``event`` (None: a signed-in user without a reporter profile)."""
    viewer = context.get("viewer")
    if viewer is None:
        return RegistrationBox(slug=event.slug, state="anonymous", closed=registration_closed(event))
    request: Request = context["request"]
    session: Session = request.app.state.session_factory()
    try:
        reporter_id = session.exec(
            select(Reporter.id).where(Reporter.user_id == viewer.id, col(Reporter.deleted_at).is_(None))
        ).first()
        return None if reporter_id is None else registration_box(session, reporter_id, event)
    finally:
        session.close()


ENVIRONMENT.globals["reporter_registration"] = reporter_registration


@router.get("/events/{slug}/registration")
def registration_get(slug: str) -> Response:
    """Where a login for a registration lands: back to the event page."""
    return _see_other("/events/" + quote(slug[:64], safe=""))


@router.post("/events/{slug}/registration")
def register(
    slug: str, session: SessionDep, user: PageUser, reporter: PageReporter, form: CheckedForm
) -> Response:
    """Register the signed-in reporter for the event."""
    event = _event_or_404(session, slug)
    if registration_state(session, _rid(reporter), event) == "registered":
        return _see_other(f"/me/events/{event.slug}?done=already")
    if registration_closed(event):
        raise Conflict(t("register.closed"))
    events_service.register(session=session, reporter=reporter, event=event, **actor(user))
    return _see_other(f"/me/events/{event.slug}?done=registered")


@router.post("/events/{slug}/withdrawal")
def withdraw(
    slug: str, session: SessionDep, user: PageUser, reporter: PageReporter, form: CheckedForm
) -> Response:
    """Withdraw the signed-in reporter's registration for the event."""
    event = _event_or_404(session, slug)
    if registration_state(session, _rid(reporter), event) != "registered":
        return _see_other(f"/me/events/{event.slug}?done=not_registered")
    events_service.withdraw(session=session, reporter=reporter, event=event, **actor(user))
    return _see_other(f"/me/events/{event.slug}?done=withdrawn")


# --- dashboard ------------------------------------------------------------------------------------


def open_events(session: Session, reporter_id: int, *, limit: int) -> list[Event]:
    """Published events not over yet, open for registration, that the reporter is not registered for."""
    now = datetime.now(UTC)
    registrations = table(Registration).c
    mine = sa.select(registrations.event_id).where(
        registrations.reporter_id == reporter_id, registrations.withdrawn_at.is_(None)
    )
    rows = session.exec(
        select(Event)
        .where(
            col(Event.published).is_(True),
            col(Event.window_end_at) > now,
            col(Event.id).not_in(mine),
            col(Event.registration_deadline).is_(None) | (col(Event.registration_deadline) > now),
        )
        .order_by(col(Event.start_date), col(Event.id))
        .limit(limit)
    ).all()
    return [event for event in rows if event.end_date >= now.astimezone(ZoneInfo(event.timezone)).date()]


def _account_counts(session: Session, reporter_id: int) -> dict[str, int]:
    accounts = table(Account).c
    rows = session.execute(
        sa.select(accounts.state, sa.func.count())
        .where(accounts.reporter_id == reporter_id)
        .group_by(accounts.state)
    ).all()
    return {str(state): int(count) for state, count in rows}


@router.get("/me")
def dashboard(
    request: Request, session: SessionDep, reporter: PageReporter, page: PageNumber = 1
) -> Response:
    """The reporter's dashboard: every event with rank, movement and score; accounts; open events."""
    rid = _rid(reporter)
    events = standing.standing_events(session=session, reporter_id=rid, include_unpublished=False)
    chosen = events[(page - 1) * EVENTS_PAGE_SIZE : page * EVENTS_PAGE_SIZE]
    summaries = [standing.standing_summary(session=session, event=e, reporter_id=rid) for e in chosen]
    counts = _account_counts(session, rid)
    return render(
        request,
        "reporter/dashboard.html",
        reporter=reporter,
        summaries=summaries,
        page=page,
        pages=_pages(len(events), EVENTS_PAGE_SIZE),
        verified=counts.get(VerificationState.VERIFIED, 0),
        pending=counts.get(VerificationState.PENDING, 0),
        open_events=open_events(session, rid, limit=OPEN_EVENTS_SHOWN),
        section="dashboard",
    )


# --- accounts -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AccountView:
    id: int
    platform: str
    handle: str
    state: str
    state_label: str
    code: str | None
    code_expires: datetime | None
    code_live: bool
    verified_at: datetime | None


ACCOUNT_STATES: dict[str, str] = {
    VerificationState.PENDING: "accounts.state.pending",
    VerificationState.VERIFIED: "accounts.state.verified",
    VerificationState.REJECTED: "accounts.state.rejected",
}


def account_view(account: Account, now: datetime) -> AccountView:
    expires = _aware(account.code_expires_at) if account.code_expires_at else None
    return AccountView(
        id=account.id or 0,
        platform=account.platform,
        handle=account.handle,
        state=account.state,
        state_label=t(ACCOUNT_STATES.get(account.state, "accounts.state.pending")),
        code=account.verification_code if account.state == VerificationState.PENDING else None,
        code_expires=expires,
        code_live=account.verification_code is not None and (expires is None or expires > now),
        verified_at=_aware(account.verified_at) if account.verified_at else None,
    )


def _accounts_page(
    request: Request,
    session: Session,
    reporter: Reporter,
    *,
    page: int,
    status_code: int = 200,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    notice: str | None = None,
) -> Response:
    rows, total = identity.list_accounts(
        session=session,
        reporter_id=_rid(reporter),
        offset=(page - 1) * ACCOUNTS_PAGE_SIZE,
        limit=ACCOUNTS_PAGE_SIZE,
    )
    now = datetime.now(UTC)
    return render(
        request,
        "reporter/accounts.html",
        status_code=status_code,
        accounts=[account_view(a, now) for a in rows],
        total=total,
        page=page,
        pages=_pages(total, ACCOUNTS_PAGE_SIZE),
        platforms=PLATFORMS,
        errors=errors or {},
        values=values or {"platform": "mastodon", "handle": ""},
        notice=notice,
        section="accounts",
    )


def _own_account_or_none(session: Session, reporter: Reporter, raw_id: str | None) -> Account | None:
    if not raw_id or not raw_id.isdigit() or len(raw_id) > 12:
        return None
    try:
        return identity.get_own_account(session=session, reporter=reporter, account_id=int(raw_id))
    except NotFound:
        return None


ACCOUNT_NOTICES = {
    "linked": "accounts.linked_done",
    "verified": "accounts.verified_done",
    "new_code": "accounts.new_code_done",
}


@router.get("/me/accounts")
def accounts_page(
    request: Request,
    session: SessionDep,
    reporter: PageReporter,
    page: PageNumber = 1,
    done: Done = "",
    account: Annotated[str, Query(max_length=12)] = "",
) -> Response:
    """The reporter's linked accounts, the one-time codes and how to post them, "verify now"."""
    notice = None
    if done == "removed":
        notice = t("accounts.removed_done")
    elif done in ACCOUNT_NOTICES:
        mentioned = _own_account_or_none(session, reporter, account)
        if mentioned is not None:
            notice = t(
                ACCOUNT_NOTICES[done], account=f"{platform_name(mentioned.platform)} {mentioned.handle}"
            )
    return _accounts_page(request, session, reporter, page=page, notice=notice)


@router.post("/me/accounts")
def link_account(
    request: Request, session: SessionDep, user: PageUser, reporter: PageReporter, form: CheckedForm
) -> Response:
    """Link ``platform:handle``; the accounts page then shows its code."""
    platform = form.get("platform", "")
    handle, storable = _text(form, "handle", MAX_HANDLE_CHARS)
    errors: dict[str, str] = {}
    if platform not in PLATFORMS:
        errors["platform"] = t("accounts.platform_missing")
    if not handle:
        errors["handle"] = t("accounts.handle_missing")
    elif not storable:
        errors["handle"] = t("me.invalid_text")
    if not errors:
        try:
            account = identity.link_account(
                session=session, reporter=reporter, account_text=f"{platform}:{handle}", **actor(user)
            )
        except (InvalidInput, Conflict) as exc:
            errors["handle"] = t("accounts.cannot_link", detail=exc.detail)
        else:
            return _see_other(f"/me/accounts?done=linked&account={account.id}#account-{account.id}")
    values = {"platform": platform if platform in PLATFORMS else "mastodon", "handle": handle}
    status = 409 if any("already linked" in e for e in errors.values()) else 422
    return _accounts_page(
        request, session, reporter, page=1, status_code=status, errors=errors, values=values
    )


def _form_page(form: dict[str, str]) -> int:
    raw = form.get("page", "1")
    return int(raw) if raw.isdigit() and 1 <= len(raw) <= 6 and int(raw) >= 1 else 1


@router.post("/me/accounts/{account_id}/verify")
def verify_account_now(
    request: Request,
    account_id: IdPath,
    session: SessionDep,
    user: PageUser,
    reporter: PageReporter,
    form: CheckedForm,
) -> Response:
    """Verify now: fetch the post at the given URL and check it carries the account's code."""
    account = identity.get_own_account(session=session, reporter=reporter, account_id=account_id)
    url, storable = _text(form, "url", MAX_URL_CHARS + 1)
    error = None
    if not url:
        error = t("accounts.verify_url_missing")
    elif not storable:
        error = t("me.invalid_text")
    else:
        try:
            identity.verify_now(session=session, account=account, url=url, **actor(user))
        except (InvalidInput, Conflict) as exc:
            error = t("accounts.verify_failed", detail=exc.detail)
    if error is None:
        return _see_other(f"/me/accounts?done=verified&account={account.id}#account-{account.id}")
    return _accounts_page(
        request,
        session,
        reporter,
        page=_form_page(form),
        status_code=422,
        errors={f"url-{account.id}": error},
        values={"platform": "mastodon", "handle": "", f"url-{account.id}": url},
    )


@router.post("/me/accounts/{account_id}/code")
def new_code(
    request: Request, account_id: IdPath, session: SessionDep, reporter: PageReporter, form: CheckedForm
) -> Response:
    """Issue a new one-time code for a pending account (the old one stops working)."""
    account = identity.get_own_account(session=session, reporter=reporter, account_id=account_id)
    try:
        identity.regenerate_code(session=session, account=account)
    except Conflict as exc:
        return _accounts_page(
            request,
            session,
            reporter,
            page=_form_page(form),
            status_code=409,
            errors={f"account-{account.id}": exc.detail},
        )
    return _see_other(f"/me/accounts?done=new_code&account={account.id}#account-{account.id}")


@router.post("/me/accounts/{account_id}/remove")
def remove_account(
    account_id: IdPath, session: SessionDep, user: PageUser, reporter: PageReporter, form: CheckedForm
) -> Response:
    """Remove a linked account; its posts stop counting."""
    account = identity.get_own_account(session=session, reporter=reporter, account_id=account_id)
    identity.unlink_account(session=session, account=account, **actor(user))
    return _see_other("/me/accounts?done=removed")


# --- standing -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CriterionView:
    code: str
    name: str
    met: bool
    words: str
    missing: str | None
    actual: int
    required: int


def criterion_view(criterion: standing.CriterionPublic, *, registered: bool) -> CriterionView:
    """One eligibility criterion in the catalogue's words ("2 more posts", "1 of 2 event days")."""
    code = criterion.code
    prefix = f"criterion.{code}"
    missing: str | None
    if code == "registered_in_time":
        if not registered:
            words, missing = t(f"{prefix}.none"), t(f"{prefix}.missing_none")
        elif criterion.met:
            words, missing = t(f"{prefix}.in_time"), None
        else:
            words, missing = t(f"{prefix}.late"), None  # nothing left to do about it
    elif f"{prefix}.name" in MESSAGES:
        short = max(0, criterion.required - criterion.actual)
        if criterion.actual > criterion.required:  # "7 posts (5 needed)" reads better than "7 of 5"
            words = t(f"{prefix}.beyond", count=criterion.actual, required=criterion.required)
        else:
            words = t(f"{prefix}.words", count=criterion.required, actual=criterion.actual)
        missing = t(f"{prefix}.missing", count=short)
    else:  # a criterion newer than this catalogue: the scoring library's own words
        words, missing = criterion.words, criterion.missing
    return CriterionView(
        code=code,
        name=t(f"{prefix}.name") if f"{prefix}.name" in MESSAGES else code,
        met=criterion.met,
        words=words,
        missing=None if criterion.met else missing,
        actual=min(max(0, criterion.actual), max(1, criterion.required)),
        required=max(1, criterion.required),
    )


def reason_text(code: str) -> str:
    key = f"reason.{code}"
    return t(key) if key in MESSAGES else code


@dataclass(frozen=True, slots=True)
class PostView:
    post_id: int
    platform: str
    url: str | None
    created_at: datetime
    excerpt: str
    counted: bool
    points: int
    reasons: list[str]
    excluded_reason: str | None


def post_view(line: standing.PostLine) -> PostView:
    url = line.url if line.url and line.url.lower().startswith(("https://", "http://")) else None
    return PostView(
        post_id=line.post_id,
        platform=line.platform,
        url=url,
        created_at=_aware(line.created_at),
        excerpt=line.excerpt,
        counted=line.counted,
        points=line.points_thousandths,
        reasons=[reason_text(code) for code in line.reasons],
        excluded_reason=line.excluded_reason,
    )


def score_chart(
    history: list[standing.HistoryPoint], *, event: Event, chart_id: str, width: int = 720, height: int = 240
) -> Markup | None:
    """The reporter's score after each change, as an accessible step-line SVG (None without history)."""
    if not history:
        return None
    zone = event.timezone
    moments = [_aware(p.at) for p in history]
    scores = [max(0, p.score_thousandths) for p in history]
    left, right, top, bottom = 64, 16, 16, 36
    plot_w, plot_h = width - left - right, height - top - bottom
    top_points = nice_ceiling(math.ceil(max(scores) / 1000))
    first, last = moments[0], moments[-1]
    span = (last - first).total_seconds()

    def x_of(moment: datetime) -> float:
        return left + (plot_w * (moment - first).total_seconds() / span if span > 0 else 0.0)

    def y_of(thousandths: int) -> float:
        return top + plot_h - plot_h * thousandths / (top_points * 1000)

    def num(value: float) -> str:
        return f"{value:.1f}".rstrip("0").rstrip(".")

    title = t("chart.score.title", event=event.name)
    desc = t(
        "chart.score.desc",
        changes=len(history),
        first=local_datetime(first, zone),
        last=local_datetime(last, zone),
        score=format_points(scores[-1]),
    )
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart score-chart" viewBox="0 0 {width} {height}" '
        f'role="img" aria-labelledby="{chart_id}-title {chart_id}-desc" focusable="false">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(desc)}</desc>',
    ]
    for tick in (0, top_points / 2, top_points):
        y = y_of(int(tick * 1000))
        parts.append(
            f'<line class="chart-grid" x1="{left}" x2="{width - right}" y1="{num(y)}" y2="{num(y)}" '
            'stroke="#767676" stroke-width="0.5"/>'
        )
        parts.append(
            f'<text class="chart-axis" x="{left - 6}" y="{num(y + 4)}" text-anchor="end">{num(tick)}</text>'
        )
    path = [f"M{num(x_of(moments[0]))} {num(y_of(scores[0]))}"]
    for moment, score in zip(moments[1:], scores[1:], strict=True):
        path.append(f"H{num(x_of(moment))}V{num(y_of(score))}")
    if span == 0:
        path.append(f"H{width - right}")
    parts.append(
        f'<path class="score-line" d="{"".join(path)}" fill="none" stroke="{PALETTE[0]}" stroke-width="2"/>'
    )
    if len(history) <= CHART_DOTS_MAX:
        for point, moment, score in zip(history, moments, scores, strict=True):
            tip = t(
                "chart.score.point",
                when=local_datetime(moment, zone),
                score=format_points(score),
                rank=point.rank,
            )
            parts.append(
                f'<circle cx="{num(x_of(moment))}" cy="{num(y_of(score))}" r="3.5" fill="{PALETTE[0]}">'
                f"<title>{escape(tip)}</title></circle>"
            )
    labels = [(first, "start"), (last, "end")] if span > 0 else [(first, "start")]
    for moment, anchor in labels:
        parts.append(
            f'<text class="chart-axis" x="{num(x_of(moment))}" y="{height - 10}" text-anchor="{anchor}">'
            f"{escape(local_datetime(moment, zone))}</text>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # every text above went through escape()


STANDING_NOTICES = {
    "registered": "register.done",
    "already": "register.already",
    "withdrawn": "register.withdrawn_done",
    "not_registered": "register.not_registered",
}


@router.get("/me/events/{slug}")
def standing_page(
    request: Request,
    slug: str,
    session: SessionDep,
    reporter: PageReporter,
    page: PageNumber = 1,
    show: Annotated[str, Query(max_length=16)] = "all",
    done: Done = "",
) -> Response:
    """My standing in one event: rank, breakdown, eligibility progress, every post's verdict, history."""
    event = _event_or_404(session, slug)
    rid = _rid(reporter)
    show = show if show in POST_FILTERS else "all"
    detail = standing.standing_detail(
        session=session,
        event=event,
        reporter_id=rid,
        offset=(page - 1) * POSTS_PAGE_SIZE,
        limit=POSTS_PAGE_SIZE,
        counted=POST_FILTERS[show],
    )
    criteria = [criterion_view(c, registered=detail.registered) for c in detail.eligibility.criteria]
    notice = t(STANDING_NOTICES[done], event=event.name) if done in STANDING_NOTICES else None
    return render(
        request,
        "reporter/standing.html",
        event=event,
        detail=detail,
        criteria=criteria,
        criteria_met=sum(1 for c in criteria if c.met),
        missing=[c.missing for c in criteria if c.missing],
        posts=[post_view(line) for line in detail.posts.data],
        show=show,
        page=page,
        pages=_pages(detail.posts.count, POSTS_PAGE_SIZE),
        chart=score_chart(detail.history, event=event, chart_id=f"score-chart-{event.slug}"),
        history_rows=list(reversed(detail.history[-HISTORY_ROWS:])),
        registration=registration_box(session, rid, event),
        notice=notice,
        section="dashboard",
    )


# --- claims ---------------------------------------------------------------------------------------


def _claims_page(
    request: Request,
    session: Session,
    reporter: Reporter,
    *,
    page: int,
    status_code: int = 200,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    notice: tuple[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    rid = _rid(reporter)
    rows, total = identity.list_claims(
        session=session, reporter=reporter, offset=(page - 1) * CLAIMS_PAGE_SIZE, limit=CLAIMS_PAGE_SIZE
    )
    events = standing.standing_events(session=session, reporter_id=rid, include_unpublished=False)
    names = {e.id: e.name for e in events}
    missing_ids = {c.event_id for c in rows if c.event_id is not None and c.event_id not in names}
    if missing_ids:
        for other in session.exec(select(Event).where(col(Event.id).in_(missing_ids))).all():
            names[other.id] = other.name if other.published else ""
    return render(
        request,
        "reporter/claims.html",
        status_code=status_code,
        headers=headers,
        claims=rows,
        event_names=names,
        events=events,
        total=total,
        page=page,
        pages=_pages(total, CLAIMS_PAGE_SIZE),
        errors=errors or {},
        values=values or {"url": "", "event": ""},
        claim_notice=notice,
        section="claims",
    )


@router.get("/me/claims")
def claims_page(
    request: Request,
    session: SessionDep,
    reporter: PageReporter,
    page: PageNumber = 1,
    done: Done = "",
    claim: Annotated[str, Query(max_length=12)] = "",
) -> Response:
    """The missed-post claim form and the reporter's claims, newest first."""
    notice = None
    if done == "claim" and claim.isdigit() and len(claim) <= 12:
        found = session.get(PostClaim, int(claim))
        if found is not None and found.reporter_id == reporter.id:
            if found.state == "accepted":
                notice = ("info", t("claims.accepted_done"))
            else:
                notice = ("error", t("claims.rejected_done", reason=found.reason or ""))
    return _claims_page(request, session, reporter, page=page, notice=notice)


@router.post("/me/claims")
def submit_claim(
    request: Request, session: SessionDep, reporter: PageReporter, form: CheckedForm
) -> Response:
    """Claim a missed post by URL: it is fetched and checked; the page says accepted or why not."""
    url, storable = _text(form, "url", MAX_URL_CHARS + 1)
    slug = form.get("event", "").strip()[:64]
    errors: dict[str, str] = {}
    event: Event | None = None
    if slug:
        mine = standing.standing_events(
            session=session, reporter_id=_rid(reporter), include_unpublished=False
        )
        event = next((e for e in mine if e.slug == slug), None)
        if event is None:
            errors["event"] = t("claims.event_unknown")
    if not url:
        errors["url"] = t("claims.url_missing")
    elif not storable:
        errors["url"] = t("me.invalid_text")
    headers: dict[str, str] | None = None
    status = 422
    if not errors:
        try:
            claim = identity.submit_claim(
                session=session, reporter=reporter, url=url, event_id=event.id if event else None
            )
        except InvalidInput as exc:
            errors["url"] = exc.detail
        except TooManyRequests as exc:
            wait = max(1, exc.retry_after_s)
            errors["url"] = t("claims.throttled", seconds=wait)
            headers, status = {"Retry-After": str(wait)}, 429
        else:
            return _see_other(f"/me/claims?done=claim&claim={claim.id}")
    return _claims_page(
        request,
        session,
        reporter,
        page=1,
        status_code=status,
        errors=errors,
        values={"url": url if storable else "", "event": slug},
        headers=headers,
    )


# --- profile, export, deletion ------------------------------------------------------------------


def _profile_page(
    request: Request,
    reporter: Reporter,
    *,
    status_code: int = 200,
    errors: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
    notice: str | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    return render(
        request,
        "reporter/profile.html",
        status_code=status_code,
        headers=headers,
        errors=errors or {},
        values=values
        or {"name": reporter.name, "bio": reporter.bio, "public_listing": reporter.public_listing},
        notice=notice,
        section="profile",
    )


@router.get("/me/profile")
def profile_page(request: Request, reporter: PageReporter, done: Done = "") -> Response:
    """Name, bio and leaderboard listing (public or anonymous); data download; deletion."""
    return _profile_page(request, reporter, notice=t("profile.saved") if done == "saved" else None)


@router.post("/me/profile")
def save_profile(
    request: Request, session: SessionDep, reporter: PageReporter, form: CheckedForm
) -> Response:
    """Save name, bio and the listing choice."""
    name = " ".join(form.get("name", "").split())
    bio = form.get("bio", "").strip()
    listing = form.get("listing", "")
    errors: dict[str, str] = {}
    if not name:
        errors["name"] = t("profile.name_missing")
    elif len(name) > 200:
        errors["name"] = t("profile.name_too_long")
    elif not _text({"name": name}, "name", 200)[1]:
        errors["name"] = t("me.invalid_text")
    if len(bio) > 2000:
        errors["bio"] = t("profile.bio_too_long")
    elif not _text({"bio": bio}, "bio", 2000)[1]:
        errors["bio"] = t("me.invalid_text")
    if listing not in ("public", "anonymous"):
        errors["listing"] = t("profile.listing_missing")
    if errors:
        values = {"name": name[:300], "bio": bio[:2100], "public_listing": listing != "anonymous"}
        return _profile_page(request, reporter, status_code=422, errors=errors, values=values)
    reporters_service.update_profile(
        session=session, reporter=reporter, name=name, bio=bio, public_listing=listing == "public"
    )
    return _see_other("/me/profile?done=saved")


@router.get("/me/export")
def export_data(session: SessionDep, reporter: PageReporter) -> Response:
    """Everything stored about the reporter, as a JSON file to download."""
    document = privacy.export_reporter(session=session, reporter=reporter)
    body = json.dumps(document, ensure_ascii=False, indent=2, default=str).encode()
    stamp = date.today().isoformat()
    return Response(
        body,
        media_type="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="blogitearnit-my-data-{stamp}.json"',
            "Cache-Control": "no-store",
        },
    )


@router.post("/me/delete")
def delete_data(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    address: ClientAddress,
    user: PageUser,
    reporter: PageReporter,
    form: CheckedForm,
) -> Response:
    """Delete the reporter's data and sign-in for good, once the password confirms it."""
    password = form.get("password", "")
    error = None
    status, headers = 422, None
    if not password:
        error = t("profile.delete_password_missing")
    else:
        try:
            confirmed = auth.attempt_login(
                session=session,
                email=user.email,
                password=password[:1024],
                address=address,
                settings=settings,
            )
        except TooManyRequests as exc:
            wait = max(1, exc.retry_after_s)
            error, status, headers = (
                t("profile.delete_throttled", seconds=wait),
                429,
                {"Retry-After": str(wait)},
            )
        else:
            if confirmed is None or confirmed.id != user.id:
                # a rendered page is a success: the boundary commits the failed attempt (throttle)
                error, status = t("profile.delete_wrong_password"), 403
    if error is not None:
        return _profile_page(
            request, reporter, status_code=status, errors={"password": error}, headers=headers
        )
    privacy.delete_reporter(
        session=session,
        reporter=reporters_service.get_reporter(session=session, reporter_id=_rid(reporter)),
        **actor(user),
    )
    request.state.viewer = None  # signed out from here on: the page shows no account
    response = render(request, "reporter/deleted.html")
    response.delete_cookie(auth.SESSION_COOKIE, path="/")
    return response
