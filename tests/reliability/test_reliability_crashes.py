"""Crash drills with real processes: SIGKILL of ``bie worker`` (the scheduler path, with scoring after
each page), of ``bie score`` in the middle of a large incremental re-score, and of a staff process
approving subsidies between flush and commit; on PostgreSQL also the database connection itself killed
mid-transaction (``pg_terminate_backend``). After a restart: exactly the ground truth, scores equal to a
full re-score, and no half-applied decision.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, insert, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session

from app.audit.models import AuditEntry
from app.core.db import make_engine, table, writing
from app.demo import seed_programme
from app.events import service as events_service
from app.events.models import Registration
from app.ingest import service as ingest
from app.ingest.models import Post
from app.reporters.models import Account, Reporter
from app.scoring import service as scoring
from app.scoring.dirty import mark_dirty
from app.scoring.models import ScoreDirty
from app.subsidies.models import Subsidy, SubsidyState, SubsidyTransition
from app.users.models import Role, User
from simulator.core import Faults
from simulator.scenarios import build_scenario
from tests.reliability.reliability_helpers import (
    BIE,
    ENTRIES,
    SOURCES,
    World,
    assert_consistent_leaderboards,
    assert_scores_equal_full_rescore,
    child_env,
    collect_until_quiet,
    stored,
    wait_for,
)

POSTS = table(Post)
DIRTY = table(ScoreDirty)
SUBSIDIES = table(Subsidy)
TRANSITIONS = table(SubsidyTransition)
AUDIT = table(AuditEntry)


@pytest.fixture
def stack() -> Iterator[ExitStack]:
    with ExitStack() as exits:
        yield exits


def _kill(proc: subprocess.Popen[Any]) -> bool:
    """SIGKILL; True when the process was still running (the kill interrupted it)."""
    alive = proc.poll() is None
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    return alive


# --- bie worker ---------------------------------------------------------------------------------


def test_sigkill_of_bie_worker_at_random_points_then_restart_gives_truth_and_full_rescore_scores(
    fresh_db_url: str, tmp_path: Path, stack: ExitStack
) -> None:
    scenario = build_scenario(
        faults=Faults(slow_s=0.02, seed=9),
        mastodon_posts=360,
        bluesky_posts=200,
        blog_articles=24,
        x_posts=150,
        feed_size=100,
    )
    handle = scenario.simulator.serve().start()
    stack.callback(handle.stop)
    engine = make_engine(fresh_db_url)
    stack.callback(engine.dispose)
    # the demo's programme: events now, 60 verified reporters registered, a source per simulated feed
    seed_programme(engine, scenario, handle.url, now=datetime.now(UTC))
    # the demo follows every blogger's whole feed; the truth is about tagged posts, so follow the
    # blog sites' feeds filtered by the tags instead
    with Session(engine) as session:
        session.execute(update(SOURCES).where(SOURCES.c.platform == "blog").values(enabled=False))
        for spec in scenario.sources(handle.url):
            if spec.platform == "blog":
                ingest.add_source(
                    session=session,
                    platform="blog",
                    url=spec.url,
                    tags=list(spec.tags),
                    trusted=True,
                    interval_s=30,
                    validate=False,
                )
        session.commit()
    tokens = {k: v for k, v in os.environ.items() if k.startswith("BIE_DEMO_SOURCE_TOKEN_")}
    # a restarted worker comes back under the same identity and resumes its own (short) lease
    env = child_env(fresh_db_url, tokens, BIE_WORKER_ID="drill-worker", BIE_LEASE_S="3")
    log_path = tmp_path / "worker.log"
    log = stack.enter_context(log_path.open("w"))
    rng = random.Random(20261122)
    interrupted = 0
    for round_number in range(1, 6):
        proc = subprocess.Popen([*BIE, "worker", "--parallel", "4"], env=env, stdout=log, stderr=log)

        # kill at a random instant after the scheduler is up (start-up time varies with the machine's load)
        def scheduler_up(n: int = round_number) -> bool:
            return log_path.read_text().count(" running") >= n

        wait_for(scheduler_up, "the worker to start")
        time.sleep(rng.uniform(0.2, 2.5))
        interrupted += _kill(proc)
    assert interrupted == 5
    with Session(engine) as session:
        half_done = int(session.execute(select(func.count()).select_from(POSTS)).scalar_one())
    assert half_done > 0, "the killed workers never got to collect: the drill proved nothing"
    # restart and let it run until every source has had a clean pass and no score is pending
    started = datetime.now(UTC)
    proc = subprocess.Popen([*BIE, "worker", "--parallel", "4"], env=env, stdout=log, stderr=log)
    stack.callback(lambda: proc.poll() is None and _kill(proc))

    last_state: dict[str, Any] = {}

    def settled() -> bool:
        with Session(engine) as session:
            sources = session.execute(select(SOURCES).where(SOURCES.c.enabled.is_(True))).all()
            dirty = session.execute(select(func.count()).select_from(DIRTY)).scalar_one()
        keys, _ = stored(engine)
        last_state.update(
            unhealthy=[
                (s.id, s.platform, s.health, s.lease_owner, s.last_error)
                for s in sources
                if s.health != "ok" or s.lease_owner is not None
            ],
            fresh=sum(1 for s in sources if s.last_success_at and s.last_success_at >= started),
            dirty=dirty,
            missing=len(scenario.truth() - keys),
        )
        return (
            not last_state["unhealthy"]
            and last_state["fresh"] > 0
            and dirty == 0
            and not last_state["missing"]
        )

    try:
        wait_for(settled, "the restarted worker to collect everything", polls=480, every_s=0.25)
    except AssertionError as exc:
        raise AssertionError(f"{exc}: {last_state}") from None
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)
    keys, total = stored(engine)
    truth = scenario.truth()
    assert truth - keys == set(), f"{len(truth - keys)} posts lost"
    assert keys - truth == set(), "stored posts the simulator never served as live and tagged"
    with Session(engine) as session:
        distinct = session.execute(
            select(func.count()).select_from(
                select(POSTS.c.platform, POSTS.c.global_key).distinct().subquery()
            )
        ).scalar_one()
    assert distinct == total, "duplicate rows"
    assert "database is locked" not in log_path.read_text()
    entries, verdicts = assert_scores_equal_full_rescore(engine)
    assert entries > 0
    assert verdicts > 0
    assert assert_consistent_leaderboards(engine) == entries


# --- bie score ----------------------------------------------------------------------------------


def seed_dirty_reporters(engine: Engine, *, reporters: int, posts_each: int) -> int:
    """An event with many registered, verified reporters and their posts, all waiting to be scored."""
    now = datetime.now(UTC)
    start = date(2025, 10, 9)
    with Session(writing(engine)) as session:
        spec = events_service.parse_event(
            {
                "slug": "crash-score",
                "name": "Crash drill",
                "start": "2025-10-09",
                "end": "2025-10-15",
                "timezone": "UTC",
            }
        )
        event = events_service.create_event(session=session, spec=spec)
        first = (
            int(session.execute(select(func.coalesce(func.max(table(Reporter).c.id), 0))).scalar_one()) + 1
        )
        ids = list(range(first, first + reporters))
        session.execute(
            insert(table(Reporter)),
            [
                {"id": rid, "name": f"Reporter {rid}", "public_listing": True, "bio": "", "created_at": now}
                for rid in ids
            ],
        )
        session.execute(
            insert(table(Account)),
            [
                {
                    "id": rid,
                    "reporter_id": rid,
                    "platform": "mastodon",
                    "account_key": f"mastodon:r{rid}@load.example",
                    "handle": f"r{rid}@load.example",
                    "state": "verified",
                    "verified_at": now,
                    "created_at": now,
                }
                for rid in ids
            ],
        )
        session.execute(
            insert(table(Registration)),
            [
                {
                    "event_id": event.id,
                    "reporter_id": rid,
                    "registered_at": datetime(2025, 9, 1, tzinfo=UTC),
                    "channel": "import",
                }
                for rid in ids
            ],
        )
        rng = random.Random(7)
        words = (
            "mangrove reef peatland ranger youth finance ocean forest river grassland coral seagrass".split()
        )
        posts = []
        for rid in ids:
            for n in range(posts_each):
                day = start + timedelta(days=rng.randrange(7))
                body = " ".join(rng.choice(words) for _ in range(12))
                posts.append(
                    {
                        "platform": "mastodon",
                        "global_key": f"https://load.example/{rid}/{n}",
                        "local_id": f"{rid}{n}",
                        "author_key": f"mastodon:r{rid}@load.example",
                        "account_id": rid,
                        "reporter_id": rid,
                        "created_at": datetime(day.year, day.month, day.day, 9 + n, tzinfo=UTC),
                        "first_seen_at": now,
                        "last_seen_at": now,
                        "text": f"{body} #iucncec",
                        "tags": ["iucncec"],
                        "media_count": n % 2,
                        "kind": "post",
                        "visibility": "public",
                        "likes": rng.randrange(9),
                        "reposts": rng.randrange(3),
                        "replies": 0,
                        "raw": {},
                        "excluded": False,
                        "recheck_stage": 3,
                        "missing_count": 0,
                    }
                )
        session.execute(insert(POSTS), posts)
        mark_dirty(session, ids)
        session.commit()
    return reporters


def test_sigkill_during_bie_score_leaves_the_queue_intact_and_scores_equal_a_full_rescore(
    fresh_db_url: str, tmp_path: Path, stack: ExitStack
) -> None:
    engine = make_engine(fresh_db_url)
    stack.callback(engine.dispose)
    reporters = seed_dirty_reporters(engine, reporters=2000, posts_each=3)
    env = child_env(fresh_db_url)
    log = stack.enter_context((tmp_path / "score.log").open("w"))
    rng = random.Random(31)
    interrupted = 0
    scored_before = 0
    for _ in range(3):
        proc = subprocess.Popen([*BIE, "score"], env=env, stdout=log, stderr=log)

        def progressed(before: int = scored_before, proc: subprocess.Popen[bytes] = proc) -> bool:
            with Session(engine) as session:
                scored = session.execute(select(func.count()).select_from(ENTRIES)).scalar_one()
            return scored > before or proc.poll() is not None

        # the kill lands while the re-score runs: after its next batch is committed, at a random instant
        wait_for(progressed, "bie score to commit a batch", polls=1200, every_s=0.05)
        time.sleep(rng.uniform(0.0, 0.6))
        interrupted += _kill(proc)
        with Session(engine) as session:
            dirty = set(session.execute(select(DIRTY.c.reporter_id)).scalars())
            scored_ids = set(session.execute(select(ENTRIES.c.reporter_id)).scalars())
        # a reporter leaves the queue only in the transaction that stores their scores
        assert len(dirty | scored_ids) == reporters, "a reporter left the queue without being scored"
        scored_before = len(scored_ids)
        if not dirty:
            break
    assert interrupted >= 2, "bie score finished before the kills: make the dirty set larger"
    done = subprocess.run([*BIE, "score"], env=env, stdout=log, stderr=log, timeout=300)
    assert done.returncode == 0
    with Session(engine) as session:
        assert session.execute(select(func.count()).select_from(DIRTY)).scalar_one() == 0
    entries, verdicts = assert_scores_equal_full_rescore(engine)
    assert entries == reporters
    assert verdicts == reporters * 3
    assert assert_consistent_leaderboards(engine) == reporters


def test_two_scorers_at_once_never_collide_and_equal_a_full_rescore(fresh_db_url: str) -> None:
    """Workers score after every page, several at a time: they must queue, not insert verdicts twice."""
    engine = make_engine(fresh_db_url)
    try:
        reporters = seed_dirty_reporters(engine, reporters=400, posts_each=3)
        failures: list[BaseException] = []

        def score() -> None:
            try:
                scoring.rescore_dirty(engine=engine, batch=50)
            except BaseException as exc:  # noqa: BLE001  (collected: any failure fails the test)
                failures.append(exc)

        threads = [threading.Thread(target=score) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=300)
        assert failures == []
        entries, _ = assert_scores_equal_full_rescore(engine)
        assert entries == reporters
        assert assert_consistent_leaderboards(engine) == reporters
    finally:
        engine.dispose()


# --- subsidy approvals --------------------------------------------------------------------------


def seed_proposals(engine: Engine, *, count: int, budget: str) -> tuple[int, int]:
    """An event with ``count`` proposed subsidies of 250.00 CHF and a staff member; return their ids."""
    now = datetime.now(UTC)
    with Session(writing(engine)) as session:
        spec = events_service.parse_event(
            {
                "slug": "crash-subsidies",
                "name": "Crash drill",
                "start": "2025-10-09",
                "end": "2025-10-15",
                "timezone": "UTC",
                "fee": "500",
                "currency": "CHF",
                "subsidy_cap": "300",
                "budget": budget,
            }
        )
        event = events_service.create_event(session=session, spec=spec)
        staff = User(email="staff@drill.example", name="Drill staff", password_hash="-", role=Role.STAFF)
        session.add(staff)
        session.flush()
        first = (
            int(session.execute(select(func.coalesce(func.max(table(Reporter).c.id), 0))).scalar_one()) + 1
        )
        ids = list(range(first, first + count))
        session.execute(
            insert(table(Reporter)),
            [
                {"id": rid, "name": f"Reporter {rid}", "public_listing": True, "bio": "", "created_at": now}
                for rid in ids
            ],
        )
        for rid in ids:
            subsidy = Subsidy(
                event_id=event.id,
                reporter_id=rid,
                state=SubsidyState.PROPOSED,
                amount=Decimal("250.00"),
                currency="CHF",
                proposed_at=now,
            )
            session.add(subsidy)
            session.flush()
            session.add(
                SubsidyTransition(
                    subsidy_id=subsidy.id,
                    from_state=None,
                    to_state=SubsidyState.PROPOSED,
                    amount=Decimal("250.00"),
                    at=now,
                    reason="eligible",
                )
            )
        session.commit()
        assert event.id is not None
        assert staff.id is not None
        return event.id, staff.id


def assert_no_half_applied_decision(engine: Engine, event_id: int, budget: Decimal) -> dict[str, int]:
    """Each subsidy is approved with exactly one approval transition and one audit entry, or not at all."""
    with Session(engine) as session:
        states = dict(
            session.execute(
                select(SUBSIDIES.c.id, SUBSIDIES.c.state).where(SUBSIDIES.c.event_id == event_id)
            ).all()
        )
        approvals = dict(
            session.execute(
                select(TRANSITIONS.c.subsidy_id, func.count())
                .where(TRANSITIONS.c.to_state == SubsidyState.APPROVED)
                .group_by(TRANSITIONS.c.subsidy_id)
            ).all()
        )
        audited = dict(
            session.execute(
                select(AUDIT.c.target_id, func.count())
                .where(AUDIT.c.action == "subsidy.approve")
                .group_by(AUDIT.c.target_id)
            ).all()
        )
        committed = session.execute(
            select(func.coalesce(func.sum(SUBSIDIES.c.amount), 0)).where(
                SUBSIDIES.c.event_id == event_id, SUBSIDIES.c.state.in_(("approved", "paid"))
            )
        ).scalar_one()
    for subsidy_id, state in states.items():
        expected = 1 if state == SubsidyState.APPROVED else 0
        assert approvals.get(subsidy_id, 0) == expected, f"subsidy {subsidy_id} ({state}): transitions"
        assert audited.get(str(subsidy_id), 0) == expected, f"subsidy {subsidy_id} ({state}): audit entries"
    assert Decimal(committed) <= budget
    counts: dict[str, int] = {}
    for state in states.values():
        counts[state] = counts.get(state, 0) + 1
    return counts


class Approver:
    """The approver child process with its output read line by line on a thread."""

    def __init__(self, db_url: str, event_id: int, staff_id: int, *extra: str) -> None:
        args = [
            sys.executable,
            "-m",
            "tests.reliability.reliability_approver",
            str(event_id),
            str(staff_id),
            *extra,
        ]
        self.proc = subprocess.Popen(
            args, env=child_env(db_url), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        self.lines: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.strip())

    def words(self) -> list[list[str]]:
        return [line.split() for line in list(self.lines)]

    def pending(self) -> tuple[int, int] | None:
        """The decision flushed but not (yet) committed, with its backend pid."""
        flushed: dict[int, int] = {}
        for words in self.words():
            if words and words[0] == "flushed":
                flushed[int(words[1])] = int(words[2])
            elif words and words[0] in ("committed", "lost", "refused"):
                flushed.pop(int(words[1]), None)
        return next(iter(flushed.items()), None)

    def has_committed(self) -> bool:
        return any(words[0] == "committed" for words in self.words() if words)

    def has_pending(self) -> bool:
        return self.pending() is not None

    def finish(self) -> None:
        self.proc.wait(timeout=120)
        self.reader.join(timeout=10)
        assert self.proc.stdout is not None
        self.proc.stdout.close()


def test_sigkill_of_a_staff_process_between_flush_and_commit_leaves_no_half_applied_approval(
    fresh_db_url: str,
) -> None:
    budget = Decimal("15000")  # 60 of the 80 proposals fit
    engine = make_engine(fresh_db_url)
    event_id, staff_id = seed_proposals(engine, count=80, budget=str(budget))
    rng = random.Random(44)
    caught_mid_transaction = 0
    try:
        for _ in range(4):
            approver = Approver(fresh_db_url, event_id, staff_id, "--hold-every", "3", "--hold-s", "0.3")
            wait_for(approver.has_committed, "a first approval", polls=600)
            time.sleep(rng.uniform(0.0, 0.5))
            wait_for(approver.has_pending, "a flushed approval", polls=400, every_s=0.01)
            _kill(approver.proc)
            approver.finish()
            last = approver.pending()  # what was flushed and not committed when the kill landed
            if last is not None:
                caught_mid_transaction += 1
            if last is not None:
                with Session(engine) as session:
                    state = session.execute(
                        select(SUBSIDIES.c.state).where(SUBSIDIES.c.id == last[0])
                    ).scalar_one()
                assert state == SubsidyState.PROPOSED, (
                    f"subsidy {last[0]} was flushed, never committed, yet {state}"
                )
            assert_no_half_applied_decision(engine, event_id, budget)
        approver = Approver(fresh_db_url, event_id, staff_id)
        approver.finish()
        assert approver.lines[-1] == "done", approver.lines[-5:]
        counts = assert_no_half_applied_decision(engine, event_id, budget)
        assert counts == {"approved": 60, "proposed": 20}
        assert caught_mid_transaction >= 1, "no kill landed inside a transaction: the drill proved nothing"
    finally:
        engine.dispose()


@pytest.fixture
def postgres_fresh_url(db_kind: str, fresh_db_url: str) -> str:
    if db_kind != "postgresql":
        pytest.skip("pg_terminate_backend is PostgreSQL's; on SQLite the process kill above is the drill")
    return fresh_db_url


def _terminate(engine: Engine, pid: int) -> bool:
    with engine.connect() as conn:
        return bool(conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar_one())


def test_a_database_connection_killed_mid_approval_rolls_the_decision_back(postgres_fresh_url: str) -> None:
    budget = Decimal("5000")  # 20 of the 30 proposals fit
    engine = make_engine(postgres_fresh_url)
    event_id, staff_id = seed_proposals(engine, count=30, budget=str(budget))
    try:
        approver = Approver(postgres_fresh_url, event_id, staff_id, "--hold-every", "4", "--hold-s", "1.5")
        killed: list[int] = []
        for _ in range(3):
            seen = set(killed)

            def held(seen: set[int] = seen) -> bool:
                pending = approver.pending()
                return pending is not None and pending[0] not in seen and _is_held(approver, pending[0])

            wait_for(held, "a held approval", polls=200, every_s=0.05)
            subsidy_id, pid = approver.pending()  # type: ignore[misc]
            assert _terminate(engine, pid)
            killed.append(subsidy_id)
        approver.finish()
        lost = [int(w[1]) for w in approver.words() if w and w[0] == "lost"]
        assert lost == killed
        assert approver.lines[-1] == "done"
        with Session(engine) as session:
            states = dict(
                session.execute(
                    select(SUBSIDIES.c.id, SUBSIDIES.c.state).where(SUBSIDIES.c.id.in_(killed))
                ).all()
            )
        assert set(states.values()) == {SubsidyState.PROPOSED}
        counts = assert_no_half_applied_decision(engine, event_id, budget)
        assert counts == {"approved": 20, "proposed": 10}
    finally:
        engine.dispose()


def _is_held(approver: Approver, subsidy_id: int) -> bool:
    # the approver holds every 4th transaction: the 4th, 8th, ... line that says "flushed"
    flushed = [int(w[1]) for w in approver.words() if w and w[0] == "flushed"]
    return subsidy_id in flushed and (flushed.index(subsidy_id) + 1) % 4 == 0


def test_database_connections_killed_mid_collection_lose_and_duplicate_nothing(
    postgres_fresh_url: str,
) -> None:
    scenario = build_scenario(
        faults=Faults(slow_s=0.01, seed=2),
        mastodon_posts=300,
        bluesky_posts=150,
        blog_articles=16,
        x_posts=150,
        feed_size=100,
    )
    handle = scenario.simulator.serve().start()
    engine = make_engine(postgres_fresh_url)
    world = World(scenario, handle, engine)
    from tests.reliability.reliability_helpers import add_sources, collect_round

    add_sources(world)
    admin = make_engine(postgres_fresh_url)
    stop = threading.Event()
    terminated = [0]

    def killer() -> None:
        rng = random.Random(3)
        while not stop.wait(rng.uniform(0.05, 0.3)):
            with admin.connect() as conn:
                terminated[0] += int(
                    conn.execute(
                        text(
                            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                        )
                    ).scalar_one()
                )

    errors: list[str] = []
    thread = threading.Thread(target=killer, daemon=True)
    try:
        thread.start()
        for _ in range(6):
            try:
                collect_round(world, attempts=3)
            except DBAPIError as exc:  # the run's own bookkeeping lost its connection: the next one resumes
                errors.append(type(exc.orig).__name__)
        stop.set()
        thread.join(timeout=10)
        assert terminated[0] > 0
        collect_until_quiet(world)
        keys, total = stored(engine)
        truth = scenario.truth()
        assert truth - keys == set(), f"{len(truth - keys)} posts lost"
        assert keys - truth == set()
        with Session(engine) as session:
            distinct = session.execute(
                select(func.count()).select_from(
                    select(POSTS.c.platform, POSTS.c.global_key).distinct().subquery()
                )
            ).scalar_one()
        assert distinct == total
    finally:
        stop.set()
        handle.stop()
        engine.dispose()
        admin.dispose()
