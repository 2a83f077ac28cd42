"""What every benchmark shares: throw-away databases, subprocess runs with peak memory, medians, the machine.

The benchmarks never touch the user's database: SQLite runs in a temporary file, PostgreSQL in a
fresh database created next to ``BIE_BENCH_POSTGRES_URL`` (or ``BIE_TEST_POSTGRES_URL``) and dropped
afterwards.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from app.core import migrate
from app.core.db import make_engine

ROOT = Path(__file__).resolve().parent.parent


def postgres_admin_url() -> str | None:
    """The PostgreSQL server the benchmarks may create databases on, if any."""
    return os.environ.get("BIE_BENCH_POSTGRES_URL") or os.environ.get("BIE_TEST_POSTGRES_URL")


@dataclass
class BenchDatabase:
    """One throw-away, migrated database (``kind`` is "sqlite" or "postgresql")."""

    kind: str
    url: str
    _cleanup: Callable[[], None] = field(repr=False)

    def engine(self, **kwargs: Any) -> Engine:
        return make_engine(self.url, **kwargs)

    def drop(self) -> None:
        self._cleanup()


def _create_empty(kind: str, directory: Path) -> BenchDatabase:
    if kind == "sqlite":
        path = directory / f"bench-{uuid.uuid4().hex[:8]}.db"

        def remove() -> None:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)

        return BenchDatabase(kind, f"sqlite:///{path}", remove)
    admin_url = postgres_admin_url()
    if not admin_url:
        raise RuntimeError("PostgreSQL benchmarks need BIE_BENCH_POSTGRES_URL or BIE_TEST_POSTGRES_URL")
    name = f"bie_bench_{uuid.uuid4().hex[:10]}"
    admin = make_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    return BenchDatabase(kind, url, drop)


@contextmanager
def bench_database(kind: str, directory: Path | None = None) -> Iterator[BenchDatabase]:
    """A fresh, migrated database of ``kind``, dropped on exit."""
    with tempfile.TemporaryDirectory(prefix="bie-bench-", dir=directory) as tmp:
        database = _create_empty(kind, Path(tmp))
        try:
            engine = database.engine()
            migrate.upgrade(engine)
            engine.dispose()
            yield database
        finally:
            database.drop()


@contextmanager
def copies_of(template: BenchDatabase) -> Iterator[Callable[[], BenchDatabase]]:
    """A factory of fresh copies of ``template`` (file copy / ``CREATE DATABASE … TEMPLATE``)."""
    made: list[BenchDatabase] = []
    with tempfile.TemporaryDirectory(prefix="bie-bench-copy-") as tmp:

        def copy() -> BenchDatabase:
            if template.kind == "sqlite":
                source = Path(str(make_url(template.url).database))
                target = Path(tmp) / f"copy-{uuid.uuid4().hex[:8]}.db"
                shutil.copyfile(source, target)
                database = BenchDatabase(
                    "sqlite", f"sqlite:///{target}", lambda: target.unlink(missing_ok=True)
                )
            else:
                admin_url = postgres_admin_url()
                assert admin_url is not None
                name = f"bie_bench_{uuid.uuid4().hex[:10]}"
                admin = make_engine(admin_url, isolation_level="AUTOCOMMIT")
                with admin.connect() as conn:
                    conn.execute(
                        text(f'CREATE DATABASE "{name}" TEMPLATE "{make_url(template.url).database}"')
                    )

                def drop() -> None:
                    with admin.connect() as conn:
                        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                    admin.dispose()

                url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
                database = BenchDatabase("postgresql", url, drop)
            made.append(database)
            return database

        try:
            yield copy
        finally:
            for database in made:
                database.drop()


def median(values: list[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


def timed(action: Callable[[], object]) -> float:
    """Seconds ``action`` took on the wall clock."""
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def peak_rss_kib() -> int:
    """This process's peak resident set size in KiB.

    VmHWM, not ru_maxrss: Linux keeps ru_maxrss across fork+exec, so a worker started by a large
    parent reports the parent's peak (every worker showed the same figure before this).
    """
    own = _vm_hwm_kib(os.getpid())
    return own if own is not None else int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def _vm_hwm_kib(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


@contextmanager
def children_peak_rss(every_s: float = 0.5) -> Iterator[dict[int, int]]:
    """Peak resident set size (VmHWM, KiB) of each child process of this one while the block runs,
    by child pid, read from /proc every ``every_s`` (VmHWM only grows, so the last reading is the
    peak up to then; a child's last ``every_s`` may be missed). Empty where /proc is not there."""
    peaks: dict[int, int] = {}
    done = threading.Event()
    me = str(os.getpid())

    def watch() -> None:
        while True:
            for stat in Path("/proc").glob("[0-9]*/stat"):
                try:
                    parent = stat.read_text().rsplit(")", 1)[1].split()[1]
                except (OSError, IndexError):
                    continue
                if parent == me:
                    pid = int(stat.parent.name)
                    peak = _vm_hwm_kib(pid)
                    if peak is not None:
                        peaks[pid] = max(peak, peaks.get(pid, 0))
            if done.wait(every_s):
                return

    watcher = threading.Thread(target=watch, name="children-peak-rss", daemon=True)
    watcher.start()
    try:
        yield peaks
    finally:
        done.set()
        watcher.join()


def run_worker(module: str, *args: str, env: dict[str, str] | None = None, timeout_s: float = 7200) -> Any:
    """Run ``python -m module args`` and return the JSON it prints on its last stdout line."""
    completed = subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"{module} {' '.join(args)} failed:\n{completed.stderr[-4000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def emit(result: dict[str, Any]) -> None:
    """Print a worker's result as the one JSON line ``run_worker`` reads."""
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()


def machine() -> dict[str, str]:
    """Where the figures were measured."""
    memory = "?"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    postgres = "not available"
    admin_url = postgres_admin_url()
    if admin_url:
        try:
            engine = make_engine(admin_url)
            with engine.connect() as conn:
                postgres = str(conn.execute(text("SHOW server_version")).scalar_one())
            engine.dispose()
        except Exception as exc:  # noqa: BLE001  (any failure means "not available"; say why)
            postgres = f"not available ({type(exc).__name__})"
    return {
        "cpus (nproc)": str(os.cpu_count()),
        "memory": memory,
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "postgresql": postgres,
        "os": f"{platform.system()} {platform.release()}",
    }
