"""Reporters and their linked, verifiable accounts (DESIGN §4)."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from app.core.fields import utc_field


class VerificationState(enum.StrEnum):
    PENDING = "pending"
    VERIFIED = "verified"
    REJECTED = "rejected"


class Reporter(SQLModel, table=True):
    __tablename__ = "reporters"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int | None = Field(default=None, foreign_key="users.id", unique=True, ondelete="SET NULL")
    name: str = Field(max_length=200)
    email: str | None = Field(default=None, max_length=320, index=True)
    public_listing: bool = True  # False: anonymous listing (rank and score shown, name hidden)
    bio: str = Field(default="", max_length=2000)
    created_at: datetime = utc_field(now=True)
    deleted_at: datetime | None = utc_field()


class Account(SQLModel, table=True):
    """A reporter's account on a platform; counts only once verified."""

    __tablename__ = "accounts"
    __table_args__ = (UniqueConstraint("account_key", name="uq_accounts_account_key"),)

    id: int | None = Field(default=None, primary_key=True)
    reporter_id: int = Field(foreign_key="reporters.id", index=True, ondelete="CASCADE")
    platform: str = Field(max_length=16)
    account_key: str = Field(max_length=500)  # mastodon:user@server, bluesky:did:plc:…, blog:URL, x:name
    handle: str = Field(max_length=500)  # as the reporter typed it
    did: str | None = Field(default=None, max_length=200, index=True)  # Bluesky DID
    state: str = Field(default=VerificationState.PENDING, max_length=16)
    verification_code: str | None = Field(default=None, max_length=64)
    code_expires_at: datetime | None = utc_field()
    verified_at: datetime | None = utc_field()
    verified_by: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    verified_method: str | None = Field(default=None, max_length=16)  # post | profile | staff
    created_at: datetime = utc_field(now=True)
