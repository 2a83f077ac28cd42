"""Sign-up, login, sessions (cookie flags, fixation, CSRF), tokens, throttling."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from app.audit.models import AuditEntry
from app.core.settings import Settings
from app.reporters.models import Reporter
from app.users import auth
from app.users.models import ApiToken, LoginAttempt, WebSession

PASSWORD = "correct horse battery staple"


def _set_cookie(response) -> str:
    return str(response.headers["set-cookie"])


class TestSignupLoginLogout:
    def test_signup_creates_a_reporter_user_with_a_profile(self, api_client, db):
        response = api_client.post(
            "/api/v1/auth/signup", json={"email": "Ana@Example.org", "password": PASSWORD, "name": "Ana"}
        )
        assert response.status_code == 201, response.text
        body = response.json()
        assert body["email"] == "ana@example.org"
        assert body["role"] == "reporter"
        assert "password" not in response.text
        reporter = db.exec(select(Reporter).where(Reporter.user_id == body["id"])).one()
        assert body["reporter_id"] == reporter.id
        assert reporter.name == "Ana"

    def test_signup_twice_is_a_conflict(self, api_client, assert_problem):
        data = {"email": "ana@example.org", "password": PASSWORD, "name": "Ana"}
        assert api_client.post("/api/v1/auth/signup", json=data).status_code == 201
        assert_problem(api_client.post("/api/v1/auth/signup", json=data), 409, code="conflict")

    def test_signup_rejects_a_short_password_and_names_the_rule(self, api_client, assert_problem):
        response = api_client.post(
            "/api/v1/auth/signup", json={"email": "ana@example.org", "password": "short", "name": "Ana"}
        )
        body = assert_problem(response, 422)
        assert "at least" in body["detail"]

    def test_login_me_logout(self, api_client, make_user):
        user = make_user("reporter")
        response = api_client.post("/api/v1/auth/login", json={"email": user.email, "password": PASSWORD})
        assert response.status_code == 200, response.text
        assert response.json()["user"]["id"] == user.id
        csrf = response.json()["csrf_token"]
        me = api_client.get("/api/v1/me").json()
        assert (me["id"], me["role"]) == (user.id, "reporter")
        assert me["reporter_id"] is not None
        assert api_client.get("/api/v1/auth/csrf").json() == {"csrf_token": csrf}
        assert api_client.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf}).status_code == 204
        assert api_client.get("/api/v1/me").status_code == 401

    def test_logout_revokes_the_session_server_side(self, api_client, make_user, client_factory):
        user = make_user("staff")
        response = api_client.post("/api/v1/auth/login", json={"email": user.email, "password": PASSWORD})
        cookie = api_client.cookies.get(auth.SESSION_COOKIE)
        csrf = response.json()["csrf_token"]
        api_client.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf})
        replay = client_factory(cookies={auth.SESSION_COOKIE: cookie})
        assert replay.get("/api/v1/me").status_code == 401

    def test_login_by_form_is_refused_against_login_csrf(self, api_client, make_user):
        user = make_user("judge")
        response = api_client.post("/api/v1/auth/login", data={"email": user.email, "password": PASSWORD})
        assert response.status_code == 415, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        assert "/login" in response.json()["detail"]
        assert auth.SESSION_COOKIE not in response.cookies

    def test_me_of_a_staff_user_has_no_reporter_id(self, login_as):
        actor = login_as("staff")
        assert actor.client.get("/api/v1/me").json()["reporter_id"] is None

    def test_wrong_password_and_unknown_email_look_the_same(self, api_client, make_user, assert_problem):
        user = make_user()
        wrong = api_client.post("/api/v1/auth/login", json={"email": user.email, "password": "nope" * 3})
        unknown = api_client.post(
            "/api/v1/auth/login", json={"email": "nobody@example.org", "password": "nope" * 3}
        )
        assert assert_problem(wrong, 401)["detail"] == assert_problem(unknown, 401)["detail"]

    def test_an_inactive_user_cannot_log_in(self, api_client, make_user, assert_problem):
        user = make_user("staff", active=False)
        response = api_client.post("/api/v1/auth/login", json={"email": user.email, "password": PASSWORD})
        assert_problem(response, 401)

    def test_a_deactivated_users_session_stops_working(self, login_as, db):
        actor = login_as("staff")
        actor.user.is_active = False
        db.add(actor.user)
        db.commit()
        assert actor.client.get("/api/v1/me").status_code == 401


class TestSessionCookie:
    def test_cookie_flags(self, api_client, make_user):
        user = make_user()
        response = api_client.post("/api/v1/auth/login", json={"email": user.email, "password": PASSWORD})
        cookie = _set_cookie(response).lower()
        assert cookie.startswith(f"{auth.SESSION_COOKIE}=")
        assert "httponly" in cookie
        assert "samesite=lax" in cookie
        assert "path=/" in cookie
        assert "secure" not in cookie  # the test settings serve plain http

    def test_cookie_is_secure_when_configured(self, api_app, client_factory, make_user, api_settings):
        api_app.state.settings = api_settings.model_copy(update={"session_cookie_secure": True})
        user = make_user()
        client = client_factory()
        response = client.post("/api/v1/auth/login", json={"email": user.email, "password": PASSWORD})
        assert "; secure" in _set_cookie(response).lower()

    def test_only_the_hash_of_the_session_id_is_stored(self, api_client, make_user, db):
        user = make_user()
        api_client.post("/api/v1/auth/login", json={"email": user.email, "password": PASSWORD})
        cookie = api_client.cookies.get(auth.SESSION_COOKIE)
        rows = db.exec(select(WebSession).where(WebSession.user_id == user.id)).all()
        assert len(rows) == 1
        assert rows[0].session_hash != cookie
        assert cookie not in rows[0].session_hash

    def test_no_session_fixation(self, api_client, make_user, client_factory):
        user = make_user()
        first = api_client.post("/api/v1/auth/login", json={"email": user.email, "password": PASSWORD})
        old_cookie = api_client.cookies.get(auth.SESSION_COOKIE)
        second = api_client.post("/api/v1/auth/login", json={"email": user.email, "password": PASSWORD})
        new_cookie = api_client.cookies.get(auth.SESSION_COOKIE)
        assert new_cookie != old_cookie
        assert second.json()["csrf_token"] != first.json()["csrf_token"]
        assert api_client.get("/api/v1/me").status_code == 200
        old = client_factory(cookies={auth.SESSION_COOKIE: old_cookie})
        assert old.get("/api/v1/me").status_code == 401

    def test_a_planted_unknown_cookie_is_not_adopted(self, client_factory, make_user):
        user = make_user()
        client = client_factory(cookies={auth.SESSION_COOKIE: "planted-by-attacker"})
        response = client.post("/api/v1/auth/login", json={"email": user.email, "password": PASSWORD})
        issued = response.cookies.get(auth.SESSION_COOKIE)
        assert issued
        assert issued != "planted-by-attacker"
        attacker = client_factory(cookies={auth.SESSION_COOKIE: "planted-by-attacker"})
        assert attacker.get("/api/v1/me").status_code == 401

    def test_an_expired_session_is_refused(self, login_as, db):
        actor = login_as("reporter")
        row = db.exec(select(WebSession).where(WebSession.user_id == actor.user.id)).one()
        row.expires_at = datetime.now(UTC) - timedelta(seconds=1)
        db.add(row)
        db.commit()
        assert actor.client.get("/api/v1/me").status_code == 401


class TestCsrf:
    def test_cookie_write_without_token_is_403(self, login_as, assert_problem):
        actor = login_as("reporter")
        del actor.client.headers["X-CSRF-Token"]
        response = actor.client.post("/api/v1/me/tokens", json={"name": "cli"})
        assert_problem(response, 403, code="csrf")

    def test_cookie_write_with_a_wrong_token_is_403(self, login_as, assert_problem):
        actor = login_as("reporter")
        actor.client.headers["X-CSRF-Token"] = "not-the-token"
        assert_problem(actor.client.delete("/api/v1/me/tokens/1"), 403, code="csrf")

    def test_cookie_write_with_the_header_passes(self, login_as):
        actor = login_as("reporter")
        assert actor.client.post("/api/v1/me/tokens", json={"name": "cli"}).status_code == 201

    def test_cookie_write_with_the_form_field_passes(self, login_as):
        actor = login_as("reporter")
        del actor.client.headers["X-CSRF-Token"]
        response = actor.client.post("/api/v1/auth/logout", data={"csrf_token": actor.csrf_token})
        assert response.status_code == 204
        assert actor.client.get("/api/v1/me").status_code == 401

    def test_another_sessions_token_does_not_pass(self, login_as, assert_problem):
        one, other = login_as("reporter"), login_as("reporter")
        one.client.headers["X-CSRF-Token"] = other.csrf_token
        assert_problem(one.client.post("/api/v1/me/tokens", json={}), 403, code="csrf")

    def test_reads_need_no_token(self, login_as):
        actor = login_as("reporter")
        del actor.client.headers["X-CSRF-Token"]
        assert actor.client.get("/api/v1/me/tokens").status_code == 200

    def test_bearer_writes_need_no_token(self, login_as):
        actor = login_as("reporter", via="token")
        assert "X-CSRF-Token" not in actor.client.headers
        assert actor.client.post("/api/v1/me/tokens", json={"name": "second"}).status_code == 201


class TestTokens:
    def test_create_use_list_revoke(self, login_as, client_factory, db, assert_problem):
        actor = login_as("staff")
        created = actor.client.post("/api/v1/me/tokens", json={"name": "laptop", "expires_in_days": 30})
        assert created.status_code == 201, created.text
        body = created.json()
        raw = body["token"]
        assert raw.startswith("bie_")
        assert body["prefix"] == raw[:12]
        stored = db.get(ApiToken, body["id"])
        assert stored is not None
        assert stored.token_hash != raw
        assert raw not in stored.token_hash
        bearer = client_factory(headers={"Authorization": f"Bearer {raw}"})
        assert bearer.get("/api/v1/me").json()["id"] == actor.user.id
        listed = actor.client.get("/api/v1/me/tokens").json()
        assert listed["count"] == 1
        assert "token" not in listed["data"][0]
        assert listed["data"][0]["name"] == "laptop"
        assert actor.client.delete(f"/api/v1/me/tokens/{body['id']}").status_code == 204
        assert_problem(bearer.get("/api/v1/me"), 401, code="unauthenticated")
        assert actor.client.get("/api/v1/me/tokens").json()["data"][0]["revoked_at"] is not None

    def test_a_token_is_shown_only_once(self, login_as):
        actor = login_as("reporter")
        raw = actor.client.post("/api/v1/me/tokens", json={}).json()["token"]
        assert raw not in actor.client.get("/api/v1/me/tokens").text

    def test_someone_elses_token_is_not_found(self, login_as, assert_problem):
        owner, other = login_as("reporter"), login_as("admin")
        token_id = owner.client.post("/api/v1/me/tokens", json={}).json()["id"]
        assert_problem(other.client.delete(f"/api/v1/me/tokens/{token_id}"), 404)
        assert_problem(other.client.delete("/api/v1/me/tokens/999999"), 404)

    def test_an_expired_token_is_refused(self, login_as, client_factory, db, assert_problem):
        actor = login_as("reporter", via="token")
        token = db.exec(select(ApiToken).where(ApiToken.user_id == actor.user.id)).one()
        token.expires_at = datetime.now(UTC) - timedelta(seconds=1)
        db.add(token)
        db.commit()
        assert_problem(actor.client.get("/api/v1/me"), 401)

    @pytest.mark.parametrize("header", ["Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Bearer bie_unknown", "x"])
    def test_a_malformed_or_unknown_authorization_header_is_401(self, client_factory, header, assert_problem):
        client = client_factory(headers={"Authorization": header})
        response = client.get("/api/v1/events")
        assert_problem(response, 401)
        assert response.headers["www-authenticate"].startswith("Bearer")

    def test_tokens_are_audited(self, login_as, db):
        actor = login_as("staff")
        token_id = actor.client.post("/api/v1/me/tokens", json={}).json()["id"]
        actor.client.delete(f"/api/v1/me/tokens/{token_id}")
        actions = db.exec(
            select(AuditEntry.action).where(
                AuditEntry.target_type == "api_token", AuditEntry.target_id == str(token_id)
            )
        ).all()
        assert sorted(actions) == ["token.create", "token.revoke"]


class TestLoginThrottling:
    def _fail(self, client, email):
        return client.post("/api/v1/auth/login", json={"email": email, "password": "wrong password!"})

    def test_per_account(self, client_factory, make_user, api_settings: Settings, assert_problem):
        user = make_user()
        for n in range(api_settings.login_max_attempts):
            # every attempt from a different address: only the account limit can trip
            assert self._fail(client_factory(address=f"203.0.113.{n}"), user.email).status_code == 401
        blocked = client_factory(address="203.0.113.200").post(
            "/api/v1/auth/login", json={"email": user.email, "password": PASSWORD}
        )
        body = assert_problem(blocked, 429, code="too-many-requests")
        assert "account" in body["detail"]
        retry_after = int(blocked.headers["retry-after"])
        assert 0 < retry_after <= api_settings.login_window_s

    def test_per_address_counts_unknown_emails(
        self, client_factory, make_user, api_settings: Settings, assert_problem
    ):
        client = client_factory(address="203.0.113.99")
        allowed = api_settings.login_max_attempts * auth.ADDRESS_ATTEMPTS_FACTOR
        for n in range(allowed):
            assert self._fail(client, f"nobody{n}@example.org").status_code == 401
        user = make_user()
        blocked = client.post("/api/v1/auth/login", json={"email": user.email, "password": PASSWORD})
        body = assert_problem(blocked, 429)
        assert "address" in body["detail"]
        assert int(blocked.headers["retry-after"]) > 0
        # the same account from elsewhere is fine
        elsewhere = client_factory(address="192.0.2.1")
        assert (
            elsewhere.post("/api/v1/auth/login", json={"email": user.email, "password": PASSWORD}).status_code
            == 200
        )

    def test_failures_outside_the_window_do_not_count(self, client_factory, make_user, db, api_settings):
        user = make_user()
        long_ago = datetime.now(UTC) - timedelta(seconds=api_settings.login_window_s + 5)
        for _ in range(api_settings.login_max_attempts):
            db.add(LoginAttempt(email=user.email, address="203.0.113.5", at=long_ago, success=False))
        db.commit()
        response = client_factory().post(
            "/api/v1/auth/login", json={"email": user.email, "password": PASSWORD}
        )
        assert response.status_code == 200

    def test_a_success_resets_the_account_count(self, client_factory, make_user, api_settings):
        user = make_user()
        client = client_factory(address="203.0.113.77")
        for _ in range(api_settings.login_max_attempts - 1):
            self._fail(client, user.email)
        ok = client.post("/api/v1/auth/login", json={"email": user.email, "password": PASSWORD})
        assert ok.status_code == 200
        for _ in range(api_settings.login_max_attempts - 1):
            assert self._fail(client, user.email).status_code == 401

    def test_attempts_are_recorded_even_though_the_request_fails(self, api_client, db):
        self._fail(api_client, "Someone@Example.org")
        db.expire_all()
        rows = db.exec(select(LoginAttempt).where(LoginAttempt.email == "someone@example.org")).all()
        assert [(r.success, r.address) for r in rows] == [(False, "198.51.100.7")]
