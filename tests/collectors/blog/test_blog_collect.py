"""The blog collector against simulated blog sites over loopback."""

from __future__ import annotations

import pytest

from collectors.base import PostRef, TransientError
from collectors.blog.client import BlogCollector
from collectors.registry import collector_for
from simulator.core import Faults


def collect_all(world, collector: BlogCollector, cursors: dict[str, dict] | None = None):
    """One run over every feed of the sim; return {key: post} and the new cursors."""
    cursors = dict(cursors or {})
    posts = {}
    for path in world.sim.feed_paths():
        for page in collector.fetch(world.config(path), cursors.get(path)):
            for post in page.posts:
                posts[post.global_key] = post
            cursors[path] = dict(page.cursor)
    return posts, cursors


def is_followed(post) -> bool:
    return bool({t.casefold() for t in post.tags} & {"iucncec", "natureforall"})


def test_registry_builds_the_collector() -> None:
    assert isinstance(collector_for("blog"), BlogCollector)


def test_collects_exactly_the_truth_and_nothing_twice(blog_world) -> None:
    world = blog_world(seed=2, sites=2, articles=40)
    collector = world.collector()
    posts, cursors = collect_all(world, collector)
    assert {k for k, p in posts.items() if is_followed(p)} == world.sim.truth()
    assert len(world.sim.truth()) > 20
    assert any("?p=" in k for k in posts)
    assert any(k.startswith("http://127.0.0.1") for k in posts)
    again, _ = collect_all(world, collector, cursors)
    assert again == {}
    assert all(p.html and "<script" not in p.html and "onerror" not in p.html for p in posts.values())
    assert any(p.media_count for p in posts.values())


def test_conditional_requests_answer_304(blog_world) -> None:
    world = blog_world(seed=2, sites=1, articles=10)
    collector = world.collector()
    path = "/mangrove-notes/feed/"
    cursor = list(collector.fetch(world.config(path), None))[-1].cursor
    before = world.stats()["requests"]
    pages = list(collector.fetch(world.config(path), cursor))
    assert pages[0].posts == []
    assert pages[0].cursor == cursor
    assert world.stats()["requests"] == before + 1


def test_resume_from_every_cursor_loses_and_duplicates_nothing(blog_world) -> None:
    world = blog_world(seed=4, sites=1, articles=30, feed_size=30)
    path = "/mangrove-notes/atom.xml"
    config = world.config(path, page_limit=4)
    full = [p.global_key for page in world.collector().fetch(config, None) for p in page.posts]
    assert len(full) == 30
    kill_points = range(len(full) // 4 + 1)
    for killed_after in kill_points:
        got: list[str] = []
        cursor = None
        for index, page in enumerate(world.collector().fetch(config, None)):
            got += [p.global_key for p in page.posts]
            cursor = page.cursor
            if index == killed_after:
                break  # killed: only this page and its cursor were saved
        for page in world.collector().fetch(config, cursor):
            got += [p.global_key for p in page.posts]
        assert sorted(got) == sorted(full), f"killed after page {killed_after}"


def test_updates_drop_outs_and_deletions(blog_world) -> None:
    world = blog_world(seed=5, sites=1, articles=12, feed_size=5)
    collector = world.collector()
    path = "/mangrove-notes/feed/"
    config = world.config(path)
    first = {p.global_key: p for page in collector.fetch(config, None) for p in page.posts}
    cursor = list(collector.fetch(config, None))[-1].cursor
    newest = max(world.sim.sites["mangrove-notes"].articles, key=lambda a: a.published)
    world.sim.update_article(newest.number, categories=["Oceans"])
    added = world.sim.add_article(site="mangrove-notes")
    changed = {p.global_key: p for page in collector.fetch(config, cursor) for p in page.posts}
    assert world.sim.key_of(added) in changed
    assert world.sim.key_of(newest) in changed
    assert changed[world.sim.key_of(newest)].tags == ("Oceans",)
    dropped = [
        k
        for k in first
        if k
        not in {world.sim.key_of(a) for a in world.sim._window(world.sim.sites["mangrove-notes"].articles)}
    ]
    assert dropped, "an article must have dropped out of the feed"
    world.sim.delete_article(added.number, status=410)
    refs = [PostRef(k, first[k].local_id, first[k].url) for k in dropped]
    refs.append(PostRef(world.sim.key_of(added), "x", changed[world.sim.key_of(added)].url))
    results = {r.ref.global_key: r for r in collector.recheck(config, refs)}
    assert not any(results[k].gone for k in dropped)  # dropping out of a feed is not deletion
    assert all(results[k].post is not None for k in dropped)
    assert results[world.sim.key_of(added)].gone


def test_fetch_url_follows_the_wordpress_shortlink_redirect(blog_world) -> None:
    world = blog_world(seed=6, sites=1, articles=5)
    article = world.sim.articles[3]
    post = world.collector().fetch_url(
        world.config("/mangrove-notes/feed/"), f"{world.url}/mangrove-notes/?p=3"
    )
    assert post.url == f"{world.url}{article.path}"
    assert post.author_key == f"blog:{world.url}/mangrove-notes/author/{article.author.blog_slug}/feed/"
    assert post.tags == tuple(article.categories)


def test_survives_faults(blog_world) -> None:
    faults = Faults(error_5xx=0.15, reset=0.15, malformed=0.2, shuffle=0.5, duplicate=0.5, seed=1)
    world = blog_world(seed=7, sites=1, articles=30, faults=faults)
    collector = world.collector()
    posts, cursors = collect_all(world, collector)
    assert {k for k, p in posts.items() if is_followed(p)} == world.sim.truth()
    stats = world.stats()
    assert stats["errors_5xx"]
    assert stats["resets"]
    assert stats["malformed"]
    again, _ = collect_all(world, collector, cursors)
    assert again == {}


def test_timeouts_are_retried_then_reported(blog_world) -> None:
    world = blog_world(seed=8, sites=1, articles=5, faults=Faults(timeout=1.0, hang_s=0.5))
    with pytest.raises(TransientError):
        list(world.collector().fetch(world.config("/mangrove-notes/feed/", timeout_s=0.2), None))
    assert world.stats()["timeouts"] == 6


def test_untrusted_source_on_loopback_is_refused(blog_world) -> None:
    from collectors.net import UnsafeAddress

    world = blog_world(seed=9, sites=1, articles=3)
    with pytest.raises(UnsafeAddress):
        list(world.collector().fetch(world.config("/mangrove-notes/feed/", trusted=False), None))
    assert world.stats()["requests"] == 0
