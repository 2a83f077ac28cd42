"""The pages over HTTP (no browser): content, visibility, CSRF, login flow, redirects, static files."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlmodel import select

from app.reporters.models import Reporter
from app.users import service as users_service
from app.users.models import LoginAttempt, Role, User, WebSession
from app.web.pages import FORM_COOKIE, PageRoute, PageStaff, PageUser
from app.web.templating import ASSETS
from tests.web.conftest import PASSWORD, form_token
from tests.web.web_factories import add_post, make_event, make_reporter, rescore

HTML = "text/html; charset=utf-8"


def make_user(db, role=Role.REPORTER, email="user@example.org", name="Una User"):
    user = users_service.create_user(session=db, email=email, password=PASSWORD, role=role, name=name)
    db.commit()
    return user


def log_in(client, email, password=PASSWORD, next_path=""):
    token = form_token(client, "/login")
    return client.post(
        "/login", data={"csrf_token": token, "email": email, "password": password, "next": next_path}
    )


# --- calendar, event, leaderboard, wall ---------------------------------------------------------------


def test_calendar_groups_events_by_month_and_links_the_feed(web_client, web_db):
    make_event(web_db, slug="wcc2025", name="Congress <2025>", start=date(2025, 10, 9), days=7)
    make_event(web_db, slug="summit", name="Youth Summit", start=date(2025, 11, 2), days=1)
    make_event(web_db, slug="draft", name="Draft event", published=False)
    web_db.commit()

    response = web_client.get("/events")

    assert response.status_code == 200
    assert response.headers["content-type"] == HTML
    body = response.text
    assert body.index(">October 2025<") < body.index(">November 2025<")
    assert "Congress &lt;2025&gt;" in body  # autoescaped
    assert 'href="/calendar.ics"' in body
    assert "Draft event" not in body
    assert web_client.get("/").text.count(">Youth Summit</a>") == 1


def test_staff_see_unpublished_events_others_get_a_404_page(web_client_factory, web_db):
    make_event(web_db, slug="draft", name="Draft event", published=False)
    make_user(web_db, role=Role.STAFF, email="staff@example.org")
    anonymous = web_client_factory()
    staff = web_client_factory()
    assert log_in(staff, "staff@example.org").status_code == 303

    hidden = anonymous.get("/events/draft")
    missing = anonymous.get("/events/never-was")
    assert hidden.status_code == missing.status_code == 404
    assert hidden.headers["content-type"] == HTML
    assert "404" in hidden.text
    assert "Draft event" not in hidden.text
    assert "Draft event" in staff.get("/events").text
    assert "only staff can see it" in staff.get("/events/draft").text


def test_event_page_shows_local_deadlines_and_links_only_web_urls(web_client, web_db):
    event = make_event(web_db, slug="dubai", name="Dubai forum", timezone="Asia/Dubai", tag="DXB")
    event.registration_deadline = datetime(2025, 9, 30, 20, 0, tzinfo=UTC)
    event.url = "javascript:alert(1)"
    event.fee, event.currency = Decimal(500), "CHF"
    web_db.add(event)
    web_db.commit()

    body = web_client.get("/events/dubai").text

    assert "1 October 2025, 00:00 +04" in body  # 20:00 UTC is midnight in Dubai
    assert "javascript:" not in body
    assert "#DXB" in body
    assert "500.00 CHF" in body
    assert 'href="/events/dubai/leaderboard"' in body
    assert "2026.1" in body


def _seed(web_db):
    event = make_event(web_db, slug="wcc", name="Congress")
    ana = make_reporter(web_db, name="Ana Public", account="mastodon:ana@m.example", event=event)
    sam = make_reporter(web_db, name="Sam Hidden", account="x:samhidden", event=event, public=False)
    add_post(web_db, author_key="mastodon:ana@m.example")
    add_post(web_db, author_key="mastodon:ana@m.example")
    add_post(
        web_db,
        author_key="x:samhidden",
        html="<p>Sam&#39;s <b>bold</b> note</p><script>alert(1)</script>",
        text="Sam's bold note about mangroves on the coast of the gulf today #iucncec",
    )
    rescore(web_db, event)
    web_db.commit()
    return event, ana, sam


def test_leaderboard_hides_anonymous_names_and_filters_by_platform(web_client, web_db):
    _, ana, sam = _seed(web_db)

    body = web_client.get("/events/wcc/leaderboard").text
    rows = re.findall(r'<tr data-reporter="(\d+)">', body)
    assert rows == [str(ana.id), str(sam.id)]
    assert "Ana Public" in body
    assert "Sam Hidden" not in body
    assert "Anonymous reporter" in body

    filtered = web_client.get("/events/wcc/leaderboard?platform=x").text
    assert re.findall(r'<tr data-reporter="(\d+)">', filtered)[0] == str(sam.id)
    assert '<option value="x" selected>' in filtered
    unknown = web_client.get("/events/wcc/leaderboard?platform=myspace").text
    assert re.findall(r'<tr data-reporter="(\d+)">', unknown) == rows


@pytest.mark.parametrize("query", ["page=0", "page=abc", "page=99999999999", "platform=" + "x" * 40])
def test_bad_query_parameters_get_a_422_page(web_client, web_db, query):
    make_event(web_db, slug="wcc")
    web_db.commit()
    response = web_client.get(f"/events/wcc/leaderboard?{query}")
    assert response.status_code == 422
    assert response.headers["content-type"] == HTML


def test_wall_fragment_is_fresh_sanitised_and_nameless_for_anonymous_reporters(web_client, web_db):
    _seed(web_db)

    wall = web_client.get("/events/wcc/wall")
    live = web_client.get("/events/wcc/wall/live")

    assert wall.status_code == live.status_code == 200
    assert 'data-refresh-s="20"' in wall.text
    assert re.search(r'<script src="/static/wall\.js\?v=[0-9a-f]+" defer></script>', wall.text)
    assert live.headers["cache-control"] == "no-store"
    assert live.text.lstrip().startswith('<div id="wall-live-content"')
    assert "<b>bold</b>" in live.text
    assert "<script" not in live.text
    assert "Sam Hidden" not in live.text
    assert live.text.count('<li class="wall-post"') == 3
    assert '<svg xmlns="http://www.w3.org/2000/svg" class="chart"' in live.text
    assert "3 counted posts in the 24 hours" in live.text


def test_every_page_is_csp_clean(web_client, web_db):
    _seed(web_db)
    for path in ["/", "/events/wcc", "/events/wcc/leaderboard", "/events/wcc/wall", "/login", "/signup"]:
        response = web_client.get(path)
        assert "default-src 'self'" in response.headers["content-security-policy"]
        assert not re.search(r"<script(?![^>]*\bsrc=)", response.text), path  # no inline script
        assert not re.search(r"\sstyle=|<style", response.text), path  # no inline style
        assert not re.search(r"\son[a-z]+=", response.text), path  # no inline handlers
        assert "http://" not in response.text.replace('xmlns="http://www.w3.org/2000/svg"', ""), path


# --- static files ----------------------------------------------------------------------------------------


def test_static_files_are_cached_by_version_and_revalidated(web_client):
    asset = ASSETS["site.css"]
    versioned = web_client.get(f"/static/site.css?v={asset.digest}")
    assert versioned.status_code == 200
    assert versioned.headers["content-type"] == "text/css; charset=utf-8"
    assert versioned.headers["cache-control"] == "public, max-age=31536000, immutable"
    plain = web_client.get("/static/site.css")
    assert plain.headers["cache-control"] == "public, max-age=300"
    again = web_client.get("/static/site.css", headers={"If-None-Match": versioned.headers["etag"]})
    assert again.status_code == 304


@pytest.mark.parametrize("path", ["/static/nope.css", "/static/../routes.py", "/static/%2e%2e/pages.py"])
def test_only_known_static_files_are_served(web_client, path):
    assert web_client.get(path).status_code == 404


# --- log in, sign up, log out -------------------------------------------------------------------------------


def test_login_form_needs_its_csrf_token(web_client, web_db):
    make_user(web_db, email="ana@example.org")
    form_token(web_client, "/login")
    without = web_client.post("/login", data={"email": "ana@example.org", "password": PASSWORD})
    forged = web_client.post(
        "/login", data={"csrf_token": "forged", "email": "ana@example.org", "password": PASSWORD}
    )
    assert without.status_code == forged.status_code == 403
    assert "This form has expired" in forged.text
    assert "bie_session" not in web_client.cookies


def test_a_token_from_another_browser_is_refused(web_client_factory, web_db):
    make_user(web_db, email="ana@example.org")
    attacker, victim = web_client_factory(), web_client_factory()
    token = form_token(attacker, "/login")
    form_token(victim, "/login")  # the victim has their own form cookie
    response = victim.post(
        "/login", data={"csrf_token": token, "email": "ana@example.org", "password": PASSWORD}
    )
    assert response.status_code == 403


def test_login_goes_to_a_local_next_page_and_sets_the_session(web_client, web_db):
    make_user(web_db, email="ana@example.org", name="Ana")
    response = log_in(web_client, "ana@example.org", next_path="/events?page=1")
    assert response.status_code == 303
    assert response.headers["location"] == "/events?page=1"
    cookie = response.headers["set-cookie"]
    assert "bie_session=" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    home = web_client.get("/")
    assert "Signed in as Ana" in home.text
    assert home.headers["cache-control"] == "no-store"


@pytest.mark.parametrize("next_path", ["//evil.example/", "https://evil.example/", "/\\evil.example"])
def test_login_never_redirects_off_site(web_client, web_db, next_path):
    make_user(web_db, email="ana@example.org")
    response = log_in(web_client, "ana@example.org", next_path=next_path)
    assert response.status_code == 303
    assert response.headers["location"] == "/"


def test_wrong_passwords_are_counted_and_throttled(web_client, web_db):
    make_user(web_db, email="ana@example.org")
    for _ in range(3):
        failed = log_in(web_client, "ana@example.org", password="wrong password!")
        assert failed.status_code == 401
        assert "Wrong email or password." in failed.text
        assert 'value="ana@example.org"' in failed.text  # the email is kept, the password is not
    throttled = log_in(web_client, "ana@example.org")
    assert throttled.status_code == 429
    assert int(throttled.headers["retry-after"]) > 0
    assert "Too many failed attempts" in throttled.text
    web_db.expire_all()
    attempts = web_db.exec(select(LoginAttempt).where(LoginAttempt.email == "ana@example.org")).all()
    assert [a.success for a in attempts] == [False, False, False]


def test_missing_fields_are_reported_next_to_them(web_client):
    token = form_token(web_client, "/login")
    response = web_client.post("/login", data={"csrf_token": token, "email": "", "password": ""})
    assert response.status_code == 422
    assert 'id="f-email-error"' in response.text
    assert 'aria-describedby="f-email-error"' in response.text
    assert 'id="f-password-error"' in response.text


def test_signup_reports_each_bad_field_then_creates_a_reporter(web_client, web_db):
    token = form_token(web_client, "/signup")
    bad = web_client.post(
        "/signup", data={"csrf_token": token, "name": " ", "email": "not-an-email", "password": "short"}
    )
    assert bad.status_code == 422
    for field_name in ("name", "email", "password"):
        assert f'id="f-{field_name}-error"' in bad.text
    assert web_db.exec(select(User)).all() == []

    good = web_client.post(
        "/signup",
        data={
            "csrf_token": token,
            "name": "  Rita   Reporter ",
            "email": "Rita@Example.org",
            "password": PASSWORD,
        },
    )
    assert good.status_code == 303
    assert good.headers["location"] == "/login?registered=1"
    web_db.expire_all()
    user = web_db.exec(select(User).where(User.email == "rita@example.org")).one()
    reporter = web_db.exec(select(Reporter).where(Reporter.user_id == user.id)).one()
    assert (user.role, user.name, reporter.name) == ("reporter", "Rita Reporter", "Rita Reporter")

    again = web_client.post(
        "/signup",
        data={"csrf_token": token, "name": "Rita", "email": "rita@example.org", "password": PASSWORD},
    )
    assert again.status_code == 409
    assert "already exists" in again.text


def test_logout_needs_the_session_token_and_ends_the_session(web_client, web_db):
    make_user(web_db, email="ana@example.org", name="Ana")
    log_in(web_client, "ana@example.org")
    page_token = form_token(web_client, "/events")  # the logout form carries the session's token
    web_db.expire_all()
    session_row = web_db.exec(select(WebSession)).one()
    assert page_token == session_row.csrf_token

    assert web_client.post("/logout", data={"csrf_token": "nope"}).status_code == 403
    response = web_client.post("/logout", data={"csrf_token": page_token})
    assert response.status_code == 303
    assert response.headers["location"] == "/login?logged_out=1"
    web_db.expire_all()
    assert web_db.get(WebSession, session_row.id).revoked_at is not None
    assert "Signed in as" not in web_client.get("/").text


# --- page dependencies other pages build on ------------------------------------------------------


@pytest.fixture
def guarded_app(web_app):
    from fastapi import APIRouter
    from fastapi.responses import PlainTextResponse

    router = APIRouter(route_class=PageRoute)

    @router.get("/test-only/private")
    def private(user: PageUser) -> PlainTextResponse:
        return PlainTextResponse(f"hello {user.email}")

    @router.get("/test-only/staff")
    def staff_only(user: PageStaff) -> PlainTextResponse:
        return PlainTextResponse("staff")

    web_app.include_router(router)
    return web_app


def test_pages_that_need_a_login_redirect_there_and_back(guarded_app, web_client, web_db):
    make_user(web_db, email="ana@example.org")
    anonymous = web_client.get("/test-only/private?tab=2")
    assert anonymous.status_code == 303
    assert anonymous.headers["location"] == "/login?next=/test-only/private%3Ftab%3D2"
    assert (
        'name="next" value="/test-only/private?tab=2"' in web_client.get(anonymous.headers["location"]).text
    )

    back = log_in(web_client, "ana@example.org", next_path="/test-only/private?tab=2")
    assert back.headers["location"] == "/test-only/private?tab=2"
    assert web_client.get("/test-only/private").text == "hello ana@example.org"
    forbidden = web_client.get("/test-only/staff")
    assert forbidden.status_code == 403
    assert forbidden.headers["content-type"] == HTML
    assert "staff" in forbidden.text


def test_anonymous_forms_set_an_http_only_form_cookie(web_client):
    response = web_client.get("/login")
    assert FORM_COOKIE in response.headers["set-cookie"]
    assert "HttpOnly" in response.headers["set-cookie"]
    again = web_client.get("/signup")
    assert "set-cookie" not in again.headers  # the cookie is reused
