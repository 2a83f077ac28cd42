"""The judge workspace and publication in a real browser: blind scoring saves without showing who the
entry is; staff publish and the public results page shows the result."""

from __future__ import annotations

import pytest
from sqlmodel import select

from app.judging import service as judging
from app.judging.models import JudgeScore, ShortlistEntry
from app.judging.repository import criteria_of
from app.users.models import Role
from tests.web.conftest import PASSWORD
from tests.web.test_web_staff_seed import judged_event, make_user

pytestmark = pytest.mark.browser

SEEDED_IDENTITIES = ("Ana Fern", "Bo Lagoon", "anafern", "bolagoon", "social.example")


def log_in(page, email, next_path):
    page.goto(next_path)
    page.wait_for_url("**/login?next=**")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"**{next_path}")


def test_a_judge_scores_an_entry_in_blind_mode_without_seeing_who_it_is(page, live_server):
    with live_server.session() as session:
        judge = make_user(session, role=Role.JUDGE, email="jo@example.org", name="Jo Judge")
        judged_event(session, slug="forum-blind", blind=True)
        session.commit()

    log_in(page, "jo@example.org", "/judging")
    assert page.get_by_role("heading", name="Best overall coverage").is_visible()
    for identity in SEEDED_IDENTITIES:
        assert identity not in page.locator("main").inner_text()

    page.locator("tr[data-entry] a").first.click()
    page.wait_for_url("**/judging/entries/**")
    text = page.locator("main").inner_text()
    for identity in SEEDED_IDENTITIES:
        assert identity not in text
    assert "Names, handles, links and scores are hidden." in text

    storytelling = page.get_by_role("group", name="Storytelling")
    storytelling.get_by_label("4", exact=True).check()
    page.get_by_role("button", name="Save scores").click()
    accuracy_error = page.get_by_role("group", name="Accuracy").locator(".field-error")
    assert accuracy_error.inner_text() == "Choose a score from 1 to 5 for “Accuracy”."
    assert page.get_by_role("group", name="Storytelling").get_by_label("4", exact=True).is_checked()

    page.get_by_role("group", name="Accuracy").get_by_label("3", exact=True).check()
    page.get_by_label("Comment (optional)").first.fill("Vivid and well sourced")
    page.get_by_role("button", name="Save scores").click()
    assert page.get_by_role("status").inner_text() == "Your scores are saved."
    assert page.get_by_role("group", name="Accuracy").get_by_label("3", exact=True).is_checked()

    with live_server.session() as session:
        saved = session.exec(select(JudgeScore).where(JudgeScore.judge_id == judge.id)).all()
        assert sorted((s.score, s.comment) for s in saved) == [(3, ""), (4, "Vivid and well sourced")]
    page.goto("/judging")
    assert page.get_by_text("You have scored 1 of 2 entries.").is_visible()


def test_staff_publish_results_and_the_public_results_page_shows_them(page, live_server):
    with live_server.session() as session:
        make_user(session, role=Role.STAFF, email="sam@example.org", name="Sam Staff")
        judge = make_user(session, role=Role.JUDGE, email="jo@example.org", name="Jo Judge")
        _, category, reporters = judged_event(session, slug="forum-publish", blind=True)
        rubric = [c.id for c in criteria_of(session, category.id)]
        for entry in session.exec(select(ShortlistEntry).where(ShortlistEntry.category_id == category.id)):
            mark = 5 if entry.reporter_id == reporters[1].id else 1
            judging.score_entry(
                session=session,
                entry_id=entry.id,
                judge=judge,
                scores=[judging.ScoreInput(c, mark) for c in rubric],
            )
        session.commit()

    page.goto("/events/forum-publish/results")
    assert page.get_by_text("No results are published yet.").is_visible()

    log_in(page, "sam@example.org", "/staff/events/forum-publish/judging")
    page.get_by_role("link", name="Preview results").click()
    page.wait_for_url("**/categories/best-overall/results")
    assert page.get_by_text("nothing is public yet").is_visible()
    page.get_by_role("button", name="Publish these results").click()
    assert page.get_by_role("status").inner_text() == "The results are published."

    page.get_by_role("link", name="Public results page").click()
    page.wait_for_url("**/events/forum-publish/results")
    assert page.get_by_role("heading", name="Best overall coverage").is_visible()
    rows = page.locator("table.results tbody tr")
    assert rows.count() == 2
    assert "Bo Lagoon" in rows.nth(0).inner_text()  # the judge's favourite wins
    assert "Ana Fern" in rows.nth(1).inner_text()
