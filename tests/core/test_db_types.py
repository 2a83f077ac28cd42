"""Times stay aware UTC, money stays exact, SQLite is configured as promised, audit is append-only."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, insert, text
from sqlalchemy.exc import DBAPIError, StatementError
from sqlmodel import Session, select

from app.audit import service as audit
from app.audit.models import AuditEntry
from app.core.db import insert_rows, make_engine, table
from app.events.models import Event
from app.ingest.models import Post
from app.scoring.models import PostVerdict
from app.subsidies.models import Subsidy

VERDICTS = table(PostVerdict)


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


def test_insert_rows_stores_exactly_what_insert_stores(session: Session) -> None:
    """``insert_rows`` binds each value with its column's own type: JSON, dates, aware instants and
    booleans are stored (and read back) exactly as through ``insert()`` with dictionaries."""
    event = _event("bulk-check")
    post = Post(platform="x", global_key="k1", local_id="1", author_key="x:a", created_at=datetime.now(UTC))
    session.add_all([event, post])
    session.flush()
    at = datetime(2025, 10, 9, 8, 30, 15, 123456, tzinfo=timezone(timedelta(hours=4)))
    columns = (
        "event_id",
        "rules_version",
        "post_id",
        "reporter_id",
        "counted",
        "points",
        "base_points",
        "engagement_points",
        "reasons",
        "day",
        "computed_at",
    )
    reasons = ["too_short", 'é ünïcode "q"']
    rows = [
        (event.id, "2026.1", post.id, None, True, 1500, 1000, 500, tuple(reasons), date(2025, 10, 9), at),
        (event.id, "2026.3", post.id, None, True, 1500, 1000, 500, tuple(reasons), date(2025, 10, 9), at),
        (event.id, "2026.2", post.id, None, False, 0, 0, 0, [], date(2025, 12, 31), at + timedelta(days=1)),
    ]
    with pytest.raises(ValueError, match="needs values for .*base_points"):
        insert_rows(session, VERDICTS, ("event_id", "rules_version", "post_id", "day"), [])
    insert_rows(session, VERDICTS, columns, rows)
    session.execute(
        insert(VERDICTS),
        [dict(zip(columns, (row[0], f"{row[1]}-dict", *row[2:]), strict=True)) for row in rows],
    )
    stored = {
        row[0]: tuple(row[1:])
        for row in session.execute(
            text(
                "SELECT rules_version, counted, points, CAST(reasons AS TEXT), CAST(day AS TEXT),"
                " CAST(computed_at AS TEXT) FROM post_verdicts"
            )
        )
    }
    assert stored["2026.1"] == stored["2026.1-dict"]
    assert stored["2026.2"] == stored["2026.2-dict"]
    assert stored["2026.3"] == stored["2026.3-dict"] == stored["2026.1"]
    read = session.execute(
        select(VERDICTS.c.reasons, VERDICTS.c.day, VERDICTS.c.computed_at).where(
            VERDICTS.c.rules_version == "2026.1"
        )
    ).one()
    assert tuple(read) == (reasons, date(2025, 10, 9), at.astimezone(UTC))
