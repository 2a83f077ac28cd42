"""Moderation: exclude / restore re-score at once and show the reason; the queue; reading a post."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session, select

from app.audit.models import AuditEntry
from app.ingest import moderation
from app.ingest.models import Post
from app.scoring.models import ScoreDirty
from scoring.verdicts import REASON_TEXT, Reason
from tests.standing.standing_seed import Seeded, check_problem

QUEUE = "/api/v1/moderation/queue"


def _board(client: Any) -> dict[int, dict[str, Any]]:
    data = client.get("/api/v1/events/wcc2025/leaderboard").json()["data"]
    return {item["reporter"]["id"]: item for item in data}


def test_exclude_and_restore_change_the_board_at_once(login_as: Any, seeded: Seeded, db: Session) -> None:
    staff = login_as("staff")
    ana = login_as(user=seeded.ana)
    ana_id = seeded.ana_reporter.id
    post_id = seeded.post_id("ana_day10")
    before = _board(staff.client)[ana_id]

    response = staff.client.post(
        f"/api/v1/posts/{post_id}/exclude", json={"reason": "  Off-topic:  a sales ad "}
    )
    assert response.status_code == 200, response.text
    assert response.json()["moderation"]["excluded_reason"] == "Off-topic: a sales ad"
    after = _board(staff.client)[ana_id]
    assert after["posts_counted"] == before["posts_counted"] - 1
    assert after["score_thousandths"] < before["score_thousandths"]

    line = next(
        p
        for p in ana.client.get("/api/v1/me/standing/wcc2025").json()["posts"]["data"]
        if p["post_id"] == post_id
    )
    assert line["counted"] is False
    assert Reason.EXCLUDED_BY_STAFF.value in line["reasons"]
    assert REASON_TEXT[Reason.EXCLUDED_BY_STAFF] in line["reason_texts"]
    assert line["excluded_reason"] == "Off-topic: a sales ad"

    check_problem(staff.client.post(f"/api/v1/posts/{post_id}/exclude", json={"reason": "again"}), 409)
    restored = staff.client.post(f"/api/v1/posts/{post_id}/restore", json={"reason": "appeal accepted"})
    assert restored.status_code == 200, restored.text
    assert _board(staff.client)[ana_id]["score_thousandths"] == before["score_thousandths"]
    check_problem(staff.client.post(f"/api/v1/posts/{post_id}/restore", json={"reason": "twice"}), 409)

    db.expire_all()
    entries = db.exec(
        select(AuditEntry).where(AuditEntry.target_type == "post", AuditEntry.target_id == str(post_id))
    ).all()
    assert [(e.action, e.actor_id, e.actor_role, e.detail["reason"]) for e in entries] == [
        ("post.exclude", staff.user.id, "staff", "Off-topic: a sales ad"),
        ("post.restore", staff.user.id, "staff", "appeal accepted"),
    ]
    assert all(e.address == "198.51.100.7" for e in entries)
    assert db.exec(select(ScoreDirty).where(ScoreDirty.reporter_id == ana_id)).first() is not None


def test_moderation_needs_staff_and_a_reason(login_as: Any, api_client: Any, seeded: Seeded) -> None:
    post_id = seeded.post_id("ana_day10")
    ana = login_as(user=seeded.ana)
    check_problem(ana.client.post(f"/api/v1/posts/{post_id}/exclude", json={"reason": "mine"}), 403)
    check_problem(api_client.post(f"/api/v1/posts/{post_id}/exclude", json={"reason": "x"}), 401)
    staff = login_as("staff", via="token")
    for body in ({}, {"reason": ""}, {"reason": "   "}, {"reason": "x" * 1001}, {"reason": "ok", "extra": 1}):
        check_problem(staff.client.post(f"/api/v1/posts/{post_id}/exclude", json=body), 422)
    check_problem(staff.client.post("/api/v1/posts/99999999/exclude", json={"reason": "spam"}), 404)
    check_problem(staff.client.post("/api/v1/posts/0/exclude", json={"reason": "spam"}), 422)


def test_moderation_queue_filters(login_as: Any, seeded: Seeded, db: Session) -> None:
    staff = login_as("staff")
    everything = staff.client.get(QUEUE, params={"event": "wcc2025"}).json()
    assert everything["count"] == 8
    created = [i["created_at"] for i in everything["data"]]
    assert created == sorted(created, reverse=True)
    hidden = next(i for i in everything["data"] if i["post_id"] == seeded.post_id("bo_day10"))
    assert hidden["reporter"]["name"] == "Bo Hidden"  # staff see names of anonymous reporters
    counted = staff.client.get(
        "/api/v1/moderation/queue", params={"event": "wcc2025", "counted": True}
    ).json()
    assert counted["count"] == 5
    refused = staff.client.get(
        "/api/v1/moderation/queue", params={"event": "wcc2025", "counted": False}
    ).json()
    assert refused["count"] == 3
    assert {tuple(i["reasons"]) for i in refused["data"]} >= {("too_short",), ("missing_tag",)}
    staff.client.post(
        f"/api/v1/posts/{seeded.post_id('bo_day12')}/exclude", json={"reason": "duplicate of blog"}
    )
    excluded = staff.client.get(
        "/api/v1/moderation/queue", params={"event": "wcc2025", "excluded": True}
    ).json()
    assert [i["post_id"] for i in excluded["data"]] == [seeded.post_id("bo_day12")]
    assert excluded["data"][0]["excluded_reason"] == "duplicate of blog"
    none = staff.client.get(QUEUE, params={"event": "wcc2025", "platform": "x"}).json()
    assert none == {"data": [], "count": 0}
    # without an event: only events whose coverage window is running
    assert staff.client.get("/api/v1/moderation/queue").json()["count"] == 0
    _, open_total = moderation.moderation_queue(session=db, now=datetime(2025, 10, 16, tzinfo=UTC))
    assert open_total == 8
    check_problem(staff.client.get(QUEUE, params={"event": "nope2031"}), 404)
    ana = login_as(user=seeded.ana)
    check_problem(ana.client.get("/api/v1/moderation/queue"), 403)


def test_who_may_read_a_post(login_as: Any, api_client: Any, seeded: Seeded, db: Session) -> None:
    public_id = seeded.post_id("ana_day10")
    post = db.get(Post, public_id)
    assert post is not None
    post.html = '<p>Mangroves <a href="https://example.org">link</a></p><script>alert(1)</script>'
    db.add(post)
    db.commit()
    body = api_client.get(f"/api/v1/posts/{public_id}").json()
    assert body["reporter"] == {"id": seeded.ana_reporter.id, "name": "Ana Reporter"}
    assert "<script>" not in body["html"]
    assert "Mangroves" in body["html"]
    assert body["moderation"] is None
    assert body["verdicts"] is None
    # an anonymous reporter's post is not public; its owner and staff see it, with verdicts
    bo_post = seeded.post_id("bo_day10")
    check_problem(api_client.get(f"/api/v1/posts/{bo_post}"), 404)
    bo = login_as(user=seeded.bo)
    mine = bo.client.get(f"/api/v1/posts/{bo_post}").json()
    assert mine["verdicts"][0]["event"] == "wcc2025"
    assert mine["verdicts"][0]["counted"] is True
    check_problem(bo.client.get(f"/api/v1/posts/{public_id}/exclude"), 405)
    staff = login_as("staff")
    staff.client.post(f"/api/v1/posts/{public_id}/exclude", json={"reason": "spam"})
    check_problem(api_client.get(f"/api/v1/posts/{public_id}"), 404)
    seen = staff.client.get(f"/api/v1/posts/{public_id}").json()
    assert seen["moderation"]["excluded"] is True
    assert seen["moderation"]["excluded_by"] == staff.user.id
    owner = login_as(user=seeded.ana).client.get(f"/api/v1/posts/{public_id}").json()
    assert (owner["moderation"]["excluded_reason"], owner["moderation"]["excluded_by"]) == ("spam", None)
    assert seen["verdicts"][0]["reasons"] == ["excluded_by_staff"]
    check_problem(api_client.get("/api/v1/posts/12345678"), 404)
