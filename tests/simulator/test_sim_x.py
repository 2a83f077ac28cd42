"""The X simulator: auth, search paging, lookup, engagement, faults, truth."""

from __future__ import annotations

import httpx
import pytest

from simulator.app import Simulator
from simulator.core import Faults
from simulator.x import XSim

AUTH = {"Authorization": "Bearer sim-x-token"}


@pytest.fixture
def served():
    def build(faults: Faults | None = None, **options):
        sim = XSim(**options)
        simulator = Simulator()
        simulator.add("/x", sim, faults)
        handle = simulator.serve().start()
        handles.append(handle)
        clients.append(httpx.Client(base_url=f"{handle.url}/x", headers=AUTH))
        return sim, clients[-1]

    handles: list = []
    clients: list[httpx.Client] = []
    yield build
    for client in clients:
        client.close()
    for handle in handles:
        handle.stop()


def search(client, **params):
    params.setdefault("query", "#iucncec -is:retweet")
    return client.get("/2/tweets/search/recent", params=params)


def test_bearer_token_required(served) -> None:
    sim, client = served(posts=20)
    response = client.get(
        "/2/tweets/search/recent", params={"query": "#iucncec"}, headers={"Authorization": "Bearer nope"}
    )
    assert response.status_code == 401


def test_search_pages_newest_first_and_matches_truth(served) -> None:
    sim, client = served(seed=1, posts=300)
    ids: list[int] = []
    token = None
    while True:
        params = {"max_results": 25, "tweet.fields": "created_at,entities", "expansions": "author_id"}
        if token:
            params["next_token"] = token
        body = search(client, **params).json()
        page = [int(t["id"]) for t in body.get("data", [])]
        assert page == sorted(page, reverse=True)
        assert {u["id"] for u in body.get("includes", {}).get("users", [])} == {
            t["author_id"] for t in body.get("data", [])
        }
        if page:
            assert body["meta"]["newest_id"] == str(page[0])
        ids += page
        token = body["meta"].get("next_token")
        if not token:
            break
    assert ids == sorted(ids, reverse=True)
    assert {str(i) for i in ids} == sim.truth()


def test_since_and_until(served) -> None:
    sim, client = served(seed=1, posts=200)
    ids = [int(t["id"]) for t in search(client, max_results=100).json()["data"]]
    middle = ids[len(ids) // 2]
    newer = [int(t["id"]) for t in search(client, max_results=100, since_id=middle).json()["data"]]
    older = [int(t["id"]) for t in search(client, max_results=100, until_id=middle).json()["data"]]
    assert newer == [i for i in ids if i > middle]
    assert older == [i for i in ids if i < middle]


@pytest.mark.parametrize(
    "params", [{"max_results": 5}, {"max_results": 101}, {"query": ""}, {"next_token": "!!"}]
)
def test_invalid_requests(served, params) -> None:
    sim, client = served(posts=10)
    response = search(client, **params)
    assert response.status_code == 400
    assert response.json()["title"] == "Invalid Request"


def test_retweets_are_filtered_by_the_operator(served) -> None:
    sim, client = served(seed=2, posts=300)
    with_rts = search(
        client, query="#iucncec", max_results=100, **{"tweet.fields": "referenced_tweets"}
    ).json()["data"]
    kinds = {r["type"] for t in with_rts for r in t.get("referenced_tweets", [])}
    assert "retweeted" in kinds
    without = search(client, max_results=100, **{"tweet.fields": "referenced_tweets"}).json()["data"]
    assert all(r["type"] != "retweeted" for t in without for r in t.get("referenced_tweets", []))


def test_lookup_reports_deleted_tweets(served) -> None:
    sim, client = served(seed=3, posts=50)
    a, b = list(sim.tweets)[:2]
    sim.delete_tweet(b)
    body = client.get("/2/tweets", params={"ids": f"{a},{b},123"}).json()
    assert [t["id"] for t in body["data"]] == [str(a)]
    assert {e["value"] for e in body["errors"]} == {str(b), "123"}
    assert client.get("/2/tweets", params={"ids": ",".join(["1"] * 101)}).status_code == 400


def test_engagement_endpoints_page(served) -> None:
    sim, client = served(seed=4, posts=30)
    tweet = next(iter(sim.tweets.values()))
    for i in range(150):
        sim.like(tweet.id, str(80_000_000 + i))
    first = client.get(f"/2/tweets/{tweet.id}/liking_users").json()
    second = client.get(
        f"/2/tweets/{tweet.id}/liking_users", params={"pagination_token": first["meta"]["next_token"]}
    ).json()
    assert len(first["data"]) + len(second["data"]) == len(tweet.likers)
    assert client.get(f"/2/tweets/{tweet.id}/retweeted_by").status_code == 200


def test_rate_limit_headers_and_429(served) -> None:
    sim, client = served(Faults(rate_limit=2, rate_window_s=60), posts=10)
    first = search(client)
    assert first.headers["x-rate-limit-remaining"] == "1"
    assert int(first.headers["x-rate-limit-reset"]) > 1_700_000_000
    search(client)
    assert search(client).status_code == 429


def test_duplicate_fault_repeats_previous_items(served) -> None:
    sim, client = served(Faults(duplicate=1.0), seed=5, posts=200)
    first = search(client, max_results=10).json()
    second = search(client, max_results=10, next_token=first["meta"]["next_token"]).json()
    assert {t["id"] for t in first["data"]} & {t["id"] for t in second["data"]}


def test_tick_adds_tweets_deterministically() -> None:
    one, two = XSim(seed=6, posts=10), XSim(seed=6, posts=10)
    one.tick(300)
    two.tick(300)
    assert len(one.tweets) == 20
    assert [t.text for t in one.tweets.values()] == [t.text for t in two.tweets.values()]
