"""``bie api`` serves over real HTTP (uvicorn on a free loopback port, in a child process)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from app.cli.server import uvicorn_options
from app.core import migrate
from app.core.db import make_engine

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_uvicorn_options_use_the_app_factory():
    options = uvicorn_options(host="127.0.0.1", port=0, workers=2)
    assert (options["app"], options["factory"]) == ("app.main:create_app", True)
    assert (options["host"], options["port"], options["workers"]) == ("127.0.0.1", 0, 2)
    assert options["log_config"] is None
    assert options["proxy_headers"] is False


def test_bie_api_serves_healthz_over_http(tmp_path):
    url = f"sqlite:///{tmp_path / 'server.db'}"
    engine = make_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    port = _free_port()
    env = {**os.environ, "BIE_DATABASE_URL": url, "BIE_LOG_JSON": "true", "BIE_LOG_LEVEL": "INFO"}
    log_path = tmp_path / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-c", "from app.cli.main import main; main()", "api", "--host", "127.0.0.1",
             "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 30
            response = None
            while time.monotonic() < deadline:
                try:
                    response = httpx.get(f"{base}/healthz", timeout=2)
                    break
                except httpx.TransportError:
                    assert process.poll() is None, log_path.read_text()
                    time.sleep(0.1)
            assert response is not None, log_path.read_text()
            assert response.status_code == 200
            assert response.json() == {"status": "ok"}
            assert response.headers["x-content-type-options"] == "nosniff"
            ready = httpx.get(f"{base}/readyz", timeout=5)
            assert ready.status_code == 200, ready.text
            request_id = httpx.get(f"{base}/api/v1/events", timeout=5).headers["x-request-id"]
        finally:
            process.terminate()
            process.wait(timeout=15)
    lines = [json.loads(line) for line in log_path.read_text().splitlines() if line.startswith("{")]
    assert lines, log_path.read_text()
    assert all({"timestamp", "level", "logger", "message"} <= entry.keys() for entry in lines)
    assert any(entry.get("request_id") == request_id for entry in lines)
