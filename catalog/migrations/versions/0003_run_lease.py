"""Run safety: the `run_leases` table (one full run at a time, per shard).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-09

A new table only, so no batch mode is needed on SQLite. Skipped when it already
exists: a database made by `create_all` before migrations existed is stamped 0001
but may already hold it.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _at(name: str) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False)


def upgrade() -> None:
    if "run_leases" in sa.inspect(op.get_bind()).get_table_names():
        return
    op.create_table(
        "run_leases",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("holder", sa.Text(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        _at("acquired_at"),
        _at("expires_at"),
        _at("heartbeat_at"),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_run_leases")),
    )


def downgrade() -> None:
    op.drop_table("run_leases")
