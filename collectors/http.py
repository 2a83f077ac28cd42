"""Retries, backoff and rate-limit waits shared by the httpx-based collectors (blogs, X).

``RequestRunner.call(send, parse)`` sends one logical request and returns what ``parse`` made of
the response, handling everything transient in one place:

* before sending, if the last response said the budget is spent (remaining ≤ ``reserve``) and
  the window has not reset yet, wait for the reset through the injected ``Clock`` when that is
  at most ``max_wait_s`` away, else raise ``RateLimited(reset_at)``: we never spend a request we
  know will be refused;
* 429: the same rule with the reset the server announces (``x-rate-limit-reset``,
  ``X-RateLimit-Reset``, ``RateLimit-Reset`` or ``Retry-After``); without any, back off;
* 5xx, timeouts, connection errors and resets, and bodies ``parse`` calls malformed
  (``MalformedBody``): retry with jittered exponential backoff, sleeping through the ``Clock``,
  then raise ``TransientError``. A ``MalformedBody`` may carry a ``fallback`` result that is
  returned instead once the retries are spent (a feed that is permanently a little broken).

Everything else ``parse`` raises (``SourceBlocked``, ``InvalidSource``, ``BadPayload``)
propagates at once. ``requests`` and ``rate_limit_wait_s`` count what the runner did, so a
collector can report them per page with ``take_stats()``.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any, Generic, Protocol, TypeVar

import httpx

from collectors.base import BadPayload, Clock, RateLimited, SystemClock, TransientError

T = TypeVar("T")
R = TypeVar("R", bound="ResponseLike")


class ResponseLike(Protocol):
    @property
    def status_code(self) -> int: ...

    @property
    def headers(self) -> httpx.Headers: ...


class MalformedBody(BadPayload, Generic[T]):
    """The body could not be parsed, perhaps because it was cut short: worth another try."""

    def __init__(self, reason: str, fallback: T | None = None) -> None:
        super().__init__(reason)
        self.fallback = fallback


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How hard to try: ``attempts`` sends per request, delays base·2ⁿ with jitter, capped."""

    attempts: int = 4
    base_delay_s: float = 0.5
    max_delay_s: float = 8.0
    max_429: int = 5  # 429s tolerated for one request (bursts), each waited out


@dataclass(frozen=True, slots=True)
class RateLimitInfo:
    remaining: int | None
    reset_at: datetime | None


def _parse_reset(value: str, now: datetime) -> datetime | None:
    value = value.strip()
    if not value:
        return None
    try:
        number = float(value)
    except ValueError:
        pass
    else:
        # Epoch seconds (X, Bluesky) are large; small numbers are seconds from now (IETF draft).
        if number > 1_000_000_000:
            return datetime.fromtimestamp(number, UTC)
        return now + timedelta(seconds=max(0.0, number))
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        try:
            parsed = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def parse_rate_limit(headers: Mapping[str, str], now: datetime) -> RateLimitInfo:
    """Read the remaining budget and the reset instant from any of the usual header styles."""
    remaining: int | None = None
    for name in ("x-rate-limit-remaining", "x-ratelimit-remaining", "ratelimit-remaining"):
        raw = headers.get(name)
        if raw is not None:
            try:
                remaining = int(float(raw.strip()))
            except ValueError:
                remaining = None
            break
    reset_at: datetime | None = None
    for name in ("x-rate-limit-reset", "x-ratelimit-reset", "ratelimit-reset", "retry-after"):
        raw = headers.get(name)
        if raw is not None:
            reset_at = _parse_reset(raw, now)
            if reset_at is not None:
                break
    return RateLimitInfo(remaining=remaining, reset_at=reset_at)


RETRYABLE_ERRORS: tuple[type[Exception], ...] = (
    httpx.TimeoutException,
    httpx.NetworkError,
    httpx.RemoteProtocolError,
    httpx.ProxyError,
)


class RequestRunner:
    """Send requests with rate-limit waits and retries; count requests and waited seconds."""

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        max_wait_s: float = 30.0,
        policy: RetryPolicy | None = None,
        rng: random.Random | None = None,
        reserve: int = 0,
    ) -> None:
        self.clock: Clock = clock or SystemClock()
        self.max_wait_s = max_wait_s
        self.policy = policy or RetryPolicy()
        self.rng = rng or random.Random()
        self.reserve = reserve
        self.requests = 0
        self.rate_limit_wait_s = 0.0
        self._limit = RateLimitInfo(remaining=None, reset_at=None)
        # A safety margin over the announced reset: clocks differ and resets are rounded.
        self.reset_margin_s = 0.05

    def take_stats(self) -> tuple[int, float]:
        """Return (requests, rate-limit seconds waited) since the last call and reset them."""
        stats = (self.requests, self.rate_limit_wait_s)
        self.requests = 0
        self.rate_limit_wait_s = 0.0
        return stats

    def _wait_until(self, reset_at: datetime | None, reason: str) -> None:
        now = self.clock.now()
        if reset_at is None:
            reset_at = now + timedelta(seconds=60)
        wait_s = (reset_at - now).total_seconds() + self.reset_margin_s
        if wait_s > self.max_wait_s:
            raise RateLimited(reset_at, reason)
        if wait_s > 0:
            self.clock.sleep(wait_s)
            self.rate_limit_wait_s += wait_s

    def _respect_budget(self) -> None:
        info = self._limit
        if info.remaining is None or info.remaining > self.reserve:
            return
        if info.reset_at is None or info.reset_at <= self.clock.now():
            return
        self._wait_until(info.reset_at, "rate-limit budget spent")
        self._limit = RateLimitInfo(remaining=None, reset_at=None)

    def _backoff(self, attempt: int) -> None:
        ceiling = min(self.policy.max_delay_s, self.policy.base_delay_s * (2**attempt))
        # "Equal jitter": at least half the exponential delay, never a synchronised herd.
        self.clock.sleep(ceiling / 2 + self.rng.uniform(0, ceiling / 2))

    def call(self, send: Callable[[], R], parse: Callable[[R], T]) -> T:
        """Send with ``send`` until ``parse`` accepts a response, or give up (see module doc)."""
        failures = 0
        limited = 0
        last_reason = "no attempt"
        while True:
            self._respect_budget()
            self.requests += 1
            try:
                response = send()
            except RETRYABLE_ERRORS as exc:
                last_reason = f"{type(exc).__name__}: {exc}"
                failures += 1
                if failures >= self.policy.attempts:
                    raise TransientError(f"gave up after {failures} attempts: {last_reason}") from exc
                self._backoff(failures - 1)
                continue
            info = parse_rate_limit(response.headers, self.clock.now())
            if info.remaining is not None or info.reset_at is not None:
                self._limit = info
            status = response.status_code
            if status == 429:
                limited += 1
                if limited > self.policy.max_429:
                    raise RateLimited(
                        info.reset_at or self.clock.now() + timedelta(seconds=60),
                        f"still rate limited after {limited} waits",
                    )
                if info.reset_at is None:
                    self._backoff(limited)
                else:
                    self._wait_until(info.reset_at, "server answered 429")
                self._limit = RateLimitInfo(remaining=None, reset_at=None)
                continue
            if status >= 500:
                last_reason = f"server answered {status}"
                failures += 1
                if failures >= self.policy.attempts:
                    raise TransientError(f"gave up after {failures} attempts: {last_reason}")
                self._backoff(failures - 1)
                continue
            try:
                return parse(response)
            except MalformedBody as exc:
                last_reason = f"malformed body: {exc.reason}"
                failures += 1
                if failures >= self.policy.attempts:
                    fallback: Any = exc.fallback
                    if fallback is not None:
                        result: T = fallback
                        return result
                    raise TransientError(f"gave up after {failures} attempts: {last_reason}") from exc
                self._backoff(failures - 1)
