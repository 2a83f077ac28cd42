"""Staff operations: sources and their health, collect-now, runs, the audit log, exports."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from sqlmodel import Session, select

from app.audit.models import AuditEntry
from app.ingest.export import FORMULA_PREFIXES, ExportFormat, csv_safe, stream_rows, write_rows
from app.ingest.models import CollectorRun, Source
from tests.standing.standing_seed import Seeded, check_problem

SOURCES = "/api/v1/sources"
MASTODON = {"platform": "mastodon", "url": "https://mastodon.example", "tags": ["#iucncec", "NatureForAll"]}


def test_add_source_validates_like_the_cli_and_is_audited(login_as: Any, db: Session) -> None:
    staff = login_as("staff")
    created = staff.client.post(SOURCES, json={**MASTODON, "interval_s": 600})
    assert created.status_code == 201, created.text
    source = created.json()
    expected = ("mastodon", ["iucncec", "NatureForAll"], 600)
    assert (source["platform"], source["tags"], source["interval_s"]) == expected
    assert (source["state"], source["enabled"]) == ("new", True)
    feed = staff.client.post(SOURCES, json={"platform": "RSS", "url": "https://blog.example/feed"}).json()
    assert (feed["platform"], feed["url"]) == ("blog", "https://blog.example/feed")
    no_token = check_problem(staff.client.post(SOURCES, json={"platform": "twitter"}), 422)
    assert "bearer token" in no_token["detail"]
    for bad in (
        {"platform": "myspace", "url": "https://a.example"},
        {"platform": "rss"},
        {**MASTODON, "interval_s": 5},
        {**MASTODON, "token_env": "BIE_SECRET_KEY"},
        {**MASTODON, "token_env": "HOME"},
        {**MASTODON, "surprise": True},
        {"platform": "mastodon", "url": "ftp://mastodon.example", "tags": ["iucncec"]},
    ):
        check_problem(staff.client.post(SOURCES, json=bad), 422)
    assert staff.client.post(SOURCES, json={**MASTODON, "token_env": "BIE_SOCIAL_TOKEN"}).status_code == 201
    db.expire_all()
    audit = db.exec(select(AuditEntry).where(AuditEntry.action == "source.create")).all()
    assert len(audit) == 3
    assert {a.actor_id for a in audit} == {staff.user.id}
    reporter = login_as("reporter")
    check_problem(reporter.client.post(SOURCES, json=MASTODON), 403)
    check_problem(reporter.client.get(SOURCES), 403)


def test_source_health_patch_and_collect_now(login_as: Any, db: Session) -> None:
    staff = login_as("staff")
    source_id = staff.client.post(SOURCES, json=MASTODON).json()["id"]
    row = db.get(Source, source_id)
    assert row is not None
    row.health, row.consecutive_failures = "failing", 3
    row.last_error = "TransientError: the server answered 503"
    row.next_run_at = datetime.now(UTC) + timedelta(hours=1)
    db.add(row)
    db.commit()
    listed = staff.client.get(SOURCES).json()
    assert listed["count"] == 1
    health = listed["data"][0]
    assert (health["state"], health["consecutive_failures"]) == ("failing", 3)
    assert "3 failures in a row" in health["state_words"]
    assert health["last_error"] == "TransientError: the server answered 503"

    patched = staff.client.patch(f"{SOURCES}/{source_id}", json={"enabled": False, "interval_s": 900})
    assert patched.status_code == 200, patched.text
    assert (patched.json()["state"], patched.json()["interval_s"]) == ("disabled", 900)
    check_problem(staff.client.post(f"{SOURCES}/{source_id}/collect"), 409)
    check_problem(
        staff.client.patch(f"{SOURCES}/{source_id}", json={"tags": []}), 422
    )  # mastodon needs a tag
    check_problem(staff.client.patch(f"{SOURCES}/{source_id}", json={"interval_s": 10}), 422)
    check_problem(staff.client.patch(f"{SOURCES}/{source_id}", json={"cursor": {}}), 422)
    staff.client.patch(f"{SOURCES}/{source_id}", json={"enabled": True, "tags": ["iucncec"]})

    asked = datetime.now(UTC)
    collect = staff.client.post(f"{SOURCES}/{source_id}/collect")
    assert collect.status_code == 202, collect.text
    next_run = datetime.fromisoformat(collect.json()["next_run_at"])
    assert asked - timedelta(seconds=5) <= next_run <= datetime.now(UTC)
    db.expire_all()
    runs = db.exec(select(CollectorRun).where(CollectorRun.source_id == source_id)).all()
    assert runs == []  # scheduled, not run inside the request
    actions = [
        a.action
        for a in db.exec(
            select(AuditEntry).where(AuditEntry.target_type == "source").order_by(AuditEntry.id)  # type: ignore[arg-type]
        )
    ]
    assert actions == ["source.create", "source.update", "source.update", "source.collect_now"]
    check_problem(staff.client.post(f"{SOURCES}/987654/collect"), 404)
    check_problem(staff.client.patch(f"{SOURCES}/987654", json={"enabled": True}), 404)


def test_rate_limited_source_is_not_hammered(login_as: Any, db: Session) -> None:
    staff = login_as("staff")
    source_id = staff.client.post(SOURCES, json=MASTODON).json()["id"]
    row = db.get(Source, source_id)
    assert row is not None
    row.health, row.next_run_at = "rate_limited", datetime.now(UTC) + timedelta(minutes=4)
    db.add(row)
    db.commit()
    body = check_problem(staff.client.post(f"{SOURCES}/{source_id}/collect"), 409)
    assert "rate limited" in body["detail"]


def test_runs_are_listed_newest_first(login_as: Any, db: Session) -> None:
    staff = login_as("staff")
    first = staff.client.post(SOURCES, json=MASTODON).json()["id"]
    second = staff.client.post(SOURCES, json={**MASTODON, "url": "https://other.example"}).json()["id"]
    start = datetime(2025, 10, 10, tzinfo=UTC)
    for n, (source_id, status) in enumerate([(first, "ok"), (second, "failed"), (first, "partial")]):
        db.add(
            CollectorRun(
                source_id=source_id,
                started_at=start + timedelta(minutes=n),
                finished_at=start + timedelta(minutes=n, seconds=30),
                status=status,
                requests=n + 1,
                new_posts=10 * n,
                error="boom" if status == "failed" else None,
            )
        )
    db.commit()
    all_runs = staff.client.get("/api/v1/runs").json()
    assert all_runs["count"] == 3
    assert [r["status"] for r in all_runs["data"]] == ["partial", "failed", "ok"]
    mine = staff.client.get(f"{SOURCES}/{first}/runs", params={"limit": 1}).json()
    assert (mine["count"], [r["status"] for r in mine["data"]]) == (2, ["partial"])
    failed = staff.client.get("/api/v1/runs", params={"status": "failed"}).json()
    assert [(r["source_id"], r["error"]) for r in failed["data"]] == [(second, "boom")]
    check_problem(staff.client.get(f"{SOURCES}/424242/runs"), 404)
    check_problem(staff.client.get("/api/v1/runs", params={"limit": 201}), 422)


def test_audit_log_listing(login_as: Any, seeded: Seeded) -> None:
    staff = login_as("staff")
    staff.client.post(f"/api/v1/posts/{seeded.post_id('ana_day10')}/exclude", json={"reason": "spam"})
    staff.client.post(SOURCES, json=MASTODON)
    everything = staff.client.get("/api/v1/audit").json()
    assert everything["count"] >= 2
    assert everything["data"][0]["action"] == "source.create"  # newest first
    posts = staff.client.get("/api/v1/audit", params={"action": "post."}).json()
    assert [e["action"] for e in posts["data"]] == ["post.exclude"]
    assert posts["data"][0]["detail"]["reason"] == "spam"
    by_actor = staff.client.get("/api/v1/audit", params={"actor_id": staff.user.id}).json()
    assert {e["action"] for e in by_actor["data"]} == {"post.exclude", "source.create"}
    target = staff.client.get(
        "/api/v1/audit", params={"target_type": "post", "target_id": str(seeded.post_id("ana_day10"))}
    ).json()
    assert target["count"] == 1
    assert staff.client.get("/api/v1/audit", params={"action": "%"}).json()["count"] == 0
    check_problem(staff.client.get("/api/v1/audit", params={"since": "2025-01-01T00:00:00"}), 422)
    assert staff.client.get("/api/v1/audit", params={"since": "2999-01-01T00:00:00Z"}).json()["count"] == 0
    ana = login_as(user=seeded.ana)
    check_problem(ana.client.get("/api/v1/audit"), 403)
    check_problem(staff.client.post("/api/v1/audit", json={}), 405)


def test_exports_stream_csv_and_jsonl(login_as: Any, seeded: Seeded, db: Session) -> None:
    seeded.ana_reporter.name = '=HYPERLINK("http://evil.example")'
    db.add(seeded.ana_reporter)
    db.commit()
    staff = login_as("staff")
    response = staff.client.get("/api/v1/events/wcc2025/leaderboard.csv")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [r["rank"] for r in rows] == ["1", "2"]
    assert rows[0]["name"] == ""  # anonymous stays anonymous in exports
    assert rows[1]["name"] == '\'=HYPERLINK("http://evil.example")'
    assert rows[1]["platforms"] == "mastodon"

    lines = staff.client.get("/api/v1/events/wcc2025/leaderboard.jsonl").text.splitlines()
    assert json.loads(lines[1])["name"] == '=HYPERLINK("http://evil.example")'

    posts = list(csv.DictReader(io.StringIO(staff.client.get("/api/v1/events/wcc2025/posts.csv").text)))
    assert len(posts) == 8
    assert {p["author"] for p in posts} == {"mastodon:ana@social.example", "mastodon:bo@social.example"}
    jsonl = staff.client.get("/api/v1/events/wcc2025/posts.jsonl")
    assert jsonl.headers["content-type"].startswith("application/x-ndjson")
    assert len(jsonl.text.splitlines()) == 8

    check_problem(staff.client.get("/api/v1/events/wcc2025/posts.xml"), 422)
    check_problem(staff.client.get("/api/v1/events/nope2031/posts.csv"), 404)
    ana = login_as(user=seeded.ana)
    check_problem(ana.client.get("/api/v1/events/wcc2025/posts.csv"), 403)
    db.expire_all()
    exports = db.exec(select(AuditEntry).where(AuditEntry.action.startswith("export."))).all()  # type: ignore[attr-defined]
    assert len(exports) == 4


@given(st.text(max_size=30))
def test_csv_cells_never_start_a_formula(value: str) -> None:
    cell = csv_safe(value)
    assert not cell.startswith(FORMULA_PREFIXES)
    assert cell == value or cell == "'" + value


def test_stream_rows_equals_write_rows() -> None:
    rows = [{"a": f"-{n}", "b": ["x", "@y"]} for n in range(7)]
    for fmt in ExportFormat:
        out = io.StringIO()
        write_rows(iter(rows), ["a", "b"], fmt, out)
        assert "".join(stream_rows(iter(rows), ["a", "b"], fmt, chunk_rows=3)) == out.getvalue()
    out = io.StringIO()
    write_rows(iter(rows[:1]), ["a", "b"], ExportFormat.CSV, out)
    assert out.getvalue().splitlines()[1] == "'-0,x @y"
