"""Security drills on authentication and authorisation (issue #9, "Security").

CSRF on every state-changing route (enumerated from the app, as the matrix does), session fixation,
token and session revocation, login brute force (per account and per address), privilege escalation
refused *and* audited, and secrets kept out of the logs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import Connection
from sqlmodel import Session, select

from app.audit.models import AuditEntry
from app.core.security import sha256_hex
from app.subsidies.models import Subsidy
from app.users import auth
from app.users.models import Role, User
from tests.security.conftest import PASSWORD, SecurityWorld
from tests.security.test_security_matrix import OK, app_routes, cases, run_isolated

STATE_CHANGING = ("POST", "PUT", "PATCH", "DELETE")
# Routes that act on no session: sign-up and the API log-in take credentials, not the cookie.
NO_COOKIE_AUTHORITY = {("POST", "/api/v1/auth/signup"), ("POST", "/api/v1/auth/login")}


def _denied(db: Session, action: str = "access.denied") -> list[AuditEntry]:
    db.expire_all()
    return list(db.exec(select(AuditEntry).where(AuditEntry.action == action)).all())


# --- CSRF ---------------------------------------------------------------------------------------------


def _admitted_role(profile: dict[str, Any]) -> str:
    for role in ("reporter", "judge", "staff", "admin", "anonymous"):
        if profile[role] == OK:
            return role
    raise AssertionError("no caller is admitted")


@pytest.mark.parametrize("presented", ["missing", "wrong"])
def test_every_state_changing_route_refuses_a_cookie_request_without_its_csrf_token(
    api_app: FastAPI, api_connection: Connection, security_world: SecurityWorld, presented: str
) -> None:
    w = security_world
    table = cases(w)
    writes = sorted(key for key in app_routes(api_app) if key[0] in STATE_CHANGING)
    assert len(writes) >= 50
    problems: list[str] = []
    checked = 0
    for method, template in writes:
        if (method, template) in NO_COOKIE_AUTHORITY:
            continue
        case = table[(method, template)]
        role = _admitted_role(case.profile)
        caller = w.callers[role]

        def attempt(caller: Any = caller, method: str = method, case: Any = case) -> Any:
            caller.reset()
            client = caller.client
            saved = client.headers.pop("X-CSRF-Token", None)
            try:
                headers = {"X-CSRF-Token": "not-the-token"} if presented == "wrong" else {}
                kwargs: dict[str, Any] = {"headers": headers, "follow_redirects": False}
                if case.form is not None:
                    token = "not-the-token" if presented == "wrong" else None
                    kwargs["data"] = case.form | ({"csrf_token": token} if token else {})
                elif case.json is not None:
                    kwargs["json"] = case.json
                return client.request(method, case.path, **kwargs)
            finally:
                if saved is not None:
                    client.headers["X-CSRF-Token"] = saved

        response = run_isolated(api_connection, attempt)
        checked += 1
        if response.status_code != 403:
            problems.append(f"{method} {template} as {role}: {response.status_code} {response.text[:120]}")
        elif template.startswith("/api/"):
            assert response.json()["type"].endswith(":csrf"), response.text
    assert checked >= len(writes) - len(NO_COOKIE_AUTHORITY)
    assert not problems, "accepted without the CSRF token:\n" + "\n".join(problems)


def test_bearer_requests_need_no_csrf_token(security_world: SecurityWorld, client_factory: Any) -> None:
    client = client_factory()
    client.headers["Authorization"] = f"Bearer {security_world.raw_tokens['reporter']}"
    response = client.patch("/api/v1/me/profile", json={"bio": "from a script"})
    assert response.status_code == 200, response.text


# --- sessions and tokens ------------------------------------------------------------------------------


def test_login_replaces_a_planted_session_id(
    client_factory: Callable[..., Any], make_user: Callable[..., User]
) -> None:
    user = make_user(Role.REPORTER)
    planted = "attacker-chosen-session-id-0123456789"
    client = client_factory()
    client.cookies.set(auth.SESSION_COOKIE, planted)
    response = client.post("/api/v1/auth/login", json={"email": user.email, "password": PASSWORD})
    assert response.status_code == 200
    issued = response.cookies.get(auth.SESSION_COOKIE)
    assert issued
    assert issued != planted
    attacker = client_factory()
    attacker.cookies.set(auth.SESSION_COOKIE, planted)
    assert attacker.get("/api/v1/me").status_code == 401


def test_a_second_login_revokes_the_session_id_the_browser_brought(
    client_factory: Callable[..., Any], make_user: Callable[..., User]
) -> None:
    user = make_user(Role.STAFF)
    client = client_factory()
    first = client.post("/api/v1/auth/login", json={"email": user.email, "password": PASSWORD})
    old = first.cookies.get(auth.SESSION_COOKIE)
    second = client.post("/api/v1/auth/login", json={"email": user.email, "password": PASSWORD})
    new = second.cookies.get(auth.SESSION_COOKIE)
    assert old
    assert new
    assert old != new
    replay = client_factory()
    replay.cookies.set(auth.SESSION_COOKIE, old)
    assert replay.get("/api/v1/me").status_code == 401
    current = client_factory()
    current.cookies.set(auth.SESSION_COOKIE, new)
    assert current.get("/api/v1/me").status_code == 200


def test_web_login_replaces_a_planted_session_id(
    client_factory: Callable[..., Any], make_user: Callable[..., User]
) -> None:
    user = make_user(Role.REPORTER)
    planted = "planted-session-id-for-the-web-form-000"
    client = client_factory(follow_redirects=False)
    client.cookies.set(auth.SESSION_COOKIE, planted)
    page = client.get("/login")
    token = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    response = client.post("/login", data={"email": user.email, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 303
    issued = response.cookies.get(auth.SESSION_COOKIE)
    assert issued
    assert issued != planted


def test_logout_and_token_revocation_take_effect_at_once(
    login_as: Callable[..., Any], client_factory: Callable[..., Any], db: Session
) -> None:
    actor = login_as(Role.REPORTER)
    created = actor.client.post("/api/v1/me/tokens", json={"name": "script"})
    assert created.status_code == 201
    raw, token_id = created.json()["token"], created.json()["id"]
    script = client_factory()
    script.headers["Authorization"] = f"Bearer {raw}"
    assert script.get("/api/v1/me").status_code == 200
    assert actor.client.delete(f"/api/v1/me/tokens/{token_id}").status_code == 204
    assert script.get("/api/v1/me").status_code == 401
    # the raw value is nowhere in the database, only its SHA-256
    assert raw not in str(actor.client.get("/api/v1/me/tokens").json())
    cookie = actor.client.cookies.get(auth.SESSION_COOKIE)
    assert actor.client.post("/api/v1/auth/logout").status_code == 204
    replay = client_factory()
    replay.cookies.set(auth.SESSION_COOKIE, cookie)
    assert replay.get("/api/v1/me").status_code == 401


def test_a_deactivated_user_loses_sessions_and_tokens(
    login_as: Callable[..., Any], client_factory: Callable[..., Any], db: Session
) -> None:
    staff = login_as(Role.STAFF)
    raw, _ = auth.create_token(session=db, user=staff.user, name="cron", expires_at=None)
    db.commit()
    admin = login_as(Role.ADMIN)
    assert admin.client.patch(f"/api/v1/users/{staff.user.id}", json={"is_active": False}).status_code == 200
    assert staff.client.get("/api/v1/me").status_code == 401
    script = client_factory()
    script.headers["Authorization"] = f"Bearer {raw}"
    assert script.get("/api/v1/me").status_code == 401


def test_another_users_token_cannot_be_revoked_and_is_not_revealed(
    login_as: Callable[..., Any], db: Session
) -> None:
    owner = login_as(Role.STAFF)
    _, token = auth.create_token(session=db, user=owner.user, name="cron", expires_at=None)
    db.commit()
    thief = login_as(Role.ADMIN)
    assert thief.client.delete(f"/api/v1/me/tokens/{token.id}").status_code == 404
    assert thief.client.delete("/api/v1/me/tokens/987654").status_code == 404
    db.expire_all()
    assert db.get(type(token), token.id).revoked_at is None  # type: ignore[union-attr]


# --- brute force ---------------------------------------------------------------------------------------


def test_login_is_throttled_per_account(
    client_factory: Callable[..., Any], make_user: Callable[..., User], assert_problem: Any
) -> None:
    user = make_user(Role.STAFF)
    attacker = client_factory(address="203.0.113.50")
    for _ in range(3):  # api_settings: login_max_attempts=3
        wrong = attacker.post("/api/v1/auth/login", json={"email": user.email, "password": "guess"})
        assert wrong.status_code == 401
    locked = attacker.post("/api/v1/auth/login", json={"email": user.email, "password": PASSWORD})
    assert_problem(locked, 429)
    assert int(locked.headers["Retry-After"]) > 0
    # the lock is on the account: the right password from another address is refused too
    elsewhere = client_factory(address="198.51.100.99")
    refused = elsewhere.post("/api/v1/auth/login", json={"email": user.email, "password": PASSWORD})
    assert refused.status_code == 429
    # and the web form shares the throttle
    page = elsewhere.get("/login")
    token = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    form = elsewhere.post(
        "/login",
        data={"email": user.email, "password": PASSWORD, "csrf_token": token},
        follow_redirects=False,
    )
    assert form.status_code == 429


def test_login_is_throttled_per_address_over_many_accounts(
    client_factory: Callable[..., Any], make_user: Callable[..., User]
) -> None:
    victims = [make_user(Role.REPORTER) for _ in range(5)]
    attacker = client_factory(address="203.0.113.77")
    answers = []
    for n in range(12):  # 4 x login_max_attempts, spread so that no single account is locked
        victim = victims[n % len(victims)]
        answers.append(
            attacker.post(
                "/api/v1/auth/login", json={"email": victim.email, "password": f"guess{n}"}
            ).status_code
        )
    assert answers == [401] * 12
    fresh = make_user(Role.REPORTER)
    blocked = attacker.post("/api/v1/auth/login", json={"email": fresh.email, "password": PASSWORD})
    assert blocked.status_code == 429
    assert "address" in blocked.json()["detail"]
    other_address = client_factory(address="203.0.113.78")
    ok = other_address.post("/api/v1/auth/login", json={"email": fresh.email, "password": PASSWORD})
    assert ok.status_code == 200


def test_unknown_and_known_emails_fail_alike(
    client_factory: Callable[..., Any], make_user: Callable[..., User]
) -> None:
    user = make_user(Role.REPORTER)
    client = client_factory(address="203.0.113.90")
    known = client.post("/api/v1/auth/login", json={"email": user.email, "password": "wrong one"})
    unknown = client.post("/api/v1/auth/login", json={"email": "ghost@mail.example", "password": "wrong one"})
    assert known.status_code == unknown.status_code == 401
    assert known.json()["detail"] == unknown.json()["detail"]


# --- privilege escalation: refused and audited ------------------------------------------------------------


ESCALATIONS = [
    ("reporter", "GET", "/api/v1/sources", None),
    (
        "reporter",
        "POST",
        "/api/v1/events",
        {"slug": "mine", "name": "x", "start": "2026-01-01", "end": "2026-01-02", "timezone": "UTC"},
    ),
    ("reporter", "GET", "/api/v1/audit", None),
    ("other", "POST", "/api/v1/subsidies/{subsidy}/approve", None),
    ("reporter", "PATCH", "/api/v1/users/{staff_id}", {"role": "admin"}),
    ("staff", "PATCH", "/api/v1/users/{staff_id}", {"role": "admin"}),
    ("judge", "GET", "/api/v1/events/{slug}/categories/{category}/results", None),
    ("judge", "GET", "/api/v1/events/{slug}/freeze/snapshot", None),
    ("staff", "PUT", "/api/v1/judging/entries/{entry}/scores", {"scores": [{"criterion_id": 1, "score": 5}]}),
]


@pytest.mark.parametrize(("role", "method", "template", "body"), ESCALATIONS)
def test_privilege_escalation_is_refused_and_audited(
    security_world: SecurityWorld, db: Session, role: str, method: str, template: str, body: Any
) -> None:
    w = security_world
    caller = w.callers[role]
    assert caller.user is not None
    path = template.format(
        subsidy=w.subsidy_ids["reporter"],
        staff_id=w.callers["staff"].user.id if w.callers["staff"].user else 0,
        slug=w.event.slug,
        category=w.category,
        entry=w.entry_id,
    )
    before = len(_denied(db))
    caller.reset()
    response = caller.client.request(method, path, json=body)
    assert response.status_code == 403, response.text
    entries = _denied(db)
    assert len(entries) == before + 1
    entry = entries[-1]
    assert entry.actor_id == caller.user.id
    assert entry.actor_role == str(caller.user.role)
    assert entry.address == "198.51.100.7"
    assert entry.target_id is not None
    assert method in entry.target_id


def test_a_judge_never_reads_another_judges_scores_before_publication(security_world: SecurityWorld) -> None:
    w = security_world
    judge = w.callers["judge"].client
    own = judge.get(f"/api/v1/judging/entries/{w.entry_id}/scores")
    assert own.status_code == 200
    assert own.json()["count"] == 0
    for path in (
        "/api/v1/judging/workspace",
        f"/api/v1/events/{w.event.slug}/categories/{w.category}/shortlist",
        f"/api/v1/events/{w.event.slug}/results",
    ):
        response = judge.get(path)
        assert response.status_code == 200
        assert "JUDGE-TWO" not in response.text


def test_staff_cannot_approve_their_own_subsidy_and_the_attempt_is_audited(
    security_world: SecurityWorld, db: Session, make_user: Callable[..., User], login_as: Callable[..., Any]
) -> None:
    from app.reporters import service as reporters_service

    staff = login_as(Role.STAFF)
    reporter = reporters_service.add_reporter(
        session=db, name="Staff Reporting", email=None, accounts=[], user_id=staff.user.id
    )
    subsidy = Subsidy(
        event_id=security_world.event.id,  # type: ignore[arg-type]  # stored events have ids
        reporter_id=reporter.id,  # type: ignore[arg-type]  # stored reporters have ids
        amount=Decimal("250.00"),
        currency="CHF",
    )
    db.add(subsidy)
    db.commit()
    response = staff.client.post(f"/api/v1/subsidies/{subsidy.id}/approve")
    assert response.status_code == 403
    db.expire_all()
    assert db.get(Subsidy, subsidy.id).state == "proposed"  # type: ignore[union-attr]
    refused = list(
        db.exec(
            select(AuditEntry).where(
                AuditEntry.action == "subsidy.self_decision_refused", AuditEntry.actor_id == staff.user.id
            )
        ).all()
    )
    assert len(refused) == 1
    assert refused[0].address == "198.51.100.7"


# --- secrets never logged -------------------------------------------------------------------------------


def test_secrets_never_reach_the_logs(
    security_world: SecurityWorld,
    client_factory: Callable[..., Any],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    api_app: FastAPI,
    db: Session,
    make_user: Callable[..., User],
) -> None:
    w = security_world
    secret_key = api_app.state.settings.secret_key.get_secret_value()
    social_token = "SOCIAL-SERVER-TOKEN-c0ffee-do-not-log"
    monkeypatch.setenv("BIE_SOCIAL_TOKEN", social_token)
    caplog.set_level(logging.DEBUG)
    user = make_user(Role.STAFF, password="a very secret passphrase 42")
    client = client_factory()
    client.post("/api/v1/auth/login", json={"email": user.email, "password": "wrong passphrase 43"})
    logged_in = client.post(
        "/api/v1/auth/login", json={"email": user.email, "password": "a very secret passphrase 42"}
    )
    assert logged_in.status_code == 200
    cookie = logged_in.cookies.get(auth.SESSION_COOKIE)
    csrf = logged_in.json()["csrf_token"]
    client.headers["X-CSRF-Token"] = csrf
    made = client.post("/api/v1/me/tokens", json={"name": "cron"})
    raw = made.json()["token"]
    bearer = client_factory()
    bearer.headers["Authorization"] = f"Bearer {raw}"
    bearer.get("/api/v1/sources")
    bearer.get(f"/api/v1/sources/{w.source_id}")
    bearer.post(
        "/api/v1/sources",
        json={
            "platform": "mastodon",
            "url": "https://social.example",
            "tags": ["iucncec"],
            "token_env": "BIE_SOCIAL_TOKEN",
        },
    )
    bearer.post(f"/api/v1/sources/{w.source_id}/collect")
    client_factory().get("/api/v1/me", headers={"Authorization": "Bearer bie_not-a-real-token"})
    # the collector's view of the source carries the token, but never prints it
    from app.ingest import service as ingest_service
    from app.ingest.models import Source

    source = db.get(Source, w.source_id)
    assert source is not None
    config = ingest_service.source_config(source)
    assert config.token == social_token
    logging.getLogger("tests.security").warning("collecting with %s", config)
    text = caplog.text + "".join(str(r.__dict__) for r in caplog.records)
    for label, secret in {
        "password": "a very secret passphrase 42",
        "wrong password": "wrong passphrase 43",
        "session cookie": cookie,
        "csrf token": csrf,
        "api token": raw,
        "api token hash": sha256_hex(raw),
        "secret key": secret_key,
        "source token": social_token,
    }.items():
        assert secret, label
        assert secret not in text, f"the {label} was logged"
    assert "collecting with SourceConfig(" in text  # the capture works
