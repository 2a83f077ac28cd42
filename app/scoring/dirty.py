"""Queue reporters for incremental re-scoring, in the same transaction as whatever changed them."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from app.core.db import table
from app.scoring.models import ScoreDirty


def mark_dirty(session: Session, reporter_ids: Iterable[int | None]) -> None:
    """Mark reporters whose posts, accounts or registrations changed (idempotent)."""
    rows = [{"reporter_id": rid} for rid in sorted({r for r in reporter_ids if r is not None})]
    if not rows:
        return
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    session.execute(insert(table(ScoreDirty)).on_conflict_do_nothing(index_elements=["reporter_id"]), rows)
