"""Pure-ASGI middleware (no BaseHTTPMiddleware: no extra task per request, streaming untouched).

Order, outermost first (``app.main.create_app``): ``RequestIdMiddleware`` → ``SecurityHeadersMiddleware``
→ ``MetricsMiddleware`` → ``BodySizeLimitMiddleware`` → the routes. Unexpected exceptions are
answered by the last-resort handler in ``app.core.api``, which adds the same headers itself because
Starlette runs it outside every user middleware.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from typing import Any

from fastapi import HTTPException
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core import metrics
from app.core.logging import request_id_var

REQUEST_ID_HEADER = "X-Request-ID"
_INCOMING_ID_RE = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")

CSP = "default-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
# Swagger UI (/docs) is served from the app's own files (app.core.docs) and starts with an inline script.
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; base-uri 'self'"
)
DOCS_PATHS = frozenset({"/docs", "/docs/oauth2-redirect", "/redoc"})


def security_headers(path: str) -> list[tuple[str, str]]:
    return [
        ("Content-Security-Policy", DOCS_CSP if path in DOCS_PATHS else CSP),
        ("X-Content-Type-Options", "nosniff"),
        ("X-Frame-Options", "DENY"),
        ("Referrer-Policy", "same-origin"),
        ("Cross-Origin-Opener-Policy", "same-origin"),
    ]


PROBLEM_TYPE_PREFIX = "urn:blogitearnit:problem:"


def problem_type(code: str) -> str:
    """The ``type`` URI of a problem, e.g. ``urn:blogitearnit:problem:not-found``."""
    return PROBLEM_TYPE_PREFIX + code


def problem_bytes(status: int, code: str, title: str, detail: str) -> bytes:
    body = {"type": problem_type(code), "title": title, "status": status, "detail": detail}
    return json.dumps(body).encode()


class RequestIdMiddleware:
    """Give every request an id (a sane incoming ``X-Request-ID`` is kept), echo it, log with it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = _header(scope, b"x-request-id")
        request_id = incoming if incoming and _INCOMING_ID_RE.match(incoming) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        token = request_id_var.set(request_id)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            request_id_var.reset(token)


class SecurityHeadersMiddleware:
    """CSP, nosniff, frame denial and referrer policy on every response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in security_headers(path):
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)


class MetricsMiddleware:
    """Count requests and time them by route template (never by raw path: bounded cardinality)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_recording_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_recording_status)
        finally:
            label = route_template(scope)
            method = scope.get("method", "")
            metrics.HTTP_REQUESTS.labels(method=method, route=label, status=str(status)).inc()
            metrics.HTTP_LATENCY.labels(method=method, route=label).observe(time.perf_counter() - started)


def route_template(scope: Scope) -> str:
    """The matched route's full template, e.g. ``/api/v1/events/{slug}``, or ``<unmatched>``.

    FastAPI puts the matched route in ``scope["route"]`` with the path of its own router; the
    prefixes it was included under are static, so they are the leading segments of the real path.
    """
    route: Any = scope.get("route")
    template = getattr(route, "path_format", None)
    if not isinstance(template, str) or not template:
        return metrics.UNMATCHED_ROUTE
    if ":path}" in template:  # a segment that may span slashes: the prefix cannot be recovered
        return template
    segments = scope.get("path", "").split("/")
    prefix = "/".join(segments[: max(1, len(segments) - template.count("/"))])
    return prefix + template


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` when a body outgrows the limit; FastAPI re-raises HTTPExceptions."""

    def __init__(self, limit: int) -> None:
        super().__init__(status_code=413, detail=f"the request body is larger than {limit} bytes")


class BodySizeLimitMiddleware:
    """Refuse bodies over ``max_bytes`` with 413: by ``Content-Length`` at once, else while reading."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _header(scope, b"content-length")
        if declared is not None:
            if not declared.isdigit():
                await _send_problem(send, 400, "bad-request", "Bad request", "Content-Length is not a number")
                return
            if int(declared) > self.max_bytes:
                detail = f"the request body is larger than {self.max_bytes} bytes"
                await _send_problem(send, 413, "content-too-large", "Content too large", detail)
                return
        received = 0
        limit = self.max_bytes

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        await self.app(scope, limited_receive, send)


async def _send_problem(send: Send, status: int, code: str, title: str, detail: str) -> None:
    body = problem_bytes(status, code, title, detail)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return str(value.decode("latin-1"))
    return None
