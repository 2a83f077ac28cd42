"""new posts extend a stored result: near-copy signatures on verdicts, score_dirty.only_new;
leaderboard_entries.ranked_score (a score change without a rank change is history too)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21 23:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "score_new_posts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reporter_id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("post_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["post_id"], ["posts.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["reporter_id"], ["reporters.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_score_new_posts_reporter_event", "score_new_posts", ["reporter_id", "event_id"])
    with op.batch_alter_table("post_verdicts", schema=None) as batch_op:
        # NULL on rows stored before: such a reporter's new posts are re-scored in full (always correct)
        batch_op.add_column(sa.Column("shingle_count", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("shingle_prefix", sa.Text(), nullable=True))
    # A stored digest now also says "these verdicts carry near-copy signatures": forget the old ones, so
    # that results stored before are re-scored in full (and rewritten) instead of extended.
    op.execute("DELETE FROM score_digests")
    with op.batch_alter_table("leaderboard_entries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ranked_score", sa.Integer(), nullable=True))
    op.execute("UPDATE leaderboard_entries SET ranked_score = score")
    with op.batch_alter_table("score_dirty", schema=None) as batch_op:
        # marks queued before this revision mean "anything may have changed" (false)
        batch_op.add_column(
            sa.Column("only_new", sa.Boolean(), server_default=sa.text("false"), nullable=False)
        )


def downgrade() -> None:
    op.drop_index("ix_score_new_posts_reporter_event", table_name="score_new_posts")
    op.drop_table("score_new_posts")
    with op.batch_alter_table("score_dirty", schema=None) as batch_op:
        batch_op.drop_column("only_new")
    with op.batch_alter_table("leaderboard_entries", schema=None) as batch_op:
        batch_op.drop_column("ranked_score")
    with op.batch_alter_table("post_verdicts", schema=None) as batch_op:
        batch_op.drop_column("shingle_prefix")
        batch_op.drop_column("shingle_count")
