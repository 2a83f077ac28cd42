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
from collections.abc import Iterable
from functools import lru_cache
from typing import Any, cast

from sqlalchemy import Dialect
from sqlmodel import Session

from app.core.db import Columns, table
from app.ingest.models import Post, PostSighting

POSTS = table(Post)
SIGHTINGS = table(PostSighting)

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
    # the content, as ``repository._content_values`` lists it
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
# for which events (the stored instant: a sighting never changes it)
KNOWN_COLUMNS = ("id", "global_key", "version", "edited_at", "reporter_id", "created_at")


class Statements:
    """The SQL of a page's statements for one dialect, with the converters of their parameters."""

    def __init__(self, dialect: Dialect) -> None:
        self.postgresql = dialect.name == "postgresql"
        self.dialect = dialect
        self.insert = Columns(POSTS, INSERT_COLUMNS, dialect)
        self.known = Columns(POSTS, KNOWN_COLUMNS, dialect)
        self.sighting = Columns(SIGHTINGS, SIGHTING_COLUMNS, dialect)
        self._updates: dict[tuple[str, ...], Columns] = {}
        self._sql: dict[tuple[Any, ...], str] = {}
        known = ", ".join(KNOWN_COLUMNS)
        if self.postgresql:
            # One array parameter: the same statement whatever the page size (prepared once). Each key
            # is looked up on its own (LATERAL … LIMIT 1, which the planner cannot flatten; the key is
            # unique anyway) so that the unique index serves both columns even while the table has
            # no statistics yet: with IN, or a plain join, the planner then scans every post of the
            # platform.
            self.known_sql = (
                "SELECT found.* FROM unnest($1::text[]) AS wanted(key) CROSS JOIN LATERAL "
                f"(SELECT {known} FROM posts WHERE platform = $2 AND global_key = wanted.key LIMIT 1) "
                "AS found"
            )
            self.accounts_sql = (
                "SELECT id, reporter_id, state, account_key, did FROM accounts "
                "WHERE account_key = ANY($1::text[]) OR did = ANY($2::text[])"
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

    def keys(self, keys: Iterable[str]) -> Any:
        """A list of strings as the one parameter the lookups take (an array, or JSON for SQLite)."""
        if self.postgresql:
            return list(keys)
        return json.dumps(list(keys))

    def update_columns(self, names: tuple[str, ...]) -> Columns:
        """The converters of an update of ``names`` (then the post's id)."""
        found = self._updates.get(names)
        if found is None:
            found = self._updates[names] = Columns(POSTS, (*names, "id"), self.dialect)
        return found

    def marks(self, width: int) -> list[str]:
        """The placeholders of ``width`` parameters: ``?`` (SQLite), ``$1``… (PostgreSQL)."""
        return [f"${n}" for n in range(1, width + 1)] if self.postgresql else ["?"] * width

    def row(self, width: int) -> str:
        """``(?, …)``: the parameters of one row of ``width`` values."""
        return "(" + ", ".join(self.marks(width)) + ")"

    def update_sql(self, names: tuple[str, ...]) -> str:
        """The UPDATE of ``names`` of one post by id (its parameters: the values, then the id)."""
        found = self._sql.get(names)
        if found is None:
            marks = self.marks(len(names) + 1)
            assignments = ", ".join(f"{name} = {mark}" for name, mark in zip(names, marks, strict=False))
            found = self._sql[names] = f"UPDATE posts SET {assignments} WHERE id = {marks[-1]}"
        return found


SIGHTING_COLUMNS = ("post_id", "source_id", "local_id", "seen_at")


@lru_cache(maxsize=16)
def statements(dialect: Dialect) -> Statements:
    """The statements for ``dialect`` (built once per engine's dialect)."""
    return Statements(dialect)


class Page:
    """A page's statements on the session's connection, in its transaction, through the driver.

    The session is flushed first if it autoflushes, as SQLAlchemy does before any statement, so that
    pending ORM changes are written before these statements run, in the same order as through Core.
    Rows go as one ``executemany`` of a one-row statement: in-process on SQLite; on PostgreSQL
    psycopg pipelines it (no round trip per row) and prepares the statement once, where a multi-row
    ``VALUES`` list, whose text changed with the page's size, was parsed and planned anew each time.
    """

    def __init__(self, session: Session) -> None:
        if session.autoflush:
            session.flush()
        self.sql = statements(session.get_bind().dialect)
        connection = session.connection().connection
        if self.sql.postgresql:
            import psycopg  # the PostgreSQL driver, only where it is used

            # $n parameters, sent as written: no conversion of %s placeholders in Python
            driver_connection = cast("psycopg.Connection[Any]", connection.driver_connection)
            self.cursor: Any = psycopg.RawCursor(driver_connection)
        else:
            self.cursor = connection.cursor()

    def accounts(self, keys: Iterable[str], dids: Iterable[str]) -> list[Any]:
        """(id, reporter_id, state, account_key, did) of the accounts with these keys or DIDs."""
        self.cursor.execute(self.sql.accounts_sql, (self.sql.keys(keys), self.sql.keys(dids)))
        return list(self.cursor.fetchall())

    def known(self, platform: str, keys: list[str]) -> list[list[Any]]:
        """``KNOWN_COLUMNS`` of the stored posts of ``platform`` with these keys."""
        if self.sql.postgresql:
            self.cursor.execute(self.sql.known_sql, (keys, platform))
        else:
            self.cursor.execute(self.sql.known_sql, (platform, self.sql.keys(keys)))
        return [self.sql.known.read(row) for row in self.cursor.fetchall()]

    def insert_posts(self, rows: list[list[Any]]) -> dict[tuple[str, str], int]:
        """Insert posts (``INSERT_COLUMNS``) whose key nobody stored yet; return the ids of those
        actually inserted by (platform, global key): a key another transaction stored first gets no
        id (``ON CONFLICT DO NOTHING``)."""
        sql, cursor = self.sql, self.cursor
        head = f"INSERT INTO posts ({', '.join(INSERT_COLUMNS)}) VALUES"
        conflict = "ON CONFLICT (platform, global_key) DO NOTHING"
        width = len(INSERT_COLUMNS)
        params = [sql.insert.params(values) for values in rows]
        ids: dict[tuple[str, str], int] = {}
        if not sql.postgresql:
            # one row at a time: a row inserted (rowcount 1) has the connection's last rowid
            statement = f"{head} {sql.row(width)} {conflict}"
            execute = cursor.execute
            for values in params:
                execute(statement, values)
                if cursor.rowcount == 1:
                    ids[(values[0], values[1])] = cursor.lastrowid
            return ids
        # one result (a row, or none for a conflict) per post, read one after the other
        cursor.executemany(
            f"{head} {sql.row(width)} {conflict} RETURNING id, platform, global_key",
            params,
            returning=True,
        )
        while True:
            row = cursor.fetchone()
            if row is not None:
                ids[(row[1], row[2])] = row[0]
            if not cursor.nextset():
                break
        return ids

    def update_posts(self, names: tuple[str, ...], rows: list[list[Any]]) -> None:
        """Set ``names`` of posts by id (each row: the values of ``names``, then the id)."""
        columns = self.sql.update_columns(names)
        params = [columns.params(values) for values in rows]
        self.cursor.executemany(self.sql.update_sql(names), params)

    def insert_sightings(self, rows: list[list[Any]]) -> None:
        """Record sightings (``SIGHTING_COLUMNS``) not recorded yet."""
        sql = self.sql
        params = [sql.sighting.params(values) for values in rows]
        head = f"INSERT INTO post_sightings ({', '.join(SIGHTING_COLUMNS)}) VALUES"
        conflict = "ON CONFLICT (post_id, source_id) DO NOTHING"
        width = len(SIGHTING_COLUMNS)
        self.cursor.executemany(f"{head} {sql.row(width)} {conflict}", params)
