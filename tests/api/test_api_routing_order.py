"""The routers' order in ``app.main`` is a speed choice (the hottest API routes are matched first; FastAPI
tries routes in order), so it must not be a meaning: no path that one router's route takes can be taken by
a route of another router with a method in common. Then any order of the routers serves every request
the same way."""

from __future__ import annotations

import re
from collections.abc import Iterator

from fastapi import APIRouter
from fastapi.routing import APIRoute
from starlette.routing import compile_path

from app.core import docs as docs_routes
from app.main import API_PREFIX, API_ROUTERS, ROOT_ROUTERS, ops_router

SAMPLES = {"int": "7", "path": "a/b", "float": "1.5", "uuid": "0" * 8 + "-0000-0000-0000-" + "0" * 12}


def routes() -> Iterator[tuple[int, str, frozenset[str]]]:
    """(router's position, full path template, methods) of every route."""
    placed: list[tuple[APIRouter, str]] = [(ops_router, ""), (docs_routes.router, "")]
    placed += [(router, API_PREFIX) for router in API_ROUTERS] + [(router, "") for router in ROOT_ROUTERS]
    for position, (router, prefix) in enumerate(placed):
        for route in router.routes:
            methods = getattr(route, "methods", None) or {"GET"}
            yield position, prefix + route.path, frozenset(methods)  # type: ignore[attr-defined]  # every route here has a path


def sample(template: str) -> str:
    """A concrete path that the template matches: each parameter replaced by a value of its kind."""

    def value(match: re.Match[str]) -> str:
        _, _, convertor = match.group(1).partition(":")
        return SAMPLES.get(convertor, "sample-7")

    return re.sub(r"{([^}]+)}", value, template)


def test_no_two_routers_can_take_the_same_request() -> None:
    every = list(routes())
    assert len(every) > 50
    assert any(path.endswith("/leaderboard") for _, path, _ in every)
    compiled = [(position, compile_path(path)[0], methods, path) for position, path, methods in every]
    assert all(regex.match(sample(path)) for _, regex, _, path in compiled)  # each sample is a real request
    clashes = [
        (path, other_path)
        for position, path, methods in every
        for other_position, regex, other_methods, other_path in compiled
        if other_position != position and methods & other_methods and regex.match(sample(path))
    ]
    assert clashes == []


def test_the_leaderboard_router_comes_first() -> None:
    from app.scoring import routes as scoring_routes

    assert API_ROUTERS[:2] == [scoring_routes.router, scoring_routes.standing_router]
    assert isinstance(next(r for r in scoring_routes.router.routes if "leaderboard" in r.path), APIRoute)  # type: ignore[attr-defined]
