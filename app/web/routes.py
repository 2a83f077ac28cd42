"""Public web pages: events calendar, event page, live leaderboard, display wall; sign-up, log-in, log-out.

Mounted at the site root (``app.main.ROOT_ROUTERS``); hidden from the OpenAPI schema. See
``docs/web.md`` for how to add pages on this base.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import groupby
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from app.core.deps import ClientAddress, SessionDep, SettingsDep
from app.core.errors import Conflict, InvalidInput, NotFound, TooManyRequests
from app.core.security import MIN_PASSWORD_LENGTH
from app.events import service as events_service
from app.events.models import Event
from app.reporters import service as reporters_service
from app.scoring.leaderboard import event_leaderboard
from app.users import auth
from app.users import service as users_service
from app.users.models import Role
from app.web import repository
from app.web.charts import Series, stacked_bars
from app.web.i18n import t
from app.web.pages import (
    FORM_COOKIE,
    CheckedForm,
    PageOptionalUser,
    PageRoute,
    PageViewerDep,
    render,
    safe_next,
    set_cookie,
)
from app.web.templating import ASSETS, platform_name
from collectors.base import Platform

router = APIRouter(route_class=PageRoute, include_in_schema=False)

CALENDAR_PAGE_SIZE = 100
LEADERBOARD_PAGE_SIZE = 50
WALL_TOP = 10
WALL_POSTS = 8
WALL_DEFAULT_REFRESH_S = 20
PLATFORMS = tuple(p.value for p in Platform)

PageNumber = Annotated[int, Query(ge=1, le=1_000_000, description="Page number, from 1.")]


def _event_or_404(session: SessionDep, slug: str, staff: bool) -> Event:
    event = repository.visible_event(session, slug, staff=staff)
    if event is None:
        raise NotFound("event", slug[:64])
    return event


def _is_staff(user: Any) -> bool:
    return user is not None and str(user.role) in (Role.STAFF, Role.ADMIN)


# --- calendar and event -----------------------------------------------------------------------------


@router.get("/")
@router.get("/events")
def calendar(request: Request, session: SessionDep, user: PageOptionalUser, page: PageNumber = 1) -> Response:
    """Events by month (staff also see unpublished ones)."""
    events, total = events_service.list_visible_events(
        session=session,
        include_unpublished=_is_staff(user),
        offset=(page - 1) * CALENDAR_PAGE_SIZE,
        limit=CALENDAR_PAGE_SIZE,
    )
    months = [
        (year, month, list(items))
        for (year, month), items in groupby(events, key=lambda e: (e.start_date.year, e.start_date.month))
    ]
    pages = max(1, -(-total // CALENDAR_PAGE_SIZE))
    return render(request, "calendar.html", months=months, page=page, pages=pages)


@router.get("/events/{slug}")
def event_page(request: Request, slug: str, session: SessionDep, user: PageOptionalUser) -> Response:
    """One event: dates in its time zone, tags, rules version, links to its leaderboard and wall."""
    event = _event_or_404(session, slug, _is_staff(user))
    window_start, window_end = events_service.window_dates(event)
    return render(
        request,
        "event.html",
        event=event,
        window_start=window_start,
        window_end=window_end,
        website=event.url if event.url and event.url.startswith(("https://", "http://")) else None,
    )


# --- leaderboard ----------------------------------------------------------------------------------


@router.get("/events/{slug}/leaderboard")
def leaderboard_page(
    request: Request,
    slug: str,
    session: SessionDep,
    user: PageOptionalUser,
    page: PageNumber = 1,
    platform: Annotated[str, Query(max_length=32)] = "",
) -> Response:
    """The event's live leaderboard, optionally for one platform, 50 reporters a page."""
    event = _event_or_404(session, slug, _is_staff(user))
    chosen = platform if platform in PLATFORMS else None
    items, total = event_leaderboard(
        session,
        event,
        offset=(page - 1) * LEADERBOARD_PAGE_SIZE,
        limit=LEADERBOARD_PAGE_SIZE,
        platform=chosen,
    )
    pages = max(1, -(-total // LEADERBOARD_PAGE_SIZE))
    return render(
        request,
        "leaderboard.html",
        event=event,
        items=items,
        total=total,
        page=page,
        pages=pages,
        platform=chosen,
        platforms=PLATFORMS,
    )


# --- display wall ---------------------------------------------------------------------------------


def wall_context(session: SessionDep, event: Event) -> dict[str, Any]:
    """What the wall shows: top reporters, latest counted posts, counted posts per hour."""
    zone = ZoneInfo(event.timezone)
    top, _ = event_leaderboard(session, event, offset=0, limit=WALL_TOP)
    posts = repository.latest_counted_posts(session, event, limit=WALL_POSTS)
    now = datetime.now(UTC)
    latest = repository.latest_counted_at(session, event)
    end = latest + timedelta(seconds=1) if latest is not None else min(now, event.window_end_at)
    start, counts = repository.counted_per_hour(session, event, end=end, hours=24)
    labels = [(start + timedelta(hours=i)).astimezone(zone).strftime("%H:00") for i in range(24)]
    series = [
        Series(key=p, label=platform_name(p), values=tuple(counts[p])) for p in PLATFORMS if p in counts
    ]
    end_text = (start + timedelta(hours=24)).astimezone(zone).strftime("%H:00 %Z")
    total = sum(s.total for s in series)
    if total:
        parts = ", ".join(t("chart.posts_per_hour.part", platform=s.label, count=s.total) for s in series)
        desc = t("chart.posts_per_hour.desc", total=total, end=end_text, parts=parts)
    else:
        desc = t("chart.posts_per_hour.none", end=end_text)
    chart = stacked_bars(
        series=series,
        labels=labels,
        title=t("chart.posts_per_hour.title"),
        desc=desc,
        chart_id=f"wall-chart-{event.slug}",
    )
    return {
        "event": event,
        "top": top,
        "posts": posts,
        "chart": chart,
        "zone": zone,
        "updated": now.astimezone(zone).strftime("%H:%M:%S"),
    }


@router.get("/events/{slug}/wall")
def wall(
    request: Request,
    slug: str,
    session: SessionDep,
    user: PageOptionalUser,
    refresh: Annotated[int, Query(ge=1, le=600, description="Seconds between refreshes.")] = (
        WALL_DEFAULT_REFRESH_S
    ),
) -> Response:
    """The full-screen display wall for Congress screens; it refreshes itself."""
    event = _event_or_404(session, slug, _is_staff(user))
    return render(request, "wall.html", refresh_s=refresh, **wall_context(session, event))


@router.get("/events/{slug}/wall/live")
def wall_live(request: Request, slug: str, session: SessionDep, user: PageOptionalUser) -> Response:
    """The wall's live part as an HTML fragment (fetched by the wall every few seconds)."""
    event = _event_or_404(session, slug, _is_staff(user))
    response = render(request, "wall_live.html", **wall_context(session, event))
    response.headers["Cache-Control"] = "no-store"
    return response


# --- sign-up, log-in, log-out -----------------------------------------------------------------------


def _session_cookie(response: Response, request: Request, cookie: str) -> None:
    set_cookie(response, request, auth.SESSION_COOKIE, cookie, int(auth.SESSION_TTL.total_seconds()))


@router.get("/login")
def login_form(request: Request, viewer: PageViewerDep, next: str = "") -> Response:
    """The log-in form."""
    notice = None
    if "registered" in request.query_params:
        notice = t("login.registered")
    elif "logged_out" in request.query_params:
        notice = t("login.logged_out")
    return render(
        request, "login.html", values={"email": ""}, errors={}, next=safe_next(next, ""), notice=notice
    )


@router.post("/login")
def login_submit(
    request: Request,
    viewer: PageViewerDep,
    form: CheckedForm,
    session: SessionDep,
    settings: SettingsDep,
    address: ClientAddress,
) -> Response:
    """Check the credentials (throttled), start a browser session, go to ``next``."""
    email = form.get("email", "").strip()[:320]
    password = form.get("password", "")
    next_path = safe_next(form.get("next"), "")
    errors: dict[str, str] = {}
    if not email:
        errors["email"] = t("login.email_missing")
    if not password:
        errors["password"] = t("login.password_missing")
    context: dict[str, Any] = {"values": {"email": email}, "next": next_path, "notice": None}
    if errors:
        return render(request, "login.html", status_code=422, errors=errors, **context)
    try:
        user = auth.attempt_login(
            session=session, email=email, password=password[:1024], address=address, settings=settings
        )
    except TooManyRequests as exc:
        wait = max(1, exc.retry_after_s)
        return render(
            request,
            "login.html",
            status_code=429,
            headers={"Retry-After": str(wait)},
            errors={"form": t("login.throttled", seconds=wait)},
            **context,
        )
    if user is None:
        # The failed attempt is committed by the request boundary: a rendered page is a success.
        return render(request, "login.html", status_code=401, errors={"form": t("login.failed")}, **context)
    cookie, _ = auth.start_session(
        session=session, user=user, previous_cookie=request.cookies.get(auth.SESSION_COOKIE)
    )
    response = RedirectResponse(next_path or "/", status_code=303)
    _session_cookie(response, request, cookie)
    response.delete_cookie(FORM_COOKIE, path="/")
    return response


@router.get("/signup")
def signup_form(request: Request, viewer: PageViewerDep) -> Response:
    """The reporter sign-up form."""
    return render(
        request, "signup.html", values={"name": "", "email": ""}, errors={}, min_password=MIN_PASSWORD_LENGTH
    )


def _signup_errors(name: str, email: str, password: str) -> dict[str, str]:
    errors: dict[str, str] = {}
    if not name:
        errors["name"] = t("signup.name_missing")
    elif len(name) > 200:
        errors["name"] = t("signup.name_too_long")
    try:
        users_service.normalise_email(email)
    except InvalidInput:
        errors["email"] = t("signup.email_invalid")
    if len(password) < MIN_PASSWORD_LENGTH:
        errors["password"] = t("signup.password_short", min=MIN_PASSWORD_LENGTH)
    elif len(password) > 1024:
        errors["password"] = t("signup.password_long")
    return errors


@router.post("/signup")
def signup_submit(
    request: Request, viewer: PageViewerDep, form: CheckedForm, session: SessionDep
) -> Response:
    """Create a reporter account, then ask the new reporter to log in."""
    name = " ".join(form.get("name", "").split())
    email = form.get("email", "").strip()[:320]
    password = form.get("password", "")
    errors = _signup_errors(name, email, password)
    if "\x00" in name + email + password:
        errors["form"] = t("form.errors_summary")
    if not errors:
        try:
            user = users_service.create_user(
                session=session, email=email, password=password, role=Role.REPORTER, name=name
            )
        except Conflict:
            errors["email"] = t("signup.email_taken")
        else:
            reporters_service.add_reporter(
                session=session,
                name=name,
                email=user.email,
                accounts=[],
                user_id=user.id,
                actor_id=user.id,
                actor_role=str(Role.REPORTER),
            )
            return RedirectResponse("/login?registered=1", status_code=303)
    return render(
        request,
        "signup.html",
        status_code=409 if errors.get("email") == t("signup.email_taken") else 422,
        values={"name": name, "email": email},
        errors=errors,
        min_password=MIN_PASSWORD_LENGTH,
    )


@router.post("/logout")
def logout(request: Request, viewer: PageViewerDep, form: CheckedForm, session: SessionDep) -> Response:
    """End the browser session."""
    if viewer is not None and viewer.web_session is not None:
        auth.end_session(session=session, web_session=viewer.web_session)
    response = RedirectResponse("/login?logged_out=1", status_code=303)
    response.delete_cookie(auth.SESSION_COOKIE, path="/")
    return response


# --- static files -----------------------------------------------------------------------------------


@router.get("/static/{name:path}")
def static_file(request: Request, name: str, v: str = "") -> Response:
    """A file of app/web/static, cached for a year when asked for by its current version."""
    asset = ASSETS.get(name)
    if asset is None:
        raise NotFound("file", name[:200])
    etag = f'"{asset.digest}"'
    cache = "public, max-age=31536000, immutable" if v == asset.digest else "public, max-age=300"
    headers = {"ETag": etag, "Cache-Control": cache}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(asset.body, media_type=asset.media_type, headers=headers)
