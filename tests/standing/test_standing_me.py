"""A reporter's standing: breakdown, verdicts in words, eligibility numbers, history; who may read it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session, select

from app.events.models import Registration
from app.scoring import standing
from scoring.verdicts import REASON_TEXT, Reason
from tests.standing.standing_seed import Seeded, check_problem


def test_my_standing_lists_every_event(login_as: Any, seeded: Seeded) -> None:
    ana = login_as(user=seeded.ana)
    body = ana.client.get("/api/v1/me/standing").json()
    assert body["count"] == 1
    (summary,) = body["data"]
    assert summary["event"]["slug"] == "wcc2025"
    assert (summary["rank"], summary["registered"], summary["ranked_reporters"]) == (2, True, 2)
    assert (summary["posts_counted"], summary["posts_not_counted"]) == (2, 3)
    board = ana.client.get("/api/v1/events/wcc2025/leaderboard").json()["data"]
    assert summary["score_thousandths"] == board[1]["score_thousandths"]


def test_standing_detail_explains_every_post(login_as: Any, seeded: Seeded) -> None:
    ana = login_as(user=seeded.ana)
    response = ana.client.get("/api/v1/me/standing/wcc2025")
    assert response.status_code == 200, response.text
    detail = response.json()
    b = detail["breakdown"]
    parts = ("base", "engagement", "daily_cap_effect", "day_bonus", "platform_bonus")
    assert sum(b[f"{p}_thousandths"] for p in parts) == b["score_thousandths"] == detail["score_thousandths"]
    assert b["base_thousandths"] == 2000  # two short posts at 1.0
    assert b["engagement_thousandths"] > 0  # three likes on the first
    assert b["day_bonus_thousandths"] == 4000  # +2 per event day, two days
    assert (b["event_days_covered"], b["platforms"]) == (2, ["mastodon"])

    posts = {p["post_id"]: p for p in detail["posts"]["data"]}
    assert detail["posts"]["count"] == 5
    counted = posts[seeded.post_id("ana_day10")]
    assert counted["counted"] is True
    assert counted["points_thousandths"] > 1000
    assert counted["reasons"] == []
    assert counted["url"] == "https://social.example/@ana/a1"
    assert counted["excerpt"].startswith("Mangrove restoration")
    expected = {"ana_short": Reason.TOO_SHORT, "ana_untagged": Reason.MISSING_TAG, "ana_boost": Reason.REPOST}
    for name, reason in expected.items():
        line = posts[seeded.post_id(name)]
        assert line["counted"] is False
        assert line["points_thousandths"] == 0
        assert reason.value in line["reasons"]
        assert REASON_TEXT[reason] in line["reason_texts"]
        assert len(line["reasons"]) == len(line["reason_texts"])
    # newest first
    created = [p["created_at"] for p in detail["posts"]["data"]]
    assert created == sorted(created, reverse=True)

    eligibility = detail["eligibility"]
    criteria = {c["code"]: c for c in eligibility["criteria"]}
    assert eligibility["eligible"] is False
    assert criteria["registered_in_time"]["met"] is True
    assert (criteria["posts"]["actual"], criteria["posts"]["required"]) == (2, 5)
    assert criteria["posts"]["words"] == "2 of 5 posts"
    assert criteria["posts"]["missing"] == "3 more posts"
    assert criteria["event_days"]["met"] is True
    assert criteria["blog_articles"]["missing"] == "1 more blog article"
    assert eligibility["missing"] == ["3 more posts", "1 more blog article"]
    assert (eligibility["currency"], eligibility["potential_subsidy"], eligibility["subsidy"]) == (
        "CHF",
        "250.00",
        None,
    )
    history = detail["history"]
    assert history
    assert history[-1]["score_thousandths"] == detail["score_thousandths"]
    assert history[-1]["rank"] == detail["rank"] == 2


def test_standing_posts_filter_and_pagination(login_as: Any, seeded: Seeded) -> None:
    ana = login_as(user=seeded.ana)
    counted = ana.client.get("/api/v1/me/standing/wcc2025", params={"counted": "true"}).json()["posts"]
    assert counted["count"] == 2
    assert all(p["counted"] for p in counted["data"])
    refused = ana.client.get("/api/v1/me/standing/wcc2025", params={"counted": "false"}).json()["posts"]
    assert refused["count"] == 3
    assert not any(p["counted"] for p in refused["data"])
    page = ana.client.get("/api/v1/me/standing/wcc2025", params={"limit": 2, "offset": 4}).json()["posts"]
    assert (page["count"], len(page["data"])) == (5, 1)
    check_problem(ana.client.get("/api/v1/me/standing/wcc2025", params={"limit": 1000}), 422)
    check_problem(ana.client.get("/api/v1/me/standing/nope2031"), 404)


def test_who_may_read_a_standing(login_as: Any, api_client: Any, seeded: Seeded) -> None:
    ana_id = seeded.ana_reporter.id
    bo = login_as(user=seeded.bo)
    check_problem(bo.client.get(f"/api/v1/reporters/{ana_id}/standing/wcc2025"), 404)
    own = bo.client.get(f"/api/v1/reporters/{seeded.bo_reporter.id}/standing/wcc2025")
    assert own.status_code == 200
    assert own.json()["rank"] == 1
    check_problem(api_client.get(f"/api/v1/reporters/{ana_id}/standing/wcc2025"), 401)
    check_problem(api_client.get("/api/v1/me/standing"), 401)
    staff = login_as("staff")
    seen = staff.client.get(f"/api/v1/reporters/{ana_id}/standing/wcc2025")
    assert seen.status_code == 200
    assert seen.json()["posts"]["count"] == 5
    check_problem(staff.client.get("/api/v1/reporters/999999/standing/wcc2025"), 404)
    check_problem(staff.client.get("/api/v1/me/standing"), 403)  # staff have no reporter profile


def test_eligibility_for_matches_the_page(db: Session, seeded: Seeded) -> None:
    eligibility = standing.eligibility_for(
        session=db, event=seeded.event, reporter_id=seeded.bo_reporter.id or 0
    )
    posts = next(c for c in eligibility.criteria if c.code == "posts")
    assert (posts.actual, posts.required, posts.met) == (3, 5, False)


def test_unregistered_reporter_sees_why(login_as: Any, seeded: Seeded, db: Session) -> None:
    for row in db.exec(select(Registration).where(Registration.reporter_id == seeded.ana_reporter.id)):
        row.withdrawn_at = datetime.now(UTC)
        db.add(row)
    db.commit()
    ana = login_as(user=seeded.ana)
    detail = ana.client.get("/api/v1/me/standing/wcc2025").json()
    assert detail["registered"] is False
    assert detail["rank"] is None
    assert all(Reason.NOT_REGISTERED.value in p["reasons"] for p in detail["posts"]["data"])
    criteria = {c["code"]: c for c in detail["eligibility"]["criteria"]}
    assert criteria["registered_in_time"]["missing"] == "register for the event before it starts"
