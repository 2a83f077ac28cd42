"""The service skeleton: problem+json errors, limits, headers, request ids, ops endpoints, sessions."""

from __future__ import annotations

import re

import pytest
from fastapi import APIRouter
from sqlalchemy.exc import OperationalError
from sqlmodel import select

from app.audit import service as audit
from app.audit.models import AuditEntry
from app.core.db import make_engine
from app.core.deps import SessionDep
from app.core.errors import Conflict
from app.main import create_app


@pytest.fixture
def probe_router(api_app):
    """Extra routes on the app under test, to drive the error handlers and the session boundary."""
    router = APIRouter()

    @router.get("/boom")
    def boom() -> None:
        raise RuntimeError("secret internals: password=hunter2 at /srv/app.py")

    @router.post("/write-then-fail")
    def write_then_fail(session: SessionDep) -> None:
        audit.record(session=session, action="probe.failed")
        raise Conflict("refused after writing")

    @router.post("/write")
    def write(session: SessionDep) -> dict[str, str]:
        audit.record(session=session, action="probe.ok")
        return {"ok": "yes"}

    @router.get("/db-down")
    def db_down() -> None:
        raise OperationalError("SELECT 1", {}, Exception("connection refused to 10.0.0.5"))

    api_app.include_router(router, prefix="/probe")
    return router


class TestProblems:
    def test_unknown_route_is_404_problem(self, api_client, assert_problem):
        body = assert_problem(api_client.get("/api/v1/nothing-here"), 404, code="not-found")
        assert "/api/v1/nothing-here" in body["detail"]

    def test_wrong_method_is_405_problem_with_allow(self, api_client, assert_problem):
        response = api_client.delete("/api/v1/events")
        assert_problem(response, 405, code="method-not-allowed")
        assert "GET" in response.headers["allow"]

    def test_validation_is_422_with_errors(self, api_client, assert_problem):
        body = assert_problem(api_client.post("/api/v1/auth/signup", json={"email": "a@b.org"}), 422)
        assert body["type"].endswith(":validation")
        fields = {e["field"] for e in body["errors"]}
        assert fields == {"body.password", "body.name"}
        assert "body.password" in body["detail"]

    def test_malformed_json_is_422(self, api_client, assert_problem):
        response = api_client.post(
            "/api/v1/auth/signup", content=b"{not json", headers={"content-type": "application/json"}
        )
        assert_problem(response, 422)

    def test_nul_characters_are_refused_not_crashing(self, api_client, assert_problem):
        body = assert_problem(
            api_client.post(
                "/api/v1/auth/signup", json={"email": "a\x00@b.org", "password": "x" * 12, "name": "N"}
            ),
            422,
        )
        assert "NUL" in body["detail"]

    def test_lone_surrogates_are_refused(self, api_client, assert_problem):
        raw = b'{"email": "a@b.org", "password": "xxxxxxxxxxxx", "name": "\\ud800"}'
        response = api_client.post(
            "/api/v1/auth/signup", content=raw, headers={"content-type": "application/json"}
        )
        assert_problem(response, 422)

    def test_unexpected_errors_are_500_without_internals(self, api_app, probe_router, client_factory):
        client = client_factory(raise_server_exceptions=False)
        response = client.get("/probe/boom")
        assert response.status_code == 500
        assert response.headers["content-type"].startswith("application/problem+json")
        body = response.json()
        assert body["type"].endswith(":internal")
        assert "secret" not in response.text
        assert "hunter2" not in response.text
        assert "Traceback" not in response.text
        assert response.headers["x-request-id"] in body["detail"]
        assert response.headers["x-content-type-options"] == "nosniff"

    def test_database_unavailable_is_503(self, probe_router, api_client, assert_problem):
        response = api_client.get("/probe/db-down")
        body = assert_problem(response, 503)
        assert "10.0.0.5" not in body["detail"]
        assert response.headers["retry-after"]


class TestSessionBoundary:
    def test_success_commits(self, probe_router, api_client, db):
        assert api_client.post("/probe/write").status_code == 200
        db.expire_all()
        assert db.exec(select(AuditEntry).where(AuditEntry.action == "probe.ok")).all()

    def test_error_rolls_back(self, probe_router, api_client, db, assert_problem):
        assert_problem(api_client.post("/probe/write-then-fail"), 409)
        db.expire_all()
        assert db.exec(select(AuditEntry).where(AuditEntry.action == "probe.failed")).all() == []

    def test_audit_entries_get_the_callers_address(self, probe_router, client_factory, db):
        client_factory(address="192.0.2.44").post("/probe/write")
        entry = db.exec(select(AuditEntry).where(AuditEntry.action == "probe.ok")).one()
        assert entry.address == "192.0.2.44"


class TestBodyLimit:
    def test_declared_oversize_body_is_413(self, api_client, api_settings, assert_problem):
        big = b"x" * (api_settings.max_request_bytes + 1)
        response = api_client.post(
            "/api/v1/auth/signup", content=big, headers={"content-type": "application/json"}
        )
        assert_problem(response, 413, code="content-too-large")

    def test_streamed_oversize_body_is_413(self, api_client, api_settings, assert_problem):
        chunk = b" " * 4096

        def chunks():
            for _ in range(api_settings.max_request_bytes // len(chunk) + 2):
                yield chunk

        response = api_client.post(
            "/api/v1/auth/signup", content=chunks(), headers={"content-type": "application/json"}
        )
        assert "content-length" not in response.request.headers
        assert_problem(response, 413)

    def test_streamed_oversize_login_body_is_413(self, api_client, api_settings, assert_problem):
        def chunks():
            yield b'{"email": "a@b.org", "password": "'
            for _ in range(api_settings.max_request_bytes // 1000 + 2):
                yield b"p" * 1000

        response = api_client.post(
            "/api/v1/auth/login",
            content=chunks(),
            headers={"content-type": "application/json"},
        )
        assert_problem(response, 413)

    def test_a_body_at_the_limit_passes(self, api_client, api_settings):
        padding = " " * (api_settings.max_request_bytes - 200)
        raw = ('{"email": "ok@example.org", "password": "xxxxxxxxxxxx", "name": "N"}' + padding).encode()
        assert len(raw) <= api_settings.max_request_bytes
        response = api_client.post(
            "/api/v1/auth/signup", content=raw, headers={"content-type": "application/json"}
        )
        assert response.status_code == 201


class TestHeaders:
    @pytest.mark.parametrize("path", ["/healthz", "/api/v1/events", "/api/v1/nothing", "/calendar.ics"])
    def test_security_headers_everywhere(self, api_client, path):
        headers = api_client.get(path).headers
        assert "default-src 'self'" in headers["content-security-policy"]
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"]
        assert headers["x-frame-options"] == "DENY"

    def test_docs_are_served_with_a_csp_that_lets_them_load(self, api_client):
        response = api_client.get("/docs")
        assert response.status_code == 200
        assert "script-src 'self' 'unsafe-inline'" in response.headers["content-security-policy"]
        assert "cdn.jsdelivr.net" not in response.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]

    def test_openapi_lists_the_api(self, api_client):
        paths = api_client.get("/openapi.json").json()["paths"]
        assert {"/api/v1/events", "/api/v1/auth/login", "/api/v1/me/tokens", "/api/v1/users"} <= set(paths)
        assert set(paths["/api/v1/auth/login"]["post"]["requestBody"]["content"]) == {"application/json"}

    def test_request_id_generated_and_echoed(self, api_client):
        generated = api_client.get("/healthz").headers["x-request-id"]
        assert re.fullmatch(r"[0-9a-f]{32}", generated)
        echoed = api_client.get("/healthz", headers={"X-Request-ID": "lb-1234.abc"}).headers["x-request-id"]
        assert echoed == "lb-1234.abc"
        replaced = api_client.get("/healthz", headers={"X-Request-ID": "bad id\twith junk" * 10})
        assert re.fullmatch(r"[0-9a-f]{32}", replaced.headers["x-request-id"])


class TestOps:
    def test_healthz(self, api_client):
        assert api_client.get("/healthz").json() == {"status": "ok"}

    def test_readyz_when_migrated(self, api_client):
        body = api_client.get("/readyz").json()
        assert body["status"] == "ready"

    def test_readyz_is_503_when_not_migrated(self, tmp_path, api_settings, assert_problem):
        from starlette.testclient import TestClient

        engine = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
        with TestClient(create_app(settings=api_settings, engine=engine)) as client:
            body = assert_problem(client.get("/readyz"), 503, code="unavailable")
            assert "bie db upgrade" in body["detail"]
            assert client.get("/healthz").status_code == 200
        engine.dispose()

    def test_readyz_is_503_when_the_database_is_unreachable(self, tmp_path, api_settings, assert_problem):
        from starlette.testclient import TestClient

        engine = make_engine(f"sqlite:///{tmp_path / 'missing-dir' / 'x.db'}")
        with TestClient(create_app(settings=api_settings, engine=engine)) as client:
            assert_problem(client.get("/readyz"), 503)
        engine.dispose()

    def test_metrics(self, api_client):
        api_client.get("/api/v1/events/no-such-event")
        text = api_client.get("/metrics").text
        assert re.search(
            r'http_requests_total\{method="GET",route="/api/v1/events/\{slug\}",status="404"\} \d', text
        )
        assert (
            'http_request_duration_seconds_bucket{le="0.005",method="GET",route="/api/v1/events/{slug}"}'
            in text
        )
        assert "no-such-event" not in text  # templates, never raw paths
        for name in (
            "collector_runs_total",
            "posts_ingested_total",
            "rate_limit_waits_total",
            "source_health",
        ):
            assert f"# TYPE {name}" in text

    def test_unmatched_paths_share_one_label(self, api_client):
        api_client.get("/random/a/b/c")
        text = api_client.get("/metrics").text
        assert 'route="<unmatched>"' in text
        assert "/random/a/b/c" not in text
