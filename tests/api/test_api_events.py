"""Events: public reads, staff writes (audited), the iCalendar feed, registrations."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import icalendar
import pytest
from sqlmodel import select

from app.audit.models import AuditEntry
from app.events.models import Event

WCC = {
    "slug": "wcc2025",
    "name": "IUCN World Conservation Congress",
    "start": "2025-10-09",
    "end": "2025-10-15",
    "timezone": "Asia/Dubai",
    "tag": "WCC2025",
    "location": "Abu Dhabi",
    "fee": "500",
    "currency": "CHF",
}


@pytest.fixture
def staff(login_as):
    return login_as("staff")


@pytest.fixture
def wcc(staff):
    response = staff.client.post("/api/v1/events", json=WCC)
    assert response.status_code == 201, response.text
    return response.json()


def _unpublish(db, slug):
    event = db.exec(select(Event).where(Event.slug == slug)).one()
    event.published = False
    db.add(event)
    db.commit()


class TestEvents:
    def test_staff_create_then_anyone_reads(self, wcc, api_client):
        assert wcc["slug"] == "wcc2025"
        assert wcc["window_start"] == "2025-10-07"
        assert wcc["window_end"] == "2025-10-29"
        assert api_client.get("/api/v1/events/wcc2025").json() == wcc
        assert api_client.get("/api/v1/events/WCC2025").json()["id"] == wcc["id"]
        listed = api_client.get("/api/v1/events").json()
        assert listed == {"data": [wcc], "count": 1}

    def test_creation_is_audited(self, wcc, staff, db):
        entry = db.exec(
            select(AuditEntry).where(
                AuditEntry.action == "event.create", AuditEntry.target_id == str(wcc["id"])
            )
        ).one()
        assert (entry.actor_id, entry.actor_role, entry.address) == (staff.user.id, "staff", "198.51.100.7")

    @pytest.mark.parametrize("role", ["reporter", "judge"])
    def test_non_staff_cannot_create(self, login_as, role, assert_problem):
        assert_problem(login_as(role).client.post("/api/v1/events", json=WCC), 403)

    def test_anonymous_cannot_create(self, api_client, assert_problem):
        assert_problem(api_client.post("/api/v1/events", json=WCC), 401)

    def test_duplicate_slug_is_409(self, wcc, staff, assert_problem):
        assert_problem(staff.client.post("/api/v1/events", json=WCC), 409)

    def test_invalid_event_names_the_field(self, staff, assert_problem):
        body = assert_problem(
            staff.client.post("/api/v1/events", json={**WCC, "timezone": "Mars/Olympus"}), 422
        )
        assert "body.timezone" in body["detail"]
        body = assert_problem(staff.client.post("/api/v1/events", json={**WCC, "end": "2025-10-01"}), 422)
        assert "before start date" in body["detail"]

    def test_put_replaces_and_patch_changes_some_fields(self, wcc, staff, db):
        replaced = staff.client.put("/api/v1/events/wcc2025", json={**WCC, "name": "WCC", "location": ""})
        assert replaced.status_code == 200, replaced.text
        assert (replaced.json()["name"], replaced.json()["location"]) == ("WCC", "")
        patched = staff.client.patch("/api/v1/events/wcc2025", json={"end": "2025-10-16", "tag": None})
        assert patched.status_code == 200, patched.text
        assert patched.json()["end"] == "2025-10-16"
        assert patched.json()["tag"] is None
        assert patched.json()["name"] == "WCC"
        assert patched.json()["window_end"] == "2025-10-30"
        renamed = staff.client.patch("/api/v1/events/wcc2025", json={"slug": "wcc-2025"})
        assert renamed.json()["slug"] == "wcc-2025"
        db.expire_all()
        actions = db.exec(
            select(AuditEntry.action).where(
                AuditEntry.target_type == "event", AuditEntry.target_id == str(wcc["id"])
            )
        ).all()
        assert sorted(actions) == ["event.create", "event.update", "event.update", "event.update"]

    def test_patch_validates_the_result(self, wcc, staff, assert_problem):
        body = assert_problem(staff.client.patch("/api/v1/events/wcc2025", json={"end": "2025-01-01"}), 422)
        assert "before start date" in body["detail"]
        assert_problem(staff.client.patch("/api/v1/events/wcc2025", json={"colour": "green"}), 422)
        assert_problem(staff.client.patch("/api/v1/events/wcc2025", json=[1, 2]), 422)

    def test_unpublished_events_are_404_for_the_public_and_visible_to_staff(
        self, wcc, staff, login_as, api_client, db, assert_problem
    ):
        _unpublish(db, "wcc2025")
        missing = assert_problem(api_client.get("/api/v1/events/wcc2025"), 404)
        never_existed = assert_problem(api_client.get("/api/v1/events/wcc2099"), 404)
        assert missing["title"] == never_existed["title"]
        assert missing["detail"].replace("wcc2025", "X") == never_existed["detail"].replace("wcc2099", "X")
        assert api_client.get("/api/v1/events").json() == {"data": [], "count": 0}
        reporter = login_as("reporter")
        assert_problem(reporter.client.post("/api/v1/events/wcc2025/registrations"), 404)
        assert staff.client.get("/api/v1/events/wcc2025").status_code == 200
        assert staff.client.get("/api/v1/events").json()["count"] == 1

    def test_list_is_paginated_by_start_date(self, staff, api_client):
        for n, start in enumerate(["2026-03-01", "2025-01-01", "2025-06-01"]):
            day = date.fromisoformat(start)
            spec = {**WCC, "slug": f"event-{n}", "start": start, "end": str(day + timedelta(days=1))}
            assert staff.client.post("/api/v1/events", json=spec).status_code == 201
        page = api_client.get("/api/v1/events", params={"offset": 1, "limit": 1}).json()
        assert page["count"] == 3
        assert [e["slug"] for e in page["data"]] == ["event-2"]

    @pytest.mark.parametrize("slug", ["x", "no_such", "a" * 64, "%00", "..", "UPPER-but-missing"])
    def test_odd_slugs_are_404(self, api_client, slug, assert_problem):
        assert_problem(api_client.get(f"/api/v1/events/{slug}"), 404)


class TestCalendar:
    def test_calendar_parses_back(self, wcc, staff, api_client, db):
        other = {**WCC, "slug": "cop17", "name": "CBD COP17", "timezone": "America/Yerevan", "tag": None}
        other["timezone"] = "Asia/Yerevan"
        other.update(start="2026-10-19", end="2026-10-30")
        staff.client.post("/api/v1/events", json=other)
        hidden = {**WCC, "slug": "secret", "name": "Hidden"}
        staff.client.post("/api/v1/events", json=hidden)
        _unpublish(db, "secret")
        response = api_client.get("/calendar.ics")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/calendar")
        calendar = icalendar.Calendar.from_ical(response.content)
        assert calendar["VERSION"] == "2.0"
        assert calendar["PRODID"]
        events = {str(e["SUMMARY"]): e for e in calendar.walk("VEVENT")}
        assert set(events) == {"IUCN World Conservation Congress", "CBD COP17"}
        first = events["IUCN World Conservation Congress"]
        assert str(first["UID"]) == f"event-{wcc['id']}@blogitearnit"
        assert first.decoded("DTSTART") == date(2025, 10, 9)
        assert first.decoded("DTEND") == date(2025, 10, 16)  # exclusive end of an all-day event
        assert "DTSTAMP" in first
        assert first["DTSTART"].params.get("VALUE") in (None, "DATE")
        assert str(first["X-BIE-TIMEZONE"]) == "Asia/Dubai"
        assert "#WCC2025" in str(first["DESCRIPTION"])
        zones = {str(tz["TZID"]) for tz in calendar.walk("VTIMEZONE")}
        assert zones == {"Asia/Dubai", "Asia/Yerevan"}
        assert b"\r\n" in response.content

    def test_uid_is_stable_across_edits(self, wcc, staff, api_client):
        before = icalendar.Calendar.from_ical(api_client.get("/calendar.ics").content)
        staff.client.patch("/api/v1/events/wcc2025", json={"name": "Renamed"})
        after = icalendar.Calendar.from_ical(api_client.get("/calendar.ics").content)
        uid = [str(e["UID"]) for e in before.walk("VEVENT")]
        assert uid == [str(e["UID"]) for e in after.walk("VEVENT")]
        assert str(after.walk("VEVENT")[0]["SUMMARY"]) == "Renamed"

    def test_one_zone_is_also_named_as_the_calendar_zone(self, wcc, api_client):
        calendar = icalendar.Calendar.from_ical(api_client.get("/calendar.ics").content)
        assert str(calendar["X-WR-TIMEZONE"]) == "Asia/Dubai"

    def test_empty_calendar_is_valid(self, api_client):
        calendar = icalendar.Calendar.from_ical(api_client.get("/calendar.ics").content)
        assert calendar.walk("VEVENT") == []


class TestRegistrations:
    def test_register_list_withdraw(self, wcc, staff, login_as, db, assert_problem):
        reporter = login_as("reporter")
        created = reporter.client.post("/api/v1/events/wcc2025/registrations")
        assert created.status_code == 201, created.text
        assert created.json()["event"] == "wcc2025"
        assert created.json()["withdrawn_at"] is None
        assert_problem(reporter.client.post("/api/v1/events/wcc2025/registrations"), 409)
        listed = staff.client.get("/api/v1/events/wcc2025/registrations").json()
        assert listed["count"] == 1
        assert listed["data"][0]["reporter"]["name"] == reporter.user.name
        assert reporter.client.delete("/api/v1/events/wcc2025/registrations").status_code == 204
        assert_problem(reporter.client.delete("/api/v1/events/wcc2025/registrations"), 404)
        listed = staff.client.get("/api/v1/events/wcc2025/registrations").json()
        assert listed["data"][0]["withdrawn_at"] is not None
        again = reporter.client.post("/api/v1/events/wcc2025/registrations")
        assert again.status_code == 201
        db.expire_all()
        actions = db.exec(
            select(AuditEntry.action).where(
                AuditEntry.actor_id == reporter.user.id, AuditEntry.target_type == "registration"
            )
        ).all()
        assert sorted(actions) == ["registration.create", "registration.create", "registration.withdraw"]

    def test_deadline_is_respected(self, staff, login_as, assert_problem):
        past = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
        future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
        staff.client.post("/api/v1/events", json={**WCC, "slug": "closed", "registration_deadline": past})
        staff.client.post("/api/v1/events", json={**WCC, "slug": "open", "registration_deadline": future})
        reporter = login_as("reporter")
        body = assert_problem(reporter.client.post("/api/v1/events/closed/registrations"), 409)
        assert "closed" in body["detail"]
        assert reporter.client.post("/api/v1/events/open/registrations").status_code == 201

    def test_only_reporters_register(self, wcc, staff, assert_problem):
        body = assert_problem(staff.client.post("/api/v1/events/wcc2025/registrations"), 403)
        assert "reporter profile" in body["detail"]

    def test_anonymous_cannot_register(self, wcc, api_client, assert_problem):
        assert_problem(api_client.post("/api/v1/events/wcc2025/registrations"), 401)

    def test_registrations_list_is_staff_only(self, wcc, login_as, assert_problem):
        reporter = login_as("reporter")
        assert_problem(reporter.client.get("/api/v1/events/wcc2025/registrations"), 403)

    def test_registering_for_a_missing_event_is_404(self, login_as, assert_problem):
        assert_problem(login_as("reporter").client.post("/api/v1/events/nothing/registrations"), 404)

    def test_bearer_reporter_registers_without_csrf(self, wcc, login_as):
        reporter = login_as("reporter", via="token")
        assert reporter.client.post("/api/v1/events/wcc2025/registrations").status_code == 201


class TestUnstorableText:
    @pytest.mark.parametrize("raw_name", ["\\u0000", "\\ud800"])
    def test_text_no_database_can_store_is_422(self, staff, raw_name, assert_problem):
        raw = (
            '{"slug": "odd", "name": "x' + raw_name + '", "start": "2025-10-09", "end": "2025-10-10",'
            ' "timezone": "UTC"}'
        ).encode()
        response = staff.client.post(
            "/api/v1/events", content=raw, headers={"content-type": "application/json"}
        )
        assert_problem(response, 422)
