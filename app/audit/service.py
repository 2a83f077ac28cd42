"""Write to the append-only audit log."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from app.audit.models import AuditEntry


def record(
    *,
    session: Session,
    action: str,
    actor_id: int | None = None,
    actor_role: str | None = None,
    target_type: str | None = None,
    target_id: object = None,
    detail: dict[str, Any] | None = None,
    address: str | None = None,
) -> AuditEntry:
    """Append one entry; it can never be changed or removed afterwards."""
    entry = AuditEntry(
        action=action,
        actor_id=actor_id,
        actor_role=actor_role,
        target_type=target_type,
        target_id=None if target_id is None else str(target_id),
        detail=detail or {},
        address=address,
    )
    session.add(entry)
    session.flush()
    return entry
