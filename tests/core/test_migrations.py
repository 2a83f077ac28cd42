"""The migrations are the schema's author: upgrade head equals the models; downgrade base empties."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlmodel import SQLModel

import app.models  # noqa: F401  (registers every table)
from app.core import migrate
from app.core.db import make_engine


def test_upgrade_head_matches_models_and_downgrade_base_empties(fresh_db_url: str) -> None:
    engine = make_engine(fresh_db_url)
    try:
        assert migrate.at_head(engine)
        with engine.connect() as conn:
            diff = compare_metadata(
                MigrationContext.configure(conn, opts={"compare_type": True}), SQLModel.metadata
            )
        assert diff == []
        assert set(SQLModel.metadata.tables) <= set(inspect(engine).get_table_names())

        migrate.downgrade(engine, "base")
        assert migrate.current_revision(engine) is None
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}

        migrate.upgrade(engine)
        assert migrate.at_head(engine)
    finally:
        engine.dispose()
