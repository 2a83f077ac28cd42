"""Stored XSS drills: hostile text in every field people can write ends up inert on every page.

Payloads go into a post's text and stored HTML (as if stored before sanitisation: the output path
must clean it again), a reporter's display name and bio, an event's name, description and location,
and a prize category's name and description. Every HTML page that shows them is parsed
(``executable_markup``: script/iframe/object tags, ``on*`` attributes, ``javascript:`` URLs; the
app's own ``/static/`` scripts are allowed) and must hold none — while the payload text itself is
shown, escaped (so the page really rendered it). The browser drill does the same in Chromium and
fails on any JavaScript dialog.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from markupsafe import escape
from sqlmodel import Session, select

from app.events.models import Event
from app.ingest.models import Post
from app.judging.models import PrizeCategory
from app.reporters.models import Reporter
from tests.security.conftest import SecurityWorld
from tests.security.security_html import executable_markup
from tests.web.conftest import (  # noqa: F401  (browser fixtures re-exported for the drill below)
    browser_problems,
    live_server,
    page,
    web_fast_password_hashing,
)

NAME = "<script>alert('name')</script>Ana"
BIO = "<img src=x onerror=alert('bio')>"
EVENT_NAME = "Congress <svg onload=alert('event')>"
EVENT_DESCRIPTION = "<a href=\"javascript:alert('desc')\">programme</a><iframe src=//evil.example></iframe>"
LOCATION = "\"><script>alert('where')</script>"
CATEGORY = "Best <img src=x onerror=alert('category')>"
POST_TEXT = "Mangroves </textarea><script>alert('post')</script> matter for fisheries #iucncec"
POST_HTML = (
    "<p onclick=\"alert('p')\">Mangroves<script>alert('post')</script>"
    "<img src=x onerror=alert('img')><a href=\"javascript:alert('a')\">link</a></p>"
)


def plant(session: Session, event_id: int, reporter_id: int, category_id: int | None) -> None:
    event = session.get(Event, event_id)
    assert event is not None
    event.name, event.description, event.location = EVENT_NAME, EVENT_DESCRIPTION, LOCATION
    session.add(event)
    reporter = session.get(Reporter, reporter_id)
    assert reporter is not None
    reporter.name, reporter.bio = NAME, BIO
    session.add(reporter)
    for post in session.exec(select(Post).where(Post.reporter_id == reporter_id)).all():
        post.text, post.html = POST_TEXT, POST_HTML
        session.add(post)
    if category_id is not None:
        category = session.get(PrizeCategory, category_id)
        assert category is not None
        category.name, category.description = CATEGORY, CATEGORY
        session.add(category)
    session.commit()


@pytest.fixture
def hostile_world(security_world: SecurityWorld, db: Session) -> SecurityWorld:
    w = security_world
    category = db.exec(select(PrizeCategory).where(PrizeCategory.slug == w.category)).one()
    plant(db, w.event.id or 0, w.reporter_ids["reporter"], category.id)
    return w


def pages_for(w: SecurityWorld) -> dict[str, list[str]]:
    e, c = w.event.slug, w.category
    return {
        "anonymous": [
            "/",
            "/events",
            f"/events/{e}",
            f"/events/{e}/leaderboard",
            f"/events/{e}/wall",
            f"/events/{e}/wall/live",
            f"/events/{e}/results",
        ],
        "reporter": ["/me", f"/me/events/{e}", "/me/profile", "/me/accounts", "/me/claims"],
        "judge": ["/judging", f"/judging/entries/{w.entry_id}"],
        "staff": [
            "/staff",
            f"/staff/events/{e}",
            f"/staff/events/{e}/judging",
            f"/staff/events/{e}/subsidies",
            f"/staff/events/{e}/categories/{c}/results",
            "/staff/moderation",
            "/staff/accounts",
            "/staff/audit",
        ],
    }


def test_stored_payloads_are_inert_on_every_page(hostile_world: SecurityWorld) -> None:
    w = hostile_world
    shown: set[str] = set()
    problems: list[str] = []
    checked = 0
    for role, paths in pages_for(w).items():
        caller = w.callers[role]
        for path in paths:
            caller.reset()
            response = caller.client.get(path, follow_redirects=False)
            assert response.status_code == 200, (role, path, response.status_code)
            assert response.headers["content-type"].startswith("text/html")
            checked += 1
            found = executable_markup(response.text, allow_own_scripts=True)
            if found:
                problems.append(f"{path} as {role}: {found}")
            for payload in (NAME, EVENT_NAME, CATEGORY, "Mangroves"):
                if str(escape(payload)) in response.text:
                    shown.add(payload)
            assert "alert('post')</script>" not in response.text
    assert not problems, "\n".join(problems)
    assert checked >= 20
    # the payloads were rendered (escaped), so the pages above really carried them
    assert {NAME, EVENT_NAME, CATEGORY} <= shown, shown


def test_pages_keep_a_strict_content_security_policy(hostile_world: SecurityWorld) -> None:
    client = hostile_world.callers["anonymous"].client
    for path in ("/", f"/events/{hostile_world.event.slug}/wall"):
        policy = client.get(path).headers["content-security-policy"]
        assert "default-src 'self'" in policy
        assert "'unsafe-inline'" not in policy


def test_the_post_api_returns_sanitised_html(hostile_world: SecurityWorld) -> None:
    w = hostile_world
    staff = w.callers["staff"]
    staff.reset()
    body = staff.client.get(f"/api/v1/posts/{w.post_ids['reporter']}").json()
    assert body["html"]
    assert not executable_markup(body["html"])


# --- the browser drill ------------------------------------------------------------------------------------


@pytest.fixture
def hostile_live(live_server: Any) -> Any:  # noqa: F811  (the re-exported fixture)
    """A live server whose database holds an event, a reporter and posts carrying the payloads."""
    from app.events import service as events_service
    from app.ingest import repository as ingest_repo
    from app.reporters import service as reporters_service
    from app.scoring import service as scoring_service
    from tests.security.conftest import _make_event, collected

    with live_server.session() as session:
        event = _make_event(session, "wcc2025")
        reporter = reporters_service.add_reporter(
            session=session,
            name="Ana",
            email=None,
            accounts=["mastodon:ana@social.example"],
            verified=True,
        )
        events_service.register(
            session=session,
            reporter=reporter,
            event=event,
            at=datetime(2025, 9, 1, tzinfo=UTC),
            channel="staff",
        )
        now = datetime(2025, 11, 20, tzinfo=UTC)
        ingest_repo.upsert_posts(
            session, source_id=None, posts=[collected(i, "ana", day=10 + i) for i in range(3)], now=now
        )
        scoring_service.rescore_event(session, event, now=now - timedelta(days=0))
        session.commit()
        plant(session, event.id or 0, reporter.id or 0, None)
    return live_server


@pytest.mark.browser
def test_no_dialog_fires_on_the_public_pages_and_the_wall(hostile_live: Any, page: Any) -> None:  # noqa: F811
    for path in ("/", "/events", "/events/wcc2025", "/events/wcc2025/leaderboard", "/events/wcc2025/wall"):
        page.goto(path)
        page.wait_for_load_state("networkidle")
        assert "onload=alert('event')" in page.inner_text("body") or path == "/events/wcc2025/leaderboard"
    page.goto("/events/wcc2025/leaderboard")
    assert "<script>alert('name')</script>Ana" in page.inner_text("body")  # shown as text
    page.goto("/events/wcc2025/wall")
    page.wait_for_timeout(1500)  # let the wall refresh itself at least once
    assert page.evaluate("() => document.querySelectorAll('script:not([src])').length") == 0
