"""Collection through the app against the simulator (a real HTTP server on loopback), on both databases.

Ground truth comes from the simulator itself: the keys of the live, public, tagged posts it serves.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, func, select
from sqlmodel import Session

from app.core.db import make_engine, table
from app.ingest import service
from app.ingest.models import Post, Source
from simulator.core import Faults, ServerHandle
from simulator.scenarios import Scenario, build_scenario

POSTS = table(Post)


class AheadClock:
    """Wall-clock time shifted ahead (sleeps for real)."""

    def __init__(self, ahead: timedelta) -> None:
        self.ahead = ahead

    def now(self) -> datetime:
        return datetime.now(UTC) + self.ahead

    def sleep(self, seconds: float) -> None:
        time.sleep(max(0.0, seconds))


@dataclass
class World:
    scenario: Scenario
    handle: ServerHandle
    engine: Engine
    sources: dict[str, int]  # label -> source id


def add_sources(
    engine: Engine, scenario: Scenario, url: str, monkeypatch: pytest.MonkeyPatch, platforms: tuple[str, ...]
) -> dict[str, int]:
    ids: dict[str, int] = {}
    with Session(engine) as session:
        for n, spec in enumerate(scenario.sources(url)):
            if spec.platform not in platforms:
                continue
            token_env = None
            if spec.token:
                token_env = f"BIE_TEST_SOURCE_TOKEN_{n}"
                monkeypatch.setenv(token_env, spec.token)
            source = service.add_source(
                session=session,
                platform=spec.platform,
                url=spec.url,
                tags=list(spec.tags),
                query=spec.query,
                handle=spec.handle,
                token_env=token_env,
                trusted=True,
            )
            assert source.id is not None
            ids[spec.url.removeprefix(url)] = source.id
        session.commit()
    return ids


@pytest.fixture
def world_factory(fresh_db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator:
    made: list[World] = []

    def make(
        *,
        platforms: tuple[str, ...] = ("mastodon", "bluesky", "blog"),
        faults: Faults | None = None,
        **sizes: int,
    ) -> World:
        scenario = build_scenario(faults=faults, **sizes)
        handle = scenario.simulator.serve().start()
        engine = make_engine(fresh_db_url)
        world = World(
            scenario, handle, engine, add_sources(engine, scenario, handle.url, monkeypatch, platforms)
        )
        made.append(world)
        return world

    yield make
    for world in made:
        world.handle.stop()
        world.engine.dispose()


def truth_of(world: World, platforms: tuple[str, ...]) -> set[str]:
    keys: set[str] = set()
    if "mastodon" in platforms:
        for server in world.scenario.mastodon.values():
            keys |= server.truth()
    if "bluesky" in platforms:
        keys |= world.scenario.bluesky.truth()
    if "blog" in platforms:
        keys |= world.scenario.blogs.truth()
    if "x" in platforms:
        keys |= world.scenario.x.truth()
    return keys


def stored(world: World) -> tuple[set[str], int]:
    with Session(world.engine) as session:
        keys = set(session.execute(select(POSTS.c.global_key).where(POSTS.c.kind != "repost")).scalars())
        total = session.execute(select(func.count()).select_from(POSTS)).scalar_one()
    return keys, int(total)


def collect_until_quiet(world: World, *, max_rounds: int = 40) -> int:
    """Run every source until a round brings nothing new and every source is healthy."""
    for round_number in range(1, max_rounds + 1):
        quiet = True
        for source_id in world.sources.values():
            summary = service.collect_source(engine=world.engine, source_id=source_id, force=True)
            if summary.status != "ok" or summary.new or summary.updated:
                quiet = False
        if quiet:
            return round_number
    raise AssertionError(f"collection did not settle in {max_rounds} rounds")


def test_a_5000_post_backlog_is_collected_exactly(world_factory) -> None:
    platforms = ("mastodon", "bluesky", "blog")
    world = world_factory(
        platforms=platforms, mastodon_posts=4400, bluesky_posts=2400, blog_articles=60, feed_size=100
    )
    collect_until_quiet(world)
    expected = truth_of(world, platforms)  # after collection: guid-less blog keys carry the served host
    assert len(expected) >= 5000
    keys, total = stored(world)
    assert keys - expected == set(), "posts stored that the simulator never served as live and tagged"
    assert expected - keys == set(), "posts missing"
    assert total == len(keys)  # no duplicate rows (the unique key makes a duplicate a failure, too)
    stats = world.scenario.simulator.stats()
    assert sum(s["limit_429"] for s in stats.values()) == 0


def test_every_fault_knob_on_still_gives_the_ground_truth_with_no_enforced_429(world_factory) -> None:
    faults = Faults(rate_limit=25, rate_window_s=1.0, hang_s=1.5, seed=7)
    faults.all_on()
    platforms = ("mastodon", "bluesky", "blog", "x")
    world = world_factory(
        platforms=platforms,
        faults=faults,
        mastodon_posts=300,
        bluesky_posts=250,
        blog_articles=30,
        x_posts=150,
        feed_size=100,
    )
    collect_until_quiet(world, max_rounds=60)
    keys, total = stored(world)
    assert keys == truth_of(world, platforms)
    assert total == len(keys)
    stats = world.scenario.simulator.stats()
    injected = sum(
        s["errors_5xx"] + s["resets"] + s["malformed"] + s["timeouts"] + s["served_429"]
        for s in stats.values()
    )
    assert injected > 0, "the faults were not exercised"
    assert {prefix: s["limit_429"] for prefix, s in stats.items()} == dict.fromkeys(stats, 0)
    with Session(world.engine) as session:
        health = {s.health for s in session.execute(select(table(Source))).all()}
    assert health == {"ok"}


def test_deletions_and_edits_are_applied_by_rechecks(world_factory) -> None:
    world = world_factory(platforms=("mastodon", "bluesky"), mastodon_posts=120, bluesky_posts=80)
    collect_until_quiet(world)
    federation, bluesky = world.scenario.federation, world.scenario.bluesky
    mastodon_truth = sorted(world.scenario.mastodon["social1"].truth())
    bluesky_truth = sorted(bluesky.truth())
    deleted = [mastodon_truth[0], bluesky_truth[0]]
    untagged = [mastodon_truth[1], bluesky_truth[1]]
    federation.delete(deleted[0])
    bluesky.delete(deleted[1])
    federation.edit(untagged[0], remove_tag="iucncec")
    federation.edit(untagged[0], remove_tag="natureforall")
    bluesky.edit(untagged[1], remove_tag="iucncec")
    bluesky.edit(untagged[1], remove_tag="natureforall")
    with Session(world.engine) as session:
        ids = dict(
            session.execute(
                select(POSTS.c.global_key, POSTS.c.id).where(POSTS.c.global_key.in_(deleted + untagged))
            ).all()
        )
    post_ids = [ids[k] for k in deleted + untagged]
    service.recheck_due(engine=world.engine, post_ids=post_ids)
    service.recheck_due(engine=world.engine, post_ids=post_ids)  # Bluesky: gone after two misses
    with Session(world.engine) as session:
        rows = {r.global_key: r for r in session.execute(select(POSTS).where(POSTS.c.id.in_(post_ids)))}
    assert all(rows[k].deleted_at is not None for k in deleted)
    for key in untagged:
        lowered = {t.casefold() for t in rows[key].tags}
        assert rows[key].deleted_at is None
        assert not lowered & {"iucncec", "natureforall"}, rows[key].tags


def test_request_counts_stay_within_the_page_bounds(world_factory) -> None:
    world = world_factory(platforms=("mastodon", "bluesky"), mastodon_posts=100, bluesky_posts=100)
    collect_until_quiet(world)
    stats_before = world.scenario.simulator.stats()
    federation = world.scenario.federation
    new_mastodon = 97
    for n in range(new_mastodon):
        federation.add_post(
            text=f"Fresh report number {n} from the mangrove session #iucncec", servers=["social2"]
        )
    new_bluesky = 230
    for n in range(new_bluesky):
        world.scenario.bluesky.add_post(text=f"Live from the plenary, note {n} #iucncec")
    later = AheadClock(timedelta(seconds=120))  # past the Bluesky collector's settle margin
    before = {p: s["requests"] for p, s in stats_before.items()}
    for label, source_id in world.sources.items():
        if label in ("/mastodon/social2", "/bluesky/xrpc"):
            service.collect_source(engine=world.engine, source_id=source_id, force=True, clock=later)
    after = world.scenario.simulator.stats()
    mastodon_requests = after["/mastodon/social2"]["requests"] - before["/mastodon/social2"]
    search_path = "/xrpc/app.bsky.feed.searchPosts"
    bluesky_searches = after["/bluesky"]["paths"].get(search_path, 0) - stats_before["/bluesky"]["paths"].get(
        search_path, 0
    )
    assert mastodon_requests <= math.ceil(new_mastodon / 40) + 1
    # two followed tags: each tag's search is bounded on its own (the new posts carry one tag)
    assert bluesky_searches <= (math.ceil(new_bluesky / 100) + 1) + 1
    keys, _ = stored(world)
    assert truth_of(world, ("mastodon", "bluesky")) <= keys
