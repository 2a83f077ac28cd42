"""The public pages in a real browser (Chromium via Playwright) against a live server."""

from __future__ import annotations

from datetime import date

import pytest

from app.events.service import require_event
from tests.web.web_factories import add_post, make_event, make_reporter, rescore

pytestmark = pytest.mark.browser

REFRESH_CYCLES = 4  # the wall must show new data within this many refreshes


def test_calendar_lists_events_by_month_and_links_the_ics(page, live_server):
    with live_server.session() as session:
        make_event(
            session, slug="wcc2025", name="World Conservation Congress", start=date(2025, 10, 9), days=7
        )
        make_event(session, slug="cbd-cop17", name="CBD COP17", start=date(2026, 10, 19), days=12)
        make_event(session, slug="hidden-one", name="Draft forum", published=False)
        session.commit()

    page.goto("/events")

    assert page.get_by_role("heading", name="October 2025").is_visible()
    assert page.get_by_role("heading", name="October 2026").is_visible()
    assert (
        page.get_by_role("link", name="World Conservation Congress", exact=True).get_attribute("href")
        == "/events/wcc2025"
    )
    assert page.get_by_text("9–15 October 2025").is_visible()
    assert page.get_by_text("Draft forum").count() == 0
    ics_link = page.get_by_role("link", name="Subscribe to the calendar (.ics)")
    assert ics_link.get_attribute("href") == "/calendar.ics"
    feed = page.request.get(live_server.url + "/calendar.ics")
    assert feed.status == 200
    assert feed.headers["content-type"].startswith("text/calendar")
    assert "World Conservation Congress" in feed.text()

    page.get_by_role("link", name="World Conservation Congress", exact=True).click()
    page.wait_for_url("**/events/wcc2025")
    assert (
        page.get_by_role("link", name="Live leaderboard").get_attribute("href")
        == "/events/wcc2025/leaderboard"
    )


def _seed_leaderboard(live_server):
    with live_server.session() as session:
        event = make_event(session, slug="wcc", name="Congress")
        ana = make_reporter(
            session, name="Ana Mastodon", account="mastodon:ana@mastodon.example", event=event
        )
        bo = make_reporter(session, name="Bo On X", account="x:bo_reports", event=event)
        make_reporter(
            session, name="Secret Sam", account="mastodon:sam@mastodon.example", event=event, public=False
        )
        for _ in range(3):
            add_post(session, author_key="mastodon:ana@mastodon.example")
        add_post(session, author_key="x:bo_reports")
        add_post(session, author_key="mastodon:sam@mastodon.example")
        rescore(session, event)
        session.commit()
        return ana.id, bo.id


def test_leaderboard_shows_reporters_hides_the_anonymous_name_and_filters_by_platform(page, live_server):
    ana_id, bo_id = _seed_leaderboard(live_server)

    page.goto("/events/wcc/leaderboard")

    rows = page.locator("table.leaderboard tbody tr")
    assert rows.count() == 3
    assert rows.nth(0).get_attribute("data-reporter") == str(ana_id)
    assert "Ana Mastodon" in rows.nth(0).inner_text()
    assert page.get_by_text("Anonymous reporter").count() == 1
    assert "Secret Sam" not in page.content()

    page.get_by_label("Platform").select_option("x")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url("**platform=x**")

    assert page.locator("table.leaderboard caption").inner_text() == "Reporters ranked by points on X"
    first = page.locator("table.leaderboard tbody tr").nth(0)
    assert first.get_attribute("data-reporter") == str(bo_id)
    assert page.get_by_label("Platform").input_value() == "x"


def test_display_wall_refreshes_itself_without_navigation(page, live_server):
    with live_server.session() as session:
        event = make_event(session, slug="wall-event", name="Wall Congress")
        make_reporter(session, name="Ana Wall", account="mastodon:ana@wall.example", event=event)
        add_post(
            session,
            author_key="mastodon:ana@wall.example",
            text="First light over the reserve, a fine morning for birds #iucncec",
        )
        rescore(session, event)
        session.commit()

    page.goto("/events/wall-event/wall?refresh=1")
    assert page.get_by_text("First light over the reserve").is_visible()
    chart_title = page.locator("#wall-live svg[role=img] > title").text_content()
    assert chart_title == "Counted posts per hour by platform"
    page.evaluate("window.__sameDocument = true")
    live = page.locator("#wall-live")
    start = int(live.get_attribute("data-refresh-count"))

    with live_server.session() as session:
        event = require_event(session=session, slug="wall-event")
        make_reporter(session, name="Bo Newcomer", account="x:bo_new", event=event)
        add_post(
            session,
            author_key="x:bo_new",
            text="Fresh from the plenary: a new pledge for seagrass meadows #iucncec",
        )
        rescore(session, event)
        session.commit()

    # Wait for the new post or for REFRESH_CYCLES more swaps, whichever comes first; then require the post.
    page.wait_for_function(
        """([start, cycles]) => {
            const live = document.getElementById('wall-live');
            return live.textContent.includes('new pledge for seagrass')
                || Number(live.dataset.refreshCount) >= start + cycles;
        }""",
        arg=[start, REFRESH_CYCLES],
    )
    assert "new pledge for seagrass" in live.inner_text()
    assert "Bo Newcomer" in page.locator(".wall-ranking").inner_text()
    assert page.evaluate("window.__sameDocument") is True  # swapped in place, never reloaded


def test_hostile_post_html_renders_inert_on_the_wall(page, live_server, browser_problems):
    hostile = (
        "<p>Reef survey</p><script>alert(1)</script><img src=x onerror=alert(1)>"
        '<a href="javascript:alert(1)">x</a>'
    )
    with live_server.session() as session:
        event = make_event(session, slug="xss-event", name="Safe Congress")
        make_reporter(session, name="Mallory", account="mastodon:mallory@evil.example", event=event)
        add_post(
            session,
            author_key="mastodon:mallory@evil.example",
            html=hostile,
            text="Reef survey results from the northern atoll are in, and they look good #iucncec",
        )
        add_post(
            session,
            author_key="mastodon:mallory@evil.example",
            html=None,
            text="Plain text with markup <script>alert(1)</script> <img src=x onerror=alert(1)> #iucncec",
        )
        rescore(session, event)
        session.commit()

    page.goto("/events/xss-event/wall?refresh=1")
    live = page.locator("#wall-live")
    page.wait_for_function("() => Number(document.getElementById('wall-live').dataset.refreshCount) >= 2")

    assert live.locator("script").count() == 0
    assert live.locator("img").count() == 0
    assert live.locator("[onerror]").count() == 0
    assert live.locator("a[href^='javascript']").count() == 0
    assert page.get_by_text("Reef survey", exact=True).is_visible()
    assert "<script>alert(1)</script>" in live.inner_text()  # plain text is shown as text
    assert browser_problems.dialogs == []


def test_sign_up_then_log_in_then_log_out(page):
    page.goto("/signup")
    page.get_by_label("Name").fill("Rita Reporter")
    page.get_by_label("Email").fill("rita@example.org")
    page.get_by_label("Password").fill("short")
    page.get_by_role("button", name="Create account").click()
    assert page.locator("#f-password-error").inner_text() == "Use at least 10 characters."
    assert page.get_by_label("Email").input_value() == "rita@example.org"

    page.get_by_label("Password").fill("a long enough password")
    page.get_by_role("button", name="Create account").click()
    page.wait_for_url("**/login?registered=1")
    assert page.get_by_role("status").inner_text() == "Your account is ready. Log in to continue."

    page.get_by_label("Email").fill("rita@example.org")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Log in").click()
    assert page.get_by_role("alert").inner_text() == "Wrong email or password."

    page.get_by_label("Password").fill("a long enough password")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(lambda url: url.endswith("/"))
    assert page.get_by_text("Signed in as Rita Reporter").is_visible()

    page.get_by_role("button", name="Log out").click()
    page.wait_for_url("**/login?logged_out=1")
    assert page.get_by_role("link", name="Sign up", exact=True).is_visible()


def test_keyboard_reaches_the_main_links_in_order_and_fields_have_labels(page, live_server):
    with live_server.session() as session:
        make_event(session, slug="kbd-event", name="Keyboard Summit")
        session.commit()
    page.goto("/events")

    reached = []
    for _ in range(9):
        page.keyboard.press("Tab")
        reached.append(page.evaluate("document.activeElement.textContent.trim()"))
    expected = [
        "Skip to main content",
        "BlogItEarnIt",
        "Events",
        "Calendar feed (.ics)",
        "Log in",
        "Sign up",
        "Subscribe to the calendar (.ics)",
        "Keyboard Summit",
    ]
    assert reached[: len(expected)] == expected

    page.goto("/events")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")  # the skip link moves focus into the main content
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent.trim()") == "Subscribe to the calendar (.ics)"

    for path in ("/login", "/signup", "/events/kbd-event/leaderboard"):
        page.goto(path)
        unlabeled = page.evaluate(
            """() => [...document.querySelectorAll('input, select, textarea')]
                .filter(el => el.type !== 'hidden' && el.labels.length === 0)
                .map(el => el.name)"""
        )
        assert unlabeled == [], path
