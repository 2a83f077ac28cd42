"""Ingest: raw API pages -> ``map_item`` -> ``upsert_posts`` (one transaction per page, as a collection
run writes them) vs a bare ``executemany`` INSERT of the same rows, page by page, on the same database.

The same rows are the rows ingest stores: an untimed ingest run on a copy of the template, read back
(every inserted column, the linked account and reporter included) and grouped by the page that first
carried each post.

The pages are fetched once, untimed, from the simulator over loopback by each platform's collector
(Mastodon on three federating servers, Bluesky, blog feeds, X), and kept as the raw items the
collectors map. Every timed run starts from a fresh copy of one template database that holds the
sources and the simulated reporters' verified accounts, so account matching and dirty marking work
as in production. posts/s counts the distinct posts stored.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select
from sqlmodel import Session

from app.core.db import table, writing
from app.ingest.driver import INSERT_COLUMNS
from app.ingest.models import Post, Source
from app.ingest.repository import upsert_posts
from app.reporters.models import Account, Reporter
from bench.common import BenchDatabase, copies_of, median, timed
from collectors.base import CollectedPost, Platform, SourceConfig
from collectors.registry import collector_for
from simulator.core import Faults
from simulator.scenarios import build_scenario

POSTS = table(Post)


@dataclass(frozen=True)
class IngestSize:
    mastodon: int
    bluesky: int
    x: int
    blog_articles: int


SIZES = {
    "tiny": IngestSize(mastodon=120, bluesky=80, x=40, blog_articles=10),
    "small": IngestSize(mastodon=4_000, bluesky=2_000, x=1_000, blog_articles=60),
    "full": IngestSize(mastodon=20_000, bluesky=10_000, x=5_000, blog_articles=200),
}


@dataclass
class RawPage:
    source_url: str
    platform: Platform
    items: list[dict[str, Any]]


def fetch_pages(size: IngestSize, *, seed: int = 0) -> tuple[list[RawPage], dict[str, list[str]]]:
    """Fetch every page of the simulated world once; return the raw pages and each person's accounts."""
    unlimited = Faults(rate_limit=1_000_000)
    scenario = build_scenario(
        seed=seed,
        mastodon_posts=size.mastodon,
        bluesky_posts=size.bluesky,
        x_posts=size.x,
        blog_articles=size.blog_articles,
        feed_size=100,
        faults=unlimited,
    )
    handle = scenario.simulator.serve().start()
    try:
        pages: list[RawPage] = []
        for spec in scenario.sources(handle.url):
            platform = Platform(spec.platform)
            config = SourceConfig(
                platform=platform,
                url=spec.url,
                tags=spec.tags,
                query=spec.query,
                handle=spec.handle,
                token=spec.token,
                trusted=True,
            )
            collector = collector_for(platform)
            for page in collector.fetch(config, None):
                pages.append(RawPage(spec.url, platform, [dict(post.raw) for post in page.posts]))
            close = getattr(collector, "close", None)
            if close is not None:
                close()
        accounts = {
            person.name + str(person.index): scenario.accounts(person, handle.url)
            for person in scenario.people
        }
    finally:
        handle.stop()
    return pages, accounts


def prepare_template(
    database: BenchDatabase, pages: list[RawPage], accounts: dict[str, list[str]]
) -> dict[str, int]:
    """Store the sources and the reporters with their verified accounts; return source ids by URL."""
    engine = database.engine()
    now = datetime.now(UTC)
    source_ids: dict[str, int] = {}
    with Session(engine) as session:
        for page in pages:
            if page.source_url not in source_ids:
                source = Source(platform=page.platform.value, url=page.source_url, trusted=True)
                session.add(source)
                session.flush()
                assert source.id is not None
                source_ids[page.source_url] = source.id
        for name, keys in accounts.items():
            reporter = Reporter(name=name)
            session.add(reporter)
            session.flush()
            for key in keys:
                platform, _, handle = key.partition(":")
                session.add(
                    Account(
                        reporter_id=reporter.id,  # type: ignore[arg-type]  # flushed above
                        platform=platform,
                        account_key=key,
                        handle=handle,
                        did=handle if handle.startswith("did:") else None,
                        state="verified",
                        verified_at=now,
                        verified_method="staff",
                    )
                )
        session.commit()
    engine.dispose()
    return source_ids


def _mappers() -> dict[Platform, Callable[[dict[str, Any]], CollectedPost]]:
    return {platform: collector_for(platform).map_item for platform in Platform}


def ingest_run(
    database: BenchDatabase, pages: list[RawPage], source_ids: dict[str, int]
) -> tuple[float, int]:
    """Map and upsert every page (one transaction each); return seconds and distinct posts stored."""
    engine = database.engine()
    mappers = _mappers()

    def work() -> None:
        for page in pages:
            mapper = mappers[page.platform]
            posts = [mapper(item) for item in page.items]
            with Session(writing(engine)) as session:
                upsert_posts(
                    session, source_id=source_ids[page.source_url], posts=posts, now=datetime.now(UTC)
                )
                session.commit()

    seconds = timed(work)
    with engine.connect() as conn:
        stored = conn.execute(POSTS.select().with_only_columns(POSTS.c.id)).all()
    engine.dispose()
    return seconds, len(stored)


def bare_rows(database: BenchDatabase, pages: list[RawPage]) -> list[list[dict[str, Any]]]:
    """The rows an ingest run stored in ``database`` (every inserted column, as stored), grouped by the
    page that first carried each post."""
    engine = database.engine()
    with engine.connect() as conn:
        result = conn.execute(select(*(POSTS.c[name] for name in INSERT_COLUMNS)))
        stored = {(row.platform, row.global_key): dict(row._mapping) for row in result}
    engine.dispose()
    mappers = _mappers()
    grouped = []
    for page in pages:
        rows = []
        for item in page.items:
            post = mappers[page.platform](item)
            row = stored.pop((post.platform.value, post.global_key), None)
            if row is not None:
                rows.append(row)
        if rows:
            grouped.append(rows)
    return grouped


def bare_run(database: BenchDatabase, grouped: list[list[dict[str, Any]]]) -> tuple[float, int]:
    """A bare executemany INSERT of the rows, one transaction per page."""
    engine = database.engine()

    def work() -> None:
        for rows in grouped:
            with writing(engine).begin() as conn:
                conn.execute(insert(POSTS), rows)

    seconds = timed(work)
    engine.dispose()
    return seconds, sum(len(rows) for rows in grouped)


def run(template: BenchDatabase, size: IngestSize, *, repeats: int) -> dict[str, Any]:
    """Median posts/s of both paths on copies of ``template`` (a fresh, migrated database)."""
    pages, accounts = fetch_pages(size)
    source_ids = prepare_template(template, pages, accounts)
    ingest_rates, bare_rates = [], []
    posts = 0
    with copies_of(template) as copy:
        first = copy()
        ingest_run(first, pages, source_ids)  # untimed: the rows the bare insert stores
        grouped = bare_rows(first, pages)
        for _ in range(repeats):
            seconds, posts = ingest_run(copy(), pages, source_ids)
            ingest_rates.append(posts / seconds)
            seconds, count = bare_run(copy(), grouped)
            bare_rates.append(count / seconds)
    return {
        "ingest_posts_per_s": median(ingest_rates),
        "bare_posts_per_s": median(bare_rates),
        "posts": posts,
        "raw_items": sum(len(page.items) for page in pages),
        "pages": len(pages),
        "repeats": repeats,
    }
