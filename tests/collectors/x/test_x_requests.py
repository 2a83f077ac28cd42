"""The X collector's requests, asserted with respx."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import respx

from collectors.base import InvalidSource, Platform, PostRef, RateLimited, SourceBlocked, SourceConfig
from collectors.http import RetryPolicy
from collectors.x.client import TWEET_FIELDS, XCollector

API = "https://api.x.test"
SEARCH = f"{API}/2/tweets/search/recent"


def config(**changes) -> SourceConfig:
    values: dict[str, Any] = {
        "platform": Platform.X,
        "url": API,
        "token": "tok-123",
        "trusted": True,
        "max_wait_s": 30.0,
    }
    values.update(changes)
    return SourceConfig(**values)


def tweet(tid: int, author: str = "1") -> dict:
    return {
        "id": str(tid),
        "text": f"tweet {tid} #iucncec",
        "author_id": author,
        "created_at": "2025-10-10T09:30:00.000Z",
        "entities": {"hashtags": [{"start": 10, "end": 18, "tag": "iucncec"}]},
    }


def page(ids: list[int], next_token: str | None = None) -> dict:
    meta: dict = {"result_count": len(ids)}
    if ids:
        meta.update(newest_id=str(max(ids)), oldest_id=str(min(ids)))
    if next_token:
        meta["next_token"] = next_token
    body: dict = {"meta": meta}
    if ids:
        body["data"] = [tweet(i) for i in ids]
        body["includes"] = {"users": [{"id": "1", "name": "A", "username": "Amina"}]}
    return body


@pytest.fixture
def collector(fake_clock) -> XCollector:
    return XCollector(clock=fake_clock, retry=RetryPolicy(attempts=3, base_delay_s=0.01))


@respx.mock
def test_search_request_and_cursor(collector: XCollector) -> None:
    route = respx.get(SEARCH)
    route.side_effect = [
        httpx.Response(200, json=page([30, 29], "tok2")),
        httpx.Response(200, json=page([28, 27])),
    ]
    pages = list(collector.fetch(config(), {"since_id": "20"}))
    first, second = route.calls[0].request, route.calls[1].request
    assert first.headers["authorization"] == "Bearer tok-123"
    params = first.url.params
    assert params["query"] == "#iucncec -is:retweet"
    assert params["since_id"] == "20"
    assert params["max_results"] == "100"
    assert params["tweet.fields"] == TWEET_FIELDS
    assert params["expansions"] == "author_id"
    assert "next_token" not in params
    assert second.url.params["next_token"] == "tok2"
    assert "until_id" not in second.url.params
    assert pages[0].cursor == {"v": 1, "since_id": "20", "pending_until_id": "29", "pending_newest": "30"}
    assert pages[1].cursor == {"v": 1, "since_id": "30", "pending_until_id": None, "pending_newest": None}
    assert [p.author_key for p in pages[0].posts] == ["x:amina", "x:amina"]


@respx.mock
def test_resume_uses_until_id_and_drops_repeats(collector: XCollector) -> None:
    route = respx.get(SEARCH).respond(200, json=page([29, 28, 27]))
    cursor = {"since_id": "20", "pending_until_id": "29", "pending_newest": "30"}
    pages = list(collector.fetch(config(), cursor))
    params = route.calls.last.request.url.params
    assert params["until_id"] == "29"
    assert params["since_id"] == "20"
    assert [p.global_key for p in pages[0].posts] == ["28", "27"]  # 29 was already saved
    assert pages[-1].cursor["since_id"] == "30"


@respx.mock
def test_tags_build_the_query(collector: XCollector) -> None:
    route = respx.get(SEARCH).respond(200, json=page([]))
    list(collector.fetch(config(tags=("iucncec", "NatureForAll")), None))
    assert route.calls.last.request.url.params["query"] == "(#iucncec OR #NatureForAll) -is:retweet"


@respx.mock
def test_429_waits_for_the_reset(collector: XCollector, fake_clock) -> None:
    reset = int(fake_clock.now().timestamp()) + 12
    route = respx.get(SEARCH)
    route.side_effect = [
        httpx.Response(429, headers={"x-rate-limit-reset": str(reset), "x-rate-limit-remaining": "0"}),
        httpx.Response(200, json=page([5])),
    ]
    pages = list(collector.fetch(config(), None))
    assert [p.global_key for p in pages[0].posts] == ["5"]
    assert 10 < fake_clock.slept[0] < 13.5
    assert pages[0].rate_limit_wait_s == fake_clock.slept[0]


@respx.mock
def test_429_far_away_raises_after_saved_pages(collector: XCollector, fake_clock) -> None:
    reset = int(fake_clock.now().timestamp()) + 900
    route = respx.get(SEARCH)
    route.side_effect = [
        httpx.Response(200, json=page([9, 8], "t")),
        httpx.Response(429, headers={"x-rate-limit-reset": str(reset)}),
    ]
    fetched = collector.fetch(config(), None)
    first = next(fetched)
    assert first.cursor["pending_until_id"] == "8"
    with pytest.raises(RateLimited):
        next(fetched)


@respx.mock
def test_refused_since_id_falls_back_to_local_filtering(collector: XCollector) -> None:
    route = respx.get(SEARCH)
    route.side_effect = [
        httpx.Response(
            400,
            json={
                "errors": [
                    {
                        "message": "Invalid 'since_id':'5'. 'since_id' "
                        "must be a tweet id created after 2025-10-01"
                    }
                ]
            },
        ),
        httpx.Response(200, json=page([9, 5, 4])),
    ]
    pages = list(collector.fetch(config(), {"since_id": "5"}))
    assert "since_id" not in route.calls.last.request.url.params
    assert [p.global_key for p in pages[0].posts] == ["9"]


@respx.mock
@pytest.mark.parametrize(
    ("status", "error"), [(401, SourceBlocked), (403, SourceBlocked), (400, InvalidSource)]
)
def test_errors(collector: XCollector, status: int, error: type) -> None:
    respx.get(SEARCH).respond(status, json={"title": "nope"})
    with pytest.raises(error):
        list(collector.fetch(config(), None))


def test_validate_needs_a_token(collector: XCollector) -> None:
    with pytest.raises(InvalidSource, match="token"):
        collector.validate(config(token=None))
    with pytest.raises(InvalidSource):
        collector.validate(config(page_limit=5))


@respx.mock
def test_recheck_marks_missing_tweets_gone(collector: XCollector) -> None:
    route = respx.get(f"{API}/2/tweets").respond(
        200,
        json={
            "data": [tweet(1)],
            "includes": {"users": [{"id": "1", "username": "a"}]},
            "errors": [
                {
                    "value": "2",
                    "title": "Not Found Error",
                    "type": "https://api.twitter.com/2/problems/resource-not-found",
                },
                {"value": "3", "title": "Authorization Error"},
            ],
        },
    )
    refs = [PostRef(str(i), str(i), None) for i in (1, 2, 3, 4)] + [PostRef("x", "x", None)]
    results = {r.ref.global_key: r for r in collector.recheck(config(), refs)}
    assert route.calls.last.request.url.params["ids"] == "1,2,3,4"
    assert results["1"].post is not None
    assert not results["1"].gone
    assert results["2"].gone
    assert results["3"].gone
    assert not results["4"].gone
    assert results["4"].post is None
    assert not results["x"].gone


@respx.mock
def test_recheck_batches_of_100(collector: XCollector) -> None:
    route = respx.get(f"{API}/2/tweets").respond(200, json={})
    list(collector.recheck(config(), [PostRef(str(i), str(i), None) for i in range(1, 251)]))
    assert [len(c.request.url.params["ids"].split(",")) for c in route.calls] == [100, 100, 50]


@respx.mock
def test_engagement_pages_through_users(collector: XCollector) -> None:
    likes = respx.get(f"{API}/2/tweets/7/liking_users")
    likes.side_effect = [
        httpx.Response(200, json={"data": [{"id": "1", "username": "A"}], "meta": {"next_token": "n"}}),
        httpx.Response(200, json={"data": [{"id": "2", "username": "b"}], "meta": {}}),
    ]
    respx.get(f"{API}/2/tweets/7/retweeted_by").respond(200, json={"meta": {"result_count": 0}})
    [engagement] = collector.fetch_engagement(config(), [PostRef("7", "7", None)])
    assert engagement.liked_by == ("x:a", "x:b")
    assert engagement.reposted_by == ()
    assert likes.calls.last.request.url.params["pagination_token"] == "n"


@respx.mock
def test_fetch_url(collector: XCollector) -> None:
    route = respx.get(f"{API}/2/tweets").respond(
        200, json={"data": [tweet(77)], "includes": {"users": [{"id": "1", "username": "a"}]}}
    )
    post = collector.fetch_url(config(), "https://twitter.com/a/status/77?s=20")
    assert post.global_key == "77"
    assert route.calls.last.request.url.params["ids"] == "77"
