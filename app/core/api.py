"""What every route shares: problem+json errors, pagination, list responses, safe input types.

Every error leaves as ``application/problem+json`` (RFC 9457)::

    {"type": "urn:blogitearnit:problem:not-found", "title": "Not found", "status": 404,
     "detail": "event wcc2031 not found"}

plus ``errors`` (one entry per field) for validation failures. Handlers, most specific first:

DomainError family (app.core.errors, + Unauthenticated below)   → its own status
RequestValidationError                                          → 422, names every field
HTTPException (404 unknown route, 405, 413 …)                   → its status (Starlette's base class)
IntegrityError / DataError / OperationalError (SQLAlchemy)      → 409 / 422 / 503
UnicodeError (text the database cannot store)                   → 422
anything else                                                   → 500, no internals (logged)

A resource the caller may not see is reported exactly like one that does not exist (404).
"""

from __future__ import annotations

import json
import logging
from http import HTTPStatus
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, FastAPI, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import AfterValidator, BaseModel
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse

from app.core.errors import Conflict, DomainError, Forbidden, InvalidInput, NotFound, TooManyRequests
from app.core.middleware import REQUEST_ID_HEADER, problem_type, security_headers

log = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"
MAX_ID = 2_147_483_647  # ids are 32-bit integers on PostgreSQL; a bigger one can only be a 404
MAX_OFFSET = 1_000_000_000


class Unauthenticated(DomainError):
    """No valid session cookie or bearer token (401)."""

    status = 401
    title = "Not authenticated"


class CsrfRejected(Forbidden):
    """A cookie-authenticated write without the session's CSRF token (403)."""

    title = "CSRF token missing or wrong"


_CODES: dict[type[DomainError], str] = {
    Unauthenticated: "unauthenticated",
    CsrfRejected: "csrf",
    InvalidInput: "invalid-input",
    NotFound: "not-found",
    Conflict: "conflict",
    Forbidden: "forbidden",
    TooManyRequests: "too-many-requests",
}
_STATUS_CODES = {
    400: "bad-request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    406: "not-acceptable",
    409: "conflict",
    413: "content-too-large",
    415: "unsupported-media-type",
    422: "validation",
    429: "too-many-requests",
    500: "internal",
    503: "unavailable",
}


class ProblemResponse(JSONResponse):
    media_type = PROBLEM_MEDIA_TYPE

    def render(self, content: Any) -> bytes:
        # ASCII escapes: a lone surrogate echoed from a client's JSON must not break the answer.
        return json.dumps(content, ensure_ascii=True, separators=(",", ":")).encode()


def problem(
    status: int,
    detail: str,
    *,
    code: str | None = None,
    title: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> ProblemResponse:
    """A problem+json response."""
    phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
    body: dict[str, Any] = {
        "type": problem_type(code or _STATUS_CODES.get(status, "error")),
        "title": title or phrase,
        "status": status,
        "detail": detail,
    }
    body.update(extra)
    return ProblemResponse(body, status_code=status, headers=headers)


def _domain_code(exc: DomainError) -> str:
    for cls in type(exc).__mro__:
        if cls in _CODES:
            return _CODES[cls]
    return _STATUS_CODES.get(exc.status, "bad-request")


async def domain_error_handler(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, DomainError)
    headers: dict[str, str] = {}
    if isinstance(exc, TooManyRequests):
        headers["Retry-After"] = str(max(1, exc.retry_after_s))
    if isinstance(exc, Unauthenticated):
        headers["WWW-Authenticate"] = 'Bearer realm="blogitearnit"'
    return problem(exc.status, exc.detail, code=_domain_code(exc), title=exc.title, headers=headers)


def _field_name(loc: tuple[Any, ...] | list[Any]) -> str:
    return ".".join(str(part) for part in loc) or "request"


def validation_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    """The errors without the rejected input (it may be a password) or non-JSON context."""
    return [
        {
            "field": _field_name(error.get("loc", ())),
            "loc": [str(part) for part in error.get("loc", ())],
            "msg": str(error.get("msg", "invalid")).removeprefix("Value error, "),
            "type": str(error.get("type", "value_error")),
        }
        for error in exc.errors()
    ]


async def validation_error_handler(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, RequestValidationError)
    errors = validation_errors(exc)
    detail = "; ".join(f"{e['field']}: {e['msg']}" for e in errors) or "the request is not valid"
    return problem(422, detail, code="validation", title="Invalid request", errors=errors)


async def http_error_handler(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, HTTPException)
    status = exc.status_code
    if isinstance(exc.detail, str):
        detail = exc.detail
    elif status == 404:
        detail = "not found"
    else:
        detail = HTTPStatus(status).description if status in HTTPStatus._value2member_map_ else "error"
    if status == 404 and detail == "Not Found":
        detail = f"nothing at {request.url.path}"
    if status == 405 and detail == "Method Not Allowed":
        detail = f"{request.method} is not allowed on {request.url.path}"
    return problem(status, detail, headers=dict(exc.headers or {}))


async def integrity_error_handler(request: Request, exc: Exception) -> ProblemResponse:
    # A race the service's own check could not see (two requests creating the same thing at once).
    log.info("integrity error answered as 409: %s", str(exc).splitlines()[0])
    return problem(409, "this conflicts with data that already exists; reload and try again")


async def data_error_handler(request: Request, exc: Exception) -> ProblemResponse:
    log.info("data error answered as 422: %s", str(exc).splitlines()[0])
    return problem(422, "a value is too long, out of range or contains characters that cannot be stored")


async def unicode_error_handler(request: Request, exc: Exception) -> ProblemResponse:
    return problem(422, "text must be valid Unicode (no lone surrogates)", code="validation")


async def operational_error_handler(request: Request, exc: Exception) -> ProblemResponse:
    log.error("database unavailable: %s", str(exc).splitlines()[0])
    return problem(503, "the database is unavailable; try again shortly", headers={"Retry-After": "5"})


async def unexpected_error_handler(request: Request, exc: Exception) -> ProblemResponse:
    """Last resort: a 500 that names the request id, never the exception."""
    request_id = str(request.scope.get("state", {}).get("request_id", ""))
    log.exception("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    headers = dict(security_headers(request.url.path))
    if request_id:
        headers[REQUEST_ID_HEADER] = request_id
    detail = "an unexpected error occurred" + (f"; quote request id {request_id}" if request_id else "")
    return problem(500, detail, code="internal", headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, domain_error_handler)
    app.add_exception_handler(RequestValidationError, validation_error_handler)
    app.add_exception_handler(HTTPException, http_error_handler)  # Starlette's: FastAPI's derives from it
    app.add_exception_handler(IntegrityError, integrity_error_handler)
    app.add_exception_handler(DataError, data_error_handler)
    app.add_exception_handler(OperationalError, operational_error_handler)
    app.add_exception_handler(UnicodeError, unicode_error_handler)
    app.add_exception_handler(Exception, unexpected_error_handler)


# --- pagination and list responses -------------------------------------------------------------


class PageParams(BaseModel):
    offset: int = 0
    limit: int = 50


def page_params(
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Items to skip.")] = 0,
    limit: Annotated[int, Query(ge=1, le=200, description="Items to return (1–200).")] = 50,
) -> PageParams:
    return PageParams(offset=offset, limit=limit)


Page = Annotated[PageParams, Depends(page_params)]

T = TypeVar("T")


class ListResponse(BaseModel, Generic[T]):
    """Every list: one page of items and the total across all pages."""

    data: list[T]
    count: int


IdPath = Annotated[int, Path(ge=1, le=MAX_ID, description="Numeric id.")]


# --- input text that every database can store --------------------------------------------------


def _storable(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode (no lone surrogates)") from None
    return value


SafeStr = Annotated[str, AfterValidator(_storable)]
"""A ``str`` that PostgreSQL and SQLite both accept (no NUL, no lone surrogates)."""


def require_storable(value: Any, loc: tuple[str | int, ...] = ("body",)) -> None:
    """Raise a 422 when any text inside ``value`` (a model, dict, list) could not be stored.

    For request models that do not use ``SafeStr`` themselves; SQLite would accept a NUL that
    PostgreSQL refuses, and both databases must answer the same.
    """
    if isinstance(value, BaseModel):
        value = value.model_dump()
    if isinstance(value, str):
        try:
            _storable(value)
        except ValueError as exc:
            raise RequestValidationError([{"loc": loc, "msg": str(exc), "type": "value_error"}]) from None
    elif isinstance(value, dict):
        for key, item in value.items():
            require_storable(item, (*loc, str(key)))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            require_storable(item, (*loc, index))
