"""Load with ingest on SQLite: 50 concurrent HTTP clients send a fixed number of requests (leaderboards,
a reporter's standing, events) to a live ``bie api`` on 127.0.0.1 while a ``bie worker`` keeps
collecting from a simulated world that keeps posting, and scoring after every page. Zero errors, no
"database is locked", and leaderboards stay consistent (ranks 1..N without gaps, counted posts equal
to the verdicts) in every answer and in the database throughout.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import statistics
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlmodel import Session

from app.core import migrate
from app.core.db import make_engine, table, writing
from app.demo import seed_programme
from app.ingest.models import CollectorRun, Post, Source
from app.users import auth
from app.users.models import User
from simulator.scenarios import build_scenario
from tests.reliability.reliability_helpers import (
    BIE,
    assert_consistent_leaderboards,
    child_env,
    free_port,
    wait_for,
)

CLIENTS = 50
REQUESTS = 2000
RUNS = table(CollectorRun)
POSTS = table(Post)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def load(base: str, token: str, paths: list[tuple[str, bool]]) -> dict[str, Any]:
    """Send ``REQUESTS`` requests from ``CLIENTS`` concurrent clients; check each answer."""
    latencies: list[float] = []
    errors: list[str] = []
    boards = 0
    queue: asyncio.Queue[tuple[str, bool]] = asyncio.Queue()
    for n in range(REQUESTS):
        queue.put_nowait(paths[n % len(paths)])
    # no connection reuse: a kept-alive connection the server closes just as a request goes out fails on
    # the client side (ReadError) although the server never saw the request; that is not a server error
    limits = httpx.Limits(max_connections=CLIENTS, max_keepalive_connections=0)

    async def client_task(client: httpx.AsyncClient) -> None:
        nonlocal boards
        while not queue.empty():
            path, authenticated = queue.get_nowait()
            headers = {"Authorization": f"Bearer {token}"} if authenticated else {}
            started = time.perf_counter()
            try:
                response = await client.get(path, headers=headers)
            except httpx.HTTPError as exc:
                errors.append(f"{path}: {type(exc).__name__}")
                continue
            latencies.append(time.perf_counter() - started)
            if response.status_code != 200:
                errors.append(f"{path}: {response.status_code} {response.text[:200]}")
                continue
            if "/leaderboard" in path:
                body = response.json()
                ranks = [item["rank"] for item in body["data"]]
                if ranks != list(range(1, len(ranks) + 1)) or len(ranks) != min(body["count"], 100):
                    errors.append(f"{path}: ranks {ranks[:20]} of {body['count']}")
                boards += 1

    async with httpx.AsyncClient(base_url=base, timeout=30, limits=limits) as client:
        started = time.perf_counter()
        await asyncio.gather(*(client_task(client) for _ in range(CLIENTS)))
        elapsed = time.perf_counter() - started
    return {
        "requests": len(latencies) + len(errors),
        "errors": errors,
        "leaderboards_checked": boards,
        "seconds": round(elapsed, 2),
        "rps": round(len(latencies) / elapsed, 1),
        "p50_ms": round(1000 * statistics.median(latencies), 1),
        "p99_ms": round(1000 * percentile(latencies, 0.99), 1),
        "max_ms": round(1000 * max(latencies), 1),
    }


def test_the_api_under_load_while_collection_and_scoring_run_on_sqlite(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'load.db'}"
    engine = make_engine(db_url)
    migrate.upgrade(engine)
    scenario = build_scenario(mastodon_posts=600, bluesky_posts=300, blog_articles=30, x_posts=200)
    with ExitStack() as stack:
        handle = scenario.simulator.serve().start()
        stack.callback(handle.stop)
        stack.callback(engine.dispose)
        credentials = seed_programme(engine, scenario, handle.url, now=datetime.now(UTC))
        with Session(writing(engine)) as session:
            session.execute(table(Source).update().values(interval_s=1))  # collect all the time
            user = session.execute(
                select(User).where(table(User).c.email == credentials.logins["reporter"][0])
            ).scalar_one()
            token, _ = auth.create_token(session=session, user=user, name="load drill", expires_at=None)
            session.commit()
        tokens = {k: v for k, v in os.environ.items() if k.startswith("BIE_DEMO_SOURCE_TOKEN_")}
        env = child_env(db_url, tokens, BIE_WORKER_ID="load-worker")
        log_path = tmp_path / "processes.log"
        log = stack.enter_context(log_path.open("w"))
        port = free_port()
        processes = [
            subprocess.Popen(
                [*BIE, "api", "--host", "127.0.0.1", "--port", str(port)], env=env, stdout=log, stderr=log
            ),
            subprocess.Popen([*BIE, "worker", "--parallel", "4"], env=env, stdout=log, stderr=log),
        ]
        stack.callback(_stop, processes)
        base = f"http://127.0.0.1:{port}"

        def answering() -> bool:
            try:
                return httpx.get(f"{base}/healthz", timeout=2).status_code == 200
            except httpx.TransportError:
                return False

        wait_for(answering, "bie api to answer", polls=600)

        def collected() -> bool:
            with Session(engine) as session:
                return bool(session.execute(select(func.count()).select_from(POSTS)).scalar_one())

        wait_for(collected, "the worker's first posts", polls=600)
        # the world keeps posting, so every collection pass has new posts to store and score
        stop = threading.Event()

        def produce() -> None:
            while not stop.wait(0.3):
                scenario.tick(30)

        producer = threading.Thread(target=produce, daemon=True)
        producer.start()
        stack.callback(stop.set)
        with Session(engine) as session:
            runs_before = session.execute(select(func.count()).select_from(RUNS)).scalar_one()
            posts_before = session.execute(select(func.count()).select_from(POSTS)).scalar_one()
        checks: list[int] = []
        check_errors: list[str] = []

        def check_database() -> None:  # the database's own view stays consistent during the load
            while not stop.wait(0.5):
                try:
                    checks.append(assert_consistent_leaderboards(engine))
                except AssertionError as exc:
                    check_errors.append(str(exc))

        checker = threading.Thread(target=check_database, daemon=True)
        checker.start()
        paths = [
            ("/api/v1/events/congress-demo/leaderboard?limit=100", False),
            ("/api/v1/me/standing/congress-demo?limit=20", True),
            ("/api/v1/events", False),
            ("/api/v1/events/congress-demo/leaderboard?limit=100", False),
            ("/api/v1/events/youth-summit-demo/leaderboard?limit=100", False),
            ("/api/v1/events/congress-demo", False),
        ]
        # own thread: asyncio.run refuses to start where an event loop is already running
        with ThreadPoolExecutor(1) as pool:
            figures = pool.submit(asyncio.run, load(base, token, paths)).result()
        stop.set()
        checker.join(timeout=30)
        with Session(engine) as session:
            runs_during = session.execute(select(func.count()).select_from(RUNS)).scalar_one() - runs_before
            posts_during = (
                session.execute(select(func.count()).select_from(POSTS)).scalar_one() - posts_before
            )
        figures.update(
            collector_runs_during_load=runs_during,
            posts_stored_during_load=posts_during,
            db_checks=len(checks),
        )
        (tmp_path / "figures.json").write_text(json.dumps(figures, indent=2))
        print("load figures:", json.dumps({k: v for k, v in figures.items() if k != "errors"}))
        assert figures["errors"] == [], figures["errors"][:10]
        assert figures["requests"] == REQUESTS
        assert check_errors == [], check_errors[:5]
        assert checks, "the database was never checked during the load"
        assert runs_during > 0, "no collection ran during the load: the drill proved nothing"
        assert posts_during > 0, "nothing was stored during the load: the drill proved nothing"
    output = log_path.read_text()
    assert "database is locked" not in output
    assert "Traceback" not in output, output[-3000:]


def _stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for proc in processes:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in processes:
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)
