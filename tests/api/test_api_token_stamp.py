"""A token's ``last_used_at`` stamp never makes a read wait or fail: a busy database skips it."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, event, text
from sqlmodel import Session

from app.core.db import make_engine, writing
from app.core.settings import Settings
from app.main import create_app
from app.users import auth
from app.users import service as users_service
from app.users.models import ApiToken

with warnings.catch_warnings():
    from starlette.exceptions import StarletteDeprecationWarning

    warnings.filterwarnings(
        "ignore", message="Using `httpx` with `starlette.testclient`", category=StarletteDeprecationWarning
    )
    from starlette.testclient import TestClient


@pytest.fixture
def engine_on_fresh_db(fresh_db_url: str) -> Iterator[Engine]:
    # PostgreSQL: a regression that waits for the row lock fails after 10 s instead of hanging
    options = (
        {} if fresh_db_url.startswith("sqlite") else {"connect_args": {"options": "-c lock_timeout=10s"}}
    )
    engine = make_engine(fresh_db_url, **options)
    yield engine
    engine.dispose()


def _token(engine: Engine) -> tuple[str, int]:
    with Session(engine, expire_on_commit=False) as session:
        user = users_service.create_user(session=session, email="stamp@example.org", password="x" * 12)
        raw, token = auth.create_token(session=session, user=user, name="t", expires_at=None)
        session.commit()
    assert token.id is not None
    return raw, token.id


def _last_used(engine: Engine, token_id: int) -> Any:
    with Session(engine) as session:
        token = session.get(ApiToken, token_id)
        assert token is not None
        return token.last_used_at


def _hold_the_lock(engine: Engine, db_kind: str, token_id: int) -> Connection:
    """Another writer: SQLite's write lock (BEGIN IMMEDIATE), PostgreSQL's lock on the token's row."""
    holder = writing(engine).connect()
    lock = "" if db_kind == "sqlite" else " FOR UPDATE"
    holder.execute(text(f"SELECT id FROM api_tokens WHERE id = :id{lock}"), {"id": token_id})
    return holder


def test_a_busy_database_skips_the_stamp_at_once(engine_on_fresh_db: Engine, db_kind: str) -> None:
    engine = engine_on_fresh_db
    _, token_id = _token(engine)
    holder = _hold_the_lock(engine, db_kind, token_id)
    waits: list[int] = []

    def busy_timeout_at_begin(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        if statement.startswith("BEGIN IMMEDIATE"):
            waits.append(int(cursor.connection.execute("PRAGMA busy_timeout").fetchone()[0]))

    event.listen(engine, "before_cursor_execute", busy_timeout_at_begin)
    try:
        with Session(writing(engine)) as session:
            assert auth.touch_token(session=session, token_id=token_id) is False
            session.commit()
    finally:
        event.remove(engine, "before_cursor_execute", busy_timeout_at_begin)
        holder.rollback()
        holder.close()
    if db_kind == "sqlite":
        assert waits == [0]  # tried once, without waiting for the write lock
    assert _last_used(engine, token_id) is None

    with Session(writing(engine)) as session:
        assert auth.touch_token(session=session, token_id=token_id) is True
        session.commit()
    stamped = _last_used(engine, token_id)
    assert stamped is not None
    with Session(writing(engine)) as session:
        assert auth.touch_token(session=session, token_id=token_id) is False  # not due again yet
        session.commit()
    assert _last_used(engine, token_id) == stamped
    if db_kind == "sqlite":  # the connection's own busy timeout is back for everything else
        with engine.connect() as connection:
            timeout = connection.exec_driver_sql("PRAGMA busy_timeout").scalar()
            assert timeout == Settings(_env_file=None).sqlite_busy_timeout_ms


def test_a_read_with_a_due_token_answers_while_another_writer_is_busy(
    engine_on_fresh_db: Engine, db_kind: str
) -> None:
    engine = engine_on_fresh_db
    raw, token_id = _token(engine)
    app = create_app(settings=Settings(_env_file=None, session_cookie_secure=False), engine=engine)
    headers = {"Authorization": f"Bearer {raw}"}
    with TestClient(app) as client:
        holder = _hold_the_lock(engine, db_kind, token_id)
        try:
            response = client.get("/api/v1/me", headers=headers)
            assert response.status_code == 200, response.text
        finally:
            holder.rollback()
            holder.close()
        assert _last_used(engine, token_id) is None  # skipped, not queued
        assert client.get("/api/v1/me", headers=headers).status_code == 200
    assert _last_used(engine, token_id) is not None
