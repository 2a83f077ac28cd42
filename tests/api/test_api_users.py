"""User administration: admin only, audited with actor, role and address."""

from __future__ import annotations

import pytest
from sqlmodel import select

from app.audit.models import AuditEntry
from app.reporters.models import Reporter
from app.users.models import User

PASSWORD = "correct horse battery staple"


class TestRoles:
    @pytest.mark.parametrize("role", ["reporter", "staff", "judge"])
    def test_non_admins_get_403(self, login_as, role, assert_problem):
        actor = login_as(role)
        assert_problem(actor.client.get("/api/v1/users"), 403, code="forbidden")
        body = {"email": "x@example.org", "password": PASSWORD, "role": "staff"}
        assert_problem(actor.client.post("/api/v1/users", json=body), 403)

    def test_anonymous_gets_401(self, api_client, assert_problem):
        assert_problem(api_client.get("/api/v1/users"), 401, code="unauthenticated")
        assert_problem(api_client.patch("/api/v1/users/1", json={"is_active": False}), 401)
        assert_problem(api_client.get("/api/v1/me"), 401)

    def test_role_check_comes_before_body_validation(self, login_as, assert_problem):
        actor = login_as("reporter")
        assert_problem(actor.client.post("/api/v1/users", json={"nonsense": 1}), 403)


class TestAdministration:
    def test_create_list_update(self, login_as, db):
        admin = login_as("admin")
        created = admin.client.post(
            "/api/v1/users",
            json={"email": "Judge@Example.org", "password": PASSWORD, "name": "Jo", "role": "judge"},
        )
        assert created.status_code == 201, created.text
        judge_id = created.json()["id"]
        assert created.json()["role"] == "judge"
        assert created.json()["reporter_id"] is None
        listed = admin.client.get("/api/v1/users", params={"limit": 1}).json()
        assert listed["count"] == 2
        assert len(listed["data"]) == 1
        updated = admin.client.patch(f"/api/v1/users/{judge_id}", json={"role": "staff", "is_active": False})
        assert updated.status_code == 200, updated.text
        assert (updated.json()["role"], updated.json()["is_active"]) == ("staff", False)
        db.expire_all()
        user = db.get(User, judge_id)
        assert user is not None
        assert (user.role, user.is_active) == ("staff", False)

    def test_creating_a_reporter_user_gives_a_profile(self, login_as, db):
        admin = login_as("admin")
        body = {"email": "rep@example.org", "password": PASSWORD, "name": "Rep", "role": "reporter"}
        created = admin.client.post("/api/v1/users", json=body).json()
        reporter = db.exec(select(Reporter).where(Reporter.user_id == created["id"])).one()
        assert created["reporter_id"] == reporter.id

    def test_admin_actions_are_audited_with_actor_role_and_address(self, login_as, db):
        admin = login_as("admin")
        created = admin.client.post(
            "/api/v1/users", json={"email": "s@example.org", "password": PASSWORD, "role": "staff"}
        ).json()
        admin.client.patch(f"/api/v1/users/{created['id']}", json={"is_active": False})
        db.expire_all()
        entries = db.exec(
            select(AuditEntry).where(
                AuditEntry.target_type == "user", AuditEntry.target_id == str(created["id"])
            )
        ).all()
        assert sorted(e.action for e in entries) == ["user.create", "user.update"]
        for entry in entries:
            assert (entry.actor_id, entry.actor_role, entry.address) == (
                admin.user.id,
                "admin",
                "198.51.100.7",
            )
        update = next(e for e in entries if e.action == "user.update")
        assert update.detail["before"]["is_active"] is True
        assert update.detail["after"]["is_active"] is False

    def test_an_admin_cannot_demote_themselves(self, login_as, assert_problem):
        admin = login_as("admin")
        response = admin.client.patch(f"/api/v1/users/{admin.user.id}", json={"role": "reporter"})
        assert_problem(response, 409)

    def test_unknown_user_is_404(self, login_as, assert_problem):
        admin = login_as("admin")
        assert_problem(admin.client.patch("/api/v1/users/99999", json={"is_active": True}), 404)

    @pytest.mark.parametrize("user_id", ["0", "-1", "abc", str(2**70)])
    def test_bad_ids_are_422(self, login_as, user_id, assert_problem):
        admin = login_as("admin")
        body = assert_problem(admin.client.patch(f"/api/v1/users/{user_id}", json={}), 422, code="validation")
        assert "user_id" in body["detail"]

    def test_an_unknown_role_is_422_naming_the_field(self, login_as, assert_problem):
        admin = login_as("admin")
        body = assert_problem(
            admin.client.post(
                "/api/v1/users", json={"email": "a@example.org", "password": PASSWORD, "role": "emperor"}
            ),
            422,
        )
        assert "body.role" in body["detail"]
        assert body["errors"][0]["field"] == "body.role"
        assert PASSWORD not in str(body)

    def test_pagination_bounds(self, login_as, assert_problem):
        admin = login_as("admin")
        for params in ({"limit": 0}, {"limit": 201}, {"offset": -1}, {"limit": "many"}):
            assert_problem(admin.client.get("/api/v1/users", params=params), 422)
        assert admin.client.get("/api/v1/users", params={"limit": 200, "offset": 5}).json()["data"] == []
