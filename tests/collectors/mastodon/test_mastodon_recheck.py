"""Re-checks (edits, deletions), engagement lists and look-ups by URL, over loopback."""

from __future__ import annotations

import pytest

from collectors.base import PostRef, SourceBlocked
from collectors.mastodon.client import PostNotFound


def collected(collector, config):
    return {post.global_key: post for page in collector.fetch(config, None) for post in page.posts}


@pytest.mark.parametrize("name", ["social1", "social3"])
def test_recheck_sees_deletions_edits_and_fresh_counts(federation, collector, name):
    server = federation.servers[name]
    config = federation.config(name)
    posts = collected(collector, config)
    deleted, edited, *others = sorted(posts)[:25]
    tag = next(t for t in posts[edited].tags if t.lower() in ("iucncec", "natureforall"))
    server.delete(deleted)
    server.edit(edited, remove_tag=tag)
    federation.pool.tick("test", 600)  # engagement grows
    refs = [PostRef(key, posts[key].local_id, posts[key].url) for key in [deleted, edited, *others]]

    results = {r.ref.global_key: r for r in collector.recheck(config, refs)}

    assert results.keys() == set(refs_keys(refs))
    assert results[deleted].gone
    assert results[deleted].post is None
    fresh = results[edited].post
    assert fresh is not None
    assert not results[edited].gone
    assert tag.lower() not in {t.lower() for t in fresh.tags}
    assert f"#{tag}" not in fresh.text
    assert fresh.edited_at is not None
    assert fresh.version != posts[edited].version
    still_followed = {t.lower() for t in fresh.tags} & {"iucncec", "natureforall"}
    assert (edited in server.truth()) == bool(still_followed)
    assert all(results[k].post is not None for k in others)
    assert any(results[k].post.likes > posts[k].likes for k in others)
    # one batched request for 25 ids is at most 2 batches + 1 confirmation of the deleted one
    assert sum(r.requests for r in results.values()) <= 3


def refs_keys(refs):
    return [ref.global_key for ref in refs]


def test_recheck_one_by_one_and_without_a_local_id(federation, collector):
    server = federation.servers["social2"]
    config = federation.config("social2")
    posts = collected(collector, config)
    key = next(iter(posts))
    (by_id,) = collector.recheck(config, [PostRef(key, posts[key].local_id, None)])
    (by_url,) = collector.recheck(config, [PostRef(key, "", posts[key].url)])
    assert by_id.post == by_url.post
    assert by_id.post is not None
    server.delete(key)
    (gone,) = collector.recheck(config, [PostRef(key, "", posts[key].url)])
    assert gone.gone


def test_engagement_names_the_accounts(federation, collector):
    config = federation.config("social1")
    posts = collected(collector, config)
    pool = federation.pool
    key = max(posts, key=lambda k: posts[k].likes)
    sim_post = pool.by_uri[key]
    refs = [PostRef(key, posts[key].local_id, posts[key].url)]
    (engagement,) = collector.fetch_engagement(config, refs)
    expected_likes = {f"mastodon:{a.username}@{pool.domains[a.home]}" for a in sim_post.liked_by}
    assert set(engagement.liked_by) == expected_likes
    assert expected_likes
    assert len(engagement.reposted_by) == len(sim_post.boosted_by)
    federation.servers["social1"].delete(key)
    assert list(collector.fetch_engagement(config, refs)) == []


def test_engagement_follows_pagination(serve, collector):
    fed = serve(posts=0, names=("social1",), string_ids=())
    server = fed.servers["social1"]
    uri = server.add_post(text="Popular #iucncec")
    post = fed.pool.by_uri[uri]
    post.liked_by = (fed.pool.people + fed.pool.fans) * 2  # 200 likes: 3 pages of 80
    ref = PostRef(uri, server.local_id(uri) or "", None)
    (engagement,) = collector.fetch_engagement(fed.config("social1"), [ref])
    assert len(engagement.liked_by) == len(fed.pool.people) + len(fed.pool.fans)
    assert (
        fed.stats("social1")["paths"][f"/mastodon/social1/api/v1/statuses/{ref.local_id}/favourited_by"] == 3
    )


def test_fetch_url_finds_local_and_federated_statuses(federation, collector):
    pool = federation.pool
    social2 = federation.servers["social2"]
    config = federation.config("social2")
    local = next(
        p
        for p in pool.posts
        if "social2" in p.servers
        and p.author.home == "social2"
        and not p.is_boost
        and not p.deleted
        and p.visibility == "public"
    )
    remote = next(
        p
        for p in pool.posts
        if "social2" in p.servers
        and p.author.home != "social2"
        and not p.is_boost
        and not p.deleted
        and p.visibility == "public"
    )
    for post in (local, remote):
        url = social2.status_url(pool.uri(post))
        assert url is not None
        fetched = collector.fetch_url(config, url)
        assert fetched.global_key == pool.uri(post)
        assert fetched.local_id == social2.local_id(pool.uri(post))
    with pytest.raises(PostNotFound):
        collector.fetch_url(config, "https://social2.example/@nobody/123")
    social2.delete(pool.uri(local))
    with pytest.raises(PostNotFound):
        collector.fetch_url(config, social2.status_url(pool.uri(local)))


def test_recheck_on_a_token_server_without_token_is_blocked(serve, collector):
    fed = serve(posts=20, names=("social1",), string_ids=(), social1={"require_token": True})
    pages = list(collector.fetch(fed.config("social1", token="anything"), None))
    post = next(p for page in pages for p in page.posts)
    (result,) = collector.recheck(fed.config("social1"), [PostRef(post.global_key, post.local_id, post.url)])
    assert result.post is not None  # statuses stay public; only the tag feed wants a token
    with pytest.raises(SourceBlocked):
        list(collector.fetch(fed.config("social1"), None))


def test_an_unreadable_status_on_recheck_is_left_out_not_reported_missing(federation, collector, monkeypatch):
    server = federation.servers["social1"]
    config = federation.config("social1")
    posts = collected(collector, config)
    broken, fine = sorted(posts)[:2]
    render = server._render

    def garbled(post, nested=False):
        status = render(post, nested)
        if status["uri"] == broken:
            status["created_at"] = "the day before yesterday"
        return status

    monkeypatch.setattr(server, "_render", garbled)
    refs = [PostRef(key, posts[key].local_id, None) for key in (broken, fine)]
    results = list(collector.recheck(config, refs))
    assert [r.ref.global_key for r in results] == [fine]
    assert results[0].post is not None
    assert collector.skipped_items == 1
