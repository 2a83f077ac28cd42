"""The append-only audit log (a database trigger refuses UPDATE and DELETE)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from app.core.fields import json_field, utc_field


class AuditEntry(SQLModel, table=True):
    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_target", "target_type", "target_id"),)

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = utc_field(now=True, index=True)
    actor_id: int | None = Field(default=None, index=True)  # no FK: entries outlive users
    actor_role: str | None = Field(default=None, max_length=16)
    action: str = Field(max_length=64, index=True)
    target_type: str | None = Field(default=None, max_length=32)
    target_id: str | None = Field(default=None, max_length=64)
    detail: dict[str, Any] = json_field(list_=False)
    address: str | None = Field(default=None, max_length=64)
