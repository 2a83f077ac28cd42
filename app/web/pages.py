"""What every web page shares: who is looking, login redirects, CSRF for forms, rendering, error pages.

A page router is ``APIRouter(route_class=PageRoute, include_in_schema=False)``; its handlers take

``PageViewerDep``     the AuthContext of the browser session, or None (no bearer tokens on pages)
``PageOptionalUser``  the signed-in User or None
``PageUser``          a signed-in User; anybody else is sent to ``/login?next=<this page>``
``PageStaff`` / ``PageJudge`` / ``PageAdmin`` / ``require_page_roles(...)``  a 403 page for other roles
``CheckedForm``       the submitted form fields (``dict[str, str]``) once its ``csrf_token`` is right

and answer with ``render(request, "template.html", **context)``. ``PageRoute`` turns what a handler
raises into pages: ``LoginRequired`` → 303 to the login page, a ``DomainError`` → an HTML error page
with its status (404 for what the viewer may not see), invalid query parameters → 422 page.

CSRF: a signed-in viewer's forms carry the session's token (the same one the API accepts in the
``csrf_token`` field). Anonymous forms (log in, sign up) use a double-submit token: a random
``bie_form`` cookie and, in the form, its HMAC under the secret key — so a cross-site page can neither
read nor forge it, and a login form cannot be submitted from elsewhere (no login CSRF).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Coroutine
from typing import Annotated, Any
from urllib.parse import quote, urlsplit

from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from sqlalchemy.exc import IntegrityError
from starlette.exceptions import HTTPException
from starlette.responses import Response

from app.core.api import CsrfRejected
from app.core.deps import CSRF_FORM_FIELD, FORM_TYPES, SessionDep
from app.core.errors import DomainError, Forbidden, TooManyRequests
from app.core.security import new_token
from app.core.settings import Settings
from app.users import auth
from app.users.auth import AuthContext
from app.users.models import Role, User
from app.web.i18n import t
from app.web.templating import NAV_ITEMS, Viewer, render_template

FORM_COOKIE = "bie_form"
LOGIN_PATH = "/login"
MAX_NEXT_LENGTH = 2000


class LoginRequired(Exception):  # noqa: N818  (a control-flow signal, not an error)
    """The page needs a signed-in viewer: PageRoute redirects to the login page."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


# --- redirects ------------------------------------------------------------------------------------


def safe_next(value: str | None, default: str = "/") -> str:
    """``value`` if it is a path on this site, else ``default`` (never an open redirect).

    Refused: anything not starting with one ``/`` (``//evil``, ``/\\evil`` and schemes), backslashes,
    control characters and spaces (browsers drop tabs and newlines, turning ``/\\t/evil`` into
    ``//evil``), and over-long values.
    """
    if not value or len(value) > MAX_NEXT_LENGTH or not value.startswith("/"):
        return default
    if value.startswith("//") or "\\" in value:
        return default
    if any(ord(ch) <= 0x20 or ord(ch) == 0x7F for ch in value):
        return default
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return default
    return value


def login_url(next_path: str | None = None) -> str:
    target = safe_next(next_path, default="")
    return LOGIN_PATH + (f"?next={quote(target, safe='/')}" if target and target != "/" else "")


def current_path(request: Request) -> str:
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


# --- the viewer -----------------------------------------------------------------------------------


def viewer_of(context: AuthContext | None) -> Viewer | None:
    if context is None or context.web_session is None:
        return None
    user = context.user
    return Viewer(
        id=user.id or 0,
        name=user.name,
        email=user.email,
        role=str(user.role),
        csrf_token=context.web_session.csrf_token,
    )


def page_viewer(request: Request, session: SessionDep) -> AuthContext | None:
    """The browser session behind the cookie (bearer tokens are for API clients, not pages)."""
    cookie = request.cookies.get(auth.SESSION_COOKIE)
    context = auth.resolve_session(session=session, cookie=cookie[:200]) if cookie else None
    request.state.viewer = viewer_of(context)
    return context


PageViewerDep = Annotated[AuthContext | None, Depends(page_viewer)]


def optional_page_user(context: PageViewerDep) -> User | None:
    return context.user if context is not None else None


PageOptionalUser = Annotated[User | None, Depends(optional_page_user)]


def require_page_user(request: Request, context: PageViewerDep) -> User:
    if context is None:
        raise LoginRequired(current_path(request))
    return context.user


PageUser = Annotated[User, Depends(require_page_user)]


def require_page_roles(*roles: Role) -> Callable[[User], Coroutine[Any, Any, User]]:
    """A page dependency admitting only signed-in users with one of ``roles`` (403 page otherwise)."""
    allowed = frozenset(str(role) for role in roles)

    async def dependency(user: PageUser) -> User:
        if user.role not in allowed:
            raise Forbidden(f"this page needs the {' or '.join(sorted(allowed))} role")
        return user

    return dependency


PageStaff = Annotated[User, Depends(require_page_roles(Role.STAFF, Role.ADMIN))]
PageJudge = Annotated[User, Depends(require_page_roles(Role.JUDGE, Role.STAFF, Role.ADMIN))]
PageAdmin = Annotated[User, Depends(require_page_roles(Role.ADMIN))]


# --- CSRF -----------------------------------------------------------------------------------------


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def anonymous_form_token(settings: Settings, cookie_value: str) -> str:
    key = settings.secret_key.get_secret_value().encode()
    return hmac.new(key, b"form:" + cookie_value.encode(), hashlib.sha256).hexdigest()


def _form_cookie(request: Request) -> str | None:
    value = request.cookies.get(FORM_COOKIE)
    return value if value and 20 <= len(value) <= 100 and value.isascii() else None


def csrf_token_for(request: Request) -> tuple[str, str | None]:
    """The token this page's forms carry, and a new ``bie_form`` cookie value to set (or None)."""
    viewer: Viewer | None = getattr(request.state, "viewer", None)
    if viewer is not None:
        return viewer.csrf_token, None
    cookie = _form_cookie(request)
    fresh = None
    if cookie is None:
        cookie = fresh = new_token(24)
    return anonymous_form_token(_settings(request), cookie), fresh


async def checked_form(request: Request, context: PageViewerDep) -> dict[str, str]:
    """The submitted form's text fields, once its CSRF token matches the session or the form cookie."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in FORM_TYPES:
        raise CsrfRejected(t("form.csrf_expired"))
    form = await request.form()
    fields = {key: value for key, value in form.items() if isinstance(value, str)}
    presented = fields.pop(CSRF_FORM_FIELD, "")
    if context is not None and context.web_session is not None:
        expected = context.web_session.csrf_token
    else:
        cookie = _form_cookie(request)
        expected = anonymous_form_token(_settings(request), cookie) if cookie else ""
    if not expected or not hmac.compare_digest(presented.encode(), expected.encode()):
        raise CsrfRejected(t("form.csrf_expired"))
    return fields


CheckedForm = Annotated[dict[str, str], Depends(checked_form)]


# --- rendering ------------------------------------------------------------------------------------


def set_cookie(response: Response, request: Request, name: str, value: str, max_age: int | None) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        secure=_settings(request).session_cookie_secure,
        httponly=True,
        samesite="lax",
    )


def render(
    request: Request,
    template: str,
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:
    """Render a page with the shared context (viewer, nav, csrf_token, request)."""
    viewer: Viewer | None = getattr(request.state, "viewer", None)
    csrf_token, fresh_cookie = csrf_token_for(request)
    body = render_template(
        template,
        {
            "request": request,
            "viewer": viewer,
            "nav": [item for item in NAV_ITEMS if item.visible_to(viewer)],
            "current_path": request.url.path,
            "csrf_token": csrf_token,
            **context,
        },
    )
    response = HTMLResponse(body, status_code=status_code, headers=headers)
    response.headers.setdefault("Cache-Control", "no-store" if viewer or fresh_cookie else "no-cache")
    if fresh_cookie is not None:
        set_cookie(response, request, FORM_COOKIE, fresh_cookie, max_age=None)
    return response


def error_page(
    request: Request, status: int, detail: str, headers: dict[str, str] | None = None
) -> HTMLResponse:
    title_key = f"error.{status}"
    return render(
        request,
        "error.html",
        status_code=status,
        headers=headers,
        status=status,
        title=t(title_key if title_key in _ERROR_TITLES else "error.generic"),
        detail=detail,
    )


_ERROR_TITLES = frozenset({"error.403", "error.404", "error.409", "error.422", "error.429"})


class PageRoute(APIRoute):
    """A route whose failures are pages: login redirects, HTML error pages instead of problem+json."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def page_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except LoginRequired as exc:
                return RedirectResponse(login_url(exc.next_path), status_code=303)
            except DomainError as exc:
                headers = {}
                if isinstance(exc, TooManyRequests):
                    headers["Retry-After"] = str(max(1, exc.retry_after_s))
                return error_page(request, exc.status, exc.detail, headers)
            except RequestValidationError as exc:
                fields = ", ".join(str(e.get("loc", ("?",))[-1]) for e in exc.errors()) or "request"
                return error_page(request, 422, f"invalid value for: {fields}")
            except IntegrityError:
                return error_page(request, 409, "this conflicts with data that already exists; try again")
            except HTTPException as exc:
                detail = exc.detail if isinstance(exc.detail, str) else t("error.generic")
                return error_page(request, exc.status_code, detail, dict(exc.headers or {}))

        return page_handler
