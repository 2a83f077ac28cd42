"""The simulated Bluesky PDS/AppView, spoken to over loopback with plain httpx."""

from __future__ import annotations

import httpx
import pytest

from simulator.app import Simulator
from simulator.bluesky import BlueskySim
from simulator.core import Faults

PASSWORD = "app-pass-1234"


@pytest.fixture
def served():
    handles = []

    def serve(faults: Faults | None = None, **options):
        sim = BlueskySim(**options)
        simulator = Simulator()
        simulator.add("/bluesky", sim, faults)
        handle = simulator.serve().start()
        handles.append(handle)
        client = httpx.Client(base_url=f"{handle.url}/bluesky/xrpc", timeout=5)
        handles.append(client)
        return sim, client, handle.url

    yield serve
    for item in handles:
        item.close() if isinstance(item, httpx.Client) else item.stop()


def login(sim, client) -> dict:
    response = client.post(
        "/com.atproto.server.createSession",
        json={"identifier": sim.people[1].bluesky_handle, "password": PASSWORD},
    )
    assert response.status_code == 200
    return response.json()


def auth(session: dict) -> dict:
    return {"Authorization": f"Bearer {session['accessJwt']}"}


def search(client, session, **params):
    response = client.get("/app.bsky.feed.searchPosts", params=params, headers=auth(session))
    assert response.status_code == 200, response.text
    return response.json()


def test_session_names_this_server_as_the_pds(served):
    sim, client, url = served(posts=5)
    session = login(sim, client)
    assert session["did"] == sim.people[1].bluesky_did
    [service] = session["didDoc"]["service"]
    assert service["serviceEndpoint"] == f"{url}/bluesky"
    refreshed = client.post(
        "/com.atproto.server.refreshSession",
        headers={"Authorization": f"Bearer {session['refreshJwt']}"},
    )
    assert refreshed.status_code == 200
    assert refreshed.json()["accessJwt"] != session["accessJwt"]
    me = client.get("/com.atproto.server.getSession", headers=auth(refreshed.json()))
    assert me.json()["handle"] == sim.people[1].bluesky_handle


def test_wrong_password_and_anonymous_search(served):
    sim, client, _ = served(posts=5)
    wrong = client.post(
        "/com.atproto.server.createSession",
        json={"identifier": sim.people[1].bluesky_handle, "password": "nope"},
    )
    assert wrong.status_code == 401
    assert wrong.json()["error"] == "AuthenticationRequired"
    anonymous = client.get("/app.bsky.feed.searchPosts", params={"q": "#iucncec"})
    assert anonymous.status_code == 403
    bad_token = client.get(
        "/app.bsky.feed.searchPosts", params={"q": "x"}, headers={"Authorization": "Bearer x"}
    )
    assert bad_token.status_code == 401


def test_rate_limit_headers(served):
    sim, client, _ = served(posts=5, faults=Faults(rate_limit=50))
    response = client.get("/com.atproto.identity.resolveHandle", params={"handle": "x.test"})
    assert response.headers["ratelimit-limit"] == "50"
    assert response.headers["ratelimit-remaining"] == "49"
    assert int(response.headers["ratelimit-reset"]) > 0


def test_facets_are_utf8_byte_ranges(served):
    sim, client, _ = served(posts=300)
    session = login(sim, client)
    seen = 0
    for view in search(client, session, q="#iucncec", tag="iucncec", limit=100)["posts"]:
        data = view["record"]["text"].encode("utf-8")
        for facet in view["record"].get("facets", []):
            piece = data[facet["index"]["byteStart"] : facet["index"]["byteEnd"]].decode("utf-8")
            feature = facet["features"][0]
            if feature["$type"].endswith("#tag"):
                assert piece == "#" + feature["tag"]
            elif feature["$type"].endswith("#mention"):
                assert piece.startswith("@")
            seen += 1
        assert view["uri"].startswith(f"at://{view['author']['did']}/app.bsky.feed.post/")
    assert seen > 50


def test_search_honours_tags_and_windows_and_stops_at_the_cap(served):
    sim, client, _ = served(posts=600, cursor_cap=200)
    session = login(sim, client)
    first = search(client, session, q="#NatureForAll", tag="natureforall", limit=100)
    assert all("natureforall" in sim.post(v["uri"]).own_tags() for v in first["posts"])
    second = search(client, session, q="#NatureForAll", tag="natureforall", limit=100, cursor="100")
    assert "cursor" not in second  # 200 results reached: the cap
    refused = client.get(
        "/app.bsky.feed.searchPosts",
        params={"q": "#NatureForAll", "cursor": "200"},
        headers=auth(session),
    )
    assert refused.status_code == 400
    ordered = [v["uri"] for v in first["posts"] + second["posts"]]
    moments = [sim.post(u).sort_at for u in ordered]
    assert moments == sorted(moments, reverse=True)
    until = moments[50].isoformat()
    since = moments[80].isoformat()
    window = search(client, session, q="#NatureForAll", tag="natureforall", since=since, until=until)
    assert [v["uri"] for v in window["posts"]] == ordered[51:76]  # default limit 25, until exclusive


def test_ignore_tag_param_matches_text(served):
    sim, client, _ = served(posts=400, ignore_tag_param=True)
    session = login(sim, client)
    uris = {v["uri"] for v in search(client, session, q="#iucncec", tag="iucncec", limit=100)["posts"]}
    assert any("iucncec" not in sim.post(u).own_tags() for u in uris)  # decoys come back


def test_get_posts_omits_missing_and_limits_to_25(served):
    sim, client, _ = served(posts=40)
    posts = sim.live_posts()[:3]
    sim.delete(posts[1].uri)
    uris = [p.uri for p in posts] + ["at://did:plc:none/app.bsky.feed.post/3kxxx"]
    found = client.get("/app.bsky.feed.getPosts", params={"uris": uris}).json()["posts"]
    assert [v["uri"] for v in found] == [posts[0].uri, posts[2].uri]
    too_many = client.get("/app.bsky.feed.getPosts", params={"uris": [posts[0].uri] * 26})
    assert too_many.status_code == 400


def test_edit_gives_a_new_cid_and_removes_the_tag(served):
    sim, client, _ = served(posts=60)
    post = next(p for p in sim.live_posts() if p.own_tags() == {"iucncec"})
    old = client.get("/app.bsky.feed.getPosts", params={"uris": [post.uri]}).json()["posts"][0]
    assert post.uri in sim.truth()
    sim.edit(post.uri, remove_tag="IUCNcec")
    new = client.get("/app.bsky.feed.getPosts", params={"uris": [post.uri]}).json()["posts"][0]
    assert new["uri"] == old["uri"]
    assert new["cid"] != old["cid"]
    tags = [f["features"][0].get("tag", "").casefold() for f in new["record"].get("facets", [])]
    assert "iucncec" not in tags
    assert "iucncec" not in [t.casefold() for t in new["record"].get("tags", [])]
    assert post.uri not in sim.truth()


def test_truth_is_live_posts_with_own_followed_tags(served):
    sim, _, _ = served(posts=400)
    truth = sim.truth()
    live = sim.live_posts()
    assert 0 < len(truth) < len(live)
    assert any(p.record_tags and p.uri in truth for p in live)  # tag only in record.tags
    post = next(iter(truth))
    sim.delete(post)
    assert post not in sim.truth()


def test_tick_adds_posts_and_grows_engagement(served):
    sim, client, _ = served(posts=50)
    before = len(sim.live_posts())
    likes = sum(len(p.likes) for p in sim.live_posts())
    sim.tick(600)
    assert len(sim.live_posts()) > before
    assert sum(len(p.likes) for p in sim.live_posts()) > likes
    post = max(sim.live_posts(), key=lambda p: len(p.likes))
    got = client.get("/app.bsky.feed.getLikes", params={"uri": post.uri, "limit": 5}).json()
    assert len(got["likes"]) == min(5, len(post.likes))
    assert got["likes"][0]["actor"]["did"] == post.likes[0]


def test_item_faults_duplicate_and_shuffle(served):
    sim, client, _ = served(posts=300, faults=Faults(duplicate=1.0, shuffle=1.0, seed=3))
    session = login(sim, client)
    first = search(client, session, q="#iucncec", tag="iucncec", limit=20)
    second = search(client, session, q="#iucncec", tag="iucncec", limit=20, cursor=first["cursor"])
    repeated = {v["uri"] for v in first["posts"]} & {v["uri"] for v in second["posts"]}
    assert repeated
    moments = [sim.post(v["uri"]).sort_at for v in second["posts"]]
    assert moments != sorted(moments, reverse=True)
