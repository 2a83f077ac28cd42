"""Mapping X v2 tweets: kinds, tags, expanded links, and never crashing on any JSON."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collectors.base import BadPayload, Platform, PostKind
from collectors.x.mapping import map_item

USER = {"id": "42", "name": "Amina Okafor", "username": "AminaO"}


def tweet(**changes):
    data = {
        "id": "1843000000000000001",
        "text": "Mangroves! #IUCNcec https://t.co/abc",
        "author_id": "42",
        "created_at": "2025-10-10T09:30:00.000Z",
        "lang": "en",
        "edit_history_tweet_ids": ["1843000000000000001"],
        "public_metrics": {"like_count": 5, "retweet_count": 2, "reply_count": 1, "quote_count": 0},
        "entities": {
            "hashtags": [{"start": 11, "end": 19, "tag": "IUCNcec"}],
            "urls": [
                {
                    "start": 20,
                    "end": 36,
                    "url": "https://t.co/abc",
                    "expanded_url": "https://news.example.org/story/1",
                    "display_url": "news.example.org/story/1",
                }
            ],
        },
        "attachments": {"media_keys": ["3_1", "3_2"]},
        "future_field": {"kept": True},
    }
    data.update(changes)
    return {"data": data, "includes": {"users": [USER]}}


def test_plain_tweet() -> None:
    post = map_item(tweet())
    assert post.platform is Platform.X
    assert post.kind is PostKind.POST
    assert post.global_key == post.local_id == "1843000000000000001"
    assert post.author_key == "x:aminao"
    assert post.author_name == "Amina Okafor"
    assert post.url == "https://x.com/aminao/status/1843000000000000001"
    assert post.created_at == datetime(2025, 10, 10, 9, 30, tzinfo=UTC)
    assert post.text == "Mangroves! #IUCNcec https://news.example.org/story/1"
    assert post.tags == ("IUCNcec",)
    assert post.media_count == 2
    assert (post.likes, post.reposts, post.replies) == (5, 2, 1)
    assert post.language == "en"
    assert post.raw["data"]["future_field"] == {"kept": True}


@pytest.mark.parametrize(
    ("refs", "kind", "repost_of"),
    [
        ([{"type": "retweeted", "id": "7"}], PostKind.REPOST, "7"),
        ([{"type": "quoted", "id": "7"}], PostKind.QUOTE, None),
        ([{"type": "replied_to", "id": "7"}], PostKind.REPLY, None),
        ([{"type": "replied_to", "id": "7"}, {"type": "quoted", "id": "8"}], PostKind.QUOTE, None),
        ([{"type": "something_new", "id": "7"}], PostKind.POST, None),
    ],
)
def test_kinds(refs, kind, repost_of) -> None:
    post = map_item(tweet(referenced_tweets=refs))
    assert post.kind is kind
    assert post.repost_of == repost_of


@pytest.mark.parametrize(
    "raw",
    [
        {},
        {"data": []},
        tweet(id=12),
        tweet(id="12a"),
        tweet(text=None),
        tweet(created_at="yesterday"),
        tweet(created_at="2025-10-10T09:30:00"),
        tweet(author_id="nobody"),
        {"data": tweet()["data"], "includes": {"users": [{"id": "42"}]}},
    ],
)
def test_unmappable(raw) -> None:
    with pytest.raises(BadPayload):
        map_item(raw)


def test_odd_metrics_count_as_zero() -> None:
    post = map_item(tweet(public_metrics={"like_count": -3, "retweet_count": "9", "reply_count": True}))
    assert (post.likes, post.reposts, post.replies) == (0, 0, 0)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "data",
                    "includes",
                    "users",
                    "id",
                    "text",
                    "author_id",
                    "created_at",
                    "entities",
                    "hashtags",
                    "urls",
                    "url",
                    "expanded_url",
                    "tag",
                    "username",
                    "referenced_tweets",
                    "type",
                    "public_metrics",
                    "like_count",
                    "attachments",
                    "media_keys",
                    "lang",
                    "name",
                ]
            ),
            children,
            max_size=6,
        )
    ),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_any_json_maps_or_raises_bad_payload(raw) -> None:
    try:
        post = map_item(raw)
    except BadPayload:
        return
    assert post.created_at.tzinfo is not None


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(
            [
                "text",
                "author_id",
                "created_at",
                "entities",
                "referenced_tweets",
                "public_metrics",
                "attachments",
                "lang",
                "id",
            ]
        ),
        json_values,
        max_size=5,
    )
)
def test_any_field_replacement(changes) -> None:
    try:
        map_item(tweet(**changes))
    except BadPayload:
        pass
