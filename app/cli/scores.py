"""``bie score`` and ``bie leaderboard``."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table
from sqlmodel import Session, select

from app.cli.common import console, err_console, handle_errors, unit_of_work
from app.core.db import get_engine
from app.core.settings import get_settings
from app.events import service as events_service
from app.events.models import Event
from app.scoring import leaderboard as boards
from app.scoring import service as scoring
from collectors.base import Platform


@handle_errors
def score(
    event: Annotated[str | None, typer.Option(help="Only this event (slug).")] = None,
    full: Annotated[
        bool, typer.Option("--full", help="Re-score everything instead of only what changed.")
    ] = False,
) -> None:
    """Bring verdicts and leaderboards up to date (incremental unless --full)."""
    if not full and event is None:
        done = scoring.rescore_dirty(engine=get_engine())
        console.print(f"re-scored {done} reporters with new or changed posts")
        return
    with unit_of_work() as session:
        events = (
            [events_service.require_event(session=session, slug=event)]
            if event
            else list(session.exec(select(Event)).all())
        )
        with console.status(f"scoring {len(events)} event(s)…"):
            # each reporter's posts read once for all events; nothing written yet that scoring reads,
            # so child processes may score (they read committed data)
            scoring.rescore_events(session, events, processes=get_settings().scoring_processes)
        for item in events:
            err_console.print(f"scored {item.slug}")
        console.print(f"re-scored {len(events)} event(s) in full")


@handle_errors
def leaderboard(
    event: Annotated[str, typer.Argument(help="Event slug.")],
    as_json: Annotated[bool, typer.Option("--json", help="DESIGN §8 items under {data, count}.")] = False,
    platform: Annotated[Platform | None, typer.Option(help="Only posts on this platform.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=100_000, help="How many rows.")] = 50,
    offset: Annotated[int, typer.Option(min=0, help="Skip this many rows.")] = 0,
) -> None:
    """Show an event's leaderboard."""
    with Session(get_engine()) as session:
        found = events_service.require_event(session=session, slug=event)
        items, total = boards.event_leaderboard(
            session, found, offset=offset, limit=limit, platform=platform.value if platform else None
        )
    if as_json:
        typer.echo(json.dumps({"data": [i.as_json() for i in items], "count": total}, ensure_ascii=False))
        return
    table = Table(title=f"{found.name} — {total} reporters" + (f" — {platform.value}" if platform else ""))
    for column in ("rank", "reporter", "score", "posts", "days", "platforms", "move"):
        table.add_column(column, justify="right" if column in ("rank", "score", "posts", "days") else "left")
    for i in items:
        move = (
            ""
            if i.movement in (None, 0)
            else (f"▲{i.movement}" if (i.movement or 0) > 0 else f"▼{-(i.movement or 0)}")
        )
        table.add_row(
            str(i.rank),
            i.name or "(anonymous)",
            f"{i.score / 1000:.3f}",
            str(i.posts_counted),
            str(i.days_covered),
            ", ".join(i.platforms),
            move,
        )
    console.print(table)


def register(app: typer.Typer) -> None:
    app.command("score")(score)
    app.command("leaderboard")(leaderboard)
