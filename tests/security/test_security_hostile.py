"""Hostile payloads for every collector mapper and the feed and page parsers (issue #9, "Hostile input").

tests/collectors/** already feeds each mapper arbitrary JSON and the feed parser arbitrary bytes. This
module adds what those miss: *near-valid* items — a real item from each platform with one to three
fields anywhere in it (nested ones too) replaced by something hostile (megabyte strings, 5,000-deep
nesting, lone surrogates, NULs, huge or non-finite numbers, wrong types, script-laden HTML) — and
XML documents built to hurt (entity bombs in any encoding, external entities, deep nesting,
invalid UTF-8). Whatever comes in, the outcome is a ``CollectedPost`` whose HTML is inert, or
``BadPayload``; never another exception, never a hang.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collectors.base import BadPayload, CollectedPost
from collectors.blog import mapping as blog
from collectors.bluesky.mapping import map_item as bluesky_map
from collectors.mastodon.mapping import map_item as mastodon_map
from collectors.x.mapping import map_item as x_map
from tests.collectors.blog.test_blog_mapping import RSS, items
from tests.collectors.bluesky.test_bluesky_mapping import view
from tests.collectors.mastodon.test_mastodon_mapping import status
from tests.collectors.x.test_x_mapping import tweet
from tests.security.security_html import executable_markup

SCRIPT_HTML = '<p onclick="alert(1)">hi<script>alert(2)</script><img src=x onerror=alert(3)></p>'


def deep(depth: int) -> Any:
    value: Any = "bottom"
    for _ in range(depth):
        value = [value]
    return value


hostile_values = st.one_of(
    st.just("A" * 1_000_000),
    st.builds(deep, st.just(5000)),
    st.builds(lambda: {"a": deep(2000)}),
    st.just("\ud800 lone surrogate"),
    st.just("nul \x00 inside"),
    st.just(SCRIPT_HTML),
    st.just('<a href="javascript:alert(1)">x</a>'),
    st.just(10**100),
    st.just(-(2**63)),
    st.just(float("nan")),
    st.just(float("inf")),
    st.none(),
    st.booleans(),
    st.just([]),
    st.just({}),
    st.just("9999-99-99T99:99:99Z"),
    st.just("0001-01-01T00:00:00+14:00"),
    st.text(max_size=50),
    st.integers(),
)


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path (dict keys and list indexes) into a JSON document."""
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, item in value.items():
            found += paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += paths(item, (*prefix, index))
    return found


def replaced(document: Any, path: tuple[Any, ...], value: Any) -> Any:
    target = document
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return document


def _wordpress_item() -> dict[str, Any]:
    return items(RSS)[0]


# Each platform: a realistic item and its mapper.
SAMPLES: dict[str, tuple[Callable[[], dict[str, Any]], Callable[[Mapping[str, Any]], CollectedPost]]] = {
    "mastodon": (status, mastodon_map),
    "bluesky": (view, bluesky_map),
    "x": (tweet, x_map),
    "blog": (_wordpress_item, blog.map_item),
}
TRIED: dict[str, int] = dict.fromkeys(SAMPLES, 0)


def assert_maps_or_refuses(mapper: Callable[[Mapping[str, Any]], CollectedPost], raw: Any) -> None:
    try:
        post = mapper(raw)
    except BadPayload:
        return
    assert isinstance(post, CollectedPost)
    assert post.created_at.tzinfo is not None
    if post.html:
        assert not executable_markup(post.html), post.html[:300]


@pytest.mark.parametrize("platform", sorted(SAMPLES))
@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_near_valid_items_map_or_raise_bad_payload(platform: str, data: st.DataObject) -> None:
    make, mapper = SAMPLES[platform]
    document = json.loads(json.dumps(make()))
    candidates = paths(document)
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(candidates))
        try:
            document = replaced(document, path, data.draw(hostile_values))
        except (KeyError, IndexError, TypeError):
            continue  # an earlier replacement removed this path
    TRIED[platform] += 1
    assert_maps_or_refuses(mapper, document)


@pytest.mark.parametrize("platform", sorted(SAMPLES))
@pytest.mark.parametrize("html", [SCRIPT_HTML, '<svg onload="alert(1)"><a href="javascript:x">y</a></svg>'])
def test_script_in_content_is_never_kept(platform: str, html: str) -> None:
    make, mapper = SAMPLES[platform]
    document = make()
    for key in ("content", "text"):
        if key in document:
            document[key] = html + " #iucncec"
    if platform == "bluesky":
        document["record"]["text"] = html + " #iucncec"
        document["record"].pop("facets", None)
    if platform == "blog":
        document["entry"]["summary"] = html
        document["entry"]["content"] = [{"type": "text/html", "value": html}]
    assert_maps_or_refuses(mapper, document)


# --- XML that is built to hurt -----------------------------------------------------------------------


def _laughs(levels: int = 9) -> str:
    entities = '<!ENTITY lol0 "lollollollollollollollollollol">'
    for level in range(1, levels):
        entities += f'<!ENTITY lol{level} "{f"&lol{level - 1};" * 10}">'
    return (
        f'<?xml version="1.0"?>\n<!DOCTYPE rss [{entities}]>\n<rss version="2.0"><channel>'
        f"<title>&lol{levels - 1};</title><item><title>&lol{levels - 1};</title>"
        "<link>https://blog.example/1</link><pubDate>Fri, 10 Oct 2025 08:00:00 GMT</pubDate></item>"
        "</channel></rss>"
    )


XXE = (
    '<?xml version="1.0"?>\n<!DOCTYPE rss [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
    '<rss version="2.0"><channel><title>&xxe;</title><item><title>&xxe;</title>'
    "<link>https://blog.example/1</link></item></channel></rss>"
)
PARAMETER_XXE = (
    '<?xml version="1.0"?>\n<!DOCTYPE rss [<!ENTITY % remote SYSTEM "http://169.254.169.254/latest/">'
    " %remote;]>\n"
    '<rss version="2.0"><channel><title>t</title></channel></rss>'
)
QUADRATIC = (
    f'<?xml version="1.0"?>\n<!DOCTYPE rss [<!ENTITY a "{"x" * 50_000}">]>\n'
    f'<rss version="2.0"><channel><title>{"&a;" * 50_000}</title></channel></rss>'
)
DEEP_XML = '<rss version="2.0"><channel>' + "<div>" * 50_000 + "</div>" * 50_000 + "</channel></rss>"
BAD_UTF8 = b'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>\xff\xfe\xc3(</title><item><title>\xed\xa0\x80</title><link>https://blog.example/1</link></item></channel></rss>'

HOSTILE_FEEDS: dict[str, bytes] = {
    "billion laughs": _laughs().encode(),
    "billion laughs, lower-case declaration": _laughs().replace("<!ENTITY", "<!entity").encode(),
    "billion laughs in UTF-16": _laughs()
    .replace('version="1.0"', 'version="1.0" encoding="UTF-16"')
    .encode("utf-16"),
    "billion laughs in UTF-32": _laughs().encode("utf-32"),
    "external entity": XXE.encode(),
    "external entity in UTF-16": XXE.encode("utf-16"),
    "external parameter entity to the metadata address": PARAMETER_XXE.encode(),
    "quadratic blow-up": QUADRATIC.encode(),
    "deep nesting": DEEP_XML.encode(),
    "invalid UTF-8": BAD_UTF8,
    "NUL bytes": b'<rss version="2.0">\x00\x00<channel>\x00</channel></rss>',
    "1 MB of garbage": b"<" * 1_000_000,
}


@pytest.mark.parametrize("name", sorted(HOSTILE_FEEDS))
def test_hostile_feed_is_parsed_safely_or_refused(name: str) -> None:
    content = HOSTILE_FEEDS[name]
    started = time.monotonic()
    try:
        parsed = blog.parse_feed(content, "https://blog.example/feed/")
    except BadPayload:
        parsed = None
    elapsed = time.monotonic() - started
    assert elapsed < 30, f"{name} took {elapsed:.1f} s"
    if parsed is None:
        return
    document = json.dumps(parsed.items) + json.dumps(parsed.info)
    assert "root:" not in document, "an external entity was resolved"
    assert "lollollollollollollollollollollollollollollol" not in document, "entities were expanded"
    assert len(document) < 2 * len(content) + 10_000
    for item in parsed.items:
        assert_maps_or_refuses(blog.map_item, item)


HOSTILE_PAGES: dict[str, bytes] = {
    "script everywhere": (
        f"<html><head><title>{SCRIPT_HTML}</title>"
        "<meta property='og:title' content='\"><script>alert(1)</script>'>"
        f"</head><body><article>{SCRIPT_HTML * 100}</article></body></html>"
    ).encode(),
    "deep nesting": ("<html><body>" + "<div>" * 100_000 + "x" + "</div>" * 100_000).encode(),
    "invalid UTF-8": b"<html><body><article>\xff\xfe\xed\xa0\x80 BIE-ABCD-EFGH</article></body></html>",
    "unclosed comment and CDATA": b"<html><body><!-- <article><![CDATA[ x",
    "published before the year 1 in UTC": (
        b"<html><head><meta property='article:published_time' content='0001-01-01T00:00:00+14:00'>"
        b"<title>t</title></head><body><article>text</article></body></html>"
    ),
    "dated script page": (
        b"<html><head><meta property='article:published_time' content='2025-10-10T08:00:00Z'>"
        b"<title>t</title></head><body><article>" + SCRIPT_HTML.encode() + b"</article></body></html>"
    ),
    "huge attribute": b"<html><body><a href='" + b"j" * 2_000_000 + b"'>x</a></body></html>",
    "NULs": b"<html>\x00<body>\x00<article>a\x00b</article></body></html>",
}


@pytest.mark.parametrize("name", sorted(HOSTILE_PAGES))
def test_hostile_article_page_is_parsed_safely_or_refused(name: str) -> None:
    started = time.monotonic()
    try:
        page = blog.parse_article_page(HOSTILE_PAGES[name], "https://blog.example/post/1")
    except BadPayload:
        return
    assert time.monotonic() - started < 20
    try:
        post = blog.page_to_post(
            page, global_key=None, local_id=None, author_key="blog:https://blog.example/feed/"
        )
    except BadPayload:
        return
    if post.html:
        assert not executable_markup(post.html), post.html[:300]


def test_every_registered_platform_is_fuzzed() -> None:
    from collectors.base import Platform

    assert {p.value for p in Platform} == set(SAMPLES)
