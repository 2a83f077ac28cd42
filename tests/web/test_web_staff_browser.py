"""The staff console in a real browser (Chromium via Playwright) against a live server: subsidy approval
with the budget left, refusal of one's own subsidy, moderation changing the leaderboard."""

from __future__ import annotations

import pytest

from app.subsidies import service as subsidies
from app.users.models import Role
from tests.web.conftest import PASSWORD
from tests.web.test_web_staff_seed import make_user, past_event, reporter_with_posts, rescore

pytestmark = pytest.mark.browser


def log_in(page, email, next_path):
    page.goto(next_path)
    page.wait_for_url("**/login?next=**")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"**{next_path}")


def test_staff_approves_a_subsidy_and_the_budget_left_changes(page, live_server):
    with live_server.session() as session:
        make_user(session, role=Role.STAFF, email="sam@example.org", name="Sam Staff")
        event = past_event(session, slug="forum-budget", budget="1000")
        reporter_with_posts(session, event, name="Ana Eligible", handle="anaelig")
        rescore(session, event)
        session.commit()

    log_in(page, "sam@example.org", "/staff/events/forum-budget/subsidies")
    budget_left = page.locator("#budget-left")
    assert budget_left.inner_text() == "1,000.00 CHF"
    assert page.get_by_text("1 of 1 registered reporters meet every criterion.").is_visible()

    page.get_by_role("button", name="Propose subsidies").click()
    assert page.get_by_role("status").inner_text() == "1 subsidy proposed."
    row = page.locator("tr[data-subsidy]")
    assert "Ana Eligible" in row.inner_text()
    assert "Proposed" in row.inner_text()

    page.get_by_role("button", name="Approve the subsidy of Ana Eligible").click()
    assert page.get_by_role("status").inner_text() == "The subsidy is approved."
    assert budget_left.inner_text() == "750.00 CHF"
    assert "Approved" in page.locator("tr[data-subsidy]").inner_text()
    assert "Sam Staff" in page.locator("tr[data-subsidy]").inner_text()  # who decided


def test_approving_ones_own_subsidy_is_refused_with_a_clear_message(page, live_server):
    with live_server.session() as session:
        staff = make_user(session, role=Role.STAFF, email="sam@example.org", name="Sam Staff")
        event = past_event(session, slug="forum-self")
        reporter_with_posts(session, event, name="Sam Staff", handle="samstaff", user_id=staff.id)
        rescore(session, event)
        subsidies.propose_subsidies(session=session, event=event, actor=None)
        session.commit()

    log_in(page, "sam@example.org", "/staff/events/forum-self/subsidies")
    page.get_by_role("button", name="Approve the subsidy of Sam Staff").click()

    alert = page.get_by_role("alert")
    assert alert.inner_text() == "you cannot approve your own subsidy: another staff member must decide"
    assert page.locator("#budget-left").inner_text() == "1,000.00 CHF"
    assert "Proposed" in page.locator("tr[data-subsidy]").inner_text()


def test_staff_excludes_a_post_with_a_reason_and_the_leaderboard_changes(page, live_server):
    with live_server.session() as session:
        make_user(session, role=Role.STAFF, email="sam@example.org", name="Sam Staff")
        event = past_event(session, slug="forum-mod", days_ago=1, fee=None, budget=None)
        reporter_with_posts(session, event, name="Ana Leader", handle="analeader", posts=3, article=False)
        reporter_with_posts(session, event, name="Bo Second", handle="bosecond", posts=2, article=False)
        rescore(session, event)
        session.commit()

    page.goto("/events/forum-mod/leaderboard")
    first = page.locator("table.leaderboard tbody tr").nth(0)
    assert "Ana Leader" in first.inner_text()

    log_in(page, "sam@example.org", "/staff/moderation?event=forum-mod")
    ana_posts = page.locator("li.queue-item", has_text="Ana Leader")
    assert ana_posts.count() == 3
    for _ in range(2):  # two of Ana's three posts: she falls behind Bo
        item = page.locator("li.queue-item:not(.is-excluded)", has_text="Ana Leader").first
        item.get_by_role("button", name="Exclude").click()
        assert page.locator(".field-error").first.inner_text().startswith("Give a reason")
        item = page.locator("li.queue-item:not(.is-excluded)", has_text="Ana Leader").first
        item.get_by_label("Reason for excluding (shown to the reporter)").fill(
            "Off-topic: not about the forum"
        )
        item.get_by_role("button", name="Exclude").click()
        assert page.get_by_role("status").inner_text() == "The post is excluded and the scores are updated."

    assert page.locator("li.queue-item.is-excluded").count() == 2
    assert page.get_by_text("Reason: Off-topic: not about the forum").count() == 2

    page.goto("/events/forum-mod/leaderboard")
    rows = page.locator("table.leaderboard tbody tr")
    assert "Bo Second" in rows.nth(0).inner_text()
    assert "Ana Leader" in rows.nth(1).inner_text()
