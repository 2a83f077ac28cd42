"""The pure Bluesky mapper: postView dict → CollectedPost, or BadPayload and nothing else."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collectors.base import BadPayload, CollectedPost, Platform, PostKind
from collectors.bluesky.mapping import map_item, normalise_tag, parse_post_uri, sort_at

DID = "did:plc:abcdefghijklmnopqrstuvwx"
URI = f"at://{DID}/app.bsky.feed.post/3kq2xyzabc22a"


def facet(text: str, piece: str, feature: dict, occurrence: int = 0) -> dict:
    """A facet over ``piece`` inside ``text``, with UTF-8 byte offsets."""
    start_char = -1
    for _ in range(occurrence + 1):
        start_char = text.index(piece, start_char + 1)
    start = len(text[:start_char].encode("utf-8"))
    return {
        "index": {"byteStart": start, "byteEnd": start + len(piece.encode("utf-8"))},
        "features": [feature],
    }


def tag(name: str) -> dict:
    return {"$type": "app.bsky.richtext.facet#tag", "tag": name}


def link(uri: str) -> dict:
    return {"$type": "app.bsky.richtext.facet#link", "uri": uri}


def mention(did: str) -> dict:
    return {"$type": "app.bsky.richtext.facet#mention", "did": did}


def view(text: str = "Hello #IUCNcec", facets: list | None = None, **changes) -> dict:
    record = {
        "$type": "app.bsky.feed.post",
        "text": text,
        "createdAt": "2025-10-10T08:30:00.123Z",
        "langs": ["en"],
        "via": "SomeClient",
    }
    if facets is None:
        facets = [facet(text, "#IUCNcec", tag("IUCNcec"))] if "#IUCNcec" in text else []
    if facets:
        record["facets"] = facets
    record.update(changes.pop("record", {}))
    result = {
        "uri": URI,
        "cid": "bafyreicid1",
        "indexedAt": "2025-10-10T08:30:01.000Z",
        "author": {"did": DID, "handle": "Amina.bsky.test", "displayName": "Amina O."},
        "record": record,
        "likeCount": 5,
        "repostCount": 2,
        "replyCount": 1,
        "quoteCount": 0,
        "bookmarkCount": 3,
    }
    result.update(changes)
    return result


class TestMapItem:
    def test_identity_fields(self):
        post = map_item(view())
        assert post.platform is Platform.BLUESKY
        assert post.global_key == post.local_id == URI
        assert post.version == "bafyreicid1"
        assert post.url == f"https://bsky.app/profile/{DID}/post/3kq2xyzabc22a"
        assert post.author_key == f"bluesky:{DID}"
        assert post.author_aliases == ("bluesky:amina.bsky.test",)
        assert post.author_name == "Amina O."
        assert post.created_at == datetime(2025, 10, 10, 8, 30, 0, 123000, tzinfo=UTC)
        assert (post.likes, post.reposts, post.replies) == (5, 2, 1)
        assert post.language == "en"
        assert post.kind is PostKind.POST
        assert post.edited_at is None

    def test_raw_keeps_unknown_fields(self):
        raw = view()
        post = map_item(raw)
        assert post.raw["bookmarkCount"] == 3
        assert post.raw["record"]["via"] == "SomeClient"

    def test_tags_from_facets_and_record_tags(self):
        text = "Rangers! #IUCNcec #WCC2025"
        raw = view(
            text,
            [facet(text, "#IUCNcec", tag("IUCNcec")), facet(text, "#WCC2025", tag("WCC2025"))],
            record={"tags": ["NatureForAll", "#iucncec", 7, ""]},
        )
        post = map_item(raw)
        assert post.tags == ("IUCNcec", "WCC2025", "NatureForAll", "iucncec")
        assert {normalise_tag(t) for t in post.tags} == {"iucncec", "wcc2025", "natureforall"}

    def test_byte_offsets_with_emoji_and_non_latin_text(self):
        url = "https://example.org/very/long/story?id=42"
        text = "🌿🐢 自然保护 Природа example.org/very/lo… with @kofi.bsky.test #NatureForAll 🌏"
        raw = view(
            text,
            [
                facet(text, "example.org/very/lo…", link(url)),
                facet(text, "@kofi.bsky.test", mention("did:plc:kofi")),
                facet(text, "#NatureForAll", tag("NatureForAll")),
            ],
        )
        post = map_item(raw)
        assert post.text == (f"🌿🐢 自然保护 Природа {url} with @kofi.bsky.test #NatureForAll 🌏")
        assert post.tags == ("NatureForAll",)
        assert post.html is not None
        assert f'href="{url}"' in post.html
        assert "https://bsky.app/profile/did:plc:kofi" in post.html
        assert "自然保护" in post.html

    def test_character_offsets_instead_of_byte_offsets_are_ignored_not_fatal(self):
        text = "🌿 #IUCNcec"
        start = text.index("#")  # a character index: wrong for UTF-8 bytes, lands mid-emoji
        raw = view(
            text, [{"index": {"byteStart": start, "byteEnd": start + 8}, "features": [tag("IUCNcec")]}]
        )
        post = map_item(raw)
        assert post.tags == ()
        assert post.text == text

    @pytest.mark.parametrize(
        "bad_facet",
        [
            {"index": {"byteStart": 5, "byteEnd": 500}, "features": [tag("x")]},
            {"index": {"byteStart": 9, "byteEnd": 3}, "features": [tag("x")]},
            {"index": {"byteStart": -1, "byteEnd": 3}, "features": [tag("x")]},
            {"index": {"byteStart": True, "byteEnd": 3}, "features": [tag("x")]},
            {"index": {"byteStart": 0, "byteEnd": 3}, "features": "tag"},
            {"index": "0-3", "features": [tag("x")]},
            {"index": {"byteStart": 0, "byteEnd": 3}, "features": [{"$type": "unknown"}]},
            "facet",
        ],
    )
    def test_invalid_facets_are_skipped(self, bad_facet):
        post = map_item(view("Hello world", [bad_facet]))
        assert post.text == "Hello world"
        assert post.tags == ()

    def test_link_display_equal_to_uri_and_overlaps(self):
        text = "see https://a.example/x now"
        raw = view(
            text,
            [
                facet(text, "https://a.example/x", link("https://a.example/x")),
                facet(text, "a.example", link("https://other.example")),
            ],
        )
        assert map_item(raw).text == text

    @pytest.mark.parametrize(
        ("embed", "media", "kind"),
        [
            ({"$type": "app.bsky.embed.images#view", "images": [{}, {}, {}]}, 3, PostKind.POST),
            ({"$type": "app.bsky.embed.video#view", "cid": "x"}, 1, PostKind.POST),
            ({"$type": "app.bsky.embed.external#view", "external": {}}, 0, PostKind.POST),
            ({"$type": "app.bsky.embed.record#view", "record": {}}, 0, PostKind.QUOTE),
            (
                {
                    "$type": "app.bsky.embed.recordWithMedia#view",
                    "media": {"$type": "app.bsky.embed.images#view", "images": [{}]},
                    "record": {},
                },
                1,
                PostKind.QUOTE,
            ),
        ],
    )
    def test_embeds(self, embed, media, kind):
        post = map_item(view(embed=embed))
        assert (post.media_count, post.kind) == (media, kind)

    def test_record_embed_is_used_when_the_view_has_none(self):
        raw = view(record={"embed": {"$type": "app.bsky.embed.images", "images": [{"alt": ""}, {"alt": ""}]}})
        assert map_item(raw).media_count == 2

    def test_reply(self):
        parent = {"uri": URI, "cid": "c"}
        post = map_item(view(record={"reply": {"root": parent, "parent": parent}}))
        assert post.kind is PostKind.REPLY

    def test_html_is_sanitised(self):
        text = "<script>alert(1)</script> <img src=x onerror=alert(1)> #IUCNcec"
        post = map_item(view(text))
        assert post.html is not None
        assert "<script" not in post.html
        assert "<img" not in post.html
        assert post.text == text

    def test_created_at_normalised_to_utc(self):
        post = map_item(view(record={"createdAt": "2025-10-10T10:30:00+02:00"}))
        assert post.created_at == datetime(2025, 10, 10, 8, 30, tzinfo=UTC)
        naive = map_item(view(record={"createdAt": "2025-10-10T08:30:00"}))
        assert naive.created_at.tzinfo is UTC

    def test_sort_at_is_the_earlier_of_created_and_indexed(self):
        future = view(record={"createdAt": "2030-01-01T00:00:00Z"})
        assert sort_at(future) == datetime(2025, 10, 10, 8, 30, 1, tzinfo=UTC)
        assert sort_at({"record": "x"}) is None

    @pytest.mark.parametrize(
        "change",
        [
            {"uri": "https://bsky.app/profile/x/post/y"},
            {"uri": f"at://{DID}/app.bsky.feed.like/3k"},
            {"uri": None},
            {"cid": 12},
            {"author": {"handle": "no-did.bsky.test"}},
            {"author": "me"},
            {"record": None},
            {"record": {"$type": "app.bsky.feed.like", "createdAt": "2025-01-01T00:00:00Z"}},
            {"record": {"text": 5, "createdAt": "2025-01-01T00:00:00Z"}},
            {"record": {"text": "x", "createdAt": "yesterday"}, "indexedAt": None},
            {"record": {"text": "\ud800", "createdAt": "2025-01-01T00:00:00Z"}},
        ],
    )
    def test_unmappable_raises_bad_payload(self, change):
        raw = view()
        raw.update(change)
        with pytest.raises(BadPayload):
            map_item(raw)

    def test_not_an_object(self):
        with pytest.raises(BadPayload):
            map_item(["not", "a", "post"])  # type: ignore[arg-type]

    def test_lenient_counts_and_names(self):
        raw = view(likeCount=-3, repostCount="7", replyCount=True)
        raw["author"] = {"did": DID, "handle": "handle.invalid", "displayName": "   "}
        post = map_item(raw)
        assert (post.likes, post.reposts, post.replies) == (0, 0, 0)
        assert post.author_aliases == ()
        assert post.author_name is None

    def test_parse_post_uri(self):
        assert parse_post_uri(URI).rkey == "3kq2xyzabc22a"
        with pytest.raises(BadPayload):
            parse_post_uri(f"at://{DID}/app.bsky.feed.post/a b")


# --- fuzz ---------------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)


ZONES = [UTC, timezone(timedelta(hours=14)), timezone(-timedelta(hours=12, minutes=30))]


junk = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.text(max_size=6)
    | st.lists(st.integers(), max_size=2)
    | st.dictionaries(st.text(max_size=3), st.none())
)


def maybe(strategy):
    """Mostly the realistic value, sometimes some other JSON value."""
    return st.one_of(strategy, strategy, strategy, junk)


@st.composite
def facet_strategy(draw):
    feature = draw(
        maybe(st.sampled_from([tag("iucncec"), link("https://x.example/p"), mention(DID), {"$type": "x"}]))
    )
    index = draw(
        maybe(st.fixed_dictionaries({"byteStart": st.integers(-5, 80), "byteEnd": st.integers(-5, 80)}))
    )
    return draw(maybe(st.fixed_dictionaries({"index": st.just(index), "features": st.just([feature])})))


@st.composite
def post_views(draw):
    text = draw(maybe(st.text(max_size=40)))
    record = draw(
        maybe(
            st.fixed_dictionaries(
                {
                    "$type": maybe(st.just("app.bsky.feed.post")),
                    "text": st.just(text),
                    "createdAt": maybe(
                        st.datetimes(timezones=st.none() | st.sampled_from(ZONES)).map(
                            lambda d: d.isoformat()
                        )
                    ),
                    "facets": maybe(st.lists(facet_strategy(), max_size=4)),
                    "tags": maybe(st.lists(maybe(st.text(max_size=8)), max_size=3)),
                    "langs": maybe(st.lists(st.text(max_size=5), max_size=2)),
                    "reply": maybe(st.none() | st.just({"root": {}, "parent": {}})),
                    "embed": json_values,
                },
                optional={"extra": json_values},
            )
        )
    )
    return draw(
        st.fixed_dictionaries(
            {
                "uri": maybe(st.just(URI)),
                "cid": maybe(st.just("bafy")),
                "author": maybe(
                    st.fixed_dictionaries(
                        {
                            "did": maybe(st.just(DID)),
                            "handle": maybe(st.text(max_size=10)),
                            "displayName": junk,
                        }
                    )
                ),
                "record": st.just(record),
                "indexedAt": maybe(st.just("2025-01-01T00:00:00Z")),
                "embed": maybe(
                    st.sampled_from(
                        [
                            {"$type": "app.bsky.embed.images#view", "images": [{}]},
                            {"$type": "app.bsky.embed.recordWithMedia#view", "media": {}},
                            {"$type": "app.bsky.embed.record#view"},
                        ]
                    )
                ),
                "likeCount": junk,
                "repostCount": junk,
                "replyCount": junk,
            },
            optional={"unknown": json_values},
        )
    )


def check(raw) -> None:
    try:
        post = map_item(raw)
    except BadPayload:
        return
    assert isinstance(post, CollectedPost)
    assert post.global_key.startswith("at://")
    assert post.created_at.utcoffset() is not None
    assert post.created_at.utcoffset().seconds == 0
    assert all(isinstance(t, str) and t for t in post.tags)
    assert post.media_count >= 0
    assert post.likes >= 0


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(post_views())
def test_fuzz_post_views_map_or_raise_bad_payload(raw):
    before = copy.deepcopy(raw)
    check(raw)
    assert raw == before  # the mapper never mutates its input


@settings(max_examples=200)
@given(json_values)
def test_fuzz_any_json_maps_or_raises_bad_payload(raw):
    check(raw)
