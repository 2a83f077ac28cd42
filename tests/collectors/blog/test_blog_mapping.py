"""Feed parsing and entry mapping: keys, text, sanitising, and never crashing on any input."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collectors.base import BadPayload, Platform, PostKind
from collectors.blog.mapping import (
    clean_link,
    entry_key,
    html_to_text,
    map_item,
    normalise_link,
    parse_article_page,
    parse_feed,
)

FEED_URL = "https://blog.example.org/author/amina/feed/"

RSS = b"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"
     xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel><title>Amina's notes</title><link>https://blog.example.org/</link><language>en-GB</language>
<item>
  <title>Day 2: mangroves &amp; people</title>
  <link>https://Blog.Example.org/2025/10/mangroves/?utm_source=rss&amp;utm_medium=rss&amp;p=2#more-12</link>
  <dc:creator>Amina Okafor</dc:creator>
  <pubDate>Fri, 10 Oct 2025 09:30:00 +0000</pubDate>
  <category><![CDATA[IUCNcec]]></category><category><![CDATA[WCC2025]]></category>
  <guid isPermaLink="false">https://blog.example.org/?p=12</guid>
  <description>&lt;p&gt;Short excerpt&lt;/p&gt;</description>
  <content:encoded><![CDATA[<p>Mangroves protect <b>coasts</b>.</p>
    <p><img src="/uploads/a.jpg" onerror="alert(1)"><img src="https://cdn.example.org/b.jpg"></p>
    <script>steal()</script>
    <p>Read <a href="https://news.example.org/story/1">the report</a>,
       see https://iucn.org and <a href="https://blog.example.org/tag/natureforall/">#NatureForAll</a>
       with <a href="https://mastodon.example/@amina">@amina</a>.
       Also <a href="https://iucn.org/cec">iucn.org/cec</a>.</p>]]></content:encoded>
  <enclosure url="https://cdn.example.org/talk.mp3" length="100" type="audio/mpeg"/>
</item>
<item>
  <title>No guid here</title>
  <link>https://blog.example.org/2025/10/no-guid/</link>
  <pubDate>Sat, 11 Oct 2025 09:30:00 GMT</pubDate>
  <description>Plain words only</description>
</item>
<item><title>Undated</title><link>https://blog.example.org/undated/</link></item>
</channel></rss>"""

ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Blogger</title><id>tag:x,2025:feed</id>
<updated>2025-10-12T10:00:00Z</updated>
<entry><id>tag:blogger.com,1999:blog-1.post-77</id><title>Edited post</title>
<link rel="alternate" type="text/html" href="https://x.blogspot.com/2025/10/edited.html"/>
<published>2025-10-10T08:00:00+02:00</published><updated>2025-10-12T10:00:00Z</updated>
<author><name>Jonas</name></author><category term="NatureForAll"/>
<content type="html">&lt;p&gt;Hello &lt;img src="https://x/p.png"&gt;&lt;/p&gt;</content></entry>
</feed>"""


def items(content: bytes, url: str = FEED_URL) -> list[dict]:
    return list(parse_feed(content, url).items)


class TestLinks:
    @pytest.mark.parametrize(
        ("raw", "key"),
        [
            ("HTTPS://Blog.Example.ORG/2025/10/slug/", "https://blog.example.org/2025/10/slug"),
            ("https://blog.example.org/2025/10/slug", "https://blog.example.org/2025/10/slug"),
            (
                "https://blog.example.org:443/a/?utm_source=rss&utm_medium=x#frag",
                "https://blog.example.org/a",
            ),
            (
                "http://blog.example.org:8080/a?p=3&UTM_campaign=z&fbclid=1",
                "http://blog.example.org:8080/a?p=3",
            ),
            ("https://blog.example.org", "https://blog.example.org/"),
            ("https://blog.example.org/", "https://blog.example.org/"),
            ("http://[::1]:80/x/", "http://[::1]/x"),
        ],
    )
    def test_normalise(self, raw: str, key: str) -> None:
        assert normalise_link(raw) == key

    def test_clean_keeps_the_trailing_slash(self) -> None:
        assert clean_link("https://B.org/a/?utm_x=1#f") == "https://b.org/a/"

    @pytest.mark.parametrize(
        "raw",
        [
            "javascript:alert(1)",
            "/relative/path",
            "mailto:a@b",
            "https://user:pw@b.org/",
            "https://b.org:99999/",
        ],
    )
    def test_refuses_non_http_links(self, raw: str) -> None:
        with pytest.raises(BadPayload):
            normalise_link(raw)


class TestMapping:
    def test_wordpress_entry(self) -> None:
        post = map_item(items(RSS)[0])
        assert post.platform is Platform.BLOG
        assert post.kind is PostKind.ARTICLE
        assert post.global_key == "https://blog.example.org/?p=12"
        assert post.url == "https://blog.example.org/2025/10/mangroves/?p=2"
        assert post.author_key == f"blog:{FEED_URL}"
        assert post.author_name == "Amina Okafor"
        assert post.created_at == datetime(2025, 10, 10, 9, 30, tzinfo=UTC)
        assert post.tags == ("IUCNcec", "WCC2025")
        assert post.language == "en-GB"
        assert post.media_count == 3  # two <img> and the audio enclosure

    def test_text_is_plain_with_full_urls_and_tags(self) -> None:
        text = map_item(items(RSS)[0]).text
        assert text.startswith("Day 2: mangroves & people\n\nMangroves protect coasts.")
        assert "the report https://news.example.org/story/1" in text
        assert "see https://iucn.org and #NatureForAll with @amina." in text
        assert "https://iucn.org/cec." in text
        assert "iucn.org/cec https" not in text
        assert "steal" not in text
        assert "<" not in text

    def test_html_is_sanitised(self) -> None:
        html = map_item(items(RSS)[0]).html or ""
        assert "<script" not in html
        assert "steal" not in html
        assert "onerror" not in html
        assert "<img" in html
        assert "<b>coasts</b>" in html

    def test_entry_without_guid_is_keyed_by_normalised_link(self) -> None:
        post = map_item(items(RSS)[1])
        assert post.global_key == "https://blog.example.org/2025/10/no-guid"
        assert post.text == "No guid here\n\nPlain words only"

    def test_undated_entry_is_bad_payload(self) -> None:
        with pytest.raises(BadPayload, match="date"):
            map_item(items(RSS)[2])

    def test_atom_entry_with_update(self) -> None:
        post = map_item(items(ATOM, "https://x.blogspot.com/feeds/posts/default")[0])
        assert post.global_key == "tag:blogger.com,1999:blog-1.post-77"
        assert post.created_at == datetime(2025, 10, 10, 6, 0, tzinfo=UTC)
        assert post.edited_at == datetime(2025, 10, 12, 10, 0, tzinfo=UTC)
        assert post.version == "2025-10-12T10:00:00Z"
        assert post.tags == ("NatureForAll",)
        assert post.media_count == 1

    def test_raw_is_json_safe_and_keeps_unknown_fields(self) -> None:
        import json

        raw = items(RSS)[0]
        json.dumps(raw)
        assert raw["entry"]["published_parsed"] == "2025-10-10T09:30:00Z"
        assert raw["entry"]["author"] == "Amina Okafor"
        assert map_item(json.loads(json.dumps(raw))).global_key == entry_key(raw)

    def test_not_a_feed(self) -> None:
        with pytest.raises(BadPayload, match="not an RSS"):
            parse_feed(b"<html><body>Parked domain</body></html>", FEED_URL)

    def test_truncated_feed_is_flagged_ill_formed(self) -> None:
        parsed = parse_feed(RSS[: len(RSS) // 2], FEED_URL)
        assert not parsed.well_formed

    def test_html_to_text_collects_images(self) -> None:
        text, images = html_to_text('<p>a<img src="/x.png"></p><p>b</p>', "https://s.org/p/")
        assert text == "a\n\nb"
        assert images == ["https://s.org/x.png"]


class TestHostileInput:
    def test_billion_laughs_is_refused_fast(self) -> None:
        lol = "".join(f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10}">' for i in range(1, 10))
        bomb = (
            f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY lol0 "lol">{lol}]>'
            '<rss version="2.0"><channel><item><title>&lol9;</title></item></channel></rss>'
        )
        started = time.monotonic()
        with pytest.raises(BadPayload, match="entities"):
            parse_feed(bomb.encode(), FEED_URL)
        assert time.monotonic() - started < 1

    def test_deeply_nested(self) -> None:
        deep = b"<rss version='2.0'><channel>" + b"<a>" * 20000 + b"</a>" * 20000 + b"</channel></rss>"
        assert parse_feed(deep, FEED_URL).items == []

    def test_invalid_utf8(self) -> None:
        body = RSS.replace(b"Mangroves protect", b"Mangroves \xff\xfe\xc3 protect")
        for raw in parse_feed(body, FEED_URL).items:
            try:
                map_item(raw)
            except BadPayload:
                pass

    def test_huge_entry_count(self) -> None:
        entry = (
            b"<item><title>t</title><link>https://b.org/%d</link>"
            b"<pubDate>Fri, 10 Oct 2025 09:30:00 GMT</pubDate></item>"
        )
        body = (
            b"<rss version='2.0'><channel>" + b"".join(entry % i for i in range(3000)) + b"</channel></rss>"
        )
        parsed = parse_feed(body, FEED_URL)
        assert len({map_item(raw).global_key for raw in parsed.items}) == 3000


def _check_feed(content: bytes) -> None:
    try:
        parsed = parse_feed(content, FEED_URL)
    except BadPayload:
        return
    for raw in parsed.items:
        try:
            post = map_item(raw)
        except BadPayload:
            continue
        assert post.created_at.tzinfo is not None
        assert post.global_key


xml_text = st.lists(
    st.sampled_from(
        list("<>/&;#\"'= abcx\n")
        + [
            "<item>",
            "</item>",
            "<title>",
            "</title>",
            "<link>",
            "</link>",
            "<guid>",
            "</guid>",
            "<pubDate>",
            "</pubDate>",
            "Fri, 10 Oct 2025 09:30:00 GMT",
            "https://b.org/x",
            "<entry>",
            "</entry>",
            "<id>",
            "</id>",
            "<![CDATA[",
            "]]>",
            "<!ENTITY a 'b'>",
            "&amp;",
            "<category>",
            "</category>",
            "<content:encoded>",
            "</content:encoded>",
            "<img src=x onerror=y>",
            "<script>",
            "\x00",
            "\udcff",
        ]
    ),
    max_size=80,
).map("".join)


class TestProperties:
    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.binary(max_size=2000))
    def test_any_bytes(self, content: bytes) -> None:
        _check_feed(content)

    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(xml_text)
    def test_any_feed_like_xml(self, body: str) -> None:
        for wrapper in (
            "<rss version='2.0'><channel>{}</channel></rss>",
            "<feed xmlns='http://www.w3.org/2005/Atom'>{}</feed>",
        ):
            _check_feed(wrapper.format(body).encode("utf-8", "surrogatepass"))

    @settings(max_examples=200, deadline=None)
    @given(
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
            lambda children: (
                st.lists(children, max_size=4)
                | st.dictionaries(
                    st.sampled_from(
                        [
                            "entry",
                            "feed_url",
                            "id",
                            "link",
                            "links",
                            "title",
                            "summary",
                            "content",
                            "tags",
                            "term",
                            "published_parsed",
                            "updated_parsed",
                            "value",
                            "type",
                            "enclosures",
                            "href",
                            "author",
                            "feed",
                        ]
                    ),
                    children,
                    max_size=6,
                )
            ),
            max_leaves=25,
        )
    )
    def test_any_json_raw_item(self, raw: object) -> None:
        try:
            map_item(raw)  # type: ignore[arg-type]
        except BadPayload:
            pass


class TestArticlePage:
    def test_reads_metadata(self) -> None:
        page = parse_article_page(
            b'<html><head><title>T - site</title><link rel="canonical" href="/2025/10/a/">'
            b'<link rel="alternate" type="application/rss+xml" href="/author/x/feed/">'
            b'<meta property="og:title" content="The title">'
            b'<meta property="article:published_time" content="2025-10-10T09:30:00+00:00">'
            b'<meta property="article:tag" content="IUCNcec"><meta property="article:tag" '
            b'content="WCC2025"></head><body><nav>menu</nav><article><p>Body</p></article>'
            b"</body></html>",
            "https://b.org/2025/10/a/?utm_source=x",
        )
        assert page.title == "The title"
        assert page.canonical == "https://b.org/2025/10/a/"
        assert page.feed_url == "https://b.org/author/x/feed/"
        assert page.tags == ("IUCNcec", "WCC2025")
        assert page.published == datetime(2025, 10, 10, 9, 30, tzinfo=UTC)
        assert "<p>Body</p>" in page.html
        assert "menu" not in page.html
