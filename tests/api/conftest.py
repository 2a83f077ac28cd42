"""API test harness: the real app on the per-kind test database, every test rolled back.

``api_app`` is ``create_app(settings, engine)`` whose request sessions join one connection held in an
outer transaction (``join_transaction_mode="create_savepoint"``): the request boundary's commit
releases a SAVEPOINT, and the whole test is rolled back at the end, on SQLite and PostgreSQL alike.
``db`` is a session on the same connection for arranging rows and asserting on them (call
``db.expire_all()`` before reading what requests changed).

Building clients:
    api_client                      anonymous TestClient
    client_factory(address=…)       another anonymous client (its own cookie jar and address)
    make_user(role=…, email=…)      a committed user (+ reporter profile for reporters)
    login_as(role, via="session")   an Actor(client, user, csrf_token): a logged-in client with the
                                    X-CSRF-Token header preset; via="token" uses a bearer token
    assert_problem(resp, status)    checks the problem+json shape and returns the body
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from sqlalchemy import Connection, Engine
from sqlmodel import Session

from app.core import security
from app.core.settings import Settings
from app.main import create_app
from app.reporters import service as reporters_service
from app.users import auth
from app.users import service as users_service
from app.users.models import Role, User

with warnings.catch_warnings():
    # Starlette 1.x prefers the httpx2 package for its TestClient; httpx works the same here.
    from starlette.exceptions import StarletteDeprecationWarning

    warnings.filterwarnings(
        "ignore", message="Using `httpx` with `starlette.testclient`", category=StarletteDeprecationWarning
    )
    from starlette.testclient import TestClient

PASSWORD = "correct horse battery staple"
_counter = itertools.count(1)


@dataclass
class Actor:
    client: TestClient
    user: User
    csrf_token: str | None = None
    token: str | None = None


@pytest.fixture(autouse=True)
def fast_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Argon2 with the cheapest parameters: same code paths, milliseconds instead of tenths."""
    monkeypatch.setattr(security, "_hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
    monkeypatch.setattr(auth, "_dummy_hash", None)


@pytest.fixture
def api_settings() -> Settings:
    return Settings(
        _env_file=None,
        login_max_attempts=3,
        login_window_s=300,
        max_request_bytes=20_000,
        session_cookie_secure=False,
    )


@pytest.fixture
def api_connection(engine: Engine) -> Iterator[Connection]:
    connection = engine.connect()
    transaction = connection.begin()
    try:
        yield connection
    finally:
        transaction.rollback()
        connection.close()


def _joined_session(connection: Connection) -> Session:
    return Session(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)


@pytest.fixture
def db(api_connection: Connection) -> Iterator[Session]:
    session = _joined_session(api_connection)
    try:
        yield session
    finally:
        session.close()


@pytest.fixture
def api_app(engine: Engine, api_connection: Connection, api_settings: Settings) -> FastAPI:
    app = create_app(settings=api_settings, engine=engine)
    # same signature as the app's factory (``write``: the request changes things); one connection either way
    app.state.session_factory = lambda write=False: _joined_session(api_connection)
    return app


@pytest.fixture
def client_factory(api_app: FastAPI) -> Iterator[Callable[..., TestClient]]:
    clients: list[TestClient] = []

    def factory(address: str = "198.51.100.7", **kwargs: Any) -> TestClient:
        client = TestClient(api_app, client=(address, 50000), **kwargs)
        clients.append(client)
        return client

    yield factory
    for client in clients:
        client.close()


@pytest.fixture
def api_client(client_factory: Callable[..., TestClient]) -> TestClient:
    return client_factory()


@pytest.fixture
def make_user(db: Session) -> Callable[..., User]:
    def factory(
        role: Role | str = Role.REPORTER,
        *,
        email: str | None = None,
        password: str = PASSWORD,
        name: str | None = None,
        active: bool = True,
    ) -> User:
        n = next(_counter)
        role = Role(role)
        email = email or f"{role}{n}@example.org"
        name = name or f"{str(role).title()} {n}"
        user = users_service.create_user(session=db, email=email, password=password, role=role, name=name)
        if role is Role.REPORTER:
            reporters_service.add_reporter(session=db, name=name, email=email, accounts=[], user_id=user.id)
        user.is_active = active
        db.add(user)
        db.commit()
        return user

    return factory


@pytest.fixture
def login_as(
    make_user: Callable[..., User], client_factory: Callable[..., TestClient], db: Session
) -> Callable[..., Actor]:
    def login(role: Role | str = Role.REPORTER, *, via: str = "session", user: User | None = None) -> Actor:
        user = user or make_user(role)
        client = client_factory()
        if via == "token":
            raw, _ = auth.create_token(session=db, user=user, name="test", expires_at=None)
            db.commit()
            client.headers["Authorization"] = f"Bearer {raw}"
            return Actor(client=client, user=user, token=raw)
        response = client.post("/api/v1/auth/login", json={"email": user.email, "password": PASSWORD})
        assert response.status_code == 200, response.text
        csrf_token = response.json()["csrf_token"]
        client.headers["X-CSRF-Token"] = csrf_token
        return Actor(client=client, user=user, csrf_token=csrf_token)

    return login


def check_problem(response: Any, status: int, *, code: str | None = None) -> dict[str, Any]:
    """The response is an RFC 9457 problem with ``status`` (and type code); return its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert {"type", "title", "status", "detail"} <= body.keys()
    assert body["status"] == status
    assert isinstance(body["detail"], str)
    assert body["detail"]
    if code is not None:
        assert body["type"] == f"urn:blogitearnit:problem:{code}"
    return body


@pytest.fixture
def assert_problem() -> Callable[..., dict[str, Any]]:
    """``assert_problem(response, status, code=…)``: check an RFC 9457 answer, return its body."""
    return check_problem
