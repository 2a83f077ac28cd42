"""Sign-up, login/logout, CSRF, the caller's own profile and tokens; user administration."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlmodel import Session

from app.core.api import IdPath, ListResponse, Page, SafeStr, Unauthenticated
from app.core.deps import (
    Auth,
    ClientAddress,
    CurrentAdmin,
    CurrentUser,
    SessionDep,
    SettingsDep,
    actor,
)
from app.core.errors import NotFound
from app.core.settings import Settings
from app.reporters import service as reporters_service
from app.users import auth
from app.users import service as users_service
from app.users.models import ApiToken, Role, User

router = APIRouter(tags=["auth"])
admin_router = APIRouter(prefix="/users", tags=["users"])

Email = Annotated[SafeStr, Field(min_length=3, max_length=320, examples=["ana@example.org"])]
Password = Annotated[SafeStr, Field(min_length=1, max_length=1024)]
Name = Annotated[SafeStr, Field(min_length=1, max_length=200)]


class UserPublic(BaseModel):
    id: int
    email: str
    name: str
    role: Role
    is_active: bool
    created_at: datetime
    last_login_at: datetime | None
    reporter_id: int | None = None


class SignupRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: Email
    password: Password
    name: Name


class LoginRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")  # a form may carry csrf_token or a submit button

    email: Email
    password: Password


class LoginResponse(BaseModel):
    user: UserPublic
    csrf_token: str


class CsrfResponse(BaseModel):
    csrf_token: str


class TokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[SafeStr, Field(max_length=100)] = ""
    expires_in_days: Annotated[int | None, Field(ge=1, le=3650)] = None


class TokenPublic(BaseModel):
    id: int
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None
    revoked_at: datetime | None


class TokenCreated(TokenPublic):
    token: str = Field(description="The bearer token. Shown only now: store it.")


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: Email
    password: Password
    name: Annotated[SafeStr, Field(max_length=200)] = ""
    role: Role


class UserUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Role | None = None
    is_active: bool | None = None


def user_public(session: Session, user: User) -> UserPublic:
    """The public view of a user, looking up their reporter id."""
    reporter_id = users_service.reporter_ids(session=session, user_ids=[user.id or 0]).get(user.id or 0)
    return to_public(user, reporter_id)


def to_public(user: User, reporter_id: int | None) -> UserPublic:
    return UserPublic(
        id=user.id or 0,
        email=user.email,
        name=user.name,
        role=Role(user.role),
        is_active=user.is_active,
        created_at=user.created_at,
        last_login_at=user.last_login_at,
        reporter_id=reporter_id,
    )


def token_public(token: ApiToken) -> TokenPublic:
    return TokenPublic.model_validate(token, from_attributes=True)


def _set_session_cookie(response: Response, cookie: str, settings: Settings) -> None:
    response.set_cookie(
        auth.SESSION_COOKIE,
        cookie,
        max_age=int(auth.SESSION_TTL.total_seconds()),
        path="/",
        secure=settings.session_cookie_secure,
        httponly=True,
        samesite="lax",
    )


async def login_credentials(request: Request) -> LoginRequest:
    """Email and password from a JSON body.

    Forms are refused: another site can post a form (not JSON) cross-site, which would sign a visitor's
    browser into the attacker's account (login CSRF). People sign in through the ``/login`` page, whose
    form carries its own anti-forgery token.
    """
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type in ("application/x-www-form-urlencoded", "multipart/form-data", "text/plain"):
        raise HTTPException(
            status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
            "send the credentials as JSON; in a browser, sign in at /login",
        )
    try:
        data: Any = await request.json()
    except ValueError:
        raise RequestValidationError(
            [{"loc": ("body",), "msg": "send JSON with email and password", "type": "body"}]
        ) from None
    try:
        return LoginRequest.model_validate(data)
    except ValidationError as exc:
        errors = [{**error, "loc": ("body", *error["loc"])} for error in exc.errors()]
        raise RequestValidationError(errors) from None


_LOGIN_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": LoginRequest.model_json_schema()}},
    }
}


# --- auth ---------------------------------------------------------------------------------------


@router.post("/auth/signup", status_code=status.HTTP_201_CREATED, response_model=UserPublic)
def signup(body: SignupRequest, session: SessionDep) -> UserPublic:
    """Sign up as a reporter (creates the user and the reporter profile)."""
    user = users_service.create_user(
        session=session, email=body.email, password=body.password, role=Role.REPORTER, name=body.name
    )
    reporter = reporters_service.add_reporter(
        session=session,
        name=body.name,
        email=user.email,
        accounts=[],
        user_id=user.id,
        actor_id=user.id,
        actor_role=str(Role.REPORTER),
    )
    return to_public(user, reporter.id)


@router.post("/auth/login", response_model=LoginResponse, openapi_extra=_LOGIN_BODY)
def login(
    request: Request,
    response: Response,
    credentials: Annotated[LoginRequest, Depends(login_credentials)],
    session: SessionDep,
    settings: SettingsDep,
    address: ClientAddress,
) -> LoginResponse:
    """Sign in with email and password (JSON); sets the ``bie_session`` cookie."""
    user = auth.attempt_login(
        session=session,
        email=credentials.email,
        password=credentials.password,
        address=address,
        settings=settings,
    )
    if user is None:
        # The one commit outside the request boundary: a failed attempt must count although the
        # request fails (the boundary rolls back on error).
        session.commit()
        raise Unauthenticated("wrong email or password")
    cookie, web_session = auth.start_session(
        session=session, user=user, previous_cookie=request.cookies.get(auth.SESSION_COOKIE)
    )
    _set_session_cookie(response, cookie, settings)
    return LoginResponse(user=user_public(session, user), csrf_token=web_session.csrf_token)


@router.post("/auth/logout", status_code=status.HTTP_204_NO_CONTENT)
def logout(context: Auth, user: CurrentUser, session: SessionDep, settings: SettingsDep) -> Response:
    """End the browser session (a bearer-token caller has none: nothing happens)."""
    if context is not None and context.web_session is not None:
        auth.end_session(session=session, web_session=context.web_session)
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    response.delete_cookie(
        auth.SESSION_COOKIE,
        path="/",
        secure=settings.session_cookie_secure,
        httponly=True,
        samesite="lax",
    )
    return response


@router.get("/auth/csrf", response_model=CsrfResponse)
def csrf(context: Auth) -> CsrfResponse:
    """The CSRF token of the current browser session."""
    if context is None or context.web_session is None:
        raise Unauthenticated("no browser session: log in first")
    return CsrfResponse(csrf_token=context.web_session.csrf_token)


# --- me -----------------------------------------------------------------------------------------


@router.get("/me", response_model=UserPublic, tags=["me"])
def me(user: CurrentUser, session: SessionDep) -> UserPublic:
    """The signed-in user, their role, and their reporter id if they have a reporter profile."""
    return user_public(session, user)


@router.post("/me/tokens", status_code=status.HTTP_201_CREATED, response_model=TokenCreated, tags=["me"])
def create_token(body: TokenCreate, user: CurrentUser, session: SessionDep) -> TokenCreated:
    """Create a bearer API token; its value is shown only in this response."""
    expires_at = datetime.now(UTC) + timedelta(days=body.expires_in_days) if body.expires_in_days else None
    raw, token = auth.create_token(session=session, user=user, name=body.name, expires_at=expires_at)
    return TokenCreated(**token_public(token).model_dump(), token=raw)


@router.get("/me/tokens", response_model=ListResponse[TokenPublic], tags=["me"])
def list_tokens(user: CurrentUser, session: SessionDep, page: Page) -> ListResponse[TokenPublic]:
    """The caller's tokens (never their values), newest first."""
    rows, total = auth.list_tokens(session=session, user=user, offset=page.offset, limit=page.limit)
    return ListResponse(data=[token_public(t) for t in rows], count=total)


@router.delete("/me/tokens/{token_id}", status_code=status.HTTP_204_NO_CONTENT, tags=["me"])
def revoke_token(token_id: IdPath, user: CurrentUser, session: SessionDep) -> Response:
    """Revoke one of the caller's tokens; it stops working at once."""
    auth.revoke_token(session=session, user=user, token_id=token_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# --- administration -----------------------------------------------------------------------------


@admin_router.post("", status_code=status.HTTP_201_CREATED, response_model=UserPublic)
def create_user(body: UserCreate, admin: CurrentAdmin, session: SessionDep) -> UserPublic:
    """Create a user of any role (a reporter also gets a reporter profile)."""
    user = users_service.create_user(
        session=session,
        email=body.email,
        password=body.password,
        role=body.role,
        name=body.name,
        **actor(admin),
    )
    reporter_id = None
    if body.role is Role.REPORTER:
        reporter = reporters_service.add_reporter(
            session=session,
            name=body.name or user.email.split("@")[0],
            email=user.email,
            accounts=[],
            user_id=user.id,
            **actor(admin),
        )
        reporter_id = reporter.id
    return to_public(user, reporter_id)


@admin_router.get("", response_model=ListResponse[UserPublic])
def list_users(admin: CurrentAdmin, session: SessionDep, page: Page) -> ListResponse[UserPublic]:
    """All users by id."""
    rows, total = users_service.list_users(session=session, offset=page.offset, limit=page.limit)
    reporters = users_service.reporter_ids(session=session, user_ids=[u.id for u in rows if u.id])
    return ListResponse(data=[to_public(u, reporters.get(u.id or 0)) for u in rows], count=total)


@admin_router.patch("/{user_id}", response_model=UserPublic)
def update_user(user_id: IdPath, body: UserUpdate, admin: CurrentAdmin, session: SessionDep) -> UserPublic:
    """Change a user's role or deactivate/reactivate them."""
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("user", user_id)
    users_service.update_user(
        session=session, user=user, role=body.role, is_active=body.is_active, **actor(admin)
    )
    return user_public(session, user)
