"""The collector against simulated Mastodon servers over loopback (real HTTP, real mastodon.py)."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

import pytest

from collectors.base import (
    CollectedPage,
    Collector,
    InvalidSource,
    Platform,
    RateLimited,
    SourceBlocked,
    SourceConfig,
    SystemClock,
    TransientError,
)
from collectors.mastodon.client import MastodonCollector, RetryPolicy
from collectors.net import UnsafeAddress
from collectors.registry import collector_for
from simulator.core import Faults
from tests.collectors.mastodon.conftest import FastClock, Federation


def run(
    collector: MastodonCollector, config: SourceConfig, cursor: Any = None
) -> tuple[list[CollectedPage], Any]:
    pages = list(collector.fetch(config, cursor))
    return pages, (pages[-1].cursor if pages else cursor)


def keys_of(pages: list[CollectedPage]) -> list[str]:
    return [post.global_key for page in pages for post in page.posts]


def collect_until_done(
    collector: MastodonCollector, config: SourceConfig, cursor: Any = None, max_runs: int = 40
) -> tuple[list[str], Any]:
    """What the scheduler does: run again from the last saved cursor after a failed run."""
    keys: list[str] = []
    for _ in range(max_runs):
        found = False
        try:
            for page in collector.fetch(config, cursor):
                keys += [post.global_key for post in page.posts]
                found = found or bool(page.posts)
                cursor = page.cursor
        except TransientError:
            continue
        if not found:  # a clean run with nothing new: caught up
            return keys, cursor
    raise AssertionError("never caught up")


def test_registry_builds_the_collector(clock):
    collector = collector_for(Platform.MASTODON, clock=clock)
    assert isinstance(collector, MastodonCollector)
    assert isinstance(collector, Collector)


def test_three_servers_union_is_the_truth_without_duplicates_per_server(federation, collector):
    everything: set[str] = set()
    for name in federation.servers:
        pages, _ = run(collector, federation.config(name))
        keys = keys_of(pages)
        assert len(keys) == len(set(keys)), f"{name} yielded a status twice"
        assert set(keys) == federation.servers[name].truth()
        everything |= set(keys)
    assert everything == federation.sim.truth()
    assert collector.skipped_items == 0
    # the same post came from several servers under one key but different local ids
    local_ids = {
        s: {p.global_key: p.local_id for p in keys_posts(collector, federation, s)}
        for s in ("social1", "social3")
    }
    shared = set(local_ids["social1"]) & set(local_ids["social3"])
    assert shared
    assert all(local_ids["social1"][k] != local_ids["social3"][k] for k in shared)


def keys_posts(collector, federation, name):
    pages, _ = run(collector, federation.config(name))
    return [post for page in pages for post in page.posts]


def test_string_id_server_is_collected_in_full(federation, collector):
    posts = keys_posts(collector, federation, "social3")
    assert posts
    assert all(not p.local_id.isdigit() for p in posts)
    assert {p.global_key for p in posts} == federation.servers["social3"].truth()


def test_author_keys_are_identical_across_servers(serve, collector):
    fed = serve(posts=150, social2={"acct_with_domain": True})
    by_key: dict[str, set[str]] = {}
    for name in fed.servers:
        for post in keys_posts(collector, fed, name):
            by_key.setdefault(post.global_key, set()).add(post.author_key)
    assert by_key
    assert all(len(authors) == 1 for authors in by_key.values())
    assert all(next(iter(a)).split("@")[1].endswith(".example") for a in by_key.values())


@pytest.mark.parametrize("name", ["social1", "social3"])
def test_resume_from_every_intermediate_cursor_loses_and_repeats_nothing(serve, collector, name):
    fed = serve(posts=400)
    config = fed.config(name, page_limit=20)
    pages, final = run(collector, config)
    assert len(pages) > 4
    truth = fed.servers[name].truth()
    for k in range(len(pages)):
        # killed right after page k was saved: the next runs start from its cursor
        before = keys_of(pages[: k + 1])
        resumed, cursor = run(collector, config, pages[k].cursor)
        resumed_keys = keys_of(resumed)
        again, _ = run(collector, config, cursor)
        combined = before + resumed_keys + keys_of(again)
        assert Counter(combined).most_common(1)[0][1] == 1
        assert set(combined) == truth
    # after the first full run, new posts arrive; resuming from any page of that run sees them
    added = {fed.servers[name].add_post(text=f"Fresh note {i} #IUCNcec") for i in range(45)}
    forward, _ = run(collector, config, final)
    assert set(keys_of(forward)) == added


def test_resume_under_shuffled_and_repeated_items(serve, collector):
    faults = Faults(shuffle=0.5, duplicate=0.5, seed=3)
    fed = serve(posts=400, faults={"social1": faults, "social3": faults})
    for name in ("social1", "social3"):
        config = fed.config(name)
        pages, final = run(collector, config)
        keys = keys_of(pages)
        assert Counter(keys).most_common(1)[0][1] == 1
        assert set(keys) == fed.servers[name].truth()
        for k in (0, len(pages) // 2):
            resumed, _ = run(collector, config, pages[k].cursor)
            combined = keys_of(pages[: k + 1]) + keys_of(resumed)
            assert Counter(combined).most_common(1)[0][1] == 1
            assert set(combined) == set(keys)
        new = {fed.servers[name].add_post(text=f"More #NatureForAll {i}") for i in range(90)}
        forward, _ = run(collector, config, final)
        forward_keys = keys_of(forward)
        assert Counter(forward_keys).most_common(1)[0][1] == 1
        assert set(forward_keys) == new
    assert fed.stats("social1")["paths"]


@pytest.mark.parametrize("backlog", [0, 1, 39, 40, 41, 80, 123])
def test_request_count_is_at_most_ceil_n_over_40_plus_one(serve, collector, backlog):
    fed = serve(posts=0, names=("social1",), string_ids=())
    server = fed.servers["social1"]
    for i in range(backlog):
        tag = "#iucncec" if i % 2 else "#NatureForAll"  # both tags, one feed with any[]
        server.add_post(text=f"Backlog post number {i} {tag}")
    config = fed.config("social1")
    pages, cursor = run(collector, config)
    first_run = fed.requests("social1")
    assert first_run <= math.ceil(backlog / 40) + 1
    assert sum(page.requests for page in pages) == first_run
    assert len(set(keys_of(pages))) == backlog
    for new in (0, 1, 40, 79):
        before = fed.requests("social1")
        added = {server.add_post(text=f"New {new} {i} #natureforall") for i in range(new)}
        pages, cursor = run(collector, config, cursor)
        assert fed.requests("social1") - before <= math.ceil(new / 40) + 1
        assert set(keys_of(pages)) == added


def test_each_tag_mode_collects_the_same_posts(federation, collector):
    combined, _ = run(collector, federation.config("social2"))
    each, cursor = run(collector, federation.config("social2", extra={"tag_mode": "each"}))
    assert set(keys_of(each)) == set(keys_of(combined))
    assert set(cursor["feeds"]) == {"iucncec", "natureforall"}


def test_any_tags_are_sent_on_every_page(serve, collector):
    fed = serve(posts=0, names=("social1",), string_ids=())
    only_second = {
        fed.servers["social1"].add_post(text=f"Only the second tag {i} #NatureForAll") for i in range(100)
    }
    pages, _ = run(collector, fed.config("social1"))
    # Link URLs lack any[]: following them blindly would have lost the #NatureForAll pages
    assert set(keys_of(pages)) == only_second
    assert len(pages) == 4


def test_new_posts_edits_and_deletions_on_the_next_run(federation, collector):
    server = federation.servers["social1"]
    config = federation.config("social1")
    _, cursor = run(collector, config)
    uri = server.add_post(text="Mangroves at dawn with the youth delegates #iucncec", media=2)
    pages, cursor = run(collector, config, cursor)
    (post,) = [p for page in pages for p in page.posts]
    assert post.global_key == uri
    assert post.media_count == 2
    assert post.url == server.status_url(uri)
    server.edit(uri, new_text="Mangroves at dawn, edited #iucncec")
    server.add_post(text="Not for us, no tag")
    pages, cursor = run(collector, config, cursor)
    assert keys_of(pages) == []  # edits do not resurface in tag feeds: recheck finds them


def test_token_required_server_is_blocked_with_a_reason(serve, collector):
    fed = serve(
        posts=50, names=("social1",), string_ids=(), social1={"require_token": True, "token": "secret"}
    )
    with pytest.raises(SourceBlocked, match="hashtag_feeds = local: authenticated"):
        run(collector, fed.config("social1"))
    with pytest.raises(SourceBlocked, match="rejected the access token"):
        run(collector, fed.config("social1", token="wrong"))
    pages, _ = run(collector, fed.config("social1", token="secret"))
    assert set(keys_of(pages)) == fed.servers["social1"].truth()


def test_server_without_the_api_is_blocked(federation, collector):
    config = federation.config("social1")
    bad = SourceConfig(Platform.MASTODON, config.url + "/nothing-here", tags=("iucncec",), trusted=True)
    with pytest.raises(SourceBlocked, match="404"):
        run(collector, bad)


def test_faults_are_survived_and_nothing_is_lost(serve, clock):
    faults = Faults(
        error_5xx=0.12,
        reset=0.08,
        malformed=0.08,
        html_errors=True,
        timeout=0.1,
        hang_s=0.6,
        burst_429=0.05,
        seed=11,
    )
    fed = serve(posts=500, names=("social1",), string_ids=(), faults={"social1": faults})
    collector = MastodonCollector(clock=clock, policy=RetryPolicy(base_delay_s=0.05))
    keys, _ = collect_until_done(collector, fed.config("social1", timeout_s=0.3))
    assert Counter(keys).most_common(1)[0][1] == 1
    stats = fed.stats("social1")
    assert stats["errors_5xx"]
    assert stats["resets"]
    assert stats["malformed"]
    assert stats["timeouts"]
    assert set(keys) == fed.servers["social1"].truth()
    assert clock.slept  # backoff went through the injected clock


def test_persistent_failure_gives_up_with_a_transient_error(serve, clock):
    fed = serve(
        posts=10,
        names=("social1",),
        string_ids=(),
        faults={"social1": Faults(error_5xx=1.0, html_errors=True)},
    )
    collector = MastodonCollector(clock=clock, policy=RetryPolicy(attempts=3))
    with pytest.raises(TransientError, match="gave up after 3 attempts"):
        run(collector, fed.config("social1"))
    assert fed.requests("social1") == 3
    assert len(clock.slept) == 2
    assert all(0 < s <= 8 for s in clock.slept)


def test_rate_limit_is_respected_with_zero_429s():
    """Real time here: the simulator enforces 4 requests per second window."""
    from simulator.app import Simulator
    from simulator.mastodon import MastodonSim

    server = MastodonSim("social1", posts=220, seed=5)
    sim = Simulator()
    sim.add("/mastodon/social1", server, Faults(rate_limit=4, rate_window_s=1.0))
    with sim.serve() as handle:
        config = SourceConfig(
            Platform.MASTODON,
            f"{handle.url}/mastodon/social1",
            tags=("iucncec", "natureforall"),
            trusted=True,
            page_limit=20,
        )
        collector = MastodonCollector(clock=SystemClock())
        pages, _ = run(collector, config)
        stats = sim.stats()["/mastodon/social1"]
    assert stats["served_429"] == 0
    assert stats["limit_429"] == 0
    assert stats["requests"] >= 8
    assert sum(page.rate_limit_wait_s for page in pages) > 0
    assert set(keys_of(pages)) == server.truth()


def test_budget_spent_and_reset_too_far_raises_rate_limited(serve, collector):
    fed = serve(
        posts=200,
        names=("social1",),
        string_ids=(),
        faults={"social1": Faults(rate_limit=3, rate_window_s=120.0)},
    )
    config = fed.config("social1", page_limit=10, max_wait_s=5.0)
    seen: list[CollectedPage] = []
    with pytest.raises(RateLimited) as caught:
        seen.extend(collector.fetch(config, None))
    assert len(seen) == 2  # remaining hit the reserve of 1 after two requests
    assert fed.stats("social1")["served_429"] == 0
    assert caught.value.reset_at > collector.clock.now()
    # resuming later from the saved cursor continues where the run stopped
    assert seen[-1].cursor["feeds"]["iucncec+natureforall"]["backfill_max_id"]


def test_429_bursts_are_waited_out(serve, clock):
    fed = serve(
        posts=300, names=("social1",), string_ids=(), faults={"social1": Faults(burst_429=0.3, seed=2)}
    )
    collector = MastodonCollector(clock=clock)
    pages, _ = run(collector, fed.config("social1"))
    assert fed.stats("social1")["served_429"] > 0
    assert sum(page.rate_limit_wait_s for page in pages) > 0
    assert set(keys_of(pages)) == fed.servers["social1"].truth()


def test_a_corrupt_cursor_is_refused(federation, collector):
    with pytest.raises(InvalidSource, match="cursor"):
        run(collector, federation.config("social1"), {"version": 99})
    with pytest.raises(InvalidSource, match="cursor"):
        run(
            collector,
            federation.config("social1"),
            {"version": 1, "feeds": {"iucncec+natureforall": {"newest": 5}}},
        )


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"url": "ftp://social.example"}, "http"),
        ({"url": "http://127.0.0.1:9", "trusted": False}, "public"),
        ({"url": "http://localhost", "trusted": False}, "public"),
        ({"tags": ()}, "at least one tag"),
        ({"tags": ("iucn cec",)}, "not a hashtag"),
        ({"page_limit": 80}, "page_limit"),
        ({"extra": {"tag_mode": "all"}}, "tag_mode"),
        ({"platform": Platform.X}, "not a Mastodon source"),
    ],
)
def test_validate_refuses_configurations_that_cannot_work(collector, changes, message):
    options: dict[str, Any] = {
        "platform": Platform.MASTODON,
        "url": "https://social.example",
        "tags": ("iucncec",),
    }
    options.update(changes)
    with pytest.raises(InvalidSource, match=message):
        collector.validate(SourceConfig(**options))


def test_validate_accepts_a_public_server(collector):
    collector.validate(
        SourceConfig(Platform.MASTODON, "https://mastodon.social", tags=("#iucncec", "NatureForAll"))
    )


def test_replies_left_out_of_a_tag_feed_are_left_out_of_truth(serve, collector):
    fed = serve(posts=300, social2={"replies_in_tag_feed": False})
    everything: set[str] = set()
    for name in fed.servers:
        everything |= set(keys_of(run(collector, fed.config(name))[0]))
    assert everything == fed.sim.truth()
    replies = {s["uri"] for s in fed.servers["social2"].statuses() if s["in_reply_to_id"]}
    assert replies
    assert not replies & fed.servers["social2"].truth()
    assert replies & fed.servers["social1"].truth()  # the same replies do show elsewhere


class TestAddressGuard:
    """An untrusted server is reached only at public addresses; a refusal is final, never retried."""

    def test_a_name_resolving_to_loopback_is_refused_before_any_request(
        self, federation: Federation, collector: MastodonCollector, clock: FastClock, fake_dns: dict[str, str]
    ) -> None:
        fake_dns["mastodon-lan.test"] = "127.0.0.1"
        port = urlsplit(federation.url).port
        config = federation.config("social1", trusted=False)
        config = replace(config, url=f"http://mastodon-lan.test:{port}/mastodon/social1")
        with pytest.raises(UnsafeAddress, match="non-public address 127.0.0.1"):
            run(collector, config)
        with pytest.raises(UnsafeAddress):
            collector.fetch_url(config, f"http://mastodon-lan.test:{port}/@ana/1")
        assert federation.requests("social1") == 0
        assert clock.slept == []

    def test_an_unresolvable_server_fails_at_once(
        self, collector: MastodonCollector, clock: FastClock, fake_dns: dict[str, str]
    ) -> None:
        config = SourceConfig(Platform.MASTODON, "https://gone.test", tags=("iucncec",), timeout_s=5.0)
        with pytest.raises(UnsafeAddress, match="cannot resolve"):
            collector.fetch_url(config, "https://gone.test/@ana/113456789")
        assert clock.slept == []

    def test_a_trusted_server_may_be_on_loopback(
        self, federation: Federation, collector: MastodonCollector, fake_dns: dict[str, str]
    ) -> None:
        fake_dns["mastodon-lan.test"] = "127.0.0.1"
        port = urlsplit(federation.url).port
        config = replace(
            federation.config("social1"), url=f"http://mastodon-lan.test:{port}/mastodon/social1"
        )
        pages, _ = run(collector, config)
        assert keys_of(pages)
