"""Health over time: flapping, drift, archive copies, staleness, curator decisions.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02

Adds columns to links, resources and observations, and the `decisions` and
`archive_cache` tables. Batch mode keeps SQLite working; NOT NULL columns get a
server default so existing rows are valid. Columns and tables that already exist
are skipped: a database made by `create_all` before migrations existed is stamped
0001 but may already hold them.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _at(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _new_columns() -> dict[str, list[sa.Column]]:
    return {
        "links": [
            sa.Column("redirect_url", sa.Text(), nullable=True),
            _at("fingerprint_since"),
            sa.Column("flapping", sa.Boolean(), nullable=False, server_default=sa.false()),
            sa.Column("flips", sa.JSON(), nullable=False, server_default=sa.text("'[]'")),
            sa.Column("drift_reason", sa.Text(), nullable=True),
            _at("drift_since"),
            sa.Column("drift_score", sa.Float(), nullable=True),
            sa.Column("archive_url", sa.Text(), nullable=True),
            _at("archive_checked_at"),
        ],
        "resources": [
            _at("reviewed_at"),
            _at("snoozed_until"),
            sa.Column("snooze_reason", sa.Text(), nullable=True),
            _at("ignored_at"),
            sa.Column("ignored_reason", sa.Text(), nullable=True),
            sa.Column("stale_reasons", sa.JSON(), nullable=False, server_default=sa.text("'[]'")),
        ],
        "observations": [
            sa.Column("relevance", sa.Float(), nullable=True),
            sa.Column("relevance_scores", sa.JSON(), nullable=True),
        ],
    }


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    tables = set(inspector.get_table_names())
    for table, columns in _new_columns().items():
        existing = {c["name"] for c in inspector.get_columns(table)}
        missing = [c for c in columns if c.name not in existing]
        if missing:
            with op.batch_alter_table(table) as batch:
                for column in missing:
                    batch.add_column(column)
    if "decisions" not in tables:
        op.create_table(
            "decisions",
            sa.Column("id", sa.Integer(), nullable=False),
            _at("at", nullable=False),
            sa.Column("decided_by", sa.String(length=200), nullable=False),
            sa.Column("kind", sa.String(length=40), nullable=False),
            sa.Column("resource_id", sa.Integer(), nullable=False),
            sa.Column("reason", sa.Text(), nullable=True),
            sa.Column("details", sa.JSON(), nullable=False),
            sa.ForeignKeyConstraint(
                ["resource_id"],
                ["resources.id"],
                name=op.f("fk_decisions_resource_id_resources"),
            ),
            sa.PrimaryKeyConstraint("id", name=op.f("pk_decisions")),
        )
        op.create_index("ix_decisions_kind", "decisions", ["kind"], unique=False)
        op.create_index("ix_decisions_resource_id", "decisions", ["resource_id"], unique=False)
    if "archive_cache" not in tables:
        op.create_table(
            "archive_cache",
            sa.Column("key", sa.Text(), nullable=False),
            _at("checked_at", nullable=False),
            sa.Column("snapshot_url", sa.Text(), nullable=True),
            _at("snapshot_at"),
            sa.Column("original", sa.Text(), nullable=True),
            sa.PrimaryKeyConstraint("key", name=op.f("pk_archive_cache")),
        )


def downgrade() -> None:
    op.drop_table("archive_cache")
    op.drop_index("ix_decisions_resource_id", table_name="decisions")
    op.drop_index("ix_decisions_kind", table_name="decisions")
    op.drop_table("decisions")
    for table, columns in _new_columns().items():
        with op.batch_alter_table(table) as batch:
            for column in reversed(columns):
                batch.drop_column(column.name)
