"""Count the checks of a link's current problem that `db prune` deleted.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03

A queue row says how many checks saw its problem ("Checks"): for a login wall, a redirect
nobody accepted yet or a drifted page, that was the number of observations since the
problem began, so pruning old observations made it drop (a row seen by 500 checks said
400 after `db prune --keep-days 400`). Each link now keeps the number pruned and the
problem start they belonged to. Databases pruned before this revision keep their lower
counts. Downgrade drops the columns.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A database made from the models (before migrations) has the columns already.
    existing = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("links")}
    columns: list[sa.Column[object]] = [
        sa.Column("pruned_checks", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("pruned_checks_since", sa.DateTime(timezone=True), nullable=True),
    ]
    missing = [c for c in columns if c.name not in existing]
    if missing:
        with op.batch_alter_table("links") as batch:
            for column in missing:
                batch.add_column(column)


def downgrade() -> None:
    with op.batch_alter_table("links") as batch:
        batch.drop_column("pruned_checks_since")
        batch.drop_column("pruned_checks")
