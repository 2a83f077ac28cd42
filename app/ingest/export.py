"""Exports shared by the CLI (``bie export …``) and the staff API: rows of posts and of leaderboards,
streamed as JSON lines or CSV.

CSV cells that a spreadsheet would read as a formula (text starting with ``=``, ``+``, ``-``, ``@``,
a tab or a carriage return) are prefixed with ``'`` (OWASP "CSV injection"): post texts, tags and
names come from strangers on the internet. JSON lines carry the values unchanged.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from enum import StrEnum
from typing import Any, TextIO

from sqlalchemy import select
from sqlmodel import Session

from app.core.db import table
from app.events.models import Event
from app.ingest.models import Post
from app.reporters.models import Reporter
from app.scoring.models import LeaderboardEntry

POSTS = table(Post)
ENTRIES = table(LeaderboardEntry)
REPORTERS = table(Reporter)

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
BATCH = 1000


class ExportFormat(StrEnum):
    JSONL = "jsonl"
    CSV = "csv"


MEDIA_TYPES = {
    ExportFormat.CSV: "text/csv; charset=utf-8",
    ExportFormat.JSONL: "application/x-ndjson",
}

EXPORT_FIELDS = [
    "platform",
    "global_key",
    "url",
    "author",
    "reporter_id",
    "created_at",
    "edited_at",
    "deleted_at",
    "tags",
    "likes",
    "reposts",
    "replies",
    "kind",
    "visibility",
    "excluded",
]

LEADERBOARD_FIELDS = [
    "rank",
    "reporter_id",
    "name",
    "anonymous",
    "score",
    "score_thousandths",
    "posts_counted",
    "days_covered",
    "platforms",
    "movement",
    "first_counted_at",
    "computed_at",
]


def post_rows(session: Session, event: Event | None) -> Iterator[dict[str, Any]]:
    """Every post (in the event's coverage window when given), oldest first, streamed in batches."""
    p = POSTS.c
    query = select(
        p.id,
        p.platform,
        p.global_key,
        p.url,
        p.author_key,
        p.reporter_id,
        p.created_at,
        p.edited_at,
        p.deleted_at,
        p.tags,
        p.likes,
        p.reposts,
        p.replies,
        p.kind,
        p.visibility,
        p.excluded,
    ).order_by(p.created_at, p.id)
    if event is not None:
        query = query.where(p.created_at >= event.window_start_at, p.created_at < event.window_end_at)
    for post in session.execute(query.execution_options(yield_per=BATCH)):
        yield {
            "platform": post.platform,
            "global_key": post.global_key,
            "url": post.url,
            "author": post.author_key,
            "reporter_id": post.reporter_id,
            "created_at": post.created_at.isoformat(),
            "edited_at": post.edited_at.isoformat() if post.edited_at else None,
            "deleted_at": post.deleted_at.isoformat() if post.deleted_at else None,
            "tags": list(post.tags or ()),
            "likes": post.likes,
            "reposts": post.reposts,
            "replies": post.replies,
            "kind": post.kind,
            "visibility": post.visibility,
            "excluded": bool(post.excluded),
        }


def leaderboard_rows(session: Session, event: Event) -> Iterator[dict[str, Any]]:
    """The event's whole leaderboard by rank; anonymous reporters keep their id but not their name."""
    e = ENTRIES.c
    query = (
        select(
            e.rank,
            e.reporter_id,
            e.score,
            e.posts_counted,
            e.days_covered,
            e.platforms,
            e.movement,
            e.first_counted_at,
            e.computed_at,
            REPORTERS.c.name,
            REPORTERS.c.public_listing,
        )
        .select_from(ENTRIES.join(REPORTERS, REPORTERS.c.id == e.reporter_id))
        .where(e.event_id == event.id, e.rules_version == event.rules_version)
        .order_by(e.rank, e.reporter_id)
    )
    for row in session.execute(query.execution_options(yield_per=BATCH)):
        yield {
            "rank": row.rank,
            "reporter_id": row.reporter_id,
            "name": row.name if row.public_listing else None,
            "anonymous": not row.public_listing,
            "score": f"{row.score / 1000:.3f}",
            "score_thousandths": row.score,
            "posts_counted": row.posts_counted,
            "days_covered": row.days_covered,
            "platforms": list(row.platforms or ()),
            "movement": row.movement,
            "first_counted_at": row.first_counted_at.isoformat() if row.first_counted_at else None,
            "computed_at": row.computed_at.isoformat() if row.computed_at else None,
        }


def csv_safe(value: Any) -> Any:
    """A CSV cell a spreadsheet shows as text, never runs as a formula; lists become space-joined."""
    if isinstance(value, list | tuple):
        value = " ".join(str(v) for v in value)
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def csv_row(row: dict[str, Any]) -> dict[str, Any]:
    return {key: csv_safe(value) for key, value in row.items()}


def write_rows(rows: Iterable[dict[str, Any]], fields: list[str], fmt: ExportFormat, out: TextIO) -> int:
    """Stream rows as JSON lines or CSV; return how many were written."""
    count = 0
    if fmt is ExportFormat.JSONL:
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
            count += 1
        return count
    writer = csv.DictWriter(out, fieldnames=fields, extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow(csv_row(row))
        count += 1
    return count


def stream_rows(
    rows: Iterable[dict[str, Any]], fields: list[str], fmt: ExportFormat, *, chunk_rows: int = 500
) -> Iterator[str]:
    """The same text as ``write_rows``, in chunks of ``chunk_rows`` rows (for a streamed response)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=fields, extrasaction="ignore")
    if fmt is ExportFormat.CSV:
        writer.writeheader()
    pending = 0
    for row in rows:
        if fmt is ExportFormat.JSONL:
            buffer.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
        else:
            writer.writerow(csv_row(row))
        pending += 1
        if pending >= chunk_rows:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
            pending = 0
    tail = buffer.getvalue()
    if tail:
        yield tail
