"""Event schemas: what staff send (create/update) and what everyone reads (public)."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}[a-z0-9]$")
TAG_RE = re.compile(r"^[^\s#]{1,100}$")


class EventBase(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=300)
    description: str = Field(default="", max_length=10_000)
    location: str = Field(default="", max_length=300)
    url: str | None = Field(default=None, max_length=1000)
    start: date
    end: date
    timezone: str = Field(max_length=64)
    tag: str | None = Field(default=None, max_length=100)
    require_tag: bool = False
    fee: Decimal | None = Field(default=None, ge=0, max_digits=12, decimal_places=4)
    currency: str | None = Field(default=None, min_length=3, max_length=3)
    subsidy_cap: Decimal | None = Field(default=None, ge=0, max_digits=12, decimal_places=4)
    budget: Decimal | None = Field(default=None, ge=0, max_digits=14, decimal_places=4)
    rules: str = Field(default="2026.1", max_length=32)
    registration_deadline: datetime | None = None
    judging_deadline: datetime | None = None
    min_posts: int | None = Field(default=None, ge=0, le=1000)
    min_event_days: int | None = Field(default=None, ge=0, le=366)
    min_articles: int | None = Field(default=None, ge=0, le=1000)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        if value not in available_timezones():
            raise ValueError(f"unknown time zone {value!r} (use an IANA name such as Asia/Dubai)")
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("tag")
    @classmethod
    def _clean_tag(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        value = value.lstrip("#")
        if not TAG_RE.match(value):
            raise ValueError("a tag is one word without spaces, e.g. WCC2025")
        return value

    @field_validator("currency")
    @classmethod
    def _upper_currency(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.upper()
        if not value.isalpha():
            raise ValueError("currency is a three-letter ISO 4217 code, e.g. CHF")
        return value

    @field_validator("registration_deadline", "judging_deadline")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("give a time zone offset, e.g. 2025-10-01T00:00:00+00:00")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> EventBase:
        if self.end < self.start:
            raise ValueError(f"end date {self.end} is before start date {self.start}")
        if (self.end - self.start).days > 366:
            raise ValueError("an event lasts at most a year")
        if self.require_tag and not self.tag:
            raise ValueError("--require-tag needs --tag")
        money = (self.fee, self.subsidy_cap, self.budget)
        if any(m is not None for m in money) and not self.currency:
            raise ValueError("a fee, subsidy cap or budget needs a currency")
        return self


class EventCreate(EventBase):
    slug: str = Field(max_length=64)

    @field_validator("slug")
    @classmethod
    def _slug(cls, value: str) -> str:
        value = value.lower()
        if not SLUG_RE.match(value):
            raise ValueError("a slug is 3–64 lower-case letters, digits and dashes, e.g. wcc2025")
        return value


class EventPublic(BaseModel):
    id: int
    slug: str
    name: str
    description: str
    location: str
    url: str | None
    start: date
    end: date
    timezone: str
    tag: str | None
    require_tag: bool
    window_start: date
    window_end: date
    fee: Decimal | None
    currency: str | None
    subsidy_cap: Decimal | None
    rules: str
    registration_deadline: datetime | None
    judging_deadline: datetime | None
