"""``bie export leaderboard``: an event's whole leaderboard as CSV or JSON lines."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from app.cli.collect import export_app
from app.cli.common import cli_actor, err_console, handle_errors, unit_of_work
from app.events import service as events_service
from app.ingest.export import LEADERBOARD_FIELDS, ExportFormat, leaderboard_rows, write_rows


@handle_errors
def export_leaderboard(
    event: Annotated[str, typer.Option(help="Event slug.")],
    fmt: Annotated[ExportFormat, typer.Option("--format", help="jsonl or csv.")] = ExportFormat.JSONL,
    output: Annotated[
        Path | None, typer.Option(help="Write to this file instead of standard output.")
    ] = None,
) -> None:
    """Export an event's leaderboard, one line per ranked reporter (anonymous names left out)."""
    from app.audit import service as audit

    with unit_of_work() as session:
        found = events_service.require_event(session=session, slug=event)
        audit.record(
            session=session,
            action="export.leaderboard",
            target_type="event",
            target_id=found.id,
            detail={"event": found.slug, "format": fmt.value},
            **cli_actor(),
        )
        if output is None:
            write_rows(leaderboard_rows(session, found), LEADERBOARD_FIELDS, fmt, sys.stdout)
            return
        with output.open("w", encoding="utf-8", newline="") as handle:
            count = write_rows(leaderboard_rows(session, found), LEADERBOARD_FIELDS, fmt, handle)
        err_console.print(f"wrote {count} reporters to {output}")


def register(app: typer.Typer) -> None:
    export_app.command("leaderboard")(export_leaderboard)
