"""Field shorthands so every table spells times, money and JSON the same way."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON
from sqlmodel import Field

from app.core.types import Money, UTCDateTime, utcnow


def utc_field(*, nullable: bool = True, index: bool = False, now: bool = False) -> Any:
    """An aware-UTC timestamp column (``now=True``: defaults to the current instant)."""
    if now:
        return Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False, index=index)
    return Field(default=None, sa_type=UTCDateTime, nullable=nullable, index=index)


def money_field(*, nullable: bool = True) -> Any:
    return Field(default=None, sa_type=Money, nullable=nullable)


def json_field(*, list_: bool = True) -> Any:
    return Field(default_factory=list if list_ else dict, sa_type=JSON, nullable=False)
