"""Authentication: password login with throttling, browser sessions, bearer API tokens.

Browser sessions: the cookie ``bie_session`` holds a random id; the database keeps only its SHA-256
(``WebSession.session_hash``), the session's CSRF token and its expiry. Every login makes a new id
and revokes the one the browser came with, so a planted id is never promoted (no fixation).

API tokens: ``bie_<random>``; shown once, stored as SHA-256, revocable, optionally expiring.

Login throttling, from ``LoginAttempt`` rows: an account is locked after ``login_max_attempts``
failures within ``login_window_s`` (failures before its last success do not count); an address after
``ADDRESS_ATTEMPTS_FACTOR`` times as many failures in the window, over all emails, known or not — a
whole conference venue shares one address, so it gets a larger allowance than one account.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, cast

from sqlalchemy import CursorResult, Engine, Update, func, or_, update
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, col, select

from app.audit import service as audit
from app.core.db import table, writing
from app.core.errors import NotFound, TooManyRequests
from app.core.security import hash_password, new_token, sha256_hex, verify_password
from app.core.settings import Settings
from app.users.models import ApiToken, LoginAttempt, User, WebSession

SESSION_COOKIE = "bie_session"
SESSION_TTL = timedelta(days=14)
TOKEN_PREFIX = "bie_"
TOKEN_LAST_USED_RESOLUTION = timedelta(minutes=1)  # do not write on every request
ADDRESS_ATTEMPTS_FACTOR = 4

_dummy_hash: str | None = None


@dataclass(frozen=True, slots=True)
class AuthContext:
    """Who is calling and how they proved it."""

    user: User
    via: Literal["session", "token"]
    web_session: WebSession | None = None
    api_token: ApiToken | None = None


def _now() -> datetime:
    return datetime.now(UTC)


def _dummy_password_hash() -> str:
    """A real Argon2 hash to verify against when the email is unknown (equal work, equal time)."""
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = hash_password(new_token(16))
    return _dummy_hash


# --- login and throttling -----------------------------------------------------------------------


def _retry_after(failures: list[datetime], allowed: int, window: timedelta, now: datetime) -> int | None:
    """Seconds until fewer than ``allowed`` failures remain in the window (None: not throttled)."""
    if len(failures) < allowed:
        return None
    # newest first: once the allowed-th newest failure leaves the window, one more try is allowed
    expires = failures[allowed - 1] + window
    return max(1, math.ceil((expires - now).total_seconds()))


def check_throttle(*, session: Session, email: str, address: str, settings: Settings) -> None:
    """Raise TooManyRequests while the account or the address has too many recent failures."""
    now = _now()
    window = timedelta(seconds=settings.login_window_s)
    since = now - window
    last_success = session.exec(
        select(func.max(LoginAttempt.at)).where(
            LoginAttempt.email == email, col(LoginAttempt.success).is_(True), LoginAttempt.at > since
        )
    ).one()
    account_since = max(since, last_success) if last_success is not None else since
    per_account = settings.login_max_attempts
    account_failures = session.exec(
        select(LoginAttempt.at)
        .where(
            LoginAttempt.email == email,
            col(LoginAttempt.success).is_(False),
            LoginAttempt.at > account_since,
        )
        .order_by(col(LoginAttempt.at).desc())
        .limit(per_account)
    ).all()
    wait = _retry_after(list(account_failures), per_account, window, now)
    if wait is not None:
        raise TooManyRequests(
            f"too many failed logins for this account; try again in {wait} seconds", retry_after_s=wait
        )
    per_address = settings.login_max_attempts * ADDRESS_ATTEMPTS_FACTOR
    address_failures = session.exec(
        select(LoginAttempt.at)
        .where(LoginAttempt.address == address, col(LoginAttempt.success).is_(False), LoginAttempt.at > since)
        .order_by(col(LoginAttempt.at).desc())
        .limit(per_address)
    ).all()
    wait = _retry_after(list(address_failures), per_address, window, now)
    if wait is not None:
        raise TooManyRequests(
            f"too many failed logins from this address; try again in {wait} seconds", retry_after_s=wait
        )


def attempt_login(
    *, session: Session, email: str, password: str, address: str, settings: Settings
) -> User | None:
    """Check a password (throttled); record the attempt; the user, or None when it failed.

    The caller must commit even when this returns None, so that the failure counts.
    """
    email = email.strip().lower()[:320]
    address = address[:64]
    check_throttle(session=session, email=email, address=address, settings=settings)
    user = session.exec(select(User).where(User.email == email)).first()
    if user is None:
        verify_password(_dummy_password_hash(), password)
        ok = False
    else:
        ok = verify_password(user.password_hash, password) and user.is_active
    session.add(LoginAttempt(email=email, address=address, success=ok))
    if ok and user is not None:
        user.last_login_at = _now()
        session.add(user)
    session.flush()
    return user if ok else None


# --- browser sessions ---------------------------------------------------------------------------


def start_session(*, session: Session, user: User, previous_cookie: str | None) -> tuple[str, WebSession]:
    """Open a new session (new random id, new CSRF token); revoke the one the browser brought."""
    if previous_cookie:
        previous = _session_row(session=session, cookie=previous_cookie)
        if previous is not None and previous.revoked_at is None:
            previous.revoked_at = _now()
            session.add(previous)
    cookie = new_token(32)
    web_session = WebSession(
        session_hash=sha256_hex(cookie),
        user_id=user.id,  # type: ignore[arg-type]  # stored users have ids
        csrf_token=new_token(24),
        expires_at=_now() + SESSION_TTL,
    )
    session.add(web_session)
    session.flush()
    return cookie, web_session


def end_session(*, session: Session, web_session: WebSession) -> None:
    web_session.revoked_at = _now()
    session.add(web_session)
    session.flush()


def _session_row(*, session: Session, cookie: str) -> WebSession | None:
    return session.exec(select(WebSession).where(WebSession.session_hash == sha256_hex(cookie))).first()


def resolve_session(*, session: Session, cookie: str) -> AuthContext | None:
    """The live session behind a cookie value, or None (unknown, expired, revoked, inactive user)."""
    web_session = _session_row(session=session, cookie=cookie)
    if web_session is None or web_session.revoked_at is not None or web_session.expires_at <= _now():
        return None
    user = session.get(User, web_session.user_id)
    if user is None or not user.is_active:
        return None
    return AuthContext(user=user, via="session", web_session=web_session)


# --- API tokens ---------------------------------------------------------------------------------


def create_token(
    *, session: Session, user: User, name: str, expires_at: datetime | None
) -> tuple[str, ApiToken]:
    """A new bearer token; the raw value is returned once and never stored."""
    raw = TOKEN_PREFIX + new_token(32)
    token = ApiToken(
        user_id=user.id,  # type: ignore[arg-type]  # stored users have ids
        name=name,
        token_hash=sha256_hex(raw),
        prefix=raw[:12],
        expires_at=expires_at,
    )
    session.add(token)
    session.flush()
    audit.record(
        session=session,
        action="token.create",
        actor_id=user.id,
        actor_role=user.role,
        target_type="api_token",
        target_id=token.id,
        detail={"name": name, "expires_at": expires_at.isoformat() if expires_at else None},
    )
    return raw, token


def resolve_token(*, session: Session, raw: str, touch: bool = True) -> AuthContext | None:
    """The user behind a bearer token, or None (unknown, expired, revoked, inactive user).

    ``touch`` records the use in ``session``; a read-only request passes False and records it with
    ``touch_token`` in a transaction of its own (on SQLite a read transaction that starts writing
    fails at once with "database is locked" when another writer committed meanwhile)."""
    if not raw.startswith(TOKEN_PREFIX) or len(raw) > 200:
        return None
    token = session.exec(select(ApiToken).where(ApiToken.token_hash == sha256_hex(raw))).first()
    now = _now()
    if token is None or token.revoked_at is not None:
        return None
    if token.expires_at is not None and token.expires_at <= now:
        return None
    user = session.get(User, token.user_id)
    if user is None or not user.is_active:
        return None
    if touch and token_due_for_touch(token, now):
        token.last_used_at = now
        session.add(token)
    return AuthContext(user=user, via="token", api_token=token)


def token_due_for_touch(token: ApiToken, now: datetime | None = None) -> bool:
    """Whether the token's last use is older than the resolution we record it at."""
    now = now or _now()
    return token.last_used_at is None or now - token.last_used_at > TOKEN_LAST_USED_RESOLUTION


def touch_token(*, session: Session, token_id: int) -> bool:
    """Record that a token was used now (at most once per ``TOKEN_LAST_USED_RESOLUTION``), without
    ever waiting for a lock: the stamp is informational, so a busy database skips it (False).

    Many concurrent requests with one token fall due at the same moment. On SQLite the write is tried
    once with no busy timeout in a short transaction of its own, on a connection of the session's
    engine (all but one of them give up at once instead of queueing behind the write lock for the
    busy timeout); on PostgreSQL a row another transaction is stamping is skipped (``SKIP LOCKED``).
    A session bound to a connection (tests) writes in that connection's transaction."""
    now = _now()
    tokens = table(ApiToken)
    due = (
        select(tokens.c.id)
        .where(
            tokens.c.id == token_id,
            or_(tokens.c.last_used_at.is_(None), tokens.c.last_used_at < now - TOKEN_LAST_USED_RESOLUTION),
        )
        .with_for_update(skip_locked=True)  # PostgreSQL; SQLite has no row locks and ignores it
    )
    stamp = update(tokens).where(tokens.c.id.in_(due.scalar_subquery())).values(last_used_at=now)
    bind = session.get_bind()
    if isinstance(bind, Engine) and bind.dialect.name == "sqlite":
        return _stamp_without_waiting(writing(bind), stamp)
    return cast(CursorResult[Any], session.execute(stamp)).rowcount > 0  # an UPDATE gives a CursorResult


def _stamp_without_waiting(engine: Engine, stamp: Update) -> bool:
    with engine.connect() as connection:
        raw = connection.connection.driver_connection  # before BEGIN: the timeout must apply to it
        assert raw is not None
        previous = int(raw.execute("PRAGMA busy_timeout").fetchone()[0])
        raw.execute("PRAGMA busy_timeout = 0")
        try:
            stamped = connection.execute(stamp).rowcount > 0
            connection.commit()
            return stamped
        except OperationalError:  # "database is locked": another writer is busy; skip the stamp
            connection.rollback()
            return False
        finally:
            raw.execute(f"PRAGMA busy_timeout = {previous}")


def list_tokens(*, session: Session, user: User, offset: int, limit: int) -> tuple[list[ApiToken], int]:
    """The user's tokens, newest first, revoked ones included (their ``revoked_at`` is set)."""
    where = ApiToken.user_id == user.id
    total = session.exec(select(func.count()).select_from(ApiToken).where(where)).one()
    rows = session.exec(
        select(ApiToken).where(where).order_by(col(ApiToken.id).desc()).offset(offset).limit(limit)
    ).all()
    return list(rows), int(total)


def revoke_token(*, session: Session, user: User, token_id: int) -> ApiToken:
    """Revoke one of the user's own tokens; another user's token is reported as not found."""
    token = session.get(ApiToken, token_id)
    if token is None or token.user_id != user.id:
        raise NotFound("token", token_id)
    if token.revoked_at is None:
        token.revoked_at = _now()
        session.add(token)
        session.flush()
        audit.record(
            session=session,
            action="token.revoke",
            actor_id=user.id,
            actor_role=user.role,
            target_type="api_token",
            target_id=token.id,
        )
    return token
