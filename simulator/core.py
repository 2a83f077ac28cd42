"""Shared machinery of the simulator: fault knobs, enforced rate limits, stats, the server runner.

Every platform module builds an ASGI sub-application; ``simulator.app.build_app`` mounts each one
behind a ``FaultMiddleware`` that applies that server's knobs and rate limit. Platform modules never
deal with faults themselves, except the two that need item-level knowledge (duplicated and
out-of-order items), which they read from ``Faults`` through ``current_faults(scope)``.
"""

from __future__ import annotations

import asyncio
import json
import random
import socket
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import uvicorn

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

RateLimitStyle = Literal["mastodon", "bluesky", "x", "none"]


@dataclass
class Faults:
    """Fault knobs of one simulated server. Probabilities are per request, 0..1."""

    rate_limit: int = 300  # requests per window, enforced: request number limit+1 gets a 429
    rate_window_s: float = 300.0
    burst_429: float = 0.0  # a 429 even under the limit (with a reset a second away)
    error_5xx: float = 0.0
    slow_s: float = 0.0  # latency added to every request
    timeout: float = 0.0  # the request hangs for ``hang_s`` (longer than a client's timeout)
    hang_s: float = 3.0
    reset: float = 0.0  # the connection drops mid-body
    malformed: float = 0.0  # the body is cut short / not valid JSON or XML
    duplicate: float = 0.0  # a page repeats items of the previous page (platform modules apply it)
    shuffle: float = 0.0  # a page's items come out of order (platform modules apply it)
    html_errors: bool = False  # error bodies are HTML, as some compatible servers send
    seed: int = 0

    def update(self, changes: dict[str, Any]) -> None:
        names = {f.name for f in fields(self)}
        for key, value in changes.items():
            if key not in names:
                raise KeyError(key)
            setattr(self, key, type(getattr(self, key))(value))

    def all_on(self) -> None:
        """Turn every knob on at a level the collectors must survive."""
        self.burst_429 = 0.05
        self.error_5xx = 0.08
        self.slow_s = 0.01
        self.timeout = 0.03
        self.reset = 0.04
        self.malformed = 0.05
        self.duplicate = 0.2
        self.shuffle = 0.3
        self.html_errors = True


@dataclass
class ServerStats:
    requests: int = 0
    served_429: int = 0
    limit_429: int = 0  # 429s because the enforced limit was exceeded (a collector's fault)
    errors_5xx: int = 0
    resets: int = 0
    malformed: int = 0
    timeouts: int = 0
    paths: dict[str, int] = field(default_factory=dict)


class RateLimiter:
    """A fixed window counter, as Mastodon's and Bluesky's limits behave."""

    def __init__(self, faults: Faults) -> None:
        self._faults = faults
        self._window_start = time.monotonic()
        self._wall_start = datetime.now(UTC)
        self._count = 0
        self._lock = threading.Lock()

    def take(self) -> tuple[bool, int, int, datetime]:
        """Count one request; return (allowed, limit, remaining, reset_at)."""
        with self._lock:
            now = time.monotonic()
            window = self._faults.rate_window_s
            if now - self._window_start >= window:
                self._window_start = now
                self._wall_start = datetime.now(UTC)
                self._count = 0
            self._count += 1
            limit = self._faults.rate_limit
            reset_at = self._wall_start + timedelta(seconds=window)
            remaining = max(0, limit - self._count)
            return self._count <= limit, limit, remaining, reset_at


def rate_limit_headers(
    style: RateLimitStyle, limit: int, remaining: int, reset_at: datetime
) -> list[tuple[bytes, bytes]]:
    """The headers each platform uses to announce its limit."""
    if style == "mastodon":
        iso = reset_at.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        pairs = [
            ("X-RateLimit-Limit", str(limit)),
            ("X-RateLimit-Remaining", str(remaining)),
            ("X-RateLimit-Reset", iso),
        ]
    elif style == "bluesky":
        pairs = [
            ("RateLimit-Limit", str(limit)),
            ("RateLimit-Remaining", str(remaining)),
            ("RateLimit-Reset", str(int(reset_at.timestamp()) + 1)),
            ("RateLimit-Policy", f"{limit};w=300"),
        ]
    elif style == "x":
        pairs = [
            ("x-rate-limit-limit", str(limit)),
            ("x-rate-limit-remaining", str(remaining)),
            ("x-rate-limit-reset", str(int(reset_at.timestamp()) + 1)),
        ]
    else:
        pairs = []
    return [(k.lower().encode(), v.encode()) for k, v in pairs]


class FaultMiddleware:
    """Wrap one simulated server: count, enforce its rate limit, inject its faults."""

    def __init__(self, app: ASGIApp, *, name: str, style: RateLimitStyle, faults: Faults) -> None:
        self.app = app
        self.name = name
        self.style = style
        self.faults = faults
        self.stats = ServerStats()
        self.limiter = RateLimiter(faults)
        self._rng = random.Random(faults.seed)

    def reset_state(self) -> None:
        self.stats = ServerStats()
        self.limiter = RateLimiter(self.faults)
        self._rng = random.Random(self.faults.seed)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        scope.setdefault("state", {})
        scope["state"]["faults"] = self.faults
        scope["state"]["rng"] = self._rng
        self.stats.requests += 1
        path = scope.get("path", "")
        self.stats.paths[path] = self.stats.paths.get(path, 0) + 1
        faults = self.faults
        if faults.slow_s:
            await asyncio.sleep(faults.slow_s)
        allowed, limit, remaining, reset_at = (True, 0, 0, datetime.now(UTC))
        if self.style != "none":
            allowed, limit, remaining, reset_at = self.limiter.take()
        limit_headers = rate_limit_headers(self.style, limit, remaining, reset_at)
        if not allowed:
            self.stats.served_429 += 1
            self.stats.limit_429 += 1
            await self._error(send, 429, "Too many requests", limit_headers)
            return
        roll = self._rng.random
        if faults.burst_429 and roll() < faults.burst_429:
            self.stats.served_429 += 1
            soon = datetime.now(UTC) + timedelta(seconds=1)
            await self._error(send, 429, "Too many requests", rate_limit_headers(self.style, limit, 0, soon))
            return
        if faults.error_5xx and roll() < faults.error_5xx:
            self.stats.errors_5xx += 1
            await self._error(send, self._rng.choice([500, 502, 503]), "Server error", [])
            return
        if faults.timeout and roll() < faults.timeout:
            self.stats.timeouts += 1
            await asyncio.sleep(faults.hang_s)
            await self._error(send, 504, "Gateway timeout", [])
            return
        mode = "ok"
        if faults.reset and roll() < faults.reset:
            mode = "reset"
            self.stats.resets += 1
        elif faults.malformed and roll() < faults.malformed:
            mode = "malformed"
            self.stats.malformed += 1

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [
                    *[(k, v) for k, v in message.get("headers", []) if k != b"content-length"],
                    *limit_headers,
                ]
                if mode == "reset":
                    message["headers"].append((b"content-length", b"100000"))
            elif message["type"] == "http.response.body" and mode != "ok":
                body: bytes = message.get("body", b"")
                message["body"] = body[: max(1, len(body) // 2)]
                if mode == "reset":
                    await send(message)
                    raise ConnectionResetError("simulated connection reset")
            await send(message)

        await self.app(scope, receive, send_wrapper)

    async def _error(self, send: Send, status: int, text: str, headers: list[tuple[bytes, bytes]]) -> None:
        if self.faults.html_errors:
            body = f"<html><body><h1>{status} {text}</h1></body></html>".encode()
            ctype = b"text/html; charset=utf-8"
        else:
            body = json.dumps({"error": text}).encode()
            ctype = b"application/json"
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", ctype), (b"content-length", str(len(body)).encode()), *headers],
            }
        )
        await send({"type": "http.response.body", "body": body})


def current_faults(scope: Scope) -> tuple[Faults, random.Random]:
    """The knobs and RNG of the server handling this request (defaults outside a middleware)."""
    state = scope.get("state", {})
    faults = state.get("faults") or Faults()
    rng = state.get("rng") or random.Random(0)
    return faults, rng


def stats_dict(stats: ServerStats) -> dict[str, Any]:
    return asdict(stats)


class ServerHandle:
    """A uvicorn server running an ASGI app in a background thread on 127.0.0.1."""

    def __init__(self, app: ASGIApp, host: str = "127.0.0.1", port: int = 0) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, port))
        self.host, self.port = self._sock.getsockname()[:2]
        config = uvicorn.Config(
            app, log_level="warning", lifespan="off", access_log=False, timeout_keep_alive=5
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True, name=f"sim-{self.port}"
        )

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> ServerHandle:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("simulator server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._sock.close()

    def __enter__(self) -> ServerHandle:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
