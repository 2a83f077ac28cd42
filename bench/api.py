"""API: requests/s and p50/p99 latency of the event leaderboard's first page and of a reporter's standing
(500 posts) vs a constant JSON endpoint in the same server, at 50 concurrent connections.

The server is uvicorn (uvloop, httptools) on 127.0.0.1 in a subprocess (``python -m bench.api
serve``), one process, the production app from ``create_app()`` plus one constant async route that
exists only in this benchmark's app instance. The load generator is ``wrk`` (Debian package; ``make
bench`` installs it when missing); without it, a bounded asyncio httpx generator stands in (and the
report says so).

With two CPUs or more, the server and the load generator are pinned to different CPUs (``taskset``,
util-linux; the httpx stand-in pins its own thread) and wrk runs one thread: sharing cores, the load
generator's own scheduling delays showed up as the server's latency (the constant endpoint's p99
was 141–492 ms on 2 shared cores). The database server (PostgreSQL) is not pinned.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from fastapi import Response
from sqlalchemy import update
from sqlmodel import Session

from app.core.db import make_engine, table
from app.reporters.models import Reporter
from bench.common import ROOT, median

CONNECTIONS = 50
CONSTANT_PATH = "/bench/constant"
THREAD_PROBE_PATH = "/bench/thread-probe"
CONSTANT_BODY = b'{"data":[],"count":0}'


def build_app(database_url: str) -> Any:
    """The production app on ``database_url`` plus the benchmark's constant endpoint."""
    from app.main import create_app

    app = create_app(engine=make_engine(database_url))

    # async: answered on the event loop, the cheapest route the app can have (a plain ``def`` would
    # pay a worker-thread hop and make the reference slower than a well-written endpoint)
    @app.get(CONSTANT_PATH, include_in_schema=False)
    async def constant() -> Response:
        return Response(content=CONSTANT_BODY, media_type="application/json")

    # a plain ``def``: answered in the worker-thread pool, after the requests queued there before it
    @app.get(THREAD_PROBE_PATH, include_in_schema=False)
    def thread_probe() -> Response:
        return Response(content=CONSTANT_BODY, media_type="application/json")

    return app


def serve(database_url: str, port: int) -> None:
    import uvicorn

    # the server process is the benchmark's own: anything that asks the settings for the
    # database finds the benchmark's, too
    os.environ["BIE_DATABASE_URL"] = database_url
    # uvloop and httptools explicitly (uvicorn[standard] installs both; "auto" would fall back quietly)
    uvicorn.run(
        build_app(database_url),
        host="127.0.0.1",
        port=port,
        loop="uvloop",
        http="httptools",
        log_level="warning",
        access_log=False,
    )


def reporter_token(database_url: str, reporter_id: int) -> str:
    """A bearer token of a reporter user linked to ``reporter_id`` (created for the benchmark)."""
    from app.users.auth import create_token
    from app.users.service import create_user, get_by_email

    engine = make_engine(database_url)
    email = f"bench-reporter-{reporter_id}@bench.example"
    with Session(engine) as session:
        user = get_by_email(session=session, email=email) or create_user(
            session=session, email=email, password="bench-password-123"
        )
        session.execute(
            update(table(Reporter)).where(table(Reporter).c.id == reporter_id).values(user_id=user.id)
        )
        raw, _ = create_token(
            session=session, user=user, name="bench", expires_at=datetime.now(UTC) + timedelta(days=1)
        )
        session.commit()
    engine.dispose()
    return raw


@dataclass(frozen=True, slots=True)
class Placement:
    """Which CPUs the server and the load generator run on."""

    server_cpus: tuple[int, ...]
    load_cpus: tuple[int, ...]
    pinned: bool

    def prefix(self, cpus: tuple[int, ...]) -> list[str]:
        return ["taskset", "-c", ",".join(map(str, cpus))] if self.pinned else []

    def describe(self) -> str:
        if not self.pinned:
            return f"not pinned ({len(self.server_cpus)} CPU(s) shared by the server and the load generator)"
        return (
            f"server on CPU {','.join(map(str, self.server_cpus))}, load generator on CPU "
            f"{','.join(map(str, self.load_cpus))} (taskset)"
        )


def placement() -> Placement:
    """The server on the last CPU this process may use, the load generator on the first (≥ 2 CPUs)."""
    cpus = tuple(sorted(os.sched_getaffinity(0)))
    if len(cpus) >= 2 and shutil.which("taskset"):
        return Placement(server_cpus=cpus[-1:], load_cpus=cpus[:1], pinned=True)
    return Placement(server_cpus=cpus, load_cpus=cpus, pinned=False)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s)", text.strip())
    if not match:
        raise ValueError(f"cannot read a latency from {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def wrk(url: str, *, seconds: float, headers: dict[str, str], where: Placement) -> dict[str, float]:
    """One wrk run; requests/s, p50 and p99 in ms, non-2xx count."""
    command = [
        *where.prefix(where.load_cpus),
        "wrk",
        f"-t{wrk_threads(where)}",
        f"-c{CONNECTIONS}",
        f"-d{max(1, int(seconds))}s",
        "--latency",
        "--timeout",
        "10s",
    ]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    output = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]  # wrk always prints it
    p50 = _ms(re.search(r"\s50%\s+(\S+)", output).group(1))  # type: ignore[union-attr]  # with --latency
    p99 = _ms(re.search(r"\s99%\s+(\S+)", output).group(1))  # type: ignore[union-attr]  # with --latency
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    return {"rps": rps, "p50_ms": p50, "p99_ms": p99, "errors": float(non_2xx.group(1)) if non_2xx else 0.0}


async def _httpx_load(url: str, seconds: float, headers: dict[str, str]) -> dict[str, float]:
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=CONNECTIONS, max_keepalive_connections=CONNECTIONS)
    async with httpx.AsyncClient(limits=limits, headers=headers, timeout=10) as client:

        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                start = time.perf_counter()
                response = await client.get(url)
                latencies.append((time.perf_counter() - start) * 1000)
                errors += response.status_code >= 400

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(CONNECTIONS)))
        elapsed = time.perf_counter() - start
    latencies.sort()
    return {
        "rps": len(latencies) / elapsed,
        "p50_ms": latencies[len(latencies) // 2],
        "p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
        "errors": float(errors),
    }


def wrk_threads(where: Placement) -> int:
    """One wrk thread on its own CPU; two when it shares both with the server (the old way)."""
    return 1 if where.pinned else 2


def _pinned_httpx_load(
    url: str, seconds: float, headers: dict[str, str], where: Placement
) -> dict[str, float]:
    if where.pinned:
        os.sched_setaffinity(0, where.load_cpus)  # this thread only (Linux: per-thread affinity)
    return asyncio.run(_httpx_load(url, seconds, headers))


def load(
    url: str, *, seconds: float, headers: dict[str, str] | None = None, where: Placement | None = None
) -> dict[str, float]:
    where = where or Placement(server_cpus=(), load_cpus=(), pinned=False)
    if shutil.which("wrk"):
        return wrk(url, seconds=seconds, headers=headers or {}, where=where)
    with ThreadPoolExecutor(1) as pool:  # own thread: no event loop may already be running there
        return pool.submit(_pinned_httpx_load, url, seconds, headers or {}, where).result()


def _drain(base: str, *, within_s: float = 60.0) -> None:
    """Wait until the server has worked off the requests a load run left queued (sync handlers
    cannot be cancelled when wrk hangs up), so that one run's backlog does not slow the next: until
    both the event loop (the constant endpoint) and the worker threads (a probe that queues in the
    thread pool behind whatever still waits there) answer at once. The event loop alone may answer
    while the threads are still busy with a standing run's backlog."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        start = time.perf_counter()
        httpx.get(base + THREAD_PROBE_PATH, timeout=within_s)
        httpx.get(base + CONSTANT_PATH, timeout=within_s)
        if time.perf_counter() - start < 0.05:
            return
        time.sleep(0.2)


def run(
    database_url: str,
    *,
    flagship: str,
    reporter_id: int,
    seconds: float,
    repeats: int,
    where: Placement | None = None,
) -> dict[str, Any]:
    """Median figures of each endpoint (runs interleaved, after a warm-up)."""
    where = where or placement()
    token = reporter_token(database_url, reporter_id)
    port = _free_port()
    log = tempfile.TemporaryFile()
    server = subprocess.Popen(
        [
            *where.prefix(where.server_cpus),
            sys.executable,
            "-m",
            "bench.api",
            "serve",
            "--database",
            database_url,
            "--port",
            str(port),
        ],
        cwd=ROOT,
        stdout=log,
        stderr=log,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                if httpx.get(base + CONSTANT_PATH, timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            raise RuntimeError("the benchmark server did not start")
        auth = {"Authorization": f"Bearer {token}"}
        targets = {
            "constant": (base + CONSTANT_PATH, {}),
            "leaderboard": (f"{base}/api/v1/events/{flagship}/leaderboard", {}),
            "standing": (f"{base}/api/v1/me/standing/{flagship}", auth),
        }
        for url, headers in targets.values():
            response = httpx.get(url, headers=headers, timeout=30)
            response.raise_for_status()
            load(url, seconds=1, headers=headers, where=where)  # warm-up
            _drain(base)
        runs: dict[str, list[dict[str, float]]] = {name: [] for name in targets}
        for _ in range(repeats):
            for name, (url, headers) in targets.items():
                runs[name].append(load(url, seconds=seconds, headers=headers, where=where))
                _drain(base)
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.seek(0)
        errors_logged = log.read().decode(errors="replace").count("Traceback")
        log.close()
    result: dict[str, Any] = {
        "load_generator": f"wrk -t{wrk_threads(where)}" if shutil.which("wrk") else "httpx (asyncio)",
        "server": "uvicorn (uvloop, httptools), 1 process",
        "placement": where.describe(),
    }
    for name, measured in runs.items():
        for figure in ("rps", "p50_ms", "p99_ms", "errors"):
            result[f"{name}_{figure}"] = median([m[figure] for m in measured])
    result["server_tracebacks"] = errors_logged
    result["repeats"] = repeats
    result["seconds_per_run"] = seconds
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.api", description=__doc__)
    parser.add_argument("task", choices=("serve",))
    parser.add_argument("--database", required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    serve(args.database, args.port)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
