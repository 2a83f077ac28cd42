"""initial schema: the whole domain of DESIGN §3–§7, plus the append-only audit trigger

Revision ID: 0001
Revises: 
Create Date: 2026-11-21 13:42:08.545684
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import app.core.types


revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('audit_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', app.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('actor_role', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
    sa.Column('action', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('target_type', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
    sa.Column('target_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('detail', sa.JSON(), nullable=False),
    sa.Column('address', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_log_action'), ['action'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_log_actor_id'), ['actor_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_log_at'), ['at'], unique=False)
        batch_op.create_index('ix_audit_target', ['target_type', 'target_id'], unique=False)

    op.create_table('login_attempts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('email', sqlmodel.sql.sqltypes.AutoString(length=320), nullable=False),
    sa.Column('address', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('at', app.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('success', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('login_attempts', schema=None) as batch_op:
        batch_op.create_index('ix_login_attempts_address_at', ['address', 'at'], unique=False)
        batch_op.create_index('ix_login_attempts_email_at', ['email', 'at'], unique=False)

    op.create_table('rule_sets',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('toml', sa.Text(), nullable=False),
    sa.Column('sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('created_at', app.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('version')
    )
    op.create_table('sources',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('platform', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('url', sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
    sa.Column('tags', sa.JSON(), nullable=False),
    sa.Column('query', sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=True),
    sa.Column('handle', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True),
    sa.Column('token_env', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
    sa.Column('trusted', sa.Boolean(), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('interval_s', sa.Integer(), nullable=False),
    sa.Column('cursor', sa.JSON(), nullable=False),
    sa.Column('lease_owner', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('lease_expires_at', app.core.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('next_run_at', app.core.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_run_at', app.core.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_success_at', app.core.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('consecutive_failures', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('health', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('created_at', app.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('sources', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sources_next_run_at'), ['next_run_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_sources_platform'), ['platform'], unique=False)

    op.create_table('users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('email', sqlmodel.sql.sqltypes.AutoString(length=320), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('password_hash', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('role', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('created_at', app.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_login_at', app.core.types.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_users_email'), ['email'], unique=True)
        batch_op.create_index(batch_op.f('ix_users_role'), ['role'], unique=False)

    op.create_table('api_tokens',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('token_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('prefix', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
    sa.Column('created_at', app.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_used_at', app.core.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('expires_at', app.core.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', app.core.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token_hash')
    )
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_tokens_user_id'), ['user_id'], unique=False)

    op.create_table('collector_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source_id', sa.Integer(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('worker', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('started_at', app.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('finished_at', app.core.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('requests', sa.Integer(), nullable=False),
    sa.Column('new_posts', sa.Integer(), nullable=False),
    sa.Column('updated_posts', sa.Integer(), nullable=False),
    sa.Column('errors', sa.Integer(), nullable=False),
    sa.Column('rate_limit_waits', sa.Integer(), nullable=False),
    sa.Column('rate_limit_wait_s', sa.Float(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['source_id'], ['sources.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('collector_runs', schema=None) as batch_op:
        batch_op.create_index('ix_collector_runs_source_started', ['source_id', 'started_at'], unique=False)

    op.create_table('events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('slug', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.Column('description', sqlmodel.sql.sqltypes.AutoString(length=10000), nullable=False),
    sa.Column('location', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.Column('url', sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=True),
    sa.Column('start_date', sa.Date(), nullable=False),
    sa.Column('end_date', sa.Date(), nullable=False),
    sa.Column('timezone', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('event_tag', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
    sa.Column('require_tag', sa.Boolean(), nullable=False),
    sa.Column('window_start_at', app.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('window_end_at', app.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('first_instant_at', app.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('fee', app.core.types.Money(), nullable=True),
    sa.Column('currency', sqlmodel.sql.sqltypes.AutoString(length=3), nullable=True),
    sa.Column('subsidy_share_percent', sa.Integer(), nullable=False),
    sa.Column('subsidy_cap', app.core.types.Money(), nullable=True),
    sa.Column('budget', app.core.types.Money(), nullable=True),
    sa.Column('rules_version', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('min_posts', sa.Integer(), nullable=True),
    sa.Column('min_event_days', sa.Integer(), nullable=True),
    sa.Column('min_articles', sa.Integer(), nullable=True),
    sa.Column('registration_deadline', app.core.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('judging_deadline', app.core.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('published', sa.Boolean(), nullable=False),
    sa.Column('lock_version', sa.Integer(), nullable=False),
    sa.Column('created_at', app.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_events_slug'), ['slug'], unique=True)
        batch_op.create_index(batch_op.f('ix_events_window_end_at'), ['window_end_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_events_window_start_at'), ['window_start_at'], unique=False)

    op.create_table('reporters',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('email', sqlmodel.sql.sqltypes.AutoString(length=320), nullable=True),
    sa.Column('public_listing', sa.Boolean(), nullable=False),
    sa.Column('bio', sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
    sa.Column('created_at', app.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('deleted_at', app.core.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('user_id')
    )
    with op.batch_alter_table('reporters', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_reporters_email'), ['email'], unique=False)

    op.create_table('web_sessions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('session_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('csrf_token', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('created_at', app.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', app.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', app.core.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('session_hash')
    )
    with op.batch_alter_table('web_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_web_sessions_user_id'), ['user_id'], unique=False)

    op.create_table('accounts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('reporter_id', sa.Integer(), nullable=False),
    sa.Column('platform', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('account_key', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('handle', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('did', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('verification_code', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('code_expires_at', app.core.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('verified_at', app.core.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('verified_by', sa.Integer(), nullable=True),
    sa.Column('verified_method', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
    sa.Column('created_at', app.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['reporter_id'], ['reporters.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['verified_by'], ['users.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('account_key', name='uq_accounts_account_key')
    )
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_accounts_did'), ['did'], unique=False)
        batch_op.create_index(batch_op.f('ix_accounts_reporter_id'), ['reporter_id'], unique=False)

    op.create_table('freezes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('rules_version', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('frozen_at', app.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('frozen_by', sa.Integer(), nullable=True),
    sa.Column('content_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('snapshot', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['frozen_by'], ['users.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('event_id', name='uq_freeze_event')
    )
    op.create_table('leaderboard_entries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('rules_version', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('reporter_id', sa.Integer(), nullable=False),
    sa.Column('rank', sa.Integer(), nullable=False),
    sa.Column('previous_rank', sa.Integer(), nullable=True),
    sa.Column('movement', sa.Integer(), nullable=True),
    sa.Column('score', sa.Integer(), nullable=False),
    sa.Column('posts_counted', sa.Integer(), nullable=False),
    sa.Column('days_covered', sa.Integer(), nullable=False),
    sa.Column('platforms', sa.JSON(), nullable=False),
    sa.Column('first_counted_at', app.core.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('breakdown', sa.JSON(), nullable=False),
    sa.Column('computed_at', app.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['reporter_id'], ['reporters.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('event_id', 'rules_version', 'reporter_id', name='uq_leaderboard_entry')
    )
    with op.batch_alter_table('leaderboard_entries', schema=None) as batch_op:
        batch_op.create_index('ix_leaderboard_rank', ['event_id', 'rules_version', 'rank'], unique=False)

    op.create_table('prize_categories',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('slug', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('description', sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('shortlist_size', sa.Integer(), nullable=False),
    sa.Column('auto_weight_percent', sa.Integer(), nullable=False),
    sa.Column('blind', sa.Boolean(), nullable=False),
    sa.Column('published_at', app.core.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('published_by', sa.Integer(), nullable=True),
    sa.Column('results', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['published_by'], ['users.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('event_id', 'slug', name='uq_category_slug')
    )
    with op.batch_alter_table('prize_categories', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_prize_categories_event_id'), ['event_id'], unique=False)

    op.create_table('registrations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('reporter_id', sa.Integer(), nullable=False),
    sa.Column('registered_at', app.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('channel', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('recorded_by', sa.Integer(), nullable=True),
    sa.Column('withdrawn_at', app.core.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['recorded_by'], ['users.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['reporter_id'], ['reporters.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('event_id', 'reporter_id', name='uq_registration')
    )
    with op.batch_alter_table('registrations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_registrations_event_id'), ['event_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_registrations_reporter_id'), ['reporter_id'], unique=False)

    op.create_table('score_dirty',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('reporter_id', sa.Integer(), nullable=False),
    sa.Column('marked_at', app.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['reporter_id'], ['reporters.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('reporter_id', name='uq_score_dirty_reporter')
    )
    op.create_table('score_history',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('reporter_id', sa.Integer(), nullable=False),
    sa.Column('at', app.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('score', sa.Integer(), nullable=False),
    sa.Column('rank', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['reporter_id'], ['reporters.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('score_history', schema=None) as batch_op:
        batch_op.create_index('ix_score_history_event_reporter', ['event_id', 'reporter_id', 'at'], unique=False)

    op.create_table('subsidies',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('reporter_id', sa.Integer(), nullable=False),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('amount', app.core.types.Money(), nullable=False),
    sa.Column('currency', sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
    sa.Column('proposed_at', app.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('decided_by', sa.Integer(), nullable=True),
    sa.Column('decided_at', app.core.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True),
    sa.Column('paid_at', app.core.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['decided_by'], ['users.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['reporter_id'], ['reporters.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('event_id', 'reporter_id', name='uq_subsidy')
    )
    with op.batch_alter_table('subsidies', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_subsidies_event_id'), ['event_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_subsidies_reporter_id'), ['reporter_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_subsidies_state'), ['state'], unique=False)

    op.create_table('posts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('platform', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('global_key', sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
    sa.Column('local_id', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('source_id', sa.Integer(), nullable=True),
    sa.Column('url', sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True),
    sa.Column('author_key', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('author_name', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True),
    sa.Column('account_id', sa.Integer(), nullable=True),
    sa.Column('reporter_id', sa.Integer(), nullable=True),
    sa.Column('created_at', app.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('edited_at', app.core.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('deleted_at', app.core.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('first_seen_at', app.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', app.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('html', sa.Text(), nullable=True),
    sa.Column('tags', sa.JSON(), nullable=False),
    sa.Column('media_count', sa.Integer(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('visibility', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('likes', sa.Integer(), nullable=False),
    sa.Column('reposts', sa.Integer(), nullable=False),
    sa.Column('replies', sa.Integer(), nullable=False),
    sa.Column('language', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
    sa.Column('version', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('repost_of', sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=True),
    sa.Column('raw', sa.JSON(), nullable=False),
    sa.Column('excluded', sa.Boolean(), nullable=False),
    sa.Column('excluded_reason', sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=True),
    sa.Column('excluded_by', sa.Integer(), nullable=True),
    sa.Column('excluded_at', app.core.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('recheck_stage', sa.Integer(), nullable=False),
    sa.Column('next_recheck_at', app.core.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('missing_count', sa.Integer(), nullable=False),
    sa.Column('claimed_by', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['claimed_by'], ['reporters.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['excluded_by'], ['users.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['reporter_id'], ['reporters.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['source_id'], ['sources.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('platform', 'global_key', name='uq_posts_platform_key')
    )
    with op.batch_alter_table('posts', schema=None) as batch_op:
        batch_op.create_index('ix_posts_author_key', ['author_key'], unique=False)
        batch_op.create_index('ix_posts_created', ['created_at'], unique=False)
        batch_op.create_index('ix_posts_next_recheck', ['next_recheck_at'], unique=False)
        batch_op.create_index('ix_posts_reporter_created', ['reporter_id', 'created_at'], unique=False)

    op.create_table('rubric_criteria',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('category_id', sa.Integer(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('description', sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
    sa.Column('weight', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['category_id'], ['prize_categories.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('rubric_criteria', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rubric_criteria_category_id'), ['category_id'], unique=False)

    op.create_table('subsidy_transitions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('subsidy_id', sa.Integer(), nullable=False),
    sa.Column('from_state', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
    sa.Column('to_state', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('amount', app.core.types.Money(), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('at', app.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['subsidy_id'], ['subsidies.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('subsidy_transitions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_subsidy_transitions_subsidy_id'), ['subsidy_id'], unique=False)

    op.create_table('post_claims',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('reporter_id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=True),
    sa.Column('url', sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=True),
    sa.Column('post_id', sa.Integer(), nullable=True),
    sa.Column('created_at', app.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('decided_at', app.core.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['post_id'], ['posts.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['reporter_id'], ['reporters.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('post_claims', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_post_claims_reporter_id'), ['reporter_id'], unique=False)

    op.create_table('post_engagements',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('post_id', sa.Integer(), nullable=False),
    sa.Column('account_key', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('seen_at', app.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['post_id'], ['posts.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('post_id', 'account_key', 'kind', name='uq_engagement')
    )
    with op.batch_alter_table('post_engagements', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_post_engagements_account_key'), ['account_key'], unique=False)
        batch_op.create_index(batch_op.f('ix_post_engagements_post_id'), ['post_id'], unique=False)

    op.create_table('post_sightings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('post_id', sa.Integer(), nullable=False),
    sa.Column('source_id', sa.Integer(), nullable=False),
    sa.Column('local_id', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('seen_at', app.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['post_id'], ['posts.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['source_id'], ['sources.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('post_id', 'source_id', name='uq_sighting')
    )
    with op.batch_alter_table('post_sightings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_post_sightings_post_id'), ['post_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_post_sightings_source_id'), ['source_id'], unique=False)

    op.create_table('post_verdicts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('rules_version', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('post_id', sa.Integer(), nullable=False),
    sa.Column('reporter_id', sa.Integer(), nullable=True),
    sa.Column('counted', sa.Boolean(), nullable=False),
    sa.Column('points', sa.Integer(), nullable=False),
    sa.Column('base_points', sa.Integer(), nullable=False),
    sa.Column('engagement_points', sa.Integer(), nullable=False),
    sa.Column('reasons', sa.JSON(), nullable=False),
    sa.Column('day', sa.Date(), nullable=True),
    sa.Column('computed_at', app.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['post_id'], ['posts.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['reporter_id'], ['reporters.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('event_id', 'rules_version', 'post_id', name='uq_verdict')
    )
    with op.batch_alter_table('post_verdicts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_post_verdicts_post_id'), ['post_id'], unique=False)
        batch_op.create_index('ix_verdicts_event_reporter', ['event_id', 'rules_version', 'reporter_id'], unique=False)

    op.create_table('shortlist_entries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('category_id', sa.Integer(), nullable=False),
    sa.Column('reporter_id', sa.Integer(), nullable=False),
    sa.Column('post_id', sa.Integer(), nullable=True),
    sa.Column('auto_score', sa.Integer(), nullable=False),
    sa.Column('added_by', sa.Integer(), nullable=True),
    sa.Column('added_at', app.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['added_by'], ['users.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['category_id'], ['prize_categories.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['post_id'], ['posts.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['reporter_id'], ['reporters.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('category_id', 'reporter_id', name='uq_shortlist_entry')
    )
    with op.batch_alter_table('shortlist_entries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_shortlist_entries_category_id'), ['category_id'], unique=False)

    op.create_table('judge_conflicts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('judge_id', sa.Integer(), nullable=False),
    sa.Column('entry_id', sa.Integer(), nullable=False),
    sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
    sa.Column('declared_at', app.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['entry_id'], ['shortlist_entries.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['judge_id'], ['users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('judge_id', 'entry_id', name='uq_conflict')
    )
    with op.batch_alter_table('judge_conflicts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_judge_conflicts_judge_id'), ['judge_id'], unique=False)

    op.create_table('judge_scores',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('entry_id', sa.Integer(), nullable=False),
    sa.Column('judge_id', sa.Integer(), nullable=False),
    sa.Column('criterion_id', sa.Integer(), nullable=False),
    sa.Column('score', sa.Integer(), nullable=False),
    sa.Column('comment', sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
    sa.Column('scored_at', app.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['criterion_id'], ['rubric_criteria.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['entry_id'], ['shortlist_entries.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['judge_id'], ['users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('entry_id', 'judge_id', 'criterion_id', name='uq_judge_score')
    )
    with op.batch_alter_table('judge_scores', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_judge_scores_entry_id'), ['entry_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_judge_scores_judge_id'), ['judge_id'], unique=False)


    _create_audit_trigger()

def downgrade() -> None:
    _drop_audit_trigger()
    with op.batch_alter_table('judge_scores', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_judge_scores_judge_id'))
        batch_op.drop_index(batch_op.f('ix_judge_scores_entry_id'))

    op.drop_table('judge_scores')
    with op.batch_alter_table('judge_conflicts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_judge_conflicts_judge_id'))

    op.drop_table('judge_conflicts')
    with op.batch_alter_table('shortlist_entries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_shortlist_entries_category_id'))

    op.drop_table('shortlist_entries')
    with op.batch_alter_table('post_verdicts', schema=None) as batch_op:
        batch_op.drop_index('ix_verdicts_event_reporter')
        batch_op.drop_index(batch_op.f('ix_post_verdicts_post_id'))

    op.drop_table('post_verdicts')
    with op.batch_alter_table('post_sightings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_post_sightings_source_id'))
        batch_op.drop_index(batch_op.f('ix_post_sightings_post_id'))

    op.drop_table('post_sightings')
    with op.batch_alter_table('post_engagements', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_post_engagements_post_id'))
        batch_op.drop_index(batch_op.f('ix_post_engagements_account_key'))

    op.drop_table('post_engagements')
    with op.batch_alter_table('post_claims', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_post_claims_reporter_id'))

    op.drop_table('post_claims')
    with op.batch_alter_table('subsidy_transitions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_subsidy_transitions_subsidy_id'))

    op.drop_table('subsidy_transitions')
    with op.batch_alter_table('rubric_criteria', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rubric_criteria_category_id'))

    op.drop_table('rubric_criteria')
    with op.batch_alter_table('posts', schema=None) as batch_op:
        batch_op.drop_index('ix_posts_reporter_created')
        batch_op.drop_index('ix_posts_next_recheck')
        batch_op.drop_index('ix_posts_created')
        batch_op.drop_index('ix_posts_author_key')

    op.drop_table('posts')
    with op.batch_alter_table('subsidies', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_subsidies_state'))
        batch_op.drop_index(batch_op.f('ix_subsidies_reporter_id'))
        batch_op.drop_index(batch_op.f('ix_subsidies_event_id'))

    op.drop_table('subsidies')
    with op.batch_alter_table('score_history', schema=None) as batch_op:
        batch_op.drop_index('ix_score_history_event_reporter')

    op.drop_table('score_history')
    op.drop_table('score_dirty')
    with op.batch_alter_table('registrations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_registrations_reporter_id'))
        batch_op.drop_index(batch_op.f('ix_registrations_event_id'))

    op.drop_table('registrations')
    with op.batch_alter_table('prize_categories', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_prize_categories_event_id'))

    op.drop_table('prize_categories')
    with op.batch_alter_table('leaderboard_entries', schema=None) as batch_op:
        batch_op.drop_index('ix_leaderboard_rank')

    op.drop_table('leaderboard_entries')
    op.drop_table('freezes')
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_accounts_reporter_id'))
        batch_op.drop_index(batch_op.f('ix_accounts_did'))

    op.drop_table('accounts')
    with op.batch_alter_table('web_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_web_sessions_user_id'))

    op.drop_table('web_sessions')
    with op.batch_alter_table('reporters', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_reporters_email'))

    op.drop_table('reporters')
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_events_window_start_at'))
        batch_op.drop_index(batch_op.f('ix_events_window_end_at'))
        batch_op.drop_index(batch_op.f('ix_events_slug'))

    op.drop_table('events')
    with op.batch_alter_table('collector_runs', schema=None) as batch_op:
        batch_op.drop_index('ix_collector_runs_source_started')

    op.drop_table('collector_runs')
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_tokens_user_id'))

    op.drop_table('api_tokens')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_users_role'))
        batch_op.drop_index(batch_op.f('ix_users_email'))

    op.drop_table('users')
    with op.batch_alter_table('sources', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sources_platform'))
        batch_op.drop_index(batch_op.f('ix_sources_next_run_at'))

    op.drop_table('sources')
    op.drop_table('rule_sets')
    with op.batch_alter_table('login_attempts', schema=None) as batch_op:
        batch_op.drop_index('ix_login_attempts_email_at')
        batch_op.drop_index('ix_login_attempts_address_at')

    op.drop_table('login_attempts')
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_target')
        batch_op.drop_index(batch_op.f('ix_audit_log_at'))
        batch_op.drop_index(batch_op.f('ix_audit_log_actor_id'))
        batch_op.drop_index(batch_op.f('ix_audit_log_action'))

    op.drop_table('audit_log')


# The audit log is append-only: the database itself refuses UPDATE and DELETE on it.
def _create_audit_trigger() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN RAISE EXCEPTION 'audit_log is append-only'; END $$"
        )
        op.execute(
            "CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log "
            "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()"
        )
    else:
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_log_no_{verb.lower()} BEFORE {verb} ON audit_log "
                "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END"
            )


def _drop_audit_trigger() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_change ON audit_log")
        op.execute("DROP FUNCTION IF EXISTS audit_log_append_only()")
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_delete")
