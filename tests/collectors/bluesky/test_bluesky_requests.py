"""What the collector sends and how it reacts, with the SDK's httpx traffic faked by respx."""

from __future__ import annotations

import base64
import json
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import respx

from collectors.base import (
    InvalidSource,
    Platform,
    RateLimited,
    SourceBlocked,
    SourceConfig,
    TransientError,
)
from collectors.bluesky.client import BlueskyCollector

PDS = "https://pds.example"
XRPC = f"{PDS}/xrpc"
DID = "did:plc:collector0000000000000000"


class FakeClock:
    def __init__(self) -> None:
        self.slept: list[float] = []

    def now(self) -> datetime:
        return datetime.now(UTC) + timedelta(seconds=sum(self.slept))

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)


def jwt(exp: float) -> str:
    def part(data: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'ES256K'})}.{part({'sub': DID, 'exp': int(exp)})}.c2ln"


def session_body() -> dict:
    return {
        "accessJwt": jwt(time.time() + 7200),
        "refreshJwt": jwt(time.time() + 86400),
        "did": DID,
        "handle": "collector.example",
    }


def post(n: int, moment: datetime) -> dict:
    stamp = moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return {
        "uri": f"at://did:plc:author/app.bsky.feed.post/3k{n:011d}",
        "cid": f"bafy{n}",
        "author": {"did": "did:plc:author", "handle": "author.example"},
        "record": {
            "$type": "app.bsky.feed.post",
            "text": "Hi #iucncec",
            "createdAt": stamp,
            "facets": [
                {
                    "index": {"byteStart": 3, "byteEnd": 11},
                    "features": [{"$type": "app.bsky.richtext.facet#tag", "tag": "iucncec"}],
                }
            ],
        },
        "indexedAt": stamp,
    }


def config(**changes) -> SourceConfig:
    values = {
        "platform": Platform.BLUESKY,
        "url": PDS,
        "tags": ("iucncec",),
        "handle": "collector.example",
        "token": "app-pass",
        "max_wait_s": 30.0,
        "extra": {"settle_s": 0, "backfill_days": 1},
    }
    values.update(changes)
    return SourceConfig(**values)


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def collector(clock):
    built = BlueskyCollector(clock=clock, seed=3, max_attempts=3)
    yield built
    built.close()


@pytest.fixture
def pds():
    with respx.mock(assert_all_called=False) as mock:
        mock.post(f"{XRPC}/com.atproto.server.createSession").mock(
            return_value=httpx.Response(200, json=session_body())
        )
        yield mock


def ok(posts, cursor=None, remaining=100, reset_in=300.0):
    body = {"posts": posts}
    if cursor:
        body["cursor"] = cursor
    reset = int(time.time() + reset_in)
    return httpx.Response(
        200, json=body, headers={"RateLimit-Remaining": str(remaining), "RateLimit-Reset": str(reset)}
    )


def test_search_parameters_and_auth(pds, collector):
    route = pds.get(f"{XRPC}/app.bsky.feed.searchPosts").mock(return_value=ok([]))
    pages = list(collector.fetch(config(), None))
    assert len(pages) == 1
    assert pages[0].posts == []
    request = route.calls.last.request
    params = request.url.params
    assert params["q"] == "#iucncec"
    assert params.get_list("tag") == ["iucncec"]
    assert params["sort"] == "latest"
    assert params["limit"] == "100"
    assert "cursor" not in params
    since = datetime.fromisoformat(params["since"])
    until = datetime.fromisoformat(params["until"])
    assert timedelta(hours=23) < until - since <= timedelta(days=1)
    assert request.headers["authorization"].startswith("Bearer ")
    login = json.loads(pds.calls[0].request.content)
    assert login == {"identifier": "collector.example", "password": "app-pass"}
    assert pages[0].requests == 2  # createSession + searchPosts
    assert pages[0].cursor["tags"]["iucncec"]["window"] is None


def test_server_cursor_is_followed_and_cap_refusal_falls_back_to_the_floor(pds, collector):
    now = datetime.now(UTC)
    first = [post(i, now - timedelta(minutes=i + 1)) for i in range(3)]
    second = [post(i, now - timedelta(minutes=i + 1)) for i in range(3, 6)]
    route = pds.get(f"{XRPC}/app.bsky.feed.searchPosts").mock(
        side_effect=[
            ok(first, cursor="3"),
            httpx.Response(400, json={"error": "InvalidRequest", "message": "cursor out of range"}),
            ok(second),
            ok([]),  # a full page without a cursor may hide more: one more look below the floor
        ]
    )
    pages = list(collector.fetch(config(page_limit=3), None))
    keys = [p.global_key for page in pages for p in page.posts]
    assert keys == [p["uri"] for p in first + second]
    calls = route.calls
    assert calls[1].request.url.params["cursor"] == "3"
    retry = calls[2].request.url.params
    assert "cursor" not in retry
    floor = datetime.fromisoformat(first[-1]["record"]["createdAt"])
    assert datetime.fromisoformat(retry["until"]) == floor + timedelta(milliseconds=1)


def test_budget_spent_waits_for_the_reset_before_the_next_request(pds, collector, clock):
    now = datetime.now(UTC)
    pds.get(f"{XRPC}/app.bsky.feed.searchPosts").mock(
        side_effect=[
            ok(
                [post(i, now - timedelta(minutes=i + 1)) for i in range(2)],
                cursor="2",
                remaining=0,
                reset_in=20,
            ),
            ok([]),
        ]
    )
    pages = list(collector.fetch(config(page_limit=2), None))
    assert 15 < sum(clock.slept) <= 21
    assert pages[-1].rate_limit_wait_s == pytest.approx(sum(clock.slept))


def test_budget_spent_with_a_far_reset_raises_rate_limited(pds, collector):
    now = datetime.now(UTC)
    route = pds.get(f"{XRPC}/app.bsky.feed.searchPosts").mock(
        side_effect=[
            ok(
                [post(i, now - timedelta(minutes=i + 1)) for i in range(2)],
                cursor="2",
                remaining=0,
                reset_in=600,
            ),
        ]
    )
    fetched = collector.fetch(config(page_limit=2), None)
    assert len(next(fetched).posts) == 2
    with pytest.raises(RateLimited) as raised:
        next(fetched)
    assert raised.value.reset_at > datetime.now(UTC) + timedelta(seconds=500)
    assert route.call_count == 1  # the refused request was never sent


def test_429_waits_until_reset_then_retries(pds, collector, clock):
    reset = int(time.time() + 10)
    pds.get(f"{XRPC}/app.bsky.feed.searchPosts").mock(
        side_effect=[
            httpx.Response(
                429,
                json={"error": "RateLimitExceeded"},
                headers={"RateLimit-Remaining": "0", "RateLimit-Reset": str(reset)},
            ),
            ok([]),
        ]
    )
    pages = list(collector.fetch(config(), None))
    assert 5 < sum(clock.slept) <= 11
    assert pages[0].requests == 3


@pytest.mark.parametrize(
    "failure",
    [
        httpx.Response(503, text="<html>busy</html>", headers={"content-type": "text/html"}),
        httpx.Response(502, json={"error": "UpstreamFailure"}),
        httpx.Response(200, content=b'{"posts": [', headers={"content-type": "application/json"}),
        httpx.Response(200, text="<html>maintenance</html>", headers={"content-type": "text/html"}),
        httpx.ConnectError("refused"),
        httpx.ReadTimeout("slow"),
        httpx.RemoteProtocolError("peer closed connection"),
    ],
)
def test_transient_failures_back_off_then_give_up(pds, collector, clock, failure):
    route = pds.get(f"{XRPC}/app.bsky.feed.searchPosts").mock(side_effect=[failure] * 5)
    with pytest.raises(TransientError):
        list(collector.fetch(config(), None))
    assert route.call_count == 3  # max_attempts
    assert len(clock.slept) == 2
    assert all(0 < s <= 8 for s in clock.slept)
    assert clock.slept[1] > clock.slept[0] * 0.5  # exponential with jitter


def test_transient_failure_then_success(pds, collector):
    pds.get(f"{XRPC}/app.bsky.feed.searchPosts").mock(
        side_effect=[httpx.Response(500, json={"error": "InternalServerError"}), ok([])]
    )
    pages = list(collector.fetch(config(), None))
    assert pages[0].requests == 3


def test_expired_token_logs_in_again_once(pds, collector):
    expired = httpx.Response(400, json={"error": "ExpiredToken", "message": "Token has expired"})
    pds.get(f"{XRPC}/app.bsky.feed.searchPosts").mock(side_effect=[expired, ok([])])
    list(collector.fetch(config(), None))
    assert pds.routes[0].call_count == 2


@pytest.mark.parametrize(
    ("response", "error", "match"),
    [
        (httpx.Response(403, json={"error": "Forbidden"}), SourceBlocked, "refused"),
        (httpx.Response(401, json={"error": "AuthMissing"}), SourceBlocked, "refused"),
        (httpx.Response(501, json={"error": "MethodNotImplemented"}), InvalidSource, "serve"),
        (httpx.Response(404, text="not found"), InvalidSource, "serve"),
        (httpx.Response(400, json={"error": "InvalidRequest"}), InvalidSource, "refused"),
    ],
)
def test_refusals(pds, collector, response, error, match):
    pds.get(f"{XRPC}/app.bsky.feed.searchPosts").mock(return_value=response)
    with pytest.raises(error, match=match):
        list(collector.fetch(config(), None))


def test_login_refused(collector):
    with respx.mock() as mock:
        mock.post(f"{XRPC}/com.atproto.server.createSession").mock(
            return_value=httpx.Response(
                401, json={"error": "AuthenticationRequired", "message": "Invalid password"}
            )
        )
        with pytest.raises(SourceBlocked, match="login refused"):
            list(collector.fetch(config(), None))


def test_unmappable_items_are_skipped_and_counted(pds, collector):
    now = datetime.now(UTC)
    good = post(1, now - timedelta(minutes=1))
    bad = post(2, now - timedelta(minutes=2))
    bad["cid"] = None
    pds.get(f"{XRPC}/app.bsky.feed.searchPosts").mock(return_value=ok([good, bad, "junk", {"uri": 5}]))
    pages = list(collector.fetch(config(), None))
    assert [p.global_key for p in pages[0].posts] == [good["uri"]]
    assert collector.skipped_items == 3


def test_get_posts_batches_of_25(pds, collector):
    from collectors.base import PostRef

    route = pds.get(f"{XRPC}/app.bsky.feed.getPosts").mock(
        return_value=httpx.Response(200, json={"posts": []})
    )
    refs = [PostRef(f"at://did:plc:a/app.bsky.feed.post/3k{i:011d}", "", None) for i in range(60)]
    results = list(collector.recheck(config(), refs))
    assert route.call_count == 3
    assert [len(c.request.url.params.get_list("uris")) for c in route.calls] == [25, 25, 10]
    assert all(r.post is None and not r.gone for r in results)
    assert sum(r.requests for r in results) == 4  # createSession + 3 getPosts
