"""``bie freeze EVENT``: freeze an event's scores for judging and print the content hash."""

from __future__ import annotations

from typing import Annotated

import typer

from app.cli.common import cli_actor, console, err_console, handle_errors, unit_of_work
from app.events import service as events_service
from app.judging import service as judging


@handle_errors
def freeze(
    event: Annotated[str, typer.Argument(help="Event slug.")],
    reason: Annotated[
        str | None, typer.Option(help="Why freeze before the judging deadline (required then; audited).")
    ] = None,
) -> None:
    """Re-score the event, store its frozen snapshot once, build shortlists; print the hash."""
    with unit_of_work() as session:
        found = events_service.require_event(session=session, slug=event)
        with console.status("re-scoring and freezing…"):
            frozen = judging.freeze_event(session=session, event=found, reason=reason, **cli_actor())
        err_console.print(
            f"froze {found.slug}: rules {frozen.rules_version}, {len(frozen.snapshot['posts'])} posts, "
            f"{len(frozen.snapshot['leaderboard'])} reporters"
        )
        console.print(frozen.content_hash)


def register(app: typer.Typer) -> None:
    app.command("freeze")(freeze)
