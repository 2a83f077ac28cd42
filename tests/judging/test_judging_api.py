"""Judging over HTTP: roles, blind workspace, scores, publication gating, audit, hostile input."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from sqlmodel import Session, col, select

from app.audit.models import AuditEntry
from app.users.models import Role
from tests.judging.conftest import World, build_world

BASE = "/api/v1"
CATEGORY = {
    "slug": "best-coverage",
    "name": "Best overall coverage",
    "kind": "overall",
    "shortlist_size": 3,
    "auto_weight_percent": 25,
    "blind": True,
    "criteria": [{"name": "Insight", "weight": 2}, {"name": "Craft", "weight": 1}],
}


@pytest.fixture
def api_world(db: Session) -> World:
    world = build_world(db)
    db.commit()
    return world


@pytest.fixture
def staff(login_as: Callable[..., Any]) -> Any:
    return login_as(Role.STAFF)


@pytest.fixture
def judge(login_as: Callable[..., Any]) -> Any:
    return login_as(Role.JUDGE)


@pytest.fixture
def frozen(api_world: World, staff: Any) -> World:
    """The world with a blind and an open category, frozen by staff over the API."""
    assert staff.client.post(f"{BASE}/events/wcc2025/categories", json=CATEGORY).status_code == 201
    open_category = {**CATEGORY, "slug": "best-article", "kind": "article", "blind": False}
    assert staff.client.post(f"{BASE}/events/wcc2025/categories", json=open_category).status_code == 201
    response = staff.client.post(f"{BASE}/events/wcc2025/freeze")
    assert response.status_code == 201, response.text
    return api_world


def workspace(actor: Any, **params: Any) -> dict[str, Any]:
    response = actor.client.get(f"{BASE}/judging/workspace", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def blind_block(actor: Any) -> dict[str, Any]:
    return next(b for b in workspace(actor)["data"] if b["category"]["slug"] == "best-coverage")


def put_scores(actor: Any, entry_id: int, criteria: list[int], marks: list[int]) -> Any:
    body = {"scores": [{"criterion_id": c, "score": m} for c, m in zip(criteria, marks, strict=True)]}
    return actor.client.put(f"{BASE}/judging/entries/{entry_id}/scores", json=body)


def test_freeze_over_http_once_with_hash_and_verify(
    api_world: World, staff: Any, judge: Any, api_client: Any, assert_problem: Callable[..., Any]
) -> None:
    assert_problem(judge.client.post(f"{BASE}/events/wcc2025/freeze"), 403)
    assert_problem(api_client.post(f"{BASE}/events/wcc2025/freeze"), 401)
    first = staff.client.post(f"{BASE}/events/wcc2025/freeze", json={"reason": None})
    assert first.status_code == 201, first.text
    body = first.json()
    assert len(body["content_hash"]) == 64
    assert body["rules_version"] == "2026.1"
    assert body["reporters"] == 4
    assert_problem(staff.client.post(f"{BASE}/events/wcc2025/freeze"), 409)
    assert judge.client.get(f"{BASE}/events/wcc2025/freeze").json()["content_hash"] == body["content_hash"]
    verified = staff.client.get(f"{BASE}/events/wcc2025/freeze/verify").json()
    assert verified["ok"] is True
    assert verified["recomputed_hash"] == body["content_hash"]
    assert_problem(judge.client.get(f"{BASE}/events/wcc2025/freeze/verify"), 403)
    assert_problem(staff.client.get(f"{BASE}/events/cop16/freeze"), 404)
    assert_problem(staff.client.post(f"{BASE}/events/nope-nope/freeze"), 404)


def test_blind_workspace_hides_identity(frozen: World, judge: Any) -> None:
    block = blind_block(judge)
    assert block["category"]["blind"] is True
    assert len(block["entries"]) == 3
    text = json.dumps(block)
    for secret in (
        "Ana Alvarez",
        "Bo Berg",
        "Cy Chen",
        "ana@social.example",
        "@ana",
        "social.example",
        "https://",
    ):
        assert secret not in text, secret
    for entry in block["entries"]:
        assert set(entry) <= {"id", "posts", "posts_total", "conflict", "scored"}
        for post in entry["posts"]:
            assert set(post) == {"platform", "kind", "day", "text", "tags", "media_count"}
    mention = next(p["text"] for e in block["entries"] for p in e["posts"] if "mangroves" in p["text"])
    assert mention.startswith("Hello from and @bo: mangroves [link] are vital")
    # the open category shows who and where
    open_block = next(b for b in workspace(judge)["data"] if b["category"]["slug"] == "best-article")
    assert {e["reporter"]["name"] for e in open_block["entries"]} == {"Ana Alvarez", "Bo Berg"}
    assert all(
        p["url"].startswith("https://social.example/") for e in open_block["entries"] for p in e["posts"]
    )


def test_shortlist_reads_are_blind_for_judges_not_for_staff(
    frozen: World, judge: Any, staff: Any, login_as: Callable[..., Any], assert_problem: Callable[..., Any]
) -> None:
    url = f"{BASE}/events/wcc2025/categories/best-coverage/shortlist"
    as_judge = judge.client.get(url).json()
    assert as_judge["count"] == 3
    assert "Ana Alvarez" not in json.dumps(as_judge)
    as_staff = staff.client.get(url).json()
    assert [e["reporter"]["name"] for e in as_staff["data"]] == ["Ana Alvarez", "Bo Berg", "Cy Chen"]
    assert_problem(login_as(Role.REPORTER).client.get(url), 403)
    assert_problem(judge.client.get(f"{BASE}/events/wcc2025/categories/nothing-here/shortlist"), 404)


def test_scores_conflicts_and_privacy_between_judges(
    frozen: World,
    judge: Any,
    staff: Any,
    login_as: Callable[..., Any],
    assert_problem: Callable[..., Any],
    db: Session,
) -> None:
    block = blind_block(judge)
    criteria = [c["id"] for c in block["category"]["criteria"]]
    first, second = block["entries"][0]["id"], block["entries"][1]["id"]
    ok = put_scores(judge, first, criteria, [4, 5])
    assert ok.status_code == 200, ok.text
    assert ok.json()["count"] == 2
    assert blind_block(judge)["entries"][0]["scored"] is True
    bad = put_scores(judge, first, criteria, [0, 6])
    assert_problem(bad, 422)
    assert_problem(judge.client.put(f"{BASE}/judging/entries/{first}/scores", json={"scores": []}), 422)
    assert_problem(
        judge.client.put(
            f"{BASE}/judging/entries/{first}/scores", json={"scores": [{"criterion_id": 1, "score": "5"}]}
        ),
        422,
    )
    assert_problem(put_scores(judge, 2_000_000_000, criteria, [3, 3]), 404)
    assert_problem(put_scores(judge, 99_999_999_999, criteria, [3, 3]), 422)
    assert_problem(put_scores(staff, first, criteria, [3, 3]), 403)  # staff run judging, they do not score
    other = login_as(Role.JUDGE)
    assert other.client.get(f"{BASE}/judging/entries/{first}/scores").json() == {"data": [], "count": 0}
    assert judge.client.get(f"{BASE}/judging/entries/{first}/scores").json()["count"] == 2
    assert_problem(other.client.get(f"{BASE}/events/wcc2025/categories/best-coverage/results"), 403)
    declared = other.client.post(f"{BASE}/judging/entries/{second}/conflict", json={"reason": "co-author"})
    assert declared.status_code == 201, declared.text
    assert other.client.post(f"{BASE}/judging/entries/{second}/conflict").status_code == 200
    assert_problem(put_scores(other, second, criteria, [3, 3]), 403)
    assert next(e for e in blind_block(other)["entries"] if e["id"] == second)["conflict"] is True
    # every judge action is audited with who, role and address
    db.expire_all()
    rows = db.exec(
        select(AuditEntry).where(col(AuditEntry.action).in_(["judging.score", "judging.conflict"]))
    ).all()
    assert {(r.action, r.actor_id, r.actor_role) for r in rows} == {
        ("judging.score", judge.user.id, "judge"),
        ("judging.conflict", other.user.id, "judge"),
    }
    assert all(r.address == "198.51.100.7" for r in rows)


def test_results_are_private_until_staff_publish_them(
    frozen: World,
    judge: Any,
    staff: Any,
    api_client: Any,
    login_as: Callable[..., Any],
    assert_problem: Callable[..., Any],
) -> None:
    block = blind_block(judge)
    criteria = [c["id"] for c in block["category"]["criteria"]]
    for entry, marks in zip(block["entries"], ([5, 5], [3, 2], [1, 1]), strict=True):
        assert put_scores(judge, entry["id"], criteria, marks).status_code == 200
    reporter = login_as(Role.REPORTER)
    results_url = f"{BASE}/events/wcc2025/categories/best-coverage/results"
    for client in (api_client, reporter.client, judge.client):
        assert client.get(f"{BASE}/events/wcc2025/results").json() == {"data": [], "count": 0}
    assert_problem(api_client.get(f"{BASE}/events/wcc2025/freeze"), 404)
    assert_problem(reporter.client.get(f"{BASE}/events/wcc2025/freeze"), 404)
    assert_problem(reporter.client.get(results_url), 403)
    assert_problem(judge.client.post(results_url), 403)
    preview = staff.client.get(results_url)
    assert preview.status_code == 200, preview.text
    assert preview.json()["published_at"] is None
    assert all(len(row["judge_scores"]) == 1 for row in preview.json()["entries"])
    published = staff.client.post(results_url)
    assert published.status_code == 200, published.text
    assert published.json()["published_at"] is not None
    assert_problem(staff.client.post(results_url), 409)
    public = api_client.get(f"{BASE}/events/wcc2025/results").json()
    assert public["count"] == 1
    entries = public["data"][0]["entries"]
    assert [e["position"] for e in entries] == [1, 2, 3]
    assert all("judge_scores" not in e for e in entries)
    names = {e["reporter"]["name"] for e in entries}
    assert None in names  # cy chose anonymous listing
    assert "Cy Chen" not in json.dumps(public)
    assert api_client.get(f"{BASE}/events/wcc2025/freeze").status_code == 200
    assert_problem(put_scores(judge, block["entries"][0]["id"], criteria, [2, 2]), 409)


def test_category_crud_is_staff_only_and_validated(
    api_world: World, staff: Any, judge: Any, assert_problem: Callable[..., Any]
) -> None:
    url = f"{BASE}/events/wcc2025/categories"
    assert_problem(judge.client.post(url, json=CATEGORY), 403)
    created = staff.client.post(url, json=CATEGORY)
    assert created.status_code == 201, created.text
    assert_problem(staff.client.post(url, json=CATEGORY), 409)
    for bad in (
        {**CATEGORY, "slug": "Bad Slug!"},
        {**CATEGORY, "slug": "x2", "kind": "poetry"},
        {**CATEGORY, "slug": "x3", "criteria": []},
        {**CATEGORY, "slug": "x4", "shortlist_size": 0},
        {**CATEGORY, "slug": "x5", "auto_weight_percent": 101},
        {**CATEGORY, "slug": "x6", "criteria": [{"name": "A"}, {"name": "a"}]},
        {**CATEGORY, "slug": "x7", "extra": 1},
    ):
        assert_problem(staff.client.post(url, json=bad), 422)
    assert judge.client.get(url).json()["count"] == 1
    patched = staff.client.patch(f"{url}/best-coverage", json={"blind": False, "shortlist_size": 5})
    assert patched.status_code == 200, patched.text
    assert patched.json()["blind"] is False
    assert_problem(staff.client.patch(f"{url}/best-coverage", json={"kind": "nope"}), 422)
    assert_problem(judge.client.patch(f"{url}/best-coverage", json={"blind": True}), 403)
    assert staff.client.delete(f"{url}/best-coverage").status_code == 204
    assert_problem(staff.client.get(f"{url}/best-coverage"), 404)


def test_staff_shortlist_changes_over_http(
    frozen: World, staff: Any, assert_problem: Callable[..., Any]
) -> None:
    url = f"{BASE}/events/wcc2025/categories/best-article/shortlist"
    added = staff.client.post(url, json={"reporter_id": frozen.rid("dee"), "reason": "wildcard"})
    assert added.status_code == 201, added.text
    assert added.json()["added_by_staff"] is True
    assert_problem(staff.client.post(url, json={"reporter_id": frozen.rid("dee"), "reason": "again"}), 409)
    assert_problem(staff.client.post(url, json={"reporter_id": 12345678, "reason": "who"}), 422)
    removed = staff.client.delete(f"{url}/{added.json()['id']}", params={"reason": "oops"})
    assert removed.status_code == 204
    assert_problem(staff.client.delete(f"{url}/{added.json()['id']}"), 404)
    regenerated = staff.client.post(f"{url}/generate")
    assert regenerated.status_code == 200
    assert regenerated.json()["count"] == 2
