"""Shared machinery of the reliability drills: simulated worlds, fast retry policies, ground truth,
score snapshots, child processes and a live uvicorn server on loopback."""

from __future__ import annotations

import os
import random
import socket
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from sqlalchemy import Engine, func, select
from sqlmodel import Session

from app.core.db import table
from app.ingest import service
from app.ingest.models import Post, Source
from app.scoring import service as scoring
from app.scoring.models import LeaderboardEntry, PostVerdict
from collectors.http import RetryPolicy as HttpRetryPolicy
from collectors.mastodon.client import RetryPolicy as MastodonRetryPolicy
from simulator.core import ServerHandle
from simulator.scenarios import Scenario

BIE = [sys.executable, "-m", "app.cli"]
POSTS = table(Post)
SOURCES = table(Source)
ENTRIES = table(LeaderboardEntry)
VERDICTS = table(PostVerdict)
PLATFORMS = ("mastodon", "bluesky", "blog", "x")


def fast_options(platform: str, *, max_429: int = 5, attempts: int = 6) -> dict[str, Any]:
    """Collector options with short retry back-offs (rate-limit waits stay real: they must be honoured)."""
    if platform == "mastodon":
        policy = MastodonRetryPolicy(attempts=attempts, base_delay_s=0.02, max_delay_s=0.2, max_429=max_429)
        return {"policy": policy}
    if platform == "bluesky":
        return {"max_attempts": attempts, "backoff_base_s": 0.02, "backoff_cap_s": 0.2}
    return {"retry": HttpRetryPolicy(attempts=attempts, base_delay_s=0.02, max_delay_s=0.2, max_429=max_429)}


def distinct_server_seeds(scenario: Scenario, base: int, *, first_roll_below: float = 1.0) -> list[int]:
    """Give each simulated server its own fault dice (a copied ``Faults`` shares the seed).

    With ``first_roll_below`` each server gets the first seed from ``base + 1000·n`` on whose first
    roll is below it: a knob at that probability or more then fires on every server's first request,
    however few requests a small world makes (X needs three pages for 300 posts).
    """
    seeds = []
    for n, server in enumerate(scenario.simulator.servers.values()):
        seed = base + 1000 * n
        while random.Random(seed).random() >= first_roll_below:
            seed += 1
        server.faults.seed = seed
        server.reset_state()
        seeds.append(seed)
    return seeds


@dataclass
class World:
    scenario: Scenario
    handle: ServerHandle
    engine: Engine
    sources: dict[int, str] = field(default_factory=dict)  # source id -> platform
    env: dict[str, str] = field(default_factory=dict)  # token variables for child processes


def add_sources(world: World, *, platforms: tuple[str, ...] = PLATFORMS, interval_s: int = 300) -> None:
    """Add every source of the world's scenario (trusted: the simulator is on loopback)."""
    with Session(world.engine) as session:
        for n, spec in enumerate(world.scenario.sources(world.handle.url)):
            if spec.platform not in platforms:
                continue
            token_env = None
            if spec.token:
                token_env = f"BIE_RELIABILITY_TOKEN_{n}"
                world.env[token_env] = spec.token
                os.environ[token_env] = spec.token  # read by source_config in this process
            source = service.add_source(
                session=session,
                platform=spec.platform,
                url=spec.url,
                tags=list(spec.tags),
                query=spec.query,
                handle=spec.handle,
                token_env=token_env,
                trusted=True,
                interval_s=interval_s,
                validate=False,
            )
            assert source.id is not None
            world.sources[source.id] = spec.platform
        session.commit()


def truth(world: World, platforms: tuple[str, ...] = PLATFORMS) -> set[str]:
    scenario = world.scenario
    keys: set[str] = set()
    if "mastodon" in platforms:
        for server in scenario.mastodon.values():
            keys |= server.truth()
    if "bluesky" in platforms:
        keys |= scenario.bluesky.truth()
    if "blog" in platforms:
        keys |= scenario.blogs.truth()
    if "x" in platforms:
        keys |= scenario.x.truth()
    return keys


def stored(engine: Engine) -> tuple[set[str], int]:
    """The keys of stored original posts (reposts are kept but never part of the truth) and all rows."""
    with Session(engine) as session:
        keys = set(session.execute(select(POSTS.c.global_key).where(POSTS.c.kind != "repost")).scalars())
        total = int(session.execute(select(func.count()).select_from(POSTS)).scalar_one())
    return keys, total


def distinct_keys(engine: Engine) -> int:
    with Session(engine) as session:
        return int(
            session.execute(
                select(func.count(func.distinct(POSTS.c.platform + ":" + POSTS.c.global_key)))
            ).scalar_one()
        )


def collect_round(
    world: World, *, fast: bool = True, parallel: bool = True, **options: Any
) -> tuple[bool, list[service.RunSummary]]:
    """One forced pass over every source; True when nothing new arrived and every run succeeded.

    ``parallel`` runs sources side by side as the scheduler's pool does; sequential runs keep each
    simulated server's fault dice in a fixed order (a seeded drill then replays exactly)."""

    def run(item: tuple[int, str]) -> service.RunSummary:
        source_id, platform = item
        return service.collect_source(
            engine=world.engine,
            source_id=source_id,
            force=True,
            collector_options=fast_options(platform, **options) if fast else None,
        )

    if parallel:
        with ThreadPoolExecutor(max_workers=4) as pool:
            summaries = list(pool.map(run, world.sources.items()))
    else:
        summaries = [run(item) for item in world.sources.items()]
    quiet = all(s.status == "ok" and not s.new and not s.updated for s in summaries)
    return quiet, summaries


def collect_until_quiet(world: World, *, max_rounds: int = 30, min_rounds: int = 1, **options: Any) -> int:
    """Forced rounds until one brings nothing new with every run ok (and at least ``min_rounds``)."""
    for round_number in range(1, max_rounds + 1):
        quiet, _ = collect_round(world, **options)
        if quiet and round_number >= min_rounds:
            return round_number
    raise AssertionError(f"collection did not settle in {max_rounds} rounds")


def health(engine: Engine) -> dict[int, Any]:
    with Session(engine) as session:
        return {row.id: row for row in session.execute(select(SOURCES)).all()}


# --- scores -------------------------------------------------------------------------------------


def score_snapshot(engine: Engine) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Every leaderboard entry (without times and movement) and every verdict, in a stable order."""
    with Session(engine) as session:
        entries = [
            tuple(r)
            for r in session.execute(
                select(
                    ENTRIES.c.event_id,
                    ENTRIES.c.rules_version,
                    ENTRIES.c.reporter_id,
                    ENTRIES.c.rank,
                    ENTRIES.c.score,
                    ENTRIES.c.posts_counted,
                    ENTRIES.c.days_covered,
                ).order_by(ENTRIES.c.event_id, ENTRIES.c.reporter_id)
            )
        ]
        verdicts = [
            (r.event_id, r.post_id, r.reporter_id, r.counted, r.points, tuple(sorted(r.reasons or ())))
            for r in session.execute(
                select(
                    VERDICTS.c.event_id,
                    VERDICTS.c.post_id,
                    VERDICTS.c.reporter_id,
                    VERDICTS.c.counted,
                    VERDICTS.c.points,
                    VERDICTS.c.reasons,
                ).order_by(VERDICTS.c.event_id, VERDICTS.c.post_id)
            )
        ]
    return entries, verdicts


def full_rescore(engine: Engine) -> None:
    from app.core.db import writing

    with Session(writing(engine)) as session:
        scoring.rescore_all(session)
        session.commit()


def assert_scores_equal_full_rescore(engine: Engine) -> tuple[int, int]:
    """Bring incremental scores up to date, then prove a full re-score changes nothing."""
    scoring.rescore_dirty(engine=engine)
    incremental = score_snapshot(engine)
    full_rescore(engine)
    full = score_snapshot(engine)
    assert incremental[0] == full[0], "leaderboard entries differ from a full re-score"
    assert incremental[1] == full[1], "verdicts differ from a full re-score"
    return len(full[0]), len(full[1])


def assert_consistent_leaderboards(engine: Engine) -> int:
    """Ranks 1..N without gaps per event, and each entry's counted posts match its verdicts."""
    checked = 0
    with Session(engine) as session:
        session.connection()  # one read transaction: a single snapshot of entries and verdicts
        entries = session.execute(select(ENTRIES)).all()
        counted = {
            (r.event_id, r.reporter_id): int(r.n)
            for r in session.execute(
                select(VERDICTS.c.event_id, VERDICTS.c.reporter_id, func.count().label("n"))
                .where(VERDICTS.c.counted.is_(True))
                .group_by(VERDICTS.c.event_id, VERDICTS.c.reporter_id)
            )
        }
    by_event: dict[int, list[Any]] = {}
    for entry in entries:
        by_event.setdefault(entry.event_id, []).append(entry)
    for event_id, rows in by_event.items():
        ranks = sorted(r.rank for r in rows)
        assert ranks == list(range(1, len(rows) + 1)), f"event {event_id}: ranks {ranks[:10]}…"
        for r in rows:
            assert r.posts_counted == counted.get((event_id, r.reporter_id), 0), (
                f"event {event_id}, reporter {r.reporter_id}: entry says {r.posts_counted} counted posts"
            )
            checked += 1
    return checked


# --- processes and servers ----------------------------------------------------------------------


def child_env(db_url: str, extra: dict[str, str] | None = None, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BIE_")}
    env.update(extra or {})
    env.update({"BIE_DATABASE_URL": db_url, "PYTHONUNBUFFERED": "1", **settings})
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LiveServer:
    """The app served by uvicorn on 127.0.0.1 in a background thread of this process."""

    def __init__(self, engine: Engine) -> None:
        from app.main import create_app

        config = uvicorn.Config(
            create_app(engine=engine), host="127.0.0.1", port=0, log_config=None, access_log=False
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True, name="live-api")

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    @property
    def url(self) -> str:
        port = self.server.servers[0].sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)


def wait_for(predicate: Callable[[], bool], what: str, *, polls: int = 300, every_s: float = 0.1) -> None:
    """Poll ``predicate`` a bounded number of times."""
    for _ in range(polls):
        if predicate():
            return
        time.sleep(every_s)
    raise AssertionError(f"gave up waiting: {what}")
