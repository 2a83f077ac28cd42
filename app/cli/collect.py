"""``bie sources``, ``bie collect``, ``bie recheck``, ``bie export posts``, ``bie worker``."""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from sqlmodel import Session, col, select

from app.cli.common import cli_actor, console, err_console, fail, handle_errors, unit_of_work
from app.core.db import get_engine
from app.events import service as events_service
from app.ingest import service as ingest
from app.ingest.export import EXPORT_FIELDS, ExportFormat, post_rows, write_rows
from app.ingest.models import Source
from app.ingest.scheduler import CollectionScheduler

sources_app = typer.Typer(help="Collection sources: what to follow where.", no_args_is_help=True)
export_app = typer.Typer(help="Exports for finance, research and audit.", no_args_is_help=True)

PLATFORM_ALIASES = {"rss": "blog", "atom": "blog", "feed": "blog", "twitter": "x"}


def after_page_hook() -> ingest.AfterPage | None:
    """Incremental scoring after each committed page, when the scoring service is available."""
    try:
        from app.scoring.service import rescore_dirty
    except ImportError:
        return None

    def hook(engine: Any) -> None:
        rescore_dirty(engine=engine)

    return hook


@sources_app.command("add")
@handle_errors
def sources_add(
    platform: Annotated[str, typer.Argument(help="mastodon, bluesky, rss (blog) or x.")],
    url: Annotated[str | None, typer.Option(help="Server, PDS, feed or API base URL.")] = None,
    tag: Annotated[
        list[str] | None, typer.Option(help="A hashtag to follow (repeatable), without #.")
    ] = None,
    query: Annotated[str | None, typer.Option(help='X search query, e.g. "#iucncec -is:retweet".')] = None,
    handle: Annotated[str | None, typer.Option(help="Bluesky handle for the app-password session.")] = None,
    every: Annotated[int, typer.Option(help="Seconds between collections.")] = 300,
    trusted: Annotated[
        bool, typer.Option("--trusted", help="Staff-marked: may be on a private/loopback address.")
    ] = False,
    token_env: Annotated[
        str | None, typer.Option(help="Environment variable holding a bearer token for this server.")
    ] = None,
    name: Annotated[str, typer.Option(help="A label for the health page.")] = "",
) -> None:
    """Add a source and print its id."""
    platform = PLATFORM_ALIASES.get(platform.lower(), platform.lower())
    if url is None:
        url = {"x": "https://api.x.com", "bluesky": "https://bsky.social/xrpc"}.get(platform)
        if url is None:
            raise fail("--url is required for this platform")
    if platform == "x" and not query:
        query = "#iucncec -is:retweet"
    with unit_of_work() as session:
        source = ingest.add_source(
            session=session,
            platform=platform,
            url=url,
            tags=tag or [],
            query=query,
            handle=handle,
            token_env=token_env,
            trusted=trusted,
            interval_s=every,
            name=name,
        )
        from app.audit import service as audit

        audit.record(
            session=session,
            action="source.create",
            target_type="source",
            target_id=source.id,
            detail={"platform": platform, "url": url, "trusted": trusted},
            **cli_actor(),
        )
        console.print(source.id)


def _ago(moment: datetime | None) -> str:
    if moment is None:
        return "never"
    seconds = int((datetime.now(UTC) - moment).total_seconds())
    if seconds < 0:
        return f"in {_span(-seconds)}"
    return f"{_span(seconds)} ago"


def _span(seconds: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


@sources_app.command("list")
@handle_errors
def sources_list() -> None:
    """Sources with their health at a glance."""
    colours = {"ok": "green", "new": "cyan", "failing": "red", "blocked": "magenta", "rate_limited": "yellow"}
    with unit_of_work() as session:
        sources = session.exec(select(Source).order_by(col(Source.id))).all()
        table = Table(title=f"{len(sources)} sources")
        for column in (
            "id",
            "platform",
            "follows",
            "every",
            "health",
            "last success",
            "failures",
            "next run",
            "last error",
        ):
            table.add_column(column, overflow="fold")
        for s in sources:
            follows = (
                s.url
                + (" " + " ".join(f"#{t}" for t in s.tags) if s.tags else "")
                + (f" q={s.query}" if s.query else "")
            )
            health = f"[{colours.get(s.health, 'white')}]{s.health}[/]" + ("" if s.enabled else " (disabled)")
            table.add_row(
                str(s.id),
                s.platform + (" (trusted)" if s.trusted else ""),
                follows,
                f"{s.interval_s}s",
                health,
                _ago(s.last_success_at),
                str(s.consecutive_failures),
                _ago(s.next_run_at),
                s.last_error or "",
            )
        console.print(table)


@handle_errors
def collect(
    source: Annotated[int | None, typer.Option(help="Collect only this source id.")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Collect every enabled source.")] = False,
) -> None:
    """One collection pass (ignores backoff; respects other workers' leases)."""
    if (source is None) == (not all_):
        raise fail("give exactly one of --source ID or --all")
    engine = get_engine()
    with Session(engine) as session:
        if source is not None:
            if session.get(Source, source) is None:
                raise fail(f"source {source} not found")
            ids = [source]
        else:
            ids = [int(i) for i in session.exec(select(Source.id).where(col(Source.enabled).is_(True))) if i]
    hook = after_page_hook()
    failures = 0
    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[posts]} posts"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=err_console, transient=False) as progress:
        overall = progress.add_task("sources", total=len(ids), posts=0)
        total_new = 0
        for source_id in ids:
            task = progress.add_task(f"source {source_id}", total=None, posts=0)

            def on_page(summary: ingest.RunSummary, task: Any = task) -> None:
                progress.update(task, posts=summary.new + summary.updated, advance=1)

            summary = ingest.collect_source(
                engine=engine, source_id=source_id, after_page=hook, on_page=on_page, force=True
            )
            total_new += summary.new
            progress.update(
                task,
                total=max(summary.pages, 1),
                completed=max(summary.pages, 1),
                description=f"source {source_id}: {summary.status}",
            )
            progress.update(overall, advance=1, posts=total_new)
            if summary.status not in ("ok",):
                failures += 1
                err_console.print(
                    f"source {source_id}: {summary.status}" + (f" — {summary.error}" if summary.error else "")
                )
            else:
                console.print(
                    f"source {source_id}: {summary.new} new, {summary.updated} updated, "
                    f"{summary.requests} requests"
                )
    if failures:
        raise typer.Exit(1)


@handle_errors
def recheck(limit: Annotated[int, typer.Option(help="At most this many due posts.")] = 5000) -> None:
    """Re-check posts that are due (+1 h, +1 day, +7 days): deletions, edits, engagement."""
    result = ingest.recheck_due(engine=get_engine(), limit=limit)
    hook = after_page_hook()
    if hook is not None and (result.deleted or result.updated):
        hook(get_engine())
    console.print(
        f"checked {result.checked}, deleted {result.deleted}, updated {result.updated}, "
        f"missing {result.missing}"
    )
    for error in result.errors:
        err_console.print(error)


def _post_rows(session: Session, event_slug: str | None) -> Iterator[dict[str, Any]]:
    event = events_service.require_event(session=session, slug=event_slug) if event_slug else None
    return post_rows(session, event)


@export_app.command("posts")
@handle_errors
def export_posts(
    fmt: Annotated[ExportFormat, typer.Option("--format", help="jsonl or csv.")] = ExportFormat.JSONL,
    event: Annotated[str | None, typer.Option(help="Only posts in this event's coverage window.")] = None,
    output: Annotated[
        Path | None, typer.Option(help="Write to this file instead of standard output.")
    ] = None,
) -> None:
    """Export collected posts, one line per post."""
    with unit_of_work() as session:
        if output is None:
            write_rows(_post_rows(session, event), EXPORT_FIELDS, fmt, sys.stdout)
            return
        with output.open("w", encoding="utf-8", newline="") as handle:
            count = write_rows(_post_rows(session, event), EXPORT_FIELDS, fmt, handle)
        err_console.print(f"wrote {count} posts to {output}")


@handle_errors
def worker(
    parallel: Annotated[int, typer.Option(help="Sources collected at the same time by this process.")] = 4,
    metrics_port: Annotated[
        int | None,
        typer.Option(help="Serve this worker's Prometheus metrics on 127.0.0.1:PORT.", min=1, max=65535),
    ] = None,
) -> None:
    """Run the collection scheduler until interrupted (run several; leases keep them apart)."""
    from app.core.logging import configure_logging
    from app.core.settings import get_settings

    configure_logging(get_settings())
    if metrics_port is not None:
        from prometheus_client import start_http_server

        from app.core.metrics import REGISTRY

        start_http_server(metrics_port, addr="127.0.0.1", registry=REGISTRY)
    scheduler = CollectionScheduler(get_engine(), max_parallel=parallel, after_page=after_page_hook())
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    scheduler.start()
    console.print(f"worker {scheduler.owner} running; Ctrl-C stops")
    stop.wait()
    scheduler.shutdown(wait=True)
    console.print("worker stopped")


def register(app: typer.Typer) -> None:
    app.add_typer(sources_app, name="sources")
    app.add_typer(export_app, name="export")
    app.command("collect")(collect)
    app.command("recheck")(recheck)
    app.command("worker")(worker)
