"""The main job as real processes: `bie serve` on SQLite, and `bie worker` ×2 + `bie api` on PostgreSQL,
collecting from the simulator until posts reach the leaderboard. Waits are bounded by scheduler rounds
(collector runs counted in /metrics or the database), never asserted on wall-clock time.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from sqlmodel import Session

from app.core import migrate
from app.core.db import make_engine, table
from app.demo import seed_programme
from app.ingest.models import CollectorRun, Source
from simulator.scenarios import build_scenario
from tests.conftest import IN_CI, create_database, drop_database

BIE = [sys.executable, "-m", "app.cli"]
POLL_S = 0.1
MAX_POLLS = 1800  # a safety bound on waiting (3 min), not a speed assertion


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def child_env(db_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BIE_") or k.startswith("BIE_DEMO_SOURCE")}
    env.update({"BIE_DATABASE_URL": db_url, "PYTHONUNBUFFERED": "1", **extra})
    return env


def wait_until(predicate, what: str) -> None:
    for _ in range(MAX_POLLS):
        if predicate():
            return
        time.sleep(POLL_S)
    raise AssertionError(f"gave up waiting: {what}")


def metric_total(text: str, name: str) -> float:
    return sum(float(m.group(1)) for m in re.finditer(rf"^{name}(?:{{[^}}]*}})? ([0-9.e+]+)$", text, re.M))


@pytest.fixture
def world() -> Iterator:
    scenario = build_scenario(mastodon_posts=300, bluesky_posts=200, blog_articles=20, x_posts=100)
    handle = scenario.simulator.serve().start()
    yield scenario, handle
    handle.stop()


def stop_all(processes: list[subprocess.Popen[bytes]]) -> None:
    for proc in processes:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in processes:
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_bie_serve_collects_scores_and_serves_the_leaderboard(world, tmp_path: Path) -> None:
    scenario, handle = world
    db_url = f"sqlite:///{tmp_path / 'serve.db'}"
    engine = make_engine(db_url)
    migrate.upgrade(engine)
    seed_programme(engine, scenario, handle.url, now=datetime.now(UTC))
    with Session(engine) as session:
        sources = int(session.execute(select(func.count()).select_from(table(Source))).scalar_one())
    engine.dispose()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with ExitStack() as stack:
        log = stack.enter_context((tmp_path / "serve.log").open("w"))
        proc = subprocess.Popen(
            [*BIE, "serve", "--port", str(port)], env=child_env(db_url), stdout=log, stderr=log
        )
        try:
            client = stack.enter_context(httpx.Client(base_url=base, timeout=10))

            def served() -> bool:
                try:
                    return client.get("/healthz").status_code == 200
                except httpx.TransportError:
                    return False

            wait_until(served, "bie serve to answer /healthz")
            assert client.get("/readyz").status_code == 200
            # one scheduler round: every source collected once (counted by the collector_runs metric)
            wait_until(
                lambda: metric_total(client.get("/metrics").text, "collector_runs_total") >= sources,
                "one collection round over every source",
            )

            def counted() -> bool:
                board = client.get("/api/v1/events/congress-demo/leaderboard", params={"limit": 5}).json()
                return bool(board["data"]) and board["data"][0]["posts_counted"] > 0

            wait_until(counted, "counted posts on the leaderboard after the first round")
            board = client.get("/api/v1/events/congress-demo/leaderboard", params={"limit": 200}).json()
            assert board["count"] == len(scenario.people)
            assert [item["rank"] for item in board["data"]] == list(range(1, len(board["data"]) + 1))
            metrics_text = client.get("/metrics").text
            assert metric_total(metrics_text, "posts_ingested_total") > 0
        finally:
            stop_all([proc])
        output = (tmp_path / "serve.log").read_text()
        # uvicorn re-raises SIGTERM after its graceful shutdown; the scheduler stopped before that
        assert proc.returncode in (0, -signal.SIGTERM), output[-2000:]
        assert "scheduler stopped" in output


@pytest.fixture
def postgres_url(tmp_path: Path) -> Iterator[str]:
    if not os.environ.get("BIE_TEST_POSTGRES_URL"):
        message = "the scaled-out drill needs PostgreSQL (BIE_TEST_POSTGRES_URL)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    url, handle = create_database("postgresql", tmp_path)
    yield url
    drop_database(handle)


def test_two_workers_and_an_api_process_on_postgresql(world, postgres_url: str, tmp_path: Path) -> None:
    scenario, handle = world
    upgrade = subprocess.run(
        [*BIE, "db", "upgrade"], env=child_env(postgres_url), capture_output=True, timeout=120
    )
    assert upgrade.returncode == 0, upgrade.stderr
    engine = make_engine(postgres_url)
    seed_programme(engine, scenario, handle.url, now=datetime.now(UTC))
    port = free_port()
    processes: list[subprocess.Popen[bytes]] = []
    with ExitStack() as stack:
        log = stack.enter_context((tmp_path / "processes.log").open("w"))
        try:
            env = child_env(postgres_url)
            for name in ("worker-1", "worker-2"):
                processes.append(
                    subprocess.Popen(
                        [*BIE, "worker"], env=env | {"BIE_WORKER_ID": name}, stdout=log, stderr=log
                    )
                )
            processes.append(
                subprocess.Popen(
                    [*BIE, "api", "--port", str(port), "--workers", "2"], env=env, stdout=log, stderr=log
                )
            )
            client = stack.enter_context(httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10))

            def ready() -> bool:
                try:
                    return client.get("/readyz").status_code == 200
                except httpx.TransportError:
                    return False

            wait_until(ready, "bie api ready on PostgreSQL")
            with Session(engine) as session:
                sources = list(session.execute(select(table(Source).c.id)).scalars())

            def every_source_ran() -> bool:
                with Session(engine) as session:
                    done = set(
                        session.execute(
                            select(table(CollectorRun).c.source_id).where(
                                table(CollectorRun).c.finished_at.is_not(None)
                            )
                        ).scalars()
                    )
                return set(sources) <= done

            wait_until(every_source_ran, "every source collected by some worker")

            def counted() -> bool:
                board = client.get("/api/v1/events/congress-demo/leaderboard", params={"limit": 3}).json()
                return bool(board["data"]) and board["data"][0]["posts_counted"] > 0

            wait_until(counted, "counted posts served by the API process")
        finally:
            stop_all(processes)
    with Session(engine) as session:
        workers = set(session.execute(select(table(CollectorRun).c.worker)).scalars())
    engine.dispose()
    assert workers <= {"worker-1", "worker-2"}
    assert workers
