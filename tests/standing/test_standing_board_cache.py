"""The board cache: anonymous pages at most ``max_age_s`` old, shared misses, signed-in callers uncached."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import update
from sqlmodel import Session

from app.core import metrics
from app.core.db import table
from app.scoring.leaderboard import BoardCache
from app.scoring.models import LeaderboardEntry
from app.scoring.routes import BOARD_LIMIT, _board_key
from tests.standing.standing_seed import Seeded, check_problem

BOARD = "/api/v1/events/wcc2025/leaderboard"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_page_is_served_until_it_is_max_age_old() -> None:
    clock = FakeClock()
    cache = BoardCache(max_age_s=1.0, refresh_after_s=1.0, clock=clock)  # no refresh ahead
    made: list[bytes] = []

    async def compute() -> bytes:
        made.append(b"page %d" % len(made))
        return made[-1]

    async def scenario() -> list[bytes | None]:
        first = await cache.page(("wcc", 0, 50), compute)
        clock.now += 0.999
        second = await cache.page(("wcc", 0, 50), compute)
        clock.now += 0.001
        third = await cache.page(("wcc", 0, 50), compute)
        return [first, second, third]

    assert asyncio.run(scenario()) == [b"page 0", b"page 0", b"page 1"]


def test_an_ageing_page_is_refreshed_in_the_background() -> None:
    clock = FakeClock()
    cache = BoardCache(max_age_s=1.0, clock=clock)  # refreshed from half a second on
    made: list[bytes] = []
    release = asyncio.Event()

    async def compute() -> bytes:
        if made:
            await release.wait()  # the refresh is slow: callers meanwhile get the cached page
        made.append(b"page %d" % len(made))
        return made[-1]

    async def scenario() -> list[bytes | None]:
        pages = [await cache.page(("wcc", 0, 50), compute)]
        clock.now += 0.4
        pages.append(await cache.page(("wcc", 0, 50), compute))  # young: no refresh
        clock.now += 0.2
        pages.append(await cache.page(("wcc", 0, 50), compute))  # 0.6 s: served, refresh starts
        pages.append(await cache.page(("wcc", 0, 50), compute))  # refresh pending: not started twice
        release.set()
        for _ in range(3):
            await asyncio.sleep(0)
        pages.append(await cache.page(("wcc", 0, 50), compute))  # the refreshed page
        return pages

    assert asyncio.run(scenario()) == [b"page 0"] * 4 + [b"page 1"]
    assert made == [b"page 0", b"page 1"]


def test_a_failed_refresh_keeps_the_page_until_it_is_too_old(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    cache = BoardCache(max_age_s=1.0, clock=clock)
    calls: list[str] = []

    async def compute() -> bytes:
        calls.append("query")
        if len(calls) > 1:
            raise OSError("database went away")
        return b"page"

    async def scenario() -> list[bytes | None]:
        pages = [await cache.page(("wcc", 0, 50), compute)]
        clock.now += 0.6
        pages.append(await cache.page(("wcc", 0, 50), compute))  # refresh starts and fails
        for _ in range(3):
            await asyncio.sleep(0)
        clock.now += 0.3
        pages.append(await cache.page(("wcc", 0, 50), compute))  # 0.9 s: still the old page
        return pages

    assert asyncio.run(scenario()) == [b"page"] * 3
    assert "could not refresh a leaderboard page" in caplog.text
    clock.now += 0.1  # 1.0 s: too old, and the query fails in the caller's face

    with pytest.raises(OSError, match="went away"):
        asyncio.run(cache.page(("wcc", 0, 50), compute))


def test_concurrent_misses_share_one_computation_and_none_is_not_kept() -> None:
    cache = BoardCache(clock=FakeClock())
    calls = {"board": 0, "missing": 0}

    async def board() -> bytes:
        calls["board"] += 1
        await asyncio.sleep(0.01)
        return b"board"

    async def missing() -> None:
        calls["missing"] += 1

    async def scenario() -> list[bytes | None]:
        pages = await asyncio.gather(*(cache.page(("wcc", 0, 50), board) for _ in range(20)))
        for _ in range(3):
            pages.append(await cache.page(("nope", 0, 50), missing))
        return list(pages)

    pages = asyncio.run(scenario())
    assert pages == [b"board"] * 20 + [None] * 3
    assert calls == {"board": 1, "missing": 3}


def test_the_least_recently_used_page_goes_first() -> None:
    cache = BoardCache(entries=2, clock=FakeClock())
    calls: list[int] = []

    def computing(offset: int) -> Any:
        async def compute() -> bytes:
            calls.append(offset)
            return b"%d" % offset

        return compute

    async def scenario() -> None:
        for offset in (0, 50, 0, 100, 0, 50):  # 50 is dropped when 100 arrives (0 was used later)
            await cache.page(("wcc", offset, 50), computing(offset))

    asyncio.run(scenario())
    assert calls == [0, 50, 100, 50]


def _cached_app(api_app: FastAPI) -> FakeClock:
    clock = FakeClock()
    api_app.state.board_cache = BoardCache(max_age_s=1.0, clock=clock)
    return clock


def _move_ana_to_the_top(db: Session, seeded: Seeded) -> None:
    entries = table(LeaderboardEntry)
    db.execute(
        update(entries)
        .where(entries.c.event_id == seeded.event.id, entries.c.reporter_id == seeded.ana_reporter.id)
        .values(score=999_000)
    )
    db.commit()


def test_anonymous_board_is_at_most_max_age_old(
    api_app: FastAPI, api_client: Any, login_as: Any, seeded: Seeded, db: Session
) -> None:
    clock = _cached_app(api_app)
    before = api_client.get(BOARD).json()
    _move_ana_to_the_top(db, seeded)

    def ana_score(body: dict[str, Any]) -> int:
        return next(
            i["score_thousandths"] for i in body["data"] if i["reporter"]["id"] == seeded.ana_reporter.id
        )

    assert api_client.get(BOARD).json() == before  # within the second: the cached page
    staff = login_as("staff")
    assert ana_score(staff.client.get(BOARD).json()) == 999_000  # signed in: never cached
    clock.now += 1.0
    assert ana_score(api_client.get(BOARD).json()) == 999_000


def test_pages_of_unpublished_events_are_never_cached(
    api_app: FastAPI, api_client: Any, login_as: Any, seeded: Seeded, db: Session
) -> None:
    clock = _cached_app(api_app)
    assert api_client.get(BOARD).status_code == 200
    seeded.event.published = False
    db.add(seeded.event)
    db.commit()
    clock.now += 1.0
    check_problem(api_client.get(BOARD), 404)
    staff = login_as("staff")
    assert staff.client.get(BOARD).json()["count"] == 2
    check_problem(api_client.get(BOARD), 404)  # the staff's page was not cached for the public


def test_bad_credentials_are_refused_not_served_from_the_cache(api_client: Any, seeded: Seeded) -> None:
    assert api_client.get(BOARD).status_code == 200
    check_problem(api_client.get(BOARD, headers={"Authorization": "Bearer bie_nope"}), 401)
    check_problem(api_client.get(BOARD, headers={"Authorization": "Basic abc"}), 401)
    check_problem(api_client.get(BOARD, params={"limit": 0}), 422)
    check_problem(api_client.get(BOARD, params={"offset": -1}), 422)


def test_a_page_is_fresh_only_until_it_is_due_for_refresh() -> None:
    clock = FakeClock()
    cache = BoardCache(max_age_s=1.0, clock=clock)  # refreshed from half a second on

    async def compute() -> bytes:
        return b"page"

    asyncio.run(cache.page(("wcc", 0, 50), compute))
    assert cache.fresh(("wcc", 0, 50)) == b"page"
    assert cache.fresh(("wcc", 0, 10)) is None  # never computed here
    clock.now += 0.499
    assert cache.fresh(("wcc", 0, 50)) == b"page"
    clock.now += 0.001
    assert cache.fresh(("wcc", 0, 50)) is None  # due for refresh: the route refreshes it


# --- answered before routing (EarlyBoardPages) ---------------------------------------------------


def _early() -> float:
    return metrics.REGISTRY.get_sample_value("leaderboard_pages_answered_early_total") or 0.0


def _answer(response: Any) -> tuple[int, list[tuple[str, str]], bytes]:
    """Status, headers (but the request id, which differs every time) and body."""
    headers = [(k, v) for k, v in response.headers.items() if k != "x-request-id"]
    return response.status_code, headers, response.content


def test_a_cached_page_is_answered_before_routing_with_the_routes_own_bytes(
    api_app: FastAPI, api_client: Any, seeded: Seeded
) -> None:
    _cached_app(api_app)
    before = _early()
    routed = api_client.get(BOARD)  # the route fills the cache
    assert _early() == before
    early = api_client.get(BOARD)
    assert _early() == before + 1
    assert _answer(early) == _answer(routed)
    assert early.headers["x-request-id"] != routed.headers["x-request-id"]
    # the same page named by its parameters
    assert _answer(api_client.get(BOARD, params={"offset": 0, "limit": 50})) == _answer(routed)
    assert _early() == before + 2


def test_an_early_answer_is_counted_under_the_routes_template(
    api_app: FastAPI, api_client: Any, seeded: Seeded
) -> None:
    _cached_app(api_app)
    api_client.get(BOARD)
    labels = {"method": "GET", "route": "/api/v1/events/{slug}/leaderboard", "status": "200"}
    counted = metrics.REGISTRY.get_sample_value("http_requests_total", labels)
    before = _early()
    api_client.get(BOARD)
    assert _early() == before + 1
    assert counted is not None
    assert metrics.REGISTRY.get_sample_value("http_requests_total", labels) == counted + 1


@pytest.mark.parametrize(
    ("params", "headers", "status"),
    [
        ("?platform=mastodon", {}, 200),
        ("?limit=0", {}, 422),
        ("?offset=-1", {}, 422),
        ("?limit=%2B5", {}, 200),  # "+5": the route reads it, not the early look-up
        ("?limit=50&limit=50", {}, 200),
        ("?limit=", {}, 422),
        ("?lang=en", {}, 200),
        ("?limit=" + "9" * 12, {}, 422),
        ("", {"Authorization": "Bearer bie_nope"}, 401),
        ("", {"Cookie": "theme=dark"}, 200),
    ],
)
def test_anything_but_a_plain_anonymous_request_goes_on_to_the_route(
    api_app: FastAPI, api_client: Any, seeded: Seeded, params: str, headers: dict[str, str], status: int
) -> None:
    _cached_app(api_app)
    api_client.get(BOARD)
    api_client.get(BOARD + "?limit=5")  # the page "+5" would name, cached
    before = _early()
    response = api_client.get(BOARD + params, headers=headers)
    assert response.status_code == status, response.text
    assert _early() == before


def test_an_early_answer_is_never_older_than_the_cache_serves(
    api_app: FastAPI, api_client: Any, seeded: Seeded, db: Session
) -> None:
    clock = _cached_app(api_app)
    first = api_client.get(BOARD).json()
    _move_ana_to_the_top(db, seeded)
    before = _early()
    assert api_client.get(BOARD).json() == first  # young: answered early
    assert _early() == before + 1
    clock.now += 1.0
    moved = api_client.get(BOARD).json()  # too old: the route makes the page again
    assert moved != first
    assert _early() == before + 1
    assert api_client.get(BOARD).json() == moved
    assert _early() == before + 2


@pytest.mark.parametrize(
    ("query", "key"),
    [
        (b"", ("wcc", 0, BOARD_LIMIT)),
        (b"offset=100", ("wcc", 100, BOARD_LIMIT)),
        (b"limit=10&offset=20", ("wcc", 20, 10)),
        (b"offset=007", ("wcc", 7, BOARD_LIMIT)),
        (b"offset=1&offset=2", None),
        (b"offset=-1", None),
        (b"offset=1.0", None),
        (b"offset", None),
        (b"offset=1&", None),
        (b"platform=x", None),
        (b"limit=1234567890", None),
        (b"limit=\xd9\xa3", None),  # a non-ASCII digit
    ],
)
def test_the_early_look_up_reads_only_plain_offset_and_limit(query: bytes, key: Any) -> None:
    assert _board_key("wcc", query) == key
