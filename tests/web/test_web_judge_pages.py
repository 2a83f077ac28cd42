"""Judging in the web pages over HTTP: staff freeze and categories, the blind judge workspace, the rubric
form and its errors, conflicts, preview and publication, the public results page."""

from __future__ import annotations

import re

import pytest
from sqlmodel import select

from app.judging import service as judging
from app.judging.models import Freeze, JudgeConflict, JudgeScore, PrizeCategory, ShortlistEntry
from app.judging.repository import criteria_of
from app.users.models import Role
from tests.web.conftest import PASSWORD, form_token
from tests.web.test_web_staff_seed import judged_event, make_user, past_event, reporter_with_posts, rescore

TOKEN_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
SEEDED_IDENTITIES = ("Ana Fern", "Bo Lagoon", "anafern", "bolagoon")


def log_in(client, email):
    token = form_token(client, "/login")
    response = client.post("/login", data={"csrf_token": token, "email": email, "password": PASSWORD})
    assert response.status_code == 303, response.text
    return client


def token_of(client, path):
    return TOKEN_RE.search(client.get(path).text).group(1)


@pytest.fixture
def people(web_client_factory, web_db):
    make_user(web_db, role=Role.STAFF, email="sam@example.org", name="Sam Staff")
    judge = make_user(web_db, role=Role.JUDGE, email="jo@example.org", name="Jo Judge")
    make_user(web_db, role=Role.REPORTER, email="rita@example.org", name="Rita")
    web_db.commit()
    return {
        "staff": log_in(web_client_factory(), "sam@example.org"),
        "judge": log_in(web_client_factory(), "jo@example.org"),
        "reporter": log_in(web_client_factory(), "rita@example.org"),
        "anonymous": web_client_factory(),
        "judge_user": judge,
    }


def test_category_form_shows_errors_next_to_fields_then_creates_and_freeze_shows_the_hash(people, web_db):
    event = past_event(web_db, slug="forum-judging", days_ago=3, fee=None, budget=None)  # deadline ahead
    reporter_with_posts(web_db, event, name="Ana Fern", handle="anafern")
    rescore(web_db, event)
    web_db.commit()
    staff = people["staff"]
    path = "/staff/events/forum-judging/judging"
    token = token_of(staff, path)
    form = {"csrf_token": token, "slug": "Best Article!", "name": "", "kind": "article"}
    form |= {"shortlist_size": "0", "auto_weight_percent": "30", "criterion-1-weight": "2"}

    invalid = staff.post("/staff/events/forum-judging/categories", data=form)
    assert invalid.status_code == 422
    for field, words in [
        ("slug", "Use 3–64 lower-case letters"),
        ("name", "Enter the category"),
        ("shortlist_size", "Enter a whole number from 1 to 100."),
        ("criterion-1-name", "Name at least one criterion."),
    ]:
        assert f'id="f-{field}-error">{words}' in invalid.text, field
    assert 'value="Best Article!"' in invalid.text  # what was typed comes back

    form |= {"slug": "best-article", "name": "Best blog article", "shortlist_size": "3"}
    form |= {"criterion-1-name": "Depth", "criterion-2-name": "Clarity", "blind": "on"}
    created = staff.post("/staff/events/forum-judging/categories", data=form)
    assert created.status_code == 303
    category = web_db.exec(select(PrizeCategory).where(PrizeCategory.slug == "best-article")).one()
    assert category.blind
    assert category.kind == "article"
    assert category.shortlist_size == 3

    early = staff.post("/staff/events/forum-judging/freeze", data={"csrf_token": token, "reason": ""})
    assert early.status_code == 409
    assert "freezing earlier needs a reason" in early.text
    assert web_db.exec(select(Freeze)).first() is None

    frozen = staff.post(
        "/staff/events/forum-judging/freeze", data={"csrf_token": token, "reason": "jury meets early"}
    )
    assert frozen.status_code == 303
    freeze = web_db.exec(select(Freeze)).one()
    page = staff.get(path)
    assert f'<code id="freeze-hash" class="hash">{freeze.content_hash}</code>' in page.text
    assert "Ana Fern" in page.text  # staff see who is shortlisted
    assert web_db.exec(select(ShortlistEntry)).all()
    assert staff.post("/staff/events/forum-judging/freeze", data={"csrf_token": token}).status_code == 409


def test_the_judge_workspace_is_blind_and_the_rubric_form_validates_every_criterion(people, web_db):
    event, category, _ = judged_event(web_db, slug="forum-blind")
    web_db.commit()
    judge = people["judge"]

    workspace = judge.get("/judging")
    assert workspace.status_code == 200
    assert "Best overall coverage" in workspace.text
    entry_ids = [int(i) for i in re.findall(r'href="/judging/entries/(\d+)"', workspace.text)]
    assert len(entry_ids) == 2
    entry_page = judge.get(f"/judging/entries/{entry_ids[0]}")
    for text in (workspace.text, entry_page.text):
        for identity in SEEDED_IDENTITIES:
            assert identity not in text
    assert "https://example.org/" not in entry_page.text  # no post URLs either
    ids = sorted({int(i) for i in re.findall(r'name="score-(\d+)"', entry_page.text)})
    assert ids == sorted(c.id for c in criteria_of(web_db, category.id))

    token = TOKEN_RE.search(entry_page.text).group(1)
    partial = judge.post(
        f"/judging/entries/{entry_ids[0]}/scores",
        data={"csrf_token": token, f"score-{ids[0]}": "4", f"comment-{ids[0]}": "vivid"},
    )
    assert partial.status_code == 422
    assert f'id="score-{ids[1]}-error">Choose a score from 1 to 5' in partial.text
    assert f'id="score-{ids[1]}-4"' in partial.text
    assert 'value="4" checked' in partial.text
    tampered = judge.post(
        f"/judging/entries/{entry_ids[0]}/scores",
        data={"csrf_token": token, f"score-{ids[0]}": "9", f"score-{ids[1]}": "3"},
    )
    assert tampered.status_code == 422
    assert web_db.exec(select(JudgeScore)).all() == []

    saved = judge.post(
        f"/judging/entries/{entry_ids[0]}/scores",
        data={
            "csrf_token": token,
            f"score-{ids[0]}": "4",
            f"score-{ids[1]}": "2",
            f"comment-{ids[0]}": "vivid",
        },
    )
    assert saved.status_code == 303
    assert "Your scores are saved." in judge.get(saved.headers["location"]).text
    scores = {s.criterion_id: (s.score, s.comment) for s in web_db.exec(select(JudgeScore)).all()}
    assert scores == {ids[0]: (4, "vivid"), ids[1]: (2, "")}
    assert "You have scored 1 of 2 entries." in judge.get("/judging").text


def test_only_judges_score_staff_look_and_reporters_find_nothing(people, web_db):
    _, _, _ = judged_event(web_db, slug="forum-roles")
    web_db.commit()
    entry = web_db.exec(select(ShortlistEntry)).first()
    staff = people["staff"]

    look = staff.get(f"/judging/entries/{entry.id}")
    assert look.status_code == 200
    assert "Ana Fern" not in look.text  # staff see what a judge sees
    assert "judges score, staff run judging" in look.text
    token = TOKEN_RE.search(look.text).group(1)
    refused = staff.post(f"/judging/entries/{entry.id}/scores", data={"csrf_token": token})
    assert refused.status_code == 403
    assert people["reporter"].get("/judging").status_code == 404
    assert people["reporter"].get(f"/judging/entries/{entry.id}").status_code == 404
    assert people["anonymous"].get("/judging").headers["location"] == "/login?next=/judging"
    assert people["judge"].get("/judging/entries/999999").status_code == 404


def test_a_declared_conflict_recuses_the_judge(people, web_db):
    judged_event(web_db, slug="forum-conflict")
    web_db.commit()
    entry = web_db.exec(select(ShortlistEntry)).first()
    judge = people["judge"]
    token = token_of(judge, f"/judging/entries/{entry.id}")

    declared = judge.post(
        f"/judging/entries/{entry.id}/conflict", data={"csrf_token": token, "reason": "my cousin"}
    )
    assert declared.status_code == 303
    page = judge.get(f"/judging/entries/{entry.id}")
    assert "recused from it" in page.text
    assert 'action="/judging/entries/' not in page.text.split("Your scores")[1].split("</section>")[0]
    [conflict] = web_db.exec(select(JudgeConflict)).all()
    assert (conflict.judge_id, conflict.reason) == (people["judge_user"].id, "my cousin")
    assert 'name="score-' not in page.text
    marks = {f"score-{c.id}": "3" for c in criteria_of(web_db, entry.category_id)}
    refused = judge.post(f"/judging/entries/{entry.id}/scores", data={"csrf_token": token, **marks})
    assert refused.status_code == 403
    assert "you declared a conflict with this entry" in refused.text
    assert web_db.exec(select(JudgeScore)).all() == []


def test_staff_preview_then_publish_and_the_public_results_page_shows_names(people, web_db):
    event, category, reporters = judged_event(web_db, slug="forum-results", blind=False)
    criteria = sorted(c.id for c in criteria_of(web_db, category.id))
    for entry in web_db.exec(select(ShortlistEntry).where(ShortlistEntry.category_id == category.id)).all():
        judging.score_entry(
            session=web_db,
            entry_id=entry.id,
            judge=people["judge_user"],
            scores=[
                judging.ScoreInput(c, 5 if entry.reporter_id == reporters[1].id else 2) for c in criteria
            ],
        )
    web_db.commit()
    public = people["anonymous"]
    assert "No results are published yet." in public.get("/events/forum-results/results").text

    staff = people["staff"]
    preview = staff.get("/staff/events/forum-results/categories/best-overall/results")
    assert preview.status_code == 200
    assert "Ana Fern" in preview.text
    assert "Publish these results" in preview.text
    token = TOKEN_RE.search(preview.text).group(1)
    published = staff.post(
        "/staff/events/forum-results/categories/best-overall/publish", data={"csrf_token": token}
    )
    assert published.status_code == 303
    again = staff.post(
        "/staff/events/forum-results/categories/best-overall/publish", data={"csrf_token": token}
    )
    assert again.status_code == 409
    assert "are published; it can no longer change" in again.text

    results = public.get("/events/forum-results/results")
    assert results.status_code == 200
    assert "Best overall coverage" in results.text
    assert results.text.index("Bo Lagoon") < results.text.index("Ana Fern")  # the judges preferred Bo
    assert "vivid" not in results.text
    assert "judge_id" not in results.text
    assert public.get("/events/nope/results").status_code == 404
    assert staff.get("/staff/events/forum-results/categories/bad%00slug/results").status_code == 404
