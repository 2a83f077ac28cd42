"""Request dependencies, as ``Annotated`` aliases for route signatures.

SessionDep       the request's database session: committed when the handler succeeds (before the
                 response is sent), rolled back on any error. Services only flush.
SettingsDep      the app's Settings (``app.state.settings``).
ClientAddress    the caller's address (as uvicorn reports it; behind a proxy run it with
                 ``--proxy-headers`` and ``--forwarded-allow-ips``).
Auth             the AuthContext (user + how they proved it) or None; raises 401 for a bad bearer token.
OptionalUser     the user or None.
CurrentUser      a signed-in user (401 otherwise).
CurrentReporter  the signed-in user's Reporter row (403 when they have none).
CurrentStaff     staff or admin (403 otherwise).
CurrentJudge     judge, staff or admin: staff run judging (shortlists, publication) and may read what
                 judges read. A route that records one judge's own judgement should use
                 ``Annotated[User, Depends(require_roles(Role.JUDGE))]`` instead.
CurrentAdmin     admin only.

CSRF: a state-changing request (POST, PUT, PATCH, DELETE) authenticated by the session cookie must
carry that session's token in ``X-CSRF-Token`` or in the form field ``csrf_token`` (403 otherwise).
Bearer-token requests need none: browsers never attach them by themselves.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable, Coroutine, Iterator
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import event
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, select

from app.audit.models import AuditEntry
from app.core.api import CsrfRejected, Unauthenticated
from app.core.errors import Forbidden
from app.core.settings import Settings
from app.reporters.models import Reporter
from app.users import auth
from app.users.auth import AuthContext
from app.users.models import Role, User

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
CSRF_HEADER = "X-CSRF-Token"
CSRF_FORM_FIELD = "csrf_token"
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]


def client_address(request: Request) -> str:
    return (request.client.host if request.client else "unknown")[:64]


ClientAddress = Annotated[str, Depends(client_address)]


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class RoleRefused(Forbidden):
    """A signed-in user called a route their role does not admit: answered 403 and audited."""

    def __init__(self, detail: str, *, user: User, method: str, route: str) -> None:
        super().__init__(detail)
        self.user_id = user.id
        self.role = str(user.role)
        self.method = method
        self.route = route


def _audit_refusal(session: Session, refusal: RoleRefused) -> None:
    """Record a refused privilege escalation after the request's own work was rolled back."""
    from app.audit import service as audit  # the audit service imports nothing from here

    try:
        audit.record(
            session=session,
            action="access.denied",
            actor_id=refusal.user_id,
            actor_role=refusal.role,
            target_type="route",
            target_id=f"{refusal.method} {refusal.route}"[:200],
            detail={"reason": refusal.detail},
        )
        session.commit()
    except Exception:  # noqa: BLE001  (auditing a refusal must never turn the 403 into a 500)
        session.rollback()
        logging.getLogger(__name__).exception("could not audit a refused request")


def get_session(request: Request) -> Iterator[Session]:
    """One session per request: commit on success, roll back on error (the boundary)."""
    session: Session = request.app.state.session_factory(write=request.method not in SAFE_METHODS)
    address = client_address(request)

    def stamp_audit_address(db: Session, _context: Any, _instances: Any) -> None:
        # Every audit entry written while serving a request records the caller's address.
        for obj in db.new:
            if isinstance(obj, AuditEntry) and obj.address is None:
                obj.address = address

    event.listen(session, "before_flush", stamp_audit_address)
    try:
        yield session
        session.commit()
    except RoleRefused as refusal:
        session.rollback()
        _audit_refusal(session, refusal)
        raise
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


# scope="function": the commit happens before the response is sent, so a failed commit is an error
# response and a client that got 2xx can read its own write on the next request.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def get_auth(request: Request, session: SessionDep) -> AuthContext | None:
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, credentials = header.strip().partition(" ")
        if scheme.lower() != "bearer" or not credentials.strip():
            raise Unauthenticated("the Authorization header must be 'Bearer <token>'")
        read_only = request.method in SAFE_METHODS
        context = auth.resolve_token(session=session, raw=credentials.strip(), touch=not read_only)
        if context is None:
            raise Unauthenticated("the bearer token is unknown, expired or revoked")
        if read_only and context.api_token is not None and auth.token_due_for_touch(context.api_token):
            _touch_token_apart(request, context.api_token.id)
        return context
    cookie = request.cookies.get(auth.SESSION_COOKIE)
    if cookie:
        return auth.resolve_session(session=session, cookie=cookie)
    return None


def _touch_token_apart(request: Request, token_id: int | None) -> None:
    """Record a token's use in a short write transaction of its own (see ``auth.resolve_token``)."""
    if token_id is None:
        return
    apart: Session = request.app.state.session_factory(write=True)
    try:
        auth.touch_token(session=apart, token_id=token_id)
        apart.commit()
    except OperationalError:  # "last used" is informational: never fail a read for it
        apart.rollback()
        logging.getLogger(__name__).warning("could not record the use of token %s", token_id)
    finally:
        apart.close()


Auth = Annotated[AuthContext | None, Depends(get_auth)]


async def _presented_csrf_token(request: Request) -> str | None:
    token = request.headers.get(CSRF_HEADER)
    if token:
        return token
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type in FORM_TYPES:
        form = await request.form()
        value = form.get(CSRF_FORM_FIELD)
        return value if isinstance(value, str) else None
    return None


async def get_optional_user(request: Request, context: Auth) -> User | None:
    if context is None:
        return None
    if context.via == "session" and request.method not in SAFE_METHODS:
        assert context.web_session is not None
        presented = await _presented_csrf_token(request)
        expected = context.web_session.csrf_token
        if presented is None or not hmac.compare_digest(presented.encode(), expected.encode()):
            raise CsrfRejected(
                f"send the session's CSRF token in the {CSRF_HEADER} header or the "
                f"{CSRF_FORM_FIELD} form field (GET /api/v1/auth/csrf)"
            )
    return context.user


OptionalUser = Annotated[User | None, Depends(get_optional_user)]


def get_current_user(user: OptionalUser) -> User:
    if user is None:
        raise Unauthenticated("sign in (session cookie) or send 'Authorization: Bearer <token>'")
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]


def require_roles(*roles: Role) -> Callable[[Request, User], Coroutine[Any, Any, User]]:
    """A dependency admitting only users whose role is one of ``roles``."""
    allowed = frozenset(str(role) for role in roles)
    names = " or ".join(str(role) for role in roles)

    async def dependency(request: Request, user: CurrentUser) -> User:
        if user.role not in allowed:
            route = getattr(request.scope.get("route"), "path", None) or request.url.path
            raise RoleRefused(
                f"this needs the {names} role", user=user, method=request.method, route=str(route)
            )
        return user

    return dependency


CurrentStaff = Annotated[User, Depends(require_roles(Role.STAFF, Role.ADMIN))]
CurrentJudge = Annotated[User, Depends(require_roles(Role.JUDGE, Role.STAFF, Role.ADMIN))]
CurrentAdmin = Annotated[User, Depends(require_roles(Role.ADMIN))]


def get_current_reporter(user: CurrentUser, session: SessionDep) -> Reporter:
    reporter = session.exec(select(Reporter).where(Reporter.user_id == user.id)).first()
    if reporter is None or reporter.deleted_at is not None:
        raise Forbidden("this account has no reporter profile")
    return reporter


CurrentReporter = Annotated[Reporter, Depends(get_current_reporter)]


def is_staff(user: User | None) -> bool:
    return user is not None and user.role in (Role.STAFF, Role.ADMIN)


def actor(user: User) -> dict[str, Any]:
    """Audit fields for a service call made on behalf of ``user`` (the address is stamped itself)."""
    return {"actor_id": user.id, "actor_role": str(user.role)}
