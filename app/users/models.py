"""Users, roles, API tokens, browser sessions and login attempts (DESIGN §8 Auth)."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from app.core.fields import utc_field


class Role(enum.StrEnum):
    REPORTER = "reporter"
    STAFF = "staff"
    JUDGE = "judge"
    ADMIN = "admin"


class User(SQLModel, table=True):
    __tablename__ = "users"

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=320, unique=True, index=True)  # stored lower-case
    name: str = Field(default="", max_length=200)
    password_hash: str = Field(max_length=200)
    role: str = Field(default=Role.REPORTER, max_length=16, index=True)
    is_active: bool = True
    created_at: datetime = utc_field(now=True)
    last_login_at: datetime | None = utc_field()


class ApiToken(SQLModel, table=True):
    """A bearer token for API clients; only its SHA-256 is stored."""

    __tablename__ = "api_tokens"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True, ondelete="CASCADE")
    name: str = Field(default="", max_length=100)
    token_hash: str = Field(max_length=64, unique=True)
    prefix: str = Field(max_length=12)
    created_at: datetime = utc_field(now=True)
    last_used_at: datetime | None = utc_field()
    expires_at: datetime | None = utc_field()
    revoked_at: datetime | None = utc_field()


class WebSession(SQLModel, table=True):
    """A browser session: the cookie holds the random id, the row holds its hash and CSRF token."""

    __tablename__ = "web_sessions"

    id: int | None = Field(default=None, primary_key=True)
    session_hash: str = Field(max_length=64, unique=True)
    user_id: int = Field(foreign_key="users.id", index=True, ondelete="CASCADE")
    csrf_token: str = Field(max_length=64)
    created_at: datetime = utc_field(now=True)
    expires_at: datetime = utc_field(nullable=False)
    revoked_at: datetime | None = utc_field()


class LoginAttempt(SQLModel, table=True):
    """One login attempt, for throttling per account and per address."""

    __tablename__ = "login_attempts"
    __table_args__ = (
        Index("ix_login_attempts_email_at", "email", "at"),
        Index("ix_login_attempts_address_at", "address", "at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=320)
    address: str = Field(max_length=64)
    at: datetime = utc_field(now=True)
    success: bool = False
