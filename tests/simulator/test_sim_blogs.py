"""The blog simulator: feeds, conditional GET, pages, deletions, truth."""

from __future__ import annotations

import feedparser
import httpx
import pytest

from simulator.app import Simulator
from simulator.blogs import BlogSim
from simulator.core import Faults


@pytest.fixture
def served():
    def build(faults: Faults | None = None, **options):
        sim = BlogSim(**options)
        simulator = Simulator()
        simulator.add("/blogs", sim, faults)
        handle = simulator.serve().start()
        handles.append(handle)
        clients.append(httpx.Client(base_url=f"{handle.url}/blogs"))
        return sim, clients[-1]

    handles: list = []
    clients: list[httpx.Client] = []
    yield build
    for client in clients:
        client.close()
    for handle in handles:
        handle.stop()


def test_every_feed_parses_and_is_limited(served) -> None:
    sim, client = served(seed=1, sites=2, articles=60, feed_size=7)
    for path in sim.feed_paths():
        response = client.get(path)
        assert response.status_code == 200, path
        parsed = feedparser.parse(response.content)
        assert not parsed.bozo, path
        assert parsed.version in ("rss20", "atom10"), path
        assert 0 < len(parsed.entries) <= 7, path


def test_tag_feeds_match_case_insensitively(served) -> None:
    sim, client = served(seed=1, sites=1, articles=40, feed_size=50)
    parsed = feedparser.parse(client.get("/mangrove-notes/tag/IUCNCEC/feed/").content)
    assert parsed.entries
    for entry in parsed.entries:
        assert "iucncec" in {t.term.casefold() for t in entry.tags}


def test_conditional_get(served) -> None:
    sim, client = served(seed=1, sites=1, articles=10)
    first = client.get("/mangrove-notes/atom.xml")
    etag, last_modified = first.headers["etag"], first.headers["last-modified"]
    assert client.get("/mangrove-notes/atom.xml", headers={"If-None-Match": etag}).status_code == 304
    assert (
        client.get("/mangrove-notes/atom.xml", headers={"If-Modified-Since": last_modified}).status_code
        == 304
    )
    sim.add_article(site="mangrove-notes")
    assert client.get("/mangrove-notes/atom.xml", headers={"If-None-Match": etag}).status_code == 200


def test_entries_with_and_without_ids_and_tracking_links(served) -> None:
    sim, client = served(seed=1, sites=1, articles=30, feed_size=30)
    parsed = feedparser.parse(client.get("/mangrove-notes/feed/").content, sanitize_html=False)
    assert any("id" in e for e in parsed.entries)
    assert any("id" not in e for e in parsed.entries)
    assert all("utm_source=rss" in e.link for e in parsed.entries)
    assert any("<script>" in e.content[0].value for e in parsed.entries)


def test_article_pages_redirects_and_deletions(served) -> None:
    sim, client = served(seed=1, sites=1, articles=5)
    article = sim.articles[2]
    page = client.get(article.path)
    assert page.status_code == 200
    assert 'property="article:tag"' in page.text
    redirect = client.get("/mangrove-notes/?p=2")
    assert redirect.status_code == 301
    assert redirect.headers["location"].endswith(article.path)
    sim.delete_article(2, status=410)
    assert client.get(article.path).status_code == 410
    sim.delete_article(3, status=404)
    assert client.get(sim.articles[3].path).status_code == 404
    assert client.get("/nope/feed/").status_code == 404


def test_truth_is_live_tagged_and_exposed(served) -> None:
    sim, client = served(seed=3, sites=1, articles=30, feed_size=3)
    client.get("/mangrove-notes/feed/")  # teaches the sim its address
    truth = sim.truth()
    assert truth
    exposed = set()
    for path in sim.feed_paths():
        for entry in feedparser.parse(client.get(path).content).entries:
            tags = {t.term.casefold() for t in entry.get("tags", [])}
            if tags & {"iucncec", "natureforall"}:
                exposed.add(entry.get("id") or entry.link.split("?")[0].rstrip("/"))
    assert exposed <= truth
    number = next(a.number for a in sim.articles.values() if sim.key_of(a) in truth)
    sim.delete_article(number)
    assert sim.key_of(sim.articles[number]) not in sim.truth()


def test_tick_publishes_and_is_deterministic() -> None:
    one, two = BlogSim(seed=9, articles=5), BlogSim(seed=9, articles=5)
    one.tick(3600)
    two.tick(3600)
    assert len(one.articles) == 11
    assert [a.title for a in one.articles.values()] == [a.title for a in two.articles.values()]


def test_malformed_fault_cuts_the_feed(served) -> None:
    sim, client = served(Faults(malformed=1.0), seed=1, sites=1, articles=10)
    assert feedparser.parse(client.get("/mangrove-notes/feed/").content).bozo


def test_shuffle_and_duplicate_faults(served) -> None:
    sim, client = served(Faults(duplicate=1.0, shuffle=1.0), seed=1, sites=1, articles=10)
    entries = feedparser.parse(client.get("/mangrove-notes/atom.xml").content).entries
    links = [e.link for e in entries]
    assert len(links) == len(set(links)) + 1
