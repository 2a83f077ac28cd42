"""``bie export subsidies``: the finance export of an event's subsidies (DESIGN §6, §8)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer

from app.cli.collect import export_app
from app.cli.common import cli_actor, err_console, handle_errors, unit_of_work
from app.events import service as events_service
from app.ingest.export import ExportFormat, write_rows
from app.subsidies import service as subsidies_service


def _safe(rows: Iterator[dict[str, Any]], fmt: ExportFormat) -> Iterator[dict[str, Any]]:
    # CSV is opened in spreadsheets: defuse formula-like cells there; JSON lines stay exact.
    for row in rows:
        yield {k: subsidies_service.csv_safe(v) for k, v in row.items()} if fmt is ExportFormat.CSV else row


@export_app.command("subsidies")
@handle_errors
def export_subsidies(
    event: Annotated[str, typer.Option(help="The event's slug.")],
    fmt: Annotated[ExportFormat, typer.Option("--format", help="csv or jsonl.")] = ExportFormat.CSV,
    output: Annotated[
        Path | None, typer.Option(help="Write to this file instead of standard output.")
    ] = None,
) -> None:
    """Export an event's subsidies for finance: reporter, amount, currency, state, decided by/at."""
    with unit_of_work() as session:
        found = events_service.require_event(session=session, slug=event)
        rows = _safe(subsidies_service.export_rows(session=session, event=found), fmt)
        fields = subsidies_service.EXPORT_FIELDS
        if output is None:
            count = write_rows(rows, fields, fmt, sys.stdout)
        else:
            with output.open("w", encoding="utf-8", newline="") as handle:
                count = write_rows(rows, fields, fmt, handle)
            err_console.print(f"wrote {count} subsidies to {output}")
        subsidies_service.record_export(
            session=session, event=found, rows=count, fmt=fmt.value, **cli_actor()
        )
