"""``map_item``: real-shaped statuses map faithfully; anything else maps or raises BadPayload."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collectors.base import BadPayload, CollectedPost, PostKind, Visibility
from collectors.mastodon.mapping import account_key, html_to_text, map_item
from simulator.mastodon import MastodonSim


def status(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "113456789012345678",
        "created_at": "2025-10-10T08:30:00.000Z",
        "in_reply_to_id": None,
        "visibility": "public",
        "language": "en",
        "uri": "https://social1.example/users/amina/statuses/113456789012345678",
        "url": "https://social1.example/@amina/113456789012345678",
        "replies_count": 2,
        "reblogs_count": 3,
        "favourites_count": 5,
        "edited_at": None,
        "content": (
            '<p>Mangroves matter. Read <a href="https://news.example.org/story/123456789" '
            'target="_blank" rel="nofollow noopener"><span class="invisible">https://</span>'
            '<span class="ellipsis">news.example.org/story/12</span><span class="invisible">'
            '3456789</span></a> <a href="https://social1.example/tags/NatureForAll" '
            'class="mention hashtag" rel="tag">#<span>NatureForAll</span></a></p>'
            '<p>with <span class="h-card"><a href="https://social2.example/@jonas" '
            'class="u-url mention">@<span>jonas</span></a></span><br />and <a href="https://'
            'social1.example/tags/iucncec" class="mention hashtag" rel="tag">#<span>IUCNcec'
            "</span></a><script>alert(1)</script></p>"
        ),
        "reblog": None,
        "account": {
            "id": "1",
            "username": "amina",
            "acct": "amina",
            "display_name": "Amina Okafor",
            "url": "https://social1.example/@amina",
        },
        "media_attachments": [{"id": "9", "type": "image"}],
        "mentions": [
            {
                "id": "2",
                "username": "jonas",
                "acct": "jonas@social2.example",
                "url": "https://social2.example/@jonas",
            }
        ],
        "tags": [
            {"name": "natureforall", "url": "https://social1.example/tags/natureforall"},
            {"name": "iucncec", "url": "https://social1.example/tags/iucncec"},
        ],
        "some_future_field": {"kept": True},
    }
    base.update(changes)
    return base


class TestMapItem:
    def test_a_status_maps_every_field(self):
        post = map_item(status(), server_domain="social1.example")
        assert post.global_key == "https://social1.example/users/amina/statuses/113456789012345678"
        assert post.local_id == "113456789012345678"
        assert post.url == "https://social1.example/@amina/113456789012345678"
        assert post.author_key == "mastodon:amina@social1.example"
        assert post.author_name == "Amina Okafor"
        assert post.created_at == datetime(2025, 10, 10, 8, 30, tzinfo=UTC)
        assert post.text == (
            "Mangroves matter. Read https://news.example.org/story/123456789 "
            "#NatureForAll\n\nwith @jonas@social2.example\nand #IUCNcec"
        )
        assert post.tags == ("natureforall", "iucncec")
        assert post.media_count == 1
        assert post.kind is PostKind.POST
        assert post.visibility is Visibility.PUBLIC
        assert (post.likes, post.reposts, post.replies) == (5, 3, 2)
        assert post.version == "2025-10-10T08:30:00+00:00"
        assert post.raw["some_future_field"] == {"kept": True}
        assert post.html is not None
        assert "<script>" not in post.html
        assert "alert" not in post.html
        assert 'href="https://news.example.org/story/123456789"' in post.html

    def test_edits_set_the_version(self):
        post = map_item(status(edited_at="2025-10-10T09:00:00.000Z"))
        assert post.edited_at == datetime(2025, 10, 10, 9, tzinfo=UTC)
        assert post.version == "2025-10-10T09:00:00+00:00"

    def test_a_boost_keeps_its_own_key_and_points_at_the_original(self):
        original = status()
        boost = status(
            id="200",
            uri="https://social2.example/users/jonas/statuses/200/activity",
            url=None,
            content="",
            tags=[],
            media_attachments=[],
            reblog=original,
            account={"acct": "jonas@social2.example", "display_name": "Jonas"},
        )
        post = map_item(boost, server_domain="social1.example")
        assert post.kind is PostKind.REPOST
        assert post.global_key.endswith("/200/activity")
        assert post.repost_of == original["uri"]
        assert post.author_key == "mastodon:jonas@social2.example"
        assert "#NatureForAll" in post.text
        assert post.media_count == 1

    @pytest.mark.parametrize(
        ("changes", "kind"),
        [
            ({"in_reply_to_id": "5"}, PostKind.REPLY),
            ({"quote": {"state": "accepted", "quoted_status": status()}}, PostKind.QUOTE),
            ({"quote_id": "7"}, PostKind.QUOTE),
        ],
    )
    def test_kinds(self, changes, kind):
        assert map_item(status(**changes)).kind is kind

    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            ("unlisted", Visibility.UNLISTED),
            ("direct", Visibility.DIRECT),
            (None, Visibility.PUBLIC),
            ("local", Visibility.PRIVATE),
            (7, Visibility.PRIVATE),
        ],
    )
    def test_visibility(self, value, expected):
        assert map_item(status(visibility=value)).visibility is expected

    def test_author_domain_from_acct_then_server_then_profile(self):
        remote = {"acct": "Kofi@Social3.Example", "url": "https://social3.example/@kofi"}
        assert account_key(remote) == "mastodon:kofi@social3.example"
        local = {"acct": "kofi", "url": "https://web.social3.example/@kofi"}
        assert account_key(local, "social3.example") == "mastodon:kofi@social3.example"
        assert account_key(local) == "mastodon:kofi@web.social3.example"
        post = map_item(status(account={**local, "display_name": ""}), "social3.example")
        assert post.author_aliases == ("mastodon:kofi@web.social3.example",)
        assert post.author_name is None

    @pytest.mark.parametrize(
        "changes",
        [
            {"uri": None},
            {"uri": ""},
            {"id": None},
            {"id": True},
            {"id": ["1"]},
            {"created_at": "yesterday"},
            {"created_at": None},
            {"created_at": 1700000000},
            {"edited_at": "soon"},
            {"account": None},
            {"account": {"acct": ""}},
            {"account": {"acct": "x y"}},
            {"account": {"acct": "bob", "url": None}},
            {"content": 42},
            {"reblog": "https://elsewhere"},
            {"reblog": {"uri": 5}},
            {"created_at": "0001-01-01T00:00:00+05:00"},
        ],
    )
    def test_unmappable_statuses_raise_bad_payload(self, changes):
        with pytest.raises(BadPayload):
            map_item(status(**changes))

    @pytest.mark.parametrize("raw", [None, [], "status", 3])
    def test_non_objects_raise_bad_payload(self, raw):
        with pytest.raises(BadPayload):
            map_item(raw)

    def test_odd_but_readable_values_are_tolerated(self):
        post = map_item(
            status(
                id=1234,
                favourites_count=-3,
                reblogs_count="7",
                replies_count=True,
                media_attachments=None,
                tags="nope",
                mentions=None,
                language=5,
                url=7,
                created_at="2025-10-10T08:30:00",
            )
        )
        assert post.local_id == "1234"
        assert (post.likes, post.reposts, post.replies, post.media_count) == (0, 0, 0, 0)
        assert post.created_at.tzinfo is UTC
        assert post.url is None
        assert post.language is None
        assert post.tags == ("NatureForAll", "IUCNcec")  # from the text when tags[] is unusable


class TestHtmlToText:
    @pytest.mark.parametrize(
        ("html", "text"),
        [
            ("<p>one</p><p>two</p>", "one\n\ntwo"),
            ("a<br>b<br/>c", "a\nb\nc"),
            ('<a href="https://x.org/a">my article</a>', "my article https://x.org/a"),
            ('<a href="https://x.org/a">x.org/a</a>', "https://x.org/a"),
            ('<a href="https://x.org/abcdef">x.org/ab…</a>', "https://x.org/abcdef"),
            ('<a href="https://s.example/tags/WCC2025" class="mention hashtag">#WCC2025</a>', "#WCC2025"),
            ('<a href="https://s.example/@bo" class="u-url mention">@<span>bo</span></a>', "@bo"),
            ('<a href="javascript:alert(1)">click</a>', "click"),
            ("<p>Tom &amp; Jerry &lt;3</p>", "Tom & Jerry <3"),
            ('<p>unclosed <a href="https://x.org">x.org', "unclosed https://x.org"),
            ("", ""),
        ],
    )
    def test_rendering(self, html, text):
        assert html_to_text(html) == text


def test_every_simulated_status_maps():
    server = MastodonSim("social1", posts=300, seed=4, acct_with_domain=True)
    for raw in server.statuses():
        post = map_item(raw)
        assert post.global_key == raw["uri"]
        assert post.local_id == raw["id"]
        assert post.author_key.startswith("mastodon:")
        assert "@" in post.author_key
        assert {t.lower() for t in post.tags} >= {t["name"] for t in raw["tags"]}
        if raw["reblog"]:
            assert post.kind is PostKind.REPOST
            assert post.repost_of == raw["reblog"]["uri"]
        assert "<span" not in post.text
        assert "https://social1.example/tags" not in post.text
    # the text shows hashtags as written
    assert any("#NatureForAll" in map_item(raw).text for raw in server.statuses())


# --- property-based: whatever a server sends, map or BadPayload -----------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=20,
)
FIELDS = list(status().keys()) + ["quote", "quote_id"]


def check(raw: Any) -> None:
    try:
        post = map_item(raw)
    except BadPayload:
        return
    assert isinstance(post, CollectedPost)
    assert post.created_at.tzinfo is not None
    assert post.global_key
    assert post.local_id
    json.dumps(dict(post.raw), default=str)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(json_values)
def test_any_json_maps_or_raises_bad_payload(raw):
    check(raw)


@settings(max_examples=250, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(FIELDS), json_values, min_size=1))
def test_a_status_with_any_fields_replaced_maps_or_raises_bad_payload(changes):
    raw = status()
    raw.update(changes)
    check(raw)


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(), st.sampled_from(["content", "created_at", "uri", "id"]))
def test_any_text_in_a_string_field_maps_or_raises_bad_payload(text, name):
    raw = copy.deepcopy(status())
    raw[name] = text
    raw["account"] = {"acct": "amina@social1.example"}
    check(raw)


HTML_PIECES = [
    "<p>",
    "</p>",
    "<a href='https://x.org'>",
    "</a>",
    "<br>",
    "&amp;",
    "&#0;",
    "\ud800",
    "<script>",
    "#",
    "@",
    "<span class='invisible'>",
    "</span>",
    '<a class="mention hashtag" href="https://s.example/tags/x">',
    "<a>",
    "\x00",
]


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.text(max_size=5) | st.sampled_from(HTML_PIECES)).map("".join))
def test_any_html_renders_to_text(html):
    raw = status(content=html)
    post = map_item(raw)
    assert isinstance(post.text, str)
    assert post.html is None or "<script" not in post.html
