"""The audit log, read-only (staff and admins): who did what, when, from where."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel
from sqlalchemy import func, select
from sqlmodel import Session

from app.audit.models import AuditEntry
from app.core.api import ListResponse, Page
from app.core.db import table
from app.core.deps import CurrentStaff, SessionDep
from app.core.errors import InvalidInput

router = APIRouter(prefix="/audit", tags=["audit"])

AUDIT = table(AuditEntry)


class AuditEntryPublic(BaseModel):
    id: int
    at: datetime
    actor_id: int | None
    actor_role: str | None
    action: str
    target_type: str | None
    target_id: str | None
    detail: dict[str, Any]
    address: str | None


def list_entries(
    *,
    session: Session,
    action: str | None = None,
    actor_id: int | None = None,
    actor_role: str | None = None,
    target_type: str | None = None,
    target_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    offset: int = 0,
    limit: int = 50,
) -> tuple[list[Any], int]:
    """Audit entries, newest first; ``action`` ending in ``.`` matches every action with that prefix."""
    a = AUDIT.c
    conditions: list[Any] = []
    if action is not None:
        if action.endswith("."):
            escaped = action.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            conditions.append(a.action.like(escaped + "%", escape="\\"))
        else:
            conditions.append(a.action == action)
    if actor_id is not None:
        conditions.append(a.actor_id == actor_id)
    if actor_role is not None:
        conditions.append(a.actor_role == actor_role)
    if target_type is not None:
        conditions.append(a.target_type == target_type)
    if target_id is not None:
        conditions.append(a.target_id == target_id)
    for moment in (since, until):
        if moment is not None and moment.tzinfo is None:
            raise InvalidInput("since and until need a time zone offset, e.g. 2025-10-09T00:00:00Z")
    if since is not None:
        conditions.append(a.at >= since)
    if until is not None:
        conditions.append(a.at < until)
    total = int(session.execute(select(func.count()).select_from(AUDIT).where(*conditions)).scalar_one())
    rows = session.execute(
        select(AUDIT).where(*conditions).order_by(a.at.desc(), a.id.desc()).offset(offset).limit(limit)
    ).all()
    return list(rows), total


def _problems(*codes: int) -> dict[int | str, dict[str, Any]]:
    words = {401: "Not signed in", 403: "Not allowed for this role", 422: "Invalid input"}
    return {c: {"description": words[c], "content": {"application/problem+json": {}}} for c in codes}


ShortText = Annotated[str | None, Query(max_length=64)]


@router.get("", response_model=ListResponse[AuditEntryPublic], responses=_problems(401, 403, 422))
def list_audit(
    staff: CurrentStaff,
    session: SessionDep,
    page: Page,
    action: Annotated[
        str | None, Query(max_length=64, description="An action, or a prefix ending in '.', e.g. 'post.'.")
    ] = None,
    actor_id: Annotated[int | None, Query(ge=1, le=2_147_483_647, description="Who acted.")] = None,
    actor_role: ShortText = None,
    target_type: ShortText = None,
    target_id: ShortText = None,
    since: Annotated[datetime | None, Query(description="From this instant (inclusive).")] = None,
    until: Annotated[datetime | None, Query(description="Before this instant.")] = None,
) -> ListResponse[AuditEntryPublic]:
    """Who did what, newest first (staff and admins; read-only)."""
    rows, total = list_entries(
        session=session,
        action=action,
        actor_id=actor_id,
        actor_role=actor_role,
        target_type=target_type,
        target_id=target_id,
        since=since,
        until=until,
        offset=page.offset,
        limit=page.limit,
    )
    return ListResponse(data=[AuditEntryPublic.model_validate(dict(r._mapping)) for r in rows], count=total)
