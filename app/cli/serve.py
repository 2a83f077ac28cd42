"""``bie serve`` (API + pages + scheduler in one process) and ``bie demo`` (the same on a simulated world)."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import anyio
import typer
import uvicorn
from sqlalchemy import Engine
from sqlmodel import Session, select

from app.cli.collect import after_page_hook
from app.cli.common import console, handle_errors
from app.core import migrate
from app.core.db import get_engine, make_engine, set_engine
from app.core.logging import configure_logging
from app.core.settings import get_settings
from app.ingest import service as ingest
from app.ingest.models import Source
from app.ingest.scheduler import CollectionScheduler

log = logging.getLogger(__name__)


def run_server(
    engine: Engine,
    *,
    host: str,
    port: int,
    scheduler: CollectionScheduler | None,
    on_started: Callable[[], None] | None = None,
) -> None:
    """Serve the app on ``host:port``; the scheduler lives inside the app's lifespan, so it starts with
    the server and is shut down cleanly on Ctrl-C or SIGTERM before the process exits."""
    from app.main import create_app

    app = create_app(engine=engine)
    if scheduler is not None:
        inner = app.router.lifespan_context

        @asynccontextmanager
        async def lifespan(application: Any) -> AsyncIterator[Any]:
            async with inner(application) as state:
                scheduler.start()
                try:
                    yield state
                finally:
                    await anyio.to_thread.run_sync(scheduler.shutdown)
                    log.info("scheduler stopped")

        app.router.lifespan_context = lifespan
    config = uvicorn.Config(app, host=host, port=port, log_config=None, server_header=False)
    server = uvicorn.Server(config)
    if on_started is not None:
        threading.Thread(target=_when_started, args=(server, on_started), daemon=True).start()
    server.run()


def _when_started(server: uvicorn.Server, callback: Callable[[], None]) -> None:
    for _ in range(600):
        if server.started:
            callback()
            return
        threading.Event().wait(0.1)


def bootstrap_public_sources(engine: Engine) -> list[str]:
    """Follow the public tag feeds of the configured Mastodon servers (and Bluesky/X when credentials are set)."""
    settings = get_settings()
    added: list[str] = []
    with Session(engine) as session:
        existing = {(s.platform, s.url) for s in session.exec(select(Source)).all()}
        wanted: list[dict[str, object]] = [
            {"platform": "mastodon", "url": f"https://{server}", "tags": ["iucncec", "NatureForAll"]}
            for server in settings.public_mastodon_servers
        ]
        if settings.bluesky_handle and settings.bluesky_app_password:
            wanted.append(
                {
                    "platform": "bluesky",
                    "url": settings.bluesky_pds_url,
                    "tags": ["iucncec", "NatureForAll"],
                    "handle": settings.bluesky_handle,
                }
            )
        if settings.x_bearer_token:
            wanted.append({"platform": "x", "url": "https://api.x.com", "query": "#iucncec -is:retweet"})
        for spec in wanted:
            if (spec["platform"], spec["url"]) in existing:
                continue
            source = ingest.add_source(session=session, **spec)  # type: ignore[arg-type]  # keys match add_source
            added.append(f"{source.platform} {source.url}")
        session.commit()
    return added


@handle_errors
def serve(
    host: Annotated[str | None, typer.Option(help="Address to bind (default BIE_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default BIE_PORT).", min=0, max=65535)] = None,
    no_scheduler: Annotated[
        bool, typer.Option("--no-scheduler", help="Serve only; collect nothing.")
    ] = False,
    bootstrap_public: Annotated[
        bool,
        typer.Option(
            "--bootstrap-public-sources", help="Follow public Mastodon tag feeds (and set credentials)."
        ),
    ] = False,
) -> None:
    """Run the API, web pages and collection scheduler in one process (migrates the database first)."""
    settings = get_settings()
    configure_logging(settings)
    engine = get_engine()
    migrate.upgrade(engine)
    if bootstrap_public:
        for line in bootstrap_public_sources(engine):
            console.print(f"following {line}")
    scheduler = None if no_scheduler else CollectionScheduler(engine, after_page=after_page_hook())
    url = f"http://{host or settings.host}:{settings.port if port is None else port}"
    console.print(f"BlogItEarnIt at {url}  (API docs {url}/docs); Ctrl-C stops")
    run_server(
        engine, host=host or settings.host, port=settings.port if port is None else port, scheduler=scheduler
    )


DEMO_DB = Path("blogitearnit-demo.db")


@handle_errors
def demo(
    port: Annotated[int, typer.Option(help="Port for the service.", min=1, max=65535)] = 8000,
    simulator_port: Annotated[
        int, typer.Option(help="Port for the simulated networks.", min=0, max=65535)
    ] = 8765,
    keep: Annotated[bool, typer.Option("--keep", help="Keep the previous demo database.")] = False,
    seed: Annotated[int, typer.Option(help="Seed of the simulated world.")] = 0,
) -> None:
    """Start the simulator, seed a realistic programme and run the service: leaderboards move as you watch."""
    from app.demo import seed_programme
    from simulator.scenarios import build_scenario

    if "BIE_DATABASE_URL" not in os.environ:
        if not keep:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{DEMO_DB}{suffix}").unlink(missing_ok=True)
        set_engine(make_engine(f"sqlite:///./{DEMO_DB}"))
    settings = get_settings()
    configure_logging(settings)
    engine = get_engine()
    migrate.upgrade(engine)
    with console.status("starting the simulated networks…"):
        scenario = build_scenario(seed=seed)
        sim = scenario.simulator.serve(port=simulator_port).start()
    with console.status("seeding the programme…"):
        credentials = seed_programme(engine, scenario, sim.url, now=datetime.now(UTC))
    stop = threading.Event()

    def produce() -> None:  # the simulated world keeps posting
        while not stop.wait(2.0):
            scenario.tick(45)

    threading.Thread(target=produce, daemon=True, name="demo-producer").start()
    scheduler = CollectionScheduler(engine, after_page=after_page_hook())
    base = f"http://127.0.0.1:{port}"

    def announce() -> None:
        console.rule("[bold green]BlogItEarnIt demo")
        console.print(f"Open {base}/  — events calendar, leaderboards, sign-in")
        console.print(f"Congress leaderboard:  {base}/events/{credentials.congress_slug}/leaderboard")
        console.print(f"Display wall:          {base}/events/{credentials.congress_slug}/wall")
        console.print(f"API docs:              {base}/docs   simulator: {sim.url}/_sim/stats")
        for role, (email, password) in credentials.logins.items():
            console.print(f"{role:>9} login:  {email}  /  {password}")
        console.print("Ctrl-C stops everything.")

    try:
        run_server(engine, host="127.0.0.1", port=port, scheduler=scheduler, on_started=announce)
    finally:
        stop.set()
        sim.stop()
        console.print("demo stopped")


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
    app.command("demo")(demo)
