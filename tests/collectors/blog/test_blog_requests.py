"""The blog collector's requests, asserted with respx (no network, resolution faked)."""

from __future__ import annotations

import socket
from typing import Any

import httpx
import pytest
import respx

from collectors.base import (
    BadPayload,
    InvalidSource,
    Platform,
    PostRef,
    SourceBlocked,
    SourceConfig,
    TransientError,
)
from collectors.blog.client import BlogCollector
from collectors.http import RetryPolicy
from collectors.net import UnsafeAddress

FEED = "https://blog.example.org/author/amina/feed/"


def rss(*items: str) -> bytes:
    return (
        "<?xml version='1.0'?><rss version='2.0'><channel><title>t</title>"
        + "".join(items)
        + "</channel></rss>"
    ).encode()


def item(n: int, *, tag: str = "IUCNcec", body: str = "Body") -> str:
    return (
        f"<item><title>Post {n}</title><link>https://blog.example.org/p/{n}/</link>"
        f"<guid isPermaLink='false'>post-{n}</guid>"
        f"<pubDate>Fri, {10 + n:02d} Oct 2025 09:30:00 GMT</pubDate>"
        f"<category>{tag}</category><description>{body}</description></item>"
    )


@pytest.fixture(autouse=True)
def dns(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    table = {
        "blog.example.org": "93.184.216.34",
        "evil.example.org": "10.0.0.7",
        "cdn.example.org": "93.184.216.40",
    }

    def getaddrinfo(host, port, *args, **kwargs):
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, "unknown")
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (table[host], port))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return table


@pytest.fixture
def collector(fake_clock) -> BlogCollector:
    return BlogCollector(clock=fake_clock, retry=RetryPolicy(attempts=3, base_delay_s=0.01))


def config(**changes) -> SourceConfig:
    values: dict[str, Any] = {"platform": Platform.BLOG, "url": FEED, "timeout_s": 5.0}
    values.update(changes)
    return SourceConfig(**values)


@respx.mock
def test_first_run_sends_no_validators_and_saves_them(collector: BlogCollector) -> None:
    route = respx.get(FEED).respond(
        200,
        content=rss(item(2), item(1)),
        headers={
            "ETag": 'W/"v1"',
            "Last-Modified": "Sat, 11 Oct 2025 09:30:00 GMT",
            "Content-Type": "application/rss+xml",
        },
    )
    pages = list(collector.fetch(config(), None))
    request = route.calls.last.request
    assert "if-none-match" not in request.headers
    assert "if-modified-since" not in request.headers
    assert "rss+xml" in request.headers["accept"]
    assert [p.global_key for p in pages[-1].posts] == ["post-1", "post-2"]  # oldest first
    assert pages[-1].cursor["etag"] == 'W/"v1"'
    assert pages[-1].cursor["last_modified"] == "Sat, 11 Oct 2025 09:30:00 GMT"


@respx.mock
def test_conditional_get_and_304(collector: BlogCollector) -> None:
    route = respx.get(FEED).respond(304)
    cursor = {"v": 1, "etag": '"v1"', "last_modified": "Sat, 11 Oct 2025 09:30:00 GMT", "seen": ["abc"]}
    pages = list(collector.fetch(config(), cursor))
    request = route.calls.last.request
    assert request.headers["if-none-match"] == '"v1"'
    assert request.headers["if-modified-since"] == "Sat, 11 Oct 2025 09:30:00 GMT"
    assert len(pages) == 1
    assert pages[0].posts == []
    assert pages[0].cursor == cursor
    assert pages[0].requests == 1


@respx.mock
def test_server_ignoring_validators_duplicates_nothing(collector: BlogCollector) -> None:
    respx.get(FEED).respond(200, content=rss(item(2), item(1)))
    first = list(collector.fetch(config(), None))
    again = list(collector.fetch(config(), first[-1].cursor))
    assert [p.global_key for page in again for p in page.posts] == []


@respx.mock
def test_changed_entry_is_emitted_again(collector: BlogCollector) -> None:
    route = respx.get(FEED).respond(200, content=rss(item(1)))
    cursor = list(collector.fetch(config(), None))[-1].cursor
    route.respond(200, content=rss(item(1, body="Body, edited")))
    posts = [p for page in collector.fetch(config(), cursor) for p in page.posts]
    assert [p.global_key for p in posts] == ["post-1"]
    assert "edited" in posts[0].text


@respx.mock
def test_retries_5xx_then_succeeds(collector: BlogCollector, fake_clock) -> None:
    route = respx.get(FEED)
    route.side_effect = [
        httpx.Response(503),
        httpx.ReadError("reset"),
        httpx.Response(200, content=rss(item(1))),
    ]
    pages = list(collector.fetch(config(), None))
    assert [p.global_key for p in pages[0].posts] == ["post-1"]
    assert pages[0].requests == 3
    assert len(fake_clock.slept) == 2


@respx.mock
def test_gives_up_after_retries(collector: BlogCollector) -> None:
    respx.get(FEED).respond(500)
    with pytest.raises(TransientError):
        list(collector.fetch(config(), None))


@respx.mock
def test_truncated_feed_is_retried(collector: BlogCollector) -> None:
    whole = rss(item(2), item(1))
    route = respx.get(FEED)
    route.side_effect = [
        httpx.Response(200, content=whole[: len(whole) // 2]),
        httpx.Response(200, content=whole, headers={"ETag": '"ok"'}),
    ]
    pages = list(collector.fetch(config(), None))
    assert len(pages[-1].posts) == 2
    assert pages[-1].cursor["etag"] == '"ok"'


@respx.mock
def test_permanently_broken_feed_is_used_without_saving_validators(collector) -> None:
    broken = rss(item(1)).replace(b"</channel></rss>", b"<oops></channel>")
    respx.get(FEED).respond(200, content=broken, headers={"ETag": '"b"'})
    pages = list(collector.fetch(config(), None))
    assert [p.global_key for p in pages[-1].posts] == ["post-1"]
    assert pages[-1].cursor["etag"] is None


@respx.mock
@pytest.mark.parametrize(
    ("status", "error"), [(403, SourceBlocked), (410, InvalidSource), (404, InvalidSource), (418, BadPayload)]
)
def test_error_statuses(collector: BlogCollector, status: int, error: type) -> None:
    respx.get(FEED).respond(status)
    with pytest.raises(error):
        list(collector.fetch(config(), None))


@respx.mock
def test_byte_cap(collector: BlogCollector) -> None:
    respx.get(FEED).respond(200, content=rss(*[item(i) for i in range(1, 20)]))
    with pytest.raises(BadPayload, match="too large"):
        list(collector.fetch(config(max_bytes=500), None))


@respx.mock
def test_feed_redirecting_to_a_private_address_is_refused(collector: BlogCollector, fake_clock) -> None:
    feed = respx.get(FEED).respond(301, headers={"Location": "http://evil.example.org/feed"})
    private = respx.get("http://evil.example.org/feed").respond(200, content=rss(item(1)))
    with pytest.raises(UnsafeAddress):
        list(collector.fetch(config(), None))
    assert not private.called
    assert feed.call_count == 1  # a refusal is final: no retry, no back-off
    assert fake_clock.slept == []


@respx.mock
def test_trusted_source_still_checks_other_origins(collector: BlogCollector) -> None:
    evil = respx.get("http://evil.example.org/post").respond(200)
    refs = [PostRef(global_key="k", local_id="k", url="http://evil.example.org/post")]
    results = list(collector.recheck(config(trusted=True), refs))
    assert results[0].gone is False
    assert results[0].post is None
    assert not evil.called


@respx.mock
def test_recheck_statuses(collector: BlogCollector) -> None:
    respx.get("https://blog.example.org/p/1/").respond(410)
    respx.get("https://blog.example.org/p/2/").respond(404)
    respx.get("https://blog.example.org/p/3/").respond(
        200,
        html='<html><head><meta property="article:published_time" '
        'content="2025-10-10T09:30:00Z"><meta property="article:tag" content="IUCNcec">'
        "</head><body><article><p>Still here</p></article></body></html>",
    )
    respx.get("https://blog.example.org/p/4/").respond(
        200, html="<html><body><p>No metadata</p></body></html>"
    )
    refs = [PostRef(f"post-{n}", f"post-{n}", f"https://blog.example.org/p/{n}/") for n in range(1, 5)]
    results = {r.ref.global_key: r for r in collector.recheck(config(), refs)}
    assert results["post-1"].gone
    assert results["post-2"].gone
    fresh = results["post-3"].post
    assert fresh is not None
    assert fresh.global_key == "post-3"
    assert fresh.tags == ("IUCNcec",)
    assert fresh.author_key == f"blog:{FEED}"
    assert "Still here" in fresh.text
    assert not results["post-4"].gone
    assert results["post-4"].post is None


@respx.mock
def test_fetch_url_reads_the_article_page(collector: BlogCollector) -> None:
    route = respx.get("https://blog.example.org/2025/10/a/").respond(
        200,
        html='<html><head><title>A</title><link rel="canonical" href="/2025/10/a/">'
        '<link rel="alternate" type="application/rss+xml" href="/author/amina/feed/">'
        '<meta property="article:published_time" content="2025-10-10T09:30:00Z">'
        '<meta property="article:tag" content="NatureForAll"></head>'
        '<body><article><p>Hello <img src="/i.jpg"></p></article></body></html>',
    )
    post = collector.fetch_url(config(), "https://blog.example.org/2025/10/a/")
    assert route.calls.last.request.headers["user-agent"].startswith("BlogItEarnIt")
    assert post.global_key == "https://blog.example.org/2025/10/a"
    assert post.author_key == f"blog:{FEED}"
    assert post.tags == ("NatureForAll",)
    assert post.media_count == 1
    assert post.text == "A\n\nHello"


def test_fetch_url_refuses_private_targets(collector: BlogCollector, fake_clock) -> None:
    with pytest.raises(UnsafeAddress):
        collector.fetch_url(config(), "http://169.254.169.254/latest/meta-data/")
    assert fake_clock.slept == []


@pytest.mark.parametrize("url", ["", "ftp://blog.example.org/feed", "feed.xml"])
def test_validate(collector: BlogCollector, url: str) -> None:
    with pytest.raises(InvalidSource):
        collector.validate(config(url=url))


@respx.mock
def test_tag_filter(collector: BlogCollector) -> None:
    respx.get(FEED).respond(
        200,
        content=rss(
            item(1, tag="Travel"), item(2, tag="natureforall"), item(3, tag="x", body="About #IUCNcec today")
        ),
    )
    posts = [
        p for page in collector.fetch(config(tags=("NatureForAll", "iucncec")), None) for p in page.posts
    ]
    assert sorted(p.global_key for p in posts) == ["post-2", "post-3"]


@respx.mock
def test_bad_entry_is_skipped_and_counted(collector: BlogCollector) -> None:
    undated = "<item><title>x</title><link>https://blog.example.org/u</link></item>"
    respx.get(FEED).respond(200, content=rss(item(1), undated))
    pages = list(collector.fetch(config(), None))
    assert [p.global_key for p in pages[0].posts] == ["post-1"]
    assert collector.skipped_items == 1
    assert len(pages[0].cursor["seen"]) == 2  # the bad entry is not retried every run
