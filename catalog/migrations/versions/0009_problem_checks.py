"""Each link keeps the number of checks that saw its current problem.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05

A report row's "Checks" counted the observations since each link's problem began, on
every report: after a year of nights that read every check of the year for each link
working all year. Links now keep the count as checks are stored (catalog.problem_checks).
The columns start empty: a link's count is worked out from its observations the next
time it is checked, and until then reads count it as before. Downgrade drops them.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A database made from the models (before migrations) has the columns already.
    existing = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("links")}
    columns: list[sa.Column[object]] = [
        sa.Column("problem_checks", sa.Integer(), nullable=True),
        sa.Column("problem_checks_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("problem_checks_upto", sa.Integer(), nullable=True),
    ]
    missing = [c for c in columns if c.name not in existing]
    if missing:
        with op.batch_alter_table("links") as batch:
            for column in missing:
                batch.add_column(column)


def downgrade() -> None:
    with op.batch_alter_table("links") as batch:
        batch.drop_column("problem_checks_upto")
        batch.drop_column("problem_checks_since")
        batch.drop_column("problem_checks")
