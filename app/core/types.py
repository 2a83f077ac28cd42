"""Column types that behave the same on SQLite and PostgreSQL.

``UTCDateTime`` stores aware UTC instants (naive UTC on SQLite, ``timestamptz`` on PostgreSQL) and
always returns aware UTC. ``Money`` stores a ``Decimal`` as an integer count of 1/10,000 units so
sums are exact in SQL on both databases (SQLite has no decimal type).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import ROUND_DOWN, Decimal
from typing import Any

from sqlalchemy import BigInteger, DateTime, Dialect
from sqlalchemy.types import TypeDecorator

MONEY_SCALE = Decimal(10_000)
MONEY_QUANTUM = Decimal("0.0001")


class UTCDateTime(TypeDecorator[datetime]):
    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: times must be aware (UTC)")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Money(TypeDecorator[Decimal]):
    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> int | None:
        if value is None:
            return None
        amount = Decimal(value).quantize(MONEY_QUANTUM, rounding=ROUND_DOWN)
        return int(amount * MONEY_SCALE)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return (Decimal(int(value)) / MONEY_SCALE).quantize(MONEY_QUANTUM)


def utcnow() -> datetime:
    return datetime.now(UTC)
