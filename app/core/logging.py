"""Process logging: plain or JSON lines, each with the request id, secrets always redacted.

``configure_logging(settings)`` installs one stderr handler on the root logger (uvicorn's loggers
propagate to it when uvicorn is started with ``log_config=None``, as ``bie api`` does). The handler
carries ``RedactSecretsFilter`` so a password, token, cookie or ``Authorization`` header that slips
into a message or a traceback is replaced by ``[REDACTED]`` before anything is written.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from app.core.settings import Settings

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)

REDACTED = "[REDACTED]"
_SECRET_KEYS = (
    r"password|passwd|secret|secret_key|token|api_token|access_token|refresh_token|csrf_token"
    r"|app_password|bearer_token|bie_session|session|cookie|set-cookie|authorization|x-csrf-token"
)
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # Authorization: Bearer abc / Basic abc (header dumps, curl lines)
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+"), rf"\1 {REDACTED}"),
    # "password": "x"  /  'token': 'x'  (JSON and Python reprs)
    (
        re.compile(rf"(?i)([\"']?(?:{_SECRET_KEYS})[\"']?\s*[:=]\s*)([\"'])(?:\\.|(?!\2).)*\2"),
        rf"\1\2{REDACTED}\2",
    ),
    # password=x&…  /  Cookie: bie_session=x; …  /  token: x
    (re.compile(rf"(?i)\b((?:{_SECRET_KEYS})\s*[:=]\s*)(?![\"'\s])[^\s&;,]+"), rf"\1{REDACTED}"),
    # our own token format, wherever it appears
    (re.compile(r"\bbie_[A-Za-z0-9_-]{16,}"), REDACTED),
)


def redact(text: str) -> str:
    """Replace every secret-looking value in ``text``."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactSecretsFilter(logging.Filter):
    """Render the message once, redacted, so no argument can carry a secret to the output."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a bad format string must not lose the record
            message = str(record.msg)
        record.msg = redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        record.exc_info = None  # the redacted text above replaces it
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: timestamp, level, logger, message, request_id (+ exception)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
        }
        if record.exc_text:
            entry["exception"] = record.exc_text
        elif record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False, default=str)


class PlainFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")


def build_handler(settings: Settings, stream: Any = None) -> logging.Handler:
    """A stream handler with the request-id and redaction filters and the configured format."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(RequestIdFilter())
    handler.addFilter(RedactSecretsFilter())
    handler.setFormatter(JsonFormatter() if settings.log_json else PlainFormatter())
    handler.set_name("bie")
    return handler


def configure_logging(settings: Settings, stream: Any = None) -> None:
    """Send every log record to stderr (plain or JSON lines), redacted; idempotent."""
    root = logging.getLogger()
    for existing in list(root.handlers):
        if existing.get_name() == "bie":
            root.removeHandler(existing)
    root.addHandler(build_handler(settings, stream))
    root.setLevel(settings.log_level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers.clear()
        uvicorn_logger.propagate = True
        # another uvicorn.Config in the process (e.g. the simulator's) may have raised these levels
        uvicorn_logger.setLevel(logging.NOTSET)
