"""Domain errors shared by services, the CLI (exit code 2) and the API (problem+json).

DomainError
├── InvalidInput      the request or command is malformed or breaks a rule (400/422)
├── NotFound          the thing does not exist or is not visible to the caller (404)
├── Conflict          it clashes with what exists (duplicate slug, illegal transition) (409)
├── Forbidden         the caller may not do this (403)
└── TooManyRequests   throttled (429)
"""

from __future__ import annotations


class DomainError(Exception):
    status = 400
    title = "Bad request"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class InvalidInput(DomainError):
    status = 422
    title = "Invalid input"


class NotFound(DomainError):
    status = 404
    title = "Not found"

    def __init__(self, what: str, key: object) -> None:
        super().__init__(f"{what} {key!s} not found")
        self.what = what
        self.key = key


class Conflict(DomainError):
    status = 409
    title = "Conflict"


class Forbidden(DomainError):
    status = 403
    title = "Forbidden"


class TooManyRequests(DomainError):
    status = 429
    title = "Too many requests"

    def __init__(self, detail: str, retry_after_s: int) -> None:
        super().__init__(detail)
        self.retry_after_s = retry_after_s
