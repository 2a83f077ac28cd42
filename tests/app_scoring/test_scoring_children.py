"""A large full re-score may be scored by child processes (``bie score --full``): what is stored must be
exactly what scoring in one process stores, a child's failure must leave nothing written, and small,
in-memory or single-core runs stay in process."""

from __future__ import annotations

import multiprocessing
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, select
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session

from app.core.db import make_engine, table
from app.events.models import Event
from app.scoring import service as scoring
from app.scoring.models import LeaderboardEntry, PostVerdict, ScoreDigest
from bench.generate import SCALES, generate

NOW = datetime(2025, 10, 20, 12, tzinfo=UTC)
STORED = (table(PostVerdict), table(ScoreDigest), table(LeaderboardEntry))


@pytest.fixture
def generated(fresh_db_url: str) -> Iterator[Engine]:
    """The benchmark generator's tiny programme (3 events, 60 reporters, 3,000 posts), committed: the
    children read through connections of their own."""
    engine = make_engine(fresh_db_url)
    generate(engine, SCALES["tiny"])
    yield engine
    engine.dispose()


def everything_stored(engine: Engine) -> list[list[tuple[Any, ...]]]:
    """Every stored row of every table scoring writes, all columns but the surrogate id."""
    with engine.connect() as conn:
        found = []
        for stored in STORED:
            columns = [column for column in stored.columns if column.name != "id"]
            found.append(sorted((tuple(row) for row in conn.execute(select(*columns))), key=repr))
        return found


def rescore_everything(engine: Engine, processes: int) -> None:
    with Session(engine, expire_on_commit=False) as session:
        events = list(session.execute(select(Event).order_by(Event.id)).scalars())  # type: ignore[arg-type]
        scoring.rescore_events(session, events, NOW, processes=processes)
        session.commit()


def forget_scores(engine: Engine) -> None:
    with engine.begin() as conn:
        for stored in STORED:
            conn.execute(delete(stored))


@pytest.fixture
def pools(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Children for any scope of two reporters or more, chunks of seven, on a machine said to have two
    cores (so that the test means the same on any machine); records each pool's number of children."""
    monkeypatch.setattr(scoring, "CHILDREN_MIN_REPORTERS", 2)
    monkeypatch.setattr(scoring, "CHILD_CHUNK", 7)
    monkeypatch.setattr(scoring, "usable_cores", lambda: 2)
    started: list[int] = []
    real = scoring.child_pool

    @contextmanager
    def recorded(processes: int, *args: Any) -> Iterator[Any]:
        started.append(processes)
        with real(processes, *args) as pool:
            yield pool

    monkeypatch.setattr(scoring, "child_pool", recorded)
    return started


def test_child_processes_store_exactly_what_scoring_in_one_process_stores(
    generated: Engine, pools: list[int]
) -> None:
    rescore_everything(generated, processes=2)
    assert pools == [2]
    by_children = everything_stored(generated)
    verdicts, digests, entries = by_children
    assert len(verdicts) > 3000
    assert len(digests) > len(entries) > 60  # every event's registered reporters, and those with posts

    forget_scores(generated)
    rescore_everything(generated, processes=0)
    assert pools == [2]  # no pool the second time
    assert everything_stored(generated) == by_children

    rescore_everything(generated, processes=2)  # results stored already: nothing changes
    assert everything_stored(generated) == by_children


def test_a_failing_child_stores_nothing_and_leaves_no_process_behind(
    generated: Engine, pools: list[int], monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    # the children open a database that is not there: their first read fails
    monkeypatch.setattr(scoring, "_database_url", lambda session: f"sqlite:///{tmp_path}/missing/nowhere.db")
    with pytest.raises(Exception, match="unable to open database file"):
        rescore_everything(generated, processes=2)
    assert pools == [2]
    assert everything_stored(generated) == [[], [], []]
    assert multiprocessing.active_children() == []


@pytest.mark.parametrize(
    ("url", "reporters", "processes", "cores", "children"),
    [
        ("postgresql+psycopg://db/bie", 400, 2, 2, 2),
        ("postgresql+psycopg://db/bie", 400, 8, 2, 2),  # at most one per core
        ("postgresql+psycopg://db/bie", 399, 2, 2, 0),  # too few reporters to pay for starting them
        ("postgresql+psycopg://db/bie", 400, 2, 1, 0),  # one core: nothing to overlap
        ("postgresql+psycopg://db/bie", 400, 0, 2, 0),  # not allowed by the caller
        ("sqlite:////var/lib/bie.db", 400, 2, 2, 2),
        ("sqlite://", 400, 2, 2, 0),  # in memory: no other process can open it
        ("sqlite:///:memory:", 400, 2, 2, 0),
    ],
)
def test_children_are_used_only_where_they_can_help(
    url: str, reporters: int, processes: int, cores: int, children: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(scoring, "usable_cores", lambda: cores)
    assert scoring._children_for(make_url(url), reporters, processes) == children


# Run in a subprocess: a full re-score by two children whose parent stops after writing the first chunk.
_STUCK_PARENT = """
import sys, threading
from app.scoring import service as scoring
from bench.rescore import full_rescore
scoring.CHILDREN_MIN_REPORTERS, scoring.CHILD_CHUNK, scoring.usable_cores = 2, 7, lambda: 2
real = scoring._write_chunk
def stuck(*args, **kwargs):
    real(*args, **kwargs)
    print("written", flush=True)
    threading.Event().wait()  # until killed
scoring._write_chunk = stuck
full_rescore(sys.argv[1], processes=2)
"""


def _live_children(parent: int) -> list[int]:
    """Processes whose parent is ``parent`` and that have not exited (zombies count as exited)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        if int(fields[1]) == parent and fields[0] != "Z":
            found.append(int(stat.parent.name))
    return found


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc (Linux)")
def test_children_exit_when_the_re_score_is_killed_and_nothing_is_stored(generated: Engine) -> None:
    url = generated.url.render_as_string(hide_password=False)
    with subprocess.Popen(
        [sys.executable, "-c", _STUCK_PARENT, url], stdout=subprocess.PIPE, text=True, cwd=Path.cwd()
    ) as process:
        try:
            assert process.stdout is not None
            assert process.stdout.readline().strip() == "written"
            children = [pid for pid in _live_children(process.pid) if b"spawn_main" in _cmdline(pid)]
            assert len(children) == 2
        finally:
            process.kill()
            process.wait()
    deadline = time.monotonic() + 10
    while any(_alive(pid) for pid in children) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [pid for pid in children if _alive(pid)]
    assert everything_stored(generated) == [[], [], []]  # the transaction never committed


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"
