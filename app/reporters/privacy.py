"""A reporter's data: export everything about them, or delete it (DESIGN §4).

Deletion keeps the reporter row (its id is referenced by finance records and by the audit log)
but strips it of every personal field; posts, accounts, claims, registrations, verdicts, score
history and undecided subsidies are removed; approved and paid subsidies stay (finance must
account for money committed or paid) with the anonymised reporter; the user can no longer sign in
(deactivated, email replaced, sessions and tokens removed). The audit log is append-only (a
database trigger): it gains one ``reporter.delete`` entry holding only the reporter id and who
asked; earlier entries are kept as they are.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy import ColumnElement, delete, or_, update
from sqlmodel import Session, col, select

from app.audit import service as audit
from app.audit.models import AuditEntry
from app.core.db import table
from app.events.models import Event, Registration
from app.ingest.models import Post, PostClaim, PostEngagement, PostSighting
from app.reporters.models import Account, Reporter
from app.scoring.models import (
    LeaderboardEntry,
    PostVerdict,
    ScoreDigest,
    ScoreDirty,
    ScoreHistory,
    ScoreNewPost,
)
from app.scoring.service import events_of_reporters, rescore_event
from app.subsidies.models import Subsidy, SubsidyState, SubsidyTransition
from app.users.models import ApiToken, LoginAttempt, Role, User, WebSession
from scoring.eligibility import minor_unit
from scoring.verdicts import REASON_TEXT, Reason

DELETED_NAME = "deleted reporter"


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC).isoformat()


def money(amount: Decimal | None, currency: str | None) -> str | None:
    """An amount as a string with the currency's minor unit (``"300.00"``)."""
    if amount is None:
        return None
    return str(amount.quantize(Decimal(1).scaleb(-minor_unit(currency)), rounding="ROUND_DOWN"))


def _reason_text(code: str) -> str:
    try:
        return REASON_TEXT[Reason(code)]
    except ValueError:
        return code


def export_reporter(*, session: Session, reporter: Reporter) -> dict[str, Any]:
    """Everything stored about the reporter, as JSON-ready data."""
    rid = reporter.id
    user = session.get(User, reporter.user_id) if reporter.user_id else None
    accounts = session.exec(select(Account).where(Account.reporter_id == rid).order_by(col(Account.id))).all()
    events = {e.id: e for e in session.exec(select(Event)).all()}
    registrations = session.exec(
        select(Registration).where(Registration.reporter_id == rid).order_by(col(Registration.id))
    ).all()
    posts = session.exec(select(Post).where(Post.reporter_id == rid).order_by(col(Post.created_at))).all()
    verdicts: dict[int, list[dict[str, Any]]] = {}
    for verdict in session.exec(select(PostVerdict).where(PostVerdict.reporter_id == rid)).all():
        event = events.get(verdict.event_id)
        verdicts.setdefault(verdict.post_id, []).append(
            {
                "event": event.slug if event else verdict.event_id,
                "rules_version": verdict.rules_version,
                "counted": verdict.counted,
                "points": verdict.points / 1000,
                "reasons": [{"code": r, "text": _reason_text(r)} for r in verdict.reasons or []],
            }
        )
    subsidies = session.exec(
        select(Subsidy).where(Subsidy.reporter_id == rid).order_by(col(Subsidy.id))
    ).all()
    claims = session.exec(
        select(PostClaim).where(PostClaim.reporter_id == rid).order_by(col(PostClaim.id))
    ).all()
    account_ids = [str(a.id) for a in accounts]
    audit_filter: list[ColumnElement[bool]] = [
        (col(AuditEntry.target_type) == "reporter") & (col(AuditEntry.target_id) == str(rid)),
    ]
    if account_ids:
        audit_filter.append(
            (col(AuditEntry.target_type) == "account") & col(AuditEntry.target_id).in_(account_ids)
        )
    if user is not None:
        audit_filter.append(col(AuditEntry.actor_id) == user.id)
    entries = session.exec(select(AuditEntry).where(or_(*audit_filter)).order_by(col(AuditEntry.id))).all()
    return {
        "exported_at": _iso(datetime.now(UTC)),
        "profile": {
            "id": rid,
            "name": reporter.name,
            "email": reporter.email,
            "bio": reporter.bio,
            "public_listing": reporter.public_listing,
            "created_at": _iso(reporter.created_at),
        },
        "user": None
        if user is None
        else {
            "email": user.email,
            "name": user.name,
            "role": user.role,
            "created_at": _iso(user.created_at),
            "last_login_at": _iso(user.last_login_at),
        },
        "accounts": [
            {
                "id": a.id,
                "platform": a.platform,
                "account": a.account_key,
                "handle": a.handle,
                "did": a.did,
                "state": a.state,
                "verification_code": a.verification_code,
                "code_expires_at": _iso(a.code_expires_at),
                "verified_at": _iso(a.verified_at),
                "verified_method": a.verified_method,
                "created_at": _iso(a.created_at),
            }
            for a in accounts
        ],
        "registrations": [
            {
                "event": events[r.event_id].slug if r.event_id in events else r.event_id,
                "registered_at": _iso(r.registered_at),
                "channel": r.channel,
                "withdrawn_at": _iso(r.withdrawn_at),
            }
            for r in registrations
        ],
        "posts": [
            {
                "id": p.id,
                "platform": p.platform,
                "url": p.url,
                "key": p.global_key,
                "author": p.author_key,
                "created_at": _iso(p.created_at),
                "edited_at": _iso(p.edited_at),
                "deleted_at": _iso(p.deleted_at),
                "text": p.text,
                "tags": list(p.tags or []),
                "kind": p.kind,
                "visibility": p.visibility,
                "media_count": p.media_count,
                "likes": p.likes,
                "reposts": p.reposts,
                "replies": p.replies,
                "excluded": p.excluded,
                "excluded_reason": p.excluded_reason,
                "claimed": p.claimed_by == rid,
                "verdicts": verdicts.get(p.id or 0, []),
            }
            for p in posts
        ],
        "subsidies": [
            {
                "event": events[s.event_id].slug if s.event_id in events else s.event_id,
                "state": s.state,
                "amount": money(s.amount, s.currency),
                "currency": s.currency,
                "proposed_at": _iso(s.proposed_at),
                "decided_at": _iso(s.decided_at),
                "reason": s.reason,
                "paid_at": _iso(s.paid_at),
            }
            for s in subsidies
        ],
        "claims": [
            {
                "id": c.id,
                "url": c.url,
                "event": events[c.event_id].slug if c.event_id in events else None,
                "state": c.state,
                "reason": c.reason,
                "post_id": c.post_id,
                "created_at": _iso(c.created_at),
                "decided_at": _iso(c.decided_at),
            }
            for c in claims
        ],
        "audit": [
            {
                "at": _iso(e.at),
                "action": e.action,
                "actor_role": e.actor_role,
                "by_you": user is not None and e.actor_id == user.id,
                "target_type": e.target_type,
                "target_id": e.target_id,
                "detail": e.detail,
                # staff addresses are theirs, not the reporter's
                "address": e.address if user is not None and e.actor_id == user.id else None,
            }
            for e in entries
        ],
    }


def delete_reporter(
    *, session: Session, reporter: Reporter, actor_id: int | None, actor_role: str | None
) -> None:
    """Erase the reporter's personal data; their posts stop counting everywhere (audited)."""
    rid = reporter.id
    assert rid is not None
    now = datetime.now(UTC)
    affected = events_of_reporters(session, [rid])
    post_ids = sa.select(table(Post).c.id).where(table(Post).c.reporter_id == rid)
    account_ids = sa.select(table(Account).c.id).where(table(Account).c.reporter_id == rid)
    by_account = sa.select(table(Post).c.id).where(table(Post).c.account_id.in_(account_ids))
    for model in (PostSighting, PostEngagement):
        t = table(model)
        session.execute(delete(t).where(or_(t.c.post_id.in_(post_ids), t.c.post_id.in_(by_account))))
    session.execute(delete(table(PostVerdict)).where(table(PostVerdict).c.reporter_id == rid))
    session.execute(delete(table(PostClaim)).where(table(PostClaim).c.reporter_id == rid))
    session.execute(update(table(Post)).where(table(Post).c.claimed_by == rid).values(claimed_by=None))
    session.execute(
        delete(table(Post)).where(
            or_(table(Post).c.reporter_id == rid, table(Post).c.account_id.in_(account_ids))
        )
    )
    session.execute(delete(table(Account)).where(table(Account).c.reporter_id == rid))
    session.execute(delete(table(Registration)).where(table(Registration).c.reporter_id == rid))
    for scored in (LeaderboardEntry, ScoreHistory, ScoreDirty, ScoreDigest, ScoreNewPost):
        session.execute(delete(table(scored)).where(table(scored).c.reporter_id == rid))
    undecided = sa.select(table(Subsidy).c.id).where(
        table(Subsidy).c.reporter_id == rid,
        table(Subsidy).c.state.in_([SubsidyState.PROPOSED, SubsidyState.REJECTED]),
    )
    session.execute(
        delete(table(SubsidyTransition)).where(table(SubsidyTransition).c.subsidy_id.in_(undecided))
    )
    session.execute(delete(table(Subsidy)).where(table(Subsidy).c.id.in_(undecided)))

    user = session.get(User, reporter.user_id) if reporter.user_id else None
    if user is not None:
        session.execute(delete(table(LoginAttempt)).where(table(LoginAttempt).c.email == user.email))
        session.execute(delete(table(WebSession)).where(table(WebSession).c.user_id == user.id))
        session.execute(delete(table(ApiToken)).where(table(ApiToken).c.user_id == user.id))
        if user.role == Role.REPORTER:
            user.email = f"deleted-{user.id}@deleted.invalid"
            user.name = ""
            user.password_hash = "!deleted"  # never a valid Argon2 hash: no password matches
            user.is_active = False
            session.add(user)
        else:
            reporter.user_id = None  # a staff member's own account stays; only the profile goes

    reporter.name = DELETED_NAME
    reporter.email = None
    reporter.bio = ""
    reporter.public_listing = False
    reporter.deleted_at = now
    session.add(reporter)
    session.flush()
    session.expire_all()
    audit.record(
        session=session,
        action="reporter.delete",
        actor_id=actor_id,
        actor_role=actor_role,
        target_type="reporter",
        target_id=rid,
        detail={"requested_by": "reporter" if actor_role == Role.REPORTER else "staff"},
    )
    for event in affected:
        rescore_event(session, event, now)
