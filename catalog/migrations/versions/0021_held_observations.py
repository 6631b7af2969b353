"""Mark the observations of requests not sent because their host said it is away.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-08

A host that answers 429, or 503 from two paths, with a Retry-After longer than a check
waits is asked no more that run: its other URLs are recorded with its answer, unsent
(`Observation.held`). Such a check is stored but is no check of the link: it moves no
health and counts in no "N checks". `observations.held` says so; existing rows are
false (before this, they were counted as checks, as they were then). Downgrade drops it.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | Sequence[str] | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A database made from the models (before migrations) has the column already.
    existing = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("observations")}
    if "held" not in existing:
        with op.batch_alter_table("observations") as batch:
            batch.add_column(
                sa.Column("held", sa.Boolean(), nullable=False, server_default=sa.false())
            )


def downgrade() -> None:
    # Plain ALTER TABLE on both backends (SQLite has had DROP COLUMN since 3.35).
    op.execute(sa.text("ALTER TABLE observations DROP COLUMN held"))
