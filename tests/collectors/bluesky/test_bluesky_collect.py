"""The Bluesky collector with the real atproto SDK against the simulator over loopback."""

from __future__ import annotations

import math
from collections import Counter
from datetime import timedelta

import pytest

from collectors.base import (
    InvalidSource,
    PostRef,
    RateLimited,
    SourceBlocked,
    SystemClock,
    TransientError,
)
from collectors.bluesky.mapping import normalise_tag
from collectors.net import UnsafeAddress
from collectors.registry import collector_for
from simulator.bluesky import Segment
from simulator.core import Faults

FOLLOWED = {"iucncec", "natureforall"}


def run(collector, config, cursor=None):
    pages = list(collector.fetch(config, cursor))
    return pages, [post.global_key for page in pages for post in page.posts]


def own_tags(post):
    return {normalise_tag(tag) for tag in post.tags}


class TestCollect:
    def test_first_run_collects_exactly_the_truth(self, bluesky_world):
        world = bluesky_world(posts=400)
        pages, keys = run(world.collector(), world.config())
        assert Counter(keys).most_common(1)[0][1] == 1  # no duplicates
        assert set(keys) == world.sim.truth()
        posts = [post for page in pages for post in page.posts]
        assert all(own_tags(post) & FOLLOWED for post in posts)
        # the seed holds what the mapper must cope with
        assert any(post.media_count for post in posts)
        assert {post.kind for post in posts} >= {"post", "reply", "quote"}
        assert any(
            not any(f"#{t}".casefold() in post.text.casefold() for t in FOLLOWED) for post in posts
        )  # tagged only in record.tags
        assert all(post.created_at.utcoffset() == timedelta(0) for post in posts)

    def test_registry_builds_the_collector(self, bluesky_world):
        world = bluesky_world(posts=30)
        collector = collector_for("bluesky", clock=world.clock)
        _, keys = run(collector, world.config())
        assert set(keys) == world.sim.truth()

    def test_tag_param_ignored_by_the_appview_is_filtered_by_own_tags(self, bluesky_world):
        world = bluesky_world(posts=400, ignore_tag_param=True)
        pages, keys = run(world.collector(), world.config())
        assert set(keys) == world.sim.truth()
        assert len(keys) == len(set(keys))
        # the AppView did send decoys (matching q as plain text) that were dropped
        decoys = [
            p
            for p in world.sim.live_posts()
            if "iucncec" in p.text.casefold() and not p.own_tags() & FOLLOWED
        ]
        assert decoys
        assert not {p.uri for p in decoys} & set(keys)

    def test_second_run_gets_only_new_posts(self, bluesky_world):
        world = bluesky_world(posts=150)
        collector = world.collector()
        pages, first = run(collector, world.config())
        new = {
            world.sim.add_post(author=3, tags=("IUCNcec",)),
            world.sim.add_post(author=4, tags=("natureForAll", "iucncec")),
            world.sim.add_post(author=5, tags=("WCC2025",)),
        }
        world.sim.tick(120)  # engagement grows, a couple more posts appear
        world.clock.advance(121)  # the collector's fake time moves on with the simulator's
        _, second = run(collector, world.config(), pages[-1].cursor)
        assert not set(first) & set(second)
        assert set(first) | set(second) == world.sim.truth()
        assert new - set(second) == {u for u in new if not world.sim.post(u).own_tags() & FOLLOWED}

    def test_request_bound_per_tag(self, bluesky_world):
        world = bluesky_world(posts=1200)
        config = world.config(tags=("iucncec",))
        pages, keys = run(world.collector(), config)
        hits = [p for p in world.sim.live_posts() if "iucncec" in p.own_tags()]
        assert set(keys) == {p.uri for p in hits}
        # counted: searchPosts requests only; the one createSession is excluded from the bound
        assert world.searches() <= math.ceil(len(hits) / 100) + 1
        assert sum(page.requests for page in pages) == world.searches() + 1
        assert world.stats()["paths"]["/bluesky/xrpc/com.atproto.server.createSession"] == 1

    def test_time_windows_page_past_the_cursor_cap(self, bluesky_world):
        world = bluesky_world(posts=2000, cursor_cap=300)
        config = world.config(tags=("iucncec",))
        pages, keys = run(world.collector(), config)
        hits = {p.uri for p in world.sim.live_posts() if "iucncec" in p.own_tags()}
        assert len(hits) > 3 * 300  # far beyond what one cursor can reach
        assert set(keys) == hits
        assert len(keys) == len(hits)
        # each re-query below the floor repeats the boundary post at most: one extra slot each
        assert world.searches() <= math.ceil((len(hits) + len(hits) // 299) / 100) + 1


class TestResume:
    def test_resume_from_every_cursor_loses_and_repeats_nothing(self, bluesky_world):
        world = bluesky_world(posts=300, cursor_cap=100)
        config = world.config(page_limit=20)
        pages, keys = run(world.collector(), config)
        assert set(keys) == world.sim.truth()
        assert len(pages) > 10
        for i, page in enumerate(pages):
            before = [post.global_key for p in pages[: i + 1] for post in p.posts]
            _, after = run(world.collector(), config, page.cursor)
            assert not set(before) & set(after), f"duplicates after resuming at page {i}"
            assert len(after) == len(set(after))
            assert set(before) | set(after) == world.sim.truth(), f"loss resuming at page {i}"

    def test_resume_after_deletions_and_new_posts(self, bluesky_world):
        # offset cursors would skip posts here: the saved cursor is a time floor, not an offset
        world = bluesky_world(posts=300)
        config = world.config(page_limit=25)
        pages = world.collector().fetch(config, None)
        kept = [next(pages) for _ in range(3)]
        pages.close()  # killed after the third page was saved
        seen = {post.global_key for page in kept for post in page.posts}
        for uri in sorted(seen)[:10]:
            world.sim.delete(uri)  # deleting collected posts shifts every later offset
        world.sim.delete(sorted(world.sim.truth() - seen)[0])
        added = world.sim.add_post(author=7, tags=("iucncec",))
        _, after = run(world.collector(), config, kept[-1].cursor)
        assert not seen & set(after)
        assert len(after) == len(set(after))
        assert set(after) == world.sim.truth() - seen
        assert added in after

    def test_bad_cursor_is_refused(self, bluesky_world):
        world = bluesky_world(posts=10)
        with pytest.raises(InvalidSource):
            next(world.collector().fetch(world.config(), {"min_id": "123"}))


class TestRefusals:
    def test_anonymous_search_is_blocked(self, bluesky_world):
        world = bluesky_world(posts=10)
        config = world.config(handle=None, token=None)
        with pytest.raises(SourceBlocked, match="anonymous search refused"):
            run(world.collector(), config)

    def test_wrong_app_password_is_blocked(self, bluesky_world):
        world = bluesky_world(posts=10)
        with pytest.raises(SourceBlocked, match="login refused"):
            run(world.collector(), world.config(token="wrong-password"))

    @pytest.mark.parametrize(
        ("changes", "reason"),
        [
            ({"tags": ()}, "at least one tag"),
            ({"tags": ("two words",)}, "not a hashtag"),
            ({"token": None}, "both a handle"),
            ({"trusted": False}, "https"),
            ({"url": "ftp://pds.example"}, "http"),
            ({"page_limit": 101}, "page_limit"),
            ({"extra": {"since": "yesterday"}}, "ISO-8601"),
        ],
    )
    def test_validate(self, bluesky_world, changes, reason):
        world = bluesky_world(posts=1)
        with pytest.raises(InvalidSource, match=reason):
            world.collector().validate(world.config(**changes))

    def test_untrusted_loopback_pds_is_refused(self, bluesky_world):
        world = bluesky_world(posts=1)
        config = world.config(url="https://127.0.0.1:8443", trusted=False)
        with pytest.raises(InvalidSource, match="public"):
            world.collector().validate(config)


class TestRateLimits:
    def test_enforced_limit_is_never_hit(self, bluesky_world):
        world = bluesky_world(posts=900, faults=Faults(rate_limit=5, rate_window_s=1.0))
        collector = world.collector(clock=SystemClock())
        pages, keys = run(collector, world.config(tags=("iucncec",)))
        assert set(keys) == {p.uri for p in world.sim.live_posts() if "iucncec" in p.own_tags()}
        stats = world.stats()
        assert stats["requests"] > 5  # more than one window's budget was needed
        assert stats["served_429"] == 0
        assert sum(page.rate_limit_wait_s for page in pages) > 0

    def test_a_long_wait_raises_rate_limited_before_hitting_the_limit(self, bluesky_world):
        world = bluesky_world(posts=900, faults=Faults(rate_limit=4, rate_window_s=120.0))
        config = world.config(tags=("iucncec",), max_wait_s=5.0)
        collector = world.collector()
        pages = collector.fetch(config, None)
        saved = next(pages)  # the pages before the wait are yielded with their cursors
        with pytest.raises(RateLimited) as raised:
            list(pages)
        assert saved.posts
        assert world.stats()["served_429"] == 0
        assert raised.value.reset_at > world.clock.now()


class TestFaults:
    def test_faults_are_survived_without_loss_or_duplicates(self, bluesky_world):
        faults = Faults(seed=7, hang_s=1.0)
        faults.all_on()  # then a little harsher, so that every kind shows up in one run
        faults.update({"error_5xx": 0.1, "reset": 0.1, "malformed": 0.1, "duplicate": 0.4})
        world = bluesky_world(posts=600, faults=faults)
        collector = world.collector()
        config = world.config(page_limit=20, timeout_s=0.25)
        cursor, keys, failures = None, [], 0
        for _ in range(60):
            try:
                for page in collector.fetch(config, cursor):
                    keys += [post.global_key for post in page.posts]
                    cursor = page.cursor
                break
            except (TransientError, RateLimited):
                failures += 1  # the app would mark the source unhealthy and retry later
        else:
            pytest.fail("never finished a run")
        stats = world.stats()
        kinds = ("served_429", "errors_5xx", "timeouts", "resets", "malformed")
        assert sum(1 for kind in kinds if stats[kind]) >= 3, stats
        assert len(keys) == len(set(keys))
        assert set(keys) == world.sim.truth()
        assert world.clock.slept  # backoff went through the injected clock


class TestRecheck:
    def test_two_misses_make_a_post_gone(self, bluesky_world):
        world = bluesky_world(posts=120)
        collector = world.collector()
        _, keys = run(collector, world.config())
        refs = [PostRef(global_key=k, local_id=k, url=None) for k in keys[:30]]
        deleted = refs[4].global_key
        world.sim.delete(deleted)
        before = world.stats()["paths"].get("/bluesky/xrpc/app.bsky.feed.getPosts", 0)
        first = list(collector.recheck(world.config(), refs))
        assert world.stats()["paths"]["/bluesky/xrpc/app.bsky.feed.getPosts"] - before == 2
        assert sum(r.requests for r in first) == 2
        by_key = {r.ref.global_key: r for r in first}
        assert by_key[deleted].post is None
        assert by_key[deleted].gone is False
        assert all(r.post is not None for k, r in by_key.items() if k != deleted)
        second = list(collector.recheck(world.config(), refs, missed_before={deleted}))
        assert [r.ref.global_key for r in second if r.gone] == [deleted]

    def test_a_post_back_after_one_miss_is_not_gone(self, bluesky_world):
        world = bluesky_world(posts=60)
        collector = world.collector()
        _, keys = run(collector, world.config())
        ref = PostRef(global_key=keys[0], local_id=keys[0], url=None)
        world.sim.post(keys[0]).deleted = True  # a transient miss (e.g. a lagging AppView)
        [miss] = collector.recheck(world.config(), [ref])
        world.sim.post(keys[0]).deleted = False
        [back] = collector.recheck(world.config(), [ref], missed_before={keys[0]})
        assert (miss.post, miss.gone) == (None, False)
        assert back.post is not None
        assert back.gone is False

    def test_an_edit_removing_the_hashtag_shows_on_recheck(self, bluesky_world):
        world = bluesky_world(posts=200)
        collector = world.collector()
        pages, _ = run(collector, world.config())
        target = next(
            post for page in pages for post in page.posts if own_tags(post) & FOLLOWED == {"iucncec"}
        )
        new_cid = world.sim.edit(target.global_key, remove_tag="IUCNCEC")
        ref = PostRef(global_key=target.global_key, local_id=target.local_id, url=target.url)
        [result] = collector.recheck(world.config(), [ref])
        assert result.post is not None
        assert result.post.version == new_cid != target.version
        assert result.post.global_key == target.global_key
        assert not own_tags(result.post) & FOLLOWED
        assert target.global_key not in world.sim.truth()


class TestEngagementAndUrls:
    def test_likes_and_reposts_are_named_across_pages(self, bluesky_world):
        world = bluesky_world(posts=40)
        collector = world.collector()
        _, keys = run(collector, world.config())
        post = world.sim.post(keys[0])
        post.likes = [f"did:plc:liker{i:04d}" for i in range(150)]
        post.reposts = [world.sim.people[9].bluesky_did]
        [engagement] = collector.fetch_engagement(
            world.config(), [PostRef(global_key=keys[0], local_id=keys[0], url=None)]
        )
        assert engagement.liked_by == tuple(f"bluesky:{d}" for d in post.likes)
        assert engagement.reposted_by == (f"bluesky:{world.sim.people[9].bluesky_did}",)
        assert world.stats()["paths"]["/bluesky/xrpc/app.bsky.feed.getLikes"] == 2

    def test_fetch_url_by_handle_and_by_did(self, bluesky_world):
        world = bluesky_world(posts=40)
        collector = world.collector()
        post = next(p for p in world.sim.live_posts() if p.own_tags() & FOLLOWED)
        by_handle = f"https://bsky.app/profile/{post.author.bluesky_handle}/post/{post.rkey}"
        by_did = f"https://bsky.app/profile/{post.author.bluesky_did}/post/{post.rkey}"
        for url in (by_handle, by_did, post.uri):
            mapped = collector.fetch_url(world.config(), url)
            assert mapped.global_key == post.uri
            assert mapped.url == by_did
            assert mapped.author_aliases == (f"bluesky:{post.author.bluesky_handle}",)

    @pytest.mark.parametrize(
        "url",
        [
            "https://bsky.app/profile/nobody.bsky.test/post/3kabc",
            "https://example.org/profile/x/post/y",
            "https://bsky.app/profile/did:plc:nothere/post/3kabc",
        ],
    )
    def test_fetch_url_refuses_what_is_not_a_post(self, bluesky_world, url):
        world = bluesky_world(posts=5)
        with pytest.raises(InvalidSource):
            world.collector().fetch_url(world.config(), url)


def test_text_keeps_full_links_and_multibyte_facets(bluesky_world):
    world = bluesky_world(posts=0)
    url = "https://news.example.org/story/42?ref=bsky"
    uri = world.sim.add_post(
        author=2,
        tags=("NatureForAll",),
        segments=[
            Segment("text", "🌿🐢 自然保护 Природа "),
            Segment("link", "news.example.org/sto…", url),
            Segment("text", " with "),
            Segment("mention", "@" + world.sim.people[3].bluesky_handle, world.sim.people[3].bluesky_did),
        ],
    )
    _, keys = run(world.collector(), world.config())
    assert keys == [uri]
    [post] = world.collector().recheck(world.config(), [PostRef(uri, uri, None)])
    assert post.post is not None
    assert post.post.text == (
        f"🌿🐢 自然保护 Природа {url} with @{world.sim.people[3].bluesky_handle} #NatureForAll"
    )
    assert post.post.tags == ("NatureForAll",)


class TestAddressGuard:
    """An untrusted PDS is reached only at public addresses; a refusal is final, never retried."""

    def test_a_name_resolving_to_loopback_is_refused_at_once(self, bluesky_world, fake_dns):
        world = bluesky_world(posts=20)
        fake_dns["pds-lan.test"] = "127.0.0.1"
        config = world.config(url="https://pds-lan.test", trusted=False)
        with pytest.raises(UnsafeAddress, match="non-public address 127.0.0.1"):
            run(world.collector(), config)
        assert world.clock.slept == []

    def test_an_unresolvable_pds_fails_at_once(self, bluesky_world, fake_dns):
        world = bluesky_world(posts=20)
        config = world.config(url="https://gone.test", trusted=False, handle=None, token=None)
        with pytest.raises(UnsafeAddress, match="cannot resolve"):
            run(world.collector(), config)
        assert world.clock.slept == []
