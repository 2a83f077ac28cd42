"""``bie freeze EVENT``: freeze an event's scores for judging and print the content hash."""

from __future__ import annotations

from typing import Annotated

import typer
from sqlalchemy import select
from sqlmodel import Session

from app.cli.common import cli_actor, console, err_console, handle_errors, unit_of_work
from app.core.db import get_engine, table
from app.events import service as events_service
from app.events.models import Event
from app.ingest import service as ingest
from app.ingest.models import Post
from app.judging import service as judging


@handle_errors
def freeze(
    event: Annotated[str, typer.Argument(help="Event slug.")],
    reason: Annotated[
        str | None, typer.Option(help="Why freeze before the judging deadline (required then; audited).")
    ] = None,
    recheck: Annotated[
        bool, typer.Option(help="Re-check the event's posts on their servers first (deletions, edits).")
    ] = True,
) -> None:
    """Re-check and re-score the event, store its frozen snapshot once, build shortlists; print the hash."""
    if recheck:
        with unit_of_work() as session:
            found = events_service.require_event(session=session, slug=event)
            post_ids = event_post_ids(session, found)
        with console.status(f"re-checking {len(post_ids)} posts…"):
            result = ingest.recheck_due(engine=get_engine(), post_ids=post_ids)
        err_console.print(
            f"re-checked {result.checked} posts: {result.deleted} deleted, {result.updated} updated"
        )
        for error in result.errors:
            err_console.print(f"warning: {error}")
    with unit_of_work() as session:
        found = events_service.require_event(session=session, slug=event)
        with console.status("re-scoring and freezing…"):
            frozen = judging.freeze_event(session=session, event=found, reason=reason, **cli_actor())
        err_console.print(
            f"froze {found.slug}: rules {frozen.rules_version}, {len(frozen.snapshot['posts'])} posts, "
            f"{len(frozen.snapshot['leaderboard'])} reporters"
        )
        console.print(frozen.content_hash)


def event_post_ids(session: Session, event: Event) -> list[int]:
    """Live posts of reporters inside the event's coverage window (what a freeze would capture)."""
    posts = table(Post)
    return [
        int(i)
        for i in session.execute(
            select(posts.c.id).where(
                posts.c.reporter_id.is_not(None),
                posts.c.deleted_at.is_(None),
                posts.c.created_at >= event.window_start_at,
                posts.c.created_at < event.window_end_at,
            )
        ).scalars()
    ]


def register(app: typer.Typer) -> None:
    app.command("freeze")(freeze)
