"""Test harness: every database test runs on SQLite and, when BIE_TEST_POSTGRES_URL is set, on
PostgreSQL. Each test runs inside a transaction that is rolled back. Tests that need real commits
(CLI, concurrency, subprocesses) take ``fresh_db_url``: a new, migrated database of the same kind.

In CI (CI=true) a missing or unreachable PostgreSQL fails the run instead of skipping.
"""

from __future__ import annotations

import os
import shutil
import socket
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def _cache_bytecode_outside_the_tree() -> None:
    """With PYTHONDONTWRITEBYTECODE set (as on the development machine) every Python process compiles
    every module it imports from source: ~2 s of CPU for each ``bie`` child process the drills start,
    and again for pytest's own rewritten test modules. Cache the bytecode in one directory outside the
    checkout instead (``PYTHONPYCACHEPREFIX``; nothing is written next to the sources), for this process
    and the child processes, which inherit the environment. Python writes cache files atomically, so
    concurrent runs may share the directory."""
    if not os.environ.get("PYTHONDONTWRITEBYTECODE"):
        return
    prefix = os.environ.get("PYTHONPYCACHEPREFIX") or os.path.join(
        tempfile.gettempdir(), f"bie-test-pycache-{os.getuid()}"
    )
    del os.environ["PYTHONDONTWRITEBYTECODE"]
    os.environ["PYTHONPYCACHEPREFIX"] = prefix
    sys.pycache_prefix = prefix
    sys.dont_write_bytecode = False


_cache_bytecode_outside_the_tree()

import pytest  # noqa: E402
from sqlalchemy import Engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from sqlmodel import Session  # noqa: E402

from app.core import migrate  # noqa: E402
from app.core.db import make_engine, set_engine  # noqa: E402
from app.core.settings import get_settings  # noqa: E402

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
POSTGRES_URL = os.environ.get("BIE_TEST_POSTGRES_URL")


def _postgres_admin_url() -> str:
    if not POSTGRES_URL:
        message = "PostgreSQL tests need BIE_TEST_POSTGRES_URL (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test)"
        if IN_CI:
            pytest.fail(message + " — required in CI")
        pytest.skip(message)
    engine = make_engine(POSTGRES_URL)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001  (any failure to connect means "no PostgreSQL")
        message = f"PostgreSQL at {POSTGRES_URL} does not answer: {str(exc).splitlines()[0]}"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    finally:
        engine.dispose()
    return POSTGRES_URL


def create_database(kind: str, tmp_dir: Path) -> tuple[str, object]:
    """Create an empty database of ``kind``; return its URL and a handle to drop it later."""
    if kind == "sqlite":
        path = tmp_dir / f"bie-{uuid.uuid4().hex[:8]}.db"
        return f"sqlite:///{path}", None
    admin_url = _postgres_admin_url()
    name = f"bie_test_{uuid.uuid4().hex[:10]}"
    admin = make_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    return url, (admin, name)


def drop_database(handle: object) -> None:
    if handle is None:
        return
    admin, name = handle  # type: ignore[misc]
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def db_kind(request: pytest.FixtureRequest) -> str:
    if request.param == "postgresql":
        _postgres_admin_url()
    return str(request.param)


@pytest.fixture(scope="session")
def engine(db_kind: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """A migrated database for the whole session, one per database kind."""
    url, handle = create_database(db_kind, tmp_path_factory.mktemp("db"))
    eng = make_engine(url)
    migrate.upgrade(eng)
    yield eng
    eng.dispose()
    drop_database(handle)


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A session inside a transaction that is rolled back after the test."""
    connection = engine.connect()
    transaction = connection.begin()
    db_session = Session(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
    try:
        yield db_session
    finally:
        db_session.close()
        transaction.rollback()
        connection.close()


@pytest.fixture(scope="session")
def migrated_template(db_kind: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated database that fresh databases are copied from (much faster than migrating each)."""
    url, handle = create_database(db_kind, tmp_path_factory.mktemp("template"))
    eng = make_engine(url)
    migrate.upgrade(eng)
    eng.dispose()
    yield url
    drop_database(handle)


@pytest.fixture
def fresh_db_url(db_kind: str, migrated_template: str, tmp_path: Path) -> Iterator[str]:
    """A brand-new, migrated database (for tests that commit or run subprocesses)."""
    template = make_url(migrated_template)
    if db_kind == "sqlite":
        target = tmp_path / f"bie-{uuid.uuid4().hex[:8]}.db"
        shutil.copyfile(str(template.database), target)
        yield f"sqlite:///{target}"
        return
    admin = make_engine(_postgres_admin_url(), isolation_level="AUTOCOMMIT")
    name = f"bie_test_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template.database}"'))
    yield template.set(database=name).render_as_string(hide_password=False)
    drop_database((admin, name))


@pytest.fixture
def app_env(fresh_db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Point the app (settings, engine) at a fresh database for the test; restore afterwards."""
    monkeypatch.setenv("BIE_DATABASE_URL", fresh_db_url)
    get_settings.cache_clear()
    set_engine(None)
    yield fresh_db_url
    from app.core.db import get_engine

    get_engine().dispose()
    set_engine(None)
    get_settings.cache_clear()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """A headless Chromium per test module (Debian's package; browsers are never downloaded).

    Defined once, here, and module-scoped: Playwright's sync API keeps an event loop running in the main
    thread while it is alive, so a session-wide instance would break later tests that call
    ``asyncio.run`` and a second copy would be refused.
    """
    if not CHROMIUM.exists():
        message = f"browser tests need Chromium at {CHROMIUM} (apt-get install chromium)"
        if IN_CI:
            pytest.fail(message + " — required in CI")
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def fake_dns(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Names resolve from this table; literal addresses resolve to themselves; others fail."""
    real = socket.getaddrinfo
    table: dict[str, str] = {}

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> list[tuple[Any, ...]]:
        name = str(host).strip("[]")
        if name in table:
            address = table[name]
            family = socket.AF_INET6 if ":" in address else socket.AF_INET
            return [(family, socket.SOCK_STREAM, 6, "", (address, port))]
        if name.endswith(".example") or name.endswith(".test"):
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return table
