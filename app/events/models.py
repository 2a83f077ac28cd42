"""Events and registrations (DESIGN §5 terms, §8)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from app.core.fields import money_field, utc_field


class Event(SQLModel, table=True):
    __tablename__ = "events"

    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=64, unique=True, index=True)
    name: str = Field(max_length=300)
    description: str = Field(default="", max_length=10_000)
    location: str = Field(default="", max_length=300)
    url: str | None = Field(default=None, max_length=1000)
    start_date: date
    end_date: date
    timezone: str = Field(max_length=64)
    event_tag: str | None = Field(default=None, max_length=100)
    require_tag: bool = False
    # The coverage window (start − 2 days … end + 14 days in the event's zone) as UTC instants,
    # derived from the dates and the rule set at every write; used to select candidate posts.
    window_start_at: datetime = utc_field(nullable=False, index=True)
    window_end_at: datetime = utc_field(nullable=False, index=True)
    first_instant_at: datetime = utc_field(nullable=False)  # start_date 00:00 in the zone, as UTC
    fee: Decimal | None = money_field()
    currency: str | None = Field(default=None, max_length=3)
    subsidy_share_percent: int = 50
    subsidy_cap: Decimal | None = money_field()
    budget: Decimal | None = money_field()
    rules_version: str = Field(default="2026.1", max_length=32)
    min_posts: int | None = None  # eligibility overrides; None = the rule set's default
    min_event_days: int | None = None
    min_articles: int | None = None
    registration_deadline: datetime | None = utc_field()
    judging_deadline: datetime | None = utc_field()
    published: bool = True
    lock_version: int = 0  # bumped to take the event's row lock (subsidy budget)
    created_at: datetime = utc_field(now=True)
    created_by: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")


class Registration(SQLModel, table=True):
    __tablename__ = "registrations"
    __table_args__ = (UniqueConstraint("event_id", "reporter_id", name="uq_registration"),)

    id: int | None = Field(default=None, primary_key=True)
    event_id: int = Field(foreign_key="events.id", index=True, ondelete="CASCADE")
    reporter_id: int = Field(foreign_key="reporters.id", index=True, ondelete="CASCADE")
    registered_at: datetime = utc_field(now=True)
    channel: str = Field(default="self", max_length=16)  # self | staff | import
    recorded_by: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    withdrawn_at: datetime | None = utc_field()
