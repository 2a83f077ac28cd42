"""The one engine factory and session helpers.

SQLite: WAL, foreign keys on, a busy timeout, and explicit ``BEGIN`` so that SAVEPOINTs and
transaction boundaries behave as on PostgreSQL (pysqlite's own transaction handling defers BEGIN).
PostgreSQL: psycopg 3.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import (
    CTE,
    Dialect,
    Engine,
    Insert,
    Integer,
    String,
    Table,
    any_,
    bindparam,
    create_engine,
    event,
    func,
    insert,
    select,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import make_url
from sqlmodel import Session, SQLModel

from app.core.settings import get_settings

WRITE_OPTION = "bie_write"


def writing(engine: Engine) -> Engine:
    """The same engine for transactions that write: on SQLite they take the write lock at BEGIN."""
    return engine.execution_options(**{WRITE_OPTION: True})


def normalise_url(url: str) -> str:
    """Accept ``postgresql://`` and ``postgres://`` and use psycopg 3 for them."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def make_engine(url: str | None = None, *, busy_timeout_ms: int | None = None, **kwargs: Any) -> Engine:
    """Build an engine for SQLite or PostgreSQL with the project's connection settings."""
    settings = get_settings()
    url = normalise_url(url or settings.database_url)
    timeout_ms = busy_timeout_ms if busy_timeout_ms is not None else settings.sqlite_busy_timeout_ms
    if "poolclass" not in kwargs and make_url(url).database not in (None, "", ":memory:"):
        # FastAPI runs sync dependencies and handlers in a pool of 40 threads and a request may hold
        # its connection between them; with fewer connections than threads, 50 concurrent
        # authenticated requests deadlock until the pool's timeout (500s). Room for 40 avoids it.
        kwargs.setdefault("pool_size", 10)
        kwargs.setdefault("max_overflow", 30)
    if make_url(url).get_backend_name() == "sqlite":
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": timeout_ms / 1000}, **kwargs
        )

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None  # we issue BEGIN ourselves, below
            cursor = dbapi_connection.cursor()
            if make_url(url).database not in (None, "", ":memory:"):
                cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={int(timeout_ms)}")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _on_begin(connection: Any) -> None:
            # Writers begin IMMEDIATE: a deferred transaction that reads and then writes cannot wait
            # out another writer (SQLite answers "database is locked" at once); readers stay deferred.
            immediate = connection.get_execution_options().get(WRITE_OPTION)
            connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


_engine: Engine | None = None


def get_engine() -> Engine:
    """The process-wide engine for the configured database."""
    global _engine
    if _engine is None:
        _engine = make_engine()
    return _engine


def set_engine(engine: Engine | None) -> None:
    """Replace the process-wide engine (tests, CLI ``--database``)."""
    global _engine
    _engine = engine


@contextmanager
def session_scope(engine: Engine | None = None) -> Iterator[Session]:
    """A unit of work: commit on success, roll back on error (the job and CLI boundary)."""
    with Session(writing(engine or get_engine()), expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def table(model: type[SQLModel]) -> Table:
    """The Core table behind a SQLModel class (for bulk and typed Core queries)."""
    return cast(Table, model.__table__)  # type: ignore[attr-defined]  # set by SQLModel for table=True classes


Processor = Callable[[Any], Any]


def _last_remembered(process: Processor) -> Processor:
    """``process`` answering again from its last result when given the same object again.

    Only for immutable values (datetimes): every row of a page carries the page's one ``now``.
    """
    # one (value, result) pair, replaced whole: pages written in several threads at once never pair
    # one value with another's result
    last: list[tuple[Any, Any]] = [(None, None)]

    def remembered(value: Any) -> Any:
        seen, result = last[0]
        if value is seen and value is not None:
            return result
        result = process(value)
        last[0] = (value, result)
        return result

    return remembered


def _python_type(type_: Any) -> type | None:
    try:
        return type_.python_type  # type: ignore[no-any-return]  # a TypeEngine's Python type
    except NotImplementedError:
        return None


class Columns:
    """Turn rows of Python values for ``names`` of ``table`` into the driver's parameters."""

    def __init__(self, table_: Table, names: Sequence[str], dialect: Dialect) -> None:
        self.names = tuple(names)
        self._binds: list[tuple[int, Processor]] = []
        self._results: list[tuple[int, Processor]] = []
        for index, name in enumerate(self.names):
            type_ = table_.c[name].type
            impl = type_.dialect_impl(dialect)
            bind: Processor | None = impl.bind_processor(dialect)
            result = impl.result_processor(dialect, None)
            if bind is not None:
                if _python_type(type_) is datetime:
                    bind = _last_remembered(bind)
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


def insert_rows(
    session: Session,
    target: Table,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    statement: Insert | None = None,
) -> None:
    """One ``executemany`` INSERT of ``rows`` (tuples in the order of ``columns``) in the session's
    transaction, each value bound by its column's own type (``Columns``) exactly as
    ``session.execute(insert(...), dicts)`` binds it, without SQLAlchemy's per-row parameter handling
    (the bulk of a large insert's cost in Python). ``statement``: the INSERT into ``target`` to run, if
    not the plain one (one with an ON CONFLICT clause, say)."""
    dialect = session.get_bind().dialect
    compiled = (insert(target) if statement is None else statement).compile(
        dialect=dialect, column_keys=list(columns)
    )
    defaulted = sorted(set(compiled.params) - set(columns))
    if defaulted:  # insert() would fill these from Python-side defaults, row by row
        raise ValueError(f"insert_rows into {target.name} needs values for {', '.join(defaulted)}")
    binder = Columns(target, columns, dialect)
    bound = [binder.params(list(row)) for row in rows]
    if not bound:
        return
    if dialect.positional:
        assert compiled.positiontup is not None  # positional dialects always name the order
        order = [columns.index(name) for name in compiled.positiontup]
        params: list[Any] = [tuple(values[i] for i in order) for values in bound]
    else:
        params = [dict(zip(columns, values, strict=True)) for values in bound]
    session.connection().exec_driver_sql(compiled.string, params)


def rows_cte(
    session: Session, name: str, columns: Sequence[tuple[str, Any]], rows: Sequence[Sequence[Any]]
) -> CTE:
    """Many rows of values as a CTE to join with, bound as one parameter per column (PostgreSQL:
    ``unnest`` of arrays) or one in all (SQLite: ``json_each`` of a JSON array of rows). A ``VALUES``
    list binds a parameter per value, which SQLAlchemy takes seconds to compile for a few thousand rows;
    these compile in microseconds whatever their size. ``columns``: (name, SQL type) pairs; values are
    ints, strings, dates (as ``date``) or None."""
    if session.get_bind().dialect.name == "postgresql":
        parts = [
            func.unnest(bindparam(f"{name}_{column}", [row[i] for row in rows], type_=ARRAY(kind))).label(
                column
            )
            for i, (column, kind) in enumerate(columns)
        ]
        return select(*parts).cte(name)
    data = json.dumps([[v.isoformat() if isinstance(v, date) else v for v in row] for row in rows])
    each = func.json_each(bindparam(f"{name}_rows", data, type_=String)).table_valued("value")
    return select(
        *(
            # no CAST: SQLite would make a date a number; JSON text and numbers compare as stored
            type_coerce(func.json_extract(each.c.value, f"$[{i}]"), kind).label(column)
            for i, (column, kind) in enumerate(columns)
        )
    ).cte(name)


def among(session: Session, column: Any, ids: Sequence[int]) -> Any:
    """``column IN ids`` for a long list of integer ids: one array parameter on PostgreSQL
    (``= ANY(:ids)``; psycopg parses a statement with thousands of placeholders slowly), an ``IN``
    list on SQLite (keep ``ids`` under its 32,766 parameters)."""
    if session.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam(None, list(ids), type_=ARRAY(Integer)))
    return column.in_(list(ids))
