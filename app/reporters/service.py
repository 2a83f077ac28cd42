"""Reporters and their accounts: parse ``platform:handle``, add, verify (DESIGN §4)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit, urlunsplit

from sqlmodel import Session, col, select

from app.audit import service as audit
from app.core.errors import Conflict, InvalidInput, NotFound
from app.core.security import verification_code
from app.events.models import Event, Registration
from app.reporters.models import Account, Reporter, VerificationState
from app.scoring.dirty import mark_dirty
from app.scoring.models import LeaderboardEntry
from app.users.service import normalise_email
from collectors.base import Platform

MASTODON_RE = re.compile(r"^@?([a-z0-9_.-]{1,64})@([a-z0-9.-]{1,253}\.[a-z0-9-]{2,63})$")
BLUESKY_HANDLE_RE = re.compile(r"^@?([a-z0-9-]{1,63}(?:\.[a-z0-9-]{1,63})+)$")
BLUESKY_DID_RE = re.compile(r"^did:(plc|web):[a-z0-9._:%-]{1,200}$")
X_RE = re.compile(r"^@?([a-z0-9_]{1,15})$")
CODE_TTL = timedelta(days=14)


@dataclass(frozen=True, slots=True)
class AccountSpec:
    platform: Platform
    account_key: str
    handle: str
    did: str | None = None


def normalise_feed_url(url: str) -> str:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput(f"a blog feed must be an http(s) URL, got {url!r}")
    netloc = parts.hostname.lower() + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))


def parse_account(text: str) -> AccountSpec:
    """Parse ``mastodon:user@server``, ``bluesky:handle-or-did``, ``blog:FEED_URL``, ``x:name``."""
    platform_name, sep, handle = text.strip().partition(":")
    if not sep or not handle:
        raise InvalidInput(f"an account is PLATFORM:HANDLE, e.g. mastodon:ana@mastodon.social; got {text!r}")
    try:
        platform = Platform(platform_name.lower())
    except ValueError:
        raise InvalidInput(
            f"unknown platform {platform_name!r}: use one of {', '.join(p.value for p in Platform)}"
        ) from None
    if platform is Platform.BLOG:
        feed = normalise_feed_url(handle)
        return AccountSpec(platform, f"blog:{feed}", handle.strip())
    lowered = handle.strip().lower()
    if platform is Platform.MASTODON:
        match = MASTODON_RE.match(lowered)
        if not match:
            raise InvalidInput(f"a Mastodon account is user@server, got {handle!r}")
        return AccountSpec(platform, f"mastodon:{match[1]}@{match[2]}", handle.strip())
    if platform is Platform.BLUESKY:
        if BLUESKY_DID_RE.match(lowered):
            return AccountSpec(platform, f"bluesky:{lowered}", handle.strip(), did=lowered)
        match = BLUESKY_HANDLE_RE.match(lowered)
        if not match:
            raise InvalidInput(f"a Bluesky account is a handle like ana.bsky.social, got {handle!r}")
        return AccountSpec(platform, f"bluesky:{match[1]}", handle.strip())
    match = X_RE.match(lowered)
    if not match:
        raise InvalidInput(f"an X account is a username of up to 15 letters/digits/_, got {handle!r}")
    return AccountSpec(platform, f"x:{match[1]}", handle.strip())


def get_reporter(*, session: Session, reporter_id: int) -> Reporter:
    reporter = session.get(Reporter, reporter_id)
    if reporter is None or reporter.deleted_at is not None:
        raise NotFound("reporter", reporter_id)
    return reporter


def add_account(
    *,
    session: Session,
    reporter: Reporter,
    spec: AccountSpec,
    verified: bool = False,
    actor_id: int | None = None,
    actor_role: str | None = None,
) -> Account:
    """Link an account; it gets a one-time code, or is verified by staff decision (audited)."""
    clash = session.exec(select(Account).where(Account.account_key == spec.account_key)).first()
    if clash is not None:
        raise Conflict(f"account {spec.account_key} is already linked to a reporter")
    account = Account(
        reporter_id=reporter.id,  # type: ignore[arg-type]  # flushed reporters have ids
        platform=spec.platform,
        account_key=spec.account_key,
        handle=spec.handle,
        did=spec.did,
        verification_code=verification_code(),
        code_expires_at=datetime.now(UTC) + CODE_TTL,
    )
    session.add(account)
    session.flush()
    if verified:
        verify_account(
            session=session, account=account, method="staff", actor_id=actor_id, actor_role=actor_role
        )
    return account


def verify_account(
    *,
    session: Session,
    account: Account,
    method: str,
    actor_id: int | None = None,
    actor_role: str | None = None,
    evidence: str | None = None,
) -> Account:
    """Mark an account verified (by a found code or a staff decision); always audited."""
    account.state = VerificationState.VERIFIED
    account.verified_at = datetime.now(UTC)
    account.verified_by = actor_id
    account.verified_method = method
    account.verification_code = None
    session.add(account)
    session.flush()
    mark_dirty(session, [account.reporter_id])
    audit.record(
        session=session,
        action="account.verify",
        actor_id=actor_id,
        actor_role=actor_role,
        target_type="account",
        target_id=account.id,
        detail={"account": account.account_key, "method": method, "evidence": evidence},
    )
    return account


def add_reporter(
    *,
    session: Session,
    name: str,
    email: str | None,
    accounts: list[str],
    verified: bool = False,
    public_listing: bool = True,
    user_id: int | None = None,
    actor_id: int | None = None,
    actor_role: str | None = None,
) -> Reporter:
    """Create a reporter with linked accounts (parsed first, so bad input changes nothing)."""
    name = name.strip()
    if not name or len(name) > 200:
        raise InvalidInput("a reporter needs a name of 1–200 characters")
    specs = [parse_account(a) for a in accounts]
    keys = [s.account_key for s in specs]
    if len(set(keys)) != len(keys):
        raise InvalidInput("the same account is given twice")
    reporter = Reporter(
        name=name,
        email=normalise_email(email) if email else None,
        public_listing=public_listing,
        user_id=user_id,
    )
    session.add(reporter)
    session.flush()
    audit.record(
        session=session,
        action="reporter.create",
        actor_id=actor_id,
        actor_role=actor_role,
        target_type="reporter",
        target_id=reporter.id,
    )
    for spec in specs:
        add_account(
            session=session,
            reporter=reporter,
            spec=spec,
            verified=verified,
            actor_id=actor_id,
            actor_role=actor_role,
        )
    return reporter


def get_account(*, session: Session, account_key: str) -> Account:
    spec = parse_account(account_key)
    account = session.exec(select(Account).where(Account.account_key == spec.account_key)).first()
    if account is None:
        raise NotFound("account", spec.account_key)
    return account


def accounts_of(*, session: Session, reporter_id: int) -> list[Account]:
    return list(
        session.exec(
            select(Account).where(Account.reporter_id == reporter_id).order_by(col(Account.id))
        ).all()
    )


# --- profile (added for the reporter routes) ------------------------------------------------------


def update_profile(
    *,
    session: Session,
    reporter: Reporter,
    name: str | None = None,
    bio: str | None = None,
    public_listing: bool | None = None,
) -> Reporter:
    """Change the reporter's name, bio or listing (public, or anonymous: rank shown, name hidden)."""
    if name is not None:
        name = name.strip()
        if not name or len(name) > 200:
            raise InvalidInput("a reporter needs a name of 1–200 characters")
        reporter.name = name
    if bio is not None:
        reporter.bio = bio.strip()[:2000]
    if public_listing is not None:
        reporter.public_listing = public_listing
    session.add(reporter)
    session.flush()
    return reporter


def get_public_reporter(*, session: Session, reporter_id: int) -> Reporter:
    """A reporter anyone may see: publicly listed and not deleted (404 otherwise, alike)."""
    reporter = session.get(Reporter, reporter_id)
    if reporter is None or reporter.deleted_at is not None or not reporter.public_listing:
        raise NotFound("reporter", reporter_id)
    return reporter


@dataclass(frozen=True, slots=True)
class EventStanding:
    slug: str
    name: str
    rank: int | None
    score_thousandths: int | None
    posts_counted: int | None


def public_standings(*, session: Session, reporter_id: int) -> list[EventStanding]:
    """The published events the reporter is registered for, with their rank in each."""
    rows = session.exec(
        select(Event)
        .join(Registration, col(Registration.event_id) == col(Event.id))
        .where(
            col(Registration.reporter_id) == reporter_id,
            col(Registration.withdrawn_at).is_(None),
            col(Event.published).is_(True),
        )
        .order_by(col(Event.start_date), col(Event.id))
    ).all()
    standings = []
    for event in rows:
        entry = session.exec(
            select(LeaderboardEntry).where(
                LeaderboardEntry.event_id == event.id,
                LeaderboardEntry.rules_version == event.rules_version,
                LeaderboardEntry.reporter_id == reporter_id,
            )
        ).first()
        standings.append(
            EventStanding(
                slug=event.slug,
                name=event.name,
                rank=entry.rank if entry else None,
                score_thousandths=entry.score if entry else None,
                posts_counted=entry.posts_counted if entry else None,
            )
        )
    return standings
