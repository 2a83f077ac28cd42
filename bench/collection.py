"""Collection: requests per new post and 429s against a simulator that enforces its rate limit, and the
peak memory of collecting a large backlog vs a small one.

The simulator (one Mastodon server holding every post of its pool; one Bluesky PDS) runs in this
process on loopback; each collection runs in a subprocess (``python -m bench.collection collect``)
on its own SQLite database, so its peak RSS (VmHWM) is the collector's alone. The enforced limit keeps
Mastodon's published shape (300 requests per window) with the window compressed so that a
100k-post backlog finishes in minutes; the collector reads the same headers either way.

Bluesky's search cannot OR two tags (the AppView's search service makes every ``#tag`` of ``q`` and
every ``tag`` parameter a filter the post must pass: AND), so a source following several tags runs
one search per tag and a post carrying two of them is fetched by both. Besides the issue's bound
(⌈N/100⌉ + 1 for N new posts) the figures therefore hold what that API allows at best,
``bluesky_floor`` = Σ over the tags of ⌈N_tag/100⌉ (N_tag: the new posts carrying the tag) + 1 (the
session), and the new posts per tag.
"""

from __future__ import annotations

import argparse
import math
import tempfile
from pathlib import Path
from typing import Any

from sqlmodel import Session, select

from app.core import migrate
from app.core.db import make_engine
from app.ingest import service
from app.ingest.models import Post
from bench.common import emit, median, peak_rss_kib, run_worker
from collectors.bluesky.mapping import normalise_tag
from simulator.app import Simulator
from simulator.bluesky import BlueskySim
from simulator.core import Faults
from simulator.mastodon import MastodonFederation, MastodonSim
from simulator.world import people

PAGE_SIZE = {"mastodon": 40, "bluesky": 100}
APP_PASSWORD = "bench-app-password"
TAGS = ["iucncec", "NatureForAll"]


def collect(sim_url: str, platform: str, database_url: str) -> dict[str, Any]:
    """Collect one source until a pass brings nothing new; report requests, posts and peak memory."""
    engine = make_engine(database_url)
    migrate.upgrade(engine)
    with Session(engine) as session:
        if platform == "mastodon":
            source = service.add_source(
                session=session,
                platform="mastodon",
                url=sim_url,
                tags=TAGS,
                trusted=True,
            )
        else:
            source = service.add_source(
                session=session,
                platform="bluesky",
                url=sim_url,
                tags=TAGS,
                handle=people(0)[0].bluesky_handle,
                token_env="BIE_BENCH_BLUESKY_PASSWORD",
                trusted=True,
            )
        session.commit()
        assert source.id is not None
        source_id = source.id
    # the first pass collects the backlog; a second one must find nothing new
    first = service.collect_source(engine=engine, source_id=source_id, force=True)
    second = service.collect_source(engine=engine, source_id=source_id, force=True)
    peak = peak_rss_kib()  # the collection's own peak, before the counting below
    followed = [normalise_tag(tag) for tag in TAGS]
    per_tag = dict.fromkeys(followed, 0)
    with Session(engine) as session:
        for tags in session.exec(select(Post.tags).execution_options(yield_per=2_000)):
            for tag in {normalise_tag(t) for t in tags} & set(followed):
                per_tag[tag] += 1
    engine.dispose()
    return {
        "new_per_tag": per_tag,
        "requests": first.requests,
        "new": first.new,
        "second_pass_requests": second.requests,
        "second_pass_new": second.new,
        "statuses": [first.status, second.status],
        "peak_rss_kib": peak,
    }


def _simulator(platform: str, posts: int, faults: Faults) -> tuple[Simulator, str]:
    simulator = Simulator()
    if platform == "mastodon":
        pool = MastodonFederation(seed=0, posts=posts, servers={"social1": "social1.example"})
        simulator.add(
            "/mastodon/social1",
            MastodonSim(name="social1", domain="social1.example", shared_pool=pool),
            faults,
        )
        return simulator, "/mastodon/social1"
    simulator.add("/bluesky", BlueskySim(seed=0, posts=posts, app_password=APP_PASSWORD), faults)
    return simulator, "/bluesky/xrpc"


def measure(platform: str, posts: int, *, rate_limit: int, window_s: float) -> dict[str, Any]:
    """One collection of a ``posts`` backlog in a subprocess against an enforcing simulator."""
    faults = Faults(rate_limit=rate_limit, rate_window_s=window_s)
    simulator, path = _simulator(platform, posts, faults)
    handle = simulator.serve().start()
    try:
        with tempfile.TemporaryDirectory(prefix="bie-bench-collect-") as tmp:
            result: dict[str, Any] = run_worker(
                "bench.collection",
                "collect",
                "--sim-url",
                handle.url + path,
                "--platform",
                platform,
                "--database",
                f"sqlite:///{Path(tmp) / 'collect.db'}",
                env={"BIE_BENCH_BLUESKY_PASSWORD": APP_PASSWORD},
            )
    finally:
        handle.stop()
    stats = simulator.stats()
    result["server_requests"] = sum(s["requests"] for s in stats.values())
    result["limit_429"] = sum(s["limit_429"] for s in stats.values())
    result["bound"] = math.ceil(result["new"] / PAGE_SIZE[platform]) + 1
    per_tag = result["new_per_tag"].values()
    result["floor"] = sum(math.ceil(n / PAGE_SIZE[platform]) for n in per_tag) + 1
    return result


def run(*, small: int, large: int, requests_posts: int, repeats: int, window_s: float) -> dict[str, Any]:
    """Requests per new post on both platforms; peak memory of the large vs the small backlog."""
    figures: dict[str, Any] = {}
    for platform in ("mastodon", "bluesky"):
        measured = measure(platform, requests_posts, rate_limit=300, window_s=window_s)
        figures[f"{platform}_new"] = measured["new"]
        figures[f"{platform}_requests"] = measured["requests"]
        figures[f"{platform}_server_requests"] = measured["server_requests"]
        figures[f"{platform}_second_pass"] = (measured["second_pass_requests"], measured["second_pass_new"])
        figures[f"{platform}_bound"] = measured["bound"]
        figures[f"{platform}_new_per_tag"] = measured["new_per_tag"]
        figures[f"{platform}_floor"] = measured["floor"]
        figures[f"{platform}_limit_429"] = measured["limit_429"]
    small_rss: list[float] = []
    large_rss: list[float] = []
    limit_429 = 0
    for _ in range(repeats):
        for posts, into in ((small, small_rss), (large, large_rss)):
            measured = measure("mastodon", posts, rate_limit=300, window_s=window_s)
            into.append(measured["peak_rss_kib"])
            limit_429 += measured["limit_429"]
            figures[f"backlog_{posts}_new"] = measured["new"]
    figures.update(
        small_backlog=small,
        large_backlog=large,
        small_rss_kib=median(small_rss),
        large_rss_kib=median(large_rss),
        backlog_limit_429=limit_429,
        window_s=window_s,
        repeats=repeats,
    )
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.collection", description=__doc__)
    parser.add_argument("task", choices=("collect",))
    parser.add_argument("--sim-url", required=True)
    parser.add_argument("--platform", choices=sorted(PAGE_SIZE), required=True)
    parser.add_argument("--database", required=True)
    args = parser.parse_args(argv)
    emit(collect(args.sim_url, args.platform, args.database))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
