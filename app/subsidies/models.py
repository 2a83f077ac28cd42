"""Fee subsidies and their transitions (DESIGN §6)."""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from app.core.fields import money_field, utc_field


class SubsidyState(enum.StrEnum):
    PROPOSED = "proposed"
    APPROVED = "approved"
    PAID = "paid"
    REJECTED = "rejected"


class Subsidy(SQLModel, table=True):
    __tablename__ = "subsidies"
    __table_args__ = (UniqueConstraint("event_id", "reporter_id", name="uq_subsidy"),)

    id: int | None = Field(default=None, primary_key=True)
    event_id: int = Field(foreign_key="events.id", index=True, ondelete="CASCADE")
    reporter_id: int = Field(foreign_key="reporters.id", index=True, ondelete="CASCADE")
    state: str = Field(default=SubsidyState.PROPOSED, max_length=16, index=True)
    amount: Decimal = money_field(nullable=False)
    currency: str = Field(max_length=3)
    proposed_at: datetime = utc_field(now=True)
    decided_by: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    decided_at: datetime | None = utc_field()
    reason: str | None = Field(default=None, max_length=2000)
    paid_at: datetime | None = utc_field()


class SubsidyTransition(SQLModel, table=True):
    __tablename__ = "subsidy_transitions"

    id: int | None = Field(default=None, primary_key=True)
    subsidy_id: int = Field(foreign_key="subsidies.id", index=True, ondelete="CASCADE")
    from_state: str | None = Field(default=None, max_length=16)
    to_state: str = Field(max_length=16)
    amount: Decimal = money_field(nullable=False)
    actor_id: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    at: datetime = utc_field(now=True)
    reason: str | None = Field(default=None, max_length=2000)
