"""Create, import and list events; derive the coverage window from the event's rule set."""

from __future__ import annotations

import tomllib
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError
from sqlmodel import Session, col, select

from app.audit import service as audit
from app.core.errors import Conflict, InvalidInput, NotFound
from app.events.models import Event, Registration
from app.events.schemas import EventCreate, EventPublic
from app.reporters.models import Reporter
from app.scoring.dirty import mark_dirty, mark_event_dirty
from scoring.rules import RulesError, available_versions, load_rules


def validation_message(exc: ValidationError) -> str:
    """One line a person can act on, from a pydantic error."""
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"])
        message = str(error["msg"]).removeprefix("Value error, ")
        parts.append(f"{where}: {message}" if where else message)
    return "; ".join(parts)


def parse_event(data: dict[str, Any]) -> EventCreate:
    try:
        return EventCreate.model_validate(data)
    except ValidationError as exc:
        raise InvalidInput(validation_message(exc)) from None


def local_midnight(day: date, zone: str) -> datetime:
    """The first instant of ``day`` in ``zone``, as UTC (DST-safe)."""
    return datetime.combine(day, time(0), tzinfo=ZoneInfo(zone)).astimezone(UTC)


def window_dates(event: Event) -> tuple[date, date]:
    rules = load_rules(event.rules_version)
    return (
        event.start_date + timedelta(days=rules.window.start_offset_days),
        event.end_date + timedelta(days=rules.window.end_offset_days),
    )


def _apply(event: Event, spec: EventCreate) -> None:
    if spec.rules not in available_versions():
        raise InvalidInput(f"unknown rule set {spec.rules!r}: known {', '.join(available_versions())}")
    try:
        rules = load_rules(spec.rules)
    except RulesError as exc:
        raise InvalidInput(str(exc)) from None
    event.name, event.description, event.location, event.url = (
        spec.name,
        spec.description,
        spec.location,
        spec.url,
    )
    event.start_date, event.end_date, event.timezone = spec.start, spec.end, spec.timezone
    event.event_tag, event.require_tag = spec.tag, spec.require_tag
    event.fee, event.currency, event.subsidy_cap, event.budget = (
        spec.fee,
        spec.currency,
        spec.subsidy_cap,
        spec.budget,
    )
    event.rules_version = spec.rules
    event.registration_deadline, event.judging_deadline = (spec.registration_deadline, spec.judging_deadline)
    event.min_posts, event.min_event_days, event.min_articles = (
        spec.min_posts,
        spec.min_event_days,
        spec.min_articles,
    )
    event.subsidy_share_percent = rules.eligibility.subsidy_share_percent
    first_day = spec.start + timedelta(days=rules.window.start_offset_days)
    last_day = spec.end + timedelta(days=rules.window.end_offset_days)
    event.window_start_at = local_midnight(first_day, spec.timezone)
    event.window_end_at = local_midnight(last_day + timedelta(days=1), spec.timezone)
    event.first_instant_at = local_midnight(spec.start, spec.timezone)


def create_event(
    *,
    session: Session,
    spec: EventCreate,
    actor_id: int | None = None,
    actor_role: str | None = None,
) -> Event:
    """Create an event; the slug must be new."""
    if get_by_slug(session=session, slug=spec.slug) is not None:
        raise Conflict(f"an event with slug {spec.slug!r} already exists")
    event = Event(
        slug=spec.slug,
        name=spec.name,
        start_date=spec.start,
        end_date=spec.end,
        timezone=spec.timezone,
        window_start_at=datetime.now(UTC),
        window_end_at=datetime.now(UTC),
        first_instant_at=datetime.now(UTC),
        created_by=actor_id,
    )
    _apply(event, spec)
    session.add(event)
    session.flush()
    audit.record(
        session=session,
        action="event.create",
        actor_id=actor_id,
        actor_role=actor_role,
        target_type="event",
        target_id=event.id,
        detail={"slug": event.slug},
    )
    return event


def update_event(
    *,
    session: Session,
    event: Event,
    spec: EventCreate,
    actor_id: int | None = None,
    actor_role: str | None = None,
) -> Event:
    if spec.slug != event.slug and get_by_slug(session=session, slug=spec.slug) is not None:
        raise Conflict(f"an event with slug {spec.slug!r} already exists")
    before = (event.window_start_at, event.window_end_at)
    event.slug = spec.slug
    _apply(event, spec)
    session.add(event)
    session.flush()
    assert event.id is not None
    # dates, time zone, tag rules or rule-set version may have changed: re-score whom it may concern
    mark_event_dirty(session, event.id, [before, (event.window_start_at, event.window_end_at)])
    audit.record(
        session=session,
        action="event.update",
        actor_id=actor_id,
        actor_role=actor_role,
        target_type="event",
        target_id=event.id,
        detail={"slug": event.slug},
    )
    return event


def import_events(
    *,
    session: Session,
    path: Path,
    actor_id: int | None = None,
    actor_role: str | None = None,
) -> list[Event]:
    """Create every event of a TOML file: one ``[[events]]`` table each, or one event at top level."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InvalidInput(f"no such file: {path}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"{path}: not valid TOML: {exc}") from None
    items = data.get("events", [data])
    if not isinstance(items, list) or not items:
        raise InvalidInput(f"{path}: expected [[events]] tables")
    created = []
    for index, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            raise InvalidInput(f"{path}: event {index} is not a table")
        try:
            spec = parse_event({k.replace("-", "_"): v for k, v in item.items()})
        except InvalidInput as exc:
            raise InvalidInput(f"{path}: event {index}: {exc.detail}") from None
        created.append(create_event(session=session, spec=spec, actor_id=actor_id, actor_role=actor_role))
    return created


def get_by_slug(*, session: Session, slug: str) -> Event | None:
    return session.exec(select(Event).where(Event.slug == slug.lower())).first()


def require_event(*, session: Session, slug: str) -> Event:
    event = get_by_slug(session=session, slug=slug)
    if event is None:
        raise NotFound("event", slug)
    return event


def list_events(*, session: Session, offset: int = 0, limit: int = 100) -> tuple[list[Event], int]:
    from sqlalchemy import func

    total = session.exec(select(func.count()).select_from(Event)).one()
    rows = session.exec(
        select(Event).order_by(col(Event.start_date), col(Event.id)).offset(offset).limit(limit)
    ).all()
    return list(rows), int(total)


def register(
    *,
    session: Session,
    reporter: Reporter,
    event: Event,
    at: datetime | None = None,
    channel: str = "self",
    actor_id: int | None = None,
    actor_role: str | None = None,
) -> Registration:
    """Register a reporter for an event (``at`` records an earlier registration; audited)."""
    if reporter.deleted_at is not None:
        raise NotFound("reporter", reporter.id)
    existing = session.exec(
        select(Registration).where(Registration.event_id == event.id, Registration.reporter_id == reporter.id)
    ).first()
    if existing is not None and existing.withdrawn_at is None:
        raise Conflict(f"reporter {reporter.id} is already registered for {event.slug}")
    if at is not None and at.tzinfo is None:
        raise InvalidInput("--at needs a time zone offset, e.g. 2025-09-01T12:00:00+00:00")
    now = datetime.now(UTC)
    if at is not None and at > now:
        raise InvalidInput("--at cannot be in the future")
    if at is None and event.registration_deadline is not None and now > event.registration_deadline:
        raise Conflict(f"registration for {event.slug} closed at {event.registration_deadline}")
    if existing is not None:
        existing.withdrawn_at = None
        existing.registered_at = at or now
        registration = existing
    else:
        registration = Registration(
            event_id=event.id,  # type: ignore[arg-type]  # stored rows have ids
            reporter_id=reporter.id,  # type: ignore[arg-type]  # stored rows have ids
            registered_at=at or now,
            channel=channel,
            recorded_by=actor_id,
        )
    session.add(registration)
    session.flush()
    mark_dirty(session, [reporter.id])  # registered reporters are ranked, posts or not
    audit.record(
        session=session,
        action="registration.create",
        actor_id=actor_id,
        actor_role=actor_role,
        target_type="registration",
        target_id=registration.id,
        detail={
            "event": event.slug,
            "reporter_id": reporter.id,
            "backdated_to": at.isoformat() if at else None,
            "channel": channel,
        },
    )
    return registration


def list_visible_events(
    *, session: Session, include_unpublished: bool, offset: int = 0, limit: int = 50
) -> tuple[list[Event], int]:
    """Events by start date; unpublished ones only when asked (staff)."""
    from sqlalchemy import func

    where = [] if include_unpublished else [col(Event.published).is_(True)]
    total = session.exec(select(func.count()).select_from(Event).where(*where)).one()
    rows = session.exec(
        select(Event).where(*where).order_by(col(Event.start_date), col(Event.id)).offset(offset).limit(limit)
    ).all()
    return list(rows), int(total)


def to_public(event: Event) -> EventPublic:
    window_start, window_end = window_dates(event)
    return EventPublic(
        id=event.id or 0,
        slug=event.slug,
        name=event.name,
        description=event.description,
        location=event.location,
        url=event.url,
        start=event.start_date,
        end=event.end_date,
        timezone=event.timezone,
        tag=event.event_tag,
        require_tag=event.require_tag,
        window_start=window_start,
        window_end=window_end,
        fee=event.fee,
        currency=event.currency,
        subsidy_cap=event.subsidy_cap,
        rules=event.rules_version,
        registration_deadline=event.registration_deadline,
        judging_deadline=event.judging_deadline,
    )


def spec_fields(event: Event) -> dict[str, Any]:
    """The event as EventCreate input, so a partial update can be merged and validated whole."""
    return {
        "slug": event.slug,
        "name": event.name,
        "description": event.description,
        "location": event.location,
        "url": event.url,
        "start": event.start_date,
        "end": event.end_date,
        "timezone": event.timezone,
        "tag": event.event_tag,
        "require_tag": event.require_tag,
        "fee": event.fee,
        "currency": event.currency,
        "subsidy_cap": event.subsidy_cap,
        "budget": event.budget,
        "rules": event.rules_version,
        "registration_deadline": event.registration_deadline,
        "judging_deadline": event.judging_deadline,
        "min_posts": event.min_posts,
        "min_event_days": event.min_event_days,
        "min_articles": event.min_articles,
    }


def withdraw(
    *,
    session: Session,
    reporter: Reporter,
    event: Event,
    actor_id: int | None = None,
    actor_role: str | None = None,
) -> Registration:
    """Withdraw a reporter's registration (kept with ``withdrawn_at``; audited)."""
    registration = session.exec(
        select(Registration).where(Registration.event_id == event.id, Registration.reporter_id == reporter.id)
    ).first()
    if registration is None or registration.withdrawn_at is not None:
        raise NotFound("registration of reporter", f"{reporter.id} for {event.slug}")
    registration.withdrawn_at = datetime.now(UTC)
    session.add(registration)
    session.flush()
    mark_dirty(session, [reporter.id])
    audit.record(
        session=session,
        action="registration.withdraw",
        actor_id=actor_id,
        actor_role=actor_role,
        target_type="registration",
        target_id=registration.id,
        detail={"event": event.slug, "reporter_id": reporter.id},
    )
    return registration


def list_registrations(
    *, session: Session, event: Event, offset: int = 0, limit: int = 50
) -> tuple[list[tuple[Registration, Reporter]], int]:
    """An event's registrations (withdrawn ones included) with their reporters, oldest first."""
    from sqlalchemy import func

    total = session.exec(
        select(func.count()).select_from(Registration).where(Registration.event_id == event.id)
    ).one()
    rows = session.exec(
        select(Registration, Reporter)
        .join(Reporter, col(Reporter.id) == col(Registration.reporter_id))
        .where(Registration.event_id == event.id)
        .order_by(col(Registration.registered_at), col(Registration.id))
        .offset(offset)
        .limit(limit)
    ).all()
    return [(registration, reporter) for registration, reporter in rows], int(total)


def published_events(*, session: Session) -> list[Event]:
    """Every published event by start date (the public calendar)."""
    return list(
        session.exec(
            select(Event).where(col(Event.published).is_(True)).order_by(col(Event.start_date), col(Event.id))
        ).all()
    )
