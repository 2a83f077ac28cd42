"""Fault drills: every simulator fault knob, alone, against every collector through
``app.ingest.service.collect_source`` (the whole set together is the e2e all-faults test); health and
back-off on the source when a server keeps failing; the API answering while collection fails.

Ground truth is the simulator's own: the keys of the live, public, tagged posts it serves.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlmodel import Session

from app.core import migrate
from app.core.db import make_engine, table
from app.demo import seed_programme
from app.ingest import service
from app.ingest.models import CollectorRun
from simulator.core import Faults
from simulator.scenarios import build_scenario
from tests.reliability.reliability_helpers import (
    PLATFORMS,
    LiveServer,
    World,
    add_sources,
    collect_round,
    collect_until_quiet,
    distinct_server_seeds,
    fast_options,
    health,
    stored,
    truth,
)

SIZES = {"mastodon_posts": 160, "bluesky_posts": 120, "blog_articles": 12, "x_posts": 300, "feed_size": 100}
SMALL = {"mastodon_posts": 60, "bluesky_posts": 40, "blog_articles": 6, "x_posts": 40, "feed_size": 20}
PREFIXES = ("/mastodon/social1", "/mastodon/social2", "/mastodon/social3", "/bluesky", "/blogs", "/x")

# knob -> (settings, the stats counter that proves it fired on every server, or None)
KNOBS: dict[str, tuple[dict[str, Any], str | None]] = {
    "burst_429": ({"burst_429": 0.1}, "served_429"),
    "error_5xx": ({"error_5xx": 0.3}, "errors_5xx"),
    "slow_s": ({"slow_s": 0.03}, None),
    "timeout": ({"timeout": 0.15, "hang_s": 0.25}, "timeouts"),
    "reset": ({"reset": 0.25}, "resets"),
    "malformed": ({"malformed": 0.25}, "malformed"),
    "duplicate": ({"duplicate": 0.7}, None),
    "shuffle": ({"shuffle": 0.9}, None),
    "html_errors": ({"html_errors": True, "error_5xx": 0.3}, "errors_5xx"),
    # 3 requests a 1.5 s window: the budget runs out even when a loaded machine makes requests slow
    "rate_limit": ({"rate_limit": 3, "rate_window_s": 1.5}, None),
}


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """The knob matrix runs on SQLite only: the faults live on the HTTP side, and the same upserts are
    proven on both databases by the drills below and by tests/e2e (every knob at once)."""
    url = f"sqlite:///{tmp_path / 'faults.db'}"
    engine = make_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    return url


def _factory(url: str, made: list[World]) -> Any:
    def make(faults: Faults | None = None, *, seed: int = 0, **sizes: int) -> World:
        scenario = build_scenario(faults=faults, seed=seed, **(sizes or SIZES))
        # every knob fires on every server's first request (see distinct_server_seeds)
        distinct_server_seeds(scenario, 100, first_roll_below=0.1)
        world = World(scenario, scenario.simulator.serve().start(), make_engine(url))
        made.append(world)
        add_sources(world)
        return world

    return make


@pytest.fixture
def world_factory(fresh_db_url: str) -> Iterator[Any]:
    made: list[World] = []
    yield _factory(fresh_db_url, made)
    for world in made:
        world.handle.stop()
        world.engine.dispose()


@pytest.fixture
def sqlite_world_factory(sqlite_url: str) -> Iterator[Any]:
    made: list[World] = []
    yield _factory(sqlite_url, made)
    for world in made:
        world.handle.stop()
        world.engine.dispose()


@pytest.mark.parametrize("knob", list(KNOBS))
def test_each_fault_knob_alone_loses_and_duplicates_nothing_on_every_collector(
    sqlite_world_factory, knob
) -> None:
    settings, counter = KNOBS[knob]
    faults = Faults(seed=11)
    faults.update(settings)
    world = sqlite_world_factory(faults)
    assert set(world.sources.values()) == set(PLATFORMS)
    collect_until_quiet(world, max_rounds=25, min_rounds=2)
    keys, total = stored(world.engine)
    expected = truth(world)
    assert expected - keys == set(), f"{knob}: {len(expected - keys)} posts lost"
    assert keys - expected == set(), f"{knob}: stored posts the simulator never served"
    assert total == len(keys) + _reposts(world), f"{knob}: duplicate rows"
    stats = world.scenario.simulator.stats()
    assert {p: s["limit_429"] for p, s in stats.items()} == dict.fromkeys(stats, 0), (
        "an enforced limit was hit"
    )
    if counter is not None:
        fired = {prefix: stats[prefix][counter] for prefix in PREFIXES}
        assert all(fired.values()), f"{knob} never fired on some servers: {fired}"
    if knob == "rate_limit":  # the budget ran out and the collectors waited for the reset instead
        with Session(world.engine) as session:
            waits = session.execute(select(func.sum(table(CollectorRun).c.rate_limit_waits))).scalar_one()
        assert waits is not None
        assert waits > 0
    assert {row.health for row in health(world.engine).values()} == {"ok"}


def _reposts(world: World) -> int:
    from app.ingest.models import Post

    posts = table(Post)
    with Session(world.engine) as session:
        return int(
            session.execute(
                select(func.count()).select_from(posts).where(posts.c.kind == "repost")
            ).scalar_one()
        )


def test_a_failing_server_shows_on_the_source_backs_off_and_recovers(world_factory) -> None:
    faults = Faults(seed=3, error_5xx=1.0, html_errors=True)
    world = world_factory(
        faults, mastodon_posts=60, bluesky_posts=40, blog_articles=6, x_posts=40, feed_size=20
    )
    delays: dict[int, list[float]] = {sid: [] for sid in world.sources}
    for failures in (1, 2, 3):
        before = datetime.now(UTC)
        _, summaries = collect_round(world, attempts=2)
        assert {s.status for s in summaries} == {"failed"}
        for source_id, row in health(world.engine).items():
            assert row.health == "failing", (world.sources[source_id], row.health)
            assert row.consecutive_failures == failures
            assert row.last_error is not None
            assert "gave up after" in row.last_error, row.last_error
            assert "<html" not in row.last_error, "an HTML error page leaked into the health text"
            assert row.last_success_at is None
            delays[source_id].append((row.next_run_at - before).total_seconds())
    for source_id, waited in delays.items():  # interval·2^(n−1) ±25 %: each step at least 1.2× longer
        assert waited[0] > 0
        assert waited[1] > 1.2 * waited[0], (world.sources[source_id], waited)
        assert waited[2] > 1.2 * waited[1], (world.sources[source_id], waited)
    # the scheduler's path respects the back-off: not due, and no request reaches the failing server
    requests_before = sum(s["requests"] for s in world.scenario.simulator.stats().values())
    for source_id, platform in world.sources.items():
        summary = service.collect_source(
            engine=world.engine, source_id=source_id, collector_options=fast_options(platform)
        )
        assert summary.status == "not_due"
    assert sum(s["requests"] for s in world.scenario.simulator.stats().values()) == requests_before
    # the servers recover: the next forced run succeeds and everything is collected exactly once
    for prefix in PREFIXES:
        world.scenario.simulator.faults(prefix).update({"error_5xx": 0.0})
    collect_until_quiet(world)
    for row in health(world.engine).values():
        assert (row.health, row.consecutive_failures, row.last_error) == ("ok", 0, None)
        assert row.last_success_at is not None
    keys, _ = stored(world.engine)
    assert keys == truth(world)


def test_a_server_that_keeps_answering_429_marks_the_source_rate_limited(world_factory) -> None:
    faults = Faults(seed=4, burst_429=1.0)
    world = world_factory(
        faults, mastodon_posts=30, bluesky_posts=30, blog_articles=4, x_posts=30, feed_size=10
    )
    mastodon_and_x = {sid: p for sid, p in world.sources.items() if p in ("mastodon", "x")}
    for source_id, platform in list(mastodon_and_x.items())[-2:]:  # one Mastodon server and X
        started = datetime.now(UTC)
        summary = service.collect_source(
            engine=world.engine,
            source_id=source_id,
            force=True,
            collector_options=fast_options(platform, max_429=1),
        )
        row = health(world.engine)[source_id]
        assert summary.status == "failed"
        assert row.health == "rate_limited", (platform, row.health, row.last_error)
        assert row.last_error is not None
        assert row.last_error.startswith("rate limited by the server until")
        assert row.next_run_at > started  # at the announced reset, not at once


def test_the_api_keeps_answering_while_every_server_fails(world_factory) -> None:
    faults = Faults(seed=5, error_5xx=1.0, html_errors=True)
    world = world_factory(faults, **SMALL)
    seed_programme(world.engine, world.scenario, world.handle.url, now=datetime.now(UTC))
    stop = threading.Event()
    runs: list[str] = []
    crashes: list[BaseException] = []

    def collect_forever() -> None:
        while not stop.is_set():
            try:
                _, summaries = collect_round(world, attempts=3)
                runs.extend(f"{world.sources[s.source_id]}:{s.status}:{s.error}" for s in summaries)
            except BaseException as exc:  # noqa: BLE001  (recorded: a crash of the loop fails the test)
                crashes.append(exc)
                return

    collector = threading.Thread(target=collect_forever, daemon=True)
    latencies: list[float] = []
    with LiveServer(world.engine) as live, httpx.Client(base_url=live.url, timeout=10) as client:
        collector.start()
        paths = ["/healthz", "/readyz", "/api/v1/events", "/api/v1/events/congress-demo/leaderboard"]
        for n in range(200):
            started = time.perf_counter()
            response = client.get(paths[n % len(paths)])
            latencies.append(time.perf_counter() - started)
            assert response.status_code == 200, (response.status_code, response.text[:300])
            if n >= 120 and len(runs) >= len(world.sources):
                break
        stop.set()
        collector.join(timeout=60)
    assert not crashes, crashes
    assert [r for r in runs if ":failed:" not in r] == []
    assert max(latencies) < 5, f"slowest answer {max(latencies):.2f}s while collection failed"
    with Session(world.engine) as session:
        unhealthy = session.execute(
            select(table(CollectorRun).c.status).where(table(CollectorRun).c.error.is_not(None))
        ).all()
    assert unhealthy
