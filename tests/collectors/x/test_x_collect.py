"""The X collector against the simulated X API over loopback."""

from __future__ import annotations

import pytest

from collectors.base import PostRef, SourceBlocked, SystemClock
from collectors.registry import collector_for
from collectors.x.client import XCollector
from simulator.core import Faults


def run(collector: XCollector, config, cursor=None):
    keys: list[str] = []
    for page in collector.fetch(config, cursor):
        keys += [p.global_key for p in page.posts]
        cursor = page.cursor
    return keys, cursor


def test_registry_builds_the_collector() -> None:
    assert isinstance(collector_for("x"), XCollector)


def test_collects_exactly_the_truth_then_only_new_tweets(x_world) -> None:
    world = x_world(seed=1, posts=400)
    collector = world.collector()
    keys, cursor = run(collector, world.config())
    assert len(keys) == len(set(keys))
    assert set(keys) == world.sim.truth()
    assert world.stats()["paths"]["/x/2/tweets/search/recent"] == len(keys) // 100 + 1
    assert run(collector, world.config(), cursor)[0] == []
    fresh = world.sim.add_tweet(tags=["IUCNcec"])
    world.sim.add_tweet(tags=["Travel"])
    assert run(collector, world.config(), cursor)[0] == [str(fresh.id)]


def test_resume_from_every_cursor_loses_and_duplicates_nothing(x_world) -> None:
    world = x_world(seed=2, posts=160)
    config = world.config(page_limit=10)
    full, _ = run(world.collector(), config)
    pages = len(full) // 10 + 1
    for killed_after in range(pages):
        got: list[str] = []
        cursor = None
        for index, page in enumerate(world.collector().fetch(config, None)):
            got += [p.global_key for p in page.posts]
            cursor = page.cursor
            if index == killed_after:
                break
        if killed_after == 3:
            world.sim.add_tweet()  # arrives while the run is dead: caught by the next-but-one run
        more, cursor = run(world.collector(), config, cursor)
        got += more
        assert sorted(got) == sorted(full), f"killed after page {killed_after}"
        full += run(world.collector(), config, cursor)[0]


def test_retweets_excluded_and_kinds_mapped(x_world) -> None:
    world = x_world(seed=3, posts=300, truth_query="(#iucncec OR #NatureForAll)")
    collector = world.collector()
    config = world.config(query="(#iucncec OR #NatureForAll)")
    posts = [p for page in collector.fetch(config, None) for p in page.posts]
    assert {p.global_key for p in posts} == world.sim.truth()
    kinds = {p.kind.value for p in posts}
    assert {"repost", "quote", "reply", "post"} <= kinds
    reposts = [p for p in posts if p.kind.value == "repost"]
    assert all(p.repost_of for p in reposts)
    assert all("t.co" not in p.text for p in posts)
    assert any(p.media_count for p in posts)


def test_survives_faults_without_loss(x_world) -> None:
    faults = Faults(
        error_5xx=0.1, reset=0.1, malformed=0.15, burst_429=0.05, duplicate=0.5, shuffle=0.5, seed=5
    )
    world = x_world(seed=4, posts=600, faults=faults)
    collector = world.collector()
    keys, _ = run(collector, world.config(page_limit=10))
    assert len(keys) == len(set(keys))
    assert set(keys) == world.sim.truth()
    stats = world.stats()
    assert stats["errors_5xx"]
    assert stats["resets"]
    assert stats["malformed"]


def test_real_rate_limit_is_honoured_without_a_429(x_world) -> None:
    world = x_world(seed=6, posts=200, faults=Faults(rate_limit=4, rate_window_s=1.0))
    collector = world.collector(clock=SystemClock())
    pages = list(collector.fetch(world.config(page_limit=20), None))
    assert len(pages) > 4  # more requests than one window allows
    assert world.stats()["limit_429"] == 0
    assert sum(p.rate_limit_wait_s for p in pages) > 0


def test_wrong_token_is_blocked(x_world) -> None:
    world = x_world(seed=7, posts=20)
    with pytest.raises(SourceBlocked):
        list(world.collector().fetch(world.config(token="wrong"), None))


def test_recheck_and_engagement(x_world) -> None:
    world = x_world(seed=8, posts=150)
    collector = world.collector()
    posts = [p for page in collector.fetch(world.config(), None) for p in page.posts]
    deleted, kept = posts[0], posts[1]
    world.sim.delete_tweet(deleted.global_key)
    reporter = world.sim.people[5]
    world.sim.like(kept.global_key, reporter.x_user_id)
    refs = [PostRef(p.global_key, p.local_id, p.url) for p in (deleted, kept)]
    results = {r.ref.global_key: r for r in collector.recheck(world.config(), refs)}
    assert results[deleted.global_key].gone
    assert results[kept.global_key].post is not None
    assert results[kept.global_key].post.likes == kept.likes + 1
    engagement = {e.global_key: e for e in collector.fetch_engagement(world.config(), refs)}
    assert f"x:{reporter.x_username}" in engagement[kept.global_key].liked_by
    assert engagement[deleted.global_key].liked_by == ()
    assert collector.fetch_url(world.config(), kept.url or "").global_key == kept.global_key
