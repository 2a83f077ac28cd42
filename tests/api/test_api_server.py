"""``bie api`` wiring, and uvicorn serving the app over real HTTP on a free loopback port."""

from __future__ import annotations

import io
import json
import logging
import threading
import time
from typing import Any

import httpx
import pytest
import uvicorn

from app.cli import server as server_cli
from app.cli.main import main
from app.core import migrate
from app.core.db import get_engine, make_engine, set_engine
from app.core.logging import configure_logging
from app.core.settings import get_settings


def test_bie_api_runs_uvicorn_with_the_app_factory(monkeypatch):
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(server_cli, "configure_logging", lambda settings: None)
    monkeypatch.setattr(server_cli.uvicorn, "run", lambda **kwargs: calls.append(kwargs))
    with pytest.raises(SystemExit) as exit_info:
        main(["api", "--host", "127.0.0.1", "--port", "0", "--workers", "2"])
    assert exit_info.value.code == 0
    (options,) = calls
    assert (options["app"], options["factory"]) == ("app.main:create_app", True)
    assert (options["host"], options["port"], options["workers"]) == ("127.0.0.1", 0, 2)
    assert options["log_config"] is None  # our own logging setup stays in charge
    assert options["proxy_headers"] is False  # forwarded headers are trusted only when asked


@pytest.fixture
def served_db(tmp_path, monkeypatch) -> Any:
    """The factory's default settings and engine pointed at a migrated SQLite file (one kind is enough
    here: the database paths are covered by the other API tests)."""
    url = f"sqlite:///{tmp_path / 'served.db'}"
    engine = make_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    monkeypatch.setenv("BIE_DATABASE_URL", url)
    get_settings.cache_clear()
    set_engine(None)
    yield url
    get_engine().dispose()
    set_engine(None)
    get_settings.cache_clear()


@pytest.fixture
def json_log() -> Any:
    root = logging.getLogger()
    before, level = list(root.handlers), root.level
    stream = io.StringIO()
    configure_logging(get_settings().model_copy(update={"log_json": True, "log_level": "INFO"}), stream)
    yield stream
    for handler in list(root.handlers):
        if handler not in before:
            root.removeHandler(handler)
    root.setLevel(level)


def test_uvicorn_serves_healthz_over_http(served_db, json_log):
    options = server_cli.uvicorn_options(host="127.0.0.1", port=0)  # what `bie api` runs; port 0: any free
    server = uvicorn.Server(uvicorn.Config(**options))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            assert thread.is_alive(), json_log.getvalue()
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.02)
        port = server.servers[0].sockets[0].getsockname()[1]
        base = f"http://127.0.0.1:{port}"
        response = httpx.get(f"{base}/healthz", timeout=5)
        assert response.status_code == 200
        assert response.json() == {"status": "ok"}
        assert response.headers["x-content-type-options"] == "nosniff"
        ready = httpx.get(f"{base}/readyz", timeout=5)
        assert ready.status_code == 200, ready.text
        request_id = httpx.get(f"{base}/api/v1/events", timeout=5).headers["x-request-id"]
    finally:
        server.should_exit = True
        thread.join(timeout=15)
    assert not thread.is_alive()
    lines = [json.loads(line) for line in json_log.getvalue().splitlines() if line.startswith("{")]
    assert lines
    assert all({"timestamp", "level", "logger", "message"} <= entry.keys() for entry in lines)
    assert any(entry.get("request_id") == request_id for entry in lines)  # uvicorn's access line
