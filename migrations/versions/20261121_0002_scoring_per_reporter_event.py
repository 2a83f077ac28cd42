"""scoring per (reporter, event): score_dirty.event_id and score_digests

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21 16:53:18.283458
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import app.core.types


revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "score_digests",
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("rules_version", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("reporter_id", sa.Integer(), nullable=False),
        sa.Column("digest", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.ForeignKeyConstraint(["event_id"], ["events.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["reporter_id"], ["reporters.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("event_id", "rules_version", "reporter_id"),
    )
    with op.batch_alter_table("score_dirty", schema=None) as batch_op:
        # rows queued before this revision meant "every event" (0)
        batch_op.add_column(sa.Column("event_id", sa.Integer(), server_default=sa.text("0"), nullable=False))
        batch_op.drop_constraint(batch_op.f("uq_score_dirty_reporter"), type_="unique")
        batch_op.create_unique_constraint("uq_score_dirty_reporter_event", ["reporter_id", "event_id"])


def downgrade() -> None:
    # one queued row per reporter again, meaning every event (re-scoring more is always correct)
    op.execute(
        "DELETE FROM score_dirty WHERE id NOT IN (SELECT min(id) FROM score_dirty GROUP BY reporter_id)"
    )
    with op.batch_alter_table("score_dirty", schema=None) as batch_op:
        batch_op.drop_constraint("uq_score_dirty_reporter_event", type_="unique")
        batch_op.create_unique_constraint(batch_op.f("uq_score_dirty_reporter"), ["reporter_id"])
        batch_op.drop_column("event_id")

    op.drop_table("score_digests")
