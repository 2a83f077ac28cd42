"""Events: the public calendar (JSON and iCalendar), staff editing, reporter registrations."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

import icalendar
from fastapi import APIRouter, Body, Path, Response, status
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from sqlmodel import Session

from app.core.api import ListResponse, Page, require_storable
from app.core.deps import (
    CurrentReporter,
    CurrentStaff,
    CurrentUser,
    OptionalUser,
    SessionDep,
    actor,
    is_staff,
)
from app.core.errors import NotFound
from app.events import service as events_service
from app.events.models import Event, Registration
from app.events.schemas import SLUG_RE, EventCreate, EventPublic
from app.reporters.models import Reporter
from app.users.models import User

router = APIRouter(prefix="/events", tags=["events"])
calendar_router = APIRouter(tags=["events"])

Slug = Annotated[str, Path(max_length=64, description="The event's slug, e.g. wcc2025.")]
UID_DOMAIN = "blogitearnit"


class ReporterRef(BaseModel):
    id: int
    name: str


class RegistrationPublic(BaseModel):
    id: int
    event: str
    reporter: ReporterRef
    registered_at: datetime
    channel: str
    withdrawn_at: datetime | None


def registration_public(registration: Registration, event: Event, reporter: Reporter) -> RegistrationPublic:
    return RegistrationPublic(
        id=registration.id or 0,
        event=event.slug,
        reporter=ReporterRef(id=reporter.id or 0, name=reporter.name),
        registered_at=registration.registered_at,
        channel=registration.channel,
        withdrawn_at=registration.withdrawn_at,
    )


def visible_event(session: Session, slug: str, user: User | None) -> Event:
    """The event, or 404 — also when it is unpublished and the caller is not staff."""
    if not SLUG_RE.match(slug.lower()):
        raise NotFound("event", slug)
    event = events_service.get_by_slug(session=session, slug=slug)
    if event is None or (not event.published and not is_staff(user)):
        raise NotFound("event", slug)
    return event


def _validated(data: dict[str, Any]) -> EventCreate:
    require_storable(data)
    try:
        return EventCreate.model_validate(data)
    except ValidationError as exc:
        raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]) from None


@router.get("", response_model=ListResponse[EventPublic])
def list_events(session: SessionDep, user: OptionalUser, page: Page) -> ListResponse[EventPublic]:
    """Events by start date (staff also see unpublished ones)."""
    rows, total = events_service.list_visible_events(
        session=session, include_unpublished=is_staff(user), offset=page.offset, limit=page.limit
    )
    return ListResponse(data=[events_service.to_public(e) for e in rows], count=total)


@router.get("/{slug}", response_model=EventPublic)
def get_event(slug: Slug, session: SessionDep, user: OptionalUser) -> EventPublic:
    """One event."""
    return events_service.to_public(visible_event(session, slug, user))


@router.post("", status_code=status.HTTP_201_CREATED, response_model=EventPublic)
def create_event(body: EventCreate, staff: CurrentStaff, session: SessionDep) -> EventPublic:
    """Create an event (staff)."""
    require_storable(body)
    event = events_service.create_event(session=session, spec=body, **actor(staff))
    session.refresh(event)  # read back as stored (money at its stored scale), as later reads see it
    return events_service.to_public(event)


@router.put("/{slug}", response_model=EventPublic)
def replace_event(slug: Slug, body: EventCreate, staff: CurrentStaff, session: SessionDep) -> EventPublic:
    """Replace every field of an event (staff)."""
    require_storable(body)
    event = visible_event(session, slug, staff)
    events_service.update_event(session=session, event=event, spec=body, **actor(staff))
    session.refresh(event)
    return events_service.to_public(event)


@router.patch("/{slug}", response_model=EventPublic)
def patch_event(
    slug: Slug,
    changes: Annotated[
        dict[str, Any],
        Body(description="Any EventCreate fields to change; the result is validated as a whole."),
    ],
    staff: CurrentStaff,
    session: SessionDep,
) -> EventPublic:
    """Change some fields of an event (staff)."""
    event = visible_event(session, slug, staff)
    spec = _validated({**events_service.spec_fields(event), **changes})
    events_service.update_event(session=session, event=event, spec=spec, **actor(staff))
    session.refresh(event)
    return events_service.to_public(event)


@router.post("/{slug}/registrations", status_code=status.HTTP_201_CREATED, response_model=RegistrationPublic)
def register(
    slug: Slug, reporter: CurrentReporter, user: CurrentUser, session: SessionDep
) -> RegistrationPublic:
    """Register the signed-in reporter for the event (until its registration deadline)."""
    event = visible_event(session, slug, user)
    registration = events_service.register(session=session, reporter=reporter, event=event, **actor(user))
    return registration_public(registration, event, reporter)


@router.delete("/{slug}/registrations", status_code=status.HTTP_204_NO_CONTENT)
def withdraw(slug: Slug, reporter: CurrentReporter, user: CurrentUser, session: SessionDep) -> Response:
    """Withdraw the signed-in reporter's registration."""
    event = visible_event(session, slug, user)
    events_service.withdraw(session=session, reporter=reporter, event=event, **actor(user))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{slug}/registrations", response_model=ListResponse[RegistrationPublic])
def list_registrations(
    slug: Slug, staff: CurrentStaff, session: SessionDep, page: Page
) -> ListResponse[RegistrationPublic]:
    """Who registered for the event, oldest first, withdrawals included (staff)."""
    event = visible_event(session, slug, staff)
    rows, total = events_service.list_registrations(
        session=session, event=event, offset=page.offset, limit=page.limit
    )
    return ListResponse(data=[registration_public(r, event, rep) for r, rep in rows], count=total)


# --- iCalendar ----------------------------------------------------------------------------------


def build_calendar(events: list[Event]) -> bytes:
    """An RFC 5545 calendar: one all-day VEVENT per event (DTEND exclusive), VTIMEZONEs per zone."""
    calendar = icalendar.Calendar()
    calendar.add("prodid", "-//BlogItEarnIt//Events calendar//EN")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("x-wr-calname", "BlogItEarnIt events")
    zones = sorted({event.timezone for event in events})
    if len(zones) == 1:
        calendar.add("x-wr-timezone", zones[0])
    for zone in zones:
        try:
            calendar.add_component(icalendar.Timezone.from_tzid(zone))
        except (ValueError, KeyError):  # a zone icalendar cannot describe: the X- property still names it
            continue
    for event in events:
        item = icalendar.Event()
        item.add("uid", f"event-{event.id}@{UID_DOMAIN}")
        item.add("dtstamp", event.created_at)
        item.add("dtstart", event.start_date)
        item.add("dtend", event.end_date + timedelta(days=1))
        item.add("summary", event.name)
        description = event.description
        if event.event_tag:
            description = (description + "\n\n" if description else "") + f"Tag: #{event.event_tag}"
        if description:
            item.add("description", description)
        if event.location:
            item.add("location", event.location)
        if event.url:
            item.add("url", event.url)
        item.add("x-bie-timezone", event.timezone)  # the zone that defines the event's days (§5)
        calendar.add_component(item)
    return bytes(calendar.to_ical())


@calendar_router.get(
    "/calendar.ics",
    response_class=Response,
    responses={200: {"content": {"text/calendar": {}}, "description": "iCalendar (RFC 5545)"}},
)
def calendar_ics(session: SessionDep) -> Response:
    """Every published event as an iCalendar feed."""
    body = build_calendar(events_service.published_events(session=session))
    return Response(
        content=body,
        media_type="text/calendar; charset=utf-8",
        headers={"Content-Disposition": 'inline; filename="blogitearnit.ics"'},
    )
