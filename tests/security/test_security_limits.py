"""Oversize requests are refused (413) on every body-taking route, declared or streamed.

Routes are enumerated from the app as in the authorisation matrix. A declared ``Content-Length``
over ``BIE_MAX_REQUEST_BYTES`` is refused before any routing or authentication; a chunked body
without a length is refused as soon as the route reads past the limit, for a caller the route
admits (so that it does read the body).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI
from sqlalchemy import Connection

from tests.security.conftest import SecurityWorld
from tests.security.test_security_matrix import OK, app_routes, cases, run_isolated

BODY_METHODS = ("POST", "PUT", "PATCH", "DELETE")


def _admitted(profile: dict[str, Any]) -> str:
    return next(role for role in ("reporter", "judge", "staff", "admin", "anonymous") if profile[role] == OK)


def test_a_declared_oversize_body_is_refused_on_every_route(
    api_app: FastAPI, security_world: SecurityWorld, api_settings: Any, assert_problem: Any
) -> None:
    limit = api_settings.max_request_bytes
    body = b'{"x": "' + b"y" * (limit + 10) + b'"}'
    routes = sorted(r for r in app_routes(api_app) if r[0] in BODY_METHODS)
    table = cases(security_world)
    for method, template in routes:
        caller = security_world.callers["anonymous"]
        caller.reset()
        response = caller.client.request(
            method, table[(method, template)].path, content=body, headers={"Content-Type": "application/json"}
        )
        problem = assert_problem(response, 413, code="content-too-large")
        assert str(limit) in problem["detail"]
    assert len(routes) >= 50


def _chunks(total: int) -> Iterator[bytes]:
    yield b'{"reason": "'
    sent = 0
    while sent < total:
        yield b"z" * 4096
        sent += 4096
    yield b'"}'


def test_a_streamed_oversize_body_is_refused_where_it_is_read(
    api_app: FastAPI, api_connection: Connection, security_world: SecurityWorld, api_settings: Any
) -> None:
    limit = api_settings.max_request_bytes
    table = cases(security_world)
    problems = []
    checked = 0
    for method, template in sorted(r for r in app_routes(api_app) if r[0] in BODY_METHODS):
        case = table[(method, template)]
        if case.json is None and case.form is None:
            continue  # the route takes no body (or an optional one it may not read)
        role = _admitted(case.profile)
        caller = security_world.callers[role]
        content_type = "application/json" if case.json is not None else "application/x-www-form-urlencoded"

        def send(caller: Any = caller, method: str = method, case: Any = case, ct: str = content_type) -> Any:
            caller.reset()
            return caller.client.request(
                method, case.path, content=_chunks(limit * 2), headers={"Content-Type": ct}
            )

        response = run_isolated(api_connection, send)
        checked += 1
        if response.status_code != 413:
            problems.append(f"{method} {template} as {role}: {response.status_code} {response.text[:100]}")
    assert checked >= 40
    assert not problems, "\n".join(problems)
