"""Web test harness: page clients on the rolled-back test database, and real browsers on a live server.

Page tests without a browser (fast, rolled back like tests/api):
    web_db                      a session on the test connection (commit = release a SAVEPOINT)
    web_app                     create_app(...) whose request sessions join that connection
    web_client_factory()        a TestClient (own cookie jar); ``web_client`` is one of them
    form_token(client, path)    GET ``path`` and return the csrf_token of its first form

Browser tests (Playwright driving Debian's /usr/bin/chromium; mark them ``@pytest.mark.browser``):
    live_server                 uvicorn on 127.0.0.1:<free port> serving create_app on a fresh migrated
                                database (``fresh_db_url``); ``.url``, ``.engine``, ``.session()``
    browser                     one Chromium per test session; missing Chromium → skip, or fail when CI=true
    page                        a new browser page whose base URL is the live server. Console errors,
                                uncaught page errors and JavaScript dialogs are recorded in
                                ``browser_problems`` and fail the test; a screenshot is saved as
                                test-results/<test name>/final.png at the end of every test.
"""

from __future__ import annotations

import re
import socket
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from sqlalchemy import Connection, Engine
from sqlmodel import Session

from app.core import security
from app.core.db import make_engine
from app.core.settings import Settings
from app.main import create_app
from app.users import auth

with warnings.catch_warnings():
    # Starlette 1.x prefers the httpx2 package for its TestClient; httpx works the same here.
    from starlette.exceptions import StarletteDeprecationWarning

    warnings.filterwarnings(
        "ignore", message="Using `httpx` with `starlette.testclient`", category=StarletteDeprecationWarning
    )
    from starlette.testclient import TestClient

RESULTS_DIR = Path(__file__).resolve().parents[2] / "test-results"
PASSWORD = "correct horse battery staple"


@pytest.fixture(autouse=True)
def web_fast_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Argon2 with the cheapest parameters: same code paths, milliseconds instead of tenths."""
    monkeypatch.setattr(security, "_hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
    monkeypatch.setattr(auth, "_dummy_hash", None)


def web_settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "login_max_attempts": 3,
        "login_window_s": 300,
        "session_cookie_secure": False,
        "secret_key": "web-test-secret",
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]  # pydantic-settings' init option


# --- page clients on the rolled-back database -----------------------------------------------------


@pytest.fixture
def web_connection(engine: Engine) -> Iterator[Connection]:
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
def web_db(web_connection: Connection) -> Iterator[Session]:
    session = _joined_session(web_connection)
    try:
        yield session
    finally:
        session.close()


@pytest.fixture
def web_app(engine: Engine, web_connection: Connection) -> FastAPI:
    app = create_app(settings=web_settings(), engine=engine)
    app.state.session_factory = lambda write=False: _joined_session(web_connection)
    return app


@pytest.fixture
def web_client_factory(web_app: FastAPI) -> Iterator[Callable[..., TestClient]]:
    clients: list[TestClient] = []

    def factory(address: str = "198.51.100.20", **kwargs: Any) -> TestClient:
        kwargs.setdefault("follow_redirects", False)
        client = TestClient(web_app, client=(address, 50000), **kwargs)
        clients.append(client)
        return client

    yield factory
    for client in clients:
        client.close()


@pytest.fixture
def web_client(web_client_factory: Callable[..., TestClient]) -> TestClient:
    return web_client_factory()


_TOKEN_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def form_token(client: TestClient, path: str) -> str:
    """The CSRF token of the first form on ``path`` (sets the anonymous form cookie when needed)."""
    response = client.get(path)
    assert response.status_code == 200, response.text
    match = _TOKEN_RE.search(response.text)
    assert match, f"no csrf_token field on {path}"
    return match.group(1)


# --- live server and browser ------------------------------------------------------------------------


@dataclass
class LiveServer:
    url: str
    engine: Engine
    app: FastAPI

    def session(self) -> Session:
        """A session on the live database; commit what the browser should see."""
        return Session(self.engine, expire_on_commit=False)


@pytest.fixture
def live_server(fresh_db_url: str) -> Iterator[LiveServer]:
    """The app served by uvicorn on a free loopback port, in a thread, on a fresh migrated database."""
    import uvicorn

    engine = make_engine(fresh_db_url)
    app = create_app(settings=web_settings(database_url=fresh_db_url), engine=engine)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_config=None, lifespan="off", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the live server did not start")
        time.sleep(0.02)
    try:
        yield LiveServer(url=f"http://127.0.0.1:{port}", engine=engine, app=app)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
        engine.dispose()


FAILED_LOAD = "Failed to load resource"


@dataclass
class BrowserProblems:
    """What went wrong in the browser. A page answered with an error status on purpose (a form shown
    again with 422, a 404 page) is not a problem: Chromium logs it as a console error, so console
    errors about the loading of such a document are left out; any other failed load counts."""

    console_errors: list[tuple[str, str]] = field(default_factory=list)  # (text, url)
    page_errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    error_documents: set[str] = field(default_factory=set)

    def all(self) -> list[str]:
        console = [
            text
            for text, url in self.console_errors
            if not (text.startswith(FAILED_LOAD) and url in self.error_documents)
        ]
        return (
            [f"console: {m}" for m in console]
            + [f"page error: {m}" for m in self.page_errors]
            + [f"dialog: {m}" for m in self.dialogs]
        )


@pytest.fixture
def browser_problems() -> BrowserProblems:
    return BrowserProblems()


def _results_dir(request: pytest.FixtureRequest) -> Path:
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", request.node.name).strip("-")
    folder = RESULTS_DIR / name
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def page(
    browser: Any, live_server: LiveServer, browser_problems: BrowserProblems, request: pytest.FixtureRequest
) -> Iterator[Any]:
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 800})
    context.set_default_timeout(10_000)
    browser_page = context.new_page()

    def on_console(message: Any) -> None:
        if message.type == "error":
            browser_problems.console_errors.append((message.text, message.location.get("url", "")))

    def on_response(response: Any) -> None:
        if response.status >= 400 and response.request.resource_type == "document":
            browser_problems.error_documents.add(response.url)

    browser_page.on("console", on_console)
    browser_page.on("response", on_response)
    browser_page.on("pageerror", lambda error: browser_problems.page_errors.append(str(error)))

    def on_dialog(dialog: Any) -> None:
        browser_problems.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    browser_page.on("dialog", on_dialog)
    try:
        yield browser_page
    finally:
        try:
            browser_page.screenshot(path=str(_results_dir(request) / "final.png"), full_page=True)
        finally:
            context.close()
    problems = browser_problems.all()
    assert not problems, "the browser reported problems:\n" + "\n".join(problems)
