"""Scoring: a full re-score of every event vs one plain SELECT of the scoring columns of all posts, and
an incremental update (1,000 new posts: mark dirty + ``rescore_dirty``) vs the full re-score.

Also the floor under any scoring code: a bare ``executemany`` of exactly the verdict rows a cold re-score
stores, into a never-scored copy (with the SELECT, what a cold re-score costs before a rule runs).

Each measurement runs in its own subprocess (``python -m bench.rescore TASK --database URL``) so that
its peak memory (VmHWM) is its own; the time is measured inside, after imports.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from psycopg.types.json import Json
from sqlalchemy import select
from sqlmodel import Session

from app.core.db import make_engine, table
from app.core.settings import get_settings
from app.events.models import Event
from app.ingest.models import Post
from app.scoring.dirty import mark_new_posts
from app.scoring.service import VERDICT_COLUMNS, rescore_dirty, rescore_events
from bench.common import BenchDatabase, children_peak_rss, copies_of, emit, median, peak_rss_kib, run_worker
from bench.generate import new_posts

POSTS = table(Post)
SCORING_COLUMNS = (
    "id",
    "reporter_id",
    "author_key",
    "account_id",
    "platform",
    "global_key",
    "created_at",
    "kind",
    "text",
    "tags",
    "media_count",
    "visibility",
    "likes",
    "reposts",
    "replies",
    "deleted_at",
    "excluded",
)
NEW_POSTS = 1_000


def select_all(url: str) -> dict[str, Any]:
    """One plain SELECT of the scoring columns of every post, every row fetched (streamed)."""
    engine = make_engine(url)
    start = time.perf_counter()
    rows = 0
    with engine.connect() as conn:
        result = conn.execution_options(yield_per=10_000).execute(
            select(*(POSTS.c[name] for name in SCORING_COLUMNS))
        )
        for partition in result.partitions():
            rows += len(partition)
    seconds = time.perf_counter() - start
    engine.dispose()
    return {"seconds": seconds, "rows": rows, "peak_rss_kib": peak_rss_kib()}


def full_rescore(url: str, *, processes: int | None = None) -> dict[str, Any]:
    """Re-score every event in one transaction (``rescore_events``, what ``bie score --full`` runs, with
    as many child processes as it may use unless ``processes`` says otherwise)."""
    engine = make_engine(url)
    processes = get_settings().scoring_processes if processes is None else processes
    with children_peak_rss() as children:
        start = time.perf_counter()
        with Session(engine, expire_on_commit=False) as session:
            events = list(session.execute(select(Event).order_by(Event.id)).scalars())  # type: ignore[arg-type]  # a column
            rescore_events(session, events, processes=processes)
            session.commit()
        seconds = time.perf_counter() - start
    engine.dispose()
    own = peak_rss_kib()
    return {
        "seconds": seconds,
        "events": len(events),
        # the scoring children's peaks too (at most, since they need not peak at once)
        "peak_rss_kib": own + sum(children.values()),
        "own_rss_kib": own,
        "children_rss_kib": sorted(children.values()),
    }


def verdict_insert(url: str, *, rows_from: str) -> dict[str, Any]:
    """Read (untimed) every verdict row a scored database stores, as its driver returns them, then time
    one bare DB-API ``executemany`` INSERT of them into ``url`` (never scored), in one transaction: no
    SQLAlchemy, no conversion but wrapping PostgreSQL's JSON column."""
    columns = ", ".join(VERDICT_COLUMNS)
    source = make_engine(rows_from)
    connection = source.raw_connection()
    try:
        cursor = connection.cursor()
        cursor.execute(f"SELECT {columns} FROM post_verdicts ORDER BY reporter_id, event_id, post_id")
        rows: list[Any] = list(cursor.fetchall())
    finally:
        connection.close()
        source.dispose()
    postgres = url.startswith("postgresql")
    if postgres:
        reasons = VERDICT_COLUMNS.index("reasons")
        rows = [(*row[:reasons], Json(row[reasons]), *row[reasons + 1 :]) for row in rows]
    marker = "%s" if postgres else "?"
    statement = f"INSERT INTO post_verdicts ({columns}) VALUES ({', '.join([marker] * len(VERDICT_COLUMNS))})"
    target = make_engine(url)
    connection = target.raw_connection()
    try:
        cursor = connection.cursor()
        start = time.perf_counter()
        if not postgres:
            cursor.execute("BEGIN")  # the engine's SQLite connections leave transactions to the caller
        cursor.executemany(statement, rows)
        connection.commit()
        seconds = time.perf_counter() - start
    finally:
        connection.close()
        target.dispose()
    return {"seconds": seconds, "rows": len(rows)}


def incremental(url: str, *, reporters: int, seed: int) -> dict[str, Any]:
    """Store 1,000 new posts (untimed), then time ``mark_new_posts`` (what ingest does with each page)
    + ``rescore_dirty``."""
    engine = make_engine(url)
    touched = new_posts(engine, reporters=reporters, count=NEW_POSTS, seed=seed)
    start = time.perf_counter()
    with Session(engine) as session:
        mark_new_posts(session, touched)  # as ingest marks the posts it inserts
        session.commit()
    rescored = rescore_dirty(engine=engine)
    seconds = time.perf_counter() - start
    authors = sorted({rid for rid, _, _ in touched})
    with engine.connect() as conn:
        posts_of_touched = conn.execute(select(POSTS.c.id).where(POSTS.c.reporter_id.in_(authors))).all()
    engine.dispose()
    return {
        "seconds": seconds,
        "marks": rescored,
        "reporters": len(authors),
        "posts_of_those_reporters": len(posts_of_touched),
        "peak_rss_kib": peak_rss_kib(),
    }


def run(database: BenchDatabase, *, reporters: int, repeats: int) -> dict[str, Any]:
    """Median figures on one generated, never scored database.

    The full re-score is measured twice over: "cold" on fresh copies of the never-scored database (every
    verdict computed and written, as after a new rule-set version) and "warm" on a database already
    scored once (every verdict computed, only changed results written, as ``bie score`` re-runs).
    """
    url = database.url
    selects = [run_worker("bench.rescore", "select", "--database", url) for _ in range(repeats)]
    colds, floors = [], []
    with copies_of(database) as copy:
        for _ in range(repeats):
            fresh = copy()
            colds.append(run_worker("bench.rescore", "full", "--database", fresh.url))
            empty = copy()
            floors.append(
                run_worker(
                    "bench.rescore", "verdict-insert", "--database", empty.url, "--rows-from", fresh.url
                )
            )
            empty.drop()
            fresh.drop()
    run_worker("bench.rescore", "full", "--database", url)  # scores the database: later runs are warm
    warms = [run_worker("bench.rescore", "full", "--database", url) for _ in range(repeats)]
    incrementals = [
        run_worker(
            "bench.rescore", "incremental", "--database", url, "--reporters", str(reporters), "--seed", str(n)
        )
        for n in range(repeats)
    ]
    return {
        "select_s": median([r["seconds"] for r in selects]),
        "select_rows": selects[0]["rows"],
        "select_rss_kib": median([r["peak_rss_kib"] for r in selects]),
        "full_s": median([r["seconds"] for r in colds]),
        "full_rss_kib": median([r["peak_rss_kib"] for r in colds]),
        "verdict_insert_s": median([r["seconds"] for r in floors]),
        "verdict_rows": floors[0]["rows"],
        "warm_full_s": median([r["seconds"] for r in warms]),
        "warm_full_rss_kib": median([r["peak_rss_kib"] for r in warms]),
        "incremental_s": median([r["seconds"] for r in incrementals]),
        "incremental_rss_kib": median([r["peak_rss_kib"] for r in incrementals]),
        "incremental_marks": median([r["marks"] for r in incrementals]),
        "incremental_reporters": median([r["reporters"] for r in incrementals]),
        "incremental_posts_of_reporters": median([r["posts_of_those_reporters"] for r in incrementals]),
        "repeats": repeats,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.rescore", description=__doc__)
    parser.add_argument("task", choices=("select", "full", "verdict-insert", "incremental"))
    parser.add_argument("--database", required=True)
    parser.add_argument(
        "--rows-from", help="verdict-insert: the scored database whose verdict rows it inserts"
    )
    parser.add_argument("--reporters", type=int, default=0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.task == "select":
        emit(select_all(args.database))
    elif args.task == "full":
        emit(full_rescore(args.database))
    elif args.task == "verdict-insert":
        emit(verdict_insert(args.database, rows_from=args.rows_from))
    else:
        emit(incremental(args.database, reporters=args.reporters, seed=args.seed))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
