"""Every benchmark runs at tiny sizes so that bench/ cannot rot. No timing is asserted (STYLE: speed
targets live in bench/); what is asserted is that each benchmark measures what it claims to."""

from __future__ import annotations

import json
import warnings
from collections import Counter

import pytest
from sqlalchemy import func, select
from sqlmodel import Session

from app.core.db import make_engine, table
from app.events.models import Event, Registration
from app.ingest.driver import INSERT_COLUMNS
from app.ingest.models import Post
from app.reporters.models import Account
from app.scoring.models import LeaderboardEntry, PostVerdict
from app.scoring.service import VERDICT_COLUMNS
from bench import api, collection, ingest, rescore, run
from bench.common import BenchDatabase, bench_database, copies_of
from bench.generate import FLAGSHIP_SLUG, SCALES, STANDING_POSTS, generate

with warnings.catch_warnings():
    from starlette.exceptions import StarletteDeprecationWarning

    warnings.filterwarnings(
        "ignore", message="Using `httpx` with `starlette.testclient`", category=StarletteDeprecationWarning
    )
    from starlette.testclient import TestClient

POSTS = table(Post)
ENTRIES = table(LeaderboardEntry)
TINY = SCALES["tiny"]


@pytest.fixture
def generated_url(fresh_db_url: str) -> str:
    engine = make_engine(fresh_db_url)
    generate(engine, TINY)
    engine.dispose()
    return fresh_db_url


def _entries(url: str) -> dict[tuple[int, int], tuple[int, int]]:
    engine = make_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(
            select(ENTRIES.c.event_id, ENTRIES.c.reporter_id, ENTRIES.c.rank, ENTRIES.c.score)
        )
        found = {(r.event_id, r.reporter_id): (r.rank, r.score) for r in rows}
    engine.dispose()
    return found


def test_the_generator_builds_the_programme_it_promises(generated_url: str) -> None:
    engine = make_engine(generated_url)
    with Session(engine) as session:
        assert session.execute(select(func.count()).select_from(POSTS)).scalar_one() == TINY.posts
        platforms = Counter(session.execute(select(POSTS.c.platform)).scalars())
        assert set(platforms) == {"mastodon", "bluesky", "x", "blog"}
        standing = session.execute(select(func.count()).where(POSTS.c.reporter_id == 1)).scalar_one()
        assert standing == min(STANDING_POSTS, TINY.posts // 4)
        flagship = session.execute(select(Event).where(Event.slug == FLAGSHIP_SLUG)).scalar_one()
        registered = session.execute(
            select(func.count()).where(table(Registration).c.event_id == flagship.id)
        ).scalar_one()
        assert registered == TINY.reporters
        verified = session.execute(
            select(func.count(func.distinct(table(Account).c.reporter_id))).where(
                table(Account).c.state == "verified"
            )
        ).scalar_one()
        assert verified >= TINY.reporters * 0.9
    engine.dispose()


def test_the_scoring_benchmark_scores_everything_and_incremental_equals_full(generated_url: str) -> None:
    selected = rescore.select_all(generated_url)
    assert selected["rows"] == TINY.posts
    full = rescore.full_rescore(generated_url)
    assert full["events"] == TINY.events
    assert len({key for key in _entries(generated_url) if key[0]}) >= TINY.reporters
    step = rescore.incremental(generated_url, reporters=TINY.reporters, seed=1)
    assert step["reporters"] > 0
    assert step["peak_rss_kib"] > 0
    after_incremental = _entries(generated_url)
    rescore.full_rescore(generated_url)
    assert _entries(generated_url) == after_incremental


def _verdict_rows(url: str) -> list[tuple[object, ...]]:
    engine = make_engine(url)
    verdicts = table(PostVerdict)
    with engine.connect() as conn:
        columns = [verdicts.c[name] for name in VERDICT_COLUMNS]
        rows = conn.execute(select(*columns).order_by(verdicts.c.event_id, verdicts.c.post_id)).all()
    engine.dispose()
    return [tuple(row) for row in rows]


def test_the_scoring_floor_inserts_exactly_the_verdict_rows_a_cold_rescore_stores(
    db_kind: str, tmp_path
) -> None:
    with bench_database(db_kind, tmp_path) as template, copies_of(template) as copy:
        engine = template.engine()
        generate(engine, TINY)
        engine.dispose()
        scored, empty = copy(), copy()
        rescore.full_rescore(scored.url)
        floor = rescore.verdict_insert(empty.url, rows_from=scored.url)
        stored = _verdict_rows(scored.url)
        assert _verdict_rows(empty.url) == stored
    assert floor["rows"] == len(stored) > 0
    reasons = VERDICT_COLUMNS.index("reasons")
    assert any(row[reasons] for row in stored)  # failing verdicts (JSON reasons) are among them


def test_the_api_benchmark_app_serves_the_measured_endpoints(generated_url: str) -> None:
    token = api.reporter_token(generated_url, 1)
    assert api.reporter_token(generated_url, 1) != token  # re-runnable on the same database
    rescore.full_rescore(generated_url)
    app = api.build_app(generated_url)
    try:
        with TestClient(app) as client:
            assert client.get(api.CONSTANT_PATH).content == api.CONSTANT_BODY
            assert client.get(api.THREAD_PROBE_PATH).content == api.CONSTANT_BODY
            board = client.get(f"/api/v1/events/{FLAGSHIP_SLUG}/leaderboard")
            assert board.status_code == 200
            assert board.json()["count"] == TINY.reporters
            auth = {"Authorization": f"Bearer {token}"}
            standing = client.get(f"/api/v1/me/standing/{FLAGSHIP_SLUG}", headers=auth)
            assert standing.status_code == 200, standing.text
            schema = client.get("/openapi.json").text
            assert api.CONSTANT_PATH not in schema
            assert api.THREAD_PROBE_PATH not in schema
    finally:
        app.state.engine.dispose()


@pytest.mark.parametrize(("text", "ms"), [("512.00us", 0.512), ("3.21ms", 3.21), ("1.50s", 1500.0)])
def test_wrk_latencies_are_read_in_milliseconds(text: str, ms: float) -> None:
    assert api._ms(text) == pytest.approx(ms)


def test_the_server_and_the_load_generator_get_cpus_of_their_own(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(api.os, "sched_getaffinity", lambda pid: {0, 1, 2})
    monkeypatch.setattr(api.shutil, "which", lambda name: f"/usr/bin/{name}")
    where = api.placement()
    assert where.pinned
    assert set(where.server_cpus).isdisjoint(where.load_cpus)
    assert where.prefix(where.server_cpus) == ["taskset", "-c", "2"]
    assert where.prefix(where.load_cpus) == ["taskset", "-c", "0"]
    assert api.wrk_threads(where) == 1
    assert "taskset" in where.describe()
    monkeypatch.setattr(api.os, "sched_getaffinity", lambda pid: {0})
    alone = api.placement()
    assert not alone.pinned
    assert alone.prefix(alone.server_cpus) == []
    assert "not pinned" in alone.describe()


def test_the_ingest_benchmark_stores_every_distinct_post_on_both_paths(tmp_path) -> None:
    with bench_database("sqlite", tmp_path) as template:
        figures = ingest.run(template, ingest.SIZES["tiny"], repeats=1)
    assert figures["posts"] > 0
    assert figures["raw_items"] >= figures["posts"]
    assert figures["ingest_posts_per_s"] > 0
    assert figures["bare_posts_per_s"] > 0


def _stored_posts(database: BenchDatabase) -> list[tuple[object, ...]]:
    engine = database.engine()
    posts = table(Post)
    with engine.connect() as conn:
        rows = conn.execute(
            select(*(posts.c[name] for name in INSERT_COLUMNS)).order_by(posts.c.platform, posts.c.global_key)
        ).all()
    engine.dispose()
    return [tuple(row) for row in rows]


def test_the_bare_insert_stores_exactly_the_rows_ingest_stores(tmp_path) -> None:
    pages, accounts = ingest.fetch_pages(ingest.SIZES["tiny"])
    with bench_database("sqlite", tmp_path) as template, copies_of(template) as copy:
        source_ids = ingest.prepare_template(template, pages, accounts)
        ingested = copy()
        ingest.ingest_run(ingested, pages, source_ids)
        grouped = ingest.bare_rows(ingested, pages)
        bare = copy()
        _, count = ingest.bare_run(bare, grouped)
        stored = _stored_posts(ingested)
        assert _stored_posts(bare) == stored
    assert count == len(stored) > 0
    reporter = INSERT_COLUMNS.index("reporter_id")
    assert any(row[reporter] is not None for row in stored)  # the links are part of the same rows


def test_the_collection_benchmark_counts_requests_and_enforced_429s() -> None:
    measured = collection.measure("mastodon", 300, rate_limit=300, window_s=5)
    assert measured["new"] > 0
    assert measured["second_pass_new"] == 0
    assert measured["limit_429"] == 0
    assert measured["server_requests"] >= measured["requests"] > 0
    assert measured["peak_rss_kib"] > 0


def test_the_report_marks_targets_met_and_missed() -> None:
    rows = run.ingest_rows(
        "sqlite", {"ingest_posts_per_s": 40.0, "bare_posts_per_s": 100.0, "posts": 10, "pages": 1}
    )
    rows += run.ingest_rows(
        "postgresql", {"ingest_posts_per_s": 60.0, "bare_posts_per_s": 100.0, "posts": 10, "pages": 1}
    )
    text = run.render(rows, {"scale": "tiny"})
    assert "| sqlite |" in text
    assert "**missed**" in text
    assert "| met |" in text


def test_the_bluesky_row_shows_the_floor_the_api_allows() -> None:
    figures = {
        "mastodon_new": 3566,
        "mastodon_requests": 91,
        "mastodon_bound": 91,
        "mastodon_floor": 108,
        "bluesky_new": 4314,
        "bluesky_requests": 54,
        "bluesky_bound": 45,
        "bluesky_floor": 53,
        "mastodon_limit_429": 0,
        "bluesky_limit_429": 0,
        "backlog_limit_429": 0,
        "window_s": 10,
        "large_rss_kib": 100,
        "small_rss_kib": 100,
        "large_backlog": 2000,
        "small_backlog": 1000,
        "backlog_2000_new": 1500,
    }
    mastodon, bluesky = run.collection_rows(figures)[:2]
    assert "floor" not in mastodon.reference
    assert bluesky.reference.endswith("= 53")
    assert "1.02× the floor" in bluesky.ratio
    assert bluesky.met is False  # the target stays DESIGN's bound


def test_a_bench_database_is_dropped_afterwards(tmp_path) -> None:
    with bench_database("sqlite", tmp_path) as database:
        assert isinstance(database, BenchDatabase)
        path = database.url.removeprefix("sqlite:///")
    assert not list(tmp_path.rglob("*.db"))
    assert path


def test_the_report_can_be_written_again_from_saved_figures(tmp_path) -> None:
    figures = {"ingest_posts_per_s": 60.0, "bare_posts_per_s": 100.0, "posts": 10, "pages": 1}
    info = {"scale": "tiny (3000 posts, 60 reporters, 3 events)"}
    saved = tmp_path / "run.json"
    saved.write_text(json.dumps({"info": info, "figures": {"ingest/sqlite": figures}}))
    run.rerender(saved, tmp_path / "PERFORMANCE.md")
    assert (tmp_path / "PERFORMANCE.md").read_text() == run.render(run.ingest_rows("sqlite", figures), info)


def test_the_scoring_floor_is_reported_beside_the_select() -> None:
    figures = {
        "select_s": 1.0,
        "select_rows": 100,
        "full_s": 15.0,
        "verdict_insert_s": 3.9,
        "verdict_rows": 141,
        "incremental_s": 0.5,
        "incremental_reporters": 3,
        "incremental_posts_of_reporters": 30,
        "full_rss_kib": 300,
        "incremental_rss_kib": 100,
        "select_rss_kib": 100,
    }
    floor = next(row for row in run.scoring_rows("postgresql", figures) if row.benchmark.startswith("floor"))
    assert "141 verdict rows" in floor.benchmark
    assert floor.ratio == "4.9×"
    assert floor.met is None  # reported: the target stays the full re-score's
