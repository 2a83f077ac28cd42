"""Times stay aware UTC, money stays exact, SQLite is configured as promised, audit is append-only."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, text
from sqlalchemy.exc import DBAPIError, StatementError
from sqlmodel import Session, select

from app.audit import service as audit
from app.audit.models import AuditEntry
from app.core.db import make_engine
from app.events.models import Event
from app.subsidies.models import Subsidy


def _event(slug: str, **extra: object) -> Event:
    now = datetime.now(UTC)
    return Event(
        slug=slug,
        name=slug,
        start_date=date(2025, 10, 9),
        end_date=date(2025, 10, 15),
        timezone="Asia/Dubai",
        window_start_at=now,
        window_end_at=now,
        first_instant_at=now,
        **extra,
    )


def test_datetimes_come_back_aware_utc(session: Session) -> None:
    dubai = timezone(timedelta(hours=4))
    event = _event("tz-check", judging_deadline=datetime(2025, 10, 20, 18, 0, tzinfo=dubai))
    session.add(event)
    session.flush()
    session.expire_all()
    loaded = session.exec(select(Event).where(Event.slug == "tz-check")).one()
    assert loaded.judging_deadline == datetime(2025, 10, 20, 14, 0, tzinfo=UTC)
    assert loaded.judging_deadline is not None
    assert loaded.judging_deadline.utcoffset() == timedelta(0)


def test_naive_datetimes_are_refused(session: Session) -> None:
    session.add(_event("naive", judging_deadline=datetime(2025, 10, 20, 18, 0)))
    with pytest.raises(StatementError, match="naive datetime"):
        session.flush()


def test_money_is_exact_decimal_and_sums_exactly(session: Session) -> None:
    event = _event("money", budget=Decimal("5000.10"), fee=Decimal("0.3"))
    session.add(event)
    session.flush()
    from app.reporters.models import Reporter

    amounts = [Decimal("0.10"), Decimal("0.20"), Decimal("1234.5678")]
    for i, amount in enumerate(amounts):
        reporter = Reporter(name=f"r{i}")
        session.add(reporter)
        session.flush()
        session.add(Subsidy(event_id=event.id, reporter_id=reporter.id, amount=amount, currency="CHF"))
    session.flush()
    session.expire_all()
    loaded = session.exec(select(Event).where(Event.slug == "money")).one()
    assert loaded.budget == Decimal("5000.1000")
    total = session.exec(select(func.sum(Subsidy.amount)).where(Subsidy.event_id == event.id)).one()
    assert total == Decimal("1234.8678")  # summed in SQL as integers, returned as Decimal


def test_sqlite_pragmas(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'pragmas.db'}")
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
    finally:
        engine.dispose()


def test_audit_log_is_append_only(session: Session) -> None:
    entry = audit.record(session=session, action="test.append", detail={"x": 1})
    nested = session.begin_nested()
    with pytest.raises(DBAPIError, match="append-only"):
        session.execute(text("UPDATE audit_log SET action = 'changed' WHERE id = :id"), {"id": entry.id})
    nested.rollback()
    nested = session.begin_nested()
    with pytest.raises(DBAPIError, match="append-only"):
        session.execute(text("DELETE FROM audit_log WHERE id = :id"), {"id": entry.id})
    nested.rollback()
    assert session.get(AuditEntry, entry.id) is not None
