"""Logs: JSON lines with the request id; secrets never reach the output."""

from __future__ import annotations

import io
import json
import logging

import pytest

from app.core.logging import (
    REDACTED,
    RedactSecretsFilter,
    build_handler,
    configure_logging,
    redact,
    request_id_var,
)
from app.core.settings import Settings


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("Authorization: Bearer bie_abcdefghijklmnopqrstuvwxyz", "bie_abcdefghijklmnopqrstuvwxyz"),
        ("authorization=Basic dXNlcjpwYXNzd29yZA==", "dXNlcjpwYXNzd29yZA=="),
        ('{"email": "a@b.org", "password": "hunter2 with spaces"}', "hunter2 with spaces"),
        ("{'password': 'hunter2'}", "hunter2"),
        ("email=a%40b.org&password=hunter2&x=1", "hunter2"),
        ("Cookie: bie_session=s3cr3tSessionId; theme=dark", "s3cr3tSessionId"),
        ("set-cookie: bie_session=s3cr3tSessionId; HttpOnly", "s3cr3tSessionId"),
        ("X-CSRF-Token: abcDEF123456", "abcDEF123456"),
        ("new token bie_0123456789abcdefghij issued", "bie_0123456789abcdefghij"),
        ("secret_key=dev-insecure-change-me", "dev-insecure-change-me"),
    ],
)
def test_redact(text, secret):
    redacted = redact(text)
    assert secret not in redacted
    assert REDACTED in redacted


def test_redact_leaves_ordinary_text_alone():
    text = "GET /api/v1/events/wcc2025 200 in 3 ms for reporter 42"
    assert redact(text) == text


def _emit(handler: logging.Handler, logger_name: str, *args, exc: BaseException | None = None) -> str:
    logger = logging.getLogger(logger_name)
    logger.propagate = False
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        if exc is not None:
            try:
                raise exc
            except type(exc):
                logger.exception(*args)
        else:
            logger.info(*args)
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
    return str(handler.stream.getvalue())  # type: ignore[attr-defined]  # a StreamHandler over StringIO


def test_json_lines_carry_the_request_id_and_no_secrets():
    stream = io.StringIO()
    handler = build_handler(Settings(_env_file=None, log_json=True), stream)
    token = request_id_var.set("req-123")
    try:
        output = _emit(handler, "bie.test.json", "login %s", {"email": "a@b.org", "password": "hunter2"})
    finally:
        request_id_var.reset(token)
    entry = json.loads(output.strip())
    assert entry["request_id"] == "req-123"
    assert (entry["level"], entry["logger"]) == ("INFO", "bie.test.json")
    assert entry["timestamp"].endswith("+00:00")
    assert "hunter2" not in output
    assert "a@b.org" in entry["message"]


def test_tracebacks_are_redacted_too():
    stream = io.StringIO()
    handler = build_handler(Settings(_env_file=None, log_json=True), stream)
    output = _emit(handler, "bie.test.exc", "failed", exc=ValueError("token=bie_supersecretvalue123456"))
    entry = json.loads(output.strip())
    assert "ValueError" in entry["exception"]
    assert "bie_supersecretvalue123456" not in output


def test_plain_format_is_redacted_and_names_the_request():
    stream = io.StringIO()
    handler = build_handler(Settings(_env_file=None, log_json=False), stream)
    output = _emit(handler, "bie.test.plain", "headers: %r", {"Authorization": "Bearer abc.def"})
    assert "abc.def" not in output
    assert "[None]" in output  # no request in flight


def test_the_filter_drops_args_after_rendering():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "pw=%s", ("password=hunter2",), None)
    assert RedactSecretsFilter().filter(record)
    assert record.args is None
    assert "hunter2" not in record.getMessage()


def test_configure_logging_installs_one_handler_on_root():
    root = logging.getLogger()
    before = list(root.handlers)
    level = root.level
    try:
        stream = io.StringIO()
        configure_logging(Settings(_env_file=None, log_json=True), stream)
        configure_logging(Settings(_env_file=None, log_json=True), stream)
        ours = [h for h in root.handlers if h.get_name() == "bie"]
        assert len(ours) == 1
        logging.getLogger("uvicorn.error").warning("password=hunter2")
        assert "hunter2" not in stream.getvalue()
        assert "[REDACTED]" in stream.getvalue()
    finally:
        for handler in list(root.handlers):
            if handler not in before:
                root.removeHandler(handler)
        root.setLevel(level)


def test_request_logs_carry_the_request_id(api_app, api_client):
    from fastapi import APIRouter

    router = APIRouter()
    probe_log = logging.getLogger("bie.test.request")

    @router.get("/probe/log")
    def log_something() -> dict[str, str]:
        probe_log.info("handling with password=%s", "hunter2")
        return {}

    api_app.include_router(router)
    stream = io.StringIO()
    handler = build_handler(Settings(_env_file=None, log_json=True), stream)
    probe_log.addHandler(handler)
    probe_log.setLevel(logging.INFO)
    try:
        response = api_client.get("/probe/log")
    finally:
        probe_log.removeHandler(handler)
    entry = json.loads(stream.getvalue().strip())
    assert entry["request_id"] == response.headers["x-request-id"]
    assert "hunter2" not in stream.getvalue()
