"""Drills with real processes: SIGKILL mid-collection, and two workers sharing sources on PostgreSQL."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, update
from sqlmodel import Session

from app.core.db import make_engine, table
from app.ingest import service
from app.ingest.models import CollectorRun, Post, Source
from simulator.core import Faults, ServerHandle
from simulator.scenarios import Scenario, build_scenario
from tests.conftest import IN_CI, create_database, drop_database

POSTS = table(Post)
BIE = [sys.executable, "-m", "app.cli"]


def scenario_with_sources(url: str, faults: Faults) -> tuple[Scenario, ServerHandle]:
    scenario = build_scenario(
        faults=faults, mastodon_posts=500, bluesky_posts=300, blog_articles=30, x_posts=150, feed_size=100
    )
    return scenario, scenario.simulator.serve().start()


def add_all_sources(engine: Engine, scenario: Scenario, base_url: str) -> dict[str, str]:
    """Add every source; return the environment variables holding their tokens."""
    env: dict[str, str] = {}
    with Session(engine) as session:
        for n, spec in enumerate(scenario.sources(base_url)):
            token_env = None
            if spec.token:
                token_env = f"BIE_DRILL_TOKEN_{n}"
                env[token_env] = spec.token
            service.add_source(
                session=session,
                platform=spec.platform,
                url=spec.url,
                tags=list(spec.tags),
                query=spec.query,
                handle=spec.handle,
                token_env=token_env,
                trusted=True,
                validate=False,
            )
        session.commit()
    return env


def stored_keys(engine: Engine) -> tuple[set[str], int]:
    with Session(engine) as session:
        keys = set(session.execute(select(POSTS.c.global_key)).scalars())
        total = int(session.execute(select(func.count()).select_from(POSTS)).scalar_one())
    return keys, total


def process_env(db_url: str, extra: dict[str, str], **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BIE_")}
    env.update(extra)
    env.update({"BIE_DATABASE_URL": db_url, "PYTHONUNBUFFERED": "1", **settings})
    return env


def requests_served(scenario: Scenario) -> int:
    return sum(int(s["requests"]) for s in scenario.simulator.stats().values())


def post_rows(engine: Engine) -> int:
    with Session(engine) as session:
        return int(session.execute(select(func.count()).select_from(POSTS)).scalar_one())


def wait_until(predicate: Callable[[], bool], proc: subprocess.Popen[bytes], what: str) -> None:
    """Poll every 10 ms until ``predicate`` holds; the child must still be running (bounded: 60 s)."""
    deadline = time.monotonic() + 60
    while not predicate():
        if proc.poll() is not None:
            raise AssertionError(f"bie collect exited ({proc.returncode}) before {what}")
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.01)


# Where each kill lands, in a seeded order. Each type hits a different step of ``collect_source``:
# before any lease or request, during a page fetch with the lease held, just after a page's transaction
# committed (the next page or the run's bookkeeping), and later in the pass. A later kill is counted
# in requests, not seconds (Python's start-up takes a varying 1–4 s on a busy machine, and on a fast
# one a pass with little left to collect ended within the seconds drawn): a seeded number of requests
# past the first, fewer than any pass makes, so it always lands inside the pass.
KILL_POINTS = ("after a commit", "start-up", "first request", *["within the pass"] * 5)
# requests a pass makes when there is nothing new (every source asked once): 9 in this world
FEWEST_PASS_REQUESTS = 9


def test_sigkill_at_seeded_points_then_restart_gives_exactly_the_ground_truth(
    fresh_db_url: str, tmp_path: Path
) -> None:
    faults = Faults(slow_s=0.02, seed=3)
    scenario, handle = scenario_with_sources("", faults)
    engine = make_engine(fresh_db_url)
    stack = ExitStack()
    try:
        # a restarted collector comes back under the same identity and resumes its own (short) lease
        env = process_env(
            fresh_db_url,
            add_all_sources(engine, scenario, handle.url),
            BIE_WORKER_ID="drill-worker",
            BIE_LEASE_S="3",
        )
        rng = random.Random(20261121)
        # "after a commit" goes first, while every page still brings new rows; the others in seeded order
        rest = list(KILL_POINTS[1:])
        rng.shuffle(rest)
        plan = [KILL_POINTS[0], *rest]
        log = stack.enter_context((tmp_path / "collect.log").open("w"))
        interrupted = 0
        for point in plan:
            requests_before, rows_before = requests_served(scenario), post_rows(engine)
            proc = subprocess.Popen([*BIE, "collect", "--all"], env=env, stdout=log, stderr=log)
            if point == "start-up":
                time.sleep(rng.uniform(0.05, 0.5))
            else:

                def served_more(before: int = requests_before) -> bool:
                    return requests_served(scenario) > before

                def stored_more(before: int = rows_before) -> bool:
                    return post_rows(engine) > before

                wait_until(served_more, proc, "a first request")
                if point == "after a commit":
                    wait_until(stored_more, proc, "a committed page")
                elif point == "within the pass":
                    further = rng.randint(1, FEWEST_PASS_REQUESTS - 3)

                    def served_further(before: int = requests_before + 1 + further) -> bool:
                        return requests_served(scenario) >= before

                    wait_until(served_further, proc, f"{further} more requests")
            interrupted += proc.poll() is None
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
        assert interrupted == len(plan), "a kill found bie collect already finished"
        assert post_rows(engine) > 0, "no kill came after a commit: the drill proved nothing"
        # restart without interruption until nothing new arrives
        for _ in range(6):
            done = subprocess.run([*BIE, "collect", "--all"], env=env, stdout=log, stderr=log, timeout=300)
            with Session(engine) as session:
                healthy = all(s.health == "ok" for s in session.execute(select(table(Source))).all())
            keys, total = stored_keys(engine)
            if done.returncode == 0 and healthy and keys >= scenario.truth():
                break
        keys, total = stored_keys(engine)
        truth = scenario.truth()
        reposts = {k for k in keys if k not in truth}
        with Session(engine) as session:
            kinds = set(
                session.execute(select(POSTS.c.kind).where(POSTS.c.global_key.in_(reposts))).scalars()
            )
        assert kinds <= {"repost"}, "stored posts the simulator never served as live and tagged"
        assert truth <= keys, f"{len(truth - keys)} posts lost"
        assert total == len(keys), "duplicate rows"
    finally:
        stack.close()
        engine.dispose()
        handle.stop()


@pytest.fixture
def postgres_db_url(tmp_path: Path) -> Iterator[str]:
    if not os.environ.get("BIE_TEST_POSTGRES_URL"):
        message = "the two-worker drill needs PostgreSQL (BIE_TEST_POSTGRES_URL)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    url, handle = create_database("postgresql", tmp_path)
    from app.core import migrate

    engine = make_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    yield url
    drop_database(handle)


def test_two_workers_on_postgresql_never_collect_the_same_source_at_once(
    postgres_db_url: str, tmp_path: Path
) -> None:
    faults = Faults(slow_s=0.03, seed=5)
    scenario, handle = scenario_with_sources("", faults)
    engine = make_engine(postgres_db_url)
    workers: list[subprocess.Popen[bytes]] = []
    stack = ExitStack()
    try:
        env = add_all_sources(engine, scenario, handle.url)
        with Session(engine) as session:  # short intervals so the workers race for every source often
            session.execute(update(table(Source)).values(interval_s=1))
            session.commit()
            source_ids = list(session.execute(select(table(Source).c.id)).scalars())
        log = stack.enter_context((tmp_path / "workers.log").open("w"))
        for name in ("worker-a", "worker-b"):
            worker_env = process_env(postgres_db_url, env, BIE_WORKER_ID=name)
            workers.append(
                subprocess.Popen([*BIE, "worker", "--parallel", "4"], env=worker_env, stdout=log, stderr=log)
            )
        runs = table(CollectorRun)
        for _ in range(1200):  # bounded by polls (2 min); each source must be collected at least twice
            time.sleep(0.1)
            with Session(engine) as session:
                counts = dict(
                    session.execute(
                        select(runs.c.source_id, func.count())
                        .where(runs.c.finished_at.is_not(None))
                        .group_by(runs.c.source_id)
                    ).all()
                )
            if all(counts.get(sid, 0) >= 2 for sid in source_ids):
                break
        else:
            raise AssertionError(f"workers did not collect every source twice: {counts}")
    finally:
        for proc in workers:
            proc.send_signal(signal.SIGTERM)
        for proc in workers:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        stack.close()
        handle.stop()
    with Session(engine) as session:
        rows = session.execute(
            select(runs.c.source_id, runs.c.worker, runs.c.started_at, runs.c.finished_at).order_by(
                runs.c.source_id, runs.c.started_at
            )
        ).all()
    engine.dispose()
    by_source: dict[int, list[tuple[object, ...]]] = {}
    for row in rows:
        by_source.setdefault(row.source_id, []).append(tuple(row))
    for source_id, source_runs in by_source.items():
        for earlier, later in zip(source_runs, source_runs[1:], strict=False):
            assert earlier[3] is not None, f"source {source_id}: a run never finished"
            assert earlier[3] <= later[2], (
                f"source {source_id}: run by {later[1]} started before the run by {earlier[1]} finished"
            )
    assert {row.worker for row in rows} == {"worker-a", "worker-b"}
