"""The page writer's hot statements, sent straight through the database driver.

A page of posts is written with a handful of statements that run on every page of every collection
run. Through SQLAlchemy each costs more in Python (cache key, compiled-parameter assembly, one
type-processing call per value) than the database spends on it, so ``upsert_posts`` sends them
with the driver's own ``execute``/``executemany`` on the session's connection, in its transaction.
Values are converted by the very bind and result processors SQLAlchemy would use for these columns
(``TypeEngine.dialect_impl(dialect).bind_processor``), so the rows stored are the same as through
Core; only the statement plumbing is skipped.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import Dialect, Table
from sqlmodel import Session

from app.core.db import table
from app.ingest.models import Post, PostSighting

POSTS = table(Post)
SIGHTINGS = table(PostSighting)

Processor = Callable[[Any], Any]

# every column a new post is inserted with, in the order of the rows ``upsert_posts`` builds
INSERT_COLUMNS = (
    "platform",
    "global_key",
    "local_id",
    "source_id",
    "author_key",
    "account_id",
    "reporter_id",
    "created_at",
    "first_seen_at",
    "last_seen_at",
    "likes",
    "reposts",
    "replies",
    "recheck_stage",
    "next_recheck_at",
    "missing_count",
    "excluded",
    # the content, as ``content_values`` lists it
    "url",
    "author_name",
    "edited_at",
    "text",
    "html",
    "tags",
    "media_count",
    "kind",
    "visibility",
    "language",
    "version",
    "repost_of",
    "raw",
)
CONTENT_COLUMNS = INSERT_COLUMNS[INSERT_COLUMNS.index("url") :]
# what a page needs to know of a stored post: whether the incoming version is newer, and whom to queue
KNOWN_COLUMNS = ("id", "global_key", "version", "edited_at", "reporter_id")


class Columns:
    """Turn rows of Python values for ``names`` of ``table`` into the driver's parameters."""

    def __init__(self, table_: Table, names: Sequence[str], dialect: Dialect) -> None:
        self.names = tuple(names)
        self._binds: list[tuple[int, Processor]] = []
        self._results: list[tuple[int, Processor]] = []
        for index, name in enumerate(self.names):
            impl = table_.c[name].type.dialect_impl(dialect)
            bind = impl.bind_processor(dialect)
            result = impl.result_processor(dialect, None)
            if bind is not None:
                self._binds.append((index, bind))
            if result is not None:
                self._results.append((index, result))

    def params(self, values: list[Any]) -> list[Any]:
        """``values`` (in ``names`` order) converted in place for binding."""
        for index, process in self._binds:
            values[index] = process(values[index])
        return values

    def read(self, row: Sequence[Any]) -> list[Any]:
        """A fetched row of ``names`` converted to Python values."""
        values = list(row)
        for index, process in self._results:
            values[index] = process(values[index])
        return values


class Statements:
    """The SQL of a page's statements for one dialect, with the converters of their parameters."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect.name
        self.postgresql = dialect.name == "postgresql"
        mark = "%s" if self.postgresql else "?"
        self.mark = mark
        self.insert = Columns(POSTS, INSERT_COLUMNS, dialect)
        self.known = Columns(POSTS, KNOWN_COLUMNS, dialect)
        self.sighting = Columns(SIGHTINGS, ("post_id", "source_id", "local_id", "seen_at"), dialect)
        self._dialect = dialect
        self._updates: dict[tuple[str, ...], tuple[str, Columns]] = {}
        self.insert_sql = (
            f"INSERT INTO posts ({', '.join(INSERT_COLUMNS)}) "
            f"VALUES ({', '.join([mark] * len(INSERT_COLUMNS))}) "
            "ON CONFLICT (platform, global_key) DO NOTHING RETURNING id"
        )
        self.sighting_sql = (
            "INSERT INTO post_sightings (post_id, source_id, local_id, seen_at) "
            f"VALUES ({mark}, {mark}, {mark}, {mark}) ON CONFLICT (post_id, source_id) DO NOTHING"
        )
        known = ", ".join(KNOWN_COLUMNS)
        if self.postgresql:
            # One array parameter: the same statement whatever the page size (prepared once). Each key
            # is looked up on its own (LATERAL … LIMIT 1, which the planner cannot flatten; the key is
            # unique anyway) so that the unique index serves both columns even while the table has
            # no statistics yet: with IN, or a plain join, the planner then scans every post of the
            # platform.
            self.known_sql = (
                "SELECT found.* FROM unnest(%s::text[]) AS wanted(key) CROSS JOIN LATERAL "
                f"(SELECT {known} FROM posts WHERE platform = %s AND global_key = wanted.key LIMIT 1) "
                "AS found"
            )
            self.accounts_sql = (
                "SELECT id, reporter_id, state, account_key, did FROM accounts "
                "WHERE account_key = ANY(%s::text[]) OR did = ANY(%s::text[])"
            )
        else:
            # json_each: one parameter whatever the page size, and SQLite still probes the index
            self.known_sql = (
                f"SELECT {known} FROM posts WHERE platform = ? "
                "AND global_key IN (SELECT value FROM json_each(?))"
            )
            self.accounts_sql = (
                "SELECT id, reporter_id, state, account_key, did FROM accounts "
                "WHERE account_key IN (SELECT value FROM json_each(?)) "
                "OR did IN (SELECT value FROM json_each(?))"
            )

    def keys_param(self, keys: Iterable[str]) -> Any:
        """A list of strings as the one parameter the lookups take (an array, or JSON for SQLite)."""
        if self.postgresql:
            return list(keys)
        return json.dumps(list(keys))

    def update(self, names: tuple[str, ...]) -> tuple[str, Columns]:
        """``UPDATE posts SET names… WHERE id = ?`` (parameters: ``names`` then the id)."""
        found = self._updates.get(names)
        if found is None:
            assignments = ", ".join(f"{name} = {self.mark}" for name in names)
            sql = f"UPDATE posts SET {assignments} WHERE id = {self.mark}"
            found = self._updates[names] = (sql, Columns(POSTS, (*names, "id"), self._dialect))
        return found


@lru_cache(maxsize=16)
def statements(dialect: Dialect) -> Statements:
    """The statements for ``dialect`` (built once per engine's dialect)."""
    return Statements(dialect)


class Page:
    """The statements and a driver cursor on the session's connection, in its transaction.

    The session is flushed first if it autoflushes, as SQLAlchemy does before any statement, so that
    pending ORM changes are written before these statements run, in the same order as through Core.
    """

    def __init__(self, session: Session) -> None:
        if session.autoflush:
            session.flush()
        self.session = session
        self.sql = statements(session.get_bind().dialect)
        self.cursor: Any = session.connection().connection.cursor()
