"""The simulated Mastodon servers speak the API subset the way Mastodon does."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from simulator.app import Simulator
from simulator.core import Faults
from simulator.mastodon import MastodonFederation, MastodonSim


class Servers:
    def __init__(
        self, url: str, pool: MastodonFederation, sims: dict[str, MastodonSim], sim: Simulator
    ) -> None:
        self.url, self.pool, self.sims, self.sim = url, pool, sims, sim
        self.http = requests.Session()

    def get(self, name: str, path: str, **params):
        return self.http.get(f"{self.url}/mastodon/{name}{path}", params=params, timeout=5)

    def feed(self, name: str, tag: str = "iucncec", **params) -> list[dict]:
        response = self.get(name, f"/api/v1/timelines/tag/{tag}", **params)
        assert response.status_code == 200
        return response.json()


@pytest.fixture
def servers() -> Iterator[Servers]:
    pool = MastodonFederation(seed=3, posts=400)
    sims = {
        "social1": MastodonSim("social1", shared_pool=pool),
        "social2": MastodonSim("social2", shared_pool=pool, require_token=True),
        "social3": MastodonSim("social3", shared_pool=pool, string_ids=True),
    }
    sim = Simulator()
    for name, server in sims.items():
        sim.add(
            f"/mastodon/{name}", server, Faults(duplicate=1.0, shuffle=1.0) if name == "social3" else None
        )
    with sim.serve() as handle:
        servers = Servers(handle.url, pool, sims, sim)
        yield servers
        servers.http.close()


def test_federated_posts_share_the_uri_but_not_the_id(servers):
    shared = [
        p
        for p in servers.pool.posts
        if {"social1", "social3"} <= p.servers and not p.deleted and p.visibility == "public"
    ]
    assert shared
    for post in shared[:20]:
        uri = servers.pool.uri(post)
        one, three = servers.sims["social1"].local_id(uri), servers.sims["social3"].local_id(uri)
        assert one
        assert three
        assert one != three
        assert one.isdigit()
        assert not three.isdigit()
        assert len(three) == 15
        body = servers.get("social3", f"/api/v1/statuses/{three}").json()
        assert body["uri"] == uri
        assert body["id"] == three
    posts_on = [len([p for p in servers.pool.posts if name in p.servers]) for name in servers.sims]
    assert all(0 < n < len(servers.pool.posts) for n in posts_on)


def test_tag_feed_is_newest_first_with_a_link_that_drops_any(servers):
    response = servers.get("social1", "/api/v1/timelines/tag/IUCNcec", limit=5, **{"any[]": "natureforall"})
    statuses = response.json()
    assert len(statuses) == 5
    ids = [int(s["id"]) for s in statuses]  # the server's ids here are numeric: check its order
    assert ids == sorted(ids, reverse=True)
    links = response.links
    next_query = parse_qs(urlsplit(links["next"]["url"]).query)
    prev_query = parse_qs(urlsplit(links["prev"]["url"]).query)
    assert next_query == {"limit": ["5"], "max_id": [statuses[-1]["id"]]}
    assert prev_query == {"limit": ["5"], "min_id": [statuses[0]["id"]]}
    assert links["next"]["url"].startswith(f"{servers.url}/mastodon/social1/api/v1/timelines/")
    for status in statuses:
        names = {t["name"] for t in status["tags"]}
        assert names & {"iucncec", "natureforall"}
        assert all(name == name.lower() for name in names)
        assert status["visibility"] == "public"
        assert status["reblog"] is None


def test_paging_parameters(servers):
    everything = servers.feed("social1", limit=40)
    assert len(everything) == 40
    assert len(servers.feed("social1", limit=100)) == 40  # capped
    assert len(servers.feed("social1")) == 20  # default
    newest, fifth = everything[0]["id"], everything[4]["id"]
    older = servers.feed("social1", limit=3, max_id=fifth)
    assert [s["id"] for s in older] == [s["id"] for s in everything[5:8]]
    just_above = servers.feed("social1", limit=2, min_id=fifth)  # adjacent to min_id
    assert [s["id"] for s in just_above] == [s["id"] for s in everything[2:4]]
    newest_above = servers.feed("social1", limit=2, since_id=fifth)  # the newest ones
    assert [s["id"] for s in newest_above] == [s["id"] for s in everything[0:2]]
    assert servers.feed("social1", min_id=newest) == []
    assert servers.get("social1", "/api/v1/timelines/tag/iucncec", max_id="zz").status_code == 422


def test_all_none_and_local_filters(servers):
    both = servers.feed("social1", limit=40, **{"all[]": "natureforall"})
    assert both
    assert all({"iucncec", "natureforall"} <= {t["name"] for t in s["tags"]} for s in both)
    without = servers.feed("social1", limit=40, **{"none[]": "natureforall"})
    assert without
    assert all("natureforall" not in {t["name"] for t in s["tags"]} for s in without)
    local = servers.feed("social1", limit=40, local="true")
    assert local
    assert all("@" not in s["account"]["acct"] for s in local)


def test_token_required_tag_feed_and_instance_configuration(servers):
    assert servers.get("social2", "/api/v1/timelines/tag/iucncec").status_code == 401
    access = servers.get("social2", "/api/v2/instance").json()["configuration"]["timelines_access"][
        "hashtag_feeds"
    ]
    assert access == {"local": "authenticated", "remote": "authenticated"}
    authorised = servers.http.get(
        f"{servers.url}/mastodon/social2/api/v1/timelines/tag/iucncec",
        headers={"Authorization": "Bearer abc"},
        timeout=5,
    )
    assert authorised.status_code == 200
    assert authorised.json()
    open_access = servers.get("social1", "/api/v2/instance").json()["configuration"]
    assert open_access["timelines_access"]["hashtag_feeds"]["local"] == "public"


def test_status_html_has_mixed_case_hashtags_and_remote_accts(servers):
    statuses = servers.feed("social1", limit=40) + servers.feed("social1", limit=40, tag="natureforall")
    html = " ".join(s["content"] for s in statuses)
    assert (
        'class="mention hashtag" rel="tag">#<span>NatureForAll</span></a>' in html
        or "#<span>IUCNcec</span>" in html
        or "#<span>NATUREFORALL</span>" in html
    )
    accts = {s["account"]["acct"] for s in statuses}
    assert any("@" in a for a in accts)
    assert any("@" not in a for a in accts)


def test_delete_edit_and_truth(servers):
    social1 = servers.sims["social1"]
    status = servers.feed("social1", limit=1)[0]
    uri = status["uri"]
    assert uri in social1.truth()
    assert uri in servers.sim.truth()
    social1.edit(uri, new_text="Rewritten without any programme tag")
    body = servers.get("social1", f"/api/v1/statuses/{status['id']}").json()
    assert body["edited_at"]
    assert body["tags"] == []
    assert uri not in social1.truth()
    social1.edit(uri, new_text="Back with #IUCNcec")
    assert uri in social1.truth()
    assert servers.feed("social1", limit=1)[0]["uri"] == uri
    social1.delete(uri)
    assert servers.get("social1", f"/api/v1/statuses/{status['id']}").status_code == 404
    assert uri not in servers.sim.truth()
    assert uri not in {s["uri"] for s in servers.feed("social1", limit=40)}


def test_truth_leaves_out_boosts_private_and_untagged(servers):
    truth = servers.sim.truth()
    by_uri = servers.pool.by_uri
    assert truth
    for uri in truth:
        post = by_uri[uri]
        assert not post.is_boost
        assert not post.deleted
        assert post.visibility == "public"
        assert post.tag_set() & {"iucncec", "natureforall"}
    kinds = {
        "boost": any(p.is_boost for p in servers.pool.posts),
        "private": any(p.visibility != "public" for p in servers.pool.posts),
        "deleted": any(p.deleted for p in servers.pool.posts),
        "edited": any(p.edited_at for p in servers.pool.posts),
        "reply": any(p.reply_to for p in servers.pool.posts),
        "quote": any(p.quote_of for p in servers.pool.posts),
        "media": any(p.media for p in servers.pool.posts),
        "noise": any(not p.tags and not p.is_boost for p in servers.pool.posts),
    }
    assert all(kinds.values()), kinds


def test_batch_statuses_engagement_lookup_and_search(servers):
    statuses = servers.feed("social1", limit=3)
    ids = [s["id"] for s in statuses]
    batch = servers.get("social1", "/api/v1/statuses", **{"id[]": [*ids, "999"]}).json()
    assert [s["id"] for s in batch] == ids
    liked = servers.get("social1", f"/api/v1/statuses/{ids[0]}/favourited_by").json()
    assert len(liked) == statuses[0]["favourites_count"]
    boosted = servers.get("social1", f"/api/v1/statuses/{ids[0]}/reblogged_by").json()
    assert len(boosted) == statuses[0]["reblogs_count"]
    acct = statuses[0]["account"]["acct"]
    assert servers.get("social1", "/api/v1/accounts/lookup", acct=acct).json()["acct"] == acct
    found = servers.get("social1", "/api/v2/search", q=statuses[0]["url"]).json()["statuses"]
    assert [s["uri"] for s in found] == [statuses[0]["uri"]]


def test_tick_grows_engagement_once_per_pool_and_adds_posts(servers):
    before = len(servers.pool.posts)
    likes = sum(len(p.liked_by) for p in servers.pool.posts)
    servers.sim.tick(300)  # three servers relay the same tick: time passes once
    assert len(servers.pool.posts) == before + 10
    assert sum(len(p.liked_by) for p in servers.pool.posts) > likes
    servers.sim.tick(300)
    assert len(servers.pool.posts) == before + 20


def test_item_faults_shuffle_and_repeat(servers):
    clean = servers.feed("social1", limit=10)
    first = servers.feed("social3", limit=10)
    ids = [s["id"] for s in first]
    assert ids != sorted(ids, reverse=True)  # shuffled (the letter ids sort like the server)
    second = servers.feed("social3", limit=10, max_id=min(ids))
    repeated = {s["id"] for s in second} & set(ids)
    assert repeated
    assert len(second) > len(repeated)
    assert len(clean) == 10


def test_a_lone_server_holds_every_post():
    server = MastodonSim("solo", posts=50, seed=1)
    assert len(server.view.posts) == 50
    assert server.truth()
    with pytest.raises(ValueError, match="not part of this federation"):
        MastodonSim("elsewhere", shared_pool=server.pool)
